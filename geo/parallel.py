"""Big analytics on Dask: per-feature statistics and corridor membership over partitions.

The single-process functions (:func:`geo.stats.feature_stats`,
:func:`geo.corridor.within_corridor`) run unchanged on each partition of a
dask-geopandas GeoDataFrame, on a ``dask.distributed`` cluster: a
LocalCluster of ``workers`` processes started on first use, or any
scheduler by address (``tcp://host:8786``; its workers must be able to
import this project's ``geo`` and ``layers`` packages). Every row of both
is measured on its own (no figure of one feature depends on another), so
the partitions put back in order equal the single-process table exactly,
float for float (``tests/test_parallel.py``); there is one implementation
of each measurement.

Corridor membership partitions spatially: rows are ordered along a Hilbert
curve of their bounds' centres and each partition carries its bounding box
(``spatial_partitions``); partitions whose box lies beyond the candidate
margin of the band are never sent to a worker. Statistics keep the layer's
row order (every row is measured anyway).

Engines: :class:`LocalEngine` (this process) and :class:`DaskEngine`, with
one interface (``feature_stats``, ``within_corridor``, ``close``);
:func:`engine_from_settings` builds one from the web app's settings.
"""

from __future__ import annotations

import atexit
import math
import threading

import dask
import dask_geopandas
import geopandas as gpd
import numpy as np
import shapely
from distributed import Client, LocalCluster

from geo.corridor import candidate_margin_degrees, within_corridor
from geo.geodesic import as_geometry_array
from geo.stats import feature_stats
from geo.topology import planar_geometries

__all__ = ["ENGINES", "LocalEngine", "DaskEngine", "engine_from_settings", "hilbert_order"]

ENGINES = ("local", "dask")
ROW = "_row"  # a row's position in the layer, carried through the partitions to put results back in order
# Keep object columns as they are: dask's default turns strings into pyarrow strings, and the tables must
# equal the single-process ones dtype for dtype.
_DASK_CONFIG = {"dataframe.convert-string": False}


class LocalEngine:
    """The single-process path: the geo functions called directly."""

    name = "local"

    def feature_stats(self, gdf, boundaries):
        """:func:`geo.stats.feature_stats` of ``gdf``."""
        return feature_stats(gdf, boundaries)

    def within_corridor(self, corridor, gdf, *, layer_id=None, exclude_id=None, tree=None):
        """:func:`geo.corridor.within_corridor` of ``gdf``."""
        return within_corridor(corridor, gdf, layer_id=layer_id, exclude_id=exclude_id, tree=tree)

    def describe(self):
        return {"engine": self.name}

    def close(self):
        pass


def hilbert_order(geoms):
    """Row order along a Hilbert curve (level 16) of each geometry's bounds centre; empty ones first."""
    geoms = as_geometry_array(geoms)
    bounds = shapely.bounds(geoms)
    x = np.nan_to_num((bounds[:, 0] + bounds[:, 2]) / 2, nan=-180.0)
    y = np.nan_to_num((bounds[:, 1] + bounds[:, 3]) / 2, nan=-90.0)
    keys = gpd.GeoSeries(shapely.points(x, y)).hilbert_distance(total_bounds=(-180.0, -90.0, 180.0, 90.0))
    return np.argsort(keys.to_numpy(), kind="stable")


def _corridor_part(part, corridor, layer_id, exclude_id):
    rows = part[ROW].to_numpy()
    found = within_corridor(corridor, part.drop(columns=ROW), layer_id=layer_id, exclude_id=exclude_id,
                            source_rows=True)
    return found.assign(**{ROW: rows[found.pop("source_row").to_numpy(dtype=int)]})


