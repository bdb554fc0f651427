"""The PostGIS store's schema: created on first start, upgraded in order, safe when replicas start at once.

Everything lives in the ``mapsvc`` schema. ``mapsvc.store_info`` row
``schema_version`` says which of :data:`MIGRATIONS` have run; :func:`migrate`
applies the missing ones in one transaction holding a transaction-level
advisory lock, so several instances starting together against an empty
database create it once (the others wait, then find it current). A database
whose schema is newer than this code is refused, never downgraded.
"""

from __future__ import annotations

from layers.errors import LayerInvalid

__all__ = ["ADVISORY_LOCK", "MIGRATIONS", "SCHEMA", "SCHEMA_VERSION", "migrate", "schema_version"]

SCHEMA = "mapsvc"
ADVISORY_LOCK = 0x6D617073_7663  # "mapsvc": one lock id for schema changes and the fixed-layer load

# Each entry upgrades version i to i + 1; never edit one that has shipped: append.
MIGRATIONS = (
    f"""
    CREATE TABLE {SCHEMA}.store_info (key text PRIMARY KEY, value bigint NOT NULL);
    INSERT INTO {SCHEMA}.store_info (key, value) VALUES ('generation', 0);
    CREATE TABLE {SCHEMA}.users (
        id bigserial PRIMARY KEY, name text UNIQUE NOT NULL, password_hash text NOT NULL, created_at text NOT NULL);
    CREATE TABLE {SCHEMA}.tokens (
        id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES {SCHEMA}.users(id) ON DELETE CASCADE,
        token_hash text UNIQUE NOT NULL, label text NOT NULL, created_at text NOT NULL, last_used_at text,
        revoked_at text);
    CREATE TABLE {SCHEMA}.contents (
        id bigserial PRIMARY KEY, sha256 text NOT NULL, feature_count integer NOT NULL, vertex_count bigint NOT NULL);
    CREATE TABLE {SCHEMA}.features (
        content_id bigint NOT NULL REFERENCES {SCHEMA}.contents(id) ON DELETE CASCADE, seq integer NOT NULL,
        properties text NOT NULL, geom public.geometry(Geometry, 4326) NOT NULL, PRIMARY KEY (content_id, seq));
    CREATE INDEX features_geom ON {SCHEMA}.features USING gist (geom);
    CREATE TABLE {SCHEMA}.layers (
        id text PRIMARY KEY, owner_id bigint REFERENCES {SCHEMA}.users(id), public boolean NOT NULL,
        current_version bigint NOT NULL, created_at text NOT NULL, updated_at text NOT NULL);
    CREATE TABLE {SCHEMA}.versions (
        id bigserial PRIMARY KEY, layer_id text NOT NULL REFERENCES {SCHEMA}.layers(id) ON DELETE CASCADE,
        number integer NOT NULL, content_id bigint NOT NULL REFERENCES {SCHEMA}.contents(id),
        metadata text NOT NULL, created_at text NOT NULL, created_by bigint, note text NOT NULL,
        UNIQUE (layer_id, number));
    CREATE TABLE {SCHEMA}.audit (
        id bigserial PRIMARY KEY, at text NOT NULL, actor text NOT NULL, action text NOT NULL, layer_id text,
        version integer, detail text NOT NULL);
    CREATE INDEX audit_layer ON {SCHEMA}.audit (layer_id, id);
    -- copies of the built-in and folder layers (read from files by every instance), for spatial queries
    CREATE TABLE {SCHEMA}.fixed_layers (
        layer_id text PRIMARY KEY, version text NOT NULL, content_id bigint NOT NULL REFERENCES {SCHEMA}.contents(id));
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn):
    """The schema version of the database ``conn`` is on (0: no store yet)."""
    found = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.store_info",)).fetchone()[0]
    if found is None:
        return 0
    row = conn.execute(f"SELECT value FROM {SCHEMA}.store_info WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn):
    """Create or upgrade the schema on ``conn`` (an autocommit psycopg connection); the version reached."""
    if schema_version(conn) == SCHEMA_VERSION:
        return SCHEMA_VERSION  # the common case: no lock taken
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is None:
            # needs the right to create extensions (a superuser, or the database owner on PostgreSQL 13+
            # for trusted ones); otherwise the operator runs it once (README)
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        current = schema_version(conn)  # again, under the lock: another instance may have just done it
        if current > SCHEMA_VERSION:
            raise LayerInvalid(f"{SCHEMA} schema", None, f"store schema version {current} is newer than this code "
                                                         f"({SCHEMA_VERSION}); upgrade the service")
        for step in MIGRATIONS[current:]:
            conn.execute(step)
        conn.execute(f"INSERT INTO {SCHEMA}.store_info (key, value) VALUES ('schema_version', %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (SCHEMA_VERSION,))
    return SCHEMA_VERSION
