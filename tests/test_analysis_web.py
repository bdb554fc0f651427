"""Corridor and network analysis on the web: the JSON API, the /corridor and /route pages, embeds, exports.

Figures are checked against :mod:`geo` (the same functions the CLI runs);
the schematic CPEC chains may be regenerated, so their km are asserted as
ranges, never exact values.
"""

import csv
import gzip
import html
import io
import json
import re

import pytest

from geo.corridor_report import corridor_report
from geo.geodesic import distance_km
from webapp.analysis import queries as analysis_queries
from webapp.maps import assets

GWADAR = (62.32541, 25.12163)
KASHGAR = (75.98951, 39.47066)




def text(response):
    return response.get_data(as_text=True)


def props(doc):
    return [f["properties"] for f in doc["features"]]


# --- API: corridor ---------------------------------------------------------------------------------

def test_api_corridor_tapi_band_first_with_area_and_herat(client, catalog):
    response = client.get("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=50")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    doc = response.get_json()
    band = doc["features"][0]
    assert band["properties"]["role"] == "corridor" and band["geometry"]["type"] in ("Polygon", "MultiPolygon")
    geo_area = corridor_report(catalog, "tapi", "tapi_trunk", 50, with_layers="places")["corridor"].area_km2
    assert band["properties"]["area_km2"] == pytest.approx(geo_area, rel=0.01)
    # ~2 x 50 km x 1840 km + pi 50^2
    assert 180_000 < band["properties"]["area_km2"] < 192_000
    found = props(doc)[1:]
    assert all(p["role"] == "within" and p["distance_km"] <= 50 for p in found)
    herat = [p for p in found if p["layer"] == "places" and p["name"] == "Herat"]
    assert len(herat) == 1 and herat[0]["distance_km"] == pytest.approx(10.4, abs=2)
    chain = [p["chainage_km"] for p in found]
    assert chain == sorted(chain) and 300 < herat[0]["chainage_km"] < 360
    assert doc["summary"]["features"] == len(found)
    assert any("GeoNames" in a for a in doc["attribution"])


def test_api_gwadar_within_25_km_of_the_cpec_southern_trunk(client):
    doc = client.get("/api/corridor?feature=cpec:cpec_southern_trunk&width_km=25&with=ports,places").get_json()
    found = {(p["layer"], p["name"]): p for p in props(doc)[1:]}
    assert found[("places", "Gwadar")]["distance_km"] < 25
    port = next(p for p in found.values() if p["id"] == "gwadar_port")
    assert port["distance_km"] < 25
    assert port["chainage_km"] > doc["features"][0]["properties"]["route_length_km"] - 25  # the route's end


def test_api_corridor_with_nothing_returns_the_band_only(client):
    doc = client.get("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=10&with=").get_json()
    assert len(doc["features"]) == 1 and doc["summary"]["features"] == 0


@pytest.mark.parametrize("width", ["0", "-5", "1e9", "nan", "inf", "-inf", "", "ten", "500.1"])
def test_api_width_must_be_positive_finite_and_bounded(client, width):
    for url in (f"/api/corridor?layer=tapi&feature=tapi_trunk&width_km={width}",
                f"/api/overlap?a=tapi:tapi_trunk&b=tapi:tapi_trunk&width_km={width}"):
        response = client.get(url)
        assert response.status_code == 400, url
        body = response.get_json()
        assert body["parameter"] == "width_km" and "width_km" in body["error"]
    for url in (f"/export/corridor?layer=tapi&feature=tapi_trunk&width_km={width}&format=csv",
                f"/corridor?layer=tapi&feature=tapi_trunk&width_km={width}"):
        response = client.get(url)  # HTML: the message in the page
        assert response.status_code == 400 and "<code>width_km</code>" in text(response), url


def test_api_corridor_refuses_bad_references(client):
    response = client.get("/api/corridor?layer=tapi&feature=tapi_trunk&widht_km=5")
    assert response.status_code == 400
    assert response.get_json()["parameter"] == "widht_km" and response.get_json()["suggestions"] == ["width_km"]
    assert client.get("/api/corridor?layer=tapi&feature=nope").status_code == 404
    assert client.get("/api/corridor?layer=nope&feature=x").status_code == 404
    body = client.get("/api/corridor?layer=tapi").get_json()
    assert body["parameter"] == "feature"
    body = client.get("/api/corridor?feature=tapi:tapi_trunk&with=plces").get_json()
    assert body["parameter"] == "with" and body["suggestions"] == ["places"]
    body = client.get("/api/corridor?feature=boundaries:PAK&width_km=5").get_json()
    assert "line route" in body["error"]


# --- API: overlap, route, nearest ---------------------------------------------------------------------

