"""Who may do what, for anonymous visitors, the owner (session), another user and the owner's API token.

A private layer is invisible -- 404, exactly as if it did not exist -- to everyone but its owner,
everywhere: the API, pages, embeds, popups, exports, downloads, statistics, corridors that search it,
overlaps, routes over it, the OGC API (collections, items, tiles, its definition), search, the OpenAPI document. Writes need an account; only the owner changes a layer; cookie
writes need the CSRF token, token writes do not; answers to a signed-in user are never publicly cached.
"""

import io
import json

import pytest
from userflow import line_layer, sign_in, upload

from webapp import create_app
from webapp.accounts.auth import new_token

# A rail line where no other rail runs (eastern Iran): a route over rail between its ends exists only with it.
PRIVATE_LINE = [[61.0, 30.0], [61.5, 30.3], [62.0, 30.5]]
FEATURE = "secret_rail"
IDENTITIES = ("anonymous", "owner", "other", "token")


def _upload(client, csrf, layer_id, *, public):
    doc = line_layer(FEATURE, "Public rail" if public else "Secret rail", [[x, y + 5 * public] for x, y in PRIVATE_LINE])
    r = upload(client, csrf, doc, f"{layer_id}.geojson", commit="1", layer_id=layer_id, public="1" if public else "")
    assert r.status_code == 201, r.get_json()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path_factory.mktemp("perm"))})
    owner, owner_csrf, alice = sign_in(app, "alice")
    other, other_csrf, _ = sign_in(app, "bob")
    _upload(owner, owner_csrf, "alice_private", public=False)
    _upload(owner, owner_csrf, "alice_public", public=True)
    token, token_hash = new_token()
    app.extensions["store"].create_token(alice.id, token_hash, "test", actor="alice")
    tokens = app.test_client()
    tokens.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    clients = {"anonymous": app.test_client(), "owner": owner, "other": other, "token": tokens}
    csrf = {"anonymous": "", "owner": owner_csrf, "other": other_csrf, "token": ""}
    return app, clients, csrf


PRIVATE = "alice_private"
READS = [
    f"/api/layers/{PRIVATE}", f"/api/layers/{PRIVATE}?bbox=60,29,63,31", f"/api/layers/{PRIVATE}/stats",
    f"/api/layers/{PRIVATE}/stats?format=csv", f"/api/layers/{PRIVATE}/features/{FEATURE}",
    f"/api/layers/{PRIVATE}/display?zoom_band=0", f"/map/{PRIVATE}", f"/map?layers=tapi,{PRIVATE}",
    f"/embed/{PRIVATE}", f"/embed?layers={PRIVATE}", f"/popup/{PRIVATE}/{FEATURE}",
    f"/export?layers={PRIVATE}&format=html", f"/export?layers={PRIVATE}&format=stats-csv",
    f"/export?layers={PRIVATE}&format=svg", f"/api/corridor?layer={PRIVATE}&feature={FEATURE}&width_km=20",
    f"/api/corridor?layer=tapi&feature=tapi_trunk&width_km=50&with={PRIVATE}",
    f"/corridor?feature={PRIVATE}:{FEATURE}&width_km=20", f"/embed/corridor?feature={PRIVATE}:{FEATURE}",
    f"/export/corridor?feature={PRIVATE}:{FEATURE}&width_km=20&format=geojson",
    f"/api/overlap?a={PRIVATE}:{FEATURE}&b=tapi:tapi_trunk&width_km=25",
    "/api/route?from=30.0,61.0&to=30.5,62.0&modes=rail&attach_km=2",
    "/export/route?from=30.0,61.0&to=30.5,62.0&modes=rail&attach_km=2&format=geojson",
    f"/api/layers/{PRIVATE}/download?format=gpkg", f"/api/layers/{PRIVATE}/download?format=csv",
    f"/ogcapi/collections/{PRIVATE}", f"/ogcapi/collections/{PRIVATE}/queryables",
    f"/ogcapi/collections/{PRIVATE}/items", f"/ogcapi/collections/{PRIVATE}/items?f=html",
    f"/ogcapi/collections/{PRIVATE}/items/{FEATURE}", f"/ogcapi/collections/{PRIVATE}/tiles",
    f"/ogcapi/collections/{PRIVATE}/tiles/WebMercatorQuad/tilejson.json",
    f"/ogcapi/collections/{PRIVATE}/tiles/WebMercatorQuad/4/6/10",
]


@pytest.mark.parametrize("url", READS)
@pytest.mark.parametrize("who", IDENTITIES)
def test_a_private_layer_is_read_by_its_owner_only(world, who, url):
    _, clients, _ = world
    r = clients[who].get(url)
    if who in ("owner", "token"):
        assert r.status_code == 200, (url, r.get_data(as_text=True)[:300])
        assert r.headers["Cache-Control"] == "private, no-cache"
        assert {"Cookie", "Authorization"} <= set(r.headers["Vary"].replace(" ", "").split(","))
    else:  # exactly what a layer that never existed gets (404, or 400 for a 'with=' list); routes: no path
        never = clients[who].get(url.replace(PRIVATE, "never_existed")).status_code if PRIVATE in url else 404
        assert r.status_code == never, (url, r.status_code, r.get_data(as_text=True)[:300])
        assert "Secret rail" not in r.get_data(as_text=True)


