"""Search what a user types: features (names, ids, aliases), places, coordinates (decimal or DMS).

Pure functions over the catalogue. Places come from, best first: positions
cited in ``data/raw/waypoints.toml`` (the schematic routes' waypoints,
each with a source), the GeoNames gazetteer of :mod:`geo.places` (with
whatever corrections that module applies), and Natural Earth's populated
places. A name found in several of them (same normalised name and country)
is shown once, from the best one: the gazetteer's "Hasan Abdal" lies about
380 km from the town, the cited waypoint does not. Matching ignores case,
diacritics and punctuation (:func:`~layers.importers.gazetteer.normalise_name`);
exact names rank before prefixes, prefixes before words, words before
substrings. With no match, close spellings are offered as suggestions.
"""

from __future__ import annotations

import difflib
import math
import re

import numpy as np
import shapely

from geo.places import gazetteer
from layers.catalog import DATA_DIR
from layers.errors import BadParameter, ImportFailed
from layers.importers.gazetteer import GEONAMES_SOURCE, normalise_name
from layers.importers.ne_basemap import NE_BASEMAP_SOURCE, read_places
from layers.importers.waypoints import read_toml

__all__ = ["MAX_QUERY_CHARS", "WAYPOINTS_TOML", "parse_coordinates", "place_index", "search"]

WAYPOINTS_TOML = DATA_DIR / "raw" / "waypoints.toml"
MAX_QUERY_CHARS = 200
_ISO3_BY_ISO2 = {"PK": "PAK", "AF": "AFG", "IR": "IRN", "IN": "IND", "CN": "CHN", "TM": "TKM", "TJ": "TJK",
                 "UZ": "UZB", "KG": "KGZ", "KZ": "KAZ", "OM": "OMN", "AE": "ARE"}
_NUMBER = r"[-+]?\d+(?:[.,]\d+)?"
# 25°07'12"N, 25° 7.2' N, 25 07 12 N, N25.12 ...: degrees, optional minutes and seconds, optional hemisphere
_DMS = re.compile(
    r"""^\s*(?P<h1>[NSEW])?\s*(?P<d>\d+(?:\.\d+)?)\s*(?:°|º|d|\s)\s*
        (?:(?P<m>\d+(?:\.\d+)?)\s*(?:'|′|’|m|\s)\s*)?
        (?:(?P<s>\d+(?:\.\d+)?)\s*(?:"|″|''|s)?\s*)?(?P<h2>[NSEW])?\s*$""", re.IGNORECASE | re.VERBOSE)


def _dms_value(text):
    """One coordinate in DMS or signed decimal -> (degrees, hemisphere letter or None), or None."""
    text = text.strip()
    if re.fullmatch(_NUMBER, text):
        return float(text.replace(",", ".")), None
    m = re.fullmatch(r"\s*([NSEW])?\s*(\d+(?:\.\d+)?)\s*°?\s*([NSEW])?\s*", text, re.IGNORECASE)
    if m and (m.group(1) or m.group(3)) and not (m.group(1) and m.group(3)):
        return float(m.group(2)), (m.group(1) or m.group(3)).upper()
    m = _DMS.match(text)
    if not m or (m.group("h1") and m.group("h2")):
        return None
    minutes, seconds = float(m.group("m") or 0), float(m.group("s") or 0)
    if minutes >= 60 or seconds >= 60:
        return None
    value = float(m.group("d")) + minutes / 60 + seconds / 3600
    hemi = (m.group("h1") or m.group("h2") or "").upper() or None
    return value, hemi


def _split_pair(text):
    """Two coordinate strings from "a, b", "a b" or "a;b" (DMS with spaces included), or None."""
    for sep in (";", ","):
        parts = text.split(sep)
        if len(parts) == 2:
            return parts
    hemis = list(re.finditer(r"[NSEW]", text, re.IGNORECASE))
    if len(hemis) == 2:  # "25 07 12 N 62 19 12 E" or "N 25 07 E 62 19"
        cut = hemis[0].end() if hemis[0].end() < len(text.strip()) and hemis[1].end() == len(text.strip()) \
            else hemis[1].start()
        return text[:cut], text[cut:]
    parts = text.split()
    if len(parts) == 2:
        return parts
    return None


