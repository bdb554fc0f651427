"""A layers folder never takes the service down: plain GeoJSON and the other formats load (metadata
inferred), and every bad file -- unreadable, invalid, hostile, too big, too slow, a symlink out, a FIFO, a
device, a directory, a taken id -- is skipped, logged and listed on /status (HTML and JSON)."""

import json
import logging
import os
import stat
import threading
import zipfile

import geopandas as gpd
import pytest
import shapely

from webapp import create_app


def _fc(features, **extra):
    return json.dumps({"type": "FeatureCollection", "features": features, **extra})


def _line(name, coords=((67, 25), (68, 26))):
    return {"type": "Feature", "properties": {"name": name, "status": "operational"},
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]}}


def _project_layer(layer_id, features):
    meta = {"id": layer_id, "title": layer_id, "description": "d", "attribution": "a", "licence": "CC0"}
    return _fc(features, metadata=meta)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("layers")
    outside = tmp_path_factory.mktemp("outside") / "secret.geojson"
    outside.write_text(_fc([_line("SECRET outside the folder")]), encoding="utf-8")
    (d / "plain.geojson").write_text(_fc([_line("Plain route")]), encoding="utf-8")
    (d / "sites.csv").write_text("name,lat,lon,type\nJamshoro,25.43,68.28,power plant\n", encoding="utf-8")
    gpd.GeoDataFrame({"name": ["GPKG road"], "highway": ["primary"]}, geometry=[shapely.LineString(
        [(300000, 2770000), (350000, 2800000)])], crs="EPSG:32642").to_file(d / "roads.gpkg", driver="GPKG")
    gpd.GeoDataFrame({"name": ["Loose shapefile"]}, geometry=[shapely.Point(67, 25)], crs=4326).to_file(
        d / "loose.shp")
    project = {"type": "Feature", "properties": {
        "id": "p1", "name": "Project", "kind": "road", "status": "proposed", "countries": ["PAK"],
        "reported_length_km": None, "geometry_quality": "traced", "sources": [{"title": "t", "url": "u"}],
        "licence": "CC0"}, "geometry": {"type": "LineString", "coordinates": [[67, 25], [68, 26]]}}
    (d / "project.geojson").write_text(_project_layer("project", [project]), encoding="utf-8")
    # the bad ones
    (d / "broken.geojson").write_text("{not json", encoding="utf-8")
    (d / "deep.json").write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    (d / "junk.geojson").write_text(_project_layer("junk", [1, "x", None]), encoding="utf-8")
    (d / "huge_lon.geojson").write_text(_project_layer("huge_lon", [{**project, "geometry": {
        "type": "LineString", "coordinates": [[1e300, 25], [68, 26]]}}]), encoding="utf-8")
    (d / "latin1.csv").write_bytes("name,lat,lon\nKöln,50.9,6.9\n".encode("latin-1"))
    (d / "places.geojson").write_text(_fc([_line("takes the gazetteer's name")]), encoding="utf-8")
    (d / "tapi.geojson").write_text(_fc([_line("takes a built-in id")]), encoding="utf-8")
    (d / "escape.geojson").symlink_to(outside)
    (d / "zero.geojson").symlink_to("/dev/zero")
    os.mkfifo(d / "fifo.geojson")
    (d / "folder.geojson").mkdir()
    (d / "slip.zip").write_bytes(_slip_zip())
    (d / "README.md").write_text("not a layer, not a problem", encoding="utf-8")
    try:
        os.mknod(d / "device.geojson", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError):
        pass
    return d


def _slip_zip():
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../escape.shp", b"x")
    return buf.getvalue()


EXPECTED_SKIPS = {
    "broken.geojson": "not readable as JSON",
    "deep.json": "nested too deeply",
    "junk.geojson": "not a GeoJSON Feature object (got int 1)",
    "huge_lon.geojson": "longitude 1e+300 is outside -180..180",
    "latin1.csv": "not UTF-8 text: byte 0xf6 at offset 14",
    "places.geojson": "layer id 'places' is already in the catalogue",
    "tapi.geojson": "layer id 'tapi' is already in the catalogue",
    "escape.geojson": "a symbolic link to",
    "zero.geojson": "a symbolic link to /dev/zero, outside the layers folder",
    "fifo.geojson": "a FIFO, not a regular file",
    "folder.geojson": "a directory, not a regular file",
    "slip.zip": "climbs out of the archive",
}


