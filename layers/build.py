"""Regenerate every committed layer in ``data/layers/`` from ``data/raw/``.

``python -m layers.build [--out DIR]``. Deterministic: the same raw inputs
give byte-identical files. Each layer file is a GeoJSON FeatureCollection
with a ``metadata`` member (the catalogue entry) and one feature a line.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from layers.catalog import BUILTIN_LAYERS_DIR, DATA_DIR, read_layer_file
from layers.errors import MapError
from layers.importers import gazetteer, gem, naturalearth, region, region_blocs, region_build
from layers.importers.common import dedupe_ids, slug
from layers.importers.gem_projects import (
    REVIEWED,
    gem_dated,
    iran_pakistan_features,
    north_south_features,
    tapi_features,
)
from layers.integrity import feature_lines, integrity_metadata
from layers.schema import REGION_BBOX
from layers.sources import derive_attribution, derive_layer_licence
from layers.styles import LAYER_COLOURS

__all__ = ["RAW_DIR", "LAYER_INFO", "REGION_LAYERS", "LAYER_REFERENCES", "GROUPED_PROJECTS", "build_all",
           "layer_document", "write_layer", "main"]

RAW_DIR = DATA_DIR / "raw"
GEM_CSV = RAW_DIR / "gem_asia_gas_tracker_2024-05.csv"
NE_COUNTRIES = RAW_DIR / "natural_earth_countries_10m.topojson.json"
NE_PORTS = RAW_DIR / "natural_earth_ports_10m_region.geojson"
GEONAMES = gazetteer.GAZETTEER_CSV
WAYPOINTS = RAW_DIR / "waypoints.toml"
POINTS = RAW_DIR / "points.toml"

NE_RELEASE = "2018"  # Natural Earth 4.1.0, the release world-atlas 2.0.2 redistributes

# id -> (title, description); attribution and licence are derived from the sources the features cite
LAYER_INFO = {
    "boundaries": ("Country boundaries", "Natural Earth 1:10m country polygons clipped to the region."),
    "tapi": ("TAPI gas pipeline", "Turkmenistan–Afghanistan–Pakistan–India gas pipeline from Galkynysh to Fazilka: "
             "main trunk and two short branches, as traced by GEM."),
    "north_south_pipeline": ("North–South gas pipeline (Pakistan Stream)",
                             "Russian-backed Karachi–Lahore gas pipeline, renamed Pakistan Stream in 2021."),
    "iran_pakistan_pipeline": ("Iran–Pakistan gas pipeline", "The Iran–Pakistan ('peace') pipeline from Asaluyeh "
                               "to Nawabshah as two sections with their own statuses (Iran's built section, "
                               "Pakistan's unbuilt Gwadar–Nawabshah section), and the cancelled "
                               "Iran–Pakistan–India extension."),
    "pakistan_gas_grid": ("Pakistan gas transmission grid", "Every GEM gas pipeline that runs in Pakistan (SNGPL/SSGC "
                          "transmission lines). The cross-border projects are their own layers' features, "
                          "referenced here (metadata.references) rather than copied."),
    "lng_terminals": ("LNG terminals", "GEM LNG import and export terminals in the region."),
    "cpec": ("China–Pakistan Economic Corridor", "Karakoram Highway, the western, central and eastern road "
             "alignments and the sections they share, each drawn once, and the ML-1 railway: schematic chains of "
             "named waypoints. Gwadar port is the ports layer's feature, referenced here."),
    "casa1000": ("CASA-1000 power line", "500 kV AC Datka–Khujand and HVDC Sangtuda–Kabul–Nowshera lines with their "
                 "substations and converter stations: schematic."),
    "thar_lahore_hvdc": ("Matiari–Lahore ±660 kV HVDC line", "The Thar–Lahore transmission line of the paper "
                         "(Matiari converter station to Lahore): schematic."),
    "energy_projects": ("Energy projects named in the paper", "Power plants and industrial projects: Jamshoro (oil/gas "
                        "units and the 660 MW coal unit), Guddu, Muzaffargarh, Thar coal, HUBCO, Tarbela, Dasu, "
                        "Pakistan Steel Mills."),
    "ports": ("Ports", "Arabian Sea and Gulf of Oman ports of the corridors."),
}
# the extended region's layers (issue 11): title, description and layer facts come from their data/raw/*.toml
REGION_LAYERS = tuple(region.LAYER_FILES)

# GEM projects that are their own layers' features: grouping layers reference them instead of copying them.
GROUPED_PROJECTS = {
    "Turkmenistan-Afghanistan-Pakistan-India Gas Pipeline": ("tapi:tapi_trunk", "tapi:tapi_branch_1",
                                                             "tapi:tapi_branch_2"),
    "Iran-Pakistan Pipeline": ("iran_pakistan_pipeline:iran_pakistan_iran_section",
                               "iran_pakistan_pipeline:iran_pakistan_pakistan_section"),
    "Iran-Pakistan-India Pipeline": ("iran_pakistan_pipeline:iran_pakistan_india",),
    "Pakistan Stream Gas Pipeline": ("north_south_pipeline:pakistan_stream",),
}
LAYER_REFERENCES = {
    "pakistan_gas_grid": tuple(ref for refs in GROUPED_PROJECTS.values() for ref in refs),
    "cpec": ("ports:gwadar_port",),
}


def _gem_rows():
    rows = gem.read_gem(GEM_CSV)
    return rows, {r["project"]: r for r in rows}


def _pakistan_grid(rows):
    """Every GEM pipeline in Pakistan except the projects that are their own layers' features.

    Two GEM lines traced on the very same points are two parallel pipes (a
    main line and its loop line), not one project twice: the later carries
    ``parallel_to``.
    """
    pipes = [r for r in rows if r["type"] == "gas_pipeline" and "Pakistan" in r["countries"] and r["route"]
             and r["project"] not in GROUPED_PROJECTS]
    features, seen = [], {}
    for row in sorted(pipes, key=lambda r: slug(r["project"])):
        feature = gem_dated(gem.pipeline_feature(row), row)
        key = row["route"].strip()
        if key in seen:
            feature["properties"]["parallel_to"] = seen[key]
        seen.setdefault(key, feature["properties"]["id"])
        features.append(feature)
    return features


def _lng_terminals(rows):
    lon0, lat0, lon1, lat1 = REGION_BBOX
    inside = [r for r in rows if r["type"] == "lng_terminal" and r["lat"] and r["lng"]
              and lon0 <= float(r["lng"]) <= lon1 and lat0 <= float(r["lat"]) <= lat1]
    feats = [gem_dated(gem.point_feature(r, kind="lng_terminal"), r) for r in inside]
    return dedupe_ids(sorted(feats, key=lambda f: f["properties"]["id"]))


def _schematic_layers(rows):
    """cpec, casa1000, thar_lahore_hvdc, ports, energy_projects from the waypoint files."""
    from layers.importers import waypoints

    gaz = gazetteer.load_gazetteer(GEONAMES)
    layers = waypoints.build_routes(WAYPOINTS, gaz)

    def gem_lookup(project):
        return gem.plant_summary(rows, project)

    points = waypoints.build_points(POINTS, gaz, ne_port_lookup=naturalearth.port_lookup(NE_PORTS),
                                    gem_lookup=gem_lookup)
    for layer_id, feats in points.items():
        layers.setdefault(layer_id, []).extend(feats)
    return layers


def _bloc_properties(entries):
    """``{bloc: {status, history}}`` of one country's memberships (``blocs.toml``, dated and cited)."""
    out = {}
    for bloc, items in sorted(entries.items()):
        history = []
        for e in items:
            entry = {"date": e.get("since") or e.get("attested"), "status": e["status"],
                     "dated_by": "since" if "since" in e else "attested", "source": dict(e["source"])}
            if e.get("note"):
                entry["note"] = e["note"]
            history.append(entry)
        out[bloc] = {"status": history[-1]["status"], "history": history}
    return out


