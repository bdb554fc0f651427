"""Exports for reports: one self-contained HTML map, a static PNG/SVG map, the statistics table.

The HTML is the embed page with every script, stylesheet, font and icon
inlined (:func:`webapp.maps.assets.inline_assets`), so it opens from ``file://``
with no network. The static map is drawn with matplotlib (no browser) in
the colours and dashes of :mod:`layers.styles`, with legend, geodesic scale
bar and attribution line.
"""

from __future__ import annotations

import difflib
import html
import io
import json
import threading

import numpy as np
import pandas as pd
import shapely
from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from geo.geodesic import GEOD
from geo.stats import format_stats, layer_stats
from layers.errors import BadParameter
from layers.schema import REGION_BBOX
from layers.styles import HALO_QUALITIES, QUALITY_STYLE, STATUS_STYLE, layer_colour
from webapp.maps import assets
from webapp.maps.builder import (
    MapSpec,
    cached_map,
    current_catalog,
    drawing_order,
    overview_layer_ids,
    parse_basemap,
    parse_layer_ids,
)
from webapp.maps.display import BASEMAP_LAYER
from webapp.workload import heavy_view

__all__ = [
    "MAP_FORMATS", "STATS_EXPORTS", "STATS_FORMATS", "bp", "check_size_px", "export_html", "init_app", "static_map",
    "stats_table",
]

bp = Blueprint("export", __name__)

MAP_FORMATS = ("html", "png", "svg")
STATS_FORMATS = ("csv", "json", "md")
# /export?format= names of the statistics tables: csv/json/md alone would read as data formats
STATS_EXPORTS = {f"stats-{fmt}": fmt for fmt in STATS_FORMATS}
_MIME = {"html": "text/html", "png": "image/png", "svg": "image/svg+xml", "csv": "text/csv",
         "json": "application/json", "md": "text/markdown"}
_SIZE_RANGE_PX = (200, 8000)
_MARKERS = {"port": "s", "power_plant": "^", "lng_terminal": "D", "substation": "p", "converter_station": "p",
            "steel_mill": "h", "education": "*", "coal_mine": "X"}
_NICE_KM = (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000)
_mpl_lock = threading.Lock()  # matplotlib's text and font caches are not thread-safe


def init_app(app):
    """Register ``flask --app webapp export ...`` (same options as ``python -m webapp export``)."""
    import click

    @app.cli.command("export", context_settings={"ignore_unknown_options": True, "help_option_names": []})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def export_command(args):
        """Export a map (html/png/svg) or the statistics table (see python -m webapp export --help)."""
        from webapp.__main__ import build_parser, run_export

        raise SystemExit(run_export(current_app._get_current_object(), build_parser().parse_args(["export", *args])))


# --- HTML --------------------------------------------------------------------------

def export_html(layer_ids, *, basemap="none"):
    """One self-contained HTML page of the map (needs an app context). Tiles only if ``basemap`` is not 'none'."""
    catalog = current_catalog()
    spec = MapSpec(tuple(layer_ids), basemap, None)
    page = render_template("embed.html", map=cached_map(spec, self_contained=True),
                           title=" + ".join(catalog.layer(lid).title for lid in layer_ids))
    return assets.inline_assets(page, url_prefix=current_app.extensions["vendor_assets"]["url_prefix"])


# --- statistics ----------------------------------------------------------------------

def stats_table(catalog, layer_ids, *, fmt):
    """The route-statistics table of ``layer_ids`` as csv (one table, ``layer`` column), json or md."""
    if fmt == "csv":
        tables = [layer_stats(catalog, lid).assign(layer=lid) for lid in layer_ids]
        combined = pd.concat(tables, ignore_index=True)
        return format_stats(combined[["layer", *[c for c in combined.columns if c != "layer"]]], "csv")
    if fmt == "json":
        return json.dumps({lid: json.loads(format_stats(layer_stats(catalog, lid), "json")) for lid in layer_ids},
                          indent=2, ensure_ascii=False)
    if fmt == "md":
        return "\n".join(f"## {html.escape(catalog.layer(lid).title, quote=False)}\n\n"
                         "Lengths in km, geodesic (WGS84).\n\n"
                         + format_stats(layer_stats(catalog, lid), "md") for lid in layer_ids)
    raise BadParameter("format", f"{fmt!r} is not one of {', '.join(STATS_FORMATS)}")


