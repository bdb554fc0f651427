"""Per-feature and per-layer route statistics.

All lengths in km on the WGS84 ellipsoid, measured on the full (never
simplified) geometry. Inputs are GeoDataFrames in EPSG:4326 with the
layer schema's ``id``, ``name``, ``kind``, ``status``, ``reported_length_km``.
"""

import math
import re

import numpy as np
import pandas as pd
import shapely

from geo.countries import border_crossings, length_by_country_km
from geo.geodesic import as_geometry_array, geodesic_length_km, straight_line_km
from layers.schema import latest_status

__all__ = [
    "STAT_COLUMNS", "feature_stats", "layer_summary", "records", "layer_stats", "flat_table", "format_stats",
    "markdown_text",
]

STAT_COLUMNS = [
    "id", "name", "kind", "status",
    "geodesic_length_km", "reported_length_km", "length_ratio", "straight_line_km", "sinuosity",
    "length_by_country_km", "border_crossings", "vertex_count",
    # Added with the dated facts; kept at the end so the earlier columns keep their positions.
    "status_as_of", "status_source_title", "status_source_url", "geometry_quality",
]


def _column(gdf, name, default=None):
    return gdf[name] if name in gdf else pd.Series(default, index=gdf.index, dtype=object)


def _status_dating(gdf):
    """(date, source title, source url) of each feature's newest dated status (None for undated features)."""
    histories = _column(gdf, "status_history").to_numpy(dtype=object)
    out = []
    for history in histories:
        entry = latest_status({"status_history": history}) if isinstance(history, list) else None
        source = entry.get("source") if entry else None
        out.append((entry.get("date"), source.get("title"), source.get("url")) if isinstance(source, dict)
                   else (None, None, None))
    return out


def feature_stats(gdf, boundaries):
    """One row per feature: status as of its date, measured and reported lengths, countries, crossings.

    ``status_as_of`` and ``status_source_title``/``_url`` are the date and
    source of the newest ``status_history`` entry (None when undated);
    ``length_ratio`` is measured / reported (NaN without a reported length);
    ``sinuosity`` is measured / straight-line (NaN for points);
    ``length_by_country_km`` maps ISO alpha-3 (or 'outside') to km;
    ``border_crossings`` lists {from, to, lon, lat, chainage_km}.
    """
    geoms = as_geometry_array(gdf)
    is_line = np.isin(shapely.get_type_id(geoms), (1, 5))
    length = geodesic_length_km(geoms)
    straight = straight_line_km(geoms)
    reported = pd.to_numeric(_column(gdf, "reported_length_km"), errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reported > 0, length / reported, np.nan)
        sinuosity = np.where(is_line & (straight > 0), length / straight, np.nan)
    ids = gdf["id"].to_numpy(dtype=object)
    by_country = {fid: {} for fid in ids}
    crossings = {fid: [] for fid in ids}
    lines = gdf[is_line]
    if len(lines) and boundaries is not None:
        for row in length_by_country_km(lines, boundaries).itertuples(index=False):
            by_country[row.feature_id][row.country] = round(float(row.length_km), 3)
        for row in border_crossings(lines, boundaries).itertuples(index=False):
            crossings[row.feature_id].append({
                "from": row.from_country, "to": row.to_country, "lon": float(row.lon), "lat": float(row.lat),
                "chainage_km": float(row.chainage_km),
            })
    dating = _status_dating(gdf)
    return pd.DataFrame({  # columns in STAT_COLUMNS order
        "id": ids,
        "name": _column(gdf, "name").to_numpy(dtype=object),
        "kind": _column(gdf, "kind").to_numpy(dtype=object),
        "status": _column(gdf, "status").to_numpy(dtype=object),
        "geodesic_length_km": np.where(is_line, length, np.nan).round(3),
        "reported_length_km": reported,
        "length_ratio": ratio.round(4),
        "straight_line_km": np.where(is_line, straight, np.nan).round(3),
        "sinuosity": sinuosity.round(4),
        "length_by_country_km": [by_country[f] for f in ids],
        "border_crossings": [crossings[f] for f in ids],
        "vertex_count": shapely.get_num_coordinates(geoms),
        "status_as_of": [d[0] for d in dating],
        "status_source_title": [d[1] for d in dating],
        "status_source_url": [d[2] for d in dating],
        "geometry_quality": _column(gdf, "geometry_quality").to_numpy(dtype=object),
    })


def _group_totals(stats, key):
    lines = stats[stats["geodesic_length_km"].notna()]
    grouped = lines.groupby(key, dropna=False)["geodesic_length_km"].agg(["count", "sum"])
    return {str(k): {"features": int(v["count"]), "length_km": round(float(v["sum"]), 3)}
            for k, v in grouped.iterrows()}


