"""The store contract (layers/store/base.py) on both stores, the embedded SQLite one and PostGIS (a
throw-away cluster, tests/pg_service.py): versions, rollback, delete, users, tokens, audit, the generation
counter, integrity check and online backup; and the live catalogue over it (new versions served without
restart, memo keyed by version, views per viewer)."""

import sqlite3
import threading

import numpy as np
import pytest
import shapely

from geo.stats import layer_stats
from layers.catalog import BUILTIN_LAYERS_DIR, Catalog, Memo, make_layer, read_layer_file
from layers.errors import LayerInvalid, LayerNotFound
from layers.live import LiveCatalog
from layers.store import StoreConflict, open_store
from layers.store.base import content_sha256

META = {"id": "mine", "title": "Mine", "description": "d", "attribution": "a", "licence": "CC0"}


def props(fid, **extra):
    return {"id": fid, "name": fid, "kind": "road", "status": "proposed", "countries": ["PAK"],
            "reported_length_km": None, "geometry_quality": "traced",
            "sources": [{"title": "t", "url": "https://example.org"}], "licence": "CC0", **extra}


LINE = shapely.LineString([(67, 25), (68, 26)])
LONGER = shapely.LineString([(67, 25), (68, 26), (69, 27)])


@pytest.fixture(params=["embedded", "postgis"])
def store(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgis" else ""
    s = open_store(url, tmp_path)
    yield s
    s.close()


def tamper(store, sql):
    """Run ``sql`` on the store's database behind its back (the tables and columns are the same in both)."""
    if hasattr(store, "url"):
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as conn:
            conn.execute("SET search_path TO mapsvc, public")
            conn.execute(sql)
        return
    db = sqlite3.connect(store.path)
    db.execute(sql)
    db.commit()
    db.close()


def test_versions_replace_rollback_and_delete(store):
    alice = store.create_user("alice", "hash", actor="test")
    first = store.save_layer("mine", META, [props("a")], [LINE], owner_id=alice.id, actor="alice", note="import")
    assert (first.number, first.public, first.owner_id, first.feature_count) == (1, False, alice.id, 1)
    with pytest.raises(StoreConflict):
        store.save_layer("mine", META, [props("a")], [LINE], owner_id=alice.id, actor="alice", note="again")
    second = store.save_layer("mine", META, [props("a"), props("b")], [LINE, LONGER], owner_id=None, actor="alice",
                              note="replace", replace=True)
    assert second.number == 2 and second.version_id > first.version_id and second.owner_id == alice.id
    with pytest.raises(StoreConflict, match="changed meanwhile"):
        store.save_layer("mine", META, [props("c")], [LINE], owner_id=None, actor="alice", note="stale",
                         replace=True, expected_number=1)
    edited = store.update_metadata("mine", {**META, "title": "Renamed"}, actor="alice", note="title")
    assert edited.title == "Renamed" and edited.sha256 == second.sha256  # same content, new version
    back = store.rollback("mine", 1, actor="alice")
    assert (back.number, back.feature_count, back.title, back.sha256) == (4, 1, "Mine", first.sha256)
    assert [v.number for v in store.versions("mine")] == [1, 2, 3, 4]
    assert [v.current for v in store.versions("mine")] == [False, False, False, True]
    old = store.read_layer("mine", 2, verify=True)
    assert [p["id"] for p in old.properties] == ["a", "b"] and old.geometries[1].equals(LONGER)
    store.delete_layer("mine", actor="alice")
    assert store.list_layers() == []
    with pytest.raises(LayerNotFound):
        store.read_layer("mine")
    again = store.save_layer("mine", META, [props("z")], [LINE], owner_id=alice.id, actor="alice", note="new")
    assert again.version_id > back.version_id  # version ids are never reused: caches cannot mix them up
    actions = [e.action for e in store.audit_log(layer_id="mine")]
    assert actions == ["create", "delete", "rollback", "edit", "replace", "create"]
    assert store.check() == []


def test_content_is_kept_exactly_and_hash_checked(store, tmp_path):
    weird = props("ü-1", note="<script>alert(1)</script> {{ 7*7 }}", nested={"a": [1, 2.5, None]})
    geoms = [shapely.Point(-179.999999, 89.123456789012)]
    record = store.save_layer("mine", META, [weird], geoms, owner_id=None, actor="cli", note="x")
    read = store.read_layer("mine", verify=True)
    assert read.properties == [weird] and read.geometries[0].equals_exact(geoms[0], 0)
    assert record.sha256 == content_sha256([weird], geoms)
    tamper(store, "UPDATE features SET properties = replace(properties, 'alert', 'evil!')")
    with pytest.raises(LayerInvalid, match="does not match its recorded hash"):
        store.read_layer("mine", verify=True)
    assert any("does not match" in p for p in store.check())


def test_users_tokens_and_audit(store):
    alice = store.create_user("alice", "h1", actor="cli")
    with pytest.raises(StoreConflict):
        store.create_user("alice", "h2", actor="cli")
    token = store.create_token(alice.id, "tokhash", "laptop", actor="alice")
    assert store.user_for_token("tokhash").name == "alice"
    assert store.user_for_token("other") is None
    assert store.tokens(alice.id)[0].last_used_at is not None
    assert store.revoke_token(alice.id, token.id, actor="alice") and not store.revoke_token(alice.id, token.id,
                                                                                             actor="alice")
    assert store.user_for_token("tokhash") is None
    store.set_password(alice.id, "h3", actor="alice")
    assert store.user(name="alice").password_hash == "h3"
    assert [u.name for u in store.users()] == ["alice"]
    assert [e.action for e in store.audit_log(actor="alice")] == ["user.password", "token.revoke", "token.create"]


def test_generation_grows_with_every_change_and_backup_is_consistent(store, tmp_path):
    g0 = store.generation()
    store.save_layer("mine", META, [props("a")], [LINE], owner_id=None, actor="cli", note="x")
    store.set_public("mine", True, actor="cli")
    assert store.generation() == g0 + 2
    store.backup(tmp_path / "copy.sqlite")
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    (tmp_path / "copy.sqlite").rename(restored_dir / "store.sqlite")
    copy = open_store("", restored_dir)
    assert [r.id for r in copy.list_layers()] == ["mine"] and copy.list_layers()[0].public
    assert copy.check() == []


def test_concurrent_writers_never_interleave(store):
    def save(i):
        store.save_layer(f"layer_{i}", {**META, "id": f"layer_{i}"}, [props(f"f{j}") for j in range(50)],
                         [LINE] * 50, owner_id=None, actor="cli", note="thread")

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.list_layers()) == 8 and all(r.feature_count == 50 for r in store.list_layers())
    assert store.check() == []


