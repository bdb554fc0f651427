"""The connectivity networks, by commodity: built once per catalogue from every layer.

Goods travel by road, rail and sea, gas through pipelines, power through
lines: **transport** (road, rail, sea), **gas** and **power** are separate
networks and a path never changes commodity (:mod:`geo.routing` searches
one commodity at a time). What joins what, every join named and measured:

- **line** edges: consecutive vertices of a line feature (densified along the
  geodesic by :mod:`geo.topology`), weighted by geodesic km, tagged with the
  feature's mode (its ``mode`` property, else from ``kind``) and project;
  line vertices of different modes are different nodes even where they
  coincide, so a road crossing a railway is no place to change trains;
- **snap** connectors: each line end joins the nearest point of every other
  line *of the same mode* passing within :data:`SNAP_MAX_KM` (found on the
  ellipsoid, :func:`geo.nearest.nearest_per_part`; the other line is split
  there). Each carries its gap; a query with ``snap_km`` uses exactly the
  joins of at most ``snap_km``;
- **transfer** connectors: a point feature of kind port, dry_port, station
  or border_crossing (:data:`INTERCHANGE_KINDS`, any layer) is an
  interchange, joined to the nearest point of each road or rail line within
  its attach radius (:data:`INTERCHANGE_KM`, or the feature's own
  ``interchange_km`` property, at most 50 km). Changing between road and
  rail, or from one line to another beyond snapping, happens only there;
- **sea** legs: between every two ports whose geodesic runs over sea: at
  most :data:`SEA_LAND_KM` of it, beyond :data:`SEA_COAST_KM` of either
  port, inside a country polygon (headlands and bays that a straight line
  cuts; measured on 1 km steps) and none beyond the boundaries layer's
  extent. A sea leg is the port-to-port geodesic, not a shipping lane: its
  km are a lower bound, and results keep them apart from the km on mapped
  lines. Coasts that curve (Chabahar to Bandar Abbas crosses 372 km of
  Iran) get no leg; a sea-lane layer would be needed there.

Places attach at query time to the exact nearest point of a line of an
allowed mode (or an interchange) within ``attach_km``: **access**
connectors, named and counted apart too.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo.countries import OUTSIDE, UNMAPPED, boundaries_for, country_of_points
from geo.geodesic import as_geometry_array, distance_km, geodesic_length_km
from geo.nearest import LineIndex, nearest_per_part
from geo.topology import dense_lines

__all__ = [
    "MODES", "LINE_MODES", "COMMODITY", "COMMODITIES", "KIND_MODE", "INTERCHANGE_KINDS", "INTERCHANGE_KM",
    "MAX_INTERCHANGE_KM", "SNAP_MAX_KM", "DEFAULT_SNAP_KM", "DEFAULT_ATTACH_KM", "MAX_ATTACH_KM", "SEA_COAST_KM",
    "SEA_LAND_KM",
    "EDGE_TYPES", "CONNECTOR_TYPES", "Network", "build_network", "network_for",
]

MODES = ("road", "rail", "sea", "gas", "power")
LINE_MODES = ("road", "rail", "gas", "power")
COMMODITY = {"road": "transport", "rail": "transport", "sea": "transport", "gas": "gas", "power": "power"}
COMMODITIES = ("transport", "gas", "power")
KIND_MODE = {"road": "road", "rail": "rail", "gas_pipeline": "gas", "power_line": "power"}
INTERCHANGE_KINDS = ("port", "dry_port", "station", "border_crossing")
INTERCHANGE_KM = 5.0
MAX_INTERCHANGE_KM = 50.0
SNAP_MAX_KM = 50.0
DEFAULT_SNAP_KM = 5.0
DEFAULT_ATTACH_KM = 25.0
MAX_ATTACH_KM = 200.0
SEA_COAST_KM = 15.0
SEA_LAND_KM = 20.0
_SEA_STEP_KM = 1.0
EDGE_TYPES = ("line", "snap", "transfer", "sea", "access")
CONNECTOR_TYPES = ("snap", "transfer", "access")
_VERTEX_M = 1.0  # a foot this close to a vertex uses the vertex


@dataclass(frozen=True)
class Network:
    """Nodes, edges and the indexes that attach places, for every commodity at once.

    ``lonlat`` (n, 2) and ``node_mode`` (mode of the node's lines, '' for an
    interchange) per node. ``edges`` holds parallel arrays ``u, v, km,
    type`` (index into :data:`EDGE_TYPES`), ``mode`` (index into
    :data:`MODES`), ``a, b`` (line: project, -1; snap: from and to
    project; transfer: interchange and project; sea: two interchanges).
    ``projects`` and ``interchanges`` are lists of dicts; ``lines`` maps
    each line mode to ``(LineIndex, node of each vertex, project of each
    vertex)`` for attaching places to the exact nearest point.
    """

    lonlat: np.ndarray
    node_mode: np.ndarray
    edges: dict
    projects: list
    interchanges: list
    lines: dict

    def interchange_node(self, layer, fid):
        """Node of the interchange feature ``layer:fid``, or None."""
        for item in self.interchanges:
            if item["layer"] == layer and item["id"] == fid:
                return item["node"]
        return None


def _feature_mode(row):
    mode = row.get("mode")
    return mode if mode in LINE_MODES else KIND_MODE.get(row.get("kind"))


def _collect(layers):
    """Line features with a mode, and interchange points, of ``[(layer_id, gdf), ...]``."""
    geoms, projects, points = [], [], []
    for layer_id, gdf in layers:
        g = as_geometry_array(gdf)
        types = shapely.get_type_id(g)
        ok = ~shapely.is_empty(g) & ~shapely.is_missing(g)
        for i in np.flatnonzero(ok & np.isin(types, (1, 5))):  # one per feature
            row = gdf.iloc[i]
            mode = _feature_mode(row)
            if mode is None:
                continue
            rep = pd.to_numeric(row.get("reported_length_km"), errors="coerce")
            projects.append({"layer": layer_id, "id": str(row["id"]), "name": row.get("name"), "mode": mode,
                             "status": row.get("status"), "length_km": float(geodesic_length_km(g[i:i + 1])[0]),
                             "reported_length_km": float(rep) if pd.notna(rep) else None})
            geoms.append(g[i])
        for i in np.flatnonzero(ok & (types == 0)):
            row = gdf.iloc[i]
            if row.get("kind") not in INTERCHANGE_KINDS:
                continue
            radius = pd.to_numeric(row.get("interchange_km"), errors="coerce")
            radius = float(radius) if pd.notna(radius) and 0 <= radius <= MAX_INTERCHANGE_KM else INTERCHANGE_KM
            points.append({"layer": layer_id, "id": str(row["id"]), "name": row.get("name"), "kind": row["kind"],
                           "lon": float(g[i].x), "lat": float(g[i].y), "radius_km": radius})
    return np.array(geoms, dtype=object), projects, points


def _augment(coords, part, chain, feet_vertex, feet_fraction, feet_xy):
    """Insert feet into the dense vertex arrays.

    Returns the new ``(coords, part, chain)``, the new index of every foot
    (a foot within a metre of a vertex is that vertex) and the new index of
    every original vertex.
    """
    seg_km = np.zeros(len(coords))
    seg_km[:-1] = np.where(part[1:] == part[:-1], chain[1:] - chain[:-1], 0.0)
    at_start = feet_fraction * seg_km[feet_vertex] * 1000 <= _VERTEX_M
    at_end = (1 - feet_fraction) * seg_km[feet_vertex] * 1000 <= _VERTEX_M
    split = ~(at_start | at_end)
    key = np.r_[np.arange(len(coords), dtype=float), feet_vertex[split] + feet_fraction[split]]
    order = np.argsort(key, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    new_xy = np.r_[coords, feet_xy[split]][order]
    new_part = np.r_[part, part[feet_vertex[split]]][order]
    foot_chain = chain[feet_vertex] + feet_fraction * seg_km[feet_vertex]
    new_chain = np.r_[chain, foot_chain[split]][order]
    where = np.where(at_start, rank[feet_vertex], rank[np.minimum(feet_vertex + 1, len(coords) - 1)])
    where[split] = rank[len(coords) + np.arange(split.sum())]
    return new_xy, new_part, new_chain, where, rank[:len(coords)]


def _sea_pairs(ports, boundaries):
    """(i, j, km) of port pairs whose geodesic runs over sea (see the module docstring)."""
    if boundaries is None or len(ports) < 2:
        return []
    i, j = np.triu_indices(len(ports), k=1)
    xy = np.array([[p["lon"], p["lat"]] for p in ports])
    dense = dense_lines(shapely.linestrings(np.stack([xy[i], xy[j]], axis=1)), step_km=_SEA_STEP_KM)
    pair = dense.part_owner[dense.part]
    length = dense.part_length_km[dense.part]
    inner = (dense.chain_km > SEA_COAST_KM) & (dense.chain_km < length - SEA_COAST_KM)
    label = np.full(len(dense.coords), OUTSIDE, dtype=object)
    label[inner] = country_of_points(dense.coords[inner, 0], dense.coords[inner, 1], boundaries)
    step = np.r_[np.diff(dense.chain_km), 0.0]
    step[np.r_[dense.part[1:] != dense.part[:-1], True]] = 0.0
    land_km = np.bincount(pair, weights=step * ~np.isin(label, (OUTSIDE, UNMAPPED)), minlength=len(i))
    unmapped = np.bincount(pair, weights=label == UNMAPPED, minlength=len(i)) > 0
    km = distance_km(xy[i, 0], xy[i, 1], xy[j, 0], xy[j, 1])
    wet = (land_km <= SEA_LAND_KM) & ~unmapped & (km > 0)
    return [(int(a), int(b), float(k)) for a, b, k in zip(i[wet], j[wet], km[wet])]


def build_network(layers, *, boundaries=None, snap_max_km=SNAP_MAX_KM):
    """Build the :class:`Network` of ``[(layer_id, GeoDataFrame), ...]`` (EPSG:4326).

    Line features with a mode become lines; point features of an
    interchange kind become interchanges; everything else is skipped.
    ``boundaries`` (country polygons) decide which port pairs get a sea
    leg; without them there are none.
    """
    geoms, projects, points = _collect(layers)
    dense = dense_lines(geoms)
    coords, part, chain = dense.coords, dense.part, dense.chain_km
    project_of_part = dense.part_owner
    mode_of_part = np.array([LINE_MODES.index(p["mode"]) for p in projects], dtype=int)[project_of_part] \
        if len(projects) else np.zeros(0, dtype=int)
    vmode = mode_of_part[part] if len(part) else np.zeros(0, dtype=int)
    feet_v, feet_f, feet_xy, feet_edge = [], [], [], []  # edge: (type, from node key, project or interchange)
    first = np.r_[0, np.flatnonzero(np.diff(part)) + 1] if len(part) else np.zeros(0, dtype=int)
    ends = np.unique(np.r_[first, np.r_[first[1:] - 1, len(part) - 1]]) if len(part) else first
    sub = {}
    for m in range(len(LINE_MODES)):  # one pass per mode
        members = np.flatnonzero(vmode == m)
        if not len(members):
            continue
        sub[m] = members
        index = LineIndex(coords[members], part[members], chain[members])
        mine = ends[vmode[ends] == m]
        hit = nearest_per_part(index, coords[mine, 0], coords[mine, 1], snap_max_km, skip_part=part[mine])
        g = members[hit["vertex"]]
        feet_v.append(g)
        feet_f.append(hit["fraction"])
        feet_xy.append(np.column_stack([hit["lon"], hit["lat"]]))
        feet_edge += [(1, int(mine[q]), int(project_of_part[part[mine[q]]]), float(d), m)
                      for q, d in zip(hit["query"], hit["distance_km"])]
        if LINE_MODES[m] in ("road", "rail") and points:
            xy = np.array([[p["lon"], p["lat"]] for p in points])
            radius = np.array([p["radius_km"] for p in points])
            hit = nearest_per_part(index, xy[:, 0], xy[:, 1], radius)
            feet_v.append(members[hit["vertex"]])
            feet_f.append(hit["fraction"])
            feet_xy.append(np.column_stack([hit["lon"], hit["lat"]]))
            feet_edge += [(2, int(q), -1, float(d), m) for q, d in zip(hit["query"], hit["distance_km"])]
    fv = np.concatenate(feet_v) if feet_v else np.zeros(0, dtype=int)
    ff = np.concatenate(feet_f) if feet_f else np.zeros(0)
    fxy = np.concatenate(feet_xy) if feet_xy else np.zeros((0, 2))
    coords, part, chain, foot_at, moved = _augment(coords, part, chain, fv, ff, fxy)
    vmode = mode_of_part[part] if len(part) else np.zeros(0, dtype=int)
    keys = np.column_stack([vmode, np.round(coords, 7)]) if len(coords) else np.zeros((0, 3))
    uniq, node = np.unique(keys, axis=0, return_inverse=True)
    node = node.ravel()
    n_line_nodes = len(uniq)
    lonlat = np.r_[uniq[:, 1:], np.array([[p["lon"], p["lat"]] for p in points]).reshape(-1, 2)]
    node_mode = np.r_[np.array([LINE_MODES[int(m)] for m in uniq[:, 0]], dtype=object),
                      np.full(len(points), "", dtype=object)]
    for k, p in enumerate(points):
        p["node"] = n_line_nodes + k
    interchanges = points
    # line edges
    same = part[1:] == part[:-1]
    u, v = node[:-1][same], node[1:][same]
    km = (chain[1:] - chain[:-1])[same]
    proj = project_of_part[part[:-1][same]]
    emode = np.array([MODES.index(LINE_MODES[m]) for m in vmode[:-1][same]], dtype=int)
    edges = [(u, v, km, np.zeros(len(u), dtype=int), emode, proj, np.full(len(u), -1))]
    # snap and transfer connectors, to the nodes the feet became
    if feet_edge:
        kinds = np.array([e[0] for e in feet_edge])
        src = np.array([e[1] for e in feet_edge])
        gap = np.array([e[3] for e in feet_edge])
        fmode = np.array([MODES.index(LINE_MODES[e[4]]) for e in feet_edge])
        target = node[foot_at]
        to_project = project_of_part[part[foot_at]]
        snap = kinds == 1
        edges.append((node[moved[src[snap]]], target[snap], gap[snap], np.ones(snap.sum(), dtype=int),
                      fmode[snap], np.array([e[2] for e in feet_edge])[snap], to_project[snap]))
        tr = kinds == 2
        edges.append((n_line_nodes + src[tr], target[tr], gap[tr], np.full(tr.sum(), 2), fmode[tr], src[tr],
                      to_project[tr]))
    ports = [k for k, p in enumerate(points) if p["kind"] == "port"]
    sea = _sea_pairs([points[k] for k in ports], boundaries)
    if sea:
        a = np.array([ports[s[0]] for s in sea])
        b = np.array([ports[s[1]] for s in sea])
        edges.append((n_line_nodes + a, n_line_nodes + b, np.array([s[2] for s in sea]), np.full(len(sea), 3),
                      np.full(len(sea), MODES.index("sea")), a, b))
    cols = [np.concatenate([np.asarray(e[c]) for e in edges]) for c in range(7)]
    keep = cols[0] != cols[1]
    arrays = dict(zip(("u", "v", "km", "type", "mode", "a", "b"), (c[keep] for c in cols)))
    arrays["u"], arrays["v"] = arrays["u"].astype(int), arrays["v"].astype(int)
    lines = {}
    for m in range(len(LINE_MODES)):
        members = np.flatnonzero(vmode == m)
        if len(members):
            lines[LINE_MODES[m]] = (LineIndex(coords[members], part[members], chain[members]), node[members],
                                    project_of_part[part[members]])
    return Network(lonlat, node_mode, arrays, projects, interchanges, lines)


def network_for(catalog):
    """The catalogue's network, built once (memoised in the catalogue) from every layer."""
    return catalog.memo("geo.network", lambda: build_network(
        [(layer.id, layer.gdf) for layer in catalog], boundaries=boundaries_for(catalog)))
