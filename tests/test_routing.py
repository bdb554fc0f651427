"""Networks by commodity, interchanges and honest connectors (geo.network, geo.routing)."""

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from network_fixtures import fwd, layer
from shapely import LineString, Point, box

from geo.geodesic import GEOD, distance_km
from geo.network import COMMODITY, build_network, network_for
from geo.places import Place
from geo.routing import nearest, route, shortest_path
from layers.errors import NoPath

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True)


def place(name, lonlat, **extra):
    return Place(name, lonlat[0], lonlat[1], extra.pop("source", "coordinates"), **extra)


def props(result):
    return [f["properties"] for f in result["features"]]


def assert_accounted(result):
    """Every km is in exactly one bucket, legs add up, every connector is named and listed."""
    t, legs = result["totals"], props(result)
    rounding = 5e-4 * (len(legs) + 1)  # each leg's km is rounded to the metre
    assert sum(p["km"] for p in legs) == pytest.approx(t["total_km"], abs=rounding)
    assert t["network_km"] + t["sea_km"] + t["connector_km"] == pytest.approx(t["total_km"], abs=rounding)
    assert t["connector_km"] == pytest.approx(t["snap_km"] + t["transfer_km"] + t["access_km"], abs=rounding)
    connectors = [p for p in legs if p["connector"]]
    assert [c["seq"] for c in t["connectors"]] == [p["seq"] for p in connectors]
    assert all(p["name"] and p["type"] in ("snap", "transfer", "access") for p in connectors)
    assert all(p["project"] for p in legs if p["type"] == "line")
    line_modes = {p["mode"] for p in legs if p["type"] in ("line", "sea")}
    assert len({COMMODITY[m] for m in line_modes}) <= 1, "a path never changes commodity"
    for leg in result["features"]:  # each leg's km is the geodesic length of its own geometry
        xy = np.array(leg["geometry"]["coordinates"])
        if leg["properties"]["type"] != "sea":
            km = distance_km(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]).sum()
            assert km == pytest.approx(leg["properties"]["km"], abs=2e-3)


# --- commodities ---------------------------------------------------------------------------------------

def mixed():
    """road S->M, gas M->E sharing vertex M, and a power line S->P->E."""
    s = (70.0, 30.0)
    m = fwd(*s, 90, 40)
    e = fwd(*m, 90, 40)
    p = fwd(*s, 0, 30)
    net = build_network([("t", layer(("road1", "road", LineString([s, m])), ("gas1", "gas_pipeline", LineString([m, e])),
                                     ("power1", "power_line", LineString([s, p, e]))))])
    return net, s, m, e


def test_a_path_never_changes_commodity():
    net, s, _, e = mixed()
    result = shortest_path(net, place("S", s), place("E", e))  # all modes allowed
    # road then gas would be 80 km; goods cannot go down a pipeline: the answer is the power line
    assert result["totals"]["commodity"] == "power"
    assert [p["project"] for p in props(result)] == ["t:power1"]
    assert result["totals"]["total_km"] > 80
    assert "error" in result["totals"]["alternatives"]["transport"]
    assert "error" in result["totals"]["alternatives"]["gas"]
    assert_accounted(result)
    with pytest.raises(NoPath):
        shortest_path(net, place("S", s), place("E", e), modes="road,gas")


# --- interchanges ------------------------------------------------------------------------------------------

def road_and_rail(*extra):
    """A road S->M and a railway M->E that share the vertex M (a level crossing, not a station)."""
    s = (70.0, 30.0)
    m = fwd(*s, 90, 40)
    e = fwd(*m, 90, 40)
    feats = [("road1", "road", LineString([s, m])), ("rail1", "rail", LineString([m, e])), *extra]
    return build_network([("t", layer(*feats))]), s, m, e


def test_road_and_rail_meet_only_at_an_interchange():
    net, s, m, e = road_and_rail()
    with pytest.raises(NoPath, match="comes no closer than 40.0 km"):
        shortest_path(net, place("S", s), place("E", e), modes="road,rail")
    station = fwd(*m, 0, 1.0)  # a station 1 km off the crossing
    net, s, m, e = road_and_rail(("stn", "station", Point(station)))
    result = shortest_path(net, place("S", s), place("E", e), modes="road,rail")
    legs = props(result)
    assert [(p["type"], p["mode"]) for p in legs] == [("line", "road"), ("transfer", "transfer"),
                                                      ("transfer", "transfer"), ("line", "rail")]
    assert result["totals"]["transfer_km"] == pytest.approx(2.0, abs=1e-3)
    # the station's feet lie a few metres short of the crossing on each line
    assert result["totals"]["network_km"] == pytest.approx(80.0, abs=0.01)
    assert legs[1]["name"] == "RAIL1 \u2192 STN" or legs[1]["name"] == "ROAD1 \u2192 STN"
    assert_accounted(result)


