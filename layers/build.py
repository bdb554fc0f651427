"""Regenerate every committed layer in ``data/layers/`` from ``data/raw/``.

``python -m layers.build [--out DIR]``. Deterministic: the same raw inputs
give byte-identical files. Each layer file is a GeoJSON FeatureCollection
with a ``metadata`` member (the catalogue entry) and one feature a line.
"""

import argparse
import json
import sys
from pathlib import Path

from layers.catalog import BUILTIN_LAYERS_DIR, DATA_DIR, read_layer_file
from layers.errors import MapError
from layers.importers import gazetteer, gem, naturalearth
from layers.importers.common import dedupe_ids, slug
from layers.schema import REGION_BBOX
from layers.styles import LAYER_COLOURS

__all__ = ["RAW_DIR", "LAYER_INFO", "build_all", "write_layer", "main"]

RAW_DIR = DATA_DIR / "raw"
GEM_CSV = RAW_DIR / "gem_asia_gas_tracker_2024-05.csv"
NE_COUNTRIES = RAW_DIR / "natural_earth_countries_10m.topojson.json"
NE_PORTS = RAW_DIR / "natural_earth_ports_10m_region.geojson"
GEONAMES = gazetteer.GAZETTEER_CSV
WAYPOINTS = RAW_DIR / "waypoints.toml"
POINTS = RAW_DIR / "points.toml"

GEM_ATTR = "Global Energy Monitor, Asia Gas Tracker, May 2024 (CC BY 4.0)"
GEONAMES_ATTR = "GeoNames (geonames.org), CC BY 4.0"
NE_ATTR = "Natural Earth (public domain)"
CITED = "facts from the sources cited per feature"

# id -> (title, description, attribution, licence)
LAYER_INFO = {
    "boundaries": ("Country boundaries", "Natural Earth 1:10m country polygons clipped to the region.", NE_ATTR,
                   "Public domain"),
    "tapi": ("TAPI gas pipeline", "Turkmenistan–Afghanistan–Pakistan–India gas pipeline from Galkynysh to Fazilka: "
             "main trunk and two short branches, as traced by GEM.", GEM_ATTR, "CC BY 4.0"),
    "north_south_pipeline": ("North–South gas pipeline (Pakistan Stream)",
                             "Russian-backed Karachi–Lahore gas pipeline, renamed Pakistan Stream in 2021.",
                             GEM_ATTR, "CC BY 4.0"),
    "iran_pakistan_pipeline": ("Iran–Pakistan gas pipeline", "The Iran–Pakistan ('peace') pipeline from Asaluyeh "
                               "to Nawabshah, and the cancelled Iran–Pakistan–India extension.", GEM_ATTR,
                               "CC BY 4.0"),
    "pakistan_gas_grid": ("Pakistan gas transmission grid", "Every GEM gas pipeline that runs in Pakistan "
                          "(SNGPL/SSGC transmission lines and the cross-border projects).", GEM_ATTR, "CC BY 4.0"),
    "lng_terminals": ("LNG terminals", "GEM LNG import and export terminals in the region.", GEM_ATTR, "CC BY 4.0"),
    "cpec": ("China–Pakistan Economic Corridor", "Karakoram Highway, the western, central and eastern alignments, "
             "the ML-1 railway and Gwadar port: schematic chains of named waypoints.",
             f"{GEONAMES_ATTR}; {CITED}", "CC BY 4.0"),
    "casa1000": ("CASA-1000 power line", "500 kV AC Datka–Khujand and HVDC Sangtuda–Kabul–Nowshera lines with their "
                 "substations and converter stations: schematic.", f"{GEONAMES_ATTR}; {CITED}", "CC BY 4.0"),
    "thar_lahore_hvdc": ("Matiari–Lahore ±660 kV HVDC line", "The Thar–Lahore transmission line of the paper "
                         "(Matiari converter station to Lahore): schematic.", f"{GEONAMES_ATTR}; {CITED}",
                         "CC BY 4.0"),
    "energy_projects": ("Energy projects named in the paper", "Power plants and industrial projects: Jamshoro, "
                        "Guddu, Muzaffargarh, Thar coal, HUBCO, Tarbela, Dasu, Patan, Pakistan Steel Mills.",
                        f"{GEM_ATTR}; {GEONAMES_ATTR}; {CITED}", "CC BY 4.0"),
    "ports": ("Ports", "Arabian Sea and Gulf of Oman ports of the corridors.", f"{NE_ATTR}; {CITED}",
              "Public domain / CC BY 4.0"),
}

PAPER_FACTS_NORTH_SOUTH = {
    "agreement": "Inter-governmental agreement signed 16 October 2015; amended and renamed Pakistan Stream "
                 "on 28 May 2021",
    "cost_usd_bn": 2.0,
    "partners": "RT-Global Resources (Rostec, Russia) with Inter State Gas Systems (Pakistan)",
    "sanctions": "US sanctions on the Russian side (Rostec and its subsidiaries) stalled the original "
                 "structure; the 2021 protocol reshaped the Russian participation",
    "capacity": 12.4,
    "capacity_unit": "bcm/y",
    "reported_length_km": 1100.0,
}
NORTH_SOUTH_SOURCES = [
    {"title": "Oreanda-News: Russia and Pakistan agreed to build a gas pipeline (amends IGA of 16 Oct 2015; 1,100 km)",
     "url": "https://oreanda-news.com/en/tek/russia-and-pakistan-agreed-to-build-a-gas-pipeline/article1374819"},
    {"title": "Eastern Eye: Russia and Pakistan agree deal to build Stream gas pipeline (2021-05-28)",
     "url": "https://www.easterneye.biz/russia-and-pakistan-agree-deal-to-build-stream-gas-pipeline-in-pakistan/"},
    {"title": "ABNA/AFP: RT Global Resources (Rostec) to build the pipeline; about US$2 billion",
     "url": "https://de.abna24.com/story/718201"},
]
TAPI_SOURCES = [
    {"title": "Trend: TAPI 1,814 km (Turkmenistan 214, Afghanistan 774, Pakistan 826 km)",
     "url": "https://en.trend.az/business/energy/3529427.html"},
]
IP_SOURCES = [
    {"title": "APP via defence.pk: IP pipeline 1,931 km, 1,150 km in Iran, 750 MMcf/d",
     "url": "http://defence.pk/threads/govt-allocates-rs-25-billion-for-development-of-gas-infrastructure-in-pakistan.472293/"},
]
IPI_SOURCES = [
    {"title": "Trend: the 2,775-kilometre pipeline from Asaluyeh (IPI plan)", "url": "https://www.trend.az/iran/2020106.html"},
]


