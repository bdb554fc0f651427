"""Schematic routes and point features from hand-kept TOML, as GeoJSON Feature dicts.

``data/raw/waypoints.toml`` holds one ``[[route]]`` per line feature, each a
chain of named waypoints; ``data/raw/points.toml`` one ``[[point]]`` per
point feature. A waypoint or point is placed by exactly one of:

- the GeoNames gazetteer (``name``/``gazetteer_name`` + ``country`` ISO2,
  optional ``admin1``/``admin2``) checked against a cited ``expect =
  {lat, lon, max_km, source}``;
- explicit ``lat``/``lon`` (WGS84 degrees) with a cited ``source``;
- for points only, ``ne_port`` (Natural Earth ports) or ``gem_project``
  (Global Energy Monitor), through lookup callables the build step passes in.

Lines are densified along the WGS84 geodesic (``max_segment_km``, km), so a
schematic leg draws as the shortest path; coordinates are rounded to 6
decimals. Output order is file order. Every problem raises
:class:`ImportFailed` naming the route or point and the waypoint.
"""

import re
import tomllib
from pathlib import Path

import numpy as np

from geo.geodesic import densify_lonlat, distance_km
from layers.errors import ImportFailed
from layers.importers.gazetteer import GEONAMES_SOURCE, resolve_place
from layers.schema import KINDS, STATUSES
from layers.sources import derive_licence

__all__ = [
    "DETOUR_MAX",
    "MODES",
    "ROUTE_KINDS",
    "build_points",
    "build_routes",
    "detour_problems",
    "place_position",
    "read_toml",
    "resolve_waypoints",
    "route_feature",
]

DETOUR_MAX = 3.0  # (d(prev, here) + d(here, next)) / d(prev, next) above this is an implausible detour
ROUTE_KINDS = ("road", "rail", "power_line")
MODES = ("road", "rail", "power")
NE_PORTS_SOURCE = {"title": "Natural Earth 1:10m ports (public domain)",
                   "url": "https://www.naturalearthdata.com/downloads/10m-cultural-vectors/ports/"}
_ID_RE = re.compile(r"^[a-z0-9_]{1,128}$")
_ISO3_RE = re.compile(r"^[A-Z]{3}$")
_EXTRAS = ("mode", "operator", "parent", "voltage_kv", "description", "start_year", "shares_route_with")
# Dated facts (README "Dated facts"), passed through and checked by the schema when the layer is read.
_DATED = ("as_of", "last_checked", "status_history", "facts", "reference_point")
DEFAULT_POSITION_KM = 1.0  # precision assumed for explicit coordinates that state none


def read_toml(path, table):
    """Return the list of ``[[table]]`` entries of a TOML file."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ImportFailed(str(path), f"cannot read TOML: {exc}") from exc
    entries = doc.get(table)
    if not isinstance(entries, list) or not entries:
        raise ImportFailed(str(path), f"no [[{table}]] entries")
    return entries


def _source_ok(source):
    return isinstance(source, dict) and isinstance(source.get("url"), str) and isinstance(source.get("title"), str)


def place_position(spec, gaz, what):
    """(lon, lat, origin) of one waypoint/point spec; origin is 'gazetteer' or 'explicit'.

    Raises :class:`ImportFailed` naming ``what`` when the spec is incomplete,
    the gazetteer has no single match, or the match is farther than
    ``expect.max_km`` from its cited expectation.
    """
    if "lat" in spec or "lon" in spec:
        if "expect" in spec:
            raise ImportFailed(what, "give explicit lat/lon or a gazetteer expect, not both")
        if not _source_ok(spec.get("source")):
            raise ImportFailed(what, "explicit lat/lon need source = {title, url}")
        try:
            lon, lat = float(spec["lon"]), float(spec["lat"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ImportFailed(what, "explicit coordinates need numeric lat and lon") from exc
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ImportFailed(what, f"coordinates out of range: lat {lat}, lon {lon}")
        return lon, lat, "explicit"
    if "country" not in spec:
        raise ImportFailed(what, "needs country (ISO2) to resolve from the gazetteer, or explicit lat/lon")
    expect = spec.get("expect")
    if expect is None or not _source_ok(expect.get("source")):
        raise ImportFailed(what, "a gazetteer place needs expect = {lat, lon, max_km, source = {title, url}}")
    try:
        lon, lat = resolve_place(gaz, spec.get("gazetteer_name", spec["name"]), country=spec["country"],
                                 admin1=spec.get("admin1"), admin2=spec.get("admin2"), expect=expect)
    except ImportFailed as exc:
        raise ImportFailed(what, str(exc)) from exc
    return lon, lat, "gazetteer"


def resolve_waypoints(route, gaz):
    """Resolve a route's waypoints; returns (lon array, lat array, origins list)."""
    rid = route.get("id", "?")
    points = route.get("waypoints")
    if not isinstance(points, list) or len(points) < 2:
        raise ImportFailed(f"route {rid!r}", "needs at least two waypoints")
    lon, lat, origins = [], [], []
    for i, wp in enumerate(points):
        what = f"route {rid!r} waypoint {i} {wp.get('name', '?')!r}"
        if not isinstance(wp.get("name"), str):
            raise ImportFailed(what, "waypoint needs a name")
        x, y, origin = place_position(wp, gaz, what)
        lon.append(x)
        lat.append(y)
        origins.append(origin)
    return np.asarray(lon), np.asarray(lat), origins


