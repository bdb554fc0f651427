"""The feature property schema and layer metadata, and their validation.

Every layer is one RFC 7946 GeoJSON FeatureCollection (WGS84 lon/lat, no
``crs`` member) with a foreign member ``metadata`` holding the catalogue
entry. Validation names the file, the feature and the problem.
"""

import calendar
import datetime as dt
import math
import re
from typing import NamedTuple

import numpy as np
import shapely

from layers.errors import LayerInvalid

__all__ = [
    "REGION_BBOX",
    "FOCUS_BBOX",
    "KINDS",
    "CROSSING_STATUSES",
    "STATUSES",
    "GEOMETRY_QUALITIES",
    "PROPERTIES",
    "LAYER_ID_RE",
    "Problem",
    "feature_problems",
    "finite_only",
    "first_non_finite",
    "APPROXIMATE_SEGMENT_KM",
    "DATE_RE",
    "validate_metadata",
    "validate_features",
    "date_bounds",
    "status_in_year",
    "latest_status",
]

# lon_min, lat_min, lon_max, lat_max: Moscow and the Suez Canal to Xinjiang and the Arabian Sea (issue 11; the
# box of the extended gazetteer, layers.importers.geonames_extract.EXTENDED_BBOX)
REGION_BBOX = (31.0, 5.0, 90.0, 58.0)
# What the overview map opens on (its fit stays inside): Pakistan and the corridors of its neighbours, Asaluyeh
# to the Indian border and Gwadar to Datka, the view of the map before the region grew to Moscow
FOCUS_BBOX = (52.0, 24.0, 78.0, 41.0)

KINDS = (
    "gas_pipeline", "power_line", "road", "rail", "port", "power_plant",
    "lng_terminal", "substation", "converter_station", "steel_mill",
    "education", "coal_mine", "country", "sea_route", "coal_block",
    # transport interchanges (geo.network): where goods may change between road, rail and sea
    "dry_port", "station", "border_crossing",
    "other",  # user data whose kind is not recognisable (the original value is kept in source_kind)
)
# "unknown": user data that states no status we recognise (never invented as "operating")
STATUSES = ("operating", "construction", "proposed", "shelved", "cancelled", "mothballed", "retired", "unknown")
GEOMETRY_QUALITIES = ("traced", "approximate", "schematic", "point")
CROSSING_STATUSES = ("open", "restricted", "closed")  # traffic at a border crossing, beside its facility status
# A source route with a straight run longer than this (or given only by its two ends) is 'approximate', not 'traced'.
APPROXIMATE_SEGMENT_KM = 20.0
LAYER_ID_RE = re.compile(r"^[a-z0-9_]{1,64}$")
ISO3_RE = re.compile(r"^[A-Z]{3}$")
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")  # maps, legends and the static export all read #rrggbb

