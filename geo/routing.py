"""Paths and nearest features over the networks of :mod:`geo.network`, every km accounted for.

The modes asked for are grouped by commodity (transport: road, rail, sea;
gas; power) and each commodity is searched on its own (Dijkstra,
``scipy.sparse.csgraph``) over its chosen modes' lines, the snap joins of at
most ``snap_km``, and for transport the transfers at interchanges and the
sea legs between ports. The answer is the shortest of those paths; the
others' totals are under ``alternatives``. A path never changes commodity.

Start and end attach by **access** connectors to the exact nearest point of
a line of each chosen mode within ``attach_km`` (:mod:`geo.nearest`; the
line is split there for the query only), to the interchange they are, and
to the nearest interchange within ``attach_km``. Legs are GeoJSON features
with a ``type``: ``line`` (runs along one project, merged), ``sea``,
``snap``, ``transfer`` or ``access``; every connector is its own leg with a
name. Totals keep ``network_km`` (on mapped lines), ``sea_km``
(port-to-port geodesics) and ``connector_km`` (snap + transfer + access)
apart, and list the connectors.
"""

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.corridor import bounded_km
from geo.geodesic import densify_lonlat, distance_km
from geo.nearest import nearest_on_lines
from geo.network import (
    COMMODITIES,
    COMMODITY,
    CONNECTOR_TYPES,
    DEFAULT_ATTACH_KM,
    DEFAULT_SNAP_KM,
    EDGE_TYPES,
    MAX_ATTACH_KM,
    MODES,
    SNAP_MAX_KM,
    network_for,
)
from geo.places import Place, find_place
from geo.route_borders import with_borders
from layers.errors import BadParameter, NoPath

__all__ = ["parse_modes", "shortest_path", "route", "nearest"]

LINE, SNAP, TRANSFER, SEA, ACCESS = range(len(EDGE_TYPES))
_VERTEX_M = 1.0


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


def _options(modes, snap_km, attach_km):
    modes = parse_modes(modes)
    snap = bounded_km(snap_km, "snap_km", low=0.0, high=SNAP_MAX_KM, low_inclusive=True)
    reach = bounded_km(attach_km, "attach_km", low=0.0, high=MAX_ATTACH_KM, low_inclusive=True)
    return modes, snap, reach


def _by_commodity(modes):
    return {c: tuple(m for m in modes if COMMODITY[m] == c) for c in COMMODITIES
            if any(COMMODITY[m] == c for m in modes)}


