"""The layer catalogue: load every layer once, validate it, answer look-ups.

Layers come from the built-in ``data/layers/`` plus any user folders; each
is held as a GeoDataFrame in EPSG:4326. Derived results (statistics,
simplified geometry) are memoised per catalogue, so they are computed once,
not per request.
"""

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from layers.errors import FeatureNotFound, LayerInvalid, LayerNotFound
from layers.integrity import check_integrity
from layers.schema import LAYER_ID_RE, REGION_BBOX, validate_features, validate_metadata

__all__ = ["DATA_DIR", "BUILTIN_LAYERS_DIR", "Layer", "Catalog", "read_layer_file"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
BUILTIN_LAYERS_DIR = DATA_DIR / "layers"


@dataclass(frozen=True)
class Layer:
    """One validated layer: its catalogue metadata and its features."""

    id: str
    meta: dict
    gdf: gpd.GeoDataFrame
    path: Path
    builtin: bool = True
    positions: dict = field(default_factory=dict, repr=False)

    @property
    def title(self):
        return self.meta["title"]

    @property
    def attribution(self):
        return self.meta["attribution"]

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


def _parse_geometry(feature, file):
    try:
        return shapely.from_geojson(json.dumps(feature.get("geometry")))
    except Exception as exc:  # shapely raises GEOSException with a terse text
        fid = (feature.get("properties") or {}).get("id")
        raise LayerInvalid(file, fid, f"unreadable geometry: {exc}") from None


def read_layer_file(path, *, region=REGION_BBOX, builtin=True):
    """Read and validate one GeoJSON layer file; return a :class:`Layer`.

    A file whose metadata records a feature count and content hash must
    match them (:func:`layers.integrity.check_integrity`); built-in layers
    must date their facts (``require_dates`` of the schema).
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayerInvalid(path, None, f"not readable as JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise LayerInvalid(path, None, "not a GeoJSON FeatureCollection")
    if "crs" in doc:
        raise LayerInvalid(path, None, "has a 'crs' member; RFC 7946 layers are WGS84 lon/lat without one")
    meta = validate_metadata(doc.get("metadata"), path)
    if meta["id"] != path.stem:
        raise LayerInvalid(path, None, f"metadata.id {meta['id']!r} differs from the file name {path.stem!r}")
    features = doc.get("features")
    if not isinstance(features, list):
        raise LayerInvalid(path, None, "'features' must be a list")
    check_integrity(meta, features, path)
    props = [f.get("properties") if isinstance(f, dict) else None for f in features]
    geoms = np.array([_parse_geometry(f, path) for f in features], dtype=object)
    validate_features(props, geoms, path, region=region, require_dates=builtin)
    # every output (API, OGC API, downloads, tiles) follows RFC 7946 §3.1.6, user layers included
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    gdf = gpd.GeoDataFrame(props, geometry=geoms, crs="EPSG:4326") if props else gpd.GeoDataFrame(
        {"id": []}, geometry=[], crs="EPSG:4326"
    )
    gdf.attrs["metadata"] = meta  # travels with the frame: e.g. the boundaries' clip_bbox (geo.countries)
    positions = {fid: i for i, fid in enumerate(gdf["id"])}
    return Layer(id=meta["id"], meta=meta, gdf=gdf, path=path, builtin=builtin, positions=positions)


class Catalog:
    """Every layer, loaded and validated once, in a stable order."""

    def __init__(self, layers):
        self._layers = {layer.id: layer for layer in layers}
        self._memo = {}
        self._lock = threading.Lock()

    @classmethod
    def from_dirs(cls, builtin_dir=BUILTIN_LAYERS_DIR, extra_dirs=(), *, extra_region=None):
        """Load ``builtin_dir/*.geojson`` and each extra folder's layers.

        Built-in layers must lie in the project region; user layers are
        checked against ``extra_region`` (None: anywhere on Earth). A user
        layer may not shadow a built-in id.
        """
        layers = [read_layer_file(p) for p in sorted(Path(builtin_dir).glob("*.geojson"))]
        seen = {layer.id for layer in layers}
        for folder in extra_dirs:
            folder = Path(folder)
            if not folder.is_dir():
                raise LayerInvalid(folder, None, "layers folder does not exist")
            for path in sorted(folder.glob("*.geojson")):
                layer = read_layer_file(path, region=extra_region, builtin=False)
                if layer.id in seen:
                    raise LayerInvalid(path, None, f"layer id {layer.id!r} is already in the catalogue")
                seen.add(layer.id)
                layers.append(layer)
        return cls(layers)

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
            raise LayerNotFound(layer_id, self._layers)
        return self._layers[layer_id]

    def feature(self, layer_id, feature_id):
        """Return one feature as a one-row GeoDataFrame."""
        layer = self.layer(layer_id)
        pos = layer.positions.get(feature_id)
        if pos is None:
            raise FeatureNotFound(layer_id, feature_id)
        return layer.gdf.iloc[[pos]]

    def memo(self, key, compute):
        """Return ``compute()`` computed once per catalogue for ``key``."""
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._lock:
            return self._memo.setdefault(key, value)
