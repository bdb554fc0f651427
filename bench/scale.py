"""Bench 12: scale -- a big synthetic line layer and the GEM file: import, statistics on Dask, OGC API peers.

``BENCH_SCALE_FEATURES`` (default 100,000; the issue's run: 1,000,000)
two-vertex pipelines over Pakistan (``bench/synthetic.py``'s layout, built
vectorised) and the GEM Asia gas tracker's 1,174 pipeline routes (the only
GEM tracker in data/raw: what "GEM worldwide" can be here). Measured side
by side in one run, printed, never judged:

- import: the layer-folder read of a GeoParquet file (what start-up does:
  read, validate, countries from the boundaries), and the load into
  PostGIS (COPY + GiST index + ANALYZE) that tipg serves;
- statistics (``geo.stats.feature_stats``: lengths, length by country,
  crossings) in this process vs on a Dask LocalCluster of 1 and of 2
  worker processes, and corridor membership likewise; results checked equal.
  Corridor membership measures each candidate feature exactly, one at a
  time: on more than ``BENCH_SCALE_CORRIDOR_MAX`` (100,000) lines it is
  left out of the big layer's cells;
- OGC API items and vector tile throughput of our service on the embedded
  store and on the PostGIS store vs tipg and pygeoapi, all four on the same
  PostGIS, and resident memory per server process (``bench/scale_peers.py``);
- with ``BENCH_SCALE_BROWSER=1``: the browser's first render of a
  100,000-feature layer via vector tiles vs embedded GeoJSON
  (``bench/tiledmap.py``).
"""

import os
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench.common import GEM_PIPELINES, Row, fmt_bytes, fmt_s, gem_layers_dir
from bench.scale_peers import BIG_LAYER as LAYER
from bench.scale_peers import peers, rss

__all__ = ["NAME", "run", "synthetic_lines"]

NAME = "scale"


