"""One place that turns errors into responses: JSON under /api, an HTML page elsewhere.

:class:`~layers.errors.MapError` keeps its status and message; 404/405 and
other HTTP errors get a short message; anything unexpected becomes a plain
500 without a traceback (logged server-side).
"""

from __future__ import annotations

from flask import current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from layers.errors import ClientGone, MapError, Overloaded

__all__ = ["error_response", "init_app"]


def init_app(app):
    """Register the handlers on ``app``."""
    app.register_error_handler(MapError, _map_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _wants_json():
    path = request.path
    if path == "/ogcapi" or path.startswith("/ogcapi/"):
        # OGC API clients get JSON errors; a browser asking for the HTML pages gets the error page
        fmt = (request.args.get("f") or "").lower()
        accept = request.accept_mimetypes
        return fmt != "html" and not (not fmt and accept["text/html"] > accept["application/json"])
    return path.startswith("/api/")


MAX_ECHO_CHARS = 300


def _clip(value):
    """Shorten echoed input: a 100 kB bad value should not come back as a 100 kB error."""
    if isinstance(value, str) and len(value) > MAX_ECHO_CHARS:
        return value[:MAX_ECHO_CHARS] + f"… ({len(value):,} characters)"
    if isinstance(value, list):
        return [_clip(v) for v in value[:20]]
    return value


def error_response(status, body):
    """``body`` ({"error": message, ...}) as JSON for the API, as an HTML page otherwise."""
    body = {key: _clip(value) for key, value in body.items()}
    if request.path.startswith("/ogcapi"):
        # OGC API exception members (OGC 17-069r4 7.5.1), beside the service's own
        body = {**body, "code": str(status), "description": body.get("error", "")}
    if _wants_json():
        response = jsonify(body)
        response.status_code = status
    else:
        catalog = current_app.extensions.get("catalog")
        page = render_template("error.html", status=status, body=body, all_layers=list(catalog or ()))
        response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "no-store"
    return response


def _map_error(exc):
    if isinstance(exc, ClientGone):  # a warning: an operator wants to know (repeats are de-duplicated)
        current_app.logger.warning("%s %s: %s", request.method, request.path, exc)
    response = error_response(exc.status, exc.to_dict())
    if isinstance(exc, Overloaded):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def _http_error(exc):
    if exc.code == 404:
        message = f"no such page or endpoint: {request.path}"
    elif exc.code == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or [])
        message = f"method {request.method} not allowed here" + (f"; use {', '.join(allowed)}" if allowed else "")
    else:
        message = exc.description or exc.name
    response = error_response(exc.code or 500, {"error": message})
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    if exc.code == 429:
        from webapp.limits import retry_after_s

        response.headers["Retry-After"] = str(retry_after_s(exc))
    return response


def _unexpected(exc):
    if current_app.testing:
        raise exc  # let tests see the real traceback
    current_app.logger.exception("unhandled error on %s", request.path)
    return error_response(500, {"error": "internal error; the problem has been logged"})
