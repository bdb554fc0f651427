"""A small load generator: threads, one keep-alive ``http.client`` connection each.

Bounded by a request count and a time budget, against 127.0.0.1 only.
Latency is measured per request from sending it to reading the whole body.
"""

import http.client
import threading
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LoadResult", "fetch", "run_load"]


@dataclass
class LoadResult:
    """Latencies (s) of completed requests, and what came back."""

    latencies: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    body_bytes: int = 0
    wall_s: float = 0.0
    errors: list = field(default_factory=list)

    @property
    def count(self):
        return len(self.latencies)

    @property
    def median_s(self):
        return float(np.median(self.latencies)) if self.latencies else float("nan")

    @property
    def p99_s(self):
        return float(np.percentile(self.latencies, 99)) if self.latencies else float("nan")

    @property
    def req_per_s(self):
        return self.count / self.wall_s if self.wall_s else float("nan")

    @property
    def mean_body_bytes(self):
        return self.body_bytes / self.count if self.count else 0


def fetch(port, path, *, headers=None, timeout=120.0):
    """One GET on a fresh connection: ``(status, response headers dict, body bytes, seconds)``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body, time.perf_counter() - t0
    finally:
        conn.close()


def run_load(port, path, *, headers=None, requests=200, concurrency=1, budget_s=10.0, timeout=120.0):
    """Send up to ``requests`` GETs over ``concurrency`` keep-alive connections within ``budget_s``.

    ``path``: one path, or a list of paths sent in turn (distinct requests that no response cache can answer
    from an earlier one until the list comes round again).
    """
    paths = [path] if isinstance(path, str) else list(path)
    result = LoadResult()
    lock = threading.Lock()
    remaining = [requests]
    deadline = time.perf_counter() + budget_s

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            while True:
                with lock:
                    if remaining[0] <= 0 or time.perf_counter() > deadline:
                        return
                    remaining[0] -= 1
                    path = paths[remaining[0] % len(paths)]
                t0 = time.perf_counter()
                try:
                    conn.request("GET", path, headers=headers or {})
                    resp = conn.getresponse()
                    body = resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    with lock:
                        result.errors.append(repr(exc))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                    continue
                elapsed = time.perf_counter() - t0
                with lock:
                    result.latencies.append(elapsed)
                    result.statuses[resp.status] = result.statuses.get(resp.status, 0) + 1
                    result.body_bytes += len(body)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall_s = time.perf_counter() - start
    return result
