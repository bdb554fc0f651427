"""The extended region's layers (issue 11): routes through their documented towns, crossings, blocs, the view."""

import json

import numpy as np
import pytest
import shapely

from geo.geodesic import densify_lonlat, distance_km, geodesic_length_km
from layers.importers import region, region_blocs
from layers.importers.gazetteer import load_gazetteer
from layers.schema import FOCUS_BBOX, REGION_BBOX

REGION_LAYERS = tuple(region.LAYER_FILES)
LINE_LAYERS = ("instc", "trans_afghan_railway", "russia_pakistan_links", "motorways", "carec_corridors")


@pytest.fixture(scope="module")
def places():
    return region.load_places(load_gazetteer(region.GAZETTEER))


def _off_line_km(geom, lon, lat):
    """Geodesic km from a point to a line densified to 1 km steps."""
    xy = shapely.get_coordinates(geom)
    dlon, dlat = densify_lonlat(xy[:, 0], xy[:, 1], max_segment_km=1.0)
    return float(np.min(distance_km(dlon, dlat, lon, lat)))


def _passes_through_cases():
    cases = []
    for lid in LINE_LAYERS:
        doc = json.loads((region.RAW_DIR.parent / "layers" / f"{lid}.geojson").read_text(encoding="utf-8"))
        for f in doc["features"]:
            for pt in f["properties"].get("passes_through") or []:
                cases.append(pytest.param(lid, f["properties"]["id"], pt, id=f"{f['properties']['id']}-{pt['place']}"))
    return cases


def test_every_new_layer_is_in_the_catalogue_with_sources_licence_and_dates(catalog):
    for lid in REGION_LAYERS:
        gdf = catalog.layer(lid).gdf
        assert len(gdf), lid
        assert gdf["sources"].map(len).min() >= 1 and gdf["licence"].map(bool).all(), lid
        assert gdf["as_of"].notna().all() and gdf["last_checked"].notna().all(), lid
        assert gdf["status_history"].map(lambda h: isinstance(h, list) and len(h) > 0).all(), lid
    counts = {lid: len(catalog.layer(lid).gdf) for lid in REGION_LAYERS}
    assert counts == {"instc": 17, "trans_afghan_railway": 4, "russia_pakistan_links": 3, "border_crossings": 12,
                      "motorways": 17, "carec_corridors": 3, "thar_coal_blocks": 4, "central_asia_china_pipeline": 2}


def test_passes_through_lists_the_90_documented_towns_of_phase_1(catalog):
    services = catalog.layer("russia_pakistan_links").meta["services"]
    assert len(_passes_through_cases()) + sum(len(s["passes_through"]) for s in services) == 90


@pytest.mark.parametrize(("layer_id", "fid", "pt"), _passes_through_cases())
def test_route_passes_within_its_stated_distance_of_each_documented_town(catalog, places, layer_id, fid, pt):
    feature = catalog.feature(layer_id, fid)
    place = places[pt["place"]]
    assert place.role == "documented"
    assert (pt["lon"], pt["lat"]) == (round(place.lon, 6), round(place.lat, 6))
    assert pt["source"] in {s["url"] for s in feature["sources"].iloc[0]}
    assert _off_line_km(feature.geometry.iloc[0], place.lon, place.lat) <= pt["within_km"]


def test_the_lahore_astrakhan_train_uses_other_features_and_passes_its_stations(catalog, places):
    (service,) = catalog.layer("russia_pakistan_links").meta["services"]
    assert service["id"] == "rp_rail_lahore_astrakhan" and service["status"] == "proposed"
    refs = [u["ref"] for u in service["uses"]]
    assert refs[0] == "cpec:ml1_railway" and refs[-1] == "instc:instc_east_astrakhan_uzen"
    geoms = [catalog.feature(*ref.split(":")).geometry.iloc[0] for ref in refs]  # each leg exists, drawn once
    legs = shapely.MultiLineString([g for g in geoms])
    for pt in service["passes_through"]:
        place = places[pt["place"]]
        assert _off_line_km(legs, place.lon, place.lat) <= pt["within_km"], pt["place"]


def test_references_name_features_of_other_layers_instead_of_copying_them(catalog):
    for lid in ("instc", "russia_pakistan_links"):
        meta = catalog.layer(lid).meta
        assert meta["references"] == [n["ref"] for n in meta["reference_notes"]]
        for ref in meta["references"]:
            assert len(catalog.feature(*ref.split(":"))) == 1
    assert "energy_projects:pakistan_steel_mills" in catalog.layer("russia_pakistan_links").meta["references"]


