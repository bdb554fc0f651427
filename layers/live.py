"""The running service's catalogue: fixed layers from files plus the store's user layers, kept current.

Built-in layers (``data/layers/``) and the operator's layer folders are read
once at start-up and never change at run time. User layers live in a
:class:`~layers.store.base.Store`; :meth:`LiveCatalog.refresh` compares the
store's generation counter with the one it loaded (one cheap query) and
re-reads only the layers whose version changed, so an import, replacement,
rollback, publication or deletion -- made by this process or any other
sharing the store -- is served without a restart. Memoised results are
keyed by layer version (:meth:`layers.catalog.Catalog.memo`); results of
versions no longer current are dropped.

Each viewer sees a :class:`~layers.catalog.Catalog` of the layers they may
read (:meth:`LiveCatalog.view`): every fixed layer, every published user
layer, and their own private ones. Used directly, a LiveCatalog answers as
the anonymous view.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace

from layers.catalog import Catalog, Memo, make_layer
from layers.errors import MapError

__all__ = ["LiveCatalog", "StoreProblem"]

log = logging.getLogger(__name__)
_MAX_VIEWS = 256


@dataclass(frozen=True)
class StoreProblem:
    """A stored layer that could not be served, and why (shown on /status)."""

    layer_id: str
    reason: str

    def to_dict(self):
        return {"layer": self.layer_id, "reason": self.reason}


class LiveCatalog:
    """Fixed layers plus a store's user layers; per-viewer views; refreshed from the store's generation."""

    def __init__(self, fixed_layers, store=None, *, problems=(), memo=None):
        self._fixed = {layer.id: layer for layer in fixed_layers}
        self.store = store
        self.problems = list(problems)  # files of layer folders that were skipped
        self.store_problems = []
        self._memo = memo if memo is not None else Memo()
        self._lock = threading.Lock()
        self._generation = None
        self._user_layers = {}
        self._views = {}
        # a PostGIS store runs spatial queries in the database: it holds a copy of the fixed layers too
        self.spatial = getattr(store, "spatial", None)
        if self.spatial is not None:
            written = self.spatial.sync_fixed(self._fixed.values())
            if written:
                log.info("fixed layers copied to %s: %s", store.location, ", ".join(written))
        self.refresh()

    # --- keeping current ---------------------------------------------------------------------

    def _load(self, record, old):
        version = f"v{record.version_id}"
        if old is not None and old.version == version:
            return old if (old.public, old.owner_id) == (record.public, record.owner_id) else replace(
                old, public=record.public, owner_id=record.owner_id)
        stored = self.store.read_layer(record.id)
        return make_layer(stored.meta, stored.properties, stored.geometries, path=None, builtin=False,
                          source="store", version=f"v{stored.version.version_id}", owner_id=stored.record.owner_id,
                          public=stored.record.public)

    def refresh(self):
        """Re-read the store if it changed since the last look; True when something was reloaded."""
        if self.store is None:
            if self._generation is None:
                self._generation = 0
                self._memo.prune(self._live_versions())
            return False
        if self.store.generation() == self._generation:
            return False
        with self._lock:
            generation = self.store.generation()  # read before the list: a change after it is seen next time
            if generation == self._generation:
                return False
            layers, problems = {}, []
            for record in self.store.list_layers():
                if record.id in self._fixed:
                    problems.append(StoreProblem(record.id, "a built-in or folder layer has this id"))
                    continue
                try:
                    layers[record.id] = self._load(record, self._user_layers.get(record.id))
                except MapError as exc:
                    problems.append(StoreProblem(record.id, str(exc)))
                    log.error("store layer %s not served: %s", record.id, exc)
            self._user_layers, self.store_problems = layers, problems
            self._views = {}
            self._generation = generation
            dropped = self._memo.prune(self._live_versions())
            log.info("catalogue refreshed at store generation %s: %d user layers, %d memo entries dropped",
                     generation, len(layers), dropped)
            return True

    def _live_versions(self):
        return {(lay.id, lay.version) for lay in (*self._fixed.values(), *self._user_layers.values())}

    # --- views -----------------------------------------------------------------------------------

    def view(self, viewer_id=None):
        """The :class:`Catalog` of what ``viewer_id`` (a user id, None = anonymous) may read, current."""
        self.refresh()
        views = self._views
        found = views.get(viewer_id)
        if found is None:
            visible = [lay for lay in self._user_layers.values()
                       if lay.public or (viewer_id is not None and lay.owner_id == viewer_id)]
            found = Catalog([*self._fixed.values(), *sorted(visible, key=lambda lay: lay.id)], memo=self._memo,
                            spatial=self.spatial)
            if len(views) >= _MAX_VIEWS:
                views.clear()
            views[viewer_id] = found
        return found

    def owned_by(self, user_id):
        """The user layers ``user_id`` owns (published or not), by id."""
        self.refresh()
        return [lay for lid, lay in sorted(self._user_layers.items()) if lay.owner_id == user_id]

    def reserved_ids(self):
        """Ids a user layer may not take: every built-in and folder layer, and 'places' (the gazetteer)."""
        return set(self._fixed) | {"places"}

    @property
    def memo_store(self):
        return self._memo

    # --- the anonymous view, for callers without a viewer (the CLI, warm-up, tests) ----------------------

    def layer(self, layer_id):
        return self.view().layer(layer_id)

    def feature(self, layer_id, feature_id):
        return self.view().feature(layer_id, feature_id)

    def memo(self, key, compute, *, layers=None):
        return self.view().memo(key, compute, layers=layers)

    def fingerprint(self, layer_ids=None):
        return self.view().fingerprint(layer_ids)

    @property
    def ids(self):
        return self.view().ids

    def __iter__(self):
        return iter(self.view())

    def __contains__(self, layer_id):
        return layer_id in self.view()

    def __len__(self):
        return len(self.view())
