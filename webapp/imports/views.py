"""Imports over HTTP: ``POST /api/imports`` (multipart upload -> preview, or saved at once), commit,
discard, edit, versions, roll back, delete; and the ``/import`` pages (drag and drop with a progress bar,
preview, problems, metadata) in ``static/js/import.js``.

URL contract (the deployment's nginx relies on it): uploads POST to
``/api/imports`` (the only route whose body limit is raised, to
``IMPORT_MAX_MB``); the page is ``/import``. Every write needs an account
(session + CSRF token, or an API token) and only the owner changes a layer.
Rate limits: :data:`RATE_LIMITED_ENDPOINTS` (those that read a file) share the per-client limit of
expensive work (``RATELIMIT_EXPENSIVE``, :mod:`webapp.limits`); each signed-in call of one counts.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, url_for

from layers.errors import BadParameter, LayerInvalid
from webapp.accounts.auth import login_required, require_user
from webapp.catalog import current_catalog, forget_view
from webapp.imports import service
from webapp.workload import count_as_expensive

__all__ = ["RATE_LIMITED_ENDPOINTS", "UPLOAD_ENDPOINT", "bp", "record_json"]

bp = Blueprint("imports", __name__)
UPLOAD_ENDPOINT = "imports.upload"  # the one endpoint whose body may reach IMPORT_MAX_MB
RATE_LIMITED_ENDPOINTS = (UPLOAD_ENDPOINT, "imports.commit", "imports.staged")  # these read (and map) a file


def record_json(record, *, status=200):
    """A store record as the API's JSON answer, with links."""
    body = {"layer": record.id, "version": record.number, "version_id": record.version_id, "public": record.public,
            "title": record.title, "feature_count": record.feature_count, "vertex_count": record.vertex_count,
            "sha256": record.sha256, "links": {
                "map": url_for("pages.layer_map", layer_id=record.id),
                "geojson": url_for("api.layer_geojson", layer_id=record.id),
                "stats": url_for("api.layer_stats_view", layer_id=record.id),
                "manage": url_for("imports.manage", layer_id=record.id)}}
    response = jsonify(body)
    response.status_code = status
    return response