# --- static map -----------------------------------------------------------------------

def _dashes(dash, linewidth):
    """Leaflet dashArray (px at weight 3) -> matplotlib linestyle."""
    if not dash:
        return "solid"
    return 0, tuple(float(v) / 3 * 1.6 / linewidth * 1.2 for v in dash.split())


def _line_paths(geoms):
    """List of (n, 2) coordinate arrays, one per LineString part, and the owning feature index."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    return [shapely.get_coordinates(p) for p in parts], owner


def _scale_bar(ax, lon0, lat0, lon1, lat1):
    """A geodesic scale bar in the lower right: its length is measured on the ellipsoid at that latitude."""
    lat = lat0 + 0.07 * (lat1 - lat0)
    _, _, width_m = GEOD.inv(lon0, lat, lon1, lat)
    target_km = width_m / 1000 / 5
    km = max((n for n in _NICE_KM if n <= target_km), default=_NICE_KM[0])
    start = lon1 - 0.04 * (lon1 - lon0)
    end, _, _ = GEOD.fwd(start, lat, 270, km * 1000)  # westwards from the right edge
    half = (start + end) / 2
    ax.plot([end, half], [lat, lat], color="black", lw=4, solid_capstyle="butt", zorder=9)
    ax.plot([half, start], [lat, lat], color="white", lw=4, solid_capstyle="butt", zorder=9)
    ax.plot([end, start], [lat, lat], color="black", lw=0.6, zorder=10)
    ax.text((start + end) / 2, lat + 0.012 * (lat1 - lat0), f"{km:g} km (geodesic, at {lat:.1f}°N)",
            ha="center", va="bottom", fontsize=7, zorder=10,
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1})


def static_map(catalog, layer_ids, *, fmt="png", width_px=1600, height_px=1000, simplify_deg=0.01):
    """Render a static map (png or svg bytes) of ``layer_ids`` at ``width_px`` x ``height_px``.

    Boundaries as the base; lines coloured by layer, dashed and faded by
    status, schematic and approximate lines with a halo; points by kind; legend, geodesic
    scale bar, attribution. Boundaries are simplified by ``simplify_deg``
    degrees for drawing only.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Polygon as MplPolygon
    from matplotlib.patches import Rectangle

    if fmt not in ("png", "svg"):
        raise BadParameter("format", f"{fmt!r} is not png or svg")
    layers = [catalog.layer(lid) for lid in drawing_order(catalog, layer_ids)]
    shown = [lay for lay in layers if len(lay.gdf)]
    boxes = np.array([lay.bbox for lay in shown]) if shown else np.array([[60.0, 23.0, 78.0, 38.0]])
    lon0, lat0 = boxes[:, 0].min(), boxes[:, 1].min()
    lon1, lat1 = boxes[:, 2].max(), boxes[:, 3].max()
    pad_lon, pad_lat = max(0.5, 0.06 * (lon1 - lon0)), max(0.5, 0.06 * (lat1 - lat0))
    lon0, lon1, lat0, lat1 = lon0 - pad_lon, lon1 + pad_lon, lat0 - pad_lat, lat1 + pad_lat

    with _mpl_lock:
        fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
        FigureCanvasAgg(fig)
        box = (0.045, 0.075, 0.94, 0.86)
        ax = fig.add_axes(box)
        ax.set_facecolor("#e6e5e1")  # outside the region the boundaries cover: no data, not sea
        # Equirectangular with the aspect of the mid latitude (what geopandas does for lon/lat data);
        # widen whichever extent is short so the map fills the axes box.
        aspect = 1 / np.cos(np.radians((lat0 + lat1) / 2))
        box_ratio = (box[3] * height_px) / (box[2] * width_px)
        dx, dy = lon1 - lon0, lat1 - lat0
        if dy * aspect / dx < box_ratio:
            grow = (dx * box_ratio / aspect - dy) / 2
            lat0, lat1 = lat0 - grow, lat1 + grow
        else:
            grow = (dy * aspect / box_ratio - dx) / 2
            lon0, lon1 = lon0 - grow, lon1 + grow
        ax.set_xlim(lon0, lon1)
        ax.set_ylim(lat0, lat1)
        ax.set_aspect(aspect, adjustable="box")
        attributions = []
        r0, r1, r2, r3 = REGION_BBOX
        ax.add_patch(Rectangle((r0, r1), r2 - r0, r3 - r1, facecolor="#cfe0ea", edgecolor="none", zorder=0))
        if BASEMAP_LAYER in catalog:
            base = catalog.layer(BASEMAP_LAYER)
            simple = shapely.simplify(base.gdf.geometry.to_numpy(), simplify_deg, preserve_topology=True)
            rings, _ = _line_paths(shapely.boundary(simple))
            polys = shapely.get_parts(simple)
            patches = [MplPolygon(shapely.get_coordinates(shapely.get_exterior_ring(p)), closed=True) for p in polys]
            ax.add_collection(PatchCollection(patches, facecolor="#f4f1ea", edgecolor="none", zorder=1))
            ax.add_collection(LineCollection(rings, colors="#8d8d8d", linewidths=0.5, zorder=2))
            attributions.append(base.attribution)
        handles, status_seen, halo_seen = [], set(), set()
        for layer in layers:
            colour = layer_colour(layer.id, layer.meta)
            gdf = layer.gdf
            if not len(gdf):
                continue
            if layer.attribution not in attributions:
                attributions.append(layer.attribution)
            geoms = gdf.geometry.to_numpy()
            type_ids = shapely.get_type_id(geoms)
            lines = np.isin(type_ids, (1, 5))
            points = type_ids == 0
            polygons = np.isin(type_ids, (3, 6))
            if polygons.any():
                outlines, _ = _line_paths(shapely.boundary(geoms[polygons]))
                ax.add_collection(LineCollection(outlines, colors=colour, linewidths=1.0, zorder=3))
            for status, group in gdf[lines].groupby(gdf["status"].fillna("operating")[lines]):
                style = STATUS_STYLE.get(status, STATUS_STYLE["operating"])
                status_seen.add(status)
                quality = group["geometry_quality"].to_numpy()
                for q in (None, *HALO_QUALITIES):
                    picked = np.isin(quality, HALO_QUALITIES, invert=True) if q is None else quality == q
                    sel = group.geometry.to_numpy()[picked]
                    if not len(sel):
                        continue
                    paths, _ = _line_paths(sel)
                    lw = 1.3 if q == "schematic" else 1.8
                    if q is not None:
                        halo_seen.add(q)
                        ax.add_collection(LineCollection(paths, colors=colour, linewidths=lw + 5, alpha=0.18,
                                                         capstyle="round", zorder=4))
                    ax.add_collection(LineCollection(paths, colors=colour, linewidths=lw, alpha=style["opacity"],
                                                     linestyles=[_dashes(style["dash"], lw)], zorder=5))
            if points.any():
                pts = gdf[points]
                xy = shapely.get_coordinates(pts.geometry.to_numpy())
                alpha = pts["status"].map(lambda s: STATUS_STYLE.get(s, STATUS_STYLE["operating"])["opacity"])
                for kind in sorted(set(pts["kind"])):
                    sel = (pts["kind"] == kind).to_numpy()
                    ax.scatter(xy[sel, 0], xy[sel, 1], s=26, marker=_MARKERS.get(kind, "o"), c=colour,
                               alpha=alpha.to_numpy()[sel].clip(0.45, 1), edgecolors="white", linewidths=0.5,
                               zorder=6)
            marker = _MARKERS.get(str(gdf["kind"].iloc[0]), "o") if points.all() else None
            handles.append(Line2D([], [], color=colour, lw=0 if marker else 2.2, marker=marker, markersize=6,
                                  markeredgecolor="white", label=layer.title))
        for status, style in STATUS_STYLE.items():
            if status in status_seen:
                handles.append(Line2D([], [], color="#333", lw=1.8, alpha=style["opacity"],
                                      linestyle=_dashes(style["dash"], 1.8), label=style["label"]))
        for q in HALO_QUALITIES:
            if q in halo_seen:
                handles.append(Line2D([], [], color="#333", lw=1.3, label=f"{QUALITY_STYLE[q]['label']} (halo)",
                                      path_effects=_halo_effect()))
        ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.92, borderpad=0.6)
        _scale_bar(ax, lon0, lat0, lon1, lat1)
        ax.tick_params(labelsize=7, length=2)
        ax.set_xlabel("")
        fig.text(0.045, 0.955, " + ".join(lay.title for lay in layers), fontsize=12, weight="bold")
        fig.text(0.045, 0.018, "Data: " + "; ".join(attributions)
                 + ". Lengths geodesic (WGS84). Schematic and approximate lines are indicative.", fontsize=7,
                 color="#333", wrap=True)
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=100, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def _halo_effect():
    from matplotlib import patheffects

    return [patheffects.Stroke(linewidth=7, foreground="#333", alpha=0.18), patheffects.Normal()]


