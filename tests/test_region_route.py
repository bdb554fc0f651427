"""Moscow to Karachi over the network (issue 11): legs, countries crossed, borders and the crossings used."""

import pytest

from geo.routing import route

MOSCOW_KARACHI = {"modes": "road,rail"}


@pytest.fixture(scope="module")
def moscow_karachi(catalog):
    return route(catalog, "Moscow", "Karachi", **MOSCOW_KARACHI)


def test_moscow_to_karachi_by_rail_and_road_has_legs_from_russia_to_pakistan(moscow_karachi):
    legs = [f["properties"] for f in moscow_karachi["features"]]
    lines = [leg for leg in legs if leg.get("project")]
    # goods change mode only at interchanges (ports, border crossings: geo.network), and none joins the INSTC
    # rail at Astrakhan to the roads south, so the road-and-rail answer is the TIR road the whole way
    assert lines[0]["project"] == "russia_pakistan_links:rp_road_russia_torkham"
    assert {leg["mode"] for leg in lines} == {"road"}
    assert legs[-1]["type"] == "access" and legs[-1]["km"] < 25  # the Port of Karachi's interchange to the city
    totals = moscow_karachi["totals"]
    assert totals["from"]["name"] == "Moscow" and totals["to"]["name"] == "Karachi"
    # a chain of towns: longer than the 2,850 km great circle, far shorter than going round by Suez
    assert 4000 < totals["total_km"] < 8000
    assert totals["total_km"] == pytest.approx(sum(leg["km"] for leg in legs), abs=0.01)


def test_moscow_to_karachi_lists_the_countries_and_borders_in_travel_order(catalog, moscow_karachi):
    totals = moscow_karachi["totals"]
    countries = totals["countries"]
    assert countries[0] == "RUS" and countries[-1] == "PAK"
    # borders chain from Russia to Pakistan; a country entered twice (Kazakhstan round Baikonur, which Natural
    # Earth draws as its own unit) is listed once in countries
    steps = [(b["from"], b["to"]) for b in totals["borders"]]
    assert steps[0][0] == "RUS" and steps[-1][1] == "PAK"
    assert all(a[1] == b[0] for a, b in zip(steps[:-1], steps[1:]))
    assert list(dict.fromkeys(c for step in steps for c in step)) == countries
    assert sum(v for k, v in totals["km_by_country"].items()) == pytest.approx(totals["total_km"], rel=0.001)
    chainages = [b["chainage_km"] for b in totals["borders"]]
    assert chainages == sorted(chainages)
    crossings = catalog.layer("border_crossings").gdf.set_index("id")
    used = [b for b in totals["borders"] if b["crossing"]]
    assert used, "the route uses at least one placed crossing"
    for b in used:
        c = b["crossing"]
        assert {b["from"], b["to"]} <= set(crossings.loc[c["id"], "countries"])
        assert c["crossing_status"] == crossings.loc[c["id"], "crossing_status"] and c["km"] <= 30
    # the borders without a cited crossing position say so rather than inventing one
    assert all(b["crossing"] is None for b in totals["borders"] if b["from"] == "RUS")


def test_moscow_to_karachi_through_the_api_and_the_cli(client, capsys, moscow_karachi):
    from geo.__main__ import main

    body = client.get("/api/route?from=Moscow&to=Karachi&modes=road,rail").get_json()
    assert body["totals"]["countries"] == moscow_karachi["totals"]["countries"]
    assert body["totals"]["borders"] == moscow_karachi["totals"]["borders"]
    assert main(["route", "Moscow", "Karachi", "--modes", "road,rail"]) == 0
    out = capsys.readouterr().out
    assert "countries: RUS " in out and "border RUS -> " in out
