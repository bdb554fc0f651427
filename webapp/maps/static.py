"""Static files under versioned URLs: compressed once, cached immutably.

Every file under ``webapp/static/`` (the vendored front end and our own
``js/`` and ``css/``) is served from ``/static/v/<version>/<path>``, where
``<version>`` is a hash of the whole tree computed at start-up. One version
for the tree (not one per file) keeps the relative ``url()`` references
inside vendored stylesheets (fonts, icons) versioned too. Responses carry
``Cache-Control: public, max-age=31536000, immutable`` when the version is
the current one (a stale version is still answered, with a short max-age),
a strong ETag, and a gzip body computed once per file for compressible
types. Flask's plain ``/static/<path>`` keeps working, uncached.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request, url_for

__all__ = ["IMMUTABLE", "STATIC_DIR", "asset_url", "bp", "init_app", "tree_version"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
_COMPRESSIBLE = (".js", ".css", ".json", ".svg", ".ttf", ".eot", ".txt", ".html")
_MIN_GZIP_BYTES = 512

bp = Blueprint("assets", __name__)


def tree_version(root=STATIC_DIR):
    """A 12-hex-digit hash of every file path and content under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


class _Files:
    """Bytes, gzip bytes and ETag of each served file, read once (thread-safe)."""

    def __init__(self, root):
        self.root = Path(root).resolve()
        self._cache = {}
        self._lock = threading.Lock()

    def get(self, rel):
        with self._lock:
            if rel in self._cache:
                return self._cache[rel]
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        data = path.read_bytes()
        packed = None
        if path.suffix.lower() in _COMPRESSIBLE and len(data) >= _MIN_GZIP_BYTES:
            packed = gzip.compress(data, compresslevel=9, mtime=0)
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if mimetype.startswith("text/") or mimetype in ("application/javascript", "application/json"):
            mimetype += "; charset=utf-8"
        entry = (data, packed, hashlib.blake2b(data, digest_size=12).hexdigest(), mimetype)
        with self._lock:
            self._cache[rel] = entry
        return entry


@bp.get("/static/v/<version>/<path:filename>")
def versioned(version, filename):
    """One static file; immutable when ``version`` is the tree's current version."""
    state = current_app.extensions["static_assets"]
    entry = state["files"].get(filename)
    if entry is None:
        abort(404)
    data, packed, etag, mimetype = entry
    cache = IMMUTABLE if version == state["version"] else "public, max-age=300"
    gz = packed is not None and request.accept_encodings.quality("gzip") > 0
    tag = etag + ("-gz" if gz else "")
    response = Response(status=304) if request.if_none_match.contains(tag) else Response(packed if gz else data)
    response.headers["Content-Type"] = mimetype
    if gz and response.status_code == 200:
        response.headers["Content-Encoding"] = "gzip"
    if packed is not None:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = cache
    response.set_etag(tag)
    return response


def asset_url(rel):
    """The versioned URL of ``webapp/static/<rel>`` (e.g. ``js/search.js``)."""
    return url_for("assets.versioned", version=current_app.extensions["static_assets"]["version"], filename=rel)


def init_app(app):
    """Hash the static tree once, register the versioned route and the ``asset_url`` template global."""
    version = tree_version(STATIC_DIR)
    root = (app.config.get("APPLICATION_ROOT") or "/").rstrip("/")
    app.extensions["static_assets"] = {"version": version, "files": _Files(STATIC_DIR),
                                       "prefix": f"{root}/static/v/{version}"}
    app.register_blueprint(bp)
    app.add_template_global(asset_url, "asset_url")
