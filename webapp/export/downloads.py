"""Data downloads in the formats GIS users open: every layer, every filtered selection, every corridor and route.

``GET /api/layers/<id>/download?format=…`` takes the filters of
``/api/layers/<id>`` (``status``, ``kind``, ``countries``, ``id``, ``bbox``,
``limit``/``offset``); corridor and route results come from
``/export/corridor?…&format=…`` and ``/export/route?…&format=…``
(:mod:`webapp.analysis.views`), through :func:`frame_download`.

Every file is written by a library: GeoJSON is the API's own (shapely's
serialisation, RFC 7946), GeoPackage, Shapefile, KML, FlatGeobuf and CSV by
GDAL through pyogrio, GeoParquet by geopandas with pyarrow. Lists and
objects in properties (``countries``, ``sources``) become JSON text in the
formats without nested values. Each answer names its file
(``Content-Disposition``) and, like every GET here, serves byte ranges.
"""

from __future__ import annotations

import difflib
import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow
import pyogrio
import shapely
from flask import Blueprint, Response, current_app, request

from layers.errors import BadParameter
from layers.index import page
from webapp.api.httpcache import derived_etag, not_modified
from webapp.api.views import GEOJSON, LayerQuery, feature_texts, parse_query, select_features
from webapp.maps.builder import current_catalog

__all__ = ["DOWNLOAD_FORMATS", "FORMAT_NAMES", "DownloadFormat", "bp", "download_response", "frame_bytes",
           "frame_download", "parse_format"]

bp = Blueprint("downloads", __name__)


class DownloadFormat(NamedTuple):
    """One download format: query value, label for pages, media type, file extension."""

    name: str
    label: str
    media_type: str
    extension: str


DOWNLOAD_FORMATS = (
    DownloadFormat("geojson", "GeoJSON", GEOJSON, "geojson"),
    DownloadFormat("gpkg", "GeoPackage", "application/geopackage+sqlite3", "gpkg"),
    DownloadFormat("shp", "Shapefile (zip)", "application/zip", "shp.zip"),
    DownloadFormat("kml", "KML", "application/vnd.google-earth.kml+xml", "kml"),
    DownloadFormat("fgb", "FlatGeobuf", "application/flatgeobuf", "fgb"),
    DownloadFormat("csv", "CSV (WKT, lon/lat)", "text/csv", "csv"),
    DownloadFormat("parquet", "GeoParquet", "application/vnd.apache.parquet", "parquet"),
)
FORMAT_NAMES = tuple(f.name for f in DOWNLOAD_FORMATS)
_BY_NAME = {f.name: f for f in DOWNLOAD_FORMATS}
_DRIVERS = {"gpkg": "GPKG", "kml": "KML", "fgb": "FlatGeobuf", "csv": "CSV"}
# Shapefile holds one geometry type per file: (file suffix, shapely type ids, type written)
_SHAPE_GROUPS = (("points", (0, 4), "MultiPoint"), ("lines", (1, 5), "MultiLineString"),
                 ("polygons", (3, 6), "MultiPolygon"))


def parse_format(text, *, extra=()):
    """The :class:`DownloadFormat` named ``text`` (or one of ``extra``, returned as the name), else BadParameter."""
    value = (text or "").strip().lower()
    if value in _BY_NAME:
        return _BY_NAME[value]
    if value in extra:
        return value
    choices = (*extra, *FORMAT_NAMES)
    raise BadParameter("format", f"{value[:40]!r} is not one of {', '.join(choices)}",
                       difflib.get_close_matches(value, choices, n=3))


def _flat(gdf):
    """A copy whose list/dict/array values are JSON text (formats without nested values)."""
    out = gdf.copy()
    for column in out.columns:
        if column == out.geometry.name or out[column].dtype != object:
            continue
        values = out[column].tolist()
        if any(isinstance(v, (list, dict, tuple, np.ndarray)) for v in values):
            out[column] = [json.dumps(v.tolist() if isinstance(v, np.ndarray) else v, ensure_ascii=False)
                           if v is not None else None for v in values]
    return out


def _with_lonlat(gdf):
    """``lon``/``lat`` columns: the point itself, or a point on the line or polygon (its label point)."""
    geoms = gdf.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    xy = np.full((len(gdf), 2), np.nan)
    if present.any():
        xy[present] = shapely.get_coordinates(shapely.point_on_surface(geoms[present]))
    out = gdf.copy()
    out.insert(0, "lat", np.round(xy[:, 1], 6))
    out.insert(0, "lon", np.round(xy[:, 0], 6))
    return out


