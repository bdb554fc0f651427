"""The OpenAPI description of the import, account and status endpoints (merged into ``/api/openapi.json``).

Operations that need an account say so with ``security`` (a bearer token,
or the session cookie plus the CSRF header for browsers).
"""

from __future__ import annotations

__all__ = ["SECURITY_SCHEMES", "write_operations"]

SECURITY_SCHEMES = {
    "token": {"type": "http", "scheme": "bearer", "description": "An API token from /account/ or "
                                                                 "`python -m webapp token create NAME`."},
    "session": {"type": "apiKey", "in": "cookie", "name": "session",
                "description": "A signed-in browser session; writes also need the X-CSRFToken header."},
}
_AUTH = [{"token": []}, {"session": []}]
_ERROR = {"$ref": "#/components/schemas/Error"}
_OBJECT = {"$ref": "#/components/schemas/AnyObject"}
_TEXT = {
    400: "A parameter is malformed (`parameter` names it).", 401: "No account: sign in or send an API token.",
    403: "Not yours to change (another account's, or a built-in or folder layer).",
    404: "No such layer or import (another account's private ones do not exist for you).",
    409: "The layer id is taken.", 413: "The file, or what it unpacks to, is larger than the limit.",
    422: "The file or a feature cannot be imported: `problems` lists each, naming the feature.",
}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes):
    return {str(c): _json(_ERROR, _TEXT[c]) for c in codes}


def _responses(ok, description, *errors):
    return {ok: _json(_OBJECT, description), **_errors(*errors)}


def _path(name, description):
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}


_OPTIONS = {
    "layer": {"type": "string", "description": "Which layer of a multi-layer file (GeoPackage layer, GEM type)."},
    "layer_id": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"},
    "title": {"type": "string"}, "description": {"type": "string"}, "attribution": {"type": "string"},
    "licence": {"type": "string"}, "source_url": {"type": "string"},
    "geometry_quality": {"type": "string", "enum": ["traced", "schematic"]},
    "repair": {"type": "boolean", "description": "Repair invalid geometry with make_valid."},
    "skip_invalid": {"type": "boolean", "description": "Drop the features that still have problems."},
    "public": {"type": "boolean", "description": "Publish it (default: private to you)."},
    "replace": {"type": "string", "description": "A layer of yours to give a new version instead."},
}
_LAYER = _path("layer_id", "A layer of yours.")
_IMPORT = _path("import_id", "The id a preview answered.")


def write_operations():
    """(flask endpoint, path, method, operation) of every documented import, account and status operation."""
    return [
        ("imports.upload", "/api/imports", "post", {
            "summary": "Upload one GIS file: its preview (layers, notes, problems), or with commit=1 the saved "
                       "layer.", "operationId": "uploadImport", "security": _AUTH,
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"},
                               "commit": {"type": "boolean"}, **_OPTIONS}}}}},
            "responses": _responses("200", "The preview.", 400, 401, 403, 404, 409, 413, 422)
            | {"201": _json(_OBJECT, "Saved (with commit=1).")},
        }),
        ("imports.staged", "/api/imports/{import_id}", "get", {
            "summary": "A staged import's preview again.", "operationId": "getImport", "security": _AUTH,
            "parameters": [_IMPORT], "responses": _responses("200", "The preview.", 400, 401, 404, 422),
        }),
        ("imports.discard", "/api/imports/{import_id}", "delete", {
            "summary": "Discard a staged import.", "operationId": "discardImport", "security": _AUTH,
            "parameters": [_IMPORT], "responses": {"204": {"description": "Discarded."}, **_errors(400, 401, 404)},
        }),
        ("imports.commit", "/api/imports/{import_id}/commit", "post", {
            "summary": "Save a staged import as a layer (or a new version of one).", "operationId": "commitImport",
            "security": _AUTH, "parameters": [_IMPORT],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": _OPTIONS}}}},
            "responses": {"201": _json(_OBJECT, "Saved."), **_errors(400, 401, 403, 404, 409, 422)},
        }),
        ("imports.edit", "/api/layers/{layer_id}", "patch", {
            "summary": "Edit a layer's metadata or visibility (a new version for metadata).",
            "operationId": "editLayer", "security": _AUTH, "parameters": [_LAYER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {k: {"type": "string"} for k in (
                    "title", "description", "attribution", "licence", "color")} | {"public": {"type": "boolean"}}}}}},
            "responses": _responses("200", "The layer's record.", 400, 401, 403, 404),
        }),
        ("imports.delete", "/api/layers/{layer_id}", "delete", {
            "summary": "Delete a layer of yours with all its versions.", "operationId": "deleteLayer",
            "security": _AUTH, "parameters": [_LAYER],
            "responses": {"204": {"description": "Deleted."}, **_errors(400, 401, 403, 404)},
        }),
        ("imports.versions", "/api/layers/{layer_id}/versions", "get", {
            "summary": "Every version of a layer of yours.", "operationId": "listVersions", "security": _AUTH,
            "parameters": [_LAYER], "responses": _responses("200", "The versions, oldest first.", 401, 403, 404),
        }),
        ("imports.rollback", "/api/layers/{layer_id}/rollback", "post", {
            "summary": "Make an earlier version current again (as a new version).", "operationId": "rollbackLayer",
            "security": _AUTH, "parameters": [_LAYER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["version"], "properties": {"version": {"type": "integer"}}}}}},
            "responses": _responses("200", "The layer's record.", 400, 401, 403, 404),
        }),
        ("accounts.api_account", "/api/account", "get", {
            "summary": "Whose token or session this is, and their layers.", "operationId": "getAccount",
            "security": _AUTH, "responses": _responses("200", "The account.", 401),
        }),
        ("status.api_status", "/api/status", "get", {
            "summary": "What is served, and the layer-folder files skipped with their reasons.",
            "operationId": "getStatus", "responses": _responses("200", "The status."),
        }),
    ]
