"""Point folium at the vendored front-end assets instead of CDNs.

The map pages must work with no network ("offline first"). folium 0.20
declares the JS/CSS each element needs as ``default_js``/``default_css``
class attributes holding CDN URLs; :func:`configure_folium` replaces those
lists, once at start-up, with URLs under Flask's static folder, where
``python -m webapp.maps.vendor_assets`` put pinned npm copies.

:func:`inline_assets` turns a page rendered that way into a single file
that fetches nothing, for the self-contained export.
"""

from __future__ import annotations

import base64
import functools
import importlib
import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = [
    "ASSETS",
    "DEFAULT_URL_PREFIX",
    "VENDOR_DIR",
    "ClassAssets",
    "MissingVendorAsset",
    "OWN_ASSETS",
    "configure_folium",
    "init_app",
    "inline_assets",
    "remote_asset_urls",
    "use_app_prefix",
    "vendor_files",
]

VENDOR_DIR = Path(__file__).resolve().parent.parent / "static" / "vendor"
DEFAULT_URL_PREFIX = "/static/vendor"

_LEAFLET = "leaflet-1.9.3/dist"


class ClassAssets(NamedTuple):
    """The ``(name, path under vendor/)`` pairs one folium class loads."""

    target: str
    js: tuple[tuple[str, str], ...]
    css: tuple[tuple[str, str], ...]


# Header names are folium's own, so that the figure header still
# de-duplicates by name exactly as it does with folium's CDN lists.
ASSETS: tuple[ClassAssets, ...] = (
    ClassAssets(
        "folium.Map",
        js=(
            ("leaflet", f"{_LEAFLET}/leaflet.js"),
            ("jquery", "jquery-3.7.1/dist/jquery.min.js"),
            ("bootstrap", "bootstrap-5.2.2/dist/js/bootstrap.bundle.min.js"),
            ("awesome_markers", "leaflet.awesome-markers-2.0.5/dist/leaflet.awesome-markers.js"),
        ),
        css=(
            ("leaflet_css", f"{_LEAFLET}/leaflet.css"),
            ("bootstrap_css", "bootstrap-5.2.2/dist/css/bootstrap.min.css"),
            ("glyphicons_css", "bootstrap3-glyphicons-1.0.7/dist/css/bootstrap3-glyphicons.min.css"),
            ("awesome_markers_font_css", "fontawesome-free-6.2.0/css/all.min.css"),
            ("awesome_markers_css", "leaflet.awesome-markers-2.0.5/dist/leaflet.awesome-markers.css"),
            ("awesome_rotate_css", "folium-awesome-rotate-0.20.0/leaflet.awesome.rotate.css"),
        ),
    ),
    ClassAssets(
        "folium.plugins.Fullscreen",
        js=(("Control.Fullscreen.js", "leaflet.fullscreen-3.0.0/Control.FullScreen.js"),),
        css=(("Control.FullScreen.css", "leaflet.fullscreen-3.0.0/Control.FullScreen.css"),),
    ),
    ClassAssets(
        "folium.plugins.MiniMap",
        js=(("Control_MiniMap_js", "leaflet-minimap-3.6.1/dist/Control.MiniMap.min.js"),),
        css=(("Control_MiniMap_css", "leaflet-minimap-3.6.1/dist/Control.MiniMap.min.css"),),
    ),
    ClassAssets(
        "webapp.maps.tiled.TiledFeatureLayer",
        js=(("leaflet_vectorgrid", "leaflet.vectorgrid-1.3.0/dist/Leaflet.VectorGrid.bundled.min.js"),),
        css=(),
    ),
    ClassAssets(
        "folium.plugins.MousePosition",
        js=(("Control_MousePosition_js", "leaflet-mouse-position-1.2.0/src/L.Control.MousePosition.js"),),
        css=(("Control_MousePosition_css", "leaflet-mouse-position-1.2.0/src/L.Control.MousePosition.css"),),
    ),
)

