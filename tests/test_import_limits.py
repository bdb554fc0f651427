"""Imports under main's limits: uploads take their larger body (and no more), reading files and password
attempts count against the per-client limit of expensive work, and every other route keeps the small body."""

import pytest
from userflow import PASSWORD, make_user, sign_in, upload

from webapp import create_app
from webapp.limits import largest_body_bytes


def _csv(rows, width=10):
    return b"name,lat,lon,note\n" + b"".join(b"p%d,25.%d,67.%d,%s\n" % (i, i, i, b"w" * width) for i in range(rows))


def _upload(client, csrf, data, name="points.csv", **fields):
    # each test's requests come from their own address: the limit counts per client (sign-ins from 127.0.0.1)
    return upload(client, csrf, data, name, environ={"REMOTE_ADDR": "198.51.100.1"}, **fields)


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path_factory.mktemp("limited")),
                       "RATELIMIT_ENABLED": True, "RATELIMIT_EXPENSIVE": "3 per minute",
                       "MAX_BODY_MB": 0.25, "IMPORT_MAX_MB": 1})


def test_uploads_take_their_larger_body_and_are_refused_beyond_it(limited):
    client, csrf, user = sign_in(limited, "bodies")
    catalog = limited.extensions["catalog"]
    half_mb = _csv(500, width=1000)  # 0.5 MB: over MAX_BODY_MB (0.25), under IMPORT_MAX_MB (1)
    assert 0.3 * 2**20 < len(half_mb) < 0.9 * 2**20
    r = _upload(client, csrf, half_mb, commit="1", layer_id="half_mb")
    assert r.status_code == 201, r.get_json()
    assert [lay.id for lay in catalog.owned_by(user.id)] == ["half_mb"]
    # the same body anywhere else is refused before a view (or the CSRF check) reads it
    other = client.post("/account/tokens", data={"name": half_mb.decode(), "csrf_token": csrf})
    assert other.status_code == 413 and other.headers["Connection"] == "close"
    # beyond IMPORT_MAX_MB the upload is a 413 from its Content-Length, nothing staged or stored
    r = _upload(client, csrf, _csv(1200, width=1000), commit="1", layer_id="too_big")
    assert r.status_code == 413 and r.headers["Connection"] == "close"
    assert "1,048,576 bytes this endpoint accepts" in r.get_json()["error"]
    assert [lay.id for lay in catalog.owned_by(user.id)] == ["half_mb"]
    assert list((limited.extensions["data_dir"] / "staging").iterdir()) == []
    # the production server in front (waitress) is told the largest body any endpoint takes
    assert largest_body_bytes(limited) == 2**20


def test_imports_count_as_expensive_work_and_past_the_limit_are_429(limited):
    client, csrf, user = sign_in(limited, "uploader")
    address = {"REMOTE_ADDR": "198.51.100.7"}
    small = _csv(3)
    r = upload(client, csrf, small, "a.csv", environ=address)
    assert r.status_code == 200, r.get_json()
    import_id = r.get_json()["import_id"]
    # a preview again and a refused file count too: reading a file is the expensive part
    assert client.get(f"/api/imports/{import_id}", environ_overrides=address).status_code == 200
    bad = upload(client, csrf, b"\x00\x01 not a layer", "b.geojson", environ=address)
    assert bad.status_code == 422
    refused = client.post(f"/api/imports/{import_id}/commit", json={"layer_id": "fourth"},
                          headers={"X-CSRFToken": csrf}, environ_overrides=address)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert "3 per minute" in refused.get_json()["error"]
    assert limited.extensions["catalog"].owned_by(user.id) == []
    # cheap reads from that client are not limited, and another client is counted apart
    assert client.get("/api/layers", environ_overrides=address).status_code == 200
    other = client.post(f"/api/imports/{import_id}/commit", json={"layer_id": "other_client"},
                        headers={"X-CSRFToken": csrf}, environ_overrides={"REMOTE_ADDR": "198.51.100.8"})
    assert other.status_code == 201, other.get_json()


def test_password_guessing_is_rate_limited(limited):
    make_user(limited, "target")
    client = limited.test_client()
    address = {"REMOTE_ADDR": "203.0.113.9"}
    page = client.get("/account/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    codes = [client.post("/account/login", data={"name": "target", "password": f"guess {i}", "csrf_token": csrf},
                         environ_overrides=address).status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]
    # even the right password waits for the window: nothing tells a guesser which attempt was right
    right = client.post("/account/login", data={"name": "target", "password": PASSWORD, "csrf_token": csrf},
                        environ_overrides=address)
    assert right.status_code == 429 and right.headers["Retry-After"] == "60"
