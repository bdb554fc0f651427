"""Display geometry: simplified and quantised per zoom band, for maps only, within half a pixel.

A web map at zoom ``z`` draws lon/lat through Web Mercator onto
``256 * 2**z`` pixels around the world, with straight lines between the
projected vertices. So geometry is simplified **in that pixel plane**, at
the band's most detailed zoom, and the stated tolerance is what is drawn:

    no drawn point moves more than :data:`geo.pixels.TOLERANCE_PX` (half a
    pixel) from the full geometry, simplification and coordinate rounding
    together, at the band's top zoom (and half as far one zoom level out).

Coordinates are rounded to the fewest decimals whose rounding moves a vertex
at most :data:`geo.pixels.ROUNDING_PX` at the layer's poleward latitude
(:func:`geo.pixels.quantise_decimals`); simplification gets the rest.

- Lines (``shapely.simplify``, topology-preserving Douglas-Peucker, whose
  drawn error is at most its tolerance) keep every **junction**: where a
  part's end lies on another part (that point is added to the other part),
  and where parts that share vertices meet or part (the ends of a shared
  run; along it both parts simplify the same chain alike), no vertex is
  removed, so junctions stay closed. A part that would meet another more
  than a pixel from anything the full lines share is simplified again at
  half its tolerance, then rounded to more decimals (lines closer than a
  grid step), then left unsimplified: **no new crossings**
  (:mod:`geo.simplify_lines`).
- Polygon coverages (country boundaries sharing edges) are simplified edge
  by edge: every border and coastline between junctions once, as a line
  (the same Douglas-Peucker, junctions, crossings), then the faces are
  polygonized and returned to their polygons, so neighbours keep one
  common edge and no gaps or overlaps open. (``shapely.coverage_simplify``
  is Visvalingam-Whyatt, which bounds areas, not distances: it drew borders
  up to 134 px off at zoom 12.) Other polygons: topology-preserving DP.

Zoom bands (:data:`ZOOM_BANDS`)::

    band  zooms   scale of view          half a pixel at 30°N
    0     0-4     continent / region     ~4.2 km
    1     5-6     country group          ~1.1 km
    2     7-8     country                ~260 m
    3     9-10    province               ~66 m
    4     11-12   district               ~16 m
    5     13+     full geometry, 6 decimals (no simplification)

These geometries are for display only. Statistics are never computed on
them: every length and area in ``geo`` is measured on the layer's full
geometry (``layer.gdf``). The returned frame carries
``attrs["display_only"] = True`` to say so.
"""

import geopandas as gpd
import numpy as np
import shapely

from geo.pixels import (
    FULL_DECIMALS,
    MAX_ZOOM,
    TOLERANCE_PX,
    check_zoom,
    pixel_degrees,
    quantise_decimals,
    rounding_px,
    to_lonlat,
    to_px,
    tolerance_degrees,
)
from geo.simplify_lines import simplified_parts
from layers.errors import BadParameter

# The pixel helpers live in geo.pixels; MAX_ZOOM, pixel_degrees, tolerance_degrees and quantise_decimals are
# re-exported because this module offered them before the split.
__all__ = ["ZOOM_BANDS", "FULL_BAND", "MAX_ZOOM", "zoom_band", "band_zoom", "pixel_degrees", "tolerance_degrees",
           "quantise_decimals", "display_geometries", "cached_display"]

# (first zoom, last zoom) of each band; the last band is full geometry.
ZOOM_BANDS = ((0, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, MAX_ZOOM))
FULL_BAND = len(ZOOM_BANDS) - 1


def zoom_band(zoom):
    """Band index (0..:data:`FULL_BAND`) of a map zoom level.

    >>> [zoom_band(z) for z in (0, 4, 5, 9, 12, 13, 18)]
    [0, 0, 1, 3, 4, 5, 5]
    """
    zoom = check_zoom(zoom)
    return next(i for i, (lo, hi) in enumerate(ZOOM_BANDS) if lo <= zoom <= hi)


def band_zoom(band):
    """The zoom whose pixels set a band's tolerance: the band's most detailed zoom."""
    if isinstance(band, bool) or not isinstance(band, (int, np.integer)) or not 0 <= band <= FULL_BAND:
        raise BadParameter("zoom_band", f"{band!r} must be a whole number from 0 to {FULL_BAND}")
    return ZOOM_BANDS[int(band)][1]