# name -> (required, description); the README's schema table is generated from this
PROPERTIES = {
    "id": (True, "stable id, unique in the layer ([A-Za-z0-9_.-])"),
    "name": (True, "display name"),
    "kind": (True, "one of: " + ", ".join(KINDS)),
    "status": (True, "one of: " + ", ".join(STATUSES) + " (null only for kind=country)"),
    "countries": (True, "ISO 3166-1 alpha-3 codes the feature lies in"),
    "reported_length_km": (True, "published length in km, or null"),
    "geometry_quality": (True, "traced | approximate | schematic | point"),
    "sources": (True, "list of {title, url}, at least one"),
    "licence": (True, "licence(s) of the geometry and attributes"),
    "capacity": (False, "number, with capacity_unit"),
    "capacity_unit": (False, "e.g. bcm/y, MMcf/d, MW"),
    "length_note": (False, "why the measured length differs from the reported one"),
    "as_of": (False, "date (YYYY[-MM[-DD]]) the feature's facts were last confirmed by a source; built-in: required"),
    "last_checked": (False, "date this project last compared the feature with its sources; built-in: required"),
    "status_history": (False, "[{date, status, source: {title, url}, note?}] sorted by date, last = status; "
                              "built-in: required"),
    "facts": (False, "time-varying figures: [{field, value, as_of, source: {title, url}, note?}]"),
    "reference_point": (False, "{lat, lon, max_km, source}: an independent, cited position the feature must lie "
                               "within max_km of (the audit checks it)"),
    "source_vertex_count": (False, "vertices of the source route before densifying (approximate geometry)"),
    "source_longest_segment_km": (False, "longest straight run of the source route, km (approximate geometry)"),
    "crossing_status": (False, "border crossings: traffic " + " | ".join(CROSSING_STATUSES) + ", the last entry of "
                               "crossing_history"),
    "crossing_history": (False, "[{date, status: open|restricted|closed, source, note?}] sorted by date"),
    "blocs": (False, "countries: {bloc: {status, history: [{date, status, source, note?}]}} (SCO, EAEU, CAREC)"),
    "passes_through": (False, "[{place, name, lon, lat, within_km, source}]: towns a cited source puts on the route, "
                              "and the distance the line stays within"),
    "overlaps": (False, "[{ref: layer:id, km}]: same-mode lines this one is drawn along (the shared km count "
                        "twice in a sum over both)"),
}
# no all-dot ids: browsers and HTTP clients normalise /popup/<layer>/.. away
FEATURE_ID_RE = re.compile(r"^(?!\.+$)[A-Za-z0-9_.\-]{1,128}$")
METADATA_REQUIRED = ("id", "title", "description", "attribution", "licence")
DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")  # ISO 8601 date, reduced precision allowed
REFERENCE_RE = re.compile(r"^[a-z0-9_]{1,64}:[A-Za-z0-9_.\-]{1,128}$")  # layer:feature


def validate_metadata(meta, file):
    """Check the ``metadata`` member of a layer file; return it."""
    if not isinstance(meta, dict):
        raise LayerInvalid(file, None, "missing 'metadata' object (id, title, description, attribution, licence)")
    for key in METADATA_REQUIRED:
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise LayerInvalid(file, None, f"metadata.{key} must be a non-empty string")
    if not LAYER_ID_RE.match(meta["id"]):
        raise LayerInvalid(file, None, f"metadata.id {meta['id']!r} must match {LAYER_ID_RE.pattern}")
    style = meta.get("style") or {}
    colour = style.get("color") if isinstance(style, dict) else None
    if not isinstance(style, dict) or not (colour is None or (isinstance(colour, str) and COLOUR_RE.match(colour))):
        raise LayerInvalid(file, None, f"metadata.style.color {colour!r} must be a colour like #e67e22")
    refs = meta.get("references", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) and REFERENCE_RE.match(r) for r in refs):
        raise LayerInvalid(file, None, "metadata.references must be a list of 'layer:feature' strings")
    return meta


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def first_non_finite(value):
    """The first NaN/Infinity number inside a nested JSON value (as text), or None; iterative, no recursion."""
    if isinstance(value, float):
        return None if math.isfinite(value) else repr(value)
    if not isinstance(value, (list, tuple, dict)):
        return None
    stack = [value]
    while stack:
        item = stack.pop()
        for v in (item.values() if isinstance(item, dict) else item):
            if isinstance(v, float):
                if not math.isfinite(v):
                    return repr(v)
            elif isinstance(v, (list, tuple, dict)):
                stack.append(v)
    return None