# This project's own front end (webapp/static/js, css), paths under the static root (the parent of vendor/).
OWN_ASSETS: tuple[ClassAssets, ...] = (
    ClassAssets("webapp.maps.elements.FeatureLayer", js=(("mapsvc_js", "js/mapsvc.js"),),
                css=(("mapsvc_css", "css/map.css"),)),
    ClassAssets("webapp.maps.elements.PageHooks", js=(("mapsvc_js", "js/mapsvc.js"),),
                css=(("mapsvc_css", "css/map.css"),)),
    ClassAssets("webapp.maps.basemap.VectorBasemap",
                js=(("mapsvc_js", "js/mapsvc.js"), ("mapsvc_basemap_js", "js/basemap.js")),
                css=(("mapsvc_css", "css/map.css"),)),
    ClassAssets("webapp.maps.elements.MeasureTool", js=(("mapsvc_measure_js", "js/measure.js"),), css=()),
)

# Leaflet's default marker icons, which Leaflet locates at run time (below).
_LEAFLET_JS = f"{_LEAFLET}/leaflet.js"
_LEAFLET_ICONS = {
    "iconUrl": f"{_LEAFLET}/images/marker-icon.png",
    "iconRetinaUrl": f"{_LEAFLET}/images/marker-icon-2x.png",
    "shadowUrl": f"{_LEAFLET}/images/marker-shadow.png",
}

_MIME = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".gif": "image/gif",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject",
}


class MissingVendorAsset(FileNotFoundError):
    """A page or stylesheet refers to a file that is not in the vendor folder."""


def vendor_files() -> tuple[str, ...]:
    """Paths under ``vendor/`` of every JS and CSS file in :data:`ASSETS`."""
    return tuple(rel for entry in ASSETS for _, rel in (*entry.js, *entry.css))


def _resolve_class(dotted: str) -> type:
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _check_files(vendor_dir: Path) -> None:
    missing = [rel for rel in vendor_files() if not (vendor_dir / rel).is_file()]
    missing += [f"../{rel}" for entry in OWN_ASSETS for _, rel in (*entry.js, *entry.css)
                if not (vendor_dir.parent / rel).is_file()]
    if missing:
        raise MissingVendorAsset(
            f"vendored assets missing under {vendor_dir}: {', '.join(missing)}; "
            "run `python -m webapp.maps.vendor_assets`"
        )


def configure_folium(url_prefix: str = DEFAULT_URL_PREFIX) -> None:
    """Point every class in :data:`ASSETS` at ``<url_prefix>/<package>-<version>/<file>``.

    Assigns new lists to the classes rather than calling ``add_js_link``,
    which would edit ``folium.folium._default_js`` in place and so every
    map in the process. Calling it again with the same prefix changes
    nothing (the lists already in place are kept).
    """
    _check_files(VENDOR_DIR)
    _point_classes_at(url_prefix)


def _point_classes_at(url_prefix: str) -> None:
    prefix = url_prefix.rstrip("/")
    root = prefix.rsplit("/", 1)[0]  # the static root, where our own js/ and css/ live beside vendor/
    for entries, base in ((ASSETS, prefix), (OWN_ASSETS, root)):
        for entry in entries:
            cls = _resolve_class(entry.target)
            for attr, pairs in (("default_js", entry.js), ("default_css", entry.css)):
                wanted = [(name, f"{base}/{rel}") for name, rel in pairs]
                if cls.__dict__.get(attr) != wanted:
                    setattr(cls, attr, wanted)


def init_app(app) -> None:
    """Configure folium for ``app``, whose static folder must be ``webapp/static``.

    Runs once, from the app factory; nothing is done per request.
    """
    static = Path(app.static_folder or "")
    if not static.is_dir() or (static / "vendor").resolve() != VENDOR_DIR:
        raise RuntimeError(
            f"app static folder {app.static_folder!r} does not hold the vendored "
            f"assets; expected {VENDOR_DIR.parent}"
        )
    versioned = app.extensions.get("static_assets")  # webapp.maps.static: /static/v/<version>
    prefix = f"{versioned['prefix']}/vendor" if versioned else f"{(app.static_url_path or '').rstrip('/')}/vendor"
    configure_folium(prefix)
    app.extensions["vendor_assets"] = {"url_prefix": prefix}


