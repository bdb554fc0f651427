"""Start the services under test as subprocesses of one production server.

Every service runs under waitress with the same thread count, on a free
127.0.0.1 port, from the project root; its output goes to a log file that
is shown if it fails to start. ``serve`` stops it on exit.
"""

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import ROOT, free_port
from bench.loadgen import fetch

__all__ = ["THREADS", "ServerFailed", "geojson_resource", "postgis_resource", "pygeoapi_config", "serve",
           "webapp_ready"]

THREADS = 4
START_TIMEOUT_S = 120.0


class ServerFailed(RuntimeError):
    """A service under test did not come up; the message holds its log tail."""


@contextlib.contextmanager
def serve(target, *, call=False, env=None, ready_path="/", threads=THREADS, start_timeout_s=START_TIMEOUT_S,
          port=None):
    """Run ``waitress`` serving ``target`` ('module:app' or, with ``call``, a factory); yield the port
    (``port``, or a free one)."""
    port = port or free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench_server_", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", f"--threads={threads}",
           "--connection-limit=200"]
    cmd += (["--call"] if call else []) + [target]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, port, ready_path, Path(log.name), start_timeout_s)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(log.name)


def _wait_ready(proc, port, path, log_path, timeout_s=START_TIMEOUT_S):
    deadline = time.perf_counter() + timeout_s
    last = None
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            status, _, _, _ = fetch(port, path, timeout=60)
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise ServerFailed(f"not ready after {timeout_s:.0f} s ({last}):\n{log_path.read_text()[-2000:]}")


def webapp_ready():
    """Why the web app cannot be benchmarked yet, or None when ``create_app`` exists."""
    init = ROOT / "webapp" / "__init__.py"
    if "def create_app" not in init.read_text(encoding="utf-8"):
        return "webapp/__init__.py has no create_app yet"
    return None


def geojson_resource(layer_path, title, *, tiles_dir=None, max_zoom=0):
    """A pygeoapi collection over a GeoJSON file (its GeoJSON provider re-reads the file per request);
    with ``tiles_dir``, also its pre-rendered MVT tiles (``{z}/{x}/{y}.pbf`` + ``metadata.json``, MVT-tippecanoe)."""
    providers = [{"type": "feature", "name": "GeoJSON", "data": str(layer_path), "id_field": "id"}]
    if tiles_dir is not None:
        providers.append({"type": "tile", "name": "MVT-tippecanoe", "data": str(tiles_dir),
                          "options": {"zoom": {"min": 0, "max": max_zoom}, "schemes": ["WebMercatorQuad"]},
                          "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"}})
    return _resource(title, providers)


def postgis_resource(database_url, table, title, *, max_zoom=16):
    """A pygeoapi collection over a PostGIS table (``id``, ``geom``): its PostgreSQL feature provider and
    its MVT-postgresql tile provider (``ST_AsMVT`` per request)."""
    url = urlsplit(database_url)
    data = {"host": url.hostname, "port": url.port or 5432, "dbname": url.path.lstrip("/"), "user": url.username,
            "password": url.password or "", "search_path": ["public"]}
    common = {"data": data, "id_field": "id", "table": table, "geom_field": "geom"}
    return _resource(title, [
        {"type": "feature", "name": "PostgreSQL", **common},
        {"type": "tile", "name": "MVT-postgresql", **common,  # its options go to SQLAlchemy: no lists there
         "options": {"zoom": {"min": 0, "max": max_zoom}},
         "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"}},
    ])


def _resource(title, providers):
    return {"type": "collection", "title": title, "description": title, "keywords": ["bench"],
            "extents": {"spatial": {"bbox": [-180, -90, 180, 90],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": providers}


def pygeoapi_config(folder, layer_path=None, *, port, layer_id=None, title=None, tiles_dir=None, max_zoom=0,
                    cors=False, resources=None):
    """Write a pygeoapi config and its OpenAPI document; returns the environment pygeoapi reads them from.

    ``resources``: {collection id: :func:`geojson_resource` or :func:`postgis_resource`}; by default one
    GeoJSON collection ``layer_id`` over ``layer_path`` (with ``tiles_dir``: and its MVT tiles).
    """
    import yaml  # pygeoapi's own dependency: there whenever pygeoapi is

    folder = Path(folder)
    config = folder / "pygeoapi-config.yml"
    openapi = folder / "pygeoapi-openapi.yml"
    base = f"http://127.0.0.1:{port}"
    if resources is None:
        resources = {layer_id: geojson_resource(layer_path, title, tiles_dir=tiles_dir, max_zoom=max_zoom)}
    contact = {key: "bench" for key in ("name", "position", "address", "city", "stateorprovince", "country")}
    doc = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": base,
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "cors": cors, "pretty_print": False, "gzip": False,
                   "limits": {"default_items": 10, "max_items": 10000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OpenStreetMap"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "benchmark peer", "keywords": ["bench"],
                               "url": base, "terms_of_service": "https://creativecommons.org/licenses/by/4.0/"},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": base},
            "contact": {**contact, "postalcode": "0", "phone": "0", "fax": "0", "email": "bench@example.org",
                        "url": base, "hours": "always", "instructions": "none", "role": "pointOfContact"}},
        "resources": resources,
    }
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    cli = "import sys; from pygeoapi import cli; sys.exit(cli())"
    cmd = [sys.executable, "-c", cli, "openapi", "generate", str(config), "--output-file", str(openapi)]
    done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise ServerFailed(f"pygeoapi openapi generate failed:\n{(done.stdout + done.stderr)[-2000:]}")
    return env
