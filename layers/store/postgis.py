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
    StoredLayer,
    content_sha256,
    properties_json,
    version_from_row,
)
from layers.store.pg_schema import SCHEMA, migrate
from layers.store.pg_spatial import PgSpatial
from layers.store.sql import SqlStore

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


class PostGISStore(SqlStore):
    """:class:`~layers.store.base.Store` in the ``mapsvc`` schema of a PostGIS database."""

    PARAM = "%s"
    NAME_ORDER = 'COLLATE "C"'  # the database's locale would sort names otherwise; SQLite sorts bytes

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

    _query = _conn

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

    # --- layer contents ----------------------------------------------------------------------------

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
    def _delete_unused_contents(db):
        db.execute("DELETE FROM contents c WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.content_id = c.id) "
                   "AND NOT EXISTS (SELECT 1 FROM fixed_layers f WHERE f.content_id = c.id)")

    # --- upkeep ------------------------------------------------------------------------------------

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
