"""Corridor and network analysis over HTTP: JSON API, the /corridor and /route pages, embeds, exports.

Views only translate: request parameters become queries and cached results
(:mod:`webapp.analysis.queries`), results become JSON, pages, embeds and
downloads. Rendered maps (:mod:`webapp.analysis.maps`) are kept in an LRU
per (query, basemap, self-contained). ETag, 304 and gzip come from
:mod:`webapp.api.httpcache`. Pages show a bad parameter in the page, with the
form kept filled and the error's status; the API answers JSON errors.
"""

from __future__ import annotations

import geopandas as gpd
from flask import Blueprint, Response, current_app, render_template, request, url_for
from markupsafe import Markup

from geo.corridor import PLACES
from geo.corridor_report import parse_layer_list
from geo.network import DEFAULT_ATTACH_KM, DEFAULT_SNAP_KM, MODES
from geo.places import PLACE_LAYERS, find_place
from layers.errors import BadParameter, MapError
from webapp.analysis import queries as analysis_queries
from webapp.analysis.maps import MODE_STYLE, PLACES_ATTRIBUTION, corridor_map, layer_title, route_map
from webapp.analysis.queries import (
    DEFAULT_WIDTH_KM,
    corridor_query,
    corridor_result,
    km_text,
    nearest_query,
    nearest_result,
    overlap_result,
    route_query,
    route_result,
)
from webapp.api.views import GEOJSON, refuse_unknown
from webapp.export.downloads import DOWNLOAD_FORMATS, frame_download, parse_format
from webapp.export.figures_page import FIGURE_DOWNLOADS, FIGURE_FORMATS
from webapp.export.views import FIGURE_PARAMS, refuse_figure_params
from webapp.hosts import external_url, self_url
from webapp.maps import assets
from webapp.maps.builder import MapCache, current_catalog, map_options, parse_basemap
from webapp.maps.display import BASEMAP_LAYER, country_names
from webapp.workload import heavy_view

__all__ = ["MAJOR_PLACES", "bp", "corridor_html", "route_html"]

bp = Blueprint("analysis", __name__)

DEFAULT_CORRIDOR = "tapi:tapi_trunk"
DEFAULT_ROUTE = {"from": "Kashgar", "to": "Gwadar", "modes": "road"}
# Offered in the /route page's place list beside the ports and energy projects (kept if the gazetteer has them).
MAJOR_PLACES = ("Kashgar", "Gilgit", "Islamabad", "Rawalpindi", "Peshawar", "Nowshera", "Lahore", "Faisalabad",
                "Multan", "Dera Ismail Khan", "Quetta", "Chaman", "Sukkur", "Hyderabad, PK", "Karachi", "Gwadar",
                "Turbat", "Kabul", "Kandahar", "Herat", "Mazar-e Sharif", "Mary", "Ashgabat", "Dushanbe", "Khujand",
                "Tashkent", "Bishkek", "Hotan", "Zahedan", "Chabahar", "Delhi")
CORRIDOR_ARGS = ("layer", "feature", "width_km", "with")
ROUTE_ARGS = ("from", "to", "modes", "snap_km", "attach_km")
_MAPS = "analysis_maps"


@bp.record_once
def _setup(state):
    analysis_queries.init_app(state.app)
    state.app.extensions[_MAPS] = MapCache(state.app.config["MAP_CACHE_MB"] * 1024 * 1024)


def _respond(result, mimetype):
    response = Response(result.body, mimetype=mimetype)
    response.set_etag(result.etag)
    return response


# --- API ---------------------------------------------------------------------------------------

@bp.get("/api/corridor", endpoint="corridor")
def api_corridor():
    """GeoJSON: the corridor band within ``width_km`` of a route, then every feature found, with km."""
    refuse_unknown(CORRIDOR_ARGS)
    catalog = current_catalog()
    return _respond(corridor_result(catalog, corridor_query(catalog, request.args)), GEOJSON)


@bp.get("/api/overlap", endpoint="overlap")
def api_overlap():
    """Shared km and crossings of routes ``a`` and ``b`` (each ``layer:fid``) within ``width_km``."""
    refuse_unknown(("a", "b", "width_km"))
    return _respond(overlap_result(current_catalog(), request.args), "application/json")


