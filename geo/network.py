"""The connectivity network: a networkx graph of every line layer, and paths across it.

Nodes are line vertices (lon/lat rounded to 1e-7 degrees, so features that
share a vertex meet); edges are segments weighted by geodesic km (WGS84)
and tagged with ``mode`` (road, rail, gas, power: the ``mode`` property,
else from ``kind``) and project (layer id + feature id). Snapping: every
line end is joined to the nearest point of each other line passing within
``SNAP_MAX_KM`` -- the segment is split there -- by a ``snap`` edge carrying
its gap in km. Those edges are built once per catalogue; a query with
``snap_km`` simply ignores snap edges longer than it, so one graph serves
every snap setting. Proximity uses a cKDTree on unit-sphere xyz, distances
``Geod.inv``; never degrees. Places and ports attach at query time to the
nearest node of an allowed mode within ``attach_km``.
"""

import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo.corridor import bounded_km
from geo.geodesic import GEOD, as_geometry_array, distance_km, geodesic_length_km
from geo.places import find_place
from geo.route_borders import with_borders
from layers.errors import BadParameter, NoPath

__all__ = [
    "MODES",
    "KIND_MODE",
    "SNAP_MAX_KM",
    "DEFAULT_SNAP_KM",
    "DEFAULT_ATTACH_KM",
    "Network",
    "parse_modes",
    "build_network",
    "network_for",
    "attach",
    "shortest_path",
    "route",
    "nearest",
]

MODES = ("road", "rail", "gas", "power")
KIND_MODE = {"road": "road", "rail": "rail", "gas_pipeline": "gas", "power_line": "power"}
SNAP_MAX_KM = 50.0
DEFAULT_SNAP_KM = 5.0
DEFAULT_ATTACH_KM = 25.0
MAX_ATTACH_KM = 200.0
EARTH_RADIUS_KM = 6371.0088  # mean radius: only for the unit-sphere proximity search, never for measuring
_BIT = {mode: 1 << i for i, mode in enumerate(MODES)}
_VERTEX_M = 1.0  # a snap foot this close to a vertex uses the vertex


@dataclass(frozen=True)
class Network:
    """The graph plus per-node arrays: ``lonlat`` (n, 2) degrees, ``mask`` (mode bits of incident lines)."""

    graph: nx.MultiGraph
    lonlat: np.ndarray
    mask: np.ndarray
    projects: dict  # (layer, fid) -> {name, mode, status, reported_length_km}
    _trees: dict = field(default_factory=dict, repr=False)

    def tree(self, mask):
        """(cKDTree over unit-sphere xyz, node ids) of nodes touching a mode in ``mask``."""
        if mask not in self._trees:
            ids = np.flatnonzero(self.mask & mask)
            self._trees[mask] = (cKDTree(_xyz(self.lonlat[ids])) if len(ids) else None, ids)
        return self._trees[mask]


def _xyz(lonlat):
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _lonlat(xyz):
    xyz = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    return np.column_stack([np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0])), np.degrees(np.arcsin(xyz[:, 2]))])


def _chord(km):
    return 2.0 * math.sin(min(km / EARTH_RADIUS_KM, math.pi) / 2.0)


def parse_modes(value, *, parameter="modes"):
    """Modes from ``"road,rail"`` or a sequence (None: all); BadParameter names unknown ones."""
    if value is None:
        return MODES
    items = value.split(",") if isinstance(value, str) else list(value)
    modes = tuple(dict.fromkeys(str(m).strip().lower() for m in items if str(m).strip()))
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise BadParameter(parameter, f"unknown mode {unknown[0]!r}" if unknown else "no mode given",
                           [m for m in MODES if m not in modes] if unknown else list(MODES))
    return modes


