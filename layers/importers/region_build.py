"""Build the extended region's layers (issue 11) from ``data/raw/*.toml`` as GeoJSON Feature dicts.

Each file of :data:`~layers.importers.region.LAYER_FILES` becomes one layer:

- ``[[route]]`` -> a schematic LineString through the waypoint importer
  (:func:`layers.importers.waypoints.route_feature`, densified on the WGS84
  geodesic), keeping ``branch`` and the cited ``passes_through`` towns (with
  their positions) that the tests hold the line to;
- ``[[point]]`` -> a Point at its place, with the crossing's traffic status
  (``crossing_status``, ``crossing_history``) beside the facility's status;
- ``[[area]]`` -> the polygon of its ``bounds`` (an envelope: approximate);
- ``[[gem_line]]`` -> a GEM pipeline; units traced on the same route are
  drawn once, keeping each unit's capacity (``units``);
- ``[[service]]`` and ``[[reference]]`` draw nothing: they name features of
  other layers (``metadata.services[].uses``, ``metadata.references``), so no
  geometry is copied twice.

Coordinates are WGS84 lon/lat degrees.
"""

import json

import numpy as np
import shapely
from pyproj import Geod

from geo.geodesic import distance_km, geodesic_length_km
from layers.errors import ImportFailed
from layers.importers import gem
from layers.importers.common import make_feature
from layers.importers.gazetteer import GEONAMES_SOURCE
from layers.importers.gem_projects import gem_dated
from layers.importers.region import LAYER_FILES, RAW_DIR, as_waypoint_route, read_layer_file
from layers.importers.waypoints import MODES, ROUTE_KINDS, route_feature
from layers.sources import derive_licence

__all__ = ["REGION_ROUTE_KINDS", "REGION_MODES", "region_layers", "layer_metadata", "mark_overlaps"]

REGION_ROUTE_KINDS = ROUTE_KINDS + ("sea_route",)
REGION_MODES = MODES + ("sea",)
GEOD = Geod(ellps="WGS84")
_KEEP = ("branch", "operator", "description", "facts", "reported_area_km2")
_META_KEYS = ("as_of", "last_checked", "facts")


def _place_reference(place):
    """The cited position a point was placed by, as a ``reference_point``."""
    spec = place.spec
    if "expect" in spec:
        e = spec["expect"]
        return {"lat": float(e["lat"]), "lon": float(e["lon"]), "max_km": float(e["max_km"]),
                "source": {"title": e["source"]["title"], "url": e["source"]["url"]}}
    return {"lat": round(place.lat, 6), "lon": round(place.lon, 6), "max_km": float(spec.get("position_km", 1.0)),
            "source": {"title": spec["source"]["title"], "url": spec["source"]["url"]}}


def _add_sources(props, extra):
    seen = {s["url"] for s in props["sources"]}
    for s in extra:
        if s["url"] not in seen:
            props["sources"].append({"title": s["title"], "url": s["url"]})
            seen.add(s["url"])


def _passes_through(entry, places):
    return [{"place": pt["place"], "name": places[pt["place"]].name, "lon": round(places[pt["place"]].lon, 6),
             "lat": round(places[pt["place"]].lat, 6), "within_km": pt["within_km"], "source": pt["source"]}
            for pt in entry.get("passes_through") or []]


def _route(route, places, gaz, layer_id):
    what = f"{LAYER_FILES[layer_id]}: route {route.get('id')!r}"
    spec = as_waypoint_route(route, places, layer=layer_id)
    props, geometry = route_feature(spec, gaz, what, kinds=REGION_ROUTE_KINDS, modes=REGION_MODES)
    props["geometry_quality"] = route.get("geometry_quality", "schematic")
    if props["geometry_quality"] != "schematic":
        raise ImportFailed(what, "a chain of towns is schematic geometry")
    for key in _KEEP:
        if route.get(key) is not None:
            props[key] = route[key]
    props["passes_through"] = _passes_through(route, places)
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _base(entry, what):
    for key in ("id", "name", "kind", "status", "countries", "sources", "as_of", "last_checked", "status_history"):
        if entry.get(key) is None:
            raise ImportFailed(what, f"needs {key}")
    props = {"id": entry["id"], "name": entry["name"], "kind": entry["kind"], "status": entry["status"],
             "countries": list(entry["countries"]), "reported_length_km": None, "geometry_quality": None,
             "sources": [dict(s) for s in entry["sources"]], "licence": None,
             "as_of": entry["as_of"], "last_checked": entry["last_checked"]}
    for key in _KEEP:
        if entry.get(key) is not None:
            props[key] = entry[key]
    return props


