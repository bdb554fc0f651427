"""The dated-facts contract of the schema, layer integrity checks and atomic layer writes."""

import json

import pytest

from layers import build
from layers.catalog import BUILTIN_LAYERS_DIR, Catalog, read_layer_file
from layers.errors import LayerInvalid
from layers.schema import date_bounds, status_in_year

SOURCE = {"title": "t", "url": "https://example.org/t"}


def _layer(**props):
    base = {"id": "p1", "name": "P", "kind": "port", "status": "operating", "countries": ["PAK"],
            "reported_length_km": None, "geometry_quality": "point", "sources": [SOURCE], "licence": "CC0",
            "as_of": "2025-03", "last_checked": "2026-12-01",
            "status_history": [{"date": "2019", "status": "construction", "source": SOURCE},
                               {"date": "2025-03-01", "status": "operating", "source": SOURCE}]}
    base.update(props)
    base = {k: v for k, v in base.items() if v is not ...}
    return {"type": "FeatureCollection",
            "metadata": {"id": "sample", "title": "S", "description": "d", "attribution": "a", "licence": "CC0"},
            "features": [{"type": "Feature", "properties": base,
                          "geometry": {"type": "Point", "coordinates": [67.0, 25.0]}}]}


def _write(tmp_path, doc):
    path = tmp_path / "sample.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_dated_feature_loads(tmp_path):
    layer = read_layer_file(_write(tmp_path, _layer()))
    assert layer.gdf.loc[0, "status_history"][-1]["status"] == "operating"


@pytest.mark.parametrize("props, problem", [
    ({"as_of": ...}, "missing property 'as_of' (built-in features with a status date their facts)"),
    ({"status_history": ...}, "missing property 'status_history'"),
    ({"as_of": "2025-13"}, "as_of '2025-13' must be an ISO date"),
    ({"last_checked": "yesterday"}, "last_checked 'yesterday' must be an ISO date"),
    ({"status": "proposed"}, "status 'proposed' differs from the last status_history entry ('operating')"),
    ({"status_history": [{"date": "2025", "status": "operating", "source": SOURCE},
                         {"date": "2019", "status": "operating", "source": SOURCE}]}, "is not sorted by date"),
    ({"status_history": [{"date": "2025", "status": "operating"}]}, "status_history[0] needs source"),
    ({"status_history": [{"date": "2025", "status": "built", "source": SOURCE}]}, "status_history[0].status"),
    ({"facts": [{"field": "cost", "value": "US$1 bn", "as_of": "2024"}]}, "facts[0] needs source"),
    ({"facts": [{"field": "cost", "value": None, "as_of": "2024", "source": SOURCE}]}, "(cost) needs a value"),
    ({"reference_point": {"lat": 25, "lon": 67, "max_km": 0, "source": SOURCE}}, "max_km 0 must be a positive"),
    ({"start_year": "2"}, "start_year '2' must be a year"),
])
def test_broken_dates_name_file_feature_and_problem(tmp_path, props, problem):
    path = _write(tmp_path, _layer(**props))
    with pytest.raises(LayerInvalid) as info:
        read_layer_file(path)
    assert str(path) in str(info.value) and "feature 'p1'" in str(info.value)
    assert problem in str(info.value)


def test_user_layers_may_leave_dates_out_but_not_break_them(tmp_path):
    undated = _write(tmp_path, _layer(as_of=..., last_checked=..., status_history=...))
    assert len(read_layer_file(undated, builtin=False).gdf) == 1
    with pytest.raises(LayerInvalid, match="missing property 'as_of'"):
        read_layer_file(undated)  # the same file as a built-in layer must date its facts
    broken = _write(tmp_path, _layer(as_of="soon", last_checked=..., status_history=...))
    with pytest.raises(LayerInvalid, match="as_of 'soon'"):
        read_layer_file(broken, builtin=False)


