"""The import flow over HTTP and the CLI: preview, save, replace, versions, roll back, edit, publish, delete
-- each served at once (no restart, nothing stale) -- accounts and tokens, and failed imports leaving no trace."""

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from userflow import PASSWORD, sign_in

from webapp import create_app

ROOT = Path(__file__).resolve().parent.parent


def _sha256(text):
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _doc(*coords_lists, name="Route"):
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": f"r{i}", "name": f"{name} {i}", "status": "planned"},
         "geometry": {"type": "LineString", "coordinates": coords}} for i, coords in enumerate(coords_lists)]})


def _upload(client, csrf, text, name="routes.geojson", **fields):
    return client.post("/api/imports", data={"file": (io.BytesIO(text.encode()), name), **fields},
                       headers={"X-CSRFToken": csrf}, content_type="multipart/form-data")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path_factory.mktemp("web")), "SIGNUP_OPEN": True})


@pytest.fixture(scope="module")
def alice(app):
    return sign_in(app, "alice")


def _staging(app):
    return list((app.extensions["data_dir"] / "staging").iterdir())


def test_the_import_page_needs_an_account_and_carries_no_inline_script(app, alice):
    r = app.test_client().get("/import")
    assert r.status_code == 302 and "/account/login?next=/import" in r.headers["Location"]
    client, _, _ = alice
    page = client.get("/import").get_data(as_text=True)
    assert 'data-upload-url="/api/imports"' in page and '<progress id="progress-bar"' in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    version = app.extensions["static_assets"]["version"]
    assert scripts == [(f' src="/static/v/{version}/js/import.js"', "")]  # versioned, cached immutably
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers
    script = client.get(f"/static/v/{version}/js/import.js")
    assert script.status_code == 200 and script.headers["Cache-Control"].endswith("immutable")
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)  # the page's own inline style is allowed by hash
    policy = client.get("/import").headers["Content-Security-Policy"]
    assert styles and all(f"'sha256-{_sha256(s)}'" in policy for s in styles)


def test_preview_then_save_then_served_at_once(app, alice):
    client, csrf, user = alice
    r = _upload(client, csrf, _doc([[67, 25], [68, 26]]), name="Karachi routes.geojson")
    assert r.status_code == 200
    preview = r.get_json()
    layer = preview["layers"][0]
    assert (layer["layer_id"], layer["meta"]["title"], layer["feature_count"]) == ("karachi_routes",
                                                                                   "Karachi routes", 1)
    assert layer["sample"][0]["status"] == "proposed" and layer["sample"][0]["countries"] == ["PAK"]
    assert len(_staging(app)) == 1
    r = client.post(preview["links"]["commit"], json={"title": "Karachi corridor routes", "licence": "CC BY 4.0",
                                                       "geometry_quality": "schematic"},
                    headers={"X-CSRFToken": csrf})
    assert r.status_code == 201
    saved = r.get_json()
    assert (saved["layer"], saved["version"], saved["public"]) == ("karachi_routes", 1, False)
    assert _staging(app) == []  # saved: the staging folder is gone
    layer = client.get("/api/layers/karachi_routes").get_json()
    assert layer["metadata"]["title"] == "Karachi corridor routes" and layer["metadata"]["licence"] == "CC BY 4.0"
    assert layer["features"][0]["properties"]["geometry_quality"] == "schematic"
    manage = client.get("/import/layers/karachi_routes").get_data(as_text=True)
    assert "Karachi corridor routes" in manage and "import Karachi routes.geojson" in manage
    assert [e.action for e in app.extensions["store"].audit_log(layer_id="karachi_routes")] == ["create"]


