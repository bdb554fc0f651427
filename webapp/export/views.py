"""Exports for reports: one self-contained HTML map, print-grade PDF/PNG/SVG figures, the statistics table.

The HTML is the embed page with every script, stylesheet, font and icon
inlined (:func:`webapp.maps.assets.inline_assets`), so it opens from ``file://``
with no network. Figures are drawn with matplotlib's object-oriented API
(:mod:`webapp.export.figures`): no browser, no global lock.
"""

from __future__ import annotations

import difflib
import json

import pandas as pd
from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from geo.stats import format_stats, markdown_text
from layers.errors import BadParameter
from webapp.analytics import layer_stats
from webapp.export.figures import layers_figure
from webapp.export.figures_page import FIGURE_FORMATS, configure_matplotlib, figure_page
from webapp.hosts import external_url
from webapp.maps import assets
from webapp.maps.blocs import parse_bloc
from webapp.maps.builder import MapSpec, cached_map, current_catalog, overview_layer_ids, parse_basemap, parse_layer_ids
from webapp.workload import heavy_view

__all__ = [
    "FIGURE_PARAMS", "MAP_FORMATS", "STATS_EXPORTS", "STATS_FORMATS", "bp", "export_html",
    "figure_params", "init_app", "layers_figure_bytes", "layers_page_url", "refuse_figure_params", "stats_table",
]

bp = Blueprint("export", __name__)

MAP_FORMATS = ("html", *FIGURE_FORMATS)
STATS_FORMATS = ("csv", "json", "md")
FIGURE_PARAMS = ("paper", "orientation", "dpi", "width", "height")
# /export?format= names of the statistics tables: csv/json/md alone would read as data formats
STATS_EXPORTS = {f"stats-{fmt}": fmt for fmt in STATS_FORMATS}
_MIME = {"html": "text/html", "csv": "text/csv", "json": "application/json", "md": "text/markdown"}


def init_app(app):
    """Register ``flask --app webapp export ...`` (same options as ``python -m webapp export``); set up matplotlib."""
    import click

    configure_matplotlib()

    @app.cli.command("export", context_settings={"ignore_unknown_options": True, "help_option_names": []})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def export_command(args):
        """Export a map (html/png/svg/pdf) or the statistics table (see python -m webapp export --help)."""
        from webapp.__main__ import build_parser, run_export

        raise SystemExit(run_export(current_app._get_current_object(), build_parser().parse_args(["export", *args])))


# --- HTML --------------------------------------------------------------------------

def export_html(layer_ids, *, basemap="none", bloc=None):
    """One self-contained HTML page of the map (needs an app context). Tiles only if ``basemap`` is not 'none'."""
    catalog = current_catalog()
    spec = MapSpec(tuple(layer_ids), basemap, None, bloc)
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
        return "\n".join(f"## {markdown_text(catalog.layer(lid).title)}\n\n"
                         "Lengths in km, geodesic (WGS84).\n\n"
                         + format_stats(layer_stats(catalog, lid), "md") for lid in layer_ids)
    raise BadParameter("format", f"{fmt!r} is not one of {', '.join(STATS_FORMATS)}")


# --- the download route -----------------------------------------------------------------

def figure_params(args, config):
    """The figure options of ``args`` (request args or CLI values) as keyword arguments of :func:`figure_page`."""
    return {"paper": args.get("paper"), "orientation": args.get("orientation"), "dpi": args.get("dpi"),
            "width": args.get("width"), "height": args.get("height"),
            "default_width_px": config["EXPORT_WIDTH_PX"], "default_height_px": config["EXPORT_HEIGHT_PX"],
            "max_pixels": config["EXPORT_MAX_PIXELS"]}


def refuse_figure_params(args, fmt):
    """BadParameter when a figure option (paper, dpi, ...) comes with a format that is not a figure."""
    for name in FIGURE_PARAMS:
        if args.get(name) not in (None, ""):
            raise BadParameter(name, f"{name}= applies to the figure formats ({', '.join(FIGURE_FORMATS)}), "
                                     f"not to format={fmt}")


def layers_page_url(catalog, layer_ids):
    """Absolute URL of the interactive map of ``layer_ids`` (the overview when they are all the layers)."""
    if set(layer_ids) == set(overview_layer_ids(catalog)):
        return external_url("pages.overview")
    if len(layer_ids) == 1:
        return external_url("pages.layer_map", layer_id=layer_ids[0])
    return external_url("pages.layers_map", layers=",".join(layer_ids))


def layers_figure_bytes(catalog, layer_ids, args, config):
    """(body, mimetype) of the PNG/SVG/PDF figure ``args`` ask for; needs a request (or test request) context."""
    page = figure_page(args.get("format"), **figure_params(args, config))
    return (layers_figure(catalog, layer_ids, page, url=layers_page_url(catalog, layer_ids),
                          bloc=parse_bloc(args.get("blocs"))), page.mimetype)


@bp.get("/export")
@heavy_view
def download():
    """``/export?layers=a,b&format=html|png|svg|pdf|stats-csv|stats-json|stats-md`` as a download.

    Figures take ``paper=a4|a3|letter&orientation=landscape|portrait`` or
    ``width=&height=`` (pixels), and ``dpi=``; HTML takes ``basemap=``; both take
    ``blocs=sco|eaeu|carec`` (countries coloured by bloc). The
    old ``csv``/``json``/``md`` redirect to ``stats-*``, data formats to the
    layer download.
    """
    allowed = ("layers", "format", "basemap", "blocs", *FIGURE_PARAMS)
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
    if fmt in FIGURE_FORMATS:
        body, mimetype = layers_figure_bytes(catalog, layer_ids, request.args, current_app.config)
    elif fmt == "html" or fmt in STATS_EXPORTS:
        refuse_figure_params(request.args, fmt)
        if fmt == "html":
            body = export_html(layer_ids, basemap=parse_basemap(request.args.get("basemap"), default="none"),
                               bloc=parse_bloc(request.args.get("blocs")))
        else:
            if request.args.get("blocs"):
                raise BadParameter("blocs", f"colours countries on maps and figures, not in {fmt}")
            fmt = STATS_EXPORTS[fmt]
            body = stats_table(catalog, layer_ids, fmt=fmt)
        mimetype = _MIME[fmt]
    else:
        choices = MAP_FORMATS + tuple(STATS_EXPORTS)
        raise BadParameter("format", f"{fmt!r} is not one of {', '.join(choices)} (layer data: "
                           "/api/layers/<id>/download?format=...)", difflib.get_close_matches(fmt, choices))
    stem = "_".join(layer_ids) if len(layer_ids) <= 3 else "map"
    name = f"{stem}_stats.{fmt}" if fmt in STATS_FORMATS else f"{stem}.{fmt}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


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