def _crossing(point, places, layer_id):
    """A border crossing: the facility's status is dated by the first source that reports its traffic."""
    what = f"{LAYER_FILES[layer_id]}: point {point.get('id')!r}"
    place = places.get(point.get("place"))
    if place is None:
        raise ImportFailed(what, f"unknown place {point.get('place')!r}")
    props = _base(point, what)
    first = point["status_history"][0]
    props["status_history"] = [{"date": first["date"], "status": point["status"], "source": dict(first["source"]),
                                "note": "the crossing is in service (its traffic status is crossing_history)"}]
    props.update(crossing_status=point["crossing_status"], crossing_history=[dict(h) for h in point["status_history"]],
                 modes=list(point["modes"]), place=place.key, position=place.position,
                 reference_point=_place_reference(place), geometry_quality="point")
    if place.spec.get("position_note"):
        props["position_note"] = place.spec["position_note"]
    _add_sources(props, [GEONAMES_SOURCE] if place.origin == "gazetteer" else [place.spec["source"]])
    if place.origin == "explicit" and place.spec["source"]["title"].startswith("GeoNames"):
        _add_sources(props, [GEONAMES_SOURCE])  # a stand-in placed at a GeoNames town: its coordinates' licence
    props["licence"] = derive_licence(props)
    return make_feature(shapely.Point(place.lon, place.lat), props)