def test_replace_roll_back_and_nothing_stale(app, alice):
    client, csrf, _ = alice
    assert _upload(client, csrf, _doc([[70, 30], [71, 31]]), commit="1", layer_id="versions").status_code == 201
    km_1 = client.get("/api/layers/versions/stats").get_json()["summary"]["total_length_km"]
    etag_1 = client.get("/api/layers/versions").headers["ETag"]
    page_1 = client.get("/map/versions").get_data(as_text=True)
    r = _upload(client, csrf, _doc([[70, 30], [71, 31], [72, 32]], [[70, 29], [70, 28]]), commit="1",
                replace="versions")
    assert r.status_code == 201 and r.get_json()["version"] == 2
    stats = client.get("/api/layers/versions/stats").get_json()["summary"]
    assert stats["features"] == 2 and stats["total_length_km"] > 2 * km_1  # the new version's figures
    assert client.get("/api/layers/versions").headers["ETag"] != etag_1
    assert client.get("/map/versions").get_data(as_text=True) != page_1
    assert client.get("/api/layers/versions?limit=1").get_json()["numberMatched"] == 2
    versions = client.get("/api/layers/versions/versions").get_json()["versions"]
    assert [(v["version"], v["feature_count"], v["current"]) for v in versions] == [(1, 1, False), (2, 2, True)]
    r = client.post("/api/layers/versions/rollback", json={"version": 1}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 200 and r.get_json()["version"] == 3 and r.get_json()["sha256"] == versions[0]["sha256"]
    assert client.get("/api/layers/versions/stats").get_json()["summary"]["total_length_km"] == km_1


def test_edit_publish_and_delete_through_api_and_pages(app, alice):
    client, csrf, _ = alice
    assert _upload(client, csrf, _doc([[67, 25], [68, 26]]), commit="1", layer_id="editable").status_code == 201
    r = client.patch("/api/layers/editable", json={"title": "Edited", "color": "#123456"},
                     headers={"X-CSRFToken": csrf})
    assert r.status_code == 200 and r.get_json()["title"] == "Edited" and r.get_json()["version"] == 2
    bad = client.patch("/api/layers/editable", json={"title": " "}, headers={"X-CSRFToken": csrf})
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "title"
    assert client.patch("/api/layers/editable", json={"id": "x"}, headers={"X-CSRFToken": csrf}).status_code == 400
    anonymous = app.test_client()
    assert anonymous.get("/api/layers/editable").status_code == 404
    form = {"csrf_token": csrf, "title": "Edited", "description": "d", "attribution": "me", "licence": "CC0",
            "public": "1"}
    assert client.post("/import/layers/editable/edit", data=form).status_code == 302
    assert anonymous.get("/api/layers/editable").get_json()["metadata"]["attribution"] == "me"
    assert client.post("/import/layers/editable/rollback", data={"csrf_token": csrf, "version": "1"}).status_code == 302
    assert anonymous.get("/api/layers/editable").get_json()["metadata"]["title"] == "Routes"  # version 1's
    assert client.post("/import/layers/editable/delete", data={"csrf_token": csrf}).status_code == 302
    assert anonymous.get("/api/layers/editable").status_code == 404
    assert client.get("/api/layers/editable").status_code == 404


def test_problems_block_saving_and_failed_imports_leave_no_trace(app, alice):
    client, csrf, _ = alice
    store = app.extensions["store"]
    generation = store.generation()
    bad = _doc([[67, 25], [68, 26]], [[67, 95], [68, 26]])
    preview = _upload(client, csrf, bad).get_json()
    r = client.post(preview["links"]["commit"], json={}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 422 and r.get_json()["problems"][0]["feature"] == "#2 (id 'r1')"
    assert len(_staging(app)) == 1  # still there to be fixed (skip the bad feature) or discarded
    assert client.delete(preview["links"]["self"], headers={"X-CSRFToken": csrf}).status_code == 204
    assert _staging(app) == []
    r = _upload(client, csrf, bad, commit="1")  # one shot with a problem: refused, nothing kept
    assert r.status_code == 422 and _staging(app) == []
    assert _upload(client, csrf, "{broken").status_code == 422 and _staging(app) == []
    assert store.generation() == generation  # nothing was written, not even an audit entry
    assert not any(r.id.startswith("routes") for r in store.list_layers())


def test_a_killed_import_is_cleaned_at_the_next_start(app, tmp_path):
    staging = app.extensions["data_dir"] / "staging"
    orphan = staging / "999999-abandoned"  # no such process
    orphan.mkdir()
    (orphan / "upload").write_bytes(b"half a file")
    create_app({"TESTING": True, "DATA_DIR": str(app.extensions["data_dir"])})
    assert not orphan.exists()


def test_accounts_sign_up_sign_in_tokens_and_password_change(app):
    client = app.test_client()
    page = client.get("/account/signup").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/account/signup", data={"name": "Bad Name!", "password": "x", "csrf_token": csrf}
                       ).status_code == 400
    r = client.post("/account/signup", data={"name": "carol", "password": "long enough pw", "csrf_token": csrf})
    assert r.status_code == 302 and r.headers["Location"].endswith("/import")
    stored = app.extensions["store"].user(name="carol").password_hash
    assert stored.startswith("scrypt:") and "long enough pw" not in stored
    page = client.get("/account/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    page = client.post("/account/tokens", data={"label": "laptop", "csrf_token": csrf}).get_data(as_text=True)
    token = re.search(r'<p class="token" id="new-token">([^<]+)</p>', page).group(1)
    assert token.startswith("mapsvc_") and token not in json.dumps([t.__dict__ for t in app.extensions["store"].tokens(
        app.extensions["store"].user(name="carol").id)])
    api = app.test_client()
    assert api.get("/api/account", headers={"Authorization": f"Bearer {token}"}).get_json()["user"] == "carol"
    second, _, _ = sign_in(app, "carol", "long enough pw")
    assert second.get("/api/account").status_code == 200
    r = client.post("/account/password", data={"current": "long enough pw", "new": "an even longer one",
                                               "csrf_token": csrf})
    assert r.status_code == 302 and "password+changed" in r.headers["Location"]
    assert second.get("/api/account").status_code == 401  # the other session is over
    assert client.get("/api/account").status_code == 200  # this one continues


def test_sign_in_failures_and_no_open_redirect(app, alice):
    client = app.test_client()
    page = client.get("/account/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/account/login", data={"name": "alice", "password": "wrong", "csrf_token": csrf})
    assert r.status_code == 401 and "unknown name or wrong password" in r.get_data(as_text=True)
    r = client.post("/account/login?next=//evil.example/x", data={"name": "alice", "password": PASSWORD,
                                                                  "csrf_token": csrf})
    assert r.status_code == 302 and r.headers["Location"] == "/account/"
    assert client.post("/account/login", data={"name": "alice", "password": PASSWORD}).status_code == 400  # no CSRF


def test_closed_sign_up(tmp_path):
    closed = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    assert closed.test_client().get("/account/signup").status_code == 403


def test_the_cli_imports_lists_checks_and_backs_up(tmp_path, monkeypatch, capsys):
    from webapp.__main__ import main

    monkeypatch.setenv("MAPSVC_DATA_DIR", str(tmp_path / "data"))

    def cli(*args, stdin=None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    assert cli("user", "add", "dave", stdin="a good password\n")[0] == 0
    path = tmp_path / "sites.csv"
    path.write_text("name,lat,lon,status\nJamshoro,25.43,68.28,operating\n", encoding="utf-8")
    code, out, _ = cli("import", str(path), "--user", "dave", "--preview")
    assert code == 0 and "sites: id sites, 1 features (1 Point)" in out
    code, out, _ = cli("import", str(path), "--user", "dave", "--public", "--title", "Sites")
    assert code == 0 and "saved sites version 1: 1 features, 1 vertices, published" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("name,lat,lon\nX,95,67\n", encoding="utf-8")
    code, _, err = cli("import", str(bad), "--user", "dave")
    assert code == 2 and "bad.csv: feature 'row 2': latitude 95 is outside -90..90" in err
    code, out, _ = cli("layers")
    assert "sites" in out and "public" in out and "dave" in out
    code, out, _ = cli("store", "check")
    assert code == 0 and out.startswith("ok: 1 layers, 1 versions checked")
    assert cli("store", "backup", str(tmp_path / "backup.sqlite"))[0] == 0
    assert (tmp_path / "backup.sqlite").stat().st_size > 0
    assert cli("token", "create", "dave")[1].startswith("mapsvc_")
    assert cli("user", "list")[1].startswith("dave")
    assert not list((tmp_path / "data" / "staging").iterdir())


def test_the_cli_runs_as_a_command(tmp_path):
    env = {**os.environ, "MAPSVC_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "webapp", "store", "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.startswith("ok: 0 layers"), done.stderr