@bp.get("/api/route", endpoint="route")
def api_route():
    """GeoJSON: the shortest network path between two places over ``modes``, as legs with km and totals."""
    refuse_unknown(ROUTE_ARGS)
    catalog = current_catalog()
    return _respond(route_result(catalog, route_query(catalog, request.args)), GEOJSON)


@bp.get("/api/nearest", endpoint="nearest")
def api_nearest():
    """The nearest point features of ``layer`` (ports) by geodesic km and by network km."""
    refuse_unknown(("lat", "lon", "place", "layer", "modes", "snap_km", "attach_km", "limit"))
    catalog = current_catalog()
    return _respond(nearest_result(catalog, nearest_query(catalog, request.args)), "application/json")


# --- maps and exports ---------------------------------------------------------------------------

def _map_options(self_contained):
    return map_options(self_contained=self_contained)


def _drawable(doc):
    """``doc`` if a page can draw it (``PAGE_MAX_FEATURES``), else a 400 saying how to get fewer or get them whole."""
    found, limit = len(doc["features"]) - 1, current_app.config["PAGE_MAX_FEATURES"]
    if found > limit:
        raise BadParameter("with", f"this corridor holds {found:,} features, more than a map page draws "
                                   f"({limit:,}): narrow width_km or the with= layers, or get them all from "
                                   "/api/corridor or as a GeoJSON/CSV download")
    return doc


def _corridor_parts(catalog, q, basemap, *, self_contained=False):
    doc = _drawable(corridor_result(catalog, q).doc)
    key = ("corridor", q, basemap, self_contained, catalog.fingerprint((q.layer, *q.with_layers)))
    return current_app.extensions[_MAPS].get(key, lambda: corridor_map(
        catalog, doc, _map_options(self_contained), basemap=basemap, searched=q.with_layers))


def _route_parts(catalog, q, basemap, *, self_contained=False):
    result = route_result(catalog, q)
    key = ("route", q, basemap, self_contained, catalog.fingerprint())
    return current_app.extensions[_MAPS].get(key, lambda: route_map(
        catalog, result.doc, _map_options(self_contained), basemap=basemap))


def _corridor_title(catalog, q):
    name = catalog.feature(q.layer, q.feature)["name"].iloc[0]
    return f"{q.width_km:g} km corridor of {name}"


def _route_title(q):
    return f"{q.start.name} \u2192 {q.end.name} over {', '.join(q.modes)}"


def _standalone(parts, title):
    page = render_template("embed.html", map=parts, title=title)
    return assets.inline_assets(page, url_prefix=current_app.extensions["vendor_assets"]["url_prefix"])


def corridor_html(q, *, basemap="none"):
    """One self-contained HTML page of a corridor map (needs an app context); tiles only if asked."""
    catalog = current_catalog()
    return _standalone(_corridor_parts(catalog, q, basemap, self_contained=True), _corridor_title(catalog, q))


def route_html(q, *, basemap="none"):
    """One self-contained HTML page of a route map (needs an app context); tiles only if asked."""
    catalog = current_catalog()
    return _standalone(_route_parts(catalog, q, basemap, self_contained=True), _route_title(q))


def _download(body, mimetype, name):
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _result_download(result, fmt, stem, key):
    """A corridor or route result in a data format: GeoJSON as the API serves it, the rest via pyogrio/pyarrow."""
    frame = gpd.GeoDataFrame.from_features(result.doc["features"], crs="EPSG:4326")
    # the result's content hash in the key: a result computed from other layer versions is another download
    return frame_download(frame, fmt, stem, geojson=result.body, key=("analysis", key, result.etag, fmt.name))


def _figure(kind, catalog, q, stem):
    """The PNG/SVG/PDF figure of a corridor or route query, as a download (options as for /export)."""
    from webapp.export.figures_analysis import corridor_figure, route_figure
    from webapp.export.figures_page import figure_page
    from webapp.export.views import figure_params

    page = figure_page(request.args.get("format"), **figure_params(request.args, current_app.config))
    draw = corridor_figure if kind == "corridor" else route_figure
    body = draw(catalog, q, page, url=external_url(f"analysis.{kind}_page", **q.params()))
    return _download(body, page.mimetype, f"{stem}.{page.fmt}")


