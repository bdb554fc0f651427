"""Hostile data in the real browser: no payload runs, every one shows as literal text.

``window.alert``/``confirm``/``prompt``/``print`` are replaced before any
page script runs (in every frame) and record their calls in
``window.__xss``; a real dialog fails the test too (conftest). The server
runs with ``POPUP_EMBED_MAX=0`` and ``DISPLAY_SIMPLIFY_MIN_VERTICES=0`` so
popups and display geometry are fetched, the path big layers take.
"""

import subprocess
import sys

import pytest
from browser.helpers import CLICK_POINT_JS, click_feature, close_popup, wait_for_map
from browser.hostile import LAYER_ID, PAYLOADS, SAFE_URLS, TITLE, UNSAFE_URLS
from browser.liveserver import ROOT

INJECTED_JS = """
() => {
    // Anything the data could have smuggled into the DOM: event-handler attributes, the payloads' elements,
    // and javascript:/data: links.
    const found = [];
    for (const el of document.querySelectorAll("*")) {
        for (const a of el.attributes) {
            if (a.name.toLowerCase().startsWith("on")) { found.push(el.tagName + "[" + a.name + "]"); }
            const unsafe = /^(javascript|vbscript|data:text\\/html)/i.test(a.value.replace(/\\s/g, ""));
            if (["href", "src", "action"].includes(a.name) && unsafe) {
                found.push(el.tagName + "[" + a.name + "=" + a.value + "]");
            }
        }
    }
    for (const el of document.querySelectorAll('img[src="x"], svg[onload]')) { found.push(el.outerHTML.slice(0, 80)); }
    return {found: found, xss: window.__xss};
}
"""


def _assert_inert(target):
    result = target.evaluate(INJECTED_JS)
    assert result["xss"] == [], f"a payload ran: {result['xss']}"
    assert result["found"] == [], f"markup from the data reached the DOM: {result['found']}"


def _hover_tooltip(page, layer_id, feature_id):
    page.mouse.move(5, 5)  # off the map: no tooltip left open
    page.locator(".leaflet-tooltip").first.wait_for(state="detached", timeout=5000)
    point = page.evaluate(CLICK_POINT_JS, [layer_id, feature_id])
    assert point is not None
    page.mouse.move(point["x"], point["y"])
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for(state="visible", timeout=5000)
    text = tooltip.text_content()
    page.mouse.move(5, 5)
    tooltip.wait_for(state="detached", timeout=5000)
    return text


def _check_popup(popup, name):
    text = popup.text_content()
    assert name in text
    for key in ("close_script", "comment", "quote", "rtl", "template", "entity", "img"):
        assert PAYLOADS[key] in text, key
    links = popup.locator("a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == SAFE_URLS
    unlinked = popup.locator(".mapsvc-unlinked").all_text_contents()
    assert unlinked == [f"({url.strip()})" for url in UNSAFE_URLS]


def test_map_page_shows_hostile_names_literally_everywhere(hostile_server, browsing):
    session = browsing(trap=True, viewport={"width": 1440, "height": 1000})
    page = session.new_page()
    page.goto(f"{hostile_server.url}/map/{LAYER_ID}")
    wait_for_map(page)
    _assert_inert(page)
    assert page.locator("h1").text_content() == TITLE
    assert TITLE in page.title()
    assert page.locator(".site-bar nav a", has_text=TITLE).count() == 1
    assert TITLE in page.locator(".mapsvc-legend").text_content()
    page.locator(".leaflet-control-layers").hover()
    assert page.locator(".leaflet-control-layers-overlays label", has_text=TITLE).count() == 1
    attribution = page.locator(".leaflet-control-attribution").text_content()
    assert PAYLOADS["img"] in attribution and PAYLOADS["close_script"] in attribution
    table = " ".join(page.locator(f'tr[data-layer="{LAYER_ID}"]').all_text_contents())
    for name in (PAYLOADS["script"], PAYLOADS["quote"], PAYLOADS["close_script"] + PAYLOADS["rtl"]):
        assert name in table
    snippet = page.locator("#embed-snippet").input_value()
    assert 'title="Interactive map: &lt;script&gt;alert(1)&lt;/script&gt; &#34;&#39;&gt;&lt;svg onload=alert(3)&gt; {{7*7}}"' in snippet

    assert _hover_tooltip(page, LAYER_ID, "evil_line") == PAYLOADS["script"]
    assert _hover_tooltip(page, LAYER_ID, "evil_point") == PAYLOADS["img"]
    for fid, name in (("evil_line", "script"), ("evil_quote", "quote"), ("evil_jinja", "jinja"), ("evil_point", "img")):
        _check_popup(click_feature(page, LAYER_ID, fid), PAYLOADS[name])
        close_popup(page)
    _assert_inert(page)
    assert session.blocked == []


def test_overview_and_corridor_pages_with_the_hostile_layer_stay_inert(hostile_server, browsing):
    session = browsing(trap=True)
    page = session.new_page()
    page.goto(hostile_server.url + "/")
    wait_for_map(page)
    assert TITLE in page.locator(".mapsvc-legend").text_content()
    _assert_inert(page)
    page.goto(f"{hostile_server.url}/corridor?feature={LAYER_ID}:evil_line&with={LAYER_ID},ports,places&width_km=60")
    wait_for_map(page)
    assert PAYLOADS["script"] in page.locator("body").text_content()
    _assert_inert(page)


def test_embed_in_another_sites_iframe_stays_inert(hostile_server, browsing, host_site):
    folder, origin = host_site
    src = f"{hostile_server.url}/embed/{LAYER_ID}"
    (folder / "report.html").write_text(
        f'<!doctype html><meta charset="utf-8"><iframe id="map" src="{src}" width="600" height="400"></iframe>',
        encoding="utf-8")
    session = browsing(trap=True)
    page = session.new_page()
    page.goto(origin + "/report.html")
    frame = page.frame(url=src)
    wait_for_map(frame)
    assert TITLE in frame.locator(".mapsvc-legend").text_content()
    _assert_inert(frame)
    _assert_inert(page)


def test_exported_file_with_hostile_data_is_inert_offline(hostile_layers_dir, browsing, tmp_path):
    out = tmp_path / "hostile.html"
    subprocess.run([sys.executable, "-m", "webapp", "--layers-dir", str(hostile_layers_dir), "export",
                    "--layers", LAYER_ID, "--out", str(out)], cwd=ROOT, check=True, capture_output=True,
                   timeout=120)
    session = browsing(trap=True, offline=True)
    page = session.new_page()
    page.goto(out.as_uri())
    wait_for_map(page)
    assert TITLE in page.locator(".mapsvc-legend").text_content()
    _check_popup(click_feature(page, LAYER_ID, "evil_line"), PAYLOADS["script"])
    assert _hover_tooltip(page, LAYER_ID, "evil_point") == PAYLOADS["img"]
    _assert_inert(page)
    assert session.blocked == []


@pytest.mark.parametrize("path, shown", [
    ("/map/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "<script>alert(1)</script>"),
    ("/route?from=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&to=Gwadar", "<img src=x onerror=alert(1)>"),
])
def test_error_pages_echo_hostile_input_as_text(hostile_server, browsing, path, shown):
    session = browsing(trap=True)
    page = session.new_page()
    response = page.goto(hostile_server.url + path)
    assert response.status in (400, 404)
    assert shown in page.locator("body").text_content()
    _assert_inert(page)
    session.errors[:] = [e for e in session.errors if not e.startswith(("HTTP 4", "console: Failed to load resource"))]
