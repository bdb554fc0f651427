"""Natural Earth geometry for the region checks: which country holds a point, land under a sea lane.

Country polygons are Natural Earth 1:10m (``data/raw/natural_earth_countries_10m.topojson.json``),
whole, not clipped; codes are ISO 3166-1 alpha-3 or Natural Earth's ADM0_A3 for the units
without one. Distances are geodesic km on the WGS84 ellipsoid.
"""

import json
from pathlib import Path

import numpy as np
import shapely

from geo.geodesic import densify_lonlat, distance_km
from layers.importers.common import ISO3_BY_ISO2
from layers.importers.naturalearth import ISO3_BY_NE_NAME, ISO3_BY_NUMERIC, decode_topojson
from layers.importers.region import route_lonlat

__all__ = ["PORT_KM", "RegionGeometry"]

PORT_KM = 25.0  # a sea lane may touch land this close to its ports of call


def _iso3_geometries(raw_dir):
    topo = json.loads((Path(raw_dir) / "natural_earth_countries_10m.topojson.json").read_text(encoding="utf-8"))
    geoms = {}
    for props, num, geom in decode_topojson(topo, "countries"):
        code = ISO3_BY_NUMERIC.get(num) or ISO3_BY_NE_NAME.get(props.get("name"))
        if code:  # units folded into a country (Baikonur into KAZ) join its polygon
            geoms[code] = shapely.union_all([geoms[code], geom]) if code in geoms else geom
    return geoms


class RegionGeometry:
    """Country polygons with a spatial index, and the geometric checks that use them.

    A base for :class:`~layers.importers.region_check.Checker`, which provides
    ``error(where, problem)`` and the resolved ``places``.
    """

    def __init__(self, raw_dir):
        self.raw_dir = Path(raw_dir)
        self.countries = _iso3_geometries(self.raw_dir)
        self._codes = list(self.countries)
        self._tree = shapely.STRtree([self.countries[c] for c in self._codes])
        self.places = {}

    def country_of(self, lon, lat):
        """ISO3 of the country polygon holding each point ('' at sea); arrays in, array out."""
        pts = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        out = np.full(len(pts), "", dtype=object)
        pi, ci = self._tree.query(pts, predicate="within")
        out[pi] = [self._codes[i] for i in ci]
        return out

    def km_outside(self, lon, lat, iso3):
        """Geodesic km from a point to the nearest point of a country's polygon (0 inside)."""
        geom = self.countries.get(iso3)
        if geom is None:
            return float("inf")
        pt = shapely.Point(lon, lat)
        if geom.covers(pt):
            return 0.0
        near = shapely.shortest_line(pt, geom).coords[-1]
        return float(distance_km(lon, lat, near[0], near[1]))

    def _check_sea(self, where, route, keys, lon, lat):
        """Sea lane off land except near its ports of call and along declared canals; returns its countries."""
        stops = [i for i, k in enumerate(keys) if self.places[k].role != "routing"]
        exempt_lon, exempt_lat = [], []
        for i, wp in enumerate(route["waypoints"]):
            if isinstance(wp, dict) and wp.get("canal") and i + 1 < len(keys):  # the canal leg may cross land
                clon, clat = densify_lonlat(lon[i:i + 2], lat[i:i + 2], max_segment_km=1.0)
                exempt_lon += list(clon)
                exempt_lat += list(clat)
        dlon, dlat = densify_lonlat(lon, lat, max_segment_km=1.0)
        free = np.zeros(len(dlon), dtype=bool)
        for x, y in [(lon[i], lat[i]) for i in stops] + list(zip(exempt_lon, exempt_lat)):
            free |= distance_km(dlon, dlat, x, y) <= (PORT_KM if (x, y) in zip(lon, lat) else 2.0)
        inside = self.country_of(dlon, dlat)
        on_land = (inside != "") & ~free
        if on_land.any():
            self.error(where, f"sea lane crosses land ({sorted(set(inside[on_land]))}) at {on_land.sum()} km "
                              f"of 1 km steps away from its ports of call")
        return {ISO3_BY_ISO2.get(self.places[keys[i]].country) for i in stops} - {None}

    def _leg_coords(self, layer, fid, region_routes):
        """Densified (lon, lat) arrays of a leg: a region route, or a feature of a built layer."""
        if (layer, fid) in region_routes:
            lon, lat = route_lonlat(region_routes[(layer, fid)], self.places)
            return densify_lonlat(lon, lat, max_segment_km=1.0)
        path = self.raw_dir.parent / "layers" / f"{layer}.geojson"
        try:
            feats = json.loads(path.read_text(encoding="utf-8"))["features"]
        except (OSError, ValueError, KeyError):
            return None
        for f in feats:
            if f["properties"]["id"] == fid:
                coords = np.asarray(shapely.get_coordinates(shapely.from_geojson(json.dumps(f["geometry"]))))
                return coords[:, 0], coords[:, 1]
        return None

