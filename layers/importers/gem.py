"""Global Energy Monitor, Asia Gas Tracker (May 2024) CSV -> layer features.

GEM ``route``: segments separated by ``;``, points by ``:``, each point
``lat,lng`` (latitude first). A multi-segment route is a MultiLineString.
Sparse routes are densified along the geodesic so they draw as the true
shortest path. Licence: CC BY 4.0, "Global Energy Monitor, Asia Gas
Tracker, May 2024".
"""

import csv
from pathlib import Path

import numpy as np
import shapely

from geo.geodesic import densify_geodesic, distance_km
from layers.errors import ImportFailed
from layers.importers.common import iso3_list, make_feature, slug
from layers.schema import APPROXIMATE_SEGMENT_KM

__all__ = [
    "GEM_ATTRIBUTION",
    "GEM_LICENCE",
    "read_gem",
    "parse_route",
    "normalise_status",
    "pipeline_feature",
    "point_feature",
    "plant_summary",
    "route_quality",
    "start_year",
]

GEM_ATTRIBUTION = "Global Energy Monitor, Asia Gas Tracker, May 2024 (CC BY 4.0)"
GEM_LICENCE = "CC BY 4.0 (Global Energy Monitor)"
_STATUS = {"construction": "construction", "proposed": "proposed", "operating": "operating",
           "shelved": "shelved", "cancelled": "cancelled", "mothballed": "mothballed", "retired": "retired",
           # GEM's "proposed_plus" map group includes pre-construction (power plant units)
           "pre-construction": "proposed"}


def read_gem(path):
    """Read the GEM CSV into a list of row dicts (BOM-safe)."""
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def normalise_status(status):
    """'construction_plus' -> 'construction' (the suffix is GEM's map grouping)."""
    base = status.strip().removesuffix("_plus")
    if base not in _STATUS:
        raise ImportFailed("GEM status", f"unknown status {status!r}")
    return _STATUS[base]


def parse_route(route):
    """GEM route text -> LineString or MultiLineString in lon/lat."""
    parts = []
    for segment in filter(None, route.strip().split(";")):
        latlon = np.array([[float(v) for v in p.split(",")] for p in segment.split(":") if p], dtype=float)
        if len(latlon) < 2:
            raise ImportFailed("GEM route", f"segment with fewer than two points: {segment[:60]!r}")
        parts.append(latlon[:, ::-1])
    if not parts:
        raise ImportFailed("GEM route", "empty route")
    if len(parts) == 1:
        return shapely.linestrings(parts[0])
    return shapely.multilinestrings([shapely.linestrings(p) for p in parts])


def _capacity(row):
    try:
        value = float(row["capacity"])
    except (TypeError, ValueError):
        return None, None
    return value, (row["units"].strip() or None)


def start_year(row):
    """GEM ``start_year`` as an int year, or None (the tracker's map export writes '2' for unknown years)."""
    text = (row.get("start_year") or "").strip()
    try:
        year = int(float(text))
    except ValueError:
        return None
    return year if 1800 <= year <= 2100 else None


def route_quality(geom):
    """``(quality, vertex count, longest segment km)`` of a source route, before any densifying.

    A route given only by its two end points, or with a straight run longer
    than :data:`layers.schema.APPROXIMATE_SEGMENT_KM` (geodesic km), is
    'approximate': it does not follow a mapped alignment. Otherwise 'traced'.
    """
    longest, count, two_point = 0.0, 0, False
    for part in shapely.get_parts(geom):
        xy = shapely.get_coordinates(part)
        count += len(xy)
        two_point |= len(xy) == 2
        if len(xy) > 1:
            longest = max(longest, float(np.max(distance_km(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]))))
    quality = "approximate" if (two_point or longest > APPROXIMATE_SEGMENT_KM) else "traced"
    return quality, count, round(longest, 1)


def _source(row):
    return [{"title": f"Global Energy Monitor, Asia Gas Tracker, May 2024: {row['project']}", "url": row["url"]}]


def _base_properties(row, fid, kind, quality):
    capacity, unit = _capacity(row)
    return {
        "id": fid,
        "name": row["project"] + (f" ({row['unit']})" if row.get("unit") and kind != "gas_pipeline" else ""),
        "kind": kind,
        "status": normalise_status(row["status"]),
        "countries": iso3_list(row["countries"]),
        "reported_length_km": None,
        "capacity": capacity,
        "capacity_unit": unit,
        "geometry_quality": quality,
        "sources": _source(row),
        "licence": GEM_LICENCE,
        "owner": row["owner"].strip() or None,
        "parent": (row.get("parent") or "").strip() or None,  # GEM's ownership chain with shares
        "start_year": start_year(row),
    }


def pipeline_feature(row, *, fid=None, geometry=None, source_geometry=None, max_segment_km=10.0, **extra):
    """One gas-pipeline Feature dict from a GEM row (route densified on the geodesic).

    ``geometry`` (default: the row's route) is what is drawn; its quality is
    judged on ``source_geometry`` (default: ``geometry``), the route as the
    source gave it, so densifying never turns an approximate route into a
    traced one. Approximate routes keep ``source_vertex_count`` and
    ``source_longest_segment_km``.
    """
    geom = geometry if geometry is not None else parse_route(row["route"])
    quality, count, longest = route_quality(source_geometry if source_geometry is not None else geom)
    geom = densify_geodesic([geom], max_segment_km=max_segment_km)[0]
    props = _base_properties(row, fid or slug(row["project"]), "gas_pipeline", quality)
    if quality == "approximate":
        props.update(source_vertex_count=count, source_longest_segment_km=longest)
    props.update(extra)
    return make_feature(geom, props)


def point_feature(row, *, kind, fid=None, **extra):
    """One point Feature dict (LNG terminal, plant unit) from a GEM row."""
    geom = shapely.points(float(row["lng"]), float(row["lat"]))
    fid = fid or slug(f"{row['project']} {row.get('unit') or ''}")
    props = _base_properties(row, fid, kind, "point")
    props.update(extra)
    return make_feature(geom, props)


def plant_summary(rows, project):
    """Summarise all units of one GEM plant: location, operating capacity, status.

    Capacity is the sum over units that are operating or under construction
    (MW); status is 'operating' when any unit operates.
    """
    units = [r for r in rows if r["project"] == project]
    if not units:
        raise ImportFailed("GEM plant lookup", f"no GEM row named {project!r}")
    statuses = [normalise_status(u["status"]) for u in units]
    live = [
        float(u["capacity"]) for u, s in zip(units, statuses) if s in ("operating", "construction") and u["capacity"]
    ]
    status = next((s for s in ("operating", "construction", "mothballed", "retired") if s in statuses), statuses[0])
    return {
        "lon": float(units[0]["lng"]),
        "lat": float(units[0]["lat"]),
        "capacity": round(sum(live), 3) if live else None,
        "capacity_unit": units[0]["units"] or "MW",
        "status": status,
        "url": units[0]["url"],
        "owner": units[0]["owner"] or None,
        "parent": units[0].get("parent") or None,
        "units": len(units),
        "unit_status": [(u.get("unit") or "", s, float(u["capacity"]) if u["capacity"] else None)
                        for u, s in zip(units, statuses)],
    }
