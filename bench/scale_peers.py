"""The OGC API part of the scale bench: our service on both stores vs tipg and pygeoapi, on one PostGIS.

One throw-away PostGIS cluster holds everything: tables ``public.big_grid``
and ``public.gem_gas_pipelines`` (one LineString per feature, GiST index)
that tipg and pygeoapi (PostgreSQL + MVT-postgresql providers) serve, and
our store's schema ``mapsvc``, into which our service copies the same
folder layers at start-up when ``DATABASE_URL`` names that database (its bbox
filters and tiles then run in PostGIS too). Our service also runs on the
embedded store (the default: bbox and tiles from its in-memory index).

Each server gets the same requests, one server after the other on the same
cores, ``CONCURRENCY`` keep-alive connections, no gzip:

- ``items page`` / ``items bbox``: one 100-feature page, the same URL each
  time (a server with a response cache answers repeats from it);
- ``items, new boxes``: up to 3,000 different 0.6 degree boxes, each asked once;
- ``tile z8`` / ``tile z10``: one MVT tile each, the same URL each time;
- ``new tiles z10-12``: up to 3,000 different tiles over Pakistan, each asked once.

The new-URL cells are the fair comparison: no server can answer one from a cache.
"""

import contextlib
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.common import GEM_PIPELINES, ROOT, Row, fmt_bytes, fmt_s, free_port
from bench.loadgen import fetch, run_load
from bench.servers import ServerFailed, _wait_ready, postgis_resource, pygeoapi_config, serve

__all__ = ["BIG_LAYER", "peers", "rss"]

BIG_LAYER = "big_grid"
CONCURRENCY = 4
TILES = ((8, 180, 104), (10, 702, 438))  # z/x/y (XYZ order) over Lahore at z8 and Karachi at z10
BOXES = {BIG_LAYER: "66.8,24.6,67.4,25.2", GEM_PIPELINES: "66.5,24.5,71,30"}  # a dense corner of each
DISTINCT = 3000  # no cell of 12 s reaches that many requests of one kind, so none repeats
FIRST_TIMEOUT_S = 120.0  # a server that takes longer for a cell's first request is not loaded with it
SERVERS = ("ours embedded", "ours PostGIS", "tipg", "pygeoapi")


