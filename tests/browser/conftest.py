"""Real-browser fixtures: the real server on a loopback port, Debian's chromium driven by Playwright.

Every request that leaves 127.0.0.1 is aborted (and recorded), so a page
that renders here renders offline. Any console error, uncaught page error
or JavaScript dialog fails the test, unless the test says it expects it.

Browser tests skip only when chromium (or Playwright) is missing AND the
environment variable ``CI`` is not ``"true"``; in CI a missing browser fails.
``MAPSVC_CHROMIUM`` points at another chromium binary (default /usr/bin/chromium).
"""

from __future__ import annotations

import http.server
import os
import threading
from functools import partial
from pathlib import Path

import pytest
from browser.helpers import Browsing
from browser.hostile import write_layer
from browser.liveserver import ROOT, LiveServer, free_port

CHROMIUM = Path(os.environ.get("MAPSVC_CHROMIUM", "/usr/bin/chromium"))  # Debian's; never Playwright's download
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"


def _browser_missing():
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="session")
def artifacts_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def playwright_browser():
    """One headless chromium per test session (per xdist worker)."""
    reason = _browser_missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _start(tmp_path_factory, name, env, args=()):
    log = tmp_path_factory.mktemp(f"server_{name}") / "server.log"
    return LiveServer(args=args, env=env, log_path=log).start()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The real server (waitress via ``python -m webapp serve``) with the built-in layers, offline basemap."""
    server = _start(tmp_path_factory, "main", {"MAPSVC_DEFAULT_BASEMAP": "none"})
    yield server
    server.stop()


@pytest.fixture()
def browsing(playwright_browser):
    """Factory of :class:`Browsing` contexts; fails the test on console errors, page errors or dialogs."""
    opened = []

    def make(**options):
        session = Browsing(playwright_browser, **options)
        opened.append(session)
        return session

    yield make
    problems = []
    for session in opened:
        problems += session.errors + [f"dialog {d}" for d in session.dialogs]
        session.close()
    assert not problems, "browser reported:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def hostile_layers_dir(tmp_path_factory):
    """A user-layers folder holding the hostile layer (tests/browser/hostile.py)."""
    folder = tmp_path_factory.mktemp("hostile_layers")
    write_layer(folder)
    return folder


@pytest.fixture(scope="session")
def hostile_server(tmp_path_factory, hostile_layers_dir):
    """The real server with the hostile layer loaded; popups and display geometry fetched, as for large layers."""
    env = {"MAPSVC_DEFAULT_BASEMAP": "none", "MAPSVC_LAYERS_DIRS": str(hostile_layers_dir),
           "MAPSVC_POPUP_EMBED_MAX": "0", "MAPSVC_DISPLAY_SIMPLIFY_MIN_VERTICES": "0"}
    server = _start(tmp_path_factory, "hostile", env)
    yield server
    server.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def host_site(tmp_path):
    """A second origin (another loopback port) serving ``tmp_path``: a page embedding our maps."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()),
                                             partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
