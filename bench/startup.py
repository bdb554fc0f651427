"""Start-up with a 5-million-vertex user layer: time until the port answers, and until its statistics do.

A project-format layer of 100 lines x 50,000 vertices (seeded random walks
over the Arabian Sea, inside the project region but outside every country
polygon, so that the old code's eager statistics finish in minutes; see the
README's known limits for statistics inside the polygons) goes into a layers
folder; ``python -m webapp serve
--layers-dir`` starts on a free loopback port. Measured: seconds until
``/api/layers`` answers (start-up), then until ``/api/layers/<id>/stats``
answers (its first statistics). With ``BENCH_BEFORE_ROOT`` pointing at
another checkout (e.g. ``git archive <commit> | tar -x -C /tmp/before``), that
code is timed too, in the same run, and the ratio printed.

    python -m bench startup     # 5,000,000 vertices (BENCH_STARTUP_VERTICES); BENCH_STARTUP_STATS=0 skips the stats
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import ROOT, Row, fmt_s, free_port
from bench.loadgen import fetch

__all__ = ["make_layer", "run", "time_start"]

LAYER_ID = "big_user_layer"
LINES = 100


def make_layer(folder, vertices):
    """Write ``LAYER_ID.geojson`` (project format, ``vertices`` in ``LINES`` lines) into ``folder``."""
    rng = np.random.default_rng(14)
    per_line = vertices // LINES
    features = []
    for i in range(LINES):
        start = np.array([rng.uniform(60, 68), rng.uniform(10, 20)])
        steps = rng.normal(0, 0.002, size=(per_line, 2))
        coords = np.round(start + np.cumsum(steps, axis=0), 6)
        features.append({"type": "Feature", "properties": {
            "id": f"line_{i}", "name": f"Synthetic line {i}", "kind": "road", "status": "proposed",
            "countries": [], "reported_length_km": None, "geometry_quality": "traced",
            "sources": [{"title": "synthetic", "url": "https://example.org"}], "licence": "CC0"},
            "geometry": {"type": "LineString", "coordinates": coords.tolist()}})
    doc = {"type": "FeatureCollection", "metadata": {"id": LAYER_ID, "title": "Synthetic 5M-vertex layer",
                                                      "description": "bench", "attribution": "bench",
                                                      "licence": "CC0"}, "features": features}
    path = Path(folder) / f"{LAYER_ID}.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def time_start(root, layers_dir, *, timeout_s=7200, stats=True):
    """(seconds to first /api/layers answer, seconds more to the big layer's stats or None) for ``root``'s code."""
    port = free_port()
    data = tempfile.mkdtemp(prefix="bench_startup_data_")
    env = {**os.environ, "PYTHONPATH": str(root), "MAPSVC_DATA_DIR": data}
    log = tempfile.NamedTemporaryFile(prefix="bench_startup_", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "webapp", "serve", "--port", str(port), "--layers-dir", str(layers_dir)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        up = None
        while time.perf_counter() - t0 < timeout_s:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(log.name).read_text()[-1500:]}")
            try:
                if fetch(port, "/api/layers", timeout=5)[0] == 200:
                    up = time.perf_counter() - t0
                    break
            except OSError:
                time.sleep(0.2)
        if not stats:
            return up, None
        status = fetch(port, f"/api/layers/{LAYER_ID}/stats", timeout=timeout_s)[0]
        stats = time.perf_counter() - t0 - up
        if status != 200:
            raise RuntimeError(f"stats answered {status}")
        return up, stats
    finally:
        proc.kill()
        proc.wait()
        log.close()
        os.unlink(log.name)
        shutil.rmtree(data, ignore_errors=True)


def run():
    vertices = int(os.environ.get("BENCH_STARTUP_VERTICES", 5_000_000))
    folder = Path(tempfile.mkdtemp(prefix="bench_big_layer_"))
    try:
        t0 = time.perf_counter()
        path = make_layer(folder, vertices)
        size_mb = path.stat().st_size / 2**20
        print(f"  wrote {vertices:,} vertices ({size_mb:.0f} MB) in {fmt_s(time.perf_counter() - t0)}")
        roots = {"this checkout": ROOT}
        if os.environ.get("BENCH_BEFORE_ROOT"):
            roots = {"before": Path(os.environ["BENCH_BEFORE_ROOT"]), **roots}
        rows, seen = [], {}
        for label, root in roots.items():
            up, stats = time_start(root, folder, stats=os.environ.get("BENCH_STARTUP_STATS", "1") != "0")
            seen[label] = up
            print(f"  {label}: port answers after {fmt_s(up)}"
                  + (f", first stats {fmt_s(stats)} later" if stats is not None else ""))
            rows.append(Row("startup", f"{label}: start-up, {vertices:,}-vertex layer", fmt_s(up)))
            if stats is not None:
                rows.append(Row("startup", f"{label}: then its first statistics", fmt_s(stats)))
        if len(seen) == 2:
            ratio = seen["before"] / seen["this checkout"]
            rows.append(Row("startup", "start-up before / after", f"{ratio:.1f}x"))
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)
