"""Roads and railways of the offline basemap: the operating road and rail lines of the built-in layers.

Natural Earth's 1:10m roads and railroads (v2 and later, the world files) are
in no copy this project can reach (every mirror leaves out files of 4 MiB and
more, and the whole repository is over the size that can be fetched), so the
basemap draws the project's own road and rail layers instead: every built-in
feature of kind ``road`` or ``rail`` whose status is ``operating`` (the
motorways, the Karakoram Highway, CPEC's built sections, CAREC corridors,
INSTC and Trans-Afghan rail, the Russia–Pakistan road route). They are
schematic (chains of named places, each cited in its layer), drawn thin and
grey under every project layer, whatever layers the page shows. Proposed or
unbuilt lines are left out: a basemap shows what is there. User layers are
never part of it (the basemap is the same for every viewer).

Served as ``/basemap/roads/<band>.json`` for the zoom bands from
:data:`ROADS_MIN_ZOOM` (:mod:`webapp.maps.basemap`). Printed figures do not draw
them (their basemap is countries, sea and places only).
"""

from __future__ import annotations

import re

import numpy as np
import shapely

from geo.pixels import quantise_decimals, tolerance_degrees
from geo.simplify import ZOOM_BANDS, band_zoom
from webapp.maps.display import _feature_collection, _script_json

__all__ = ["ROAD_KINDS", "ROADS_MIN_ZOOM", "ROADS_SOURCE", "basemap_roads", "road_layer_ids", "roads_json"]

ROAD_KINDS = ("road", "rail")
# The first zoom band that draws them (band 2 starts at zoom 7): at zoom 5-6 a city is a few pixels and the
# schematic lines would only repeat the project layers drawn on top.
ROADS_MIN_ZOOM = ZOOM_BANDS[2][0]
ROADS_SOURCE = "Roads and railways: this project's road and rail layers (operating, schematic)"
LABEL_EVERY_DEG = 0.8  # ~80 km: a zoom-10 view (~1.7 degrees wide) shows each road's number at least once
_REF = re.compile(r"\b([MNE]-\d{1,3}[A-Z]?)\b")  # Pakistan's motorway / national highway / Asian route numbers


def road_layer_ids(catalog):
    """Ids of the built-in layers (shipped, never a user's) holding at least one road or rail line."""
    return tuple(layer.id for layer in catalog
                 if layer.source == "builtin" and layer.geometry_family == "line"
                 and "kind" in layer.gdf and layer.gdf["kind"].isin(ROAD_KINDS).any())


def _ref(name):
    found = _REF.search(name or "")
    return found.group(1) if found else ""


def basemap_roads(catalog):
    """``(geometries, properties)`` of the operating road and rail lines of :func:`road_layer_ids`.

    Geometries are EPSG:4326 (Multi)LineStrings as the layers hold them;
    properties are ``{"name", "kind", "ref", "layer"}`` (``ref`` the road
    number in the name, e.g. "M-2", or ""). Roads first, then railways.
    """
    ids = road_layer_ids(catalog)

    def compute():
        geoms, props = [], []
        for lid in ids:
            gdf = catalog.layer(lid).gdf
            keep = gdf["kind"].isin(ROAD_KINDS) & (gdf["status"] == "operating") & ~gdf.geometry.is_empty
            for name, kind, geom in zip(gdf.loc[keep, "name"], gdf.loc[keep, "kind"], gdf.geometry[keep]):
                geoms.append(geom)
                props.append({"name": str(name), "kind": str(kind), "ref": _ref(str(name)), "layer": lid})
        order = sorted(range(len(props)), key=lambda i: (ROAD_KINDS.index(props[i]["kind"]), props[i]["name"]))
        return np.array([geoms[i] for i in order], dtype=object), [props[i] for i in order]

    return catalog.memo(("webapp.basemap.roads",), compute, layers=ids)


def _label_points(geom, ref):
    """Where a road's number is written: every ~:data:`LABEL_EVERY_DEG` along it (at least once), [[lon, lat], ...];
    none without a number. Display only: degrees are fine for spacing labels."""
    if not ref:
        return []
    count = max(1, round(float(shapely.length(geom)) / LABEL_EVERY_DEG))
    points = shapely.line_interpolate_point(shapely.line_merge(geom), (np.arange(count) + 0.5) / count,
                                            normalized=True)
    return [[round(float(x), 3), round(float(y), 3)] for x, y in shapely.get_coordinates(points)]


def roads_json(catalog, band):
    """The basemap roads simplified for zoom band ``band``: a script-safe FeatureCollection whose features carry
    ``name``, ``kind`` (road | rail), ``ref`` and ``_labels`` (where to write the ref, :func:`_label_points`)."""
    ids = road_layer_ids(catalog)

    def compute():
        geoms, props = basemap_roads(catalog)
        if not len(geoms):
            return _script_json('{"type":"FeatureCollection","features":[]}')
        zoom = band_zoom(band)
        simple = shapely.simplify(geoms, float(tolerance_degrees(zoom, 40.0)))
        simple = shapely.set_precision(simple, 10.0 ** -quantise_decimals(zoom, 40.0), mode="pointwise")
        rows = [{"name": p["name"], "kind": p["kind"], "ref": p["ref"], "_labels": _label_points(g, p["ref"])}
                for g, p in zip(geoms, props)]
        return _script_json(_feature_collection(shapely.to_geojson(simple), rows))

    return catalog.memo(("webapp.basemap.roads-json", band), compute, layers=ids)