def _poleward_lat(geoms):
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        lat = np.fmax(np.abs(bounds[:, 1]), np.abs(bounds[:, 3]))
    return float(np.nanmax(np.nan_to_num(lat, nan=0.0), initial=0.0))


def _dedupe(geoms):
    """Repeated consecutive vertices removed; a ring that would fall below 4 points is left as it is."""
    try:
        return shapely.remove_repeated_points(geoms, 0.0)
    except shapely.errors.GEOSException:  # one collapsing ring fails the whole array: go one by one
        out = geoms.copy()
        for i, g in enumerate(geoms):
            try:
                out[i] = shapely.remove_repeated_points(g, 0.0)
            except shapely.errors.GEOSException:
                pass
        return out


def _round(geoms, decimals):
    """Each vertex rounded to ``decimals`` (shared vertices stay shared); where that collapses a geometry, unrounded."""
    out = _dedupe(shapely.set_precision(geoms, 10.0 ** -decimals, mode="pointwise"))
    collapsed = ~shapely.is_valid(out) | (shapely.is_empty(out) & ~shapely.is_empty(geoms))
    out[collapsed] = geoms[collapsed]
    return out


def _regroup(parts, owner, geoms):
    """Parts back into geometries of the input's types (LineString / MultiLineString, Polygon / MultiPolygon)."""
    out = np.empty(len(geoms), dtype=object)
    types = shapely.get_type_id(geoms)
    has = np.isin(np.arange(len(geoms)), owner)  # a geometry left no part (no face of a coverage): it is empty
    multi = np.isin(types, (5, 6)) & has
    single = ~np.isin(types, (5, 6)) & has
    out[single] = parts[np.searchsorted(owner, np.flatnonzero(single))]
    if multi.any():
        sel = np.isin(owner, np.flatnonzero(multi))
        groups = np.unique(owner[sel], return_inverse=True)[1]
        make = shapely.multilinestrings if shapely.get_type_id(parts[0]) == 1 else shapely.multipolygons
        out[multi] = make(parts[sel], indices=groups)
    for i in np.flatnonzero(~has):
        out[i] = shapely.from_wkt(f"{shapely.GeometryType(types[i]).name} EMPTY")
    return out


def _simplify_lines(geoms, zoom, decimals, lat):
    parts, owner = shapely.get_parts(geoms, return_index=True)
    shown = simplified_parts(parts, zoom, decimals, lat)
    return _regroup(shown, owner, geoms)


def _simplify_coverage(polys, zoom, decimals, lat):
    """A polygon coverage simplified edge by edge: every border once, as a line, then the faces rebuilt.

    Each shared border and coastline between junctions is simplified like a
    line (Douglas-Peucker in pixels, junctions kept, no new crossings), so
    neighbours keep one common edge and the drawn error stays within the
    tolerance; the faces are polygonized and each given back to the polygon
    that covers most of it (a face no polygon mostly covers is a gap: water);
    an island that leaves no face is kept as it is, unless that would overlap
    a simplified neighbour (it is then smaller than a pixel: left out). None
    when the result is not a valid coverage.
    """
    edges = shapely.get_parts(shapely.line_merge(shapely.union_all(shapely.boundary(polys))))
    shown = simplified_parts(edges, zoom, decimals, lat, exact_meetings=True)
    # noded first: a sub-pixel sliver's edge (Kenya's Ilemi tip at the region's 5N cut) may collapse onto its
    # neighbour's, and polygonize needs the overlapping run as one line or the face beside it (South Sudan) is lost
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(shown))))
    face_i, poly_i = shapely.STRtree(polys).query(faces, predicate="intersects")
    overlap = shapely.area(shapely.intersection(faces[face_i], polys[poly_i]))
    order = np.lexsort((-overlap, face_i))
    first = order[np.r_[True, face_i[order][1:] != face_i[order][:-1]]] if len(order) else order
    first = first[overlap[first] > 0.5 * shapely.area(faces[face_i[first]])]  # gaps (the Caspian) belong to none
    owner, face = poly_i[first], faces[face_i[first]]
    # an island smaller than a pixel may leave no face: it shares no edge, so it comes back as it is
    parts, part_owner = shapely.get_parts(polys, return_index=True)
    hit_part, hit_face = shapely.STRtree(face).query(parts, predicate="intersects")
    found = np.zeros(len(parts), dtype=bool)
    found[hit_part[part_owner[hit_part] == owner[hit_face]]] = True
    out = _faces_to_polygons(polys, face, owner)
    if (~found).any():
        islands, owners = _round(parts[~found], decimals), part_owner[~found]
        keep = np.ones(len(islands), dtype=bool)
        with_islands = _faces_to_polygons(polys, np.r_[face, islands], np.r_[owner, owners])
        if not shapely.coverage_is_valid(with_islands):  # one overlaps a simplified neighbour: keep those that
            bad = shapely.union_all(shapely.coverage_invalid_edges(with_islands))  # touch no invalid edge
            keep = ~shapely.intersects(islands, bad)
        for _ in range(2):  # an island touching its own polygon's simplified face (Egypt's, in the Nile delta at
            out = _faces_to_polygons(polys, np.r_[face, islands[keep]], np.r_[owner, owners[keep]])  # zoom 4)
            invalid = np.flatnonzero(~shapely.is_valid(out))  # makes that polygon invalid: leave its islands out
            if not len(invalid):
                break
            keep &= ~np.isin(owners, invalid)
    # a polygon larger than a pixel that left no face (its edges did not close into one) must not vanish
    lost = shapely.is_empty(out) & ~shapely.is_empty(polys) & (shapely.area(polys) > pixel_degrees(zoom) ** 2)
    valid = not lost.any() and shapely.is_valid(out).all() and shapely.coverage_is_valid(out)
    return out if valid else None


