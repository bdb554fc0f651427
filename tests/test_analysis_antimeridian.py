"""A user's lines across 180° through the web: statistics, corridor, overlap and route.

One folder layer holds a cable from Chukotka to Alaska (and the same line
as a road, so it joins the transport network), a second cable crossing it
just east of 180°, points 30 and 80 km either side of it on both sides of
180°, and a line from Lahore to Nome that crosses real borders in the
boundaries layer before it leaves its clipped extent. Expected figures come
from pyproj ``Geod`` directly.
"""

import json

import numpy as np
import pytest
import shapely
from pyproj import Geod

from webapp import create_app

G = Geod(ellps="WGS84")
CABLE = [[170.0, 64.0], [179.5, 65.2], [-175.0, 65.8], [-168.0, 65.6]]
LAHORE_NOME = [[74.35, 31.55], [75.99, 39.47], [116.4, 39.9], [177.5, 64.7], [-165.4, 64.5]]


def _length_km(coords):
    xy = np.asarray(coords, dtype=float)
    return float(np.sum(G.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])[2])) / 1000


def _point_at(coords, km):
    """The point ``km`` along a polyline of geodesics, and the azimuth of the line there."""
    xy = np.asarray(coords, dtype=float)
    az, _, d = G.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    ends = np.cumsum(d) / 1000
    i = min(int(np.searchsorted(ends, km)), len(ends) - 1)
    x, y, back = G.fwd(xy[i, 0], xy[i, 1], az[i], (km - (ends[i - 1] if i else 0.0)) * 1000)
    return float(x), float(y), float(back) + 180.0


def _offsets():
    """(name, lon, lat, chainage km on the cable, distance km) of points off the cable, both sides of 180°."""
    first_leg = _length_km(CABLE[:2])
    out = []
    for along in (23.0, 30.0):  # 23 km past 179.5°E is 179.97°E; 30 km is 179.89°W
        x, y, heading = _point_at(CABLE, first_leg + along)
        for side in (90.0, -90.0):
            for off in (30.0, 80.0):
                px, py, _ = G.fwd(x, y, heading + side, off * 1000)
                out.append((f"off {along:g} {side:+g} {off:g}", float(px), float(py), first_leg + along, off))
    return out


def _feature(name, geometry, **extra):
    return {"type": "Feature", "properties": {"name": name, "status": "proposed", **extra}, "geometry": geometry}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bering")
    features = [
        _feature("Bering cable", {"type": "LineString", "coordinates": CABLE}),
        _feature("Bering road", {"type": "LineString", "coordinates": CABLE}, kind="road"),
        _feature("Bering cable two", {"type": "LineString", "coordinates": [[178.0, 66.5], [-178.0, 64.5]]}),
        _feature("Lahore to Nome", {"type": "LineString", "coordinates": LAHORE_NOME}),
    ] + [_feature(name, {"type": "Point", "coordinates": [x, y]}) for name, x, y, _, _ in _offsets()]
    (folder / "bering.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}),
                                           encoding="utf-8")
    app = create_app({"TESTING": True, "LAYERS_DIRS": [str(folder)],
                      "DATA_DIR": str(tmp_path_factory.mktemp("bering_data"))})
    return app.test_client()


def _by_name(doc):
    return {f["name"]: f for f in doc["features"]}