def test_api_overlap_tapi_crosses_the_cpec_western_alignment(client):
    response = client.get("/api/overlap?a=tapi:tapi_trunk&b=cpec:cpec_western_alignment&width_km=25")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["a"] == "tapi:tapi_trunk" and doc["width_km"] == 25
    assert len(doc["crossings"]) >= 1
    for c in doc["crossings"]:
        assert 0 < c["chainage_a_km"] < doc["a_length_km"] and 0 < c["chainage_b_km"] < doc["b_length_km"]
        assert 60 < c["lon"] < 72 and 25 < c["lat"] < 36  # in Pakistan/Afghanistan
    assert 0 < doc["a_within_b_km"] < doc["a_length_km"]
    assert client.get("/api/overlap?a=tapi&b=tapi:tapi_trunk").get_json()["parameter"] == "a"


def test_api_route_kashgar_to_gwadar_legs_add_up(client):
    response = client.get("/api/route?from=Kashgar&to=Gwadar&modes=road")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    doc = response.get_json()
    legs, totals = props(doc), doc["totals"]
    assert sum(leg["km"] for leg in legs) == pytest.approx(totals["total_km"], abs=0.01)
    assert legs[-1]["to_km"] == pytest.approx(totals["total_km"], abs=0.01)
    assert {leg["mode"] for leg in legs} <= {"road", "snap", "access"}
    straight = float(distance_km(*KASHGAR, *GWADAR))
    assert straight < totals["total_km"] < 1.6 * straight
    assert totals["from"]["name"].startswith("Kashgar") and totals["modes"] == ["road"]
    assert all(f["geometry"]["type"] == "LineString" for f in doc["features"])


def test_api_route_without_a_path_is_a_404_with_a_message(client):
    response = client.get("/api/route?from=Kashgar&to=Gwadar&modes=rail")
    assert response.status_code == 404
    assert "rail" in response.get_json()["error"]
    again = client.get("/api/route?from=Kashgar&to=Gwadar&modes=rail")  # remembered, same answer
    assert again.status_code == 404 and again.get_json() == response.get_json()


def test_api_route_misspelt_place_suggests_close_matches(client):
    response = client.get("/api/route?from=Gwadr&to=Kashgar&modes=road")
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == "from" and "Gwadar" in body["suggestions"]


@pytest.mark.parametrize("query, parameter", [
    ("from=Kashgar&to=Gwadar&modes=boat", "modes"),
    ("from=Kashgar&to=Gwadar&modes=", "modes"),
    ("from=Kashgar&to=Gwadar&snap_km=nan", "snap_km"),
    ("from=Kashgar&to=Gwadar&attach_km=1e6", "attach_km"),
    ("from=95,62&to=Gwadar", "from"),
    ("from=Kashgar", "to"),
    ("from=Kashgar&to=Gwadar&mode=road", "mode"),
])
def test_api_route_bad_parameters(client, query, parameter):
    response = client.get(f"/api/route?{query}")
    assert response.status_code == 400 and response.get_json()["parameter"] == parameter


def test_api_nearest_port_to_a_point_and_a_place(client):
    doc = client.get("/api/nearest?lat=25.12&lon=62.33").get_json()
    assert doc["layer"] == "ports" and doc["by_geodesic"][0]["id"] == "gwadar_port"
    assert doc["by_geodesic"][0]["geodesic_km"] == pytest.approx(
        float(distance_km(62.33, 25.12, doc["by_geodesic"][0]["lon"], doc["by_geodesic"][0]["lat"])), abs=0.01)
    by_place = client.get("/api/nearest?place=Gwadar&layer=ports&modes=road").get_json()
    assert by_place["by_geodesic"][0]["id"] == "gwadar_port" and by_place["modes"] == ["road"]


@pytest.mark.parametrize("query, parameter", [
    ("lat=95&lon=62", "lat"), ("lat=25&lon=181", "lon"), ("lat=nan&lon=62", "lat"), ("lat=25&lon=inf", "lon"),
    ("lat=25", "lon"), ("", "lat"), ("place=Gwadar&lat=25", "place"), ("lat=25&lon=62&limit=0", "limit"),
    ("place=Gwadr", "place"), ("lat=25&lon=62&radius=3", "radius"),
])
def test_api_nearest_bad_parameters(client, query, parameter):
    response = client.get(f"/api/nearest?{query}")
    assert response.status_code == 400 and response.get_json()["parameter"] == parameter


# --- caching -------------------------------------------------------------------------------------------