def test_approximate_geometry_keeps_its_source_figures(tmp_path):
    doc = _layer()
    feature = doc["features"][0]
    feature["properties"].update(kind="gas_pipeline", geometry_quality="approximate")
    feature["geometry"] = {"type": "LineString", "coordinates": [[67.0, 25.0], [68.0, 26.0]]}
    with pytest.raises(LayerInvalid, match="approximate geometry needs source_vertex_count"):
        read_layer_file(_write(tmp_path, doc))
    feature["properties"].update(source_vertex_count=2, source_longest_segment_km=150.2)
    assert read_layer_file(_write(tmp_path, doc)).gdf.loc[0, "source_longest_segment_km"] == 150.2


def test_status_in_year_follows_the_history(catalog):
    pakistan = catalog.feature("iran_pakistan_pipeline", "iran_pakistan_pakistan_section").iloc[0]
    assert [status_in_year(pakistan, y) for y in (2012, 2013, 2022, 2023, 2026)] == [
        None, "construction", "construction", "shelved", "shelved"]
    tapi = catalog.feature("tapi", "tapi_trunk").iloc[0]
    assert status_in_year(tapi, 2014) is None and status_in_year(tapi, 2016) == "construction"
    assert status_in_year({"status": "operating"}, 2000) == "operating"  # undated user feature
    assert date_bounds("2024")[1].isoformat() == "2024-12-31"


def test_every_builtin_feature_with_a_status_is_dated(catalog):
    for layer in catalog:
        if not layer.builtin:
            continue
        for _, row in layer.gdf.iterrows():
            if row["status"] is None:
                continue
            assert row["last_checked"] == build.REVIEWED, (layer.id, row["id"])
            assert row["status_history"][-1]["status"] == row["status"]
            assert date_bounds(row["as_of"]), (layer.id, row["id"])


def test_gem_artefacts_are_cleaned():
    for layer_id in ("pakistan_gas_grid", "lng_terminals", "tapi", "north_south_pipeline"):
        doc = json.loads((BUILTIN_LAYERS_DIR / f"{layer_id}.geojson").read_text(encoding="utf-8"))
        props = [f["properties"] for f in doc["features"]]
        years = [p["start_year"] for p in props if p["start_year"] is not None]
        assert all(isinstance(y, int) and 1800 <= y <= 2100 for y in years), layer_id
        assert all(p["parent"] for p in props), layer_id  # GEM's parent column carried over
    stream = json.loads((BUILTIN_LAYERS_DIR / "north_south_pipeline.geojson").read_text(encoding="utf-8"))
    props = stream["features"][0]["properties"]
    assert props["start_year"] is None and "74.00%" in props["parent"]


def test_a_truncated_but_valid_file_is_refused_by_name(tmp_path):
    doc = json.loads((BUILTIN_LAYERS_DIR / "ports.geojson").read_text(encoding="utf-8"))
    assert doc["metadata"]["feature_count"] == len(doc["features"]) == 8
    doc["features"] = doc["features"][:-1]  # still valid GeoJSON, one port short
    path = tmp_path / "ports.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(LayerInvalid) as info:
        read_layer_file(path)
    assert str(path) in str(info.value) and "feature_count is 8 but the file holds 7" in str(info.value)
    with pytest.raises(LayerInvalid, match="ports.geojson: layer: metadata.feature_count"):
        Catalog.from_dirs(tmp_path)


def test_an_edited_feature_fails_the_content_hash(tmp_path):
    doc = json.loads((BUILTIN_LAYERS_DIR / "tapi.geojson").read_text(encoding="utf-8"))
    doc["features"][0]["properties"]["status"] = "operating"
    doc["features"][0]["properties"]["status_history"][-1]["status"] = "operating"
    path = tmp_path / "tapi.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(LayerInvalid, match="does not match metadata.content_sha256"):
        read_layer_file(path)


def test_write_layer_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "sample.geojson"
    build.write_layer(_layer(), path)
    before = path.read_bytes()
    assert read_layer_file(path).meta["feature_count"] == 1

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(build.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        build.write_layer(_layer(name="Renamed"), path)
    assert path.read_bytes() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["sample.geojson"]  # and no temporary file is left
