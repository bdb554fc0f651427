"""Where user layers persist: one interface (:mod:`layers.store.base`), chosen by one setting.

``open_store(database_url, data_dir)``: an empty ``database_url`` (the
default) gives the embedded SQLite store under ``data_dir``; ``sqlite:///path``
puts it elsewhere; ``postgresql://…`` (or ``postgres://``) is the PostGIS
store (:mod:`layers.store.postgis`), which creates its schema on first use.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from layers.errors import BadParameter
from layers.store.base import Store, StoreConflict

__all__ = ["Store", "StoreConflict", "open_store"]


def open_store(database_url="", data_dir=None, *, pool_max=None):
    """The :class:`Store` that ``database_url`` names (empty: embedded under ``data_dir``)."""
    from layers.store.embedded import EmbeddedStore

    url = (database_url or "").strip()
    if not url:
        if data_dir is None:
            raise BadParameter("DATA_DIR", "no data directory for the embedded store")
        return EmbeddedStore(data_dir)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        # SQLAlchemy's spelling: sqlite:///relative/dir, sqlite:////absolute/dir
        return EmbeddedStore(Path(url[len("sqlite://"):][1:]))
    if scheme in ("postgresql", "postgres"):
        from layers.store.postgis import POOL_MAX, PostGISStore

        return PostGISStore(url, pool_max=pool_max or POOL_MAX)
    raise BadParameter("DATABASE_URL", f"unknown store scheme {scheme!r} (use postgresql://user@host/db, "
                                       "sqlite:///path, or leave it empty)")
