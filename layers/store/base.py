"""The store interface: where user layers, their versions, users, API tokens and the audit log persist.

The catalogue (:mod:`layers.catalog`) reads user layers from a :class:`Store`,
never from paths; the web app writes through it. Two implementations share
this contract: :class:`layers.store.embedded.EmbeddedStore` (the default,
SQLite under a data directory, no set-up) and a PostGIS store (issue 17),
chosen by one setting (:func:`layers.store.open_store`).

Contract every implementation keeps
-----------------------------------
- **Atomic, durable writes.** Each mutating method is one transaction: after
  it returns, the change survives ``kill -9`` and power loss; if the process
  dies inside it, nothing of it is visible afterwards. A saved layer is never
  seen half-written, by this process or any other.
- **Generation counter.** :meth:`Store.generation` grows with every committed
  change (layers, visibility, metadata). Readers in any process compare it
  with the value they loaded to know when to re-read (:meth:`list_layers`):
  this is how several processes or replicas over one store stay consistent.
- **Versions.** Every change to a layer's content or metadata makes a new
  version with a store-wide unique, increasing ``version_id`` (never reused,
  even after a delete) and a per-layer ``number`` (1, 2, 3 ...). Rolling back
  to version *n* makes a new version carrying *n*'s content and metadata, so
  history only grows. Caches key on ``version_id``.
- **Content.** A layer version's features are stored as given: property
  dicts (JSON-able) and shapely geometries in EPSG:4326, in order, plus the
  content's SHA-256 (:func:`content_sha256`) which :meth:`read_layer` can
  verify. Validation is the caller's job (:mod:`layers.schema`); the store
  keeps what it is handed, exactly.
- **Policy-free.** The store records owners and visibility but does not
  decide who may do what: that is the web layer's (``webapp.accounts``). It
  raises :class:`~layers.errors.LayerNotFound` for unknown layers and
  :class:`StoreConflict` for ids taken or stale replacements.
- **Secrets arrive hashed.** Passwords and API tokens are stored as the
  hashes the caller computed; the store never sees a clear-text secret.
- **Audit.** Every mutating layer/user/token method appends one
  :class:`AuditEntry` in the same transaction as the change.
- **Thread-safe.** One store object is shared by every thread of a process.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import shapely

from layers.errors import MapError

__all__ = [
    "AuditEntry",
    "LayerRecord",
    "Store",
    "StoreConflict",
    "StoredLayer",
    "TokenRecord",
    "UserRecord",
    "VersionRecord",
    "content_sha256",
    "now_iso",
    "properties_json",
    "record_from_row",
    "user_from_row",
    "version_from_row",
    "RECORD_SQL",
    "VERSION_SQL",
]


class StoreConflict(MapError):
    """The change collides with the store's state (id taken, user exists)."""

    status = 409


@dataclass(frozen=True)
class LayerRecord:
    """A user layer's catalogue entry: who owns it, who may see it, which version is current."""

    id: str
    owner_id: int | None
    public: bool
    version_id: int  # store-wide unique id of the current version
    number: int  # per-layer version number of the current version (1, 2, ...)
    title: str
    feature_count: int
    vertex_count: int
    sha256: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class VersionRecord:
    """One version of a layer: its content (by hash), metadata and why it was made."""

    version_id: int
    number: int
    layer_id: str
    created_at: str
    created_by: int | None
    note: str
    feature_count: int
    sha256: str
    meta: dict = field(repr=False)
    current: bool = False


@dataclass(frozen=True)
class StoredLayer:
    """A layer version as read back: its record, metadata, property dicts and geometries (EPSG:4326)."""

    record: LayerRecord
    version: VersionRecord
    meta: dict
    properties: list
    geometries: np.ndarray


@dataclass(frozen=True)
class UserRecord:
    """An account. ``password_hash`` is whatever the web layer's hasher produced."""

    id: int
    name: str
    password_hash: str = field(repr=False)
    created_at: str


@dataclass(frozen=True)
class TokenRecord:
    """An API token's record (its hash only; the token itself is shown once, at creation)."""

    id: int
    user_id: int
    label: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


@dataclass(frozen=True)
class AuditEntry:
    """One change: when, by whom (user name, or ``cli``/``system``), what, to which layer/version."""

    id: int
    at: str
    actor: str
    action: str
    layer_id: str | None
    version: int | None
    detail: dict


