"""HTML pages: the overview, per-layer and multi-layer maps, chrome-less embeds, popup fragments.

Views only translate query parameters into a :class:`~webapp.maps.builder.MapSpec`
and hand cached map parts and precomputed figures to the templates.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for

from layers.errors import BadParameter
from layers.schema import STATUSES
from webapp.api.httpcache import BodyCache, derived_etag, not_modified
from webapp.export.downloads import DOWNLOAD_FORMATS
from webapp.export.figures_page import FIGURE_DOWNLOADS
from webapp.hosts import USED_HOST, external_url, self_url
from webapp.maps.blocs import parse_bloc
from webapp.maps.builder import (
    BASEMAPS,
    MapSpec,
    cached_map,
    current_catalog,
    drawing_order,
    is_tiled,
    overview_layer_ids,
    parse_basemap,
    parse_layer_ids,
)
from webapp.maps.display import popup_html
from webapp.maps.filters import FILTER_ARGS, country_choices, feature_rows, parse_filters, summary, year_range
from webapp.security import PAGE_HASHES

__all__ = ["bp", "embed_snippet", "init_app"]

bp = Blueprint("pages", __name__)


def init_app(app):
    """The cache of whole rendered pages (``PAGE_CACHE_MB``), keyed by host, full path and viewer (see
    :func:`_cached_page`)."""
    app.extensions["page_cache"] = BodyCache(app.config["PAGE_CACHE_MB"] * 1024 * 1024)

SITE_TITLE = "Pakistan connectivity corridors"
# The download list of the map pages: (label, /export options); the figures are the export's own entries.
DOWNLOADS = (("HTML (self-contained)", {"format": "html"}), *FIGURE_DOWNLOADS,
             ("Statistics CSV", {"format": "stats-csv"}), ("Statistics Markdown", {"format": "stats-md"}))


def _spec(layer_ids):
    feature = request.args.get("feature") or None  # checked against the layers when the map is built
    basemap = parse_basemap(request.args.get("basemap"), default=current_app.config["DEFAULT_BASEMAP"])
    bloc = parse_bloc(request.args.get("blocs"))
    # drawing order, so that layers=a,b and layers=b,a share one cached map
    return MapSpec(drawing_order(current_catalog(), layer_ids), basemap, feature, bloc)


PAGE_ARGS = ("feature", "basemap", "layers", "blocs", *FILTER_ARGS, "zoom", "lat", "lon")


def _check_view_args(args):
    """``zoom``/``lat``/``lon`` in the query (the page script sets the view from them): numbers in range."""
    for name, lo, hi in (("zoom", 0, 22), ("lat", -90, 90), ("lon", -180, 180)):
        if name in args:
            try:
                value = float(args[name])
            except ValueError:
                raise BadParameter(name, f"{args[name]!r} is not a number") from None
            if not lo <= value <= hi:  # also refuses nan
                raise BadParameter(name, f"must be within {lo}..{hi}")


def _embed_url(layer_ids, spec, *, external=True, extra=None):
    args = {"basemap": spec.basemap} if spec.basemap != "none" else {}
    if spec.feature:
        args["feature"] = spec.feature
    if spec.bloc:
        args["blocs"] = spec.bloc
    args.update(extra or {})
    if len(layer_ids) == 1:
        return external_url("pages.embed_layer", layer_id=layer_ids[0], **args)
    return external_url("pages.embed_layers", layers=",".join(layer_ids), **args)


def embed_snippet(src, title, credit, page_url):
    """The responsive ``<figure><iframe>`` snippet: full width, height from the width (3:2, at least 360 px),
    the title as the frame's accessible name and a caption naming the map and its sources."""
    return render_template("_snippet.html", src=src, title=title, credit=credit, page_url=page_url).strip()


