"""The map service: a Flask app serving maps, embeds, exports, a JSON API and user imports.

``create_app(config=None)`` builds one; nothing is loaded at import time.
"""

from __future__ import annotations

from flask import Flask

from webapp import accounts, catalog, cors, errors, hosts, imports, jsonout, limits, ogc, security, status, workload
from webapp.analysis import views as analysis_views
from webapp.api import httpcache, openapi
from webapp.api import search as api_search
from webapp.api import views as api_views
from webapp.export import downloads
from webapp.export import views as export_views
from webapp.maps import assets, basemap, builder, pages, static
from webapp.settings import load_settings

__all__ = ["create_app"]


def create_app(config=None):
    """Return a configured app: declared defaults, then ``MAPSVC_*`` environment, then ``config``.

    Opens the store and builds the live layer catalogue, points folium at
    the vendored assets, and registers the pages, API, export, download,
    OGC API (Features, Tiles), account and import blueprints.
    """
    app = Flask(__name__)
    app.config.from_mapping(load_settings(config))
    jsonout.init_app(app)
    workload.init_app(app)
    catalog.init_app(app)  # first: it sets the secret key, and every later part reads the catalogue
    static.init_app(app)  # before the map builder: map options point at versioned static URLs
    builder.init_app(app)
    assets.init_app(app)
    errors.init_app(app)
    hosts.init_app(app)  # its after-request hook runs after httpcache's, on the final (200 or 304) response
    security.init_app(app)
    cors.init_app(app)  # after-request hooks run last-registered first: CORS sees the final (304/206) response
    httpcache.init_app(app)
    imports.init_app(app)
    accounts.init_app(app)
    export_views.init_app(app)
    pages.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(basemap.bp)
    app.register_blueprint(api_views.bp)
    app.register_blueprint(export_views.bp)
    app.register_blueprint(analysis_views.bp)
    app.register_blueprint(api_search.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(downloads.bp)
    app.register_blueprint(status.bp)
    ogc.init_app(app)
    limits.init_app(app)  # wraps registered views: after the blueprints
    imports.init_limits(app)  # uploads' larger bodies; imports and password attempts rate-limited
    accounts.init_limits(app)
    return app