def _line_parts(layers):
    """Flatten the line features of ``[(layer_id, gdf), ...]``: parts, their tags, project info."""
    parts, tags, projects = [], [], {}
    for layer_id, gdf in layers:
        geoms = as_geometry_array(gdf)
        is_line = np.isin(shapely.get_type_id(geoms), (1, 5)) & ~shapely.is_empty(geoms)
        for i in np.flatnonzero(is_line):
            row = gdf.iloc[i]
            mode = row.get("mode") if row.get("mode") in MODES else KIND_MODE.get(row.get("kind"))
            if mode is None:
                continue
            for part in shapely.get_parts(geoms[i]):
                if len(part.coords) >= 2:
                    parts.append(part)
                    tags.append((layer_id, str(row["id"]), mode))
            rep = pd.to_numeric(row.get("reported_length_km"), errors="coerce")
            projects[(layer_id, str(row["id"]))] = {
                "name": row.get("name"), "mode": mode, "status": row.get("status"),
                "length_km": float(geodesic_length_km(geoms[i:i + 1])[0]),
                "reported_length_km": float(rep) if pd.notna(rep) else None}
    return np.array(parts, dtype=object), tags, projects


def _snap_feet(coords, part_of, ends, snap_max_km):
    """For each line end, the nearest point of every other part within ``snap_max_km``.

    Returns arrays (end coordinate index, segment start index, t in [0, 1], gap km).
    """
    same = part_of[1:] == part_of[:-1]
    seg = np.flatnonzero(same)
    xyz = _xyz(coords)
    a, b = xyz[seg], xyz[seg + 1]
    half_km = distance_km(coords[seg, 0], coords[seg, 1], coords[seg + 1, 0], coords[seg + 1, 1]).max() / 2
    tree = cKDTree((a + b) / 2)
    hits = tree.query_ball_point(xyz[ends], _chord(snap_max_km + half_km) * 1.001)
    counts = np.fromiter((len(h) for h in hits), dtype=int, count=len(hits))
    e = np.repeat(ends, counts)
    s = np.concatenate([np.asarray(h, dtype=int) for h in hits]) if counts.sum() else np.zeros(0, dtype=int)
    keep = part_of[e] != part_of[seg[s]]
    e, s = e[keep], s[keep]
    # nearest point of the chord segment, pushed onto the sphere: a first guess, refined below
    ab = b[s] - a[s]
    t = np.clip(np.einsum("ij,ij->i", xyz[e] - a[s], ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-30), 0, 1)
    foot = _lonlat(a[s] + t[:, None] * ab)
    gap = distance_km(coords[e, 0], coords[e, 1], foot[:, 0], foot[:, 1])
    ok = gap <= snap_max_km * 1.01 + 0.1  # the sphere guess is within a fraction of a percent
    e, s, gap = e[ok], seg[s[ok]], gap[ok]
    # one foot per (end, other part): the closest
    order = np.lexsort((gap, part_of[s], e))
    e, s = e[order], s[order]
    first = np.r_[True, (e[1:] != e[:-1]) | (part_of[s][1:] != part_of[s][:-1])] if len(e) else np.zeros(0, bool)
    e, s = e[first], s[first]
    t, foot, gap = _foot_on_geodesic(coords[e], coords[s], coords[s + 1])
    ok = gap <= snap_max_km
    return e[ok], s[ok], t[ok], gap[ok], foot[ok]


def _foot_on_geodesic(p, a, b, iterations=40):
    """Nearest point to each ``p`` on the geodesic segment a-b (ellipsoid), by golden-section search.

    Returns (fraction along a-b, foot lon/lat, distance km); 40 steps narrow
    the fraction to 4e-9 of the segment.
    """
    az, _, length_m = GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    az, length_m = np.asarray(az), np.asarray(length_m)

    def dist(f):
        x, y, _ = GEOD.fwd(a[:, 0], a[:, 1], az, f * length_m)
        return distance_km(p[:, 0], p[:, 1], x, y)

    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    lo, hi = np.zeros(len(p)), np.ones(len(p))
    for _ in range(iterations):  # a fixed number of vectorised steps, not a loop per vertex
        m1, m2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        left = dist(m1) < dist(m2)
        hi, lo = np.where(left, m2, hi), np.where(left, lo, m1)
    f = (lo + hi) / 2
    for end in (0.0, 1.0):  # the ends themselves may be nearest
        at_end = dist(np.full(len(p), end)) <= dist(f)
        f = np.where(at_end, end, f)
    x, y, _ = GEOD.fwd(a[:, 0], a[:, 1], az, f * length_m)
    return f, np.column_stack([x, y]), dist(f)


