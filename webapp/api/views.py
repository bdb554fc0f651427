"""The JSON API: the catalogue, layers as GeoJSON (bbox, property filters, paging), features, statistics,
and the zoom-band display geometry the maps fetch.

Each feature is serialised once per layer (memoised in the catalogue); a
query only picks among the pre-serialised features, through the layer's
spatial index for ``bbox``. A query's ETag comes from the layer's content
ETag and the normalised query, so a revalidation (304) is answered before
any body is built; filtered and paged bodies are kept in a byte-bounded LRU
(``API_CACHE_MB``). Unknown query parameters are refused (400) so a typo
never silently returns everything.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import NamedTuple
from urllib.parse import quote

import numpy as np
import shapely
from flask import Blueprint, Response, current_app, request, url_for

from geo.simplify import FULL_BAND
from geo.stats import format_stats, layer_stats
from layers.errors import BadParameter
from layers.index import bbox_positions, capped_limit, page, parse_bbox
from layers.schema import GEOMETRY_QUALITIES, ISO3_RE, KINDS, STATUSES
from webapp.api.httpcache import BodyCache, derived_etag, not_modified
from webapp.jsonout import dumps, dumps_bytes
from webapp.maps.builder import current_catalog, embeds_popups
from webapp.maps.display import feature_properties, layer_display_js, stats_payload

__all__ = ["GEOJSON", "LayerQuery", "bp", "feature_texts", "filterable_properties", "layer_filterable",
           "parse_filters", "parse_query", "refuse_unknown", "select_features"]

bp = Blueprint("api", __name__, url_prefix="/api")

GEOJSON = "application/geo+json"
# Allowed values of the enumerated properties, so that status=porposed is a 400, not an empty list.
_ENUMS = {"status": STATUSES, "kind": KINDS, "geometry_quality": GEOMETRY_QUALITIES}
_PAGING = ("limit", "offset")


@bp.record_once
def _setup(state):
    """On registration: the app's LRU of serialised query responses (``API_CACHE_MB``)."""
    state.app.extensions["api_bodies"] = BodyCache(state.app.config["API_CACHE_MB"] * 1024 * 1024)


def refuse_unknown(allowed):
    """400 naming the first query parameter not in ``allowed`` (with close matches)."""
    args = request.args
    if "" in args:  # "?=x": a value with no name
        raise BadParameter("(unnamed)", "a query parameter has no name")
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        name = unknown[0]
        raise BadParameter(name, f"unknown query parameter (allowed: {', '.join(sorted(allowed)) or 'none'})",
                           difflib.get_close_matches(name, sorted(allowed), n=3))


def _json_body(value):
    return dumps_bytes(value)


def _memo_body(key, compute):
    """(bytes, etag) computed once per catalogue."""

    def build():
        body = compute()
        return body, hashlib.blake2b(body, digest_size=16).hexdigest()

    return current_catalog().memo(key, build)


def _respond(body_etag, mimetype, **headers):
    body, etag = body_etag
    cached = not_modified(etag, mimetype)
    if cached is not None:
        return cached
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


def layer_filterable(catalog, layer_id):
    """:func:`filterable_properties` of a catalogue layer, memoised."""
    layer = catalog.layer(layer_id)
    return catalog.memo(("webapp.filterable", layer_id), lambda: tuple(filterable_properties(layer)))


def _country_positions(catalog, layer_id):
    """ISO3 -> sorted positions of the layer's features whose ``countries`` list holds it."""

    def compute():
        index = {}
        for pos, codes in enumerate(catalog.layer(layer_id).gdf["countries"]):
            for code in codes if isinstance(codes, (list, tuple, np.ndarray)) else ():
                index.setdefault(code, []).append(pos)
        return {code: np.asarray(found, dtype=np.int64) for code, found in index.items()}

    return catalog.memo(("webapp.country-positions", layer_id), compute)


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
        if name == "countries":
            index = _country_positions(catalog, layer_id)
            hit = np.zeros(len(gdf), dtype=bool)
            for code in values:
                hit[index.get(code, [])] = True
            mask &= hit
        else:
            mask &= gdf[name].isin(set(values)).to_numpy()
    return np.flatnonzero(mask)


