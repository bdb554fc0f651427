"""Display geometry: simplified and quantised per zoom band, for maps only.

A web map at zoom ``z`` (256-pixel Web Mercator tiles) shows
``360 / (256 * 2**z)`` degrees of longitude per pixel, and
``cos(latitude)`` times that of latitude. Vertices closer together than
half a pixel cannot be seen, so each geometry is simplified with a
tolerance of **half a pixel at its most poleward latitude**, in degrees,
and coordinates are rounded to the decimals that keep the rounding error
under half a pixel. Together a drawn line moves less than one pixel at
the top zoom of its band, and half as much one zoom level out.

Zoom bands (:data:`ZOOM_BANDS`; the tolerance comes from the band's top zoom)::

    band  zooms   scale of view          tolerance at 30°N   decimals
    0     0-4     continent / region     0.0381°  (~4.2 km)  2
    1     5-6     country group          0.0095°  (~1.1 km)  2
    2     7-8     country                0.0024°  (~260 m)   3
    3     9-10    province               0.0006°  (~66 m)    3
    4     11-12   district               0.00015° (~16 m)    4
    5     13+     full geometry, 6 decimals (no simplification)

Topology is kept: polygon coverages (country boundaries sharing edges)
use ``shapely.coverage_simplify`` so neighbours keep one common edge and no
gaps or overlaps open (quantisation takes one more decimal where the band's
would open a sliver); lines use ``shapely.simplify(preserve_topology=True)``.

These geometries are for display only. Statistics are never computed on
them: every length and area in ``geo`` is measured on the layer's full
geometry (``layer.gdf``). The returned frame carries
``attrs["display_only"] = True`` to say so.
"""

import math

import geopandas as gpd
import numpy as np
import shapely

from layers.errors import BadParameter

__all__ = [
    "ZOOM_BANDS",
    "FULL_BAND",
    "MAX_ZOOM",
    "zoom_band",
    "band_zoom",
    "pixel_degrees",
    "tolerance_degrees",
    "quantise_decimals",
    "display_geometries",
    "cached_display",
]

# (first zoom, last zoom) of each band; the last band is full geometry.
ZOOM_BANDS = ((0, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 22))
FULL_BAND = len(ZOOM_BANDS) - 1
MAX_ZOOM = ZOOM_BANDS[-1][1]
TILE_PIXELS = 256
# Beyond ~85° Web Mercator has no map; cap so cos(lat) never reaches 0.
_MAX_LAT = 85.0
FULL_DECIMALS = 6


def _check_zoom(zoom):
    if isinstance(zoom, bool) or not isinstance(zoom, (int, np.integer)) or not 0 <= zoom <= MAX_ZOOM:
        raise BadParameter("zoom", f"{zoom!r} must be a whole number from 0 to {MAX_ZOOM}")
    return int(zoom)


def zoom_band(zoom):
    """Band index (0..:data:`FULL_BAND`) of a map zoom level.

    >>> [zoom_band(z) for z in (0, 4, 5, 9, 12, 13, 18)]
    [0, 0, 1, 3, 4, 5, 5]
    """
    zoom = _check_zoom(zoom)
    return next(i for i, (lo, hi) in enumerate(ZOOM_BANDS) if lo <= zoom <= hi)


def band_zoom(band):
    """The zoom whose pixel size sets a band's tolerance: the band's most detailed zoom."""
    if isinstance(band, bool) or not isinstance(band, (int, np.integer)) or not 0 <= band <= FULL_BAND:
        raise BadParameter("zoom_band", f"{band!r} must be a whole number from 0 to {FULL_BAND}")
    return ZOOM_BANDS[int(band)][1]


def pixel_degrees(zoom, lat=0.0):
    """Degrees of latitude one screen pixel spans at ``zoom`` and latitude ``lat`` (deg).

    At the equator this is also the longitude span; poleward it shrinks
    with ``cos(lat)``. Broadcasts over ``lat``.

    >>> round(float(pixel_degrees(0)), 6)
    1.40625
    """
    lat = np.minimum(np.abs(np.asarray(lat, dtype=float)), _MAX_LAT)
    return 360.0 / (TILE_PIXELS * 2.0 ** zoom) * np.cos(np.radians(lat))


def tolerance_degrees(zoom, lat=0.0):
    """Simplification tolerance (degrees): half a screen pixel at ``zoom``, ``lat``."""
    return 0.5 * pixel_degrees(zoom, lat)


def quantise_decimals(zoom):
    """Decimals to round coordinates to at ``zoom``.

    The grid step ``10**-d`` is at most one pixel of longitude, so the
    rounding error is at most half a pixel; 6 decimals (~0.1 m) at most.

    >>> [quantise_decimals(z) for z in (0, 4, 6, 8, 10, 12, 22)]
    [1, 2, 2, 3, 3, 4, 6]
    """
    zoom = _check_zoom(zoom)
    per_degree = TILE_PIXELS * 2.0 ** zoom / 360.0
    return int(min(FULL_DECIMALS, max(1, math.ceil(math.log10(per_degree)))))


