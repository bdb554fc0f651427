"""OGC API - Features at /ogcapi, in-process: documents, paging, bbox, datetime, queryables, HTML, errors."""

import json

import pytest

from webapp import create_app
from webapp.ogc.common import CONFORMANCE
from webapp.ogc.features import parse_ogc_bbox
from webapp.ogc.temporal import parse_datetime

GRID = "pakistan_gas_grid"


def _rels(doc):
    return {link["rel"]: link["href"] for link in doc["links"]}


def test_landing_page_links_to_everything_with_absolute_urls(client):
    public = create_app({"TESTING": True, "ALLOWED_HOSTS": ["maps.example.org"]})  # only allowed hosts reach links
    doc = public.test_client().get("/ogcapi", base_url="https://maps.example.org").get_json()
    rels = _rels(doc)
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert all(href.startswith("https://maps.example.org/") for href in rels.values())
    desc = next(link for link in doc["links"] if link["rel"] == "service-desc")
    assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert client.get("/ogcapi/").status_code == 200  # with or without the slash, no redirect


def test_conformance_declares_features_core_geojson_html_oas30_queryables_and_tiles(client):
    declared = client.get("/ogcapi/conformance").get_json()["conformsTo"]
    assert declared == list(CONFORMANCE)
    for part in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
                 "ogcapi-features-1/1.0/conf/html", "ogcapi-features-1/1.0/conf/oas30",
                 "ogcapi-features-3/1.0/conf/queryables", "ogcapi-tiles-1/1.0/conf/mvt"):
        assert f"http://www.opengis.net/spec/{part}" in declared


