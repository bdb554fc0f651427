"""Read any common GIS file into raw layers: GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ, FlatGeobuf,
GeoParquet and CSV (WKT or lat/lon columns; the GEM tracker CSV is recognised by its columns).

Everything is read from bytes already in memory (GDAL through pyogrio reads
them from ``/vsimem``; GeoParquet through pyarrow), so a file name inside
the data can never make a reader open another file. The format is decided by
the file's magic bytes, and a name whose extension claims another format is
refused. Containers are opened by :mod:`layers.importers.archive` first.
Nothing here maps properties to the schema: :mod:`layers.importers.infer`
does that.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np
import pandas as pd
import shapely

from layers.catalog import MAX_JSON_DEPTH, geometry_from_geojson, json_depth, parse_json
from layers.errors import LayerInvalid, TooLarge
from layers.importers.archive import check_xml, read_zip
from layers.schema import Problem, first_non_finite

__all__ = ["FORMAT_NAMES", "Limits", "RawLayer", "decode_text", "read_layers", "sniff"]

FORMAT_NAMES = {
    "geojson": "GeoJSON", "gpkg": "GeoPackage", "shapefile": "Shapefile (zip)", "kml": "KML", "kmz": "KMZ",
    "fgb": "FlatGeobuf", "parquet": "GeoParquet", "csv": "CSV", "gem": "GEM tracker CSV",
}
EXTENSIONS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".zip": "zip", ".shz": "zip",
              ".kml": "kml", ".kmz": "kmz", ".fgb": "fgb", ".parquet": "parquet", ".geoparquet": "parquet",
              ".csv": "csv"}
_MAGIC = ((b"SQLite format 3\x00", "gpkg"), (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"fgb\x03", "fgb"),
          (b"PAR1", "parquet"))
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "shape")
LAT_COLUMNS = ("lat", "latitude", "y")
LON_COLUMNS = ("lon", "lng", "long", "longitude", "x")
_KML_DISPLAY_FIELDS = {"timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude", "visibility",
                       "drawOrder", "icon", "snippet"}
GEM_COLUMNS = {"project", "type", "status", "countries", "lat", "lng", "route", "url"}


@dataclass(frozen=True)
class Limits:
    """How much one file may hold: bytes as uploaded, bytes unpacked, features, vertices, seconds, memory."""

    max_bytes: int = 100 * 2**20
    max_unpacked_bytes: int = 500 * 2**20
    max_features: int = 200_000
    max_vertices: int = 1_000_000
    time_budget_s: float = 120.0
    memory_mb: int | None = 4096


@dataclass
class RawLayer:
    """One layer as read from a file: properties and geometries in the file's CRS, before any mapping.

    ``crs`` is a pyproj-readable CRS, or None when the file names none;
    ``labels`` say how to name each feature in a problem (``#3``, ``row 7``);
    ``meta`` is the project's own layer metadata when the file carries it.
    """

    name: str
    fmt: str
    properties: list
    geometries: np.ndarray
    labels: list
    crs: object = None
    meta: dict | None = None
    notes: list = field(default_factory=list)
    problems: list = field(default_factory=list)


def decode_text(data, name):
    """UTF-8 text (a BOM dropped), or LayerInvalid naming the first bad byte's offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LayerInvalid(name, None, f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} "
                                       "is invalid (save the file as UTF-8)") from None


def sniff(data, name):
    """The format of ``data`` from its magic bytes, checked against the extension of ``name``."""
    ext = PurePath(name).suffix.lower()
    claimed = EXTENSIONS.get(ext)
    found = next((fmt for magic, fmt in _MAGIC if data.startswith(magic)), None)
    if found is None:
        head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        found = "geojson" if head[:1] in (b"{", b"[") else "kml" if head[:1] == b"<" else "csv"
    if found == "zip" and claimed == "kmz":
        found = "kmz"
    if claimed is None:
        if ext and ext not in (".txt", ".xml"):
            raise LayerInvalid(name, None, f"unsupported file type {ext!r}; give one of: "
                                           + ", ".join(sorted(EXTENSIONS)))
        return found
    if claimed != found and not (claimed == "zip" and found == "kmz"):
        raise LayerInvalid(name, None, f"the name says {FORMAT_NAMES.get(claimed, claimed)} but the content is "
                                       f"{FORMAT_NAMES.get(found, found)}; refused")
    return found