def _gem_rows():
    rows = gem.read_gem(GEM_CSV)
    return rows, {r["project"]: r for r in rows}


def _tapi(by_name):
    row = by_name["Turkmenistan-Afghanistan-Pakistan-India Gas Pipeline"]
    trunk, *branches = gem.parse_route(row["route"]).geoms
    features = [gem.pipeline_feature(
        row, fid="tapi_trunk", geometry=trunk, name="TAPI gas pipeline (main trunk)", reported_length_km=1814.0,
        sources=gem._source(row) + TAPI_SOURCES,
        description="Galkynysh (Turkmenistan) – Herat – Kandahar – Quetta – Multan – Fazilka (India).",
    )]
    for i, branch in enumerate(branches, start=1):
        features.append(gem.pipeline_feature(
            row, fid=f"tapi_branch_{i}", geometry=branch, name=f"TAPI branch {i} (GEM route segment {i + 1})",
            countries=["AFG"],  # GEM lists the whole project's countries; both branches lie in Afghanistan
            description="Short branch traced by GEM as part of the TAPI route; no published length.",
        ))
    return features


def _north_south(by_name):
    row = by_name["Pakistan Stream Gas Pipeline"]
    return [gem.pipeline_feature(
        row, fid="pakistan_stream", name="North–South gas pipeline (Pakistan Stream), Karachi–Lahore",
        sources=gem._source(row) + NORTH_SOUTH_SOURCES, **PAPER_FACTS_NORTH_SOUTH,
    )]


def _iran_pakistan(by_name):
    ip = by_name["Iran-Pakistan Pipeline"]
    ipi = by_name["Iran-Pakistan-India Pipeline"]
    return [
        gem.pipeline_feature(ip, fid="iran_pakistan", reported_length_km=1931.0, sources=gem._source(ip) + IP_SOURCES,
                             description="Asaluyeh (South Pars) – Iranshahr – Gwadar area – Nawabshah."),
        gem.pipeline_feature(ipi, fid="iran_pakistan_india", reported_length_km=2775.0,
                             sources=gem._source(ipi) + IPI_SOURCES,
                             length_note="The 2,775 km plan is the trunk; GEM also traces a Karachi branch, "
                                         "which the measured length includes."),
    ]


def _pakistan_grid(rows):
    pipes = [r for r in rows if r["type"] == "gas_pipeline" and "Pakistan" in r["countries"] and r["route"]]
    return [gem.pipeline_feature(r) for r in sorted(pipes, key=lambda r: slug(r["project"]))]


def _lng_terminals(rows):
    lon0, lat0, lon1, lat1 = REGION_BBOX
    inside = [r for r in rows if r["type"] == "lng_terminal" and r["lat"] and r["lng"]
              and lon0 <= float(r["lng"]) <= lon1 and lat0 <= float(r["lat"]) <= lat1]
    feats = [gem.point_feature(r, kind="lng_terminal") for r in inside]
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


def build_all():
    """Return ``{layer_id: [feature dicts]}`` for every built-in layer."""
    rows, by_name = _gem_rows()
    layers = {
        "boundaries": naturalearth.boundary_features(NE_COUNTRIES, REGION_BBOX),
        "tapi": _tapi(by_name),
        "north_south_pipeline": _north_south(by_name),
        "iran_pakistan_pipeline": _iran_pakistan(by_name),
        "pakistan_gas_grid": _pakistan_grid(rows),
        "lng_terminals": _lng_terminals(rows),
    }
    layers.update(_schematic_layers(rows))
    missing = set(LAYER_INFO) - set(layers)
    if missing:
        raise MapError(f"build produced no features for layers: {sorted(missing)}")
    return layers


def layer_document(layer_id, features):
    """The FeatureCollection dict of one layer, with its catalogue metadata."""
    title, description, attribution, licence = LAYER_INFO[layer_id]
    meta = {"id": layer_id, "title": title, "description": description, "attribution": attribution,
            "licence": licence, "style": {"color": LAYER_COLOURS.get(layer_id)}}
    if layer_id == "boundaries":  # its edges along this box are cuts, not borders (geo.countries: 'unmapped')
        meta["clip_bbox"] = list(REGION_BBOX)
    return {"type": "FeatureCollection", "metadata": meta, "features": features}


def write_layer(doc, path):
    """Write a layer with one feature per line (small diffs, byte-stable)."""
    head = {k: v for k, v in doc.items() if k != "features"}
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in doc["features"]]
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    text += ',"features":[\n' + ",\n".join(lines) + "\n]}\n"
    Path(path).write_text(text, encoding="utf-8")


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