def _boundaries():
    features = naturalearth.boundary_features(NE_COUNTRIES, REGION_BBOX)
    blocs = region_blocs.memberships()
    for f in features:
        f["properties"].update(as_of=NE_RELEASE, last_checked=REVIEWED)
        if f["properties"]["id"] in blocs:
            f["properties"]["blocs"] = _bloc_properties(blocs[f["properties"]["id"]])
    return features


def _region_layers(rows):
    """instc, trans_afghan_railway, … (:data:`REGION_LAYERS`) from the region's places and layer files."""
    gaz = gazetteer.load_gazetteer(region.GAZETTEER)
    places = region.load_places(gaz)
    return region_build.region_layers(places, gaz, rows)


def build_all():
    """Return ``{layer_id: [feature dicts]}`` for every built-in layer."""
    rows, by_name = _gem_rows()
    boundaries = _boundaries()
    layers = {
        "boundaries": boundaries,
        "tapi": tapi_features(by_name),
        "north_south_pipeline": north_south_features(by_name),
        "iran_pakistan_pipeline": iran_pakistan_features(by_name, boundaries),
        "pakistan_gas_grid": _pakistan_grid(rows),
        "lng_terminals": _lng_terminals(rows),
    }
    layers.update(_schematic_layers(rows))
    layers.update(_region_layers(rows))
    region_build.mark_overlaps(layers, REGION_LAYERS)
    missing = (set(LAYER_INFO) | set(REGION_LAYERS)) - set(layers)
    if missing:
        raise MapError(f"build produced no features for layers: {sorted(missing)}")
    return layers


