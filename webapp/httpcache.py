"""HTTP caching for every response: ETag, Cache-Control, 304 Not Modified and gzip.

One ``after_request`` hook, so views only return bodies. A view may set a
precomputed ETag (the API does for whole layers) to skip hashing.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict

from flask import Response, current_app, request

__all__ = ["COMPRESSIBLE", "finish_response", "init_app"]

COMPRESSIBLE = ("text/", "application/json", "application/geo+json", "application/javascript", "image/svg+xml")
_GZIP_SUFFIX = "-gz"
_gz_cache: OrderedDict = OrderedDict()
_gz_lock = threading.Lock()
_GZ_CACHE_SIZE = 32


def init_app(app):
    """Register :func:`finish_response` as the app's after-request hook."""
    app.after_request(finish_response)


def _gzip_bytes(etag, data, level):
    """gzip ``data``, reusing the result for the same (strong, content-hash) ETag."""
    with _gz_lock:
        if etag in _gz_cache:
            _gz_cache.move_to_end(etag)
            return _gz_cache[etag]
    # mtime=0: the same input always gives the same bytes
    packed = gzip.compress(data, compresslevel=level, mtime=0)
    with _gz_lock:
        _gz_cache[etag] = packed
        while len(_gz_cache) > _GZ_CACHE_SIZE:
            _gz_cache.popitem(last=False)
    return packed


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
    compress = (
        0 < config["GZIP_MIN_BYTES"] <= len(data) and _compressible(response)
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
    return response
