"""The PostGIS store beyond the shared contract (tests/test_store.py runs that on both stores):
first start on an empty database (schema, built-in layers, several instances at once), migration to
PostGIS and back through the CLI (lossless, compared row by row), and the spatial queries PostGIS
answers (bbox, corridor candidates) giving exactly the in-memory index's positions, and the vector tiles
it encodes (ST_AsMVT) holding the same features and properties as the embedded store's."""

import math
import threading

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from geo.corridor_report import corridor_report
from layers.catalog import BUILTIN_LAYERS_DIR, Catalog, read_layer_file
from layers.errors import LayerInvalid
from layers.index import bbox_positions, build_tree, layer_tree, query_bbox
from layers.live import LiveCatalog
from layers.store import StoreConflict, open_store
from layers.store.migrate import _comparable, copy_store, differences
from layers.store.pg_schema import SCHEMA_VERSION
from layers.store.pg_spatial import PgTree
from webapp import create_app
from webapp.__main__ import main

META = {"id": "mine", "title": "Mine", "description": "d", "attribution": "a", "licence": "CC0"}
BUILTIN = [read_layer_file(p) for p in sorted(BUILTIN_LAYERS_DIR.glob("*.geojson"))]


def _props(fid, **extra):
    return {"id": fid, "name": fid, "kind": "road", "status": "proposed", "countries": ["PAK"],
            "reported_length_km": None, "geometry_quality": "traced",
            "sources": [{"title": "t", "url": "https://example.org"}], "licence": "CC0", **extra}


def _query(url, sql):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else None


def test_apps_use_the_store_the_run_chose(store_app, store_backend):
    kind = type(store_app.extensions["store"]).__name__
    assert kind == {"embedded": "EmbeddedStore", "postgis": "PostGISStore"}[store_backend]


def test_an_empty_database_gets_its_schema_and_the_builtin_layers_once_even_from_instances_starting_together(
        pg_cluster, tmp_path):
    url = pg_cluster.new_database(empty=True)  # not even PostGIS: the store creates the extension
    apps, errors = [], []

    def start(i):
        try:
            apps.append(create_app({"TESTING": True, "DATABASE_URL": url, "DATA_DIR": str(tmp_path / str(i))}))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(apps) == 3
    assert _query(url, "SELECT value FROM mapsvc.store_info WHERE key = 'schema_version'") == [(SCHEMA_VERSION,)]
    fixed = dict(_query(url, "SELECT layer_id, version FROM mapsvc.fixed_layers"))
    assert fixed == {lay.id: lay.version for lay in BUILTIN}
    counts = dict(_query(url, "SELECT f.layer_id, count(*) FROM mapsvc.fixed_layers f "
                              "JOIN mapsvc.features x ON x.content_id = f.content_id GROUP BY f.layer_id"))
    assert counts == {lay.id: len(lay.gdf) for lay in BUILTIN}
    # the copies were written once: one content per layer, none left over from the concurrent starts
    assert _query(url, "SELECT count(*) FROM mapsvc.contents") == [(len(BUILTIN),)]
    for app in apps:
        assert app.test_client().get("/api/layers").status_code == 200
        app.extensions["store"].close()


def test_a_newer_schema_is_refused_not_downgraded(pg_url):
    _query(pg_url, "UPDATE mapsvc.store_info SET value = 99 WHERE key = 'schema_version'")
    with pytest.raises(LayerInvalid, match="newer than this code"):
        open_store(pg_url)


