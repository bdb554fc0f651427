"""Audit the built-in layers: stale facts, non-canonical sources, misplaced features, attribution gaps.

``python -m layers.audit [--max-age-days 1095] [--settled-max-age-days 3650]
[--today YYYY-MM-DD] [--layers-dir DIR] [--waivers FILE] [--format text|json]``

Checks, per feature of every layer (built-in layers date their facts, see
the README's "Dated facts"):

- ``stale``: the feature's ``as_of`` (its newest confirming source) and the
  newest fact of each ``facts`` field are older than ``--max-age-days``, or
  ``--settled-max-age-days`` for a settled status (operating, retired,
  cancelled: less likely to change than a proposal). Dates of reduced
  precision count from their first day.
- ``source``: a cited URL is a mirror, forum, blog or copy site
  (:data:`layers.sources.NON_CANONICAL`).
- ``position``: the feature lies farther from its ``reference_point`` than
  that point's ``max_km`` (geodesic km on WGS84; for a line, its nearest vertex).
- ``attribution``: a feature's licence names no licence, or its layer does
  not credit a dataset the feature cites, or a layer reference does not
  resolve, or a file in ``data/raw/`` is not listed in ``data/SOURCES.md``.

A finding listed in the waivers file (``data/raw/audit_waivers.toml``: the
feature, the check, why, and the date the waiver ends) is reported as waived
until that date. Exit status: 0 when every finding is waived, 1 otherwise,
2 when a layer cannot be read.
"""

import argparse
import datetime as dt
import json
import re
import sys
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import shapely

from geo.geodesic import distance_km
from layers.catalog import BUILTIN_LAYERS_DIR, DATA_DIR, read_layer_file
from layers.errors import MapError
from layers.schema import date_bounds
from layers.sources import cited, dataset_of, non_canonical_reason

__all__ = ["SETTLED", "Finding", "audit_layers", "raw_inputs_missing", "load_waivers", "main"]

SETTLED = ("operating", "retired", "cancelled")
WAIVERS = DATA_DIR / "raw" / "audit_waivers.toml"
SOURCES_MD = DATA_DIR / "SOURCES.md"
RAW_DIR = DATA_DIR / "raw"
_LICENCE_WORDS = re.compile(r"CC BY|CC0|Public domain|ODbL|OGL|licen[cs]e", re.I)


@dataclass(frozen=True)
class Finding:
    """One audit finding: where, which check, what is wrong; ``waived`` holds the waiver's reason and end date."""

    layer: str
    feature: str | None
    check: str
    message: str
    field: str | None = None
    waived: str | None = None

    @property
    def ref(self):
        return f"{self.layer}:{self.feature}" if self.feature else self.layer


def _age_days(text, today):
    bounds = date_bounds(text)
    return None if bounds is None else (today - bounds[0]).days


def _stale(layer_id, props, today, max_age, settled_age):
    status = props.get("status")
    if status is None:
        return []
    limit = settled_age if status in SETTLED else max_age
    out = []
    age = _age_days(props.get("as_of"), today)
    if age is not None and age > limit:
        out.append(Finding(layer_id, props["id"], "stale", f"status {status!r} last confirmed {props['as_of']} "
                           f"({age} days ago, limit {limit})", field="as_of"))
    newest = {}
    for fact in props.get("facts") or []:
        first = date_bounds(fact.get("as_of"))
        if first and (fact["field"] not in newest or first[0] > newest[fact["field"]][0]):
            newest[fact["field"]] = (first[0], fact["as_of"])
    for field, (_, as_of) in sorted(newest.items()):
        age = _age_days(as_of, today)
        if age > limit:
            out.append(Finding(layer_id, props["id"], "stale", f"newest {field!r} figure dates from {as_of} "
                               f"({age} days ago, limit {limit})", field=field))
    return out


def _sources(layer_id, props):
    out = []
    for url, title in cited(props):
        why = non_canonical_reason(url)
        if why:
            out.append(Finding(layer_id, props["id"], "source", f"{url} is {why} ({title[:60]!r}); cite the "
                               "canonical page", field=url))
    return list({f.field: f for f in out}.values())


def _position(layer_id, props, geom):
    ref = props.get("reference_point")
    if not isinstance(ref, dict) or geom is None or geom.is_empty:
        return []
    xy = shapely.get_coordinates(geom)
    off = float(np.min(distance_km(xy[:, 0], xy[:, 1], float(ref["lon"]), float(ref["lat"]))))
    if off <= float(ref["max_km"]):
        return []
    return [Finding(layer_id, props["id"], "position", f"{off:.1f} km from its reference point "
                    f"{ref['lat']:.4f}N {ref['lon']:.4f}E (tolerance {ref['max_km']:g} km, per "
                    f"{ref['source'].get('title', '')[:60]!r})")]


def _attribution(layer_id, meta, props):
    out = []
    if not _LICENCE_WORDS.search(str(props.get("licence") or "")):
        out.append(Finding(layer_id, props["id"], "attribution", f"licence {props.get('licence')!r} names no licence"))
    for url, title in cited(props):
        found = dataset_of(url, title)
        if found and found[1] not in meta["attribution"]:
            out.append(Finding(layer_id, props["id"], "attribution", f"cites {found[0]} ({url}) but the layer's "
                               f"attribution does not credit {found[1]!r}", field=found[0]))
    return list({(f.message if f.field is None else f.field): f for f in out}.values())


