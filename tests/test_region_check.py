"""The raw inputs of the extended region (issue 11) are consistent, and the checker catches what it claims to."""

import copy
import io
import tarfile

import numpy as np
import pandas as pd
import pytest

from geo.geodesic import densify_lonlat, distance_km
from layers.errors import ImportFailed
from layers.importers import geonames_extract, region, region_blocs
from layers.importers.region_check import check_all
from layers.importers.waypoints import resolve_waypoints

RAW = region.RAW_DIR


@pytest.fixture(scope="module")
def checker():
    """One full run over the shipped files (~20 s of CPU: gazetteer, Natural Earth, every chain)."""
    return check_all()


@pytest.fixture(scope="module")
def docs():
    return {lid: region.read_layer_file(RAW / name) for lid, name in region.LAYER_FILES.items()}


def _route(docs, layer, rid):
    return next(r for r in docs[layer]["route"] if r["id"] == rid)


# -- the shipped files ---------------------------------------------------------------------------------

def test_shipped_region_files_have_no_problems(checker):
    assert checker.errors == []
    lines = "\n".join(checker.summary)
    for expected in ("instc                        17 routes, 2 references", "border_crossings             12 points",
                     "motorways                    17 routes", "carec_corridors              3 routes",
                     "thar_coal_blocks             4 areas", "central_asia_china_pipeline  4 gem_lines",
                     "blocs                        61 memberships of 26 countries"):
        assert expected in lines


def test_every_place_resolves_inside_the_extended_region(checker):
    lon0, lat0, lon1, lat1 = geonames_extract.EXTENDED_BBOX
    assert len(checker.places) >= 130
    for p in checker.places.values():
        assert lon0 <= p.lon <= lon1 and lat0 <= p.lat <= lat1, p.key
    # gazetteer places sit within their cited tolerance of the expectation (the checker's own rule, re-measured)
    for p in checker.places.values():
        if p.origin == "gazetteer":
            e = p.spec["expect"]
            assert float(distance_km(p.lon, p.lat, e["lon"], e["lat"])) <= e["max_km"], p.key
    assert sum(p.origin == "gazetteer" for p in checker.places.values()) >= 75


@pytest.mark.parametrize("layer, rid, town, km", [
    ("instc", "instc_east_uzen_gorgan", "gorgan", 10),
    ("instc", "quetta_taftan_zahedan_railway", "mirjaveh", 5),
    ("instc", "instc_west_qazvin_rasht_railway", "qazvin", 5),
    ("trans_afghan_railway", "tar_naibabad_kharlachi", "maidan_shahr", 10),
    ("russia_pakistan_links", "rp_road_russia_torkham", "torkham_crossing", 5),
    ("russia_pakistan_links", "rp_sea_russian_crude_karachi", "karachi_port", 5),
    ("carec_corridors", "carec_corridor_6a", "chaman_crossing", 5),
    ("motorways", "m14_hakla_dera_ismail_khan", "dera_ismail_khan", 20),
])
def test_routes_pass_their_documented_towns(checker, docs, layer, rid, town, km):
    route = _route(docs, layer, rid)
    assert any(pt["place"] == town and pt["within_km"] == km for pt in route["passes_through"])
    lon, lat = region.route_lonlat(route, checker.places)
    dlon, dlat = densify_lonlat(lon, lat, max_segment_km=1.0)
    p = checker.places[town]
    assert float(np.min(distance_km(dlon, dlat, p.lon, p.lat))) <= km


def test_every_passes_through_is_documented_and_cited(checker, docs):
    count = 0
    for doc in docs.values():
        for entry in (doc.get("route") or []) + (doc.get("service") or []):
            urls = {s["url"] for s in entry["sources"]}
            for pt in entry.get("passes_through") or []:
                assert checker.places[pt["place"]].role == "documented"
                assert pt["source"] in urls
                count += 1
    assert count >= 70