def build_network(layers, *, snap_max_km=SNAP_MAX_KM):
    """Build the :class:`Network` of ``[(layer_id, GeoDataFrame), ...]`` (EPSG:4326 lines).

    Features without a mode (polygons, points, unknown kinds) are skipped.
    """
    parts, tags, projects = _line_parts(layers)
    if not len(parts):
        return Network(nx.MultiGraph(), np.zeros((0, 2)), np.zeros(0, dtype=int), projects)
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    starts = np.r_[0, np.flatnonzero(np.diff(part_of)) + 1]
    ends = np.r_[starts, np.r_[starts[1:] - 1, len(coords) - 1]]
    end_i, seg_i, t, gap, foot = _snap_feet(coords, part_of, ends, snap_max_km)
    # a foot within a metre of a vertex uses it; others split their segment
    seg_km = distance_km(coords[seg_i, 0], coords[seg_i, 1], coords[seg_i + 1, 0], coords[seg_i + 1, 1])
    at_start, at_end = t * seg_km * 1000 <= _VERTEX_M, (1 - t) * seg_km * 1000 <= _VERTEX_M
    split = ~(at_start | at_end)
    key = np.r_[np.arange(len(coords), dtype=float), seg_i[split] + t[split]]
    all_xy = np.r_[coords, foot[split]]
    all_part = np.r_[part_of, part_of[seg_i[split]]]
    order = np.argsort(key, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    xy, vpart = all_xy[order], all_part[order]
    lonlat, node = np.unique(np.round(xy, 7), axis=0, return_inverse=True)
    node = node.ravel()
    target = np.where(at_start, seg_i, np.where(at_end, seg_i + 1, -1))
    target_node = np.where(split, node[rank[len(coords) + np.cumsum(split) - 1]], node[rank[np.maximum(target, 0)]])
    # line edges between consecutive vertices of a part
    same = vpart[1:] == vpart[:-1]
    u, v = node[:-1][same], node[1:][same]
    km = distance_km(xy[:-1][same, 0], xy[:-1][same, 1], xy[1:][same, 0], xy[1:][same, 1])
    tag_of = np.asarray(tags, dtype=object)[vpart[:-1][same]]
    bits = np.array([_BIT[m] for _, _, m in tags])
    mask = np.zeros(len(lonlat), dtype=int)
    edge_bits = bits[vpart[:-1][same]]
    np.bitwise_or.at(mask, u, edge_bits)
    np.bitwise_or.at(mask, v, edge_bits)
    graph = nx.MultiGraph()
    graph.add_nodes_from(range(len(lonlat)))
    graph.add_edges_from(
        (a, b, {"km": k, "mask": int(m), "gap_km": 0.0, "layer": tg[0], "fid": tg[1], "mode": tg[2]})
        for a, b, k, m, tg in zip(u.tolist(), v.tolist(), km.tolist(), edge_bits.tolist(), tag_of) if a != b)
    src = node[rank[end_i]]
    snap_bits = bits[part_of[end_i]] | bits[part_of[seg_i]]
    graph.add_edges_from(
        (a, b, {"km": g, "mask": int(m), "gap_km": g, "layer": None, "fid": None, "mode": "snap"})
        for a, b, g, m in zip(src.tolist(), target_node.tolist(), gap.tolist(), snap_bits.tolist()) if a != b)
    return Network(graph, lonlat, mask, projects)


def network_for(catalog):
    """The catalogue's network, built once (memoised in the catalogue) from every line layer."""
    return catalog.memo("geo.network", lambda: build_network([(layer.id, layer.gdf) for layer in catalog]))


def _weight(mask, snap_km):
    """Edge weight (km) over allowed alternatives; None hides the edge from Dijkstra."""

    def weight(u, v, alternatives):
        best = None
        for attrs in alternatives.values():
            if attrs["mask"] & ~mask == 0 and attrs["gap_km"] <= snap_km and (best is None or attrs["km"] < best):
                best = attrs["km"]
        return best

    return weight


def _mode_mask(modes):
    return sum(_BIT[m] for m in modes)


def attach(network, lon, lat, *, modes=MODES, attach_km=DEFAULT_ATTACH_KM):
    """Nearest node (id, gap km) of an allowed mode to each lon/lat; node -1 when beyond ``attach_km``.

    Returns ``(node ids, gap_km)`` arrays; the gap is geodesic and always reported.
    """
    lon, lat = np.atleast_1d(np.asarray(lon, dtype=float)), np.atleast_1d(np.asarray(lat, dtype=float))
    tree, ids = network.tree(_mode_mask(modes))
    if tree is None:
        return np.full(len(lon), -1), np.full(len(lon), np.inf)
    k = min(8, len(ids))  # chord order ~ geodesic order; re-rank the few nearest exactly
    _, cand = tree.query(_xyz(np.column_stack([lon, lat])), k=k)
    cand = ids[np.asarray(cand).reshape(len(lon), k)]
    d = distance_km(lon[:, None], lat[:, None], network.lonlat[cand, 0], network.lonlat[cand, 1])
    best = np.argmin(d, axis=1)
    node, gap = cand[np.arange(len(lon)), best], d[np.arange(len(lon)), best]
    return np.where(gap <= attach_km, node, -1), gap


def _options(modes, snap_km, attach_km):
    modes = parse_modes(modes)
    snap = bounded_km(snap_km, "snap_km", low=0.0, high=SNAP_MAX_KM, low_inclusive=True)
    reach = bounded_km(attach_km, "attach_km", low=0.0, high=MAX_ATTACH_KM, low_inclusive=True)
    return modes, snap, reach


def _attach_place(network, place, modes, attach_km, which):
    node, gap = attach(network, place.lon, place.lat, modes=modes, attach_km=attach_km)
    if node[0] < 0:
        near = "it has no nodes" if not np.isfinite(gap[0]) else f"its nearest node is {gap[0]:.1f} km away"
        raise NoPath(f"{which} {place.name!r} is not within {attach_km:g} km of the {'/'.join(modes)} network "
                     f"({near}); choose other modes, a larger attach_km or another place")
    return int(node[0]), float(gap[0])


def _no_path(network, weight, s, start, end, modes, snap):
    reach = nx.single_source_dijkstra_path_length(network.graph, s, weight=weight)
    ids = np.fromiter(reach, dtype=int, count=len(reach))
    d = distance_km(end.lon, end.lat, network.lonlat[ids, 0], network.lonlat[ids, 1])
    j = int(np.argmin(d))
    lon, lat = network.lonlat[ids[j]]
    return NoPath(f"no path from {start.name!r} to {end.name!r} over modes {', '.join(modes)} (snap_km "
                  f"{snap:g}): the network reachable from {start.name!r} ({len(ids)} nodes) comes no closer than "
                  f"{d[j]:.1f} km to {end.name!r} (at {lat:.4f}N {lon:.4f}E); try more modes or a larger snap_km")


def _leg(seq, network, nodes, edge, km, from_km):
    line = edge["mode"] not in ("snap", "access")
    info = network.projects.get((edge["layer"], edge["fid"]), {}) if line else {}
    coords = np.round(network.lonlat[nodes] if nodes is not None else edge["coords"], 6).tolist()
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords}, "properties": {
        "seq": seq, "mode": edge["mode"], "layer": edge["layer"], "feature": edge["fid"],
        "project": f"{edge['layer']}:{edge['fid']}" if line else None, "name": info.get("name"),
        "status": info.get("status"), "reported_length_km": info.get("reported_length_km"),
        "reported_share_km": _share(info, km), "km": round(km, 3), "from_km": round(from_km, 3),
        "to_km": round(from_km + km, 3)}}


