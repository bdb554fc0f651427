"""Roads and railways of the offline basemap: what they hold, the bands served, caching, exports and figures."""

from __future__ import annotations

import gzip
import json

import pytest
import shapely

from layers.schema import REGION_BBOX
from webapp.maps import roads as basemap_roads
from webapp.maps.basemap import ROAD_BANDS

LAHORE = shapely.box(74.15, 31.35, 74.55, 31.70)  # the city and its ring: M-2, M-3 and M-11 end here
KARACHI_HYDERABAD = shapely.box(67.0, 24.8, 68.5, 25.5)  # M-9


def _roads(client, band):
    response = client.get(f"/basemap/roads/{band}.json")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def test_roads_are_the_operating_road_and_rail_lines_of_the_built_in_layers(client, catalog):
    doc = _roads(client, 2)
    props = [f["properties"] for f in doc["features"]]
    refs = {p["ref"] for p in props if p["ref"]}
    assert {"M-1", "M-2", "M-3", "M-9", "M-11", "N-35"} <= refs
    names = " | ".join(p["name"] for p in props)
    # proposed lines are no part of a basemap of what is there
    assert "M-6 motorway" not in names and "Main Line 1 (ML-1)" not in names and "M-7 motorway" not in names
    assert {p["kind"] for p in props} == {"road", "rail"}
    assert any("Termez – Hairatan" in p["name"] for p in props if p["kind"] == "rail")
    # roads first, then railways (drawn under them)
    kinds = [p["kind"] for p in props]
    assert kinds == sorted(kinds, key=("road", "rail").index)
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in doc["features"]])
    assert set(shapely.get_type_id(geoms)) <= {1, 5}  # (Multi)LineString
    assert shapely.contains(shapely.box(*REGION_BBOX), geoms).all()
    assert shapely.intersects(geoms, LAHORE).sum() >= 3
    assert shapely.intersects(geoms, KARACHI_HYDERABAD).any()
    for f, geom in zip(doc["features"], geoms):  # each number is written on (or, simplified, beside) its road
        labels = f["properties"]["_labels"]
        assert bool(labels) == bool(f["properties"]["ref"])
        assert all(shapely.distance(shapely.Point(lon, lat), geom) < 0.05 for lon, lat in labels)
    m2 = next(f for f in doc["features"] if f["properties"]["ref"] == "M-2")  # ~370 km: written 4 to 5 times
    assert 4 <= len(m2["properties"]["_labels"]) <= 5
    # the same set as the catalogue holds: every operating road/rail line of a shipped layer
    expected = sum(int(((layer.gdf["kind"].isin(["road", "rail"])) & (layer.gdf["status"] == "operating")).sum())
                   for layer in catalog if layer.source == "builtin" and "kind" in layer.gdf)
    assert len(doc["features"]) == expected == 37


def test_finer_band_keeps_more_detail(client):
    coarse, fine = (_roads(client, band) for band in ROAD_BANDS)
    assert len(coarse["features"]) == len(fine["features"])
    vertices = [sum(len(shapely.get_coordinates(shapely.from_geojson(json.dumps(f["geometry"]))))
                    for f in doc["features"]) for doc in (coarse, fine)]
    assert vertices[0] < vertices[1]


@pytest.mark.parametrize("band", ["0", "1", "4", "x", "-1", "2.5"])
def test_bands_that_draw_no_roads_are_refused(client, band):
    response = client.get(f"/basemap/roads/{band}.json")
    assert response.status_code == 400  # the site's error page, naming the parameter and the bands that draw roads
    body = response.get_data(as_text=True)
    assert "band" in body and "must be one of 2, 3" in body


def test_roads_are_gzipped_and_revalidate(client):
    plain = client.get("/basemap/roads/3.json")
    packed = client.get("/basemap/roads/3.json", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert len(packed.get_data()) < len(plain.get_data()) / 2
    again = client.get("/basemap/roads/3.json", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304


def test_folder_layers_never_join_the_basemap(tmp_path):
    """The basemap is the same for every viewer: an operator's (or a user's) operating road is not drawn in it."""
    from webapp import create_app

    doc = {"type": "FeatureCollection", "metadata": {"id": "my_roads", "title": "My roads", "description": "An operator's own roads",
                        "attribution": "Example Org", "licence": "CC0"},
           "features": [{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[74.2, 31.4],
                                                                                              [74.5, 31.6]]},
                         "properties": {"id": "ring", "name": "M-99 Lahore ring", "kind": "road",
                                        "status": "operating", "geometry_quality": "schematic", "countries": ["PAK"],
                                        "reported_length_km": None, "licence": "CC0",
                                        "sources": [{"title": "me", "url": "https://example.org/"}]}}]}
    (tmp_path / "my_roads.geojson").write_text(json.dumps(doc), encoding="utf-8")
    app = create_app({"TESTING": True, "LAYERS_DIRS": [str(tmp_path)]})
    client = app.test_client()
    assert client.get("/api/layers/my_roads").status_code == 200  # the folder layer is served...
    props = [f["properties"] for f in _roads(client, 3)["features"]]
    assert len(props) == 37 and not any(p["ref"] == "M-99" for p in props)  # ...but not drawn as basemap


def test_road_refs_come_from_the_names():
    assert basemap_roads._ref("M-2 motorway Islamabad – Lahore") == "M-2"
    assert basemap_roads._ref("Karakoram Highway (N-35 / China G314)") == "N-35"
    assert basemap_roads._ref("Hazara Motorway (E-35): Hasan Abdal (Burhan) – Havelian") == "E-35"
    assert basemap_roads._ref("CAREC corridor 5: Kashgar – Islamabad") == ""


def test_served_pages_fetch_roads_and_exports_inline_them(client):
    page = client.get("/map/tapi?basemap=none").get_data(as_text=True)
    assert "/basemap/roads/{band}.json" in page and '"roadsMinZoom": 7' in page
    assert '"ref":"M-2"' not in page  # served pages do not inline the roads
    exported = client.get("/export?layers=tapi&format=html").get_data(as_text=True)
    assert '"ref":"M-2"' in exported and "/basemap/roads/" not in exported
