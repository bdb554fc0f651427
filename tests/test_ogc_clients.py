"""Real GIS clients against the real server: GDAL's OAPIF driver (via pyogrio), OWSLib, and GDAL's HTTP path.

The server is ``python -m webapp serve --production`` (one trusted proxy: ``MAPSVC_PROXY_COUNT=1``) on a free loopback port:
requests cross a real socket into waitress. Every answer is compared with the JSON API's own
(``/api/layers/<id>``, read in-process): same features, same ids, same counts.
"""

import json

import geopandas as gpd
import pyogrio
import pytest
from browser.liveserver import LiveServer, raw_get
from owslib.ogcapi.features import Features

GRID = "pakistan_gas_grid"
BBOX = (66.0, 24.0, 70.0, 28.0)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    log = tmp_path_factory.mktemp("ogc_server") / "server.log"
    server = LiveServer(args=("--production", "--threads", "8"),
                        env={"MAPSVC_DEFAULT_BASEMAP": "none", "MAPSVC_PROXY_COUNT": "1",
                             "MAPSVC_ALLOWED_HOSTS": "127.0.0.1,localhost,maps.example.org"},
                        log_path=log).start(timeout_s=300)
    yield server
    server.stop()


def _api_ids(client, layer_id, query=""):
    body = client.get(f"/api/layers/{layer_id}{query}").get_json()
    return [f["id"] for f in body["features"]]


def test_gdal_lists_every_collection(live, catalog):
    layers = pyogrio.list_layers(f"OAPIF:{live.url}/ogcapi")
    assert sorted(layers[:, 0]) == sorted(catalog.ids)


def test_gdal_reads_every_feature_of_every_layer_with_the_api_ids(live, client, catalog):
    for layer_id in catalog.ids:
        frame = pyogrio.read_dataframe(f"OAPIF:{live.url}/ogcapi", layer=layer_id)
        assert frame.crs.to_string() == "OGC:CRS84", layer_id
        # GDAL keeps the GeoJSON "id" member as its feature id and the "id" property as a column
        assert frame["id"].tolist() == _api_ids(client, layer_id), layer_id


def test_gdal_pages_through_next_links(live, client):
    frame = pyogrio.read_dataframe(f"OAPIF:{live.url}/ogcapi", layer=GRID, PAGE_SIZE="7")
    assert len(frame) == 66 and frame["id"].tolist() == _api_ids(client, GRID)
    # and the pages it followed are the server's: 10 pages of 7 (the last holds 3)
    first = json.loads(raw_get(live.port, f"/ogcapi/collections/{GRID}/items?limit=7")[2])
    assert first["numberMatched"] == 66 and first["numberReturned"] == 7
    assert [link["rel"] for link in first["links"]].count("next") == 1


def test_gdal_bbox_and_property_filter_match_the_api(live, client, tmp_path):
    boxed = pyogrio.read_dataframe(f"OAPIF:{live.url}/ogcapi", layer=GRID, bbox=BBOX)
    assert sorted(boxed["id"]) == sorted(_api_ids(client, GRID, "?bbox=" + ",".join(map(str, BBOX))))
    assert 0 < len(boxed) < 70
    log = tmp_path / "gdal.log"
    pyogrio.set_gdal_config_options({"CPL_DEBUG": "ON", "CPL_LOG": str(log)})
    try:
        operating = pyogrio.read_dataframe(f"OAPIF:{live.url}/ogcapi", layer=GRID, where="status = 'operating'")
    finally:
        pyogrio.set_gdal_config_options({"CPL_DEBUG": None, "CPL_LOG": None})
    assert sorted(operating["id"]) == sorted(_api_ids(client, GRID, "?status=operating"))
    assert 0 < len(operating) < 70
    # GDAL found status among the collection's queryables (in /ogcapi/api) and asked the server to filter
    fetched = [line for line in log.read_text().splitlines() if "Fetch(" in line and f"/{GRID}/items" in line]
    assert any("status=operating" in line for line in fetched), fetched


def test_owslib_features(live, client):
    api = Features(f"{live.url}/ogcapi")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    ids = [c["id"] for c in api.collections()["collections"]]
    assert "tapi" in ids and "boundaries" in ids
    assert api.collection("tapi")["extent"]["spatial"]["bbox"][0][0] < 63
    items = api.collection_items(GRID, bbox=list(BBOX), limit=5)
    assert items["numberReturned"] == 5
    assert items["numberMatched"] == len(_api_ids(client, GRID, "?bbox=" + ",".join(map(str, BBOX))))
    one = api.collection_item("tapi", "tapi_trunk")
    assert one["id"] == "tapi_trunk" and one["properties"]["reported_length_km"] == 1814.0


@pytest.mark.parametrize("reader", ["pyogrio", "geopandas"])
def test_gdal_http_path_reads_every_layer_geojson(live, catalog, client, reader):
    """pyogrio.read_dataframe(url) / geopandas.read_file(url) use /vsicurl/: byte ranges (boundaries is ~0.7 MB)."""
    for layer_id in catalog.ids:
        url = f"{live.url}/api/layers/{layer_id}"
        frame = pyogrio.read_dataframe(url) if reader == "pyogrio" else gpd.read_file(url)
        assert frame["id"].tolist() == _api_ids(client, layer_id), layer_id
    info = pyogrio.read_info(f"/vsicurl/{live.url}/api/layers/boundaries")
    assert info["features"] == len(catalog.layer("boundaries").gdf)


def test_links_use_the_public_address_behind_a_trusted_proxy(live):
    headers = {"X-Forwarded-Host": "maps.example.org", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"}
    status, _, body = raw_get(live.port, "/ogcapi/collections/tapi/items?limit=1", headers=headers)
    assert status == 200
    hrefs = [link["href"] for link in json.loads(body)["links"]]
    assert all(h.startswith("https://maps.example.org/ogcapi/") for h in hrefs), hrefs
    _, _, plain = raw_get(live.port, "/ogcapi/collections/tapi/items?limit=1")
    assert json.loads(plain)["links"][0]["href"].startswith(live.url + "/ogcapi/")
