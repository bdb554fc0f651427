"""Bench 1: geodesic length of 1,000,000 vertices, ours against bare pyproj.

10,000 seeded random-walk lines of 100 vertices over the project region.
``geo.geodesic.geodesic_length_km`` (from shapely geometries, parts and
coordinates extracted inside) against, on the same coordinate arrays,
(a) ``Geod.line_lengths`` called once per line, and (b) one vectorised
``Geod.inv`` over all 990,000 segments, the floor for this ellipsoid code.
"""

import numpy as np
import shapely

from bench.common import Row, fmt_s, median_s, time_calls
from geo.geodesic import GEOD, geodesic_length_km
from layers.schema import REGION_BBOX

__all__ = ["NAME", "synthetic_lines", "run"]

NAME = "geodesic"
N_LINES = 10_000
N_VERTICES = 100


def synthetic_lines(n_lines=N_LINES, n_vertices=N_VERTICES, *, seed=20240501):
    """Random walks (steps ~5 km) from uniform starts in the region: ``(lon, lat, geoms)``."""
    rng = np.random.default_rng(seed)
    lon0, lat0, lon1, lat1 = REGION_BBOX
    start_lon = rng.uniform(lon0, lon1, n_lines)
    start_lat = rng.uniform(lat0, lat1, n_lines)
    steps = rng.normal(0.0, 0.05, (n_lines, n_vertices, 2))
    steps[:, 0] = 0.0
    lon = start_lon[:, None] + np.cumsum(steps[:, :, 0], axis=1)
    lat = start_lat[:, None] + np.cumsum(steps[:, :, 1], axis=1)
    coords = np.stack([lon, lat], axis=-1).reshape(-1, 2)
    geoms = shapely.linestrings(coords, indices=np.repeat(np.arange(n_lines), n_vertices))
    return lon, lat, geoms


def run(*, budget_s=60.0):
    lon, lat, geoms = synthetic_lines()
    n_lines, n_vertices = lon.shape
    segments = n_lines * (n_vertices - 1)
    print(f"  {n_lines:,} lines x {n_vertices} vertices = {lon.size:,} vertices, {segments:,} segments")

    def ours():
        return geodesic_length_km(geoms)

    def per_line():
        return np.array([GEOD.line_lengths(lon[i], lat[i]).sum() for i in range(n_lines)]) / 1000.0

    def one_inv():
        _, _, dist_m = GEOD.inv(lon[:, :-1].ravel(), lat[:, :-1].ravel(), lon[:, 1:].ravel(), lat[:, 1:].ravel())
        return np.asarray(dist_m).reshape(n_lines, n_vertices - 1).sum(axis=1) / 1000.0

    # same numbers first: a fast wrong answer is no answer
    reference = ours()
    assert np.allclose(reference, per_line(), rtol=0, atol=1e-6)
    assert np.allclose(reference, one_inv(), rtol=0, atol=1e-6)
    # interleave the three so background load hits each alike
    times = {"ours": [], "per_line": [], "one_inv": []}
    for _ in range(5):
        for name, fn in (("ours", ours), ("per_line", per_line), ("one_inv", one_inv)):
            times[name] += time_calls(fn, repeats=1, budget_s=budget_s / 15)
    med = {k: median_s(v) for k, v in times.items()}
    r_line = med["ours"] / med["per_line"]
    r_inv = med["ours"] / med["one_inv"]
    print(f"  geo.geodesic.geodesic_length_km    median {fmt_s(med['ours'])}  "
          f"({lon.size / med['ours'] / 1e6:.2f} M vertices/s)")
    print(f"  Geod.line_lengths, once per line   median {fmt_s(med['per_line'])}")
    print(f"  Geod.inv, one call, all segments   median {fmt_s(med['one_inv'])}")
    print(f"  ratio ours / line_lengths-per-line = {r_line:.2f}x ; ours / one vectorised inv = {r_inv:.2f}x")
    return [
        Row("1 geodesic", "1M-vertex lengths, ours", fmt_s(med["ours"])),
        Row("1 geodesic", "ours / Geod.line_lengths per line", f"{r_line:.2f}x", "≤ 1.5x"),
        Row("1 geodesic", "ours / one vectorised Geod.inv", f"{r_inv:.2f}x", "≤ 1.5x"),
    ]