def _share(info, km):
    """The leg's km scaled to the project's reported length (reported x leg km / measured km)."""
    rep, length = info.get("reported_length_km"), info.get("length_km")
    return round(rep * km / length, 3) if rep is not None and length else None


def _path_collection(network, nodes, weight_mask, snap, start, end, s_gap, t_gap):
    graph = network.graph
    chosen, prev = [], None
    for u, v in zip(nodes[:-1], nodes[1:]):  # one step per path edge; ties stay on the same project
        allowed = [a for a in graph[u][v].values() if a["mask"] & ~weight_mask == 0 and a["gap_km"] <= snap]
        prev = min(allowed, key=lambda a: (round(a["km"], 6), prev is None or a["fid"] != prev["fid"]
                                           or a["layer"] != prev["layer"]))
        chosen.append(prev)
    legs, pos = [], 0.0
    if s_gap * 1000 > _VERTEX_M:
        access = {"mode": "access", "layer": None, "fid": None, "coords": [[start.lon, start.lat],
                                                                            network.lonlat[nodes[0]].tolist()]}
        legs.append(_leg(1, network, None, access, s_gap, pos))
        pos += s_gap
    i = 0
    while i < len(chosen):  # one step per path edge, merging runs of the same project
        j = i
        while j + 1 < len(chosen) and (chosen[j + 1]["layer"], chosen[j + 1]["fid"], chosen[j + 1]["mode"]) == (
                chosen[i]["layer"], chosen[i]["fid"], chosen[i]["mode"]):
            j += 1
        km = sum(e["km"] for e in chosen[i:j + 1])
        legs.append(_leg(len(legs) + 1, network, nodes[i:j + 2], chosen[i], km, pos))
        pos += km
        i = j + 1
    if t_gap * 1000 > _VERTEX_M:
        access = {"mode": "access", "layer": None, "fid": None, "coords": [network.lonlat[nodes[-1]].tolist(),
                                                                            [end.lon, end.lat]]}
        legs.append(_leg(len(legs) + 1, network, None, access, t_gap, pos))
        pos += t_gap
    by_mode, projects = {}, {}
    for leg in legs:
        p = leg["properties"]
        by_mode[p["mode"]] = round(by_mode.get(p["mode"], 0.0) + p["km"], 3)
        if p["project"]:
            entry = projects.setdefault(p["project"], {"project": p["project"], "name": p["name"], "mode": p["mode"],
                                                       "km": 0.0, "reported_length_km": p["reported_length_km"]})
            entry["km"] = round(entry["km"] + p["km"], 3)
    shares = [leg["properties"]["reported_share_km"] for leg in legs if leg["properties"]["project"]]
    return {"type": "FeatureCollection", "features": legs, "totals": {
        "from": start.to_dict(), "to": end.to_dict(), "total_km": round(pos, 3),
        "network_km": round(sum(v for k, v in by_mode.items() if k in MODES), 3),
        "snap_km": by_mode.get("snap", 0.0), "access_km": by_mode.get("access", 0.0), "by_mode_km": by_mode,
        "legs": len(legs), "projects": list(projects.values()),
        "reported_equivalent_km": round(sum(shares), 3) if shares and None not in shares else None}}


