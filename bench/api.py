"""Bench 4: API latency over loopback under waitress, cold and warm, with and without gzip.

The web app (``webapp:create_app``) serves the built-in layers plus the GEM
pipelines as a user layer (``MAPSVC_LAYERS_DIRS``). One client connection
at a time (keep-alive), so the figures are latency, not throughput.
"cold" is a client without a cached copy (200 with the body); "warm"
revalidates with ``If-None-Match`` and expects 304. "first" is the very
first request to a freshly started server, when the catalogue's memoised
results (index, statistics, map) are still empty.
"""

import gzip
import json

from bench.common import GEM_PIPELINES, Row, fmt_bytes, fmt_s, gem_layers_dir
from bench.loadgen import fetch, run_load
from bench.servers import THREADS, ServerFailed, serve, webapp_ready

__all__ = ["NAME", "BBOX", "ENDPOINTS", "run"]

NAME = "api"
BBOX = "60.5,23.5,77.5,37.5"  # Pakistan and its neighbours' border regions
ENDPOINTS = (
    ("layer full", f"/api/layers/{GEM_PIPELINES}"),
    ("layer bbox", f"/api/layers/{GEM_PIPELINES}?bbox={BBOX}"),
    ("layer stats", f"/api/layers/{GEM_PIPELINES}/stats"),
    ("map page", f"/map/{GEM_PIPELINES}"),
)
ENCODINGS = (("identity", {"Accept-Encoding": "identity"}), ("gzip", {"Accept-Encoding": "gzip"}))


def _feature_count(headers, body):
    if "json" not in headers.get("content-type", ""):
        return None
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    doc = json.loads(body)
    return len(doc["features"]) if isinstance(doc, dict) and "features" in doc else None


def _not_run(why):
    print(f"  not run: {why}")
    return [Row("4 api", "latency", "not run", why)]


def run(*, budget_s=90.0, requests=100):
    why = webapp_ready()
    if why:
        return _not_run(why)
    env = {"MAPSVC_LAYERS_DIRS": str(gem_layers_dir())}
    per_cell = budget_s / (len(ENDPOINTS) * len(ENCODINGS) * 2 + 2)
    rows = []
    try:
        with serve("webapp:create_app", call=True, env=env, ready_path="/api/layers") as port:
            print(f"  waitress, {THREADS} threads, port {port}; one keep-alive connection; "
                  f"up to {requests} requests or {per_cell:.0f} s per cell")
            header = f"  {'endpoint':12s} {'encoding':8s} {'first':>9s} {'cold median':>12s} {'cold p99':>9s} " \
                     f"{'bytes':>10s} {'warm median':>12s} {'warm p99':>9s} {'304/sent':>8s}"
            print(header)
            for label, path in ENDPOINTS:
                status, first_headers, body, first_s = fetch(port, path, headers={"Accept-Encoding": "gzip"})
                if status != 200:
                    print(f"  {label}: HTTP {status} for {path}: {body[:200]!r}")
                    rows.append(Row("4 api", label, f"HTTP {status}", "200"))
                    continue
                count = _feature_count(first_headers, body)
                for enc, enc_headers in ENCODINGS:
                    cold = run_load(port, path, headers=enc_headers, requests=requests, budget_s=per_cell)
                    _, got_headers, got_body, _ = fetch(port, path, headers=enc_headers)
                    etag = got_headers.get("etag")
                    warm = None
                    if etag:
                        warm = run_load(port, path, headers={**enc_headers, "If-None-Match": etag},
                                        requests=requests, budget_s=per_cell)
                    coded = got_headers.get("content-encoding", "none")
                    print(f"  {label:12s} {enc:8s} {fmt_s(first_s) if enc == 'gzip' else '':>9s} "
                          f"{fmt_s(cold.median_s):>12s} {fmt_s(cold.p99_s):>9s} {fmt_bytes(len(got_body)):>10s} "
                          f"{fmt_s(warm.median_s) if warm else 'no ETag':>12s} "
                          f"{fmt_s(warm.p99_s) if warm else '':>9s} "
                          f"{(f'{warm.statuses.get(304, 0)}/{warm.count}') if warm else '-':>8s}"
                          + (f"  (Content-Encoding: {coded})" if enc == "gzip" else "")
                          + (f"  [{count} features]" if count is not None and enc == "identity" else ""))
                    if cold.errors:
                        print(f"    errors: {cold.errors[:3]}")
                    warm_text = f"{fmt_s(warm.median_s)} / {fmt_s(warm.p99_s)}" if warm else "no ETag"
                    rows.append(Row("4 api", f"{label}, {enc}: cold median / p99; warm (304) median / p99",
                                    f"{fmt_s(cold.median_s)} / {fmt_s(cold.p99_s)}; {warm_text}"))
                rows.append(Row("4 api", f"{label}: first request after start", fmt_s(first_s)))
    except ServerFailed as exc:
        return _not_run(f"web app did not start: {str(exc).splitlines()[0]}")
    return rows