def finite_only(value, counter):
    """``value`` with NaN/Infinity numbers replaced by None (counted); untouched values are not copied."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        counter[0] += 1
        return None
    if isinstance(value, dict):
        if not any(isinstance(v, (float, list, dict)) for v in value.values()):
            return value
        return {k: finite_only(v, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_only(v, counter) for v in value]
    return value


def date_bounds(text):
    """First and last day of an ISO date of reduced precision, or None when malformed.

    >>> date_bounds("2024-05")
    (datetime.date(2024, 5, 1), datetime.date(2024, 5, 31))
    >>> date_bounds("2024-13") is None
    True
    """
    match = DATE_RE.match(text) if isinstance(text, str) else None
    if not match:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        if day is not None:
            first = last = dt.date(year, month, day)
        elif month is not None:
            first = dt.date(year, month, 1)
            last = dt.date(year, month, calendar.monthrange(year, month)[1])
        else:
            first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    except ValueError:
        return None
    return first, last


def _source_problem(source, what):
    if not (isinstance(source, dict) and isinstance(source.get("title"), str) and source["title"].strip()
            and isinstance(source.get("url"), str) and source["url"].strip()):
        return f"{what} needs source = {{title, url}}"
    return None


def _date_problem(value, what):
    return None if date_bounds(value) else f"{what} {value!r} must be an ISO date YYYY[-MM[-DD]]"


def _history_problem(history, status, *, name="status_history", statuses=STATUSES):
    if not isinstance(history, list) or not history:
        return f"{name} must be a non-empty list of {{date, status, source}}"
    previous = None
    for i, entry in enumerate(history):
        what = f"{name}[{i}]"
        if not isinstance(entry, dict):
            return f"{what} must be an object {{date, status, source}}"
        problem = (_date_problem(entry.get("date"), f"{what}.date")
                   or _source_problem(entry.get("source"), what))
        if problem:
            return problem
        if entry.get("status") not in statuses:
            return f"{what}.status {entry.get('status')!r} is not one of {', '.join(statuses)}"
        if entry.get("note") is not None and not isinstance(entry["note"], str):
            return f"{what}.note must be text"
        first = date_bounds(entry["date"])[0]
        if previous is not None and first < previous:
            return f"{name} is not sorted by date ({entry['date']} after a later entry)"
        previous = first
    if history[-1]["status"] != status:
        return f"status {status!r} differs from the last {name} entry ({history[-1]['status']!r})"
    return None


def _facts_problem(facts):
    if not isinstance(facts, list):
        return "facts must be a list of {field, value, as_of, source}"
    for i, fact in enumerate(facts):
        what = f"facts[{i}]"
        if not isinstance(fact, dict) or not isinstance(fact.get("field"), str) or not fact["field"].strip():
            return f"{what} must be an object with a field name"
        if fact.get("value") is None:
            return f"{what} ({fact['field']}) needs a value"
        problem = _date_problem(fact.get("as_of"), f"{what}.as_of") or _source_problem(fact.get("source"), what)
        if problem:
            return problem
    return None


def _reference_problem(ref):
    if not isinstance(ref, dict):
        return "reference_point must be an object {lat, lon, max_km, source}"
    lat, lon, max_km = ref.get("lat"), ref.get("lon"), ref.get("max_km")
    if not (_is_number(lat) and _is_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return f"reference_point needs lat/lon in degrees (got {lat!r}, {lon!r})"
    if not (_is_number(max_km) and max_km > 0):
        return f"reference_point.max_km {max_km!r} must be a positive number of km"
    return _source_problem(ref.get("source"), "reference_point")


def _dating_problem(props, require_dates):
    """Problems of the dated-facts contract (see the README: "Dated facts")."""
    dated = props.get("status") is not None
    for key in ("as_of", "last_checked", "status_history"):
        if require_dates and dated and props.get(key) is None:
            return f"missing property {key!r} (built-in features with a status date their facts)"
    for key in ("as_of", "last_checked"):
        if props.get(key) is not None:
            problem = _date_problem(props[key], key)
            if problem:
                return problem
    if props.get("status_history") is not None:
        problem = _history_problem(props["status_history"], props["status"])
        if problem:
            return problem
    if props.get("crossing_status") is not None or props.get("crossing_history") is not None:
        problem = _history_problem(props.get("crossing_history"), props.get("crossing_status"),
                                   name="crossing_history", statuses=CROSSING_STATUSES)
        if problem:
            return problem
    if props.get("facts") is not None:
        problem = _facts_problem(props["facts"])
        if problem:
            return problem
    if props.get("reference_point") is not None:
        problem = _reference_problem(props["reference_point"])
        if problem:
            return problem
    if props.get("geometry_quality") == "approximate":
        count, longest = props.get("source_vertex_count"), props.get("source_longest_segment_km")
        if not (isinstance(count, int) and not isinstance(count, bool) and count >= 2
                and _is_number(longest) and longest > 0):
            return "approximate geometry needs source_vertex_count (>= 2) and source_longest_segment_km (> 0)"
    return None


def latest_status(props):
    """The last ``status_history`` entry of a feature's properties, or None (no history)."""
    history = props.get("status_history") if isinstance(props, dict) else None
    return history[-1] if isinstance(history, list) and history else None


