"""Route statistics: synthetic answers and the real corridors' published figures."""

import json

import geopandas as gpd
import numpy as np
import pytest
from shapely import LineString, MultiLineString, Point, box

from geo.__main__ import main as geo_cli
from geo.countries import OUTSIDE, border_crossings, country_of_points, length_by_country_km
from geo.geodesic import distance_km
from geo.stats import STAT_COLUMNS, feature_stats, format_stats, layer_stats, layer_summary


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
    assert split["AAA"] == pytest.approx(float(distance_km(69, 30, 70, 30)), rel=1e-6)
    assert split["BBB"] == pytest.approx(float(distance_km(70, 30, 71, 30)), rel=1e-6)


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


def test_stat_columns_order_is_the_table_order(catalog):
    stats = layer_stats(catalog, "tapi")
    assert list(stats.columns) == STAT_COLUMNS
    # The dated-facts columns were appended: the earlier ones keep their positions.
    assert STAT_COLUMNS[4] == "geodesic_length_km" and STAT_COLUMNS[-4:] == [
        "status_as_of", "status_source_title", "status_source_url", "geometry_quality"]
