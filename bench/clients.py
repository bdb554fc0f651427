"""Bench 8: the client matrix. The GIS clients analysts use, against this service and against pygeoapi.

Both serve the same GEM pipelines file (1,174 routes): pygeoapi with its
GeoJSON provider, CORS on, and (for tiles) pre-rendered MVT tiles through
its MVT-tippecanoe provider; ours as a user layer. Each cell is a real
client call whose answer is checked against the file itself (feature
count, ids, a bbox or status subset); printed as works / fails (why).
"""

import tempfile
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import pyogrio
import shapely
from owslib.ogcapi.features import Features

from bench.common import GEM_PIPELINES, Row, free_port, gem_layers_dir
from bench.gis import TILE, write_tiles
from bench.loadgen import fetch
from bench.servers import ServerFailed, pygeoapi_config, serve

__all__ = ["NAME", "run"]

NAME = "clients"
BBOX = (66.0, 24.0, 70.0, 28.0)


def _truth(layer_file):
    frame = gpd.read_file(layer_file)
    box = shapely.box(*BBOX)
    return {"ids": sorted(frame["id"]), "bbox": sorted(frame[frame.intersects(box)]["id"]),
            "operating": sorted(frame[frame["status"] == "operating"]["id"])}


def _cells(base, collections_root, geojson_url, tile_path, port, truth):
    """(client, endpoint, check) triples; each check returns None when it works, else why not."""
    oapif = f"OAPIF:{base}{collections_root}"

    def ids(frame):
        return sorted(frame["id"])

    def gdal_list():
        names = list(pyogrio.list_layers(oapif)[:, 0])
        return None if GEM_PIPELINES in names else f"collections {names}"

    def gdal_all():
        got = ids(pyogrio.read_dataframe(oapif, layer=GEM_PIPELINES))
        return None if got == truth["ids"] else f"{len(got)} of {len(truth['ids'])} features"

    def gdal_paged():
        got = ids(pyogrio.read_dataframe(oapif, layer=GEM_PIPELINES, PAGE_SIZE="100"))
        return None if got == truth["ids"] else f"{len(got)} of {len(truth['ids'])} features"

    def gdal_bbox():
        got = ids(pyogrio.read_dataframe(oapif, layer=GEM_PIPELINES, bbox=BBOX))
        return None if got == truth["bbox"] else f"{len(got)} features, expected {len(truth['bbox'])}"

    def gdal_filter():
        got = ids(pyogrio.read_dataframe(oapif, layer=GEM_PIPELINES, where="status = 'operating'"))
        return None if got == truth["operating"] else f"{len(got)} features, expected {len(truth['operating'])}"

    def owslib():
        api = Features(f"{base}{collections_root}")
        api.conformance()
        if GEM_PIPELINES not in [c["id"] for c in api.collections()["collections"]]:
            return "collection missing"
        page = api.collection_items(GEM_PIPELINES, bbox=list(BBOX), limit=5)
        one = api.collection_item(GEM_PIPELINES, truth["ids"][0])
        return None if len(page["features"]) == 5 and one["id"] == truth["ids"][0] else "wrong answers"

    def http_geojson():
        got = ids(pyogrio.read_dataframe(geojson_url))
        return None if got == truth["ids"] else f"{len(got)} features"

    def cors():
        _, headers, _, _ = fetch(port, geojson_url.replace(base, ""), headers={"Origin": "https://example.org"})
        return None if headers.get("access-control-allow-origin") in ("*", "https://example.org") else "no header"

    def ranges():
        status, headers, body, _ = fetch(port, geojson_url.replace(base, ""), headers={"Range": "bytes=0-99"})
        return None if status == 206 and len(body) == 100 else f"HTTP {status}, {len(body)} bytes"

    def tiles():
        status, _, body, _ = fetch(port, tile_path)
        if status != 200:
            return f"HTTP {status}"
        layers = mapbox_vector_tile.decode(body)
        count = sum(len(v["features"]) for v in layers.values())
        return None if count > 0 else "empty tile"

    return [
        ("GDAL OAPIF (pyogrio, QGIS)", "list collections", gdal_list),
        ("GDAL OAPIF (pyogrio, QGIS)", "every feature", gdal_all),
        ("GDAL OAPIF (pyogrio, QGIS)", "paging through next (100)", gdal_paged),
        ("GDAL OAPIF (pyogrio, QGIS)", "bbox", gdal_bbox),
        ("GDAL OAPIF (pyogrio, QGIS)", "property filter", gdal_filter),
        ("OWSLib Features", "conformance, collections, items bbox+limit, item", owslib),
        ("pyogrio.read_dataframe(url)", "layer GeoJSON over HTTP (/vsicurl/)", http_geojson),
        ("browser fetch, other origin", "CORS header on the GeoJSON", cors),
        ("HTTP Range", "206 on the GeoJSON", ranges),
        ("mapbox-vector-tile", "MVT tile decodes with features", tiles),
    ]


def run():
    layers_dir = gem_layers_dir()
    layer_file = layers_dir / f"{GEM_PIPELINES}.geojson"
    truth = _truth(layer_file)
    z, y, x = TILE
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_clients_") as tmp:
        tiles_dir = Path(tmp) / GEM_PIPELINES
        write_tiles(layers_dir, tiles_dir)
        peer_port = free_port()  # pygeoapi writes its configured URL into every link: give it the real port
        services = [
            ("pygeoapi", dict(target="pygeoapi.flask_app:APP", ready_path="/collections", port=peer_port,
                              env=pygeoapi_config(tmp, layer_file, port=peer_port, layer_id=GEM_PIPELINES,
                                                  title="GEM", tiles_dir=tiles_dir, max_zoom=6, cors=True)),
             "", f"/collections/{GEM_PIPELINES}/items?f=json&limit=10000",
             f"/collections/{GEM_PIPELINES}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt"),
            ("ours", dict(target="webapp:create_app", call=True, ready_path="/api/layers",
                          env={"MAPSVC_LAYERS_DIRS": str(layers_dir)}),
             "/ogcapi", f"/api/layers/{GEM_PIPELINES}",
             f"/ogcapi/collections/{GEM_PIPELINES}/tiles/WebMercatorQuad/{z}/{y}/{x}"),
        ]
        for name, spec, root, geojson, tile in services:
            try:
                with serve(**spec) as port:
                    base = f"http://127.0.0.1:{port}"
                    for client, endpoint, check in _cells(base, root, base + geojson, tile, port, truth):
                        try:
                            why = check()
                        except Exception as exc:  # a failing client is a result, not a crash
                            why = f"{type(exc).__name__}: {str(exc)[:90]}"
                        results[client, endpoint, name] = "works" if why is None else f"fails ({why})"
            except ServerFailed as exc:
                print(f"  {name}: did not start: {str(exc)[:300]}")
    print("| client | endpoint | this service | pygeoapi |")
    print("|---|---|---|---|")
    cells = sorted({(c, e) for c, e, _ in results}, key=list(dict.fromkeys((c, e) for c, e, _ in results)).index)
    for client, endpoint in cells:
        print(f"| {client} | {endpoint} | {results.get((client, endpoint, 'ours'), '-')} | "
              f"{results.get((client, endpoint, 'pygeoapi'), '-')} |")
    works = sum(v == "works" for (_, _, n), v in results.items() if n == "ours")
    peer = sum(v == "works" for (_, _, n), v in results.items() if n == "pygeoapi")
    return [Row("8 clients", "client cells that work: ours, pygeoapi", f"{works}/{len(cells)}, {peer}/{len(cells)}")]
