"""What both SQL stores do the same way: layers, versions, users, tokens and the audit log, in one place.

Both stores keep the same tables, names and columns
(:mod:`layers.store.embedded` on SQLite, :mod:`layers.store.postgis`); the
SQL here is written once with ``?`` placeholders, and a store whose driver
wants another style says so in :attr:`SqlStore.PARAM`. A store supplies its
connections and transactions (``_query``, ``_read``, ``_write``), how a
content's features are written (``insert_content``) and read, and which
contents a deleted layer leaves unused.
"""

from __future__ import annotations

import json
from abc import abstractmethod

from layers.errors import LayerNotFound
from layers.store.base import (
    RECORD_SQL,
    VERSION_SQL,
    AuditEntry,
    Store,
    StoreConflict,
    TokenRecord,
    now_iso,
    record_from_row,
    user_from_row,
    version_from_row,
)

__all__ = ["SqlStore"]

_USER_COLUMNS = "id, name, password_hash, created_at"


class SqlStore(Store):
    """The :class:`~layers.store.base.Store` methods both SQL stores share."""

    PARAM = "?"  # the driver's placeholder (psycopg: %s)
    NAME_ORDER = ""  # the collation that sorts names byte by byte, where the default does not

    def _q(self, sql):
        return sql if self.PARAM == "?" else sql.replace("?", self.PARAM)

    @abstractmethod
    def _query(self):
        """Context manager: a connection for single statements (autocommit)."""

    @abstractmethod
    def _read(self):
        """Context manager: one consistent snapshot over several queries."""

    @abstractmethod
    def _write(self):
        """Context manager: one atomic write transaction that bumps the generation."""

    @abstractmethod
    def insert_content(self, db, properties, geometries):
        """Store one content's features; ``(content id, SHA-256)``."""

    @abstractmethod
    def _delete_unused_contents(self, db):
        """Delete the contents no version (nor anything else the store keeps) refers to."""

    def _audit(self, db, actor, action, layer_id=None, version=None, **detail):
        db.execute(self._q("INSERT INTO audit (at, actor, action, layer_id, version, detail) "
                           "VALUES (?, ?, ?, ?, ?, ?)"),
                   (now_iso(), actor, action, layer_id, version, json.dumps(detail, ensure_ascii=False)))

    # --- change feed ---------------------------------------------------------------------------

    def generation(self):
        with self._query() as db:
            return db.execute("SELECT value FROM store_info WHERE key = 'generation'").fetchone()[0]

    # --- layers ----------------------------------------------------------------------------------

    def list_layers(self):
        with self._query() as db:
            return [record_from_row(r) for r in db.execute(RECORD_SQL + " ORDER BY l.id")]

    def _record_in(self, db, layer_id):
        row = db.execute(self._q(RECORD_SQL + " WHERE l.id = ?"), (layer_id,)).fetchone()
        if row is None:
            raise LayerNotFound(layer_id)
        return record_from_row(row)

    def layer_record(self, layer_id):
        with self._query() as db:
            return self._record_in(db, layer_id)

    def _version_row(self, db, layer_id, number):
        if number is None:
            row = db.execute(self._q(VERSION_SQL + " WHERE v.id = l.current_version AND l.id = ?"),
                             (layer_id,)).fetchone()
        else:
            row = db.execute(self._q(VERSION_SQL + " WHERE v.layer_id = ? AND v.number = ?"),
                             (layer_id, number)).fetchone()
        if row is None:
            if number is not None and db.execute(self._q("SELECT 1 FROM layers WHERE id = ?"), (layer_id,)).fetchone():
                raise LayerNotFound(f"{layer_id} version {number}")
            raise LayerNotFound(layer_id)
        return row

    def _new_version(self, db, layer_id, content_id, meta, actor_id, note):
        number = db.execute(self._q("SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE layer_id = ?"),
                            (layer_id,)).fetchone()[0]
        version_id = db.execute(self._q(
            "INSERT INTO versions (layer_id, number, content_id, metadata, created_at, created_by, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"),
            (layer_id, number, content_id, json.dumps(meta, ensure_ascii=False, sort_keys=True), now_iso(), actor_id,
             note)).fetchone()[0]
        db.execute(self._q("UPDATE layers SET current_version = ?, updated_at = ? WHERE id = ?"),
                   (version_id, now_iso(), layer_id))
        return version_id, number

    def _actor_id(self, db, actor):
        row = db.execute(self._q("SELECT id FROM users WHERE name = ?"), (actor,)).fetchone()
        return row[0] if row else None

    def save_layer(self, layer_id, meta, properties, geometries, *, owner_id, actor, note, replace=False,
                   public=False, expected_number=None):
        if len(properties) != len(geometries):
            raise ValueError("properties and geometries differ in length")
        with self._write() as db:
            exists = db.execute(self._q("SELECT 1 FROM layers WHERE id = ?"), (layer_id,)).fetchone() is not None
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
                db.execute(self._q("INSERT INTO layers (id, owner_id, public, current_version, created_at, updated_at) "
                                   "VALUES (?, ?, ?, 0, ?, ?)"), (layer_id, owner_id, bool(public), now_iso(),
                                                                  now_iso()))
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
            db.execute(self._q("UPDATE layers SET public = ?, updated_at = ? WHERE id = ?"),
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
            db.execute(self._q("DELETE FROM layers WHERE id = ?"), (layer_id,))  # versions cascade
            self._delete_unused_contents(db)  # features cascade
            self._audit(db, actor, "delete", layer_id, record.number, title=record.title)

    def versions(self, layer_id):
        with self._read() as db:
            self._record_in(db, layer_id)
            return [version_from_row(r) for r in db.execute(
                self._q(VERSION_SQL + " WHERE v.layer_id = ? ORDER BY v.number"), (layer_id,))]

    # --- users and tokens --------------------------------------------------------------------------

    def create_user(self, name, password_hash, *, actor):
        with self._write() as db:
            if db.execute(self._q("SELECT 1 FROM users WHERE name = ?"), (name,)).fetchone():
                raise StoreConflict(f"user name {name!r} is taken")
            row = db.execute(self._q(f"INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?) "
                                     f"RETURNING {_USER_COLUMNS}"), (name, password_hash, now_iso())).fetchone()
            self._audit(db, actor, "user.create", user=name)
            return user_from_row(row)

    def user(self, *, user_id=None, name=None):
        column, value = ("id", user_id) if user_id is not None else ("name", name)
        with self._query() as db:
            return user_from_row(db.execute(self._q(f"SELECT {_USER_COLUMNS} FROM users WHERE {column} = ?"),
                                            (value,)).fetchone())

    def users(self):
        with self._query() as db:
            return [user_from_row(r) for r in db.execute(
                f"SELECT {_USER_COLUMNS} FROM users ORDER BY name {self.NAME_ORDER}".rstrip())]

    def set_password(self, user_id, password_hash, *, actor):
        with self._write() as db:
            db.execute(self._q("UPDATE users SET password_hash = ? WHERE id = ?"), (password_hash, user_id))
            self._audit(db, actor, "user.password", user_id=user_id)

    def create_token(self, user_id, token_hash, label, *, actor):
        with self._write() as db:
            at = now_iso()
            token_id = db.execute(self._q("INSERT INTO tokens (user_id, token_hash, label, created_at) "
                                          "VALUES (?, ?, ?, ?) RETURNING id"),
                                  (user_id, token_hash, label, at)).fetchone()[0]
            self._audit(db, actor, "token.create", token_id=token_id, label=label)
            return TokenRecord(token_id, user_id, label, at, None, None)

    def user_for_token(self, token_hash):
        with self._query() as db:
            row = db.execute(self._q(
                "SELECT u.id, u.name, u.password_hash, u.created_at, t.id, t.last_used_at FROM tokens t "
                "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL"),
                (token_hash,)).fetchone()
            if row is None:
                return None
            if (row[5] or "")[:10] != now_iso()[:10]:  # noted once a day: a token used per request is not a write
                db.execute(self._q("UPDATE tokens SET last_used_at = ? WHERE id = ?"), (now_iso(), row[4]))
            return user_from_row(row[:4])

    def tokens(self, user_id):
        with self._query() as db:
            rows = db.execute(self._q("SELECT id, user_id, label, created_at, last_used_at, revoked_at FROM tokens "
                                      "WHERE user_id = ? ORDER BY id DESC"), (user_id,))
            return [TokenRecord(*r) for r in rows]

    def revoke_token(self, user_id, token_id, *, actor):
        with self._write() as db:
            cur = db.execute(self._q("UPDATE tokens SET revoked_at = ? WHERE id = ? AND user_id = ? "
                                     "AND revoked_at IS NULL"), (now_iso(), token_id, user_id))
            if cur.rowcount:
                self._audit(db, actor, "token.revoke", token_id=token_id)
            return bool(cur.rowcount)

    # --- audit ------------------------------------------------------------------------------------------

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
        with self._query() as db:
            return [AuditEntry(*r[:6], json.loads(r[6])) for r in db.execute(self._q(sql), (*args, int(limit)))]