def status_in_year(props, year):
    """Status of a feature in ``year``: that of the last history entry dated on or before 31 December.

    None when the history starts later (not yet proposed). A feature
    without a history (a user layer) answers its current, undated status.

    >>> p = {"status": "operating", "status_history": [
    ...     {"date": "2015-10", "status": "proposed"}, {"date": "2021-09-01", "status": "operating"}]}
    >>> [status_in_year(p, y) for y in (2014, 2016, 2021)]
    [None, 'proposed', 'operating']
    """
    history = props.get("status_history")
    if not isinstance(history, list) or not history:
        return props.get("status")
    end = dt.date(int(year), 12, 31)
    status = None
    for entry in history:
        bounds = date_bounds(entry.get("date"))
        if bounds and bounds[0] <= end:
            status = entry.get("status")
    return status


def _property_problem(props):
    """Return the first schema problem of one feature's properties, or None."""
    for key, value in props.items():
        bad = first_non_finite(value) if isinstance(value, (float, list, dict)) else None
        if bad is not None:
            return f"property {key!r} holds {bad}: numbers must be finite (use null for 'no value')"
    for key, (required, _) in PROPERTIES.items():
        if required and key not in props:
            return f"missing property {key!r}"
    if not isinstance(props["id"], str) or not FEATURE_ID_RE.match(props["id"]):
        return f"id {props['id']!r} must match {FEATURE_ID_RE.pattern}"
    if not isinstance(props["name"], str) or not props["name"].strip():
        return "name must be a non-empty string"
    if props["kind"] not in KINDS:
        return f"kind {props['kind']!r} is not one of {', '.join(KINDS)}"
    if props["status"] not in STATUSES and not (props["status"] is None and props["kind"] == "country"):
        return f"status {props['status']!r} is not one of {', '.join(STATUSES)}"
    countries = props["countries"]
    if not isinstance(countries, list) or not all(isinstance(c, str) and ISO3_RE.match(c) for c in countries):
        return f"countries {countries!r} must be a list of ISO 3166-1 alpha-3 codes"
    length = props["reported_length_km"]
    if length is not None and not (_is_number(length) and length > 0):
        return f"reported_length_km {length!r} must be a positive number or null"
    if props["geometry_quality"] not in GEOMETRY_QUALITIES:
        return f"geometry_quality {props['geometry_quality']!r} is not one of {', '.join(GEOMETRY_QUALITIES)}"
    sources = props["sources"]
    if not isinstance(sources, list) or not sources or not all(
        isinstance(s, dict) and isinstance(s.get("title"), str) and isinstance(s.get("url"), str) for s in sources
    ):
        return "sources must be a non-empty list of {title, url}"
    if not isinstance(props["licence"], str) or not props["licence"].strip():
        return "licence must be a non-empty string"
    capacity = props.get("capacity")
    if capacity is not None and not _is_number(capacity):
        return f"capacity {capacity!r} must be a number or null"
    start_year = props.get("start_year")
    if start_year is not None and not (isinstance(start_year, int) and not isinstance(start_year, bool)
                                       and 1800 <= start_year <= 2100):
        return f"start_year {start_year!r} must be a year (1800-2100) or null"
    return None