def shortest_path(network, start, end, *, modes=None, snap_km=DEFAULT_SNAP_KM, attach_km=DEFAULT_ATTACH_KM):
    """Shortest path (geodesic km) between two places over ``modes``, as a GeoJSON FeatureCollection dict.

    ``start``/``end`` have ``name, lon, lat`` (see :class:`geo.places.Place`).
    Features are legs -- consecutive edges of one project merged -- with
    ``mode, project, name, km, from_km, to_km``; ``access`` legs join a place
    to its network node, ``snap`` legs cross a snapping gap. ``totals``
    holds km overall, by mode and per project. Raises NoPath (naming the
    modes and how close the reachable network comes) or BadParameter.
    """
    modes, snap, reach = _options(modes, snap_km, attach_km)
    s, s_gap = _attach_place(network, start, modes, reach, "start")
    t, t_gap = _attach_place(network, end, modes, reach, "end")
    mask = _mode_mask(modes)
    weight = _weight(mask, snap)
    try:
        _, nodes = nx.bidirectional_dijkstra(network.graph, s, t, weight=weight)
    except nx.NetworkXNoPath:
        raise _no_path(network, weight, s, start, end, modes, snap) from None
    result = _path_collection(network, nodes, mask, snap, start, end, s_gap, t_gap)
    result["totals"].update({"modes": list(modes), "snap_km_setting": snap, "attach_km": reach})
    return result