def test_interchange_radius_is_honoured_and_can_be_set_per_feature():
    far = (fwd(*fwd(70.0, 30.0, 90, 40), 0, 7.0))  # 7 km off the crossing: beyond the default 5 km
    net, s, _, e = road_and_rail(("stn", "station", Point(far)))
    with pytest.raises(NoPath):
        shortest_path(net, place("S", s), place("E", e), modes="road,rail")
    net, s, _, e = road_and_rail(("stn", "station", Point(far), {"interchange_km": 7.5}))
    result = shortest_path(net, place("S", s), place("E", e), modes="road,rail")
    assert result["totals"]["transfer_km"] == pytest.approx(14.0, abs=1e-3)


def test_border_crossing_joins_two_railways_beyond_snapping():
    a0 = (60.0, 45.0)
    a1 = fwd(*a0, 90, 100)
    b0 = fwd(*a1, 90, 8)  # the two countries' railways end 8 km apart at the border
    b1 = fwd(*b0, 90, 100)
    crossing = fwd(*a1, 90, 4)
    feats = [("rail_a", "rail", LineString([a0, a1])), ("rail_b", "rail", LineString([b0, b1]))]
    without = build_network([("t", layer(*feats))])
    with pytest.raises(NoPath):
        shortest_path(without, place("A", a0), place("B", b1), modes="rail", snap_km=5)
    net = build_network([("t", layer(*feats)), ("bc", layer(("x", "border_crossing", Point(crossing))))])
    result = shortest_path(net, place("A", a0), place("B", b1), modes="rail", snap_km=5)
    assert [p["type"] for p in props(result)] == ["line", "transfer", "transfer", "line"]
    assert result["totals"]["connector_km"] == pytest.approx(8.0, abs=1e-3)
    assert_accounted(result)


# --- snapping and attaching, exactly ---------------------------------------------------------------------

def t_junction(gap_km):
    """Road A runs 50 km east; road B starts ``gap_km`` north of A's midpoint (off any vertex) and runs north."""
    a0 = (70.0, 30.0)
    a1 = fwd(*a0, 90, 50)
    mx, my, back_az = GEOD.fwd(*a0, 90, 25_000)
    b0 = fwd(mx, my, back_az + 180 - 90, gap_km)
    b1 = fwd(*b0, GEOD.inv(mx, my, *b0)[0], 50)
    net = build_network([("t", layer(("a", "road", LineString([a0, a1])), ("b", "road", LineString([b0, b1]))))])
    return net, a0, b1


@PROPERTY
@given(gap=st.floats(0.05, 20.0), snap=st.floats(0.0, 25.0))
def test_snap_km_is_honoured_exactly(gap, snap):
    net, start, end = t_junction(gap)
    if abs(gap - snap) < 1e-3:
        return  # the gap is measured to a metre: too close to call
    if gap > snap:
        with pytest.raises(NoPath):
            shortest_path(net, place("S", start), place("E", end), snap_km=snap)
        return
    result = shortest_path(net, place("S", start), place("E", end), snap_km=snap)
    snaps = [p for p in props(result) if p["type"] == "snap"]
    assert len(snaps) == 1 and snaps[0]["km"] == pytest.approx(gap, abs=1e-3) and snaps[0]["km"] <= snap + 1e-9
    assert result["totals"]["total_km"] == pytest.approx(25 + gap + 50, abs=2e-3)
    assert_accounted(result)


def test_joins_are_never_merged():
    """A -> B -> C end to end with two 3 km gaps: two snap legs of 3 km, never one of 6."""
    a0 = (70.0, 30.0)
    a1 = fwd(*a0, 90, 20)
    b0 = fwd(*a1, 90, 3)
    b1 = fwd(*b0, 0, 0.001)  # B: a stub that only carries the join
    c0 = fwd(*b1, 90, 3)
    c1 = fwd(*c0, 90, 20)
    net = build_network([("t", layer(("a", "gas_pipeline", LineString([a0, a1])),
                                      ("b", "gas_pipeline", LineString([b0, b1])),
                                      ("c", "gas_pipeline", LineString([c0, c1]))))])
    result = shortest_path(net, place("S", a0), place("E", c1), modes="gas", snap_km=4)
    snaps = [p["km"] for p in props(result) if p["type"] == "snap"]
    assert len(snaps) == 2 and all(km == pytest.approx(3.0, abs=2e-3) for km in snaps)
    assert all(km <= 4 for km in snaps)
    with pytest.raises(NoPath):
        shortest_path(net, place("S", a0), place("E", c1), modes="gas", snap_km=2.9)