def _check_counts(name, features, vertices, limits):
    if features > limits.max_features:
        raise LayerInvalid(name, None, f"{features:,} features; the limit is {limits.max_features:,}")
    if vertices > limits.max_vertices:
        raise LayerInvalid(name, None, f"{vertices:,} vertices; the limit is {limits.max_vertices:,} "
                                       "(simplify or split the file)")


# --- GeoJSON ------------------------------------------------------------------------------------------

def _legacy_crs(doc, name):
    crs = doc.get("crs")
    if crs is None:
        return None
    try:
        return str(crs["properties"]["name"])
    except (KeyError, TypeError):
        raise LayerInvalid(name, None, f"unreadable 'crs' member {json.dumps(crs)[:80]}") from None


def _geojson(data, name, limits):
    doc = parse_json(decode_text(data, name), name)
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    elif isinstance(doc, dict) and doc.get("type") in ("Point", "LineString", "Polygon", "MultiPoint",
                                                       "MultiLineString", "MultiPolygon"):
        doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": doc}]}
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise LayerInvalid(name, None, "not a GeoJSON FeatureCollection, Feature or geometry")
    features = doc.get("features")
    if not isinstance(features, list):
        raise LayerInvalid(name, None, "'features' must be a list")
    _check_counts(name, len(features), 0, limits)
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else None
    props, geoms, labels, problems = [], [], [], []
    for i, feature in enumerate(features):
        label = f"#{i + 1}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(Problem(label, f"not a GeoJSON Feature object (got {json.dumps(feature)[:40]})"))
            feature = {}
        p = feature.get("properties")
        if p is not None and not isinstance(p, dict):
            problems.append(Problem(label, "properties must be an object or null"))
            p = {}
        p = dict(p or {})
        if json_depth(p) > MAX_JSON_DEPTH:
            problems.append(Problem(label, f"properties nested deeper than {MAX_JSON_DEPTH} levels"))
            p = {}
        if "id" not in p and isinstance(feature.get("id"), (str, int)) and not isinstance(feature.get("id"), bool):
            p["id"] = feature["id"]
        if isinstance(p.get("id"), (str, int)):
            label = f"#{i + 1} (id {p['id']!r})"
        geometry = feature.get("geometry")
        try:
            geom = geometry_from_geojson(geometry)
        except Exception:  # noqa: BLE001 - GEOS's reader says little; the problem below says what is wrong
            geom = None
            bad = first_non_finite(geometry.get("coordinates")) if isinstance(geometry, dict) else None
            problems.append(Problem(label, f"coordinate {bad} is not a finite number" if bad else
                                    f"unreadable geometry {json.dumps(geometry)[:60]}"))
        props.append(p)
        geoms.append(geom)
        labels.append(label)
    geoms = np.array(geoms, dtype=object) if geoms else np.array([], dtype=object)
    return [RawLayer(name=PurePath(name).stem, fmt="geojson", properties=props, geometries=geoms, labels=labels,
                     crs=_legacy_crs(doc, name), meta=meta, problems=problems)]


# --- GDAL formats through pyogrio ------------------------------------------------------------------------

def _cell(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (pd.Timestamp,)) or hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return None  # binary attributes have no place in a popup
    if isinstance(value, np.ndarray):
        return [_cell(v) for v in value.tolist()]
    return value


def frame_properties(frame):
    """A DataFrame's rows as JSON-ready dicts (NaN, NaT, binary -> None), empty columns dropped."""
    frame = frame.loc[:, [c for c in frame.columns if frame[c].notna().any()]]
    frame.columns = [str(c) for c in frame.columns]
    rows = frame.to_dict(orient="records")
    for row in rows:
        for k, v in row.items():
            if not isinstance(v, str):  # text (most CSV cells) is already JSON-ready
                row[k] = _cell(v)
    return rows


