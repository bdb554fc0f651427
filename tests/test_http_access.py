"""CORS on every read-only GET (configurable origins, none for routes that write) and byte ranges (206, 416)."""

import pytest
from flask import Blueprint

from layers.errors import BadParameter
from webapp import create_app

DATA_URLS = ("/api/layers/boundaries", "/api/layers/tapi/download?format=gpkg", "/ogcapi/collections/tapi/items",
             "/ogcapi/collections/pakistan_gas_grid/tiles/WebMercatorQuad/5/13/22", "/export/route?from=Kashgar&to=Gwadar&format=fgb")


@pytest.mark.parametrize("url", DATA_URLS + ("/", "/api/layers", "/api/layers/nope"))
def test_every_read_only_get_is_cors_open_by_default(client, url):
    response = client.get(url, headers={"Origin": "https://observablehq.com"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Range" in response.headers["Access-Control-Expose-Headers"]


def test_preflight_allows_range_and_conditional_headers(client):
    response = client.options("/api/layers/boundaries", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "Range" in response.headers["Access-Control-Allow-Headers"]


def test_configured_origins_only_and_never_on_routes_that_write(tmp_path):
    app = create_app({"TESTING": True, "CORS_ORIGINS": "https://a.example, http://localhost:8888"})
    writes = Blueprint("writes", __name__)
    writes.add_url_rule("/api/upload", "upload", lambda: "stored", methods=["GET", "POST"])
    app.register_blueprint(writes)
    client = app.test_client()
    ok = client.get("/api/layers/tapi", headers={"Origin": "http://localhost:8888"})
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:8888" and "Origin" in ok.headers["Vary"]
    other = client.get("/api/layers/tapi", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    for method in (client.get, client.post):
        assert "Access-Control-Allow-Origin" not in method("/api/upload", headers={"Origin": "https://a.example"}).headers
    with pytest.raises(BadParameter):
        create_app({"TESTING": True, "CORS_ORIGINS": "not an origin"})


@pytest.mark.parametrize("url", DATA_URLS)
def test_byte_ranges_on_geojson_and_downloads(client, url):
    whole = client.get(url, headers={"Accept-Encoding": "identity"})
    body = whole.data
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = client.get(url, headers={"Range": "bytes=10-109", "Accept-Encoding": "gzip"})
    assert part.status_code == 206 and part.data == body[10:110]
    assert part.headers["Content-Range"] == f"bytes 10-109/{len(body)}"
    assert "Content-Encoding" not in part.headers  # offsets are the plain body's
    tail = client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.data == body[-50:]
    refused = client.get(url, headers={"Range": f"bytes={len(body) + 10}-"})
    assert refused.status_code == 416 and refused.headers["Content-Range"] == f"bytes */{len(body)}"


def test_if_range_with_a_stale_etag_sends_everything(client):
    whole = client.get("/api/layers/tapi", headers={"Accept-Encoding": "identity"})
    fresh = client.get("/api/layers/tapi", headers={"Range": "bytes=0-9", "If-Range": whole.headers["ETag"]})
    assert fresh.status_code == 206
    stale = client.get("/api/layers/tapi", headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert stale.status_code == 200 and stale.data == whole.data