def _faces_to_polygons(polys, face, owner):
    """Each polygon as the union of its faces (touching faces of one polygon dissolved)."""
    order = np.argsort(owner, kind="stable")
    out = _regroup(face[order], owner[order], polys)
    for i in np.flatnonzero(~shapely.is_valid(out)):  # its own faces touch along an edge: dissolve them
        merged = shapely.coverage_union_all(shapely.get_parts(out[i]))
        out[i] = shapely.multipolygons(shapely.get_parts(merged)) if shapely.get_type_id(polys[i]) == 6 else merged
    return out


def _simplify_polygons(polys, zoom, decimals, lat):
    """Polygons simplified in pixel space, as one coverage when they form one, within the tolerance."""
    if shapely.coverage_is_valid(polys):
        out = _simplify_coverage(polys, zoom, decimals, lat)
        if out is not None:
            return out
        for digits in range(decimals, FULL_DECIMALS + 1):  # unsimplified: rounding that keeps the coverage
            rounded = _round(polys, digits)
            if shapely.coverage_is_valid(rounded):
                return rounded
        return polys
    # overlapping polygons (e.g. buffers): each on its own, topology-preserving DP
    simple = to_lonlat(shapely.simplify(to_px(polys, zoom), TOLERANCE_PX - rounding_px(zoom, decimals, lat),
                                         preserve_topology=True), zoom)
    return _round(simple, decimals)


def _simplify(geoms, zoom):
    """Simplified + quantised copy of an object array of geometries at ``zoom``."""
    out = geoms.copy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms)
    lat = _poleward_lat(geoms[present]) if present.any() else 0.0
    decimals = quantise_decimals(zoom, lat)
    polys = present & np.isin(types, (3, 6))
    lines = present & np.isin(types, (1, 5))
    points = present & np.isin(types, (0, 4))
    if polys.any():
        out[polys] = _simplify_polygons(geoms[polys], zoom, decimals, lat)
    if lines.any():
        out[lines] = _simplify_lines(geoms[lines], zoom, decimals, lat)
    if points.any():
        out[points] = _round(geoms[points], decimals)
    rest = present & ~(polys | lines | points)
    if rest.any():  # collections: round only
        out[rest] = shapely.set_precision(geoms[rest], 10.0 ** -decimals, mode="pointwise")
    return out


def display_geometries(gdf, *, zoom):
    """A copy of ``gdf`` (EPSG:4326) with geometry simplified and quantised for ``zoom``.

    Drawn within :data:`TOLERANCE_PX` of the full geometry at ``zoom`` (see
    the module docstring); from the full band's first zoom (13) on,
    geometry is only rounded to 6 decimals. Properties are unchanged. For
    display only: never measure it.
    """
    zoom = check_zoom(zoom)
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
