"""``python -m bench [NAME ...]``: run the benchmarks and print a summary table."""

import argparse
import importlib
import os
import platform
import sys
import time
from importlib import metadata

from bench.common import Row, fmt_s, print_table

BENCHES = {
    "geodesic": "bench.geodesic",
    "countries": "bench.countries",
    "mapsize": "bench.mapsize",
    "bbox": "bench.bbox_index",
    "api": "bench.api",
    "peers": "bench.peers",
    "exportmem": "bench.export_memory",
    "startup": "bench.startup",
    "gis": "bench.gis",
    "tiledmap": "bench.tiledmap",
    "clients": "bench.clients",
}


def _versions():
    names = ["shapely", "pyproj", "numpy", "geopandas", "folium", "flask", "waitress", "pygeoapi"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:  # a missing optional peer is reported, not fatal
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default all): {', '.join(BENCHES)}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    names = args.names or list(BENCHES)
    print(f"bench: {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), "
          f"Python {platform.python_version()}, {platform.machine()}")
    print(f"  {_versions()}")
    rows = []
    start = time.perf_counter()
    for name in names:
        print(f"\n== {name} ==")
        t0 = time.perf_counter()
        try:
            rows += importlib.import_module(BENCHES[name]).run()
        except Exception as exc:  # one broken bench must not hide the others' numbers
            print(f"  failed: {exc!r}")
            rows.append(Row(name, "failed", type(exc).__name__, str(exc)[:80]))
        print(f"  ({name} took {fmt_s(time.perf_counter() - t0)})")
    print(f"\n== summary ({len(os.sched_getaffinity(0))} cores, {fmt_s(time.perf_counter() - start)} in all) ==\n")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
