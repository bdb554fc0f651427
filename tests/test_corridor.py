"""Geodesic corridors: buffers, area, distance and chainage, overlaps (geo.corridor)."""

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import LineString, MultiLineString, Point

from geo.corridor import (
    bounded_km,
    build_corridor,
    geodesic_area_km2,
    nearest_on_route,
    within_corridor,
)
from geo.corridor_report import corridor_geojson, corridor_report, overlap_report, parse_layer_list
from geo.geodesic import GEOD, distance_km
from geo.overlap import overlap
from layers.errors import BadParameter, FeatureNotFound, LayerNotFound


def geodesic_line(lon, lat, az, km):
    """A two-point line along the geodesic from (lon, lat) at azimuth ``az`` for ``km``."""
    end_lon, end_lat, _ = GEOD.fwd(lon, lat, az, km * 1000)
    return LineString([(lon, lat), (end_lon, end_lat)])


def offset_point(line, along_km, side_km):
    """The point ``side_km`` to the left of ``line`` (a geodesic), ``along_km`` from its start."""
    (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
    az = GEOD.inv(x0, y0, x1, y1)[0]
    mx, my, back = GEOD.fwd(x0, y0, az, along_km * 1000)
    px, py, _ = GEOD.fwd(mx, my, back + 180 - 90, side_km * 1000)  # forward azimuth there, turned left
    return Point(px, py)


def brute_distance_km(route, point, step_km=0.1):
    """Independent reference: min geodesic distance to points every ``step_km`` along each segment."""
    xy = np.asarray(route.coords)
    pts = []
    for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:]):
        n = max(2, int(math.ceil(GEOD.inv(x0, y0, x1, y1)[2] / 1000 / step_km)) + 1)
        pts.append(np.array(GEOD.npts(x0, y0, x1, y1, n, initial_idx=0, terminus_idx=0)))  # ends included
    pts = np.vstack(pts)
    d = distance_km(point.x, point.y, pts[:, 0], pts[:, 1])
    return float(d.min())


# --- the known answers -------------------------------------------------------------------

@pytest.mark.parametrize("lat", [0.0, 40.0])
@pytest.mark.parametrize("az", [90.0, 0.0, 45.0])
def test_point_10_km_off_is_inside_20_outside_5(lat, az):
    line = geodesic_line(70.0, lat, az, 100)
    point = offset_point(line, 50, 10)
    pts = gpd.GeoDataFrame({"id": ["p"], "name": ["P"]}, geometry=[point], crs="EPSG:4326")
    inside = within_corridor(build_corridor(line, 20), pts)
    assert list(inside["id"]) == ["p"]
    assert inside["distance_km"].iloc[0] == pytest.approx(10.0, abs=1e-3)
    assert inside["chainage_km"].iloc[0] == pytest.approx(50.0, abs=1e-2)
    assert build_corridor(line, 20).polygon.contains(point)
    assert within_corridor(build_corridor(line, 5), pts).empty
    assert not build_corridor(line, 5).polygon.contains(point)


@pytest.mark.parametrize("lat", [0.0, 40.0])
@pytest.mark.parametrize("az", [90.0, 0.0])
def test_area_of_100_km_line_10_km_wide(lat, az):
    c = build_corridor(geodesic_line(70.0, lat, az, 100), 10)
    analytic = 2 * 10 * 100 + math.pi * 10 ** 2  # 2314.16 km²
    assert c.length_km == pytest.approx(100.0, abs=1e-6)
    # measured: 2313.9 (-0.01%), the chords of the round ends
    assert c.area_km2 == pytest.approx(analytic, rel=0.001)


def test_ring_corridor_area_subtracts_the_hole():
    # a closed 100 km "square" route, 10 km each side: 8aw + (pi - 4) w^2 = 7914.2 km²
    lon, lat, pts = 70.0, 0.0, []
    for az in (90, 0, 270, 180):
        pts.append((lon, lat))
        lon, lat, _ = GEOD.fwd(lon, lat, az, 100_000)
    c = build_corridor(LineString(pts + [pts[0]]), 10)
    assert len(c.polygon.interiors) == 1
    assert c.area_km2 == pytest.approx(8 * 100 * 10 + (math.pi - 4) * 100, rel=0.005)
    assert geodesic_area_km2(c.polygon) == c.area_km2


