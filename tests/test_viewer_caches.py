"""Every cache answers per viewer and per layer version: the page cache, the map cache, the API and OGC body
caches, the tile cache, the download cache, search and analysis results.

Each URL below is read first by the owner of a private layer (so that whatever it caches is cached), then
by another user and by an anonymous visitor, who must get exactly what a layer that never existed gets.
Then the owner replaces the layer, publishes it and deletes it: every answer follows at once, and an old
ETag never gets a 304 for new content.
"""

import math

import pytest
from userflow import line_layer, sign_in, upload

from webapp import create_app

LAYER = "cached_rail"
FEATURE = "secret_rail"
LINE = [[61.0, 30.0], [61.5, 30.3], [62.0, 30.5]]  # eastern Iran: no other rail runs there


def _tile(lon, lat, z):
    """The WebMercatorQuad tile (z, y, x) holding lon/lat."""
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int(y), int((lon + 180) / 360 * n)


URLS = {  # what each one reads through
    "page cache": f"/map/{LAYER}",
    "page cache, overview": "/",
    "page cache, embed": f"/embed/{LAYER}",
    "map cache, chosen layers": f"/map?layers=tapi,{LAYER}",
    "API body cache": f"/api/layers/{LAYER}?bbox=60,29,63,31",
    "API memo": f"/api/layers/{LAYER}",
    "OGC items body cache": f"/ogcapi/collections/{LAYER}/items?limit=5",
    "OGC item": f"/ogcapi/collections/{LAYER}/items/{FEATURE}",
    "tile cache": "/ogcapi/collections/{layer}/tiles/WebMercatorQuad/%d/%d/%d".replace(
        "{layer}", LAYER) % _tile(61.5, 30.3, 6),
    "download cache": f"/api/layers/{LAYER}/download?format=gpkg",
    "search": f"/api/search?q={FEATURE}",
    "analysis results": f"/api/corridor?layer={LAYER}&feature={FEATURE}&width_km=20",
    "analysis download": f"/export/corridor?feature={LAYER}:{FEATURE}&width_km=20&format=csv",
}
LISTINGS = {"page cache, overview", "search"}  # answer everyone; the layer is simply not in them


def _save(client, csrf, name, shift, **fields):
    doc = line_layer(FEATURE, name, [[x, y + shift] for x, y in LINE])
    r = upload(client, csrf, doc, f"{LAYER}.geojson", commit="1", layer_id=LAYER, **fields)
    assert r.status_code == 201, r.get_json()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path_factory.mktemp("caches"))})
    owner, owner_csrf, _ = sign_in(app, "carol")
    other, _, _ = sign_in(app, "dave")
    _save(owner, owner_csrf, "Secret rail", 0.0)
    return {"owner": owner, "csrf": owner_csrf, "other": other, "anonymous": app.test_client()}


def _reads(world, who):
    return {what: world[who].get(url) for what, url in URLS.items()}


def _assert_hidden(world, who, marker):
    for what, r in _reads(world, who).items():
        assert marker.encode() not in r.data, (who, what)
        if what not in LISTINGS:
            never = world[who].get(URLS[what].replace(LAYER, "never_existed"))
            assert r.status_code == never.status_code and r.status_code in (400, 404), (who, what, r.status_code)


def test_each_cache_keeps_a_private_layer_to_its_owner_then_follows_every_change(world):
    first = _reads(world, "owner")
    for what, r in first.items():
        assert r.status_code == 200 and b"Secret rail" in r.data, (what, r.status_code, r.data[:200])
    # everything the owner's reads cached is still invisible to the others
    _assert_hidden(world, "other", "Secret rail")
    _assert_hidden(world, "anonymous", "Secret rail")

    # a replacement is served at once: new content, new ETags, no 304 for an old tag
    _save(world["owner"], world["csrf"], "Renamed rail", 0.2, replace=LAYER)
    for what, r in _reads(world, "owner").items():
        assert r.status_code == 200 and b"Renamed rail" in r.data and b"Secret rail" not in r.data, what
        old = first[what].headers.get("ETag")
        if old:
            assert r.headers.get("ETag") != old, what
            again = world["owner"].get(URLS[what], headers={"If-None-Match": old})
            assert again.status_code == 200 and b"Renamed rail" in again.data, what
    _assert_hidden(world, "other", "Renamed rail")

    # published: every viewer gets the current version at once, from every cache
    r = world["owner"].patch(f"/api/layers/{LAYER}", json={"public": True}, headers={"X-CSRFToken": world["csrf"]})
    assert r.status_code == 200, r.get_json()
    for who in ("anonymous", "other"):
        for what, r in _reads(world, who).items():
            assert r.status_code == 200 and b"Renamed rail" in r.data, (who, what, r.status_code)

    # deleted: gone for everyone, the owner included
    r = world["owner"].delete(f"/api/layers/{LAYER}", headers={"X-CSRFToken": world["csrf"]})
    assert r.status_code == 204
    for who in ("owner", "anonymous"):
        _assert_hidden(world, who, "Renamed rail")
