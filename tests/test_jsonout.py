"""No NaN or Infinity in any JSON the service writes: non-finite numbers are written as null."""

import json

import pytest

from webapp import create_app
from webapp.jsonout import dumps, finite


def _strict(text):
    """Parse like JSON.parse: NaN/Infinity are errors."""

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_dumps_nulls_non_finite_numbers_at_any_depth():
    doc = {"a": float("nan"), "b": [1.0, float("inf"), {"c": -float("inf")}], "d": (2.5, float("nan")), "e": "NaN"}
    assert _strict(dumps(doc)) == {"a": None, "b": [1.0, None, {"c": None}], "d": [2.5, None], "e": "NaN"}
    assert dumps({"x": 1.5}) == '{"x":1.5}'
    assert finite(float("nan")) is None and finite(3) == 3


@pytest.fixture(scope="module")
def nan_client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nan_layers")
    feature = {
        "type": "Feature", "geometry": {"type": "LineString", "coordinates": [[67.0, 25.0], [68.0, 26.0]]},
        "properties": {"id": "nan_line", "name": "NaN line", "kind": "gas_pipeline", "status": "proposed",
                       "countries": ["PAK"], "reported_length_km": None, "geometry_quality": "schematic",
                       "sources": [{"title": "Test", "url": "https://example.org/"}], "licence": "CC0",
                       "figure": float("nan"), "extra": {"figures": [1.0, float("inf")], "cost": -float("inf")}},
    }
    doc = {"type": "FeatureCollection", "features": [feature],
           "metadata": {"id": "nanlayer", "title": "NaN layer", "description": "properties with NaN and Infinity",
                        "attribution": "Test", "licence": "CC0"}}
    # Python writes NaN/Infinity literals, as a careless producer would
    (folder / "nanlayer.geojson").write_text(json.dumps(doc), encoding="utf-8")
    assert "NaN" in (folder / "nanlayer.geojson").read_text()
    return create_app({"TESTING": True, "LAYERS_DIRS": [str(folder)]}).test_client()


@pytest.mark.parametrize("path", ["/api/layers/nanlayer", "/api/layers/nanlayer?limit=1",
                                  "/api/layers/nanlayer/features/nan_line", "/api/layers/nanlayer/stats",
                                  "/api/layers/nanlayer/display?zoom_band=3", "/api/layers", "/api/openapi.json"])
def test_api_answers_are_strict_json(nan_client, path):
    response = nan_client.get(path)
    assert response.status_code == 200
    doc = _strict(response.get_data(as_text=True))
    if path.startswith("/api/layers/nanlayer?") or path == "/api/layers/nanlayer":
        props = doc["features"][0]["properties"]
        assert props["figure"] is None and props["extra"] == {"figures": [1.0, None], "cost": None}


def test_the_map_page_embeds_no_nan(nan_client):
    html = nan_client.get("/map/nanlayer").get_data(as_text=True)
    script = html.split("<script>", 1)[1]  # the map's data, after the page text
    assert "NaN" not in script.replace("NaN line", "").replace("NaN layer", "").replace("NaN and", "")
