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
    StoredLayer,
    content_sha256,
    properties_json,
    version_from_row,
)
from layers.store.sql import SqlStore

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
class EmbeddedStore(SqlStore):
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
    def _query(self):
        yield self._conn()

    @contextmanager
    def _read(self):
        """One snapshot (BEGIN ... COMMIT; WAL readers never wait for the writer)."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

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

    # --- layer contents ------------------------------------------------------------------------------

    def read_layer(self, layer_id, number=None, *, verify=False):
        with self._read() as db:  # one consistent snapshot of record, version and features
            record = self._record_in(db, layer_id)
            row = self._version_row(db, layer_id, number)
            rows = db.execute("SELECT properties, geometry FROM features WHERE content_id = ? ORDER BY seq",
                              (row[10],)).fetchall()
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
    def insert_content(db, properties, geometries):
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
    def _delete_unused_contents(db):
        db.execute("DELETE FROM contents WHERE id NOT IN (SELECT content_id FROM versions)")

    # --- upkeep --------------------------------------------------------------------------------------

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
