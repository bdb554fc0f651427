"""The embedded store: one SQLite database under a data directory, nothing to set up.

``<data_dir>/store.sqlite`` holds users, token hashes, the audit log, and each
layer version's features (properties as canonical JSON, geometry as WKB).
SQLite in WAL mode with ``synchronous=FULL`` makes each method one atomic,
durable transaction: ``kill -9`` (or a power cut) at any moment leaves either
the whole change or none of it, and the database intact
(``tests/test_store_crash.py`` proves it against the real server).
Back it up while it runs with :meth:`EmbeddedStore.backup`
(``python -m webapp store backup FILE``), which uses SQLite's online backup.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import shapely

from layers.errors import LayerInvalid, LayerNotFound
from layers.store.base import (
    RECORD_SQL,
    VERSION_SQL,
    AuditEntry,
    Store,
    StoreConflict,
    StoredLayer,
    TokenRecord,
    content_sha256,
    now_iso,
    properties_json,
    record_from_row,
    user_from_row,
    version_from_row,
)

__all__ = ["DB_NAME", "EmbeddedStore"]

DB_NAME = "store.sqlite"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_info (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT UNIQUE NOT NULL, label TEXT NOT NULL, created_at TEXT NOT NULL, last_used_at TEXT,
    revoked_at TEXT);
CREATE TABLE IF NOT EXISTS contents (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 TEXT NOT NULL, feature_count INTEGER NOT NULL,
    vertex_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS features (
    content_id INTEGER NOT NULL REFERENCES contents(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
    properties TEXT NOT NULL, geometry BLOB NOT NULL, PRIMARY KEY (content_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS layers (
    id TEXT PRIMARY KEY, owner_id INTEGER REFERENCES users(id), public INTEGER NOT NULL,
    current_version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, layer_id TEXT NOT NULL REFERENCES layers(id) ON DELETE CASCADE,
    number INTEGER NOT NULL, content_id INTEGER NOT NULL REFERENCES contents(id), metadata TEXT NOT NULL,
    created_at TEXT NOT NULL, created_by INTEGER, note TEXT NOT NULL, UNIQUE (layer_id, number));
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    layer_id TEXT, version INTEGER, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_layer ON audit (layer_id, id);
INSERT OR IGNORE INTO store_info (key, value) VALUES ('generation', 0);
"""
class EmbeddedStore(Store):
    """:class:`~layers.store.base.Store` on SQLite at ``<data_dir>/store.sqlite`` (created on first use)."""

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DB_NAME
        self.location = str(self.path)
        self._local = threading.local()
        self._all = []  # every thread's connection, to close them
        self._all_lock = threading.Lock()
        self._pid = os.getpid()
        conn = self._conn()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LayerInvalid(self.path, None, f"store schema version {version} is newer than this code "
                                                f"({SCHEMA_VERSION}); upgrade the service")
        conn.executescript(_SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
        try:
            os.chmod(self.path, 0o600)  # password and token hashes inside
        except OSError:
            pass

    # --- connections and transactions ----------------------------------------------------------

    def _conn(self):
        if self._pid != os.getpid():
            # a forked child (gunicorn's preloaded workers): SQLite connections must not cross a fork, so the
            # parent's are forgotten (not closed: they are the parent's) and this process opens its own
            self._local, self._all, self._pid = threading.local(), [], os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # every commit fsynced: durable, not only atomic
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _write(self):
        """One write transaction (BEGIN IMMEDIATE ... COMMIT) that also bumps the generation."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("UPDATE store_info SET value = value + 1 WHERE key = 'generation'")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self):
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    @staticmethod
    def _audit(db, actor, action, layer_id=None, version=None, **detail):
        db.execute("INSERT INTO audit (at, actor, action, layer_id, version, detail) VALUES (?, ?, ?, ?, ?, ?)",
                   (now_iso(), actor, action, layer_id, version, json.dumps(detail, ensure_ascii=False)))

    # --- change feed ------------------------------------------------------------------------------

    def generation(self):
        return self._conn().execute("SELECT value FROM store_info WHERE key = 'generation'").fetchone()[0]

    # --- layers --------------------------------------------------------------------------------------

    def list_layers(self):
        return [record_from_row(r) for r in self._conn().execute(RECORD_SQL + " ORDER BY l.id")]

    def _record_in(self, db, layer_id):
        row = db.execute(RECORD_SQL + " WHERE l.id = ?", (layer_id,)).fetchone()
        if row is None:
            raise LayerNotFound(layer_id)
        return record_from_row(row)

    def layer_record(self, layer_id):
        return self._record_in(self._conn(), layer_id)

    def _version_row(self, db, layer_id, number):
        if number is None:
            row = db.execute(VERSION_SQL + " WHERE v.id = l.current_version AND l.id = ?", (layer_id,)).fetchone()
        else:
            row = db.execute(VERSION_SQL + " WHERE v.layer_id = ? AND v.number = ?", (layer_id, number)).fetchone()
        if row is None:
            if number is not None and db.execute("SELECT 1 FROM layers WHERE id = ?", (layer_id,)).fetchone():
                raise LayerNotFound(f"{layer_id} version {number}")
            raise LayerNotFound(layer_id)
        return row

    def read_layer(self, layer_id, number=None, *, verify=False):
        db = self._conn()
        db.execute("BEGIN")  # one consistent snapshot of record, version and features
        try:
            record = self._record_in(db, layer_id)
            row = self._version_row(db, layer_id, number)
            rows = db.execute("SELECT properties, geometry FROM features WHERE content_id = ? ORDER BY seq",
                              (row[10],)).fetchall()
        finally:
            db.execute("COMMIT")
        version = version_from_row(row)
        properties = [json.loads(p) for p, _ in rows]
        geometries = shapely.from_wkb(np.array([g for _, g in rows], dtype=object)) if rows else np.array(
            [], dtype=object)
        if len(rows) != version.feature_count or (verify and content_sha256(properties, geometries) != version.sha256):
            raise LayerInvalid(f"{self.path}:{layer_id}", None,
                               f"version {version.number}: stored content does not match its recorded hash")
        return StoredLayer(record=record, version=version, meta=version.meta, properties=properties,
                           geometries=geometries)

    @staticmethod
    def _insert_content(db, properties, geometries):
        geometries = np.asarray(geometries, dtype=object)
        sha = content_sha256(properties, geometries)
        vertices = int(shapely.get_num_coordinates(geometries).sum()) if len(geometries) else 0
        cur = db.execute("INSERT INTO contents (sha256, feature_count, vertex_count) VALUES (?, ?, ?)",
                         (sha, len(properties), vertices))
        content_id = cur.lastrowid
        wkb = shapely.to_wkb(geometries, output_dimension=2)
        db.executemany("INSERT INTO features (content_id, seq, properties, geometry) VALUES (?, ?, ?, ?)",
                       ((content_id, i, properties_json(p), bytes(g)) for i, (p, g) in enumerate(zip(properties, wkb))))
        return content_id, sha

    @staticmethod
    def _new_version(db, layer_id, content_id, meta, actor_id, note):
        number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE layer_id = ?",
                            (layer_id,)).fetchone()[0]
        cur = db.execute(
            "INSERT INTO versions (layer_id, number, content_id, metadata, created_at, created_by, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (layer_id, number, content_id, json.dumps(meta, ensure_ascii=False, sort_keys=True), now_iso(), actor_id,
             note))
        db.execute("UPDATE layers SET current_version = ?, updated_at = ? WHERE id = ?", (cur.lastrowid, now_iso(),
                                                                                         layer_id))
        return cur.lastrowid, number

    def _actor_id(self, db, actor):
        row = db.execute("SELECT id FROM users WHERE name = ?", (actor,)).fetchone()
        return row[0] if row else None

    def save_layer(self, layer_id, meta, properties, geometries, *, owner_id, actor, note, replace=False,
                   public=False, expected_number=None):
        if len(properties) != len(geometries):
            raise ValueError("properties and geometries differ in length")
        with self._write() as db:
            exists = db.execute("SELECT 1 FROM layers WHERE id = ?", (layer_id,)).fetchone() is not None
            if replace and not exists:
                raise LayerNotFound(layer_id)
            if not replace and exists:
                raise StoreConflict(f"layer id {layer_id!r} is taken")
            if replace and expected_number is not None:
                current = self._record_in(db, layer_id).number
                if current != expected_number:
                    raise StoreConflict(f"layer {layer_id!r} is at version {current}, not {expected_number}: "
                                        "it changed meanwhile; reload and try again")
            if not replace:
                # current_version is set right below, inside the same transaction
                db.execute("INSERT INTO layers (id, owner_id, public, current_version, created_at, updated_at) "
                           "VALUES (?, ?, ?, 0, ?, ?)", (layer_id, owner_id, int(public), now_iso(), now_iso()))
            content_id, sha = self._insert_content(db, properties, geometries)
            _, number = self._new_version(db, layer_id, content_id, meta, self._actor_id(db, actor), note)
            self._audit(db, actor, "replace" if replace else "create", layer_id, number, note=note,
                        features=len(properties), sha256=sha)
            return self._record_in(db, layer_id)

    def update_metadata(self, layer_id, meta, *, actor, note):
        with self._write() as db:
            row = self._version_row(db, layer_id, None)
            _, number = self._new_version(db, layer_id, row[10], meta, self._actor_id(db, actor), note)
            self._audit(db, actor, "edit", layer_id, number, note=note)
            return self._record_in(db, layer_id)

    def set_public(self, layer_id, public, *, actor):
        with self._write() as db:
            record = self._record_in(db, layer_id)
            db.execute("UPDATE layers SET public = ?, updated_at = ? WHERE id = ?", (int(public), now_iso(), layer_id))
            self._audit(db, actor, "publish" if public else "unpublish", layer_id, record.number)
            return self._record_in(db, layer_id)

    def rollback(self, layer_id, number, *, actor):
        with self._write() as db:
            row = self._version_row(db, layer_id, number)
            _, new = self._new_version(db, layer_id, row[10], json.loads(row[8]), self._actor_id(db, actor),
                                       f"rolled back to version {number}")
            self._audit(db, actor, "rollback", layer_id, new, to=number)
            return self._record_in(db, layer_id)

    def delete_layer(self, layer_id, *, actor):
        with self._write() as db:
            record = self._record_in(db, layer_id)
            db.execute("DELETE FROM layers WHERE id = ?", (layer_id,))  # versions cascade
            db.execute("DELETE FROM contents WHERE id NOT IN (SELECT content_id FROM versions)")  # features cascade
            self._audit(db, actor, "delete", layer_id, record.number, title=record.title)

    def versions(self, layer_id):
        db = self._conn()
        self._record_in(db, layer_id)
        return [version_from_row(r) for r in db.execute(VERSION_SQL + " WHERE v.layer_id = ? ORDER BY v.number",
                                                (layer_id,))]

    # --- users and tokens ---------------------------------------------------------------------------

    def create_user(self, name, password_hash, *, actor):
        with self._write() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise StoreConflict(f"user name {name!r} is taken")
            cur = db.execute("INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)",
                             (name, password_hash, now_iso()))
            self._audit(db, actor, "user.create", user=name)
            return user_from_row(db.execute("SELECT id, name, password_hash, created_at FROM users WHERE id = ?",
                                    (cur.lastrowid,)).fetchone())

    def user(self, *, user_id=None, name=None):
        column, value = ("id", user_id) if user_id is not None else ("name", name)
        sql = f"SELECT id, name, password_hash, created_at FROM users WHERE {column} = ?"
        return user_from_row(self._conn().execute(sql, (value,)).fetchone())

    def users(self):
        return [user_from_row(r) for r in self._conn().execute(
            "SELECT id, name, password_hash, created_at FROM users ORDER BY name")]

    def set_password(self, user_id, password_hash, *, actor):
        with self._write() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))
            self._audit(db, actor, "user.password", user_id=user_id)

    def create_token(self, user_id, token_hash, label, *, actor):
        with self._write() as db:
            cur = db.execute("INSERT INTO tokens (user_id, token_hash, label, created_at) VALUES (?, ?, ?, ?)",
                             (user_id, token_hash, label, now_iso()))
            self._audit(db, actor, "token.create", token_id=cur.lastrowid, label=label)
            return TokenRecord(cur.lastrowid, user_id, label, now_iso(), None, None)

    def user_for_token(self, token_hash):
        db = self._conn()
        row = db.execute("SELECT u.id, u.name, u.password_hash, u.created_at, t.id, t.last_used_at FROM tokens t "
                         "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL",
                         (token_hash,)).fetchone()
        if row is None:
            return None
        today = now_iso()[:10]
        if (row[5] or "")[:10] != today:  # note use once a day: a token used per request must not write per request
            db.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (now_iso(), row[4]))
        return user_from_row(row[:4])

    def tokens(self, user_id):
        rows = self._conn().execute("SELECT id, user_id, label, created_at, last_used_at, revoked_at FROM tokens "
                                    "WHERE user_id = ? ORDER BY id DESC", (user_id,))
        return [TokenRecord(*r) for r in rows]

    def revoke_token(self, user_id, token_id, *, actor):
        with self._write() as db:
            cur = db.execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                             (now_iso(), token_id, user_id))
            if cur.rowcount:
                self._audit(db, actor, "token.revoke", token_id=token_id)
            return bool(cur.rowcount)

    # --- audit and upkeep --------------------------------------------------------------------------------

    def audit_log(self, *, layer_id=None, actor=None, limit=100):
        where, args = [], []
        if layer_id is not None:
            where.append("layer_id = ?")
            args.append(layer_id)
        if actor is not None:
            where.append("actor = ?")
            args.append(actor)
        sql = "SELECT id, at, actor, action, layer_id, version, detail FROM audit"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
        return [AuditEntry(*r[:6], json.loads(r[6])) for r in self._conn().execute(sql, (*args, int(limit)))]

    def check(self):
        db = self._conn()
        problems = [r[0] for r in db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key: {r}" for r in db.execute("PRAGMA foreign_key_check")]
        versions = db.execute("SELECT layer_id, number FROM versions ORDER BY layer_id, number").fetchall()
        for layer_id, number in versions:
            try:
                self.read_layer(layer_id, number, verify=True)
            except (LayerInvalid, LayerNotFound, ValueError, shapely.errors.GEOSException) as exc:
                problems.append(f"{layer_id} version {number}: {exc}")
        return problems

    def backup(self, path):
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        target = sqlite3.connect(tmp)
        try:
            self._conn().backup(target)
        finally:
            target.close()
        os.replace(tmp, path)  # a half-written backup never takes the name
