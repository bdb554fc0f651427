"""OGC API - Tiles (OGC 20-057) for every collection: vector tiles (MVT) in WebMercatorQuad, and TileJSON.

- ``/ogcapi/tileMatrixSets`` and ``/ogcapi/tileMatrixSets/WebMercatorQuad``
  (the OGC 17-083r4 definition, zooms 0-22),
- ``/ogcapi/collections/{id}/tiles`` (tilesets list) and
  ``.../tiles/WebMercatorQuad`` (tileset metadata),
- ``.../tiles/WebMercatorQuad/{z}/{y}/{x}``: one MVT tile
  (:mod:`webapp.ogc.mvt`), cached within ``TILE_CACHE_MB``, with an ETag,
- ``.../tiles/WebMercatorQuad/tilejson.json``: TileJSON 3.0.0 for
  MapLibre, Leaflet.VectorGrid, QGIS.

A layer of at most ``TILE_DISPLAY_MAX_FEATURES`` features is tiled from
its display geometry for the tile's zoom band (:func:`geo.simplify.cached_display`,
the same drawing as the web map's GeoJSON); a bigger one is drawn tile by
tile from its full geometry, which the encoder snaps to the tile grid, as
PostGIS's ``ST_AsMVTGeom`` does. A tile denser than :data:`webapp.ogc.mvt.DENSE_TILE_FEATURES` features
draws one of its sub-cell features per 4 x 4 pixels (:func:`webapp.ogc.mvt.thin_dense`);
tiles are for drawing, the items and downloads hold every feature.
Tile features carry ``id``, ``name``, ``kind``, ``status``,
``geometry_quality`` and ``_s``, the index of the feature's style in the
layer's style table (``styles`` in the TileJSON), as the web map draws it.
"""

from __future__ import annotations

import numpy as np
import shapely
from flask import Blueprint, Response, current_app
from werkzeug.exceptions import NotFound

from geo.simplify import cached_display, zoom_band
from layers.index import bbox_positions
from webapp.api.httpcache import BodyCache, derived_etag, not_modified
from webapp.api.views import refuse_unknown
from webapp.links import external_url
from webapp.maps.builder import current_catalog
from webapp.maps.display import feature_properties, layer_styles
from webapp.ogc import mvt
from webapp.ogc.common import JSON, alternates, json_response, link
from webapp.ogc.features import layer_etag

__all__ = ["MVT", "TILE_PROPERTIES", "TMS_ID", "bp", "tile_bytes", "tile_matrix_set"]

bp = Blueprint("ogc_tiles", __name__, url_prefix="/ogcapi")

MVT = "application/vnd.mapbox-vector-tile"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
EPSG_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
TILE_PROPERTIES = ("id", "name", "kind", "status", "geometry_quality")
_CELL_SIZE_Z0 = 2 * mvt.MERCATOR_HALF_M / 256
_TILES = "ogc_tiles"


@bp.record_once
def _setup(state):
    state.app.extensions[_TILES] = BodyCache(state.app.config["TILE_CACHE_MB"] * 1024 * 1024)


def tile_matrix_set():
    """The WebMercatorQuad definition (OGC 17-083r4 JSON encoding), zooms 0..MAX_ZOOM."""
    matrices = [{
        "id": str(z), "scaleDenominator": _CELL_SIZE_Z0 / 2 ** z / 0.00028, "cellSize": _CELL_SIZE_Z0 / 2 ** z,
        "cornerOfOrigin": "topLeft", "pointOfOrigin": [-mvt.MERCATOR_HALF_M, mvt.MERCATOR_HALF_M],
        "tileWidth": 256, "tileHeight": 256, "matrixWidth": 2 ** z, "matrixHeight": 2 ** z,
    } for z in range(mvt.MAX_ZOOM + 1)]
    return {"id": TMS_ID, "title": "Google Maps Compatible for the World", "uri": TMS_URI, "crs": EPSG_3857,
            "orderedAxes": ["X", "Y"], "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
            "tileMatrices": matrices}


def _template(layer_id):
    base = external_url("ogc_tiles.tileset", layer_id=layer_id, tms=TMS_ID)
    return base + "/{z}/{y}/{x}"


