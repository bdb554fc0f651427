"""Every supported format imports: read in the bounded child process, metadata inferred, CRS reprojected
with a note, then saved through the web API and served like a built-in layer (map, stats, corridor).

Files are written by GDAL (pyogrio/geopandas) and pyarrow, as users' tools write them."""

import io
import json
import zipfile

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from layers.build import GEM_CSV
from layers.errors import LayerInvalid
from layers.importers.formats import Limits
from layers.importers.infer import ImportOptions, match_kind, match_status
from layers.importers.user import prepare

UTM = "EPSG:32642"  # WGS 84 / UTM zone 42N: Karachi to Quetta


def _routes():
    lines = [shapely.LineString([(300000, 2770000), (350000, 2800000), (400000, 2850000)]),
             shapely.LineString([(320000, 2760000), (360000, 2790000)])]
    return gpd.GeoDataFrame({"Name": ["Karachi link", "Port spur"], "Status": ["Under construction", "planned"],
                             "type": ["Gas pipeline", "motorway"], "length_km": [120.5, None]},
                            geometry=lines, crs=UTM)


def _sites():
    return gpd.GeoDataFrame({"name": ["Jamshoro", "Port Qasim"], "category": ["power station", "port"],
                             "status": ["operational", "existing"]},
                            geometry=[shapely.Point(68.28, 25.43), shapely.Point(67.33, 24.78)], crs="EPSG:4326")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    routes, sites = _routes(), _sites()
    out = {}
    routes.to_crs(4326).to_file(d / "plain.geojson", driver="GeoJSON")
    out["geojson"] = d / "plain.geojson"
    routes.to_file(d / "both.gpkg", layer="routes", driver="GPKG")
    sites.to_file(d / "both.gpkg", layer="sites", driver="GPKG")
    out["gpkg"] = d / "both.gpkg"
    shp = d / "shp"
    shp.mkdir()
    routes.to_file(shp / "routes.shp")
    with zipfile.ZipFile(d / "routes.zip", "w") as z:
        for f in sorted(shp.iterdir()):
            z.write(f, f.name)
    out["shapefile"] = d / "routes.zip"
    routes.to_crs(4326).to_file(d / "routes.kml", driver="KML")
    out["kml"] = d / "routes.kml"
    with zipfile.ZipFile(d / "routes.kmz", "w") as z:
        z.write(d / "routes.kml", "doc.kml")
    out["kmz"] = d / "routes.kmz"
    routes.to_file(d / "routes.fgb", driver="FlatGeobuf")
    out["fgb"] = d / "routes.fgb"
    routes.to_parquet(d / "routes.parquet")
    out["parquet"] = d / "routes.parquet"
    (d / "wkt.csv").write_text('name,status,wkt\nKarachi link,construction,"LINESTRING (66.9 24.8, 67.5 25.3)"\n',
                               encoding="utf-8")
    out["csv-wkt"] = d / "wkt.csv"
    (d / "sites.csv").write_text("name,latitude,longitude,type\nJamshoro,25.43,68.28,coal power plant\n"
                                 "Port Qasim,24.78,67.33,port\n", encoding="utf-8")
    out["csv-latlon"] = d / "sites.csv"
    return out


def _one(path, **options):
    found = prepare(path, path.name, Limits(), ImportOptions(**options))
    assert len(found) == 1
    return found[0]


def _expected_lonlat():
    t = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)
    return np.column_stack(t.transform([300000, 350000, 400000], [2770000, 2800000, 2850000]))


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shapefile", "kml", "kmz", "fgb", "parquet"])
def test_each_gis_format_reads_maps_and_reprojects(files, fmt):
    cand = _one(files[fmt], layer="routes") if fmt == "gpkg" else _one(files[fmt])
    assert not cand.problems, cand.problems
    assert len(cand.properties) == 2
    first = cand.properties[0]
    assert (first["name"], first["kind"], first["status"]) == ("Karachi link", "gas_pipeline", "construction")
    assert cand.properties[1]["kind"] == "road" and cand.properties[1]["status"] == "proposed"
    assert first["geometry_quality"] == "traced" and first["sources"][0]["title"]
    np.testing.assert_allclose(shapely.get_coordinates(cand.geometries[0]), _expected_lonlat(), atol=1e-6)
    if fmt in ("gpkg", "shapefile", "fgb", "parquet"):  # they carry the UTM CRS: reprojected, with a note
        assert any("reprojected from EPSG:32642" in n for n in cand.notes)
    if fmt not in ("kml", "kmz"):
        assert first["reported_length_km"] == 120.5


def test_geopackage_offers_its_layers_and_imports_the_chosen_one(files):
    found = prepare(files["gpkg"], "both.gpkg", Limits())
    assert [c.name for c in found] == ["routes", "sites"]
    sites = _one(files["gpkg"], layer="sites")
    assert [p["kind"] for p in sites.properties] == ["power_plant", "port"]
    assert [p["status"] for p in sites.properties] == ["operating", "operating"]
    assert {p["geometry_quality"] for p in sites.properties} == {"point"}
    with pytest.raises(LayerInvalid, match="no layer 'roads' in the file; it holds: routes, sites"):
        prepare(files["gpkg"], "both.gpkg", Limits(), ImportOptions(layer="roads"))


