"""Turn a GEM tracker CSV, as a user downloads it, into user layers.

``python -m layers.importers.gem_user --csv GEM.csv --out my_layers/
[--types gas_pipeline,lng_terminal] [--countries Pakistan,India]
[--bbox minlon,minlat,maxlon,maxlat] [--prefix gem]``

Writes one validated GeoJSON layer per facility type (``gem_gas_pipelines``,
``gem_lng_terminals``, ``gem_gas_power_plants``), each feature carrying
GEM's source link and CC BY 4.0 licence; routes are densified along the
geodesic. Serve them with the built-in layers through
``Catalog.from_dirs(extra_dirs=[out], extra_region=None)`` (the web app's
``MAPSVC_LAYERS_DIRS``), or upload the CSV itself (``/import``, or
``python -m webapp import``), which reads it through :func:`raw_layers_from_text`.

Every row is checked before anything is written: a missing column, a short
or long row, an empty project name, a bad or ragged route, a NaN or
out-of-range coordinate or an unknown status is reported with its row
number and project, and the command exits non-zero. Files are written
atomically (:mod:`layers.atomic`): a full disk never leaves a truncated layer.
Row parsing is :mod:`layers.importers.gem`'s.
"""

import argparse
import csv
import difflib
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import shapely

from geo.geodesic import densify_geodesic
from layers.atomic import atomic_path
from layers.build import write_layer
from layers.catalog import layer_from_document
from layers.errors import BadParameter, ImportFailed, MapError
from layers.importers import gem
from layers.importers.common import ISO3_BY_NAME, dedupe_ids, make_feature, slug
from layers.index import parse_bbox, validate_bbox
from layers.schema import Problem

__all__ = ["LAYER_TYPES", "REQUIRED_COLUMNS", "import_gem", "main", "raw_layers_from_text", "read_rows",
           "select_rows", "type_features"]
REQUIRED_COLUMNS = ("project", "type", "owner", "countries", "status", "start_year", "capacity", "units", "lat",
                    "lng", "route", "url")

# GEM ``type`` -> (layer name suffix, schema kind, title)
LAYER_TYPES = {
    "gas_pipeline": ("gas_pipelines", "gas_pipeline", "gas pipelines"),
    "lng_terminal": ("lng_terminals", "lng_terminal", "LNG terminals"),
    "gas_power_plant": ("gas_power_plants", "power_plant", "gas power plant units"),
}
DEFAULT_MAX_SEGMENT_KM = 10.0
_ID_CHARS = 120


def _split(text):
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _check_types(types):
    types = list(types) if types else list(LAYER_TYPES)
    for t in types:
        if t not in LAYER_TYPES:
            raise BadParameter("types", f"unknown GEM type {t!r}; supported: {', '.join(LAYER_TYPES)}",
                               difflib.get_close_matches(t, LAYER_TYPES, n=3))
    return list(dict.fromkeys(types))


def _check_countries(countries, rows):
    """Country names (as GEM spells them) or ISO3 codes -> set of ISO3 codes."""
    if not countries:
        return None
    names = sorted({n.strip() for r in rows for n in r["countries"].split(",") if n.strip()})
    by_code = {ISO3_BY_NAME[n]: n for n in names if n in ISO3_BY_NAME}
    codes = set()
    for c in countries:
        if c in ISO3_BY_NAME:
            codes.add(ISO3_BY_NAME[c])
        elif c.upper() in by_code:
            codes.add(c.upper())
        else:
            raise BadParameter("countries", f"no country {c!r} in the GEM file",
                               difflib.get_close_matches(c, names, n=3))
    return codes


def _row_countries(row):
    """ISO3 codes of a row, ignoring names that are not countries (GEM's joint development areas)."""
    return [ISO3_BY_NAME[n] for n in _split(row["countries"]) if n in ISO3_BY_NAME]


def read_rows(text, name):
    """``(rows, problems)`` of a GEM CSV's text: row dicts carrying their row number in ``_row`` (the
    header is row 1), and a :class:`~layers.schema.Problem` per row of the wrong length.

    Raises ImportFailed naming the file ``name`` when required columns are missing.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFailed(str(name), f"not a GEM tracker CSV: missing column{'s' * (len(missing) > 1)} "
                                      f"{', '.join(missing)} (needs {', '.join(REQUIRED_COLUMNS)})")
    rows, problems = [], []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append(Problem(f"row {number} ({values[0][:60]!r})",
                                    f"has {len(values)} fields; the header has {len(header)}"))
            continue
        rows.append({**dict(zip(header, values)), "_row": number})
    return rows, problems


def _row_name(row):
    return f"row {row['_row']} ({row['project'][:60]!r})"


def _coordinate(row, key, limit):
    text = row[key].strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{key} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{key} {text!r} is not a finite number")
    if not -limit <= value <= limit:
        raise ValueError(f"{key} {value:g} is outside -{limit}..{limit}")
    return value


def _route(text):
    """GEM route text -> geometry, every point checked: 'lat,lng' pairs of finite numbers in range."""
    for segment in filter(None, text.strip().split(";")):
        for point in filter(None, segment.split(":")):
            parts = point.split(",")
            if len(parts) != 2:
                raise ValueError(f"route point {point[:40]!r} is not 'lat,lng'")
            _coordinate({"lat": parts[0], "lng": parts[1]}, "lat", 90)
            _coordinate({"lat": parts[0], "lng": parts[1]}, "lng", 180)
    try:
        return gem.parse_route(text)
    except ImportFailed as exc:
        raise ValueError(f"route: {exc.problem}") from None


def _row_geometry(row, gem_type):
    """The row's geometry, None when it has no coordinates; ValueError naming what is wrong."""
    if not row["project"].strip():
        raise ValueError("empty project name")
    gem.normalise_status(row["status"])  # ImportFailed for an unknown status
    if gem_type == "gas_pipeline":
        return _route(row["route"]) if row["route"].strip() else None
    if not row["lat"].strip() and not row["lng"].strip():
        return None
    return shapely.points(_coordinate(row, "lng", 180), _coordinate(row, "lat", 90))