class _Query:
    """The edges of one commodity's chosen modes plus the virtual nodes and edges of one query."""

    def __init__(self, network, modes, snap_km):
        self.network, self.modes = network, modes
        e = network.edges
        keep = np.isin(np.array(MODES, dtype=object)[e["mode"]], modes) & ((e["type"] != SNAP) | (e["km"] <= snap_km))
        self.cols = {k: list([v[keep]]) for k, v in e.items()}
        self.n = len(network.lonlat)
        self.xy = [network.lonlat]
        self.names = {}  # (u, v) of a virtual edge -> (name towards v, name towards u)
        self.feet = []  # (mode, vertex, fraction, node, project, segment km) of each place's foot on a line

    def node(self, lon, lat):
        self.xy.append(np.array([[lon, lat]]))
        self.n += 1
        return self.n - 1

    def edge(self, u, v, km, kind, mode, a=-1, b=-1, names=None):
        for col, value in zip(("u", "v", "km", "type", "mode", "a", "b"), (u, v, km, kind, mode, a, b)):
            self.cols[col].append(np.array([value]))
        if names is not None:
            self.names[(u, v)] = names

    def attach(self, place, reach):
        """A virtual node for ``place`` with access edges; returns (node, nearest km of any option)."""
        net, s = self.network, self.node(place.lon, place.lat)
        nearest_km = np.inf
        own = net.interchange_node(place.source, place.id) if place.id is not None else None
        if own is not None:
            self.edge(s, own, 0.0, ACCESS, MODES.index(self.modes[0]), names=(place.name, place.name))
            nearest_km = 0.0
        for mode in (m for m in self.modes if m in net.lines):
            index, node_of, project_of = net.lines[mode]
            hit = nearest_on_lines(index, place.lon, place.lat)
            d = float(hit["distance_km"][0])
            nearest_km = min(nearest_km, d)
            if d > reach:
                continue
            v, f = int(hit["vertex"][0]), float(hit["fraction"][0])
            project = int(project_of[v])
            seg = index.chain_at(v, 1.0) - index.chain_at(v, 0.0)
            if f * seg * 1000 <= _VERTEX_M or (1 - f) * seg * 1000 <= _VERTEX_M:
                foot = int(node_of[v if f * seg * 1000 <= _VERTEX_M else v + 1])
            else:
                foot = self.node(float(hit["lon"][0]), float(hit["lat"][0]))
                m = MODES.index(mode)
                self.edge(foot, int(node_of[v]), f * seg, LINE, m, project)
                self.edge(foot, int(node_of[v + 1]), (1 - f) * seg, LINE, m, project)
                self.feet.append((mode, v, f, foot, project, seg))
            line = net.projects[project]["name"]
            self.edge(s, foot, d, ACCESS, MODES.index(mode), -1, project,
                      names=(f"{place.name} \u2192 {line}", f"{line} \u2192 {place.name}"))
        if COMMODITY[self.modes[0]] == "transport" and net.interchanges:
            xy = np.array([[i["lon"], i["lat"]] for i in net.interchanges])
            d = distance_km(place.lon, place.lat, xy[:, 0], xy[:, 1])
            k = int(np.argmin(d))
            nearest_km = min(nearest_km, float(d[k]))
            if d[k] <= reach and net.interchanges[k]["node"] != own:
                name = net.interchanges[k]["name"]
                self.edge(s, net.interchanges[k]["node"], float(d[k]), ACCESS, MODES.index(self.modes[0]),
                          names=(f"{place.name} \u2192 {name}", f"{name} \u2192 {place.name}"))
        return s, nearest_km

    def join_same_segments(self):
        """Feet of the two places on one segment are joined along it directly."""
        for i, (mode, v, f, node, project, seg) in enumerate(self.feet):
            for mode2, v2, f2, node2, _, _ in self.feet[i + 1:]:
                if (mode, v) == (mode2, v2):
                    self.edge(node, node2, abs(f - f2) * seg, LINE, MODES.index(mode), project)

    def arrays(self):
        cols = {k: np.concatenate(v) for k, v in self.cols.items()}
        cols["u"], cols["v"] = cols["u"].astype(int), cols["v"].astype(int)
        return cols, np.concatenate(self.xy)

    def solve(self, source):
        cols, xy = self.arrays()
        lo, hi = np.minimum(cols["u"], cols["v"]), np.maximum(cols["u"], cols["v"])
        order = np.lexsort((cols["km"], hi, lo))
        first = order[np.r_[True, (lo[order][1:] != lo[order][:-1]) | (hi[order][1:] != hi[order][:-1])]]
        # csgraph drops zero weights as "no edge": a zero-km edge weighs a picometre instead
        matrix = csr_matrix((np.maximum(cols["km"][first], 1e-12), (lo[first], hi[first])), shape=(self.n, self.n))
        dist, pred = dijkstra(matrix, directed=False, indices=source, return_predecessors=True)
        return dist, pred, cols, xy


def _path_nodes(pred, source, target):
    nodes = [target]
    while nodes[-1] != source:  # one step per path edge
        nodes.append(int(pred[nodes[-1]]))
    return nodes[::-1]