def _coordinate_problems(geoms, ok):
    """Problems of geometries whose coordinates are not finite WGS84 lon/lat (first bad value named)."""
    problems = {}
    coords, owner = shapely.get_coordinates(geoms[ok], return_index=True)
    if not len(coords):
        return problems
    x, y = coords[:, 0], coords[:, 1]
    bad = ~np.isfinite(x) | ~np.isfinite(y) | (np.abs(x) > 180) | (np.abs(y) > 90)
    where = np.flatnonzero(ok)
    for i in np.flatnonzero(bad):
        geom_at = where[owner[i]]
        if geom_at in problems:
            continue
        lon, lat = float(x[i]), float(y[i])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            problems[geom_at] = f"coordinate ({lon!r}, {lat!r}) is not a finite number"
        elif abs(lon) > 180:
            problems[geom_at] = f"longitude {lon:g} is outside -180..180 (coordinate ({lon:g}, {lat:g}))"
        else:
            problems[geom_at] = f"latitude {lat:g} is outside -90..90 (coordinate ({lon:g}, {lat:g}))"
    return problems


def _geometry_problems(geoms, qualities, region):
    """Return an array of problem strings (None where the geometry is fine)."""
    problems = np.full(len(geoms), None, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    problems[missing] = "geometry is missing or empty"
    ok = ~missing
    for at, problem in _coordinate_problems(geoms, ok).items():
        problems[at] = problem
        ok[at] = False
    invalid = ok & ~shapely.is_valid(geoms)
    problems[invalid] = [f"invalid geometry: {shapely.is_valid_reason(g)}" for g in geoms[invalid]]
    ok &= ~invalid
    if region is not None:
        bounds = shapely.bounds(geoms)
        lon0, lat0, lon1, lat1 = region
        outside = ok & ((bounds[:, 0] < lon0) | (bounds[:, 1] < lat0) | (bounds[:, 2] > lon1) | (bounds[:, 3] > lat1))
        problems[outside] = [
            f"coordinates outside the region {region} (bounds {tuple(round(v, 3) for v in b)})"
            for b in bounds[outside]
        ]
        ok &= ~outside
    is_point = shapely.get_type_id(geoms) == 0
    mismatch = ok & ((qualities == "point") != is_point)
    problems[mismatch] = "geometry_quality 'point' goes with Point geometry, and only with it"
    return problems


class Problem(NamedTuple):
    """One problem of one feature: which (its id, or ``#n`` when it has none), what, and whether
    ``shapely.make_valid`` can repair it."""

    feature: str | None
    problem: str
    repairable: bool = False


def feature_problems(features, geoms, *, region=REGION_BBOX, require_dates=False):
    """Every problem of the features (property dicts) and their geometries, in feature order.

    The same checks as :func:`validate_features`, but collected: an import
    preview lists them all. Coordinates must be finite WGS84 lon/lat.
    """
    found, seen = [], set()
    for i, props in enumerate(features):
        if not isinstance(props, dict):
            found.append(Problem(f"#{i + 1}", "properties must be an object"))
            continue
        fid = props.get("id") if isinstance(props.get("id"), str) else f"#{i + 1}"
        problem = _property_problem(props) or _dating_problem(props, require_dates)
        if problem:
            found.append(Problem(fid, problem))
        elif fid in seen:
            found.append(Problem(fid, "duplicate id in layer"))
        seen.add(fid)
    qualities = np.array([p.get("geometry_quality") if isinstance(p, dict) else None for p in features], dtype=object)
    problems = _geometry_problems(np.asarray(geoms, dtype=object), qualities, region)
    for i, problem in enumerate(problems):
        if problem is not None:
            props = features[i] if isinstance(features[i], dict) else {}
            fid = props.get("id") if isinstance(props.get("id"), str) else f"#{i + 1}"
            found.append(Problem(fid, problem, repairable=problem.startswith("invalid geometry")))
    return found


def validate_features(features, geoms, file, *, region=REGION_BBOX, require_dates=False):
    """Validate feature property dicts and their shapely geometries.

    ``features`` is the list of property dicts, ``geoms`` the matching array
    of geometries. With ``require_dates`` (built-in layers) every feature
    with a status must carry ``as_of``, ``last_checked`` and a
    ``status_history``; user layers may leave them out, but what they give
    must be well formed. Raises :class:`LayerInvalid` naming ``file``, the
    feature and the problem at the first problem (:func:`feature_problems`
    lists all).
    """
    problems = feature_problems(features, geoms, region=region, require_dates=require_dates)
    if problems:
        raise LayerInvalid(file, problems[0].feature, problems[0].problem)
