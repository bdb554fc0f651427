"""Bench 7: a 100,000-feature layer on the web map, drawn from vector tiles versus embedded, in the real browser.

The same synthetic layer (100,000 short pipelines over Pakistan,
``bench/synthetic.py``) is served twice, one server after the other on
the same cores: with the default ``TILED_MIN_FEATURES`` (the map draws the
layer from its MVT tiles) and with it raised above the layer size (the
layer embedded as display GeoJSON, as before). Debian's chromium (Playwright)
loads ``/map/<layer>`` on each and reports the page size, the time until
the layer is drawn and the network quiet, the JS heap, and the frame
intervals while the map pans (smooth = frames at the display rate, no long
frames). Printed, never judged.
"""

import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Row, fmt_bytes, fmt_s
from bench.loadgen import fetch
from bench.servers import ServerFailed, serve
from bench.synthetic import write_big_layer

__all__ = ["NAME", "run"]

NAME = "tiledmap"
FEATURES = 100_000
LAYER = "big_grid"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
_PAN_JS = """async () => {
    const map = window.mapsvc.map, frames = [];
    let last = performance.now(), running = true;
    function tick(t) { frames.push(t - last); last = t; if (running) { requestAnimationFrame(tick); } }
    requestAnimationFrame(tick);
    for (let i = 0; i < 6; i++) {
        map.panBy([i % 2 ? -300 : 300, i % 3 ? 120 : -120], {animate: true, duration: 0.4});
        await new Promise(r => setTimeout(r, 500));
    }
    running = false;
    return frames.slice(1);
}"""


def _drawn_js(tiled):
    if tiled:
        return (f"() => window.mapsvc && window.mapsvc.layers['{LAYER}'] "
                f"&& window.mapsvc.layers['{LAYER}'].drawn.features > 0")
    return "() => window.mapsvc && document.querySelectorAll('.leaflet-overlay-pane path').length > 1000"


def _measure(browser, port, tiled):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    pending = set()
    page.on("request", lambda r: pending.add(r))
    page.on("requestfinished", lambda r: pending.discard(r))
    page.on("requestfailed", lambda r: pending.discard(r))
    t0 = time.perf_counter()
    page.goto(f"http://127.0.0.1:{port}/map/{LAYER}", timeout=600_000)
    page.wait_for_function(_drawn_js(tiled), timeout=600_000)
    quiet = time.perf_counter()
    while time.perf_counter() - quiet < 0.5:
        if pending:
            quiet = time.perf_counter()
        time.sleep(0.05)
    drawn_s = quiet - t0
    heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : null")
    frames = page.evaluate(_PAN_JS)
    context.close()
    return {"drawn_s": drawn_s, "heap": heap, "frames": frames}


def run(*, budget_s=900.0):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("  not run: Playwright is not installed")
        return []
    if not Path(CHROMIUM).exists():
        print(f"  not run: {CHROMIUM} missing (apt-get install chromium)")
        return []
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_tiledmap_") as tmp:
        write_big_layer(Path(tmp), FEATURES, layer_id=LAYER)
        env = {"MAPSVC_LAYERS_DIRS": tmp, "MAPSVC_DEFAULT_BASEMAP": "none"}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            for name, tiled, extra in (("vector tiles", True, {}),
                                       ("embedded GeoJSON", False, {"MAPSVC_TILED_MIN_FEATURES": str(FEATURES + 1)})):
                try:
                    with serve("webapp:create_app", call=True, env={**env, **extra}, ready_path="/api/layers",
                               start_timeout_s=budget_s) as port:
                        t0 = time.perf_counter()
                        status, _, body, _ = fetch(port, f"/map/{LAYER}", headers={"Accept-Encoding": "identity"},
                                                   timeout=budget_s)
                        build_s = time.perf_counter() - t0
                        result = _measure(browser, port, tiled)
                        result.update(page_bytes=len(body), build_s=build_s, status=status)
                        results[name] = result
                except ServerFailed as exc:
                    print(f"  {name}: did not start: {exc}")
                    continue
                except TimeoutError:  # a result too: the page was not built (or drawn) within the budget
                    print(f"  {name}: the map page was not built and drawn within {fmt_s(budget_s)}")
                    continue
                frames = sorted(result["frames"])
                p95 = frames[int(0.95 * (len(frames) - 1))] if frames else float("nan")
                long_frames = sum(f > 50 for f in frames)
                result.update(median_frame=statistics.median(frames) if frames else float("nan"), p95_frame=p95,
                              long_frames=long_frames)
                print(f"  {name:17s} page {fmt_bytes(result['page_bytes']):>9s} (first build {fmt_s(build_s)}), "
                      f"drawn and quiet in {fmt_s(result['drawn_s'])}, JS heap {fmt_bytes(result['heap'] or 0)}; "
                      f"panning: {len(frames)} frames, median {result['median_frame']:.1f} ms, p95 {p95:.1f} ms, "
                      f"{long_frames} over 50 ms")
            browser.close()
    rows = []
    for name, r in results.items():
        rows.append(Row("7 tiledmap", f"{FEATURES:,} features, {name}: page, drawn, pan p95 frame",
                        f"{fmt_bytes(r['page_bytes'])}, {fmt_s(r['drawn_s'])}, {r['p95_frame']:.0f} ms"))
    tiles, embedded = results.get("vector tiles"), results.get("embedded GeoJSON")
    if tiles and embedded:
        for what, key, digits in (("page bytes", "page_bytes", 0), ("time to drawn", "drawn_s", 1),
                                  ("p95 frame while panning", "p95_frame", 1)):
            rows.append(Row("7 tiledmap", f"embedded / tiles: {what}", f"{embedded[key] / tiles[key]:.{digits}f}x"))
    return rows
