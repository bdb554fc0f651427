"""The raw inputs of the extended region (issue 11): named places and layer files.

``data/raw/region_places.toml`` holds every named place once (``[place.<key>]``,
placed from the GeoNames gazetteer with a cited expectation, or by explicit
cited coordinates, exactly like a waypoint of ``waypoints.toml``). The layer
files (``instc.toml``, ``border_crossings.toml`` …, see :data:`LAYER_FILES`)
refer to places by key: a route's ``waypoints`` is a list of keys (or inline
tables ``{place = key, detour_ok = "why"}``), a point's ``place`` one key.

This module reads and resolves them and turns a region route into the
``[[route]]`` form of ``waypoints.toml`` (:func:`as_waypoint_route`), so the
existing importer can build it; :mod:`layers.importers.region_check` checks
them. Coordinates are WGS84 lon/lat degrees.
"""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from layers.errors import ImportFailed
from layers.importers.geonames_extract import EXTENDED_BBOX
from layers.importers.waypoints import place_position

__all__ = [
    "GAZETTEER",
    "LAYER_FILES",
    "PLACES",
    "RAW_DIR",
    "Place",
    "as_waypoint_route",
    "load_places",
    "read_layer_file",
    "route_lonlat",
    "waypoint_keys",
]

RAW_DIR = Path(__file__).resolve().parents[2] / "data" / "raw"
PLACES = RAW_DIR / "region_places.toml"
GAZETTEER = RAW_DIR / "geonames_cities1000_extended.csv"
# layer id -> file in data/raw/ (one file per new layer)
LAYER_FILES = {
    "instc": "instc.toml",
    "trans_afghan_railway": "trans_afghan_railway.toml",
    "russia_pakistan_links": "russia_pakistan_links.toml",
    "border_crossings": "border_crossings.toml",
    "motorways": "motorways.toml",
    "carec_corridors": "carec_corridors.toml",
    "thar_coal_blocks": "thar_coal_blocks.toml",
    "central_asia_china_pipeline": "central_asia_china_pipeline.toml",
}
ROLES = ("documented", "routing")
POSITIONS = ("town", "facility", "approximate")


@dataclass(frozen=True)
class Place:
    """One resolved place: position in degrees and how it was obtained."""

    key: str
    name: str
    lon: float
    lat: float
    origin: str  # "gazetteer" or "explicit"
    role: str = "documented"
    position: str = "town"
    country: str | None = None  # ISO 3166-1 alpha-2, None at sea
    spec: dict = field(default_factory=dict, compare=False, repr=False)


def _read(path):
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ImportFailed(str(path), f"cannot read TOML: {exc}") from exc


def load_places(gaz, path=PLACES):
    """Resolve every ``[place.<key>]`` of ``path``; return ``{key: Place}``.

    Gazetteer places are resolved in ``gaz`` within their country (and
    admin1) and checked against ``expect``; explicit ones must lie inside
    :data:`~layers.importers.geonames_extract.EXTENDED_BBOX`. The first
    problem raises :class:`ImportFailed` naming the place.
    """
    doc = _read(path)
    specs = doc.get("place")
    if not isinstance(specs, dict) or not specs:
        raise ImportFailed(str(path), "no [place.<key>] tables")
    lon0, lat0, lon1, lat1 = EXTENDED_BBOX
    places = {}
    for key, spec in specs.items():
        what = f"{Path(path).name}: place {key!r}"
        if not isinstance(spec.get("name"), str) or not spec["name"].strip():
            raise ImportFailed(what, "needs a name")
        role = spec.get("role", "documented")
        position = spec.get("position", "town" if "expect" in spec else "facility")
        if role not in ROLES or position not in POSITIONS:
            raise ImportFailed(what, f"role must be one of {ROLES}, position one of {POSITIONS}")
        if position == "approximate" and not spec.get("position_note"):
            raise ImportFailed(what, "an approximate position needs a position_note saying how far and why")
        lon, lat, origin = place_position(spec, gaz, what)
        if not (lon0 <= lon <= lon1 and lat0 <= lat <= lat1):
            raise ImportFailed(what, f"{lat:.4f}N {lon:.4f}E is outside the extended region {EXTENDED_BBOX}")
        places[key] = Place(key, spec["name"], float(lon), float(lat), origin, role, position,
                            spec.get("country"), dict(spec))
    return places


def read_layer_file(path):
    """The parsed TOML of one region layer file, with its ``[layer]`` table checked."""
    doc = _read(path)
    layer = doc.get("layer")
    if not isinstance(layer, dict) or not isinstance(layer.get("id"), str):
        raise ImportFailed(str(path), "needs a [layer] table with an id")
    return doc


def waypoint_keys(route):
    """The place keys of a route's ``waypoints`` (strings or ``{place = key}`` tables)."""
    keys = []
    for wp in route.get("waypoints") or []:
        keys.append(wp if isinstance(wp, str) else wp.get("place") if isinstance(wp, dict) else None)
    return keys


def route_lonlat(route, places):
    """(lon array, lat array) of a route's waypoints, in order (degrees)."""
    keys = waypoint_keys(route)
    missing = [k for k in keys if k not in places]
    if missing:
        raise ImportFailed(f"route {route.get('id')!r}", f"unknown places {missing}")
    return (np.array([places[k].lon for k in keys]), np.array([places[k].lat for k in keys]))


_ROUTE_KEYS = ("id", "name", "kind", "mode", "status", "countries", "reported_length_km", "length_note",
               "operator", "description", "start_year", "sources")


def as_waypoint_route(route, places, *, layer):
    """A region route as a ``waypoints.toml`` ``[[route]]`` dict with inline waypoint specs.

    The dated facts (``as_of``, ``status_history``, ``facts``) and the region
    extras are carried over unchanged for the phase-2 importer.
    """
    out = {k: route[k] for k in _ROUTE_KEYS if k in route}
    out.update({k: v for k, v in route.items() if k not in _ROUTE_KEYS and k not in ("waypoints",)})
    out["layer"] = layer
    wps = []
    for wp in route.get("waypoints") or []:
        key = wp if isinstance(wp, str) else wp["place"]
        spec = {k: v for k, v in places[key].spec.items() if k not in ("role", "position", "position_note")}
        if isinstance(wp, dict) and wp.get("detour_ok"):
            spec["detour_ok"] = wp["detour_ok"]
        wps.append(spec)
    out["waypoints"] = wps
    return out