@bp.get("/export/corridor")
@heavy_view
def export_corridor():
    """The corridor as a download: self-contained HTML map, a PNG/SVG/PDF figure, or the band and the features
    within it as data (``format=`` geojson, gpkg, shp, kml, fgb, csv, parquet)."""
    refuse_unknown((*CORRIDOR_ARGS, "format", "basemap", *FIGURE_PARAMS))
    catalog = current_catalog()
    fmt = parse_format(request.args.get("format", "html"), extra=("html", *FIGURE_FORMATS))
    q = corridor_query(catalog, request.args)
    stem = f"corridor_{q.layer}_{q.feature}_{q.width_km:g}km"
    if fmt in FIGURE_FORMATS:
        return _figure("corridor", catalog, q, stem)
    refuse_figure_params(request.args, getattr(fmt, "name", fmt))
    if fmt == "html":
        return _download(corridor_html(q, basemap=parse_basemap(request.args.get("basemap"), default="none")),
                         "text/html", f"{stem}.html")
    return _result_download(corridor_result(catalog, q), fmt, stem, ("corridor", q))


@bp.get("/export/route")
@heavy_view
def export_route():
    """The path as a download: self-contained HTML map, a PNG/SVG/PDF figure, or its legs as data (``format=`` as
    for corridors)."""
    refuse_unknown((*ROUTE_ARGS, "format", "basemap", *FIGURE_PARAMS))
    catalog = current_catalog()
    fmt = parse_format(request.args.get("format", "html"), extra=("html", *FIGURE_FORMATS))
    q = route_query(catalog, request.args)
    stem = "route"
    if fmt in FIGURE_FORMATS:
        return _figure("route", catalog, q, stem)
    refuse_figure_params(request.args, getattr(fmt, "name", fmt))
    if fmt == "html":
        return _download(route_html(q, basemap=parse_basemap(request.args.get("basemap"), default="none")),
                         "text/html", f"{stem}.html")
    return _result_download(route_result(catalog, q), fmt, stem, ("route", q))


# --- pages ---------------------------------------------------------------------------------------

def _with_defaults(args, defaults):
    merged = {k: ",".join(args.getlist(k)) for k in args}
    return {**{k: v for k, v in defaults.items() if k not in merged}, **merged}


def _line_features(catalog):
    def compute():
        groups = []
        for layer in catalog:
            lines = layer.gdf[layer.gdf.geom_type.isin(["LineString", "MultiLineString"])]
            items = [(f"{layer.id}:{fid}", name) for fid, name in zip(lines["id"], lines["name"], strict=True)]
            if items and layer.id != BASEMAP_LAYER:
                groups.append((layer.title, items))
        return groups

    return catalog.memo(("webapp.analysis.views.line-features",), compute)


def _place_choices(catalog):
    def compute():
        found = []
        for layer_id in PLACE_LAYERS:
            if layer_id in catalog:
                gdf = catalog.layer(layer_id).gdf
                points = gdf[gdf.geom_type == "Point"]
                found += [(name, str(kind).replace("_", " "))
                          for name, kind in zip(points["name"], points["kind"], strict=True)]
        for text in MAJOR_PLACES:
            try:
                find_place(catalog, text)
            except MapError:
                continue  # not in this gazetteer: leave it out of the list
            found.append((text, "place (GeoNames)"))
        return found

    return catalog.memo(("webapp.analysis.views.place-choices",), compute)


def _page_context(endpoint, params, title):
    embed_url = external_url(f"analysis.{endpoint}_embed", **params)
    snippet = (f'<iframe src="{Markup.escape(embed_url)}" width="100%" height="520" style="border:0" '
               f'loading="lazy" title="{Markup.escape(title)}"></iframe>')
    downloads = [(label, url_for(f"analysis.export_{endpoint}", **options, **params))
                 for label, options in (("HTML map (self-contained)", {"format": "html"}), *FIGURE_DOWNLOADS,
                                        *((f.label, {"format": f.name}) for f in DOWNLOAD_FORMATS))]
    return {"snippet": snippet, "downloads": downloads, "embed_url": embed_url}