def test_region_route_converts_to_a_waypoints_toml_route(checker, docs):
    """Phase 2 can feed a region route to the existing waypoint importer and get the same positions."""
    route = _route(docs, "trans_afghan_railway", "tar_naibabad_kharlachi")
    converted = region.as_waypoint_route(route, checker.places, layer="trans_afghan_railway")
    assert converted["layer"] == "trans_afghan_railway" and converted["status_history"] == route["status_history"]
    lon, lat, origins = resolve_waypoints(converted, checker.gaz)
    elon, elat = region.route_lonlat(route, checker.places)
    assert np.allclose(lon, elon) and np.allclose(lat, elat)
    assert origins == ["gazetteer", "gazetteer", "explicit", "explicit"]


def test_gem_rows_of_the_central_asia_china_lines(docs):
    lines = {g["unit"]: g for g in docs["central_asia_china_pipeline"]["gem_line"]}
    assert sorted(lines) == ["Line A", "Line B", "Line C", "Line D"]
    assert [lines[u]["csv_line"] for u in sorted(lines)] == [502, 503, 504, 505]


# -- blocs -----------------------------------------------------------------------------------------------

def test_bloc_memberships_match_their_sources():
    m = region_blocs.memberships()
    assert m["PAK"]["sco"][-1] == {**m["PAK"]["sco"][-1], "status": "member", "since": "2017-06-09"}
    assert region_blocs.status_on(m["IRN"]["sco"], "2022") == "observer"
    assert region_blocs.status_on(m["IRN"]["sco"], "2023") == "member"
    assert region_blocs.status_on(m["BLR"]["sco"], "2024-07-03") == "observer"
    assert region_blocs.status_on(m["AFG"]["sco"], "2025-09-01") == "partner"
    assert m["KGZ"]["eaeu"][-1]["since"] == "2015-08-12" and m["ARM"]["eaeu"][-1]["since"] == "2015-01-02"
    assert region_blocs.status_on(m["PAK"]["carec"], "2009") is None
    assert region_blocs.status_on(m["PAK"]["carec"], "2010") == "member"
    assert m["GEO"]["carec"][-1]["since"] == "2016"
    # the cited source carries the date it is cited for
    assert "2017-06-09" in m["IND"]["sco"][-1]["source"]["title"]
    assert "2023-07-04" in m["IRN"]["sco"][-1]["source"]["title"] and "Iran" in m["IRN"]["sco"][-1]["source"]["title"]
    assert "12 August 2015" in m["KGZ"]["eaeu"][-1]["source"]["title"]


def test_bloc_checks_report_bad_entries(checker, tmp_path):
    bad = tmp_path / "blocs.toml"
    bad.write_text((RAW / "blocs.toml").read_text(encoding="utf-8") + '''
[[membership]]
country = "FRA"
bloc = "sco"
status = "ally"
since = "2020"
source = { title = "x", url = "https://example.org/" }
''', encoding="utf-8")
    before = len(checker.errors)
    region_blocs.check_blocs(checker, bad)
    new = checker.errors[before:]
    del checker.errors[before:], checker.summary[-1]
    assert any("'ally' not in" in e for e in new) and any("'FRA' is not a country" in e for e in new)


# -- the checker catches what it claims to ---------------------------------------------------------------

def _problems(checker, route):
    before = len(checker.errors)
    checker.check_route("test route", route)
    new = checker.errors[before:]
    del checker.errors[before:]
    return new


def test_checker_rejects_wrong_countries_far_towns_and_unsorted_history(checker, docs):
    route = copy.deepcopy(_route(docs, "instc", "instc_east_uzen_gorgan"))
    route["countries"] = ["KAZ", "IRN"]
    route["passes_through"].append({"place": "tehran", "within_km": 10, "source": route["sources"][0]["url"]})
    route["status_history"] = list(reversed(route["status_history"]))
    problems = "\n".join(_problems(checker, route))
    assert "but the chain crosses ['IRN', 'KAZ', 'TKM']" in problems
    assert "passes_through 'tehran'" in problems and "km from the line, stated 10" in problems
    assert "must be sorted by date" in problems


