"""User files in any common GIS format -> layers of the project's schema, safely and with a preview.

``prepare(path, filename, limits)`` reads one uploaded (or folder) file in a
bounded child process (:mod:`layers.sandbox`: time budget, memory cap) and
returns a :class:`~layers.importers.infer.Candidate` per layer it holds --
mapped properties, WGS84 geometry, notes on what was inferred, and the
problems that block saving, each naming the feature. ``finalize`` turns the
chosen candidate into what a store saves, or raises :class:`ImportRefused`
listing every problem. Only a regular file is ever opened (no symlinks,
FIFOs or devices) and never more than the size limit of it is read.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import shapely

from layers.errors import LayerInvalid, TooLarge
from layers.importers.formats import Limits, read_layers
from layers.importers.infer import Candidate, ImportOptions, infer_candidate
from layers.sandbox import run_bounded

__all__ = ["ImportRefused", "Limits", "finalize", "fill_countries", "prepare", "read_candidates",
           "read_regular_file"]


class ImportRefused(LayerInvalid):
    """A layer that still has problems: all of them, each naming the feature (first 100 in the body)."""

    status = 422

    def __init__(self, file, problems):
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        super().__init__(file, first.feature, first.problem + more)

    def __reduce__(self):
        return type(self), (self.file, self.problems)

    def to_dict(self):
        return {**super().to_dict(), "problems": [
            {"feature": p.feature, "problem": p.problem, "repairable": p.repairable} for p in self.problems[:100]]}


def read_regular_file(path, max_bytes, *, name=None):
    """The bytes of ``path`` if it is a regular file no larger than ``max_bytes``.

    Opened without following a final symlink and without blocking (a FIFO
    cannot hang the reader), checked with ``fstat`` on the open descriptor,
    and read to at most ``max_bytes + 1`` bytes whatever its size claims.
    """
    name = name or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise LayerInvalid(name, None, f"cannot open: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise LayerInvalid(name, None, "not a regular file (a FIFO, device or directory); not read")
        if info.st_size > max_bytes:
            raise TooLarge(name, None, f"{info.st_size / 2**20:,.1f} MB; the limit is {max_bytes / 2**20:.3g} MB")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(name, None, f"more than the limit of {max_bytes / 2**20:.3g} MB")
    return data


def read_candidates(path, filename, limits, options=None, *, extra_files=None, data=None):
    """Every layer of the file at ``path`` (shown to the user as ``filename``) as Candidates (in-process).

    ``options.layer`` keeps only that layer of a multi-layer file (a
    GeoPackage layer, a GEM facility type); ``extra_files``
    ``{name: bytes}`` are the siblings of a loose Shapefile; ``data``: the
    file's bytes when the caller has read them already.
    """
    options = options or ImportOptions()
    if data is None:
        data = read_regular_file(path, limits.max_bytes, name=filename)
    if extra_files is not None:
        import io
        import zipfile

        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_STORED) as out:
            out.writestr(Path(filename).name, data)
            for member, content in extra_files.items():
                out.writestr(member, content)
        data, filename = packed.getvalue(), str(Path(filename).with_suffix(".zip"))
    raws = read_layers(data, filename, limits, only=options.layer)
    if options.layer is not None:
        chosen = [r for r in raws if r.name == options.layer]
        if not chosen:
            raise LayerInvalid(filename, None, f"no layer {options.layer!r} in the file; it holds: "
                                               + ", ".join(r.name for r in raws))
        raws = chosen
    out = []
    for raw in raws:
        opts = options if len(raws) == 1 else replace(options, layer_id=None, title=None)
        out.append(infer_candidate(raw, Path(filename).name, opts))
    return out


def prepare(path, filename, limits, options=None, *, isolate=True, extra_files=None):
    """:func:`read_candidates` in a bounded child process (time budget and memory cap from ``limits``)."""
    return run_bounded(read_candidates, path, filename, limits, options, extra_files=extra_files, what=filename,
                       time_budget_s=limits.time_budget_s, memory_mb=limits.memory_mb, isolate=isolate)


def fill_countries(candidate: Candidate, boundaries):
    """Give features that name no country the ISO3 codes of the boundary polygons they touch.

    ``boundaries`` is the boundaries layer's GeoDataFrame (``id`` = ISO3).
    Features outside every polygon keep an empty list.
    """
    if not candidate.needs_countries or boundaries is None or not len(boundaries):
        return candidate
    positions = np.asarray(candidate.needs_countries)
    geoms = candidate.geometries[positions]
    # the tree holds the features and the few big polygons are the queries, so each polygon is prepared once
    # (the other way round tests every feature against an unprepared country: 75x slower on 20,000 lines)
    b_hits, g_hits = shapely.STRtree(geoms).query(boundaries.geometry.values, predicate="intersects")
    codes = boundaries["id"].to_numpy()
    found = {}
    for g, b in zip(g_hits.tolist(), b_hits.tolist()):
        found.setdefault(g, []).append(str(codes[b]))
    for g, pos in enumerate(positions.tolist()):
        candidate.properties[pos]["countries"] = sorted(set(found.get(g, [])))
    candidate.notes.append(f"countries of {len(positions)} features taken from the boundaries layer "
                           "(Natural Earth; features outside it list none)")
    candidate.needs_countries = []
    return candidate


def finalize(candidate: Candidate, filename):
    """``(meta, properties, geometries)`` ready for a store, or ImportRefused listing every problem."""
    if candidate.problems:
        raise ImportRefused(filename, candidate.problems)
    meta = {**candidate.meta, "import_notes": list(candidate.notes)}
    return meta, candidate.properties, np.asarray(candidate.geometries, dtype=object)