def _ogr_layers(data, name, fmt, limits, *, layer_names=None):
    import pyogrio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "non conformant file extension" of /vsimem names
        try:
            listed = [str(n) for n, _ in pyogrio.list_layers(data)]
        except Exception as exc:  # noqa: BLE001 - GDAL's error text is the most precise description
            raise LayerInvalid(name, None, f"GDAL cannot read it as {FORMAT_NAMES[fmt]}: {exc}") from None
        out = []
        # a name not in the file (a single layer is called after the file) reads all; the caller picks
        for layer in [n for n in (layer_names or ()) if n in listed] or listed:
            info = pyogrio.read_info(data, layer=layer)
            _check_counts(f"{name}: {layer}", int(info["features"] or 0), 0, limits)
            gdf = pyogrio.read_dataframe(data, layer=layer, force_2d=True, on_invalid="ignore")
            geoms = np.asarray(gdf.geometry.values, dtype=object)
            labels = [f"feature {i + 1}" for i in range(len(gdf))]
            problems = [Problem(labels[i], "unreadable geometry") for i in np.flatnonzero(shapely.is_missing(geoms))
                        if fmt != "kml"]
            out.append(RawLayer(name=layer if len(listed) > 1 else PurePath(name).stem, fmt=fmt,
                                properties=frame_properties(gdf.drop(columns=gdf.geometry.name)), geometries=geoms,
                                labels=labels, crs=gdf.crs, problems=problems))
    if not out:
        raise LayerInvalid(name, None, f"the {FORMAT_NAMES[fmt]} holds no layer")
    return out


def _shapefile_zip(members, name, limits):
    """Re-pack only the Shapefile parts into a clean archive for GDAL: nothing else in the zip is opened."""
    shps = [n for n in members if n.lower().endswith(".shp")]
    if not shps:
        kml = [n for n in members if n.lower().endswith(".kml")]
        if kml:
            return _kml(members[kml[0]], name, limits, fmt="kmz")
        raise LayerInvalid(name, None, "the zip holds no .shp file (a zipped Shapefile needs .shp, .shx, .dbf)")
    clean = io.BytesIO()
    with zipfile.ZipFile(clean, "w", zipfile.ZIP_STORED) as out:
        for member, content in members.items():
            if member.lower().endswith(_SHAPEFILE_PARTS):
                out.writestr(member, content)
    for shp in shps:
        stem = shp[:-4]
        for part in (".shx", ".dbf"):
            if not any(m.lower() == (stem + part).lower() for m in members):
                raise LayerInvalid(name, None, f"{shp} has no {stem + part} beside it")
    layers = _ogr_layers(clean.getvalue(), name, "shapefile", limits)
    if len(shps) == 1:
        layers[0].name = PurePath(shps[0]).stem
    for layer in layers:
        if layer.crs is None:
            layer.notes.append(f"{layer.name}.prj is missing: the Shapefile names no CRS")
    return layers


def _kml(data, name, limits, *, fmt="kml"):
    check_xml(data, name)
    if b"NetworkLink" in data:
        raise LayerInvalid(name, None, "KML NetworkLinks (references to other files or servers) are not followed; "
                                       "refused")
    layers = _ogr_layers(data, name, fmt, limits)
    for layer in layers:
        layer.crs = "EPSG:4326"  # KML is WGS84 lon/lat by definition
        # GDAL's KML/LIBKML drivers add display fields that say nothing about the feature
        layer.properties = [{k: v for k, v in p.items() if k not in _KML_DISPLAY_FIELDS} for p in layer.properties]
    return layers


def _parquet(data, name, limits):
    import geopandas as gpd
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception as exc:  # noqa: BLE001
        raise LayerInvalid(name, None, f"not a readable Parquet file: {exc}") from None
    _check_counts(name, meta.num_rows, 0, limits)
    unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if unpacked > limits.max_unpacked_bytes:
        raise TooLarge(name, None, f"the Parquet data unpacks to {unpacked / 2**20:,.0f} MB; the limit is "
                                   f"{limits.max_unpacked_bytes / 2**20:.3g} MB")
    if b"geo" not in (meta.metadata or {}):
        raise LayerInvalid(name, None, "a Parquet file without GeoParquet 'geo' metadata: no geometry column")
    try:
        gdf = gpd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001
        raise LayerInvalid(name, None, f"unreadable GeoParquet: {exc}") from None
    geoms = np.asarray(shapely.force_2d(gdf.geometry.values), dtype=object)
    return [RawLayer(name=PurePath(name).stem, fmt="parquet", properties=frame_properties(
        gdf.drop(columns=gdf.geometry.name)), geometries=geoms, labels=[f"row {i + 1}" for i in range(len(gdf))],
        crs=gdf.crs)]


# --- CSV ----------------------------------------------------------------------------------------------

