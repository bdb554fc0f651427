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


# --- rows that cannot become trustworthy features are refused by row number, and nothing is written ----------

HEADER = "project,unit,type,owner,parent,countries,status_tabular,start_year,capacity,production,units,geom,lat,lng,route,url,status"


def _gem(tmp_path, *rows):
    path = tmp_path / "gem.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _point(project="Terminal", lat="25.1", lng="66.9", status="operating"):
    return f"{project},,lng_terminal,Owner,,Pakistan,{status},2020,5,,mtpa,point,{lat},{lng},,https://www.gem.wiki/x,{status}"


def _pipe(route, project="Pipe"):
    return f"{project},,gas_pipeline,Owner,,Pakistan,operating,2020,5,,bcm/y,line,,,\"{route}\",https://www.gem.wiki/p,operating"


@pytest.mark.parametrize("row, message", [
    (_point(lat="nan"), "row 2 ('Terminal'): lat 'nan' is not a finite number"),
    (_point(lat="95"), "row 2 ('Terminal'): lat 95 is outside -90..90"),
    (_point(lng="1e300"), "row 2 ('Terminal'): lng 1e+300 is outside -180..180"),
    (_point(lat="north"), "row 2 ('Terminal'): lat 'north' is not a number"),
    (_point(project=""), "row 2 (''): empty project name"),
    (_point(status="rumoured"), "row 2 ('Terminal'): unknown status 'rumoured'"),
    (_pipe("25.1,66.9:25.2"), "row 2 ('Pipe'): route point '25.2' is not 'lat,lng'"),
    (_pipe("25.1,66.9:x,y"), "row 2 ('Pipe'): lat 'x' is not a number"),
    (_pipe("25.1,66.9"), "row 2 ('Pipe'): route: segment with fewer than two points"),
    ("Short,,lng_terminal,Owner", "row 2 ('Short'): has 4 fields; the header has 17"),
])
def test_bad_rows_are_named_and_nothing_is_written(tmp_path, capsys, row, message):
    path = _gem(tmp_path, _point(project="Fine one"), row.replace("row 2", "row 3"))
    out = tmp_path / "out"
    assert gem_user.main(["--csv", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message.replace("row 2", "row 3") in err and "nothing written" in err
    assert not out.exists() or list(out.iterdir()) == []


def test_missing_columns_are_named(tmp_path, capsys):
    path = tmp_path / "gem.csv"
    path.write_text("project,type,status,countries\nA,lng_terminal,operating,Pakistan\n", encoding="utf-8")
    assert gem_user.main(["--csv", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "missing columns owner, start_year, capacity, units, lat, lng, route, url" in capsys.readouterr().err


def test_a_full_disk_never_leaves_a_truncated_layer(tmp_path, monkeypatch):
    out = tmp_path / "out"
    gem_user.import_gem(GEM_CSV, out, types=["lng_terminal"])
    before = (out / "gem_lng_terminals.geojson").read_bytes()
    real_write = gem_user.write_layer

    def full_disk(doc, path):
        real_write(doc, path)
        with open(path, "r+b") as fh:  # what a disk that filled up mid-write leaves: a cut file ...
            fh.truncate(1000)
        raise OSError(28, "No space left on device")  # ... and the error

    monkeypatch.setattr(gem_user, "write_layer", full_disk)
    with pytest.raises(OSError, match="No space left"):
        gem_user.import_gem(GEM_CSV, out, types=["lng_terminal"], countries=["Pakistan"])
    assert (out / "gem_lng_terminals.geojson").read_bytes() == before  # the old layer, whole
    assert sorted(p.name for p in out.iterdir()) == ["gem_lng_terminals.geojson"]  # no temporary left
