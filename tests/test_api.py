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
    ("geometry=x", "geometry"), ("=proposed", "(unnamed)"),
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
    assert lines[0].endswith(",vertex_count,status_as_of,status_source_title,status_source_url,geometry_quality,"
                             "sinuosity_by_part,area_km2")  # later columns appended: earlier ones keep places
    assert ",2026-01-27,Trend via MENAFN" in lines[1]  # status as of its date, with the source
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


# --- bbox through the spatial index, paging, cheap revalidation ----------------------------

KARACHI = "66.9,24.75,67.25,25.05"
LAHORE_LINES = {"sahiwal_lahore_gas_pipeline_i", "sawan_lahore_gas_pipeline", "faisalabad_shahdara_gas_pipeline_i",
                "faisalabad_shahdara_gas_pipeline_ii", "shahdara_gujranwala_rahwali_gas_pipeline"}


def test_bbox_over_karachi_returns_the_lines_touching_it_and_not_lahores(client):
    # the cross-border projects (Pakistan Stream, IPI) are their own layers' features, referenced by the grid
    body = client.get(f"/api/layers/pakistan_gas_grid?bbox={KARACHI}").get_json(force=True)
    found = {f["id"] for f in body["features"]}
    assert found == {"bajara_karachi_loopline", "dadu_malir_karachi_gas_pipeline",
                     "kadanwari_malir_karachi_gas_pipeline", "nawabshah_karachi_gas_pipeline"}
    assert not found & LAHORE_LINES
    assert body["numberMatched"] == body["numberReturned"] == 4 and "next_offset" not in body
    lahore = ids(client.get("/api/layers/pakistan_gas_grid?bbox=74.15,31.4,74.5,31.7"))
    assert lahore == LAHORE_LINES
    assert ids(client.get(f"/api/layers/north_south_pipeline?bbox={KARACHI}")) == {"pakistan_stream"}


def test_paging_slices_in_layer_order_with_next_offset(client, catalog):
    order = list(catalog.layer("pakistan_gas_grid").gdf["id"])
    assert len(order) == 66
    first = client.get("/api/layers/pakistan_gas_grid?limit=25").get_json(force=True)
    assert [f["id"] for f in first["features"]] == order[:25]
    assert (first["numberMatched"], first["numberReturned"], first["next_offset"]) == (66, 25, 25)
    assert first["links"] == [{"rel": "next", "type": "application/geo+json",
                               "href": "/api/layers/pakistan_gas_grid?limit=25&offset=25"}]
    second = client.get(first["links"][0]["href"]).get_json(force=True)
    assert [f["id"] for f in second["features"]] == order[25:50] and second["next_offset"] == 50
    last = client.get("/api/layers/pakistan_gas_grid?limit=25&offset=50").get_json(force=True)
    assert [f["id"] for f in last["features"]] == order[50:]
    assert last["numberReturned"] == 16 and "next_offset" not in last and "links" not in last
    beyond = client.get("/api/layers/pakistan_gas_grid?offset=66").get_json(force=True)
    assert beyond["features"] == [] and beyond["numberMatched"] == 66
    whole = client.get("/api/layers/pakistan_gas_grid").get_json(force=True)
    assert (whole["numberMatched"], whole["numberReturned"]) == (66, 66)


def test_paging_composes_with_filters_and_links_keep_them(client, catalog):
    grid = catalog.layer("pakistan_gas_grid").gdf
    operating = list(grid.loc[grid.status == "operating", "id"])
    body = client.get("/api/layers/pakistan_gas_grid?status=operating&limit=10&offset=10").get_json(force=True)
    assert [f["id"] for f in body["features"]] == operating[10:20]
    assert body["numberMatched"] == len(operating) and body["next_offset"] == 20
    assert body["links"][0]["href"] == "/api/layers/pakistan_gas_grid?status=operating&limit=10&offset=20"
    # spelling does not matter: values are sorted and de-duplicated into one canonical query
    a = client.get("/api/layers/pakistan_gas_grid?status=proposed,operating&limit=5")
    b = client.get("/api/layers/pakistan_gas_grid?status=operating&status=proposed&status=operating&limit=5")
    assert a.headers["ETag"] == b.headers["ETag"] and a.data == b.data


