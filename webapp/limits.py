"""Per-client rate limits on expensive endpoints (flask-limiter), and request body size limits.

Rate limits
    Every endpoint in :data:`EXPENSIVE_ENDPOINTS` shares one limit per
    client address, ``RATELIMIT_EXPENSIVE`` (default ``30 per minute; 300
    per hour``). Only requests that really computed something count (a
    corridor, route or map built, an export drawn: see
    :mod:`webapp.workload`); answers from the caches are free, so readers
    of an embedded map never use up anyone's allowance. Past the limit the
    answer is 429 with ``Retry-After``. Counters live in
    ``RATELIMIT_STORAGE_URI``: ``memory://`` (per server process) by
    default; to share them between gunicorn workers or machines point it at
    Redis or memcached (``redis://127.0.0.1:6379``, ``memcached://...``;
    install the client library, see the limits package). Behind a proxy set
    ``PROXY_COUNT`` so the client address is the visitor's, not nginx's.
    Other modules add their endpoints with :func:`limit_expensive` (the
    import endpoint: ``limit_expensive(app, "imports.upload")``).

Body limits
    No endpoint here takes a body, and a 1 GB body to ``/`` used to be
    spooled to disk before its 405. ``MAX_BODY_MB`` (1) bounds every
    request: a larger declared ``Content-Length`` is a 413 before any view
    runs, with ``Connection: close`` so the server never reads the rest;
    reading more than that from a chunked body fails the same way
    (``MAX_CONTENT_LENGTH``). :func:`allow_large_body` raises it for one
    endpoint (uploads: ``allow_large_body(app, "imports.upload",
    app.config["IMPORT_MAX_MB"])``). nginx and gunicorn enforce the same
    limits in front (``deploy/``).
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_limiter import Limiter
from werkzeug.exceptions import RequestEntityTooLarge

__all__ = ["EXPENSIVE_ENDPOINTS", "allow_large_body", "client_key", "init_app", "largest_body_bytes", "limit_expensive",
           "retry_after_s"]

EXPENSIVE_ENDPOINTS = (
    "analysis.corridor", "analysis.overlap", "analysis.route", "analysis.nearest",
    "analysis.corridor_page", "analysis.corridor_embed", "analysis.route_page", "analysis.route_embed",
    "analysis.export_corridor", "analysis.export_route", "export.download",
    "pages.layers_map", "pages.embed_layers",
)
_COMPUTED = "_mapsvc_computed"  # set by webapp.workload when a request took a slot for expensive work


def client_key():
    """The client's address (the visitor's, behind ``PROXY_COUNT`` trusted proxies)."""
    return request.remote_addr or "unknown"


def _computed(response):
    return bool(g.get(_COMPUTED))


def limit_expensive(app, endpoint):
    """Put ``endpoint`` of ``app`` under the shared per-client ``RATELIMIT_EXPENSIVE`` limit."""
    limits = app.extensions["mapsvc_limits"]
    app.view_functions[endpoint] = limits["expensive"](app.view_functions[endpoint])


def allow_large_body(app, endpoint, max_mb):
    """Let requests to ``endpoint`` carry bodies up to ``max_mb`` megabytes (everything else: ``MAX_BODY_MB``)."""
    app.extensions["mapsvc_limits"]["bodies"][endpoint] = int(max_mb * 1024 * 1024)


def largest_body_bytes(app):
    """The largest body any endpoint of ``app`` accepts: the bound for the server in front (waitress, nginx)."""
    return max([app.config["MAX_CONTENT_LENGTH"], *app.extensions["mapsvc_limits"]["bodies"].values()])


def retry_after_s(exc):
    """Seconds to wait after the rate limit of ``exc`` (a 429) was breached: the limit's window, at least 1.

    The window is an upper bound: with the moving window the oldest counted
    request may leave it sooner.
    """
    item = getattr(getattr(exc, "limit", None), "limit", None)
    return max(1, int(item.get_expiry())) if item is not None else 60


def _check_body():
    limits = current_app.extensions["mapsvc_limits"]["bodies"]
    allowed = limits.get(request.endpoint, current_app.config["MAX_CONTENT_LENGTH"])
    request.max_content_length = allowed
    if request.content_length is not None and request.content_length > allowed:
        g._mapsvc_close = True
        raise RequestEntityTooLarge(f"request body of {request.content_length:,} bytes is larger than the "
                                    f"{allowed:,} bytes this endpoint accepts")


def _close_unread(response):
    if g.get("_mapsvc_close"):
        response.headers["Connection"] = "close"  # don't let the server read the body it refused
    return response


def init_app(app):
    """Rate-limit :data:`EXPENSIVE_ENDPOINTS` of ``app`` and bound request bodies (after blueprints are registered)."""
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_BODY_MB"] * 1024 * 1024)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)  # per-client headers on publicly cached pages: no
    limiter = Limiter(client_key, app=app, storage_uri=app.config["RATELIMIT_STORAGE_URI"],
                      enabled=app.config["RATELIMIT_ENABLED"], strategy="moving-window")
    expensive = limiter.shared_limit(app.config["RATELIMIT_EXPENSIVE"], scope="expensive", deduct_when=_computed,
                                     error_message="too many expensive requests from this client "
                                                   f"({app.config['RATELIMIT_EXPENSIVE']})")
    app.extensions["mapsvc_limits"] = {"limiter": limiter, "expensive": expensive, "bodies": {}}
    for endpoint in EXPENSIVE_ENDPOINTS:
        limit_expensive(app, endpoint)
    # first of all before-request hooks: the CSRF check (webapp.accounts) reads a form body, which must not
    # happen for a body this endpoint refuses
    app.before_request_funcs.setdefault(None, []).insert(0, _check_body)
    app.after_request(_close_unread)
