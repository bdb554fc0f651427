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

__all__ = ["ENV_PREFIX", "SETTINGS", "Setting", "load_settings", "parse_bool", "parse_list"]

ENV_PREFIX = "MAPSVC_"


def parse_list(text: str) -> tuple[str, ...]:
    """Split a folder list on ``os.pathsep`` (``:`` on Linux) or commas; drop blanks."""
    parts = text.replace(",", os.pathsep).split(os.pathsep)
    return tuple(p.strip() for p in parts if p.strip())


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


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError(f"{text!r} must be >= 0")
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
    Setting("DATABASE_URL", "", "Which store holds user layers: empty for the embedded SQLite store in DATA_DIR, "
            "sqlite:///DIR (relative) or sqlite:////DIR (absolute) for one elsewhere; postgresql://... is "
            "reserved for the PostGIS store (issue 17).", str),
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
    Setting("MAP_CACHE_SIZE", 64, "How many rendered maps (per layers, basemap, feature) to keep in memory.",
            _positive_int),
    Setting("POPUP_EMBED_MAX", 50, "Layers with more features than this fetch each popup from /popup/<layer>/<fid> "
            "when it opens instead of embedding all of them in the page (a popup is about 3 KB; "
            "self-contained exports always embed).", _positive_int),
    Setting("DISPLAY_SIMPLIFY_MIN_VERTICES", 5000, "Layers with more vertices than this are drawn on served maps "
            "from display geometry simplified per zoom band (half a pixel, quantised), and the map fetches a finer "
            "band from /api/layers/<id>/display as it zooms in; smaller layers and self-contained exports embed "
            "full geometry. Statistics always use the full geometry.", _positive_int),
    Setting("API_CACHE_MB", 64, "Memory budget in megabytes for serialised filtered or paged GeoJSON responses "
            "kept for repeat requests (least recently used dropped first; 0 disables).", _non_negative_float),
    Setting("CACHE_MAX_AGE", 300, "Cache-Control max-age in seconds for API and page responses.", _positive_int),
    Setting("GZIP_MIN_BYTES", 1024, "Responses at least this large are gzip-compressed when the client accepts "
            "gzip (0 disables compression).", _positive_int),
    Setting("EXPORT_WIDTH_PX", 1600, "Default width in pixels of PNG/SVG static map exports.", _positive_int),
    Setting("EXPORT_HEIGHT_PX", 1000, "Default height in pixels of PNG/SVG static map exports.", _positive_int),
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
    return config