def test_csv_with_wkt_or_lat_lon_columns(files):
    wkt = _one(files["csv-wkt"])
    assert wkt.geometries[0].equals(shapely.LineString([(66.9, 24.8), (67.5, 25.3)]))
    assert "column wkt" in wkt.notes[0] and wkt.properties[0]["status"] == "construction"
    sites = _one(files["csv-latlon"])
    assert [tuple(shapely.get_coordinates(g)[0]) for g in sites.geometries] == [(68.28, 25.43), (67.33, 24.78)]
    assert [p["kind"] for p in sites.properties] == ["power_plant", "port"]
    assert sites.properties[0]["status"] == "unknown"  # nobody said: never invented


def test_csv_without_a_geometry_column_is_refused_by_name(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("name,city\nA,Lahore\n", encoding="utf-8")
    with pytest.raises(LayerInvalid, match="names.csv: layer: no geometry column: give a WKT column"):
        prepare(path, path.name, Limits())


def test_the_gem_tracker_csv_is_recognised_and_offers_its_facility_types():
    found = prepare(GEM_CSV, "Asia-Gas-Tracker.csv", Limits())
    assert [(c.layer_id, len(c.properties)) for c in found] == [
        ("gem_gas_pipelines", 1174), ("gem_lng_terminals", 410), ("gem_gas_power_plants", 2635)]
    assert all(not c.problems for c in found)
    assert found[0].meta["attribution"].startswith("Global Energy Monitor")


def test_unknown_crs_is_one_clear_problem(tmp_path):
    routes = _routes()
    shp = tmp_path / "shp"
    shp.mkdir()
    routes.to_file(shp / "noprj.shp")
    (shp / "noprj.prj").unlink()
    with zipfile.ZipFile(tmp_path / "noprj.zip", "w") as z:
        for f in shp.iterdir():
            z.write(f, f.name)
    cand = _one(tmp_path / "noprj.zip")
    assert [p.feature for p in cand.problems] == [None]
    assert "unknown CRS" in cand.problems[0].problem and "2,850,000" in cand.problems[0].problem


def test_kind_and_status_words():
    assert [match_kind(t) for t in ("Gas pipeline", "LNG terminal", "HVDC line", "Railway", "N-5 highway",
                                    "Coal power plant", "Grid station", "bakery")] == [
        "gas_pipeline", "lng_terminal", "power_line", "rail", "road", "power_plant", "substation", None]
    assert [match_status(t) for t in ("Under construction", "pre-construction", "Operational", "On hold",
                                      "Cancelled", "Decommissioned", "?")] == [
        "construction", "proposed", "operating", "shelved", "cancelled", "retired", None]


# --- through the web: every format ends up a served layer -------------------------------------------------

@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shapefile", "kml", "kmz", "fgb", "parquet", "csv-wkt",
                                 "csv-latlon"])
def test_each_format_imports_through_the_api_and_is_served(files, fmt, signed_in):
    client, csrf, _ = signed_in
    path = files[fmt]
    data = {"file": (io.BytesIO(path.read_bytes()), path.name), "commit": "1", "layer_id": f"t_{fmt.replace('-', '_')}"}
    if fmt == "gpkg":
        data["layer"] = "routes"
    r = client.post("/api/imports", data=data, headers={"X-CSRFToken": csrf}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    layer_id = r.get_json()["layer"]
    stats = client.get(f"/api/layers/{layer_id}/stats").get_json()
    assert stats["summary"]["features"] >= 1
    if fmt not in ("csv-latlon",):
        first = stats["features"][0]
        assert first["geodesic_length_km"] > 0 and "PAK" in first["length_by_country_km"]
    assert client.get(f"/map/{layer_id}").status_code == 200
    feature = client.get(f"/api/layers/{layer_id}").get_json()["features"][0]
    assert "PAK" in feature["properties"]["countries"]  # filled in from the boundaries layer


def test_gem_csv_import_time_through_the_api(signed_in):
    import time

    client, csrf, _ = signed_in
    start = time.perf_counter()
    r = client.post("/api/imports", data={"file": (io.BytesIO(GEM_CSV.read_bytes()), "Asia-Gas-Tracker.csv"),
                                          "commit": "1", "layer": "gas_pipelines"},
                    headers={"X-CSRFToken": csrf}, content_type="multipart/form-data")
    seconds = time.perf_counter() - start
    assert r.status_code == 201 and r.get_json()["feature_count"] == 1174, r.get_json()
    print(f"\nGEM 1,174-route import through POST /api/imports: {seconds:.1f} s")
    assert json.loads(client.get("/api/layers/gem_gas_pipelines?limit=1").data)["numberMatched"] == 1174
