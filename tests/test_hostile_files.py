"""Hostile uploads: each refused (or neutralised) with a message naming file, feature and problem; the
service keeps serving; a refused import leaves nothing in the store or the staging folder; nothing is read
or written outside the data directory."""

import io
import json
import time
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.build import GEM_CSV
from layers.errors import LayerInvalid, TooLarge
from layers.importers.formats import Limits
from layers.importers.user import prepare
from webapp.limits import allow_large_body

SECRET = "TOP-SECRET-7f3a"


def _post(client, csrf, name, data, **fields):
    body = {"file": (io.BytesIO(data), name), **fields}
    return client.post("/api/imports", data=body, headers={"X-CSRFToken": csrf}, content_type="multipart/form-data")


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            if isinstance(content, zipfile.ZipInfo):
                z.writestr(content, b"/etc/passwd")
            else:
                z.writestr(name, content)
    return buf.getvalue()


def _symlink_member(name):
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16)
    return info


def _kml(body, doctype=""):
    return (f'<?xml version="1.0"?>{doctype}<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            f'<Placemark><name>{body}</name><Point><coordinates>67,25</coordinates></Point></Placemark>'
            '</Document></kml>').encode()


def _geojson(features):
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _line(coords, **props):
    return {"type": "Feature", "properties": {"name": "x", **props},
            "geometry": {"type": "LineString", "coordinates": coords}}


