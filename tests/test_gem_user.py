"""The GEM user-layer importer on the real Asia Gas Tracker file."""

import json

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.geodesic import distance_km, geodesic_length_km
from layers.build import GEM_CSV
from layers.catalog import Catalog
from layers.errors import BadParameter, ImportFailed
from layers.importers import gem_user

KARACHI = "66.9,24.75,67.25,25.05"


@pytest.fixture(scope="module")
def pipelines_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gem_user")
    assert gem_user.main(["--csv", str(GEM_CSV), "--out", str(out), "--types", "gas_pipeline"]) == 0
    return out


@pytest.fixture(scope="module")
def catalog(pipelines_dir):
    return Catalog.from_dirs(extra_dirs=[pipelines_dir], extra_region=None)


def test_every_gem_pipeline_is_imported_and_validates(pipelines_dir, catalog):
    assert sorted(p.name for p in pipelines_dir.iterdir()) == ["gem_gas_pipelines.geojson"]
    layer = catalog.layer("gem_gas_pipelines")
    assert not layer.builtin
    assert len(layer.gdf) == 1174
    assert layer.gdf["id"].is_unique
    assert layer.geometry_family == "line"
    assert set(layer.gdf["kind"]) == {"gas_pipeline"}
    assert set(layer.gdf["status"]) == {"operating", "proposed", "construction", "cancelled", "shelved", "retired"}
    assert layer.gdf["status"].value_counts()["operating"] == 750


def test_layer_metadata_credits_gem(catalog):
    meta = catalog.layer("gem_gas_pipelines").meta
    assert meta["attribution"] == "Global Energy Monitor, Asia Gas Tracker, May 2024 (CC BY 4.0)"
    assert meta["licence"] == "CC BY 4.0"
    gdf = catalog.layer("gem_gas_pipelines").gdf
    assert set(gdf["licence"]) == {"CC BY 4.0 (Global Energy Monitor)"}
    urls = [s[0]["url"] for s in gdf["sources"]]
    assert all(u.startswith("https://") for u in urls)
    assert sum(u.startswith("https://www.gem.wiki/") for u in urls) == 1171  # 3 rows cite news pages


def test_routes_are_densified_on_the_geodesic(catalog):
    gdf = catalog.layer("gem_gas_pipelines").gdf
    parts = shapely.get_parts(gdf.geometry.values)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    same = part[1:] == part[:-1]
    steps = distance_km(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])[same]
    assert steps.max() <= 10.0 + 1e-6


def test_user_layer_matches_the_built_in_layers(catalog):
    # same GEM rows, same parsing: the Pakistan Stream route measures the same in both layers
    user = catalog.feature("gem_gas_pipelines", "pakistan_stream_gas_pipeline")
    builtin = catalog.feature("north_south_pipeline", "pakistan_stream")
    assert user["name"].item() == "Pakistan Stream Gas Pipeline"
    assert user["countries"].item() == ["PAK"]
    assert geodesic_length_km(user)[0] == pytest.approx(geodesic_length_km(builtin)[0], abs=1e-6)
    # quality is judged on GEM's own route, before densifying: 16 points with a 143.9 km straight run
    assert user["geometry_quality"].item() == builtin["geometry_quality"].item() == "approximate"
    assert user["source_vertex_count"].item() == 16 and user["source_longest_segment_km"].item() == 143.9
    assert pd.isna(user["start_year"].item())  # GEM's "2" placeholder is not a year


def test_units_are_named_and_ids_stay_unique(catalog):
    gdf = catalog.layer("gem_gas_pipelines").gdf.set_index("id")
    # GEM lists 64 units under "Shanxi Gas Pipeline Network"; each keeps its unit name
    shanxi = gdf[gdf.index.str.startswith("shanxi_gas_pipeline_network")]
    assert len(shanxi) == 64
    assert all(name.startswith("Shanxi Gas Pipeline Network (") for name in shanxi["name"])
    assert gdf.index.str.len().max() <= 128


