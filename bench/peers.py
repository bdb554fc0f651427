"""Bench 5: the same GEM pipeline layer from pygeoapi, a minimal Flask handler, and our API.

All three under waitress with the same thread count, one after another on
the same cores, the same keep-alive load (several client connections),
no gzip (pygeoapi's default). pygeoapi uses its GeoJSON provider (which
re-reads the file per request); the minimal handler returns JSON bytes
serialised once at start-up, the practical ceiling of Flask on this
machine. Requests: the full layer (1,174 features) and a bbox.
"""

import json
import tempfile

from bench.api import BBOX
from bench.common import GEM_PIPELINES, Row, fmt_bytes, fmt_s, gem_layers_dir
from bench.loadgen import fetch, run_load
from bench.servers import THREADS, ServerFailed, pygeoapi_config, serve, webapp_ready

__all__ = ["NAME", "run"]

NAME = "peers"
CONCURRENCY = THREADS
PYGEOAPI_ITEMS = f"/collections/{GEM_PIPELINES}/items?f=json&limit=10000"


def _services(layers_dir, tmp):
    layer_file = layers_dir / f"{GEM_PIPELINES}.geojson"
    yield "pygeoapi", dict(
        target="pygeoapi.flask_app:APP",
        env=pygeoapi_config(tmp, layer_file, port=0, layer_id=GEM_PIPELINES, title="GEM gas pipelines"),
        ready_path=f"/collections/{GEM_PIPELINES}/items?f=json&limit=1",
    ), {"full": PYGEOAPI_ITEMS, "bbox": f"{PYGEOAPI_ITEMS}&bbox={BBOX}"}
    yield "minimal Flask", dict(
        target="bench.minimal_app:create_app", call=True,
        env={"BENCH_LAYER_FILE": str(layer_file), "BENCH_BBOX": BBOX}, ready_path="/bbox",
    ), {"full": "/full", "bbox": "/bbox"}
    why = webapp_ready()
    if why:
        print(f"  our API: not run: {why}")
        return
    yield "our API", dict(
        target="webapp:create_app", call=True, env={"MAPSVC_LAYERS_DIRS": str(layers_dir)},
        ready_path="/api/layers",
    ), {"full": f"/api/layers/{GEM_PIPELINES}", "bbox": f"/api/layers/{GEM_PIPELINES}?bbox={BBOX}"}


def run(*, budget_s=90.0, requests=3000):
    layers_dir = gem_layers_dir()
    per_cell = budget_s / 6
    headers = {"Accept-Encoding": "identity"}
    results = {}
    print(f"  waitress, {THREADS} threads each; {CONCURRENCY} keep-alive client connections; "
          f"up to {requests} requests or {per_cell:.0f} s per cell; no gzip")
    with tempfile.TemporaryDirectory(prefix="bench_pygeoapi_") as tmp:
        for name, spec, paths in _services(layers_dir, tmp):
            try:
                with serve(**spec) as port:
                    for kind, path in paths.items():
                        status, _, body, _ = fetch(port, path, headers=headers)  # warm-up and sanity check
                        count = len(json.loads(body)["features"]) if status == 200 else None
                        load = run_load(port, path, headers=headers, requests=requests, concurrency=CONCURRENCY,
                                        budget_s=per_cell)
                        results[name, kind] = load
                        print(f"  {name:14s} {kind:4s} {load.req_per_s:8.1f} req/s  median {fmt_s(load.median_s):>9s}"
                              f"  p99 {fmt_s(load.p99_s):>9s}  {fmt_bytes(load.mean_body_bytes):>9s}"
                              f"  {count} features  HTTP {load.statuses}"
                              + (f"  errors {load.errors[:2]}" if load.errors else ""))
            except ServerFailed as exc:
                print(f"  {name}: did not start: {exc}")
    rows = [Row("5 peers", f"{name}, {kind}: req/s, p99", f"{r.req_per_s:,.1f}, {fmt_s(r.p99_s)}")
            for (name, kind), r in results.items()]
    for kind in ("full", "bbox"):
        ours, ceiling, peer = (results.get((n, kind)) for n in ("our API", "minimal Flask", "pygeoapi"))
        if ours and ceiling:
            ratio = ceiling.req_per_s / ours.req_per_s
            rows.append(Row("5 peers", f"{kind}: minimal Flask req/s / ours", f"{ratio:.2f}x", "≤ 2x"))
        if ours and peer:
            rows.append(Row("5 peers", f"{kind}: ours req/s / pygeoapi", f"{ours.req_per_s / peer.req_per_s:.1f}x",
                            "≥ 10x"))
    return rows
