"""Route statistics: synthetic answers and the real corridors' published figures."""

import json

import geopandas as gpd
import numpy as np
import pytest
from shapely import LineString, MultiLineString, Point, box

from geo.__main__ import main as geo_cli
from geo.countries import OUTSIDE, UNMAPPED, border_crossings, country_of_points, length_by_country_km
from geo.geodesic import distance_km, geodesic_length_km
from geo.stats import STAT_COLUMNS, feature_stats, format_stats, layer_stats, layer_summary
from layers.schema import REGION_BBOX


@pytest.fixture
def two_countries():
    # AAA west of 70E, BBB east of it; sea south of 20N
    return gpd.GeoDataFrame({"id": ["AAA", "BBB"]}, geometry=[box(60, 20, 70, 40), box(70, 20, 80, 40)], crs=4326)


def lines(*geoms, **props):
    data = {"id": [f"f{i}" for i in range(len(geoms))]}
    data.update(props)
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=4326)


def test_length_by_country_splits_at_the_border(two_countries):
    gdf = lines(LineString([(69, 30), (71, 30)]))
    split = length_by_country_km(gdf, two_countries).set_index("country")["length_km"]
    # the geodesic 69E-71E along 30N is symmetric about 70E (where it bulges north): half on each side
    half = float(distance_km(69, 30, 71, 30)) / 2
    assert split["AAA"] == pytest.approx(half, abs=1e-6)
    assert split["BBB"] == pytest.approx(half, abs=1e-6)


def test_sea_pieces_are_reported_as_outside(two_countries):
    gdf = lines(LineString([(65, 19), (65, 21)]))
    split = length_by_country_km(gdf, two_countries).set_index("country")["length_km"]
    assert split[OUTSIDE] == pytest.approx(float(distance_km(65, 19, 65, 20)), rel=1e-3)
    assert split["AAA"] == pytest.approx(float(distance_km(65, 20, 65, 21)), rel=1e-3)


def test_border_crossing_location_direction_and_chainage(two_countries):
    gdf = lines(LineString([(68, 30), (72, 30)]), MultiLineString([[(61, 25), (62, 25)], [(71, 35), (69, 35)]]))
    crossings = border_crossings(gdf, two_countries)
    first = crossings[crossings.feature_id == "f0"].iloc[0]
    assert (first.from_country, first.to_country) == ("AAA", "BBB")
    assert first.lon == pytest.approx(70, abs=1e-4)
    # along the geodesic from 68E the border is met a little north of 30N
    assert first.chainage_km == pytest.approx(float(distance_km(68, 30, first.lon, first.lat)), abs=0.01)
    second = crossings[crossings.feature_id == "f1"].iloc[0]
    assert (second.part, second.from_country, second.to_country) == (1, "BBB", "AAA")
    assert len(crossings) == 2


def test_country_of_points(two_countries):
    codes = country_of_points([65, 75, 65], [30, 30, 10], two_countries)
    assert codes.tolist() == ["AAA", "BBB", OUTSIDE]


def test_feature_stats_synthetic(two_countries):
    gdf = lines(LineString([(69, 30), (70, 31), (71, 30)]), Point(65, 30), reported_length_km=[200.0, None],
                name=["zigzag", "dot"], kind=["road", "port"], status=["proposed", "operating"])
    stats = feature_stats(gdf, two_countries).set_index("id")
    measured = float(distance_km(69, 30, 70, 31) + distance_km(70, 31, 71, 30))
    assert stats.loc["f0", "geodesic_length_km"] == pytest.approx(measured, abs=1e-3)
    assert stats.loc["f0", "length_ratio"] == pytest.approx(measured / 200, abs=1e-4)
    assert stats.loc["f0", "sinuosity"] == pytest.approx(measured / float(distance_km(69, 30, 71, 30)), abs=1e-4)
    assert np.isnan(stats.loc["f1", "geodesic_length_km"]) and stats.loc["f1", "vertex_count"] == 1
    summary = layer_summary(stats.reset_index())
    assert summary["line_features"] == 1
    assert summary["by_status"]["proposed"]["length_km"] == pytest.approx(measured, abs=1e-3)
    assert set(summary["by_country_km"]) == {"AAA", "BBB"}


