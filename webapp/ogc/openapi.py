"""The OGC API's operations in the service's one OpenAPI 3.0 document (``/api/openapi.json``).

OGC 17-069r4 asks for the API definition at the landing page's
``service-desc`` link; the items operation is listed per collection, with
that collection's queryables as its parameters (OGC 19-079r2), so GDAL,
QGIS and generated clients see exactly what each collection accepts.
"""

from __future__ import annotations

from layers.schema import FEATURE_ID_RE
from webapp.api.openapi import errors, filter_parameters, json_content, paging_parameters, path_parameter, ref
from webapp.api.openapi import query_parameter as query
from webapp.ogc.features import DEFAULT_LIMIT
from webapp.ogc.mvt import MAX_ZOOM

__all__ = ["ogc_operations"]

_F = query("f", {"type": "string", "enum": ["json", "html"]}, "Representation: json (default for clients) or html "
           "(default when the Accept header prefers HTML).")
_GEOJSON = "application/geo+json"
_MVT = "application/vnd.mapbox-vector-tile"
_OGC_BBOX = query("bbox", {"type": "string", "maxLength": 300,
                           "pattern": r"^\s*-?\d+(\.\d+)?\s*(,\s*-?\d+(\.\d+)?\s*){3}((,\s*-?\d+(\.\d+)?\s*){2})?$"},
                  "minlon,minlat,maxlon,maxlat (or with heights: minlon,minlat,minh,maxlon,maxlat,maxh) in CRS84; "
                  "minlon > maxlon crosses the antimeridian.", example="66,24,70,28")
_DATETIME = query("datetime", {"type": "string", "maxLength": 100},
                  "An RFC 3339 date or date-time, or an interval start/end (`..` for an open end): features on "
                  "record by then (first dated status or start year).", example="2015-01-01/..")
