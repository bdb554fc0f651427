"""Spatial index bbox queries on real layers, bbox validation and paging."""

import numpy as np
import pytest
import shapely

from layers.errors import BadParameter, LayerNotFound
from layers.index import MAX_LIMIT, bbox_positions, build_tree, layer_tree, page, parse_bbox, query_bbox

KARACHI = (66.9, 24.75, 67.25, 25.05)
LAHORE = (74.2, 31.4, 74.45, 31.65)
# GEM pipelines of the Pakistan grid that reach Karachi (checked against the routes); Pakistan Stream and
# IPI reach it too but are their own layers' features, which the grid references
KARACHI_LINES = {
    "bajara_karachi_loopline", "dadu_malir_karachi_gas_pipeline", "kadanwari_malir_karachi_gas_pipeline",
    "nawabshah_karachi_gas_pipeline",
}
LAHORE_ONLY = {"sahiwal_lahore_gas_pipeline_i", "sawan_lahore_gas_pipeline", "faisalabad_shahdara_gas_pipeline_i"}




def ids_at(catalog, layer_id, positions):
    return set(catalog.layer(layer_id).gdf["id"].iloc[positions])


def test_bbox_over_karachi_returns_the_lines_that_reach_it(catalog):
    positions = bbox_positions(catalog, "pakistan_gas_grid", KARACHI)
    assert ids_at(catalog, "pakistan_gas_grid", positions) == KARACHI_LINES
    assert not LAHORE_ONLY & ids_at(catalog, "pakistan_gas_grid", positions)
    assert positions.tolist() == sorted(positions.tolist())


def test_bbox_over_lahore_shares_no_grid_line_with_karachi(catalog):
    lahore = ids_at(catalog, "pakistan_gas_grid", bbox_positions(catalog, "pakistan_gas_grid", LAHORE))
    assert LAHORE_ONLY <= lahore
    assert not lahore & KARACHI_LINES
    # the one Karachi-Lahore line is Pakistan Stream, in its own layer
    assert ids_at(catalog, "north_south_pipeline", bbox_positions(catalog, "north_south_pipeline", LAHORE)) == {
        "pakistan_stream"}


@pytest.mark.parametrize("bbox", [KARACHI, LAHORE, (60, 20, 80, 40), (0, -10, 10, 0), (44, 5, 90, 50)])
def test_index_agrees_with_a_full_scan(catalog, bbox):
    for layer_id in ("pakistan_gas_grid", "boundaries", "lng_terminals"):
        geoms = catalog.layer(layer_id).gdf.geometry.values
        expected = np.flatnonzero(shapely.intersects(geoms, shapely.box(*bbox)))
        assert bbox_positions(catalog, layer_id, bbox).tolist() == expected.tolist()


def test_text_bbox_and_memoised_tree(catalog):
    text = ",".join(str(v) for v in KARACHI)
    assert bbox_positions(catalog, "pakistan_gas_grid", text).tolist() == \
        bbox_positions(catalog, "pakistan_gas_grid", KARACHI).tolist()
    assert layer_tree(catalog, "pakistan_gas_grid") is layer_tree(catalog, "pakistan_gas_grid")


def test_boundaries_bbox_finds_the_countries_there(catalog):
    positions = bbox_positions(catalog, "boundaries", KARACHI)
    assert ids_at(catalog, "boundaries", positions) == {"PAK"}


def test_unknown_layer_is_404(catalog):
    with pytest.raises(LayerNotFound):
        bbox_positions(catalog, "no_such_layer", KARACHI)


def test_empty_and_missing_geometries_never_match():
    tree = build_tree(np.array([None, shapely.LineString(), shapely.Point(67, 25)], dtype=object))
    assert query_bbox(tree, KARACHI).tolist() == [2]


def test_parse_bbox():
    assert parse_bbox(" 66.9, 24.75,67.25 ,25.05") == KARACHI