def _fill(store):
    alice = store.create_user("alice", "scrypt-hash-a", actor="cli")
    bob = store.create_user("bob", "scrypt-hash-b", actor="cli")
    token = store.create_token(alice.id, "token-hash-1", "laptop", actor="alice")
    store.create_token(bob.id, "token-hash-2", "ci", actor="bob")
    store.revoke_token(alice.id, token.id, actor="alice")
    line = shapely.LineString([(67, 25), (68, 26.123456789012)])
    poly = shapely.Polygon([(60, 20), (61, 20), (61, 21), (60, 20)])
    store.save_layer("mine", META, [_props("a", note="ü <script>", nested={"x": [1, 2.5, None, 1e300]})], [line],
                     owner_id=alice.id, actor="alice", note="import")
    store.save_layer("mine", META, [_props("a"), _props("b")], [line, poly], owner_id=None, actor="alice",
                     note="replace", replace=True)
    store.update_metadata("mine", {**META, "title": "Renamed"}, actor="alice", note="title")
    store.rollback("mine", 1, actor="alice")
    store.set_public("mine", True, actor="alice")
    store.save_layer("gone", {**META, "id": "gone"}, [_props("g")], [line], owner_id=bob.id, actor="bob", note="x")
    store.delete_layer("gone", actor="bob")
    store.save_layer("points", {**META, "id": "points"}, [_props(f"p{i}") for i in range(50)],
                     [shapely.Point(60 + i / 10, 25) for i in range(50)], owner_id=bob.id, actor="bob", note="x")