def use_app_prefix(app) -> None:
    """Point folium's classes at ``app``'s asset URLs again before a render.

    folium keeps asset lists on the classes, so they are process-wide: another app (or a test) configured in
    the same process would otherwise decide the URLs of this app's pages. Comparing the lists costs microseconds.
    """
    state = app.extensions.get("vendor_assets")
    if state is not None:
        _point_classes_at(state["url_prefix"])


# --- self-contained export --------------------------------------------------

_SCRIPT_TAG = re.compile(
    r"""<script\b[^>]*?\bsrc\s*=\s*(["'])(?P<url>[^"']*)\1[^>]*>\s*</script\s*>""", re.IGNORECASE
)
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""\b(?P<key>rel|href)\s*=\s*(["'])(?P<value>[^"']*)\2""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^)'"\s]*))\s*\)""")
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.IGNORECASE)
_FONT_SRC = re.compile(r"(?<![-\w])src\s*:\s*(?P<value>[^;}]*);?", re.IGNORECASE)
_SOURCE_MAP = re.compile(r"(?m)^\s*(?://[#@]\s*sourceMappingURL=\S*|/\*[#@]\s*sourceMappingURL=[^*]*\*/)\s*$")
# In a <script> element the HTML parser reacts to "<!--", "<script" and
# "</script" whatever the JS context. Written as "\x3C" the "<" means the
# same inside JS strings, template literals and regexes, and is inert in
# comments; a preceding backslash ("\<") is folded in so "\\x3C" never appears.
_JS_HAZARD = re.compile(r"(?P<bs>\\*)<(?=!--|/?script)", re.IGNORECASE)
_REMOTE_ASSET = re.compile(
    r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']?(?P<url>(?:https?:)?//[^"'\s>]+)""", re.IGNORECASE
)


def remote_asset_urls(html: str) -> list[str]:
    """URLs that ``<script src>`` or ``<link href>`` tags in ``html`` load from another host."""
    return [m.group("url") for m in _REMOTE_ASSET.finditer(html)]


def _vendor_path(rel: str, vendor_dir: Path) -> Path:
    """Resolve ``rel`` inside ``vendor_dir``, refusing escapes and missing files."""
    root = vendor_dir.resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise MissingVendorAsset(f"vendored asset not found: {rel!r} (under {root})")
    return path


def _data_uri(path: Path, fragment: str = "") -> str:
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"no MIME type known for {path.name}; add it to assets._MIME")
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:{mime};base64,{encoded}" + (f"#{fragment}" if fragment else "")


def _escape_js(source: str) -> str:
    def fix(m: re.Match) -> str:
        bs = m.group("bs")
        # An odd run ends in "\<" (an identity escape): drop that backslash.
        return (bs[:-1] if len(bs) % 2 else bs) + "\\x3C"

    return _JS_HAZARD.sub(fix, source)


def _woff2_only(css: str) -> str:
    """Keep only the woff2 sources of each ``@font-face`` that offers one.

    Font Awesome declares every font three times (v6, v5 and v4 family
    names), each with a woff2 and a ttf copy; inlined, that is 3.8 MB.
    Every browser Bootstrap 5 supports reads woff2, so the other formats
    are dead weight in an export and are dropped there (only there).
    """

    def fix(block: re.Match) -> str:
        text = block.group(0)
        sources = [s for d in _FONT_SRC.finditer(text) for s in re.split(r",(?![^(]*\))", d.group("value"))]
        woff2 = [s.strip() for s in sources if re.search(r"""format\(\s*["']?woff2""", s)]
        if not woff2:
            return text
        text = _FONT_SRC.sub("", text)
        return text[:-1].rstrip(";") + ";src:" + ",".join(woff2) + "}"

    return _FONT_FACE.sub(fix, css)