@pytest.mark.parametrize("length_km, max_piece_km, worst", [
    (1000, 5000, 0.0020),  # one AEQD plane: measured -0.13%
    (2000, 5000, 0.0050),  # one plane: measured -0.44%, too much
    (2000, 1000, 0.0016),  # split into 1000 km pieces: measured -0.13%
])
def test_buffer_edge_lies_at_the_width(length_km, max_piece_km, worst):
    """Every corridor edge vertex sampled lies ``width_km`` from the route, to the measured AEQD error."""
    line = geodesic_line(62.0, 25.0, 30.0, length_km)
    c = build_corridor(line, 50, max_piece_km=max_piece_km)
    edge = shapely.get_coordinates(c.polygon.exterior)
    sample = edge[np.linspace(0, len(edge) - 1, 30).astype(int)]
    ref = np.array([brute_distance_km(line, Point(x, y), step_km=0.5) for x, y in sample])
    error = ref / 50 - 1
    assert np.abs(error).max() < worst
    assert error.max() < 2e-4  # never wider than asked: AEQD and chords both shrink the band


def test_splitting_reduces_distortion():
    line = geodesic_line(62.0, 25.0, 30.0, 2000)
    whole = build_corridor(line, 50, max_piece_km=5000)
    split = build_corridor(line, 50)
    fine = build_corridor(line, 50, max_piece_km=250)
    assert len(split.pieces) == 2 and len(whole.pieces) == 1
    assert abs(split.area_km2 / fine.area_km2 - 1) < 0.0005 < abs(whole.area_km2 / fine.area_km2 - 1)


def test_distance_and_chainage_match_brute_force():
    route = LineString([(66.0, 25.0), (66.8, 26.1), (68.0, 26.3), (68.4, 27.9), (70.2, 28.5)])
    rng = np.random.default_rng(7)
    pts = shapely.points(rng.uniform(65.5, 70.5, 25), rng.uniform(24.5, 29.0, 25))
    c = build_corridor(route, 100)
    got = nearest_on_route(c, pts)
    ref = np.array([brute_distance_km(route, p) for p in pts])
    assert np.allclose(got["distance_km"], ref, rtol=0.005, atol=0.01)
    # chainage: the geodesic length of the route up to the foot point
    for (_, row), p in zip(got.iterrows(), pts):
        foot = Point(row.route_lon, row.route_lat)
        assert float(distance_km(p.x, p.y, foot.x, foot.y)) == pytest.approx(row.distance_km, abs=1e-6)
    assert got["chainage_km"].between(0, c.length_km + 1e-9).all()


def test_chainage_of_vertices_is_cumulative_length():
    route = LineString([(66.0, 25.0), (67.0, 25.5), (67.5, 26.5)])
    c = build_corridor(route, 10)
    got = nearest_on_route(c, shapely.points(np.asarray(route.coords)))
    legs = distance_km([66.0, 67.0], [25.0, 25.5], [67.0, 67.5], [25.5, 26.5])
    assert np.allclose(got["chainage_km"], [0.0, legs[0], legs.sum()], atol=1e-3)
    assert np.allclose(got["distance_km"], 0.0, atol=1e-6)


def test_line_candidate_reports_part_inside():
    route = geodesic_line(70.0, 30.0, 90.0, 100)
    centre = offset_point(route, 50, 0)
    az = GEOD.inv(*route.coords[0], *route.coords[1])[0]
    a = GEOD.fwd(centre.x, centre.y, az - 90, 40_000)[:2]
    b = GEOD.fwd(centre.x, centre.y, az + 90, 40_000)[:2]
    crossing = gpd.GeoDataFrame({"id": ["x"], "status": ["operating"]}, geometry=[LineString([a, b])],
                                crs="EPSG:4326")
    row = within_corridor(build_corridor(route, 10), crossing).iloc[0]
    assert row["distance_km"] == pytest.approx(0.0, abs=1e-6)
    assert row["chainage_km"] == pytest.approx(50.0, abs=0.05)
    assert row["inside_length_km"] == pytest.approx(20.0, rel=0.005)


@pytest.mark.parametrize("route, line", [
    # the geodesic 60°E-100°E along 60°N bulges to 61.5°N at 80°E: its raw planar chord stays 169.5 km south
    (LineString([(80, 61.3), (80, 61.7)]), LineString([(60, 60), (100, 60)])),
    # 178°E to 178°W the short way: raw, in the plane, it runs the long way round and misses 180°
    (LineString([(179.5, 65.2), (-175.0, 65.8)]), LineString([(178, 66.5), (-178, 64.5)])),
])
def test_candidates_are_found_where_their_geodesic_runs(route, line):
    # the candidate index once held the raw planar lines: neither was found, both meet the route
    found = within_corridor(build_corridor(route, 20), gpd.GeoDataFrame({"id": ["x"]}, geometry=[line], crs=4326))
    assert found["id"].tolist() == ["x"] and found["distance_km"].iloc[0] == 0.0


# --- awkward input ----------------------------------------------------------------------------------