def test_border_crossings_carry_a_dated_traffic_status_beside_the_facility_status(catalog):
    gdf = catalog.layer("border_crossings").gdf.set_index("id")
    assert set(gdf["status"]) == {"operating"}
    assert gdf.loc["torkham", "crossing_status"] == "closed"
    assert gdf.loc["torkham", "crossing_history"][-1]["date"].startswith("2025-10")
    assert gdf.loc["sarakhs", "modes"] == ["road", "rail"]
    for fid, row in gdf.iterrows():
        assert row["crossing_history"][-1]["status"] == row["crossing_status"], fid
        assert len(row["countries"]) == 2, fid
    # stand-ins say so: Kharlachi is placed at Parachinar
    assert gdf.loc["kharlachi", "position"] == "approximate" and gdf.loc["kharlachi", "position_note"]


def test_thar_blocks_are_polygons_larger_than_their_stated_areas(catalog):
    gdf = catalog.layer("thar_coal_blocks").gdf.set_index("id")
    assert set(gdf.geometry.geom_type) == {"Polygon"} and set(gdf["geometry_quality"]) == {"approximate"}
    assert gdf.loc["thar_block_ii", "area_km2"] == pytest.approx(218, abs=1)
    assert (gdf["area_km2"] > gdf["reported_area_km2"]).all()


def test_central_asia_china_lines_a_to_c_are_drawn_once_with_their_summed_capacity(catalog):
    gdf = catalog.layer("central_asia_china_pipeline").gdf.set_index("id")
    assert list(gdf.index) == ["cac_line_a_b_c", "cac_line_d"]
    abc = gdf.loc["cac_line_a_b_c"]
    assert [u["capacity"] for u in abc["units"]] == [15.0, 15.0, 25.0] and abc["capacity"] == 55.0
    km = geodesic_length_km(gdf.geometry.to_numpy())
    assert km[0] == pytest.approx(1883, abs=5) and km[1] == pytest.approx(1056, abs=5)
    assert gdf.loc["cac_line_d", "source_longest_segment_km"] == pytest.approx(868, abs=1)


def test_boundaries_cover_the_extended_region(catalog):
    gdf = catalog.layer("boundaries").gdf
    assert len(gdf) == 51 and {"RUS", "KAZ", "EGY", "UKR", "CYN"} <= set(gdf["id"]) and "KAB" not in set(gdf["id"])
    lon0, lat0, lon1, lat1 = gdf.total_bounds
    assert (lon0, lat0, lon1, lat1) == pytest.approx(REGION_BBOX)
    moscow = shapely.Point(37.62, 55.75)
    assert gdf.set_index("id").loc["RUS"].geometry.contains(moscow)


def test_bloc_memberships_match_blocs_toml(catalog):
    gdf = catalog.layer("boundaries").gdf.set_index("id")
    expected = region_blocs.memberships()
    assert len(expected) == 26
    for code, blocs in expected.items():
        got = gdf.loc[code, "blocs"]
        assert set(got) == set(blocs), code
        for bloc, entries in blocs.items():
            history = got[bloc]["history"]
            assert [(h["date"], h["status"], h["source"]["url"]) for h in history] == [
                (e.get("since") or e.get("attested"), e["status"], e["source"]["url"]) for e in entries]
            assert got[bloc]["status"] == entries[-1]["status"]
    # the dated facts of the paper: Pakistan and India full SCO members from 9 June 2017, Iran from 4 July 2023
    assert region_blocs.status_on(expected["PAK"]["sco"], "2017-06-09") == "member"
    assert region_blocs.status_on(expected["IRN"]["sco"], "2023-07-03") == "observer"
    assert region_blocs.status_on(expected["IRN"]["sco"], "2023-07-04") == "member"
    assert gdf.loc["RUS", "blocs"]["eaeu"]["status"] == "member"
    assert "blocs" not in gdf.columns or not isinstance(gdf.loc["EGY", "blocs"], dict) or \
        "eaeu" not in gdf.loc["EGY", "blocs"]


def test_the_overview_opens_on_pakistan_not_on_moscow(app, catalog):
    from webapp.maps.builder import map_bounds, overview_layer_ids

    lon0, lat0, lon1, lat1 = map_bounds(catalog, overview_layer_ids(catalog))
    assert (lon0, lat0, lon1, lat1) == FOCUS_BBOX
    assert lat1 < 45 and lon0 > 50  # Moscow (55.75N 37.6E) and Suez are outside the first view
    assert lon0 < 60.9 < 77.8 < lon1 and lat0 < 24.9 and 37.0 < lat1  # Pakistan (Jiwani to Wagah, Khunjerab)
    # a map of the INSTC alone fits all of it, Moscow included
    assert map_bounds(catalog, ["instc"])[3] == pytest.approx(55.75, abs=0.01)
    html = app.test_client().get("/").get_data(as_text=True)
    assert "[[24.0, 52.0], [41.0, 78.0]]" in html


