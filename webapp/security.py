"""Security headers: a Content-Security-Policy on HTML (and SVG), nosniff and a referrer policy on everything.

No inline script or style runs unless the server wrote it: the policy
allows this site's files (``'self'``) plus the SHA-256 hashes of the
inline ``<script>`` and ``<style>`` elements of *trusted* markup -- the
folium header and map script (built by our code from escaped data) and
the templates' own style blocks -- which templates pass through the
``csp`` filter (:func:`csp_allow`). Hashes, not nonces: a page's policy is
then a function of its content, so pages keep their ETag, 304s and shared
caching. Markup that carries data (popups, tables, titles) is never
hashed, so a ``<script>`` or ``onerror=`` smuggled into it does not run.
``style-src-attr 'unsafe-inline'`` keeps ``style="..."`` attributes
(legend swatches, Leaflet's markup), which cannot run script.
No ``'unsafe-eval'``: the measure tool is our own
(``webapp/static/js/measure.js``), not leaflet-measure. Downloads (``Content-Disposition: attachment``)
get ``sandbox``: they are meant to be opened from disk, never run here.

Remote hosts appear in exactly one place: ``img-src`` lists the tile
servers, and only when the page shows tiles (its ``?basemap=``, else
``DEFAULT_BASEMAP``, is not ``none``).

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

import base64
import hashlib
import re
from urllib.parse import urlsplit

import branca.element
from flask import current_app, g, request
from markupsafe import Markup

from webapp.maps.builder import TILE_PROVIDERS

__all__ = ["EMBED_PREFIX", "REFERRER_POLICY", "content_security_policy", "csp_allow", "harden_folium", "init_app",
           "inline_hashes", "is_embed_path", "tile_sources"]

EMBED_PREFIX = "/embed"
# Tile servers (OpenStreetMap's usage policy) want to see which site asks: send the origin, never the path.
REFERRER_POLICY = "strict-origin-when-cross-origin"
_SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_ATTACHMENT_CSP = "sandbox; default-src 'none'"
_INLINE = re.compile(r"<(script|style)\b([^>]*)>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_SRC_ATTR = re.compile(r"\bsrc\s*=", re.IGNORECASE)
PAGE_HASHES = "_mapsvc_csp_hashes"


def inline_hashes(markup):
    """``{"script": [...], "style": [...]}``: CSP hash sources of the inline elements in ``markup``.

    ``<script src=...>`` loads a file and needs no hash.

    >>> inline_hashes("<script>alert(1)</script><script src='/a.js'></script>")["script"]
    ["'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"]
    """
    found = {"script": [], "style": []}
    for match in _INLINE.finditer(str(markup)):
        tag, attrs, body = match.group(1).lower(), match.group(2), match.group(3)
        if tag == "script" and _SRC_ATTR.search(attrs):
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        found[tag].append(f"'sha256-{digest}'")
    return found


def csp_allow(markup):
    """Jinja filter ``csp``: allow the inline scripts and styles of trusted ``markup`` in this page's policy.

    Only for markup the server builds (folium's header and map script,
    template style blocks), never for markup holding data.
    """
    found = inline_hashes(markup)
    page = g.setdefault(PAGE_HASHES, {"script": {}, "style": {}})
    for kind, hashes in found.items():
        page[kind].update(dict.fromkeys(hashes))
    return Markup(markup)


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


def content_security_policy(*, tiles, embed, scripts=(), styles=()):
    """The CSP header value of an HTML page: ``tiles`` = tile sources to allow (empty: none).

    ``embed``: framable by anyone, so no ``frame-ancestors`` directive.
    ``scripts``/``styles``: hash sources of the page's allowed inline elements.
    """
    img = " ".join(("'self'", "data:", *tiles))
    return "; ".join(directive for directive in (
        "default-src 'self'",
        " ".join(("script-src 'self'", *scripts)),
        " ".join(("style-src 'self'", *styles)),
        "style-src-attr 'unsafe-inline'",
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
    if mimetype == "text/html" and "attachment" in headers.get("Content-Disposition", ""):
        headers.setdefault("Content-Security-Policy", _ATTACHMENT_CSP)
    elif mimetype == "text/html":
        embed = is_embed_path(request.path)
        tiles = current_app.extensions["security"]["tile_sources"] if _shows_tiles() else ()
        hashes = g.get(PAGE_HASHES) or {"script": {}, "style": {}}
        headers.setdefault("Content-Security-Policy", content_security_policy(
            tiles=tiles, embed=embed, scripts=tuple(hashes["script"]), styles=tuple(hashes["style"])))
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
    app.add_template_filter(csp_allow, "csp")
    app.after_request(_add_headers)
