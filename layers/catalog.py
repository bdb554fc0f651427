"""The layer catalogue: every layer validated once, held in memory, answering look-ups.

A :class:`Catalog` is one consistent set of layers -- the built-in
``data/layers/``, the operator's layer folders, and the user layers the
viewer may see from the store (:mod:`layers.live` keeps it current) -- each
a GeoDataFrame in EPSG:4326 with a ``version``. Derived results (statistics,
indexes, display geometry) are memoised per layer *version*, so a replaced
layer is never served stale and an unchanged one is never recomputed.
"""

import json
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from layers.errors import FeatureNotFound, LayerInvalid, LayerNotFound
from layers.integrity import check_integrity
from layers.schema import (
    LAYER_ID_RE,
    REGION_BBOX,
    finite_only,
    first_non_finite,
    validate_features,
    validate_metadata,
)

__all__ = ["DATA_DIR", "BUILTIN_LAYERS_DIR", "BUILTIN_VERSION", "Catalog", "Layer", "Memo", "file_version",
           "geometry_from_geojson", "json_depth", "layer_from_document", "make_layer", "parse_json",
           "read_layer_file"]

log = logging.getLogger(__name__)
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
BUILTIN_LAYERS_DIR = DATA_DIR / "layers"
BUILTIN_VERSION = "builtin"
# Deeper than any GeoJSON needs (a MultiPolygon's coordinates are 4 levels deep), far below Python's recursion limit.
MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class Layer:
    """One validated layer: its catalogue metadata, its features, and where it came from.

    ``version`` changes whenever the content or metadata does
    (``builtin-<hash>`` for shipped layers, ``folder-<size>-<mtime>`` for
    operator folders, see :func:`file_version`; ``v<id>`` for store
    versions); ``owner_id``/``public`` say who may see a store layer.
    """

    id: str
    meta: dict
    gdf: gpd.GeoDataFrame
    path: Path | None
    builtin: bool = True
    positions: dict = field(default_factory=dict, repr=False)
    version: str = BUILTIN_VERSION
    source: str = "builtin"  # builtin | folder | store
    owner_id: int | None = None
    public: bool = True

    @property
    def title(self):
        return self.meta["title"]

    @property
    def attribution(self):
        return self.meta["attribution"]

    @property
    def read_only(self):
        """Built-in and folder layers change only by editing files; store layers through the store."""
        return self.source != "store"

    @property
    def geometry_family(self):
        """'line', 'point', 'polygon' or 'mixed', from the geometry types present."""
        types = set(self.gdf.geom_type.str.replace("Multi", "", regex=False))
        names = {"LineString": "line", "Point": "point", "Polygon": "polygon"}
        families = {names.get(t, "mixed") for t in types}
        return families.pop() if len(families) == 1 else "mixed"

    @property
    def bbox(self):
        """(minlon, minlat, maxlon, maxlat) of the layer."""
        return tuple(float(v) for v in self.gdf.total_bounds)


def make_layer(meta, properties, geometries, **fields):
    """A :class:`Layer` from metadata, property dicts and matching geometries (already validated).

    Polygons are wound counter-clockwise outside, clockwise inside: every
    output (API, OGC API, downloads, tiles) follows RFC 7946 §3.1.6, user
    layers included.
    """
    geometries = shapely.orient_polygons(np.asarray(geometries, dtype=object), exterior_cw=False)
    if properties:
        gdf = gpd.GeoDataFrame(properties, geometry=geometries, crs="EPSG:4326")
    else:
        gdf = gpd.GeoDataFrame({"id": []}, geometry=[], crs="EPSG:4326")
    gdf.attrs["metadata"] = meta  # travels with the frame: e.g. the boundaries' clip_bbox (geo.countries)
    positions = {fid: i for i, fid in enumerate(gdf["id"])}
    return Layer(id=meta["id"], meta=meta, gdf=gdf, positions=positions, **fields)