@functools.lru_cache(maxsize=64)
def _inline_css(path: Path, vendor_dir: Path) -> str:
    """Stylesheet text with every relative ``url()`` made a ``data:`` URI."""
    css = _woff2_only(_SOURCE_MAP.sub("", path.read_text(encoding="utf-8")))

    def fix(m: re.Match) -> str:
        ref = next(g for g in (m.group("dq"), m.group("sq"), m.group("bare")) if g is not None)
        if ref.startswith(("data:", "#")) or not ref:  # already inline, or an IE behaviour id
            return m.group(0)
        parts = urlsplit(ref)
        if parts.scheme or parts.netloc or parts.path.startswith("/"):
            raise ValueError(f"{path.name}: non-relative url({ref}) would be fetched")
        target = _vendor_path((path.parent / parts.path).relative_to(vendor_dir.resolve()).as_posix(), vendor_dir)
        return f'url("{_data_uri(target, parts.fragment)}")'

    # "</style" would end the <style> element early; \3c is CSS's escape for "<".
    return re.sub(r"</(?=style)", r"\\3c /", _CSS_URL.sub(fix, css), flags=re.IGNORECASE)


def _leaflet_icon_fix(vendor_dir: Path) -> str:
    """Script giving Leaflet's default marker its icons as data: URIs.

    Leaflet finds its icon folder by reading the ``url()`` of a CSS rule or
    the ``href`` of ``leaflet.css``; once the CSS is inline neither yields a
    folder, so default markers would request ``marker-icon.png`` relative
    to the page. An empty imagePath plus full URLs avoids the detection.
    """
    if vendor_dir.name != "vendor":  # called with the static root
        vendor_dir = vendor_dir / "vendor"
    urls = ", ".join(
        f'{key}: "{_data_uri(_vendor_path(rel, vendor_dir))}"' for key, rel in _LEAFLET_ICONS.items()
    )
    return f"<script>L.Icon.Default.imagePath = \"\";\nL.Icon.Default.mergeOptions({{{urls}}});</script>"


@functools.lru_cache(maxsize=64)
def _inline_js(path: Path) -> str:
    return _escape_js(_SOURCE_MAP.sub("", path.read_text(encoding="utf-8")))


def _vendor_rel(url: str, prefix: str) -> str | None:
    """Return the path under vendor/ that ``url`` names, or None if it is not ours."""
    path = urlsplit(url).path
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else None


def inline_assets(html: str, *, url_prefix: str = DEFAULT_URL_PREFIX, vendor_dir: Path = VENDOR_DIR) -> str:
    """Return ``html`` with every vendored script and stylesheet inlined.

    ``<script src="<url_prefix>/...">`` becomes an inline ``<script>`` and
    ``<link rel="stylesheet" href="<url_prefix>/...">`` an inline ``<style>``
    whose ``url()`` references (fonts, images) are ``data:`` URIs, so the
    page opened from ``file://`` fetches none of them. Tags that point
    elsewhere are left as they are; see :func:`remote_asset_urls`.

    Raises
    ------
    MissingVendorAsset
        If a referenced file is not in ``vendor_dir``.
    """
    prefix = url_prefix.rstrip("/")
    # vendor/ sits inside the static folder on disk and in URLs: our own js/ and css/ files beside it
    # (under the static root) are inlined the same way.
    if prefix.endswith("/" + vendor_dir.name):
        prefix, vendor_dir = prefix[: -len(vendor_dir.name) - 1], vendor_dir.parent

    def script(m: re.Match) -> str:
        rel = _vendor_rel(m.group("url"), prefix)
        if rel is None:
            return m.group(0)
        body = f"<script>\n{_inline_js(_vendor_path(rel, vendor_dir))}\n</script>"
        return body + _leaflet_icon_fix(vendor_dir) if rel.endswith(_LEAFLET_JS) else body

    def link(m: re.Match) -> str:
        attrs = {a.group("key").lower(): a.group("value") for a in _ATTR.finditer(m.group(0))}
        rel = _vendor_rel(attrs.get("href", ""), prefix)
        if rel is None or attrs.get("rel", "").lower() != "stylesheet":
            return m.group(0)
        return f"<style>\n{_inline_css(_vendor_path(rel, vendor_dir), vendor_dir.resolve())}\n</style>"

    return _LINK_TAG.sub(link, _SCRIPT_TAG.sub(script, html))
