"""The JSON API: catalogue, GeoJSON with filters, features, statistics, errors, caching, gzip."""

import gzip
import json

import pytest

from geo.stats import layer_stats


def test_catalogue_lists_every_layer(client, catalog):
    body = client.get("/api/layers").get_json()
    assert [entry["id"] for entry in body["layers"]] == catalog.ids
    tapi = next(entry for entry in body["layers"] if entry["id"] == "tapi")
    assert tapi["feature_count"] == len(catalog.layer("tapi").gdf)
    assert tapi["title"] == "TAPI gas pipeline" and tapi["licence"] == "CC BY 4.0"
    assert tapi["attribution"].startswith("Global Energy Monitor")
    assert tapi["bbox"] == pytest.approx(catalog.layer("tapi").bbox, abs=1e-6)
    assert tapi["links"]["stats"] == "/api/layers/tapi/stats"


def test_layer_geojson(client, catalog):
    response = client.get("/api/layers/tapi")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json(force=True)
    assert body["type"] == "FeatureCollection" and body["metadata"]["id"] == "tapi"
    assert [f["id"] for f in body["features"]] == list(catalog.layer("tapi").gdf["id"])
    trunk = body["features"][0]
    assert trunk["properties"]["reported_length_km"] == 1814
    assert trunk["properties"]["sources"][0]["url"].startswith("https://")


def ids(response):
    return {f["id"] for f in response.get_json(force=True)["features"]}


def test_property_filters(client, catalog):
    grid = catalog.layer("pakistan_gas_grid").gdf
    assert ids(client.get("/api/layers/pakistan_gas_grid?status=proposed")) == set(grid.loc[grid.status == "proposed", "id"])
    both = set(grid.loc[grid.status.isin(["proposed", "construction"]), "id"])
    assert ids(client.get("/api/layers/pakistan_gas_grid?status=proposed,construction")) == both
    assert ids(client.get("/api/layers/pakistan_gas_grid?status=proposed&status=construction")) == both
    assert ids(client.get("/api/layers/tapi?kind=road")) == set()
    with_iran = {fid for fid, cs in zip(grid["id"], grid["countries"]) if "IRN" in cs}
    assert with_iran and ids(client.get("/api/layers/pakistan_gas_grid?countries=IRN")) == with_iran


def test_bbox_filter(client, catalog):
    # a box around Multan holds the trunk but not the branches near the Indian border
    inside = ids(client.get("/api/layers/tapi?bbox=60,24,75,37"))
    assert "tapi_trunk" in inside
    assert ids(client.get("/api/layers/tapi?bbox=0,0,1,1")) == set()


@pytest.mark.parametrize("query, parameter", [
    ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=10,10,5,5", "bbox"), ("bbox=0,0,200,10", "bbox"),
    ("bbox=nan,1,2,3", "bbox"), ("status=porposed", "status"), ("kind=", "kind"), ("stauts=proposed", "stauts"),
    ("geometry=x", "geometry"),
])
def test_malformed_parameters_are_400_naming_them(client, query, parameter):
    response = client.get(f"/api/layers/tapi?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == parameter and parameter in body["error"]


def test_suggestions(client):
    assert client.get("/api/layers/tapi?status=porposed").get_json()["suggestions"] == ["proposed"]
    assert "status" in client.get("/api/layers/tapi?stauts=proposed").get_json()["suggestions"]


@pytest.mark.parametrize("url, key", [
    ("/api/layers/nope", "layer"), ("/api/layers/Bad-Id", "layer"), ("/api/layers/..%2fcatalog", "error"),
    ("/api/layers/tapi/features/nope", "feature"), ("/api/layers/nope/stats", "layer"),
])
def test_unknown_layer_or_feature_is_404_json(client, url, key):
    response = client.get(url)
    assert response.status_code == 404 and response.mimetype == "application/json"
    body = response.get_json()
    assert "error" in body and key in body
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_endpoint_and_method_are_json(client):
    response = client.get("/api/nothing")
    assert response.status_code == 404 and "no such page or endpoint" in response.get_json()["error"]
    response = client.post("/api/layers")
    assert response.status_code == 405 and "POST" in response.get_json()["error"]


def test_feature_with_its_statistics(client, catalog):
    body = client.get("/api/layers/tapi/features/tapi_trunk").get_json(force=True)
    assert body["type"] == "Feature" and body["id"] == "tapi_trunk" and body["layer"] == "tapi"
    expected = layer_stats(catalog, "tapi").set_index("id").loc["tapi_trunk"]
    assert body["stats"]["geodesic_length_km"] == expected["geodesic_length_km"]
    assert abs(body["stats"]["geodesic_length_km"] - 1814) / 1814 < 0.10


def test_stats_match_geo(client, catalog):
    body = client.get("/api/layers/tapi/stats").get_json()
    expected = layer_stats(catalog, "tapi")
    assert [row["id"] for row in body["features"]] == list(expected["id"])
    for row, (_, exp) in zip(body["features"], expected.iterrows()):
        assert row["geodesic_length_km"] == exp["geodesic_length_km"]
        assert row["length_by_country_km"] == exp["length_by_country_km"]
    assert body["summary"]["total_length_km"] == pytest.approx(expected["geodesic_length_km"].sum(), abs=0.01)
    assert body["units"].startswith("km")


def test_stats_csv(client, catalog):
    response = client.get("/api/layers/tapi/stats?format=csv")
    assert response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("id,name,kind,status,geodesic_length_km")
    geodesic = layer_stats(catalog, "tapi").set_index("id").loc["tapi_trunk", "geodesic_length_km"]
    assert "tapi_trunk," in lines[1] and f"{geodesic:.3f}" in lines[1]
    bad = client.get("/api/layers/tapi/stats?format=xml")
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "format"


def test_etag_cache_control_and_304(client):
    first = client.get("/api/layers/tapi")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    again = client.get("/api/layers/tapi", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/api/layers/tapi", headers={"If-None-Match": '"other"'}).status_code == 200
    # filtered responses get their own validator
    filtered = client.get("/api/layers/tapi?kind=road")
    assert filtered.headers["ETag"] and filtered.headers["ETag"] != etag


def test_gzip_when_accepted(client, catalog):
    plain = client.get("/api/layers/pakistan_gas_grid")
    packed = client.get("/api/layers/pakistan_gas_grid", headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert len(packed.data) < len(plain.data) / 3
    assert json.loads(gzip.decompress(packed.data)) == plain.get_json(force=True)
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert client.get("/api/layers/pakistan_gas_grid", headers={
        "Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}).status_code == 304
    refused = client.get("/api/layers/pakistan_gas_grid", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_pages_are_compressed_too(client):
    response = client.get("/map/tapi", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"TAPI gas pipeline" in gzip.decompress(response.data)
