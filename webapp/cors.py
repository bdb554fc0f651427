"""CORS for the read-only service: any page, notebook or map on another origin may read the public data.

Every answer to ``GET``/``HEAD`` of a route that only reads (errors
included, so a script can read the message) carries
``Access-Control-Allow-Origin`` for the origins of the ``CORS_ORIGINS``
setting (default ``*``: the data is public), and exposes the headers a
data client needs (ETag, Content-Range, Content-Disposition, Link).
Preflights (``OPTIONS`` with ``Access-Control-Request-Method``) of such
routes allow GET/HEAD with the ``Range`` and conditional-request headers.
A route that accepts any other method (anything that writes) never gets
CORS headers, nor does the preflight of a writing method: another
origin's scripts cannot call it with the visitor's credentials.
"""

from __future__ import annotations

from flask import current_app, request
from werkzeug.exceptions import HTTPException

from layers.errors import BadParameter

__all__ = ["ALLOW_HEADERS", "EXPOSE_HEADERS", "SAFE_METHODS", "allowed_origin", "init_app", "parse_origins"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXPOSE_HEADERS = "ETag, Content-Range, Content-Length, Content-Disposition, Content-Encoding, Accept-Ranges, Link"
ALLOW_HEADERS = "Range, If-None-Match, If-Range, If-Modified-Since, Accept, Content-Type"
PREFLIGHT_MAX_AGE_S = 86400


def parse_origins(text):
    """``*``, or origins separated by commas/spaces (``https://a.org, http://localhost:8888``); '' for none."""
    if isinstance(text, (list, tuple)):
        text = ",".join(text)
    parts = [p.strip().rstrip("/") for p in str(text).replace(" ", ",").split(",") if p.strip()]
    if not parts:
        return ()
    for part in parts:
        if part != "*" and not (part.startswith(("http://", "https://")) and part.count("/") == 2):
            raise ValueError(f"{part!r} is not '*' or an origin such as https://example.org")
    return ("*",) if "*" in parts else tuple(parts)


def allowed_origin(origins, origin):
    """The ``Access-Control-Allow-Origin`` value for a request from ``origin``, or None."""
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


def _read_only_route():
    rule = request.url_rule
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        # a preflight is about the rule of the method asked for: one path may have a read-only GET rule and a
        # separate rule that writes (PATCH /api/layers/<id>), whose own preflight gets no CORS headers
        wanted = request.headers["Access-Control-Request-Method"].upper()
        if wanted not in SAFE_METHODS:
            return False
        try:
            rule, _ = current_app.url_map.bind_to_environ(request.environ).match(method=wanted, return_rule=True)
        except HTTPException:
            return False
    return rule is None or set(rule.methods or ()) <= SAFE_METHODS


def _add_headers(response):
    if request.method not in SAFE_METHODS or not _read_only_route():
        return response
    origins = current_app.extensions["cors_origins"]
    value = allowed_origin(origins, request.headers.get("Origin"))
    if "*" not in origins:
        response.vary.add("Origin")
    if value is None:
        return response
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = value
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
    else:
        headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response


def init_app(app):
    """Add CORS headers to the read-only answers of ``app`` (register before the caching hook: runs after it)."""
    try:
        app.extensions["cors_origins"] = parse_origins(app.config["CORS_ORIGINS"])
    except ValueError as exc:
        raise BadParameter("CORS_ORIGINS", str(exc)) from None
    app.after_request(_add_headers)
