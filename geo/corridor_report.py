"""Corridor analytics over the catalogue: what the CLI and the web blueprint call.

Resolves ``layer:fid`` references and layer lists, runs the geometry of
:mod:`geo.corridor` against catalogue layers and the GeoNames gazetteer, and
turns results into JSON-ready GeoJSON. Distances, lengths and areas in km
(km² for areas) on the WGS84 ellipsoid.
"""

import difflib
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.budget import checkpoint
from geo.corridor import (
    MAX_PIECE_KM,
    MAX_WIDTH_KM,
    PLACES,
    bounded_km,
    build_corridor,
    route_line,
    within_corridor,
)
from geo.countries import boundaries_for, country_of_points, length_by_country_km
from geo.geodesic import as_geometry_array, geodesic_area_km2
from geo.overlap import overlap
from geo.places import GAZETTEER_CSV, places_gdf
from geo.topology import planar_geometries
from layers.errors import BadParameter

__all__ = [
    "DEFAULT_WITH",
    "parse_feature_ref",
    "parse_layer_list",
    "corridor_report",
    "corridor_summary",
    "corridor_geojson",
    "overlap_report",
]

DEFAULT_WITH = (PLACES, "ports", "energy_projects")



def parse_feature_ref(catalog, text, *, parameter):
    """``"layer:fid"`` -> (layer id, feature id, lon/lat geometry); BadParameter when malformed."""
    layer_id, sep, fid = str(text or "").partition(":")
    if not sep or not layer_id or not fid:
        raise BadParameter(parameter, f"expected 'layer:feature', got {text!r}")
    return layer_id, fid, _feature_geometry(catalog, layer_id, fid)


def _feature_geometry(catalog, layer_id, fid):
    row = catalog.feature(layer_id, fid)
    return row.geometry.iloc[0]


def parse_layer_list(catalog, value, *, parameter="with"):
    """Layer ids from ``"a,b"`` or a sequence; 'places' is the gazetteer. None -> the defaults present."""
    if value is None:
        return tuple(x for x in DEFAULT_WITH if x == PLACES or x in catalog)
    items = value.split(",") if isinstance(value, str) else list(value)
    known = [PLACES, *catalog.ids]
    out = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if item not in known:
            raise BadParameter(parameter, f"unknown layer {item!r}",
                               difflib.get_close_matches(item, known, n=5, cutoff=0.5))
        if item not in out:
            out.append(item)
    return tuple(out)


def _candidates(catalog, layer_id, csv_path):
    """A layer's features and the STRtree over their planar geometries (lines densified and cut at 180°)."""
    if layer_id != PLACES:  # not the bbox index (layers.index): that one holds the raw lines
        gdf = catalog.layer(layer_id).gdf
        return gdf, catalog.memo(("geo.corridor.strtree", layer_id),
                                 lambda: shapely.STRtree(planar_geometries(gdf)))
    gdf = places_gdf(catalog, csv_path=csv_path)
    key = ("geo.corridor.strtree", layer_id, str(csv_path))
    return gdf, catalog.memo(key, lambda: shapely.STRtree(as_geometry_array(gdf)), layers=())


def corridor_report(catalog, layer_id, feature_id, width_km, *, with_layers=None, max_piece_km=MAX_PIECE_KM,
                    csv_path=GAZETTEER_CSV, engine=None):
    """The corridor of one catalogue feature and everything within it.

    Returns ``{"layer", "feature", "name", "corridor": Corridor, "features":
    GeoDataFrame (see :func:`within_corridor`), "summary": dict}``.
    ``with_layers``: layer ids and/or 'places' (default: places, ports,
    energy_projects where present); ``engine`` (:mod:`geo.parallel`) finds
    the features within (None: this process). Raises LayerNotFound,
    FeatureNotFound or BadParameter.
    """
    width = bounded_km(width_km, "width_km", high=MAX_WIDTH_KM)
    layers = parse_layer_list(catalog, with_layers)
    geom = _feature_geometry(catalog, layer_id, feature_id)
    corridor = build_corridor(route_line(geom, name="feature"), width, max_piece_km=max_piece_km)
    found = []
    for lid in layers:
        checkpoint()  # a request's time budget, or its client gone (geo.budget)
        gdf, tree = _candidates(catalog, lid, csv_path)
        within = within_corridor if engine is None else engine.within_corridor
        found.append(within(corridor, gdf, layer_id=lid, tree=tree, exclude_id=feature_id if lid == layer_id else None))
    features = (pd.concat(found, ignore_index=True) if found else within_corridor(corridor, gpd.GeoDataFrame(
        {"id": []}, geometry=[], crs="EPSG:4326")))
    features = gpd.GeoDataFrame(features, geometry="geometry", crs="EPSG:4326")
    features = features.sort_values(["chainage_km", "distance_km"], kind="stable").reset_index(drop=True)
    checkpoint()
    boundaries = boundaries_for(catalog)
    name = catalog.feature(layer_id, feature_id)["name"].iloc[0]
    return {"layer": layer_id, "feature": feature_id, "name": name, "corridor": corridor, "features": features,
            "summary": corridor_summary(corridor, features, boundaries)}


def _area_by_country_km2(polys, boundaries):
    """km² of each (clipped) polygon in each country polygon: {code: (features, km²)}."""
    codes = np.asarray(boundaries["id"], dtype=object)
    countries = as_geometry_array(boundaries)
    p_idx, c_idx = shapely.STRtree(countries).query(polys, predicate="intersects")
    out = {}
    pieces = shapely.intersection(polys[p_idx], countries[c_idx])
    for p, code, piece in zip(p_idx, codes[c_idx], pieces):  # one per (polygon, country) pair
        km2 = geodesic_area_km2(piece)
        if km2 > 0.01:  # neighbours share an edge: a line of zero area, not a piece
            seen, total = out.get(code, (set(), 0.0))
            out[code] = (seen | {p}, total + km2)
    return {code: (len(seen), km2) for code, (seen, km2) in out.items()}


