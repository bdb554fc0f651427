"""Host safety: which Host headers are served, and the one place absolute URLs and self-links are built.

- ``ALLOWED_HOSTS``: a request whose ``Host`` (after a trusted proxy's
  ``X-Forwarded-Host``) is not listed gets a 400 before any view runs, so
  an attacker's host can never be written into a page, a snippet or a
  cached response. The host of ``PUBLIC_BASE_URL`` is always allowed.
- ``PUBLIC_BASE_URL``: when set, every absolute URL (embed snippets, links
  other modules build with :func:`external_url`) starts with it and the
  request's Host is never used; otherwise absolute URLs use the (allowed)
  request host and such responses carry ``Vary: Host`` (plus the
  forwarded headers behind a proxy), so a shared cache keeps one copy per host.
- ``PROXY_COUNT``: the number of reverse proxies in front (nginx: 1) whose
  ``X-Forwarded-For/Proto/Host/Port`` to trust (werkzeug's ProxyFix); 0
  trusts none. Only set it when the app cannot be reached but through them.
- Redirects never leave the site: an absolute ``Location`` is rewritten to
  the public base URL, or to a path on the host the client asked.
- :func:`self_url` builds "this page with other query values" without ever
  passing query parameters to ``url_for`` as keywords (``?endpoint=x`` or
  ``?_method=POST`` used to become a 500).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import current_app, g, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from layers.errors import BadParameter

__all__ = ["allowed_host", "external_url", "public_root", "host_name", "init_app", "self_url"]

_REDIRECTS = (301, 302, 303, 307, 308)
USED_HOST = "_mapsvc_used_request_host"


def host_name(host):
    """The name part of a ``Host`` header value, lower-case, without port or IPv6 brackets.

    >>> host_name("Example.ORG:8080"), host_name("[::1]:5000"), host_name("127.0.0.1")
    ('example.org', '::1', '127.0.0.1')
    """
    host = (host or "").strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def allowed_host(name, patterns):
    """True when host ``name`` matches one of ``patterns``: a name, ``.example.org`` (it and its subdomains), ``*``.

    >>> allowed_host("maps.example.org", (".example.org",)), allowed_host("evil.com", ("localhost",))
    (True, False)
    """
    for pattern in patterns:
        pattern = pattern.strip().lower()
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith(".") and (name == pattern[1:] or name.endswith(pattern)):
            return True
    return False


def _check_host():
    name = host_name(request.host)
    if not name or not allowed_host(name, current_app.extensions["hosts"]["allowed"]):
        shown = request.host[:80]
        raise BadParameter("Host", f"{shown!r} is not a host this service answers to (setting ALLOWED_HOSTS)")


def _base():
    return current_app.extensions["hosts"]["base"]


def public_root():
    """The public root of the service without a trailing slash: ``PUBLIC_BASE_URL``, else the request's."""
    base = _base()
    if base is not None:
        return base
    setattr(g, USED_HOST, True)
    return request.url_root.rstrip("/")


def external_url(endpoint, **values):
    """The absolute URL of ``endpoint`` with ``values``: from ``PUBLIC_BASE_URL`` when set, else the request host.

    Query values go through ``url_for`` here, so pass only names the caller
    chose (never ``**request.args``: use :func:`self_url` for that).
    """
    base = _base()
    if base is None:
        setattr(g, USED_HOST, True)
        return url_for(endpoint, _external=True, **values)
    path = url_for(endpoint, **values)
    root = request.script_root if request else ""
    if root and path.startswith(root):
        path = path[len(root):]
    return base + path


def self_url(**changes):
    """This page's URL (path relative to the site) with query values in ``changes`` replaced.

    A value of None removes the parameter; a list gives it repeated. Query
    parameters are never handed to ``url_for`` as keywords.
    """
    args = request.args.to_dict(flat=False)
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = value if isinstance(value, list) else [value]
    query = urlencode([(k, v) for k, values in args.items() for v in values])
    path = request.script_root + request.path
    return path + ("?" + query if query else "")


def _finish(response):
    """Vary on the host when a body used it; keep redirects on this site."""
    if getattr(g, USED_HOST, False):
        response.vary.add("Host")
        if current_app.extensions["hosts"]["proxied"]:
            response.vary.update(("X-Forwarded-Host", "X-Forwarded-Proto"))
    if response.status_code in _REDIRECTS and "Location" in response.headers:
        parts = urlsplit(response.headers["Location"])
        if parts.scheme or parts.netloc:
            # a single leading slash: "//evil.example/x" would be another host again
            path = "/" + parts.path.lstrip("/")
            local = urlunsplit(("", "", path, parts.query, parts.fragment))
            base = _base()
            response.headers["Location"] = base + local if base is not None else local
    return response


def _parse_base(text):
    text = (text or "").strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise BadParameter("PUBLIC_BASE_URL", f"{text!r} must be http(s)://host[:port][/path], no query")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def init_app(app):
    """Check the Host of every request, build absolute URLs from the settings, trust ``PROXY_COUNT`` proxies."""
    base = _parse_base(app.config["PUBLIC_BASE_URL"])
    allowed = tuple(app.config["ALLOWED_HOSTS"])
    if base is not None:
        allowed += (host_name(urlsplit(base).netloc),)
    proxies = int(app.config["PROXY_COUNT"])
    app.extensions["hosts"] = {"base": base, "allowed": allowed, "proxied": proxies > 0}
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
    app.jinja_env.globals["external_url"] = external_url  # templates never build absolute URLs from the Host alone
    app.before_request(_check_host)
    app.after_request(_finish)
