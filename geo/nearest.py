"""Exact nearest points on geodesic polylines: distance, foot and chainage.

The nearest point of a line to a query point is found on the ellipsoid, not
in a projected plane. A k-d tree over the earth-centred (ECEF) positions of
the line's dense vertices (:mod:`geo.topology`) proposes candidates; the
proposal is complete because a straight chord is never longer than the
geodesic: if the nearest vertex lies ``U`` km away, the foot lies on a
segment whose two ends are both within ``U + s`` km (``s`` the longest
segment), and every vertex within that chord radius is measured exactly
(``Geod.inv``). The foot is interior to a segment only where both its ends
face the query point (the azimuth to it is less than 90° off the segment),
so :func:`geo.geodesic.foot_on_geodesic` runs on those few segments only.
Near-ties far from the line (a 500 km corridor) are resolved by exact
geodesic distances, never by a plane.
"""

import numpy as np
from scipy.spatial import cKDTree

from geo.geodesic import GEOD, foot_on_geodesic

__all__ = ["ecef_km", "LineIndex", "nearest_on_lines", "nearest_per_part"]

_A_KM = GEOD.a / 1000.0
_E2 = GEOD.es
_PAIR_CHUNK = 250_000


def ecef_km(lonlat):
    """Earth-centred xyz (km) on the WGS84 ellipsoid of (n, 2) lon/lat degrees.

    The chord between two such points is never longer than their geodesic
    distance, so a chord radius of ``r`` km finds every point within ``r``.
    """
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    n = _A_KM / np.sqrt(1.0 - _E2 * np.sin(lat) ** 2)
    return np.column_stack([n * np.cos(lat) * np.cos(lon), n * np.cos(lat) * np.sin(lon),
                            n * (1.0 - _E2) * np.sin(lat)])


class LineIndex:
    """Dense line vertices in a k-d tree, with each segment's azimuths, for nearest-point queries.

    ``coords`` (n, 2) lon/lat, ``part`` the part of each vertex (consecutive
    vertices of one part form a segment), ``chain_km`` km along the part.
    """

    def __init__(self, coords, part, chain_km):
        self.coords = np.asarray(coords, dtype=float).reshape(-1, 2)
        self.part = np.asarray(part, dtype=int)
        self.chain_km = np.asarray(chain_km, dtype=float)
        seg = np.flatnonzero(self.part[1:] == self.part[:-1])
        self.seg_from = np.zeros(len(self.coords), dtype=bool)
        self.seg_from[seg] = True
        self.az_fwd = np.zeros(len(self.coords))  # at vertex i, azimuth of the segment i -> i+1
        self.az_back = np.zeros(len(self.coords))  # at vertex i+1, azimuth back to i (stored at i)
        self.longest_km = 0.0
        if len(seg):
            c = self.coords
            fwd, back, dist = GEOD.inv(c[seg, 0], c[seg, 1], c[seg + 1, 0], c[seg + 1, 1])
            self.az_fwd[seg], self.az_back[seg] = fwd, back
            self.longest_km = float(np.max(dist)) / 1000.0
        self.tree = cKDTree(ecef_km(self.coords)) if len(self.coords) else None

    @classmethod
    def of(cls, dense):
        """The index of a :class:`geo.topology.DenseLines`."""
        return cls(dense.coords, dense.part, dense.chain_km)

    def chain_at(self, vertex, fraction):
        """Chainage at ``fraction`` of the way from ``vertex`` to the next one (0: the vertex itself)."""
        vertex, fraction = np.asarray(vertex, dtype=int), np.asarray(fraction, dtype=float)
        nxt = np.minimum(vertex + 1, len(self.chain_km) - 1)
        return self.chain_km[vertex] + fraction * (self.chain_km[nxt] - self.chain_km[vertex])


def _facing(az_to_point, az_segment):
    return np.cos(np.radians(np.asarray(az_to_point) - az_segment)) > 0.0


def _best_feet(index, q, qi, vi, key):
    """Exact nearest point per (query, key) among candidate (query ``qi``, vertex ``vi``) pairs.

    ``key`` labels each pair (0 for one answer per query, the vertex's part
    for one per part). Returns arrays ``query, key, distance_km, lon, lat,
    vertex, fraction`` (the point lies ``fraction`` of the way from
    ``vertex`` to the next vertex; 0 at the vertex itself).
    """
    coords = index.coords
    _, az_v, d_m = GEOD.inv(q[qi, 0], q[qi, 1], coords[vi, 0], coords[vi, 1])
    d, az_v = np.asarray(d_m, dtype=float) / 1000.0, np.asarray(az_v, dtype=float)  # az_v: at the vertex
    # a segment may hold a nearer foot when its two ends are candidates of one key and both face the point
    pair_key = (qi.astype(np.int64) * (int(key.max()) + 2 if len(key) else 1) + key) * (len(coords) + 1) + vi
    sort = np.argsort(pair_key)
    nxt = np.minimum(np.searchsorted(pair_key[sort], pair_key + 1), len(pair_key) - 1)
    j = sort[nxt] if len(pair_key) else nxt
    seg = index.seg_from[vi] & (pair_key[j] == pair_key + 1) if len(pair_key) else np.zeros(0, dtype=bool)
    seg &= _facing(az_v, index.az_fwd[vi]) & _facing(np.where(seg, az_v[j], 0.0), index.az_back[vi])
    sq, sv = qi[seg], vi[seg]
    f, foot, fd = foot_on_geodesic(q[sq], coords[sv], coords[sv + 1])
    all_q = np.r_[qi, sq]
    all_key = np.r_[key, key[seg]]
    all_d = np.r_[d, fd]
    all_v = np.r_[vi, sv]
    all_f = np.r_[np.zeros(len(vi)), f]
    all_xy = np.r_[coords[vi], foot] if len(vi) else np.zeros((0, 2))
    order = np.lexsort((all_d, all_key, all_q))
    first = order[np.r_[True, (all_q[order][1:] != all_q[order][:-1]) | (all_key[order][1:] != all_key[order][:-1])]] \
        if len(order) else order
    return (all_q[first], all_key[first], all_d[first], all_xy[first, 0], all_xy[first, 1], all_v[first],
            all_f[first])


