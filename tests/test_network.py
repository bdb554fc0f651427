"""The connectivity network: snapping, modes, paths, nearest port (geo.network)."""

import numpy as np
import pytest
from network_fixtures import fwd, layer
from shapely import LineString, MultiLineString

from geo.geodesic import GEOD, distance_km, line_length_km
from geo.network import build_network, network_for
from geo.places import Place
from geo.routing import nearest, parse_modes, route, shortest_path
from layers.errors import BadParameter, NoPath


def place(name, lonlat):
    return Place(name, lonlat[0], lonlat[1], "coordinates")


def t_junction(gap_km):
    """Road A runs 50 km east; road B starts ``gap_km`` north of A's midpoint (off any vertex) and runs north."""
    a0 = (70.0, 30.0)
    a1 = fwd(*a0, 90, 50)
    mx, my, back_az = GEOD.fwd(*a0, 90, 25_000)
    b0 = fwd(mx, my, back_az + 180 - 90, gap_km)  # square off the geodesic's own heading at the midpoint
    b1 = fwd(*b0, GEOD.inv(mx, my, *b0)[0], 50)
    net = build_network([("t", layer(("a", "road", LineString([a0, a1])), ("b", "road", LineString([b0, b1]))))])
    return net, a0, b1


@pytest.mark.parametrize("gap_km, snap_km, joined", [
    (3.0, 5.0, True), (3.0, 3.05, True), (3.0, 2.95, False), (3.0, 0.0, False), (12.0, 10.0, False),
    (12.0, 15.0, True),
])
def test_snapping_joins_within_tolerance_and_not_beyond(gap_km, snap_km, joined):
    net, start, end = t_junction(gap_km)
    if not joined:
        with pytest.raises(NoPath, match="road") as err:
            shortest_path(net, place("S", start), place("E", end), snap_km=snap_km)
        assert f"snap_km {snap_km:g}" in str(err.value)
        return
    result = shortest_path(net, place("S", start), place("E", end), snap_km=snap_km)
    totals = result["totals"]
    # B's end joins A at the foot of the perpendicular (A is split there), not at a vertex 25 km away
    assert totals["total_km"] == pytest.approx(25 + gap_km + 50, abs=0.001)
    assert totals["snap_km"] == pytest.approx(gap_km, abs=0.001)
    assert [f["properties"]["mode"] for f in result["features"]] == ["road", "snap", "road"]


def test_end_to_end_snapping():
    a = LineString([(70.0, 30.0), fwd(70.0, 30.0, 90, 20)])
    b0 = fwd(*a.coords[1], 90, 1.5)
    b = LineString([b0, fwd(*b0, 90, 20)])
    net = build_network([("t", layer(("a", "rail", a), ("b", "rail", b)))])
    ok = shortest_path(net, place("S", a.coords[0]), place("E", b.coords[1]), modes="rail", snap_km=2)
    assert ok["totals"]["total_km"] == pytest.approx(41.5, abs=0.01)
    with pytest.raises(NoPath):
        shortest_path(net, place("S", a.coords[0]), place("E", b.coords[1]), modes="rail", snap_km=1)


def mixed_network():
    """road S->M, rail M->E (sharing vertex M), a road on from E, and a power line S->P->E."""
    s = (70.0, 30.0)
    m = fwd(*s, 90, 40)
    e = fwd(*m, 90, 40)
    p = fwd(*s, 0, 20)
    return build_network([("t", layer(
        ("road1", "road", LineString([s, m])), ("rail1", "rail", LineString([m, e])),
        ("power1", "power_line", LineString([s, p, e])),
        ("rail_dup", "road", LineString([s, m]), {"mode": "rail"}),  # explicit mode beats kind
        ("road2", "road", LineString([e, fwd(*e, 90, 20)])),  # a road at E, not linked to road1 by road
    ))]), s, m, e


def test_no_path_across_excluded_modes():
    net, s, _, e = mixed_network()
    with pytest.raises(NoPath) as err:
        shortest_path(net, place("S", s), place("E", e), modes="road")
    message = str(err.value)
    assert "road" in message and "comes no closer than" in message
    # the road reaches M, 40 km short of E
    assert "40.0 km" in message


