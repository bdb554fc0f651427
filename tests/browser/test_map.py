"""What a person sees in a real browser: layers drawn, legend, layer toggling, popups, embeds, exports.

Runs Debian's chromium against the real server (waitress, loopback) with
every request off 127.0.0.1 aborted; see conftest.py.
"""

import subprocess
import sys

import pytest
from browser.helpers import (
    click_feature,
    close_popup,
    copy_to_docs,
    fetch_json,
    rendered_layers,
    screenshot,
    wait_for_map,
)
from browser.liveserver import ROOT

from layers.schema import FOCUS_BBOX


@pytest.fixture(scope="module")
def catalogue(live_server):
    """{layer id: entry of /api/layers} from the live server."""
    return {entry["id"]: entry for entry in fetch_json(live_server.url + "/api/layers")["layers"]}


def _assert_every_feature_drawn(layers, catalogue, expected_ids):
    assert set(layers) == set(expected_ids)
    for layer_id in expected_ids:
        row = layers[layer_id]
        assert row["on_map"], layer_id
        assert len(row["features"]) == catalogue[layer_id]["feature_count"], layer_id
        missing = [fid for fid, drawn in row["features"].items() if not drawn]
        assert not missing, f"{layer_id}: features without an SVG path or marker: {missing[:5]}"
        if catalogue[layer_id]["geometry"] == "point":
            assert row["markers"] == catalogue[layer_id]["feature_count"], layer_id
        else:  # lines and polygons are SVG paths; "mixed" layers hold some points too
            assert row["paths"] > 0 and row["paths"] + row["markers"] >= catalogue[layer_id]["feature_count"], layer_id
        assert row["in_view"] > 0, f"{layer_id}: nothing drawn inside the map's view"


def _inside(bbox, box):
    return box[0] <= bbox[0] and box[1] <= bbox[1] and bbox[2] <= box[2] and bbox[3] <= box[3]


def _assert_routes_in_view(layers, layer_ids):
    cut_off = {lid: layers[lid]["cut_off"] for lid in layer_ids if layers[lid]["cut_off"]}
    assert not cut_off, f"routes running out of the initial view: {cut_off}"


def test_overview_draws_every_layer_with_legend_and_no_outside_request(live_server, browsing, catalogue,
                                                                          artifacts_dir):
    # tall enough for the legend to start unfolded (it folds in maps under 640 px)
    session = browsing(viewport={"width": 1440, "height": 1000})
    page = session.new_page()
    page.goto(live_server.url + "/")
    wait_for_map(page)
    expected = [lid for lid in catalogue if lid != "boundaries"]
    drawn = rendered_layers(page)
    _assert_every_feature_drawn(drawn, catalogue, expected)
    # the vector basemap: one SVG path per country (at least), drawn in its own pane
    assert page.locator(".leaflet-mapsvc-basemap-pane path").count() >= catalogue["boundaries"]["feature_count"]
    legend = page.locator(".mapsvc-legend")
    assert legend.count() == 1 and legend.is_visible() and legend.get_attribute("open") is not None
    legend_text = legend.text_content()
    for lid in expected:
        assert catalogue[lid]["title"] in legend_text
    # the controls people expect
    for selector in (".leaflet-control-layers", ".leaflet-control-scale", ".leaflet-control-attribution",
                     ".leaflet-control-minimap", ".mapsvc-measure", ".leaflet-control-zoom-fullscreen",
                     ".leaflet-control-mouseposition"):
        assert page.locator(selector).count() == 1, selector
    attribution = page.locator(".leaflet-control-attribution").text_content()
    for credit in ("Natural Earth", "GeoNames", "CC BY 4.0", "Global Energy Monitor"):
        assert credit in attribution
    assert session.blocked == [], "the overview tried to reach the network"
    shot = screenshot(page.locator(".map-frame"), artifacts_dir, "overview.png")
    screenshot(page, artifacts_dir, "overview_page.png")
    # the region in view: every route of Pakistan's corridors whole (point layers such as India's LNG terminals
    # may run off it, and so may the region's routes to Moscow and Suez: the view stays on Pakistan)
    _assert_routes_in_view(drawn, [lid for lid in expected if catalogue[lid]["geometry"] != "point"
                                   and _inside(catalogue[lid]["bbox"], FOCUS_BBOX)])
    copy_to_docs(shot, "overview.png")


