"""User imports: the upload endpoint, the preview and save flow, layer management pages.

``init_app`` must run before :func:`webapp.accounts.init_app`: it raises the
request body limit for ``POST /api/imports`` (to ``IMPORT_MAX_MB``) before
anything reads the body -- the CSRF check does -- while every other route
keeps the small global ``MAX_CONTENT_LENGTH``. Uploaded files are spooled
into ``DATA_DIR/staging``, never the system temporary directory.
"""

from __future__ import annotations

import tempfile

from flask import Request, current_app, request

from webapp.imports import service, views

__all__ = ["UPLOAD_PATH", "UploadRequest", "init_app"]

UPLOAD_PATH = "/api/imports"


class UploadRequest(Request):
    """Flask's request, spooling uploaded files into the data directory (nothing written outside it)."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return tempfile.TemporaryFile("wb+", dir=service.staging_root(current_app))


def _raise_body_limit():
    if request.method == "POST" and request.path == UPLOAD_PATH:
        request.max_content_length = int(float(current_app.config["IMPORT_MAX_MB"]) * 2**20)


def init_app(app):
    """Upload spooling and body limit, staging clean-up at start, the import blueprint."""
    app.request_class = UploadRequest
    app.before_request(_raise_body_limit)
    service.clean_staging(app)
    app.register_blueprint(views.bp)