@pytest.mark.parametrize("text, fragment", [
    ("", "expected"),
    ("1,2,3", "got 3"),
    ("1,2,3,4,5", "got 5"),
    ("a,2,3,4", "minlon 'a' is not a number"),
    ("1,nan,3,4", "not a finite"),
    ("1,2,inf,4", "not a finite"),
    ("10,2,5,4", "minlon 10 must be less than maxlon 5"),
    ("1,4,3,4", "minlat 4 must be less than maxlat 4"),
    ("-181,2,3,4", "minlon -181 is outside [-180, 180]"),
    ("1,2,3,95", "maxlat 95 is outside [-90, 90]"),
    ("1," * 200 + "1", "longer than"),
])
def test_bad_bbox_names_the_parameter(text, fragment):
    with pytest.raises(BadParameter) as err:
        parse_bbox(text)
    assert err.value.to_dict()["parameter"] == "bbox"
    assert fragment in err.value.why


@pytest.mark.parametrize("bbox", [(1, 2, 3), (1, 2, 3, "4"), (True, 2, 3, 4), None, "1,2,3,4x"])
def test_bad_bbox_values(catalog, bbox):
    with pytest.raises(BadParameter) as err:
        bbox_positions(catalog, "tapi", bbox)
    assert err.value.name == "bbox"


def test_paging_slices_and_next_offsets():
    positions = np.arange(100, 125)  # 25 rows
    first, nxt = page(positions, limit=10)
    assert first.tolist() == list(range(100, 110)) and nxt == 10
    second, nxt = page(positions, limit=10, offset=nxt)
    assert second.tolist() == list(range(110, 120)) and nxt == 20
    last, nxt = page(positions, limit=10, offset=nxt)
    assert last.tolist() == list(range(120, 125)) and nxt is None
    exact, nxt = page(positions, limit=5, offset=20)
    assert exact.tolist() == list(range(120, 125)) and nxt is None
    beyond, nxt = page(positions, limit=5, offset=30)
    assert beyond.tolist() == [] and nxt is None
    everything, nxt = page(positions)
    assert everything.tolist() == positions.tolist() and nxt is None
    tail, nxt = page(positions, offset=22)
    assert tail.tolist() == [122, 123, 124] and nxt is None


def test_paging_accepts_query_strings():
    rows, nxt = page(np.arange(10), limit="3", offset="6")
    assert rows.tolist() == [6, 7, 8] and nxt == 9


def test_paging_the_karachi_hits(catalog):
    hits = bbox_positions(catalog, "pakistan_gas_grid", KARACHI)
    pages = [page(hits, limit=3, offset=0), page(hits, limit=3, offset=3)]
    assert pages[0][1] == 3 and pages[1][1] is None
    assert np.concatenate([pages[0][0], pages[1][0]]).tolist() == hits.tolist()


def test_a_limit_over_the_maximum_is_capped_not_refused():
    chosen, next_offset = page(np.arange(50), limit=50, max_limit=20)
    assert chosen.tolist() == list(range(20)) and next_offset == 20
    assert len(page(np.arange(MAX_LIMIT + 5), limit=MAX_LIMIT + 1)[0]) == MAX_LIMIT


@pytest.mark.parametrize("kwargs, name, fragment", [
    ({"limit": 0}, "limit", "at least 1"),
    ({"limit": -5}, "limit", "at least 1"),
    ({"limit": "99999999999999999999"}, "limit", "not a whole number"),
    ({"limit": "ten"}, "limit", "not a whole number"),
    ({"limit": 2.5}, "limit", "not a whole number"),
    ({"limit": "2.0"}, "limit", "not a whole number"),
    ({"limit": True}, "limit", "not a whole number"),
    ({"offset": -1}, "offset", "at least 0"),
    ({"offset": "1e3"}, "offset", "not a whole number"),
    ({"offset": 10**12}, "offset", "larger than the maximum"),
])
def test_bad_paging_values(kwargs, name, fragment):
    with pytest.raises(BadParameter) as err:
        page(np.arange(10), **kwargs)
    assert err.value.name == name
    assert fragment in err.value.why
