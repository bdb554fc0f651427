"""Bench: resident memory over many big figure exports (issue 15: 40 exports of 8000 x 8000 px grew a
server from 0.47 to 9.9 GB, each one left ~250 MB in Figure/canvas reference cycles until a full GC).

Runs ``MAPSVC_BENCH_EXPORTS`` (default 10; the issue's check is 200) requests for
``/export?format=png&width=8000&height=8000&layers=tapi`` one after the other in a fresh subprocess
(the app through its test client) and prints RSS after the first, every 25th and the last, and the
peak (VmHWM). Sequential: the peak says what one export costs, the growth whether anything is kept.
"""

import json
import os
import subprocess
import sys
import textwrap

from bench.common import ROOT, Row

__all__ = ["NAME", "URL", "run"]

NAME = "exportmem"
URL = "/export?format=png&width=8000&height=8000&layers=tapi"

_CHILD = textwrap.dedent("""
    import json, sys, time
    from webapp import create_app

    def status():
        with open("/proc/self/status") as f:
            d = {k: int(v.split()[0]) / 1024 for k, _, v in (l.partition(":") for l in f) if k in ("VmRSS", "VmHWM")}
        return d["VmRSS"], d["VmHWM"]

    n, url = int(sys.argv[1]), sys.argv[2]
    client = create_app({"TESTING": True}).test_client()
    t0 = time.perf_counter()
    for i in range(n):
        assert client.get(url).status_code == 200
        if i == 0 or (i + 1) % 25 == 0 or i == n - 1:
            rss, peak = status()
            # one line per sample, flushed: a run stopped early still reports what it measured
            print(json.dumps({"exports": i + 1, "rss_mb": round(rss), "peak_mb": round(peak),
                              "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
""")


def run():
    count = int(os.environ.get("MAPSVC_BENCH_EXPORTS", "10"))
    samples = []
    with subprocess.Popen([sys.executable, "-c", _CHILD, str(count), URL], cwd=ROOT, stdout=subprocess.PIPE,
                          text=True) as child:
        for line in child.stdout:
            s = json.loads(line)
            samples.append(s)
            print(f"  after {s['exports']:>3} exports: RSS {s['rss_mb']:,} MB, peak {s['peak_mb']:,} MB "
                  f"({s['seconds']} s)", flush=True)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, "export memory child")
    first, last = samples[0], samples[-1]
    return [Row(NAME, f"RSS after 1 / {last['exports']} exports of 8000x8000 px",
                f"{first['rss_mb']:,} / {last['rss_mb']:,} MB"),
            Row(NAME, "peak RSS (VmHWM)", f"{last['peak_mb']:,} MB")]