@PROPERTY
@given(off=st.floats(0.2, 60.0), along=st.floats(0.05, 0.95))
def test_attach_km_is_honoured_exactly_at_the_nearest_point(off, along):
    # a sparse road: two vertices 200 km apart, so the nearest vertex is far from the nearest point
    a0 = (70.0, 30.0)
    a1 = fwd(*a0, 90, 200)
    mx, my, back = GEOD.fwd(*a0, 90, 200_000 * along)
    p = fwd(mx, my, back + 180 - 90, off)
    truth = float(min(distance_km(p[0], p[1], *np.array(GEOD.npts(*a0, *a1, 4000)).T)))
    net = build_network([("t", layer(("a", "road", LineString([a0, a1]))))])
    end = place("E", a1)
    if abs(truth - 25.0) <= 0.01:
        return  # the reference is sampled every 50 m: too close to call
    if truth > 25.0:
        with pytest.raises(NoPath, match="not within 25 km"):
            shortest_path(net, place("P", p), end, modes="road")
        return
    result = shortest_path(net, place("P", p), end, modes="road")
    access = props(result)[0]
    assert access["type"] == "access" and access["km"] == pytest.approx(truth, abs=2e-3)
    assert result["totals"]["network_km"] == pytest.approx(200 * (1 - along), abs=0.05)
    assert_accounted(result)


# --- sea legs ---------------------------------------------------------------------------------------------

def test_sea_legs_only_between_ports_over_sea():
    land = gpd.GeoDataFrame({"id": ["AAA"]}, geometry=[box(60.0, 24.0, 62.0, 27.0)], crs="EPSG:4326")
    ports = layer(("west", "port", Point(59.0, 25.0)), ("south", "port", Point(61.0, 22.0)),
                  ("east", "port", Point(63.0, 25.0)))
    net = build_network([("p", ports)], boundaries=land)
    pairs = {(net.interchanges[a]["id"], net.interchanges[b]["id"])
             for a, b, t in zip(net.edges["a"], net.edges["b"], net.edges["type"]) if t == 3}
    assert pairs == {("west", "south"), ("south", "east")}  # west-east would cross 200 km of AAA
    result = shortest_path(net, place("W", (59.0, 25.0), source="p", id="west"),
                           place("E", (63.0, 25.0), source="p", id="east"), modes="sea")
    legs = props(result)
    assert [p["type"] for p in legs] == ["sea", "sea"]
    assert result["totals"]["sea_km"] == pytest.approx(result["totals"]["total_km"], abs=2e-3)
    assert "port-to-port geodesic" in legs[0]["name"]
    assert_accounted(result)
    assert not any(t == 3 for t in build_network([("p", ports)]).edges["type"])  # no boundaries: no sea legs


# --- real data -------------------------------------------------------------------------------------------------

def test_peshawar_to_karachi_stays_in_one_commodity(catalog):
    result = route(catalog, "Peshawar", "Karachi")
    assert result["totals"]["commodity"] == "transport"
    assert {p["mode"] for p in props(result) if p["type"] == "line"} <= {"road", "rail"}
    assert_accounted(result)


def test_lahore_to_port_qasim_names_its_hop(catalog):
    result = route(catalog, "Lahore", "Port Qasim", modes="road,rail")
    legs = props(result)
    assert legs[-1]["type"] == "access" and "Port Qasim" in legs[-1]["name"]
    # every connector counted (the region's CAREC 6c adds a snap from the end of M-4 on the way)
    connectors = [leg["km"] for leg in legs if leg["connector"]]
    assert result["totals"]["connector_km"] == pytest.approx(sum(connectors), abs=1e-3) and legs[-1]["km"] > 20
    assert_accounted(result)


def test_karachi_to_lahore_gas_joins_each_within_snap(catalog):
    result = route(catalog, "Karachi", "Lahore", modes="gas", snap_km=5)
    snaps = [p["km"] for p in props(result) if p["type"] == "snap"]
    assert snaps and max(snaps) <= 5.0
    assert_accounted(result)


def test_nearest_ports_split_path_km(catalog):
    result = nearest(catalog, "25.12,62.33", modes="road,rail")
    first = result["by_network"][0]
    assert first["id"] == "gwadar_port"
    assert first["network_km"] == 0.0 and first["connector_km"] == pytest.approx(first["path_km"], abs=1e-3)
    for row in result["by_network"]:
        # four figures each rounded to 3 decimals: their sums may differ by up to 2e-3
        assert row["network_km"] + row["sea_km"] + row["connector_km"] == pytest.approx(row["path_km"], abs=2e-3)


def test_network_is_built_once(catalog):
    assert network_for(catalog) is network_for(catalog)
