"""Copy a whole store into another (embedded <-> PostGIS), losslessly, and compare two stores.

``python -m webapp store migrate --to URL`` (:mod:`webapp.imports.cli`) runs
:func:`copy_store`: users, token hashes, every layer with every version and
its content, and the audit log move with their ids, timestamps and
per-layer version numbers, in one transaction on the target, which must be
empty (content ids, internal to a store, are renumbered in order).
:func:`store_rows` reads a store as plain rows (one consistent snapshot);
:func:`differences` compares two stores row by row, which is how
the command (and the tests) show nothing was lost. The two backends share
table and column names; only the geometry column and placeholders differ.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import shapely

from layers.errors import BadParameter
from layers.store.base import StoreConflict

__all__ = ["backup_to_sqlite", "copy_store", "differences", "store_rows"]

_TABLES = (
    ("user", "SELECT id, name, password_hash, created_at FROM users ORDER BY id"),
    ("token", "SELECT id, user_id, token_hash, label, created_at, last_used_at, revoked_at FROM tokens ORDER BY id"),
    ("content", "SELECT id, sha256, feature_count, vertex_count FROM contents "
                "WHERE id IN (SELECT content_id FROM versions) ORDER BY id"),
    ("layer", "SELECT id, owner_id, public, current_version, created_at, updated_at FROM layers ORDER BY id"),
    ("version", "SELECT id, layer_id, number, content_id, metadata, created_at, created_by, note FROM versions "
                "ORDER BY id"),
    ("audit", "SELECT id, at, actor, action, layer_id, version, detail FROM audit ORDER BY id"),
)
_INSERT = {
    "user": "INSERT INTO users (id, name, password_hash, created_at) VALUES (?, ?, ?, ?)",
    "token": "INSERT INTO tokens (id, user_id, token_hash, label, created_at, last_used_at, revoked_at) "
             "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "layer": "INSERT INTO layers (id, owner_id, public, current_version, created_at, updated_at) "
             "VALUES (?, ?, ?, ?, ?, ?)",
    "version": "INSERT INTO versions (id, layer_id, number, content_id, metadata, created_at, created_by, note) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "audit": "INSERT INTO audit (id, at, actor, action, layer_id, version, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
}
_SERIAL_TABLES = ("users", "tokens", "versions", "audit")


def _is_pg(store):
    return type(store).__name__ == "PostGISStore"


class _Db:
    """One connection inside one transaction, with the backend's placeholder style."""

    def __init__(self, conn, pg):
        self.conn, self.pg = conn, pg

    def execute(self, sql, args=()):
        return self.conn.execute(sql.replace("?", "%s") if self.pg else sql, args)


@contextmanager
def _reading(store):
    if _is_pg(store):
        with store._read() as conn:
            yield _Db(conn, True)
    else:
        conn = store._conn()
        conn.execute("BEGIN")  # one snapshot of every table (WAL readers never block the writer)
        try:
            yield _Db(conn, False)
        finally:
            conn.execute("COMMIT")


def _normal_wkb(blobs):
    return [bytes(b) for b in shapely.to_wkb(shapely.from_wkb(np.array([bytes(b) for b in blobs], dtype=object)),
                                             output_dimension=2)] if blobs else []


def store_rows(store):
    """Every row of ``store`` as ``(kind, tuple)``, dependency order; contents carry their features.

    A content row is ``(id, sha256, feature_count, vertex_count, ((properties_json, wkb), ...))``;
    booleans and WKB are normalised so equal stores give equal rows whatever the backend.
    """
    geometry = "ST_AsBinary(geom)" if _is_pg(store) else "geometry"
    with _reading(store) as db:
        for kind, sql in _TABLES:
            for row in db.execute(sql).fetchall():
                if kind == "content":
                    feats = db.execute(f"SELECT properties, {geometry} FROM features WHERE content_id = ? ORDER BY seq",
                                       (row[0],)).fetchall()
                    row = (*row, tuple(zip((p for p, _ in feats), _normal_wkb([g for _, g in feats]))))
                elif kind == "layer":
                    row = (row[0], row[1], bool(row[2]), *row[3:])
                yield kind, tuple(row)
        yield "generation", (db.execute("SELECT value FROM store_info WHERE key = 'generation'").fetchone()[0],)


