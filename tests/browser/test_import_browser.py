"""Importing in a real browser: sign in, drop a file on the page, watch the progress bar, read the preview
and its problems, fix the metadata, save, and see the new layer drawn on its map (network off)."""

import json

import pytest
from browser.helpers import rendered_layers, screenshot, wait_for_map
from browser.liveserver import LiveServer

from layers.store import open_store
from webapp.accounts.auth import hash_password

PASSWORD = "browser test password"
# 5,000 sites across Pakistan (160 kB)
SITES = "name,lat,lon,status\n" + "".join(f"Site {i},{25 + (i % 100) / 10:.2f},{62 + (i // 100) / 5:.3f},"
                                          "planned\n" for i in range(5_000))
BAD = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": "<img src=x onerror=alert(1)> line"},
     "geometry": {"type": "LineString", "coordinates": [[67, 25], [68, 26]]}},
    {"type": "Feature", "properties": {"name": "beyond the pole"},
     "geometry": {"type": "LineString", "coordinates": [[67, 95], [68, 26]]}}]})

RECORD_PROGRESS = """() => {
    window.__progress = {shown: false, values: []};
    const bar = document.getElementById("progress-bar");
    new MutationObserver(() => window.__progress.values.push(bar.value)).observe(bar, {attributes: true});
    new MutationObserver(() => {
        if (!document.getElementById("upload-progress").classList.contains("hidden")) window.__progress.shown = true;
    }).observe(document.getElementById("upload-progress"), {attributes: true});
}"""
DROP = """([name, text]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], name, {type: "text/plain"}));
    const zone = document.getElementById("drop-zone");
    zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true, cancelable: true}));
    zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
}"""


@pytest.fixture(scope="module")
def import_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("browser_store")
    open_store("", data).create_user("analyst", hash_password(PASSWORD), actor="test")
    server = LiveServer(env={"MAPSVC_DATA_DIR": str(data), "MAPSVC_DEFAULT_BASEMAP": "none",
                             "MAPSVC_WARM_UP_MAX_VERTICES": "0"},
                        log_path=tmp_path_factory.mktemp("import_server") / "server.log").start()
    yield server
    server.stop()


def _sign_in(page, server):
    page.goto(server.url + "/import")
    page.fill("input[name=name]", "analyst")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/import")


def test_drop_preview_save_and_see_it_on_the_map(import_server, browsing, artifacts_dir):
    session = browsing(trap=True)  # every request off 127.0.0.1 is aborted
    page = session.new_page()
    _sign_in(page, import_server)
    page.evaluate(RECORD_PROGRESS)
    page.evaluate(DROP, ["pakistan sites.csv", SITES])
    page.wait_for_selector("#preview-form:not(.hidden)", timeout=120_000)
    progress = page.evaluate("window.__progress")
    assert progress["shown"] and 100 in progress["values"], progress
    preview = page.inner_text("#preview-layers")
    assert "5000 features (5000 Point)" in preview and "No problems: ready to save." in preview
    assert page.input_value("input[name=title]") == "Pakistan sites"
    page.fill("input[name=title]", "Planned sites")
    page.check("input[name=public]")
    screenshot(page, artifacts_dir, "import_preview.png")
    page.click("#save-button")
    page.wait_for_selector("#import-done:not(.hidden)", timeout=120_000)
    assert "Saved Planned sites (version 1)" in page.inner_text("#import-done")
    href = page.get_attribute("#import-done a", "href")  # "Open its map"
    assert href == "/map/pakistan_sites"
    page.goto(import_server.url + href, timeout=120_000)
    wait_for_map(page, timeout_ms=120_000)
    drawn = rendered_layers(page)
    assert drawn["pakistan_sites"]["on_map"] and drawn["pakistan_sites"]["in_view"] > 0
    assert page.evaluate("window.__xss") == []


def test_problems_are_shown_as_text_and_block_saving_until_skipped(import_server, browsing):
    session = browsing(trap=True)  # every request off 127.0.0.1 is aborted
    page = session.new_page()
    _sign_in(page, import_server)
    page.set_input_files("#file-input", files=[{"name": "two.geojson", "mimeType": "application/geo+json",
                                                "buffer": BAD.encode()}])
    page.wait_for_selector("#preview-form:not(.hidden)", timeout=120_000)
    problems = page.inner_text("#preview-layers")
    assert "1 problem(s) block saving" in problems and "latitude 95 is outside -90..90" in problems
    page.click("#save-button")
    page.wait_for_selector("#import-error:not(.hidden)")
    assert "latitude 95" in page.inner_text("#import-error")
    refused = [e for e in session.errors if "/commit" in e and ("HTTP 422" in e or "status of 422" in e)]
    assert len(refused) == 2, session.errors  # the expected refusal, seen by the network and the console
    session.errors[:] = [e for e in session.errors if e not in refused]
    page.check("input[name=skip_invalid]")
    page.click("#save-button")
    page.wait_for_selector("#import-done:not(.hidden)", timeout=120_000)
    page.goto(import_server.url + "/map/two", timeout=120_000)
    wait_for_map(page, timeout_ms=120_000)
    assert page.evaluate("window.__xss") == []  # the <img onerror> name stayed text
