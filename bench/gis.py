"""Bench 6: OGC API items and vector tiles, this service against pygeoapi, side by side in one run.

The GEM pipelines (1,174 routes) as a user layer. Items: the first page of
100 and a bbox page, from ``/ogcapi/collections/<id>/items`` and from
pygeoapi's GeoJSON provider. Tiles: pygeoapi cannot make tiles from a
GeoJSON file, so it serves pre-rendered ones (its MVT-tippecanoe provider
reading ``{z}/{x}/{y}.pbf`` from disk), written here with our encoder for
zooms 0-6 over the layer; ours answers the same tile from its tile cache,
and with ``TILE_CACHE_MB=0`` (encoding every request). Every service under
waitress with the same threads, one after another on the same cores, no
gzip; ratios are req/s of ours over pygeoapi.
"""

import json
import math
import tempfile
from pathlib import Path

from bench.api import BBOX
from bench.common import GEM_PIPELINES, Row, fmt_bytes, fmt_s, gem_layers_dir
from bench.loadgen import fetch, run_load
from bench.servers import THREADS, ServerFailed, pygeoapi_config, serve, webapp_ready

__all__ = ["NAME", "run"]

NAME = "gis"
MAX_ZOOM = 6
TILE = (5, 13, 22)  # z, row, col: central Pakistan, the busiest tile of the layer at zoom 5


def _tile_range(bounds, z):
    lon0, lat0, lon1, lat1 = bounds
    n = 2 ** z

    def col(lon):
        return min(n - 1, max(0, int((lon + 180) / 360 * n)))

    def row(lat):
        lat = max(-85.05, min(85.05, lat))
        return min(n - 1, max(0, int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)))

    return [(z, y, x) for x in range(col(lon0), col(lon1) + 1) for y in range(row(lat1), row(lat0) + 1)]


def write_tiles(layers_dir, folder):
    """Our tiles of the GEM layer, zooms 0..MAX_ZOOM, on disk as tippecanoe lays them out; returns the count."""
    from webapp import create_app

    app = create_app({"LAYERS_DIRS": [str(layers_dir)], "TILE_CACHE_MB": 0})
    layer = app.extensions["catalog"].layer(GEM_PIPELINES)
    client = app.test_client()
    count = 0
    for z in range(MAX_ZOOM + 1):
        for z_, y, x in _tile_range(layer.bbox, z):
            body = client.get(f"/ogcapi/collections/{GEM_PIPELINES}/tiles/WebMercatorQuad/{z_}/{y}/{x}").data
            path = folder / str(z_) / str(x) / f"{y}.pbf"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            count += 1
    lon0, lat0, lon1, lat1 = layer.bbox
    (folder / "metadata.json").write_text(json.dumps({
        "name": GEM_PIPELINES, "format": "pbf", "minzoom": "0", "maxzoom": str(MAX_ZOOM),
        "bounds": f"{lon0},{lat0},{lon1},{lat1}", "center": f"{(lon0 + lon1) / 2},{(lat0 + lat1) / 2},4",
        "json": json.dumps({"vector_layers": [{"id": GEM_PIPELINES, "fields": {"id": "String", "name": "String"},
                                               "minzoom": 0, "maxzoom": MAX_ZOOM}]}),
    }), encoding="utf-8")
    return count


def _services(layers_dir, tmp, tiles_dir):
    z, y, x = TILE
    layer_file = layers_dir / f"{GEM_PIPELINES}.geojson"
    items = f"/collections/{GEM_PIPELINES}/items?f=json&limit=100"
    yield "pygeoapi", dict(
        target="pygeoapi.flask_app:APP",
        env=pygeoapi_config(tmp, layer_file, port=0, layer_id=GEM_PIPELINES, title="GEM gas pipelines",
                            tiles_dir=tiles_dir, max_zoom=MAX_ZOOM),
        ready_path=f"/collections/{GEM_PIPELINES}/items?f=json&limit=1",
    ), {"items": items, "items bbox": f"{items}&bbox={BBOX}",
        "tile": f"/collections/{GEM_PIPELINES}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt"}
    why = webapp_ready()
    if why:
        print(f"  ours: not run: {why}")
        return
    ours = f"/ogcapi/collections/{GEM_PIPELINES}/items?limit=100"
    tile = f"/ogcapi/collections/{GEM_PIPELINES}/tiles/WebMercatorQuad/{z}/{y}/{x}"
    yield "ours", dict(target="webapp:create_app", call=True, env={"MAPSVC_LAYERS_DIRS": str(layers_dir)},
                       ready_path="/ogcapi/collections"), {"items": ours, "items bbox": f"{ours}&bbox={BBOX}",
                                                          "tile": tile}
    yield "ours, no tile cache", dict(
        target="webapp:create_app", call=True, ready_path="/ogcapi/collections",
        env={"MAPSVC_LAYERS_DIRS": str(layers_dir), "MAPSVC_TILE_CACHE_MB": "0"}), {"tile": tile}


def _count(kind, body):
    if kind == "tile":
        import mapbox_vector_tile

        decoded = mapbox_vector_tile.decode(body)
        return sum(len(layer["features"]) for layer in decoded.values())
    doc = json.loads(body)
    return f"{doc.get('numberReturned', len(doc['features']))}/{doc.get('numberMatched')}"


def run(*, budget_s=90.0, requests=2000):
    layers_dir = gem_layers_dir()
    per_cell = budget_s / 8
    headers = {"Accept-Encoding": "identity"}
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_gis_") as tmp:
        tiles_dir = Path(tmp) / GEM_PIPELINES
        print(f"  wrote {write_tiles(layers_dir, tiles_dir)} tiles (zooms 0-{MAX_ZOOM}) for pygeoapi to serve")
        print(f"  waitress, {THREADS} threads each; {THREADS} keep-alive client connections; up to {requests} "
              f"requests or {per_cell:.0f} s per cell; no gzip")
        for name, spec, paths in _services(layers_dir, tmp, tiles_dir):
            try:
                with serve(**spec) as port:
                    for kind, path in paths.items():
                        status, _, body, _ = fetch(port, path, headers=headers)  # warm-up and sanity check
                        what = _count(kind, body) if status == 200 else f"HTTP {status}"
                        load = run_load(port, path, headers=headers, requests=requests, concurrency=THREADS,
                                        budget_s=per_cell)
                        results[name, kind] = load
                        print(f"  {name:20s} {kind:10s} {load.req_per_s:8.1f} req/s  median {fmt_s(load.median_s):>9s}"
                              f"  p99 {fmt_s(load.p99_s):>9s}  {fmt_bytes(load.mean_body_bytes):>9s}  {what} features"
                              f"  HTTP {load.statuses}" + (f"  errors {load.errors[:2]}" if load.errors else ""))
            except ServerFailed as exc:
                print(f"  {name}: did not start: {exc}")
    rows = [Row("6 gis", f"{name}, {kind}: req/s, p99", f"{r.req_per_s:,.1f}, {fmt_s(r.p99_s)}")
            for (name, kind), r in results.items()]
    peer = {kind: r for (name, kind), r in results.items() if name == "pygeoapi"}
    for (name, kind), r in results.items():
        if name != "pygeoapi" and kind in peer and peer[kind].req_per_s:
            rows.append(Row("6 gis", f"{kind}: {name} req/s / pygeoapi", f"{r.req_per_s / peer[kind].req_per_s:.1f}x"))
    return rows
