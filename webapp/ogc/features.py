"""OGC API - Features at ``/ogcapi``: every catalogue layer is a collection.

Implements OGC API - Features - Part 1: Core (OGC 17-069r4) with the GeoJSON,
HTML and OpenAPI 3.0 conformance classes, and Part 3 (OGC 19-079r2)
Queryables with queryables as query parameters:

- ``/ogcapi`` landing page (7.2), ``/ogcapi/conformance`` (7.4),
- ``/ogcapi/collections`` and ``/ogcapi/collections/{id}`` (7.13, 7.14) with
  the spatial extent and, for dated layers, the temporal extent,
- ``/ogcapi/collections/{id}/items`` (7.15): ``limit`` (default 100, larger
  than 10,000 capped, 7.15.3), ``offset`` with ``next``/``prev`` links,
  ``bbox`` of 4 or 6 numbers in CRS84 (7.15.4; minlon > maxlon crosses the
  antimeridian), ``datetime`` against the dated facts (7.15.6,
  :mod:`webapp.ogc.temporal`), and ``name=value`` filters on the
  collection's queryables (Part 3, comma = any of),
- ``/ogcapi/collections/{id}/items/{fid}`` (7.16),
- ``/ogcapi/collections/{id}/queryables`` (Part 3, a JSON Schema).

Features are the same pre-serialised GeoJSON as ``/api`` (same ids and
properties); bodies are cached within ``API_CACHE_MB`` and carry ETags.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from flask import Blueprint, Response, current_app, request

from layers.errors import BadParameter
from layers.index import MAX_LIMIT, bbox_positions, capped_limit, page
from layers.schema import KINDS, STATUSES
from webapp.api.httpcache import derived_etag, not_modified
from webapp.api.openapi import openapi_document
from webapp.api.views import feature_texts, layer_filterable, parse_filters, refuse_unknown, select_features
from webapp.export.downloads import DOWNLOAD_FORMATS
from webapp.links import external_url, with_query
from webapp.maps.builder import current_catalog
from webapp.maps.display import feature_properties
from webapp.ogc import temporal
from webapp.ogc.common import (
    CONFORMANCE,
    CRS84,
    GEOJSON,
    HTML,
    JSON,
    OPENAPI_MEDIA,
    alternates,
    html_page,
    json_response,
    link,
    wants_html,
)

__all__ = ["DEFAULT_LIMIT", "ItemsQuery", "bp", "collection_doc", "layer_etag", "matching_positions", "parse_ogc_bbox",
           "queryables_doc"]

bp = Blueprint("ogc", __name__, url_prefix="/ogcapi")

DEFAULT_LIMIT = 100
ITEM_ARGS = ("f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime")
_CRS84_NAMES = (CRS84, "CRS84", "OGC:CRS84", "http://www.opengis.net/def/crs/EPSG/0/4326")
_TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


def layer_etag(catalog, layer_id):
    """A content hash of the layer's features (changes when the data does, survives restarts)."""
    return catalog.memo(("ogc.layer-etag", layer_id), lambda: hashlib.blake2b(
        b"\n".join(feature_texts(catalog, layer_id)), digest_size=16).hexdigest())


def _start_days(catalog, layer_id):
    return catalog.memo(("ogc.start-days", layer_id),
                        lambda: temporal.feature_start_days(catalog.layer(layer_id).gdf))


# --- parameters --------------------------------------------------------------------------