def _render(template, code, **context):
    catalog = current_catalog()
    return render_template(template, all_layers=list(catalog), site_title="Pakistan connectivity corridors",
                           **context), code


def _error_page(template, exc, title, context):
    """The page with the form kept filled and the error in it; suggestions become links."""
    body = exc.to_dict()
    name, links = body.get("parameter"), []
    if name in request.args:
        links = [(text, self_url(**{name: text})) for text in body.get("suggestions", [])]
    return _render(template, exc.status, title=title, error=body, status=exc.status, suggestions=links, **context)


def _sources(catalog, layer_ids):
    """(title, attribution) of each layer a page shows, 'places' being the gazetteer."""
    return [(layer_title(catalog, lid), PLACES_ATTRIBUTION if lid == PLACES else catalog.layer(lid).attribution)
            for lid in dict.fromkeys(layer_ids) if lid == PLACES or lid in catalog]


def _fmt(value):
    return "" if value is None else f"{value:,.1f}"


def _place_layer(place):
    """Where a resolved place came from, as a layer id ('places' for the gazetteer, None for coordinates)."""
    return {"gazetteer": PLACES, "coordinates": None}.get(place.source, place.source)


def _corridor_rows(catalog, doc):
    """Table rows of the features within a corridor, figures formatted (km, one decimal)."""
    rows = []
    for f in doc["features"][1:]:
        p = f["properties"]
        href = None if p["layer"] == PLACES else url_for("pages.layer_map", layer_id=p["layer"], feature=p["id"])
        rows.append({**p, "layer_title": layer_title(catalog, p["layer"]), "href": href,
                     "countries": ", ".join(p["countries"] or []), "distance": _fmt(p["distance_km"]),
                     "chainage": _fmt(p["chainage_km"]), "inside": _inside_text(p)})
    return rows


def _inside_text(props):
    """What of a feature lies inside the band, in its unit: km of a line, km² of a polygon (points: blank)."""
    if props.get("inside_area_km2") is not None:
        return f"{props['inside_area_km2']:,.0f} km\u00b2"
    return _fmt(props["inside_length_km"])


def _leg_rows(doc):
    """Table rows of a path's legs, figures formatted (km, one decimal)."""
    rows = []
    for f in doc["features"]:
        p = f["properties"]
        href = url_for("pages.layer_map", layer_id=p["layer"], feature=p["feature"]) if p["project"] else None
        rows.append({**p, "mode_label": MODE_STYLE[p["mode"]]["label"], "colour": MODE_STYLE[p["mode"]]["color"],
                     "km_text": _fmt(p["km"]), "from_text": _fmt(p["from_km"]), "to_text": _fmt(p["to_km"]),
                     "reported": _fmt(p["reported_length_km"]), "href": href})
    return rows


def _corridor_page(*, embed):
    catalog, args = current_catalog(), request.args
    defaults = {} if "layer" in args else {"feature": DEFAULT_CORRIDOR}
    merged = _with_defaults(args, {**defaults, "width_km": km_text(DEFAULT_WIDTH_KM)})
    feature = merged.get("feature", "")
    form = {"feature": f"{merged['layer']}:{feature}" if "layer" in merged else feature,
            "width_km": merged["width_km"], "basemap": args.get("basemap", current_app.config["DEFAULT_BASEMAP"]),
            "with": set(merged["with"].split(",")) if "with" in merged else set(parse_layer_list(catalog, None))}
    context = {"form": form, "line_features": _line_features(catalog),
               "with_choices": [(PLACES, layer_title(catalog, PLACES))] + [
                   (lay.id, lay.title) for lay in catalog if lay.id != BASEMAP_LAYER]}
    try:
        refuse_unknown((*CORRIDOR_ARGS, "basemap"))
        basemap = parse_basemap(args.get("basemap"), default=current_app.config["DEFAULT_BASEMAP"])
        q = corridor_query(catalog, merged)
        parts = _corridor_parts(catalog, q, basemap)
    except MapError as exc:
        if embed:
            raise
        return _error_page("corridor.html", exc, "Corridor analysis", context)
    title = _corridor_title(catalog, q)
    if embed:
        return _render("embed.html", 200, map=parts, title=title)
    doc = corridor_result(catalog, q).doc
    names = country_names(catalog)
    summary = doc["summary"]
    tables = [("Layer", [(layer_title(catalog, k), v) for k, v in summary["by_layer"].items()]),
              ("Status", list(summary["by_status"].items())),
              ("Country", [(f"{names[k]} ({k})" if k in names else k, v) for k, v in summary["by_country"].items()])]
    route_layer = catalog.layer(q.layer)
    schematic = route_layer.gdf["geometry_quality"].iloc[route_layer.positions[q.feature]] == "schematic"
    return _render("corridor.html", 200, title=title, map=parts, doc=doc, head=doc["features"][0]["properties"],
                   rows=_corridor_rows(catalog, doc), tables=tables, schematic=schematic,
                   sources=_sources(catalog, [q.layer, *q.with_layers, BASEMAP_LAYER]),
                   api_url=url_for("analysis.corridor", **q.params()),
                   **_page_context("corridor", q.params(), title), **context)