@pytest.mark.parametrize("who", IDENTITIES)
def test_listings_and_documents_show_private_layers_to_the_owner_only(world, who):
    _, clients, _ = world
    client = clients[who]
    listed = {lay["id"] for lay in client.get("/api/layers").get_json()["layers"]}
    openapi = client.get("/api/openapi.json").get_data(as_text=True)
    overview = client.get("/").get_data(as_text=True)
    mine = who in ("owner", "token")
    assert ("alice_public" in listed) and ((PRIVATE in listed) == mine)
    assert (PRIVATE in openapi) == mine and (PRIVATE in overview) == mine
    collections = client.get("/ogcapi/collections").get_data(as_text=True)
    ogc_definition = client.get("/ogcapi/api").get_data(as_text=True)
    assert (PRIVATE in collections) == mine and (PRIVATE in ogc_definition) == mine
    found = {hit.get("layer") for hit in client.get("/api/search?q=Secret rail").get_json()["results"]}
    assert (PRIVATE in found) == mine
    corridor_page = client.get("/corridor").get_data(as_text=True)
    assert (f"{PRIVATE}:{FEATURE}" in corridor_page) == mine


def test_nearest_over_a_private_layer(world):
    _, clients, _ = world
    url = f"/api/nearest?lat=30&lon=61&layer={PRIVATE}"
    assert "has no point features" in clients["owner"].get(url).get_json()["error"]  # seen: it has only a line
    for who in ("anonymous", "other"):
        assert clients[who].get(url).status_code == 404


@pytest.mark.parametrize("who", IDENTITIES)
def test_a_public_layer_is_read_by_everyone(world, who):
    _, clients, _ = world
    assert clients[who].get("/api/layers/alice_public").status_code == 200
    assert clients[who].get("/map/alice_public").status_code == 200


WRITES = [  # (method, url, json body): each a change only the owner may make
    ("PATCH", "/api/layers/{layer}", {"title": "Renamed"}),
    ("GET", "/api/layers/{layer}/versions", None),
    ("POST", "/api/layers/{layer}/rollback", {"version": 1}),
    ("GET", "/import/layers/{layer}", None),
]


@pytest.mark.parametrize("method, url, body", WRITES)
@pytest.mark.parametrize("layer", [PRIVATE, "alice_public"])
def test_only_the_owner_changes_a_layer(world, method, url, body, layer):
    _, clients, csrf = world
    url = url.format(layer=layer)
    expected = {"anonymous": 401 if url.startswith("/api") else 302, "other": 404 if layer == PRIVATE else 403,
                "owner": 200, "token": 200}
    for who in IDENTITIES:
        r = clients[who].open(url, method=method, json=body, headers={"X-CSRFToken": csrf[who]})
        assert r.status_code == expected[who], (who, method, url, r.status_code, r.get_data(as_text=True)[:200])


def test_cookie_writes_need_the_csrf_token_token_writes_do_not(world):
    _, clients, csrf = world
    r = clients["owner"].patch(f"/api/layers/{PRIVATE}", json={"description": "no token"})
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]
    r = clients["owner"].patch(f"/api/layers/{PRIVATE}", json={"description": "with token"},
                               headers={"X-CSRFToken": "forged"})
    assert r.status_code == 400
    assert clients["token"].patch(f"/api/layers/{PRIVATE}", json={"description": "by token"}).status_code == 200
    other_site = clients["owner"].post("/account/logout")  # a cross-site form cannot sign you out either
    assert other_site.status_code == 400


def test_nobody_saves_or_replaces_into_another_users_import_or_layer(world):
    _, clients, csrf = world
    doc = json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "x"},
                      "geometry": {"type": "Point", "coordinates": [67, 25]}}]}).encode()
    r = clients["owner"].post("/api/imports", data={"file": (io.BytesIO(doc), "p.geojson")},
                              headers={"X-CSRFToken": csrf["owner"]}, content_type="multipart/form-data")
    staged = r.get_json()
    commit = staged["links"]["commit"]
    assert clients["other"].post(commit, json={}, headers={"X-CSRFToken": csrf["other"]}).status_code == 404
    assert clients["other"].get(staged["links"]["self"]).status_code == 404
    assert clients["anonymous"].post(commit, json={}).status_code == 401
    for layer, status in ((PRIVATE, 404), ("alice_public", 403), ("tapi", 403)):
        r = clients["other"].post("/api/imports", data={"file": (io.BytesIO(doc), "p.geojson"), "commit": "1",
                                                        "replace": layer},
                                  headers={"X-CSRFToken": csrf["other"]}, content_type="multipart/form-data")
        assert r.status_code == status, (layer, r.get_json())
    assert clients["owner"].delete(staged["links"]["self"], headers={"X-CSRFToken": csrf["owner"]}).status_code == 204


def test_revoked_or_unknown_tokens_are_refused(world):
    app, _, _ = world
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer mapsvc_not-a-token"
    r = client.get("/api/layers")
    assert r.status_code == 401 and "unknown or revoked" in r.get_json()["error"]
    store = app.extensions["store"]
    alice = store.user(name="alice")
    token, token_hash = new_token()
    record = store.create_token(alice.id, token_hash, "short-lived", actor="alice")
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert client.get(f"/api/layers/{PRIVATE}").status_code == 200
    store.revoke_token(alice.id, record.id, actor="alice")
    assert client.get(f"/api/layers/{PRIVATE}").status_code == 401


def test_anonymous_answers_stay_publicly_cacheable(world):
    _, clients, _ = world
    r = clients["anonymous"].get("/api/layers/alice_public")
    assert r.headers["Cache-Control"].startswith("public")


def test_deleting_is_the_owners_and_the_audit_log_names_who_did_what(world):
    app, clients, csrf = world
    assert clients["other"].delete("/api/layers/alice_public", headers={"X-CSRFToken": csrf["other"]}).status_code == 403
    assert clients["token"].delete("/api/layers/alice_public").status_code == 204
    assert clients["anonymous"].get("/api/layers/alice_public").status_code == 404
    actions = [(e.actor, e.action) for e in app.extensions["store"].audit_log(layer_id="alice_public")]
    assert actions[0] == ("alice", "delete") and ("alice", "create") in actions
