"""Known geodesics on the WGS84 ellipsoid, and the vectorised helpers."""

import geopandas as gpd
import numpy as np
import pytest
from shapely import LineString, MultiLineString, Point, Polygon

from geo.geodesic import (
    densify_geodesic,
    densify_lonlat,
    distance_km,
    endpoints,
    geodesic_length_km,
    line_length_km,
    straight_line_km,
)
from layers.errors import BadParameter


def dms(d, m, s):
    return d + m / 60 + s / 3600


def test_one_degree_of_longitude_on_the_equator():
    assert float(distance_km(0, 0, 1, 0)) == pytest.approx(111.319491, abs=1e-6)


def test_jfk_to_changi_matches_geodsolve():
    # GeographicLib GeodSolve(1) man page, EXAMPLES: "Route from JFK Airport to
    # Singapore Changi Airport ... GeodSolve -i -: -p 0 -> 15347628" (metres)
    km = distance_km(-dms(73, 46, 44), dms(40, 38, 23), dms(103, 59, 22), dms(1, 21, 33))
    assert float(km) * 1000 == pytest.approx(15347628, abs=1.0)


def test_one_degree_of_latitude_differs_by_latitude():
    # the ellipsoid, not a sphere: a degree of latitude is longer at the pole
    at_equator = float(distance_km(0, 0, 0, 1))
    at_pole = float(distance_km(0, 89, 0, 90))
    assert at_equator == pytest.approx(110.574, abs=1e-3)
    assert at_pole == pytest.approx(111.694, abs=1e-3)


@pytest.mark.parametrize(
    "geom, expected_km",
    [
        (LineString([(0, 0), (1, 0)]), 111.319491),
        (LineString([(0, 0), (0.5, 0), (1, 0)]), 111.319491),
        (MultiLineString([[(0, 0), (1, 0)], [(10, 0), (11, 0)]]), 2 * 111.319491),
        (Point(5, 5), 0.0),
        (None, 0.0),
        (LineString(), 0.0),
    ],
    ids=["line", "split-line", "multiline", "point", "none", "empty"],
)
def test_geodesic_length_km_parts_and_awkward_cases(geom, expected_km):
    assert geodesic_length_km([geom])[0] == pytest.approx(expected_km, abs=1e-6)


def test_polygon_length_is_its_perimeter():
    square = Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
    sides = distance_km([0, 1, 1, 0], [0, 0, 1, 1], [1, 1, 0, 0], [0, 1, 1, 0]).sum()
    assert geodesic_length_km([square])[0] == pytest.approx(sides, rel=1e-12)


def test_lengths_are_independent_per_geometry():
    geoms = [LineString([(60, 30), (61, 30)]), LineString([(70, 35), (70, 36)])]
    together = geodesic_length_km(geoms)
    alone = [geodesic_length_km([g])[0] for g in geoms]
    np.testing.assert_allclose(together, alone, rtol=1e-12)


def test_projected_input_is_refused():
    gdf = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1000, 0)])], crs="EPSG:3857")
    with pytest.raises(BadParameter, match="geographic"):
        geodesic_length_km(gdf)


def test_densify_keeps_vertices_and_length_and_follows_the_geodesic():
    lon, lat = densify_lonlat([62.0, 74.0], [37.0, 30.0], max_segment_km=10)
    assert (lon[0], lat[0], lon[-1], lat[-1]) == (62.0, 37.0, 74.0, 30.0)
    step = distance_km(lon[:-1], lat[:-1], lon[1:], lat[1:])
    assert step.max() <= 10.0 + 1e-9
    direct = float(distance_km(62, 37, 74, 30))
    assert line_length_km(lon, lat) == pytest.approx(direct, rel=1e-9)
    # the geodesic bows poleward of the straight lon/lat line in the northern hemisphere
    mid = len(lon) // 2
    assert lat[mid] > 37 + (30 - 37) * (lon[mid] - 62) / 12


def test_densify_geodesic_keeps_types_and_lengths():
    geoms = [
        LineString([(60, 37), (70, 30)]),
        MultiLineString([[(60, 30), (61, 30)], [(65, 25), (66, 26), (68, 27)]]),
        Point(1, 1),
        None,
    ]
    dense = densify_geodesic(geoms, max_segment_km=5)
    assert [g.geom_type if g is not None else None for g in dense] == [
        "LineString", "MultiLineString", "Point", None]
    np.testing.assert_allclose(geodesic_length_km(dense), geodesic_length_km(geoms), rtol=1e-9)
    assert len(dense[0].coords) > 200


def test_endpoints_and_straight_line_use_the_longest_part():
    multi = MultiLineString([[(0, 0), (0.1, 0)], [(10, 0), (11, 0), (12, 0)]])
    start, end = endpoints([multi, None])
    assert start[0].tolist() == [10, 0] and end[0].tolist() == [12, 0]
    assert np.isnan(start[1]).all()
    assert straight_line_km([multi])[0] == pytest.approx(2 * 111.319491, rel=1e-6)