def parse_coordinates(text, *, parameter="q"):
    """``"lat, lon"`` in decimal degrees or DMS (with N/S/E/W) -> ``(lon, lat)``, or None when not coordinates.

    Without hemisphere letters the order is latitude, longitude. Numbers
    out of range raise BadParameter.

    >>> parse_coordinates("25.12, 62.32")
    (62.32, 25.12)
    >>> parse_coordinates("25°07'12\\"N 62°19'12\\"E")
    (62.32, 25.12)
    >>> parse_coordinates("62.32E 25.12N")
    (62.32, 25.12)
    >>> parse_coordinates("Gwadar") is None
    True
    """
    pair = _split_pair(str(text).strip())
    if pair is None:
        return None
    values = [_dms_value(p) for p in pair]
    if None in values:
        return None
    (a, ha), (b, hb) = values
    if ha in ("E", "W") or hb in ("N", "S"):
        (a, ha), (b, hb) = (b, hb), (a, ha)
    if ha not in (None, "N", "S") or hb not in (None, "E", "W"):
        return None
    lat, lon = (-a if ha == "S" else a), (-b if hb == "W" else b)
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadParameter(parameter, f"coordinates out of range (lat -90..90, lon -180..180): {text!r}")
    return round(lon, 6), round(lat, 6)


def _cited_waypoints(path):
    """(name, ISO3, lon, lat, source) of every waypoint whose position a source gives."""
    out = []
    try:
        routes = read_toml(path, "route")
    except ImportFailed:
        return out
    for route in routes:
        for wp in route.get("waypoints", []):
            where = wp if "lat" in wp else wp.get("expect") or {}
            if "lat" not in where or not isinstance(where.get("source"), dict):
                continue
            name = re.sub(r"\s*\(.*\)\s*$", "", wp["name"]) or wp["name"]
            country = _ISO3_BY_ISO2.get(wp.get("country", ""), wp.get("country"))
            out.append((name, country, float(where["lon"]), float(where["lat"]), where["source"]))
    return out


def place_index(catalog, *, waypoints_toml=WAYPOINTS_TOML):
    """One row per distinct place (memoised): ``{"key", "name", "country", "detail", "lon", "lat", "source"}``."""

    def build():
        rows, seen = [], set()

        def add(name, country, detail, lon, lat, source):
            key = normalise_name(name)
            if not key or (key, country) in seen:
                return
            seen.add((key, country))
            rows.append({"key": key, "name": str(name), "country": country, "detail": detail,
                         "lon": round(float(lon), 5), "lat": round(float(lat), 5), "source": source})

        for name, country, lon, lat, source in _cited_waypoints(waypoints_toml):
            add(name, country, f"waypoint, {country}", lon, lat, source)
        gaz = gazetteer(catalog)
        for name, admin1, cc, lon, lat in zip(gaz["name"], gaz["admin1"], gaz["cc"], gaz["lon"], gaz["lat"]):
            country = _ISO3_BY_ISO2.get(cc, cc)
            add(name, country, ", ".join(v for v in (admin1, country) if v), lon, lat, GEONAMES_SOURCE)
        try:
            xy, props = read_places()
        except ImportFailed:
            xy, props = np.empty((0, 2)), []
        for (lon, lat), p in zip(xy, props):
            add(p["name"], p["country"], p["country"], lon, lat, NE_BASEMAP_SOURCE)
        return rows

    return catalog.memo(("geo.search.places", str(waypoints_toml)), build)