def _values():
    """Options from a JSON body or form fields."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadParameter("body", "expected a JSON object")
        return body
    return request.form


def _flag(values, name):
    value = values.get(name)
    return value is True or str(value).lower() in ("1", "true", "on", "yes")


def _preview_json(staged, candidates):
    return {"import_id": staged.import_id, "filename": staged.filename,
            "layers": [c.summary() for c in candidates],
            "links": {"self": url_for("imports.staged", import_id=staged.import_id),
                      "commit": url_for("imports.commit", import_id=staged.import_id)}}


def _save(staged, values):
    user = g.user
    record = service.save(current_app, staged, user, service.options_from(values), public=_flag(values, "public"),
                          replace_id=values.get("replace") or None)
    forget_view()
    return record_json(record, status=201)


@bp.post("/api/imports")
def upload():
    """Receive one file (multipart field ``file``); answer its preview, or save it at once with ``commit=1``.

    A file that cannot be read at all is refused (422/413) and nothing of it is kept.
    """
    user = require_user()
    count_as_expensive()
    file = request.files.get("file")
    if file is None or not file.filename:
        raise BadParameter("file", "send the file as multipart/form-data field 'file'")
    values = request.form
    staged = service.stage_file(current_app, file, file.filename, user.id)
    try:
        if _flag(values, "commit"):
            return _save(staged, values)
        candidates = service.preview(current_app, staged, service.options_from(values))
    except BaseException:
        service.discard(staged)  # a failed import leaves no trace
        raise
    return jsonify(_preview_json(staged, candidates))


@bp.get("/api/imports/<import_id>")
def staged(import_id):
    """The preview of a staged import again (``?repair=1``, ``?skip_invalid=1``, ``?layer=`` as for commit)."""
    user = require_user()
    count_as_expensive()
    item = service.find_staged(current_app, import_id, user)
    return jsonify(_preview_json(item, service.preview(current_app, item, service.options_from(request.args))))


@bp.post("/api/imports/<import_id>/commit")
def commit(import_id):
    """Save a staged import: ``layer`` (which layer of the file), ``layer_id``, ``title``, ``description``,
    ``attribution``, ``licence``, ``source_url``, ``geometry_quality``, ``repair``, ``skip_invalid``,
    ``public``, ``replace`` (a layer of yours to give a new version). 201, or 422 listing the problems."""
    user = require_user()
    count_as_expensive()
    return _save(service.find_staged(current_app, import_id, user), _values())


@bp.delete("/api/imports/<import_id>")
def discard(import_id):
    service.discard(service.find_staged(current_app, import_id, require_user()))
    return Response(status=204)


@bp.patch("/api/layers/<layer_id>")
def edit(layer_id):
    """Edit a layer of yours: JSON ``{"title", "description", "attribution", "licence", "color", "public"}``."""
    record = service.edit_layer(current_app, layer_id, require_user(), dict(_values()))
    forget_view()
    return record_json(record)


@bp.delete("/api/layers/<layer_id>")
def delete(layer_id):
    service.delete_layer(current_app, layer_id, require_user())
    forget_view()
    return Response(status=204)


@bp.get("/api/layers/<layer_id>/versions")
def versions(layer_id):
    """Every version of a layer of yours, oldest first."""
    user = require_user()
    service.editable_layer(current_app, layer_id, user)
    return jsonify({"layer": layer_id, "versions": [
        {"version": v.number, "version_id": v.version_id, "created_at": v.created_at, "note": v.note,
         "feature_count": v.feature_count, "sha256": v.sha256, "title": v.meta.get("title"), "current": v.current}
        for v in current_app.extensions["store"].versions(layer_id)]})


@bp.post("/api/layers/<layer_id>/rollback")
def rollback(layer_id):
    """Make version ``version`` current again (as a new version: history only grows)."""
    values = _values()
    number = str(values.get("version", ""))
    if not number.isdigit():
        raise BadParameter("version", "give the version number to go back to")
    record = service.rollback_layer(current_app, layer_id, require_user(), int(number))
    forget_view()
    return record_json(record)


# --- pages ------------------------------------------------------------------------------------------------

def _page(template, **context):
    return render_template(template, all_layers=list(current_catalog()), **context)


@bp.get("/import")
@login_required
def page():
    """Drag and drop a file, see its preview and problems, fix the metadata, save."""
    return _page("imports/import.html", title="Import a layer",
                 layers=current_app.extensions["catalog"].owned_by(g.user.id), replace=None,
                 max_mb=current_app.config["IMPORT_MAX_MB"])


@bp.get("/import/layers/<layer_id>")
@login_required
def manage(layer_id):
    """One of your layers: metadata, publish, replace, versions and roll back, delete."""
    layer = service.editable_layer(current_app, layer_id, g.user)
    return _page("imports/manage.html", title=f"Manage {layer.title}", layer=layer,
                 versions=current_app.extensions["store"].versions(layer_id), replace=layer_id,
                 message=request.args.get("message"), max_mb=current_app.config["IMPORT_MAX_MB"])


@bp.post("/import/layers/<layer_id>/edit")
@login_required
def edit_page(layer_id):
    form = request.form
    changes = {k: form[k] for k in ("title", "description", "attribution", "licence") if k in form}
    if "public" in form:
        changes["public"] = form["public"] == "1"
    try:
        service.edit_layer(current_app, layer_id, g.user, changes)
        message = "saved"
    except (BadParameter, LayerInvalid) as exc:
        message = str(exc)
    return redirect(url_for("imports.manage", layer_id=layer_id, message=message))


@bp.post("/import/layers/<layer_id>/rollback")
@login_required
def rollback_page(layer_id):
    number = request.form.get("version", "")
    if not number.isdigit():
        raise BadParameter("version", "give the version number to go back to")
    record = service.rollback_layer(current_app, layer_id, g.user, int(number))
    return redirect(url_for("imports.manage", layer_id=layer_id, message=f"now at version {record.number}"))


@bp.post("/import/layers/<layer_id>/delete")
@login_required
def delete_page(layer_id):
    service.delete_layer(current_app, layer_id, g.user)
    return redirect(url_for("accounts.account", message=f"layer {layer_id} deleted"))
