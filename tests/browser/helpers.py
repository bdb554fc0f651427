"""Helpers of the browser tests: a recording browser context, and reading the live Leaflet DOM."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from urllib.parse import urlsplit

from browser.liveserver import ROOT

__all__ = ["CLICK_POINT_JS", "RENDERED_JS", "TRAP_SCRIPT", "VIEWPORT", "Browsing", "click_feature", "close_popup",
           "copy_to_docs", "fetch_json", "rendered_layers", "screenshot", "wait_for_map"]

VIEWPORT = {"width": 1280, "height": 900}
# Raised on purpose by the pages the hostile tests load: alert/confirm/prompt, and any dialog at all.
TRAP_SCRIPT = """
(() => {
    window.__xss = [];
    for (const name of ["alert", "confirm", "prompt", "print"]) {
        window[name] = function () { window.__xss.push(name + ":" + Array.from(arguments).join(",")); };
    }
})();
"""


def fetch_json(url):
    """GET ``url`` (on the live server) and decode its JSON."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


class Browsing:
    """One browser context for a test, recording what the page tried and what went wrong.

    ``blocked``: requests aborted because they left 127.0.0.1 (or, with
    ``offline=True``, any http(s) request at all); ``errors``: console errors,
    page errors and failed same-site responses; ``dialogs``: JS dialogs.
    """

    def __init__(self, browser, *, offline=False, trap=False, viewport=None):
        self.offline = offline
        self.blocked = []
        self.errors = []
        self.dialogs = []
        self.context = browser.new_context(viewport=viewport or VIEWPORT, service_workers="block")
        if trap:
            self.context.add_init_script(TRAP_SCRIPT)
        self.context.route("**/*", self._route)

    def _allowed(self, url):
        parts = urlsplit(url)
        if parts.scheme in ("file", "data", "blob", "about"):
            return True
        return not self.offline and parts.scheme == "http" and parts.hostname == "127.0.0.1"

    def _route(self, route):
        url = route.request.url
        if self._allowed(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _console(self, message):
        # the app answers /favicon.ico with 204, so every console error is the page's
        if message.type == "error":
            self.errors.append(f"console: {message.text} @ {message.location}")

    def new_page(self):
        page = self.context.new_page()
        pending = page.mapsvc_pending = {}  # request -> url, to name what keeps the network busy
        page.on("request", lambda r: pending.__setitem__(r, r.url))
        page.on("requestfinished", lambda r: pending.pop(r, None))
        page.on("requestfailed", lambda r: pending.pop(r, None))
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status}: {r.url}"))
        page.on("dialog", self._dialog)
        return page

    def _dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def close(self):
        self.context.close()


# --- page helpers -------------------------------------------------------------------------

RENDERED_JS = """
() => {
    // Per layer of window.mapsvc: each feature's id -> has a live SVG path or marker; counts; what is in view.
    const map = window.mapsvc.map, out = {};
    const box = map.getContainer().getBoundingClientRect(), view = map.getBounds();
    function inView(el) {
        const r = el.getBoundingClientRect();
        return r.width + r.height > 0 && r.right > box.left && r.left < box.right
            && r.bottom > box.top && r.top < box.bottom;
    }
    for (const [id, group] of Object.entries(window.mapsvc.layers)) {
        const row = {features: {}, paths: 0, markers: 0, in_view: 0, cut_off: [], on_map: map.hasLayer(group)};
        (function walk(layer) {
            if (layer.eachLayer && !layer.feature) { layer.eachLayer(walk); return; }
            if (!layer.feature || layer.options.interactive === false) { return; }
            const el = layer._path || layer._icon, fid = layer.feature.properties.id;
            const live = !!(el && el.isConnected);
            row.features[fid] = row.features[fid] || live;
            if (!live) { return; }
            if (layer._path) { row.paths += 1; } else { row.markers += 1; }
            // Leaflet leaves "M0 0" in a path clipped away entirely
            if (inView(el) && (layer._icon || el.getAttribute("d") !== "M0 0")) { row.in_view += 1; }
            if (layer.getBounds && !view.contains(layer.getBounds())) { row.cut_off.push(fid); }
        })(group);
        out[id] = row;
    }
    return out;
}
"""


FIND_FEATURE_JS = """
function findFeature(layerId, featureId) {
    // the interactive Leaflet layer drawing one feature of one map layer
    let target = null;
    (function walk(layer) {
        if (layer.eachLayer && !layer.feature) { layer.eachLayer(walk); return; }
        if (layer.feature && layer.options.interactive !== false && layer.feature.properties.id === featureId) {
            target = layer;
        }
    })(window.mapsvc.layers[layerId]);
    return target;
}
"""


