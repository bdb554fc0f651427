"""Production serving: the --production path, a concurrent soak over loopback, and the security headers.

The soak starts ``python -m webapp serve --production`` (gunicorn, 8
threads per worker), asks each URL once (the steady state of a server that has been
visited), then sends 8 clients x 200 requests mixing pages, GeoJSON and
statistics over keep-alive connections; every response must be a 200 and
identical, per URL, to the first one. Figures go to
test-artifacts/soak.json (a record, not a timing assertion).
"""

import gzip
import hashlib
import http.client
import json
import random
import statistics
import sys
import threading
import time
from html.parser import HTMLParser

import pytest
from browser.liveserver import ROOT, LiveServer

from webapp import __main__ as cli
from webapp import create_app
from webapp.security import content_security_policy, is_embed_path, tile_sources

CLIENTS = 8
REQUESTS_PER_CLIENT = 200
SOAK_URLS = (
    "/", "/map/tapi", "/map?layers=tapi,casa1000", "/embed/casa1000", "/embed?layers=cpec,ports",
    "/api/layers", "/api/layers/tapi", "/api/layers/pakistan_gas_grid", "/api/layers/lng_terminals?limit=10&offset=20",
    "/api/layers/pakistan_gas_grid?bbox=66.5,24.5,68.5,26.5", "/api/layers/ports?status=operating",
    "/api/layers/tapi/features/tapi_trunk", "/api/layers/tapi/stats", "/api/layers/cpec/stats?format=csv",
    "/api/layers/pakistan_gas_grid/stats", "/popup/tapi/tapi_trunk", "/api/openapi.json",
    "/static/vendor/leaflet-1.9.3/dist/leaflet.js",
)


# --- the --production switch --------------------------------------------------------------------

@pytest.fixture()
def captured_serve(monkeypatch):
    """Replace waitress.serve (and the warm-up) so the CLI's choices can be read without serving."""
    import waitress

    calls = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kwargs: calls.append((app, kwargs)))
    monkeypatch.setattr(cli, "warm_up", lambda app: None)
    monkeypatch.delenv(cli.PRODUCTION_ENV, raising=False)
    return calls


def test_production_flag_starts_gunicorn_with_the_shipped_config(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append(argv))
    monkeypatch.delenv(cli.PRODUCTION_ENV, raising=False)
    assert cli.main(["serve", "--production", "--port", "8125", "--workers", "3", "--threads", "4"]) == 0
    argv = calls[0]
    assert argv[1:3] == ["-m", "gunicorn"] and argv[argv.index("-c") + 1].endswith("deploy/gunicorn.conf.py")
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8125"
    assert argv[argv.index("--workers") + 1] == "3" and argv[argv.index("--threads") + 1] == "4"


def test_the_gunicorn_config_bounds_requests_and_preloads():
    import runpy

    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert conf["worker_class"] == "gthread" and conf["preload_app"] is True
    assert conf["limit_request_line"] <= 8190 and conf["limit_request_fields"] <= 100
    assert conf["wsgi_app"] == "webapp.wsgi:application"


def test_production_flag_configures_waitress(captured_serve):
    assert cli.main(["serve", "--production", "--server", "waitress", "--threads", "12", "--port", "8123"]) == 0
    app, options = captured_serve[0]
    assert not app.debug and not app.testing
    assert options["threads"] == 12 and options["port"] == 8123 and options["host"] == "127.0.0.1"
    assert options["connection_limit"] >= 100 and options["channel_timeout"] == 60
    assert options["ident"] == "mapsvc"
    # waitress lets through the largest body an endpoint takes (uploads: IMPORT_MAX_MB); the app refuses the rest
    assert options["max_request_body_size"] == int(app.config["IMPORT_MAX_MB"] * 2**20) > 1024 * 1024
    assert options["channel_request_lookahead"] == 1
    assert "trusted_proxy" not in options


def test_production_from_the_environment_with_a_trusted_proxy(captured_serve, monkeypatch):
    monkeypatch.setenv(cli.PRODUCTION_ENV, "1")
    assert cli.main(["serve", "--server", "waitress", "--trusted-proxy", "127.0.0.1"]) == 0
    options = captured_serve[0][1]
    assert options["ident"] == "mapsvc"
    assert options["trusted_proxy"] == "127.0.0.1" and "x-forwarded-proto" in options["trusted_proxy_headers"]
    from waitress.adjustments import Adjustments

    adjusted = Adjustments(**options)  # waitress accepts every option as given
    assert adjusted.trusted_proxy_headers == {"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
                                              "x-forwarded-port"}


def test_development_serving_is_unchanged(captured_serve):
    assert cli.main(["serve", "--port", "8124"]) == 0
    assert captured_serve[0][1] == {"host": "127.0.0.1", "port": 8124, "threads": 8}


