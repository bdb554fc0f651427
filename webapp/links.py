"""Absolute links for the OGC API, TileJSON and other machine-readable documents.

The public root comes from :mod:`webapp.hosts` (``PUBLIC_BASE_URL`` when set,
else the request's host, checked against ``ALLOWED_HOSTS`` and honouring
``PROXY_COUNT`` proxies), so every absolute URL the service writes has one origin.
"""

from __future__ import annotations

from urllib.parse import urlencode

from webapp.hosts import external_url, public_root

__all__ = ["base_url", "external_url", "with_query"]


def base_url():
    """The public root of the service, ending in ``/`` (scheme, host, port and path prefix)."""
    return public_root() + "/"


def with_query(url, args):
    """``url`` with ``args`` (a dict or list of pairs, None values dropped) as its query string."""
    items = args.items() if isinstance(args, dict) else args
    query = urlencode([(k, v) for k, v in items if v is not None], safe=",:/")
    return f"{url}?{query}" if query else url
