"""HTML pages: the overview, per-layer and multi-layer maps, chrome-less embeds, popup fragments.

Views only translate query parameters into a :class:`~webapp.maps.builder.MapSpec`
and hand cached map parts and precomputed figures to the templates.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from markupsafe import Markup

from webapp.maps.builder import (
    BASEMAPS,
    MapSpec,
    cached_map,
    current_catalog,
    drawing_order,
    overview_layer_ids,
    parse_basemap,
    parse_layer_ids,
)
from webapp.maps.display import popup_fragments, stats_payload

__all__ = ["bp", "route_table"]

bp = Blueprint("pages", __name__)

SITE_TITLE = "Pakistan connectivity corridors"
# The download list of the map pages: (label, /export options).
DOWNLOADS = (("HTML (self-contained)", {"format": "html"}),
             ("PDF figure (A4 landscape)", {"format": "pdf", "paper": "a4"}),
             ("PNG figure (A4, 300 dpi)", {"format": "png", "paper": "a4", "dpi": "300"}),
             ("SVG figure (editable text)", {"format": "svg"}),
             ("Statistics CSV", {"format": "csv"}), ("Statistics Markdown", {"format": "md"}))


def _spec(layer_ids):
    feature = request.args.get("feature") or None  # checked against the layers when the map is built
    basemap = parse_basemap(request.args.get("basemap"), default=current_app.config["DEFAULT_BASEMAP"])
    # drawing order, so that layers=a,b and layers=b,a share one cached map
    return MapSpec(drawing_order(current_catalog(), layer_ids), basemap, feature)


def _fmt_km(value):
    return "" if value is None else f"{value:,.1f}"


def route_table(catalog, layer_ids):
    """Rows of the route-statistics table for the line layers among ``layer_ids`` (figures pre-formatted)."""
    sections = []
    for lid in layer_ids:
        layer = catalog.layer(lid)
        payload = stats_payload(catalog, lid)
        if not payload["summary"]["line_features"]:
            continue
        quality = dict(zip(layer.gdf["id"], layer.gdf["geometry_quality"]))
        rows = [
            {
                "id": row["id"], "name": row["name"], "status": row["status"] or "",
                "geodesic_km": _fmt_km(row["geodesic_length_km"]), "reported_km": _fmt_km(row["reported_length_km"]),
                "ratio": "" if row["length_ratio"] is None else f"{row['length_ratio']:.2f}",
                "by_country": ", ".join(f"{c} {km:,.0f}" for c, km in sorted(
                    row["length_by_country_km"].items(), key=lambda kv: -kv[1])),
                "schematic": quality.get(row["id"]) == "schematic",
            }
            for row in payload["features"] if row["geodesic_length_km"] is not None
        ]
        sections.append({"id": lid, "title": layer.title, "rows": rows,
                         "total_km": _fmt_km(payload["summary"]["total_length_km"])})
    return sections


def _embed_url(layer_ids, spec, *, external=True):
    args = {"basemap": spec.basemap} if spec.basemap != current_app.config["DEFAULT_BASEMAP"] else {}
    if spec.feature:
        args["feature"] = spec.feature
    if len(layer_ids) == 1:
        return url_for("pages.embed_layer", layer_id=layer_ids[0], _external=external, **args)
    return url_for("pages.embed_layers", layers=",".join(layer_ids), _external=external, **args)


def _page(layer_ids, spec, *, title, description, overview=False):
    catalog = current_catalog()
    parts = cached_map(spec)
    layers = [catalog.layer(lid) for lid in layer_ids]
    snippet = (f'<iframe src="{Markup.escape(_embed_url(layer_ids, spec))}" width="100%" height="520" '
               f'style="border:0" loading="lazy" title="{Markup.escape(title)}"></iframe>')
    joined = ",".join(layer_ids)
    downloads = [(label, url_for("export.download", layers=joined, **options)) for label, options in DOWNLOADS]
    basemaps = [(name, url_for(request.endpoint, **{**request.view_args, **request.args, "basemap": name}))
                for name in BASEMAPS]
    return render_template(
        "map.html", map=parts, title=title, description=description, site_title=SITE_TITLE, overview=overview,
        layers=layers, all_layers=list(catalog), tables=route_table(catalog, layer_ids), snippet=snippet,
        downloads=downloads, basemaps=basemaps, basemap=spec.basemap, layer_ids=joined,
    )


@bp.get("/favicon.ico")
def favicon():
    """No icon, said without an error: browsers ask for one on every page."""
    return "", 204


@bp.get("/")
def overview():
    """Every layer on one map, with the route statistics of the line layers below it."""
    layer_ids = overview_layer_ids(current_catalog())
    return _page(layer_ids, _spec(layer_ids), title=SITE_TITLE, overview=True,
                 description="Pipelines, power lines, roads, ports and plants tying Central Asia, China "
                             "and the Arabian Sea through Pakistan. Toggle layers at the top right; "
                             "click a feature for its sources and geodesic route statistics.")


@bp.get("/map/<layer_id>")
def layer_map(layer_id):
    """One layer."""
    layer = current_catalog().layer(layer_id)
    return _page((layer.id,), _spec((layer.id,)), title=layer.title, description=layer.meta["description"])


@bp.get("/map")
def layers_map():
    """Any set of layers: ``?layers=tapi,casa1000``."""
    if "layers" not in request.args:
        return redirect(url_for("pages.overview"))
    catalog = current_catalog()
    layer_ids = parse_layer_ids(request.args["layers"], catalog)
    titles = [catalog.layer(lid).title for lid in layer_ids]
    return _page(layer_ids, _spec(layer_ids), title=" + ".join(titles),
                 description="; ".join(catalog.layer(lid).meta["description"] for lid in layer_ids))


def _embed(layer_ids, title):
    spec = _spec(layer_ids)
    return render_template("embed.html", map=cached_map(spec), title=title)


@bp.get("/embed/<layer_id>")
def embed_layer(layer_id):
    """One layer, no page chrome, filling its frame (for ``<iframe>``)."""
    layer = current_catalog().layer(layer_id)
    return _embed((layer.id,), layer.title)


@bp.get("/embed")
def embed_layers():
    """Any set of layers (``?layers=``; all but the boundaries when omitted), no page chrome."""
    catalog = current_catalog()
    if "layers" in request.args:
        layer_ids = parse_layer_ids(request.args["layers"], catalog)
    else:
        layer_ids = overview_layer_ids(catalog)
    return _embed(layer_ids, " + ".join(catalog.layer(lid).title for lid in layer_ids))


@bp.get("/popup/<layer_id>/<feature_id>")
def popup(layer_id, feature_id):
    """The popup HTML of one feature: fetched by maps whose layers are too large to embed every popup."""
    catalog = current_catalog()
    catalog.feature(layer_id, feature_id)
    return popup_fragments(catalog, layer_id)[catalog.layer(layer_id).positions[feature_id]]