def _name(query, cols, i, a, b):
    """A connector's name in the direction of travel a -> b."""
    net, kind = query.network, int(cols["type"][i])
    if (cols["u"][i], cols["v"][i]) in query.names or (cols["v"][i], cols["u"][i]) in query.names:
        fwd, back = query.names.get((cols["u"][i], cols["v"][i])) or query.names[(cols["v"][i], cols["u"][i])][::-1]
        return fwd if cols["u"][i] == a else back
    if kind == SNAP:
        return (f"end of {net.projects[cols['a'][i]]['name']} \u2194 {net.projects[cols['b'][i]]['name']}")
    if kind == TRANSFER:
        hub, line = net.interchanges[cols["a"][i]]["name"], net.projects[cols["b"][i]]["name"]
        return f"{hub} \u2192 {line}" if cols["u"][i] == a else f"{line} \u2192 {hub}"
    if kind == SEA:
        one, two = net.interchanges[cols["a"][i]]["name"], net.interchanges[cols["b"][i]]["name"]
        return f"{one} \u2192 {two} (sea, port-to-port geodesic)" if cols["u"][i] == a else \
            f"{two} \u2192 {one} (sea, port-to-port geodesic)"
    return None


def _steps(cols, nodes):
    """The edge taken for every step of the node path: the shortest, staying on the same project on ties."""
    lo, hi = np.minimum(cols["u"], cols["v"]), np.maximum(cols["u"], cols["v"])
    key = lo.astype(np.int64) * (int(max(cols["u"].max(), cols["v"].max())) + 1) + hi
    order = np.lexsort((cols["km"], key))
    skey = key[order]
    path = np.array(nodes)
    a, b = path[:-1], path[1:]
    want = np.minimum(a, b).astype(np.int64) * (int(max(cols["u"].max(), cols["v"].max())) + 1) + np.maximum(a, b)
    start, stop = np.searchsorted(skey, want, "left"), np.searchsorted(skey, want, "right")
    chosen, prev = [], None
    for s, e in zip(start, stop):  # one per path edge; ties keep to the previous project
        cand = order[s:e]
        best = cand[cols["km"][cand] <= cols["km"][cand[0]] + 1e-9]
        same = [c for c in best if prev is not None and cols["type"][c] == LINE and cols["a"][c] == prev]
        pick = int(same[0] if same else best[0])
        prev = cols["a"][pick] if cols["type"][pick] == LINE else None
        chosen.append(pick)
    return chosen, a, b


def _legs(query, cols, xy, nodes):
    """GeoJSON legs and totals of a node path."""
    net = query.network
    chosen, a, b = _steps(cols, nodes)
    legs, pos, i = [], 0.0, 0
    while i < len(chosen):  # merge runs of one project's line edges into one leg
        e = chosen[i]
        j = i
        if cols["type"][e] == LINE:
            while (j + 1 < len(chosen) and cols["type"][chosen[j + 1]] == LINE
                   and cols["a"][chosen[j + 1]] == cols["a"][e] and cols["mode"][chosen[j + 1]] == cols["mode"][e]):
                j += 1
        km = float(sum(cols["km"][c] for c in chosen[i:j + 1]))
        kind = EDGE_TYPES[int(cols["type"][e])]
        if km > 0:
            coords = xy[np.r_[a[i:j + 1], b[j]]]
            if kind == "sea":
                lon, lat = densify_lonlat(coords[:, 0], coords[:, 1], max_segment_km=10.0)
                coords = np.column_stack([lon, lat])
            legs.append(_leg(len(legs) + 1, net, kind, int(cols["mode"][e]), int(cols["a"][e]),
                             _name(query, cols, e, a[i], b[i]), coords, km, pos))
            pos += km
        i = j + 1
    return legs, pos