def test_toggling_a_layer_in_the_layer_control_hides_its_paths_and_its_table_rows(live_server, browsing, catalogue):
    page = browsing().new_page()
    page.goto(live_server.url + "/")
    wait_for_map(page)
    title = catalogue["tapi"]["title"]
    assert rendered_layers(page)["tapi"]["paths"] >= 3
    assert page.locator('tr[data-layer="tapi"]').first.is_visible()
    page.locator(".leaflet-control-layers").hover()
    checkbox = page.locator(".leaflet-control-layers-overlays label", has_text=title).locator("input")
    assert checkbox.is_checked()
    checkbox.uncheck()
    after = rendered_layers(page)
    assert not after["tapi"]["on_map"]
    assert after["tapi"]["paths"] == 0 and not any(after["tapi"]["features"].values())
    assert after["casa1000"]["paths"] > 0, "hiding TAPI must not hide other layers"
    assert page.locator('tr[data-layer="tapi"]').first.is_hidden()
    checkbox.check()
    assert rendered_layers(page)["tapi"]["paths"] >= 3
    assert page.locator('tr[data-layer="tapi"]').first.is_visible()


@pytest.mark.parametrize("path", ["/", "/map/tapi"])
def test_clicking_the_tapi_line_opens_a_popup_with_its_geodesic_length(live_server, browsing, path):
    stats = fetch_json(live_server.url + "/api/layers/tapi/stats")
    trunk = next(row for row in stats["features"] if row["id"] == "tapi_trunk")
    page = browsing().new_page()
    page.goto(live_server.url + path)
    wait_for_map(page)
    popup = click_feature(page, "tapi", "tapi_trunk")
    text = popup.text_content()
    assert trunk["name"] in text
    assert "Geodesic length" in text
    assert f"{trunk['geodesic_length_km']:,.1f} km" in text  # e.g. "1,839.8 km", the API's figure
    assert f"{trunk['reported_length_km']:,.1f} km" in text
    for code in trunk["length_by_country_km"]:
        assert f"({code})" in text
    # sources are real links that open elsewhere
    links = popup.locator(".mapsvc-popup-sources a")
    assert links.count() >= 1
    assert all(links.nth(i).get_attribute("href").startswith(("http://", "https://")) for i in range(links.count()))


def test_feature_parameter_zooms_to_the_feature_and_opens_its_popup(live_server, browsing):
    page = browsing().new_page()
    page.goto(live_server.url + "/map?layers=tapi,casa1000&feature=tapi_trunk")
    wait_for_map(page)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    page.wait_for_function("() => !document.querySelector('.leaflet-popup-content').textContent.includes('Loading')")
    assert "TAPI gas pipeline (main trunk)" in popup.text_content()


def _snippet_src(page):
    snippet = page.locator("#embed-snippet").input_value()
    assert snippet.startswith("<figure") and snippet.endswith("</figure>")
    return page.evaluate("s => { const d = document.createElement('div'); d.innerHTML = s; "
                         "return d.querySelector('iframe').getAttribute('src'); }", snippet)


def test_embed_fills_a_600x400_iframe_on_another_site(live_server, browsing, catalogue, host_site, artifacts_dir):
    folder, origin = host_site
    session = browsing()
    page = session.new_page()
    page.goto(live_server.url + "/map/tapi")
    src = _snippet_src(page)
    assert src == live_server.url + "/embed/tapi"
    (folder / "report.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Report</title></head><body>"
        "<h1>A report</h1><p>The TAPI route:</p>"
        f'<iframe id="map" src="{src}" width="600" height="400" style="border:0" title="TAPI"></iframe>'
        "</body></html>", encoding="utf-8")
    page.goto(origin + "/report.html")
    frame = page.frame_locator("#map")
    inner = page.frame(url=src)
    assert inner is not None
    wait_for_map(inner)
    size = inner.evaluate("() => { const r = window.mapsvc.map.getContainer().getBoundingClientRect(); "
                          "return [r.left, r.top, r.width, r.height]; }")
    assert size == [0, 0, 600, 400], "the embedded map must fill its frame exactly"
    assert inner.evaluate("() => window.mapsvc.map.getSize()").items() >= {"x": 600, "y": 400}.items()
    drawn = rendered_layers(inner)
    _assert_every_feature_drawn(drawn, catalogue, ["tapi"])
    _assert_routes_in_view(drawn, ["tapi"])
    assert frame.locator(".mapsvc-legend").count() == 1
    assert frame.locator(".site-bar").count() == 0, "an embed has no page chrome"
    assert session.blocked == []
    screenshot(page.locator("#map"), artifacts_dir, "embed.png")


