"""The OpenAPI 3.0 description of the JSON API, served at ``/api/openapi.json``.

Built once per app from the operation table below and the loaded catalogue
(layer ids are an enum, the property filters are the ones the layers
have). An operation is listed only when its route is registered, so the
document never promises an endpoint the app lacks; ``tests/test_openapi.py``
checks the converse, that every ``/api`` route is described.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, url_for

from geo.corridor import MAX_WIDTH_KM
from geo.corridor_report import DEFAULT_WITH
from geo.network import MAX_ATTACH_KM, MODES, SNAP_MAX_KM
from geo.simplify import FULL_BAND
from layers.index import MAX_LIMIT, MAX_OFFSET
from layers.schema import FEATURE_ID_RE, GEOMETRY_QUALITIES, KINDS, STATUSES
from webapp.api.views import layer_filterable
from webapp.imports.openapi import SECURITY_SCHEMES, write_operations
from webapp.maps.builder import current_catalog

__all__ = ["OPENAPI_MEDIA", "OPENAPI_VERSION", "bp", "errors", "filter_parameters", "json_content",
           "openapi_document", "paging_parameters", "path_parameter", "query_parameter", "ref"]

bp = Blueprint("openapi", __name__, url_prefix="/api")

OPENAPI_VERSION = "3.0.3"
_ENUMS = {"status": STATUSES, "kind": KINDS, "geometry_quality": GEOMETRY_QUALITIES}
_NUMBER_LIST = r"^\s*-?\d+(\.\d+)?\s*(,\s*-?\d+(\.\d+)?\s*){3}$"


def ref(name):
    """A ``$ref`` to a component schema."""
    return _ref(name)


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description, *, media="application/json"):
    return {"description": description, "content": {media: {"schema": schema}}}


def _errors(*codes):
    text = {400: "A parameter is malformed or out of range: `parameter` names it, `suggestions` may list "
                 "close matches.",
            404: "Unknown layer, feature or place, or no path over the chosen modes."}
    return {str(c): _json(_ref("Error"), text[c]) for c in codes}


def _query(name, schema, description, *, required=False, example=None):
    param = {"name": name, "in": "query", "required": required, "description": description, "schema": schema}
    if example is not None:
        param["example"] = example
    return param


def _path(name, schema, description, example):
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema,
            "example": example}


# the building blocks, for the OGC API's operations (webapp.ogc.openapi)
json_content, errors, query_parameter, path_parameter = _json, _errors, _query, _path

_WIDTH_KM = {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": MAX_WIDTH_KM}
_SNAP_KM = {"type": "number", "minimum": 0, "maximum": SNAP_MAX_KM}
_ATTACH_KM = {"type": "number", "minimum": 0, "maximum": MAX_ATTACH_KM}
_MODES = {"type": "string", "pattern": "^(" + "|".join(MODES) + ")(,(" + "|".join(MODES) + "))*$"}
_FEATURE_REF = {"type": "string", "pattern": r"^[a-z0-9_]{1,64}:[A-Za-z0-9_.\-]{1,128}$"}
_LAT = {"type": "number", "minimum": -90, "maximum": 90}
_LON = {"type": "number", "minimum": -180, "maximum": 180}


def _schemas():
    any_object = {"type": "object", "additionalProperties": True}
    return {
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "string"}, "parameter": {"type": "string"},
                           "suggestions": {"type": "array", "items": {"type": "string"}},
                           "layer": {"type": "string"}, "feature": {"type": "string"}},
        },
        "LayerEntry": {
            "type": "object",
            "required": ["id", "title", "description", "feature_count", "attribution", "licence", "links"],
            "properties": {
                "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                "feature_count": {"type": "integer", "minimum": 0},
                "geometry": {"type": "string", "enum": ["line", "point", "polygon", "mixed"]},
                "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4, "nullable": True},
                "attribution": {"type": "string"}, "licence": {"type": "string"}, "builtin": {"type": "boolean"},
                "references": {"type": "array", "items": {"type": "string"},
                               "description": "features of other layers this layer groups, as layer:feature"},
                "links": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "Feature": {
            "type": "object", "required": ["type", "geometry", "properties"],
            "properties": {"type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "string"},
                           "geometry": {"type": "object", "nullable": True}, "properties": any_object,
                           "layer": {"type": "string"}, "stats": any_object},
        },
        "FeatureCollection": {
            "type": "object", "required": ["type", "features"],
            "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]}, "metadata": any_object,
                           "numberMatched": {"type": "integer", "minimum": 0},
                           "numberReturned": {"type": "integer", "minimum": 0},
                           "next_offset": {"type": "integer"},
                           "links": {"type": "array", "items": any_object},
                           "features": {"type": "array", "items": _ref("Feature")}},
        },
        "Stats": {
            "type": "object", "required": ["layer", "units", "features", "summary"],
            "properties": {"layer": {"type": "string"}, "title": {"type": "string"}, "units": {"type": "string"},
                           "features": {"type": "array", "items": any_object}, "summary": any_object},
        },
        "AnyObject": any_object,
    }


def filter_parameters(catalog, layer_id):
    """The property-filter query parameters of one layer: its own filterable properties only."""
    return [
        _query(name, {"type": "string", "enum": list(_ENUMS[name])} if name in _ENUMS else
               {"type": "string", "pattern": r"^[A-Z]{3}(,[A-Z]{3})*$"} if name == "countries" else {"type": "string"},
               f"Keep features whose `{name}` is one of these comma-separated values.")
        for name in layer_filterable(catalog, layer_id)
    ]


def paging_parameters(*, default=None):
    """``limit`` (larger than the maximum: capped, not refused) and ``offset``."""
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}
    if default is not None:
        limit["default"] = default
    return [
        _query("limit", limit, f"At most this many features (paging); a larger value is capped at {MAX_LIMIT:,}."),
        _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
               "Skip this many features (paging); a response cut short by `limit` links the next page."),
    ]


_BBOX = _query("bbox", {"type": "string", "pattern": _NUMBER_LIST, "maxLength": 200},
               "minlon,minlat,maxlon,maxlat in degrees (WGS84); features meeting the box are kept.",
               example="66.9,24.8,67.2,25.0")
_BINARY = {"type": "string", "format": "binary"}


def _layer_operations(catalog):
    """Per layer: its GeoJSON and its download, each with the layer's own filters (a client generated from
    this document cannot send ``operator=`` to a layer without that property)."""
    from webapp.export.downloads import DOWNLOAD_FORMATS, FORMAT_NAMES

    ops = []
    for layer in catalog:
        filters = filter_parameters(catalog, layer.id)
        name = "".join(part.capitalize() for part in layer.id.split("_"))
        ops.append(("api.layer_geojson", f"/api/layers/{layer.id}", {
            "summary": f"{layer.title} as a GeoJSON FeatureCollection, optionally filtered by bbox and properties.",
            "operationId": f"getLayer{name}",
            "parameters": [_BBOX, *paging_parameters(), *filters],
            "responses": {"200": _json(_ref("FeatureCollection"), "The features (`Content-Disposition` names "
                                       "the file; byte ranges served).", media="application/geo+json"),
                          **_errors(400)},
        }))
        ops.append(("downloads.layer_download", f"/api/layers/{layer.id}/download", {
            "summary": f"{layer.title} (or the selection its filters make) as a file in a GIS format.",
            "operationId": f"downloadLayer{name}",
            "parameters": [
                _query("format", {"type": "string", "enum": list(FORMAT_NAMES), "default": "geojson"},
                       "File format: " + ", ".join(f"`{f.name}` ({f.label})" for f in DOWNLOAD_FORMATS) + ".",
                       example="gpkg"),
                _BBOX, *paging_parameters(), *filters],
            "responses": {"200": {"description": "The file, as an attachment named after the layer.",
                                  "content": {f.media_type: {"schema": _ref("FeatureCollection")
                                                             if f.name == "geojson" else _BINARY}
                                              for f in DOWNLOAD_FORMATS}},
                          **_errors(400)},
        }))
    return ops


def _operations(catalog):
    """(flask endpoint, path, operation) for every documented operation."""
    ids = list(catalog.ids)
    example_layer = "tapi" if "tapi" in ids else (ids[0] if ids else "tapi")
    layer_param = _path("layer_id", {"type": "string", "enum": ids}, "A layer id from `/api/layers`.", example_layer)
    fid = {"type": "string", "pattern": FEATURE_ID_RE.pattern}
    return [
        ("api.layer_list", "/api/layers", {
            "summary": "The catalogue: every layer with its feature count, bbox, attribution and licence.",
            "operationId": "listLayers",
            "responses": {"200": _json({"type": "object", "required": ["layers"],
                                        "properties": {"layers": {"type": "array", "items": _ref("LayerEntry")}}},
                                       "The layers."), **_errors(400)},
        }),
        *_layer_operations(catalog),
        ("api.layer_display", "/api/layers/{layer_id}/display", {
            "summary": "The display geometry a map draws at one zoom band (simplified, for drawing only).",
            "operationId": "getLayerDisplay",
            "parameters": [layer_param, _query("zoom_band", {"type": "integer", "minimum": 0, "maximum": FULL_BAND},
                                               f"Zoom band 0..{FULL_BAND} ({FULL_BAND}: full geometry).",
                                               required=True, example=FULL_BAND)],
            "responses": {"200": _json(_ref("AnyObject"), "The display FeatureCollection.",
                                       media="application/geo+json"), **_errors(400, 404)},
        }),
        ("api.feature", "/api/layers/{layer_id}/features/{feature_id}", {
            "summary": "One feature as GeoJSON, with its route statistics (km, geodesic) in `stats`.",
            "operationId": "getFeature",
            "parameters": [layer_param, _path("feature_id", fid, "A feature id of that layer.", "tapi_trunk")],
            "responses": {"200": _json(_ref("Feature"), "The feature.", media="application/geo+json"),
                          **_errors(400, 404)},
        }),
        ("api.layer_stats_view", "/api/layers/{layer_id}/stats", {
            "summary": "Route statistics per feature and layer totals (km on the WGS84 ellipsoid).",
            "operationId": "getLayerStats",
            "parameters": [layer_param, _query("format", {"type": "string", "enum": ["json", "csv"]},
                                               "json (default) or csv.")],
            "responses": {"200": {"description": "The statistics.",
                                  "content": {"application/json": {"schema": _ref("Stats")},
                                              "text/csv": {"schema": {"type": "string"}}}},
                          **_errors(400, 404)},
        }),
        ("openapi.document", "/api/openapi.json", {
            "summary": "This document.", "operationId": "getOpenAPI",
            "responses": {"200": _json(_ref("AnyObject"), "The OpenAPI document.")},
        }),
        ("analysis.corridor", "/api/corridor", {
            "summary": "The geodesic corridor (band within width_km) of one route and what lies inside it, "
                       "with distance from the route and chainage (km).",
            "operationId": "getCorridor",
            "description": "The route is named in one of two mutually exclusive ways: `layer` with `feature` "
                           "(a feature id), or `feature` alone as `layer:feature` (then `layer` must be absent).",
            "x-mutually-exclusive": [["layer"], ["feature=layer:feature"]],
            "parameters": [
                _query("feature", {"type": "string", "maxLength": 200},
                       "Feature id of the route with `layer`, or `layer:feature` without it.", required=True,
                       example="tapi_trunk"),
                _query("layer", {"type": "string"}, "Layer id of the route (omit when `feature` is "
                       "`layer:feature`).", example=example_layer),
                _query("width_km", _WIDTH_KM, "Half-width of the band in km either side of the route (default 50).",
                       example=25),
                _query("with", {"type": "string"}, "Comma-separated layer ids to search inside the corridor, "
                       "`places` for the gazetteer (default: " + ",".join(DEFAULT_WITH) + ").",
                       example="ports,energy_projects"),
            ],
            "responses": {"200": _json(_ref("FeatureCollection"), "GeoJSON: the corridor polygon first, then "
                                       "the features found, each with distance_km and chainage_km.",
                                       media="application/geo+json"), **_errors(400, 404)},
        }),
        ("analysis.overlap", "/api/overlap", {
            "summary": "Where two routes run together (shared km within width_km) and where they cross.",
            "operationId": "getOverlap",
            "parameters": [
                _query("a", _FEATURE_REF, "First route as layer:feature.", required=True, example="tapi:tapi_trunk"),
                _query("b", _FEATURE_REF, "Second route as layer:feature.", required=True,
                       example="cpec:cpec_western_alignment"),
                _query("width_km", _WIDTH_KM, "Distance in km within which the routes count as together "
                       "(default 25).", example=10),
            ],
            "responses": {"200": _json(_ref("AnyObject"), "Shared length and crossings (km)."), **_errors(400, 404)},
        }),
        ("analysis.route", "/api/route", {
            "summary": "Shortest path between two places, `lat,lon` points or `layer:feature` points, within one "
                       "commodity (transport: road, rail, sea; gas; power), with km on mapped lines, at sea and in "
                       "named connectors (snap, transfer, access) kept apart.",
            "operationId": "getRoute",
            "parameters": [
                _query("from", {"type": "string", "maxLength": 200}, "Start: a place name, `lat,lon` or "
                       "`layer:feature`.", required=True, example="Kashgar"),
                _query("to", {"type": "string", "maxLength": 200}, "End, as `from`.", required=True,
                       example="Gwadar"),
                _query("modes", _MODES, f"Comma-separated modes ({', '.join(MODES)}; default all; the path "
                       "uses those of one commodity).", example="road"),
                _query("snap_km", _SNAP_KM, "Join line ends closer than this (km)."),
                _query("attach_km", _ATTACH_KM, "Attach the places to the network within this distance (km)."),
            ],
            "responses": {"200": _json(_ref("FeatureCollection"), "GeoJSON path: legs (type line, sea, snap, "
                                       "transfer or access; project or connector name; km) and totals (total_km, "
                                       "network_km, sea_km, connector_km, connectors, alternatives).",
                                       media="application/geo+json"), **_errors(400, 404)},
        }),
        ("search.search", "/api/search", {
            "summary": "Search features (names, ids, aliases), places (cited waypoints, GeoNames, Natural Earth) "
                       "and coordinates (decimal or DMS) for the map's search box.",
            "operationId": "search",
            "parameters": [
                _query("q", {"type": "string", "minLength": 1, "maxLength": 200},
                       "What to find: a place, a project name or id, or 'lat, lon'.", required=True,
                       example="Gwadar"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 25}, "How many results (default 10)."),
            ],
            "responses": {"200": _json(_ref("AnyObject"), "{query, results: [{type, name, detail, lon, lat, "
                                       "layer?, id?, bbox?}], suggestions}."), **_errors(400)},
        }),
        ("analysis.nearest", "/api/nearest", {
            "summary": "The nearest point features of a layer (ports by default) to a point or a place, by "
                       "straight-line geodesic km and by network path (path_km, split into network_km on mapped "
                       "lines, sea_km and connector_km).",
            "operationId": "getNearest",
            "description": "The starting point is given in one of two mutually exclusive ways: `lat` and `lon` "
                           "together, or `place`; giving `place` with `lat` or `lon` is a 400.",
            "x-mutually-exclusive": [["lat", "lon"], ["place"]],
            "parameters": [
                _query("lat", _LAT, "Latitude in degrees (with `lon`; not with `place`).", example=30.2),
                _query("lon", _LON, "Longitude in degrees (with `lat`; not with `place`).", example=71.5),
                _query("place", {"type": "string", "maxLength": 200}, "A place name (not with `lat`/`lon`)."),
                _query("layer", {"type": "string"}, "Layer to search (default ports).", example="ports"),
                _query("modes", _MODES, "Modes the network distance may use (default road,rail)."),
                _query("snap_km", _SNAP_KM, "Join line ends closer than this (km)."),
                _query("attach_km", _ATTACH_KM, "Attach points to the network within this distance (km)."),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100},
                       "How many (default 5; more than 100 is capped at 100)."),
            ],
            "responses": {"200": _json(_ref("AnyObject"), "The nearest features with their distances (km)."),
                          **_errors(400, 404)},
        }),
    ]


def openapi_document(app, catalog, *, ogc_root=None):
    """The OpenAPI document (a dict) of the operations ``app`` has routes for.

    ``ogc_root`` (the OGC API's absolute URL): the OGC API's own definition, its paths relative to that
    server (``/collections/tapi/items``), as OGC clients look them up (GDAL finds a collection's
    queryables under ``paths["/collections/<id>/items"]``).
    """
    from webapp.ogc import MOUNT
    from webapp.ogc.openapi import ogc_operations

    endpoints = set(app.view_functions)
    operations = ogc_operations(catalog) if ogc_root else [*_operations(catalog), *ogc_operations(catalog)]
    paths = {}
    for endpoint, path, operation in operations:
        if endpoint in endpoints:
            tag = "ogcapi" if path.startswith(MOUNT) else path.split("/")[2]
            if ogc_root:
                path = path[len(MOUNT):] or "/"
            paths[path] = {"get": {"tags": [tag], **operation}}
    for endpoint, path, method, operation in () if ogc_root else write_operations():  # imports, accounts, status
        if endpoint in endpoints:
            paths.setdefault(path, {})[method] = {"tags": [path.split("/")[2]], **operation}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Pakistan connectivity corridors: map service API",
            "version": "1",
            "description": "Layers of pipelines, power lines, roads, ports and plants as GeoJSON, with geodesic "
                           "route statistics (km on the WGS84 ellipsoid) and corridor/network analysis; downloads "
                           "in GIS formats; OGC API - Features and Tiles under `/ogcapi`. Every "
                           "error is JSON: `{\"error\": message, \"parameter\": name}` (400) or `{\"error\": ...}` "
                           "(404). Unknown query parameters are refused (400); `limit` above its maximum is capped.",
        },
        **({"servers": [{"url": ogc_root, "description": "the OGC API"}]} if ogc_root else {}),
        "paths": paths,
        "components": {"schemas": _schemas(), "securitySchemes": SECURITY_SCHEMES},
    }


OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"


@bp.get("/openapi.json", endpoint="document")
def document():
    """The OpenAPI document (``application/vnd.oai.openapi+json;version=3.0``), built once per catalogue."""
    catalog = current_catalog()
    app = current_app._get_current_object()
    body = catalog.memo(("webapp.api.openapi", url_for("openapi.document")), lambda: json.dumps(
        openapi_document(app, catalog), ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return Response(body, content_type=OPENAPI_MEDIA)


@bp.get("", endpoint="page", strict_slashes=False)
def page():
    """The API described for people: Swagger UI (vendored) over the OpenAPI document."""
    return render_template("api.html", title="API", site_title="Pakistan connectivity corridors",
                           all_layers=list(current_catalog()), spec_url=url_for("openapi.document"))
