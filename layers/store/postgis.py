"""The PostGIS store: the :class:`~layers.store.base.Store` contract on PostgreSQL + PostGIS (psycopg 3).

Chosen by ``DATABASE_URL=postgresql://…``. Everything lives in one schema,
``mapsvc`` (:mod:`layers.store.pg_schema` creates and upgrades it, under an
advisory lock, on first start), so the database may hold other things too.

- **Transactions.** Every mutating method is one transaction that first
  bumps the ``generation`` row: that row lock serialises writers (as SQLite's
  ``BEGIN IMMEDIATE`` does), the commit makes the change durable, and every
  process sharing the database sees the new generation on its next
  :meth:`PostGISStore.generation` call -- how replicas stay consistent.
- **Content.** Properties are kept as their canonical JSON *text* (exact:
  ``jsonb`` would renumber ``1e300`` and reorder keys), geometries as
  ``geometry(Geometry, 4326)`` with a GiST index, so bbox filters and vector
  tiles can run in the database (:mod:`layers.store.pg_spatial`).
- **Connections** come from a psycopg_pool per process, opened lazily: a
  forked worker (gunicorn ``--preload``) opens its own and never touches its
  parent's sockets.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import shapely
from psycopg_pool import ConnectionPool

from layers.errors import LayerInvalid, LayerNotFound, MapError
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
from layers.store.pg_schema import SCHEMA, migrate
from layers.store.pg_spatial import PgSpatial

__all__ = ["PostGISStore", "StoreUnavailable", "redact_url"]

POOL_MAX = 8
class StoreUnavailable(MapError):
    """The database cannot be reached (or refused us)."""

    status = 503


def redact_url(url):
    """``url`` without its password (for logs and /status)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def hex_ewkb(geometries):
    """Hex EWKB (SRID 4326, 2D) of each geometry: the text form PostGIS's geometry input reads in COPY."""
    geometries = shapely.set_srid(np.asarray(geometries, dtype=object), 4326)
    return shapely.to_wkb(geometries, hex=True, include_srid=True, output_dimension=2)