class DaskEngine:
    """Statistics and corridor membership on a ``dask.distributed`` cluster.

    ``scheduler``: address of a running scheduler (``tcp://host:8786``);
    None starts a LocalCluster of ``workers`` single-threaded worker
    processes on first use. Layers of fewer than ``min_features`` rows stay
    in this process (shipping ten features to a worker costs more than
    measuring them). A partition holds about ``partition_features`` rows,
    with at least one partition per worker.
    """

    name = "dask"

    def __init__(self, *, scheduler=None, workers=2, min_features=0, partition_features=50_000):
        self.scheduler = scheduler or None
        self.workers = int(workers)
        self.min_features = int(min_features)
        self.partition_features = max(1, int(partition_features))
        self._client = None
        self._cluster = None
        self._lock = threading.Lock()
        self._local = LocalEngine()

    @property
    def client(self):
        """The ``distributed.Client``, connected (and the LocalCluster started) on first use."""
        with self._lock:
            if self._client is None:
                if self.scheduler:
                    self._client = Client(self.scheduler, set_as_default=False)
                else:
                    self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                 dashboard_address=None)
                    self._client = Client(self._cluster, set_as_default=False)
                    atexit.register(self.close)  # stop the workers before the interpreter tears down
            return self._client

    def worker_count(self):
        return max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))

    def _npartitions(self, n):
        return max(1, min(n, max(self.worker_count(), math.ceil(n / self.partition_features))))

    def describe(self):
        """What runs the analytics: engine, scheduler address and worker count."""
        return {"engine": self.name, "scheduler": self.client.scheduler.address, "workers": self.worker_count()}

    def feature_stats(self, gdf, boundaries):
        """:func:`geo.stats.feature_stats` of ``gdf`` computed partition by partition on the cluster."""
        if len(gdf) < max(1, self.min_features):
            return self._local.feature_stats(gdf, boundaries)
        client = self.client
        with dask.config.set(_DASK_CONFIG):
            ddf = dask_geopandas.from_geopandas(gdf.reset_index(drop=True), npartitions=self._npartitions(len(gdf)))
            shared = client.scatter(boundaries, broadcast=True) if boundaries is not None else None
            meta = feature_stats(gdf.iloc[:1], boundaries).iloc[:0]
            table = client.compute(ddf.map_partitions(feature_stats, shared, meta=meta)).result()
        return table.reset_index(drop=True)

    def within_corridor(self, corridor, gdf, *, layer_id=None, exclude_id=None, tree=None):
        """:func:`geo.corridor.within_corridor` of ``gdf`` over spatial partitions near the band.

        ``tree`` (an STRtree of the whole layer) serves the in-process path
        of small layers only; each partition builds its own.
        """
        if len(gdf) < max(1, self.min_features):
            return self._local.within_corridor(corridor, gdf, layer_id=layer_id, exclude_id=exclude_id, tree=tree)
        client = self.client
        order = hilbert_order(gdf)
        frame = gdf.iloc[order].reset_index(drop=True)
        frame[ROW] = order
        with dask.config.set(_DASK_CONFIG):
            ddf = dask_geopandas.from_geopandas(frame, npartitions=self._npartitions(len(frame)))
            ddf.spatial_partitions = _partition_boxes(frame, ddf.divisions)
            # the margin within_corridor picks candidates with (planar lon/lat, like its STRtree query)
            boxes = ddf.spatial_partitions.to_numpy()
            near = np.flatnonzero(shapely.dwithin(boxes, corridor.polygon, candidate_margin_degrees(corridor)))
            if not len(near):
                return within_corridor(corridor, gdf.iloc[:0], layer_id=layer_id)
            shared = client.scatter(corridor, broadcast=True)
            meta = _corridor_part(frame.iloc[:0], corridor, layer_id, exclude_id)
            parts = ddf.partitions[list(near)].map_partitions(_corridor_part, shared, layer_id, exclude_id, meta=meta)
            found = client.compute(parts).result()
        # within_corridor's order: by chainage, then distance, then the row's place in the layer
        found = found.sort_values(["chainage_km", "distance_km", ROW], kind="stable").drop(columns=ROW)
        return gpd.GeoDataFrame(found.reset_index(drop=True), geometry="geometry", crs="EPSG:4326")

    def close(self):
        """Disconnect, and stop the LocalCluster this engine started."""
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None


def _partition_boxes(frame, divisions):
    """Bounding box (lon/lat) of each partition of ``frame`` (RangeIndex) split at ``divisions``.

    Boxes of the densified lines cut at 180° (:func:`geo.topology.planar_geometries`, as the corridor's own
    candidate search uses): a raw line's box misses where a sparse line's geodesic bulges, and one across 180°.
    """
    bounds = shapely.bounds(planar_geometries(as_geometry_array(frame)))
    starts = np.asarray(divisions[:-1], dtype=int)
    with np.errstate(invalid="ignore"):
        lo = np.fmin.reduceat(bounds[:, :2], starts, axis=0)
        hi = np.fmax.reduceat(bounds[:, 2:], starts, axis=0)
    boxes = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])  # all-empty partitions: None, never near
    return gpd.GeoSeries(boxes, crs="EPSG:4326")


def engine_from_settings(config):
    """The engine the settings ask for: ``ANALYTICS_ENGINE`` local|dask, ``DASK_SCHEDULER``, ``DASK_WORKERS``,
    ``DASK_MIN_FEATURES``."""
    if config.get("ANALYTICS_ENGINE", "local") != "dask":
        return LocalEngine()
    return DaskEngine(scheduler=config.get("DASK_SCHEDULER") or None, workers=config.get("DASK_WORKERS", 2),
                      min_features=config.get("DASK_MIN_FEATURES", 0))
