"""The JSON API: the catalogue, layers as GeoJSON (bbox and property filters), features, statistics.

Bodies are serialised once per layer and kept in the catalogue memo; a
filtered request only selects among pre-serialised features. Unknown
query parameters are refused (400) so a typo never silently returns
everything.
"""

from __future__ import annotations

import difflib
import hashlib
import json

import numpy as np
import shapely
from flask import Blueprint, Response, request, url_for

from geo.stats import format_stats, layer_stats
from layers.errors import BadParameter
from layers.index import bbox_positions, parse_bbox
from layers.schema import GEOMETRY_QUALITIES, KINDS, STATUSES
from webapp.display import feature_properties, stats_payload
from webapp.mapbuilder import current_catalog

__all__ = ["bp", "filterable_properties", "select_features"]

bp = Blueprint("api", __name__, url_prefix="/api")

GEOJSON = "application/geo+json"
# Allowed values of the enumerated properties, so that status=porposed is a 400, not an empty list.
_ENUMS = {"status": STATUSES, "kind": KINDS, "geometry_quality": GEOMETRY_QUALITIES}


def _refuse_unknown(allowed):
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        name = unknown[0]
        raise BadParameter(name, f"unknown query parameter (allowed: {', '.join(sorted(allowed)) or 'none'})",
                           difflib.get_close_matches(name, sorted(allowed), n=3))


