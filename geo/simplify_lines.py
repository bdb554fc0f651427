"""Lines simplified for display in Web Mercator pixels: junctions kept closed, no new crossings.

Used by :mod:`geo.simplify` for line layers and for the borders of polygon
coverages (each border simplified once, as a line). Douglas-Peucker
(``shapely.simplify``, topology-preserving) runs on chains between pinned
vertices; see :func:`simplified_parts`.
"""

import numpy as np
import shapely

from geo.pixels import FULL_DECIMALS, TOLERANCE_PX, lonlat_xy, pixel_xy, rounding_px, to_px

__all__ = ["RETRIES", "simplified_parts"]

RETRIES = 8


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
            shared[meet] = to_px(shapely.intersection(self.full[ta[meet]], self.full[tb[meet]]), self.zoom)
            self.known.update(zip(todo.tolist(), shared))
        return np.array([self.known[k] for k in keys.tolist()], dtype=object)


def _new_crossings(shared, shown, changed, zoom, slack_px):
    """Parts among ``changed`` that cross themselves where their full line does not (a ring turned bow-tie
    by rounding), or meet another part more than a pixel from anything the two full parts share (a
    crossing, touch or overlap of the full lines is not new); ``slack_px`` is that pixel."""
    selfish = changed[~shapely.is_simple(shown[changed]) & shapely.is_simple(shared.full[changed])]
    c, other = shapely.STRtree(shown).query(shown[changed], predicate="intersects")
    i, j = changed[c], other
    keep = i != j
    i, j = i[keep], j[keep]
    if not len(i):
        return selfish
    xy, pair = shapely.get_coordinates(shapely.intersection(shown[i], shown[j]), return_index=True)
    if not len(xy):
        return selfish
    gap = np.full(len(xy), np.inf)
    common = shared(i[pair], j[pair])
    has = ~shapely.is_missing(common)
    gap[has] = shapely.distance(shapely.points(pixel_xy(xy[has], zoom)), common[has])
    new = gap > slack_px
    return np.unique(np.r_[selfish, i[pair[new]], j[pair[new]]])


def simplified_parts(parts, zoom, decimals, lat, *, exact_meetings=False):
    """Parts (LineStrings) simplified in pixel space with junctions kept and no new crossings, then rounded.

    A part that would cross another where the full lines do not is
    simplified again at half its tolerance (three times), then rounded to
    one more decimal at a time (rounding moves lines closer than a grid
    step across each other), then left unsimplified; only the parts that
    changed are checked again. With ``exact_meetings`` (the borders of a
    coverage, which meet only at their ends) parts may meet only where the
    full parts do, to a micro-pixel.
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
    for _ in range(RETRIES + FULL_DECIMALS):  # each round escalates only the parts still crossing
        sel = np.isin(part, changed)
        sxy, spart, ends = _simplify_parts(xy_px[sel], part[sel], pinned[sel], tolerance)
        _round_parts(lonlat_xy(sxy, zoom), spart, digits, ends, shown)
        changed = _new_crossings(shared, shown, changed, zoom, 1e-6 if exact_meetings else 1.0)
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