def now_iso():
    """The current UTC time as ISO 8601 to the second (the stores' timestamp form)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def properties_json(props):
    """The canonical JSON text of one feature's properties (sorted keys, UTF-8, no NaN)."""
    return json.dumps(props, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def content_sha256(properties, geometries):
    """SHA-256 (hex) of a layer's content: each feature's canonical properties JSON and its WKB, in order.

    The same features give the same hash in every store, so a migrated or
    restored layer can be checked against its record.
    """
    digest = hashlib.sha256()
    wkb = shapely.to_wkb(np.asarray(geometries, dtype=object), output_dimension=2)
    for props, blob in zip(properties, wkb):
        text = properties_json(props).encode("utf-8")
        digest.update(len(text).to_bytes(8, "big"))
        digest.update(text)
        digest.update(len(blob).to_bytes(8, "big"))
        digest.update(blob)
    return digest.hexdigest()


# --- rows of the tables both stores share (same names and columns; only placeholders differ) --------

RECORD_SQL = """
SELECT l.id, l.owner_id, l.public, v.id, v.number, v.metadata, c.feature_count, c.vertex_count, c.sha256,
       l.created_at, l.updated_at
FROM layers l JOIN versions v ON v.id = l.current_version JOIN contents c ON c.id = v.content_id
"""
VERSION_SQL = """
SELECT v.id, v.number, v.layer_id, v.created_at, v.created_by, v.note, c.feature_count, c.sha256, v.metadata,
       v.id = l.current_version, v.content_id
FROM versions v JOIN contents c ON c.id = v.content_id JOIN layers l ON l.id = v.layer_id
"""


def record_from_row(row):
    """A :class:`LayerRecord` from a RECORD_SQL row."""
    meta = json.loads(row[5])
    return LayerRecord(id=row[0], owner_id=row[1], public=bool(row[2]), version_id=row[3], number=row[4],
                       title=str(meta.get("title", row[0])), feature_count=row[6], vertex_count=row[7],
                       sha256=row[8], created_at=row[9], updated_at=row[10])


def version_from_row(row):
    """A :class:`VersionRecord` from a VERSION_SQL row."""
    return VersionRecord(version_id=row[0], number=row[1], layer_id=row[2], created_at=row[3], created_by=row[4],
                         note=row[5], feature_count=row[6], sha256=row[7], meta=json.loads(row[8]),
                         current=bool(row[9]))


def user_from_row(row):
    """A :class:`UserRecord` from (id, name, password_hash, created_at), or None."""
    return None if row is None else UserRecord(id=row[0], name=row[1], password_hash=row[2], created_at=row[3])


class Store(ABC):
    """Persistence for user layers, versions, users, tokens and the audit log (see the module docstring)."""

    #: human-readable location (a path or a database URL without password), shown on /status
    location: str = ""

    # --- change feed ---------------------------------------------------------------------------

    @abstractmethod
    def generation(self) -> int:
        """A number that grows with every committed change; cheap enough to call on every request."""

    # --- layers ------------------------------------------------------------------------------------

    @abstractmethod
    def list_layers(self) -> list[LayerRecord]:
        """Every user layer's current record, sorted by id."""

    @abstractmethod
    def layer_record(self, layer_id: str) -> LayerRecord:
        """The current record of one layer; raises LayerNotFound."""

    @abstractmethod
    def read_layer(self, layer_id: str, number: int | None = None, *, verify: bool = False) -> StoredLayer:
        """The current (or the given ``number``) version of a layer; ``verify`` re-hashes the content
        and raises :class:`~layers.errors.LayerInvalid` if it differs from the recorded SHA-256."""

    @abstractmethod
    def save_layer(self, layer_id: str, meta: dict, properties: list, geometries, *, owner_id: int | None,
                   actor: str, note: str, replace: bool = False, public: bool = False,
                   expected_number: int | None = None) -> LayerRecord:
        """Store a new layer, or (``replace``) a new content version of an existing one; one transaction.

        A new layer takes ``owner_id`` and ``public``; a replacement keeps
        both. ``expected_number``: refuse (StoreConflict) unless the current
        version is that one, so two concurrent replacements cannot silently
        overwrite each other. Creating an id that exists raises StoreConflict.
        """

    @abstractmethod
    def update_metadata(self, layer_id: str, meta: dict, *, actor: str, note: str) -> LayerRecord:
        """A new version with the same content and new metadata."""

    @abstractmethod
    def set_public(self, layer_id: str, public: bool, *, actor: str) -> LayerRecord:
        """Publish (True) or make private (False); not a new version."""

    @abstractmethod
    def rollback(self, layer_id: str, number: int, *, actor: str) -> LayerRecord:
        """A new version carrying version ``number``'s content and metadata."""

    @abstractmethod
    def delete_layer(self, layer_id: str, *, actor: str) -> None:
        """Remove the layer with all its versions and content (the audit entry stays)."""

    @abstractmethod
    def versions(self, layer_id: str) -> list[VersionRecord]:
        """Every version of a layer, oldest first; the current one has ``current=True``."""

    # --- users and tokens -------------------------------------------------------------------------

    @abstractmethod
    def create_user(self, name: str, password_hash: str, *, actor: str) -> UserRecord:
        """A new account; StoreConflict if the name is taken."""

    @abstractmethod
    def user(self, *, user_id: int | None = None, name: str | None = None) -> UserRecord | None:
        """The account with this id or name, or None."""

    @abstractmethod
    def users(self) -> list[UserRecord]:
        """Every account, by name."""

    @abstractmethod
    def set_password(self, user_id: int, password_hash: str, *, actor: str) -> None:
        """Replace an account's password hash."""

    @abstractmethod
    def create_token(self, user_id: int, token_hash: str, label: str, *, actor: str) -> TokenRecord:
        """Record a new API token (by its hash)."""

    @abstractmethod
    def user_for_token(self, token_hash: str) -> UserRecord | None:
        """The owner of a live (not revoked) token with this hash, or None; notes its use."""

    @abstractmethod
    def tokens(self, user_id: int) -> list[TokenRecord]:
        """An account's tokens, newest first."""

    @abstractmethod
    def revoke_token(self, user_id: int, token_id: int, *, actor: str) -> bool:
        """Revoke one of the account's tokens; False if it has no such live token."""

    # --- audit and upkeep ----------------------------------------------------------------------------

    @abstractmethod
    def audit_log(self, *, layer_id: str | None = None, actor: str | None = None,
                  limit: int = 100) -> list[AuditEntry]:
        """The newest audit entries first, optionally for one layer or one actor."""

    @abstractmethod
    def check(self) -> list[str]:
        """Problems found by a full integrity check (database and every version's hash); [] when sound."""

    @abstractmethod
    def backup(self, path) -> None:
        """Write a consistent copy of the whole store to ``path`` while it keeps serving."""

    def close(self) -> None:  # noqa: B027 - optional for stores that hold nothing open
        """Release connections."""