def _feature_index(catalog):
    """One row per catalogue feature: keys (name, id, aliases), name, layer, id, kind, status, bbox."""

    def build():
        rows = []
        for layer in catalog:
            gdf = layer.gdf
            bounds = shapely.bounds(gdf.geometry.to_numpy())
            aliases = gdf["aliases"] if "aliases" in gdf.columns else [None] * len(gdf)
            for (fid, name, kind, status), box, alias in zip(
                    zip(gdf["id"], gdf["name"], gdf["kind"], gdf["status"]), bounds, aliases):
                keys = [normalise_name(name), normalise_name(fid)]
                keys += [normalise_name(a) for a in (alias if isinstance(alias, list) else []) if isinstance(a, str)]
                rows.append({"keys": [k for k in keys if k], "name": str(name), "layer": layer.id,
                             "layer_title": layer.title, "id": str(fid), "kind": kind,
                             "status": status if isinstance(status, str) else None,
                             "bbox": [round(float(v), 5) for v in box]})
        return rows

    return catalog.memo(("geo.search.features",), build)


def _rank(key, query):
    """0 exact, 1 prefix, 2 a word starts with it, 3 substring, None no match."""
    if key == query:
        return 0
    if key.startswith(query):
        return 1
    if f" {query}" in f" {key}":
        return 2
    if len(query) >= 3 and query in key:
        return 3
    return None


def search(catalog, text, *, limit=10, waypoints_toml=WAYPOINTS_TOML):
    """Results for ``text``: ``{"query", "results": [...], "suggestions": [...]}``.

    Each result has ``type`` ('coordinates', 'feature' or 'place'), ``name``,
    ``detail``, ``lon``/``lat`` (degrees, WGS84) and, for features,
    ``layer``, ``id``, ``bbox`` (minlon, minlat, maxlon, maxlat). Features
    rank before places of the same match quality.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadParameter("q", "give a place, a project name or id, or coordinates (e.g. 25.12, 62.32)")
    text = text.strip()
    if len(text) > MAX_QUERY_CHARS:
        raise BadParameter("q", f"longer than {MAX_QUERY_CHARS} characters")
    lonlat = parse_coordinates(text)
    if lonlat is not None:
        lon, lat = lonlat
        return {"query": text, "results": [{"type": "coordinates", "name": f"{lat:.5f}, {lon:.5f}",
                                            "detail": "WGS84 latitude, longitude", "lon": lon, "lat": lat}],
                "suggestions": []}
    query = normalise_name(text)
    if not query:
        raise BadParameter("q", f"{text!r} has no letters or digits to search for")
    scored = []
    for row in _feature_index(catalog):
        ranks = [r for r in (_rank(k, query) for k in row["keys"]) if r is not None]
        if ranks:
            lon0, lat0, lon1, lat1 = row["bbox"]
            scored.append(((min(ranks), 0, row["name"]), {
                "type": "feature", "name": row["name"], "detail": f"{row['layer_title']} \u00b7 {row['kind']}"
                + (f" \u00b7 {row['status']}" if row["status"] else ""), "layer": row["layer"], "id": row["id"],
                "lon": round((lon0 + lon1) / 2, 5), "lat": round((lat0 + lat1) / 2, 5), "bbox": row["bbox"]}))
    for row in place_index(catalog, waypoints_toml=waypoints_toml):
        rank = _rank(row["key"], query)
        if rank is not None:
            scored.append(((rank, 1, row["name"]), {
                "type": "place", "name": row["name"], "detail": row["detail"], "lon": row["lon"], "lat": row["lat"],
                "country": row["country"], "source": row["source"]}))
    scored.sort(key=lambda item: item[0])
    results = [r for _, r in scored[:limit]]
    suggestions = []
    if not results:
        names = {k: r["name"] for r in _feature_index(catalog) for k in r["keys"][:1]}
        names.update({r["key"]: r["name"] for r in place_index(catalog, waypoints_toml=waypoints_toml)
                      if r["key"] not in names})
        suggestions = [names[k] for k in difflib.get_close_matches(query, list(names), n=5, cutoff=0.7)]
    return {"query": text, "results": results, "suggestions": list(dict.fromkeys(suggestions))}