def parse_ogc_bbox(text):
    """``bbox`` of 4 or 6 numbers (with heights, ignored) -> list of 4-tuples: two when it crosses the antimeridian."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) not in (4, 6) or len(text) > 300:
        raise BadParameter("bbox", f"expected 4 or 6 comma-separated numbers, got {len(parts)}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise BadParameter("bbox", f"{text[:80]!r} holds something that is not a number") from None
    lon0, lat0, lon1, lat1 = values if len(values) == 4 else (values[0], values[1], values[3], values[4])
    if lon0 > lon1:  # OGC 17-069r4 7.15.4: the box crosses the antimeridian
        return [(lon0, lat0, 180.0, lat1), (-180.0, lat0, lon1, lat1)]
    if lon0 == lon1:
        lon1 = lon0 + 1e-9  # a box of zero width still selects what touches its line
    if lat0 == lat1:
        lat1 = lat0 + 1e-9
    return [(lon0, lat0, lon1, lat1)]


class ItemsQuery:
    """A normalised items request: boxes, property filters, datetime interval, paging."""

    __slots__ = ("boxes", "filters", "interval", "limit", "offset", "datetime_text")

    def __init__(self, boxes, filters, interval, limit, offset, datetime_text):
        self.boxes, self.filters, self.interval = boxes, filters, interval
        self.limit, self.offset, self.datetime_text = limit, offset, datetime_text

    def key(self):
        return (tuple(self.boxes or ()), self.filters, self.datetime_text, self.limit, self.offset)

    def args(self, *, offset=None):
        """The query as URL arguments (for links), at ``offset``."""
        args = {}
        if self.boxes:
            lon0, lat0, lon1, lat1 = self.boxes[0][0], self.boxes[0][1], self.boxes[-1][2], self.boxes[-1][3]
            args["bbox"] = ",".join(repr(v) for v in (lon0, lat0, lon1, lat1))
        args.update((name, ",".join(values)) for name, values in self.filters)
        if self.datetime_text:
            args["datetime"] = self.datetime_text
        args["limit"] = str(self.limit)
        offset = self.offset if offset is None else offset
        if offset:
            args["offset"] = str(offset)
        return args


def _check_crs(name):
    value = request.args.get(name)
    if value is not None and value.strip() not in _CRS84_NAMES:
        raise BadParameter(name, f"{value[:80]!r}: only {CRS84} (WGS84 longitude, latitude) is offered")


def _items_query(catalog, layer_id):
    args = request.args
    queryables = layer_filterable(catalog, layer_id)
    refuse_unknown((*ITEM_ARGS, *queryables))
    wants_html()  # a bad f= is a 400 before any work
    _check_crs("bbox-crs")
    _check_crs("crs")
    boxes = parse_ogc_bbox(args["bbox"]) if "bbox" in args else None
    datetime_text = args.get("datetime")
    interval = temporal.parse_datetime(datetime_text) if datetime_text is not None else None
    limit = capped_limit(args.get("limit", str(DEFAULT_LIMIT)), max_limit=MAX_LIMIT)
    offset = args.get("offset", "0")
    page((), limit=limit, offset=offset)  # BadParameter naming offset when malformed
    return ItemsQuery(boxes, parse_filters(args, queryables), interval, limit, int(offset.strip()),
                      datetime_text.strip() if datetime_text else None)


def matching_positions(catalog, layer_id, q):
    """Sorted positions of the layer's features meeting every condition of ``q``."""
    n = len(catalog.layer(layer_id).gdf)
    positions = select_features(catalog, layer_id, filters=dict(q.filters)) if q.filters else np.arange(n)
    if q.boxes:
        inside = np.zeros(n, dtype=bool)
        for box in q.boxes:
            inside[bbox_positions(catalog, layer_id, box)] = True
        positions = positions[inside[positions]]
    if q.interval is not None:
        positions = positions[temporal.within_datetime(_start_days(catalog, layer_id), q.interval)[positions]]
    return positions


# --- documents ---------------------------------------------------------------------------

def _extent(catalog, layer_id):
    layer = catalog.layer(layer_id)
    bbox = [round(v, 6) for v in layer.bbox] if len(layer.gdf) else [-180.0, -90.0, 180.0, 90.0]
    extent = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    interval = temporal.temporal_extent(_start_days(catalog, layer_id))
    if interval is not None:
        extent["temporal"] = {"interval": interval, "trs": _TRS}
    return extent