def _leg(seq, net, kind, mode, project, name, coords, km, from_km):
    info = net.projects[project] if kind == "line" else {}
    mode_name = MODES[mode] if kind in ("line", "sea") else kind
    rep, length = info.get("reported_length_km"), info.get("length_km")
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": np.round(coords, 6).tolist()},
            "properties": {
                "seq": seq, "type": kind, "mode": mode_name, "connector": kind in CONNECTOR_TYPES,
                "layer": info.get("layer"), "feature": info.get("id"),
                "project": f"{info['layer']}:{info['id']}" if info else None,
                "name": info.get("name") if info else name, "status": info.get("status"),
                "reported_length_km": rep,
                "reported_share_km": round(rep * km / length, 3) if rep is not None and length else None,
                "km": round(km, 3), "from_km": round(from_km, 3), "to_km": round(from_km + km, 3)}}


def _totals(legs, total):
    def km(kinds):
        return round(float(sum(leg["properties"]["km"] for leg in legs if leg["properties"]["type"] in kinds)), 3)

    by_mode, projects = {}, {}
    for leg in legs:
        p = leg["properties"]
        if p["type"] in ("line", "sea"):
            by_mode[p["mode"]] = round(by_mode.get(p["mode"], 0.0) + p["km"], 3)
        if p["project"]:
            entry = projects.setdefault(p["project"], {"project": p["project"], "name": p["name"], "mode": p["mode"],
                                                       "km": 0.0, "reported_length_km": p["reported_length_km"]})
            entry["km"] = round(entry["km"] + p["km"], 3)
    shares = [leg["properties"]["reported_share_km"] for leg in legs if leg["properties"]["project"]]
    connectors = [{"seq": leg["properties"]["seq"], "type": leg["properties"]["type"],
                   "name": leg["properties"]["name"], "km": leg["properties"]["km"]}
                  for leg in legs if leg["properties"]["connector"]]
    return {"total_km": round(total, 3), "network_km": km(("line",)), "sea_km": km(("sea",)),
            "connector_km": km(CONNECTOR_TYPES), "snap_km": km(("snap",)), "transfer_km": km(("transfer",)),
            "access_km": km(("access",)), "by_mode_km": by_mode, "legs": len(legs), "connectors": connectors,
            "projects": list(projects.values()),
            "reported_equivalent_km": round(sum(shares), 3) if shares and None not in shares else None}


def _commodity_path(network, start, end, modes, snap, reach):
    """The shortest path of one commodity (its modes), as (legs, totals); raises NoPath."""
    query = _Query(network, modes, snap)
    s, s_near = query.attach(start, reach)
    t, t_near = query.attach(end, reach)
    query.join_same_segments()
    for which, place, near in (("start", start, s_near), ("end", end, t_near)):
        if near > reach:
            where = ("it has no nodes" if not np.isfinite(near)
                     else f"its nearest line or interchange is {near:.1f} km away")
            raise NoPath(f"{which} {place.name!r} is not within {reach:g} km of the {'/'.join(modes)} network "
                         f"({where}); choose other modes, a larger attach_km or another place")
    dist, pred, cols, xy = query.solve(s)
    if not np.isfinite(dist[t]):
        reached = np.flatnonzero(np.isfinite(dist[:len(network.lonlat)]))
        if not len(reached):
            reached = np.array([s])
        d = distance_km(end.lon, end.lat, xy[reached, 0], xy[reached, 1])
        j = int(np.argmin(d))
        lon, lat = xy[reached[j]]
        raise NoPath(f"no path from {start.name!r} to {end.name!r} over modes {', '.join(modes)} (snap_km {snap:g}): "
                     f"the network reachable from {start.name!r} ({len(reached)} nodes) comes no closer than "
                     f"{d[j]:.1f} km to {end.name!r} (at {lat:.4f}N {lon:.4f}E); try more modes or a larger snap_km")
    legs, total = _legs(query, cols, xy, _path_nodes(pred, s, t))
    return legs, _totals(legs, total)


