"""The interactive map in a real browser (network off): search, filters and table, permalinks, clickable lines,
phones, accessibility (axe-core), the measure tool and the labelled offline basemap."""

import math
from urllib.parse import parse_qs, urlsplit

import pytest
from browser.helpers import fetch_json, rendered_layers, wait_for_map
from pyproj import Geod

from webapp.maps.vendor_assets import PACKAGES

AXE_URL = next(f"/static/vendor/{p.folder}/axe.min.js" for p in PACKAGES if p.name == "axe-core")
PHONE = {"width": 390, "height": 844}


def _km(lat1, lon1, lat2, lon2):
    """Great-circle km (a test tolerance of kilometres needs nothing finer)."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    return 6371.0 * math.acos(min(1.0, math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)))


def _centre(page):
    return page.evaluate("() => { const c = window.mapsvc.map.getCenter(); return [c.lat, c.lng]; }")


def _search(page, text):
    box = page.locator(".mapsvc-search input")
    box.fill(text)
    page.locator(".mapsvc-search [role=option]").first.wait_for(timeout=10000)
    before = _centre(page)
    box.press("Enter")
    # wait for the move to start and end (a fixed 300 ms was too short on a loaded 2-core machine)
    page.wait_for_function("([lat, lon]) => { const c = window.mapsvc.map.getCenter(); "
                           "return Math.abs(c.lat - lat) + Math.abs(c.lng - lon) > 1e-6; }", arg=before, timeout=10000)
    page.wait_for_timeout(800)


@pytest.mark.parametrize("text, lat, lon, popup", [
    ("Gwadar", 25.12, 62.33, "Gwadar"),
    ("Hasan Abdal", 33.82, 72.69, "Hasan Abdal"),      # the gazetteer's entry is ~380 km south of the town
    ("25.12, 62.32", 25.12, 62.32, "25.12000, 62.32000"),
    ("25°07'12\"N 62°19'12\"E", 25.12, 62.32, "25.12000, 62.32000"),
])
def test_search_lands_in_the_right_place(live_server, browsing, text, lat, lon, popup):
    page = browsing().new_page()
    page.goto(live_server.url + "/")
    wait_for_map(page)
    _search(page, text)
    got = _centre(page)
    assert _km(got[0], got[1], lat, lon) < 5, (text, got)
    assert page.evaluate("() => window.mapsvc.map.getZoom()") >= 8
    content = page.locator(".leaflet-popup-content")
    content.wait_for(state="visible", timeout=5000)
    assert popup in content.text_content()


def test_search_for_a_project_zooms_to_it_and_opens_it_and_suggests_spellings(live_server, browsing):
    page = browsing().new_page()
    page.goto(live_server.url + "/")
    wait_for_map(page)
    _search(page, "Pakistan Stream")
    page.wait_for_function("() => document.querySelector('.leaflet-popup-content') && "
                           "document.querySelector('.leaflet-popup-content').textContent.includes('North–South')")
    page.locator(".mapsvc-search input").fill("Lahroe")
    page.locator(".mapsvc-search [role=option]", has_text="Did you mean Lahore?").wait_for(timeout=10000)


def _drawn_ids(page, layer_id):
    return sorted(fid for fid, drawn in rendered_layers(page)[layer_id]["features"].items() if drawn)


def test_status_filter_changes_the_map_the_table_the_statistics_and_the_legend(live_server, browsing):
    page = browsing().new_page()
    page.goto(live_server.url + "/")
    wait_for_map(page)
    grid = fetch_json(live_server.url + "/api/layers/pakistan_gas_grid?status=operating")
    summary_before = page.locator("#feature-summary").text_content()
    every = fetch_json(live_server.url + "/api/layers/pakistan_gas_grid")["features"]
    assert _drawn_ids(page, "pakistan_gas_grid") == sorted(f["properties"]["id"] for f in every)
    page.select_option("select[data-filter=status]", "operating")
    drawn = _drawn_ids(page, "pakistan_gas_grid")
    assert drawn == sorted(f["properties"]["id"] for f in grid["features"])  # the API's answer for the same filter
    assert rendered_layers(page)["tapi"]["paths"] == 0  # TAPI is under construction, not operating
    shown = page.locator("#feature-table tbody tr:not([hidden])")
    assert shown.count() == page.locator('#feature-table tbody tr[data-status="operating"]').count()
    summary = page.locator("#feature-summary").text_content()
    assert summary != summary_before and summary.startswith(f"{shown.count()} of ")
    assert page.locator('.mapsvc-legend li[data-status="proposed"]').is_hidden()
    # the filtered downloads carry the filter (the OGC download endpoint resolves them after merge)
    href = page.locator('#filtered-downloads li[data-layer="pakistan_gas_grid"] a[data-format="gpkg"]').get_attribute("href")
    assert href.startswith("/api/layers/pakistan_gas_grid/download?") and parse_qs(urlsplit(href).query) == {
        "format": ["gpkg"], "status": ["operating"]}
    assert "status=operating" in page.url


def test_status_in_the_query_string_is_applied_not_ignored(live_server, browsing):
    page = browsing().new_page()
    page.goto(live_server.url + "/map/pakistan_gas_grid?status=proposed")
    wait_for_map(page)
    proposed = fetch_json(live_server.url + "/api/layers/pakistan_gas_grid?status=proposed")["features"]
    assert _drawn_ids(page, "pakistan_gas_grid") == sorted(f["properties"]["id"] for f in proposed)
    assert page.locator("#feature-table tbody tr:not([hidden])").count() == len(proposed)


def test_table_sorts_and_selecting_a_row_opens_the_feature_on_the_map(live_server, browsing):
    page = browsing().new_page()
    page.goto(live_server.url + "/map/tapi")
    wait_for_map(page)
    page.locator("button[data-sort=km]").click()
    page.locator("button[data-sort=km]").click()  # descending
    first = page.locator("#feature-table tbody tr").first
    assert first.get_attribute("data-id") == "tapi_trunk"
    assert page.locator("th:has(button[data-sort=km])").get_attribute("aria-sort") == "descending"
    page.locator('#feature-table tr[data-id="tapi_branch_2"] a[data-select]').click()
    content = page.locator(".leaflet-popup-content")
    content.wait_for(state="visible")
    assert "TAPI branch 2" in content.text_content()
    assert "selected" in page.locator('#feature-table tr[data-id="tapi_branch_2"]').get_attribute("class")
    assert parse_qs(urlsplit(page.url).query)["feature"] == ["tapi_branch_2"]


def test_permalink_round_trip_keeps_view_layers_filters_and_selection(live_server, browsing):
    session = browsing()
    page = session.new_page()
    page.goto(live_server.url + "/")
    wait_for_map(page)
    page.select_option("select[data-filter=status]", "construction")
    page.evaluate("() => { const m = window.mapsvc.map; m.removeLayer(window.mapsvc.layers['casa1000']); }")
    page.locator('#feature-table tr[data-id="tapi_trunk"] a[data-select]').click()
    page.locator(".leaflet-popup-content").wait_for(state="visible")
    page.evaluate("() => window.mapsvc.map.setView([31.5, 66.25], 6, {animate: false})")
    url = page.url
    query = parse_qs(urlsplit(url).query)
    assert query["status"] == ["construction"] and query["off"] == ["casa1000"] and query["feature"] == ["tapi_trunk"]
    zoom, lat, lon = (float(v) for v in urlsplit(url).fragment.split("/"))
    assert zoom == 6 and abs(lat - 31.5) < 0.01 and abs(lon - 66.25) < 0.01  # Leaflet keeps whole pixels
    snippet = page.locator("#embed-snippet").input_value()
    assert "status=construction" in snippet and "#" + urlsplit(url).fragment in snippet
    again = session.new_page()
    again.goto(url)
    wait_for_map(again)
    assert again.evaluate("() => window.mapsvc.map.getZoom()") == 6
    lat, lon = _centre(again)
    assert abs(lat - 31.5) < 0.01 and abs(lon - 66.25) < 0.01
    layers = rendered_layers(again)
    assert not layers["casa1000"]["on_map"] and layers["tapi"]["on_map"]
    assert layers["pakistan_gas_grid"]["paths"] == len(
        fetch_json(live_server.url + "/api/layers/pakistan_gas_grid?status=construction")["features"])
    assert again.locator("select[data-filter=status]").input_value() == "construction"
    assert "TAPI gas pipeline (main trunk)" in again.locator(".leaflet-popup-content").text_content()


OFF_LINE_JS = """
([layerId, offsetPx]) => {
    // For each line of the layer: a point offsetPx off a segment's middle, at least 10 px from every other line.
    const map = window.mapsvc.map, box = map.getContainer().getBoundingClientRect();
    const lines = [];
    (function walk(layer) {
        if (layer.eachLayer && !layer.feature) { layer.eachLayer(walk); return; }
        if (layer.feature && layer.options.interactive !== false && layer.getLatLngs && layer.feature.geometry.type.indexOf("LineString") >= 0) {
            lines.push({id: layer.feature.properties.id, name: layer.feature.properties.name,
                        pts: [layer.getLatLngs()].flat(4).map(ll => map.latLngToContainerPoint(ll))});
        }
    })(window.mapsvc.layers[layerId]);
    function dist(p, a, b) {
        const dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
        const t = len2 ? Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2)) : 0;
        return Math.hypot(p.x - a.x - t * dx, p.y - a.y - t * dy);
    }
    function find(line, strict) {
        for (let i = 0, j = 1; j < line.pts.length; i++) {
            // a chord of at least 20 px (densified lines have vertices a few px apart at these zooms)
            while (j < line.pts.length - 1 && line.pts[i].distanceTo(line.pts[j]) < 20) { j++; }
            const a = line.pts[i], b = line.pts[j], len = a.distanceTo(b);
            if (i + 1 >= j) { j++; }
            if (len < 8) { continue; }
            for (const side of [1, -1]) {
                const p = {x: (a.x + b.x) / 2 - side * offsetPx * (b.y - a.y) / len,
                           y: (a.y + b.y) / 2 + side * offsetPx * (b.x - a.x) / len};
                if (p.x < 60 || p.y < 60 || p.x > box.width - 180 || p.y > box.height - 60) { continue; }
                const clear = lines.every(o => o === line || o.pts.every((q, j) => j === 0 || dist(p, o.pts[j - 1], q) > 14));
                const own = Math.min(...line.pts.slice(1).map((q, j) => dist(p, line.pts[j], q)));
                if ((clear || !strict) && Math.abs(own - offsetPx) < 0.5) {
                    return {id: line.id, name: line.name, x: box.left + p.x, y: box.top + p.y, clear: clear};
                }
            }
        }
        return null;
    }
    // a line that runs along another (the Iran-Pakistan trace and its IPI extension) is tried where they overlap
    return lines.map(line => find(line, true) || find(line, false) || {id: line.id, name: line.name, x: null});
}
"""


@pytest.mark.parametrize("layer_id", ["tapi", "iran_pakistan_pipeline", "north_south_pipeline", "thar_lahore_hvdc",
                                      "casa1000", "cpec"])
def test_a_click_6_px_off_each_line_opens_its_popup(live_server, browsing, layer_id):
    page = browsing().new_page()

    def fresh_targets():  # each click on a freshly loaded map: no popup, hover or auto-pan left from the last one
        page.goto(live_server.url + f"/map/{layer_id}")
        wait_for_map(page)
        page.evaluate("() => window.mapsvc.map.getContainer().scrollIntoView({block: 'start', behavior: 'instant'})")
        page.wait_for_timeout(100)
        return page.evaluate(OFF_LINE_JS, [layer_id, 6])

    targets = fresh_targets()
    assert targets and all(t["x"] is not None for t in targets), targets
    names = [t["name"] for t in targets]
    for i in range(len(targets)):
        target = fresh_targets()[i] if i else targets[0]
        page.mouse.click(target["x"], target["y"])
        content = page.locator(".leaflet-popup-content")
        content.wait_for(state="visible", timeout=5000)
        text = content.text_content()
        if target["clear"]:
            assert target["name"] in text, target
        else:  # where two lines overlap, either one's popup is right
            assert any(name in text for name in names), target


def test_hovering_near_a_line_highlights_it_and_names_it(live_server, browsing):
    page = browsing().new_page()
    page.goto(live_server.url + "/map/tapi")
    wait_for_map(page)
    target = next(t for t in page.evaluate(OFF_LINE_JS, ["tapi", 5]) if t["id"] == "tapi_trunk")
    before = page.evaluate("() => MapSvc.find('tapi', 'tapi_trunk').options.weight")
    page.mouse.move(target["x"], target["y"])
    page.locator(".leaflet-tooltip", has_text="TAPI gas pipeline (main trunk)").wait_for(timeout=3000)
    assert page.evaluate("() => MapSvc.find('tapi', 'tapi_trunk').options.weight") > before


@pytest.mark.parametrize("path", ["/", "/map/tapi", "/corridor", "/route"])
def test_phone_has_no_horizontal_scroll_and_the_map_on_the_first_screen(live_server, browsing, path, artifacts_dir):
    page = browsing(viewport=PHONE).new_page()
    page.goto(live_server.url + path)
    wait_for_map(page)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path}: page is {width} px wide at {PHONE['width']} px"
    top, bottom = page.evaluate("() => { const r = window.mapsvc.map.getContainer().getBoundingClientRect(); "
                                "return [r.top, r.bottom]; }")
    visible = min(bottom, PHONE["height"]) - max(top, 0)
    assert top < PHONE["height"] / 2 and visible >= 300, (path, top, bottom)
    page.screenshot(path=str(artifacts_dir / f"phone{path.replace('/', '_') or '_'}.png"))


def _axe(page):
    # from this site, as the page's CSP allows ('self'), not as an inline script
    parts = urlsplit(page.url)
    page.add_script_tag(url=f"{parts.scheme}://{parts.netloc}{AXE_URL}")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]


@pytest.mark.parametrize("path", ["/", "/map/tapi", "/embed/tapi", "/corridor", "/route"])
def test_axe_finds_no_serious_or_critical_violation(live_server, browsing, path):
    page = browsing().new_page()
    page.goto(live_server.url + path)
    wait_for_map(page)
    violations = _axe(page)
    serious = [v for v in violations if v[1] in ("serious", "critical")]
    assert not serious, serious


def test_skip_link_and_keyboard_reach_the_map_and_its_features(live_server, browsing):
    page = browsing().new_page()
    page.goto(live_server.url + "/map/tapi")
    wait_for_map(page)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "map-main"
    label = page.locator('path[role=button][aria-label^="TAPI gas pipeline (main trunk)"]')
    assert label.count() == 1
    label.focus()
    page.keyboard.press("Enter")
    assert "TAPI gas pipeline (main trunk)" in page.locator(".leaflet-popup-content").text_content()


def test_measure_tool_works_from_the_keyboard_and_measures_on_the_ellipsoid(live_server, browsing):
    page = browsing().new_page()
    page.goto(live_server.url + "/map/tapi")
    wait_for_map(page)
    button = page.locator("button.mapsvc-measure-button")
    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-pressed") == "true"
    centres = []
    page.locator(".leaflet-container").first.focus()
    for lon in (66.0, 70.0):
        page.evaluate(f"() => window.mapsvc.map.setView([30, {lon}], 6, {{animate: false}})")
        centres.append(_centre(page))
        page.keyboard.press("Enter")  # adds the point under the centre cross
    readout = page.locator(".mapsvc-measure-readout").text_content()
    (lat1, lon1), (lat2, lon2) = centres
    expected_km = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2] / 1000  # ~386 km: not the sphere's figure
    assert f"{expected_km:,.1f} km along 1 leg (geodesic, WGS84)" in readout, (readout, expected_km)
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-pressed") == "false"


def test_offline_basemap_labels_cities_without_collisions_and_limits_zoom(live_server, browsing):
    page = browsing().new_page()
    page.goto(live_server.url + "/map/tapi?basemap=none")
    wait_for_map(page)
    page.evaluate("() => window.mapsvc.map.setView([31.5, 70.5], 7, {animate: false})")
    page.wait_for_timeout(400)
    boxes = page.evaluate("""() => Array.from(document.querySelectorAll('.mapsvc-city-label, .mapsvc-country-label'))
        .filter(el => el.style.visibility !== 'hidden' && el.getBoundingClientRect().width > 0)
        .map(el => { const r = el.getBoundingClientRect(); return [el.textContent, r.left, r.top, r.right, r.bottom]; })""")
    names = [b[0] for b in boxes]
    assert "Lahore" in names and "Islamabad" in names and len(names) > 10
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]), (a, b)
    assert page.locator(".leaflet-mapsvc-basemap-pane path").count() > 30  # countries and rivers
    assert page.evaluate("() => window.mapsvc.map.getMaxZoom()") == 10


def test_year_slider_shows_what_each_project_was_in_that_year(live_server, browsing):
    """Iran–Pakistan from its dated histories: in 2014 Iran's section operated (since 2011), Pakistan's was under
    construction (ground-breaking March 2013), the India extension had no status yet; today Pakistan's is shelved."""
    page = browsing().new_page()
    page.goto(live_server.url + "/map/iran_pakistan_pipeline")
    wait_for_map(page)
    iran, pakistan, india = "iran_pakistan_iran_section", "iran_pakistan_pakistan_section", "iran_pakistan_india"
    assert _drawn_ids(page, "iran_pakistan_pipeline") == sorted([iran, pakistan, india])
    page.check("input[data-filter=year-on]")
    page.locator("input[data-filter=year]").fill("2014")
    page.wait_for_function("() => document.querySelector('[data-filter=year-out]').textContent === '2014'")
    assert _drawn_ids(page, "iran_pakistan_pipeline") == sorted([iran, pakistan])
    row = page.locator(f'#feature-table tr[data-id="{pakistan}"] [data-cell=status]')
    assert row.text_content().strip() == "construction"
    assert page.locator(f'#feature-table tr[data-id="{india}"]').is_hidden()
    summary = page.locator("#feature-summary").text_content()
    assert summary.startswith("2 of 3 ") and "construction 1" in summary and "operating 1" in summary
    legend = page.evaluate("() => Object.fromEntries(Array.from(document.querySelectorAll("
                           "'.mapsvc-legend li[data-status]')).map(li => [li.dataset.status, !li.hidden]))")
    assert legend == {"operating": True, "construction": True, "shelved": False, "cancelled": False}
    assert parse_qs(urlsplit(page.url).query)["year"] == ["2014"]
    again = browsing().new_page()  # the permalink carries the year: the server renders the same table
    again.goto(page.url)
    wait_for_map(again)
    assert again.locator("#feature-summary").text_content() == summary
    assert _drawn_ids(again, "iran_pakistan_pipeline") == sorted([iran, pakistan])
    page.locator("input[data-filter=year]").fill("2026")
    page.wait_for_function("() => document.querySelector('[data-filter=year-out]').textContent === '2026'")
    assert row.text_content().strip() == "shelved"
    assert _drawn_ids(page, "iran_pakistan_pipeline") == sorted([iran, pakistan, india])


