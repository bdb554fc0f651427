"""Natural Earth 1:10m countries (TopoJSON, world-atlas 2.0.2) and ports.

Public domain. The TopoJSON is quantised and delta-encoded; it is decoded
here with numpy (no extra dependency), clipped to the project region and
given ISO 3166-1 alpha-3 codes.
"""

import json
from pathlib import Path

import numpy as np
import shapely

from layers.errors import ImportFailed
from layers.importers.common import make_feature

__all__ = ["NE_ATTRIBUTION", "ISO3_BY_NUMERIC", "decode_topojson", "boundary_features", "read_ports", "port_lookup"]

NE_ATTRIBUTION = "Natural Earth 1:10m (public domain)"
# ISO 3166-1 numeric -> alpha-3 for the countries the region touches; the
# three Natural Earth units without an ISO code keep Natural Earth's ADM0_A3.
ISO3_BY_NUMERIC = {
    "004": "AFG", "031": "AZE", "048": "BHR", "050": "BGD", "051": "ARM", "064": "BTN",
    "144": "LKA", "156": "CHN", "231": "ETH", "268": "GEO", "356": "IND", "364": "IRN",
    "368": "IRQ", "398": "KAZ", "414": "KWT", "417": "KGZ", "462": "MDV", "496": "MNG",
    "512": "OMN", "524": "NPL", "586": "PAK", "634": "QAT", "643": "RUS", "682": "SAU",
    "706": "SOM", "762": "TJK", "784": "ARE", "792": "TUR", "795": "TKM", "860": "UZB",
    "887": "YEM", "250": "FRA", "840": "USA", "581": "UMI", "262": "DJI", "232": "ERI",
    # the extended region of issue 11 (layers.importers.geonames_extract.EXTENDED_BBOX)
    "112": "BLR", "196": "CYP", "275": "PSE", "376": "ISR", "400": "JOR", "404": "KEN",
    "422": "LBN", "728": "SSD", "729": "SDN", "760": "SYR", "804": "UKR", "818": "EGY",
}
# Baikonur is Kazakh territory leased to Russia; Natural Earth draws it as its own unit, ISO 3166 has no
# code for it, so it is folded into KAZ (one ISO alpha-3 convention in every output)
ISO3_BY_NE_NAME = {"Siachen Glacier": "KAS", "Somaliland": "SOL", "Baikonur": "KAZ",
                   # extended region: Natural Earth's ADM0_A3 for the Cyprus units without an ISO code
                   "N. Cyprus": "CYN", "Cyprus U.N. Buffer Zone": "CNM", "Akrotiri": "WSB", "Dhekelia": "ESB"}


def _decode_arcs(topo):
    scale = np.asarray(topo["transform"]["scale"])
    translate = np.asarray(topo["transform"]["translate"])
    return [np.cumsum(np.asarray(arc, dtype=float), axis=0) * scale + translate for arc in topo["arcs"]]


def _ring(arc_ids, arcs):
    pieces = []
    for k, i in enumerate(arc_ids):
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        pieces.append(arc if k == 0 else arc[1:])  # consecutive arcs share an end point
    return np.concatenate(pieces)


def _polygon(rings, arcs):
    """A polygon, or None where quantisation collapsed the shell (tiny islets)."""
    shell, *holes = (_ring(r, arcs) for r in rings)
    if len(shell) < 4:
        return None
    return shapely.Polygon(shell, [h for h in holes if len(h) >= 4])


def decode_topojson(topo, object_name):
    """Yield ``(properties, id, shapely geometry)`` for each geometry of a TopoJSON object."""
    arcs = _decode_arcs(topo)
    for g in topo["objects"][object_name]["geometries"]:
        if g["type"] not in ("Polygon", "MultiPolygon"):
            continue
        rings_list = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        polys = [p for p in (_polygon(r, arcs) for r in rings_list) if p is not None]
        if not polys:
            continue
        geom = shapely.MultiPolygon(polys)
        yield g.get("properties") or {}, g.get("id"), shapely.make_valid(geom)


def boundary_features(path, region):
    """Country polygons clipped to ``region`` (lon0, lat0, lon1, lat1), as Feature dicts."""
    topo = json.loads(Path(path).read_text(encoding="utf-8"))
    units = {}  # iso3 -> (name of the unit with the ISO code, [polygons of every unit folded into it])
    for props, num_id, geom in decode_topojson(topo, "countries"):
        clipped = shapely.clip_by_rect(geom, *region)
        clipped = shapely.make_valid(clipped)
        polys = [p for p in shapely.get_parts(clipped) if p.geom_type == "Polygon" and p.area > 0]
        if not polys:
            continue
        name = props.get("name", "")
        iso3 = ISO3_BY_NUMERIC.get(num_id) or ISO3_BY_NE_NAME.get(name)
        if iso3 is None:
            raise ImportFailed(str(path), f"no ISO 3166-1 alpha-3 code for {name!r} (id {num_id!r})")
        own_name = name if ISO3_BY_NUMERIC.get(num_id) else None
        prev_name, prev_polys = units.get(iso3, (None, []))
        units[iso3] = (own_name or prev_name or name, prev_polys + polys)
    features = []
    for iso3, (name, polys) in units.items():
        geom = shapely.union_all(polys) if len(polys) > 1 else polys[0]
        parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
        # The TopoJSON's rings are clockwise; make_feature winds them per RFC 7946 §3.1.6 (exterior counterclockwise)
        features.append(make_feature(shapely.MultiPolygon(parts), {
            "id": iso3,
            "name": name,
            "kind": "country",
            "status": None,
            "countries": [iso3],
            "reported_length_km": None,
            "geometry_quality": "traced",
            "sources": [{"title": "Natural Earth 1:10m Admin 0 countries, via world-atlas 2.0.2",
                         "url": "https://www.naturalearthdata.com/downloads/10m-cultural-vectors/"}],
            "licence": "Public domain (Natural Earth)",
        }))
    return sorted(features, key=lambda f: f["properties"]["id"])


def read_ports(path):
    """Natural Earth ports: list of (name, lon, lat, website)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return [
        (f["properties"]["name"], *f["geometry"]["coordinates"], f["properties"].get("website"))
        for f in doc["features"]
    ]


def port_lookup(path):
    """Return ``lookup(name) -> (lon, lat)`` over the Natural Earth ports file."""
    ports = {}
    for name, lon, lat, _ in read_ports(path):
        ports.setdefault(name, (lon, lat))

    def lookup(name):
        if name not in ports:
            raise ImportFailed("Natural Earth ports", f"no port named {name!r}; have {sorted(ports)}")
        return ports[name]

    return lookup
