"""In the real browser: a page on another origin reads the data (CORS, byte ranges), and large layers draw from
vector tiles.

The tiled server sets ``TILED_MIN_FEATURES=50``, so the 70-pipeline Pakistan grid (and the 64 LNG terminals)
are drawn from their MVT tiles, exactly as a 100,000-feature user layer would be.
"""

import pytest
from browser.helpers import screenshot, wait_for_quiet_network
from browser.liveserver import LiveServer

GRID = "pakistan_gas_grid"


@pytest.fixture(scope="module")
def tiled_server(tmp_path_factory):
    log = tmp_path_factory.mktemp("server_tiled") / "server.log"
    server = LiveServer(env={"MAPSVC_DEFAULT_BASEMAP": "none", "MAPSVC_TILED_MIN_FEATURES": "50"},
                        log_path=log).start(timeout_s=300)
    yield server
    server.stop()


_DRAWN_IDS = """(layerId) => {
    const layer = window.mapsvc.layers[layerId];
    const ids = new Set();
    for (const renderer of Object.values(layer._vectorTiles || {})) {
        Object.keys(renderer._features || {}).forEach(id => ids.add(id));
    }
    return Array.from(ids).sort();
}"""


def test_a_vector_tile_layer_draws_on_the_map(tiled_server, browsing, catalog, artifacts_dir):
    session = browsing()
    page = session.new_page()
    tiles = []
    page.on("request", lambda r: "/tiles/WebMercatorQuad/" in r.url and tiles.append(r.url))
    page.goto(tiled_server.url + f"/map/{GRID}")
    page.wait_for_function(f"() => window.mapsvc && window.mapsvc.layers['{GRID}'] "
                           f"&& window.mapsvc.layers['{GRID}'].drawn.features > 0", timeout=30000)
    wait_for_quiet_network(page)
    assert tiles and all(f"/ogcapi/collections/{GRID}/tiles/WebMercatorQuad/" in url for url in tiles)
    drawn = set(page.evaluate(_DRAWN_IDS, GRID))
    expected = set(catalog.layer(GRID).gdf["id"])
    assert drawn <= expected and len(drawn) >= 0.9 * len(expected), (len(drawn), len(expected))
    # drawn where it can be seen: canvas tiles in the overlay pane (above the vector basemap), with paint on them
    painted = page.evaluate("""() => Array.from(document.querySelectorAll('.leaflet-overlay-pane canvas'))
        .filter(c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                       for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) { return true; } } return false; })
        .length""")
    assert painted > 0
    # the page embeds no GeoJSON of the tiled layer: only the tile options
    html = page.content()
    assert "mapsvcTiledLayer" in html and '"Sui' not in html
    # the layer control still hides and shows it
    assert page.evaluate(f"() => window.mapsvc.map.hasLayer(window.mapsvc.layers['{GRID}'])")
    screenshot(page, artifacts_dir, "tiled-layer.png")
    assert session.blocked == []


def test_a_tiled_feature_opens_its_popup_on_click(tiled_server, browsing):
    page = browsing().new_page()
    page.goto(tiled_server.url + f"/map/{GRID}")
    page.wait_for_function(f"() => window.mapsvc && window.mapsvc.layers['{GRID}'].drawn.features > 0",
                           timeout=30000)
    wait_for_quiet_network(page)
    # click the middle of a drawn feature: find one in the tile renderers and fire Leaflet's click on it
    name = page.evaluate(f"""() => {{
        const layer = window.mapsvc.layers['{GRID}'];
        for (const renderer of Object.values(layer._vectorTiles)) {{
            for (const entry of Object.values(renderer._features)) {{
                const f = entry.feature;
                const latlng = window.mapsvc.map.getCenter();
                layer.fire('click', {{layer: f, latlng: latlng, propagatedFrom: f}});
                return f.properties.name;
            }}
        }}
        return null;
    }}""")
    assert name
    page.locator(".leaflet-popup-content").filter(has_text="km").wait_for(timeout=30000)
    assert name in page.locator(".leaflet-popup-content").inner_text()


def test_a_page_on_another_origin_fetches_a_layer(live_server, browsing, host_site):
    folder, origin = host_site
    api = live_server.url
    (folder / "notebook.html").write_text(f"""<!doctype html><meta charset="utf-8"><title>notebook</title>
<pre id="out">waiting</pre>
<script>
(async () => {{
    const layer = await (await fetch("{api}/api/layers/tapi")).json();
    const items = await (await fetch("{api}/ogcapi/collections/tapi/items?limit=2")).json();
    const part = await fetch("{api}/api/layers/boundaries", {{headers: {{Range: "bytes=0-99"}}}});
    const text = await part.text();
    document.getElementById("out").textContent = JSON.stringify({{
        features: layer.features.length, items: items.numberReturned, partStatus: part.status,
        partBytes: text.length, contentRange: part.headers.get("Content-Range")}});
}})().catch(e => {{ document.getElementById("out").textContent = "failed: " + e; }});
</script>""", encoding="utf-8")
    page = browsing().new_page()
    page.goto(origin + "/notebook.html")
    page.wait_for_function("() => document.getElementById('out').textContent !== 'waiting'", timeout=20000)
    result = page.locator("#out").inner_text()
    assert result.startswith("{"), result
    import json

    got = json.loads(result)
    assert got["features"] == 3 and got["items"] == 2
    assert got["partStatus"] == 206 and got["partBytes"] == 100 and got["contentRange"].startswith("bytes 0-99/")
