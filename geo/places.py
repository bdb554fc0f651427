"""Resolve what a user types -- a place name, ``"lat,lon"`` or ``"layer:fid"`` -- to lon/lat.

Names are looked up, in this order, among the point features of the
curated layers (:data:`PLACE_LAYERS`: id or name), then in the GeoNames
``cities1000`` gazetteer (CC BY 4.0) through
:mod:`layers.importers.gazetteer`. Matching ignores case, diacritics and
punctuation. A name may carry qualifiers: ``"Hyderabad, PK"`` (ISO
3166-1 alpha-2) or ``"Hyderabad, Sindh, PK"`` (admin1). Misspellings raise
:class:`~layers.errors.BadParameter` with close matches (difflib).
Coordinates are WGS84 degrees (EPSG:4326).
"""

import difflib
import math
import re
from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import shapely

from geo.geodesic import distance_km
from layers.errors import BadParameter
from layers.importers.common import ISO3_BY_ISO2
from layers.importers.gazetteer import GAZETTEER_CSV as REGION_GAZETTEER_CSV
from layers.importers.gazetteer import load_corrections, load_gazetteer, normalise_name, suggest

__all__ = [
    "GAZETTEER_CSV",
    "PLACE_LAYERS",
    "ALIASES",
    "Place",
    "parse_latlon",
    "gazetteer",
    "places_gdf",
    "find_place",
]

# the extended region's cut (issue 11: Moscow to the Arabian Sea); a superset of the old 44-90E, 20-50N cut
GAZETTEER_CSV = REGION_GAZETTEER_CSV.with_name("geonames_cities1000_extended.csv")
PLACE_LAYERS = ("ports", "energy_projects", "border_crossings")
# English names GeoNames files under another primary name: the [[alias]] entries of the one gazetteer
# corrections file (data/raw/gazetteer_corrections.toml), e.g. "Kashgar" -> "Kashi", CN.
ALIASES = {normalise_name(a["name"]): (a["gazetteer_name"], a["country"]) for a in load_corrections()["alias"]}
# Same-named gazetteer entries closer than this are one town entered twice (e.g. Kashan, IR: 1.5 km apart).
DUPLICATE_KM = 30.0
_ISO2 = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class Place:
    """A resolved place: display name, lon/lat (degrees) and where it came from."""

    name: str
    lon: float
    lat: float
    source: str  # 'coordinates', 'gazetteer' or a layer id
    id: str | None = None
    country: str | None = None
    admin1: str | None = None

    def to_dict(self):
        """JSON-ready dict."""
        return asdict(self)


def parse_latlon(text, *, parameter="place"):
    """``"lat,lon"`` -> ``(lon, lat)`` floats, or None when ``text`` is not two numbers.

    Two numbers that are not finite or out of range raise BadParameter.

    >>> parse_latlon("25.12, 62.33")
    (62.33, 25.12)
    >>> parse_latlon("Gwadar") is None
    True
    """
    parts = str(text).split(",")
    if len(parts) != 2:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise BadParameter(parameter, f"coordinates must be finite numbers, got {text!r}")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadParameter(parameter, f"'lat,lon' out of range (lat -90..90, lon -180..180): {text!r}")
    return lon, lat


def gazetteer(catalog, *, csv_path=GAZETTEER_CSV):
    """The gazetteer DataFrame plus a normalised ``key`` column, loaded once per catalogue."""

    def load():
        gaz = load_gazetteer(csv_path)
        gaz["key"] = gaz["name"].map(normalise_name)
        return gaz

    return catalog.memo(("geo.places.gazetteer", str(csv_path)), load, layers=())  # a file, not a layer


def places_gdf(catalog, *, csv_path=GAZETTEER_CSV):
    """Gazetteer places as a point GeoDataFrame in the layer schema (layer id ``places``).

    ``id`` is ``gn<row>``, ``kind`` 'place', ``status`` None, ``countries`` the ISO 3166-1 alpha-3 code (the
    gazetteer's alpha-2 ``cc`` translated, so places and layer features share one convention).
    """

    def build():
        gaz = gazetteer(catalog, csv_path=csv_path)
        return gpd.GeoDataFrame({
            "id": [f"gn{i}" for i in range(len(gaz))],
            "name": gaz["name"].to_numpy(dtype=object),
            "kind": "place",
            "status": None,
            "countries": [[ISO3_BY_ISO2.get(cc, cc)] for cc in gaz["cc"]],
            "admin1": gaz["admin1"].to_numpy(dtype=object),
        }, geometry=shapely.points(gaz["lon"].to_numpy(), gaz["lat"].to_numpy()), crs="EPSG:4326")

    return catalog.memo(("geo.places.gdf", str(csv_path)), build, layers=())


def _split_qualifiers(text):
    """``"Name, admin1, CC"`` -> (name, admin1 or None, ISO2 or None)."""
    tokens = [t.strip() for t in str(text).split(",")]
    name, admin1, country = tokens[0], None, None
    for token in tokens[1:]:
        if _ISO2.match(token) and country is None:
            country = token.upper()
        elif token:
            admin1 = token
    return name, admin1, country


def _layer_points(catalog, layers):
    """(layer id, GeoDataFrame of its point features) for each present layer."""
    out = []
    for layer_id in layers:
        if layer_id in catalog:
            gdf = catalog.layer(layer_id).gdf
            out.append((layer_id, gdf[gdf.geom_type == "Point"]))
    return out


