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

__all__ = ["ecef_km", "LineIndex", "nearest_on_lines"]

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
    """Dense line vertices in a k-d tree, with each segment's azimuths, for :func:`nearest_on_lines`."""

    def __init__(self, dense):
        self.dense = dense
        coords = dense.coords
        self.coords = coords
        seg = dense.segments
        self.seg_from = np.zeros(len(coords), dtype=bool)
        self.seg_from[seg] = True
        self.az_fwd = np.zeros(len(coords))  # at vertex i, azimuth of the segment i -> i+1
        self.az_back = np.zeros(len(coords))  # at vertex i+1, azimuth back to i (stored at i)
        self.longest_km = 0.0
        if len(seg):
            fwd, back, dist = GEOD.inv(coords[seg, 0], coords[seg, 1], coords[seg + 1, 0], coords[seg + 1, 1])
            self.az_fwd[seg], self.az_back[seg] = fwd, back
            self.longest_km = float(np.max(dist)) / 1000.0
        self.tree = cKDTree(ecef_km(coords)) if len(coords) else None


def _facing(az_to_point, az_segment):
    return np.cos(np.radians(np.asarray(az_to_point) - az_segment)) > 0.0


def nearest_on_lines(index, lon, lat):
    """Nearest point on the indexed lines to each (lon, lat): exact geodesic distance, foot and chainage.

    Returns a dict of arrays: ``distance_km``, ``lon``, ``lat`` (the foot),
    ``part`` (logical part of :attr:`LineIndex.dense`), ``chain_km`` (km
    from the start of that part) and ``segment`` (the dense vertex starting
    the segment holding the foot). With no lines: inf distances, part -1.
    """
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    n = len(lon)
    out = {"distance_km": np.full(n, np.inf), "lon": np.full(n, np.nan), "lat": np.full(n, np.nan),
           "part": np.full(n, -1), "chain_km": np.full(n, np.nan), "segment": np.full(n, -1)}
    if index.tree is None or n == 0:
        return out
    coords, chain = index.coords, index.dense.chain_km
    q = np.column_stack([lon, lat])
    xyz = ecef_km(q)
    k = min(4, len(coords))
    _, near = index.tree.query(xyz, k=k)
    near = np.asarray(near).reshape(n, k)
    upper = np.asarray(GEOD.inv(np.repeat(lon, k), np.repeat(lat, k), coords[near.ravel(), 0],
                                coords[near.ravel(), 1])[2]).reshape(n, k).min(axis=1) / 1000.0
    hits = index.tree.query_ball_point(xyz, upper + index.longest_km + 1e-6)
    counts = np.fromiter((len(h) for h in hits), dtype=int, count=n)
    qi = np.repeat(np.arange(n), counts)
    vi = np.concatenate([np.asarray(h, dtype=int) for h in hits]) if counts.sum() else np.zeros(0, dtype=int)
    best = np.full(n, np.inf)
    # chunks of whole query points (a segment needs both its ends in one chunk), for bounded memory
    ends = np.cumsum(counts)
    cuts = np.unique(np.r_[np.searchsorted(ends, np.arange(_PAIR_CHUNK, len(qi), _PAIR_CHUNK)) + 1, n])
    for q0, q1 in zip(np.r_[0, cuts[:-1]], cuts):
        lo, hi = (ends[q0 - 1] if q0 else 0), ends[q1 - 1]
        pq, pv = qi[lo:hi], vi[lo:hi]
        _, back_az, d_m = GEOD.inv(lon[pq], lat[pq], coords[pv, 0], coords[pv, 1])
        d, az_v = np.asarray(d_m) / 1000.0, np.asarray(back_az)  # az_v: at the vertex, towards the point
        # the nearest vertex of each point
        order = np.lexsort((d, pq))
        first = order[np.r_[True, pq[order][1:] != pq[order][:-1]]]
        better = d[first] < best[pq[first]]
        rows, take = pq[first][better], first[better]
        best[rows] = d[take]
        out["lon"][rows], out["lat"][rows] = coords[pv[take], 0], coords[pv[take], 1]
        out["segment"][rows] = np.where(index.seg_from[pv[take]] | (pv[take] == 0), pv[take], pv[take] - 1)
        out["part"][rows] = index.dense.part[pv[take]]
        out["chain_km"][rows] = chain[pv[take]]
        # segments whose both ends face the point may hold a nearer foot
        key = pq.astype(np.int64) * (len(coords) + 1) + pv
        sort = np.argsort(key)
        nxt = np.searchsorted(key[sort], key + 1)
        has_next = (nxt < len(key)) & (key[sort][np.minimum(nxt, len(key) - 1)] == key + 1)
        j = sort[np.minimum(nxt, len(key) - 1)]
        seg = index.seg_from[pv] & has_next
        seg &= _facing(az_v, index.az_fwd[pv]) & _facing(np.where(seg, az_v[j], 0.0), index.az_back[pv])
        if seg.any():
            sq, sa = pq[seg], pv[seg]
            f, foot, fd = foot_on_geodesic(q[sq], coords[sa], coords[sa + 1])
            order = np.lexsort((fd, sq))
            first = order[np.r_[True, sq[order][1:] != sq[order][:-1]]]
            better = fd[first] < best[sq[first]]
            rows, take = sq[first][better], first[better]
            best[rows] = fd[take]
            out["lon"][rows], out["lat"][rows] = foot[take, 0], foot[take, 1]
            out["segment"][rows] = sa[take]
            out["part"][rows] = index.dense.part[sa[take]]
            out["chain_km"][rows] = chain[sa[take]] + f[take] * (chain[sa[take] + 1] - chain[sa[take]])
    out["distance_km"] = best
    return out