class LayerQuery(NamedTuple):
    """A normalised layer query: equal queries however spelt (value order, repeats, ``a,b`` vs ``a&a=b``)."""

    bbox: tuple | None
    filters: tuple  # ((name, (value, ...)), ...), both sorted
    limit: int | None
    offset: int

    def args(self):
        """The query as canonical URL arguments (for links, cache keys and ETags)."""
        args = {}
        if self.bbox is not None:
            args["bbox"] = ",".join(repr(v) for v in self.bbox)
        args.update((name, ",".join(values)) for name, values in self.filters)
        if self.limit is not None:
            args["limit"] = str(self.limit)
        if self.offset:
            args["offset"] = str(self.offset)
        return args

    def text(self):
        return "&".join(f"{k}={quote(v, safe=',')}" for k, v in self.args().items())


def parse_filters(args, allowed):
    """``((name, (value, ...)), ...)`` of the property filters among ``args`` (comma = any of), checked."""
    filters = []
    for name in allowed:
        if name not in args:
            continue
        values = sorted({v.strip() for item in args.getlist(name) for v in item.split(",") if v.strip()})
        if not values:
            raise BadParameter(name, "filter value is empty")
        for value in values:
            if name == "countries" and not ISO3_RE.match(value):
                raise BadParameter(name, f"{value[:40]!r} is not an ISO 3166-1 alpha-3 code such as PAK or AFG")
            if name in _ENUMS and value not in _ENUMS[name]:
                raise BadParameter(name, f"{value!r} is not one of {', '.join(_ENUMS[name])}",
                                   difflib.get_close_matches(value, _ENUMS[name], n=3))
        filters.append((name, tuple(values)))
    return tuple(filters)


def parse_query(catalog, layer_id, *, extra=()):
    """The :class:`LayerQuery` of this request's arguments (``extra``: more argument names to accept)."""
    args = request.args  # bound once: each access through the request proxy costs
    allowed = layer_filterable(catalog, layer_id)
    refuse_unknown(("bbox", *_PAGING, *allowed, *extra))
    filters = parse_filters(args, allowed)
    bbox = parse_bbox(args["bbox"]) if "bbox" in args else None
    limit, offset = args.get("limit"), args.get("offset")
    page((), limit=limit, offset=offset)  # BadParameter naming limit/offset when malformed
    return LayerQuery(bbox, filters, None if limit is None else capped_limit(limit),
                      0 if offset is None else int(offset.strip()))


# --- serialised features, memoised per layer -------------------------------------

def feature_texts(catalog, layer_id):
    """Each feature of the layer as GeoJSON bytes (full-precision geometry), in layer order."""

    def compute():
        geoms = shapely.to_geojson(catalog.layer(layer_id).gdf.geometry.to_numpy())
        props = feature_properties(catalog, layer_id)
        return [
            (f'{{"type":"Feature","id":{json.dumps(p["id"])},"geometry":{g},'
             f'"properties":{dumps(p)}}}').encode("utf-8")
            for g, p in zip(geoms, props)
        ]

    return catalog.memo(("webapp.feature-texts", layer_id), compute)


def _metadata_json(catalog, layer_id):
    layer = catalog.layer(layer_id)
    return catalog.memo(("webapp.metadata-json", layer_id), lambda: dumps(
        {k: layer.meta[k] for k in ("id", "title", "description", "attribution", "licence", "references")
         if k in layer.meta},
        compact=False))


def _collection(catalog, layer_id, query, link_base):
    """The FeatureCollection bytes for ``query``, with OGC-style counts and a ``next`` link when paged."""
    texts = feature_texts(catalog, layer_id)
    if query.bbox is None and not query.filters:
        positions = np.arange(len(texts))
    else:
        positions = select_features(catalog, layer_id, bbox=query.bbox, filters=dict(query.filters))
    chosen, next_offset = page(positions, limit=query.limit, offset=query.offset)
    head = (f'{{"type":"FeatureCollection","metadata":{_metadata_json(catalog, layer_id)},'
            f'"numberMatched":{len(positions)},"numberReturned":{len(chosen)}')
    if next_offset is not None:
        following = query._replace(offset=next_offset).text()
        link = {"rel": "next", "type": GEOJSON, "href": f"{link_base}?{following}"}
        head += f',"next_offset":{next_offset},"links":[{json.dumps(link)}]'
    return (head + ',"features":[').encode("utf-8") + b",".join([texts[i] for i in chosen.tolist()]) + b"]}"


# --- routes --------------------------------------------------------------------------