def _area(area, layer_id):
    """A rectangle of published latitude/longitude ranges: its envelope, so approximate."""
    what = f"{LAYER_FILES[layer_id]}: area {area.get('id')!r}"
    b = area["bounds"]
    poly = shapely.box(b["lon_min"], b["lat_min"], b["lon_max"], b["lat_max"])
    xy = shapely.get_coordinates(poly)
    sides = distance_km(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    props = _base(area, what)
    props["status_history"] = [dict(h) for h in area["status_history"]]
    props.update(geometry_quality="approximate", source_vertex_count=4,
                 source_longest_segment_km=round(float(sides.max()), 1),
                 area_km2=round(abs(GEOD.geometry_area_perimeter(poly)[0]) / 1e6, 1))
    props["licence"] = derive_licence(props)
    return make_feature(poly, props)


def _gem_lines(lines, gem_rows):
    """One feature per distinct GEM route; units sharing a route are drawn once with their capacities."""
    groups = {}
    for line in lines:
        match = [r for r in gem_rows if r["project"] == line["project"] and r["unit"] == line["unit"]]
        if len(match) != 1:
            raise ImportFailed(f"gem_line {line['id']!r}",
                               f"{len(match)} GEM rows for {line['project']} {line['unit']}")
        groups.setdefault(match[0]["route"].strip(), []).append((line, match[0]))
    features = []
    for members in groups.values():
        line, row = members[0]
        ids = [m[0]["id"] for m in members]
        fid = ids[0] if len(ids) == 1 else "_".join([ids[0]] + [i.rsplit("_", 1)[-1] for i in ids[1:]])
        feature = gem_dated(gem.pipeline_feature(row, fid=fid), row)
        props = feature["properties"]
        units = [{"id": unit_line["id"], "unit": r["unit"], "status": gem.normalise_status(r["status"]),
                  "capacity": gem._capacity(r)[0], "capacity_unit": gem._capacity(r)[1]} for unit_line, r in members]
        props["name"] = f"{row['project']} ({', '.join(u['unit'] for u in units)})"
        if len(units) > 1:
            props["capacity"] = round(sum(u["capacity"] or 0 for u in units), 3)
            props["units"] = units
            props["description"] = (f"{len(units)} parallel pipes on one GEM route, drawn once: "
                                    "capacity is their sum; length counts the corridor once")
        if props["geometry_quality"] != line.get("geometry_quality", props["geometry_quality"]):
            raise ImportFailed(f"gem_line {line['id']!r}", f"file says {line['geometry_quality']}, GEM route is "
                                                          f"{props['geometry_quality']}")
        features.append(feature)
    return features


def _services(doc):
    services = []
    for s in doc.get("service") or []:
        entry = {k: s[k] for k in ("id", "name", "mode", "status", "countries", "reported_length_km", "description",
                                   "as_of", "last_checked", "status_history", "facts", "sources", "crossings")
                 if s.get(k) is not None}
        entry["uses"] = [{"ref": f"{leg['layer']}:{leg['id']}", **({"part": leg["part"]} if leg.get("part") else {})}
                         for leg in s["legs"]]
        entry["passes_through"] = [{k: pt[k] for k in ("place", "within_km", "source")}
                                   for pt in s.get("passes_through") or []]
        services.append(entry)
    return services


def layer_metadata(layer_id, raw_dir=RAW_DIR):
    """(title, description, extra metadata) of a region layer: its ``[layer]`` table, references and services."""
    doc = read_layer_file(raw_dir / LAYER_FILES[layer_id])
    layer = doc["layer"]
    extra = {k: layer[k] for k in _META_KEYS if layer.get(k) is not None}
    extra["layer_sources"] = [dict(s) for s in layer.get("sources") or []]
    refs = doc.get("reference") or []
    if refs:
        extra["references"] = [f"{r['layer']}:{r['id']}" for r in refs]
        extra["reference_notes"] = [{"ref": f"{r['layer']}:{r['id']}", "role": r.get("role"), "source": r["source"],
                                     **({"facts": r["facts"]} if r.get("facts") else {})} for r in refs]
    services = _services(doc)
    if services:
        extra["services"] = services
    return layer["title"], layer["description"], extra


def region_layers(places, gaz, gem_rows, raw_dir=RAW_DIR):
    """``{layer id: [Feature dicts]}`` for every region layer file, in file order."""
    out = {}
    for layer_id, name in LAYER_FILES.items():
        doc = read_layer_file(raw_dir / name)
        feats = [_route(r, places, gaz, layer_id) for r in doc.get("route") or []]
        feats += [_crossing(p, places, layer_id) for p in doc.get("point") or []]
        feats += [_area(a, layer_id) for a in doc.get("area") or []]
        if doc.get("gem_line"):
            feats += _gem_lines(doc["gem_line"], gem_rows)
        out[layer_id] = feats
    return out



def _mode(props):
    return props.get("mode") or {"road": "road", "rail": "rail", "sea_route": "sea"}.get(props["kind"])


def mark_overlaps(layers, layer_ids, *, min_km=1.0):
    """Note on each line of ``layer_ids`` the same-mode lines it is drawn along (``overlaps``: [{ref, km}]).

    Chains through the same towns coincide exactly: a corridor (CAREC 6c) drawn on the road of a route
    (the Russia–Pakistan road) is the same road twice. They stay drawn (each is the cited corridor), and
    say so, so a total over both can subtract the shared km. Geodesic km of the shared geometry.
    """
    lines = [(lid, f) for lid, feats in layers.items() for f in feats
             if f["geometry"]["type"] in ("LineString", "MultiLineString")
             and _mode(f["properties"]) in ("road", "rail")]
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for _, f in lines])
    tree = shapely.STRtree(geoms)
    for i, (lid, f) in enumerate(lines):
        if lid not in layer_ids:
            continue
        found = []
        for j in tree.query(geoms[i]):
            other_lid, other = lines[j]
            if j == i or _mode(other["properties"]) != _mode(f["properties"]):
                continue
            parts = [p for p in shapely.get_parts(shapely.intersection(geoms[i], geoms[j]))
                     if p.geom_type == "LineString"]
            km = float(geodesic_length_km(np.array(parts, dtype=object)).sum()) if parts else 0.0
            if km >= min_km:
                found.append({"ref": f"{other_lid}:{other['properties']['id']}", "km": round(km, 1)})
        if found:
            f["properties"]["overlaps"] = sorted(found, key=lambda o: o["ref"])
