"""Resolving place names, 'lat,lon' and layer:fid references (geo.places)."""

import math

import pytest

from geo.geodesic import distance_km
from geo.places import find_place, parse_latlon
from layers.errors import BadParameter


@pytest.mark.parametrize("text, expected", [
    ("25.12,62.33", (62.33, 25.12)),
    (" -33.5 , 151.25 ", (151.25, -33.5)),
    ("90,180", (180.0, 90.0)),
    ("Gwadar", None),
    ("Hyderabad, PK", None),
    ("1,2,3", None),
])
def test_parse_latlon(text, expected):
    assert parse_latlon(text) == expected


@pytest.mark.parametrize("text", ["nan,60", "25,inf", "91,60", "25,181", "-90.5,0"])
def test_parse_latlon_rejects_non_finite_and_out_of_range(text):
    with pytest.raises(BadParameter) as err:
        parse_latlon(text, parameter="from")
    assert err.value.to_dict()["parameter"] == "from"


def test_coordinates_resolve_as_given(catalog):
    place = find_place(catalog, "25.12163,62.32541")
    assert (place.lon, place.lat, place.source) == (62.32541, 25.12163, "coordinates")


@pytest.mark.parametrize("text, name, cc, lat, lon", [
    ("Karachi", "Karachi", "PK", 24.9056, 67.0822),
    ("  kArAcHi ", "Karachi", "PK", 24.9056, 67.0822),
    ("Gwadar", "Gwadar", "PK", 25.12163, 62.32541),
    ("Khujand", "Khujand", "TJ", 40.28256, 69.62216),
    ("Nowshera", "Nowshera", "PK", 34.00582, 71.99773),
    ("Hyderabad, Sindh, PK", "Hyderabad", "PK", 25.39242, 68.37366),
])
def test_gazetteer_names(catalog, text, name, cc, lat, lon):
    place = find_place(catalog, text)
    assert (place.name, place.country, place.source) == (name, cc, "gazetteer")
    assert (place.lat, place.lon) == (lat, lon)


def test_kashgar_alias_is_geonames_kashi(catalog):
    place = find_place(catalog, "Kashgar")
    assert place.name == "Kashgar (Kashi)" and place.country == "CN"
    # Kashgar 39°28'N 75°59'E (the waypoints.toml citation): within 2 km
    assert float(distance_km(place.lon, place.lat, 75.983, 39.467)) < 2.0


def test_duplicate_entries_of_one_town_resolve(catalog):
    # GeoNames lists Kashan (IR) twice, 1.5 km apart: one town, not an ambiguity
    assert find_place(catalog, "Kashan").country == "IR"


def test_ambiguous_name_lists_qualified_choices_that_resolve(catalog):
    with pytest.raises(BadParameter) as err:
        find_place(catalog, "Aliabad", parameter="from")
    body = err.value.to_dict()
    assert body["parameter"] == "from" and "3 gazetteer places" in body["error"]
    assert "Aliabad, Gilgit-Baltistan, PK" in body["suggestions"]
    chosen = find_place(catalog, "Aliabad, Gilgit-Baltistan, PK")
    assert (chosen.country, chosen.admin1) == ("PK", "Gilgit-Baltistan")
    assert find_place(catalog, "Aliabad, PK") == chosen


@pytest.mark.parametrize("typo, expected", [("Lahor", "Lahore"), ("Karachy", "Karachi"), ("Peshawer", "Peshawar"),
                                           ("Kashgr", "Kashgar")])
def test_misspelling_suggests_close_matches(catalog, typo, expected):
    with pytest.raises(BadParameter) as err:
        find_place(catalog, typo, parameter="to")
    body = err.value.to_dict()
    assert body["parameter"] == "to" and typo in body["error"]
    assert expected in body["suggestions"]


@pytest.mark.parametrize("text", ["", "   ", None, 42, "x" * 201, ",,,"])
def test_empty_or_silly_input(catalog, text):
    with pytest.raises(BadParameter):
        find_place(catalog, text)


@pytest.mark.parametrize("text, fid", [("port_qasim", "port_qasim"), ("Port Qasim", "port_qasim"),
                                       ("Gwadar Port", "gwadar_port"), ("ports:karachi_port", "karachi_port")])
def test_layer_points_resolve_by_id_or_name(catalog, text, fid):
    place = find_place(catalog, text)
    assert (place.source, place.id) == ("ports", fid)
    row = catalog.feature("ports", fid).geometry.iloc[0]
    assert (place.lon, place.lat) == (row.x, row.y)


def test_layer_reference_errors(catalog):
    with pytest.raises(BadParameter) as err:
        find_place(catalog, "ports:gwadar")
    assert "gwadar_port" in err.value.suggestions
    with pytest.raises(BadParameter, match="not a point feature"):
        find_place(catalog, "cpec:karakoram_highway")


def test_place_to_dict_is_json_ready(catalog):
    d = find_place(catalog, "Karachi").to_dict()
    assert d["name"] == "Karachi" and math.isfinite(d["lon"]) and d["source"] == "gazetteer"


def test_gazetteer_corrections_apply_wherever_places_are_used(catalog):
    """One corrections file: the places list, route end points and nearest all see the corrected Hasan Abdal."""
    from geo.corridor_report import corridor_report
    from geo.places import places_gdf
    from geo.routing import nearest

    real = (72.68312, 33.8218)  # Hasan Abdal, Attock District (Wikipedia); GeoNames put it 380 km south
    place = find_place(catalog, "Hasan Abdal")
    assert place.source == "gazetteer" and float(distance_km(place.lon, place.lat, *real)) < 0.1
    gdf = places_gdf(catalog)
    row = gdf[gdf["name"] == "Hasan Abdal"].geometry.iloc[0]
    assert float(distance_km(row.x, row.y, *real)) < 0.1
    # the KKH ends at Hasan Abdal: the corridor lists the town at the route's end, not in southern Punjab
    report = corridor_report(catalog, "cpec", "karakoram_highway", 10, with_layers="places")
    found = report["features"].set_index("name")
    assert found.loc["Hasan Abdal", "distance_km"] < 1
    assert found.loc["Hasan Abdal", "chainage_km"] > report["corridor"].length_km - 5
    closest = nearest(catalog, "Hasan Abdal", layer="ports")["by_geodesic"][0]
    assert closest["id"] == "port_qasim" and closest["geodesic_km"] == pytest.approx(1125.8, abs=0.1)  # not 817


def test_a_stale_correction_fails_the_load(tmp_path):
    from layers.errors import ImportFailed
    from layers.importers.gazetteer import CORRECTIONS, load_gazetteer

    text = CORRECTIONS.read_text(encoding="utf-8").replace("was = { lat = 30.43333", "was = { lat = 31.43333")
    path = tmp_path / "corrections.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFailed, match="correction of 'Hasan Abdal'.*matches 0 gazetteer entries"):
        load_gazetteer(CORRECTIONS.parent / "geonames_cities1000_region.csv", corrections=path)