def _json_body(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _memo_body(key, compute):
    """(bytes, etag) computed once per catalogue."""

    def build():
        body = compute()
        return body, hashlib.blake2b(body, digest_size=16).hexdigest()

    return current_catalog().memo(key, build)


def _respond(body_etag, mimetype, **headers):
    body, etag = body_etag
    response = Response(body, mimetype=mimetype, headers=headers)
    response.set_etag(etag)
    return response


# --- parameters ------------------------------------------------------------------

def filterable_properties(layer):
    """Properties of ``layer`` usable as ``name=value`` filters: text-valued columns, plus ``countries``."""
    names = []
    for column in layer.gdf.columns:
        if column == layer.gdf.geometry.name:
            continue
        values = layer.gdf[column].dropna()
        if column == "countries" or (len(values) and all(isinstance(v, str) for v in values)):
            names.append(column)
    return names


def select_features(catalog, layer_id, *, bbox=None, filters=None):
    """Positions of the layer's features meeting ``bbox`` (via the layer's spatial index) and every filter.

    ``filters`` maps a property to accepted values: a feature matches when
    its value is one of them (for ``countries``: when its list holds one).
    """
    gdf = catalog.layer(layer_id).gdf
    mask = np.ones(len(gdf), dtype=bool)
    if bbox is not None:
        inside = np.zeros(len(gdf), dtype=bool)
        inside[bbox_positions(catalog, layer_id, bbox)] = True
        mask &= inside
    for name, values in (filters or {}).items():
        wanted = set(values)
        if name == "countries":
            mask &= np.array([bool(wanted.intersection(c or ())) for c in gdf[name]], dtype=bool)
        else:
            mask &= gdf[name].isin(wanted).to_numpy()
    return np.flatnonzero(mask)


def _parse_filters(layer):
    allowed = filterable_properties(layer)
    _refuse_unknown(["bbox", *allowed])
    filters = {}
    for name in allowed:
        raw = [v for item in request.args.getlist(name) for v in item.split(",")]
        values = [v.strip() for v in raw if v.strip()]
        if name in request.args and not values:
            raise BadParameter(name, "filter value is empty")
        if not values:
            continue
        for value in values:
            if name in _ENUMS and value not in _ENUMS[name]:
                raise BadParameter(name, f"{value!r} is not one of {', '.join(_ENUMS[name])}",
                                   difflib.get_close_matches(value, _ENUMS[name], n=3))
        filters[name] = values
    bbox = parse_bbox(request.args["bbox"]) if "bbox" in request.args else None
    return bbox, filters


# --- serialised features, memoised per layer -------------------------------------

def _feature_texts(catalog, layer_id):
    """Each feature of the layer as GeoJSON text (full-precision geometry), in layer order."""

    def compute():
        geoms = shapely.to_geojson(catalog.layer(layer_id).gdf.geometry.to_numpy())
        props = feature_properties(catalog, layer_id)
        return [
            f'{{"type":"Feature","id":{json.dumps(p["id"])},"geometry":{g},'
            f'"properties":{json.dumps(p, ensure_ascii=False, separators=(",", ":"))}}}'
            for g, p in zip(geoms, props)
        ]

    return catalog.memo(("webapp.feature-texts", layer_id), compute)


def _collection(layer, texts):
    meta = {k: layer.meta[k] for k in ("id", "title", "description", "attribution", "licence") if k in layer.meta}
    return (
        '{"type":"FeatureCollection","metadata":' + json.dumps(meta, ensure_ascii=False)
        + ',"features":[' + ",".join(texts) + "]}"
    ).encode("utf-8")


# --- routes --------------------------------------------------------------------------

@bp.get("/layers")
def layer_list():
    """The catalogue: one entry per layer."""
    _refuse_unknown([])
    catalog = current_catalog()
    entries = [
        {
            "id": layer.id, "title": layer.title, "description": layer.meta["description"],
            "feature_count": len(layer.gdf), "geometry": layer.geometry_family,
            "bbox": [round(v, 6) for v in layer.bbox] if len(layer.gdf) else None,
            "attribution": layer.attribution, "licence": layer.meta["licence"], "builtin": layer.builtin,
            "links": {
                "geojson": url_for("api.layer_geojson", layer_id=layer.id),
                "stats": url_for("api.layer_stats_view", layer_id=layer.id),
                "map": url_for("pages.layer_map", layer_id=layer.id),
                "embed": url_for("pages.embed_layer", layer_id=layer.id),
            },
        }
        for layer in catalog
    ]
    return Response(_json_body({"layers": entries}), mimetype="application/json")


@bp.get("/layers/<layer_id>")
def layer_geojson(layer_id):
    """The layer as a GeoJSON FeatureCollection, optionally filtered by ``bbox`` and properties."""
    catalog = current_catalog()
    layer = catalog.layer(layer_id)
    bbox, filters = _parse_filters(layer)
    texts = _feature_texts(catalog, layer_id)
    if bbox is None and not filters:
        body = _memo_body(("webapp.geojson", layer_id), lambda: _collection(layer, texts))
        return _respond(body, GEOJSON)
    chosen = select_features(catalog, layer_id, bbox=bbox, filters=filters)
    return Response(_collection(layer, [texts[i] for i in chosen]), mimetype=GEOJSON)


@bp.get("/layers/<layer_id>/features/<feature_id>")
def feature(layer_id, feature_id):
    """One feature as GeoJSON, with its route statistics in a ``stats`` member."""
    _refuse_unknown([])
    catalog = current_catalog()
    layer = catalog.layer(layer_id)
    catalog.feature(layer_id, feature_id)  # FeatureNotFound -> 404
    pos = layer.positions[feature_id]
    stats = stats_payload(catalog, layer_id)["features"][pos]
    text = _feature_texts(catalog, layer_id)[pos]
    body = text[:-1] + ',"layer":' + json.dumps(layer_id) + ',"stats":' + json.dumps(stats, ensure_ascii=False) + "}"
    return Response(body.encode("utf-8"), mimetype=GEOJSON)


@bp.get("/layers/<layer_id>/stats")
def layer_stats_view(layer_id):
    """Route statistics (km, geodesic on WGS84) per feature plus layer totals; ``?format=csv`` for CSV."""
    _refuse_unknown(["format"])
    catalog = current_catalog()
    layer = catalog.layer(layer_id)
    fmt = request.args.get("format", "json")
    if fmt == "json":
        def compute():
            payload = stats_payload(catalog, layer_id)
            return _json_body({"layer": layer_id, "title": layer.title, "units": "km, geodesic on the WGS84 ellipsoid",
                               **payload})
        return _respond(_memo_body(("webapp.stats-json", layer_id), compute), "application/json")
    if fmt == "csv":
        body = _memo_body(("webapp.stats-csv", layer_id), lambda: format_stats(layer_stats(catalog, layer_id), "csv").encode())
        return _respond(body, "text/csv", **{"Content-Disposition": f'inline; filename="{layer_id}_stats.csv"'})
    raise BadParameter("format", f"{fmt!r} is not one of json, csv", difflib.get_close_matches(fmt, ["json", "csv"]))