def test_a_bad_production_value_is_a_usage_error(captured_serve, monkeypatch, capsys):
    monkeypatch.setenv(cli.PRODUCTION_ENV, "maybe")
    assert cli.main(["serve"]) == 2
    assert "not a boolean" in capsys.readouterr().err
    assert captured_serve == []


def test_production_refuses_a_testing_app():
    with pytest.raises(ValueError, match="TESTING"):
        cli.serve(create_app({"TESTING": True}), host="127.0.0.1", port=0, production=True)


# --- soak --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    log = tmp_path_factory.mktemp("soak") / "server.log"
    server = LiveServer(args=["--production", "--threads", "8"], log_path=log).start(timeout_s=240)
    yield server
    server.stop()


def _get(port, url, *, gz=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", url, headers={"Accept-Encoding": "gzip"} if gz else {})
        response = conn.getresponse()
        body = response.read()
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return response.status, body
    finally:
        conn.close()


def _client(port, plan, results, errors):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for url, gz in plan:
            started = time.perf_counter()
            try:
                conn.request("GET", url, headers={"Accept-Encoding": "gzip"} if gz else {})
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{url}: {exc!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            elapsed = time.perf_counter() - started
            if response.status != 200:
                errors.append(f"{url}: HTTP {response.status}")
            if gz and response.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            results.append((url, gz, hashlib.sha256(body).hexdigest(), len(body), elapsed,
                            response.getheader("Server")))
    finally:
        conn.close()


def test_soak_8_clients_x_200_requests_zero_errors_identical_responses(production_server):
    first = {}
    for url in SOAK_URLS:
        status, body = _get(production_server.port, url)
        assert status == 200, url
        first[url] = hashlib.sha256(body).hexdigest()
    rng = random.Random(20240501)
    plans = [[(rng.choice(SOAK_URLS), rng.random() < 0.5) for _ in range(REQUESTS_PER_CLIENT)]
             for _ in range(CLIENTS)]
    results, errors = [], []
    threads = [threading.Thread(target=_client, args=(production_server.port, plan, results, errors))
               for plan in plans]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    wall = time.perf_counter() - started
    assert not any(t.is_alive() for t in threads), "soak clients still running after 240 s"
    assert errors == [], errors[:10]
    assert len(results) == CLIENTS * REQUESTS_PER_CLIENT
    by_url = {}
    for url, _gz, digest, *_ in results:
        by_url.setdefault(url, set()).add(digest)
    differing = {url: len(d) for url, d in by_url.items() if d != {first[url]}}
    assert differing == {}, f"URLs answering differently (number of variants): {differing}"
    assert {r[5] for r in results} == {"mapsvc"}  # production ident, no version
    latencies = sorted(r[4] for r in results)
    figures = {
        "clients": CLIENTS, "requests": len(results), "errors": len(errors), "distinct_urls": len(by_url),
        "wall_s": round(wall, 2), "requests_per_s": round(len(results) / wall, 1),
        "latency_ms_median": round(1000 * statistics.median(latencies), 1),
        "latency_ms_p95": round(1000 * latencies[int(0.95 * len(latencies))], 1),
        "latency_ms_max": round(1000 * latencies[-1], 1),
        "mbytes_decoded": round(sum(r[3] for r in results) / 1e6, 1),
        "python": sys.version.split()[0],
    }
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "soak.json").write_text(json.dumps(figures, indent=1))


def test_concurrent_first_requests_for_a_map_get_the_same_page(production_server):
    url = "/map?layers=pakistan_gas_grid,lng_terminals,cpec,energy_projects&basemap=hot"  # asked by no other test
    bodies, start = [], threading.Barrier(6)

    def ask():
        start.wait()
        bodies.append(_get(production_server.port, url)[1])

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(bodies) == 6 and len({hashlib.sha256(b).hexdigest() for b in bodies}) == 1


# --- security headers --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def web():
    return create_app({"TESTING": True}).test_client()


def _csp(response):
    return dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))


TILE_HOSTS = {"https://tile.openstreetmap.org", "https://*.tile.opentopomap.org", "https://*.tile.openstreetmap.fr"}


@pytest.mark.parametrize("path", ["/", "/map/tapi", "/map?layers=tapi,casa1000", "/corridor", "/route",
                                  "/map/nope"])
