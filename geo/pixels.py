"""Web Mercator pixels: where a web map draws lon/lat, and how far rounding moves a vertex there.

At zoom ``z`` a map projects lon/lat with Web Mercator onto ``256 * 2**z``
pixels around the world and draws straight lines between the projected
vertices; display geometry (:mod:`geo.simplify`) is simplified and its
error stated in these pixels.
"""

import math

import numpy as np
import shapely

from layers.errors import BadParameter

__all__ = ["TILE_PIXELS", "MAX_ZOOM", "TOLERANCE_PX", "ROUNDING_PX", "MERCATOR_MAX_LAT", "FULL_DECIMALS", "check_zoom",
           "pixel_xy", "lonlat_xy", "to_px", "to_lonlat", "pixel_degrees", "tolerance_degrees", "rounding_px",
           "quantise_decimals"]

TILE_PIXELS = 256
MAX_ZOOM = 22
TOLERANCE_PX = 0.5  # the stated display error: simplification and rounding together
ROUNDING_PX = 0.15  # at most this of it goes to rounding coordinates
MERCATOR_MAX_LAT = 85.05112878  # Web Mercator's square world ends here
FULL_DECIMALS = 6


def check_zoom(zoom):
    """``zoom`` as an int 0..:data:`MAX_ZOOM`; BadParameter otherwise."""
    if isinstance(zoom, bool) or not isinstance(zoom, (int, np.integer)) or not 0 <= zoom <= MAX_ZOOM:
        raise BadParameter("zoom", f"{zoom!r} must be a whole number from 0 to {MAX_ZOOM}")
    return int(zoom)


def _world_px(zoom):
    return TILE_PIXELS * 2.0 ** zoom


def pixel_xy(lonlat, zoom):
    """Web Mercator pixel coordinates at ``zoom`` of (n, 2) lon/lat (latitude clamped to the map's edge)."""
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    size = _world_px(zoom)
    lat = np.radians(np.clip(lonlat[:, 1], -MERCATOR_MAX_LAT, MERCATOR_MAX_LAT))
    return np.column_stack([size * (lonlat[:, 0] + 180.0) / 360.0,
                            size * (0.5 - np.log(np.tan(np.pi / 4 + lat / 2)) / (2 * np.pi))])


def lonlat_xy(xy, zoom):
    """Inverse of :func:`pixel_xy`: lon/lat of (n, 2) pixel coordinates at ``zoom``."""
    size = _world_px(zoom)
    lon = xy[:, 0] / size * 360.0 - 180.0
    lat = np.degrees(2 * np.arctan(np.exp(np.pi * (1 - 2 * xy[:, 1] / size))) - np.pi / 2)
    return np.column_stack([lon, lat])


def pixel_degrees(zoom, lat=0.0):
    """Degrees of latitude one screen pixel spans at ``zoom`` and latitude ``lat`` (deg).

    At the equator this is also the longitude span; poleward it shrinks
    with ``cos(lat)``. Broadcasts over ``lat``.

    >>> round(float(pixel_degrees(0)), 6)
    1.40625
    """
    lat = np.minimum(np.abs(np.asarray(lat, dtype=float)), MERCATOR_MAX_LAT)
    return 360.0 / (TILE_PIXELS * 2.0 ** zoom) * np.cos(np.radians(lat))


def tolerance_degrees(zoom, lat=0.0):
    """:data:`TOLERANCE_PX` in degrees of latitude at ``zoom`` and ``lat`` (for choosing a band by degrees)."""
    return TOLERANCE_PX * pixel_degrees(zoom, lat)


def rounding_px(zoom, decimals, lat=0.0):
    """Most a vertex moves on screen (px at ``zoom``) when rounded to ``decimals`` at latitude ``lat``."""
    per_degree = _world_px(zoom) / 360.0
    sec = 1.0 / math.cos(math.radians(min(abs(float(lat)), MERCATOR_MAX_LAT)))
    return 0.5 * 10.0 ** -decimals * per_degree * math.hypot(1.0, sec)


def quantise_decimals(zoom, lat=0.0):
    """Fewest decimals whose rounding moves a vertex at most :data:`ROUNDING_PX` at ``zoom`` and ``lat``.

    >>> [quantise_decimals(z) for z in (0, 4, 6, 8, 10, 12, 22)]
    [1, 2, 3, 3, 4, 5, 6]
    """
    zoom = check_zoom(zoom)
    return next((d for d in range(1, FULL_DECIMALS + 1) if rounding_px(zoom, d, lat) <= ROUNDING_PX), FULL_DECIMALS)


def to_px(geoms, zoom):
    """Geometries with every vertex in pixels at ``zoom``."""
    return shapely.transform(geoms, lambda xy: pixel_xy(xy, zoom))


def to_lonlat(geoms, zoom):
    """Geometries with every vertex back in lon/lat from pixels at ``zoom``."""
    return shapely.transform(geoms, lambda xy: lonlat_xy(xy, zoom))
