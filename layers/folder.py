"""Layer folders (``--layers-dir``): every readable layer served, every bad file skipped and reported.

A folder may hold the project's own GeoJSON layers (with ``metadata``;
validated strictly, as the built-in ones are) and plain files in any format
:mod:`layers.importers.formats` reads, including loose Shapefiles
(``x.shp`` with ``x.shx``/``x.dbf``/``x.prj``); their metadata is inferred
(id and title from the file name). Only regular files inside the folder are
read: a symlink out of it, a FIFO, a device or a directory named like a layer
is skipped. Each file is read in a bounded child process with size, vertex,
memory and time limits. Whatever is wrong with a file -- unreadable, invalid,
too big, too slow, an id already taken -- skips that file, with the reason
logged and kept in :attr:`FolderProblem` for ``/status``; the rest load.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from layers.catalog import file_version, layer_from_document, make_layer, parse_json
from layers.errors import LayerInvalid, MapError
from layers.importers.common import slug
from layers.importers.formats import EXTENSIONS, Limits, decode_text
from layers.importers.user import fill_countries, finalize, read_candidates, read_regular_file
from layers.sandbox import run_bounded
from layers.schema import validate_features

__all__ = ["FOLDER_LIMITS", "FolderProblem", "load_folders"]

log = logging.getLogger(__name__)
# Operators' folders are trusted more than uploads (a 5-million-vertex layer is allowed), not unlimited.
FOLDER_LIMITS = Limits(max_bytes=1024 * 2**20, max_unpacked_bytes=2048 * 2**20, max_features=2_000_000,
                       max_vertices=20_000_000, time_budget_s=300.0, memory_mb=16384)
_SHAPEFILE_SIBLINGS = (".shx", ".dbf", ".prj", ".cpg")
RESERVED_IDS = frozenset({"places"})  # the gazetteer's name in corridor and route queries


@dataclass(frozen=True)
class FolderProblem:
    """A file of a layers folder that was not loaded, and why."""

    path: str
    reason: str
    error: MapError

    def to_dict(self):
        return {"path": self.path, "reason": self.reason, "status": self.error.status}


def _inside(path, root):
    """``path`` resolved, if it is a regular file inside ``root``; LayerInvalid saying what it is otherwise."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise LayerInvalid(path, None, f"cannot stat: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        target = Path(os.path.realpath(path))
        if not target.is_relative_to(root):
            raise LayerInvalid(path, None, f"a symbolic link to {target}, outside the layers folder; not read")
        info = os.stat(target)
        path = target
    if not stat.S_ISREG(info.st_mode):
        kind = "FIFO" if stat.S_ISFIFO(info.st_mode) else "device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(
            info.st_mode) else "directory" if stat.S_ISDIR(info.st_mode) else "special file"
        raise LayerInvalid(path, None, f"a {kind}, not a regular file; not read")
    return Path(path)


def _read_file(path, name, limits, extra_files, region):
    """In the child: a project layer document as (meta, properties, geometries), else import candidates."""
    data = None
    if extra_files is None and path.suffix.lower() in (".geojson", ".json"):
        data = read_regular_file(path, limits.max_bytes, name=name)
        doc = parse_json(decode_text(data, name), name)
        if isinstance(doc, dict) and "metadata" in doc:  # the project's own format: validated strictly
            layer = layer_from_document(doc, Path(name), region=region, builtin=False)
            return ("layer", layer.meta, layer.gdf.drop(columns=layer.gdf.geometry.name).to_dict(orient="records"),
                    layer.gdf.geometry.values)
    return ("candidates", read_candidates(path, name, limits, extra_files=extra_files, data=data))


def _load_file(path, real, root, limits, boundaries, isolate, region):
    extra = None
    if real.suffix.lower() == ".shp":
        extra = {}
        for ext in _SHAPEFILE_SIBLINGS:
            sibling = next((p for p in path.parent.iterdir() if p.name.lower() == (path.stem + ext).lower()), None)
            if sibling is not None:
                extra[sibling.name] = read_regular_file(_inside(sibling, root), limits.max_bytes, name=str(sibling))
    result = run_bounded(_read_file, real, str(path), limits, extra, region, what=str(path),
                         time_budget_s=limits.time_budget_s, memory_mb=limits.memory_mb, isolate=isolate)
    version = file_version(None, real, builtin=False)  # size and mtime: an edited file is another version
    if result[0] == "layer":
        _, meta, props, geoms = result
        return [make_layer(meta, props, geoms, path=path, builtin=False, source="folder", version=version)]
    candidates = result[1]
    layers = []
    for candidate in candidates:
        base = slug(path.stem)[:64] or "layer"
        candidate.meta["id"] = base if len(candidates) == 1 else f"{base}_{slug(candidate.name)}"[:64].strip("_")
        fill_countries(candidate, boundaries)
        meta, props, geoms = finalize(candidate, str(path))
        if region is not None:
            validate_features(props, geoms, path, region=region)
        layers.append(make_layer(meta, props, geoms, path=path, builtin=False, source="folder", version=version))
    return layers


def load_folders(folders, *, reserved=(), region=None, limits=FOLDER_LIMITS, boundaries=None, isolate=True):
    """``(layers, problems)`` of every layer file in ``folders``, in folder then name order.

    ``reserved``: ids already taken (built-in layers); ``region``: a lon/lat
    box folder layers must lie in (None: anywhere); ``boundaries``: the
    GeoDataFrame whose polygons give countries to features that name none.
    """
    layers, problems = [], []
    taken = set(reserved) | RESERVED_IDS

    def skip(path, error):
        reason = error.problem if isinstance(error, LayerInvalid) else str(error)
        problems.append(FolderProblem(str(path), reason, error))
        log.warning("layers folder: skipped %s: %s", path, reason)

    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            skip(folder, LayerInvalid(folder, None, "layers folder does not exist"))
            continue
        root = folder.resolve()
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            ext = entry.suffix.lower()
            if entry.name.startswith(".") or ext in _SHAPEFILE_SIBLINGS:
                continue
            if ext not in EXTENSIONS and ext != ".shp":
                continue  # README.md and the like: not layers, not problems
            try:
                found = _load_file(entry, _inside(entry, root), root, limits, boundaries, isolate, region)
                for layer in found:
                    if layer.id in taken:
                        raise LayerInvalid(entry, None, f"layer id {layer.id!r} is already in the catalogue")
                taken.update(layer.id for layer in found)
                layers.extend(found)
            except MapError as exc:
                skip(entry, exc)
    return layers, problems