def test_results_are_cached_per_normalised_query(client, monkeypatch):
    calls = []
    real = analysis_queries.corridor_report
    monkeypatch.setattr(analysis_queries, "corridor_report", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = client.get("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=37.5&with=ports,places")
    same = client.get("/api/corridor?feature=tapi:tapi_trunk&width_km=37.50&with=places&with=ports")
    assert len(calls) == 1 and first.get_data() == same.get_data()
    etag = first.headers["ETag"]
    assert client.get("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=37.5&with=ports,places",
                      headers={"If-None-Match": etag}).status_code == 304
    packed = client.get("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=37.5&with=ports,places",
                        headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(packed.get_data())) == first.get_json()


def test_result_cache_is_bounded_in_bytes(app):
    results = app.extensions["analysis_results"]
    assert results.max_bytes == app.config["RESULT_CACHE_MB"] * 1024 * 1024
    assert 0 < results.size_bytes <= results.max_bytes


# --- pages ---------------------------------------------------------------------------------------------

def test_corridor_page_defaults_to_tapi_and_shows_band_features_and_table(client, embedded_layers):
    response = client.get("/corridor")
    assert response.status_code == 200
    page = text(response)
    data = embedded_layers(page)
    band = data["analysis_band"]["features"]
    assert len(band) == 1 and band[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    places = {f["properties"]["name"] for f in data["within_places"]["features"]}
    assert "Herat" in places and "Kandahar" in places
    assert data["analysis_route"]["features"][0]["properties"]["id"] == "tapi_trunk"
    # the table: one row per feature found, with distance and chainage as computed
    doc = client.get("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=50").get_json()
    rows = re.findall(r'<tr data-layer="([a-z0-9_]+)">(.*?)</tr>', page, re.DOTALL)
    assert len(rows) == len(doc["features"]) - 1
    herat = next(p for p in props(doc) if p.get("name") == "Herat")
    herat_row = next(cells for _, cells in rows if ">Herat<" in cells)
    assert f">{herat['distance_km']:,.1f}<" in herat_row and f">{herat['chainage_km']:,.1f}<" in herat_row
    assert f"{doc['features'][0]['properties']['area_km2']:,.0f} km²" in page
    assert '<option value="tapi:tapi_trunk" selected>' in page
    assert 'value="50"' in page
    assert "GeoNames" in page and "Natural Earth" in page  # attribution of every source shown
    assert "/export/corridor?" in page and "/embed/corridor?" in html.unescape(page)


def test_corridor_page_for_another_route_and_layers(client, embedded_layers):
    page = text(client.get("/corridor?feature=cpec:cpec_southern_trunk&width_km=25&with=&with=ports&basemap=none"))
    data = embedded_layers(page)
    assert "within_places" not in data and [f["properties"]["id"] for f in data["within_ports"]["features"]] == [
        "gwadar_port"]
    assert "L.tileLayer(" not in page and 'name="with" value="ports" checked' in page
    assert 'name="with" value="places">' in page  # unchecked: the form shows what was asked


def test_corridor_page_error_keeps_the_form_filled(client):
    response = client.get("/corridor?feature=tapi:tapi_trunk&width_km=nan&with=ports")
    assert response.status_code == 400
    page = text(response)
    assert "must be a finite number of km" in page and "<code>width_km</code>" in page
    assert 'name="width_km" value="nan"' in page and '<option value="tapi:tapi_trunk" selected>' in page
    assert "analysis_band" not in page
    response = client.get("/corridor?feature=tapi:tapi_trunk&colour=red")
    assert response.status_code == 400 and "<code>colour</code>" in text(response)
    assert client.get("/corridor?feature=tapi:nope").status_code == 404


def test_route_page_defaults_to_kashgar_gwadar_by_road(client, embedded_layers):
    response = client.get("/route")
    assert response.status_code == 200
    page = text(response)
    data = embedded_layers(page)
    legs = data["route_legs"]["features"]
    doc = client.get("/api/route?from=Kashgar&to=Gwadar&modes=road").get_json()
    assert len(legs) == len(doc["features"])
    assert [f["geometry"]["coordinates"] for f in legs] == [f["geometry"]["coordinates"] for f in doc["features"]]
    assert {f["properties"]["kind"] for f in data["route_ends"]["features"]} == {"start", "end"}
    table = re.search(r'<table class="stats-table legs-table">(.*?)</table>', page, re.DOTALL).group(1)
    assert table.count("<tr><td class=\"num\">") == len(legs)
    assert "Karakoram Highway" in table and f"{doc['totals']['total_km']:,.1f}" in table
    assert '<input type="checkbox" name="modes" value="road" checked>' in page
    assert 'value="Gwadar Port"' in page  # the datalist offers ports and places
    assert "GeoNames" in page
    assert "route_legs" in text(client.get("/route?basemap=none"))  # still the default route


def test_route_page_misspelt_place_suggests_links(client):
    response = client.get("/route?from=Gwadr&to=Kashgar&modes=road")
    assert response.status_code == 400
    page = text(response)
    assert 'name="from" value="Gwadr"' in page
    assert '<a href="/route?from=Gwadar&amp;to=Kashgar&amp;modes=road">Gwadar</a>' in page


def test_route_page_without_a_path_is_a_404_in_the_page(client):
    response = client.get("/route?from=Kashgar&to=Gwadar&modes=rail")
    assert response.status_code == 404
    page = text(response)
    assert "rail network" in page and 'value="rail" checked' in page and 'class="site-bar"' in page


def test_embeds_have_no_page_chrome(client, embedded_layers):
    for url, layer in (("/embed/corridor?layer=tapi&feature=tapi_trunk&width_km=50", "analysis_band"),
                       ("/embed/route?from=Kashgar&to=Gwadar&modes=road", "route_legs")):
        response = client.get(url)
        assert response.status_code == 200
        page = text(response)
        assert 'class="site-bar"' not in page and "<form" not in page and "embed-frame" in page
        assert layer in embedded_layers(page)
        csp = response.headers.get("Content-Security-Policy")
        # other sites (and reports opened from file://) may frame the embeds: no frame-ancestors at all
        assert csp is None or "frame-ancestors" not in csp


# --- exports --------------------------------------------------------------------------------------------

def test_corridor_export_is_one_self_contained_file(client, embedded_layers):
    response = client.get("/export/corridor?layer=tapi&feature=tapi_trunk&width_km=50&format=html")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="corridor_tapi_tapi_trunk_50km.html"'
    page = text(response)
    assert assets.remote_asset_urls(page) == []
    assert "/static/" not in page and "L.tileLayer(" not in page
    data = embedded_layers(page)
    assert "analysis_band" in data and "Herat" in {f["properties"]["name"] for f in data["within_places"]["features"]}
    assert all("_popup" in f["properties"] for layer in data.values() for f in layer["features"])


def test_csv_and_geojson_exports(client):
    doc = client.get("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=50").get_json()
    csv_text = text(client.get("/export/corridor?layer=tapi&feature=tapi_trunk&width_km=50&format=csv"))
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert {"WKT", "lon", "lat", "layer", "id", "name", "countries", "distance_km", "chainage_km", "inside_length_km",
            "inside_area_km2"} <= set(rows[0])
    assert len(rows) == len(doc["features"])  # the band first, then every feature found, each with geometry
    assert rows[0]["WKT"].startswith("POLYGON") and rows[0]["role"] == "corridor"
    herat = next(r for r in rows if r["name"] == "Herat")
    assert json.loads(herat["countries"]) == ["AFG"] and herat["WKT"].startswith("POINT")
    geojson = client.get("/export/corridor?layer=tapi&feature=tapi_trunk&width_km=50&format=geojson").get_json()
    assert geojson == doc
    legs = list(csv.DictReader(io.StringIO(text(client.get(
        "/export/route?from=Kashgar&to=Gwadar&modes=road&format=csv")))))
    route = client.get("/api/route?from=Kashgar&to=Gwadar&modes=road").get_json()
    assert len(legs) == len(route["features"]) and legs[0]["WKT"].startswith("LINESTRING")
    page = text(client.get("/export/route?from=Kashgar&to=Gwadar&modes=road&format=html"))
    assert assets.remote_asset_urls(page) == [] and "route_legs" in page
    response = client.get("/export/corridor?layer=tapi&feature=tapi_trunk&format=tiff")
    assert response.status_code == 400 and "<code>format</code>" in text(response)


# --- escaping -------------------------------------------------------------------------------------------

def test_hostile_names_are_escaped_everywhere(hostile_client, embedded_layers):
    page = text(hostile_client.get("/corridor?feature=hostile:evil_line&width_km=100&with=hostile,places"))
    assert "<script>alert(1)</script>" not in page and "<em>X</em>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the select and the headings
    assert "Plant &lt;em&gt;X&lt;/em&gt;" in page  # the table row of the point inside the band
    data = embedded_layers(page)
    names = {f["properties"]["name"] for f in data["within_hostile"]["features"]}
    assert names == {"Plant <em>X</em>"}  # JSON in the page, decoded: the raw name, shown with textContent
    popup = data["within_hostile"]["features"][0]["properties"]["_popup"]
    assert "<em>" not in popup and "&lt;em&gt;" in popup
    bad = text(hostile_client.get("/route?from=%3Cscript%3Ealert(9)%3C/script%3E&to=Gwadar"))
    assert "<script>alert(9)" not in bad and "&lt;script&gt;alert(9)" in bad


def test_cli_exports_a_corridor_map(tmp_path, capsys, embedded_layers):
    from webapp.__main__ import main

    out = tmp_path / "corridor.html"
    assert main(["export", "--corridor", "tapi:tapi_trunk", "--width-km", "50", "--with", "places", "--out",
                 str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert assets.remote_asset_urls(page) == [] and set(embedded_layers(page)) >= {"analysis_band", "within_places"}
    assert main(["export", "--corridor", "tapi:tapi_trunk", "--width-km", "0", "--out", str(out)]) == 2
    assert "width_km" in capsys.readouterr().err
