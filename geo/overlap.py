"""Where two routes run together and where they cross, on the ellipsoid.

Both routes become corridors (:mod:`geo.corridor`); the km of A within B's
band (and B within A's) are geodesic lengths of A's dense, seam-safe
pieces clipped to B's band. Shared runs and crossings get their chainage
from the exact nearest point on each route (:mod:`geo.nearest`); runs cut
only by the antimeridian or a piece boundary are joined again. Two routes
that both pass a pole (within the 1.5 km that :mod:`geo.topology` treats as
passing over it) cross there.
"""

import numpy as np
import shapely

from geo.corridor import MAX_PIECE_KM, build_corridor
from geo.geodesic import geodesic_length_km
from geo.nearest import nearest_on_lines

__all__ = ["overlap"]

_JOIN_KM = 1e-3  # runs whose chainages meet within a metre are one run


def _chainage(corridor, xy):
    near = nearest_on_lines(corridor.index, xy[:, 0], xy[:, 1])
    return corridor.chainage(near["part"], near["chain_km"])


def _stretches(corridor, shared):
    """Shared runs of the route, as sorted, merged chainage intervals with their geodesic km."""
    runs = shapely.get_parts(shapely.line_merge(shared)) if not shared.is_empty else np.empty(0, dtype=object)
    runs = runs[shapely.get_type_id(runs) == 1] if len(runs) else runs
    if not len(runs):
        return []
    ends = shapely.get_coordinates(np.r_[shapely.get_point(runs, 0), shapely.get_point(runs, -1)])
    chain = _chainage(corridor, ends)
    k = len(runs)
    lo, hi = np.minimum(chain[:k], chain[k:]), np.maximum(chain[:k], chain[k:])
    km = geodesic_length_km(runs)
    order = np.argsort(lo)
    out = []
    for a, b, length in zip(lo[order], hi[order], km[order]):  # one per run: a handful
        if out and a - out[-1]["to_chainage_km"] <= _JOIN_KM:
            out[-1]["to_chainage_km"] = max(out[-1]["to_chainage_km"], b)
            out[-1]["length_km"] += length
        else:
            out.append({"from_chainage_km": a, "to_chainage_km": b, "length_km": length})
    return [{k: round(float(v), 3) for k, v in s.items()} for s in out]


def _poles(corridor):
    """Latitudes (+90, -90) of the poles a route passes (its planar pieces run to them)."""
    xy = shapely.get_coordinates(corridor.dense.pieces)
    return {p for p in (90.0, -90.0) if len(xy) and (xy[:, 1] == p).any()}


def _crossings(ca, cb):
    touch = shapely.intersection(ca.route, cb.route)
    pts = shapely.get_parts(touch) if not touch.is_empty else np.empty(0, dtype=object)
    pts = pts[shapely.get_type_id(pts) == 0] if len(pts) else pts
    xy = shapely.get_coordinates(pts) if len(pts) else np.zeros((0, 2))
    # in lon/lat a pole is a line: two routes over one pole meet there at different longitudes
    poles = np.array([[0.0, lat] for lat in sorted(_poles(ca) & _poles(cb))], dtype=float).reshape(-1, 2)
    xy = np.concatenate([xy, poles])
    if not len(xy):
        return []
    on_a, on_b = _chainage(ca, xy), _chainage(cb, xy)
    out = []
    for i in np.argsort(on_a, kind="stable"):  # one per crossing
        if out and abs(on_a[i] - out[-1]["chainage_a_km"]) <= _JOIN_KM:
            continue  # the same crossing on both sides of 180 degrees
        out.append({"lon": round(float(xy[i, 0]), 5), "lat": round(float(xy[i, 1]), 5),
                    "chainage_a_km": round(float(on_a[i]), 3), "chainage_b_km": round(float(on_b[i]), 3)})
    return out


def overlap(route_a, route_b, width_km, *, max_piece_km=MAX_PIECE_KM):
    """Where two lon/lat routes run together and where they cross.

    Returns a dict: ``a_within_b_km`` (geodesic km of A within ``width_km``
    of B), ``b_within_a_km``, ``stretches`` (each shared run of A: from/to
    chainage on A, km), ``crossings`` (lon, lat, chainage on A and on B),
    and ``shared`` (the part of A within the band, lon/lat geometry).
    """
    ca = build_corridor(route_a, width_km, max_piece_km=max_piece_km)
    cb = build_corridor(route_b, width_km, max_piece_km=max_piece_km)
    shared = shapely.intersection(ca.route, cb.polygon)
    b_shared = shapely.intersection(cb.route, ca.polygon)
    return {
        "width_km": ca.width_km,
        "a_length_km": round(ca.length_km, 3),
        "b_length_km": round(cb.length_km, 3),
        "a_within_b_km": round(float(geodesic_length_km([shared])[0]), 3),
        "b_within_a_km": round(float(geodesic_length_km([b_shared])[0]), 3),
        "stretches": _stretches(ca, shared),
        "crossings": _crossings(ca, cb),
        "shared": shared,
    }