def select_rows(rows, *, gem_type, countries=None, bbox=None, max_segment_km=DEFAULT_MAX_SEGMENT_KM):
    """Rows of one GEM type with a usable geometry, filtered; returns ``(rows, geometries, skipped, problems)``.

    ``countries`` is a set of ISO3 codes (a row matches if it lies in any),
    ``bbox`` a lon/lat box the geometry must intersect. Routes are densified
    along the geodesic first, so the box is tested against the line the
    layer will hold. ``skipped`` counts rows without coordinates;
    ``problems`` lists the rows refused, by row number and project.
    """
    picked, geoms, skipped, problems = [], [], 0, []
    box = shapely.box(*validate_bbox(bbox)) if bbox is not None else None
    for row in rows:
        if row["type"] != gem_type:
            continue
        if countries is not None and not countries.intersection(_row_countries(row)):
            continue
        try:
            geom = _row_geometry(row, gem_type)
        except (ValueError, ImportFailed) as exc:
            problems.append(Problem(_row_name(row), exc.problem if isinstance(exc, ImportFailed) else str(exc)))
            continue
        if geom is None:
            skipped += 1
            continue
        picked.append(row)
        geoms.append(geom)
    geoms = np.array(geoms, dtype=object)
    if gem_type == "gas_pipeline" and len(geoms):
        geoms = densify_geodesic(geoms, max_segment_km=max_segment_km)
    if box is not None and len(geoms):
        keep = shapely.intersects(geoms, box)
        picked = [r for r, k in zip(picked, keep) if k]
        geoms = geoms[keep]
    return picked, geoms, skipped, problems


def type_features(rows, geoms, *, gem_type, max_segment_km=DEFAULT_MAX_SEGMENT_KM):
    """Feature dicts for rows of one GEM type (pipelines densified on the geodesic)."""
    _, kind, _ = LAYER_TYPES[gem_type]
    features = []
    for row, geom in zip(rows, geoms):
        unit = (row.get("unit") or "").strip()
        # ids are capped at 128 characters by the schema; leave room for a _N suffix
        fid = slug(f"{row['project']} {unit}")[:_ID_CHARS].rstrip("_") or "feature"
        # countries checked per row; names that are not countries are dropped
        clean = {**row, "countries": ", ".join(n for n in _split(row["countries"]) if n in ISO3_BY_NAME)}
        try:
            if gem_type == "gas_pipeline":
                # the geometry is densified already (select_rows, all routes at once): not again per route;
                # its quality is judged on the route as GEM gives it, not on the densified line
                quality, count, longest = gem.route_quality(gem.parse_route(row["route"]))
                props = gem._base_properties(clean, fid, "gas_pipeline", quality)
                if quality == "approximate":
                    props.update(source_vertex_count=count, source_longest_segment_km=longest)
                props["name"] = row["project"] + (f" ({unit})" if unit else "")
                feat = make_feature(geom, props)
            else:
                feat = gem.point_feature(clean, kind=kind, fid=fid)
        except ImportFailed as exc:
            raise ImportFailed(f"GEM {_row_name(row)}", exc.problem) from None
        features.append(feat)
    return dedupe_ids(features)


def _layer_document(layer_id, gem_type, features, *, source, filters):
    _, _, title = LAYER_TYPES[gem_type]
    where = "; ".join(f"{k}: {v}" for k, v in filters.items() if v) or "no filter"
    meta = {
        "id": layer_id,
        "title": f"GEM {title}",
        "description": f"Global Energy Monitor Asia Gas Tracker {title} imported from {Path(source).name} "
                       f"({where}).",
        "attribution": gem.GEM_ATTRIBUTION,
        "licence": "CC BY 4.0",
        "style": {"color": None},
        "generated_by": "python -m layers.importers.gem_user",
    }
    return {"type": "FeatureCollection", "metadata": meta, "features": features}


