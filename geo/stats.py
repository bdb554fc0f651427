"""Per-feature and per-layer route statistics.

All lengths in km and areas in km² on the WGS84 ellipsoid, measured on the
full (never simplified) geometry. Inputs are GeoDataFrames in EPSG:4326
with the layer schema's ``id``, ``name``, ``kind``, ``status``,
``reported_length_km``. Lines are read as logical parts
(:func:`geo.topology.dense_lines`: an RFC 7946 antimeridian split is one
part); each summary counts points, sums lines in km and polygons in km².
"""

import math
import re

import numpy as np
import pandas as pd
import shapely

from geo.countries import boundaries_for, country_runs, crossings_from_runs, lengths_from_runs
from geo.geodesic import as_geometry_array, distance_km, geodesic_area_km2, geodesic_length_km
from geo.topology import dense_lines
from layers.schema import latest_status

__all__ = [
    "STAT_COLUMNS", "part_sinuosity", "feature_stats", "layer_summary", "records", "layer_stats", "flat_table",
    "format_stats", "markdown_text",
]

STAT_COLUMNS = [
    "id", "name", "kind", "status",
    "geodesic_length_km", "reported_length_km", "length_ratio", "straight_line_km", "sinuosity",
    "length_by_country_km", "border_crossings", "vertex_count",
    # Added later; kept at the end so the earlier columns keep their positions in CSV and Markdown.
    "status_as_of", "status_source_title", "status_source_url", "geometry_quality",
    "sinuosity_by_part", "area_km2",
]


def _column(gdf, name, default=None):
    return gdf[name] if name in gdf else pd.Series(default, index=gdf.index, dtype=object)


