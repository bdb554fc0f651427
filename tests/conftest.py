"""Shared fixtures: apps built by the factory, their clients and CLI runners, a hostile user layer.

Apps are session-scoped: the catalogue and its memoised statistics are
built once, which keeps the web tests fast.
"""

import atexit
import json
import os
import re
import shutil
import tempfile

import pytest

# The suite is one client asking for hundreds of computations a minute: the per-client rate limits
# (webapp.limits) would answer 429. They are off for every app and server the tests start unless a
# test switches them on (tests/test_limits.py, tests/load/).
os.environ.setdefault("MAPSVC_RATELIMIT_ENABLED", "false")

from pg_service import _store_switch, pg_cluster, pg_url, pytest_addoption, store_backend  # noqa: F401 (plugin)
from userflow import sign_in

from webapp import create_app

# Every app a test builds (and every server it starts) keeps its store in a throw-away directory of this
# test process, never in the repository's instance/ folder. Tests that write make their own DATA_DIR.
_DATA_DIR = tempfile.mkdtemp(prefix="mapsvc-test-data-")
os.environ.setdefault("MAPSVC_DATA_DIR", _DATA_DIR)
atexit.register(shutil.rmtree, _DATA_DIR, ignore_errors=True)

HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_URL = "javascript:alert(document.cookie)"


def _feature(fid, name, geometry, **extra):
    props = {
        "id": fid, "name": name, "kind": "gas_pipeline", "status": "proposed", "countries": ["PAK"],
        "reported_length_km": 100.0, "geometry_quality": "schematic",
        "sources": [{"title": "<i>evil title</i>", "url": HOSTILE_URL},
                    {"title": "Good source", "url": "https://example.org/a?b=1&c=2"},
                    {"title": "Data URL", "url": "data:text/html,<script>alert(2)</script>"}],
        "licence": "CC BY 4.0",
        "description": "\"'><svg onload=alert(3)>",
    }
    props.update(extra)
    return {"type": "Feature", "properties": props, "geometry": geometry}


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory):
    """A user layers folder holding one layer whose text fields try to inject markup."""
    folder = tmp_path_factory.mktemp("user_layers")
    doc = {
        "type": "FeatureCollection",
        "metadata": {"id": "hostile", "title": "<b>Evil</b> layer", "description": "<img src=x onerror=alert(4)>",
                     "attribution": "<img src=x onerror=alert(5)>; Example Org", "licence": "CC BY 4.0"},
        "features": [
            _feature("evil_line", HOSTILE_NAME,
                     {"type": "LineString", "coordinates": [[67.0, 25.0], [68.0, 26.0], [69.0, 27.5]]}),
            _feature("evil_point", "Plant <em>X</em>", {"type": "Point", "coordinates": [67.5, 25.5]},
                     kind="power_plant", status="operating", geometry_quality="point", reported_length_km=None),
        ],
    }
    (folder / "hostile.geojson").write_text(json.dumps(doc), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def app():
    return create_app({"TESTING": True})


@pytest.fixture(scope="session")
def hostile_app(hostile_dir):
    return create_app({"TESTING": True, "LAYERS_DIRS": [str(hostile_dir)]})


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def hostile_client(hostile_app):
    return hostile_app.test_client()


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def catalog(app):
    return app.extensions["catalog"]


_EMBEDDED = re.compile(r"MapSvc\.featureLayer\(\w+, ")


@pytest.fixture(scope="session")
def embedded_layers():
    """Function: page HTML -> {layer_id: FeatureCollection} of the data layers the page embeds."""

    def parse(html):
        found = {}
        decoder = json.JSONDecoder()
        for match in _EMBEDDED.finditer(html):
            # MapSvc.featureLayer(map, data, {"layerId": ..., ...}): the data, then the options naming the layer
            data, end = decoder.raw_decode(html, match.end())
            options, _ = decoder.raw_decode(html, end + 2)
            found[options["layerId"]] = data
        return found

    return parse


# --- accounts and imports (helpers in tests/signin.py: test files import them by name) ---------------------

@pytest.fixture(scope="module")
def store_app(tmp_path_factory):
    """An app with its own empty store, and the small global body limit uploads must not be bound by."""
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path_factory.mktemp("store")),
                       "MAX_CONTENT_LENGTH": 1 << 20})


@pytest.fixture(scope="module")
def signed_in(store_app):
    return sign_in(store_app, "alice")