def test_country_filter_reproduces_the_pakistan_grid(tmp_path, catalog):
    report = gem_user.import_gem(GEM_CSV, tmp_path, types=["gas_pipeline"], countries=["Pakistan"], prefix="pk")
    assert report["pk_gas_pipelines"]["features"] == 70
    user = Catalog.from_dirs(extra_dirs=[tmp_path]).layer("pk_gas_pipelines")
    # the built-in grid holds the same lines less the four projects that are their own layers' features
    grid = catalog.layer("pakistan_gas_grid")
    grouped = {"turkmenistan_afghanistan_pakistan_india_gas_pipeline", "iran_pakistan_pipeline",
               "iran_pakistan_india_pipeline", "pakistan_stream_gas_pipeline"}
    assert set(user.gdf["id"]) == set(grid.gdf["id"]) | grouped
    assert len(grid.meta["references"]) == 7
    # ISO3 codes work as well as GEM's names
    again = gem_user.import_gem(GEM_CSV, tmp_path / "iso", types=["gas_pipeline"], countries=["PAK"], prefix="pk")
    assert again["pk_gas_pipelines"]["features"] == 70


def test_bbox_filter_keeps_routes_touching_karachi(tmp_path):
    gem_user.import_gem(GEM_CSV, tmp_path, types=["gas_pipeline"], bbox=KARACHI, prefix="karachi")
    doc = json.loads((tmp_path / "karachi_gas_pipelines.geojson").read_text(encoding="utf-8"))
    assert {f["properties"]["id"] for f in doc["features"]} == {
        "bajara_karachi_loopline", "dadu_malir_karachi_gas_pipeline", "iran_pakistan_india_pipeline",
        "kadanwari_malir_karachi_gas_pipeline", "nawabshah_karachi_gas_pipeline", "pakistan_stream_gas_pipeline",
    }
    assert "bbox: 66.9,24.75,67.25,25.05" in doc["metadata"]["description"]


def test_point_types(tmp_path):
    report = gem_user.import_gem(GEM_CSV, tmp_path, types=["lng_terminal", "gas_power_plant"],
                                 countries=["Pakistan"])
    assert set(report) == {"gem_lng_terminals", "gem_gas_power_plants"}
    plants = Catalog.from_dirs(extra_dirs=[tmp_path]).layer("gem_gas_power_plants").gdf
    assert set(plants["kind"]) == {"power_plant"}
    assert set(plants["geometry_quality"]) == {"point"}
    assert (plants["capacity_unit"] == "MW").all()
    assert np.isfinite(plants["capacity"].astype(float)).all()


def test_rows_without_coordinates_are_counted(tmp_path):
    report = gem_user.import_gem(GEM_CSV, tmp_path, types=["lng_terminal"])
    assert report["gem_lng_terminals"]["features"] == 410
    assert report["gem_lng_terminals"]["skipped"] == 4


def test_unknown_type_and_country_name_the_parameter(tmp_path):
    with pytest.raises(BadParameter) as err:
        gem_user.import_gem(GEM_CSV, tmp_path, types=["gas_pipelines"])
    assert err.value.name == "types" and "gas_pipeline" in err.value.suggestions
    with pytest.raises(BadParameter) as err:
        gem_user.import_gem(GEM_CSV, tmp_path, countries=["Pakistn"])
    assert err.value.name == "countries" and err.value.suggestions[0] == "Pakistan"
    with pytest.raises(BadParameter) as err:
        gem_user.import_gem(GEM_CSV, tmp_path, bbox="1,2,3")
    assert err.value.name == "bbox"
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    assert gem_user.main(["--csv", str(GEM_CSV), "--out", str(tmp_path), "--countries", "Atlantis"]) == 2
    assert "parameter 'countries': no country 'Atlantis'" in capsys.readouterr().err
    not_gem = tmp_path / "other.csv"
    not_gem.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ImportFailed):
        gem_user.import_gem(not_gem, tmp_path / "out")
    assert gem_user.main(["--csv", str(tmp_path / "missing.csv"), "--out", str(tmp_path)]) == 2


def test_no_match_writes_nothing(tmp_path, capsys):
    assert gem_user.main(["--csv", str(GEM_CSV), "--out", str(tmp_path / "o"), "--bbox=-60,-50,-50,-40"]) == 1
    assert "nothing written" in capsys.readouterr().err