def layer_document(layer_id, features):
    """The FeatureCollection dict of one layer, with its catalogue metadata.

    Attribution and licence are derived from the sources the features cite
    (:func:`layers.sources.derive_attribution`), so a layer credits every
    dataset it uses by construction.
    """
    extra = {}
    if layer_id in LAYER_INFO:
        title, description = LAYER_INFO[layer_id]
    else:
        title, description, extra = region_build.layer_metadata(layer_id)
    meta = {"id": layer_id, "title": title, "description": description,
            "attribution": derive_attribution(features), "licence": derive_layer_licence(features),
            "style": {"color": LAYER_COLOURS.get(layer_id)}}
    if layer_id == "boundaries":  # its edges along this box are cuts, not borders (geo.countries: 'unmapped')
        meta["clip_bbox"] = list(REGION_BBOX)
    if layer_id in LAYER_REFERENCES:
        meta["references"] = list(LAYER_REFERENCES[layer_id])
    meta.update(extra)
    return {"type": "FeatureCollection", "metadata": meta, "features": features}


def write_layer(doc, path):
    """Write a layer atomically, one feature per line (small diffs, byte-stable).

    The metadata records the feature count and a content hash
    (:mod:`layers.integrity`), checked when the file is read. The text goes
    to a temporary file in the same folder, is flushed to disk and renamed
    over ``path``: a crash leaves the old file or the new one, never half.
    """
    path = Path(path)
    lines = feature_lines(doc["features"])
    head = {k: v for k, v in doc.items() if k != "features"}
    head["metadata"] = {**head.get("metadata", {}), **integrity_metadata(lines)}
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    text += ',"features":[\n' + ",\n".join(lines) + "\n]}\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m layers.build", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUILTIN_LAYERS_DIR, help="output folder (default data/layers)")
    args = parser.parse_args(argv)
    try:
        layers = build_all()
        args.out.mkdir(parents=True, exist_ok=True)
        for layer_id in sorted(layers):
            path = args.out / f"{layer_id}.geojson"
            write_layer(layer_document(layer_id, layers[layer_id]), path)
            layer = read_layer_file(path)  # validate what was written
            print(f"{layer_id:24s} {len(layer.gdf):4d} features  {path.stat().st_size / 1024:8.1f} KB")
    except MapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