def test_path_over_allowed_modes_uses_only_them():
    net, s, m, e = mixed_network()
    both = shortest_path(net, place("S", s), place("E", e), modes="road,rail")
    legs = [(f["properties"]["feature"], f["properties"]["mode"]) for f in both["features"]]
    assert legs in ([("road1", "road"), ("rail1", "rail")], [("rail_dup", "rail"), ("rail1", "rail")])
    rail = shortest_path(net, place("S", s), place("E", e), modes=["rail"])
    assert [f["properties"]["feature"] for f in rail["features"]] == ["rail_dup", "rail1"]
    assert rail["totals"]["by_mode_km"] == {"rail": pytest.approx(80.0, abs=1e-6)}
    power = shortest_path(net, place("S", s), place("E", e), modes="power")
    assert [f["properties"]["mode"] for f in power["features"]] == ["power"]
    assert power["totals"]["total_km"] > 80.0


def test_path_km_is_the_geodesic_length_of_its_geometry():
    net, s, _, e = mixed_network()
    result = shortest_path(net, place("S", fwd(*s, 180, 3)), place("E", e), modes="road,rail")
    legs = result["features"]
    assert legs[0]["properties"]["mode"] == "access"
    assert legs[0]["properties"]["km"] == pytest.approx(3.0, abs=1e-3)
    for leg in legs:
        xy = np.array(leg["geometry"]["coordinates"])
        assert line_length_km(xy[:, 0], xy[:, 1]) == pytest.approx(leg["properties"]["km"], abs=1e-3)
    assert sum(f["properties"]["km"] for f in legs) == pytest.approx(result["totals"]["total_km"], abs=1e-3)
    assert [f["properties"]["seq"] for f in legs] == list(range(1, len(legs) + 1))


def test_attach_tolerance():
    net, s, _, e = mixed_network()
    far = place("Far", fwd(*s, 180, 30))
    with pytest.raises(NoPath, match=r"not within 25 km .* 30\.0 km away"):
        shortest_path(net, far, place("E", e), modes="road,rail")
    result = shortest_path(net, far, place("E", e), modes="road,rail", attach_km=40)
    assert result["totals"]["access_km"] == pytest.approx(30.0, abs=1e-3)


def test_multilinestring_parts_are_joined_by_snapping():
    a = LineString([(70.0, 30.0), fwd(70.0, 30.0, 90, 30)])
    b0 = fwd(*a.coords[1], 90, 0.5)
    b = LineString([b0, fwd(*b0, 90, 30)])
    net = build_network([("t", layer(("m", "gas_pipeline", MultiLineString([a, b]))))])
    result = shortest_path(net, place("S", a.coords[0]), place("E", b.coords[1]), modes="gas", snap_km=1)
    assert result["totals"]["total_km"] == pytest.approx(60.5, abs=0.01)
    assert {f["properties"]["project"] for f in result["features"]} == {"t:m", None}


def test_features_without_a_mode_are_left_out():
    net = build_network([("t", layer(("x", "country", LineString([(70, 30), (71, 30)]))))])
    assert len(net.lonlat) == 0 and len(net.edges["u"]) == 0


@pytest.mark.parametrize("kwargs, parameter", [
    ({"modes": "road,ship"}, "modes"), ({"modes": ""}, "modes"), ({"snap_km": 51}, "snap_km"),
    ({"snap_km": -1}, "snap_km"), ({"snap_km": float("nan")}, "snap_km"), ({"attach_km": "far"}, "attach_km"),
    ({"attach_km": float("inf")}, "attach_km"),
])
def test_bad_options(kwargs, parameter):
    net, s, _, e = mixed_network()
    with pytest.raises(BadParameter) as err:
        shortest_path(net, place("S", s), place("E", e), **kwargs)
    assert err.value.to_dict()["parameter"] == parameter


def test_parse_modes():
    assert parse_modes(None) == ("road", "rail", "sea", "gas", "power")
    assert parse_modes(" Road, rail ,road") == ("road", "rail")
    with pytest.raises(BadParameter) as err:
        parse_modes("road,ship")
    assert "ship" in str(err.value)


# --- real data ----------------------------------------------------------------------------------

def test_network_is_built_once_per_catalogue(catalog):
    assert network_for(catalog) is network_for(catalog)