CLICK_POINT_JS = """
([layerId, featureId]) => {
""" + FIND_FEATURE_JS + """
    // A point on the feature's own path that is topmost on screen, so a real click hits it.
    const map = window.mapsvc.map;
    map.getContainer().scrollIntoView({block: "nearest", behavior: "instant"});
    const box = map.getContainer().getBoundingClientRect();
    const target = findFeature(layerId, featureId);
    if (!target) { return null; }
    if (target._icon) {
        const r = target._icon.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 3;
        const hit = document.elementFromPoint(x, y);
        return hit && target._icon.contains(hit) ? {x: x, y: y} : null;
    }
    const rings = [target.getLatLngs()].flat(4);
    for (let i = 0; i < rings.length - 1; i++) {
        for (const t of [0.5, 0.25, 0.75]) {
            const a = map.latLngToContainerPoint(rings[i]), b = map.latLngToContainerPoint(rings[i + 1]);
            const x = box.left + a.x + (b.x - a.x) * t, y = box.top + a.y + (b.y - a.y) * t;
            if (x < box.left + 60 || x > box.right - 60 || y < box.top + 60 || y > box.bottom - 60) { continue; }
            // the line itself, or the invisible wide hit line drawn with it (webapp/static/js/mapsvc.js)
            const el = document.elementFromPoint(x, y);
            if (el === target._path || (el && el.classList.contains("mapsvc-hit") && el.getAttribute("d") &&
                                        target._path && el.getAttribute("d") === target._path.getAttribute("d"))) {
                return {x: x, y: y};
            }
        }
    }
    return null;
}
"""


def wait_for_map(page, *, timeout_ms=20000):
    """Wait until the Leaflet map exists, has drawn its layers, and the network is quiet."""
    page.wait_for_function(
        "() => window.mapsvc && document.querySelectorAll('.leaflet-overlay-pane path').length > 0",
        timeout=timeout_ms)
    wait_for_quiet_network(page, timeout_ms=timeout_ms)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def wait_for_quiet_network(page_or_frame, *, quiet_ms=400, timeout_ms=20000):
    """Wait until the page has had no request open for ``quiet_ms`` (the map's own fetches are done).

    Counts the requests :class:`Browsing` saw; Playwright's "networkidle" state
    is not reliable across a second navigation of the same page.
    """
    page = getattr(page_or_frame, "page", page_or_frame)
    pending = page.mapsvc_pending
    quiet_since, deadline = time.monotonic(), time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        page.wait_for_timeout(50)
        if pending:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_ms / 1000:
            return
    raise AssertionError(f"network still busy after {timeout_ms} ms: {list(pending.values())[:10]}")


def rendered_layers(page_or_frame):
    """{layer id: {features: {fid: rendered?}, paths, markers, in_view, on_map}} from the live DOM."""
    return page_or_frame.evaluate(RENDERED_JS)


PAN_TO_JS = """
([layerId, featureId]) => {
""" + FIND_FEATURE_JS + """
    // What a person does when a feature is off screen (an earlier popup's auto-pan moved the map): pan to it.
    const target = findFeature(layerId, featureId);
    if (target) {
        const centre = target.getLatLng ? target.getLatLng() : target.getBounds().getCenter();
        window.mapsvc.map.panTo(centre, {animate: false});
    }
}
"""


def click_feature(page, layer_id, feature_id):
    """Click the feature where it is visible on screen; return the popup's text once it has loaded."""
    point = page.evaluate(CLICK_POINT_JS, [layer_id, feature_id])
    if point is None:
        page.evaluate(PAN_TO_JS, [layer_id, feature_id])
        point = page.evaluate(CLICK_POINT_JS, [layer_id, feature_id])
    assert point is not None, f"{layer_id}/{feature_id} is nowhere visible and on top"
    page.mouse.click(point["x"], point["y"])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=10000)
    page.wait_for_function(
        "() => { const p = document.querySelector('.leaflet-popup-content'); "
        "return p && !p.textContent.includes('Loading'); }", timeout=10000)
    return popup


def close_popup(page):
    """Close the open popup and wait until it has left the DOM."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # under load a click can land while the popup is still auto-panning into view: try once more
    for attempt in range(2):
        page.locator(".leaflet-popup-close-button").click()
        try:
            page.locator(".leaflet-popup").wait_for(state="detached", timeout=5000)
            return
        except PlaywrightTimeout:
            if attempt:
                raise


def screenshot(page_or_locator, artifacts_dir, name):
    """Save a PNG under test-artifacts/ and return its path."""
    path = artifacts_dir / name
    page_or_locator.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, f"{name} is suspiciously small"
    return path


def copy_to_docs(path, name):
    """Keep a copy under docs/ (committed, shown in the README)."""
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    shutil.copyfile(path, docs / name)