def _pairs(index, xyz, radius):
    hits = index.tree.query_ball_point(xyz, radius)
    counts = np.fromiter((len(h) for h in hits), dtype=int, count=len(hits))
    qi = np.repeat(np.arange(len(hits)), counts)
    vi = np.concatenate([np.asarray(h, dtype=int) for h in hits]) if counts.sum() else np.zeros(0, dtype=int)
    return qi, vi, counts


def _chunks(counts):
    """(first pair, last pair + 1) of chunks of whole queries, about _PAIR_CHUNK pairs each."""
    ends = np.cumsum(counts)
    cuts = np.unique(np.r_[np.searchsorted(ends, np.arange(_PAIR_CHUNK, ends[-1] if len(ends) else 0,
                                                             _PAIR_CHUNK)) + 1, len(counts)])
    for q0, q1 in zip(np.r_[0, cuts[:-1]], cuts):
        yield int(ends[q0 - 1]) if q0 else 0, int(ends[q1 - 1]) if q1 else 0


def nearest_on_lines(index, lon, lat):
    """Nearest point on the indexed lines to each (lon, lat): exact geodesic distance, foot and chainage.

    Returns a dict of arrays: ``distance_km``, ``lon``, ``lat`` (the foot),
    ``part``, ``chain_km`` (km from the start of that part), ``vertex`` and
    ``fraction`` (the foot lies that fraction of the way from ``vertex`` to
    the next vertex). With no lines: inf distances, part and vertex -1.
    """
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    n = len(lon)
    out = {"distance_km": np.full(n, np.inf), "lon": np.full(n, np.nan), "lat": np.full(n, np.nan),
           "part": np.full(n, -1), "chain_km": np.full(n, np.nan), "vertex": np.full(n, -1),
           "fraction": np.zeros(n)}
    if index.tree is None or n == 0:
        return out
    q = np.column_stack([lon, lat])
    xyz = ecef_km(q)
    k = min(4, len(index.coords))
    _, near = index.tree.query(xyz, k=k)
    near = np.asarray(near).reshape(n, k).ravel()
    upper = np.asarray(GEOD.inv(np.repeat(lon, k), np.repeat(lat, k), index.coords[near, 0],
                                index.coords[near, 1])[2]).reshape(n, k).min(axis=1) / 1000.0
    qi, vi, counts = _pairs(index, xyz, upper + index.longest_km + 1e-6)
    for p0, p1 in _chunks(counts):  # bounded memory; whole queries per chunk
        rows, _, d, x, y, v, f = _best_feet(index, q, qi[p0:p1], vi[p0:p1], np.zeros(p1 - p0, dtype=int))
        out["distance_km"][rows], out["lon"][rows], out["lat"][rows] = d, x, y
        out["vertex"][rows], out["fraction"][rows] = v, f
    found = out["vertex"] >= 0
    out["part"][found] = index.part[out["vertex"][found]]
    out["chain_km"][found] = index.chain_at(out["vertex"][found], out["fraction"][found])
    return out


def nearest_per_part(index, lon, lat, radius_km, *, skip_part=None):
    """For each query point, the exact nearest point on *every* part passing within ``radius_km`` (array ok).

    ``skip_part`` (one per query, or None) names a part to leave out (a
    line end is not joined to its own part). Returns a dict of arrays, one
    row per (query, part): ``query, part, distance_km, lon, lat, vertex,
    fraction`` with ``distance_km <= radius_km``.
    """
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    radius = np.broadcast_to(np.asarray(radius_km, dtype=float), lon.shape)
    names = ("query", "part", "distance_km", "lon", "lat", "vertex", "fraction")
    if index.tree is None or len(lon) == 0:
        return {k: np.zeros(0, dtype=int if k in ("query", "part", "vertex") else float) for k in names}
    q = np.column_stack([lon, lat])
    qi, vi, counts = _pairs(index, ecef_km(q), radius + index.longest_km + 1e-6)
    if skip_part is not None:
        keep = index.part[vi] != np.asarray(skip_part)[qi]
        qi, vi = qi[keep], vi[keep]
        counts = np.bincount(qi, minlength=len(lon))
    found = [[] for _ in names]
    for p0, p1 in _chunks(counts):  # bounded memory; whole queries per chunk
        res = _best_feet(index, q, qi[p0:p1], vi[p0:p1], index.part[vi[p0:p1]])
        ok = res[2] <= radius[res[0]]
        for store, values in zip(found, res):
            store.append(values[ok])
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in zip(names, found)}