def _entry(table, key):
    return table.setdefault(key, {"features": 0, "points": 0, "lines": 0, "polygons": 0,
                                  "length_km": 0.0, "area_km2": 0.0})


def corridor_summary(corridor, features, boundaries=None):
    """Counts, km and km² inside the band by layer, by status and by country (ISO3, from ``boundaries``).

    Each group counts its features (and its points, lines and polygons
    apart), adds the km of its lines inside the band (``length_km``) and
    the km² of its polygons inside the band (``area_km2``): a polygon is
    never measured by its outline. By country: points count in the country
    containing them, lines add their km there, polygons their km² there.
    Without boundaries the features' own ``countries`` property is used.
    """
    geoms = as_geometry_array(features)
    types = shapely.get_type_id(geoms)
    family = np.where(np.isin(types, (1, 5)), "lines", np.where(np.isin(types, (3, 6)), "polygons", "points"))
    km = features["inside_length_km"].fillna(0.0).to_numpy(dtype=float)
    km2 = features["inside_area_km2"].fillna(0.0).to_numpy(dtype=float) if "inside_area_km2" in features \
        else np.zeros(len(features))
    by_layer, by_status, by_country = {}, {}, {}

    def add(table, key, fam, n_km, n_km2, count=1):
        entry = _entry(table, key)
        entry["features"] += count
        entry[fam] += count
        entry["length_km"] = round(entry["length_km"] + n_km, 3)
        entry["area_km2"] = round(entry["area_km2"] + n_km2, 1)

    for layer, status, fam, k, k2 in zip(features["layer"], features["status"], family, km, km2):
        add(by_layer, str(layer), fam, k, k2)
        add(by_status, status if isinstance(status, str) else "n/a", fam, k, k2)
    present = ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
    if boundaries is not None and len(features):
        xy = shapely.get_coordinates(geoms[(family == "points") & present])
        for code in country_of_points(xy[:, 0], xy[:, 1], boundaries):
            add(by_country, code, "points", 0.0, 0.0)
        lines = features[(family == "lines") & present].assign(_row=lambda f: [str(i) for i in f.index])
        if len(lines):
            table = length_by_country_km(lines, boundaries, id_column="_row")
            for code, group in table.groupby("country"):
                add(by_country, code, "lines", float(group["length_km"].sum()), 0.0,
                    count=int(group["feature_id"].nunique()))
        polys = geoms[(family == "polygons") & present]
        if len(polys):
            for code, (count, area) in _area_by_country_km2(polys, boundaries).items():
                add(by_country, code, "polygons", 0.0, area, count=count)
    else:
        for countries, fam, k, k2 in zip(features["countries"], family, km, km2):
            for code in countries if isinstance(countries, list) else ["unknown"]:
                add(by_country, code, fam, k, k2)
    order = lambda table: dict(sorted(table.items(), key=lambda kv: (-kv[1]["features"], kv[0])))  # noqa: E731
    return {"width_km": corridor.width_km, "route_length_km": round(corridor.length_km, 3),
            "area_km2": round(corridor.area_km2, 1), "features": int(len(features)),
            "by_layer": order(by_layer), "by_status": order(by_status), "by_country": order(by_country)}


def _clean(value):
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _geojson_geometry(geom, digits=6):
    """GeoJSON of ``geom`` rounded to ``digits`` decimals (6, as every layer), polygons wound per RFC 7946 §3.1.6
    (exterior rings counterclockwise, holes clockwise)."""
    if geom is None or geom.is_empty:
        return None
    rounded = shapely.orient_polygons(shapely.transform(geom, lambda xy: np.round(xy, digits)), exterior_cw=False)
    return json.loads(shapely.to_geojson(rounded))


def corridor_geojson(report):
    """A report from :func:`corridor_report` as a GeoJSON FeatureCollection dict.

    The first feature is the corridor polygon (``role`` 'corridor'), the rest
    the features found (``role`` 'within'); ``summary`` is a foreign member.
    """
    c = report["corridor"]
    head = {"type": "Feature", "geometry": _geojson_geometry(c.polygon), "properties": {
        "role": "corridor", "layer": report["layer"], "feature": report["feature"], "name": report["name"],
        "width_km": c.width_km, "area_km2": round(c.area_km2, 1), "route_length_km": round(c.length_km, 3)}}
    feats = [head]
    columns = [col for col in report["features"].columns if col != "geometry"]
    for row, geom in zip(report["features"][columns].itertuples(index=False), report["features"].geometry):
        props = {"role": "within", **{k: _clean(v) for k, v in zip(columns, row)}}
        feats.append({"type": "Feature", "geometry": _geojson_geometry(geom), "properties": props})
    return {"type": "FeatureCollection", "features": feats, "summary": report["summary"]}


def overlap_report(catalog, a_ref, b_ref, width_km, *, max_piece_km=MAX_PIECE_KM):
    """:func:`overlap` of two catalogue features named ``"layer:fid"``; JSON-ready dict."""
    width = bounded_km(width_km, "width_km", high=MAX_WIDTH_KM)
    a_layer, a_fid, a_geom = parse_feature_ref(catalog, a_ref, parameter="a")
    b_layer, b_fid, b_geom = parse_feature_ref(catalog, b_ref, parameter="b")
    result = overlap(route_line(a_geom, name="a"), route_line(b_geom, name="b"), width, max_piece_km=max_piece_km)
    result["shared"] = _geojson_geometry(result["shared"])
    return {"a": f"{a_layer}:{a_fid}", "b": f"{b_layer}:{b_fid}", **result}
