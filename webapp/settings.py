"""The declared settings of the map service: name, default, help.

``create_app`` takes the defaults from :data:`SETTINGS`, then environment
variables named ``MAPSVC_<NAME>``, then the dict a caller (a test, the CLI)
passes. The README documents every name here; ``tests/test_settings.py``
checks that it does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from layers.errors import BadParameter

__all__ = ["ENV_PREFIX", "SETTINGS", "Setting", "load_settings", "parse_bool", "parse_list", "parse_names"]

ENV_PREFIX = "MAPSVC_"


def parse_list(text: str) -> tuple[str, ...]:
    """Split a folder list on ``os.pathsep`` (``:`` on Linux) or commas; drop blanks."""
    parts = text.replace(",", os.pathsep).split(os.pathsep)
    return tuple(p.strip() for p in parts if p.strip())


def parse_names(text: str) -> tuple[str, ...]:
    """Split a list of names (hosts, ...) on commas or spaces; drop blanks."""
    return tuple(p for p in text.replace(",", " ").split() if p)


def parse_bool(text: str) -> bool:
    """``1/true/yes/on`` -> True, ``0/false/no/off`` -> False."""
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{text!r} is not a boolean (use true or false)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{text!r} must be >= 0")
    return value


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{text!r} must be >= 1")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError(f"{text!r} must be >= 0")
    return value


def _engine(text: str) -> str:
    value = text.strip().lower()
    if value not in {"local", "dask"}:
        raise ValueError(f"{text!r} is not an analytics engine (use local or dask)")
    return value


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default value, help text and how to parse it from text."""

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


