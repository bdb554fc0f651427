"""Builders of small line layers for the network and routing tests (plain functions, not fixtures)."""

import geopandas as gpd

from geo.geodesic import GEOD

__all__ = ["fwd", "layer"]


def fwd(lon, lat, az, km):
    """The point ``km`` from lon/lat along azimuth ``az`` (degrees) on the WGS84 ellipsoid, as (lon, lat)."""
    x, y, _ = GEOD.fwd(lon, lat, az, km * 1000)
    return float(x), float(y)


def layer(*features):
    """A layer GeoDataFrame from (id, kind, geometry[, extra props]) tuples."""
    rows = [{"id": f[0], "name": f[0].upper(), "kind": f[1], "status": "operating", **(f[3] if len(f) > 3 else {})}
            for f in features]
    return gpd.GeoDataFrame(rows, geometry=[f[2] for f in features], crs="EPSG:4326")