def route(catalog, from_text, to_text, *, modes=None, snap_km=DEFAULT_SNAP_KM, attach_km=DEFAULT_ATTACH_KM):
    """:func:`shortest_path` between two place texts (names, ``lat,lon`` or ``layer:fid``) of the catalogue,
    with the countries crossed and the border crossings used (:func:`geo.route_borders.with_borders`)."""
    options = _options(modes, snap_km, attach_km)
    start = find_place(catalog, from_text, parameter="from")
    end = find_place(catalog, to_text, parameter="to")
    return with_borders(catalog, shortest_path(network_for(catalog), start, end, modes=options[0],
                                               snap_km=options[1], attach_km=options[2]))


def nearest(catalog, place, *, layer="ports", modes=("road", "rail"), snap_km=DEFAULT_SNAP_KM,
            attach_km=DEFAULT_ATTACH_KM, limit=5):
    """Nearest point features of ``layer`` to a place, by geodesic km and by network km over ``modes``.

    ``place`` is a :class:`geo.places.Place` or a place text. Returns a dict
    with ``by_geodesic`` and ``by_network`` (each the ``limit`` nearest:
    id, name, lon, lat, geodesic_km, network_km); ``network_note`` says why
    network distances are missing, if they are.
    """
    modes, snap, reach = _options(modes, snap_km, attach_km)
    limit = int(bounded_km(limit, "limit", low=1, high=100, low_inclusive=True))
    place = find_place(catalog, place) if isinstance(place, str) else place
    gdf = catalog.layer(layer).gdf
    gdf = gdf[gdf.geom_type == "Point"]
    if gdf.empty:
        raise BadParameter("layer", f"layer {layer!r} has no point features")
    xs, ys = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
    geodesic = distance_km(place.lon, place.lat, xs, ys)
    network_km, note = np.full(len(xs), np.nan), None
    network = network_for(catalog)
    try:
        s, s_gap = _attach_place(network, place, modes, reach, "place")
        dist = nx.single_source_dijkstra_path_length(network.graph, s, weight=_weight(_mode_mask(modes), snap))
        nodes, gaps = attach(network, xs, ys, modes=modes, attach_km=reach)
        to_node = np.array([dist.get(int(n), np.nan) if n >= 0 else np.nan for n in nodes])
        network_km = s_gap + to_node + gaps
    except NoPath as exc:
        note = str(exc)
    rows = [{"id": fid, "name": name, "lon": round(float(x), 6), "lat": round(float(y), 6),
             "geodesic_km": round(float(g), 3), "network_km": None if np.isnan(n) else round(float(n), 3)}
            for fid, name, x, y, g, n in zip(gdf["id"], gdf["name"], xs, ys, geodesic, network_km)]
    by_net = sorted((r for r in rows if r["network_km"] is not None), key=lambda r: r["network_km"])
    if not by_net and note is None:
        note = f"no {layer} feature is reachable over {', '.join(modes)} within attach_km {reach:g}"
    return {"from": place.to_dict(), "layer": layer, "modes": list(modes), "snap_km": snap, "attach_km": reach,
            "by_geodesic": sorted(rows, key=lambda r: r["geodesic_km"])[:limit], "by_network": by_net[:limit],
            "network_note": note}
