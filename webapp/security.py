"""Security headers: a Content-Security-Policy on HTML (and SVG), nosniff and a referrer policy on everything.

The pages load only self-hosted scripts and styles (``/static/vendor``);
folium writes each map as an inline ``<script>`` and inline ``<style>``
blocks, so those are allowed too. Remote hosts appear in exactly one place:
``img-src`` lists the tile servers, and only when the page shows tiles (its
``?basemap=``, else ``DEFAULT_BASEMAP``, is not ``none``).

Framing: ``/embed`` and ``/embed/*`` are meant for other people's pages and
reports, so anyone may frame them: their policy has no ``frame-ancestors``
at all (``*`` would still refuse reports opened from ``file://`` and
sandboxed frames, since it matches network schemes only). Every other page
may only be framed by this site (``frame-ancestors 'self'``, plus the
legacy ``X-Frame-Options: SAMEORIGIN``).

Template injection: branca (under folium) compiles each element's rendered
output *again* as a Jinja template, so ``{{ ... }}`` in a layer's data would
run as template code on the server. :func:`harden_folium` makes that output
literal; it is installed once, from :func:`init_app`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import branca.element
from flask import current_app, request

from webapp.maps.builder import TILE_PROVIDERS

__all__ = ["EMBED_PREFIX", "REFERRER_POLICY", "content_security_policy", "harden_folium", "init_app", "is_embed_path",
           "tile_sources"]

EMBED_PREFIX = "/embed"
# Tile servers (OpenStreetMap's usage policy) want to see which site asks: send the origin, never the path.
REFERRER_POLICY = "strict-origin-when-cross-origin"
# No 'unsafe-eval': the measure tool is our own (webapp/static/js/measure.js), not leaflet-measure.
_SCRIPT_SRC = "'self' 'unsafe-inline'"
_SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def tile_sources(urls):
    """CSP sources (``scheme://host[:port]``) of tile URL templates; ``{s}`` subdomains become ``*.``.

    Relative templates (a tile server on this site) need no source beyond ``'self'``.

    >>> tile_sources(["https://{s}.tile.opentopomap.org/{z}/{x}/{y}.png", "/tiles/{z}/{x}/{y}.png"])
    ('https://*.tile.opentopomap.org',)
    """
    sources = []
    for url in urls:
        parts = urlsplit(url.replace("{s}.", "*."))
        if parts.scheme in ("http", "https") and parts.netloc:
            sources.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(dict.fromkeys(sources))


def content_security_policy(*, tiles, embed):
    """The CSP header value of an HTML page: ``tiles`` = tile sources to allow (empty: none).

    ``embed``: framable by anyone, so no ``frame-ancestors`` directive.
    """
    img = " ".join(("'self'", "data:", *tiles))
    return "; ".join(directive for directive in (
        "default-src 'self'",
        f"script-src {_SCRIPT_SRC}",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {img}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        None if embed else "frame-ancestors 'self'",
    ) if directive)


def is_embed_path(path):
    """True for ``/embed`` and ``/embed/...``: the pages any origin may frame."""
    return path == EMBED_PREFIX or path.startswith(EMBED_PREFIX + "/")


def _shows_tiles():
    basemap = request.args.get("basemap") or current_app.config["DEFAULT_BASEMAP"]
    return basemap.strip().lower() != "none"


def _add_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    mimetype = response.mimetype or ""
    if mimetype == "text/html":
        embed = is_embed_path(request.path)
        tiles = current_app.extensions["security"]["tile_sources"] if _shows_tiles() else ()
        headers.setdefault("Content-Security-Policy", content_security_policy(tiles=tiles, embed=embed))
        if not embed:
            headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    elif mimetype == "image/svg+xml":
        # an SVG opened on its own is a document that could run script: it needs none
        headers.setdefault("Content-Security-Policy", _SVG_CSP)
    return response


class _RenderedText(branca.element.Element):
    """Markup or script that is already rendered: emitted as is, never compiled as a template."""

    def __init__(self, text):
        super().__init__()
        self._name = "RenderedText"
        self.text = text

    def render(self, **kwargs):
        return self.text


def _literal_macro_render(self, **kwargs):
    """``branca.element.MacroElement.render`` minus the re-compiling of each rendered part."""
    figure = self.get_root()
    if not isinstance(figure, branca.element.Figure):
        raise TypeError("an element can only be rendered inside a Figure")
    module = self._template.module.__dict__
    for part in ("header", "html", "script"):
        macro = module.get(part)
        if macro is not None:
            getattr(figure, part).add_child(_RenderedText(macro(self, kwargs)), name=self.get_name())
    for element in self._children.values():
        element.render(**kwargs)


def harden_folium():
    """Stop branca from running layer data as Jinja code (idempotent; every folium element inherits it).

    branca 0.8 renders a MacroElement's header/html/script macros, then wraps
    each result in ``Element(text)``, which compiles ``text`` as a template:
    a feature named ``{{ lipsum.__globals__.os.getcwd() }}`` would execute,
    and one named ``{% if %}`` would break every map page.
    """
    branca.element.MacroElement.render = _literal_macro_render


def init_app(app):
    """Add the headers to every response of ``app`` (tile sources worked out once, here); harden folium."""
    harden_folium()
    urls = [app.config["TILES_URL"], *(tp.url for tp in TILE_PROVIDERS.values() if tp.url)]
    app.extensions["security"] = {"tile_sources": tile_sources(urls)}
    app.after_request(_add_headers)
