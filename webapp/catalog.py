"""The app's layers: the store, the live catalogue over it, and the catalogue each request may see.

``init_app`` reads the built-in layers, loads the layer folders leniently
(a bad file is skipped and listed on ``/status``, never fatal), opens the
store (:func:`layers.store.open_store`: the embedded SQLite store under
``DATA_DIR`` unless ``DATABASE_URL`` names another) and builds the
:class:`~layers.live.LiveCatalog`. :func:`current_catalog` is the view of the
user making the request (anonymous: built-in, folder and published layers;
signed in: plus their own private layers), refreshed from the store once per
request.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import current_app, g

from layers.catalog import BUILTIN_LAYERS_DIR, read_layer_file
from layers.folder import load_folders
from layers.importers.formats import Limits
from layers.live import LiveCatalog
from layers.store import open_store

__all__ = ["current_catalog", "data_dir", "folder_limits", "forget_view", "import_limits", "init_app"]

UNPACK_FACTOR = 5  # archives and Parquet may unpack to this many times the upload limit


def data_dir(app):
    """The data directory: ``DATA_DIR``, else the app's instance folder."""
    return Path(app.config.get("DATA_DIR") or app.instance_path)


def _mb(value):
    return int(float(value) * 2**20)


def import_limits(config):
    """:class:`~layers.importers.formats.Limits` of one upload, from the ``IMPORT_*`` settings."""
    return Limits(max_bytes=_mb(config["IMPORT_MAX_MB"]),
                  max_unpacked_bytes=_mb(config["IMPORT_MAX_MB"]) * UNPACK_FACTOR,
                  max_features=config["IMPORT_MAX_VERTICES"], max_vertices=config["IMPORT_MAX_VERTICES"],
                  time_budget_s=float(config["IMPORT_TIME_BUDGET_S"]), memory_mb=config["IMPORT_MEMORY_MB"] or None)


def folder_limits(config):
    """Limits of one layer-folder file, from the ``LAYERS_DIR_*`` settings."""
    return Limits(max_bytes=_mb(config["LAYERS_DIR_MAX_MB"]),
                  max_unpacked_bytes=_mb(config["LAYERS_DIR_MAX_MB"]) * UNPACK_FACTOR,
                  max_features=config["LAYERS_DIR_MAX_VERTICES"], max_vertices=config["LAYERS_DIR_MAX_VERTICES"],
                  time_budget_s=float(config["LAYER_FILE_TIME_BUDGET_S"]),
                  memory_mb=config["IMPORT_MEMORY_MB"] * 4 or None)


def _secret_key(folder):
    """The key kept in ``folder/secret_key``, created (mode 0600, atomically) on first use."""
    path = folder / "secret_key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    tmp = folder / f".secret_key.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # first writer wins; a concurrent start reads the winner's key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text(encoding="ascii").strip()


def init_app(app):
    """Open the store, load the fixed layers and build the live catalogue; set the secret key."""
    folder = data_dir(app)
    folder.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(folder)
    builtin = [read_layer_file(p) for p in sorted(BUILTIN_LAYERS_DIR.glob("*.geojson"))]
    boundaries = next((lay.gdf for lay in builtin if lay.id == "boundaries"), None)
    found, problems = load_folders(app.config["LAYERS_DIRS"], reserved={lay.id for lay in builtin},
                                   limits=folder_limits(app.config), boundaries=boundaries)
    store = open_store(app.config["DATABASE_URL"], folder)
    app.extensions["store"] = store
    app.extensions["data_dir"] = folder
    app.extensions["catalog"] = LiveCatalog([*builtin, *found], store, problems=problems)


def current_catalog():
    """The catalogue the current request's user may read (anonymous outside a request)."""
    catalog = g.get("catalog")
    if catalog is None:
        user = g.get("user")
        catalog = current_app.extensions["catalog"].view(user.id if user is not None else None)
        g.catalog = catalog
    return catalog


def forget_view():
    """Drop this request's cached view (after it changed the store), so the next look is current."""
    g.pop("catalog", None)
