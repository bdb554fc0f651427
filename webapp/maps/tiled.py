"""The map element of a layer drawn from its vector tiles: large layers stay smooth in the browser.

A layer over ``TILED_MIN_FEATURES`` features is not embedded in the page:
Leaflet.VectorGrid (vendored) fetches the layer's MVT tiles from
``/ogcapi/collections/<id>/tiles/WebMercatorQuad/{z}/{y}/{x}`` for the
tiles in view only, and draws them on canvas in the styles of the
embedded style table (``_s`` per tile feature). Tooltips show the name;
a click fetches the popup from ``/popup/<layer>/<fid>``. Behaviour lives in
``webapp/static/js/tiled-layer.js``; this element only passes options.
Self-contained exports never use it: they embed every feature.
"""

from __future__ import annotations

import jinja2
from folium.elements import JSCSSMixin
from folium.map import Layer
from markupsafe import Markup

from webapp.maps.elements import attribution_parts

__all__ = ["TiledFeatureLayer"]

_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


class TiledFeatureLayer(JSCSSMixin, Layer):
    """One catalogue layer drawn from MVT tiles (``tile_url`` with ``{z}/{y}/{x}``) in ``styles``.

    ``script_url``: the behaviour script (``static/js/tiled-layer.js``),
    loaded after the vendored Leaflet.VectorGrid (``default_js``, set by
    :func:`webapp.maps.assets.configure_folium`).
    """

    # MapSvc (js/mapsvc.js) comes with the map's PageHooks, on every map: it credits each source once
    _template = _ENV.from_string("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = window.mapsvcTiledLayer({{ this.js_options|tojson }});
MapSvc.credit({{ this._parent.get_name() }}, {{ this.get_name() }}, {{ this.attribution_parts|tojson }});
{% endmacro %}
""")

    def __init__(self, layer_id: str, *, title: str, attribution: str, tile_url: str, styles: list,
                 popup_url: str | None, script_url: str, show: bool = True):
        super().__init__(name=str(Markup.escape(title)), overlay=True, control=True, show=show)
        self._name = "TiledFeatureLayer"
        self.layer_id = layer_id
        self.attribution_parts = attribution_parts(attribution)
        self.js_options = {"layerId": layer_id, "url": tile_url, "styles": styles, "popupUrl": popup_url}
        self.default_js = [*type(self).default_js, ("mapsvc_tiled_layer", script_url)]