def rss(pid):
    """Resident memory of process ``pid`` in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))


def _tile_xy(lon, lat, z):
    n = 2 ** z
    x = np.floor((lon + 180.0) / 360.0 * n).astype(int)  # n: an int or one per point
    y = np.floor((1.0 - np.arcsinh(np.tan(np.radians(lat))) / math.pi) / 2.0 * n).astype(int)
    return x, y


def _distinct(seed=17):
    """``DISTINCT`` different boxes (west,south,east,north) and z10-12 tiles (z, x, y) over Pakistan, in a
    random order that is the same for every server."""
    rng = np.random.default_rng(seed)
    west, south = rng.uniform(61.0, 75.4, DISTINCT), rng.uniform(24.0, 35.9, DISTINCT)
    boxes = [f"{w:.3f},{s:.3f},{w + 0.6:.3f},{s + 0.6:.3f}" for w, s in zip(west, south)]
    z = rng.integers(10, 13, 4 * DISTINCT)
    x, y = _tile_xy(rng.uniform(61.0, 76.0, 4 * DISTINCT), rng.uniform(24.0, 36.5, 4 * DISTINCT), z)
    tiles = list(dict.fromkeys(zip(z.tolist(), x.tolist(), y.tolist())))[:DISTINCT]
    return boxes, tiles


def _paths(server, layer):
    """{cell: path or list of paths} of ``server`` ("ours", "tipg", "pygeoapi") for ``layer``."""
    boxes, tiles = _distinct()
    if server == "ours":
        items = f"/ogcapi/collections/{layer}/items?limit=100&f=json"
        tile = f"/ogcapi/collections/{layer}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    elif server == "tipg":
        items = f"/collections/public.{layer}/items?limit=100&f=geojson"
        tile = f"/collections/public.{layer}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
    else:
        items = f"/collections/{layer}/items?f=json&limit=100"
        tile = f"/collections/{layer}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt"
    return {
        "items page": items, "items bbox": f"{items}&bbox={BOXES[layer]}",
        "items, new boxes": [f"{items}&bbox={box}" for box in boxes],
        **{f"tile z{z}": tile.format(z=z, x=x, y=y) for z, x, y in TILES},
        "new tiles z10-12": [tile.format(z=z, x=x, y=y) for z, x, y in tiles],
    }


def _load(name, layer, port, paths, budget_s):
    cells = {}
    headers = {"Accept-Encoding": "identity"}
    for kind, path in paths.items():
        first = path if isinstance(path, str) else path[0]
        try:
            status, _, body, _ = fetch(port, first, headers=headers, timeout=FIRST_TIMEOUT_S)  # warm-up, sanity
        except TimeoutError:
            print(f"  {name:14s} {layer[:9]:9s} {kind:16s} no answer within {FIRST_TIMEOUT_S:.0f} s: cell skipped")
            continue
        requests = 5000 if isinstance(path, str) else len(path)  # a list: each URL once
        load = run_load(port, path, headers=headers, requests=requests, concurrency=CONCURRENCY, budget_s=budget_s)
        cells[kind] = load
        print(f"  {name:14s} {layer[:9]:9s} {kind:16s} {load.req_per_s:8.1f} req/s  median {fmt_s(load.median_s):>9s}  "
              f"p99 {fmt_s(load.p99_s):>9s}  first {fmt_bytes(len(body)):>9s} HTTP {status}  HTTP {load.statuses}"
              + (f"  errors {load.errors[:2]}" if load.errors else ""))
    return cells


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


def _ours(folders, data_dir, database_url=""):
    env = {"MAPSVC_LAYERS_DIRS": ",".join(str(f) for f in folders), "MAPSVC_DATA_DIR": str(data_dir),
           "MAPSVC_DATABASE_URL": database_url, "MAPSVC_LAYERS_DIR_MAX_VERTICES": str(10**8),
           "MAPSVC_LAYER_FILE_TIME_BUDGET_S": "3600", "MAPSVC_WARM_UP_MAX_VERTICES": "0",
           "MAPSVC_SECRET_KEY": "bench"}
    return serve("webapp:create_app", call=True, env=env, ready_path="/api/layers", start_timeout_s=3600)


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


def peers(folder, gem_dir, tables):
    """Rows: req/s of every server and cell, ours / peer ratios, RSS; ``tables``: {table: GeoDataFrame}."""
    from bench.postgis import load_lines, postgis_cluster

    per_cell = float(os.environ.get("BENCH_SCALE_CELL_S", "12"))  # seconds of load per cell
    # BENCH_SCALE_SERVERS: some of SERVERS, comma-separated (default all)
    servers = [n.strip() for n in os.environ.get("BENCH_SCALE_SERVERS", ",".join(SERVERS)).split(",") if n.strip()]
    layers = list(tables)
    results, memory, rows = {}, {}, []
    with postgis_cluster() as url, tempfile.TemporaryDirectory(prefix="bench_scale_peers_") as tmp:
        for table, gdf in tables.items():
            seconds = load_lines(url, table, gdf[["id", "name", "kind", "status", "geometry"]].explode(
                index_parts=False).drop_duplicates("id"))  # the peers' table: one LineString per feature
            print(f"  PostGIS load of {table} ({len(gdf):,} features): {fmt_s(seconds)}")
            rows.append(Row("12 scale", f"{table}: PostGIS load (COPY, GiST, ANALYZE)", fmt_s(seconds)))
        for name, database_url in (("ours embedded", ""), ("ours PostGIS", url)):
            if name not in servers:
                continue
            try:
                with _ours((folder, gem_dir), Path(tmp) / name.replace(" ", "_"), database_url) as port:
                    pid = _listener(port)
                    memory[name, "start"] = rss(pid)
                    for layer in layers:
                        results[name, layer] = _load(name, layer, port, _paths("ours", layer), per_cell)
                    memory[name, "after load"] = rss(pid)
            except ServerFailed as exc:
                print(f"  {name}: did not start: {exc}")
        if "tipg" in servers:
            with _tipg(url) as (port, pid):
                for layer in layers:
                    results["tipg", layer] = _load("tipg", layer, port, _paths("tipg", layer), per_cell)
                memory["tipg", "after load"] = rss(pid)
        resources = {layer: postgis_resource(url, layer, layer) for layer in layers}
        env = pygeoapi_config(Path(tmp), port=0, resources=resources)
        try:
            if "pygeoapi" not in servers:
                raise ServerFailed("not in BENCH_SCALE_SERVERS")
            with serve("pygeoapi.flask_app:APP", env=env, ready_path=f"/collections/{layers[0]}/items?f=json&limit=1",
                       start_timeout_s=600) as port:
                for layer in layers:
                    results["pygeoapi", layer] = _load("pygeoapi", layer, port, _paths("pygeoapi", layer), per_cell)
                memory["pygeoapi", "after load"] = rss(_listener(port))
        except ServerFailed as exc:
            print(f"  pygeoapi: did not start: {exc}")
    for (name, layer), cells in results.items():
        for kind, load in cells.items():
            rows.append(Row("12 scale", f"{layer} {kind}: {name} req/s, p99",
                            f"{load.req_per_s:,.1f}, {fmt_s(load.p99_s)}"))
    for layer in layers:
        for ours in ("ours embedded", "ours PostGIS"):
            for peer in ("tipg", "pygeoapi"):
                mine, theirs = results.get((ours, layer), {}), results.get((peer, layer), {})
                for kind in (k for k in mine if k in theirs):
                    rows.append(Row("12 scale", f"{layer} {kind}: {ours} / {peer} req/s",
                                    f"{mine[kind].req_per_s / theirs[kind].req_per_s:.2f}x"))
    for (name, when), value in memory.items():
        rows.append(Row("12 scale", f"RSS {when}: {name} (both layers)", fmt_bytes(value)))
    return rows