def _roads_on_screen(page):
    """Road/rail paths of the offline basemap drawn inside the map's box, and the road numbers shown."""
    return page.evaluate("""() => {
        const box = document.querySelector('.folium-map').getBoundingClientRect();
        const pane = document.querySelector('.leaflet-mapsvc-roads-pane');
        const seen = r => r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom;
        const paths = Array.from(pane.querySelectorAll('path')).filter(p => seen(p.getBoundingClientRect()));
        const refs = Array.from(document.querySelectorAll('.mapsvc-road-label'))
            .filter(el => el.style.visibility !== 'hidden' && seen(el.getBoundingClientRect())).map(el => el.textContent);
        return {paths: paths.length, shown: getComputedStyle(pane).display !== 'none', refs: refs};
    }""")


def test_offline_basemap_draws_roads_when_zoomed_in_and_fetches_nothing_for_them_at_zoom_5(live_server, browsing):
    page = browsing().new_page()
    fetched = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(live_server.url + "/map/tapi?basemap=none")
    wait_for_map(page)
    page.evaluate("() => window.mapsvc.map.setView([31.55, 74.34], 5, {animate: false})")
    page.wait_for_timeout(400)
    assert not [u for u in fetched if "/basemap/roads/" in u]
    assert _roads_on_screen(page)["paths"] == 0
    page.evaluate("() => window.mapsvc.map.setView([31.55, 74.34], 10, {animate: false})")  # Lahore
    page.wait_for_function("() => document.querySelectorAll('.leaflet-mapsvc-roads-pane path').length > 0")
    lahore = _roads_on_screen(page)
    assert lahore["shown"] and lahore["paths"] >= 3, lahore  # M-2, M-3, M-11 meet here
    assert {"M-2", "M-3", "M-11"} & set(lahore["refs"]), lahore  # numbers that collide with a city are hidden
    drawn = page.locator(".folium-map").screenshot()
    page.evaluate("() => { document.querySelector('.leaflet-mapsvc-roads-pane').style.visibility = 'hidden'; }")
    assert page.locator(".folium-map").screenshot() != drawn  # the lines put pixels on the beige
    page.evaluate("() => { document.querySelector('.leaflet-mapsvc-roads-pane').style.visibility = ''; }")
    assert [u.rsplit("/", 1)[-1] for u in fetched if "/basemap/roads/" in u] == ["3.json"]
    page.evaluate("() => window.mapsvc.map.setView([25.1, 67.4], 10, {animate: false})")  # Karachi: the M-9
    page.wait_for_timeout(400)
    assert _roads_on_screen(page)["paths"] >= 1
    # the project's layers stay above the roads
    z = page.evaluate("""() => ['.leaflet-mapsvc-roads-pane', '.leaflet-overlay-pane', '.leaflet-mapsvc-basemap-pane']
        .map(s => +getComputedStyle(document.querySelector(s)).zIndex)""")
    assert z[2] < z[0] < z[1], z
