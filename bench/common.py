"""Shared bench helpers: timing, result rows, the GEM user layers, free ports.

Timings are wall-clock medians of a few repeats, each bench bounded by a
time budget so the suite finishes in minutes on a 2-core machine. Numbers
are printed, never judged: the README quotes them with the core count.
"""

import atexit
import shutil
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ROOT",
    "GEM_CSV",
    "GEM_PIPELINES",
    "Row",
    "time_calls",
    "median_s",
    "fmt_s",
    "fmt_bytes",
    "gem_layers_dir",
    "free_port",
    "print_table",
]

ROOT = Path(__file__).resolve().parent.parent
GEM_CSV = ROOT / "data" / "raw" / "gem_asia_gas_tracker_2024-05.csv"
GEM_PIPELINES = "gem_gas_pipelines"


@dataclass(frozen=True)
class Row:
    """One line of the summary table: which bench, what was measured, the figure, the target."""

    bench: str
    what: str
    value: str
    target: str = ""


def time_calls(fn, *, repeats=5, budget_s=20.0, warmup=0):
    """Call ``fn`` up to ``repeats`` times (at least once) within ``budget_s``; return seconds per call."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return times


def median_s(times):
    return statistics.median(times)


def fmt_s(seconds):
    """Seconds as a short human figure: 1.23 s, 45.6 ms, 789 µs."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_bytes(n):
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.2f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} B"


_GEM_DIR = None


def gem_layers_dir():
    """A temporary folder holding the GEM pipelines as a user layer (imported once per run)."""
    global _GEM_DIR
    if _GEM_DIR is None:
        from layers.importers.gem_user import import_gem

        folder = Path(tempfile.mkdtemp(prefix="bench_gem_"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        t0 = time.perf_counter()
        import_gem(GEM_CSV, folder, types=["gas_pipeline"])
        print(f"  (imported GEM pipelines into {folder} in {fmt_s(time.perf_counter() - t0)})")
        _GEM_DIR = folder
    return _GEM_DIR


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def print_table(rows):
    """The README-ready Markdown summary of every row."""
    print("| bench | measured | result | target |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row.bench} | {row.what} | {row.value} | {row.target} |")
