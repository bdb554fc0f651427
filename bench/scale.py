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
  worker processes, and corridor membership likewise; results checked equal;
- OGC API items (a 100-feature page, a bbox page) and vector tile
  throughput of our service (embedded store, the layer from a folder) vs
  tipg (uvicorn, the same layer in PostGIS) vs pygeoapi (GEM file only: its
  GeoJSON provider re-reads the file per request); resident memory per
  server process after the load;
- with ``BENCH_SCALE_BROWSER=1``: the browser's first render of a
  100,000-feature layer via vector tiles vs embedded GeoJSON
  (``bench/tiledmap.py``).
"""

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench.common import GEM_PIPELINES, ROOT, Row, fmt_bytes, fmt_s, free_port, gem_layers_dir
from bench.loadgen import fetch, run_load
from bench.servers import ServerFailed, _wait_ready, pygeoapi_config, serve

__all__ = ["NAME", "run", "synthetic_lines"]

NAME = "scale"
LAYER = "big_grid"
CONCURRENCY = 4
# z/x/y (XYZ order) of Web Mercator tiles over Lahore at z8 and Karachi at z10, inside the synthetic layer
TILES = ((8, 180, 104), (10, 702, 438))
BBOX = "66.8,24.6,67.4,25.2"  # around Karachi: a dense corner of the layer


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


def _rss(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))


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
    """Rows: statistics and corridor membership, this process vs Dask 1 and 2 workers; results checked equal."""
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
        found = engine.within_corridor(corridor, gdf, layer_id=name)
        corridor_s = time.perf_counter() - t0
        pids = engine.client.run(os.getpid).values() if hasattr(engine, "client") else ()
        workers_rss = sum(_rss(pid) for pid in pids)
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
    rows.append(Row("12 scale", f"{name}: corridor time 1 / 2 workers", f"{one[1] / two[1]:.2f}x"))
    return rows


@contextlib.contextmanager
def _tipg(url):
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench_tipg_", suffix=".log", delete=False)
    env = {**os.environ, "DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["public"]', "TIPG_MAX_FEATURES_PER_QUERY": "10000"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1", "--port",
                             str(port), "--workers", "1", "--no-access-log"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, port, "/collections", Path(log.name))
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        os.unlink(log.name)


def _load(name, port, paths, budget_s):
    rows = {}
    for kind, path in paths.items():
        status, _, body, _ = fetch(port, path, headers={"Accept-Encoding": "identity"})
        load = run_load(port, path, headers={"Accept-Encoding": "identity"}, requests=2000,
                        concurrency=CONCURRENCY, budget_s=budget_s)
        rows[kind] = load
        print(f"  {name:9s} {kind:12s} {load.req_per_s:8.1f} req/s  median {fmt_s(load.median_s):>9s}  "
              f"p99 {fmt_s(load.p99_s):>9s}  {fmt_bytes(len(body)):>9s}  HTTP {load.statuses}")
    return rows


def _serve_ours(folder):
    return serve("webapp:create_app", call=True, env={"MAPSVC_LAYERS_DIRS": str(folder),
                                                       "MAPSVC_LAYERS_DIR_MAX_VERTICES": str(10**8),
                                                       "MAPSVC_LAYER_FILE_TIME_BUDGET_S": "3600",
                                                       "MAPSVC_WARM_UP_MAX_VERTICES": "0"},
                 ready_path="/api/layers", start_timeout_s=3600)


def _peers(folder, gem_dir, gem_gdf, big_gdf):
    from bench.postgis import load_lines, postgis_cluster

    per_cell = float(os.environ.get("BENCH_SCALE_CELL_S", "15"))  # seconds of load per request kind
    results, rss, rows = {}, {}, []

    def ours_paths(layer):
        box = BBOX if layer == LAYER else "66.5,24.5,71,30"
        return {"items page": f"/ogcapi/collections/{layer}/items?limit=100&f=json",
                "items bbox": f"/ogcapi/collections/{layer}/items?limit=100&bbox={box}&f=json",
                **{f"tile z{z}": f"/ogcapi/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}" for z, x, y in TILES}}

    def tipg_paths(layer):
        box = BBOX if layer == LAYER else "66.5,24.5,71,30"
        return {"items page": f"/collections/public.{layer}/items?limit=100&f=geojson",
                "items bbox": f"/collections/public.{layer}/items?limit=100&bbox={box}&f=geojson",
                **{f"tile z{z}": f"/collections/public.{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}" for z, x, y in TILES}}

    with postgis_cluster() as url:
        for table, gdf in ((LAYER, big_gdf), (GEM_PIPELINES, gem_gdf)):
            seconds = load_lines(url, table, gdf[["id", "name", "kind", "status", "geometry"]].explode(
                index_parts=False).drop_duplicates("id"))  # tipg's table: one LineString per feature
            print(f"  PostGIS load of {table} ({len(gdf):,} features): {fmt_s(seconds)}")
            rows.append(Row("12 scale", f"{table}: PostGIS load (COPY, GiST, ANALYZE)", fmt_s(seconds)))
        for layer_dir in (folder, gem_dir):
            layer = LAYER if layer_dir == folder else GEM_PIPELINES
            try:
                with _serve_ours(layer_dir) as port:
                    results["ours", layer] = _load("ours", port, ours_paths(layer), per_cell)
                    rss["ours", layer] = _rss(_listener(port))
            except ServerFailed as exc:
                print(f"  ours ({layer}): did not start: {exc}")
        with _tipg(url) as (port, pid):
            for layer in (LAYER, GEM_PIPELINES):
                results["tipg", layer] = _load("tipg", port, tipg_paths(layer), per_cell)
            rss["tipg", "both"] = _rss(pid)
    with tempfile.TemporaryDirectory(prefix="bench_pygeoapi_") as tmp:
        env = pygeoapi_config(tmp, gem_dir / f"{GEM_PIPELINES}.geojson", port=0, layer_id=GEM_PIPELINES,
                              title="GEM gas pipelines")
        items = f"/collections/{GEM_PIPELINES}/items?f=json&limit=100"
        try:
            with serve("pygeoapi.flask_app:APP", env=env, ready_path=items) as port:
                results["pygeoapi", GEM_PIPELINES] = _load("pygeoapi", port, {
                    "items page": items, "items bbox": f"{items}&bbox=66.5,24.5,71,30"}, per_cell)
                rss["pygeoapi", GEM_PIPELINES] = _rss(_listener(port))
        except ServerFailed as exc:
            print(f"  pygeoapi: did not start: {exc}")
    for (name, layer), cells in results.items():
        for kind, load in cells.items():
            rows.append(Row("12 scale", f"{layer} {kind}: {name} req/s, p99", f"{load.req_per_s:,.1f}, "
                                                                             f"{fmt_s(load.p99_s)}"))
    for layer in (LAYER, GEM_PIPELINES):
        ours = results.get(("ours", layer), {})
        for peer in ("tipg", "pygeoapi"):
            for kind, load in results.get((peer, layer), {}).items():
                if kind in ours:
                    rows.append(Row("12 scale", f"{layer} {kind}: ours / {peer} req/s",
                                    f"{ours[kind].req_per_s / load.req_per_s:.2f}x"))
    for (name, layer), value in rss.items():
        rows.append(Row("12 scale", f"RSS after load: {name} ({layer})", fmt_bytes(value)))
    return rows


def _listener(port):
    """Pid of the process listening on 127.0.0.1:``port`` (from /proc/net/tcp and the fds)."""
    inode = None
    with open("/proc/net/tcp", encoding="ascii") as fh:
        for line in fh.readlines()[1:]:
            parts = line.split()
            if parts[1].endswith(f":{port:04X}") and parts[3] == "0A":
                inode = parts[9]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return int(pid)
    raise RuntimeError(f"no process listens on port {port}")


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
        rows += _stats(LAYER, big, boundaries, corridor)
        rows += _stats(GEM_PIPELINES, gem, boundaries, corridor)
        rows += _peers(folder, gem_layers_dir(), gem, big)
    if os.environ.get("BENCH_SCALE_BROWSER") == "1":
        from bench import tiledmap

        rows += tiledmap.run()
    print(f"  load average {os.getloadavg()[0]:.1f} at the end")
    return rows
