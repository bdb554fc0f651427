"""``/status`` (HTML; JSON with ``?format=json``, ``Accept: application/json`` or ``/api/status``): what is
served, and what was not and why -- layer-folder files skipped at start-up, stored layers that failed to
load -- plus the store's kind and generation."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

from layers.errors import BadParameter
from webapp.catalog import current_catalog

__all__ = ["bp", "status_document"]

bp = Blueprint("status", __name__)


def status_document(app):
    """The status as a JSON-ready dict (public: no secrets, no user names, no private layer ids)."""
    live = app.extensions["catalog"]
    public = live.view()
    counts = {"builtin": 0, "folder": 0, "store": 0}
    for layer in public:
        counts[layer.source] += 1
    store = app.extensions["store"]
    return {
        "ok": not live.problems and not live.store_problems,
        "layers": {"served": len(public), **counts},
        "skipped_files": [p.to_dict() for p in live.problems],
        # stored layers that failed to load are counted, not named (they may be private); the log names them
        "store": {"kind": type(store).__name__, "generation": store.generation(),
                  "layers_not_served": len(live.store_problems)},
    }


@bp.get("/status")
def status_page():
    fmt = request.args.get("format", "")
    if fmt not in ("", "json", "html"):
        raise BadParameter("format", f"{fmt!r} is not html or json")
    wants_json = fmt == "json" or (not fmt and request.accept_mimetypes.best_match(
        ["text/html", "application/json"]) == "application/json")
    doc = status_document(current_app)
    if wants_json:
        return jsonify(doc)
    return render_template("status.html", title="Service status", doc=doc, all_layers=list(current_catalog()))


@bp.get("/api/status")
def api_status():
    return jsonify(status_document(current_app))