def test_tapi_trunk_matches_the_published_length_and_shares(catalog):
    stats = layer_stats(catalog, "tapi").set_index("id")
    trunk = stats.loc["tapi_trunk"]
    assert trunk.geodesic_length_km == pytest.approx(1814, rel=0.10)
    # published: Turkmenistan 214, Afghanistan 774, Pakistan 826 km (Trend, 2021)
    by_country = trunk.length_by_country_km
    for code, km in {"TKM": 214, "AFG": 774, "PAK": 826}.items():
        assert by_country[code] == pytest.approx(km, rel=0.15)
    assert [(c["from"], c["to"]) for c in trunk.border_crossings] == [("TKM", "AFG"), ("AFG", "PAK"), ("PAK", "IND")]


def test_casa1000_hvdc_splits_in_the_published_shares(catalog):
    stats = layer_stats(catalog, "casa1000")
    hvdc = stats[stats["name"].str.contains("HVDC")].iloc[0]
    shares = {c: km / hvdc.geodesic_length_km for c, km in hvdc.length_by_country_km.items()}
    # published split of the ~750 km HVDC line: about 16% TJK, 75% AFG, 9% PAK
    assert shares["TJK"] == pytest.approx(0.16, abs=0.06)
    assert shares["AFG"] == pytest.approx(0.75, abs=0.06)
    assert shares["PAK"] == pytest.approx(0.09, abs=0.06)


def test_every_reported_length_is_met_or_explained(catalog):
    unexplained = []
    for layer in catalog:
        stats = layer_stats(catalog, layer.id)
        notes = dict(zip(layer.gdf["id"], layer.gdf.get("length_note", [None] * len(layer.gdf))))
        for row in stats.itertuples():
            if np.isnan(row.length_ratio) or abs(row.length_ratio - 1) <= 0.20:
                continue
            if not isinstance(notes.get(row.id), str) or not notes[row.id].strip():
                unexplained.append(f"{layer.id}/{row.id}: ratio {row.length_ratio:.2f}")
    assert unexplained == []


def test_stats_are_memoised_per_catalog(catalog):
    assert layer_stats(catalog, "tapi") is layer_stats(catalog, "tapi")


