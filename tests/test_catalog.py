"""Every committed layer loads and validates; broken layers fail by name."""

import copy
import json

import pytest

from layers.catalog import BUILTIN_LAYERS_DIR, Catalog, read_layer_file
from layers.errors import FeatureNotFound, LayerInvalid, LayerNotFound

LAYER_FILES = sorted(BUILTIN_LAYERS_DIR.glob("*.geojson"))
REQUIRED_LAYERS = {
    "boundaries", "tapi", "north_south_pipeline", "casa1000", "cpec", "ports", "iran_pakistan_pipeline",
    "thar_lahore_hvdc", "energy_projects", "pakistan_gas_grid", "lng_terminals",
}


def test_every_promised_layer_is_committed():
    assert REQUIRED_LAYERS <= {p.stem for p in LAYER_FILES}


@pytest.mark.parametrize("path", LAYER_FILES, ids=lambda p: p.stem)
def test_committed_layer_validates(path):
    layer = read_layer_file(path)
    assert len(layer.gdf) > 0
    assert layer.gdf.crs.to_epsg() == 4326
    assert layer.gdf["id"].is_unique
    assert all(layer.gdf["sources"].map(len) > 0)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert "crs" not in raw  # RFC 7946


@pytest.fixture
def good_layer():
    return {
        "type": "FeatureCollection",
        "metadata": {"id": "sample", "title": "Sample", "description": "d", "attribution": "a", "licence": "CC0"},
        "features": [{
            "type": "Feature",
            "properties": {
                "id": "line_1", "name": "Line", "kind": "road", "status": "proposed", "countries": ["PAK"],
                "reported_length_km": 100, "geometry_quality": "schematic",
                "sources": [{"title": "t", "url": "https://example.org"}], "licence": "CC0",
                "as_of": "2026-11", "last_checked": "2026-12-01",
                "status_history": [{"date": "2026-11", "status": "proposed",
                                    "source": {"title": "t", "url": "https://example.org"}}],
            },
            "geometry": {"type": "LineString", "coordinates": [[67.0, 25.0], [68.0, 26.0]]},
        }],
    }


def write(tmp_path, doc, name="sample"):
    path = tmp_path / f"{name}.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_good_layer_loads(tmp_path, good_layer):
    layer = read_layer_file(write(tmp_path, good_layer))
    assert layer.id == "sample" and layer.geometry_family == "line"
    assert layer.gdf.loc[0, "countries"] == ["PAK"]


def _break(doc, how):
    props = doc["features"][0]["properties"]
    geometry = doc["features"][0]
    if how == "missing_status":
        del props["status"]
    elif how == "bad_status":
        props["status"] = "planned"
    elif how == "bad_country":
        props["countries"] = ["Pakistan"]
    elif how == "no_sources":
        props["sources"] = []
    elif how == "outside_region":
        geometry["geometry"]["coordinates"] = [[10.0, 50.0], [11.0, 51.0]]
    elif how == "self_intersecting_polygon":
        geometry["geometry"] = {"type": "Polygon", "coordinates": [[[67, 25], [68, 26], [68, 25], [67, 26], [67, 25]]]}
    elif how == "duplicate_id":
        doc["features"].append(copy.deepcopy(doc["features"][0]))
    elif how == "point_quality_on_line":
        props["geometry_quality"] = "point"
    elif how == "negative_length":
        props["reported_length_km"] = -5
    return doc


@pytest.mark.parametrize(
    "how, message",
    [
        ("missing_status", "feature 'line_1': missing property 'status'"),
        ("bad_status", "status 'planned' is not one of"),
        ("bad_country", "must be a list of ISO 3166-1 alpha-3 codes"),
        ("no_sources", "sources must be a non-empty list"),
        ("outside_region", "coordinates outside the region"),
        ("self_intersecting_polygon", "invalid geometry: Self-intersection"),
        ("duplicate_id", "feature 'line_1': duplicate id in layer"),
        ("point_quality_on_line", "geometry_quality 'point' goes with Point geometry"),
        ("negative_length", "reported_length_km -5 must be a positive number"),
    ],
)
def test_broken_layer_names_file_feature_and_problem(tmp_path, good_layer, how, message):
    path = write(tmp_path, _break(good_layer, how))
    with pytest.raises(LayerInvalid) as info:
        read_layer_file(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not readable as JSON"),
        ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection", "features": []}', "missing 'metadata' object"),
    ],
)
def test_unreadable_files_fail_clearly(tmp_path, text, message):
    path = tmp_path / "sample.geojson"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LayerInvalid, match=message):
        read_layer_file(path)


def test_crs_member_is_refused(tmp_path, good_layer):
    good_layer["crs"] = {"type": "name", "properties": {"name": "EPSG:3857"}}
    with pytest.raises(LayerInvalid, match="'crs' member"):
        read_layer_file(write(tmp_path, good_layer))


def test_catalog_lookups_and_user_folder(tmp_path, good_layer):
    write(tmp_path, good_layer)
    catalog = Catalog.from_dirs(extra_dirs=[tmp_path])
    assert "sample" in catalog and "tapi" in catalog
    assert not catalog.layer("sample").builtin
    assert catalog.feature("tapi", "tapi_trunk").iloc[0]["name"].startswith("TAPI")
    with pytest.raises(LayerNotFound, match="unknown layer '../etc'"):
        catalog.layer("../etc")
    with pytest.raises(FeatureNotFound, match="has no feature 'nope'"):
        catalog.feature("tapi", "nope")


def test_user_layer_cannot_shadow_a_builtin(tmp_path, good_layer):
    good_layer["metadata"]["id"] = "tapi"
    write(tmp_path, good_layer, name="tapi")
    with pytest.raises(LayerInvalid, match="already in the catalogue"):
        Catalog.from_dirs(extra_dirs=[tmp_path])


def test_memo_computes_once():
    catalog = Catalog([])
    calls = []
    assert catalog.memo("k", lambda: calls.append(1) or 42) == 42
    assert catalog.memo("k", lambda: calls.append(1) or 43) == 42
    assert calls == [1]