def detour_problems(lon, lat, names, *, threshold=DETOUR_MAX, allowed=()):
    """Interior waypoints whose detour ratio exceeds ``threshold``.

    The ratio is (d(prev, here) + d(here, next)) / d(prev, next), geodesic
    km; a repeated point (d(prev, next) = 0) counts as infinite. Returns
    ``[(index, name, ratio), ...]`` skipping indexes in ``allowed``.
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if lon.size < 3:
        return []
    leg = distance_km(lon[:-1], lat[:-1], lon[1:], lat[1:])
    chord = distance_km(lon[:-2], lat[:-2], lon[2:], lat[2:])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(chord > 0, (leg[:-1] + leg[1:]) / chord, np.inf)
    return [(i + 1, names[i + 1], float(r)) for i, r in enumerate(ratio)
            if r > threshold and (i + 1) not in allowed]


def _common_properties(entry, what, *, kinds):
    """Validate the shared fields of a route or point; return the base property dict."""
    fid = entry.get("id")
    if not isinstance(fid, str) or not _ID_RE.match(fid):
        raise ImportFailed(what, f"id {fid!r} must be snake_case ([a-z0-9_])")
    for key in ("layer", "name"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ImportFailed(what, f"needs a non-empty {key}")
    if entry.get("kind") not in kinds:
        raise ImportFailed(what, f"kind {entry.get('kind')!r} is not one of {', '.join(kinds)}")
    if entry.get("status") not in STATUSES:
        raise ImportFailed(what, f"status {entry.get('status')!r} is not one of {', '.join(STATUSES)}")
    countries = entry.get("countries")
    if not isinstance(countries, list) or not countries or not all(
            isinstance(c, str) and _ISO3_RE.match(c) for c in countries):
        raise ImportFailed(what, f"countries {countries!r} must be a list of ISO 3166-1 alpha-3 codes")
    sources = entry.get("sources")
    if not isinstance(sources, list) or not sources or not all(_source_ok(s) for s in sources):
        raise ImportFailed(what, "sources must be a non-empty list of {title, url}")
    capacity = entry.get("capacity")
    if capacity is not None and (not isinstance(capacity, (int, float)) or "capacity_unit" not in entry):
        raise ImportFailed(what, "capacity must be a number and come with capacity_unit")
    props = {
        "id": fid,
        "name": entry["name"],
        "kind": entry["kind"],
        "status": entry["status"],
        "countries": list(countries),
        "reported_length_km": entry.get("reported_length_km"),
        "length_note": entry.get("length_note"),
        "capacity": capacity,
        "capacity_unit": entry.get("capacity_unit") if capacity is not None else None,
        "geometry_quality": None,
        "sources": [dict(s) for s in sources],
        "licence": None,
    }
    for key in _EXTRAS + _DATED:
        if entry.get(key) is not None:
            props[key] = entry[key]
    return props


def _add_sources(props, extra):
    seen = {s["url"] for s in props["sources"]}
    for s in extra:
        if s["url"] not in seen:
            props["sources"].append({"title": s["title"], "url": s["url"]})
            seen.add(s["url"])


def _reference_from(spec, lon, lat):
    """The cited position a point was placed by, as a ``reference_point`` (gazetteer expect or explicit source)."""
    if "expect" in spec:
        e = spec["expect"]
        return {"lat": float(e["lat"]), "lon": float(e["lon"]), "max_km": float(e["max_km"]),
                "source": dict(e["source"])}
    if "source" in spec:
        return {"lat": round(lat, 6), "lon": round(lon, 6),
                "max_km": float(spec.get("position_km", DEFAULT_POSITION_KM)), "source": dict(spec["source"])}
    return None


def _append(out, layer, props, geometry, what):
    features = out.setdefault(layer, [])
    if any(f["properties"]["id"] == props["id"] for f in features):
        raise ImportFailed(what, f"duplicate id {props['id']!r} in layer {layer!r}")
    features.append({"type": "Feature", "properties": props, "geometry": geometry})


def route_feature(route, gaz, what, *, max_segment_km=10.0, kinds=ROUTE_KINDS, modes=MODES):
    """(properties, LineString geometry dict) of one ``[[route]]`` entry.

    Waypoints resolve through the gazetteer ``gaz`` or explicit
    coordinates; an interior waypoint with a detour ratio above
    :data:`DETOUR_MAX` fails unless it carries a ``detour_ok`` reason. The
    line is densified along the geodesic so no segment exceeds
    ``max_segment_km`` km; coordinates are lon/lat degrees, 6 decimals.
    ``kinds`` and ``modes`` widen what is accepted (the region's sea lanes).
    """
    props = _common_properties(route, what, kinds=kinds)
    if route.get("mode") not in modes:
        raise ImportFailed(what, f"mode {route.get('mode')!r} is not one of {', '.join(modes)}")
    length = props["reported_length_km"]
    if length is not None and (not isinstance(length, (int, float)) or length <= 0):
        raise ImportFailed(what, f"reported_length_km {length!r} must be a positive number or omitted")
    lon, lat, origins = resolve_waypoints(route, gaz)
    names = [wp["name"] for wp in route["waypoints"]]
    allowed = {i for i, wp in enumerate(route["waypoints"]) if wp.get("detour_ok")}
    bad = detour_problems(lon, lat, names, allowed=allowed)
    if bad:
        detail = "; ".join(f"waypoint {i} {name!r} ratio {r:.2f}" for i, name, r in bad)
        raise ImportFailed(what, f"implausible detour (> {DETOUR_MAX:g}x the direct leg): {detail}; "
                                 "fix the chain or give the waypoint detour_ok = \"reason\"")
    dlon, dlat = densify_lonlat(lon, lat, max_segment_km=max_segment_km)
    coords = [[round(float(x), 6), round(float(y), 6)] for x, y in zip(dlon, dlat)]
    explicit = [wp["source"] for wp, o in zip(route["waypoints"], origins) if o == "explicit"]
    props["geometry_quality"] = "schematic"
    _add_sources(props, explicit)
    if "gazetteer" in origins:
        _add_sources(props, [GEONAMES_SOURCE])
    props["licence"] = derive_licence(props)
    return props, {"type": "LineString", "coordinates": coords}


def build_routes(toml_path, gaz, *, max_segment_km=10.0):
    """Read ``[[route]]`` entries and return ``{layer id: [LineString Feature dict, ...]}``.

    Each entry is built by :func:`route_feature` (schematic, densified on the geodesic).
    """
    out = {}
    for n, route in enumerate(read_toml(toml_path, "route")):
        what = f"{toml_path}: route {route.get('id', n)!r}"
        props, geometry = route_feature(route, gaz, what, max_segment_km=max_segment_km)
        _append(out, route["layer"], props, geometry, what)
    return out


def _point_location(point, gaz, ne_port_lookup, gem_lookup, what):
    """(lon, lat, origin, gem record or None) of one ``[[point]]``."""
    ways = [k for k in ("ne_port", "gem_project") if k in point]
    ways += ["coords"] if ("lat" in point or "lon" in point) else []
    ways += ["gazetteer"] if "expect" in point else []
    if len(ways) != 1:
        raise ImportFailed(what, "give exactly one of: lat/lon + source, ne_port, gem_project, "
                                 f"or gazetteer country + expect (got {ways or 'none'})")
    way = ways[0]
    if way == "ne_port":
        lon, lat = ne_port_lookup(point["ne_port"])
        return float(lon), float(lat), "ne_port", None
    if way == "gem_project":
        rec = gem_lookup(point["gem_project"])
        return float(rec["lon"]), float(rec["lat"]), "gem", rec
    lon, lat, origin = place_position(point, gaz, what)
    return lon, lat, origin, None


def build_points(toml_path, gaz, *, ne_port_lookup, gem_lookup):
    """Read ``[[point]]`` entries and return ``{layer id: [Point Feature dict, ...]}``.

    ``ne_port_lookup(name) -> (lon, lat)`` and ``gem_lookup(project) ->
    dict(lon, lat, capacity, capacity_unit, status, url, owner)`` are passed
    in by the build step. For a GEM project the TOML's own ``capacity``,
    ``status`` and ``operator`` win when given (they are cited); otherwise
    GEM's are used. Coordinates are lon/lat degrees, 6 decimals.
    """
    out = {}
    point_kinds = tuple(k for k in KINDS if k not in ROUTE_KINDS + ("gas_pipeline", "country"))
    for n, point in enumerate(read_toml(toml_path, "point")):
        what = f"{toml_path}: point {point.get('id', n)!r}"
        entry = dict(point)
        lon, lat, origin, rec = _point_location(point, gaz, ne_port_lookup, gem_lookup, what)
        if rec is not None:
            entry.setdefault("status", rec.get("status"))
            if entry.get("capacity") is None and rec.get("capacity") is not None:
                entry["capacity"], entry["capacity_unit"] = rec["capacity"], rec.get("capacity_unit") or "MW"
            if rec.get("owner"):
                entry.setdefault("operator", rec["owner"])
            if rec.get("parent"):
                entry.setdefault("parent", rec["parent"])
        if rec is not None and entry.get("status_history") is None:
            gem_source = {"title": f"Global Energy Monitor, Asia Gas Tracker May 2024: {point['gem_project']}",
                          "url": rec["url"]}
            entry["status_history"] = [{"date": "2024-05", "status": entry["status"], "source": gem_source}]
            entry.setdefault("as_of", "2024-05")
        if entry.get("reference_point") is None:
            if rec is not None:
                entry["reference_point"] = {"lat": round(lat, 6), "lon": round(lon, 6), "max_km": DEFAULT_POSITION_KM,
                                            "source": {"title": f"Global Energy Monitor: {point['gem_project']}",
                                                       "url": rec["url"]}}
            else:
                entry["reference_point"] = _reference_from(point, lon, lat)
        props = _common_properties(entry, what, kinds=point_kinds)
        props["reported_length_km"] = None
        props["length_note"] = None
        props["geometry_quality"] = "point"
        if origin == "explicit":
            _add_sources(props, [point["source"]])
        elif origin == "gazetteer":
            _add_sources(props, [GEONAMES_SOURCE])
        elif origin == "gem":
            _add_sources(props, [{"title": f"Global Energy Monitor wiki: {point['gem_project']}",
                                  "url": rec["url"]}])
        elif origin == "ne_port":
            _add_sources(props, [NE_PORTS_SOURCE])
        props["licence"] = derive_licence(props)
        geometry = {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}
        _append(out, point["layer"], props, geometry, what)
    return out
