"""Display geometry: simplified and quantised per zoom band, for maps only, within half a pixel.

A web map at zoom ``z`` draws lon/lat through Web Mercator onto
``256 * 2**z`` pixels around the world, with straight lines between the
projected vertices. So geometry is simplified **in that pixel plane**, at
the band's most detailed zoom, and the stated tolerance is what is drawn:

    no drawn point moves more than :data:`TOLERANCE_PX` (half a pixel) from
    the full geometry, simplification and coordinate rounding together,
    at the band's top zoom (and half as far one zoom level out).

Coordinates are rounded to the fewest decimals whose rounding moves a vertex
at most :data:`ROUNDING_PX` at the layer's poleward latitude
(:func:`quantise_decimals`); simplification gets the rest of the budget.

- Lines (``shapely.simplify``, topology-preserving Douglas-Peucker, whose
  drawn error is at most its tolerance) keep every **junction**: where a
  part's end lies on another part (that point is added to the other part),
  and where parts that share vertices meet or part (the ends of a shared
  run; along it both parts simplify the same chain alike), no vertex is
  removed, so junctions stay closed.
  Parts that would cross where the full lines do not are simplified again
  at half the tolerance, then left unsimplified: **no new crossings**.
  Where rounding makes lines cross (lines closer than a grid step), all
  parts take one more decimal, so shared junctions still round alike.
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

import math

import geopandas as gpd
import numpy as np
import shapely

from layers.errors import BadParameter

__all__ = [
    "ZOOM_BANDS", "FULL_BAND", "MAX_ZOOM", "TOLERANCE_PX", "ROUNDING_PX", "zoom_band", "band_zoom", "pixel_xy",
    "pixel_degrees", "tolerance_degrees", "quantise_decimals", "rounding_px",
    "display_geometries", "cached_display",
]

# (first zoom, last zoom) of each band; the last band is full geometry.
ZOOM_BANDS = ((0, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 22))
FULL_BAND = len(ZOOM_BANDS) - 1
MAX_ZOOM = ZOOM_BANDS[-1][1]
TILE_PIXELS = 256
TOLERANCE_PX = 0.5
ROUNDING_PX = 0.15
MERCATOR_MAX_LAT = 85.05112878  # Web Mercator's square world ends here
FULL_DECIMALS = 6
_RETRIES = 8


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
    """The zoom whose pixels set a band's tolerance: the band's most detailed zoom."""
    if isinstance(band, bool) or not isinstance(band, (int, np.integer)) or not 0 <= band <= FULL_BAND:
        raise BadParameter("zoom_band", f"{band!r} must be a whole number from 0 to {FULL_BAND}")
    return ZOOM_BANDS[int(band)][1]


def _world_px(zoom):
    return TILE_PIXELS * 2.0 ** zoom


def pixel_xy(lonlat, zoom):
    """Web Mercator pixel coordinates at ``zoom`` of (n, 2) lon/lat (latitude clamped to the map's edge)."""
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    size = _world_px(zoom)
    lat = np.radians(np.clip(lonlat[:, 1], -MERCATOR_MAX_LAT, MERCATOR_MAX_LAT))
    return np.column_stack([size * (lonlat[:, 0] + 180.0) / 360.0,
                            size * (0.5 - np.log(np.tan(np.pi / 4 + lat / 2)) / (2 * np.pi))])


def _lonlat_xy(xy, zoom):
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
    zoom = _check_zoom(zoom)
    return next((d for d in range(1, FULL_DECIMALS + 1) if rounding_px(zoom, d, lat) <= ROUNDING_PX), FULL_DECIMALS)


def _poleward_lat(geoms):
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        lat = np.fmax(np.abs(bounds[:, 1]), np.abs(bounds[:, 3]))
    return float(np.nanmax(np.nan_to_num(lat, nan=0.0), initial=0.0))


def _to_px(geoms, zoom):
    return shapely.transform(geoms, lambda xy: pixel_xy(xy, zoom))


def _to_lonlat(geoms, zoom):
    return shapely.transform(geoms, lambda xy: _lonlat_xy(xy, zoom))


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


def _junctions(parts):
    """Coordinates of every part with the junctions added and flagged: (xy, part of each, pinned)."""
    xy, part = shapely.get_coordinates(parts, return_index=True)
    n = len(parts)
    first = np.r_[0, np.flatnonzero(np.diff(part)) + 1]
    last = np.r_[first[1:] - 1, len(part) - 1]
    # a part's end on another part, away from that part's vertices: add the point there
    ends = np.r_[first, last]
    tree = shapely.STRtree(parts)
    e, other = tree.query(shapely.points(xy[ends]), predicate="dwithin", distance=1e-9)
    sel = part[ends[e]] != other
    e, other = e[sel], other[sel]
    along = shapely.line_locate_point(parts[other], shapely.points(xy[ends[e]]))
    step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
    step[first] = 0.0
    cum = np.cumsum(step) - np.repeat(np.cumsum(step)[first], np.diff(np.r_[first, len(xy)]))
    key = np.r_[part + cum / (cum.max() + 1.0 if len(cum) else 1.0) * 0.5, other + along / (cum.max() + 1.0) * 0.5]
    all_xy = np.r_[xy, xy[ends[e]]]
    all_part = np.r_[part, other]
    pinned = np.r_[np.zeros(len(xy), dtype=bool), np.ones(len(e), dtype=bool)]
    order = np.lexsort((~pinned, key))
    all_xy, all_part, pinned = all_xy[order], all_part[order], pinned[order]
    # where parts share vertices, the ends of each shared run are junctions: the set of parts holding a
    # vertex changes there (inside a shared run both parts simplify the same chain between the same pins)
    coords, group = np.unique(all_xy, axis=0, return_inverse=True)
    group = group.ravel()
    pairs = np.unique(np.column_stack([group, all_part]), axis=0)
    weight = np.random.default_rng(0).integers(1, 2**62, size=n, dtype=np.int64)  # a hash of each part set
    set_hash = np.zeros(len(coords), dtype=np.int64)
    np.add.at(set_hash, pairs[:, 0], weight[pairs[:, 1]])
    holders = np.bincount(pairs[:, 0], minlength=len(coords))
    h = set_hash[group]
    same_prev = np.r_[False, (all_part[1:] == all_part[:-1]) & (h[1:] == h[:-1])]
    same_next = np.r_[(all_part[1:] == all_part[:-1]) & (h[1:] == h[:-1]), False]
    pinned |= (holders[group] > 1) & ~(same_prev & same_next)
    return all_xy, all_part, pinned, n


def _simplify_parts(xy_px, part, pinned, tolerance):
    """Douglas-Peucker per chain between pinned vertices (pixel space), per-part ``tolerance``.

    Returns ``(xy, part, chain end)`` of the kept vertices; chain ends are
    the pinned vertices and each part's two ends.
    """
    start = np.r_[True, part[1:] != part[:-1]]
    end = np.r_[part[1:] != part[:-1], True]
    cut = pinned & ~start & ~end  # an interior pinned vertex ends one chain and starts the next
    reps = np.where(cut, 2, 1)
    pxy, ppart = np.repeat(xy_px, reps, axis=0), np.repeat(part, reps)
    new_chain = np.repeat(start, reps)
    first_copy = np.cumsum(reps) - reps
    new_chain[first_copy[cut] + 1] = True
    chain = np.cumsum(new_chain) - 1
    chain_part = ppart[np.flatnonzero(new_chain)]
    lines = shapely.linestrings(pxy, indices=chain)
    simple = shapely.simplify(lines, tolerance[chain_part], preserve_topology=True)
    sxy, schain = shapely.get_coordinates(simple, return_index=True)
    chain_start = np.r_[True, schain[1:] != schain[:-1]]
    chain_last = np.r_[schain[1:] != schain[:-1], True]
    spart = chain_part[schain]
    part_start = np.r_[True, spart[1:] != spart[:-1]]
    keep = ~chain_start | part_start  # the first vertex of a later chain repeats the previous chain's last
    return sxy[keep], spart[keep], (chain_start | chain_last)[keep]


def _round_parts(xy, part, decimals, exact, out):
    """Rounded LineStrings written into ``out`` at their part: ``decimals`` per part, :data:`FULL_DECIMALS`
    where ``exact`` (junctions and chain ends, so every part rounds a shared point alike); a part that
    would collapse keeps its unrounded vertices."""
    scale = 10.0 ** np.where(exact, FULL_DECIMALS, decimals[part])[:, None]
    rounded = np.round(xy * scale) / scale
    repeat = np.r_[False, (part[1:] == part[:-1]) & (rounded[1:] == rounded[:-1]).all(axis=1)]
    kept = np.bincount(part[~repeat], minlength=int(part.max()) + 1 if len(part) else 0)
    collapsed = kept[part] < 2
    rounded[collapsed] = xy[collapsed]
    repeat &= ~collapsed
    return shapely.linestrings(rounded[~repeat], indices=part[~repeat], out=out)


class _Shared:
    """What two full parts share (their intersection, in pixels), computed once per pair and kept."""

    def __init__(self, full, zoom):
        self.full, self.zoom, self.known = full, zoom, {}
        shapely.prepare(full)

    def __call__(self, i, j):
        a, b = np.minimum(i, j), np.maximum(i, j)
        keys = a.astype(np.int64) * len(self.full) + b
        todo = np.unique(keys[[k not in self.known for k in keys.tolist()]])
        if len(todo):
            ta, tb = todo // len(self.full), todo % len(self.full)
            meet = shapely.intersects(self.full[ta], self.full[tb])
            shared = np.full(len(todo), None, dtype=object)
            shared[meet] = _to_px(shapely.intersection(self.full[ta[meet]], self.full[tb[meet]]), self.zoom)
            self.known.update(zip(todo.tolist(), shared))
        return np.array([self.known[k] for k in keys.tolist()], dtype=object)


def _new_crossings(shared, shown, changed, zoom):
    """Parts among ``changed`` whose shown line meets another part more than a pixel from anything the two
    full parts share (a crossing, touch or overlap of the full lines is not new)."""
    c, other = shapely.STRtree(shown).query(shown[changed], predicate="intersects")
    i, j = changed[c], other
    keep = i != j
    i, j = i[keep], j[keep]
    if not len(i):
        return np.zeros(0, dtype=int)
    xy, pair = shapely.get_coordinates(shapely.intersection(shown[i], shown[j]), return_index=True)
    if not len(xy):
        return np.zeros(0, dtype=int)
    gap = np.full(len(xy), np.inf)
    common = shared(i[pair], j[pair])
    has = ~shapely.is_missing(common)
    gap[has] = shapely.distance(shapely.points(pixel_xy(xy[has], zoom)), common[has])
    new = gap > 1.0
    return np.unique(np.r_[i[pair[new]], j[pair[new]]])


def _simplified_parts(parts, zoom, decimals, lat):
    """Parts (LineStrings) simplified in pixel space with junctions kept and no new crossings, then rounded.

    A part that would cross another where the full lines do not is
    simplified again at half its tolerance (three times), then rounded to
    one more decimal at a time (rounding moves lines closer than a grid
    step across each other), then left unsimplified; only the parts that
    changed are checked again.
    """
    xy, part, pinned, n_parts = _junctions(parts)
    xy_px = pixel_xy(xy, zoom)
    full_parts = shapely.linestrings(xy, indices=part)  # with the junction points: the same lines
    shared = _Shared(full_parts, zoom)
    digits = np.full(n_parts, decimals)
    tolerance = TOLERANCE_PX - np.array([rounding_px(zoom, d, lat) for d in digits])
    halved = np.zeros(n_parts, dtype=int)
    shown = np.empty(n_parts, dtype=object)
    changed = np.arange(n_parts)
    for _ in range(_RETRIES + FULL_DECIMALS):  # each round escalates only the parts still crossing
        sel = np.isin(part, changed)
        sxy, spart, ends = _simplify_parts(xy_px[sel], part[sel], pinned[sel], tolerance)
        _round_parts(_lonlat_xy(sxy, zoom), spart, digits, ends, shown)
        changed = _new_crossings(shared, shown, changed, zoom)
        if not len(changed):
            return shown
        halve = changed[halved[changed] < 3]
        tolerance[halve] /= 2
        halved[halve] += 1
        finer = changed[(halved[changed] >= 3) & (digits[changed] < FULL_DECIMALS)]
        finer = np.setdiff1d(finer, halve)
        digits[finer] += 1
        last = changed[(digits[changed] >= FULL_DECIMALS) & (halved[changed] >= 3)]
        tolerance[np.setdiff1d(last, np.r_[halve, finer])] = 0.0
    shown[changed] = full_parts[changed]  # still crossing: as they are
    return shown


def _regroup(parts, owner, geoms):
    """Parts back into geometries of the input's types (LineString / MultiLineString, Polygon / MultiPolygon)."""
    out = np.empty(len(geoms), dtype=object)
    multi = np.isin(shapely.get_type_id(geoms), (5, 6))
    single = ~multi
    out[single] = parts[np.searchsorted(owner, np.flatnonzero(single))]
    if multi.any():
        sel = np.isin(owner, np.flatnonzero(multi))
        groups = np.unique(owner[sel], return_inverse=True)[1]
        make = shapely.multilinestrings if shapely.get_type_id(parts[0]) == 1 else shapely.multipolygons
        out[multi] = make(parts[sel], indices=groups)
    return out


def _simplify_lines(geoms, zoom, decimals, lat):
    parts, owner = shapely.get_parts(geoms, return_index=True)
    shown = _simplified_parts(parts, zoom, decimals, lat)
    return _regroup(shown, owner, geoms)


def _simplify_coverage(polys, zoom, decimals, lat):
    """A polygon coverage simplified edge by edge: every border once, as a line, then the faces rebuilt.

    Each shared border and coastline between junctions is simplified like a
    line (Douglas-Peucker in pixels, junctions kept, no new crossings), so
    neighbours keep one common edge and the drawn error stays within the
    tolerance; the faces are polygonized and given back to the polygon they
    overlap most. None when a polygon would lose its last face.
    """
    edges = shapely.get_parts(shapely.line_merge(shapely.union_all(shapely.boundary(polys))))
    shown = _simplified_parts(edges, zoom, decimals, lat)
    faces = shapely.get_parts(shapely.polygonize(shown))
    face_i, poly_i = shapely.STRtree(polys).query(faces, predicate="intersects")
    overlap = shapely.area(shapely.intersection(faces[face_i], polys[poly_i]))
    order = np.lexsort((-overlap, face_i))
    first = order[np.r_[True, face_i[order][1:] != face_i[order][:-1]]] if len(order) else order
    first = first[overlap[first] > 0]
    owner, face = poly_i[first], faces[face_i[first]]
    if len(np.unique(owner)) < len(polys):
        return None
    order = np.argsort(owner, kind="stable")
    out = _regroup(face[order], owner[order], polys)
    for i in np.flatnonzero(~shapely.is_valid(out)):  # its own faces touch along an edge: dissolve them
        merged = shapely.coverage_union_all(shapely.get_parts(out[i]))
        out[i] = shapely.multipolygons(shapely.get_parts(merged)) if shapely.get_type_id(polys[i]) == 6 else merged
    valid = shapely.is_valid(out).all() and shapely.coverage_is_valid(out)
    return out if valid else None


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
    simple = _to_lonlat(shapely.simplify(_to_px(polys, zoom), TOLERANCE_PX - rounding_px(zoom, decimals, lat),
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
