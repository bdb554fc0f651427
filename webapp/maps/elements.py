"""Small folium elements of the map pages, each a class with a Jinja ``_template``.

The templates are compiled with autoescaping on: every value that is not
explicitly :class:`markupsafe.Markup` (pre-escaped HTML, or JSON made safe
for a ``<script>`` by ``tojson``) is HTML-escaped. Feature data reaches the
page only as htmlsafe JSON, and names are put into the DOM with
``textContent``, so property values can never become markup.
"""

from __future__ import annotations

from typing import ClassVar

import jinja2
from folium import plugins
from folium.elements import JSCSSMixin
from folium.map import Layer
from markupsafe import Markup

from layers.styles import HALO_QUALITIES, QUALITY_STYLE

__all__ = [
    "BASEMAP_PANE",
    "LABEL_PANE",
    "BasemapMiniMap",
    "FeatureLayer",
    "FitView",
    "FocusFeature",
    "Legend",
    "NoTilesLayer",
    "PageHooks",
    "VectorBasemap",
    "attribution_parts",
]

_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

BASEMAP_PANE = "mapsvc-basemap"
LABEL_PANE = "mapsvc-labels"


def _template(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def attribution_parts(*attributions: str) -> list[str]:
    """Split "A; B" attributions into escaped parts, first occurrence kept.

    Leaflet's attribution control writes with innerHTML, hence the escaping.
    """
    parts = (p.strip() for text in attributions for p in text.split(";"))
    return [str(Markup.escape(p)) for p in dict.fromkeys(p for p in parts if p)]


_ATTRIBUTION_MACRO = """{% macro attribution_script(this) %}
// Credit each attribution part once however many visible layers share it:
// Leaflet's attribution control counts additions per distinct string.
(function (map, layer, parts) {
    layer.on("add", function () { if (map.attributionControl) { parts.forEach(function (p) { map.attributionControl.addAttribution(p); }); } });
    layer.on("remove", function () { if (map.attributionControl) { parts.forEach(function (p) { map.attributionControl.removeAttribution(p); }); } });
})({{ this._parent.get_name() }}, {{ this.get_name() }}, {{ this.attribution_parts|tojson }});
{% endmacro %}
"""


class FeatureLayer(Layer):
    """One catalogue layer: styled features, tooltips, popups and a halo under schematic lines.

    ``data_js`` is the layer's display FeatureCollection as htmlsafe JSON;
    each feature carries ``_style`` (Leaflet path options), and ``_popup``
    (escaped HTML) unless ``popup_url`` is given, in which case the popup is
    fetched from ``popup_url`` with ``{fid}`` replaced when it opens (for
    layers too large to embed every popup). ``icons`` maps a point kind to
    AwesomeMarkers icon options ("" is the fallback); a point whose properties
    have ``_circle`` true is a circle marker styled by its style instead. Styles may also come as
    a ``styles`` list on the collection with an index ``_s`` per feature.
    With ``display_url`` (``{band}`` replaced by a zoom-band index) the data
    is display geometry of zoom band ``band``; zooming into a finer band
    (``band_zooms``: each band's first zoom) fetches and draws that band.
    ``band`` -1 with empty data: the layer is fetched when shown
    (:func:`webapp.maps.builder.layer_delivery`).
    """

    _template = _template(_ATTRIBUTION_MACRO + """
{% macro script(this, kwargs) %}
var {{ this.get_name() }}_icons = {
{% for kind, options in this.icons.items() %}
    {{ kind|tojson }}: L.AwesomeMarkers.icon({{ options|tojson }}),
{% endfor %}
};
var {{ this.get_name() }}_data = {{ this.data_js }};
var {{ this.get_name() }}_state = {styles: {{ this.get_name() }}_data.styles || []};
function {{ this.get_name() }}_style(f) {
    return f.properties._style || {{ this.get_name() }}_state.styles[f.properties._s] || {};
}
var {{ this.get_name() }}_halo = L.geoJson({{ this.get_name() }}_data, {
    interactive: false,
    filter: function (f) {
        return {{ this.halo_qualities|tojson }}.indexOf(f.properties.geometry_quality) >= 0
            && f.geometry.type.indexOf("Point") < 0;
    },
    style: function (f) {
        var s = {{ this.get_name() }}_style(f);
        return {color: s.color, weight: s.weight + 9, opacity: 0.18, lineCap: "round", lineJoin: "round", fill: false};
    }
});
var {{ this.get_name() }}_features = L.geoJson({{ this.get_name() }}_data, {
    style: {{ this.get_name() }}_style,
    pointToLayer: function (f, latlng) {
        var icons = {{ this.get_name() }}_icons;
        if (f.properties._circle) { return L.circleMarker(latlng, {{ this.get_name() }}_style(f)); }
        return L.marker(latlng, {icon: icons[f.properties.kind] || icons[""], opacity: {{ this.get_name() }}_style(f).opacity});
    },
    onEachFeature: function (f, layer) {
        var tip = document.createElement("span");
        tip.textContent = f.properties.name;
        layer.bindTooltip(tip, {sticky: f.geometry.type !== "Point"});
{% if this.popup_url %}
        layer.bindPopup("Loading\\u2026", {maxWidth: 400, maxHeight: 380});
        layer.on("popupopen", function (e) {
            var url = {{ this.popup_url|tojson }}.replace("{fid}", encodeURIComponent(f.properties.id));
            fetch(url).then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
                .then(function (html) { e.popup.setContent(html); },
                      function () { e.popup.setContent("Details unavailable."); });
        });
{% else %}
        layer.bindPopup(f.properties._popup, {maxWidth: 400, maxHeight: 380});
{% endif %}
    }
});
var {{ this.get_name() }} = L.featureGroup(
    [{{ this.get_name() }}_halo, {{ this.get_name() }}_features], {{ this.options|tojson }});
{{ attribution_script(this) }}
{% if this.display_url %}
// Zooming in past the embedded zoom band: fetch finer display geometry once per band and redraw
// (never coarser; an open popup is left alone until it closes). Band -1: nothing embedded (a layer too
// large to write into the page), so the band of the current zoom is fetched as soon as the layer is shown.
(function (map, group, features, halo, state, url, firstZooms, band) {
    var pending = null, waiting = null, popupOpen = false;
    function bandOf(zoom) { var b = 0; firstZooms.forEach(function (z, i) { if (zoom >= z) { b = i; } }); return b; }
    function redraw(data) {
        if (popupOpen) { waiting = data; return; }
        if (data.styles) { state.styles = data.styles; }
        features.clearLayers(); features.addData(data);
        halo.clearLayers(); halo.addData(data);
    }
    features.on("popupopen", function () { popupOpen = true; });
    features.on("popupclose", function () {
        popupOpen = false;
        if (waiting) { var data = waiting; waiting = null; redraw(data); }
    });
    function refine() {
        if (!map.hasLayer(group)) { return; }  // hidden: fetch when shown
        var need = bandOf(map.getZoom());
        if (need <= band || (pending !== null && need <= pending)) { return; }
        pending = need;
        fetch(url.replace("{band}", need)).then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
            .then(function (data) {
                if (pending === need) { pending = null; }
                if (need > band) { band = need; redraw(data); }
                refine();
            }, function () { if (pending === need) { pending = null; } });
    }
    map.on("zoomend", refine);
    group.on("add", function () { setTimeout(refine, 0); });
    setTimeout(refine, 0);
})({{ this._parent.get_name() }}, {{ this.get_name() }}, {{ this.get_name() }}_features, {{ this.get_name() }}_halo,
   {{ this.get_name() }}_state, {{ this.display_url|tojson }}, {{ this.band_zooms|tojson }}, {{ this.band|tojson }});
{% endif %}
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
        self.halo_qualities = list(HALO_QUALITIES)
        self.icons = icons
        self.popup_url = popup_url
        self.display_url = display_url
        self.band = band
        self.band_zooms = list(band_zooms)
        self.attribution_parts = attribution_parts(attribution)
        self.options = {"layerId": layer_id}


class VectorBasemap(Layer):
    """Country polygons and labels from the ``boundaries`` layer: the basemap that needs no network.

    Drawn in its own pane above tiles and below the data, on a sea-coloured
    rectangle of the region the boundaries cover (outside it there is no
    data, shown neutral). With no tile layer showing, or when tiles fail to
    load, land is filled and countries are labelled; over working tiles only
    the borders are drawn. ``data_js``: htmlsafe JSON FeatureCollection whose
    features carry ``name`` and ``_label`` ([lon, lat]); ``region``:
    (minlon, minlat, maxlon, maxlat).
    """

    _template = _template(_ATTRIBUTION_MACRO + """
{% macro header(this, kwargs) %}
<style>
.leaflet-container.mapsvc-offline { background: #e6e5e1; }
.leaflet-control-minimap { background: #cfe0ea; }
.mapsvc-country-label { color: #6b6459; font: italic 11px/1.1 system-ui, sans-serif; white-space: nowrap;
    text-shadow: 0 0 3px #fff, 0 0 2px #fff; transform: translate(-50%, -50%); }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
(function (map) {
    var pane = map.createPane({{ this.pane|tojson }});
    pane.style.zIndex = 250;
    pane.style.pointerEvents = "none";
    var labels = map.createPane({{ this.label_pane|tojson }});
    labels.style.zIndex = 260;
    labels.style.pointerEvents = "none";
})({{ this._parent.get_name() }});
var {{ this.get_name() }}_data = {{ this.data_js }};
var {{ this.get_name() }}_sea = L.rectangle({{ this.region_bounds|tojson }}, {
    pane: {{ this.pane|tojson }}, interactive: false, stroke: false, fillColor: "#cfe0ea", fillOpacity: 1
});
var {{ this.get_name() }}_countries = L.geoJson({{ this.get_name() }}_data, {
    pane: {{ this.pane|tojson }}, interactive: false, style: {{ this.land_style|tojson }}
});
var {{ this.get_name() }}_labels = L.layerGroup({{ this.get_name() }}_data.features.map(function (f) {
    var text = document.createElement("span");
    text.textContent = f.properties.name;
    return L.marker([f.properties._label[1], f.properties._label[0]], {
        pane: {{ this.label_pane|tojson }}, interactive: false, keyboard: false,
        icon: L.divIcon({className: "mapsvc-country-label", html: text, iconSize: null})
    });
}));
var {{ this.get_name() }} = L.featureGroup(
    [{{ this.get_name() }}_sea, {{ this.get_name() }}_countries, {{ this.get_name() }}_labels]);
{{ attribution_script(this) }}
(function (map, sea, countries, labels) {
    var tilesShown = {{ this.tiles_on|tojson }}, tilesFailed = false;
    function restyle() {
        var vector = !tilesShown || tilesFailed;
        map.getContainer().classList.toggle("mapsvc-offline", vector);
        sea.setStyle({fillOpacity: vector ? 1 : 0});
        countries.setStyle(vector ? {{ this.land_style|tojson }} : {{ this.border_style|tojson }});
        map.getPane({{ this.label_pane|tojson }}).style.display = (vector && map.getZoom() >= 4) ? "" : "none";
    }
    // Offline with tiles selected: fall back to the filled vector basemap.
    function watch(layer) {
        if (layer instanceof L.TileLayer) {
            layer.on("tileerror", function () { if (!tilesFailed) { tilesFailed = true; restyle(); } });
            layer.on("tileload", function () { if (tilesFailed) { tilesFailed = false; restyle(); } });
        }
    }
    map.eachLayer(watch);
    map.on("layeradd", function (e) { watch(e.layer); });
    map.on("baselayerchange", function (e) { tilesShown = e.layer instanceof L.TileLayer; tilesFailed = false; restyle(); });
    map.on("zoomend", restyle);
    // Group members are drawn in id order, not list order: put the sea under the land.
    sea.on("add", function () { sea.bringToBack(); });
    restyle();
})({{ this._parent.get_name() }}, {{ this.get_name() }}_sea, {{ this.get_name() }}_countries, {{ this.get_name() }}_labels);
{% endmacro %}
""")

    land_style: ClassVar[dict] = {"color": "#8d8d8d", "weight": 0.8, "opacity": 1, "fillColor": "#f4f1ea", "fillOpacity": 1}
    border_style: ClassVar[dict] = {"color": "#505050", "weight": 0.9, "opacity": 0.55, "fillOpacity": 0}

    def __init__(self, data_js: Markup, *, attribution: str, tiles_on: bool, region: tuple):
        super().__init__(name="Country boundaries", overlay=True, control=True, show=True)
        self._name = "VectorBasemap"
        self.data_js = data_js
        self.tiles_on = tiles_on
        self.pane = BASEMAP_PANE
        self.label_pane = LABEL_PANE
        lon0, lat0, lon1, lat1 = region
        self.region_bounds = [[lat0, lon0], [lat1, lon1]]
        self.attribution_parts = attribution_parts(attribution)


class NoTilesLayer(Layer):
    """An empty base layer, "No tiles (offline)", so users can switch tiles off."""

    _template = _template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.layerGroup();
{% endmacro %}
""")

    def __init__(self, *, show: bool = False):
        super().__init__(name="No tiles (offline)", overlay=False, control=True, show=show)
        self._name = "NoTilesLayer"


class BasemapMiniMap(plugins.MiniMap):
    """The MiniMap plugin drawing the vector basemap, so it works offline.

    Inherits the plugin's (vendored) JS/CSS links; must be added after the
    :class:`VectorBasemap` whose data it reuses.
    """

    _template = _template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = new L.Control.MiniMap(
    L.geoJson({{ this.basemap.get_name() }}_data, {style: {{ this.style|tojson }}, interactive: false}),
    Object.assign({{ this.options|tojson }}, {minimized: {{ this._parent.get_name() }}.getSize().x < 900}));
{{ this._parent.get_name() }}.addControl({{ this.get_name() }});
{% endmacro %}
""")

    style: ClassVar[dict] = {"color": "#7a7a7a", "weight": 0.5, "fillColor": "#f4f1ea", "fillOpacity": 1}

    def __init__(self, basemap: VectorBasemap):
        JSCSSMixin.__init__(self)
        self._name = "MiniMap"
        self.basemap = basemap
        self.options = {"position": "bottomright", "width": 150, "height": 150, "zoomLevelOffset": -3,
                        "toggleDisplay": True,
                        "aimingRectOptions": {"color": "#1f2d3a", "weight": 1, "fillOpacity": 0.06, "interactive": False},
                        "shadowRectOptions": {"color": "#1f2d3a", "weight": 1, "opacity": 0.4, "fillOpacity": 0}}


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
<li>{% if row.family == "point" %}<span class="mapsvc-pin" style="background: {{ row.marker_hex }}" aria-hidden="true"><i class="fa fa-{{ row.icon }}"></i></span>
{% else %}<svg width="34" height="12" aria-hidden="true"><line x1="1" y1="6" x2="33" y2="6" stroke="{{ row.colour }}" stroke-width="4"/></svg>
{% endif %} {{ row.title }}</li>
{% endfor %}
</ul>
{% if statuses %}
<div class="mapsvc-legend-head">Status</div>
<ul class="mapsvc-legend-list">
{% for s in statuses %}
<li><svg width="34" height="12" aria-hidden="true"><line x1="1" y1="6" x2="33" y2="6" stroke="#333" stroke-width="3"
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
                 approximate: bool = False):
        super().__init__()
        self._name = "Legend"
        qualities = [QUALITY_STYLE[q]["label"] for q, shown in (("schematic", schematic), ("approximate", approximate))
                     if shown]
        self.body = self._body.render(layers=layers, statuses=statuses, qualities=qualities)


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
(function (map, features) {
    var target = null;
    features.eachLayer(function (l) { if (l.feature.properties.id === {{ this.feature_id|tojson }}) { target = l; } });
    if (!target) { return; }
    if (target.getBounds) { map.fitBounds(target.getBounds(), {padding: [30, 30], maxZoom: 9, animate: false}); }
    else { map.setView(target.getLatLng(), 9, {animate: false}); }
    target.openPopup();
})({{ this._parent.get_name() }}, {{ this.layer.get_name() }}_features);
{% endmacro %}
""")

    def __init__(self, layer: FeatureLayer, feature_id: str):
        super().__init__()
        self._name = "FocusFeature"
        self.layer = layer
        self.feature_id = feature_id


class PageHooks(JSCSSMixin):
    """Expose ``window.mapsvc`` = {map, layers} and fire ``mapsvc:layer`` events when overlays toggle.

    Lets the page around the map (the statistics table) follow the layer
    control without knowing folium's generated variable names.
    """

    _template = _template("""
{% macro script(this, kwargs) %}
(function (map, layers) {
    window.mapsvc = {map: map, layers: layers};
    function announce(e, visible) {
        var id = e.layer.options && e.layer.options.layerId;
        if (id) { document.dispatchEvent(new CustomEvent("mapsvc:layer", {detail: {layerId: id, visible: visible}})); }
    }
    map.on("overlayadd", function (e) { announce(e, true); });
    map.on("overlayremove", function (e) { announce(e, false); });
    // Leaflet only notices window resizes; a frame or container resized by the page
    // (iframes, layout settling, fullscreen) would leave unrendered bands.
    if (window.ResizeObserver) {
        new ResizeObserver(function () { map.invalidateSize(); }).observe(map.getContainer());
    }
})({{ this._parent.get_name() }}, {
{% for layer in this.layers %}
    {{ layer.layer_id|tojson }}: {{ layer.get_name() }},
{% endfor %}
});
{% endmacro %}
""")

    def __init__(self, layers: list[FeatureLayer]):
        super().__init__()
        self._name = "PageHooks"
        self.layers = layers
