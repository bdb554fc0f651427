"""Bench: bbox queries through the STRtree against a full scan, 1k / 10k / 100k features.

Synthetic layers of short seeded random-walk lines over the region; the
query box is the Karachi test box (0.35° x 0.3°). The full scan tests every
geometry (``shapely.intersects`` over the whole array); the index
(``layers.index.query_bbox``) descends the tree to the few candidates.
Growth per tenfold layer size shows the index is sublinear, the scan linear.
"""

import numpy as np
import shapely

from bench.common import Row, fmt_s, median_s, time_calls
from bench.geodesic import synthetic_lines
from layers.index import build_tree, query_bbox

__all__ = ["NAME", "SIZES", "run"]

NAME = "bbox"
SIZES = (1_000, 10_000, 100_000)
KARACHI = (66.9, 24.75, 67.25, 25.05)


def _per_call(fn, *, budget_s):
    """Median seconds of one call, timing batches so microsecond calls are measurable."""
    batch = 1
    while True:
        t = median_s(time_calls(lambda n=batch: [fn() for _ in range(n)], repeats=1, budget_s=budget_s))
        if t > 0.02 or batch >= 10_000:
            break
        batch *= 10
    return median_s(time_calls(lambda: [fn() for _ in range(batch)], repeats=5, budget_s=budget_s)) / batch


def run(*, budget_s=40.0):
    box = shapely.box(*KARACHI)
    results = []
    for n in SIZES:
        _, _, geoms = synthetic_lines(n, 10, seed=n)
        t_build = median_s(time_calls(lambda g=geoms: build_tree(g), repeats=3, budget_s=budget_s / 12))
        tree = build_tree(geoms)
        hits = query_bbox(tree, KARACHI)
        assert hits.tolist() == np.flatnonzero(shapely.intersects(geoms, box)).tolist()
        t_index = _per_call(lambda t=tree: query_bbox(t, KARACHI), budget_s=budget_s / 12)
        t_scan = _per_call(lambda g=geoms: np.flatnonzero(shapely.intersects(g, box)), budget_s=budget_s / 12)
        results.append((n, len(hits), t_build, t_index, t_scan))
        print(f"  {n:>7,} features: {len(hits):3d} hits  index {fmt_s(t_index):>9s}  full scan {fmt_s(t_scan):>9s}"
              f"  ({t_scan / t_index:,.0f}x)  tree build {fmt_s(t_build)} once")
    growth_index = results[-1][3] / results[0][3]
    growth_scan = results[-1][4] / results[0][4]
    print(f"  1k -> 100k features (100x): index time x{growth_index:.1f}, full scan x{growth_scan:.0f}")
    rows = [Row("bbox index", f"{n // 1000}k features: index / full scan",
                f"{fmt_s(ti)} / {fmt_s(ts)}") for n, _, _, ti, ts in results]
    rows.append(Row("bbox index", "time growth 1k -> 100k: index / scan", f"x{growth_index:.1f} / x{growth_scan:.0f}",
                    "sublinear (< x100)"))
    return rows
