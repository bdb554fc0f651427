"""The importer: deterministic, faithful to the committed layers, and strict."""

import filecmp

import pytest
import shapely

from layers import build
from layers.errors import ImportFailed
from layers.importers import gem
from layers.importers.common import slug
from layers.importers.naturalearth import boundary_features


@pytest.fixture(scope="module")
def built_twice(tmp_path_factory):
    first, second = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    assert build.main(["--out", str(first)]) == 0
    assert build.main(["--out", str(second)]) == 0
    return first, second


def test_build_is_byte_identical_run_to_run(built_twice):
    first, second = built_twice
    names = sorted(p.name for p in first.glob("*.geojson"))
    assert names == sorted(f"{lid}.geojson" for lid in (*build.LAYER_INFO, *build.REGION_LAYERS))
    match, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
    assert mismatch == [] and errors == []


def test_committed_layers_are_what_the_importer_writes(built_twice):
    first, _ = built_twice
    names = sorted(p.name for p in first.glob("*.geojson"))
    _, mismatch, errors = filecmp.cmpfiles(first, build.BUILTIN_LAYERS_DIR, names, shallow=False)
    assert mismatch == [] and errors == [], "run `python -m layers.build` and commit data/layers/"


def test_gem_route_is_latitude_first_and_multi_segment():
    geom = gem.parse_route("25.0,67.0:26.0,68.0;30.0,70.0:31.0,71.0")
    assert geom.geom_type == "MultiLineString"
    assert list(geom.geoms[0].coords) == [(67.0, 25.0), (68.0, 26.0)]


@pytest.mark.parametrize("raw, expected", [("construction_plus", "construction"), ("operating", "operating"),
                                           ("mothballed_plus", "mothballed")])
def test_gem_status_drops_the_map_grouping_suffix(raw, expected):
    assert gem.normalise_status(raw) == expected


def test_gem_bad_input_fails_loudly():
    with pytest.raises(ImportFailed, match="fewer than two points"):
        gem.parse_route("25.0,67.0")
    with pytest.raises(ImportFailed, match="unknown status"):
        gem.normalise_status("dreaming")


def test_plant_summary_sums_live_units():
    rows = gem.read_gem(build.GEM_CSV)
    guddu = gem.plant_summary(rows, "Guddu power station")
    # operating units: 272 + 143 + 747 + 200 + 400 MW; four mothballed units excluded
    assert guddu["capacity"] == pytest.approx(1762.0)
    assert guddu["status"] == "operating" and guddu["units"] == 9


def test_boundaries_are_clipped_valid_and_coded():
    features = boundary_features(build.NE_COUNTRIES, build.REGION_BBOX)
    codes = [f["properties"]["id"] for f in features]
    assert {"PAK", "AFG", "IRN", "CHN", "TJK", "KGZ", "TKM", "IND"} <= set(codes)
    pak = shapely.geometry.shape(next(f for f in features if f["properties"]["id"] == "PAK")["geometry"])
    assert pak.is_valid and pak.contains(shapely.Point(67.0, 24.9))  # Karachi


def test_slug():
    assert slug("Iran–Pakistan Pipeline (LNG Phase II)") == "iran_pakistan_pipeline_lng_phase_ii"