@pytest.mark.parametrize("query, parameter", [
    ("limit=0", "limit"), ("limit=-3", "limit"), ("limit=ten", "limit"), ("limit=2.5", "limit"), ("limit=", "limit"),
    ("offset=-1", "offset"), ("offset=x", "offset"), ("offset=1e3", "offset"),
    ("limit=5&offset=abc", "offset"), ("page=2", "page"),
])
def test_bad_paging_values_are_400_naming_the_parameter(client, query, parameter):
    response = client.get(f"/api/layers/pakistan_gas_grid?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == parameter and parameter in body["error"]


def test_filtered_304_is_answered_without_building_the_body(app, client):
    url = f"/api/layers/pakistan_gas_grid?bbox={KARACHI}&status=operating"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert first.status_code == 200
    assert {f["id"] for f in first.get_json(force=True)["features"]} == {  # not the proposed/cancelled ones
        "bajara_karachi_loopline", "dadu_malir_karachi_gas_pipeline", "kadanwari_malir_karachi_gas_pipeline",
        "nawabshah_karachi_gas_pipeline"}
    bodies = app.extensions["api_bodies"]
    app.extensions["api_bodies"] = type(bodies)(bodies.max_bytes)  # forget every serialised body
    try:
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
        assert again.headers["Cache-Control"].startswith("public") and "Accept-Encoding" in again.headers["Vary"]
        assert len(app.extensions["api_bodies"]) == 0  # nothing was serialised for the 304
        packed = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert packed.headers["ETag"] == etag[:-1] + '-gz"'
        assert client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
                          ).status_code == 304
    finally:
        app.extensions["api_bodies"] = bodies
    other = client.get(f"/api/layers/pakistan_gas_grid?bbox={KARACHI}&status=operating&limit=2")
    assert other.headers["ETag"] != etag


def test_body_cache_is_bounded_in_bytes():
    from webapp.api.httpcache import BodyCache

    cache, built = BodyCache(10), []

    def body(key, size):
        return lambda: built.append(key) or (b"x" * size, key)

    cache.get("a", body("a", 4))
    cache.get("b", body("b", 4))
    cache.get("a", body("a", 4))  # hit: 'a' becomes most recent
    cache.get("c", body("c", 4))  # 12 bytes > 10: drops 'b'
    assert built == ["a", "b", "c"] and cache.size_bytes == 8 and len(cache) == 2
    cache.get("b", body("b", 4))
    assert built[-1] == "b"
    assert cache.get("big", body("big", 11)) == (b"x" * 11, "big") and len(cache) == 2  # too big: not kept


# --- display geometry for maps ----------------------------------------------------------------

def test_display_endpoint_serves_the_zoom_band_geometry(client, catalog):
    import shapely

    from geo.simplify import cached_display

    response = client.get("/api/layers/pakistan_gas_grid/display?zoom_band=1")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json(force=True)
    shown = shapely.from_geojson([json.dumps(f["geometry"]) for f in body["features"]])
    expected = cached_display(catalog, "pakistan_gas_grid", 1).geometry.to_numpy()
    assert shapely.equals_exact(shown, expected, tolerance=1e-9).all()
    props = body["features"][0]["properties"]
    assert set(props) <= {"id", "name", "kind", "status", "countries", "geometry_quality", "_h", "_s"}  # no popups
    assert body["styles"][props["_s"]]["color"]
    tapi = client.get("/api/layers/tapi/display?zoom_band=0").get_json(force=True)
    assert "Geodesic length" in tapi["features"][0]["properties"]["_popup"]  # 3 features: popups embedded
    etag = response.headers["ETag"]
    assert client.get("/api/layers/pakistan_gas_grid/display?zoom_band=1",
                      headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("query", ["", "?zoom_band=6", "?zoom_band=-1", "?zoom_band=x", "?zoom=3"])
def test_display_endpoint_bad_band_is_400(client, query):
    response = client.get(f"/api/layers/pakistan_gas_grid/display{query}")
    assert response.status_code == 400
    assert response.get_json()["parameter"] in {"zoom_band", "zoom"}


def test_countries_filter_refuses_a_non_iso3_value(client):
    response = client.get("/api/layers/tapi?countries=Pakistan")
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == "countries" and "ISO 3166-1 alpha-3" in body["error"]
    assert client.get("/api/layers/tapi?countries=PAK").get_json()["numberMatched"] == 1


def test_error_bodies_clip_echoed_input(client):
    response = client.get("/api/layers/tapi?bbox=" + "1" * 100_000)
    assert response.status_code == 400
    assert len(response.data) < 2_000


def test_a_limit_over_the_maximum_is_capped(client):
    body = client.get("/api/layers/pakistan_gas_grid?limit=1000000000").get_json()
    assert body["numberReturned"] == body["numberMatched"] == 66
    nearest = client.get("/api/nearest?lat=25.12&lon=62.33&layer=ports&limit=1000000")
    assert nearest.status_code == 200