class PostGISStore(Store):
    """:class:`~layers.store.base.Store` in the ``mapsvc`` schema of a PostGIS database."""

    def __init__(self, url, *, pool_max=POOL_MAX):
        self.url = url
        self.location = redact_url(url)
        self.pool_max = pool_max
        self._pool = None
        self._pid = None
        self._forgotten = []  # a parent's pools, kept referenced in a forked child so their sockets stay shut
        self._pool_lock = threading.Lock()
        self.spatial = PgSpatial(self)
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                migrate(conn)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot reach the PostGIS store {self.location}: {exc}".strip()) from None

    # --- connections and transactions ----------------------------------------------------------

    @staticmethod
    def _configure(conn):
        conn.execute(f"SET search_path TO {SCHEMA}, public")

    def _pool_here(self):
        if self._pool is None or self._pid != os.getpid():
            with self._pool_lock:
                if self._pool is None or self._pid != os.getpid():
                    if self._pool is not None:
                        self._forgotten.append(self._pool)  # the parent's: never closed from here
                    self._pool = ConnectionPool(self.url, min_size=1, max_size=self.pool_max, open=True,
                                                kwargs={"autocommit": True}, configure=self._configure,
                                                name="mapsvc-store")
                    self._pid = os.getpid()
        return self._pool

    @contextmanager
    def _conn(self):
        try:
            with self._pool_here().connection(timeout=30) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"the PostGIS store {self.location} failed: {exc}".strip()) from None

    @contextmanager
    def _read(self):
        """A read-only REPEATABLE READ transaction: one consistent snapshot over several queries."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield conn

    @contextmanager
    def _write(self):
        """One write transaction; the generation bump comes first, so its row lock orders the writers."""
        with self._conn() as conn, conn.transaction():
            conn.execute("UPDATE store_info SET value = value + 1 WHERE key = 'generation'")
            yield conn
            conn.execute(f"NOTIFY {SCHEMA}_changes")

    def close(self):
        with self._pool_lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None

    @staticmethod
    def _audit(db, actor, action, layer_id=None, version=None, **detail):
        db.execute("INSERT INTO audit (at, actor, action, layer_id, version, detail) VALUES (%s, %s, %s, %s, %s, %s)",
                   (now_iso(), actor, action, layer_id, version, json.dumps(detail, ensure_ascii=False)))

    # --- change feed ---------------------------------------------------------------------------

    def generation(self):
        with self._conn() as conn:
            return conn.execute("SELECT value FROM store_info WHERE key = 'generation'").fetchone()[0]

    # --- layers ----------------------------------------------------------------------------------

    def list_layers(self):
        with self._conn() as conn:
            return [record_from_row(r) for r in conn.execute(RECORD_SQL + " ORDER BY l.id")]

    @staticmethod
    def _record_in(db, layer_id):
        row = db.execute(RECORD_SQL + " WHERE l.id = %s", (layer_id,)).fetchone()
        if row is None:
            raise LayerNotFound(layer_id)
        return record_from_row(row)

    def layer_record(self, layer_id):
        with self._conn() as conn:
            return self._record_in(conn, layer_id)

    @staticmethod
    def _version_row(db, layer_id, number):
        if number is None:
            row = db.execute(VERSION_SQL + " WHERE v.id = l.current_version AND l.id = %s", (layer_id,)).fetchone()
        else:
            row = db.execute(VERSION_SQL + " WHERE v.layer_id = %s AND v.number = %s", (layer_id, number)).fetchone()
        if row is None:
            if number is not None and db.execute("SELECT 1 FROM layers WHERE id = %s", (layer_id,)).fetchone():
                raise LayerNotFound(f"{layer_id} version {number}")
            raise LayerNotFound(layer_id)
        return row

    @staticmethod
    def read_content(db, content_id):
        """(property dicts, geometries) of one stored content, in order."""
        rows = db.execute("SELECT properties, ST_AsBinary(geom) FROM features WHERE content_id = %s ORDER BY seq",
                          (content_id,)).fetchall()
        properties = [json.loads(p) for p, _ in rows]
        geometries = shapely.from_wkb(np.array([bytes(g) for _, g in rows], dtype=object)) if rows else np.array(
            [], dtype=object)
        return properties, geometries

    def read_layer(self, layer_id, number=None, *, verify=False):
        with self._read() as db:
            record = self._record_in(db, layer_id)
            row = self._version_row(db, layer_id, number)
            properties, geometries = self.read_content(db, row[10])
        version = version_from_row(row)
        if len(properties) != version.feature_count or (
                verify and content_sha256(properties, geometries) != version.sha256):
            raise LayerInvalid(f"{self.location}:{layer_id}", None,
                               f"version {version.number}: stored content does not match its recorded hash")
        return StoredLayer(record=record, version=version, meta=version.meta, properties=properties,
                           geometries=geometries)

    @staticmethod
    def insert_content(db, properties, geometries, *, sha=None, content_id=None):
        """Store one content (COPY of its features); its id and SHA-256."""
        geometries = np.asarray(geometries, dtype=object)
        sha = sha or content_sha256(properties, geometries)
        vertices = int(shapely.get_num_coordinates(geometries).sum()) if len(geometries) else 0
        if content_id is None:
            content_id = db.execute("INSERT INTO contents (sha256, feature_count, vertex_count) VALUES (%s, %s, %s) "
                                    "RETURNING id", (sha, len(properties), vertices)).fetchone()[0]
        else:
            db.execute("INSERT INTO contents (id, sha256, feature_count, vertex_count) VALUES (%s, %s, %s, %s)",
                       (content_id, sha, len(properties), vertices))
        with db.cursor().copy("COPY features (content_id, seq, properties, geom) FROM STDIN") as copy:
            for i, (p, g) in enumerate(zip(properties, hex_ewkb(geometries))):
                copy.write_row((content_id, i, properties_json(p), g))
        return content_id, sha

    @staticmethod
    def _new_version(db, layer_id, content_id, meta, actor_id, note):
        number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE layer_id = %s",
                            (layer_id,)).fetchone()[0]
        version_id = db.execute(
            "INSERT INTO versions (layer_id, number, content_id, metadata, created_at, created_by, note) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (layer_id, number, content_id, json.dumps(meta, ensure_ascii=False, sort_keys=True), now_iso(), actor_id,
             note)).fetchone()[0]
        db.execute("UPDATE layers SET current_version = %s, updated_at = %s WHERE id = %s",
                   (version_id, now_iso(), layer_id))
        return version_id, number

    @staticmethod
    def _actor_id(db, actor):
        row = db.execute("SELECT id FROM users WHERE name = %s", (actor,)).fetchone()
        return row[0] if row else None

    def save_layer(self, layer_id, meta, properties, geometries, *, owner_id, actor, note, replace=False,
                   public=False, expected_number=None):
        if len(properties) != len(geometries):
            raise ValueError("properties and geometries differ in length")
        with self._write() as db:
            exists = db.execute("SELECT 1 FROM layers WHERE id = %s", (layer_id,)).fetchone() is not None
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
                db.execute("INSERT INTO layers (id, owner_id, public, current_version, created_at, updated_at) "
                           "VALUES (%s, %s, %s, 0, %s, %s)", (layer_id, owner_id, bool(public), now_iso(), now_iso()))
            content_id, sha = self.insert_content(db, properties, geometries)
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
            db.execute("UPDATE layers SET public = %s, updated_at = %s WHERE id = %s",
                       (bool(public), now_iso(), layer_id))
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
            db.execute("DELETE FROM layers WHERE id = %s", (layer_id,))  # versions cascade
            db.execute("DELETE FROM contents c WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.content_id = c.id) "
                       "AND NOT EXISTS (SELECT 1 FROM fixed_layers f WHERE f.content_id = c.id)")  # features cascade
            self._audit(db, actor, "delete", layer_id, record.number, title=record.title)

    def versions(self, layer_id):
        with self._read() as db:
            self._record_in(db, layer_id)
            return [version_from_row(r) for r in db.execute(VERSION_SQL + " WHERE v.layer_id = %s ORDER BY v.number",
                                                    (layer_id,))]

    # --- users and tokens --------------------------------------------------------------------------

    def create_user(self, name, password_hash, *, actor):
        with self._write() as db:
            if db.execute("SELECT 1 FROM users WHERE name = %s", (name,)).fetchone():
                raise StoreConflict(f"user name {name!r} is taken")
            row = db.execute("INSERT INTO users (name, password_hash, created_at) VALUES (%s, %s, %s) "
                             "RETURNING id, name, password_hash, created_at",
                             (name, password_hash, now_iso())).fetchone()
            self._audit(db, actor, "user.create", user=name)
            return user_from_row(row)

    def user(self, *, user_id=None, name=None):
        column, value = ("id", user_id) if user_id is not None else ("name", name)
        with self._conn() as conn:
            sql = f"SELECT id, name, password_hash, created_at FROM users WHERE {column} = %s"
            return user_from_row(conn.execute(sql, (value,)).fetchone())

    def users(self):
        with self._conn() as conn:
            return [user_from_row(r) for r in conn.execute(
                "SELECT id, name, password_hash, created_at FROM users ORDER BY name COLLATE \"C\"")]

    def set_password(self, user_id, password_hash, *, actor):
        with self._write() as db:
            db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))
            self._audit(db, actor, "user.password", user_id=user_id)

    def create_token(self, user_id, token_hash, label, *, actor):
        with self._write() as db:
            at = now_iso()
            token_id = db.execute("INSERT INTO tokens (user_id, token_hash, label, created_at) "
                                  "VALUES (%s, %s, %s, %s) RETURNING id",
                                  (user_id, token_hash, label, at)).fetchone()[0]
            self._audit(db, actor, "token.create", token_id=token_id, label=label)
            return TokenRecord(token_id, user_id, label, at, None, None)

    def user_for_token(self, token_hash):
        with self._conn() as db:
            row = db.execute("SELECT u.id, u.name, u.password_hash, u.created_at, t.id, t.last_used_at FROM tokens t "
                             "JOIN users u ON u.id = t.user_id WHERE t.token_hash = %s AND t.revoked_at IS NULL",
                             (token_hash,)).fetchone()
            if row is None:
                return None
            if (row[5] or "")[:10] != now_iso()[:10]:  # noted once a day, not written per request
                db.execute("UPDATE tokens SET last_used_at = %s WHERE id = %s", (now_iso(), row[4]))
            return user_from_row(row[:4])

    def tokens(self, user_id):
        with self._conn() as conn:
            rows = conn.execute("SELECT id, user_id, label, created_at, last_used_at, revoked_at FROM tokens "
                                "WHERE user_id = %s ORDER BY id DESC", (user_id,))
            return [TokenRecord(*r) for r in rows]

    def revoke_token(self, user_id, token_id, *, actor):
        with self._write() as db:
            cur = db.execute("UPDATE tokens SET revoked_at = %s WHERE id = %s AND user_id = %s AND revoked_at IS NULL",
                             (now_iso(), token_id, user_id))
            if cur.rowcount:
                self._audit(db, actor, "token.revoke", token_id=token_id)
            return bool(cur.rowcount)

    # --- audit and upkeep ------------------------------------------------------------------------------

    def audit_log(self, *, layer_id=None, actor=None, limit=100):
        where, args = [], []
        if layer_id is not None:
            where.append("layer_id = %s")
            args.append(layer_id)
        if actor is not None:
            where.append("actor = %s")
            args.append(actor)
        sql = "SELECT id, at, actor, action, layer_id, version, detail FROM audit"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT %s"
        with self._conn() as conn:
            return [AuditEntry(*r[:6], json.loads(r[6])) for r in conn.execute(sql, (*args, int(limit)))]

    def check(self):
        problems = []
        with self._conn() as db:
            versions = db.execute("SELECT layer_id, number FROM versions ORDER BY layer_id, number").fetchall()
            problems += [f"layer {r[0]}: current version {r[1]} does not exist" for r in db.execute(
                "SELECT l.id, l.current_version FROM layers l LEFT JOIN versions v ON v.id = l.current_version "
                "WHERE v.id IS NULL OR v.layer_id <> l.id")]
        for layer_id, number in versions:
            try:
                self.read_layer(layer_id, number, verify=True)
            except (LayerInvalid, LayerNotFound, ValueError, shapely.errors.GEOSException) as exc:
                problems.append(f"{layer_id} version {number}: {exc}")
        return problems

    def backup(self, path):
        """A consistent copy as an embedded store file (``store.sqlite`` form), written atomically."""
        from layers.store.migrate import backup_to_sqlite

        backup_to_sqlite(self, path)
