"""Pages through the test client: the map data they embed, tables, embeds, errors, escaping."""

import html
import re

import pytest

from geo.stats import layer_stats
from webapp.maps import assets
from webapp.maps.builder import overview_layer_ids


def text(response):
    return response.get_data(as_text=True)


def test_overview_embeds_every_layer_and_the_route_table(client, catalog, embedded_layers):
    response = client.get("/")
    assert response.status_code == 200
    page = text(response)
    layers = embedded_layers(page)
    assert set(layers) == set(overview_layer_ids(catalog))
    for layer_id, data in layers.items():
        assert [f["properties"]["id"] for f in data["features"]] == list(catalog.layer(layer_id).gdf["id"])
    # the feature table: one row per feature of every layer, figures from geo.stats
    for layer_id in overview_layer_ids(catalog):
        assert page.count(f'<tr data-layer="{layer_id}"') == len(catalog.layer(layer_id).gdf), layer_id
    trunk = layer_stats(catalog, "tapi").set_index("id").loc["tapi_trunk"]
    assert f'{trunk["geodesic_length_km"]:,.1f}' in page
    assert "TAPI gas pipeline (main trunk)" in page
    assert assets.remote_asset_urls(page) == []


def test_layer_page_embeds_its_features_names_and_snippet(client, catalog, embedded_layers):
    page = text(client.get("/map/tapi"))
    data = embedded_layers(page)
    assert list(data) == ["tapi"]
    names = {f["properties"]["name"] for f in data["tapi"]["features"]}
    assert names == set(catalog.layer("tapi").gdf["name"])
    assert "<title>TAPI gas pipeline" in page
    # the iframe snippet is shown as text, not rendered
    snippet = re.search(r'<textarea id="embed-snippet"[^>]*>(.*?)</textarea>', page, re.DOTALL).group(1)
    assert snippet.startswith("&lt;figure")
    code = html.unescape(snippet)
    assert 'src="http://localhost/embed/tapi"' in code  # the offline basemap by default
    # responsive: full width, the height follows the width; the frame is named, the caption credits the sources
    assert "width:100%;aspect-ratio:3/2;min-height:360px" in code and 'title="Interactive map: TAPI' in code
    assert "<figcaption" in code and "Global Energy Monitor, Asia Gas Tracker, May 2024" in code
    assert "Global Energy Monitor, Asia Gas Tracker, May 2024 (CC BY 4.0)" in page
    assert "/export?layers=tapi&amp;format=png" in page


def test_multi_layer_page(client, embedded_layers):
    response = client.get("/map?layers=tapi,north_south_pipeline")
    assert response.status_code == 200
    assert set(embedded_layers(text(response))) == {"tapi", "north_south_pipeline"}


def test_map_without_layers_goes_to_the_overview(client):
    response = client.get("/map")
    assert response.status_code == 302 and response.headers["Location"].endswith("/")


def test_feature_parameter_zooms_to_and_opens_the_feature(client):
    page = text(client.get("/map/tapi?feature=tapi_trunk"))
    assert 'MapSvc.select("tapi", "tapi_trunk");' in page


def test_basemap_choice(client):
    assert "tile.openstreetmap.org" in text(client.get("/map/tapi"))
    page = text(client.get("/map/tapi?basemap=none"))
    assert "L.tileLayer(" not in page
    assert "vector_basemap_" in page  # the offline basemap is always there


def test_embed_has_no_page_chrome(client, embedded_layers):
    page = text(client.get("/embed/tapi"))
    assert 'class="site-bar"' not in page and "embed-frame" in page
    assert list(embedded_layers(page)) == ["tapi"]
    page = text(client.get("/embed?layers=tapi,lng_terminals&basemap=none"))
    assert set(embedded_layers(page)) == {"tapi", "lng_terminals"}


def test_popup_fragment(client, catalog):
    response = client.get("/popup/tapi/tapi_trunk")
    assert response.status_code == 200
    geodesic = layer_stats(catalog, "tapi").set_index("id").loc["tapi_trunk", "geodesic_length_km"]
    assert f"{geodesic:,.1f} km" in text(response)


