"""``python -m bench.ui [--url URL]``: page weight and line click-hit rates, measured in Debian's chromium.

Page weight: bytes on the wire (encoded, as the browser received them) and
decoded, for a first visit with an empty cache and for a reload, per page.
Click-hit rates: for each line feature, points spaced along its drawn path,
clicked exactly on it and 2, 3 and 6 px off (alternating sides); a hit is a
click that opens that feature's popup. Printed, never pass/fail. Without
``--url`` it starts ``python -m webapp serve`` (offline basemap) on a free
loopback port. Every request off 127.0.0.1 is aborted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request

from bench.common import ROOT, free_port

CHROMIUM = os.environ.get("MAPSVC_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
OFFSETS_PX = (0, 2, 3, 6)
WEIGHT_PAGES = ("/", "/map/tapi", "/embed/tapi")
CLICK_PAGES = tuple((f"/map/{lid}", None) for lid in ("tapi", "iran_pakistan_pipeline", "north_south_pipeline",
                                                      "thar_lahore_hvdc", "casa1000"))

SAMPLES_JS = """
([layerIds, perLine]) => {
    // Points along each line's drawn path, in page px, with the unit normal there; 40 px from the map edges.
    const map = window.mapsvc.map, box = map.getContainer().getBoundingClientRect(), out = [];
    for (const [lid, group] of Object.entries(window.mapsvc.layers)) {
        if (layerIds && !layerIds.includes(lid)) { continue; }
        (function walk(layer) {
            if (layer.eachLayer && !layer.feature) { layer.eachLayer(walk); return; }
            if (!layer.feature || !layer.getLatLngs || layer.options.interactive === false) { return; }
            if (layer.feature.geometry.type.indexOf("LineString") < 0) { return; }
            const pts = [layer.getLatLngs()].flat(4).map(ll => map.latLngToContainerPoint(ll));
            const segs = [];
            for (let i = 0; i < pts.length - 1; i++) {
                const a = pts[i], b = pts[i + 1], len = a.distanceTo(b);
                if (len < 4) { continue; }
                const m = {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2};
                if (m.x < 40 || m.y < 40 || m.x > box.width - 40 || m.y > box.height - 40) { continue; }
                segs.push({x: box.left + m.x, y: box.top + m.y, nx: -(b.y - a.y) / len, ny: (b.x - a.x) / len});
            }
            const step = Math.max(1, Math.floor(segs.length / perLine));
            for (let i = 0; i < segs.length && out.length < 10000; i += step) {
                const props = layer.feature.properties;
                out.push({layer: lid, id: props.id, name: props.name, ...segs[i]});
            }
        })(group);
    }
    return out;
}
"""


@contextlib.contextmanager
def _server(url):
    if url:
        yield url.rstrip("/")
        return
    port = free_port()
    env = {**os.environ, "MAPSVC_DEFAULT_BASEMAP": "none", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "webapp", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/api/layers", timeout=5)
                break
            except OSError:
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _guard(route):
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
        route.continue_()
    else:
        route.abort()


def _settle(page, quiet_s=0.6):
    page.wait_for_function("() => window.mapsvc && document.querySelectorAll('.leaflet-overlay-pane path').length")
    pending = page.bench_pending
    quiet = time.monotonic()
    while time.monotonic() - quiet < quiet_s:
        page.wait_for_timeout(50)
        if pending:
            quiet = time.monotonic()


def _new_page(context):
    page = context.new_page()
    pending = page.bench_pending = set()
    page.on("request", lambda r: pending.add(r))
    page.on("requestfinished", lambda r: pending.discard(r))
    page.on("requestfailed", lambda r: pending.discard(r))
    return page


def page_weight(browser, base, path):
    """{first: (requests, wire bytes, decoded bytes), reload: (...)} for ``path``."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.route("**/*", _guard)
    page = _new_page(context)
    result = {}
    for visit in ("first", "again"):
        seen = []

        def record(request, seen=seen):
            seen.append(request)

        page.on("requestfinished", record)
        page.goto(base + path)  # the second time: a new visit, the browser cache warm
        _settle(page)
        page.remove_listener("requestfinished", record)
        wire = decoded = count = 0
        for request in seen:
            response = request.response()
            if response is None or response.from_service_worker:
                continue
            sizes = request.sizes()
            count += 1
            wire += sizes["responseBodySize"] + sizes["responseHeadersSize"]
            with contextlib.suppress(Exception):
                decoded += len(response.body())
        result[visit] = (count, wire, decoded)
    context.close()
    return result


def click_hits(browser, base, path, layer_ids, *, per_line=12):
    """{offset px: (hits, clicks)} over the line features of ``layer_ids`` (all when None) on ``path``."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.route("**/*", _guard)
    page = _new_page(context)
    page.goto(base + path)
    _settle(page)
    page.evaluate("() => window.mapsvc.map.getContainer().scrollIntoView({block: 'start', behavior: 'instant'})")
    page.wait_for_timeout(200)
    view = page.evaluate("() => { const m = window.mapsvc.map; return [m.getCenter(), m.getZoom()]; }")
    samples = page.evaluate(SAMPLES_JS, [list(layer_ids) if layer_ids else None, per_line])
    counts = {d: [0, 0] for d in OFFSETS_PX}
    for i, s in enumerate(samples):
        for d in OFFSETS_PX:
            side = 1 if i % 2 == 0 else -1
            page.mouse.click(s["x"] + side * d * s["nx"], s["y"] + side * d * s["ny"])
            page.wait_for_timeout(60)
            opened = page.evaluate("""(name) => {
                const p = document.querySelector('.leaflet-popup-content');
                const hit = !!p && p.textContent.includes(name);
                window.mapsvc.map.closePopup();
                return hit; }""", s["name"])
            page.evaluate("([c, z]) => { window.mapsvc.map.setView(c, z, {animate: false}); }", view)
            counts[d][0] += int(opened)
            counts[d][1] += 1
    context.close()
    return {d: tuple(v) for d, v in counts.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.ui", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running server (default: start one)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    figures = {"weight": {}, "clicks": {}}
    with _server(args.url) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        print("page weight (1366x900, empty cache, then a second visit):")
        for path in WEIGHT_PAGES:
            w = figures["weight"][path] = page_weight(browser, base, path)
            for visit, (count, wire, decoded) in w.items():
                print(f"  {path:12s} {visit:6s} {count:3d} requests, {wire / 1024:8.1f} KB on the wire, "
                      f"{decoded / 1024:8.1f} KB decoded")
        print("line click-hit rates (click opens that line's popup):")
        for path, layer_ids in CLICK_PAGES:
            c = figures["clicks"][path] = click_hits(browser, base, path, layer_ids)
            text = ", ".join(f"{d} px {h}/{n} ({100 * h / max(n, 1):.0f}%)" for d, (h, n) in c.items())
            print(f"  {path:12s} {text}")
        browser.close()
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
