"""A machine-readable changelog of corrections: every fact changed and position moved between two layer sets.

``python -m layers.changelog --old OLD_DIR --new data/layers --out data/corrections_2026-12.csv``

Compares the layer files of two builds feature by feature (by layer and
id) and writes one CSV row per change: ``layer, feature, field, old, new,
as_of, source_title, source_url, moved_km``. Statuses, capacities, lengths,
geometry quality, countries, owners and the dated ``facts`` are compared;
a point's position change is measured geodesically (km on WGS84), a
line's by how far its two ends moved. Features added or removed are rows
of their own (field ``feature``). The source of a row is the newest cited
source for that field in the new layer (status history, facts, reference
point or the feature's first source). The CSV is written with the
standard library's ``csv`` module.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

import shapely

from geo.geodesic import distance_km, geodesic_length_km

__all__ = ["COLUMNS", "FIELDS", "changes", "main"]

COLUMNS = ("layer", "feature", "field", "old", "new", "as_of", "source_title", "source_url", "moved_km")
# properties compared as facts; old property names that became dated facts map to the facts field
FIELDS = ("name", "status", "kind", "countries", "capacity", "capacity_unit", "reported_length_km",
          "geometry_quality", "operator", "owner", "parent", "start_year", "licence")
OLD_AS_FACT = {"cost_usd_bn": "cost", "partners": "partners", "agreement": "ownership"}
MOVE_KM = 0.5  # positions that moved less than this are rounding, not corrections


def _load(folder):
    out = {}
    for path in sorted(Path(folder).glob("*.geojson")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        out[doc["metadata"]["id"]] = {f["properties"]["id"]: f for f in doc["features"]}
    return out


def _text(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _source_for(props, field):
    """(as_of, title, url) of the newest source the new feature cites for ``field``."""
    if field == "status" and props.get("status_history"):
        entry = props["status_history"][-1]
        return entry["date"], entry["source"]["title"], entry["source"]["url"]
    facts = [f for f in props.get("facts") or [] if f["field"] == field]
    if facts:
        fact = facts[-1]
        return fact["as_of"], fact["source"]["title"], fact["source"]["url"]
    if field == "position" and props.get("reference_point"):
        src = props["reference_point"]["source"]
        return props.get("as_of", ""), src["title"], src["url"]
    src = (props.get("sources") or [{}])[-1 if field == "position" else 0]
    return props.get("as_of", ""), src.get("title", ""), src.get("url", "")


def _ends(geom):
    xy = shapely.get_coordinates(geom)
    return xy[[0, -1]]


def _moved_km(old_geom, new_geom):
    """Geodesic km a point moved, or the larger of the distances a line's two ends moved."""
    a, b = _ends(old_geom), _ends(new_geom)
    return float(max(distance_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1])))


def _row(layer, fid, field, old, new, props, moved=""):
    as_of, title, url = _source_for(props, field.removeprefix("facts."))
    return {"layer": layer, "feature": fid, "field": field, "old": _text(old), "new": _text(new), "as_of": as_of,
            "source_title": title, "source_url": url, "moved_km": moved}


def _feature_changes(layer, fid, old, new):
    rows = []
    po, pn = old["properties"], new["properties"]
    for field in FIELDS:
        if _text(po.get(field)) != _text(pn.get(field)):
            rows.append(_row(layer, fid, field, po.get(field), pn.get(field), pn))
    newest = {}
    for fact in pn.get("facts") or []:
        newest[fact["field"]] = fact
    old_facts = {OLD_AS_FACT[k]: f"{_text(v)} ({k})" for k, v in po.items() if k in OLD_AS_FACT}
    for field, fact in sorted(newest.items()):
        old_value = {f["field"]: f for f in po.get("facts") or []}.get(field, {}).get("value", old_facts.get(field))
        if _text(old_value) != _text(fact["value"]):
            rows.append(_row(layer, fid, f"facts.{field}", old_value, fact["value"], {**pn, "facts": [fact]}))
    og, ng = shapely.geometry.shape(old["geometry"]), shapely.geometry.shape(new["geometry"])
    moved = _moved_km(og, ng)
    if moved >= MOVE_KM:
        what = "position" if ng.geom_type == "Point" else "geometry (ends)"
        old_pos, new_pos = (f"{g.y:.5f},{g.x:.5f}" if g.geom_type == "Point" else
                            f"{float(geodesic_length_km([g])[0]):.1f} km" for g in (og, ng))
        rows.append({**_row(layer, fid, "position", old_pos, new_pos, pn), "field": what,
                     "moved_km": f"{moved:.1f}"})
    return rows


def _first_url(feature):
    return ((feature["properties"].get("sources") or [{}])[0]).get("url")


def _successors(feature, old_layer, new):
    """New features carrying the removed feature's project (same first source), as ``layer:id`` refs."""
    url, old_id = _first_url(feature), feature["properties"]["id"]
    return [f"{lid}:{fid}" for lid, feats in sorted(new.items()) for fid, f in sorted(feats.items())
            if ((url and _first_url(f) == url) or fid == old_id) and not (lid == old_layer and fid == old_id)]


def changes(old_dir, new_dir):
    """Changelog rows (dicts with :data:`COLUMNS`) from the layers in ``old_dir`` to those in ``new_dir``."""
    old, new = _load(old_dir), _load(new_dir)
    rows = []
    for layer in sorted(set(old) | set(new)):
        of, nf = old.get(layer, {}), new.get(layer, {})
        for fid in sorted(set(of) | set(nf)):
            if fid not in nf:
                after = _successors(of[fid], layer, new)
                rows.append({**dict.fromkeys(COLUMNS, ""), "layer": layer, "feature": fid, "field": "feature",
                             "old": "present", "new": "removed" + (f"; now {', '.join(after)}" if after else "")})
            elif fid not in of:
                rows.append(_row(layer, fid, "feature", None, "added", nf[fid]["properties"]))
            elif layer != "boundaries":
                rows += _feature_changes(layer, fid, of[fid], nf[fid])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m layers.changelog", description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="folder of the layers before the corrections")
    parser.add_argument("--new", type=Path, default=Path("data/layers"), help="folder of the corrected layers")
    parser.add_argument("--out", type=Path, default=None, help="CSV file to write (default: standard output)")
    args = parser.parse_args(argv)
    rows = changes(args.old, args.new)
    out = args.out.open("w", encoding="utf-8", newline="") if args.out else sys.stdout
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if args.out:
        out.close()
        print(f"{len(rows)} changes written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