def test_schematic_features_say_so(client, catalog, embedded_layers):
    schematic = [(lay.id, fid) for lay in catalog
                 for fid in lay.gdf.loc[lay.gdf["geometry_quality"] == "schematic", "id"]]
    if not schematic:
        pytest.skip("no schematic layer in the catalogue")
    layer_id, fid = schematic[0]
    page = text(client.get(f"/map/{layer_id}"))
    popup = next(f["properties"]["_popup"] for f in embedded_layers(page)[layer_id]["features"]
                 if f["properties"]["id"] == fid)
    assert "Schematic geometry" in popup
    assert "schematic (waypoints, not a surveyed route)" in page  # legend
    assert 'class="tag"' in page  # the statistics table marks it too


@pytest.mark.parametrize("url, status, needle", [
    ("/map/nope", 404, "unknown layer &#39;nope&#39;"),
    ("/map/TAPI", 404, "unknown layer"),
    ("/map/..%2f..%2fetc%2fpasswd", 404, ""),
    ("/embed/nope", 404, "unknown layer"),
    ("/map?layers=tapi,nope", 404, "unknown layer &#39;nope&#39;"),
    ("/map?layers=,", 400, "Parameter: <code>layers</code>"),
    ("/map/tapi?basemap=osmm", 400, "Did you mean: <code>osm</code>"),
    ("/map/tapi?feature=nope", 404, "has no feature &#39;nope&#39;"),
    ("/popup/tapi/nope", 404, "has no feature"),
    ("/no/such/page", 404, "no such page"),
])
def test_errors_are_html_pages_with_the_message(client, url, status, needle):
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert needle in text(response)
    assert "Traceback" not in text(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_wrong_method(client):
    response = client.post("/map/tapi")
    assert response.status_code == 405 and "method POST not allowed" in text(response)
    assert "GET" in response.headers["Allow"]


def test_hostile_layer_is_escaped_everywhere(hostile_client, embedded_layers):
    page = text(hostile_client.get("/map/hostile"))
    for raw in ("<script>alert(1)</script>", "<img src=x", "<b>Evil</b>", "<svg onload", "<i>evil title</i>",
                'href="javascript:', 'href="data:'):
        assert raw not in page, raw
    assert "&lt;b&gt;Evil&lt;/b&gt; layer" in page  # title heading, escaped by the template
    popup = embedded_layers(page)["hostile"]["features"][0]["properties"]["_popup"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in popup
    assert re.findall(r'href="([^"]*)"', popup) == ["https://example.org/a?b=1&amp;c=2"]
    fragment = text(hostile_client.get("/popup/hostile/evil_line"))
    assert "<script>" not in fragment and 'href="javascript:' not in fragment


def test_hostile_tooltips_use_text_not_markup(hostile_client):
    page = text(hostile_client.get("/map/hostile"))
    assert "MapSvc.featureLayer(" in page
    script = (assets.VENDOR_DIR.parent / "js" / "mapsvc.js").read_text(encoding="utf-8")
    assert "tip.textContent = f.properties.name" in script and "innerHTML" not in script


# --- large user layers: slim properties, popups fetched, zoom-band geometry -----------------------

BIG_FEATURES = 60  # > POPUP_EMBED_MAX (50)
BIG_VERTICES = 120  # per line: 7,200 in all > DISPLAY_SIMPLIFY_MIN_VERTICES (5,000)


@pytest.fixture(scope="module")
def big_client(tmp_path_factory):
    """An app serving, beside the built-in layers, a user layer of 60 wiggly lines across Sindh and Punjab."""
    import json

    import numpy as np

    from webapp import create_app

    folder = tmp_path_factory.mktemp("big_layer")
    t = np.linspace(0.0, 1.0, BIG_VERTICES)
    features = []
    for i in range(BIG_FEATURES):
        lon = 66.5 + 7.0 * t
        lat = 24.5 + 0.1 * i + 0.004 * np.sin(40 * np.pi * t)  # 400 m wiggles: under half a pixel at zoom 6
        line = {"type": "LineString", "coordinates": np.c_[lon, lat].round(6).tolist()}
        features.append({"type": "Feature", "geometry": line,
                         "properties": {
                             "id": f"line_{i:02d}", "name": f"Line {i} <b>bold</b>", "kind": "gas_pipeline",
                             "status": "operating", "countries": ["PAK"], "reported_length_km": 700.0,
                             "geometry_quality": "traced", "licence": "CC BY 4.0",
                             "sources": [{"title": "Survey & notes", "url": "https://example.org/s?a=1&b=2"}],
                             "operator": f"<img src=x onerror=alert({i})>",
                             "description": "x" * 400}})
    doc = {"type": "FeatureCollection", "features": features,
           "metadata": {"id": "big_lines", "title": "Big lines", "description": "Many wiggly lines.",
                        "attribution": "Example", "licence": "CC BY 4.0"}}
    (folder / "big_lines.geojson").write_text(json.dumps(doc), encoding="utf-8")
    return create_app({"TESTING": True, "LAYERS_DIRS": [str(folder)]}).test_client()


def test_large_served_map_is_slim_and_fetches_popups(big_client, embedded_layers):
    page = text(big_client.get("/map/big_lines"))
    data = embedded_layers(page)["big_lines"]
    assert [f["properties"]["id"] for f in data["features"]] == [f"line_{i:02d}" for i in range(BIG_FEATURES)]
    for feature in data["features"]:
        assert set(feature["properties"]) == {"id", "name", "kind", "status", "countries", "_s"}
    assert "xxxxxxxxxx" not in page and "onerror" not in page  # no description, no operator, no popups
    assert '"/popup/big_lines/{fid}"' in page and '"/api/layers/big_lines/display?zoom_band={band}"' in page
    # the popup fetched on click has every property, escaped, and the route statistics
    popup = text(big_client.get("/popup/big_lines/line_07"))
    assert "&lt;img src=x onerror=alert(7)&gt;" in popup and "<img" not in popup
    assert "Line 7 &lt;b&gt;bold&lt;/b&gt;" in popup and "x" * 400 in popup
    assert 'href="https://example.org/s?a=1&amp;b=2"' in popup and "Survey &amp; notes" in popup
    stats = big_client.get("/api/layers/big_lines/stats").get_json()["features"][7]
    assert f'{stats["geodesic_length_km"]:,.1f} km' in popup


def test_served_map_draws_simplified_geometry_but_stats_use_the_full_one(big_client, embedded_layers):
    import json

    import shapely

    from geo.geodesic import geodesic_length_km
    from geo.simplify import cached_display, zoom_band
    from webapp.maps.builder import fit_zoom

    app = big_client.application
    catalog = app.extensions["catalog"]
    full = catalog.layer("big_lines").gdf
    band = zoom_band(fit_zoom(catalog.layer("big_lines").bbox))
    assert band == 1  # a 7 x 6 degree view: zoom 6
    data = embedded_layers(text(big_client.get("/map/big_lines")))["big_lines"]
    shown = shapely.from_geojson([json.dumps(f["geometry"]) for f in data["features"]])
    assert shapely.equals_exact(shown, cached_display(catalog, "big_lines", band).geometry.to_numpy(), 1e-9).all()
    assert shapely.get_num_coordinates(shown).sum() < 0.25 * BIG_FEATURES * BIG_VERTICES
    # no visible change: within half a pixel at zoom 6 (~0.011 deg at 25-30 N)
    assert shapely.hausdorff_distance(shown, full.geometry.to_numpy()).max() < 0.5 * 360 / 256 / 2 ** 6
    body = big_client.get("/api/layers/big_lines/stats").get_json()
    expected = layer_stats(catalog, "big_lines")
    assert [r["geodesic_length_km"] for r in body["features"]] == list(expected["geodesic_length_km"])
    assert expected["geodesic_length_km"].to_numpy() == pytest.approx(geodesic_length_km(full.geometry), abs=5e-4)
    # the wiggles are real length: the simplified lines are measurably shorter than the measured figures
    assert (expected["geodesic_length_km"].to_numpy() - geodesic_length_km(shown)).min() > 0.5


def test_export_of_a_large_layer_keeps_everything_inline(big_client, embedded_layers):
    page = big_client.get("/export?layers=big_lines&format=html").get_data(as_text=True)
    data = embedded_layers(page)["big_lines"]
    assert all("_popup" in f["properties"] for f in data["features"])
    assert sum(len(f["geometry"]["coordinates"]) for f in data["features"]) == BIG_FEATURES * BIG_VERTICES
    assert "/popup/big_lines" not in page and "/display?zoom_band" not in page