SETTINGS: tuple[Setting, ...] = (
    Setting("LAYERS_DIRS", (), "Extra folders of layers (the project's GeoJSON, or plain GeoJSON, GeoPackage, "
            "Shapefile, KML/KMZ, FlatGeobuf, GeoParquet, CSV), loaded at start-up beside the built-in data/layers/; "
            "a bad file is skipped and listed on /status (environment: separated by ':' or ',').", parse_list),
    Setting("DATA_DIR", "", "Directory of the embedded store (store.sqlite: user layers and their versions, "
            "accounts, token hashes, audit log), upload staging and the generated secret key; empty: Flask's "
            "instance folder (instance/ beside webapp/). Created on first start.", str),
    Setting("DATABASE_URL", "", "Which store holds user layers, versions, accounts, tokens and the audit log: "
            "empty for the embedded SQLite store in DATA_DIR, sqlite:///DIR (relative) or sqlite:////DIR "
            "(absolute) for one elsewhere, postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (libpq URL; "
            "?host=/socket/dir for a unix socket) for the PostGIS store: its schema 'mapsvc' and a copy of the "
            "built-in layers are created on first start; every instance on one database serves the same layers.",
            str),
    Setting("SECRET_KEY", "", "Key that signs session cookies and CSRF tokens; empty: a random key generated "
            "once and kept in DATA_DIR/secret_key (mode 0600). Set the same value on every instance behind "
            "one load balancer.", str),
    Setting("SIGNUP_OPEN", False, "Whether anyone may create an account at /account/signup; otherwise accounts "
            "are made by the operator (python -m webapp user add NAME).", parse_bool),
    Setting("IMPORT_MAX_MB", 100, "Largest upload accepted by POST /api/imports, in megabytes (the global "
            "request body limit stays small; only this endpoint is raised to it); larger bodies get 413. "
            "Archives (zip, KMZ) and Parquet may unpack to at most five times this.", _non_negative_float),
    Setting("IMPORT_MAX_VERTICES", 1_000_000, "Most vertices (and features) one imported layer may hold; "
            "more is refused with 422 naming the count.", _positive_int),
    Setting("IMPORT_TIME_BUDGET_S", 60, "Seconds a child process may spend reading one uploaded file before "
            "it is killed and the import refused (422).", _non_negative_float),
    Setting("IMPORT_MEMORY_MB", 4096, "Address-space cap in megabytes of the child process that reads one "
            "uploaded or folder file (0: no cap).", _positive_int),
    Setting("LAYERS_DIR_MAX_MB", 1024, "Largest file read from a layers folder, in megabytes; larger files "
            "are skipped and listed on /status.", _non_negative_float),
    Setting("LAYERS_DIR_MAX_VERTICES", 20_000_000, "Most vertices one layer-folder file may hold; more is "
            "skipped and listed on /status.", _positive_int),
    Setting("LAYER_FILE_TIME_BUDGET_S", 300, "Seconds one layer-folder file may take to read at start-up "
            "before it is skipped (listed on /status).", _non_negative_float),
    Setting("WARM_UP_MAX_VERTICES", 50_000, "Layers of at most this many vertices (every built-in one, the "
            "whole GEM pipeline file) get their statistics computed and the overview rendered before the port "
            "opens; larger layers in a background thread after it opens, so start-up with a 5-million-vertex "
            "layer stays short. 0 turns warm-up off.", _positive_int),
    Setting("DEFAULT_BASEMAP", "osm", "Basemap when a page has no ?basemap=: 'osm', 'topo', 'hot' "
            "(tiles, need network) or 'none' (the offline vector basemap only)."),
    Setting("TILES_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "URL template of the 'osm' tile layer; point it at a local tile server to keep tiles offline."),
    Setting("TILES_ATTRIBUTION", '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
            "contributors", "Attribution HTML of the 'osm' tile layer (trusted: it comes from the operator)."),
    Setting("BASEMAP_SIMPLIFY_DEG", 0.01, "Largest simplification tolerance in degrees for the country borders "
            "of the vector basemap: they are simplified as one coverage (shared borders stay shared) at the "
            "coarsest zoom band of geo.simplify within it; 0 keeps full detail. Display only: measurement always "
            "uses the full geometry.", _non_negative_float),
    Setting("MAP_CACHE_MB", 64, "Memory budget in megabytes for rendered maps (per layers, basemap, feature, and "
            "per corridor/route query) kept for repeat visits, per server process (least recently used dropped "
            "first; 0 keeps none).", _non_negative_float),
    Setting("RESULT_CACHE_MB", 64, "Memory budget in megabytes for serialised corridor, route, overlap and nearest "
            "results kept for repeat requests, per server process (0 keeps none).", _non_negative_float),
    Setting("GZIP_CACHE_MB", 16, "Memory budget in megabytes for gzip-compressed response bodies kept so that a "
            "repeated large answer is compressed once (0 keeps none).", _non_negative_float),
    Setting("POPUP_EMBED_MAX", 50, "Layers with more features than this fetch each popup from /popup/<layer>/<fid> "
            "when it opens instead of embedding all of them in the page (a popup is about 3 KB; "
            "self-contained exports always embed).", _positive_int),
    Setting("DISPLAY_SIMPLIFY_MIN_VERTICES", 5000, "Layers with more vertices than this are drawn on served maps "
            "from display geometry simplified per zoom band (drawn within half a pixel, rounding included), and the "
            "map fetches a finer band from /api/layers/<id>/display as it zooms in; smaller layers and "
            "self-contained exports embed full geometry. Statistics always use the full geometry.", _positive_int),
    Setting("API_CACHE_MB", 64, "Memory budget in megabytes for serialised filtered or paged GeoJSON responses "
            "kept for repeat requests (least recently used dropped first; 0 disables).", _non_negative_float),
    Setting("PAGE_CACHE_MB", 32, "Memory budget in megabytes for whole rendered HTML pages (maps, embeds) kept per "
            "host, full URL, signed-in user and visible layer versions with their ETag, so a repeat or a "
            "revalidation (304) renders nothing (0 disables).", _non_negative_float),
    Setting("CACHE_MAX_AGE", 300, "Cache-Control max-age in seconds for API and page responses.", _positive_int),
    Setting("GZIP_MIN_BYTES", 1024, "Responses at least this large are gzip-compressed when the client accepts "
            "gzip (0 disables compression).", _positive_int),
    Setting("CORS_ORIGINS", "*", "Origins whose pages may read the read-only endpoints (GET/HEAD) with "
            "fetch/XHR: '*' (default: the data is public) or origins separated by commas, e.g. "
            "'https://observablehq.com,http://localhost:8888'; empty for none. Routes that write never get CORS."),
    Setting("TILE_CACHE_MB", 64, "Memory budget in megabytes for encoded vector tiles (MVT) kept for repeat "
            "requests (least recently used dropped first; 0 disables).", _non_negative_float),
    Setting("TILED_MIN_FEATURES", 5000, "Layers with more features than this are drawn on served maps from the "
            "vector tiles of /ogcapi/collections/<id>/tiles (only the tiles in view are fetched) instead of "
            "embedded GeoJSON; self-contained exports always embed.", _positive_int),
    Setting("TILE_DISPLAY_MAX_FEATURES", 100_000, "Layers of at most this many features are tiled from their "
            "display geometry (simplified for the whole layer per zoom band, as the web map's GeoJSON: junctions "
            "kept, no new crossings); bigger layers are drawn tile by tile from their full geometry, snapped to "
            "the tile grid (their whole-layer simplification grows faster than the layer: over 2 minutes at "
            "1,000,000 lines).", _positive_int),
    Setting("EXPORT_WIDTH_PX", 1600, "Default width in pixels of PNG/SVG figures asked for without paper= "
            "(at dpi=, default 150).", _positive_int),
    Setting("EXPORT_HEIGHT_PX", 1000, "Default height in pixels of PNG/SVG figures asked for without paper=.",
            _positive_int),
    Setting("EXPORT_MAX_PIXELS", 70_000_000, "Largest PNG figure, in pixels (width x height), drawn for one "
            "request or CLI export; a larger one is refused with a 400 naming the limit before anything is drawn. "
            "The default admits A3 at 600 dpi (69.6 million); each million pixels costs about 4 MB while drawing.",
            _positive_int),
    Setting("ANALYTICS_ENGINE", "local", "What computes a layer's per-feature statistics and a corridor's members: "
            "'local' (this process) or 'dask' (dask-geopandas partitions on a dask.distributed cluster: "
            "DASK_SCHEDULER, else a LocalCluster of DASK_WORKERS processes started on first use). Both give the "
            "same figures.", _engine),
    Setting("DASK_SCHEDULER", "", "With ANALYTICS_ENGINE=dask: address of a running scheduler "
            "(tcp://host:8786), shared by every server process; its workers must import this project "
            "(start them with PYTHONPATH set to it). Empty: each server process starts its own LocalCluster."),
    Setting("DASK_WORKERS", 2, "With ANALYTICS_ENGINE=dask and no DASK_SCHEDULER: worker processes (one thread "
            "each) of the LocalCluster.", _at_least_one),
    Setting("DASK_MIN_FEATURES", 20_000, "With ANALYTICS_ENGINE=dask: layers of fewer features are measured in the "
            "server process (shipping them to a worker costs more than measuring them).", _positive_int),
    Setting("HEAVY_CONCURRENCY", 1, "Expensive computations (a corridor, route, overlap or nearest result, a map's "
            "first rendering, an export, a layer's first statistics) run at most this many at once per server "
            "process (gunicorn: per worker; 2 workers x 1 fill 2 cores).", _at_least_one),
    Setting("HEAVY_QUEUE", 2, "How many more expensive requests may wait for a slot per process; beyond that the "
            "answer is 503 with Retry-After at once. Keep HEAVY_CONCURRENCY + HEAVY_QUEUE well below the threads "
            "per process, so threads stay free for cheap requests.", _positive_int),
    Setting("HEAVY_QUEUE_TIMEOUT_S", 10.0, "Seconds an expensive request waits for a slot before it is answered "
            "503 with Retry-After.", _non_negative_float),
    Setting("HEAVY_TIME_BUDGET_S", 60.0, "Seconds an expensive computation may run; checked between its steps "
            "(per layer searched), it is then stopped and answered 503. 0: no budget.", _non_negative_float),
    Setting("RETRY_AFTER_S", 5, "The Retry-After (seconds) of 503 (busy, over budget) answers.", _at_least_one),
    Setting("PAGE_MAX_FEATURES", 5000, "Corridor pages, embeds and HTML exports draw at most this many found "
            "features; a larger result is a 400 naming width_km/with (the JSON API and GeoJSON/CSV downloads "
            "still give it whole).", _at_least_one),
    Setting("INLINE_MAX_KB", 2048, "A layer whose display data at the map's opening zoom is larger than this "
            "(kB) is not written into the page: the map fetches it from /api/layers/<id>/display when the layer "
            "is shown, and the overview starts with it switched off. Self-contained exports always embed.",
            _positive_int),
    Setting("RATELIMIT_EXPENSIVE", "30 per minute;300 per hour", "Per-client limit on expensive requests that "
            "really compute (corridors, routes, overlaps, nearest, map pages of chosen layers, exports; answers "
            "from cache do not count), in flask-limiter's notation; past it: 429 with Retry-After."),
    Setting("RATELIMIT_STORAGE_URI", "memory://", "Where rate-limit counters live: memory:// (per server process) "
            "or a shared store such as redis://host:6379 or memcached://host:11211 (needs its client library)."),
    Setting("RATELIMIT_ENABLED", True, "Switch the per-client rate limits off (false) or on.", parse_bool),
    Setting("MAX_BODY_MB", 1.0, "Largest request body accepted (MB); a larger Content-Length is a 413 before any "
            "view runs. Upload endpoints raise it for themselves (webapp.limits.allow_large_body).",
            _non_negative_float),
    Setting("PUBLIC_BASE_URL", "", "The site's public URL (https://maps.example.org, or with a path prefix); when "
            "set every absolute URL (embed snippets, API links) starts with it and the request's Host is never used. "
            "Empty: absolute URLs use the request host, which must be in ALLOWED_HOSTS."),
    Setting("ALLOWED_HOSTS", ("localhost", "127.0.0.1", "::1"), "Host names the service answers to (environment: "
            "comma-separated); '.example.org' allows it and its subdomains, '*' any host (only sensible with "
            "PUBLIC_BASE_URL). Other hosts get 400. The host of PUBLIC_BASE_URL is always allowed.", parse_names),
    Setting("PROXY_COUNT", 0, "Reverse proxies in front of the app (nginx: 1) whose X-Forwarded-For/Proto/Host/Port "
            "headers are trusted (client address for rate limits, scheme and host for links); 0 trusts none. Set it "
            "only when the app is reachable through the proxy alone.", _positive_int),
)


def load_settings(overrides: dict | None = None, *, environ: dict | None = None) -> dict:
    """Return the settings dict: declared defaults, then ``MAPSVC_*`` variables, then ``overrides``.

    ``overrides`` may hold any Flask config key too (``TESTING`` ...); those pass
    through untouched. A malformed environment value raises
    :class:`~layers.errors.BadParameter` naming the variable.
    """
    environ = os.environ if environ is None else environ
    config = {s.name: s.default for s in SETTINGS}
    for setting in SETTINGS:
        key = ENV_PREFIX + setting.name
        if key in environ:
            try:
                config[setting.name] = setting.parse(environ[key])
            except ValueError as exc:
                raise BadParameter(key, str(exc)) from None
    config.update(overrides or {})
    dirs = config["LAYERS_DIRS"]
    config["LAYERS_DIRS"] = parse_list(dirs) if isinstance(dirs, str) else tuple(str(d) for d in dirs)
    hosts = config["ALLOWED_HOSTS"]
    config["ALLOWED_HOSTS"] = parse_names(hosts) if isinstance(hosts, str) else tuple(hosts)
    return config