def test_embed_works_in_a_report_opened_from_a_file(live_server, browsing, catalogue, tmp_path):
    report = tmp_path / "report.html"
    report.write_text(f'<!doctype html><meta charset="utf-8"><h1>Report</h1><iframe id="map" '
                      f'src="{live_server.url}/embed/casa1000" width="600" height="400"></iframe>', encoding="utf-8")
    page = browsing().new_page()
    page.goto(report.as_uri())
    inner = page.frame(url=live_server.url + "/embed/casa1000")
    wait_for_map(inner)
    _assert_every_feature_drawn(rendered_layers(inner), catalogue, ["casa1000"])


def test_a_normal_page_refuses_to_be_framed_by_another_site(live_server, browsing, host_site):
    folder, origin = host_site
    session = browsing()
    page = session.new_page()
    (folder / "framing.html").write_text(
        f'<!doctype html><iframe id="map" src="{live_server.url}/map/tapi" width="600" height="400"></iframe>',
        encoding="utf-8")
    page.goto(origin + "/framing.html")
    page.wait_for_timeout(500)
    framed = page.frame(url=live_server.url + "/map/tapi")
    assert framed is None or framed.evaluate("() => !window.mapsvc")
    refused = [e for e in session.errors if "frame-ancestors" in e]
    assert refused, session.errors
    session.errors[:] = [e for e in session.errors if e not in refused]


def test_exported_file_renders_from_file_url_with_the_network_blocked(live_server, browsing, catalogue, tmp_path,
                                                                       artifacts_dir):
    out = tmp_path / "tapi_casa.html"
    layers = ["tapi", "casa1000", "ports"]
    subprocess.run([sys.executable, "-m", "webapp", "export", "--layers", ",".join(layers), "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    session = browsing(offline=True)
    page = session.new_page()
    page.goto(out.as_uri())
    wait_for_map(page)
    screenshot(page, artifacts_dir, "export.png")
    drawn = rendered_layers(page)
    _assert_every_feature_drawn(drawn, catalogue, layers)
    # a map made for a report shows the whole of each requested route
    _assert_routes_in_view(drawn, layers)
    assert page.locator(".mapsvc-legend").count() == 1
    popup = click_feature(page, "tapi", "tapi_trunk")
    stats = fetch_json(live_server.url + "/api/layers/tapi/stats")
    trunk = next(row for row in stats["features"] if row["id"] == "tapi_trunk")
    assert f"{trunk['geodesic_length_km']:,.1f} km" in popup.text_content()
    close_popup(page)
    assert session.blocked == [], f"the exported file tried to fetch: {session.blocked[:5]}"


def test_tiles_blocked_fall_back_to_the_vector_basemap(live_server, browsing):
    session = browsing()
    page = session.new_page()
    page.goto(live_server.url + "/map/tapi?basemap=osm")
    wait_for_map(page)
    page.wait_for_function("() => window.mapsvc.map.getContainer().classList.contains('mapsvc-offline')")
    assert session.blocked, "tiles were requested"
    assert all(url.startswith("https://tile.openstreetmap.org/") for url in session.blocked), session.blocked[:5]
    # the only errors are the tiles the test blocked
    assert all("ERR_FAILED" in e or "tile.openstreetmap.org" in e for e in session.errors), session.errors
    session.errors.clear()