def _page_data(layer_ids, spec, filters, *, title, years, embed):
    catalog = current_catalog()
    return {
        "title": title, "embed": embed, "filters": filters.to_json(), "years": years,
        "layers": [{"id": lid, "title": catalog.layer(lid).title} for lid in layer_ids],
        "searchUrl": url_for("search.search"), "pageUrl": request.base_url,
        "embedUrl": _embed_url(layer_ids, MapSpec(spec.layer_ids, "none", None, spec.bloc)),
        "basemap": spec.basemap,
        "downloadUrl": url_for("downloads.layer_download", layer_id="LAYER").replace("LAYER", "{layer}"),
        "formats": [fmt.name for fmt in DOWNLOAD_FORMATS],
        "credit": "; ".join(dict.fromkeys(catalog.layer(lid).attribution for lid in layer_ids)),
    }


def _cached_page(build):
    """The whole page from the page cache (ETag answered before any rendering), or ``build()`` stored.

    Keyed by the viewer too: who is signed in (the bar names them) and the version of every layer they
    may see -- so a private layer is never served to anyone else, and an import, replacement or
    deletion is on the next page at once.
    """
    user = g.get("user")
    key = (request.host_url, request.full_path, current_app.config["DEFAULT_BASEMAP"],
           user.id if user is not None else None, current_catalog().fingerprint())
    cache = current_app.extensions["page_cache"]
    hit = cache.peek(key)
    if hit is not None:
        _restore_render_state(hit[2])
        cached = not_modified(hit[1], "text/html")
        if cached is not None:
            return cached
    body, etag, state = cache.get(key, lambda: _body_etag(build()))
    _restore_render_state(state)
    response = Response(body, mimetype="text/html")
    response.set_etag(etag)
    return response


# What rendering a page leaves in ``g`` for the after-request hooks: the hashes its CSP allows and whether it used
# the request's host (``Vary: Host``). A page served from the cache brings them back, or its policy would allow
# none of its scripts.
_RENDER_STATE = (PAGE_HASHES, USED_HOST)


def _body_etag(html):
    body = html.encode("utf-8")
    state = {name: g.get(name) for name in _RENDER_STATE if g.get(name) is not None}
    return body, derived_etag(hashlib.blake2b(body, digest_size=16).hexdigest()), state


def _restore_render_state(state):
    for name, value in state.items():
        setattr(g, name, value)


def _page(layer_ids, spec, *, title, description, overview=False):
    catalog = current_catalog()
    _check_view_args(request.args)
    filters = parse_filters(request.args, layer_ids)
    parts = cached_map(spec)
    layers = [catalog.layer(lid) for lid in layer_ids]
    # layers drawn from vector tiles are too large to list here: the page links their statistics instead
    options = current_app.extensions["map_options"]
    tiled_layers = [layer for layer in layers if is_tiled(catalog, layer.id, options)]
    listed = [lid for lid in layer_ids if lid not in {layer.id for layer in tiled_layers}]
    rows = feature_rows(catalog, listed, filters)
    page_data = _page_data(layer_ids, spec, filters, title=title, years=year_range(catalog, listed),
                           embed=False)
    # the snippet starts on the offline basemap (a report must not depend on a tile server); the page can switch it
    snippet = embed_snippet(_embed_url(layer_ids, replace(spec, basemap="none"), extra=filters.query()), title,
                            page_data["credit"],
                            request.url)
    joined = ",".join(layer_ids)
    downloads = [(label, url_for("export.download", layers=joined, **args)) for label, args in DOWNLOADS]
    basemaps = [(name, self_url(basemap=name)) for name in BASEMAPS]
    return render_template(
        "map.html", map=parts, title=title, description=description, site_title=SITE_TITLE, overview=overview,
        layers=layers, all_layers=list(catalog), rows=rows, summary=summary(rows), filters=filters,
        statuses=[s for s in STATUSES if any(r["status"] == s or r["status_now"] == s for r in rows)],
        kinds=sorted({r["kind"] for r in rows if r["kind"]}), countries=country_choices(catalog, rows),
        page_data=page_data, snippet=snippet, downloads=downloads, basemaps=basemaps, basemap=spec.basemap,
        layer_ids=joined, download_links=_download_links(layer_ids, filters, rows), tiled_layers=tiled_layers,
    )


