"""HTTP caching for every response: ETag, Cache-Control, 304 Not Modified, gzip and byte ranges.

One ``after_request`` hook, so views only return bodies. Every successful
GET says ``Accept-Ranges: bytes`` and answers a ``Range`` request with 206
(or 416), through werkzeug's RFC 9110 range handling, so GDAL's HTTP path
(``/vsicurl/``, QGIS) can read large GeoJSON and downloads piecewise; a
ranged answer is never gzipped, so its offsets are those of the plain body. A view may set a
precomputed ETag (the API does) to skip hashing, and answer a matching
``If-None-Match`` itself with :func:`not_modified` before building any body,
so that a 304 costs no serialisation. :class:`BodyCache` keeps recent
serialised bodies within a byte budget.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict

from flask import Response, current_app, request
from werkzeug.exceptions import RequestedRangeNotSatisfiable

__all__ = ["COMPRESSIBLE", "BodyCache", "derived_etag", "finish_response", "init_app", "not_modified"]

COMPRESSIBLE = ("text/", "application/json", "application/geo+json", "application/schema+json",
                "application/vnd.oai.openapi+json", "application/javascript", "image/svg+xml",
                "application/vnd.mapbox-vector-tile", "application/vnd.google-earth.kml+xml")
_GZIP_SUFFIX = "-gz"


def init_app(app):
    """Register :func:`finish_response` as the app's after-request hook; a byte-bounded cache of gzip bodies."""
    app.extensions["gzip_bodies"] = BodyCache(app.config["GZIP_CACHE_MB"] * 1024 * 1024)
    app.after_request(finish_response)


def _gzip_bytes(etag, data, level):
    """gzip ``data``, reusing the result for the same (strong, content-hash) ETag (``GZIP_CACHE_MB``)."""
    # mtime=0: the same input always gives the same bytes
    packed, _ = current_app.extensions["gzip_bodies"].get(
        etag, lambda: (gzip.compress(data, compresslevel=level, mtime=0), etag))
    return packed


class BodyCache:
    """A thread-safe LRU of ``(bytes, etag, ...)`` items holding at most ``max_bytes`` of bodies (0: keeps nothing)."""

    def __init__(self, max_bytes):
        self.max_bytes = int(max_bytes)
        self._items = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def peek(self, key):
        """The cached ``(bytes, etag)`` for ``key``, or None (nothing is built)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def get(self, key, build):
        """The cached body for ``key``, or ``build()`` (not under the lock) stored if it fits."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        item = build()
        size = len(item[0])
        if size > self.max_bytes:
            return item
        with self._lock:
            if key not in self._items:
                self._items[key] = item
                self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted[0])
        return item

    @property
    def size_bytes(self):
        return self._bytes

    def __len__(self):
        return len(self._items)


def derived_etag(*parts):
    """A strong ETag from text ``parts`` (e.g. the layer's content ETag and a normalised query)."""
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()


def _cache_headers(response):
    response.headers.setdefault("Cache-Control", f"public, max-age={current_app.config['CACHE_MAX_AGE']}")
    if _compressible(response):
        response.vary.add("Accept-Encoding")


def not_modified(etag, mimetype):
    """A 304 for ``etag`` when the request's ``If-None-Match`` holds it (or its gzip variant), else None.

    Lets a view skip building a body it would only throw away. The 304
    carries the validator the client sent, with the usual caching headers.
    """
    match = request.if_none_match
    if not match:
        return None
    for tag in (etag + _GZIP_SUFFIX, etag):
        if match.contains(tag):
            response = Response(status=304, mimetype=mimetype)
            _cache_headers(response)
            response.set_etag(tag)
            return response
    return None


def _compressible(response):
    return (response.mimetype or "").startswith(COMPRESSIBLE) and "Content-Encoding" not in response.headers


def finish_response(response):
    """Add ETag + Cache-Control to successful GET/HEAD responses, answer 304, gzip when accepted."""
    if response.status_code >= 400:
        response.headers["Cache-Control"] = "no-store"
        return response
    if request.method not in ("GET", "HEAD") or response.status_code != 200 or response.direct_passthrough:
        return response
    config = current_app.config
    response.headers.setdefault("Cache-Control", f"public, max-age={config['CACHE_MAX_AGE']}")
    data = response.get_data()
    etag, _ = response.get_etag()
    if etag is None:
        etag = hashlib.blake2b(data, digest_size=16).hexdigest()
    ranged = "Range" in request.headers
    compress = (
        not ranged and 0 < config["GZIP_MIN_BYTES"] <= len(data) and _compressible(response)
        and request.accept_encodings.quality("gzip") > 0
    )
    if _compressible(response):
        response.vary.add("Accept-Encoding")
    variant = etag + _GZIP_SUFFIX if compress else etag
    # Either representation is the same content: a client holding one may keep it.
    if request.if_none_match.contains(etag) or request.if_none_match.contains(etag + _GZIP_SUFFIX):
        not_modified = Response(status=304)
        not_modified.set_etag(variant)
        for header in ("Cache-Control", "Vary"):
            if header in response.headers:
                not_modified.headers[header] = response.headers[header]
        return not_modified
    if compress:
        response.set_data(_gzip_bytes(variant, data, 6))
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(variant)
    return _ranges(response, len(data))


def _ranges(response, length):
    """``Accept-Ranges: bytes``; a satisfiable ``Range`` (honouring ``If-Range``) becomes a 206, else a 416."""
    try:
        return response.make_conditional(request.environ, accept_ranges=True, complete_length=length)
    except RequestedRangeNotSatisfiable:
        refused = Response(f"range not satisfiable: {request.headers.get('Range', '')[:100]!r} "
                           f"(the body is {length} bytes)\n", status=416, mimetype="text/plain")
        refused.headers["Content-Range"] = f"bytes */{length}"
        refused.headers["Cache-Control"] = "no-store"
        return refused