def _poleward_lat(geoms):
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        lat = np.fmax(np.abs(bounds[:, 1]), np.abs(bounds[:, 3]))
    return np.nan_to_num(lat, nan=0.0)


def _quantise(geoms, decimals, *, keep_valid):
    """Round coordinates to ``decimals``; where that would collapse a geometry, keep it unrounded."""
    grid = 10.0 ** -decimals
    mode = "valid_output" if keep_valid else "pointwise"
    out = shapely.set_precision(geoms, grid, mode=mode)
    if not keep_valid:
        out = shapely.remove_repeated_points(out, 0.0)
    # a tiny feature rounding to nothing (or one point) must still be drawable and clickable
    collapsed = ~shapely.is_valid(out) | (shapely.is_empty(out) & ~shapely.is_empty(geoms))
    out[collapsed] = geoms[collapsed]
    return out


def _simplify_polygons(polys, zoom, decimals):
    """Polygons simplified as one coverage when they form one, then quantised.

    Rounding each polygon to the grid can open slivers between neighbours
    where two of its edges run closer than a grid step; one more decimal
    at a time is tried until the coverage stays gap- and overlap-free.
    """
    # one tolerance for the whole set, so shared edges simplify identically
    lat = float(_poleward_lat(polys).max())
    tol = float(tolerance_degrees(zoom, lat))
    is_coverage = bool(shapely.coverage_is_valid(polys))
    if is_coverage:
        simple = shapely.coverage_simplify(polys, tol)
    else:  # overlapping polygons (e.g. buffers): simplify each on its own
        simple = shapely.simplify(polys, tol, preserve_topology=True)
    for digits in range(decimals, FULL_DECIMALS + 1):
        rounded = _quantise(simple, digits, keep_valid=True)
        if not is_coverage or shapely.coverage_is_valid(rounded):
            return rounded
    return simple


def _simplify(geoms, zoom):
    """Simplified + quantised copy of an object array of geometries at ``zoom``."""
    out = geoms.copy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms)
    decimals = quantise_decimals(zoom)
    polys = present & np.isin(types, (3, 6))
    lines = present & np.isin(types, (1, 5))
    points = present & np.isin(types, (0, 4))
    if polys.any():
        out[polys] = _simplify_polygons(geoms[polys], zoom, decimals)
    if lines.any():
        tol = tolerance_degrees(zoom, _poleward_lat(geoms[lines]))
        simple = shapely.simplify(geoms[lines], tol, preserve_topology=True)
        out[lines] = _quantise(simple, decimals, keep_valid=False)
    if points.any():
        out[points] = _quantise(geoms[points], decimals, keep_valid=False)
    rest = present & ~(polys | lines | points)
    if rest.any():  # collections: round only
        out[rest] = shapely.set_precision(geoms[rest], 10.0 ** -decimals, mode="pointwise")
    return out


def display_geometries(gdf, *, zoom):
    """A copy of ``gdf`` (EPSG:4326) with geometry simplified and quantised for ``zoom``.

    Tolerance is half a pixel at ``zoom`` (see the module docstring); from
    the full band's first zoom (13) on, geometry is only rounded to 6
    decimals. Properties are unchanged. For display only: never measure it.
    """
    zoom = _check_zoom(zoom)
    crs = gdf.crs
    if crs is not None and not crs.is_geographic:
        raise BadParameter("crs", f"expected geographic lon/lat (EPSG:4326), got {crs.to_string()}")
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if zoom >= ZOOM_BANDS[FULL_BAND][0]:
        present = ~shapely.is_missing(geoms)
        new = geoms.copy()
        new[present] = shapely.set_precision(geoms[present], 10.0 ** -FULL_DECIMALS, mode="pointwise")
    else:
        new = _simplify(geoms, zoom)
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.array.from_shapely(new, crs=crs)
    out.attrs = {**gdf.attrs, "display_only": True, "display_zoom": zoom}
    return out


def cached_display(catalog, layer_id, zoom_band):
    """Display geometry of a catalogue layer for a zoom band, computed once per catalogue.

    ``zoom_band`` is an index into :data:`ZOOM_BANDS` (see :func:`zoom_band`
    to get it from a map zoom). Raises LayerNotFound / BadParameter.
    """
    layer = catalog.layer(layer_id)
    zoom = band_zoom(zoom_band)
    return catalog.memo(("display", layer_id, int(zoom_band)), lambda: display_geometries(layer.gdf, zoom=zoom))