def layer_summary(stats):
    """Totals of a :func:`feature_stats` table by status, by kind and by country (km)."""
    by_country = {}
    for mapping in stats["length_by_country_km"]:
        for code, km in mapping.items():
            by_country[code] = round(by_country.get(code, 0.0) + km, 3)
    total = stats["geodesic_length_km"].sum(min_count=1)
    return {
        "features": int(len(stats)),
        "line_features": int(stats["geodesic_length_km"].notna().sum()),
        "total_length_km": None if pd.isna(total) else round(float(total), 3),
        "by_status": _group_totals(stats, "status"),
        "by_kind": _group_totals(stats, "kind"),
        "by_country_km": dict(sorted(by_country.items(), key=lambda kv: -kv[1])),
    }


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.floating, np.integer)):
        return _clean(value.item())
    return value


def records(stats):
    """The stats table as JSON-ready dicts (NaN -> None, numpy -> Python)."""
    return [{k: _clean(v) for k, v in row.items()} for row in stats.to_dict(orient="records")]


def layer_stats(catalog, layer_id):
    """Stats table of one catalogue layer, computed once and memoised in the catalogue."""

    def compute():
        boundaries = catalog.layer("boundaries").gdf if "boundaries" in catalog else None
        return feature_stats(catalog.layer(layer_id).gdf, boundaries)

    return catalog.memo(("stats", layer_id), compute)


def flat_table(stats):
    """The stats with nested columns flattened to text, for CSV and Markdown.

    ``length_by_country_km`` -> 'PAK 812.1; AFG 800.5'; ``border_crossings``
    -> 'TKM>AFG @218.1 km; ...'.
    """
    flat = stats.copy()
    flat["length_by_country_km"] = [
        "; ".join(f"{c} {km:.1f}" for c, km in sorted(m.items(), key=lambda kv: -kv[1]))
        for m in stats["length_by_country_km"]
    ]
    flat["border_crossings"] = [
        "; ".join(f"{x['from']}>{x['to']} @{x['chainage_km']:.1f} km" for x in xs) for xs in stats["border_crossings"]
    ]
    return flat


def format_stats(stats, fmt):
    """Serialise a stats table: 'json' (records + summary), 'csv', 'md' or 'table'."""
    import json

    if fmt == "json":
        return json.dumps({"features": records(stats), "summary": layer_summary(stats)}, indent=2, ensure_ascii=False)
    flat = flat_table(stats)
    if fmt == "csv":
        return flat.to_csv(index=False, float_format="%.3f")
    cols = ["id", "status", "geodesic_length_km", "reported_length_km", "length_ratio", "straight_line_km",
            "sinuosity", "length_by_country_km", "vertex_count"]
    table = flat[cols if fmt == "table" else STAT_COLUMNS].copy()
    for col, digits in _DIGITS.items():
        table[col] = [("" if pd.isna(v) else f"{v:.{digits}f}") for v in table[col]] if col in table else None
    table = table.fillna("")
    if fmt == "md":
        head = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
        body = "".join("| " + " | ".join(markdown_text(v) for v in row) + " |\n"
                       for row in table.itertuples(index=False))
        return head + body
    if fmt == "table":
        return table.to_string(index=False)
    raise ValueError(f"unknown format {fmt!r}")


_DIGITS = {"geodesic_length_km": 1, "reported_length_km": 1, "length_ratio": 3, "straight_line_km": 1, "sinuosity": 3}


# What can start Markdown markup inside a line (CommonMark, GFM tables and strikethrough, the $math$ of GitHub and
# Jupyter): backslash-escaped, which every CommonMark reader shows as the character itself. "_" only between two
# letters or digits is left alone (it can never be emphasis there: tapi_trunk stays readable); "&" only where it
# would start an entity reference; ">" and "#" mean something only at the start of a line, which a cell never is.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<|~$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|&(?=#?\w+;)")


def markdown_text(value):
    r"""``value`` as literal Markdown inline text: markup characters backslash-escaped, on one line.

    Markdown passes raw HTML through to the reader, so ``<`` is escaped the
    Markdown way (``\<``), not as an HTML entity (``&lt;`` would show as such
    in a Markdown source and mean nothing to a reader of ``TKM&gt;AFG``).

    >>> markdown_text("TKM>AFG @218.1 km")
    'TKM>AFG @218.1 km'
    >>> print(markdown_text("<b>a|b</b> _x_ tapi_trunk &amp; $5"))
    \<b>a\|b\</b> \_x\_ tapi_trunk \&amp; \$5
    """
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(0), " ".join(str(value).split()))