def _from_layers(catalog, key, layers):
    for layer_id, gdf in _layer_points(catalog, layers):
        hit = [i for i, (fid, name) in enumerate(zip(gdf["id"], gdf["name"]))
               if normalise_name(fid) == key or normalise_name(name) == key]
        if hit:
            row = gdf.iloc[hit[0]]
            countries = row.get("countries") or [None]
            return Place(str(row["name"]), float(row.geometry.x), float(row.geometry.y), layer_id,
                         id=str(row["id"]), country=countries[0])
    return None


def _from_ref(catalog, text, parameter):
    """``layer:fid`` naming a point feature of any layer."""
    layer_id, _, fid = text.partition(":")
    layer_id, fid = layer_id.strip(), fid.strip()
    if layer_id not in catalog:
        return None
    layer = catalog.layer(layer_id)
    if fid not in layer.positions:
        close = difflib.get_close_matches(fid, list(layer.positions), n=5)
        raise BadParameter(parameter, f"layer {layer_id!r} has no feature {fid!r}", close)
    row = layer.gdf.iloc[layer.positions[fid]]
    if row.geometry is None or row.geometry.geom_type != "Point":
        raise BadParameter(parameter, f"{text!r} is not a point feature; give a place name or 'lat,lon'")
    countries = row.get("countries") or [None]
    return Place(str(row["name"]), float(row.geometry.x), float(row.geometry.y), layer_id, id=fid,
                 country=countries[0])


def _from_gazetteer(gaz, name, admin1, country, text, parameter):
    key = normalise_name(name)
    alias = ALIASES.get(key)
    if alias is not None:
        key, country = normalise_name(alias[0]), country or alias[1]
    rows = gaz[gaz["key"] == key]
    if country is not None:
        rows = rows[rows["cc"] == country]
    if admin1 is not None:
        rows = rows[rows["admin1"].map(normalise_name) == normalise_name(admin1)]
    if rows.empty:
        return None
    if len(rows) > 1:
        far = distance_km(rows["lon"].iloc[0], rows["lat"].iloc[0], rows["lon"], rows["lat"])
        if np.nanmax(far) > DUPLICATE_KM:
            labels = [", ".join(v for v in (r["name"], r["admin1"], r["cc"]) if v) for _, r in rows.iterrows()]
            # a label two entries share would stay ambiguous: offer their coordinates instead
            options = [label if labels.count(label) == 1 else f"{r['lat']:.4f},{r['lon']:.4f}"
                       for label, (_, r) in zip(labels, rows.iterrows())]
            raise BadParameter(parameter, f"{text!r} matches {len(rows)} gazetteer places; qualify it "
                                          "as 'name, admin1, CC' or give 'lat,lon'", options[:10])
    row = rows.iloc[0]
    shown = f"{name} ({row['name']})" if alias is not None else str(row["name"])
    return Place(shown, float(row["lon"]), float(row["lat"]), "gazetteer", country=row["cc"],
                 admin1=row["admin1"] or None)


def find_place(catalog, text, *, parameter="place", csv_path=GAZETTEER_CSV, layers=PLACE_LAYERS):
    """Resolve ``text`` to a :class:`Place`.

    Accepts ``"lat,lon"`` (degrees), ``"layer:fid"`` of a point feature,
    the id or name of a point in ``layers``, or a gazetteer name (optionally
    ``", admin1"`` and/or ``", CC"``). Raises BadParameter (named
    ``parameter``) with close matches when nothing matches.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadParameter(parameter, "give a place name or 'lat,lon'")
    text = text.strip()
    if len(text) > 200:
        raise BadParameter(parameter, "place text longer than 200 characters")
    lonlat = parse_latlon(text, parameter=parameter)
    if lonlat is not None:
        return Place(f"{lonlat[1]:.5f},{lonlat[0]:.5f}", lonlat[0], lonlat[1], "coordinates")
    if ":" in text:
        place = _from_ref(catalog, text, parameter)
        if place is not None:
            return place
    name, admin1, country = _split_qualifiers(text)
    key = normalise_name(name)
    if not key:
        raise BadParameter(parameter, f"{text!r} is not a place name")
    if admin1 is None and country is None:
        place = _from_layers(catalog, key, layers)
        if place is not None:
            return place
    gaz = gazetteer(catalog, csv_path=csv_path)
    place = _from_gazetteer(gaz, name, admin1, country, text, parameter)
    if place is not None:
        return place
    raise BadParameter(parameter, f"no place named {text!r} in the gazetteer or the layers "
                                  f"{', '.join(layers)}", _suggestions(catalog, gaz, name, country, layers))


def _suggestions(catalog, gaz, name, country, layers, n=5):
    layer_names = {}
    for _, gdf in _layer_points(catalog, layers):
        for value in gdf["name"]:
            layer_names.setdefault(normalise_name(value), str(value))
    close = [layer_names[k] for k in difflib.get_close_matches(normalise_name(name), list(layer_names), n=n)]
    close += [k.title() for k in difflib.get_close_matches(normalise_name(name), list(ALIASES), n=n)]
    close += suggest(gaz, name, n=n, country=country)
    return list(dict.fromkeys(close))[:n]
