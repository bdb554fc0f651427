"""Natural Earth 1:10m populated places and rivers for the labelled offline basemap.

Public domain. ``python -m layers.importers.ne_basemap --places P --rivers R``
reads Natural Earth's world files (GeoJSON as converted by ogr2ogr in
github.com/martynafford/natural-earth-geojson, Natural Earth 4.0.0:
``10m/cultural/ne_10m_populated_places.7z`` and
``10m/physical/ne_10m_rivers_lake_centerlines.7z``, unpacked), keeps the
project region and the attributes the basemap uses, and writes the two
extracts committed in ``data/raw/``. The web map reads those extracts with
:func:`read_places` and :func:`read_rivers`; they are not catalogue layers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import shapely

from layers.catalog import DATA_DIR
from layers.errors import ImportFailed
from layers.schema import REGION_BBOX

__all__ = ["NE_BASEMAP_SOURCE", "PLACES_RAW", "RIVERS_RAW", "extract_places", "extract_rivers", "main",
           "read_places", "read_rivers"]

PLACES_RAW = DATA_DIR / "raw" / "natural_earth_populated_places_10m_region.geojson"
RIVERS_RAW = DATA_DIR / "raw" / "natural_earth_rivers_10m_region.geojson"
NE_BASEMAP_SOURCE = {"title": "Natural Earth 1:10m populated places and rivers (public domain)",
                     "url": "https://www.naturalearthdata.com/downloads/10m-cultural-vectors/10m-populated-places/"}
DECIMALS = 4  # ~10 m: labels and thin river lines need no more


def _write(path, features, note):
    doc = {"type": "FeatureCollection", "note": note, "features": features}
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n",
                   encoding="utf-8")
    tmp.replace(path)


def extract_places(world_json, region=REGION_BBOX):
    """Populated places inside ``region`` as slim Feature dicts, most important first.

    Keeps ``name`` (English where Natural Earth has one), ``country``
    (ADM0_A3), ``pop`` (POP_MAX), ``rank`` (SCALERANK, 0 = most important),
    ``min_zoom`` (Natural Earth's suggested label zoom) and ``capital``.
    """
    doc = json.loads(Path(world_json).read_text(encoding="utf-8"))
    lon0, lat0, lon1, lat1 = region
    out = []
    for f in doc["features"]:
        p, (lon, lat) = f["properties"], f["geometry"]["coordinates"][:2]
        if not (lon0 <= lon <= lon1 and lat0 <= lat <= lat1):
            continue
        out.append({"type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [round(lon, DECIMALS), round(lat, DECIMALS)]},
                    "properties": {"name": p.get("NAME_EN") or p["NAME"], "country": p["ADM0_A3"],
                                   "pop": int(p.get("POP_MAX") or 0), "rank": int(p["SCALERANK"]),
                                   "min_zoom": float(p.get("min_zoom") or 0),
                                   "capital": bool(p.get("ADM0CAP"))}})
    if not out:
        raise ImportFailed(str(world_json), f"no populated places inside {region}")
    return sorted(out, key=lambda f: (f["properties"]["rank"], -f["properties"]["pop"], f["properties"]["name"]))


def extract_rivers(world_json, region=REGION_BBOX):
    """River and lake centrelines clipped to ``region``, as slim Feature dicts (name, rank, min_zoom)."""
    doc = json.loads(Path(world_json).read_text(encoding="utf-8"))
    out = []
    for f in doc["features"]:
        if not f.get("geometry"):
            continue
        geom = shapely.clip_by_rect(shapely.geometry.shape(f["geometry"]), *region)
        lines = [g for g in shapely.get_parts(geom) if g.geom_type == "LineString" and not g.is_empty]
        if not lines:
            continue
        merged = shapely.set_precision(shapely.MultiLineString(lines), 10.0 ** -DECIMALS)
        p = f["properties"]
        out.append({"type": "Feature", "geometry": shapely.geometry.mapping(merged),
                    "properties": {"name": p.get("name_en") or p.get("name") or "", "rank": int(p["scalerank"]),
                                   "min_zoom": float(p.get("min_zoom") or 0)}})
    if not out:
        raise ImportFailed(str(world_json), f"no rivers inside {region}")
    return sorted(out, key=lambda f: (f["properties"]["rank"], f["properties"]["name"]))


def _read(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError) as exc:
        raise ImportFailed(str(path), f"cannot read the basemap extract: {exc}") from None


def read_places(path=PLACES_RAW):
    """The committed places extract: ``(lon, lat) array, list of property dicts``, most important first."""
    features = _read(path)
    xy = np.array([f["geometry"]["coordinates"] for f in features], dtype=float).reshape(-1, 2)
    return xy, [f["properties"] for f in features]


def read_rivers(path=RIVERS_RAW):
    """The committed rivers extract: list of GeoJSON Feature dicts (name, rank, min_zoom)."""
    return _read(path)


def main(argv=None):
    """Write the two region extracts from Natural Earth's world files."""
    parser = argparse.ArgumentParser(prog="python -m layers.importers.ne_basemap", description=__doc__.split("\n")[0])
    parser.add_argument("--places", type=Path, required=True, help="ne_10m_populated_places.json (world)")
    parser.add_argument("--rivers", type=Path, required=True, help="ne_10m_rivers_lake_centerlines.json (world)")
    parser.add_argument("--out-dir", type=Path, default=DATA_DIR / "raw")
    args = parser.parse_args(argv)
    note = "Natural Earth 1:10m (public domain), v4.0.0, clipped to {} by layers/importers/ne_basemap.py"
    places = extract_places(args.places)
    rivers = extract_rivers(args.rivers)
    _write(args.out_dir / PLACES_RAW.name, places, note.format(REGION_BBOX))
    _write(args.out_dir / RIVERS_RAW.name, rivers, note.format(REGION_BBOX))
    print(f"wrote {len(places)} places and {len(rivers)} rivers to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