def test_migrate_to_postgis_and_back_through_the_cli_is_lossless(tmp_path, pg_url, monkeypatch, capsys):
    data = tmp_path / "data"
    embedded = open_store("", data)
    _fill(embedded)
    monkeypatch.setenv("MAPSVC_DATA_DIR", str(data))
    monkeypatch.setenv("MAPSVC_DATABASE_URL", f"sqlite:///{data}")  # named: --store=postgis would swap an empty one
    assert main(["store", "migrate", "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "2 users, 2 tokens, 2 layers with 5 versions" in out and "identical when compared row by row" in out
    postgis = open_store(pg_url)
    assert differences(embedded, postgis) == []
    assert postgis.check() == [] and postgis.read_layer("mine", 2, verify=True).record.number == 4
    # new rows after a migration take new ids: the sequences moved past the copied ones
    assert postgis.save_layer("later", {**META, "id": "later"}, [_props("l")], [shapely.Point(1, 1)], owner_id=None,
                              actor="cli", note="x").version_id > max(v.version_id for v in postgis.versions("mine"))
    postgis.delete_layer("later", actor="cli")
    # and back: from PostGIS (DATABASE_URL) into a new embedded store
    back_dir = tmp_path / "back"
    monkeypatch.setenv("MAPSVC_DATABASE_URL", pg_url)
    monkeypatch.setenv("MAPSVC_DATA_DIR", str(tmp_path / "other"))
    assert main(["store", "migrate", "--to", f"sqlite:///{back_dir}"]) == 0
    assert "identical when compared row by row" in capsys.readouterr().out
    back = open_store("", back_dir)
    diff = differences(postgis, back)
    assert diff == []
    # embedded -> PostGIS -> embedded gives the same rows (content ids aside, which are internal)
    assert [r for r in _comparable(embedded) if r[0] != "audit"] == [r for r in _comparable(back) if r[0] != "audit"]
    assert [e.action for e in back.audit_log(limit=1000)][2:] == [e.action for e in embedded.audit_log(limit=1000)]
    assert back.check() == []
    assert back.user_for_token("token-hash-2").name == "bob" and back.user_for_token("token-hash-1") is None
    with pytest.raises(StoreConflict, match="not empty"):
        copy_store(embedded, back)
    for store in (embedded, postgis, back):
        store.close()


@pytest.fixture(scope="module")
def spatial_catalog(pg_cluster):
    store = open_store(pg_cluster.new_database())
    live = LiveCatalog(BUILTIN, store)
    yield live.view()
    store.close()


BOXES = [(66.9, 24.8, 67.2, 25.0), (60, 20, 80, 40), (73.0, 31.0, 75.0, 32.0), (62.0, 35.0, 63.0, 36.5),
         (-10, -10, 10, 10), (69.5, 29.9, 69.6, 30.0)]


def test_bbox_positions_from_postgis_equal_the_in_memory_index(spatial_catalog):
    memory = Catalog(BUILTIN)
    compared = 0
    for layer in BUILTIN:
        assert isinstance(layer_tree(spatial_catalog, layer.id), PgTree)
        tree = build_tree(layer.gdf.geometry)
        for box in BOXES:
            got = bbox_positions(spatial_catalog, layer.id, box)
            assert got.tolist() == query_bbox(tree, box).tolist() == bbox_positions(memory, layer.id, box).tolist()
            compared += len(got)
    assert compared > 150  # the boxes hit real features, not only empty answers


def test_corridor_candidates_from_postgis_give_the_same_report(spatial_catalog):
    memory = Catalog(BUILTIN)
    for layer_id, feature_id, width in (("tapi", "tapi_trunk", 50), ("cpec", "ml1_railway", 25)):
        ours = corridor_report(spatial_catalog, layer_id, feature_id, width)
        theirs = corridor_report(memory, layer_id, feature_id, width)
        assert len(ours["features"]) > 0
        assert ours["features"].drop(columns="geometry").equals(theirs["features"].drop(columns="geometry"))
        assert np.array_equal(shapely.to_wkb(ours["features"].geometry.values),
                              shapely.to_wkb(theirs["features"].geometry.values))
        assert ours["summary"] == theirs["summary"]


def test_a_version_the_database_does_not_hold_falls_back_to_the_in_memory_index(spatial_catalog):
    layer = BUILTIN[1]
    tree = PgTree(spatial_catalog.spatial, layer.id, "builtin-not-this-one", lambda: build_tree(layer.gdf.geometry))
    box = shapely.box(60, 20, 80, 40)
    assert sorted(tree.query(box, predicate="intersects")) == sorted(build_tree(layer.gdf.geometry).query(
        box, predicate="intersects"))


def _tile_of(lon, lat, z):
    n = 2 ** z
    return z, int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n), int((lon + 180) / 360 * n)


def _decoded(client, layer_id, tile):
    response = client.get(f"/ogcapi/collections/{layer_id}/tiles/WebMercatorQuad/{tile[0]}/{tile[1]}/{tile[2]}")
    assert response.status_code == 200, response.get_data(as_text=True)
    layer = mapbox_vector_tile.decode(response.data, default_options={"y_coord_down": True}).get(layer_id)
    return response.data, {f["id"]: f["properties"] for f in (layer or {"features": []})["features"]}


def test_st_asmvt_tiles_hold_the_same_features_and_properties_as_the_embedded_tiles(pg_url, tmp_path):
    pg_app = create_app({"TESTING": True, "DATABASE_URL": pg_url, "DATA_DIR": str(tmp_path / "pg")})
    embedded_app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded'}",
                               "DATA_DIR": str(tmp_path / "embedded")})
    assert pg_app.extensions["catalog"].view().spatial is not None
    pg, embedded = pg_app.test_client(), embedded_app.test_client()
    tiles, features = set(), 0
    for layer in BUILTIN:
        for geom in layer.gdf.geometry.iloc[:12]:
            lon, lat = shapely.get_coordinates(geom)[0]
            tiles.update((layer.id, _tile_of(lon, lat, z)) for z in (2, 5, 8, 12))
    for layer_id, tile in sorted(tiles):
        body, ours = _decoded(pg, layer_id, tile)
        _, theirs = _decoded(embedded, layer_id, tile)
        assert ours == theirs, (layer_id, tile)
        features += len(ours)
    assert len(tiles) > 150 and features > 400, (len(tiles), features)
    # the PostGIS body is PostGIS's own encoding, not the Python encoder's
    assert body != embedded.get(f"/ogcapi/collections/{layer_id}/tiles/WebMercatorQuad/{tile[0]}/{tile[1]}/"
                                f"{tile[2]}").data
    pg_app.extensions["store"].close()