def test_multilinestring_chainage_runs_on_across_parts():
    one = geodesic_line(70.0, 30.0, 90.0, 100)
    two = geodesic_line(one.coords[1][0] + 0.5, 30.0, 90.0, 50)
    c = build_corridor(MultiLineString([one, two]), 10)
    assert c.length_km == pytest.approx(150.0, abs=0.01)
    at = nearest_on_route(c, [Point(two.coords[0]), Point(two.coords[1])])
    assert at["chainage_km"].tolist() == pytest.approx([100.0, 150.0], abs=1e-3)  # the gap counts nothing


@pytest.mark.parametrize("geom, why", [
    (None, "no geometry"), (LineString(), "no geometry"), (Point(70, 30), "line route"),
    (shapely.box(70, 30, 71, 31), "line route"),
])
def test_route_must_be_a_line(geom, why):
    with pytest.raises(BadParameter, match=why):
        build_corridor(geom, 10)


@pytest.mark.parametrize("width", [0, -1, 500.01, float("nan"), float("inf"), "abc", None, True, "1e400"])
def test_width_bounds(width):
    with pytest.raises(BadParameter) as err:
        build_corridor(geodesic_line(70, 30, 90, 10), width)
    assert err.value.to_dict()["parameter"] == "width_km"


def test_width_accepts_text_and_the_maximum():
    assert bounded_km("500", "width_km", high=500) == 500.0
    assert bounded_km(" 0.5 ", "width_km", high=500) == 0.5


def test_missing_and_empty_candidates_measure_nan():
    c = build_corridor(geodesic_line(70, 30, 90, 10), 10)
    got = nearest_on_route(c, [None, Point(), Point(70.05, 30.0)])
    assert got["distance_km"].isna().tolist() == [True, True, False]


# --- overlaps --------------------------------------------------------------------------------------

def test_parallel_routes_share_the_overlapping_stretch():
    a = geodesic_line(70.0, 30.0, 90.0, 100)
    start_b = offset_point(a, 40, 5)
    b = geodesic_line(start_b.x, start_b.y, GEOD.inv(*a.coords[0], *a.coords[1])[0] + 0.0, 100)
    result = overlap(a, b, 10)
    # A within 10 km of B: from 40 - sqrt(10² - 5²) = 31.34 km to A's end at 100 km
    assert result["a_within_b_km"] == pytest.approx(100 - (40 - math.sqrt(75)), rel=0.01)
    assert len(result["stretches"]) == 1
    assert result["stretches"][0]["from_chainage_km"] == pytest.approx(40 - math.sqrt(75), abs=0.5)
    assert result["crossings"] == []


def test_crossing_has_chainage_on_both_routes():
    a = geodesic_line(70.0, 30.0, 90.0, 100)
    centre = offset_point(a, 30, 0)
    b_start = GEOD.fwd(centre.x, centre.y, 180.0, 60_000)[:2]
    b = LineString([b_start, GEOD.fwd(centre.x, centre.y, 0.0, 40_000)[:2]])
    result = overlap(a, b, 5)
    assert len(result["crossings"]) == 1
    x = result["crossings"][0]
    assert x["chainage_a_km"] == pytest.approx(30.0, abs=0.1)
    assert x["chainage_b_km"] == pytest.approx(60.0, abs=0.1)
    assert result["a_within_b_km"] == pytest.approx(10.0, rel=0.02)


# --- catalogue level and real data ---------------------------------------------------------------

def test_layer_list_validation(catalog):
    assert parse_layer_list(catalog, "places, tapi,tapi") == ("places", "tapi")
    with pytest.raises(BadParameter) as err:
        parse_layer_list(catalog, "plces,tapi")
    assert err.value.to_dict()["suggestions"] == ["places"]


def test_report_errors(catalog):
    with pytest.raises(LayerNotFound):
        corridor_report(catalog, "nope", "x", 10)
    with pytest.raises(FeatureNotFound):
        corridor_report(catalog, "tapi", "nope", 10)
    with pytest.raises(BadParameter, match="line route"):
        corridor_report(catalog, "boundaries", "PAK", 10)


def test_gwadar_inside_25_km_of_the_cpec_southern_trunk(catalog):
    report = corridor_report(catalog, "cpec", "cpec_southern_trunk", 25, with_layers="ports,places")
    f = report["features"].set_index("id")
    assert f.loc["gwadar_port", "distance_km"] < 25
    gwadar = f[(f["layer"] == "places") & (f["name"] == "Gwadar")]
    assert len(gwadar) == 1 and gwadar["distance_km"].iloc[0] < 25
    # Gwadar is the end of the trunk every alignment shares: chainage within 25 km of the full length
    assert f.loc["gwadar_port", "chainage_km"] > report["corridor"].length_km - 25
    assert "karachi_port" not in f.index  # 500 km east of the trunk's end


