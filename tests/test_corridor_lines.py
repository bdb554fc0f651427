"""Lines measured all at once (geo.corridor_lines) give the same floats as one at a time (geo.corridor)."""

import numpy as np
import pytest
import shapely
from shapely import LineString, MultiLineString

from geo.corridor import _nearest_shape, build_corridor
from geo.corridor_lines import nearest_lines
from geo.geodesic import GEOD


def one_at_a_time(corridor, lines):
    rows = []
    for geom in lines:
        d, chain, route_xy, own_xy = _nearest_shape(corridor, geom)
        rows.append([d, chain, *route_xy, *own_xy])
    return np.array(rows, dtype=float).reshape(-1, 6)


def assert_same(corridor, lines):
    got, want = nearest_lines(corridor, lines), one_at_a_time(corridor, lines)
    assert got.shape == want.shape
    # byte for byte, NaN where either has NaN
    assert np.array_equal(got, want, equal_nan=True), np.argwhere(~np.isclose(got, want, equal_nan=True))[:5]
    return got


def scattered_lines(n, seed, *, span=(60.0, 78.0, 23.0, 40.0), longest_deg=3.0):
    """Lines of 2-5 vertices up to ``longest_deg`` long, some two-part, over ``span``."""
    rng = np.random.default_rng(seed)
    west, east, south, north = span
    out = []
    for i in range(n):
        k = int(rng.integers(2, 6))
        start = rng.uniform((west, south), (east, north))
        steps = rng.uniform(-longest_deg / k, longest_deg / k, (k - 1, 2))
        line = LineString(np.vstack([start, start + np.cumsum(steps, axis=0)]))
        if i % 17 == 0:
            other = shapely.affinity.translate(line, 0.4, -0.3)
            line = MultiLineString([line, other])
        out.append(line)
    return np.array(out, dtype=object)


@pytest.fixture(scope="module")
def corridor():
    # Karachi - Lahore - Peshawar, 50 km each side (the scale bench's corridor)
    return build_corridor(LineString([(67.0, 24.9), (74.3, 31.5), (71.6, 34.0)]), 50)


def test_scattered_lines_across_and_beside_the_route(corridor):
    got = assert_same(corridor, scattered_lines(300, seed=3))
    assert (got[:, 0] == 0).sum() > 10 and (got[:, 0] > 0).sum() > 150  # both kinds, many of each


def test_short_lines_near_the_route_where_route_vertices_are_nearest(corridor):
    # 5 km lines parallel to the route 1-40 km off it: the route's vertices, not the lines', are the nearest
    rng = np.random.default_rng(5)
    lon, lat, _ = GEOD.fwd(np.full(150, 67.0), np.full(150, 24.9), np.full(150, 42.0), rng.uniform(0, 900e3, 150))
    off_lon, off_lat, _ = GEOD.fwd(lon, lat, np.full(150, 132.0), rng.uniform(1e3, 40e3, 150))
    end_lon, end_lat, _ = GEOD.fwd(off_lon, off_lat, np.full(150, 42.0), np.full(150, 5e3))
    lines = shapely.linestrings(np.stack([np.c_[off_lon, off_lat], np.c_[end_lon, end_lat]], axis=1))
    got = assert_same(corridor, lines)
    assert (got[:, 0] > 0).sum() > 130  # all but the few that reach the route's second leg


def test_one_line_far_away_none_touching_and_an_empty_batch(corridor):
    assert_same(corridor, np.array([LineString([(100, 0), (101, 1)])], dtype=object))
    assert_same(corridor, np.array([LineString([(60, 20), (80, 38)]), LineString([(66.9, 24.8), (67.1, 25.0)])],
                                   dtype=object))
    assert nearest_lines(corridor, np.array([], dtype=object)).shape == (0, 6)


def test_long_sparse_lines_and_lines_across_the_antimeridian():
    route = build_corridor(LineString([(170.0, 60.0), (-170.0, 62.0)]), 100)
    lines = np.array([LineString([(175.0, 58.0), (-175.0, 59.0)]), LineString([(160.0, 50.0), (-160.0, 50.0)]),
                      LineString([(179.5, 61.0), (179.9, 61.2)]), LineString([(-179.0, 64.0), (-171.0, 64.0)])],
                     dtype=object)
    assert_same(route, lines)