def part_sinuosity(geoms):
    """Sinuosity of each logical line part, and the straight line of each geometry's longest part.

    Returns ``(per_part, weighted, straight_km)``: ``per_part`` a list per
    geometry of part length / straight line between the part's ends (NaN
    for a closed part); ``weighted`` the length-weighted mean of the finite
    ones (NaN when none); ``straight_km`` the ends' distance of the longest
    part (NaN without a line).
    """
    geoms = as_geometry_array(geoms)
    dense = dense_lines(geoms)
    n = len(geoms)
    per_part = [[] for _ in range(n)]
    weighted, straight_km = np.full(n, np.nan), np.full(n, np.nan)
    if len(dense.part_owner) == 0:
        return per_part, weighted, straight_km
    first = np.r_[0, np.flatnonzero(np.diff(dense.part)) + 1]
    last = np.r_[first[1:] - 1, len(dense.part) - 1]
    a, b = dense.coords[first], dense.coords[last]
    straight = distance_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    length = dense.part_length_km
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(straight > 1e-9, length / straight, np.nan)
    finite = np.isfinite(ratio)
    owner = dense.part_owner
    num = np.bincount(owner[finite], weights=(length * ratio)[finite], minlength=n)
    den = np.bincount(owner[finite], weights=length[finite], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        weighted = np.where(den > 0, num / den, np.nan)
    for o, r in zip(owner, ratio):  # one entry per part: a handful per feature
        per_part[o].append(None if not np.isfinite(r) else round(float(r), 4))
    order = np.lexsort((length, owner))  # each geometry's longest part comes last
    last_of = order[np.r_[owner[order][1:] != owner[order][:-1], True]]
    straight_km[owner[last_of]] = straight[last_of]
    return per_part, weighted, straight_km


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
    ``sinuosity`` the length-weighted mean of ``sinuosity_by_part`` (each
    logical part's length / the straight line between its ends; NaN for
    points and polygons); ``straight_line_km`` the straight line of the
    longest part; ``area_km2`` the geodesic area of polygons;
    ``length_by_country_km`` maps ISO alpha-3 (or 'outside' / 'unmapped')
    to km and adds up to the length; ``border_crossings`` lists {part,
    from, to, lon, lat, chainage_km} (km along that part).
    """
    geoms = as_geometry_array(gdf)
    types = shapely.get_type_id(geoms)
    is_line = np.isin(types, (1, 5))
    is_poly = np.isin(types, (3, 6))
    length = geodesic_length_km(geoms)
    by_part, sinuosity, straight = part_sinuosity(geoms)
    area = np.array([geodesic_area_km2(g) if p else np.nan for g, p in zip(geoms, is_poly)], dtype=float)
    reported = pd.to_numeric(_column(gdf, "reported_length_km"), errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reported > 0, length / reported, np.nan)
    ids = gdf["id"].to_numpy(dtype=object)
    by_country = {fid: {} for fid in ids}
    crossings = {fid: [] for fid in ids}
    lines = gdf[is_line]
    if len(lines) and boundaries is not None:
        runs = country_runs(lines, boundaries)
        for row in lengths_from_runs(runs).itertuples(index=False):
            by_country[row.feature_id][row.country] = round(float(row.length_km), 3)
        for row in crossings_from_runs(runs).itertuples(index=False):
            crossings[row.feature_id].append({
                "part": int(row.part), "from": row.from_country, "to": row.to_country, "lon": float(row.lon),
                "lat": float(row.lat), "chainage_km": float(row.chainage_km),
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
        "sinuosity": np.where(is_line, sinuosity, np.nan).round(4),
        "length_by_country_km": [by_country[f] for f in ids],
        "border_crossings": [crossings[f] for f in ids],
        "vertex_count": shapely.get_num_coordinates(geoms),
        "status_as_of": [d[0] for d in dating],
        "status_source_title": [d[1] for d in dating],
        "status_source_url": [d[2] for d in dating],
        "geometry_quality": _column(gdf, "geometry_quality").to_numpy(dtype=object),
        "sinuosity_by_part": [p if line else [] for p, line in zip(by_part, is_line)],
        "area_km2": np.round(area, 1),
    })


def _group_totals(stats, key):
    """Per group: features (all), points, lines, polygons, km of the lines, km² of the polygons."""
    frame = stats.assign(
        _line=stats["geodesic_length_km"].notna(), _poly=stats["area_km2"].notna() if "area_km2" in stats else False)
    frame = frame.assign(_point=~frame["_line"] & ~frame["_poly"])
    out = {}
    for k, group in frame.groupby(key, dropna=False):
        out[str(k)] = {"features": int(len(group)), "points": int(group["_point"].sum()),
                       "lines": int(group["_line"].sum()), "polygons": int(group["_poly"].sum()),
                       "length_km": round(float(group["geodesic_length_km"].sum()), 3),
                       "area_km2": round(float(group["area_km2"].sum()), 1) if "area_km2" in group else 0.0}
    return out


def layer_summary(stats):
    """Totals of a :func:`feature_stats` table by status, by kind (counts, km, km²) and by country (km)."""
    by_country = {}
    for mapping in stats["length_by_country_km"]:
        for code, km in mapping.items():
            by_country[code] = round(by_country.get(code, 0.0) + km, 3)
    total = stats["geodesic_length_km"].sum(min_count=1)
    area = stats["area_km2"].sum(min_count=1) if "area_km2" in stats else np.nan
    return {
        "features": int(len(stats)),
        "line_features": int(stats["geodesic_length_km"].notna().sum()),
        "total_length_km": None if pd.isna(total) else round(float(total), 3),
        "total_area_km2": None if pd.isna(area) else round(float(area), 1),
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
        return feature_stats(catalog.layer(layer_id).gdf, boundaries_for(catalog))

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
        "; ".join(f"{x['from']}>{x['to']} @{x['chainage_km']:.1f} km" + (f" (part {x['part']})" if x["part"] else "")
                  for x in xs) for xs in stats["border_crossings"]
    ]
    flat["sinuosity_by_part"] = [
        "; ".join("" if v is None else f"{v:.3f}" for v in parts) if len(parts) > 1 else ""
        for parts in stats["sinuosity_by_part"]
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
        if col in table:
            table[col] = [("" if pd.isna(v) else f"{v:.{digits}f}") for v in table[col]]
    table = table.fillna("")
    if fmt == "md":
        head = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
        body = "".join("| " + " | ".join(markdown_text(v) for v in row) + " |\n"
                       for row in table.itertuples(index=False))
        return head + body
    if fmt == "table":
        return table.to_string(index=False)
    raise ValueError(f"unknown format {fmt!r}")


_DIGITS = {"geodesic_length_km": 1, "reported_length_km": 1, "length_ratio": 3, "straight_line_km": 1, "sinuosity": 3,
           "area_km2": 1}


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