def raw_inputs_missing(raw_dir=RAW_DIR, sources_md=SOURCES_MD):
    """Files in ``data/raw/`` that ``data/SOURCES.md`` does not name (each must carry licence and release date)."""
    text = Path(sources_md).read_text(encoding="utf-8")
    return sorted(p.name for p in Path(raw_dir).iterdir() if p.is_file() and f"raw/{p.name}`" not in text)


def audit_layers(layers, *, today, max_age_days=1095, settled_max_age_days=3650):
    """Findings for ``layers``: ``{layer_id: (metadata, [(properties, shapely geometry)])}``."""
    findings, known = [], {lid: {p["id"] for p, _ in feats} for lid, (_, feats) in layers.items()}
    for layer_id, (meta, feats) in layers.items():
        for ref in meta.get("references", []):
            target, _, fid = ref.partition(":")
            if fid not in known.get(target, ()):
                findings.append(Finding(layer_id, None, "attribution", f"metadata.references names {ref!r}, which "
                                        "is not a feature of the catalogue"))
        for props, geom in feats:
            findings += _stale(layer_id, props, today, max_age_days, settled_max_age_days)
            findings += _sources(layer_id, props)
            findings += _position(layer_id, props, geom)
            findings += _attribution(layer_id, meta, props)
    return findings


def read_layers(layers_dir=BUILTIN_LAYERS_DIR):
    """``{layer_id: (metadata, [(properties, geometry)])}`` of every layer file, each validated first."""
    out = {}
    for path in sorted(Path(layers_dir).glob("*.geojson")):
        layer = read_layer_file(path)  # schema, dates and integrity: a broken file is an error, not a finding
        doc = json.loads(path.read_text(encoding="utf-8"))
        feats = [f["properties"] for f in doc["features"]]
        out[layer.id] = (layer.meta, list(zip(feats, layer.gdf.geometry.to_numpy())))
    return out


def load_waivers(path=WAIVERS):
    """The waivers file as a list of ``{feature, check, field?, reason, until}`` (until: ISO date)."""
    path = Path(path)
    if not path.exists():
        return []
    waivers = tomllib.loads(path.read_text(encoding="utf-8")).get("waiver", [])
    for i, w in enumerate(waivers):
        if not (w.get("feature") and w.get("check") and w.get("reason") and date_bounds(w.get("until"))):
            raise MapError(f"{path}: waiver {i} needs feature, check, reason and until (YYYY-MM-DD)")
    return waivers


def apply_waivers(findings, waivers, today):
    """``findings`` with ``waived`` set where an unexpired waiver matches (feature, check and field if given)."""
    out = []
    for f in findings:
        for w in waivers:
            if (w["feature"] == f.ref and w["check"] == f.check and w.get("field") in (None, f.field)
                    and date_bounds(w["until"])[1] >= today):
                f = Finding(**{**asdict(f), "waived": f"until {w['until']}: {w['reason']}"})
                break
        out.append(f)
    return out


def _report(findings, n_layers, n_features, fmt):
    open_ = [f for f in findings if not f.waived]
    if fmt == "json":
        return json.dumps({"findings": [asdict(f) for f in findings], "open": len(open_),
                           "waived": len(findings) - len(open_)}, indent=2, ensure_ascii=False)
    lines = [f"{f.ref}  {f.check}  {f.message}" for f in open_]
    lines += [f"{f.ref}  {f.check}  {f.message}  [waived {f.waived}]" for f in findings if f.waived]
    lines.append(f"{len(open_)} open findings, {len(findings) - len(open_)} waived, "
                 f"in {n_features} features of {n_layers} layers")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m layers.audit", description=__doc__.splitlines()[0])
    parser.add_argument("--max-age-days", type=int, default=1095, help="facts of projects in flux older than this "
                        "are stale (default 1095, three years)")
    parser.add_argument("--settled-max-age-days", type=int, default=3650, help="the same for operating, retired or "
                        "cancelled features (default 3650)")
    parser.add_argument("--today", default=None, help="audit as of this date (YYYY-MM-DD; default today)")
    parser.add_argument("--layers-dir", type=Path, default=BUILTIN_LAYERS_DIR,
                        help="layer folder (default data/layers)")
    parser.add_argument("--waivers", type=Path, default=WAIVERS,
                        help="waivers file (default data/raw/audit_waivers.toml)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    try:
        today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    except ValueError:
        print(f"error: --today {args.today!r} is not a date YYYY-MM-DD", file=sys.stderr)
        return 2
    try:
        layers = read_layers(args.layers_dir)
        findings = audit_layers(layers, today=today, max_age_days=args.max_age_days,
                                settled_max_age_days=args.settled_max_age_days)
        findings += [Finding("data/raw", name, "attribution", "raw input not listed in data/SOURCES.md (licence and "
                             "release date)") for name in raw_inputs_missing()]
        findings = apply_waivers(findings, load_waivers(args.waivers), today)
    except MapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_features = sum(len(feats) for _, feats in layers.values())
    print(_report(findings, len(layers), n_features, args.format))
    return 1 if any(not f.waived for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