def collection_doc(catalog, layer_id):
    """The collection description (OGC 17-069r4 7.14) of one layer, links absolute."""
    layer = catalog.layer(layer_id)
    items = external_url("ogc.items", layer_id=layer_id)
    links = [
        link(with_query(items, {"f": "json"}), "items", GEOJSON, "the features as GeoJSON"),
        link(with_query(items, {"f": "html"}), "items", HTML, "the features as HTML"),
        link(external_url("ogc.queryables", layer_id=layer_id), "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "application/schema+json", "the properties to filter on"),
        link(external_url("ogc_tiles.tilesets", layer_id=layer_id),
             "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", JSON, "vector tiles (MVT)"),
        link(external_url("pages.layer_map", layer_id=layer_id), "related", HTML, "the layer on the web map"),
    ]
    links += [link(external_url("downloads.layer_download", layer_id=layer_id, format=fmt.name), "enclosure",
                   fmt.media_type, f"download: {fmt.label}") for fmt in DOWNLOAD_FORMATS]
    return {
        "id": layer_id, "title": layer.title, "description": layer.meta["description"],
        "attribution": layer.attribution, "license": layer.meta["licence"],
        "itemType": "feature", "crs": [CRS84], "storageCrs": CRS84,
        "extent": _extent(catalog, layer_id), "links": links,
    }


def _collection_with_self(catalog, layer_id):
    doc = collection_doc(catalog, layer_id)
    doc["links"] = alternates("ogc.collection", layer_id=layer_id) + doc["links"]
    return doc


# --- routes ------------------------------------------------------------------------------

@bp.get("/", strict_slashes=False)
def landing():
    """The landing page: what this API is and where everything is."""
    refuse_unknown(["f"])
    doc = {
        "title": "Pakistan connectivity corridors: OGC API",
        "description": "Pipelines, power lines, roads, ports and plants tying Central Asia, China and the Arabian "
                       "Sea through Pakistan, as OGC API - Features collections and vector tiles.",
        "attribution": "; ".join(dict.fromkeys(layer.attribution for layer in current_catalog())),
        "links": alternates("ogc.landing") + [
            link(external_url("ogc.api_definition"), "service-desc", OPENAPI_MEDIA,
                 "the API definition (OpenAPI 3.0)"),
            link(external_url("openapi.page"), "service-doc", HTML, "the API documentation"),
            link(external_url("ogc.conformance"), "conformance", JSON, "conformance classes implemented"),
            link(external_url("ogc.collections"), "data", JSON, "the collections (one per layer)"),
            link(external_url("ogc_tiles.tile_matrix_sets"), "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                 JSON, "tile matrix sets"),
        ],
    }
    if wants_html():
        return html_page("landing.html", title=doc["title"], doc=doc)
    return json_response(doc)


@bp.get("/api")
def api_definition():
    """The OGC API's definition (OpenAPI 3.0), paths relative to ``/ogcapi`` (the whole service: /api/openapi.json)."""
    refuse_unknown(["f"])
    catalog = current_catalog()
    root = external_url("ogc.landing").rstrip("/")
    app = current_app._get_current_object()
    doc = catalog.memo(("ogc.api-definition", root), lambda: openapi_document(app, catalog, ogc_root=root))
    return json_response(doc, OPENAPI_MEDIA)


@bp.get("/conformance")
def conformance():
    """The conformance classes implemented."""
    refuse_unknown(["f"])
    doc = {"conformsTo": list(CONFORMANCE), "links": alternates("ogc.conformance")}
    if wants_html():
        return html_page("conformance.html", title="Conformance", doc=doc)
    return json_response(doc)


@bp.get("/collections")
def collections():
    """Every layer as a collection."""
    refuse_unknown(["f"])
    catalog = current_catalog()
    doc = {"links": alternates("ogc.collections"), "collections": [collection_doc(catalog, lid) for lid in catalog.ids]}
    if wants_html():
        return html_page("collections.html", title="Collections", doc=doc)
    return json_response(doc)


@bp.get("/collections/<layer_id>")
def collection(layer_id):
    """One collection's description."""
    refuse_unknown(["f"])
    catalog = current_catalog()
    doc = _collection_with_self(catalog, layer_id)
    if wants_html():
        return html_page("collection.html", title=doc["title"], doc=doc)
    return json_response(doc)


def queryables_doc(catalog, layer_id):
    """The collection's queryables as a JSON Schema (OGC 19-079r2 clause 6)."""
    enums = {"status": STATUSES, "kind": KINDS}
    gdf = catalog.layer(layer_id).gdf
    properties = {}
    for name in layer_filterable(catalog, layer_id):
        if name == "countries":
            properties[name] = {"title": "countries", "type": "string", "pattern": "^[A-Z]{3}$",
                                "description": "ISO 3166-1 alpha-3 code of a country the feature lies in"}
            continue
        values = sorted({str(v) for v in gdf[name].dropna()})
        schema = {"title": name, "type": "string"}
        if name in enums:
            schema["enum"] = [v for v in enums[name] if v in values] or list(enums[name])
        properties[name] = schema
    properties["geometry"] = {"$ref": "https://geojson.org/schema/Geometry.json"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": external_url("ogc.queryables", layer_id=layer_id),
        "type": "object", "title": catalog.layer(layer_id).title,
        "description": "Filter items with name=value (comma-separated values: any of them).",
        "properties": properties, "additionalProperties": False,
    }


@bp.get("/collections/<layer_id>/queryables")
def queryables(layer_id):
    """The properties items may be filtered on."""
    refuse_unknown(["f"])
    catalog = current_catalog()
    doc = queryables_doc(catalog, layer_id)
    if wants_html():
        return html_page("queryables.html", title=f"Queryables of {catalog.layer(layer_id).title}", doc=doc,
                         layer_id=layer_id)
    return json_response(doc, "application/schema+json")


def _items_links(layer_id, q, matched, returned):
    base = external_url("ogc.items", layer_id=layer_id)
    is_html = wants_html()
    here = q.args()
    links = [
        link(with_query(base, {**here, "f": "html" if is_html else "json"}), "self", HTML if is_html else GEOJSON,
             "this page"),
        link(with_query(base, {**here, "f": "json" if is_html else "html"}), "alternate",
             GEOJSON if is_html else HTML, "this page as " + ("GeoJSON" if is_html else "HTML")),
        link(external_url("ogc.collection", layer_id=layer_id), "collection", JSON, "the collection"),
    ]
    fmt = "html" if is_html else "json"
    media = HTML if is_html else GEOJSON
    if q.offset + returned < matched:
        links.append(link(with_query(base, {**q.args(offset=q.offset + q.limit), "f": fmt}), "next", media,
                          "next page"))
    if q.offset > 0:
        links.append(link(with_query(base, {**q.args(offset=max(0, q.offset - q.limit)), "f": fmt}), "prev", media,
                          "previous page"))
    return links


def _items_json(catalog, layer_id, q):
    positions = matching_positions(catalog, layer_id, q)
    chosen, _ = page(positions, limit=q.limit, offset=q.offset)
    texts = feature_texts(catalog, layer_id)
    head = {"type": "FeatureCollection", "numberMatched": int(len(positions)), "numberReturned": int(len(chosen)),
            "links": _items_links(layer_id, q, len(positions), len(chosen))}
    head_text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    return (head_text + ',"features":[').encode("utf-8") + b",".join(texts[i] for i in chosen.tolist()) + b"]}"


@bp.get("/collections/<layer_id>/items")
def items(layer_id):
    """The features of a collection: filtered, paged, as GeoJSON or an HTML table."""
    catalog = current_catalog()
    catalog.layer(layer_id)
    q = _items_query(catalog, layer_id)
    if wants_html():
        positions = matching_positions(catalog, layer_id, q)
        chosen, _ = page(positions, limit=q.limit, offset=q.offset)
        props = feature_properties(catalog, layer_id)
        rows = [props[i] for i in chosen.tolist()]
        doc = {"numberMatched": len(positions), "numberReturned": len(rows),
               "links": _items_links(layer_id, q, len(positions), len(rows))}
        json_url = with_query(external_url("ogc.items", layer_id=layer_id), {**q.args(), "f": "json"})
        return html_page("items.html", title=f"{catalog.layer(layer_id).title}: features", doc=doc, rows=rows,
                         layer_id=layer_id, json_url=json_url,
                         queryables=layer_filterable(catalog, layer_id), query=q.args())
    base = external_url("ogc.items", layer_id=layer_id)
    etag = derived_etag(layer_etag(catalog, layer_id), base, repr(q.key()))
    cached = not_modified(etag, GEOJSON)
    if cached is not None:
        return cached
    key = ("ogc-items", catalog.fingerprint([layer_id]), base, q.key())  # the layer's version: never a stale page
    body, _ = current_app.extensions["api_bodies"].get(key, lambda: (_items_json(catalog, layer_id, q), etag))
    response = Response(body, mimetype=GEOJSON)
    response.set_etag(etag)
    return response


@bp.get("/collections/<layer_id>/items/<feature_id>")
def item(layer_id, feature_id):
    """One feature, as GeoJSON with links or as an HTML page."""
    refuse_unknown(["f"])
    catalog = current_catalog()
    catalog.feature(layer_id, feature_id)  # 404s
    pos = catalog.layer(layer_id).positions[feature_id]
    feature = json.loads(feature_texts(catalog, layer_id)[pos])
    feature["links"] = alternates("ogc.item", json_type=GEOJSON, layer_id=layer_id, feature_id=feature_id) + [
        link(external_url("ogc.collection", layer_id=layer_id), "collection", JSON, "the collection")]
    if wants_html():
        json_url = with_query(external_url("ogc.item", layer_id=layer_id, feature_id=feature_id), {"f": "json"})
        return html_page("item.html", title=str(feature["properties"].get("name") or feature_id), doc=feature,
                         layer_id=layer_id, json_url=json_url)
    return json_response(feature, GEOJSON)