def _check_tms(tms):
    if tms != TMS_ID:
        raise NotFound(f"unknown tile matrix set {tms[:40]!r}: only {TMS_ID} is offered")


def tile_bytes(catalog, layer_id, z, y, x):
    """The encoded MVT of one tile (features meeting the tile and its buffer, zoom band of ``z``).

    With a PostGIS store the features are found and encoded in the database
    (``ST_AsMVTGeom``/``ST_AsMVT``, :meth:`layers.store.pg_spatial.PgSpatial.mvt`):
    the same features with the same properties, their geometry snapped to
    the tile grid by PostGIS instead of drawn from the display geometry.
    """
    lonlat = mvt.tile_bounds_lonlat(z, y, x, buffer=mvt.BUFFER / mvt.EXTENT)
    positions = bbox_positions(catalog, layer_id, lonlat) if lonlat[0] < lonlat[2] and lonlat[1] < lonlat[3] else []
    display = _tile_geometry(catalog, layer_id, z)
    props = feature_properties(catalog, layer_id)
    _, style_index = layer_styles(catalog, layer_id)
    chosen = np.asarray(positions, dtype=np.int64)
    # a feature the display simplification leaves empty at this zoom (smaller than a pixel: Kenya's sliver at
    # the region's 5N cut, zoom <= 4) is in no tile of it, whichever encoder draws the tile
    chosen = chosen[~shapely.is_empty(display[chosen])] if len(chosen) else chosen
    if len(chosen) > mvt.DENSE_TILE_FEATURES:
        chosen = chosen[mvt.thin_dense(display[chosen], z, y, x)]
    chosen = chosen.tolist()
    rows = [{**{k: props[i].get(k) for k in TILE_PROPERTIES}, "_s": style_index[i], "_fid": i} for i in chosen]
    spatial = getattr(catalog, "spatial", None)
    if spatial is not None:
        body = spatial.mvt(layer_id, catalog.layer(layer_id).version, chosen, rows, (z, y, x), extent=mvt.EXTENT,
                           buffer=mvt.BUFFER, max_lat=mvt.MAX_LAT)
        if body is not None:
            return body
    return mvt.encode_tile(layer_id, display[chosen], rows, z, y, x)


def per_tile(catalog, layer_id):
    """Whether the layer is drawn tile by tile from its full geometry (too big for whole-layer display bands)."""
    return len(catalog.layer(layer_id).gdf) > current_app.config["TILE_DISPLAY_MAX_FEATURES"]


def _tile_geometry(catalog, layer_id, z):
    if per_tile(catalog, layer_id):
        return catalog.layer(layer_id).gdf.geometry.to_numpy()
    return cached_display(catalog, layer_id, zoom_band(min(z, mvt.MAX_ZOOM))).geometry.to_numpy()


@bp.get("/tileMatrixSets")
def tile_matrix_sets():
    """The tile matrix sets offered (WebMercatorQuad)."""
    refuse_unknown(["f"])
    return json_response({"links": alternates("ogc_tiles.tile_matrix_sets"), "tileMatrixSets": [{
        "id": TMS_ID, "title": "Google Maps Compatible for the World", "uri": TMS_URI,
        "links": [link(external_url("ogc_tiles.tile_matrix_set_view", tms=TMS_ID), "self", JSON, TMS_ID)]}]})


@bp.get("/tileMatrixSets/<tms>")
def tile_matrix_set_view(tms):
    """One tile matrix set's definition."""
    refuse_unknown(["f"])
    _check_tms(tms)
    return json_response(tile_matrix_set())


