"""Tests for the gazetteer and waypoint importers, on the real raw files."""

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo.geodesic import distance_km
from layers.errors import ImportFailed
from layers.importers.gazetteer import (
    load_gazetteer,
    normalise_name,
    resolve_place,
    suggest,
)
from layers.importers.waypoints import build_points, build_routes, detour_problems

RAW = Path(__file__).resolve().parent.parent / "data" / "raw"
WAYPOINTS = RAW / "waypoints.toml"
POINTS = RAW / "points.toml"

# Hasan Abdal, 33°49'18.48"N 72°40'59.24"E (Wikipedia); GeoNames puts it at 30.43N.
HASAN_ABDAL = {"lat": 33.8218, "lon": 72.6831, "max_km": 15,
               "source": {"title": "Hasan Abdal (Wikipedia)", "url": "https://en.wikipedia.org/wiki/Hasan_Abdal"}}
KHUNJERAB = (75.42278, 36.83333)  # lon, lat


@pytest.fixture(scope="module")
def gaz():
    return load_gazetteer(RAW / "geonames_cities1000_region.csv")


@pytest.fixture(scope="module")
def routes(gaz):
    return build_routes(WAYPOINTS, gaz)


@pytest.fixture(scope="module")
def countries():
    """Natural Earth country polygons by ISO3 (the lead's decoder)."""
    from layers.importers.naturalearth import ISO3_BY_NUMERIC, decode_topojson

    topo = json.loads((RAW / "natural_earth_countries_10m.topojson.json").read_text(encoding="utf-8"))
    return {ISO3_BY_NUMERIC.get(num): geom for _, num, geom in decode_topojson(topo, "countries")}


def _route(routes, layer, rid):
    return next(f for f in routes[layer] if f["properties"]["id"] == rid)


def _write(tmp_path, text):
    path = tmp_path / "routes.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- gazetteer ---------------------------------------------------------------

def test_load_gazetteer_columns(gaz):
    assert list(gaz.columns) == ["name", "lat", "lon", "admin1", "admin2", "cc"]
    assert gaz["lat"].dtype.kind == "f" and len(gaz) > 5000


def test_hasan_abdal_raw_entry_rejected_by_expect_and_corrected_on_load():
    raw = load_gazetteer(RAW / "geonames_cities1000_region.csv", corrections=None)
    with pytest.raises(ImportFailed) as err:
        resolve_place(raw, "Hasan Abdal", country="PK", expect=HASAN_ABDAL)
    message = str(err.value)
    assert "Hasan Abdal" in message and "km from the expected" in message
    # the raw entry is ~376 km off, far beyond the 15 km allowed
    lon, lat = resolve_place(raw, "Hasan Abdal", country="PK")
    assert float(distance_km(lon, lat, HASAN_ABDAL["lon"], HASAN_ABDAL["lat"])) > 300
    # the one corrections file moves it wherever the gazetteer is loaded
    fixed = load_gazetteer(RAW / "geonames_cities1000_region.csv")
    lon, lat = resolve_place(fixed, "Hasan Abdal", country="PK", expect=HASAN_ABDAL)
    assert float(distance_km(lon, lat, HASAN_ABDAL["lon"], HASAN_ABDAL["lat"])) < 0.1
    assert len(fixed) == len(raw)


def test_afghan_jalalabad_chosen_with_country_af(gaz):
    lon, lat = resolve_place(gaz, "Jalalabad", country="AF")
    assert (round(lon, 3), round(lat, 3)) == (70.452, 34.426)
    # and it is the Nangarhar one, not one of the Indian namesakes
    assert resolve_place(gaz, "jalalabad", country="af", admin1="Nangarhar") == (lon, lat)


def test_ambiguous_name_without_country_lists_candidates(gaz):
    with pytest.raises(ImportFailed) as err:
        resolve_place(gaz, "Jalalabad", country=None)
    message = str(err.value)
    assert "4 candidates" in message
    assert "Nangarhar" in message and "Ferozepur" in message and "Uttar Pradesh" in message


@pytest.mark.parametrize("name, country, admin1, admin2", [
    ("Sahiwal", "PK", "Punjab", None),     # two Sahiwals in Punjab
    ("Khairpur", "PK", "Sindh", None),     # two Khairpurs in Sindh
])
def test_ambiguity_within_admin1(gaz, name, country, admin1, admin2):
    with pytest.raises(ImportFailed, match="ambiguous"):
        resolve_place(gaz, name, country=country, admin1=admin1, admin2=admin2)