def test_html_pages_carry_the_policy_and_refuse_foreign_framing(web, path):
    response = web.get(path)
    assert response.mimetype == "text/html"
    csp = _csp(response)
    assert csp["default-src"] == "'self'"
    # inline scripts and style elements only by hash; no 'unsafe-eval' (the measure tool is our own)
    script_src, style_src = csp["script-src"].split(), csp["style-src"].split()
    assert script_src[0] == "'self'" and "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert style_src[0] == "'self'" and "'unsafe-inline'" not in style_src
    assert all(s.startswith("'sha256-") for s in script_src[1:] + style_src[1:])
    assert len(script_src) > 1 or response.status_code == 404  # the map's script; an error page has none
    assert len(style_src) > 1
    assert csp["style-src-attr"] == "'unsafe-inline'"
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'self'" and csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'self'"
    # the default basemap is OpenStreetMap: its tiles, and the alternatives in the layer control, are images
    assert set(csp["img-src"].split()) == {"'self'", "data:", *TILE_HOSTS}
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", ["/embed/tapi", "/embed?layers=tapi,casa1000", "/embed/corridor", "/embed/route"])
def test_embeds_may_be_framed_by_anyone(web, path):
    response = web.get(path)
    assert response.status_code == 200
    csp = _csp(response)
    # no frame-ancestors at all: '*' would still refuse file:// reports and sandboxed frames
    assert "frame-ancestors" not in csp and "'unsafe-inline'" not in csp["script-src"]
    assert "X-Frame-Options" not in response.headers


def test_pages_without_tiles_allow_no_remote_host_at_all(web):
    csp = _csp(web.get("/map/tapi?basemap=none"))
    assert csp["img-src"] == "'self' data:"
    assert "http" not in web.get("/map/tapi?basemap=none").headers["Content-Security-Policy"]


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href") and "stylesheet" in (attrs.get("rel") or ""):
            self.urls.append(attrs["href"])


@pytest.mark.parametrize("path", ["/", "/embed/tapi", "/corridor", "/route"])
def test_pages_load_scripts_and_styles_only_from_this_site(web, path):
    parser = _Assets()
    parser.feed(web.get(path).get_data(as_text=True))
    assert parser.urls and all(url.startswith("/static/") for url in parser.urls), parser.urls


def test_json_and_static_files_get_nosniff_and_no_page_policy(web):
    for path in ("/api/layers", "/api/layers/tapi", "/static/vendor/leaflet-1.9.3/dist/leaflet.js"):
        response = web.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert "Content-Security-Policy" not in response.headers, path


def test_tile_sources_follow_the_settings():
    assert tile_sources(["http://tiles.local:8080/{z}/{x}/{y}.png", "/tiles/{z}/{x}/{y}.png"]) == (
        "http://tiles.local:8080",)
    app = create_app({"TESTING": True, "TILES_URL": "https://tiles.example.org/{z}/{x}/{y}.png"})
    csp = _csp(app.test_client().get("/map/tapi"))
    assert "https://tiles.example.org" in csp["img-src"].split()
    assert "https://tile.openstreetmap.org" not in csp["img-src"].split()
    assert is_embed_path("/embed") and is_embed_path("/embed/x") and not is_embed_path("/embedded")
    assert "frame-ancestors" not in content_security_policy(tiles=(), embed=True)
    assert content_security_policy(tiles=(), embed=False).endswith("frame-ancestors 'self'")


def test_serve_help_documents_production():
    """``--help`` names the production switch and its environment variable."""
    import subprocess

    out = subprocess.run([sys.executable, "-m", "webapp", "serve", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert "--production" in out and cli.PRODUCTION_ENV in out and "--trusted-proxy" in out


def test_the_artifacts_folder_is_ignored_by_git():
    assert "test-artifacts/" in (ROOT / ".gitignore").read_text().splitlines()



def test_hashes_cover_exactly_the_trusted_inline_elements(web):
    """Each hash in the policy is one inline element of the page; hostile markup in data is never hashed."""
    import base64
    import re

    response = web.get("/map/tapi")
    html = response.get_data(as_text=True)
    csp = _csp(response)
    bodies = re.findall(r"<script>(.*?)</script>", html, re.S)
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'" for b in bodies}
    assert hashes == {source for source in csp["script-src"].split() if source.startswith("'sha256-")}
    assert csp["script-src"].split()[0] == "'self'" and "'unsafe-eval'" not in csp["script-src"]


def test_downloads_are_sandboxed(web):
    response = web.get("/export?layers=tapi&format=html")
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_a_hostile_layer_adds_no_hash(hostile_client, client):
    """A layer full of <script> payloads changes the data, not the set of inline elements allowed."""
    hostile = _csp(hostile_client.get("/map/hostile"))
    assert len(hostile["script-src"].split()) == len(_csp(client.get("/map/tapi"))["script-src"].split())


def test_a_page_served_from_the_page_cache_keeps_its_policy(web):
    """The second request is answered from the page cache: its CSP must still allow the page's own scripts."""
    first, second = web.get("/map/casa1000"), web.get("/map/casa1000")
    assert first.get_data() == second.get_data()
    assert _csp(second)["script-src"] == _csp(first)["script-src"]
    assert sum(source.startswith("'sha256-") for source in _csp(second)["script-src"].split()) == 2
