"""The map service: a Flask app serving maps, embeds, exports, a JSON API and user imports.

``create_app(config=None)`` builds one; nothing is loaded at import time.
"""

from __future__ import annotations

from flask import Flask

from webapp import accounts, catalog, errors, imports, security, status
from webapp.analysis import views as analysis_views
from webapp.api import httpcache, openapi
from webapp.api import views as api_views
from webapp.export import views as export_views
from webapp.maps import assets, builder, pages
from webapp.settings import load_settings

__all__ = ["create_app"]


def create_app(config=None):
    """Return a configured app: declared defaults, then ``MAPSVC_*`` environment, then ``config``.

    Opens the store and builds the live layer catalogue, points folium at the
    vendored assets, and registers the pages, API, export, account and
    import blueprints.
    """
    app = Flask(__name__)
    app.config.from_mapping(load_settings(config))
    app.json.sort_keys = False
    catalog.init_app(app)
    builder.init_app(app)
    assets.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    httpcache.init_app(app)
    imports.init_app(app)  # before accounts: the upload's body limit is raised before CSRF reads the body
    accounts.init_app(app)
    export_views.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api_views.bp)
    app.register_blueprint(export_views.bp)
    app.register_blueprint(analysis_views.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(status.bp)
    return app
