"""Imports as operations, shared by the web views and the CLI: stage, preview, save, edit, roll back, delete.

An upload is *staged* (``DATA_DIR/staging/<pid>-<import id>/``: the file as
received and who sent it), *previewed* (read in a bounded child process into
candidate layers with notes and problems) and *saved* as one store
transaction, after which the staging folder is removed. Nothing reaches the
store while a problem remains (unless the user chose to repair or skip),
and a failed or abandoned import leaves no trace: its staging folder is
removed at once, or -- if the process was killed -- at the next start.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

from layers.errors import BadParameter, LayerNotFound
from layers.importers.infer import ImportOptions
from layers.importers.user import fill_countries, finalize, prepare
from layers.schema import LAYER_ID_RE, validate_metadata
from layers.store import StoreConflict
from webapp.accounts.auth import NotAllowed
from webapp.catalog import import_limits

__all__ = ["STAGING_TTL_S", "Staged", "clean_staging", "delete_layer", "discard", "edit_layer", "find_staged",
           "editable_layer", "options_from", "preview", "rollback_layer", "save", "stage_file", "staging_root"]

STAGING_TTL_S = 6 * 3600  # a preview nobody saved is removed after this long
_IID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


@dataclass(frozen=True)
class Staged:
    """A received file waiting for its preview to be saved."""

    import_id: str
    folder: Path
    filename: str
    owner_id: int

    @property
    def path(self):
        return self.folder / "upload"


def staging_root(app):
    root = app.extensions["data_dir"] / "staging"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_staging(app, *, now=None):
    """Remove staging folders of dead processes and those older than :data:`STAGING_TTL_S`; return the count."""
    now = time.time() if now is None else now
    removed = 0
    for folder in staging_root(app).iterdir():
        pid_text = folder.name.split("-", 1)[0]
        pid = int(pid_text) if pid_text.isdigit() else None
        try:
            stale = now - folder.stat().st_mtime > STAGING_TTL_S
        except OSError:
            continue
        dead = pid is None or (pid != os.getpid() and not _alive(pid))
        if stale or dead:
            shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
            removed += 1
    return removed


def clean_filename(name):
    """The base name a client sent (no directories, no control characters), for display and format only."""
    base = str(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable()).strip()[:200]
    return base or "upload"


def stage_file(app, source, filename, owner_id):
    """Stage an upload: ``source`` is a werkzeug FileStorage (``.save``) or a path; returns :class:`Staged`."""
    import_id = secrets.token_urlsafe(16)
    folder = staging_root(app) / f"{os.getpid()}-{import_id}"
    folder.mkdir()
    staged = Staged(import_id, folder, clean_filename(filename), owner_id)
    try:
        if hasattr(source, "save"):
            source.save(staged.path)
        else:
            shutil.copyfile(source, staged.path)
        (folder / "staged.json").write_text(json.dumps({"filename": staged.filename, "owner_id": owner_id}))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return staged


def find_staged(app, import_id, user):
    """The staged import ``import_id`` of ``user``; LayerNotFound-like 404 otherwise (never another's)."""
    if not import_id or not set(import_id) <= _IID_CHARS or len(import_id) > 64:
        raise BadParameter("import", "not an import id")
    for folder in staging_root(app).glob(f"*-{import_id}"):
        try:
            info = json.loads((folder / "staged.json").read_text())
        except (OSError, ValueError):
            continue
        if info.get("owner_id") == user.id:
            return Staged(import_id, folder, info["filename"], user.id)
    raise LayerNotFound(f"import {import_id}")


def discard(staged):
    shutil.rmtree(staged.folder, ignore_errors=True)


def preview(app, staged, options=None):
    """The staged file's candidate layers (countries filled in from the boundaries layer)."""
    candidates = prepare(staged.path, staged.filename, import_limits(app.config), options or ImportOptions())
    catalog = app.extensions["catalog"]
    if "boundaries" in catalog:
        boundaries = catalog.layer("boundaries").gdf
        for candidate in candidates:
            fill_countries(candidate, boundaries)
    return candidates


def _free_id(store, wanted, reserved, *, explicit):
    if not LAYER_ID_RE.match(wanted or ""):
        raise BadParameter("layer_id", f"{wanted!r} must be 1-64 lower-case letters, digits or _")
    if wanted in reserved and explicit:
        raise BadParameter("layer_id", f"{wanted!r} is reserved (a built-in or folder layer, or the gazetteer "
                                       "'places'); choose another id")
    taken = {record.id for record in store.list_layers()}
    if wanted not in taken and wanted not in reserved:
        return wanted
    if explicit:
        raise StoreConflict(f"layer id {wanted!r} is not available; choose another")
    stem = wanted[:60]
    return next(f"{stem}_{n}" for n in range(2, 10_000) if f"{stem}_{n}" not in taken and f"{stem}_{n}" not in reserved)


def editable_layer(app, layer_id, user):
    """The store layer ``layer_id`` if ``user`` owns it: 404 when they may not even see it, 403 when read-only."""
    catalog = app.extensions["catalog"].view(user.id)
    layer = catalog.layer(layer_id)
    if layer.read_only:
        raise NotAllowed(f"layer {layer_id!r} is a built-in or folder layer: it changes only by editing its file")
    if layer.owner_id != user.id:
        raise NotAllowed(f"layer {layer_id!r} belongs to another account")
    return layer


def save(app, staged, user, options=None, *, public=False, replace_id=None):
    """Save the chosen layer of a staged import as a new layer (or a new version of ``replace_id``).

    Raises ImportRefused (422) listing every remaining problem, BadParameter
    for a reserved or malformed id, StoreConflict (409) for an id taken.
    Returns the store's :class:`~layers.store.base.LayerRecord`.
    """
    options = options or ImportOptions()
    candidates = preview(app, staged, options)
    if len(candidates) > 1:
        raise BadParameter("layer", "the file holds several layers; choose one: "
                           + ", ".join(c.name for c in candidates), [c.name for c in candidates])
    meta, props, geoms = finalize(candidates[0], staged.filename)
    store, catalog = app.extensions["store"], app.extensions["catalog"]
    if replace_id:
        target = editable_layer(app, replace_id, user)
        # a replacement keeps the layer's own metadata, except what this import names explicitly
        given = {k: getattr(options, k) for k in ("title", "description", "attribution", "licence") if getattr(
            options, k)}
        meta = {**target.meta, "source_file": meta["source_file"], "import_notes": meta["import_notes"], **given}
    else:
        meta["id"] = _free_id(store, options.layer_id or meta["id"], catalog.reserved_ids(),
                              explicit=bool(options.layer_id))
    validate_metadata(meta, staged.filename)
    note = f"import {staged.filename}" + (" (repaired)" if options.repair else "") + (
        " (problem features skipped)" if options.skip_invalid else "")
    record = store.save_layer(meta["id"], meta, props, geoms, owner_id=user.id, actor=user.name, note=note,
                              replace=bool(replace_id), public=public)
    discard(staged)
    catalog.refresh()
    return record


_EDITABLE = ("title", "description", "attribution", "licence")


def edit_layer(app, layer_id, user, changes):
    """Apply metadata ``changes`` (title, description, attribution, licence, colour) and/or ``public``."""
    layer = editable_layer(app, layer_id, user)
    store = app.extensions["store"]
    unknown = sorted(set(changes) - {*_EDITABLE, "public", "color"})
    if unknown:
        raise BadParameter(unknown[0], "not an editable field (editable: " + ", ".join((*_EDITABLE, "color",
                                                                                        "public")) + ")")
    meta = dict(layer.meta)
    for key in _EDITABLE:
        if key in changes:
            if not isinstance(changes[key], str) or not changes[key].strip():
                raise BadParameter(key, "must be a non-empty string")
            meta[key] = changes[key].strip()[:2000]
    if "color" in changes:
        meta["style"] = {**(meta.get("style") or {}), "color": changes["color"] or None}
    record = None
    if meta != layer.meta:
        validate_metadata(meta, layer_id)
        record = store.update_metadata(layer_id, meta, actor=user.name, note="metadata edited: " + ", ".join(
            k for k in (*_EDITABLE, "color") if k in changes))
    if "public" in changes and bool(changes["public"]) != layer.public:
        record = store.set_public(layer_id, bool(changes["public"]), actor=user.name)
    app.extensions["catalog"].refresh()
    return record or store.layer_record(layer_id)


def rollback_layer(app, layer_id, user, number):
    editable_layer(app, layer_id, user)
    record = app.extensions["store"].rollback(layer_id, int(number), actor=user.name)
    app.extensions["catalog"].refresh()
    return record


def delete_layer(app, layer_id, user):
    editable_layer(app, layer_id, user)
    app.extensions["store"].delete_layer(layer_id, actor=user.name)
    app.extensions["catalog"].refresh()


def options_from(values):
    """:class:`ImportOptions` from form or JSON values (strings, booleans)."""
    def flag(name):
        value = values.get(name)
        return value is True or str(value).lower() in ("1", "true", "on", "yes")

    def text(name):
        value = values.get(name)
        return str(value).strip()[:2000] if value is not None and str(value).strip() else None

    quality = text("geometry_quality") or "traced"
    if quality not in ("traced", "schematic"):
        raise BadParameter("geometry_quality", f"{quality!r} is not traced or schematic")
    return replace(ImportOptions(), layer=text("layer"), layer_id=text("layer_id"), title=text("title"),
                   description=text("description"), attribution=text("attribution"), licence=text("licence"),
                   source_url=text("source_url"), geometry_quality=quality, repair=flag("repair"),
                   skip_invalid=flag("skip_invalid"))