def _is_empty(store):
    with _reading(store) as db:
        return not any(db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                       for table in ("users", "layers", "audit", "versions"))


def _insert_features(db, content_id, features):
    props = [p for p, _ in features]
    geoms = shapely.from_wkb(np.array([g for _, g in features], dtype=object)) if features else np.array([])
    if db.pg:
        from layers.store.postgis import hex_ewkb

        with db.conn.cursor().copy("COPY features (content_id, seq, properties, geom) FROM STDIN") as copy:
            for i, (p, g) in enumerate(zip(props, hex_ewkb(geoms))):
                copy.write_row((content_id, i, p, g))
    else:
        db.conn.executemany("INSERT INTO features (content_id, seq, properties, geometry) VALUES (?, ?, ?, ?)",
                            ((content_id, i, p, g) for i, (p, g) in enumerate(features)))


def _insert_content_row(db, values):
    sql = "INSERT INTO contents (sha256, feature_count, vertex_count) VALUES (?, ?, ?)"
    if db.pg:
        return db.execute(sql + " RETURNING id", values).fetchone()[0]
    return db.execute(sql, values).lastrowid


def copy_store(source, target):
    """Copy everything of ``source`` into the empty ``target`` in one transaction; counts per kind."""
    if not _is_empty(target):
        raise StoreConflict(f"the target store {target.location} is not empty: migrate only into an empty store")
    counts, content_ids = {}, {}
    with target._write() as conn:
        db = _Db(conn, _is_pg(target))
        for kind, row in store_rows(source):
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "content":
                # content ids are internal (the target may hold the fixed layers' contents): new ids, same order
                content_ids[row[0]] = new_id = _insert_content_row(db, row[1:4])
                _insert_features(db, new_id, row[4])
            elif kind == "generation":
                # grows past both: an instance that cached the target's generation re-reads
                db.execute("UPDATE store_info SET value = CASE WHEN value > ? THEN value ELSE ? END + 1 "
                           "WHERE key = 'generation'", (row[0], row[0]))
            else:
                if kind == "layer" and not db.pg:
                    row = (*row[:2], int(row[2]), *row[3:])
                elif kind == "version":
                    row = (*row[:3], content_ids[row[3]], *row[4:])
                db.execute(_INSERT[kind], row)
        if db.pg:  # explicit ids: move every sequence past them
            for table in _SERIAL_TABLES:
                db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) "
                           f"FROM {table}")
    counts.pop("generation", None)
    return counts


def differences(a, b, *, limit=10):
    """Rows that differ between stores ``a`` and ``b`` (the generation counter aside); [] when equal."""
    rows_a, rows_b = _comparable(a), _comparable(b)
    found = []
    for i in range(max(len(rows_a), len(rows_b))):
        ra = rows_a[i] if i < len(rows_a) else None
        rb = rows_b[i] if i < len(rows_b) else None
        if ra != rb:
            found.append(f"row {i}: {_short(ra)} != {_short(rb)}")
            if len(found) >= limit:
                break
    return found


def _comparable(store):
    """Rows without the generation, content ids replaced by their rank (they are internal to each store)."""
    rows, rank = [], {}
    for kind, row in store_rows(store):
        if kind == "content":
            rank[row[0]] = len(rank)
            row = (rank[row[0]], *row[1:])
        elif kind == "version":
            row = (*row[:3], rank.get(row[3]), *row[4:])
        if kind != "generation":
            rows.append((kind, row))
    return rows


def _short(row):
    if row is None:
        return "(missing)"
    kind, values = row
    return f"{kind} {values[:4]!r}"[:200]


def backup_to_sqlite(store, path):
    """Write ``store``'s content as an embedded store file at ``path`` (atomically; a consistent snapshot)."""
    from layers.store.embedded import DB_NAME, EmbeddedStore

    path = Path(path)
    if path.is_dir():
        raise BadParameter("path", f"{path} is a directory; give the file to write")
    work = Path(tempfile.mkdtemp(prefix=".backup-", dir=path.parent))
    try:
        copy = EmbeddedStore(work)
        try:
            copy_store(store, copy)
        finally:
            copy.close()
        os.replace(work / DB_NAME, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