def test_the_map_colours_countries_by_bloc(client):
    html = client.get("/map/boundaries?blocs=sco").get_data(as_text=True)
    assert "Shanghai Cooperation Organisation (SCO)" in html
    assert '"PAK": "#3a7ca5"' in html or '"PAK":"#3a7ca5"' in html
    plain = client.get("/map/boundaries").get_data(as_text=True)
    assert "Shanghai Cooperation Organisation" not in plain
    bad = client.get("/map/boundaries?blocs=nato")
    assert bad.status_code == 400 and "Parameter: <code>blocs</code>" in bad.get_data(as_text=True)


def test_same_mode_lines_drawn_along_each_other_say_so(catalog):
    from geo.geodesic import geodesic_length_km as km_of

    road = catalog.feature("russia_pakistan_links", "rp_road_russia_torkham").iloc[0]
    shared = {o["ref"]: o["km"] for o in road["overlaps"]}
    assert shared["carec_corridors:carec_corridor_6c"] == pytest.approx(1692, abs=2)
    for lid in LINE_LAYERS:
        gdf = catalog.layer(lid).gdf
        for geom, overlaps in zip(gdf.geometry, gdf["overlaps"] if "overlaps" in gdf else []):
            for o in overlaps if isinstance(overlaps, list) else []:
                other = catalog.feature(*o["ref"].split(":")).geometry.iloc[0]
                parts = [p for p in shapely.get_parts(shapely.intersection(geom, other))
                         if p.geom_type == "LineString"]
                assert float(km_of(np.array(parts, dtype=object)).sum()) == pytest.approx(o["km"], abs=0.1)


def test_readme_data_table_has_every_layer_with_its_feature_count(catalog):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## What data it ships"):text.index("Sources and attribution lines")]
    rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| (\d+) \|", table, flags=re.M))
    assert {lid: int(n) for lid, n in rows.items()} == {lid: len(catalog.layer(lid).gdf) for lid in catalog.ids}


def test_statistics_measure_length_by_country_and_crossings_across_the_region(catalog):
    from geo.stats import layer_stats

    stats = layer_stats(catalog, "russia_pakistan_links").set_index("id")
    by_country = stats.loc["rp_road_russia_torkham", "length_by_country_km"]
    assert {"RUS", "KAZ", "UZB", "AFG", "PAK"} <= set(by_country) and by_country["RUS"] > 1000
    crossings = [(c["from"], c["to"]) for c in stats.loc["rp_road_russia_torkham", "border_crossings"]]
    assert crossings[0] == ("RUS", "KAZ") and crossings[-2:] == [("UZB", "AFG"), ("AFG", "PAK")]
    trunk = layer_stats(catalog, "instc").set_index("id").loc["instc_west_moscow_astrakhan"]
    assert trunk["length_by_country_km"] == {"RUS": pytest.approx(1293.1, abs=0.1)}


def test_every_bloc_status_has_a_colour_and_every_bloc_draws(client):
    from layers.styles import BLOC_STATUS_COLOURS, BLOC_TITLES

    blocs, _ = region_blocs.read_blocs()
    assert set(blocs) == set(BLOC_TITLES)
    for bloc_id, bloc in blocs.items():
        assert set(bloc["statuses"]) <= set(BLOC_STATUS_COLOURS), bloc_id
        assert client.get(f"/map/tapi?blocs={bloc_id}").status_code == 200, bloc_id


def test_figures_and_html_exports_colour_countries_by_bloc(client):
    import io

    import matplotlib.image
    import numpy as np

    def near_member_px(body):  # pixels within a few levels of the SCO member fill (under the layer's own tint)
        rgb = matplotlib.image.imread(io.BytesIO(body), format="png")[..., :3] * 255
        return int((np.abs(rgb - np.array([0x3A, 0x7C, 0xA5])).max(axis=-1) <= 8).sum())

    plain = client.get("/export?format=png&layers=boundaries&width=800&height=600")
    sco = client.get("/export?format=png&layers=boundaries&width=800&height=600&blocs=sco")
    assert plain.status_code == sco.status_code == 200
    # members (Pakistan, India, China, Russia, Central Asia, Iran) fill a tenth of the picture; the plain one has
    # only the legend's and anti-aliasing's few
    assert near_member_px(plain.data) < 500 and near_member_px(sco.data) > 48_000
    svg = client.get("/export?format=svg&layers=boundaries&blocs=eaeu").get_data(as_text=True)
    assert "Countries: Eurasian Economic Union (EAEU)" in svg and "free trade agreement (1)" in svg
    html = client.get("/export?format=html&layers=tapi&blocs=eaeu").get_data(as_text=True)
    assert "Eurasian Economic Union (EAEU)" in html
    bad = client.get("/export?format=stats-csv&blocs=sco")
    assert bad.status_code == 400 and "blocs" in bad.get_data(as_text=True)
