"""Mapbox Vector Tiles (MVT 2.1) of one layer in the WebMercatorQuad tile matrix set, encoded by mapbox-vector-tile.

A tile ``z/y/x`` (OGC order: tile matrix, row, column; row 0 at the top)
holds the features whose full geometry meets the tile (found through the
layer's STRtree), drawn from the display geometry of the zoom band of ``z``
(:func:`geo.simplify.cached_display`: simplified to half a screen pixel,
as the web map draws it), projected to Web Mercator for drawing only,
scaled to the tile's 4096-unit grid, y down, and clipped to the tile plus
a 64-unit buffer (so strokes join across tile edges). Nothing is measured
on tile geometry.
"""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import shapely

__all__ = ["BUFFER", "DENSE_TILE_FEATURES", "EXTENT", "MAX_ZOOM", "MERCATOR_HALF_M", "THIN_CELL", "encode_tile",
           "thin_dense", "tile_bounds_lonlat", "tile_in_range"]

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
EARTH_RADIUS_M = 6378137.0  # WebMercatorQuad's sphere (EPSG:3857)
MERCATOR_HALF_M = math.pi * EARTH_RADIUS_M
MAX_LAT = 85.0511287798066
# A tile with more features than this is thinned: of the features smaller than a cell of THIN_CELL tile units
# (4 x 4 screen pixels of a 256-pixel tile) only one per cell is drawn, as tippecanoe drops the densest.
DENSE_TILE_FEATURES = 4000
THIN_CELL = EXTENT // 64


def tile_in_range(z, y, x):
    """True when ``z/y/x`` is a tile of WebMercatorQuad with 0 <= z <= :data:`MAX_ZOOM`."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z


def _mercator_bounds(z, y, x):
    size = 2 * MERCATOR_HALF_M / 2 ** z
    minx = -MERCATOR_HALF_M + x * size
    maxy = MERCATOR_HALF_M - y * size
    return minx, maxy - size, minx + size, maxy


def tile_bounds_lonlat(z, y, x, *, buffer=0.0):
    """(minlon, minlat, maxlon, maxlat) in degrees of tile ``z/y/x``, grown by ``buffer`` tile widths."""
    minx, miny, maxx, maxy = _mercator_bounds(z, y, x)
    grow = (maxx - minx) * buffer
    minx, miny, maxx, maxy = minx - grow, miny - grow, maxx + grow, maxy + grow

    def lon(mx):
        return max(-180.0, min(180.0, math.degrees(mx / EARTH_RADIUS_M)))

    def lat(my):
        my = max(-MERCATOR_HALF_M, min(MERCATOR_HALF_M, my))
        return math.degrees(2 * math.atan(math.exp(my / EARTH_RADIUS_M)) - math.pi / 2)

    return lon(minx), lat(miny), lon(maxx), lat(maxy)


def _to_tile(z, y, x):
    """A vectorised coordinate function: lon/lat degrees -> tile units (0..EXTENT, y down)."""
    minx, miny, maxx, maxy = _mercator_bounds(z, y, x)
    scale = EXTENT / (maxx - minx)

    def transform(coords):
        lon = np.radians(coords[:, 0])
        lat = np.radians(np.clip(coords[:, 1], -MAX_LAT, MAX_LAT))
        mx = EARTH_RADIUS_M * lon
        my = EARTH_RADIUS_M * np.log(np.tan(np.pi / 4 + lat / 2))
        return np.column_stack(((mx - minx) * scale, (maxy - my) * scale))

    return transform


def thin_dense(geoms, z, y, x, *, cell=THIN_CELL):
    """Boolean mask keeping every feature at least ``cell`` tile units across and one small feature per cell.

    For display only (a dense tile at a low zoom draws ~1 feature per 4 x 4
    pixels instead of thousands that would paint the same pixels); the
    items and downloads always hold every feature.
    """
    bounds = shapely.bounds(np.asarray(geoms, dtype=object))
    project = _to_tile(z, y, x)
    low = project(bounds[:, [0, 1]])
    high = project(bounds[:, [2, 3]])
    size = np.maximum(np.abs(high[:, 0] - low[:, 0]), np.abs(high[:, 1] - low[:, 1]))
    keep = ~(size < cell)  # NaN bounds (empty geometry) are kept and dropped later by the clip
    small = np.flatnonzero(~keep)
    if len(small):
        centre = (low[small] + high[small]) / 2
        cells = np.floor(centre / cell).astype(np.int64)
        _, first = np.unique(cells, axis=0, return_index=True)
        keep[small[first]] = True
    return keep


def encode_tile(layer_name, geoms, properties, z, y, x):
    """MVT bytes of one layer: ``geoms`` (lon/lat shapely array) with ``properties`` (dicts, ``_fid`` an int id).

    Geometries are projected, clipped to the tile and its buffer, and
    dropped when nothing of them is left; null property values are left
    out (MVT has no null).
    """
    geoms = np.asarray(geoms, dtype=object)
    features = []
    if len(geoms):
        tiled = shapely.transform(geoms, _to_tile(z, y, x))
        clipped = shapely.clip_by_rect(tiled, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
        # snapped to the integer grid here, valid (GEOS keeps polygons valid as it snaps), as PostGIS's
        # ST_AsMVTGeom does: the encoder's own rounding made islands overlap, and its repair then dropped
        # whole countries (the United Arab Emirates at zoom 2)
        clipped = shapely.set_precision(clipped, 1.0)
        keep = ~(shapely.is_missing(clipped) | shapely.is_empty(clipped))
        for geom, props in zip(clipped[keep], [p for p, k in zip(properties, keep) if k]):
            fid = props.get("_fid")
            features.append({"geometry": geom, "id": fid,
                             "properties": {k: v for k, v in props.items() if v is not None and k != "_fid"}})
    return mapbox_vector_tile.encode(
        [{"name": layer_name, "features": features}],
        default_options={"extents": EXTENT, "y_coord_down": True,
                         "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid})