@pytest.fixture
def live(store):
    return LiveCatalog([read_layer_file(BUILTIN_LAYERS_DIR / "tapi.geojson")], store)


def test_live_catalogue_serves_new_versions_without_restart(store, live):
    alice = store.create_user("alice", "h", actor="cli")
    assert "mine" not in live
    store.save_layer("mine", META, [props("a")], [LINE], owner_id=alice.id, actor="alice", note="x", public=True)
    assert "mine" in live  # seen at the next look, no restart
    first_km = layer_stats(live, "mine")["geodesic_length_km"].iloc[0]
    store.save_layer("mine", META, [props("a")], [LONGER], owner_id=None, actor="alice", note="y", replace=True)
    second_km = layer_stats(live, "mine")["geodesic_length_km"].iloc[0]
    assert second_km == pytest.approx(first_km * 2, rel=0.02)  # the replaced layer's stats, not the memo's old ones
    memo_keys = [k for k in live.memo_store._items if k[0] == ("stats", "mine")]
    assert len(memo_keys) == 1  # the old version's statistics were dropped
    store.delete_layer("mine", actor="alice")
    assert "mine" not in live


def test_views_show_private_layers_to_their_owner_only(store, live):
    alice = store.create_user("alice", "h", actor="cli")
    bob = store.create_user("bob", "h", actor="cli")
    store.save_layer("mine", META, [props("a")], [LINE], owner_id=alice.id, actor="alice", note="x")
    assert "mine" in live.view(alice.id) and "mine" not in live.view(bob.id) and "mine" not in live.view(None)
    with pytest.raises(LayerNotFound) as err:
        live.view(bob.id).layer("mine")
    assert "mine" not in str(err.value.known)
    store.set_public("mine", True, actor="alice")
    assert "mine" in live.view(bob.id) and "mine" in live
    # the whole-view results (like the route network) differ per view; per-layer ones are shared
    assert live.view(alice.id).fingerprint(["mine"]) == live.view(None).fingerprint(["mine"])


def test_a_stored_layer_that_fails_to_load_is_reported_not_fatal(store, tmp_path):
    store.save_layer("mine", META, [props("a")], [LINE], owner_id=None, actor="cli", note="x", public=True)
    tamper(store, "DELETE FROM features")
    live = LiveCatalog([], store)
    assert "mine" not in live and [p.layer_id for p in live.store_problems] == ["mine"]


def test_memo_single_flight_and_version_keys():
    layer = make_layer(META, [props("a")], np.array([LINE]), path=None, version="v1", source="store")
    memo = Memo()
    calls = []

    def slow():
        calls.append(1)
        threading.Event().wait(0.2)
        return 42

    catalog = Catalog([layer], memo=memo)
    threads = [threading.Thread(target=catalog.memo, args=(("k", "mine"), slow)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    newer = Catalog([make_layer(META, [props("a")], np.array([LINE]), path=None, version="v2", source="store")],
                    memo=memo)
    assert newer.memo(("k", "mine"), lambda: 43) == 43  # another version, another entry
    assert memo.prune({("mine", "v2")}) == 1
