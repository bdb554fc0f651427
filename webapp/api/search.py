"""``GET /api/search?q=``: features, places and coordinates for the map's search box.

A thin view over :func:`geo.search.search`; answers are small and cached
like the rest of the API (ETag, gzip).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from geo.search import search
from layers.errors import BadParameter
from webapp.api.views import refuse_unknown
from webapp.maps.builder import current_catalog

__all__ = ["MAX_LIMIT", "bp"]

bp = Blueprint("search", __name__, url_prefix="/api")
MAX_LIMIT = 25


@bp.get("/search", endpoint="search")
def search_view():
    """Results for ``q`` (a place, a project name, id or alias, or ``lat, lon`` in decimal or DMS)."""
    refuse_unknown(("q", "limit"))
    text = request.args.get("limit", "10")
    try:
        limit = int(text)
    except ValueError:
        raise BadParameter("limit", f"{text!r} is not a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadParameter("limit", f"must be 1..{MAX_LIMIT}")
    return jsonify(search(current_catalog(), request.args.get("q", ""), limit=limit))
