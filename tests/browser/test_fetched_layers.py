"""Layers too large to write into a page (INLINE_MAX_KB) are fetched when shown, and drawn whole.

A server with ``INLINE_MAX_KB=1`` treats every layer as too large: the page
embeds none of their features, the overview starts with them switched off,
and switching one on (or asking for its own map) fetches and draws it.
"""

import re

import pytest
from browser.helpers import rendered_layers, wait_for_map, wait_for_quiet_network
from browser.liveserver import LiveServer

from layers.catalog import Catalog


@pytest.fixture(scope="module")
def fetching_server(tmp_path_factory):
    log = tmp_path_factory.mktemp("fetching") / "server.log"
    server = LiveServer(env={"MAPSVC_DEFAULT_BASEMAP": "none", "MAPSVC_INLINE_MAX_KB": "1"}, log_path=log).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def expected_ids():
    catalog = Catalog.from_dirs()
    return {lid: set(catalog.layer(lid).gdf["id"]) for lid in ("tapi", "cpec", "ports")}


def test_a_layer_map_fetches_and_draws_every_feature(fetching_server, browsing, expected_ids):
    page = browsing().new_page()
    html = page.goto(fetching_server.url + "/map/cpec").text()
    # no feature data in the page: the layer starts from an empty collection
    assert re.search(r'MapSvc\.featureLayer\(\w+, \{"type":"FeatureCollection","features":\[\]\}, ', html)
    wait_for_map(page)
    drawn = rendered_layers(page)["cpec"]
    assert drawn["on_map"] and set(drawn["features"]) == expected_ids["cpec"] and all(drawn["features"].values())


def test_the_overview_starts_with_fetched_layers_off_and_draws_one_switched_on(fetching_server, browsing,
                                                                                expected_ids):
    page = browsing().new_page()
    page.goto(fetching_server.url + "/")
    page.wait_for_function("() => window.mapsvc && window.mapsvc.map")
    wait_for_quiet_network(page)
    before = rendered_layers(page)
    assert not before["tapi"]["on_map"] and before["tapi"]["features"] == {}
    page.evaluate("() => window.mapsvc.map.addLayer(window.mapsvc.layers.tapi)")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-overlay-pane path').length > 0")
    wait_for_quiet_network(page)
    after = rendered_layers(page)["tapi"]
    assert after["on_map"] and set(after["features"]) == expected_ids["tapi"] and all(after["features"].values())