def test_checker_rejects_a_sea_lane_over_land_and_routing_claims(checker, docs):
    lane = copy.deepcopy(_route(docs, "instc", "instc_caspian_makhachkala_anzali"))
    lane["waypoints"] = ["makhachkala", "bandar_anzali"]  # straight across Azerbaijan
    lane["passes_through"] = [{"place": "beyneu", "within_km": 9999, "source": lane["sources"][0]["url"]}]
    problems = "\n".join(_problems(checker, lane))
    assert "sea lane crosses land (['AZE'" in problems
    assert "a routing point is not a documented place" in problems


def test_checker_rejects_a_gazetteer_place_off_its_expectation(checker, tmp_path):
    path = tmp_path / "places.toml"
    # the gazetteer's Quetta set against an expectation 200 km away (the real town is at 30.18N 66.98E)
    path.write_text('''[place.quetta_off]
name = "Quetta"
country = "PK"
expect = { lat = 28.4, lon = 66.98, max_km = 15, source = { title = "Quetta (Wikipedia)", url = "https://en.wikipedia.org/wiki/Quetta" } }
''', encoding="utf-8")
    with pytest.raises(ImportFailed, match="quetta_off.*km from the expected"):
        region.load_places(checker.gaz, path)


def test_checker_rejects_an_approximate_place_without_a_note(checker, tmp_path):
    path = tmp_path / "places.toml"
    path.write_text('''[place.somewhere]
name = "Somewhere"
country = "PK"
lat = 30.0
lon = 70.0
position = "approximate"
source = { title = "x", url = "https://example.org/" }
''', encoding="utf-8")
    with pytest.raises(ImportFailed, match="position_note"):
        region.load_places(checker.gaz, path)


# -- the gazetteer cut -------------------------------------------------------------------------------------

def test_cut_keeps_source_order_and_the_box_edges():
    src = ("lat,lon,name,admin1,admin2,cc\n55.75,37.62,Moscow,Moscow,,RU\n48.85,2.35,Paris,,,FR\n"
           "5.0,90.0,\"Edge, corner\",,,XX\n")
    assert geonames_extract.cut(src, (31.0, 5.0, 90.0, 58.0)) == (
        "name,lat,lon,admin1,admin2,cc\r\nMoscow,55.75,37.62,Moscow,,RU\r\n\"Edge, corner\",5.0,90.0,,,XX\r\n")


def test_sdist_checksum_is_enforced(tmp_path):
    fake = tmp_path / geonames_extract.SDIST_NAME
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"lat,lon,name,admin1,admin2,cc\n"
        info = tarfile.TarInfo(geonames_extract.SDIST_MEMBER)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    fake.write_bytes(buf.getvalue())
    with pytest.raises(ImportFailed, match="sha256"):
        geonames_extract.read_sdist_csv(fake)


def test_committed_extended_gazetteer_contains_the_region_file():
    ext = pd.read_csv(RAW / "geonames_cities1000_extended.csv", dtype=str, keep_default_na=False)
    old = pd.read_csv(RAW / "geonames_cities1000_region.csv", dtype=str, keep_default_na=False)
    assert list(ext.columns) == list(geonames_extract.COLUMNS) and len(ext) == 13170
    lon0, lat0, lon1, lat1 = geonames_extract.EXTENDED_BBOX
    lon, lat = ext["lon"].astype(float), ext["lat"].astype(float)
    assert lon.between(lon0, lon1).all() and lat.between(lat0, lat1).all()
    assert len(old.merge(ext, how="inner")) == len(old)  # today's region is inside, row for row
    assert {"RU", "KZ", "AZ", "GE", "AM", "TM", "EG"} <= set(ext["cc"])