def _tileset_doc(catalog, layer_id):
    layer = catalog.layer(layer_id)
    return {
        "title": f"{layer.title}: vector tiles", "dataType": "vector", "crs": EPSG_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            link(external_url("ogc_tiles.tileset", layer_id=layer_id, tms=TMS_ID), "self", JSON, "this tileset"),
            link(external_url("ogc_tiles.tile_matrix_set_view", tms=TMS_ID),
                 "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", JSON, TMS_ID),
            {**link(_template(layer_id), "item", MVT, "a tile (tileMatrix/tileRow/tileCol)"), "templated": True},
            link(external_url("ogc_tiles.tilejson", layer_id=layer_id, tms=TMS_ID), "describedby", JSON, "TileJSON"),
        ],
        "layers": [{"id": layer_id, "dataType": "vector", "title": layer.title,
                    "propertiesSchema": {"type": "object", "properties": {
                        **{name: {"type": "string"} for name in TILE_PROPERTIES},
                        "_s": {"type": "integer", "description": "index into the TileJSON's styles"}}}}],
    }


@bp.get("/collections/<layer_id>/tiles")
def tilesets(layer_id):
    """The collection's tilesets (one: vector tiles in WebMercatorQuad)."""
    refuse_unknown(["f"])
    catalog = current_catalog()
    catalog.layer(layer_id)
    return json_response({"links": alternates("ogc_tiles.tilesets", layer_id=layer_id),
                          "tilesets": [_tileset_doc(catalog, layer_id)]})


@bp.get("/collections/<layer_id>/tiles/<tms>")
def tileset(layer_id, tms):
    """The tileset's metadata, with the tile URL template."""
    refuse_unknown(["f"])
    catalog = current_catalog()
    catalog.layer(layer_id)
    _check_tms(tms)
    return json_response(_tileset_doc(catalog, layer_id))


@bp.get("/collections/<layer_id>/tiles/<tms>/tilejson.json")
def tilejson(layer_id, tms):
    """TileJSON 3.0.0 of the collection's vector tiles (with the web map's style table)."""
    refuse_unknown([])
    catalog = current_catalog()
    layer = catalog.layer(layer_id)
    _check_tms(tms)
    bounds = [round(v, 6) for v in layer.bbox] if len(layer.gdf) else [-180, -85.0511, 180, 85.0511]
    styles, _ = layer_styles(catalog, layer_id)
    return json_response({
        "tilejson": "3.0.0", "name": layer.title, "description": layer.meta["description"],
        "attribution": layer.attribution, "scheme": "xyz", "tiles": [_template(layer_id)],
        "minzoom": 0, "maxzoom": mvt.MAX_ZOOM, "bounds": bounds,
        "center": [round((bounds[0] + bounds[2]) / 2, 6), round((bounds[1] + bounds[3]) / 2, 6), 4],
        "vector_layers": [{"id": layer_id, "description": layer.title, "minzoom": 0, "maxzoom": mvt.MAX_ZOOM,
                           "fields": {**{name: "String" for name in TILE_PROPERTIES}, "_s": "Number"}}],
        "styles": styles,
    })


@bp.get("/collections/<layer_id>/tiles/<tms>/<int:z>/<int:y>/<int:x>")
def tile(layer_id, tms, z, y, x):
    """One vector tile (MVT); tiles outside the matrix set are 404."""
    refuse_unknown([])
    catalog = current_catalog()
    catalog.layer(layer_id)
    _check_tms(tms)
    if not mvt.tile_in_range(z, y, x):
        raise NotFound(f"no tile {z}/{y}/{x} in {TMS_ID} (zoom 0..{mvt.MAX_ZOOM}, row and column 0..2^zoom-1)")
    # the encoder is part of the tag: PostGIS's tiles and ours hold the same features, not the same bytes
    encoder = "mvt-postgis" if getattr(catalog, "spatial", None) is not None else "mvt-2"
    encoder += "-per-tile" if per_tile(catalog, layer_id) else ""
    etag = derived_etag(layer_etag(catalog, layer_id), encoder, f"{z}/{y}/{x}")
    cached = not_modified(etag, MVT)
    if cached is not None:
        return cached
    # the layer's version in the key: a replaced layer's tiles are never served from the old one
    body, _ = current_app.extensions[_TILES].get((layer_id, catalog.fingerprint([layer_id]), encoder, z, y, x),
                                                 lambda: (tile_bytes(catalog, layer_id, z, y, x), etag))
    response = Response(body, mimetype=MVT)
    response.set_etag(etag)
    return response