def parse_json(text, file):
    """``json.loads`` with a LayerInvalid naming ``file`` for bad JSON or absurd nesting.

    ``NaN``/``Infinity`` (not JSON, but common) parse as floats so that
    validation (:mod:`layers.schema`) can refuse them naming the feature and
    the value.
    """
    try:
        return json.loads(text)
    except RecursionError:  # the C scanner stops at Python's recursion limit: 200,000 '[' end here
        raise LayerInvalid(file, None, "JSON nested too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError is a ValueError, and so is a refused NaN
        raise LayerInvalid(file, None, f"not readable as JSON: {exc}") from None


def json_depth(value, limit=MAX_JSON_DEPTH):
    """Nesting depth of a parsed JSON value, counted without recursion; stops counting past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _ring(coords):
    array = np.asarray(coords, dtype=float)
    if array.ndim != 2 or array.shape[1] not in (2, 3):
        raise ValueError("not a list of positions")
    return array[:, :2]


_FAST = {
    "Point": lambda c: shapely.points(np.asarray(c, dtype=float)[:2]) if len(c) in (2, 3) else None,
    "LineString": lambda c: shapely.linestrings(_ring(c)),
    "MultiPoint": lambda c: shapely.multipoints(_ring(c)),
    "MultiLineString": lambda c: shapely.multilinestrings([shapely.linestrings(_ring(p)) for p in c]),
    "Polygon": lambda c: shapely.polygons(_ring(c[0]), holes=[_ring(h) for h in c[1:]] or None),
    "MultiPolygon": lambda c: shapely.multipolygons([shapely.polygons(_ring(p[0]), holes=[_ring(h) for h in p[1:]]
                                                                      or None) for p in c]),
}


def geometry_from_geojson(geometry):
    """A shapely geometry (2D) from a parsed GeoJSON geometry object, None for a null geometry.

    Coordinates go straight into numpy (six times faster than re-serialising
    for GEOS, which matters for a 5-million-vertex layer); anything unusual
    -- empty, ragged, a GeometryCollection -- takes GEOS's own GeoJSON
    reader, whose error is then the answer.
    """
    if geometry is None:
        return None
    builder = _FAST.get(geometry.get("type")) if isinstance(geometry, dict) else None
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if builder is not None and isinstance(coords, list) and coords:
        try:
            found = builder(coords)
            if found is not None:
                return found
        except (ValueError, TypeError, IndexError, shapely.errors.GEOSException):
            pass
    return shapely.from_geojson(json.dumps(geometry))


def _parse_geometry(feature, file):
    try:
        return geometry_from_geojson(feature.get("geometry"))
    except Exception as exc:  # shapely raises GEOSException with a terse text
        props = feature.get("properties")
        fid = props.get("id") if isinstance(props, dict) else None
        bad = first_non_finite((feature.get("geometry") or {}).get("coordinates"))
        why = f"coordinate {bad} is not a finite number" if bad is not None else f"unreadable geometry: {exc}"
        raise LayerInvalid(file, fid, why) from None


def layer_from_document(doc, path, *, region=REGION_BBOX, builtin=True, **fields):
    """Validate a parsed layer document (FeatureCollection + ``metadata``); return a :class:`Layer`."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise LayerInvalid(path, None, "not a GeoJSON FeatureCollection")
    if "crs" in doc:
        raise LayerInvalid(path, None, "has a 'crs' member; RFC 7946 layers are WGS84 lon/lat without one")
    meta = validate_metadata(doc.get("metadata"), path)
    if meta["id"] != Path(path).stem:
        raise LayerInvalid(path, None, f"metadata.id {meta['id']!r} differs from the file name {Path(path).stem!r}")
    features = doc.get("features")
    if not isinstance(features, list):
        raise LayerInvalid(path, None, "'features' must be a list")
    for i, f in enumerate(features):
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise LayerInvalid(path, f"#{i + 1}", f"not a GeoJSON Feature object (got {type(f).__name__} "
                                                  f"{json.dumps(f)[:40] if not isinstance(f, dict) else ''})")
    props = [f.get("properties") for f in features]
    for i, p in enumerate(props):
        if json_depth(p) > MAX_JSON_DEPTH:
            fid = p.get("id") if isinstance(p, dict) and isinstance(p.get("id"), str) else f"#{i + 1}"
            raise LayerInvalid(path, fid, f"properties nested deeper than {MAX_JSON_DEPTH} levels")
    check_integrity(meta, features, path)
    if not builtin:  # as user imports do: a NaN figure is "no value", not a reason to refuse the layer
        counter = [0]
        props = [finite_only(p, counter) for p in props]
        if counter[0]:
            log.warning("%s: %d property values were NaN or Infinity and are stored as null", path, counter[0])
    geoms = np.array([_parse_geometry(f, path) for f in features], dtype=object)
    validate_features(props, geoms, path, region=region, require_dates=builtin)
    fields.setdefault("path", Path(path))
    return make_layer(meta, props, geoms, builtin=builtin, **fields)


def file_version(meta, path, *, builtin=True):
    """The ``version`` of a layer read from a file: ``builtin-<content hash>`` for a built-in layer whose
    build recorded one, else ``builtin``/``folder`` plus the file's size and modification time -- so that
    cache keys and ETags made from versions change when a file does, across restarts too."""
    digest = meta.get("content_sha256") if isinstance(meta, dict) else None
    if builtin and isinstance(digest, str):
        return f"{BUILTIN_VERSION}-{digest.removeprefix('sha256:')[:16]}"
    try:
        info = os.stat(path)
    except OSError:
        return BUILTIN_VERSION if builtin else "folder"
    return f"{BUILTIN_VERSION if builtin else 'folder'}-{info.st_size}-{info.st_mtime_ns}"


def read_layer_file(path, *, region=REGION_BBOX, builtin=True):
    """Read and validate one GeoJSON layer file; return a :class:`Layer`.

    A file whose metadata records a feature count and content hash must
    match them (:func:`layers.integrity.check_integrity`); built-in layers
    must date their facts (``require_dates`` of the schema).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LayerInvalid(path, None, f"not readable as JSON: {exc}") from None
    doc = parse_json(text, path)
    return layer_from_document(doc, path, region=region, builtin=builtin, source="builtin" if builtin else "folder",
                               version=file_version(doc.get("metadata") if isinstance(doc, dict) else None,
                                                    path, builtin=builtin))


class Memo:
    """Thread-safe memo of derived results, keyed by (key, layer versions it depends on), with LRU eviction.

    Concurrent misses of one key compute it once (a 5-million-vertex layer's
    statistics must not be computed by every waiting request).
    """

    def __init__(self, max_entries=4096):
        self.max_entries = max_entries
        self._items = OrderedDict()
        self._lock = threading.Lock()
        self._building = {}

    def get(self, key, compute):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._building.pop(key, None)
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.max_entries:
                    self._items.popitem(last=False)
            return value

    def prune(self, live):
        """Drop every entry that depends on a (layer, version) not in ``live``."""
        with self._lock:
            stale = [k for k in self._items if any(dep not in live for dep in k[1])]
            for k in stale:
                del self._items[k]
        return len(stale)

    def __len__(self):
        return len(self._items)


class Catalog:
    """One consistent set of layers, in a stable order, with their memoised derived results.

    ``memo`` is shared between the catalogues of successive store states and
    of different viewers (see :meth:`memo` for how keys stay version-exact).
    """

    def __init__(self, layers, *, memo=None, spatial=None):
        self._layers = {layer.id: layer for layer in layers}
        self._memo = memo if memo is not None else Memo()
        self.spatial = spatial  # a PostGIS store's spatial queries (layers.store.pg_spatial), or None

    @classmethod
    def from_dirs(cls, builtin_dir=BUILTIN_LAYERS_DIR, extra_dirs=(), *, extra_region=None):
        """Load ``builtin_dir/*.geojson`` and each extra folder's layers, strictly (first problem raises).

        Built-in layers must lie in the project region; folder layers (any
        format :mod:`layers.folder` reads) are checked against
        ``extra_region`` (None: anywhere on Earth) and may not shadow a
        built-in id. The web app loads folders leniently instead
        (:class:`layers.live.LiveCatalog`: bad files skipped and reported).
        """
        from layers.folder import load_folders

        layers = [read_layer_file(p) for p in sorted(Path(builtin_dir).glob("*.geojson"))]
        found, problems = load_folders(extra_dirs, reserved={layer.id for layer in layers}, region=extra_region)
        if problems:
            raise problems[0].error
        return cls(layers + found)

    def __contains__(self, layer_id):
        return layer_id in self._layers

    def __iter__(self):
        return iter(self._layers.values())

    def __len__(self):
        return len(self._layers)

    @property
    def ids(self):
        return list(self._layers)

    def layer(self, layer_id):
        """Return the :class:`Layer`, or raise :class:`LayerNotFound`."""
        if not isinstance(layer_id, str) or not LAYER_ID_RE.match(layer_id) or layer_id not in self._layers:
            raise LayerNotFound(layer_id, [lid for lid, lay in self._layers.items() if lay.source != "store"])
        return self._layers[layer_id]

    def feature(self, layer_id, feature_id):
        """Return one feature as a one-row GeoDataFrame."""
        layer = self.layer(layer_id)
        pos = layer.positions.get(feature_id)
        if pos is None:
            raise FeatureNotFound(layer_id, feature_id)
        return layer.gdf.iloc[[pos]]

    def fingerprint(self, layer_ids=None):
        """``((layer_id, version), ...)`` of ``layer_ids`` (default: every layer here): the cache-key part
        that makes a cached answer specific to the layer versions it was computed from."""
        ids = self._layers if layer_ids is None else layer_ids
        return tuple((lid, self._layers[lid].version) for lid in ids if lid in self._layers)

    def memo(self, key, compute, *, layers=None):
        """Return ``compute()``, computed once per ``key`` and per version of the layers it depends on.

        ``layers`` names the layer ids the result depends on. When omitted,
        the layer ids that appear in a tuple ``key`` are its dependencies
        (``("stats", "tapi")`` depends on ``tapi``: built-in and folder layers
        never change at run time, so a result also reading ``boundaries``
        stays right); a key naming no layer depends on every layer of this
        catalogue (safe: recomputed when any of them changes or for another
        viewer). ``layers=()`` declares a result that depends on no layer.
        """
        if layers is None:
            parts = key if isinstance(key, tuple) else (key,)
            named = [p for p in parts if isinstance(p, str) and p in self._layers]
            layers = named if named else self._layers
        return self._memo.get((key, self.fingerprint(layers)), compute)
