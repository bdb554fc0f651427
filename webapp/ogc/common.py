"""What every OGC API page shares: conformance classes, links, ``f=json|html`` negotiation, responses.

Links are absolute (OGC API Common asks for it, and GDAL/QGIS follow them
as given) and come from :mod:`webapp.links`, so a reverse proxy's public
address is used. ``f=json`` / ``f=html`` choose the representation; without
``f`` a client that prefers HTML in its ``Accept`` header (a browser) gets
HTML, everything else JSON.
"""

from __future__ import annotations

import json

from flask import Response, render_template, request

from layers.errors import BadParameter
from webapp.links import external_url, with_query
from webapp.maps.builder import current_catalog

__all__ = [
    "CONFORMANCE",
    "CRS84",
    "GEOJSON",
    "HTML",
    "JSON",
    "OPENAPI_MEDIA",
    "SITE_TITLE",
    "alternates",
    "html_page",
    "json_response",
    "link",
    "wants_html",
]

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
SITE_TITLE = "Pakistan connectivity corridors"

# Declared at /ogcapi/conformance. Features Part 1 (OGC 17-069r4) Core, GeoJSON, HTML and OpenAPI 3.0;
# Part 3 (OGC 19-079r2) Queryables and queryables as query parameters; Tiles (OGC 20-057) with MVT.
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
)


def wants_html():
    """True when ``f=html``, or no ``f`` and the ``Accept`` header prefers HTML; ``f`` other than json/html: 400."""
    fmt = request.args.get("f")
    if fmt is not None:
        fmt = fmt.strip().lower()
        if fmt not in ("json", "html"):
            raise BadParameter("f", f"{fmt[:20]!r} is not one of json, html", ["json", "html"])
        return fmt == "html"
    accept = request.accept_mimetypes
    return accept.best_match([JSON, GEOJSON, HTML], default=JSON) == HTML and accept[HTML] > accept[JSON]


def link(href, rel, media_type, title):
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def alternates(endpoint, *, json_type=JSON, args=None, **values):
    """``self`` and ``alternate`` links of a resource available as JSON and HTML (absolute URLs)."""
    base = external_url(endpoint, **values)
    args = dict(args or {})
    json_url = with_query(base, {**args, "f": "json"})
    html_url = with_query(base, {**args, "f": "html"})
    is_html = wants_html()
    return [
        link(html_url if is_html else json_url, "self", HTML if is_html else json_type, "this document"),
        link(json_url if is_html else html_url, "alternate", json_type if is_html else HTML,
             "this document as " + ("JSON" if is_html else "HTML")),
    ]


def json_response(doc, media_type=JSON):
    """``doc`` as compact UTF-8 JSON with ``media_type``."""
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, mimetype=media_type)


def html_page(template, *, title, doc, **context):
    """A browsable HTML page of ``doc`` in the site layout (the nav lists the layers)."""
    return render_template(f"ogc/{template}", title=title, doc=doc, site_title=SITE_TITLE,
                           all_layers=list(current_catalog()), **context)
