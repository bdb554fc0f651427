"""Small folium elements of the map pages, each a class with a Jinja ``_template``.

The templates are compiled with autoescaping on: every value that is not
explicitly :class:`markupsafe.Markup` (pre-escaped HTML, or JSON made safe
for a ``<script>`` by ``tojson``) is HTML-escaped. Feature data reaches the
page only as htmlsafe JSON, and names are put into the DOM with
``textContent``, so property values can never become markup.
"""

from __future__ import annotations

import jinja2
from folium.elements import JSCSSMixin
from folium.map import Layer
from markupsafe import Markup

from layers.styles import HALO_QUALITIES, QUALITY_STYLE

__all__ = [
    "FeatureLayer",
    "FitView",
    "FocusFeature",
    "Legend",
    "MeasureTool",
    "PageHooks",
    "attribution_parts",
]

_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)



def _template(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def attribution_parts(*attributions: str) -> list[str]:
    """Split "A; B" attributions into escaped parts, first occurrence kept.

    Leaflet's attribution control writes with innerHTML, hence the escaping.
    """
    parts = (p.strip() for text in attributions for p in text.split(";"))
    return [str(Markup.escape(p)) for p in dict.fromkeys(p for p in parts if p)]




class FeatureLayer(JSCSSMixin, Layer):
    """One catalogue layer: styled features, tooltips, popups, a halo under schematic lines, wide hit lines.

    Built in the browser by ``MapSvc.featureLayer`` (``webapp/static/js/mapsvc.js``).
    ``data_js`` is the layer's display FeatureCollection as htmlsafe JSON;
    each feature carries ``_style`` (Leaflet path options) or an index ``_s``
    into the collection's ``styles`` list, and ``_popup`` (escaped HTML)
    unless ``popup_url`` is given, in which case the popup is fetched from
    ``popup_url`` with ``{fid}`` replaced when it opens (for layers too large
    to embed every popup). ``icons`` maps a point kind to AwesomeMarkers icon
    options ("" is the fallback); a point whose properties have ``_circle``
    true is a circle marker styled by its style instead. With
    ``display_url`` (``{band}`` replaced by a zoom-band index) the data is
    display geometry of zoom band ``band``; zooming into a finer band
    (``band_zooms``: each band's first zoom) fetches and draws that band.
    """

    _template = _template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = MapSvc.featureLayer({{ this._parent.get_name() }}, {{ this.data_js }}, {{ this.js_options|tojson }});
var {{ this.get_name() }}_features = MapSvc.layers[{{ this.layer_id|tojson }}].features;
{% endmacro %}
""")

    def __init__(self, layer_id: str, data_js: Markup, *, title: str, attribution: str,
                 icons: dict, popup_url: str | None = None, show: bool = True,
                 display_url: str | None = None, band: int = 0, band_zooms: tuple = ()):
        # Leaflet writes layer names into the control with innerHTML: escape here.
        super().__init__(name=str(Markup.escape(title)), overlay=True, control=True, show=show)
        self._name = "FeatureLayer"
        self.layer_id = layer_id
        self.data_js = data_js
        self.options = {"layerId": layer_id}
        self.js_options = {"layerId": layer_id, "title": title, "icons": icons, "popupUrl": popup_url,
                           "displayUrl": display_url, "band": band, "bandZooms": list(band_zooms),
                           "attribution": attribution_parts(attribution), "layerOptions": self.options,
                           "haloQualities": list(HALO_QUALITIES)}


class Legend(JSCSSMixin):
    """A Leaflet control listing layer colours, status line styles and the schematic and approximate looks.

    ``entries`` as from :func:`layers.styles.legend_entries`, each layer row
    with ``marker_hex`` (the pin colour) and ``icon`` added for point layers; ``statuses``
    only the ones present.
    """

    _body = _template("""
<details class="mapsvc-legend" open>
<summary>Legend</summary>
<ul class="mapsvc-legend-list">
{% for row in layers %}
<li{% if row.id %} data-layer="{{ row.id }}"{% endif %}>{% if row.family == "point" %}<span class="mapsvc-pin" style="background: {{ row.marker_hex }}" aria-hidden="true"><i class="fa fa-{{ row.icon }}"></i></span>
{% else %}<svg width="34" height="12" aria-hidden="true"><line x1="1" y1="6" x2="33" y2="6" stroke="{{ row.colour }}" stroke-width="4"/></svg>
{% endif %} {{ row.title }}</li>
{% endfor %}
</ul>
{% if statuses %}
<div class="mapsvc-legend-head">Status</div>
<ul class="mapsvc-legend-list">
{% for s in statuses %}
<li data-status="{{ s.status }}"><svg width="34" height="12" aria-hidden="true"><line x1="1" y1="6" x2="33" y2="6" stroke="#333" stroke-width="3"
{% if s.dash %} stroke-dasharray="{{ s.dash }}"{% endif %} stroke-opacity="{{ s.opacity }}"/></svg> {{ s.label }}</li>
{% endfor %}
</ul>
{% endif %}
{% if qualities %}
<div class="mapsvc-legend-head">Geometry</div>
<ul class="mapsvc-legend-list">
{% for label in qualities %}
<li><svg width="34" height="14" aria-hidden="true">
<line x1="4" y1="7" x2="30" y2="7" stroke="#333" stroke-width="12" stroke-opacity="0.18" stroke-linecap="round"/>
<line x1="4" y1="7" x2="30" y2="7" stroke="#333" stroke-width="3"/></svg> {{ label }}</li>
{% endfor %}
</ul>
{% endif %}
{% if blocs %}
<div class="mapsvc-legend-head">Countries: {{ blocs.title }}</div>
<ul class="mapsvc-legend-list">
{% for row in blocs.rows %}
<li data-bloc-status="{{ row.status }}"><svg width="34" height="12" aria-hidden="true"><rect x="1" y="1" width="32" height="10" fill="{{ row.colour }}" stroke="#777"/></svg> {{ row.label }} ({{ row.count }})</li>
{% endfor %}
</ul>
{% endif %}
<div class="mapsvc-legend-note">Lengths are geodesic (WGS84 ellipsoid).</div>
</details>
""")

    _template = _template("""
{% macro header(this, kwargs) %}
<style>
.mapsvc-legend { background: rgba(255,255,255,.93); padding: 6px 9px; border-radius: 5px; font: 12px/1.35 system-ui, sans-serif;
    box-shadow: 0 1px 5px rgba(0,0,0,.35); max-height: 45vh; overflow: auto; max-width: 290px; }
.mapsvc-legend summary { font-weight: 600; cursor: pointer; }
.mapsvc-legend-list { list-style: none; margin: 3px 0; padding: 0; }
.mapsvc-legend-list li { display: flex; align-items: center; gap: 6px; margin: 2px 0; }
.mapsvc-legend-head { font-weight: 600; margin-top: 4px; }
.mapsvc-legend-note { color: #555; margin-top: 4px; font-size: 11px; }
.mapsvc-pin { display: inline-block; width: 18px; height: 18px; border-radius: 50% 50% 50% 0; transform: rotate(-45deg);
    text-align: center; color: #fff; font-size: 9px; line-height: 18px; margin: 0 8px; flex: none; }
.mapsvc-pin i { transform: rotate(45deg); }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.control({position: "bottomleft"});
{{ this.get_name() }}.onAdd = function (map) {
    var div = L.DomUtil.create("div", "mapsvc-legend-control");
    div.innerHTML = {{ this.body|tojson }};
    // In a small frame (an embed) start folded so the legend does not hide the map.
    if (map.getSize().y < 640 || map.getSize().x < 700) { div.firstElementChild.removeAttribute("open"); }
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
};
{{ this.get_name() }}.addTo({{ this._parent.get_name() }});
{% endmacro %}
""")

    def __init__(self, *, layers: list[dict], statuses: list[dict], schematic: bool = False,
                 approximate: bool = False, blocs: dict | None = None):
        super().__init__()
        self._name = "Legend"
        qualities = [QUALITY_STYLE[q]["label"] for q, shown in (("schematic", schematic), ("approximate", approximate))
                     if shown]
        self.body = self._body.render(layers=layers, statuses=statuses, qualities=qualities, blocs=blocs)


class FitView(JSCSSMixin):
    """Fit the map to ``bounds`` ([[south, west], [north, east]]) at load, without animation.

    Unlike ``folium.Map.fit_bounds`` this does not animate the first zoom, so
    vector renderers are laid out for the final view straight away.
    """

    _template = _template("""
{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }}, {padding: [12, 12], animate: false});
{% endmacro %}
""")

    def __init__(self, bounds):
        super().__init__()
        self._name = "FitView"
        self.bounds = bounds


class FocusFeature(JSCSSMixin):
    """Zoom to one feature of a :class:`FeatureLayer` and open its popup."""

    _template = _template("""
{% macro script(this, kwargs) %}
MapSvc.select({{ this.layer.layer_id|tojson }}, {{ this.feature_id|tojson }});
{% endmacro %}
""")

    def __init__(self, layer: FeatureLayer, feature_id: str):
        super().__init__()
        self._name = "FocusFeature"
        self.layer = layer
        self.feature_id = feature_id


class PageHooks(JSCSSMixin):
    """``MapSvc.init``: expose ``window.mapsvc`` = {map, layers}, fire ``mapsvc:layer`` events when overlays
    toggle, and hand the page scripts the status styles (for the year slider).

    Lets the page around the map (table, filters, permalinks) follow the map
    without knowing folium's generated variable names.
    """

    _template = _template("""
{% macro script(this, kwargs) %}
MapSvc.init({{ this._parent.get_name() }}, {
{% for layer in this.layers %}
    {{ layer.layer_id|tojson }}: {{ layer.get_name() }},
{% endfor %}
}, {{ this.config|tojson }});
{% endmacro %}
""")

    def __init__(self, layers: list[FeatureLayer], *, status_styles: dict | None = None):
        super().__init__()
        self._name = "PageHooks"
        self.layers = layers
        self.config = {"statusStyles": status_styles or {}}


class MeasureTool(JSCSSMixin):
    """A distance tool measured on the WGS84 ellipsoid (``webapp/static/js/measure.js``).

    A real button (keyboard and pointer), clicks or Enter add points, Escape
    ends; no ``eval``, unlike leaflet-measure.
    """

    _template = _template("""
{% macro script(this, kwargs) %}
MapSvc.measureControl({{ this._parent.get_name() }}, {position: "topleft"});
{% endmacro %}
""")

    def __init__(self):
        super().__init__()
        self._name = "MeasureTool"