def _pick(columns, names):
    lower = {c.strip().lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _csv(data, name, limits, only=None):
    text = decode_text(data, name)
    header = next(csv.reader(io.StringIO(text[:65536])), [])
    if GEM_COLUMNS <= {h.strip() for h in header}:
        from layers.importers.gem_user import raw_layers_from_text

        return raw_layers_from_text(text, name, only=only)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[], skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise LayerInvalid(name, None, f"unreadable CSV: {exc}") from None
    _check_counts(name, len(frame), 0, limits)
    labels = [f"row {i + 2}" for i in range(len(frame))]  # row 1 is the header
    problems = []
    wkt = _pick(frame.columns, WKT_COLUMNS)
    lat, lon = _pick(frame.columns, LAT_COLUMNS), _pick(frame.columns, LON_COLUMNS)
    if wkt is not None:
        texts = frame[wkt].str.strip().replace("", None).to_numpy(dtype=object)
        geoms = np.asarray(shapely.from_wkt(texts, on_invalid="ignore"), dtype=object)
        for i in np.flatnonzero(shapely.is_missing(geoms) & pd.notna(texts)):
            problems.append(Problem(labels[i], f"column {wkt!r}: unreadable WKT {str(texts[i])[:60]!r}"))
        used = [wkt]
    elif lat is not None and lon is not None:
        ys = pd.to_numeric(frame[lat].str.strip(), errors="coerce").to_numpy(dtype=float)
        xs = pd.to_numeric(frame[lon].str.strip(), errors="coerce").to_numpy(dtype=float)
        for column, values, raw in ((lat, ys, frame[lat]), (lon, xs, frame[lon])):
            for i in np.flatnonzero(np.isnan(values) & (raw.str.strip().str.lower() != "nan").to_numpy()):
                problems.append(Problem(labels[i], f"column {column!r}: {raw.iloc[i]!r} is not a number"))
        geoms = np.asarray(shapely.points(xs, ys), dtype=object)
        used = [lat, lon]
    else:
        raise LayerInvalid(name, None, "no geometry column: give a WKT column (" + ", ".join(WKT_COLUMNS)
                           + ") or latitude and longitude columns (lat/latitude and lon/lng/longitude)")
    rest = frame.drop(columns=used).replace("", None)
    return [RawLayer(name=PurePath(name).stem, fmt="csv", properties=frame_properties(rest), geometries=geoms,
                     labels=labels, crs="EPSG:4326",
                     notes=[f"CSV coordinates read as WGS84 longitude/latitude from column{'s' * (len(used) > 1)} "
                            + ", ".join(used)],
                     problems=problems)]


def read_layers(data, name, limits, *, only=None):
    """Every layer in the file ``data`` (bytes) called ``name``, as :class:`RawLayer`\\ s.

    Raises :class:`~layers.errors.LayerInvalid` (422) or
    :class:`~layers.errors.TooLarge` (413) naming the file for anything that
    makes the whole file unusable; per-feature problems are collected.
    ``only``: read just the layer of that name when the format allows.
    """
    if len(data) > limits.max_bytes:
        raise TooLarge(name, None, f"{len(data) / 2**20:,.1f} MB; the limit is {limits.max_bytes / 2**20:.3g} MB")
    if not data.strip():
        raise LayerInvalid(name, None, "the file is empty")
    fmt = sniff(data, name)
    if fmt == "geojson":
        layers = _geojson(data, name, limits)
    elif fmt in ("gpkg", "fgb"):
        layers = _ogr_layers(data, name, fmt, limits, layer_names=[only] if only and fmt == "gpkg" else None)
    elif fmt in ("zip", "kmz"):
        members = read_zip(data, name, max_unpacked_bytes=limits.max_unpacked_bytes)
        if fmt == "kmz":
            kml = [n for n in members if n.lower().endswith(".kml")]
            if not kml:
                raise LayerInvalid(name, None, "the KMZ holds no .kml document")
            layers = _kml(members[sorted(kml, key=lambda n: n.lower() != "doc.kml")[0]], name, limits, fmt="kmz")
        else:
            layers = _shapefile_zip(members, name, limits)
    elif fmt == "kml":
        layers = _kml(data, name, limits)
    elif fmt == "parquet":
        layers = _parquet(data, name, limits)
    else:
        layers = _csv(data, name, limits, only)
    for layer in layers:
        vertices = int(shapely.get_num_coordinates(layer.geometries).sum()) if len(layer.geometries) else 0
        _check_counts(f"{name}: {layer.name}" if len(layers) > 1 else name, len(layer.geometries), vertices, limits)
    return layers