def test_admin2_disambiguates(gaz):
    _lon, lat = resolve_place(gaz, "Sahiwal", country="PK", admin2="Sahiwal District")
    assert lat == pytest.approx(30.667, abs=0.01)


def test_case_and_diacritic_insensitive(gaz):
    assert resolve_place(gaz, "GILGĪT", country="pk") == resolve_place(gaz, "Gilgit", country="PK")
    assert normalise_name("Jalāl-Ābād") == "jalal abad"


def test_unknown_name_suggests_close_matches(gaz):
    assert "Gilgit" in suggest(gaz, "Gilgt")
    with pytest.raises(ImportFailed, match="close names: .*Gilgit"):
        resolve_place(gaz, "Gilgt", country="PK")


def test_wrong_country_is_not_matched(gaz):
    with pytest.raises(ImportFailed, match="no entry"):
        resolve_place(gaz, "Kabul", country="PK")


# -- detours -----------------------------------------------------------------

ZIGZAG = """
[[route]]
layer = "test"
id = "zigzag"
name = "Zig-zag"
kind = "road"
mode = "road"
status = "proposed"
countries = ["PAK"]
sources = [{ title = "t", url = "https://example.org/t" }]
waypoints = [
  { name = "Lahore", country = "PK", admin1 = "Punjab", expect = { lat = 31.55, lon = 74.34, max_km = 10, source = { title = "t", url = "https://example.org/t" } } },
  { name = "Karachi", country = "PK", admin1 = "Sindh", expect = { lat = 24.86, lon = 67.01, max_km = 20, source = { title = "t", url = "https://example.org/t" } } },
  { name = "Multan", country = "PK", admin1 = "Punjab", expect = { lat = 30.20, lon = 71.47, max_km = 10, source = { title = "t", url = "https://example.org/t" } }%s },
]
"""


def test_detour_check_fails_on_zigzag(gaz, tmp_path):
    with pytest.raises(ImportFailed) as err:
        build_routes(_write(tmp_path, ZIGZAG % ""), gaz)
    message = str(err.value)
    assert "'zigzag'" in message and "'Karachi'" in message and "detour" in message


def test_detour_ok_overrides(gaz, tmp_path):
    text = ZIGZAG.replace('Karachi", country', 'Karachi", detour_ok = "spur to the port", country') % ""
    out = build_routes(_write(tmp_path, text), gaz)
    assert out["test"][0]["properties"]["id"] == "zigzag"


def test_detour_problems_counts_repeated_point_as_infinite():
    bad = detour_problems([70, 71, 70], [30, 30, 30], ["a", "b", "c"])
    assert bad and bad[0][:2] == (1, "b") and bad[0][2] == float("inf")
    assert detour_problems([70, 71, 72], [30, 30.1, 30], ["a", "b", "c"]) == []


def test_explicit_coordinates_need_a_source(gaz, tmp_path):
    text = ZIGZAG.replace(
        '{ name = "Karachi", country = "PK", admin1 = "Sindh", expect = { lat = 24.86, lon = 67.01, max_km = 20, '
        'source = { title = "t", url = "https://example.org/t" } } }',
        '{ name = "Karachi", country = "PK", lat = 24.86, lon = 67.01 }') % ""
    with pytest.raises(ImportFailed, match="source"):
        build_routes(_write(tmp_path, text), gaz)


def test_duplicate_id_in_layer_fails(gaz, tmp_path):
    one = ZIGZAG.replace('"Karachi", country', '"Karachi", detour_ok = "x", country') % ""
    with pytest.raises(ImportFailed, match="duplicate id"):
        build_routes(_write(tmp_path, one + one), gaz)


# -- the committed waypoints.toml ---------------------------------------------

EXPECTED_ROUTES = {
    "cpec": {"karakoram_highway", "cpec_western_alignment", "cpec_central_alignment",
             "cpec_eastern_alignment", "cpec_khuzdar_panjgur", "cpec_southern_trunk", "ml1_railway"},
    "casa1000": {"casa1000_ac_datka_khujand", "casa1000_hvdc_sangtuda_nowshera"},
    "thar_lahore_hvdc": {"matiari_lahore_hvdc"},
}
SCHEMA_KEYS = {"id", "name", "kind", "status", "countries", "reported_length_km", "length_note", "capacity",
               "capacity_unit", "geometry_quality", "sources", "licence"}