@pytest.fixture(scope="module")
def folder_app(folder, tmp_path_factory):
    done = {}

    def build():
        done["app"] = create_app({"TESTING": True, "LAYERS_DIRS": [str(folder)],
                                  "DATA_DIR": str(tmp_path_factory.mktemp("data"))})

    thread = threading.Thread(target=build)
    thread.start()
    thread.join(180)  # a FIFO or /dev/zero must not hang start-up
    assert not thread.is_alive(), "start-up hung on a hostile layers folder"
    return done["app"]


def test_good_files_in_any_format_are_served(folder_app):
    catalog = folder_app.extensions["catalog"]
    for layer_id in ("plain", "sites", "roads", "loose", "project"):
        assert layer_id in catalog and catalog.layer(layer_id).source == "folder"
    plain = catalog.layer("plain").gdf.iloc[0]
    assert (plain["name"], plain["status"], plain["countries"]) == ("Plain route", "operating", ["PAK"])
    assert catalog.layer("roads").gdf.iloc[0]["kind"] == "road"
    assert catalog.layer("plain").meta["title"] == "Plain"


def test_every_bad_file_is_skipped_with_its_reason(folder_app, folder):
    skipped = {os.path.basename(p.path): p.reason for p in folder_app.extensions["catalog"].problems}
    for name, reason in EXPECTED_SKIPS.items():
        assert name in skipped, f"{name} was not skipped"
        assert reason in skipped[name], (name, skipped[name])
    if (folder / "device.geojson").exists():
        assert "a device, not a regular file" in skipped["device.geojson"]
    assert "README.md" not in skipped
    assert "SECRET" not in json.dumps(folder_app.test_client().get("/api/layers").get_json())


def test_status_page_lists_them_in_html_and_json(folder_app):
    client = folder_app.test_client()
    doc = client.get("/status?format=json").get_json()
    assert doc["ok"] is False and doc["layers"]["folder"] == 5
    assert {os.path.basename(s["path"]) for s in doc["skipped_files"]} >= set(EXPECTED_SKIPS)
    assert client.get("/status", headers={"Accept": "application/json"}).get_json() == doc
    assert client.get("/api/status").get_json() == doc
    html = client.get("/status").get_data(as_text=True)
    assert 'id="skipped-files"' in html and "a FIFO, not a regular file" in html
    assert "nested too deeply" in html


def test_skips_are_logged(folder, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="layers.folder"):
        create_app({"TESTING": True, "LAYERS_DIRS": [str(folder)], "DATA_DIR": str(tmp_path)})
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "skipped" in logged and "fifo.geojson" in logged and "broken.geojson" in logged


def test_size_and_time_limits_per_file(folder, tmp_path):
    app = create_app({"TESTING": True, "LAYERS_DIRS": [str(folder)], "DATA_DIR": str(tmp_path / "a"),
                      "LAYERS_DIR_MAX_MB": 0.0005})
    reasons = {os.path.basename(p.path): (p.reason, p.error.status) for p in app.extensions["catalog"].problems}
    assert reasons["roads.gpkg"][1] == 413 and "MB; the limit is 0.0005" in reasons["roads.gpkg"][0]
    slow = create_app({"TESTING": True, "LAYERS_DIRS": [str(folder)], "DATA_DIR": str(tmp_path / "b"),
                       "LAYER_FILE_TIME_BUDGET_S": 0.01})
    budget = [p for p in slow.extensions["catalog"].problems if "time budget" in p.reason]
    assert budget and all("0.01 s" in p.reason for p in budget)
    assert "tapi" in slow.extensions["catalog"]  # built-in layers are served whatever the folder holds


def test_a_missing_folder_is_reported_not_fatal(tmp_path):
    app = create_app({"TESTING": True, "LAYERS_DIRS": [str(tmp_path / "nope")], "DATA_DIR": str(tmp_path / "d")})
    assert [p.reason for p in app.extensions["catalog"].problems] == ["layers folder does not exist"]
