"""Small helpers shared by the importers: ids, country codes, feature dicts."""

import re
import unicodedata

import numpy as np
import shapely

__all__ = ["dedupe_ids", "slug", "ISO3_BY_NAME", "ISO3_BY_ISO2", "iso3_list", "make_feature", "round_geometry"]

# Country names as GEM and Natural Earth spell them -> ISO 3166-1 alpha-3.
ISO3_BY_NAME = {
    "Afghanistan": "AFG", "Armenia": "ARM", "Azerbaijan": "AZE", "Bahrain": "BHR",
    "Bangladesh": "BGD", "Bhutan": "BTN", "China": "CHN", "Georgia": "GEO",
    "India": "IND", "Iran": "IRN", "Iraq": "IRQ", "Kazakhstan": "KAZ", "Kuwait": "KWT",
    "Kyrgyzstan": "KGZ", "Maldives": "MDV", "Mongolia": "MNG", "Myanmar": "MMR",
    "Nepal": "NPL", "Oman": "OMN", "Pakistan": "PAK", "Qatar": "QAT", "Russia": "RUS",
    "Saudi Arabia": "SAU", "Sri Lanka": "LKA", "Tajikistan": "TJK",
    "Turkey": "TUR", "Türkiye": "TUR", "Turkmenistan": "TKM",
    "United Arab Emirates": "ARE", "Uzbekistan": "UZB", "Yemen": "YEM",
    "Ethiopia": "ETH", "Somalia": "SOM", "Djibouti": "DJI", "Eritrea": "ERI",
    # the rest of GEM's Asia file (user layers): East and South-East Asia, and Europe for export routes
    "Austria": "AUT", "Brunei": "BRN", "Cambodia": "KHM", "France": "FRA", "Germany": "DEU",
    "Greece": "GRC", "Hong Kong": "HKG", "Indonesia": "IDN", "Italy": "ITA", "Japan": "JPN",
    "Lebanon": "LBN", "Macao": "MAC", "Malaysia": "MYS", "North Korea": "PRK", "Philippines": "PHL",
    "Singapore": "SGP", "South Korea": "KOR", "Spain": "ESP", "Switzerland": "CHE", "Syria": "SYR",
    "Taiwan": "TWN", "Thailand": "THA", "Timor-Leste": "TLS", "Vietnam": "VNM",
}
ISO3_BY_ISO2 = {
    "AE": "ARE", "AF": "AFG", "EG": "EGY", "AM": "ARM", "AZ": "AZE", "BD": "BGD", "BH": "BHR",
    "BT": "BTN", "CN": "CHN", "GE": "GEO", "IN": "IND", "IQ": "IRQ", "IR": "IRN",
    "KG": "KGZ", "KW": "KWT", "KZ": "KAZ", "LK": "LKA", "MM": "MMR", "MN": "MNG",
    "NP": "NPL", "OM": "OMN", "PK": "PAK", "QA": "QAT", "RU": "RUS", "SA": "SAU",
    "TJ": "TJK", "TM": "TKM", "TR": "TUR", "UZ": "UZB", "YE": "YEM",
}


def slug(text):
    """Lower-case ASCII id from a name: 'Iran–Pakistan Pipeline' -> 'iran_pakistan_pipeline'."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def iso3_list(names, *, sep=","):
    """'Iran, Pakistan' -> ['IRN', 'PAK']; unknown names raise KeyError naming them."""
    out = []
    for name in (n.strip() for n in names.split(sep)):
        if name:
            out.append(ISO3_BY_NAME[name])
    return out


def round_geometry(geom, decimals=6):
    """Round coordinates (6 decimals ~ 0.1 m) so files are small and stable."""
    return shapely.set_precision(geom, 10.0 ** -decimals, mode="pointwise") if geom is not None else None


def make_feature(geom, properties):
    """A GeoJSON Feature dict with ``geometry`` from a shapely geometry (rounded, then wound per RFC 7946 §3.1.6:
    exterior rings counterclockwise; after rounding, which can flip a sliver ring)."""
    import json

    geometry = json.loads(shapely.to_geojson(shapely.orient_polygons(round_geometry(geom), exterior_cw=False)))
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def lonlat_array(points):
    """[(lon, lat), ...] -> float array (n, 2)."""
    return np.asarray(points, dtype=float).reshape(-1, 2)


def dedupe_ids(features):
    """Suffix repeated ids (_2, _3 …) in list order so ids stay unique and stable."""
    seen = {}
    for f in features:
        fid = f["properties"]["id"]
        seen[fid] = seen.get(fid, 0) + 1
        if seen[fid] > 1:
            f["properties"]["id"] = f"{fid}_{seen[fid]}"
    return features