def test_kashgar_to_gwadar_by_road(catalog):
    result = route(catalog, "Kashgar", "Gwadar", modes="road")
    t = result["totals"]
    legs = [f["properties"] for f in result["features"]]
    assert legs[0]["project"] == "cpec:karakoram_highway"
    # each CPEC section is drawn once; the Hazara motorway and CAREC corridor 6a are chains through the same
    # towns as the KKH and the southern trunk (their `overlaps` say so), so the path may run on either
    assert {leg["project"] for leg in legs} <= {
        "cpec:karakoram_highway", "cpec:cpec_western_alignment", "cpec:cpec_southern_trunk",
        "motorways:hazara_motorway_mansehra_thakot", "motorways:hazara_motorway_hasan_abdal_havelian",
        "carec_corridors:carec_corridor_6a"}
    assert "cpec:cpec_western_alignment" in {leg["project"] for leg in legs}
    assert set(t["by_mode_km"]) <= {"road", "snap", "access"}
    assert sum(leg["km"] for leg in legs) == pytest.approx(t["total_km"], abs=0.01)
    straight = float(distance_km(75.98951, 39.47066, 62.32541, 25.12163))
    assert straight < t["total_km"] < 1.5 * straight


@pytest.mark.xfail(strict=True, reason="the schematic CPEC waypoint chains run short of the real roads (the "
                                       "KKH leg 891.5 of 1,300 km), and the sections south of Burhan, drawn "
                                       "once each, have no cited lengths to pro-rate the path against")
def test_kashgar_to_gwadar_within_20_percent_of_reported(catalog):
    t = route(catalog, "Kashgar", "Gwadar", modes="road")["totals"]
    assert t["reported_equivalent_km"] is not None
    assert t["total_km"] == pytest.approx(t["reported_equivalent_km"], rel=0.20)


def test_kashgar_to_gwadar_has_no_rail_or_gas_path(catalog):
    with pytest.raises(NoPath, match="rail"):
        route(catalog, "Kashgar", "Gwadar", modes="rail")


def test_karachi_to_lahore_over_gas(catalog):
    result = route(catalog, "Karachi", "Lahore", modes="gas", snap_km=5)
    straight = float(distance_km(67.0822, 24.9056, 74.34361, 31.54972))
    assert straight < result["totals"]["total_km"] < 1.3 * straight
    assert all(f["properties"]["mode"] in ("gas", "snap", "access") for f in result["features"])


def test_casa1000_halves_do_not_meet(catalog):
    # The AC line ends at Sughd (Khujand), the HVDC line starts at Sangtuda, ~200 km apart: no power path
    with pytest.raises(NoPath, match="power"):
        route(catalog, "Khujand", "Nowshera", modes="power", snap_km=50)


def test_nearest_port_to_gwadar_and_kashgar(catalog):
    here = nearest(catalog, "Gwadar", modes="road")
    assert here["by_geodesic"][0]["id"] == "gwadar_port" and here["by_geodesic"][0]["geodesic_km"] < 10
    assert here["by_network"][0]["id"] == "gwadar_port"
    far = nearest(catalog, "Kashgar", modes="road")
    first = far["by_network"][0]
    assert first["network_km"] > first["geodesic_km"]
    assert far["by_geodesic"] == sorted(far["by_geodesic"], key=lambda r: r["geodesic_km"])


# --- CLI ---------------------------------------------------------------------------------------------

def test_cli_route_and_nearest(capsys):
    import json

    from geo.__main__ import main

    assert main(["route", "Karachi", "Lahore", "--modes", "gas", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["modes"] == ["gas"]
    assert sum(leg["km"] for leg in doc["legs"]) == pytest.approx(doc["totals"]["total_km"], abs=0.01)
    assert main(["route", "Karachi", "Lahore", "--modes", "gas", "--format", "geojson"]) == 0
    assert json.loads(capsys.readouterr().out)["type"] == "FeatureCollection"
    assert main(["route", "Karachi", "Lahor"]) == 2
    assert "did you mean: Lahore" in capsys.readouterr().err
    assert main(["route", "Karachi", "Lahore", "--modes", "ship"]) == 2
    assert "parameter 'modes'" in capsys.readouterr().err
    assert main(["nearest", "--lat", "24.9", "--lon", "67.1", "--layer", "lng_terminals", "--modes", "gas",
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["by_geodesic"][0]["geodesic_km"] < 50
    assert main(["nearest", "--lat", "24.9"]) == 2
    assert "--place" in capsys.readouterr().err