def test_stats_across_180_add_up_and_cross_only_at_real_borders(client):
    stats = _by_name(client.get("/api/layers/bering/stats").get_json())
    boundaries = client.get("/api/layers/boundaries").get_json()
    polygons = {f["properties"]["id"]: shapely.geometry.shape(f["geometry"]) for f in boundaries["features"]}
    for name, coords in (("Bering cable", CABLE), ("Lahore to Nome", LAHORE_NOME)):
        row = stats[name]
        assert row["geodesic_length_km"] == pytest.approx(_length_km(coords), abs=1e-3)
        pieces = row["length_by_country_km"]
        assert sum(pieces.values()) == pytest.approx(row["geodesic_length_km"], abs=1e-3 * len(pieces))
        for crossing in row["border_crossings"]:
            # on the route where its chainage says, and on the border of both countries it joins
            x, y, _ = _point_at(coords, crossing["chainage_km"])
            assert G.inv(x, y, crossing["lon"], crossing["lat"])[2] < 3.0
            for code in (crossing["from"], crossing["to"]):
                assert polygons[code].boundary.distance(shapely.Point(crossing["lon"], crossing["lat"])) < 1e-4
    # the cable lies beyond the boundaries layer's extent (44-90°E, 5-50°N): unmapped, and 180° is no border
    assert stats["Bering cable"]["length_by_country_km"] == {"unmapped": pytest.approx(_length_km(CABLE), abs=1e-3)}
    assert stats["Bering cable"]["border_crossings"] == []
    # Lahore to Nome: real borders only, none where it leaves the clipped extent or passes 180°
    nome = stats["Lahore to Nome"]
    assert [(c["from"], c["to"]) for c in nome["border_crossings"]] == [("PAK", "IND"), ("IND", "PAK"), ("PAK", "CHN")]
    assert set(nome["length_by_country_km"]) == {"PAK", "IND", "CHN", "unmapped"}
    # km before each crossing are the runs before it: PAK's first run ends where IND begins
    assert nome["border_crossings"][0]["chainage_km"] < nome["length_by_country_km"]["PAK"]


def test_corridor_across_180_finds_points_either_side_at_their_exact_distance(client):
    doc = client.get("/api/corridor?feature=bering:bering_1&width_km=50&with=bering").get_json()
    band = doc["features"][0]
    assert band["geometry"]["type"] in ("Polygon", "MultiPolygon")
    polygon = shapely.geometry.shape(band["geometry"])
    assert polygon.is_valid and -180 <= polygon.bounds[0] and polygon.bounds[2] <= 180
    length = _length_km(CABLE)
    assert band["properties"]["route_length_km"] == pytest.approx(length, abs=1e-3)
    # a 50 km band about a gently bending 1,059 km line: 2 x 50 x length + pi 50^2, to 0.1%
    assert band["properties"]["area_km2"] == pytest.approx(2 * 50 * length + np.pi * 50 ** 2, rel=1e-3)
    found = {p["name"]: p for p in (f["properties"] for f in doc["features"][1:])}
    for name, _, _, chainage, off in _offsets():
        if off > 50:
            assert name not in found
        else:
            assert found[name]["distance_km"] == pytest.approx(off, abs=1e-3), name
            assert found[name]["chainage_km"] == pytest.approx(chainage, abs=1e-3), name
    # the other lines reach the band: the road is the same line, the second cable crosses it
    assert found["Bering road"]["distance_km"] == 0.0 and found["Bering cable two"]["distance_km"] == 0.0


def test_overlap_across_180_crosses_where_both_lines_are(client):
    doc = client.get("/api/overlap?a=bering:bering_1&b=bering:bering_3&width_km=25").get_json()
    assert doc["a_length_km"] == pytest.approx(_length_km(CABLE), abs=1e-3)
    [crossing] = doc["crossings"]
    for coords, chainage in ((CABLE, crossing["chainage_a_km"]), ([[178.0, 66.5], [-178.0, 64.5]],
                                                                    crossing["chainage_b_km"])):
        x, y, _ = _point_at(coords, chainage)
        assert G.inv(x, y, crossing["lon"], crossing["lat"])[2] < 3.0
    [stretch] = doc["stretches"]
    assert stretch["from_chainage_km"] < crossing["chainage_a_km"] < stretch["to_chainage_km"]
    shared = shapely.geometry.shape(doc["shared"])
    assert -180 <= shared.bounds[0] and shared.bounds[2] <= 180


def test_route_over_a_road_across_180_is_the_road(client):
    doc = client.get("/api/route?from=64.0,170.0&to=65.6,-168.0&modes=road").get_json()
    totals = doc["totals"]
    assert totals["total_km"] == pytest.approx(_length_km(CABLE), abs=1e-3)
    assert totals["network_km"] == totals["total_km"] and totals["connector_km"] == 0.0
    [leg] = doc["features"]
    assert leg["properties"]["name"] == "Bering road"
    assert leg["properties"]["from_km"] + leg["properties"]["km"] == pytest.approx(leg["properties"]["to_km"], abs=1e-3)
    xy = shapely.get_coordinates(shapely.geometry.shape(leg["geometry"]))
    assert np.all(np.abs(xy[:, 0]) <= 180)