def test_cli_json_matches_the_library(catalog, capsys):
    assert geo_cli(["stats", "north_south_pipeline", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    feature = out["features"][0]
    assert feature["id"] == "pakistan_stream"
    assert feature["reported_length_km"] == 1100
    assert feature["geodesic_length_km"] == pytest.approx(1108.6, abs=0.5)
    assert feature["length_by_country_km"] == {"PAK": pytest.approx(1108.6, abs=0.5)}
    assert out["summary"]["by_status"]["proposed"]["features"] == 1


def test_cli_unknown_layer_is_a_clear_error(capsys):
    assert geo_cli(["stats", "nope"]) == 2
    assert "unknown layer 'nope'" in capsys.readouterr().err


def test_csv_and_markdown_formats(catalog):
    stats = layer_stats(catalog, "tapi")
    csv_text = format_stats(stats, "csv")
    assert csv_text.splitlines()[0].startswith("id,name,kind,status,geodesic_length_km")
    assert "TKM>AFG @218" in csv_text
    md = format_stats(stats, "md")
    assert "| tapi_trunk |" in md and "| 1814.0 |" in md


def test_casa1000_ac_line_stays_in_kyrgyzstan_and_tajikistan(catalog):
    stats = layer_stats(catalog, "casa1000").set_index("id")
    ac = stats.loc["casa1000_ac_datka_khujand"]
    assert set(ac.length_by_country_km) == {"KGZ", "TJK"}  # never through Uzbekistan or the Sokh exclave
    assert ac.length_by_country_km["KGZ"] > ac.length_by_country_km["TJK"]


# --- issue 16: sparse lines, parts, clip edges, units --------------------------------------------------------

def test_sparse_line_split_adds_up_and_agrees_with_its_crossing(catalog):
    """A two-vertex Herat-Lahore line: AFG km end exactly where the AFG>PAK crossing is."""
    gdf = lines(LineString([(62.19967, 34.34817), (74.34361, 31.54972)]))
    boundaries = catalog.layer("boundaries").gdf
    split = length_by_country_km(gdf, boundaries).set_index("country")["length_km"]
    total = float(distance_km(62.19967, 34.34817, 74.34361, 31.54972))
    assert split.sum() == pytest.approx(total, abs=1e-6)
    crossing = border_crossings(gdf, boundaries).iloc[0]
    assert (crossing.from_country, crossing.to_country) == ("AFG", "PAK")
    assert crossing.chainage_km == pytest.approx(split["AFG"], abs=1e-3)  # measured: 693.705 km
    assert split["PAK"] == pytest.approx(total - crossing.chainage_km, abs=1e-3)


def test_no_crossing_at_the_clip_edge_of_the_boundaries_layer(catalog):
    # a user line from China to beyond 90E, where Natural Earth was cut for this layer
    gdf = lines(LineString([(85.0, 45.0), (95.0, 45.0)]))
    boundaries = catalog.layer("boundaries").gdf
    assert boundaries.attrs["metadata"]["clip_bbox"] == [float(v) for v in REGION_BBOX]
    assert border_crossings(gdf, boundaries).empty
    split = length_by_country_km(gdf, boundaries).set_index("country")["length_km"]
    assert set(split.index) == {"CHN", UNMAPPED}
    assert split.sum() == pytest.approx(float(distance_km(85, 45, 95, 45)), abs=1e-6)


def test_sinuosity_per_part_and_length_weighted(two_countries):
    main = LineString([(61, 25), (63, 27), (65, 25), (67, 27)])  # a zigzag
    branch = LineString([(70, 30), (71, 30)])  # straight
    dashes = MultiLineString([[(60 + i * 0.02, 30), (60.01 + i * 0.02, 30)] for i in range(500)])
    stats = feature_stats(lines(MultiLineString([main, branch]), dashes), two_countries).set_index("id")
    zig = stats.loc["f0"]
    expected_main = float(distance_km(61, 25, 63, 27) + distance_km(63, 27, 65, 25) + distance_km(65, 25, 67, 27)) / \
        float(distance_km(61, 25, 67, 27))
    assert zig.sinuosity_by_part == [pytest.approx(expected_main, abs=1e-4), pytest.approx(1.0, abs=1e-6)]
    lengths = np.array([expected_main * float(distance_km(61, 25, 67, 27)), float(distance_km(70, 30, 71, 30))])
    weighted = (lengths * np.array([expected_main, 1.0])).sum() / lengths.sum()
    assert zig.sinuosity == pytest.approx(weighted, abs=1e-4)
    # 500 short straight dashes: sinuosity 1, not total length over one dash's span (~500)
    assert stats.loc["f1", "sinuosity"] == pytest.approx(1.0, abs=1e-4)


def test_rfc7946_split_is_one_part(two_countries):
    split = MultiLineString([[(179.0, 60.0), (180.0, 60.25)], [(-180.0, 60.25), (-179.0, 60.5)]])
    stats = feature_stats(lines(split), two_countries).iloc[0]
    assert len(stats.sinuosity_by_part) == 1
    assert stats.straight_line_km == pytest.approx(float(distance_km(179.0, 60.0, -179.0, 60.5)), abs=1e-3)


def test_polygons_measure_area_and_summaries_count_by_unit(two_countries):
    gdf = lines(box(60, 20, 61, 21), LineString([(69, 30), (71, 30)]), Point(65, 30), kind=["country", "road", "port"],
                status=["operating"] * 3)
    stats = feature_stats(gdf, two_countries)
    assert stats["area_km2"].iloc[0] == pytest.approx(11_550, rel=0.01)  # one degree square at 20N: ~111 x 104 km
    assert np.isnan(stats["geodesic_length_km"].iloc[0])
    summary = layer_summary(stats)["by_status"]["operating"]
    assert (summary["features"], summary["points"], summary["lines"], summary["polygons"]) == (3, 1, 1, 1)
    assert summary["length_km"] == pytest.approx(float(distance_km(69, 30, 71, 30)), abs=1e-3)
    assert summary["area_km2"] == pytest.approx(stats["area_km2"].iloc[0], abs=0.1)


def test_stat_columns_order_is_the_table_order(catalog):
    stats = layer_stats(catalog, "tapi")
    assert list(stats.columns) == STAT_COLUMNS
    # Later columns were appended (dated facts, then per-part sinuosity and area): earlier ones keep their positions.
    assert STAT_COLUMNS[4] == "geodesic_length_km" and STAT_COLUMNS[12:] == [
        "status_as_of", "status_source_title", "status_source_url", "geometry_quality", "sinuosity_by_part",
        "area_km2"]


# --- across the antimeridian (the cases tests/test_properties.py found) ------------------------------------

DX = 0.1234567  # the property tests' checkerboard: its column edges sit at 30k + DX degrees


@pytest.fixture
def across_180():
    # EEE from 150°E + DX to 180° and on to 180°W + DX (its sliver beyond 180°); WWW from there east, as one
    # tiling; the two share no area, so their border east of 180° is EEE's sliver edge at -179.87654°
    east = box(150 + DX, 20.0765432, 180, 40.0765432).union(box(-180, 20.0765432, -180 + DX, 40.0765432))
    return gpd.GeoDataFrame({"id": ["EEE", "WWW"]}, geometry=[east, box(-180 + DX, 20.0765432, -150 + DX, 40.0765432)],
                            crs=4326)


@pytest.mark.parametrize("route, path", [
    # hypothesis' shrunk example: from the sea south of 20.0765°N into EEE, across 180° and into WWW
    (LineString([(177.0, 20.0), (-179.87535446331515, 20.87012286614234)]), ["outside", "EEE", "WWW"]),
    (MultiLineString([[(177.0, 20.5), (180.0, 20.8)], [(-180.0, 20.8), (-179.5, 20.85)]]), ["EEE", "WWW"]),  # RFC 7946
])
def test_crossing_beyond_180_sits_on_the_border_and_the_pieces_add_up(across_180, route, path):
    gdf = lines(route)
    crossings = border_crossings(gdf, across_180)
    # 180° itself is inside EEE: no crossing there; EEE -> WWW on their border (the sliver's edge)
    assert crossings["from_country"].tolist() + crossings["to_country"].tolist()[-1:] == path
    row = crossings.iloc[-1]
    assert row.lon == pytest.approx(-180 + DX, abs=1e-5)
    for code in ("EEE", "WWW"):
        assert across_180.set_index("id").geometry[code].boundary.distance(Point(row.lon, row.lat)) < 1e-5
    split = length_by_country_km(gdf, across_180).set_index("country")["length_km"]
    assert split.sum() == pytest.approx(float(geodesic_length_km([route])[0]), abs=1e-6)
    # the crossing's chainage is where the km before it end
    assert split["EEE"] + split.get(OUTSIDE, 0.0) == pytest.approx(row.chainage_km, abs=1e-3)


def test_overlapping_polygons_give_the_first_in_layer_order():
    # the property tests' board once overlapped two countries over [-180, -180 + DX]: whatever the tree's
    # visiting order, the first polygon of the layer is the one a point (and a run) belongs to
    overlapping = gpd.GeoDataFrame({"id": [f"C{i:03d}" for i in range(200)]},
                                   geometry=[box(i, 0, i + 30, 1) for i in range(200)], crs=4326)
    # (the tree's own order gave C010, C010, C016)
    assert country_of_points([29.5, 39.5, 45.5], [0.5, 0.5, 0.5], overlapping).tolist() == ["C000", "C010", "C016"]


def test_subnormal_longitudes_meet_borders_where_they_are():
    # GEOS put the intersection of a line at lon 5e-324 with a border on the nearest vertex, 470 m off
    board = gpd.GeoDataFrame({"id": ["AAA"]}, geometry=[box(-29.8765433, -19.9234568, DX, 0.0765432)], crs=4326)
    for lon in (0.0, 5e-324, 1e-310):
        row = border_crossings(lines(LineString([(lon, 0.0), (lon, 3.617)])), board).iloc[0]
        assert (row.lat, row.chainage_km) == (pytest.approx(0.07654, abs=1e-5),
                                              pytest.approx(float(distance_km(0, 0, 0, 0.0765432)), abs=1e-3))