def test_collections_are_the_catalogue_with_extents_and_download_links(client, catalog):
    doc = client.get("/ogcapi/collections").get_json()
    assert [c["id"] for c in doc["collections"]] == catalog.ids
    tapi = next(c for c in doc["collections"] if c["id"] == "tapi")
    assert tapi["extent"]["spatial"]["bbox"][0] == [round(v, 6) for v in catalog.layer("tapi").bbox]
    assert tapi["extent"]["spatial"]["crs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    enclosures = [link for link in tapi["links"] if link["rel"] == "enclosure"]
    assert {link["href"].rsplit("format=", 1)[1] for link in enclosures} == {
        "geojson", "gpkg", "shp", "kml", "fgb", "csv", "parquet"}


def test_items_are_the_api_features_with_counts(client):
    ogc = client.get("/ogcapi/collections/tapi/items").get_json()
    api = client.get("/api/layers/tapi").get_json()
    assert ogc["features"] == api["features"]
    assert ogc["numberMatched"] == ogc["numberReturned"] == 3


def test_paging_follows_next_links_to_every_feature(client):
    seen, url, pages = [], "/ogcapi/collections/pakistan_gas_grid/items?limit=16", 0
    while url:
        doc = client.get(url).get_json()
        seen += [f["id"] for f in doc["features"]]
        nxt = [link["href"] for link in doc["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://localhost", "") if nxt else None
        pages += 1
    api = client.get(f"/api/layers/{GRID}").get_json()
    assert seen == [f["id"] for f in api["features"]] and pages == 5
    last = client.get(f"/ogcapi/collections/{GRID}/items?limit=16&offset=64").get_json()
    assert "prev" in _rels(last) and "next" not in _rels(last)


def test_limit_above_the_maximum_is_capped(client):
    doc = client.get(f"/ogcapi/collections/{GRID}/items?limit=100000000").get_json()
    assert doc["numberReturned"] == 66
    assert client.get(f"/ogcapi/collections/{GRID}/items?limit=0").status_code == 400


def test_bbox_with_four_or_six_numbers(client):
    four = client.get(f"/ogcapi/collections/{GRID}/items?bbox=66,24,70,28").get_json()
    six = client.get(f"/ogcapi/collections/{GRID}/items?bbox=66,24,-100,70,28,9000").get_json()
    api = client.get(f"/api/layers/{GRID}?bbox=66,24,70,28").get_json()
    assert [f["id"] for f in four["features"]] == [f["id"] for f in six["features"]] == [
        f["id"] for f in api["features"]]
    assert parse_ogc_bbox("170,-10,-170,10") == [(170.0, -10.0, 180.0, 10.0), (-180.0, -10.0, -170.0, 10.0)]
    for bad in ("1,2,3", "a,b,c,d", "66,24,70,28,1"):
        response = client.get(f"/ogcapi/collections/{GRID}/items?bbox={bad}")
        assert response.status_code == 400 and response.get_json()["parameter"] == "bbox"


def test_property_filters_are_the_collection_queryables(client):
    q = client.get("/ogcapi/collections/tapi/queryables").get_json()
    assert q["type"] == "object" and {"status", "kind", "countries", "id"} <= set(q["properties"])
    assert "operator" not in q["properties"]  # tapi has no operator property
    assert "operator" in client.get("/ogcapi/collections/cpec/queryables").get_json()["properties"]
    doc = client.get(f"/ogcapi/collections/{GRID}/items?status=operating&countries=PAK").get_json()
    api = client.get(f"/api/layers/{GRID}?status=operating&countries=PAK").get_json()
    assert doc["numberMatched"] == api["numberMatched"] > 0
    refused = client.get("/ogcapi/collections/tapi/items?operator=x")
    assert refused.status_code == 400 and refused.get_json()["parameter"] == "operator"
    assert refused.get_json()["code"] == "400" and refused.get_json()["description"]


@pytest.fixture(scope="module")
def dated_app(tmp_path_factory):
    """A user layer with status histories (the dated-facts contract), one feature with start_year only, one undated."""
    folder = tmp_path_factory.mktemp("dated")

    def feature(fid, lon, **extra):
        props = {"id": fid, "name": fid, "kind": "port", "status": "operating", "countries": ["PAK"],
                 "reported_length_km": None, "geometry_quality": "point",
                 "sources": [{"title": "t", "url": "https://example.org"}], "licence": "CC BY 4.0", **extra}
        return {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [lon, 25.0]}}

    src = {"title": "s", "url": "https://example.org/s"}
    doc = {"type": "FeatureCollection",
           "metadata": {"id": "dated", "title": "Dated", "description": "d", "attribution": "a", "licence": "CC BY 4.0"},
           "features": [
               feature("old", 66.0, status_history=[{"date": "2002-03", "status": "proposed", "source": src},
                                                    {"date": "2007", "status": "operating", "source": src}]),
               feature("new", 67.0, status_history=[{"date": "2021-05-28", "status": "proposed", "source": src},
                                                    {"date": "2024", "status": "operating", "source": src}]),
               feature("planned", 68.0, start_year=2016),
               feature("undated", 69.0),
           ]}
    (folder / "dated.geojson").write_text(json.dumps(doc), encoding="utf-8")
    return create_app({"TESTING": True, "LAYERS_DIRS": [str(folder)]})


@pytest.mark.parametrize("value, expected", [
    ("2005", ["old"]), ("2015-06-30", ["old"]), ("2016", ["old", "planned"]),
    ("2021-05-28T12:00:00Z", ["old", "new", "planned"]), ("../2010", ["old"]), ("2020-01-01/..", ["old", "new", "planned"]),
    ("1990/2001-12-31", []),
])
def test_datetime_selects_features_on_record_by_then(dated_app, value, expected):
    doc = dated_app.test_client().get(f"/ogcapi/collections/dated/items?datetime={value}").get_json()
    assert [f["id"] for f in doc["features"]] == expected


def test_temporal_extent_and_bad_datetimes(dated_app):
    client = dated_app.test_client()
    extent = client.get("/ogcapi/collections/dated").get_json()["extent"]
    assert extent["temporal"]["interval"] == [["2002-03-01T00:00:00Z", None]]
    for bad in ("yesterday", "2020/2019", "../..", ""):
        response = client.get(f"/ogcapi/collections/dated/items?datetime={bad}")
        assert response.status_code == 400 and response.get_json()["parameter"] == "datetime", bad
    assert [str(d) for d in parse_datetime("2015-10-16")] == ["2015-10-16", "2015-10-16"]


def test_one_item_with_links_and_404s(client):
    doc = client.get("/ogcapi/collections/tapi/items/tapi_trunk").get_json()
    assert doc["id"] == "tapi_trunk" and doc["properties"]["reported_length_km"] == 1814.0
    assert {"self", "alternate", "collection"} <= set(_rels(doc))
    missing = client.get("/ogcapi/collections/tapi/items/nope")
    assert missing.status_code == 404 and missing.mimetype == "application/json"
    assert client.get("/ogcapi/collections/nope/items").status_code == 404


def test_html_pages_are_browsable(client):
    for url in ("/ogcapi", "/ogcapi/conformance", "/ogcapi/collections", "/ogcapi/collections/tapi",
                "/ogcapi/collections/tapi/items", "/ogcapi/collections/tapi/items/tapi_trunk",
                "/ogcapi/collections/tapi/queryables"):
        page = client.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert page.status_code == 200 and page.mimetype == "text/html", url
        assert "http://" not in page.get_data(as_text=True).split("<body>")[0].replace("http://localhost", ""), url
    items = client.get("/ogcapi/collections/tapi/items?f=html").get_data(as_text=True)
    assert "TAPI gas pipeline (main trunk)" in items and 'data-geojson-url="http://localhost/ogcapi/' in items
    assert client.get("/ogcapi/collections?f=xml").status_code == 400
    assert "QGIS" in client.get("/ogcapi?f=html").get_data(as_text=True)
    error = client.get("/ogcapi/collections/nope?f=html")
    assert error.status_code == 404 and error.mimetype == "text/html"


def test_items_answer_304_to_their_etag(client):
    first = client.get("/ogcapi/collections/tapi/items?limit=2")
    again = client.get("/ogcapi/collections/tapi/items?limit=2", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
