"""OGC API - Features and Tiles over the layer catalogue, mounted at ``/ogcapi``.

Paste ``http://<host>/ogcapi`` into QGIS (Layer > Add Layer > Add WFS / OGC
API - Features Layer) or give GDAL ``OAPIF:http://<host>/ogcapi``.
:mod:`webapp.ogc.features` serves the collections and items,
:mod:`webapp.ogc.tiles` the vector tiles; both share
:mod:`webapp.ogc.common` (conformance, links, ``f=json|html``).
"""

from __future__ import annotations

__all__ = ["MOUNT", "init_app"]

MOUNT = "/ogcapi"


def init_app(app):
    """Register the Features and Tiles blueprints on ``app``."""
    from webapp.ogc import features, tiles

    app.register_blueprint(features.bp)
    app.register_blueprint(tiles.bp)