def _route_page(*, embed):
    catalog, args = current_catalog(), request.args
    merged = _with_defaults(args, {} if any(k in args for k in ROUTE_ARGS) else DEFAULT_ROUTE)
    form = {"from": merged.get("from", ""), "to": merged.get("to", ""),
            "modes": set(merged["modes"].split(",")) if "modes" in merged else set(MODES),
            "snap_km": merged.get("snap_km", km_text(DEFAULT_SNAP_KM)),
            "attach_km": merged.get("attach_km", km_text(DEFAULT_ATTACH_KM)),
            "basemap": args.get("basemap", current_app.config["DEFAULT_BASEMAP"])}
    context = {"form": form, "places": _place_choices(catalog),
               "modes": [(m, MODE_STYLE[m]["label"]) for m in MODES]}
    try:
        refuse_unknown((*ROUTE_ARGS, "basemap"))
        basemap = parse_basemap(args.get("basemap"), default=current_app.config["DEFAULT_BASEMAP"])
        q = route_query(catalog, merged)
        parts = _route_parts(catalog, q, basemap)
    except MapError as exc:
        if embed:
            raise
        return _error_page("route.html", exc, "Network route", context)
    title = _route_title(q)
    if embed:
        return _render("embed.html", 200, map=parts, title=title)
    doc = route_result(catalog, q).doc
    totals = doc["totals"]
    by_mode = [(MODE_STYLE[m]["label"], _fmt(km)) for m, km in totals["by_mode_km"].items()]
    legs = _leg_rows(doc)
    split = [("On mapped lines", _fmt(totals["network_km"])), ("Sea legs (geodesic)", _fmt(totals["sea_km"])),
             (f"Connectors ({len(totals['connectors'])})", _fmt(totals["connector_km"]))]
    return _render("route.html", 200, title=title, map=parts, doc=doc, totals=totals, legs=legs,
                   by_mode=by_mode, split=split,
                   total=_fmt(totals["total_km"]), reported=_fmt(totals["reported_equivalent_km"]),
                   sources=_sources(catalog, [*(leg["layer"] for leg in legs if leg["project"]),
                                              *(_place_layer(p) for p in (q.start, q.end)), BASEMAP_LAYER]),
                   api_url=url_for("analysis.route", **q.params()),
                   **_page_context("route", q.params(), title), **context)


@bp.get("/corridor")
def corridor_page():
    """Pick a route and a width; see the band, the features within it highlighted, and their table."""
    return _corridor_page(embed=False)


@bp.get("/embed/corridor")
def corridor_embed():
    """The corridor map with no page chrome, filling its frame (for ``<iframe>``)."""
    return _corridor_page(embed=True)


@bp.get("/route")
def route_page():
    """Pick two places and modes; see the network path and its legs."""
    return _route_page(embed=False)


@bp.get("/embed/route")
def route_embed():
    """The route map with no page chrome, filling its frame (for ``<iframe>``)."""
    return _route_page(embed=True)
