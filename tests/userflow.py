"""Test helpers for accounts and imports: create a user, sign a test client in, upload a file (their own
module: test files import it by name, which ``from conftest import`` cannot do reliably once
tests/browser/conftest.py is loaded too)."""

import io
import json
import re

__all__ = ["PASSWORD", "line_layer", "make_user", "sign_in", "upload"]

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
PASSWORD = "correct horse battery"


def make_user(app, name, password=PASSWORD):
    from webapp.accounts.auth import hash_password

    return app.extensions["store"].create_user(name, hash_password(password), actor="test")


def sign_in(app, name, password=PASSWORD):
    """A test client signed in as ``name`` (created if new): ``(client, csrf token, user record)``."""
    user = app.extensions["store"].user(name=name) or make_user(app, name, password)
    client = app.test_client()
    page = client.get("/account/login").get_data(as_text=True)
    token = _CSRF.search(page).group(1)
    response = client.post("/account/login", data={"name": name, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    # signing in starts a new session (no fixation): the pages from now on carry a new token
    token = _CSRF.search(client.get("/import").get_data(as_text=True)).group(1)
    return client, token, user


def upload(client, csrf, data, filename, *, environ=None, **fields):
    """POST ``data`` (bytes) as the file ``filename`` to /api/imports with form ``fields``; the response."""
    return client.post("/api/imports", data={"file": (io.BytesIO(data), filename), **fields},
                       headers={"X-CSRFToken": csrf}, content_type="multipart/form-data",
                       environ_overrides=environ or {})


def line_layer(fid, name, coords, *, kind="rail", status="proposed"):
    """A GeoJSON file (bytes) of one line feature, as a user would upload it."""
    return json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "id": fid, "name": name, "kind": kind, "status": status},
        "geometry": {"type": "LineString", "coordinates": coords}}]}).encode()
