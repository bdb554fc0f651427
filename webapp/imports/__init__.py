"""User imports: the upload endpoint, the preview and save flow, layer management pages.

``init_app`` registers the blueprint and the upload spooling: uploaded files
are spooled into ``DATA_DIR/staging``, never the system temporary
directory. ``init_limits`` (after :func:`webapp.limits.init_app`) raises
the body limit of ``POST /api/imports`` to ``IMPORT_MAX_MB`` -- every other
route keeps ``MAX_BODY_MB``, checked before the CSRF check reads a body --
and puts the endpoints that read files under the per-client limit of
expensive work.
"""

from __future__ import annotations

import tempfile

from flask import Request, current_app

from webapp.imports import service, views
from webapp.limits import allow_large_body, limit_expensive

__all__ = ["UploadRequest", "init_app", "init_limits"]


class UploadRequest(Request):
    """Flask's request, spooling uploaded files into the data directory (nothing written outside it)."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return tempfile.TemporaryFile("wb+", dir=service.staging_root(current_app))


def init_app(app):
    """Upload spooling, staging clean-up at start, the import blueprint."""
    app.request_class = UploadRequest
    service.clean_staging(app)
    app.register_blueprint(views.bp)


def init_limits(app):
    """Uploads may carry ``IMPORT_MAX_MB``; reading files counts as expensive work (after limits.init_app)."""
    allow_large_body(app, views.UPLOAD_ENDPOINT, app.config["IMPORT_MAX_MB"])
    for endpoint in views.RATE_LIMITED_ENDPOINTS:
        limit_expensive(app, endpoint)