def synthetic_lines(n, *, seed=12):
    """``n`` two-vertex gas pipelines scattered over Pakistan (``bench.synthetic``'s layout), as a GeoDataFrame."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(61.0, 76.0, n), rng.uniform(24.0, 36.5, n)
    dlon, dlat = rng.uniform(-0.05, 0.05, (2, n))
    coords = np.stack([np.column_stack([lon, lat]), np.column_stack([lon + dlon, lat + dlat])], axis=1).round(5)
    ids = np.char.add("p", np.arange(n).astype(str)).astype(object)
    return gpd.GeoDataFrame({
        "id": ids, "name": np.char.add("Pipeline ", np.arange(n).astype(str)).astype(object),
        "kind": "gas_pipeline",
        "status": np.array(["operating", "construction", "proposed"], dtype=object)[rng.integers(0, 3, n)],
        "geometry_quality": "traced",
    }, geometry=shapely.linestrings(coords), crs="EPSG:4326")


def _import(folder, gdf, boundaries):
    from layers.folder import load_folders
    from layers.importers.formats import Limits

    path = folder / f"{LAYER}.parquet"
    gdf.to_parquet(path)
    big = Limits(max_bytes=2**31, max_unpacked_bytes=2**33, max_features=10**8, max_vertices=10**8,
                 time_budget_s=3600.0, memory_mb=None)
    t0 = time.perf_counter()
    layers, problems = load_folders([folder], limits=big, boundaries=boundaries)
    seconds = time.perf_counter() - t0
    if problems:
        raise RuntimeError(f"import failed: {problems[0].reason}")
    print(f"  import {len(gdf):,} lines from GeoParquet ({fmt_bytes(path.stat().st_size)}): {fmt_s(seconds)}")
    return layers[0].gdf, seconds


def _stats(name, gdf, boundaries, corridor):
    """Rows: statistics and corridor membership (``corridor`` None: not timed), this process vs Dask 1 and 2
    workers; results checked equal."""
    from geo.parallel import DaskEngine, LocalEngine

    rows, times = [], {}
    want = None
    for label, make in (("single process", LocalEngine), ("Dask 1 worker", lambda: DaskEngine(workers=1)),
                        ("Dask 2 workers", lambda: DaskEngine(workers=2))):
        engine = make()
        t0 = time.perf_counter()
        if hasattr(engine, "client"):
            engine.client  # noqa: B018 -- start the cluster outside the timing
        start_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        stats = engine.feature_stats(gdf, boundaries)
        stats_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        found = engine.within_corridor(corridor, gdf, layer_id=name) if corridor is not None else gdf.iloc[:0]
        corridor_s = time.perf_counter() - t0 if corridor is not None else float("nan")
        pids = engine.client.run(os.getpid).values() if hasattr(engine, "client") else ()
        workers_rss = sum(rss(pid) for pid in pids)
        engine.close()
        if want is None:
            want = (stats, found)
        else:  # the engines agree, float for float
            pd.testing.assert_frame_equal(stats, want[0], check_exact=True)
            pd.testing.assert_frame_equal(pd.DataFrame(found.drop(columns="geometry")),
                                          pd.DataFrame(want[1].drop(columns="geometry")), check_exact=True)
        times[label] = (stats_s, corridor_s)
        print(f"  {name} {label:15s} stats {fmt_s(stats_s):>9s}  corridor ({len(found):,} within) "
              f"{fmt_s(corridor_s):>9s}" + (f"  (cluster start {fmt_s(start_s)}, workers' RSS "
                                            f"{fmt_bytes(workers_rss)})" if workers_rss else ""))
        rows.append(Row("12 scale", f"{name}: stats / corridor, {label}", f"{fmt_s(stats_s)} / {fmt_s(corridor_s)}"))
    one, two, local = times["Dask 1 worker"], times["Dask 2 workers"], times["single process"]
    rows.append(Row("12 scale", f"{name}: stats time 1 / 2 Dask workers", f"{one[0] / two[0]:.2f}x"))
    rows.append(Row("12 scale", f"{name}: stats time single process / 2 workers", f"{local[0] / two[0]:.2f}x"))
    if corridor is not None:
        rows.append(Row("12 scale", f"{name}: corridor time 1 / 2 workers", f"{one[1] / two[1]:.2f}x"))
    return rows


def run():
    from geo.corridor import build_corridor
    from layers.catalog import Catalog

    n = int(os.environ.get("BENCH_SCALE_FEATURES", "100000"))
    catalog = Catalog.from_dirs(extra_dirs=[gem_layers_dir()], extra_region=None)
    boundaries = catalog.layer("boundaries").gdf
    gem = catalog.layer(GEM_PIPELINES).gdf
    print(f"  {n:,} synthetic lines; GEM: {len(gem):,} pipeline routes of the Asia gas tracker (the only GEM file "
          f"in data/raw); {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    rows = []
    # Karachi - Lahore - Peshawar, 50 km each side: crosses the synthetic layer and GEM's Pakistani network
    corridor = build_corridor(shapely.LineString([(67.0, 24.9), (74.3, 31.5), (71.6, 34.0)]), 50)
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        folder = Path(tmp)
        big, import_s = _import(folder, synthetic_lines(n), boundaries)
        rows.append(Row("12 scale", f"{n:,} lines: layer-folder import (GeoParquet)", fmt_s(import_s)))
        corridor_max = int(os.environ.get("BENCH_SCALE_CORRIDOR_MAX", "100000"))
        rows += _stats(LAYER, big, boundaries, corridor if n <= corridor_max else None)
        rows += _stats(GEM_PIPELINES, gem, boundaries, corridor)
        rows += peers(folder, gem_layers_dir(), {LAYER: big, GEM_PIPELINES: gem})
    if os.environ.get("BENCH_SCALE_BROWSER") == "1":
        from bench import tiledmap

        rows += tiledmap.run()
    print(f"  load average {os.getloadavg()[0]:.1f} at the end")
    return rows