def import_gem(csv_path, out_dir, *, types=None, countries=None, bbox=None, prefix="gem",
               max_segment_km=DEFAULT_MAX_SEGMENT_KM):
    """Write one validated user layer per GEM type into ``out_dir``.

    ``types``: GEM types (default all of :data:`LAYER_TYPES`);
    ``countries``: GEM country names or ISO3 codes; ``bbox``: lon/lat box
    (tuple or text). Returns ``{layer_id: {"path", "features", "skipped"}}``.
    A type with no matching row writes no file.
    """
    types = _check_types(types)
    if not slug(prefix) == prefix:
        raise BadParameter("prefix", f"{prefix!r} must be lower-case letters, digits and _")
    if isinstance(bbox, str):
        bbox = parse_bbox(bbox)
    bbox = validate_bbox(bbox) if bbox is not None else None
    try:
        text = Path(csv_path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed(str(csv_path), f"cannot read: {exc}") from None
    rows, problems = read_rows(text, csv_path)
    codes = _check_countries(countries, rows)
    out_dir = Path(out_dir)
    planned = []
    for gem_type in types:  # check every row of every type before writing anything
        picked, geoms, skipped, found = select_rows(rows, gem_type=gem_type, countries=codes, bbox=bbox,
                                                    max_segment_km=max_segment_km)
        problems += found
        planned.append((gem_type, picked, geoms, skipped))
    if problems:
        listed = "; ".join(f"{p.feature}: {p.problem}" for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ImportFailed(str(csv_path), f"{len(problems)} rows refused: {listed}{more}; nothing written")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {}
    for gem_type, picked, geoms, skipped in planned:
        if not picked:
            continue
        layer_id = f"{prefix}_{LAYER_TYPES[gem_type][0]}"
        features = type_features(picked, geoms, gem_type=gem_type, max_segment_km=max_segment_km)
        filters = {"countries": ", ".join(countries or ()), "bbox": bbox and ",".join(f"{v:g}" for v in bbox)}
        path = out_dir / f"{layer_id}.geojson"
        doc = _layer_document(layer_id, gem_type, features, source=csv_path, filters=filters)
        layer_from_document(json.loads(json.dumps(doc)), path, region=None, builtin=False)  # validate first
        with atomic_path(path) as tmp:
            write_layer(doc, tmp)
        report[layer_id] = {"path": path, "features": len(features), "skipped": skipped}
    return report


def raw_layers_from_text(text, name, *, prefix="gem", only=None):
    """The GEM CSV ``text`` (uploaded as ``name``) as raw layers, one per GEM type, for the import preview.

    Each carries the importer's own metadata and schema properties; refused
    rows are listed as problems by row number. ``only``: just that layer
    (``gas_pipelines``, ``lng_terminals``, ``gas_power_plants``).
    """
    from layers.importers.formats import RawLayer

    try:
        rows, problems = read_rows(text, name)
    except ImportFailed as exc:
        raise ImportFailed(str(name), exc.problem) from None
    layers = []
    for gem_type, (suffix, _, _) in LAYER_TYPES.items():
        if only is not None and suffix != only:
            continue
        picked, geoms, skipped, found = select_rows(rows, gem_type=gem_type)
        if not picked and not found:
            continue
        layer_id = f"{prefix}_{suffix}"
        features = type_features(picked, geoms, gem_type=gem_type)
        meta = _layer_document(layer_id, gem_type, [], source=name, filters={})["metadata"]
        meta.pop("generated_by", None)
        texts = np.array([json.dumps(f["geometry"]) for f in features], dtype=object)
        layers.append(RawLayer(
            name=suffix, fmt="gem", properties=[f["properties"] for f in features],
            geometries=np.asarray(shapely.from_geojson(texts), dtype=object) if len(texts) else np.array([]),
            labels=[_row_name(r) for r in picked], crs="EPSG:4326", meta=meta,
            notes=[f"{skipped} rows without coordinates skipped"] if skipped else [], problems=problems + found))
    return layers


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m layers.importers.gem_user", description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, type=Path, help="GEM tracker CSV as downloaded")
    parser.add_argument("--out", required=True, type=Path, help="folder for the user layers")
    parser.add_argument("--types", default=",".join(LAYER_TYPES),
                        help=f"comma-separated GEM types (default: {','.join(LAYER_TYPES)})")
    parser.add_argument("--countries", default="", help="comma-separated GEM country names or ISO3 codes")
    parser.add_argument("--bbox", default=None, help="minlon,minlat,maxlon,maxlat: keep features touching it")
    parser.add_argument("--prefix", default="gem", help="layer id prefix (default gem)")
    parser.add_argument("--max-segment-km", type=float, default=DEFAULT_MAX_SEGMENT_KM,
                        help="densify routes along the geodesic to this step (km)")
    args = parser.parse_args(argv)
    try:
        report = import_gem(args.csv, args.out, types=_split(args.types), countries=_split(args.countries),
                            bbox=args.bbox, prefix=args.prefix, max_segment_km=args.max_segment_km)
    except MapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not report:
        print("no GEM rows matched the filters; nothing written", file=sys.stderr)
        return 1
    for layer_id, info in report.items():
        note = f"  ({info['skipped']} rows without coordinates skipped)" if info["skipped"] else ""
        size_kb = info["path"].stat().st_size / 1024
        print(f"{layer_id:28s} {info['features']:5d} features  {size_kb:9.1f} KB  {info['path']}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