def _write(gdf, path, driver, layer, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's notes on laundered Shapefile field names
        pyogrio.write_dataframe(gdf, path, driver=driver, layer=layer, **options)


def _shapefile_zip(gdf, stem, folder):
    buffer = io.BytesIO()
    types = shapely.get_type_id(gdf.geometry.to_numpy())
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for suffix, ids, geometry_type in _SHAPE_GROUPS:
            part = gdf[np.isin(types, ids)]
            if not len(part):
                continue
            name = f"{stem}_{suffix}"
            _write(part, folder / f"{name}.shp", "ESRI Shapefile", name, geometry_type=geometry_type,
                   promote_to_multi=True, layer_options={"ENCODING": "UTF-8"})
            for file in sorted(folder.glob(f"{name}.*")):
                archive.write(file, file.name)
    return buffer.getvalue()


def frame_bytes(gdf, fmt, stem):
    """The bytes of ``gdf`` (EPSG:4326) written as ``fmt`` (a :class:`DownloadFormat` other than geojson)."""
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise ValueError("downloads are written from EPSG:4326 frames")
    if fmt.name == "parquet":
        # geopandas writes the GeoParquet metadata; pyarrow's writer streams into an in-memory arrow buffer
        sink = pyarrow.BufferOutputStream()
        gdf.to_parquet(sink, index=False, compression="zstd")
        return sink.getvalue().to_pybytes()
    flat = _flat(gdf)
    with tempfile.TemporaryDirectory(prefix="mapsvc_download_") as tmp:
        folder = Path(tmp)
        if fmt.name == "shp":
            return _shapefile_zip(flat, stem, folder)
        path = folder / f"{stem}.{fmt.extension}"
        if fmt.name == "csv":
            _write(_with_lonlat(flat), path, "CSV", stem, layer_options={"GEOMETRY": "AS_WKT"})
        elif fmt.name == "kml":
            _write(flat, path, "KML", stem, dataset_options={"NameField": "name"})
        else:
            _write(flat, path, _DRIVERS[fmt.name], stem)
        return path.read_bytes()


def download_response(body, fmt, stem, *, etag=None):
    """``body`` as an attachment named ``<stem>.<extension>``."""
    response = Response(body, mimetype=fmt.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt.extension}"'})
    if etag is not None:
        response.set_etag(etag)
    return response


def frame_download(gdf, fmt, stem, *, geojson=None, key=None):
    """A download of ``gdf`` as ``fmt``; ``geojson``: the bytes to serve for GeoJSON (the API's own).

    ``key`` (hashable): keep the written bytes in the app's body cache (``API_CACHE_MB``).
    """
    if fmt.name == "geojson":
        return download_response(geojson, fmt, stem)
    if key is None:
        return download_response(frame_bytes(gdf, fmt, stem), fmt, stem)
    etag = derived_etag("download", repr(key))
    cached = not_modified(etag, fmt.media_type)
    if cached is not None:
        return cached
    body, _ = current_app.extensions["api_bodies"].get(("download", key), lambda: (frame_bytes(gdf, fmt, stem), etag))
    return download_response(body, fmt, stem, etag=etag)


def _selection(catalog, layer_id, query):
    if query.bbox is None and not query.filters:
        positions = np.arange(len(catalog.layer(layer_id).gdf))
    else:
        positions = select_features(catalog, layer_id, bbox=query.bbox, filters=dict(query.filters))
    chosen, _ = page(positions, limit=query.limit, offset=query.offset)
    return chosen


def _selection_geojson(catalog, layer_id, chosen):
    texts = feature_texts(catalog, layer_id)
    layer = catalog.layer(layer_id)
    meta = {k: layer.meta[k] for k in ("id", "title", "description", "attribution", "licence") if k in layer.meta}
    head = json.dumps({"type": "FeatureCollection", "metadata": meta}, ensure_ascii=False)[:-1]
    return (head + ', "features":[').encode("utf-8") + b",".join(texts[i] for i in chosen.tolist()) + b"]}"


@bp.get("/api/layers/<layer_id>/download")
def layer_download(layer_id):
    """The layer, or the selection its filters make, as a file: ``format=`` geojson|gpkg|shp|kml|fgb|csv|parquet."""
    catalog = current_catalog()
    layer = catalog.layer(layer_id)
    query = parse_query(catalog, layer_id, extra=("format",))
    fmt = parse_format(request.args.get("format", "geojson"))
    chosen = _selection(catalog, layer_id, query)
    stem = layer_id if query == LayerQuery(None, (), None, 0) else f"{layer_id}_selection"
    return frame_download(layer.gdf.iloc[chosen], fmt, stem,
                          geojson=_selection_geojson(catalog, layer_id, chosen) if fmt.name == "geojson" else None,
                          key=(catalog.fingerprint([layer_id]), fmt.name, query))
