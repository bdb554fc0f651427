"""Absolute links: the one place that decides the public scheme, host and path prefix of this service.

Every absolute URL the service writes (OGC API links, TileJSON tile
templates, embed snippets) comes from :func:`base_url` / :func:`external_url`.
Behind a reverse proxy the production server (waitress with
``--trusted-proxy``) has already rewritten the request from
``X-Forwarded-Proto/Host/Port``, so ``request.url_root`` is the public
address; a configured public base URL or host allow-list plugs in here.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request, url_for

__all__ = ["base_url", "external_url", "with_query"]


def base_url():
    """The public root of the service, ending in ``/`` (scheme, host, port and script root)."""
    return request.url_root


def external_url(endpoint, **values):
    """The absolute public URL of ``endpoint`` (``url_for`` arguments; extra ones become the query)."""
    path = url_for(endpoint, **values)  # includes the script root, as base_url() does
    return base_url().rstrip("/") + path[len(request.script_root):]


def with_query(url, args):
    """``url`` with ``args`` (a dict or list of pairs, None values dropped) as its query string."""
    items = args.items() if isinstance(args, dict) else args
    query = urlencode([(k, v) for k, v in items if v is not None], safe=",:/")
    return f"{url}?{query}" if query else url