def shortest_path(network, start, end, *, modes=None, snap_km=DEFAULT_SNAP_KM, attach_km=DEFAULT_ATTACH_KM):
    """Shortest path (geodesic km) between two places within one commodity, as a GeoJSON FeatureCollection dict.

    ``start``/``end`` have ``name, lon, lat`` (see :class:`geo.places.Place`).
    Features are legs (see the module docstring); ``totals`` holds km
    overall, on mapped lines, at sea and in connectors, by mode and per
    project, the connectors by name, the ``commodity`` and the other
    commodities' ``alternatives``. Raises NoPath (naming the modes and how
    close the reachable network comes) or BadParameter.
    """
    modes, snap, reach = _options(modes, snap_km, attach_km)
    found, failed = {}, {}
    for commodity, cm in _by_commodity(modes).items():
        try:
            found[commodity] = _commodity_path(network, start, end, cm, snap, reach)
        except NoPath as exc:
            failed[commodity] = str(exc)
    if not found:
        raise NoPath("; ".join(failed.values()))
    best = min(found, key=lambda c: found[c][1]["total_km"])
    legs, totals = found[best]
    alternatives = {c: ({k: found[c][1][k] for k in ("total_km", "network_km", "sea_km", "connector_km")}
                        if c in found else {"error": failed[c]}) for c in (*found, *failed) if c != best}
    totals = {"from": start.to_dict(), "to": end.to_dict(), "commodity": best, **totals,
              "alternatives": alternatives, "modes": list(modes), "snap_km_setting": snap, "attach_km": reach}
    return {"type": "FeatureCollection", "features": legs, "totals": totals}


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
    """Nearest point features of ``layer`` to a place, by geodesic km and by network path.

    ``place`` is a :class:`geo.places.Place` or a place text. Returns a dict
    with ``by_geodesic`` and ``by_network`` (each the ``limit`` nearest: id,
    name, lon, lat, geodesic_km, and for a network path ``path_km`` with its
    ``network_km`` on mapped lines, ``sea_km``, ``connector_km``, the
    ``commodity`` and the connectors by name); ``network_note`` says why
    network figures are missing, if they are.
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
    targets = [Place(str(n), float(x), float(y), layer, id=str(f))
               for f, n, x, y in zip(gdf["id"], gdf["name"], xs, ys)]
    network = network_for(catalog)
    paths, notes = [None] * len(targets), []
    for commodity, cm in _by_commodity(modes).items():  # one search per commodity
        query = _Query(network, cm, snap)
        s, near = query.attach(place, reach)
        if near > reach:
            notes.append(f"{place.name!r} is not within {reach:g} km of the {'/'.join(cm)} network")
            continue
        ends = [query.attach(t, reach)[0] for t in targets]
        query.join_same_segments()
        dist, pred, cols, xy = query.solve(s)
        for k, t in enumerate(ends):
            if np.isfinite(dist[t]) and (paths[k] is None or dist[t] < paths[k][0]["total_km"]):
                legs, total = _legs(query, cols, xy, _path_nodes(pred, s, t))
                paths[k] = (_totals(legs, total), commodity)
    rows = []
    for target, g, found in zip(targets, geodesic, paths):
        row = {"id": target.id, "name": target.name, "lon": round(target.lon, 6), "lat": round(target.lat, 6),
               "geodesic_km": round(float(g), 3), "path_km": None}
        if found is not None:
            tot, commodity = found
            row.update(path_km=tot["total_km"], network_km=tot["network_km"], sea_km=tot["sea_km"],
                       connector_km=tot["connector_km"], commodity=commodity, connectors=tot["connectors"])
        rows.append(row)
    by_net = sorted((r for r in rows if r["path_km"] is not None), key=lambda r: r["path_km"])
    note = "; ".join(notes) or None
    if not by_net and note is None:
        note = f"no {layer} feature is reachable over {', '.join(modes)} within attach_km {reach:g}"
    return {"from": place.to_dict(), "layer": layer, "modes": list(modes), "snap_km": snap, "attach_km": reach,
            "by_geodesic": sorted(rows, key=lambda r: r["geodesic_km"])[:limit], "by_network": by_net[:limit],
            "network_note": note}