def test_every_committed_route_resolves(routes):
    assert {layer: {f["properties"]["id"] for f in feats} for layer, feats in routes.items()} == EXPECTED_ROUTES
    for feats in routes.values():
        for f in feats:
            props, geom = f["properties"], f["geometry"]
            assert SCHEMA_KEYS <= set(props)
            assert props["geometry_quality"] == "schematic" and props["sources"] and props["licence"]
            assert geom["type"] == "LineString" and len(geom["coordinates"]) >= 2
            coords = np.asarray(geom["coordinates"])
            assert np.array_equal(coords, coords.round(6))
            seg = distance_km(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])
            assert seg.max() <= 10.001 and seg.min() > 0


def test_casa1000_hvdc_starts_in_tajikistan_and_ends_in_pakistan(routes, countries):
    coords = _route(routes, "casa1000", "casa1000_hvdc_sangtuda_nowshera")["geometry"]["coordinates"]
    start, end = shapely.Point(coords[0]), shapely.Point(coords[-1])
    assert countries["TJK"].contains(start)
    assert countries["PAK"].contains(end)
    line = shapely.LineString(coords)
    assert line.intersects(countries["AFG"])


def test_kkh_passes_within_5_km_of_khunjerab_pass(routes):
    coords = np.asarray(_route(routes, "cpec", "karakoram_highway")["geometry"]["coordinates"])
    assert distance_km(coords[:, 0], coords[:, 1], *KHUNJERAB).min() < 5.0


def test_hasan_abdal_in_routes_is_the_real_town(routes):
    coords = np.asarray(_route(routes, "cpec", "karakoram_highway")["geometry"]["coordinates"])
    assert float(distance_km(*coords[-1], HASAN_ABDAL["lon"], HASAN_ABDAL["lat"])) < 1.0


def test_build_is_deterministic(gaz, routes):
    assert json.dumps(build_routes(WAYPOINTS, gaz), sort_keys=True) == json.dumps(routes, sort_keys=True)


# -- the committed points.toml -------------------------------------------------

def test_committed_points_resolve(gaz):
    from layers.importers.gem import plant_summary, read_gem
    from layers.importers.naturalearth import port_lookup

    rows = read_gem(RAW / "gem_asia_gas_tracker_2024-05.csv")
    points = build_points(POINTS, gaz, ne_port_lookup=port_lookup(RAW / "natural_earth_ports_10m_region.geojson"),
                          gem_lookup=lambda project: plant_summary(rows, project))
    ids = {layer: {f["properties"]["id"] for f in feats} for layer, feats in points.items()}
    assert {"gwadar_port", "karachi_port", "port_qasim", "ormara_port", "pasni_port", "keti_bandar_port",
            "chabahar_port", "bandar_abbas_port"} <= ids["ports"]
    assert {"datka_substation", "sughd_substation", "sangtuda_converter", "kabul_substation",
            "nowshera_converter"} <= ids["casa1000"]
    plants = {f["properties"]["id"]: f for f in points["energy_projects"]}
    jamshoro = plants["jamshoro_power_station"]
    assert jamshoro["geometry"]["coordinates"] == [68.266, 25.473]
    assert jamshoro["properties"]["capacity_unit"] == "MW" and "Global Energy Monitor" in jamshoro["properties"]["licence"]
    for feats in points.values():
        for f in feats:
            assert SCHEMA_KEYS <= set(f["properties"]) and f["properties"]["geometry_quality"] == "point"
            assert f["geometry"]["type"] == "Point"


def test_point_needs_exactly_one_location(gaz, tmp_path):
    path = tmp_path / "points.toml"
    path.write_text("""
[[point]]
layer = "ports"
id = "x"
name = "X"
kind = "port"
status = "operating"
countries = ["PAK"]
ne_port = "Karachi"
lat = 24.8
lon = 67.0
source = { title = "t", url = "https://example.org/t" }
sources = [{ title = "t", url = "https://example.org/t" }]
""", encoding="utf-8")
    with pytest.raises(ImportFailed, match="exactly one"):
        build_points(path, gaz, ne_port_lookup=lambda n: (67.0, 24.8), gem_lookup=lambda p: {})


def test_matiari_lahore_chain_stays_in_pakistan(routes, countries):
    """A two-point Matiari-Balloki chord would cut through India; the Sukkur waypoint prevents it."""
    coords = _route(routes, "thar_lahore_hvdc", "matiari_lahore_hvdc")["geometry"]["coordinates"]
    line = shapely.LineString(coords)
    assert not line.intersects(countries["IND"])
    assert countries["PAK"].buffer(0.01).contains(line)