@bp.get("/layers")
def layer_list():
    """The catalogue: one entry per layer."""
    refuse_unknown([])
    catalog = current_catalog()
    entries = [
        {
            "id": layer.id, "title": layer.title, "description": layer.meta["description"],
            "feature_count": len(layer.gdf), "geometry": layer.geometry_family,
            "bbox": [round(v, 6) for v in layer.bbox] if len(layer.gdf) else None,
            "attribution": layer.attribution, "licence": layer.meta["licence"], "builtin": layer.builtin,
            "references": layer.meta.get("references", []),  # other layers' features this layer groups
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
    """The layer as a GeoJSON FeatureCollection, optionally filtered by ``bbox`` and properties, and paged
    with ``limit``/``offset`` (``numberMatched``, ``numberReturned``, ``next_offset`` + a ``next`` link)."""
    catalog = current_catalog()
    catalog.layer(layer_id)  # LayerNotFound -> 404
    query = parse_query(catalog, layer_id)
    link_base = request.script_root + request.path
    whole = _memo_body(("webapp.geojson", layer_id),
                       lambda: _collection(catalog, layer_id, LayerQuery(None, (), None, 0), link_base))
    if query == (None, (), None, 0):
        return _respond(whole, GEOJSON)
    # the body is a function of the layer's content and the normalised query: no need to build it to tag it
    etag = derived_etag(whole[1], link_base, query.text())
    cached = not_modified(etag, GEOJSON)
    if cached is not None:
        return cached
    bodies = current_app.extensions["api_bodies"]
    body, _ = bodies.get((layer_id, catalog.fingerprint([layer_id]), link_base, query),
                         lambda: (_collection(catalog, layer_id, query, link_base), etag))
    response = Response(body, mimetype=GEOJSON)
    response.set_etag(etag)
    return response


@bp.get("/layers/<layer_id>/display")
def layer_display(layer_id):
    """The display FeatureCollection a map draws at ``zoom_band`` (0-5, see geo.simplify.ZOOM_BANDS).

    Simplified to half a pixel at the band's top zoom and quantised;
    properties slim (id, name, kind, status, style index ``_s`` into
    ``styles``), popups included only where the maps embed them. For
    display only: measure with the layer itself or ``/stats``.
    """
    refuse_unknown(["zoom_band"])
    catalog = current_catalog()
    catalog.layer(layer_id)
    raw = request.args.get("zoom_band", "")
    if not (raw.strip().isascii() and raw.strip().isdigit() and int(raw) <= FULL_BAND):
        raise BadParameter("zoom_band", f"{raw[:20]!r} must be a whole number from 0 to {FULL_BAND}")
    band = int(raw)
    with_popups = embeds_popups(catalog, layer_id, current_app.extensions["map_options"])
    body = _memo_body(("webapp.maps.display-json", layer_id, band, with_popups),
                      lambda: str(layer_display_js(catalog, layer_id, with_popups=with_popups,
                                                   zoom_band=band)).encode("utf-8"))
    return _respond(body, GEOJSON)


@bp.get("/layers/<layer_id>/features/<feature_id>")
def feature(layer_id, feature_id):
    """One feature as GeoJSON, with its route statistics in a ``stats`` member."""
    refuse_unknown([])
    catalog = current_catalog()
    layer = catalog.layer(layer_id)
    catalog.feature(layer_id, feature_id)  # FeatureNotFound -> 404
    pos = layer.positions[feature_id]
    stats = stats_payload(catalog, layer_id)["features"][pos]
    text = feature_texts(catalog, layer_id)[pos]
    tail = ',"layer":' + json.dumps(layer_id) + ',"stats":' + dumps(stats, compact=False) + "}"
    return Response(text[:-1] + tail.encode("utf-8"), mimetype=GEOJSON)


@bp.get("/layers/<layer_id>/stats")
def layer_stats_view(layer_id):
    """Route statistics (km, geodesic on WGS84) per feature plus layer totals; ``?format=csv`` for CSV."""
    refuse_unknown(["format"])
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
        body = _memo_body(
            ("webapp.stats-csv", layer_id), lambda: format_stats(layer_stats(catalog, layer_id), "csv").encode()
        )
        return _respond(body, "text/csv", **{"Content-Disposition": f'inline; filename="{layer_id}_stats.csv"'})
    raise BadParameter("format", f"{fmt!r} is not one of json, csv", difflib.get_close_matches(fmt, ["json", "csv"]))