def _download_links(layer_ids, filters, rows):
    """Per layer, the brief's download URL of its filtered features (``id=`` lists them when a year is set)."""
    links = []
    for lid in layer_ids:
        args = {k: v for k, v in filters.query().items() if k in ("status", "kind", "countries")}
        if filters.year is not None:
            args["id"] = ",".join(r["id"] for r in rows if r["layer"] == lid and r["shown"])
        base = url_for("downloads.layer_download", layer_id=lid)
        links.append((lid, [(fmt.name, base + "?" + urlencode({"format": fmt.name, **args}))
                            for fmt in DOWNLOAD_FORMATS]))
    return links


@bp.get("/favicon.ico")
def favicon():
    """No icon, said without an error: browsers ask for one on every page."""
    return "", 204


@bp.get("/")
def overview():
    """Every layer on one map, with the route statistics of the line layers below it."""
    layer_ids = overview_layer_ids(current_catalog())
    return _cached_page(lambda: _page(layer_ids, _spec(layer_ids), title=SITE_TITLE, overview=True,
                 description="Pipelines, power lines, roads, ports and plants tying Central Asia, China "
                             "and the Arabian Sea through Pakistan. Toggle layers at the top right; "
                             "click a feature for its sources and geodesic route statistics."))


@bp.get("/map/<layer_id>")
def layer_map(layer_id):
    """One layer."""
    layer = current_catalog().layer(layer_id)
    return _cached_page(lambda: _page((layer.id,), _spec((layer.id,)), title=layer.title,
                                      description=layer.meta["description"]))


@bp.get("/map")
def layers_map():
    """Any set of layers: ``?layers=tapi,casa1000``."""
    if "layers" not in request.args:
        return redirect(url_for("pages.overview"))
    catalog = current_catalog()
    layer_ids = parse_layer_ids(request.args["layers"], catalog)
    titles = [catalog.layer(lid).title for lid in layer_ids]
    return _cached_page(lambda: _page(layer_ids, _spec(layer_ids), title=" + ".join(titles),
                                      description="; ".join(catalog.layer(lid).meta["description"]
                                                            for lid in layer_ids)))


def _embed(layer_ids, title):
    catalog = current_catalog()
    _check_view_args(request.args)
    # embeds show the offline basemap unless asked otherwise: reports must not depend on a tile server
    basemap = parse_basemap(request.args.get("basemap"), default="none")
    spec = replace(_spec(layer_ids), basemap=basemap)
    filters = parse_filters(request.args, layer_ids)
    page_data = _page_data(layer_ids, spec, filters, title=title, years=year_range(catalog, layer_ids), embed=True)
    return render_template("embed.html", map=cached_map(spec, embed=True), title=title, page_data=page_data,
                           page_url=request.url.replace("/embed", "/map", 1))


@bp.get("/embed/<layer_id>")
def embed_layer(layer_id):
    """One layer, no page chrome, filling its frame (for ``<iframe>``)."""
    layer = current_catalog().layer(layer_id)
    return _cached_page(lambda: _embed((layer.id,), layer.title))


@bp.get("/embed")
def embed_layers():
    """Any set of layers (``?layers=``; all but the boundaries when omitted), no page chrome."""
    catalog = current_catalog()
    if "layers" in request.args:
        layer_ids = parse_layer_ids(request.args["layers"], catalog)
    else:
        layer_ids = overview_layer_ids(catalog)
    return _cached_page(lambda: _embed(layer_ids, " + ".join(catalog.layer(lid).title for lid in layer_ids)))


@bp.get("/popup/<layer_id>/<feature_id>")
def popup(layer_id, feature_id):
    """The popup HTML of one feature: fetched by maps whose layers are too large to embed every popup."""
    catalog = current_catalog()
    catalog.feature(layer_id, feature_id)
    return popup_html(catalog, layer_id, catalog.layer(layer_id).positions[feature_id])