def test_karachi_ports_in_north_south_corridor_near_chainage_0(catalog):
    report = corridor_report(catalog, "north_south_pipeline", "pakistan_stream", 25, with_layers="ports")
    f = report["features"].set_index("id")
    assert {"karachi_port", "port_qasim"} <= set(f.index)
    assert f.loc["karachi_port", "chainage_km"] < 5 and f.loc["port_qasim", "chainage_km"] < 50
    assert f.loc[["karachi_port", "port_qasim"], "distance_km"].max() < 25


def test_tapi_corridor_summaries_add_up(catalog):
    report = corridor_report(catalog, "tapi", "tapi_trunk", 50, with_layers="places,pakistan_gas_grid,tapi")
    s, f = report["summary"], report["features"]
    assert s["features"] == len(f) > 0
    assert sum(v["features"] for v in s["by_layer"].values()) == len(f)
    assert sum(v["features"] for v in s["by_status"].values()) == len(f)
    assert set(s["by_country"]) <= {"TKM", "AFG", "PAK", "IND", "IRN", "outside"}
    assert {"AFG", "PAK"} <= set(s["by_country"])
    assert (f["distance_km"] <= 50).all() and f["chainage_km"].is_monotonic_increasing
    assert "Herat" in set(f["name"]) and "Kandahar" in set(f["name"])
    # TAPI is counted once: its branches come from the tapi layer, and the grid holds no copy of the project
    assert set(f.loc[f["layer"] == "tapi", "id"]) == {"tapi_branch_1", "tapi_branch_2"}
    assert not f["id"].str.startswith("turkmenistan_afghanistan").any()
    doc = corridor_geojson(report)
    assert doc["features"][0]["properties"]["role"] == "corridor"
    assert doc["features"][0]["properties"]["area_km2"] == pytest.approx(report["corridor"].area_km2, abs=0.1)
    assert len(doc["features"]) == len(f) + 1
    assert all(isinstance(x["properties"]["distance_km"], float) for x in doc["features"][1:])


def test_the_grid_references_tapi_instead_of_copying_it(catalog):
    with pytest.raises(FeatureNotFound):
        overlap_report(catalog, "tapi:tapi_trunk",
                       "pakistan_gas_grid:turkmenistan_afghanistan_pakistan_india_gas_pipeline", 5)
    assert "tapi:tapi_trunk" in catalog.layer("pakistan_gas_grid").meta["references"]
    result = overlap_report(catalog, "tapi:tapi_trunk", "tapi:tapi_branch_1", 5)
    assert result["shared"] is None or result["shared"]["type"] in ("LineString", "MultiLineString")


def test_north_south_against_ml1(catalog):
    result = overlap_report(catalog, "north_south_pipeline:pakistan_stream", "cpec:ml1_railway", 25)
    # both run Karachi - Hyderabad - up the Indus towards Lahore: hundreds of km together
    assert 300 < result["a_within_b_km"] <= result["a_length_km"]
    for x in result["crossings"]:
        assert 0 <= x["chainage_a_km"] <= result["a_length_km"] and 0 <= x["chainage_b_km"] <= result["b_length_km"]


def test_overlap_reference_errors(catalog):
    with pytest.raises(BadParameter) as err:
        overlap_report(catalog, "tapi", "tapi:tapi_trunk", 10)
    assert err.value.to_dict()["parameter"] == "a"


# --- CLI ---------------------------------------------------------------------------------------------

def test_cli_corridor_formats(capsys):
    import json

    from geo.__main__ import main

    assert main(["corridor", "tapi", "tapi_trunk", "--width-km", "50", "--with", "places", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["corridor"]["width_km"] == 50 and doc["summary"]["features"] == len(doc["features"])
    assert any(f["name"] == "Herat" for f in doc["features"])
    assert main(["corridor", "tapi", "tapi_trunk", "--with", "places", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("layer,id,name,kind,status,countries,distance_km,chainage_km")
    assert main(["corridor", "tapi", "tapi_trunk", "--with", "places"]) == 0
    out = capsys.readouterr().out
    assert "1839.8 km route" in out and "by country:" in out


@pytest.mark.parametrize("argv, message", [
    (["corridor", "tapi", "tapi_trunk", "--width-km", "0"], "parameter 'width_km'"),
    (["corridor", "tapi", "tapi_trunk", "--width-km", "nan"], "finite"),
    (["corridor", "tapi", "tapi_trunk", "--with", "plces"], "did you mean: places"),
    (["corridor", "tapi", "nope"], "no feature 'nope'"),
    (["overlap", "tapi", "tapi:tapi_trunk"], "expected 'layer:feature'"),
])
def test_cli_errors_exit_2_with_a_message(capsys, argv, message):
    from geo.__main__ import main

    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_stats_still_works(capsys):
    from geo.__main__ import main

    assert main(["stats", "tapi", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("id,name,kind,status,geodesic_length_km,")
