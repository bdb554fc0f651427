"""Printing map pages from the browser (Chromium's own PDF output, as Ctrl+P makes it): one landscape sheet
with the title, the map refitted to the page, the legend expanded, the sources; no navigation, forms or
map controls. Read back with poppler (``pdfinfo``, ``pdftotext``, ``pdftoppm``)."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from browser.helpers import wait_for_map
from matplotlib import image

POPPLER = bool(shutil.which("pdftotext") and shutil.which("pdfinfo") and shutil.which("pdftoppm"))

PAGES = {
    "/": ("Pakistan connectivity corridors", ["TAPI gas pipeline", "CASA-1000 power line", "Ports", "operating"]),
    "/map/tapi": ("TAPI gas pipeline", ["TAPI gas pipeline", "proposed (dotted)"]),
    "/corridor?layer=tapi&feature=tapi_trunk&width_km=50&with=places,ports":
        ("50 km corridor of TAPI gas pipeline (main trunk)", ["Corridor band, 50 km each side", "Within the band"]),
}
# Page furniture that must stay off paper (navigation, forms, the embed and download blocks, map controls).
# ("Basemap: Natural Earth" in the sources is printed; the basemap chooser, which says it needs no network, is not.)
NOT_PRINTED = ["Corridor analysis", "Network route", "Embed this map", "Download", "Copy", "Show corridor",
               "needs no network", "Route statistics", "Within 50 km, in order along the route", "Reset filters",
               "Skip to the", "features shown"]
HIDDEN_SELECTORS = [".site-bar", ".analysis-form", "#embed-snippet", ".leaflet-control-zoom",
                    ".leaflet-control-layers", ".leaflet-control-measure", ".leaflet-control-zoom-fullscreen",
                    ".leaflet-control-mouseposition", ".stats-table"]

VIEW_JS = """() => { const m = window.mapsvc.map, b = m.getBounds(), s = m.getSize();
    return {w: b.getWest(), s: b.getSouth(), e: b.getEast(), n: b.getNorth(), x: s.x, y: s.y, zoom: m.getZoom()}; }"""


@pytest.fixture(autouse=True)
def _needs_poppler():
    if not POPPLER:
        pytest.skip("poppler-utils (pdftotext, pdftoppm) is not installed")


def _pdf_text(path):
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _pdf_info(path):
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info)[1])
    width, height = (float(v) for v in re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    return pages, width, height


@pytest.mark.parametrize("path", list(PAGES))
def test_printed_page_is_one_landscape_sheet_with_title_legend_and_sources(live_server, browsing, path, tmp_path,
                                                                           artifacts_dir):
    title, legend_rows = PAGES[path]
    session = browsing(viewport={"width": 1280, "height": 900})  # the map is under 640 px: legend folded
    page = session.new_page()
    page.goto(live_server.url + path)
    wait_for_map(page)
    assert page.locator("details.mapsvc-legend").get_attribute("open") is None
    screen = page.evaluate(VIEW_JS)
    page.evaluate("() => { window.__printEvents = [];"
                  " addEventListener('beforeprint', () => window.__printEvents.push('before'));"
                  " addEventListener('afterprint', () => window.__printEvents.push('after')); }")
    out = tmp_path / "printed.pdf"
    page.pdf(path=str(out), format="A4", prefer_css_page_size=True, print_background=True)
    assert page.evaluate("() => window.__printEvents") == ["before", "after"]
    pages, width, height = _pdf_info(out)
    assert pages == 1
    assert width > height and (width, height) == pytest.approx((842, 596), abs=2)  # A4, landscape
    text = " ".join(_pdf_text(out).split())
    assert title in text
    assert "Legend" in text and all(row in text for row in legend_rows), "the legend, expanded"
    assert "Sources and licences" in text and "Natural Earth (public domain)" in text
    assert f"Printed from {live_server.url}" in text
    for absent in NOT_PRINTED:
        assert absent not in text, f"{absent!r} is printed"
    shutil.copy(out, artifacts_dir / f"printed{path.split('?')[0].replace('/', '_') or '_overview'}.pdf")
    # the page as printed: map drawn in the land colour, and nothing in the outer margin
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-singlefile", str(out), str(tmp_path / "page")], check=True)
    pixels = image.imread(tmp_path / "page.png")[..., :3]
    land = np.abs(pixels - np.array([0xF4, 0xF1, 0xEA]) / 255).max(axis=2) < 0.03
    assert land.mean() > 0.1, "the map is on the page"
    assert pixels[:8].min() > 0.97 and pixels[-8:].min() > 0.97
    # after printing, the screen map is as it was
    after = page.evaluate(VIEW_JS)
    assert (after["x"], after["y"], after["zoom"]) == (screen["x"], screen["y"], screen["zoom"])
    assert page.locator("details.mapsvc-legend").get_attribute("open") is None
    assert page.locator(".print-legend, .print-url").count() == 0


def test_print_refits_the_view_on_screen_into_the_page_and_hides_the_controls(live_server, browsing):
    session = browsing(viewport={"width": 1280, "height": 900})
    page = session.new_page()
    page.goto(live_server.url + "/map/tapi")
    wait_for_map(page)
    screen = page.evaluate(VIEW_JS)
    page.evaluate("() => window.mapsvcPrint.before()")  # what beforeprint does, before the print layout
    page.emulate_media(media="print")
    printed = page.evaluate(VIEW_JS)
    px_per_mm = 96 / 25.4
    border = 2  # the frame's 1 px border on screen, each side, around the map
    assert printed["x"] == pytest.approx(255 * px_per_mm - border, abs=1.5)
    assert printed["y"] == pytest.approx(90 * px_per_mm - border, abs=1.5)
    # every part of what was on screen is still on paper, to a pixel (the fit may add a margin, never cut)
    dx, dy = (printed["e"] - printed["w"]) / printed["x"], (printed["n"] - printed["s"]) / printed["y"]
    assert printed["w"] <= screen["w"] + dx and printed["e"] >= screen["e"] - dx
    assert printed["s"] <= screen["s"] + dy and printed["n"] >= screen["n"] - dy
    assert printed["e"] - printed["w"] < 1.5 * (screen["e"] - screen["w"]), "refitted, not merely zoomed out"
    for selector in HIDDEN_SELECTORS:
        shown = page.evaluate("(s) => Array.from(document.querySelectorAll(s)).filter("
                              "e => getComputedStyle(e).display !== 'none' && e.getClientRects().length).length",
                              selector)
        assert shown == 0, f"{selector} is printed"
    assert page.locator(".print-legend").count() == 1 and page.locator(".print-legend").is_visible()
    page.evaluate("() => window.mapsvcPrint.after()")
    page.emulate_media(media="screen")
    # the frame's own ResizeObserver (mapsvc.js) tells Leaflet of the screen size again, before the next paint
    page.wait_for_function("(x) => window.mapsvc.map.getSize().x === x", arg=screen["x"], timeout=5000)


def test_exported_html_prints_offline_too(live_server, browsing, tmp_path):
    """The self-contained export carries the print stylesheet and script inline."""
    import urllib.request

    with urllib.request.urlopen(live_server.url + "/export?layers=tapi&format=html", timeout=60) as response:
        html = response.read().decode("utf-8")
    assert "/static/css/print.css" not in html and "mapsvc-printing" in html and "mapsvcPrint" in html
    export = tmp_path / "tapi.html"
    export.write_text(html, encoding="utf-8")
    session = browsing(offline=True)
    page = session.new_page()
    page.goto(export.as_uri())
    wait_for_map(page)
    out = tmp_path / "printed.pdf"
    page.pdf(path=str(out), format="A4", prefer_css_page_size=True)
    assert _pdf_info(out)[0] == 1
    text = " ".join(_pdf_text(out).split())
    assert "Legend" in text and "TAPI gas pipeline" in text and session.blocked == []