# --- the download route -----------------------------------------------------------------

def check_size_px(name, value):
    """``value`` as a whole number of pixels within 200..8000, else BadParameter(name)."""
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise BadParameter(name, f"{value!r} is not a whole number of pixels") from None
    lo, hi = _SIZE_RANGE_PX
    if not lo <= size <= hi:
        raise BadParameter(name, f"{size} is outside {lo}..{hi} pixels")
    return size


def _size(name, default):
    text = request.args.get(name)
    return default if text is None else check_size_px(name, text)


@bp.get("/export")
@heavy_view
def download():
    """``/export?layers=a,b&format=html|png|svg|stats-csv|stats-json|stats-md[&basemap=none|osm][&width=&height=]``
    as a download (the old ``csv``/``json``/``md`` redirect to ``stats-*``, data formats to the layer download)."""
    allowed = ("layers", "format", "basemap", "width", "height")
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise BadParameter(unknown[0], f"unknown query parameter (allowed: {', '.join(allowed)})",
                           difflib.get_close_matches(unknown[0], allowed))
    catalog = current_catalog()
    layer_ids = (parse_layer_ids(request.args["layers"], catalog) if "layers" in request.args
                 else overview_layer_ids(catalog))
    fmt = request.args.get("format", "html")
    moved = _moved_format(fmt, layer_ids)
    if moved is not None:
        return moved
    config = current_app.config
    if fmt == "html":
        body = export_html(layer_ids, basemap=parse_basemap(request.args.get("basemap"), default="none"))
    elif fmt in ("png", "svg"):
        body = static_map(catalog, layer_ids, fmt=fmt, width_px=_size("width", config["EXPORT_WIDTH_PX"]),
                          height_px=_size("height", config["EXPORT_HEIGHT_PX"]),
                          simplify_deg=config["BASEMAP_SIMPLIFY_DEG"])
    elif fmt in STATS_EXPORTS:
        fmt = STATS_EXPORTS[fmt]
        body = stats_table(catalog, layer_ids, fmt=fmt)
    else:
        choices = MAP_FORMATS + tuple(STATS_EXPORTS)
        raise BadParameter("format", f"{fmt!r} is not one of {', '.join(choices)} (layer data: "
                           "/api/layers/<id>/download?format=...)", difflib.get_close_matches(fmt, choices))
    stem = "_".join(layer_ids) if len(layer_ids) <= 3 else "map"
    name = f"{stem}_stats.{fmt}" if fmt in STATS_FORMATS else f"{stem}.{fmt}"
    return Response(body, mimetype=_MIME[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _moved_format(fmt, layer_ids):
    """Old statistics names (csv, json, md) redirect to stats-*; data formats redirect to the layer download."""
    from webapp.export.downloads import FORMAT_NAMES

    if fmt in STATS_FORMATS:
        return redirect(url_for("export.download", **{**request.args.to_dict(), "format": f"stats-{fmt}"}), 301)
    if fmt in FORMAT_NAMES and fmt not in MAP_FORMATS:
        if len(layer_ids) == 1:
            return redirect(url_for("downloads.layer_download", layer_id=layer_ids[0], format=fmt), 303)
        raise BadParameter("format", f"{fmt!r} is a data format: download each layer from "
                           f"/api/layers/<id>/download?format={fmt} ("
                           + ", ".join(url_for("downloads.layer_download", layer_id=lid, format=fmt)
                                       for lid in layer_ids[:4]) + ("…" if len(layer_ids) > 4 else "") + ")")
    return None
