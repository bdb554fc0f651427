"""Benchmarks: ``python -m bench`` runs them all, ``python -m bench NAME ...`` some.

Each prints medians and ratios (never pass/fail) within a time budget, and
the run ends with a Markdown summary table for the README. Targets are
the issue's; whether one is met is for the reader of the numbers.

- ``geodesic``  1: lengths of 1,000,000 vertices, ours vs bare pyproj
- ``countries`` 2: length by country of the 1,174 GEM Asia pipelines
- ``mapsize``   3: overview map bytes, naive folium vs display geometry
- ``bbox``      spatial index vs full scan at 1k / 10k / 100k features
- ``api``       4: API latency under waitress, cold / warm (304), gzip or not
- ``peers``     5: pygeoapi vs minimal Flask vs our API, req/s and p99
"""