_CRS = [query(name, {"type": "string", "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]},
              "Only CRS84 (WGS84 longitude, latitude) is offered.") for name in ("bbox-crs", "crs")]


def _errors(*codes):
    """The error responses: JSON, or the error page when ``f=html`` asked for HTML."""
    out = errors(*codes)
    for response in out.values():
        response["content"]["text/html"] = {"schema": {"type": "string"}}
    return out


def _doc(summary, operation_id, description, *, parameters=(), media="application/json", codes=(400,)):
    return {"summary": summary, "operationId": operation_id, "parameters": [_F, *parameters],
            "responses": {"200": {"description": description, "content": {
                media: {"schema": ref("AnyObject")}, "text/html": {"schema": {"type": "string"}}}},
                **_errors(*codes)}}


def ogc_operations(catalog):
    """(flask endpoint, path, operation) of every OGC API Features and Tiles operation."""
    ids = list(catalog.ids)
    example = "tapi" if "tapi" in ids else (ids[0] if ids else "tapi")
    collection = path_parameter("layer_id", {"type": "string", "enum": ids}, "A collection (layer) id.", example)
    tms = path_parameter("tms", {"type": "string", "enum": ["WebMercatorQuad"]}, "The tile matrix set.",
                         "WebMercatorQuad")
    ops = [
        ("ogc.landing", "/ogcapi", _doc("The OGC API landing page: links to everything.", "ogcLanding",
                                         "The landing page.")),
        ("ogc.api_definition", "/ogcapi/api", {
            "summary": "The OGC API's own definition (OpenAPI 3.0; paths relative to /ogcapi).",
            "operationId": "ogcAPIDefinition", "parameters": [_F],
            "responses": {"200": json_content(ref("AnyObject"), "The OpenAPI document.",
                                              media="application/vnd.oai.openapi+json;version=3.0"),
                          **_errors(400)}}),
        ("ogc.conformance", "/ogcapi/conformance", _doc("The conformance classes implemented.", "ogcConformance",
                                                         "The conformance classes.")),
        ("ogc.collections", "/ogcapi/collections", _doc("Every layer as a collection, with extents and links.",
                                                         "ogcCollections", "The collections.")),
        ("ogc.collection", "/ogcapi/collections/{layer_id}", _doc(
            "One collection: title, licence, spatial and temporal extent, links (items, tiles, downloads).",
            "ogcCollection", "The collection.", parameters=[collection], codes=(400, 404))),
        ("ogc.queryables", "/ogcapi/collections/{layer_id}/queryables", _doc(
            "The properties the collection's items may be filtered on (a JSON Schema).", "ogcQueryables",
            "The queryables.", parameters=[collection], media="application/schema+json", codes=(400, 404))),
        ("ogc.item", "/ogcapi/collections/{layer_id}/items/{feature_id}", _doc(
            "One feature, with links.", "ogcItem", "The feature.", media=_GEOJSON, codes=(400, 404),
            parameters=[collection, path_parameter("feature_id", {"type": "string", "pattern": FEATURE_ID_RE.pattern},
                                                   "A feature id of the collection.", "tapi_trunk")])),
    ]
    for layer in catalog:
        name = "".join(part.capitalize() for part in layer.id.split("_"))
        ops.append(("ogc.items", f"/ogcapi/collections/{layer.id}/items", {
            "summary": f"The features of {layer.title}: filtered, paged through `next` links.",
            "operationId": f"ogcItems{name}",
            "parameters": [_F, _OGC_BBOX, _DATETIME, *_CRS, *paging_parameters(default=DEFAULT_LIMIT),
                           *filter_parameters(catalog, layer.id)],
            "responses": {"200": {"description": "GeoJSON with numberMatched, numberReturned and links.",
                                  "content": {_GEOJSON: {"schema": ref("FeatureCollection")},
                                              "text/html": {"schema": {"type": "string"}}}},
                          **_errors(400)},
        }))
    ops += [
        ("ogc_tiles.tile_matrix_sets", "/ogcapi/tileMatrixSets", _doc("The tile matrix sets offered.",
                                                                      "ogcTileMatrixSets", "The list.")),
        ("ogc_tiles.tile_matrix_set_view", "/ogcapi/tileMatrixSets/{tms}", _doc(
            "The WebMercatorQuad definition.", "ogcTileMatrixSet", "The tile matrix set.", parameters=[tms],
            codes=(400, 404))),
        ("ogc_tiles.tilesets", "/ogcapi/collections/{layer_id}/tiles", _doc(
            "The collection's vector tilesets.", "ogcTilesets", "The tilesets.", parameters=[collection],
            codes=(400, 404))),
        ("ogc_tiles.tileset", "/ogcapi/collections/{layer_id}/tiles/{tms}", _doc(
            "The tileset's metadata and tile URL template.", "ogcTileset", "The tileset.",
            parameters=[collection, tms], codes=(400, 404))),
        ("ogc_tiles.tilejson", "/ogcapi/collections/{layer_id}/tiles/{tms}/tilejson.json", {
            "summary": "TileJSON 3.0.0 of the collection's vector tiles.", "operationId": "ogcTileJSON",
            "parameters": [collection, tms],
            "responses": {"200": json_content(ref("AnyObject"), "TileJSON."), **errors(400, 404)}}),
        ("ogc_tiles.tile", "/ogcapi/collections/{layer_id}/tiles/{tms}/{z}/{y}/{x}", {
            "summary": "One vector tile (MVT) of the collection.", "operationId": "ogcTile",
            "parameters": [collection, tms,
                           path_parameter("z", {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM},
                                          "Tile matrix (zoom).", 4),
                           path_parameter("y", {"type": "integer", "minimum": 0}, "Tile row (0 at the top).", 6),
                           path_parameter("x", {"type": "integer", "minimum": 0}, "Tile column.", 10)],
            "responses": {"200": {"description": "The tile.", "content": {_MVT: {"schema": {
                "type": "string", "format": "binary"}}}}, **errors(400, 404)}},
        ),
    ]
    return ops
