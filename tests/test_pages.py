"""Pages through the test client: the map data they embed, tables, embeds, errors, escaping."""

import html
import re

import pytest

from geo.stats import layer_stats
from webapp import assets
from webapp.mapbuilder import overview_layer_ids


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
    # the statistics table: one section per line layer, figures from geo.stats
    assert 'data-layer="tapi"' in page and 'data-layer="lng_terminals"' not in page
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
    assert snippet.startswith("&lt;iframe src=")
    assert 'src="http://localhost/embed/tapi"' in html.unescape(snippet)
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
    assert '=== "tapi_trunk"' in page and "target.openPopup()" in page and "fitBounds(target.getBounds()" in page


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
    assert "tip.textContent = f.properties.name" in page
