"""Lines made ready for topology: the one helper behind every topological step.

Shapely decides intersections on planar lon/lat coordinates, where a straight
segment is not the geodesic, a segment from 179°E to 179°W runs the long way
round, and a pole is a whole line. Every topological step in :mod:`geo`
(per-country split and border crossings, corridors, overlaps, network
snapping and attachment) therefore works on :func:`dense_lines` output:

1. the RFC 7946 split form is rejoined: consecutive parts of a MultiLineString
   that meet at ±180° at one latitude become one logical part;
2. every part is densified along the geodesic to at most
   :data:`TOPOLOGY_STEP_KM` (2 km), where the planar chord and the geodesic
   part by 0.05 m at 30°, 0.5 m at 80° and 5 m at 89° of latitude;
3. each vertex carries its chainage: geodesic km from the start of its part;
4. for planar work the parts are cut into *pieces* at the antimeridian and
   where they pass a pole, so no piece crosses 180° or runs along a pole line.

Lengths and chainages are measured on the ellipsoid, never on the planar
pieces; a point found on a piece gets its chainage by interpolating the
vertex chainages of its 2 km segment.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo.geodesic import GEOD, as_geometry_array, densify_coords, distance_km

__all__ = ["TOPOLOGY_STEP_KM", "DenseLines", "dense_lines", "line_parts", "planar_geometries"]

TOPOLOGY_STEP_KM = 2.0
_SEAM_EPS = 1e-9  # degrees: a part ending this close to ±180 at the next part's latitude continues it
_POLE_LAT = 89.9  # a 2 km segment turning > 90° of longitude up here passes within 1.5 km of the pole


def line_parts(geoms):
    """Single LineString parts of the line geometries in ``geoms`` and the index of their geometry.

    Points, polygons, missing and empty geometries contribute no part.
    """
    geoms = as_geometry_array(geoms)
    is_line = np.isin(shapely.get_type_id(geoms), (1, 5)) & ~shapely.is_empty(geoms)
    parts, owner = shapely.get_parts(geoms[is_line], return_index=True)
    keep = shapely.get_num_coordinates(parts) >= 1
    return parts[keep], np.flatnonzero(is_line)[owner[keep]]


def _rejoin_seam(coords, coord_part, part_owner):
    """Logical part of every input part: RFC 7946 halves meeting at ±180° share one."""
    n_parts = len(part_owner)
    if n_parts == 0:
        return np.zeros(0, dtype=int)
    first = np.r_[0, np.flatnonzero(np.diff(coord_part)) + 1]
    last = np.r_[first[1:] - 1, len(coords) - 1]
    end, start = coords[last[:-1]], coords[first[1:]]
    joins = ((part_owner[1:] == part_owner[:-1]) & (np.abs(np.abs(end[:, 0]) - 180.0) < _SEAM_EPS)
             & (np.abs(end[:, 0] + start[:, 0]) < _SEAM_EPS) & (np.abs(end[:, 1] - start[:, 1]) < _SEAM_EPS))
    return np.r_[0, np.cumsum(~joins)]


@dataclass(frozen=True)
class DenseLines:
    """Logical line parts densified along the geodesic, with chainage and planar pieces.

    Vertex arrays (``coords``, ``part``, ``chain_km``) hold every part in
    order; part arrays give each part's geometry (``part_owner``), its
    index within that geometry, its length and the km of the geometry's
    earlier parts (``part_offset_km``: chainage that runs on across parts).
    ``pieces`` are planar LineStrings within [-180, 180] x [-90, 90]: a part
    cut at the antimeridian and at pole passages (``piece_part``).
    """

    coords: np.ndarray
    part: np.ndarray
    chain_km: np.ndarray
    part_owner: np.ndarray
    part_index: np.ndarray
    part_length_km: np.ndarray
    part_offset_km: np.ndarray
    n_geoms: int
    pieces: np.ndarray
    piece_part: np.ndarray
    _piece_keys: tuple  # (first vertex of each piece + the end, planar position in its piece, chainage)

    @property
    def segments(self):
        """Indices ``i`` of the dense segments (vertex i to i + 1 of one part)."""
        return np.flatnonzero(self.part[1:] == self.part[:-1])

    def chain_at(self, piece, along):
        """Chainage (km within its part) at planar distance ``along`` (degrees) from the start of each piece."""
        start, pos, chain = self._piece_keys
        piece = np.asarray(piece, dtype=int)
        if piece.size == 0:
            return np.zeros(0)
        along = np.broadcast_to(np.asarray(along, dtype=float), piece.shape)
        # the piece's last vertex at or before ``along``: a binary search within each piece, vectorised over
        # queries (log2 of the longest piece's vertex count steps); only that piece's own numbers are read
        lo, hi = start[piece], start[piece + 1] - 2
        while np.any(lo < hi):
            mid = (lo + hi + 1) // 2
            ahead = pos[mid] <= along
            lo, hi = np.where(ahead, mid, lo), np.where(ahead, hi, mid - 1)
        x0, x1, y0, y1 = pos[lo], pos[lo + 1], chain[lo], chain[lo + 1]
        t = np.divide(np.clip(along, x0, x1) - x0, x1 - x0, out=np.zeros(piece.shape), where=x1 > x0)
        return y0 + t * (y1 - y0)

    def chainage_on_pieces(self, points, piece):
        """Chainage (km within its part) of points lying on the given pieces."""
        points = np.asarray(points, dtype=object)
        piece = np.asarray(piece, dtype=int)
        if len(points) == 0:
            return np.zeros(0)
        return self.chain_at(piece, shapely.line_locate_point(self.pieces[piece], points))

    def geometries(self):
        """One planar (Multi)LineString of pieces per input geometry (None where it had no line)."""
        out = np.full(self.n_geoms, None, dtype=object)
        if len(self.pieces) == 0:
            return out
        owner = self.part_owner[self.piece_part]  # non-decreasing: pieces follow their geometries
        groups, inverse, counts = np.unique(owner, return_inverse=True, return_counts=True)
        multi = shapely.multilinestrings(self.pieces, indices=inverse)
        first = np.r_[0, np.cumsum(counts)[:-1]]
        out[groups] = np.where(counts == 1, self.pieces[first], multi)
        return out


def _pole_and_seam_cuts(coords, part, chain):
    """Where each dense segment must be cut for planar work: (segment index, end point, start point, chainage).

    A segment that turns more than 90° of longitude next to a pole passes it:
    the piece ends at the pole on the incoming meridian and the next starts
    there on the outgoing one. Otherwise, a segment whose longitudes differ by
    more than 180° crosses the antimeridian: it is cut at ±180° (latitude
    interpolated along the 2 km segment). A segment is cut at most once.
    """
    seg = np.flatnonzero(part[1:] == part[:-1])
    a, b = coords[seg], coords[seg + 1]
    dlon = (b[:, 0] - a[:, 0] + 180.0) % 360.0 - 180.0
    polar = (np.minimum(np.abs(a[:, 1]), np.abs(b[:, 1])) > _POLE_LAT) & (np.abs(dlon) > 90.0)
    seam = ~polar & (np.abs(b[:, 0] - a[:, 0]) > 180.0)
    cuts_seg, ends, starts, cut_chain = [], [], [], []
    if polar.any():
        i = np.flatnonzero(polar)
        pole = np.sign(a[i, 1] + b[i, 1]) * 90.0
        d_a = distance_km(a[i, 0], a[i, 1], a[i, 0], pole)
        d_b = distance_km(b[i, 0], b[i, 1], b[i, 0], pole)
        t = np.where(d_a + d_b > 0, d_a / np.maximum(d_a + d_b, 1e-300), 0.5)
        cuts_seg.append(seg[i])
        ends.append(np.column_stack([a[i, 0], pole]))
        starts.append(np.column_stack([b[i, 0], pole]))
        cut_chain.append(chain[seg[i]] + t * (chain[seg[i] + 1] - chain[seg[i]]))
    if seam.any():
        i = np.flatnonzero(seam)
        side = np.sign(a[i, 0])  # the side of 180° the segment leaves from
        lon_b = b[i, 0] + 360.0 * side
        span = lon_b - a[i, 0]  # zero for the rejoined RFC 7946 seam (180 -> -180 at one latitude)
        t = np.divide(180.0 * side - a[i, 0], span, out=np.zeros(len(i)), where=span != 0)
        lat = a[i, 1] + t * (b[i, 1] - a[i, 1])
        cuts_seg.append(seg[i])
        ends.append(np.column_stack([180.0 * side, lat]))
        starts.append(np.column_stack([-180.0 * side, lat]))
        cut_chain.append(chain[seg[i]] + t * (chain[seg[i] + 1] - chain[seg[i]]))
    if not cuts_seg:
        return np.zeros(0, dtype=int), np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0)
    cuts_seg = np.concatenate(cuts_seg)
    order = np.argsort(cuts_seg, kind="stable")
    return (cuts_seg[order], np.concatenate(ends)[order], np.concatenate(starts)[order],
            np.concatenate(cut_chain)[order])


def _cumsum_within(values, group):
    """Running sum of ``values`` that restarts at each new value of ``group`` (ids in contiguous runs).

    Each group's sums are the same floats whatever comes before it, so a
    feature's figures never depend on its place in the layer (a running sum
    over the whole layer, minus its value at the group's start, does: it
    made one of 1,000,000 lengths differ by 0.001 km between one process
    and Dask partitions).
    """
    return pd.Series(np.asarray(values, dtype=float)).groupby(np.asarray(group), sort=False).cumsum().to_numpy()


def _planar_pieces(coords, part, chain):
    """Cut the dense parts into planar pieces; returns (pieces, piece_part, piece keys)."""
    n = len(coords)
    if n == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=int), (np.zeros(1, dtype=int), np.zeros(0), np.zeros(0))
    cut_seg, ends, starts, cut_chain = _pole_and_seam_cuts(coords, part, chain)
    # every vertex emits itself; a cut segment's first vertex also emits the piece end and the next start
    emits = np.ones(n, dtype=int)
    np.add.at(emits, cut_seg, 2)
    pos = np.cumsum(emits) - emits
    total = int(emits.sum())
    xy = np.empty((total, 2))
    ch = np.empty(total)
    xy[pos], ch[pos] = coords, chain
    new_piece = np.zeros(total, dtype=bool)
    new_piece[pos[np.r_[True, part[1:] != part[:-1]]]] = True
    end_at = pos[cut_seg] + 1
    xy[end_at], ch[end_at] = ends, cut_chain
    xy[end_at + 1], ch[end_at + 1] = starts, cut_chain
    new_piece[end_at + 1] = True
    piece_id = np.cumsum(new_piece) - 1
    vertex_part = np.repeat(part, emits)
    counts = np.bincount(piece_id)
    keep = counts[piece_id] >= 2
    xy, ch, piece_id, vertex_part = xy[keep], ch[keep], piece_id[keep], vertex_part[keep]
    _, piece_id = np.unique(piece_id, return_inverse=True)
    pieces = shapely.linestrings(xy, indices=piece_id)
    first = np.r_[0, np.flatnonzero(np.diff(piece_id)) + 1]
    piece_part = vertex_part[first]
    # planar position of each vertex along its piece
    step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
    step[first] = 0.0
    in_piece = _cumsum_within(step, piece_id)
    return pieces, piece_part, (np.r_[first, len(xy)], in_piece, ch)


def dense_lines(geoms, *, step_km=TOPOLOGY_STEP_KM):
    """The :class:`DenseLines` of the line geometries in ``geoms`` (EPSG:4326 lon/lat).

    Non-line geometries contribute nothing (their geometry index simply has
    no part). ``step_km`` is the longest dense segment (geodesic km).
    """
    geoms = as_geometry_array(geoms)
    parts, owner = line_parts(geoms)
    coords, coord_part = shapely.get_coordinates(parts, return_index=True)
    logical = _rejoin_seam(coords, coord_part, owner)
    part_owner = owner[np.r_[0, np.flatnonzero(np.diff(logical)) + 1]] if len(logical) else np.zeros(0, dtype=int)
    vertex_logical = logical[coord_part] if len(coords) else np.zeros(0, dtype=int)
    if len(coords):
        # GEOS misplaces intersections on subnormal coordinates (a line at lon 5e-324 met a border 500 m off
        # it); below 2.2e-308 degrees a coordinate is zero on the ground
        coords = np.where(np.abs(coords) < np.finfo(float).tiny, 0.0, coords)
        coords, vertex_logical = densify_coords(coords, vertex_logical, step_km)
        # the point of a pole has no longitude: give it the incoming one, so the pole cut is clean
        at_pole = np.abs(coords[:, 1]) >= 90.0 - 1e-12
        if at_pole.any():
            prev = np.maximum(np.flatnonzero(at_pole) - 1, 0)
            coords[at_pole, 0] = coords[prev, 0]
    same = vertex_logical[1:] == vertex_logical[:-1]
    seg_km = np.where(same, distance_km(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1]), 0.0) \
        if len(coords) > 1 else np.zeros(0)
    first = np.r_[0, np.flatnonzero(~same) + 1] if len(coords) else np.zeros(0, dtype=int)
    counts = np.diff(np.r_[first, len(coords)])
    chain = _cumsum_within(np.r_[0.0, seg_km], vertex_logical) if len(coords) else np.zeros(0)
    last = first + counts - 1
    part_length = chain[last] if len(coords) else np.zeros(0)
    n_parts = len(part_owner)
    # index within the geometry and km of the geometry's earlier parts
    geom_first = np.r_[True, part_owner[1:] != part_owner[:-1]] if n_parts else np.zeros(0, dtype=bool)
    group_start = np.maximum.accumulate(np.where(geom_first, np.arange(n_parts), 0)) if n_parts else geom_first
    part_index = np.arange(n_parts) - group_start
    earlier = np.where(geom_first, 0.0, np.r_[0.0, part_length[:-1]]) if n_parts else np.zeros(0)
    part_offset = _cumsum_within(earlier, part_owner) if n_parts else np.zeros(0)
    pieces, piece_part, keys = _planar_pieces(coords, vertex_logical, chain)
    return DenseLines(coords, vertex_logical, chain, part_owner, part_index, part_length, part_offset, len(geoms),
                      pieces, piece_part, keys)


def planar_geometries(geoms):
    """``geoms`` as planar shapely work may read them: lines as their :func:`dense_lines` pieces, others as given.

    A raw sparse line is a planar chord, not the geodesic (40° of
    longitude along 60°N bulges 169.5 km north of it), and a raw segment
    from 178°E to 178°W runs the long way round: an index or a test over
    raw lines misses what the geodesic meets. Points and polygons pass
    through unchanged.
    """
    geoms = as_geometry_array(geoms)
    planar = dense_lines(geoms).geometries()
    return np.where(shapely.is_missing(planar), geoms, planar)


def geodesic_point_at(lon0, lat0, lon1, lat1, fraction):
    """Points at ``fraction`` (0..1) of the way along the geodesics from (lon0, lat0) to (lon1, lat1)."""
    az, _, dist = GEOD.inv(lon0, lat0, lon1, lat1)
    lon, lat, _ = GEOD.fwd(lon0, lat0, az, np.asarray(dist) * fraction)
    return np.column_stack([np.asarray(lon, dtype=float).ravel(), np.asarray(lat, dtype=float).ravel()])