HOSTILE = {
    "zip-slip": ("evil.zip", _zip({"../../evil.shp": b"x"}), 422, "climbs out of the archive with '..' (zip-slip)"),
    "absolute path": ("abs.zip", _zip({"/etc/cron.d/evil.shp": b"x"}), 422, "is an absolute path"),
    "symlink in zip": ("link.zip", _zip({"link.shp": _symlink_member("link.shp")}), 422, "is a symbolic link"),
    "zip bomb": ("bomb.zip", _zip({"bomb.shp": b"\0" * (6 * 2**20)}), 413, "unpacks to more than 5 MB"),
    "XXE": ("xxe.kml", _kml("&xxe;", '<!DOCTYPE kml [<!ENTITY xxe SYSTEM "file://{secret}">]>'), 422,
            "XML with a DTD or entity declarations is refused"),
    "billion laughs": ("lol.kml", _kml("&lol9;", "<!DOCTYPE kml [" + '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)) + "]>"), 422,
        "XML with a DTD or entity declarations is refused"),
    "KML network link": ("link.kml", _kml('x</name><NetworkLink><Link><href>file:///etc/passwd</href></Link>'
                                          '</NetworkLink><name>y'), 422, "NetworkLinks"),
    "VRT posing as GeoPackage": ("passwd.gpkg", b'<OGRVRTDataSource><OGRVRTLayer name="p"><SrcDataSource>'
                                 b'/etc/passwd</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>', 422,
                                 "the name says GeoPackage but the content is KML"),
    "VRT posing as KML": ("passwd.kml", b'<OGRVRTDataSource><OGRVRTLayer name="p"><SrcDataSource>/etc/passwd'
                          b'</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>', 422, "not <kml>"),
    "deep JSON": ("deep.geojson", b"[" * 200_000 + b"]" * 200_000, 422, "nested too deeply"),
    "invalid UTF-8": ("bad.geojson", b'{"type": "FeatureCollection", "features": [\xff]}', 422,
                      "not UTF-8 text: byte 0xff at offset 43"),
    "empty": ("empty.geojson", b"  \n", 422, "the file is empty"),
    "unsupported": ("x.exe", b"MZ\x90\x00", 422, "unsupported file type '.exe'"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_upload_is_refused_by_name_and_leaves_no_trace(case, signed_in, store_app, tmp_path):
    client, csrf, _ = signed_in
    name, data, status, message = HOSTILE[case]
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    data = data.replace(b"{secret}", str(secret).encode())
    before = store_app.extensions["store"].generation()
    start = time.perf_counter()
    store_app.config["IMPORT_MAX_MB"] = 1  # unpacking limit 5 MB: the 6 MB bomb member is over it
    try:
        r = _post(client, csrf, name, data)
    finally:
        store_app.config["IMPORT_MAX_MB"] = 100
    assert r.status_code == status, r.get_json()
    body = r.get_json()
    assert message in body["error"] and body["file"] == name
    assert SECRET not in r.get_data(as_text=True)
    assert time.perf_counter() - start < 30  # refused, not chewed on
    assert store_app.extensions["store"].generation() == before  # nothing saved, nothing audited
    assert list((store_app.extensions["data_dir"] / "staging").iterdir()) == []
    assert client.get("/api/layers").status_code == 200  # and the service keeps serving
    assert not (tmp_path.parent / "evil.shp").exists()


def test_gdal_never_expands_entities_either(tmp_path):
    """Proof for the XXE check's second line: even handed to GDAL directly, the KML reader does not
    read the external entity (expat without an external-entity handler), so the secret never appears."""
    import pyogrio

    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    kml = _kml("&xxe;", f'<!DOCTYPE kml [<!ENTITY xxe SYSTEM "file://{secret}">]>')
    try:
        frame = pyogrio.read_dataframe(kml)
        assert SECRET not in frame.to_json()
    except Exception as exc:  # noqa: BLE001 - GDAL refusing the document is fine too
        assert SECRET not in str(exc)


def test_bad_features_are_each_named(signed_in):
    client, csrf, _ = signed_in
    features = [1, "x", None, _line([[67, 25], [68, float("nan")]], name="nan line"),
                _line([[1e300, 25], [68, 26]], name="huge"), _line([[67, 95], [68, 26]], name="pole"),
                _line([[67, 25], [68, 26]], name="fine", capacity=float("inf")),
                {"type": "Feature", "properties": {"name": "bowtie"}, "geometry": {
                    "type": "Polygon", "coordinates": [[[67, 25], [68, 26], [68, 25], [67, 26], [67, 25]]]}}]
    text = json.dumps({"type": "FeatureCollection", "features": features})  # NaN and Infinity as Python writes them
    r = _post(client, csrf, "mixed.geojson", text.encode())
    assert r.status_code == 200
    layer = r.get_json()["layers"][0]
    problems = {p["feature"]: p["problem"] for p in layer["problems"]}
    assert problems["#1"].startswith("not a GeoJSON Feature object (got 1)")
    assert problems["#2"].startswith('not a GeoJSON Feature object (got "x")')
    assert problems["#3"].startswith("not a GeoJSON Feature object (got null)")
    assert problems["#4"] == "coordinate (68.0, nan) is not a finite number"
    assert problems["#5"] == "longitude 1e+300 is outside -180..180 (coordinate (1e+300, 25))"
    assert problems["#6"] == "latitude 95 is outside -90..90 (coordinate (67, 95))"
    assert problems["#8"].startswith("invalid geometry: Self-intersection") and layer["repairable_count"] == 1
    assert "#7" not in problems and any("NaN or Infinity" in n for n in layer["notes"])
    commit = client.post(r.get_json()["links"]["commit"], json={}, headers={"X-CSRFToken": csrf})
    assert commit.status_code == 422 and len(commit.get_json()["problems"]) == 7
    saved = client.post(r.get_json()["links"]["commit"], json={"repair": True, "skip_invalid": True,
                                                                "layer_id": "mixed_ok"}, headers={"X-CSRFToken": csrf})
    assert saved.status_code == 201 and saved.get_json()["feature_count"] == 2  # the fine line + the repaired bowtie
    stored = client.get("/api/layers/mixed_ok").get_json()["features"]
    assert stored[0]["properties"]["capacity"] is None  # Infinity stored as null, never emitted as JSON
    assert stored[1]["geometry"]["type"] == "MultiPolygon"  # make_valid split the bow-tie, kept as polygons


def test_payloads_in_properties_are_kept_as_text_and_never_run(signed_in):
    client, csrf, _ = signed_in
    payloads = {"name": "<script>alert(1)</script>", "description": "{{ 7*7 }} {% raw %}",
                "owner": "<img src=x onerror=alert(2)>", "note": "$\\undefinedmacro$"}
    r = _post(client, csrf, "payloads.geojson", _geojson([_line([[67, 25], [68, 26]], **payloads)]),
              commit="1", layer_id="payloads", title="<b>bold</b> {{ config }}")
    assert r.status_code == 201, r.get_json()
    feature = client.get("/api/layers/payloads").get_json()["features"][0]["properties"]
    assert {k: feature[k] for k in payloads} == payloads  # stored exactly
    page = client.get("/map/payloads").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "<b>bold</b>" not in page
    assert "SECRET_KEY" not in page and "&lt;b&gt;bold&lt;/b&gt; {{ config }}" in page
    popup = client.get(f"/popup/payloads/{feature['id']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in popup and "{{ 7*7 }}" in popup and ">49<" not in popup


def test_reserved_and_taken_ids(signed_in):
    client, csrf, _ = signed_in
    data = _geojson([_line([[67, 25], [68, 26]])])
    for reserved in ("places", "tapi", "boundaries"):
        r = _post(client, csrf, "x.geojson", data, commit="1", layer_id=reserved)
        assert r.status_code == 400 and "is reserved" in r.get_json()["error"]
    r = _post(client, csrf, "tapi.geojson", data, commit="1")  # inferred id 'tapi': moved aside, not refused
    assert r.status_code == 201 and r.get_json()["layer"] == "tapi_2"
    again = _post(client, csrf, "x.geojson", data, commit="1", layer_id="tapi_2")
    assert again.status_code == 409


def test_five_million_vertices_are_refused_with_the_count(tmp_path):
    coords = np.column_stack([np.linspace(60, 75, 5_000_000), np.linspace(24, 36, 5_000_000)])
    gpd.GeoDataFrame({"name": ["huge"]}, geometry=[shapely.LineString(coords)], crs=4326).to_file(
        tmp_path / "huge.fgb", driver="FlatGeobuf")
    with pytest.raises(LayerInvalid, match="5,000,000 vertices; the limit is 1,000,000"):
        prepare(tmp_path / "huge.fgb", "huge.fgb", Limits(max_vertices=1_000_000))


def test_too_large_uploads_get_413_and_the_global_body_limit_stays_small(store_app, signed_in):
    client, csrf, _ = signed_in
    big = b"x" * (2 * 2**20)  # over the app's global 1 MB MAX_CONTENT_LENGTH
    assert client.post("/account/login", data={"name": big.decode(), "csrf_token": csrf}).status_code == 413
    wordy = b"name,lat,lon,description\n" + (b"a,25,67," + b"w" * 2000 + b"\n") * 1100  # 2.2 MB in 1,100 rows
    r = _post(client, csrf, "big.csv", wordy)
    assert r.status_code == 200, r.get_json()  # 2 MB is fine for /api/imports
    allow_large_body(store_app, "imports.upload", 1)  # as an app with IMPORT_MAX_MB = 1 sets it up
    try:
        r = _post(client, csrf, "big.csv", big)
        # refused from Content-Length before anything reads the body (the CSRF check would), the connection closed
        assert r.status_code == 413 and r.headers["Connection"] == "close"
        assert "larger than the 1,048,576 bytes this endpoint accepts" in r.get_json()["error"]
    finally:
        allow_large_body(store_app, "imports.upload", store_app.config["IMPORT_MAX_MB"])


def test_uploads_are_spooled_inside_the_data_directory(signed_in, monkeypatch, tmp_path):
    import tempfile

    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    client, csrf, _ = signed_in
    r = _post(client, csrf, "spool.csv", b"name,lat,lon,d\n" + (b"a,25,67," + b"w" * 1000 + b"\n") * 800)  # 800 kB
    assert r.status_code == 200
    assert list(system_tmp.iterdir()) == []


def test_a_reader_over_its_time_budget_is_killed():
    start = time.perf_counter()
    with pytest.raises(LayerInvalid, match="took longer than the time budget of 0.2 s"):
        prepare(GEM_CSV, "gem.csv", Limits(time_budget_s=0.2))
    assert time.perf_counter() - start < 5


def test_a_reader_over_its_memory_cap_is_stopped(tmp_path):
    path = tmp_path / "many.geojson"
    path.write_bytes(_geojson([_line([[67, 25], [68, 26]], n=i) for i in range(200_000)]))
    with pytest.raises(LayerInvalid, match="memory limit of 600 MB|reader process died"):
        prepare(path, path.name, Limits(memory_mb=600))


def test_archive_limits_directly():
    with pytest.raises(TooLarge, match="unpacks to more than 1 MB"):
        prepare_bytes(_zip({"a.shp": b"\0" * (2 * 2**20)}), "a.zip", Limits(max_unpacked_bytes=2**20))


def prepare_bytes(data, name, limits):
    from layers.importers.formats import read_layers

    return read_layers(data, name, limits)
