"""The labelled offline basemap: country polygons by zoom band, city labels, rivers, roads; its folium elements
and URLs.

Served maps fetch each piece as they need it (``/basemap/countries/<band>.json``
for the zoom band in view, ``/basemap/places.json``, ``/basemap/rivers/<band>.json``
from the mid zooms, ``/basemap/roads/<band>.json`` from zoom 7), so no page inlines the whole basemap;
self-contained exports inline the coarse countries, the places, the rivers and the roads instead.
Countries come from the ``boundaries`` layer (simplified as one coverage,
shared borders stay shared, :func:`geo.simplify.cached_display`), places
and rivers from Natural Earth 1:10m (:mod:`layers.importers.ne_basemap`), roads and railways from the
project's own road and rail layers (:mod:`webapp.maps.roads`).
The browser side is ``webapp/static/js/basemap.js``: labels are placed
most-important first and never overlap; without tiles the map zooms only
as far as this data supports (:data:`OFFLINE_MAX_ZOOM`).
"""

from __future__ import annotations

import json
import secrets
from typing import ClassVar

import shapely
from flask import Blueprint, Response, url_for
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.plugins import MiniMap
from markupsafe import Markup

from geo.pixels import quantise_decimals, tolerance_degrees
from geo.simplify import ZOOM_BANDS, band_zoom
from layers.errors import BadParameter, ImportFailed
from layers.importers.ne_basemap import NE_BASEMAP_SOURCE, read_places, read_rivers
from webapp.api.httpcache import not_modified
from webapp.maps.display import BASEMAP_LAYER, _feature_collection, _script_json, basemap_countries_js
from webapp.maps.elements import _template, attribution_parts
from webapp.maps.roads import ROADS_MIN_ZOOM, ROADS_SOURCE, roads_json

__all__ = ["BASEMAP_PANE", "LABEL_PANE", "OFFLINE_BANDS", "OFFLINE_MAX_ZOOM", "ROADS_PANE", "ROAD_BANDS",
           "BasemapMiniMap", "NoTilesLayer", "VectorBasemap", "bp", "countries_json", "places_json", "rivers_json",
           "roads_json"]

BASEMAP_PANE = "mapsvc-basemap"
ROADS_PANE = "mapsvc-roads"
LABEL_PANE = "mapsvc-labels"
# Natural Earth 1:10m is good to about 1:2-3 million: zoom 10 at these latitudes. Bands past it add nothing.
OFFLINE_MAX_ZOOM = 10
OFFLINE_BANDS = tuple(i for i, (lo, _) in enumerate(ZOOM_BANDS) if lo <= OFFLINE_MAX_ZOOM)
RIVERS_MIN_ZOOM = 5
ROAD_BANDS = tuple(b for b in OFFLINE_BANDS if ZOOM_BANDS[b][0] >= ROADS_MIN_ZOOM)

bp = Blueprint("basemap", __name__)


def _band(value, bands=OFFLINE_BANDS):
    try:
        band = int(value)
    except (TypeError, ValueError):
        band = -1
    if band not in bands:
        raise BadParameter("band", f"must be one of {', '.join(map(str, bands))}")
    return band


def countries_json(catalog, band):
    """Country polygons of zoom band ``band`` with ``name`` and a label point ``_label`` [lon, lat] (script-safe)."""
    return basemap_countries_js(catalog, band)


def places_json(catalog):
    """Natural Earth populated places, most important first: [[lon, lat, name, rank, min_zoom, capital], ...]."""

    def compute():
        try:
            xy, props = read_places()
        except ImportFailed:
            return _script_json("[]")
        rows = [[round(float(x), 4), round(float(y), 4), p["name"], p["rank"], p["min_zoom"], int(p["capital"])]
                for (x, y), p in zip(xy, props)]
        return _script_json(json.dumps(rows, ensure_ascii=False, separators=(",", ":")))

    return catalog.memo(("webapp.basemap.places",), compute, layers=())  # a file, the same for every viewer


def rivers_json(catalog, band):
    """Natural Earth rivers simplified for zoom band ``band``: a FeatureCollection with ``name`` and ``rank``."""

    def compute():
        try:
            features = read_rivers()
        except ImportFailed:
            return _script_json('{"type":"FeatureCollection","features":[]}')
        zoom = band_zoom(band)
        # Natural Earth's own suggestion of when a river is worth drawing
        features = [f for f in features if f["properties"]["min_zoom"] <= zoom + 1]
        geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in features])
        simple = shapely.simplify(geoms, float(tolerance_degrees(zoom, 40.0)))
        simple = shapely.set_precision(simple, 10.0 ** -quantise_decimals(zoom, 40.0), mode="pointwise")
        props = [{"name": f["properties"]["name"], "rank": f["properties"]["rank"]} for f in features]
        return _script_json(_feature_collection(shapely.to_geojson(simple), props))

    return catalog.memo(("webapp.basemap.rivers", band), compute, layers=())


def _respond(catalog, key, body):
    # one tag per process and basemap version, the same for every viewer (their user layers are not in it)
    version = catalog.memo(("webapp.basemap.version",), lambda: secrets.token_hex(8), layers=(BASEMAP_LAYER,))
    etag = f"{version}-{key}"
    cached = not_modified(etag, "application/json")
    if cached is not None:
        return cached
    response = Response(str(body), mimetype="application/json")
    response.set_etag(etag)
    return response


@bp.get("/basemap/countries/<band>.json")
def countries(band):
    """Country polygons for one zoom band of the offline basemap."""
    from webapp.maps.builder import current_catalog

    band = _band(band)
    return _respond(current_catalog(), f"countries-{band}", countries_json(current_catalog(), band))


@bp.get("/basemap/places.json")
def places():
    """City and town labels of the offline basemap."""
    from webapp.maps.builder import current_catalog

    return _respond(current_catalog(), "places", places_json(current_catalog()))


@bp.get("/basemap/rivers/<band>.json")
def rivers(band):
    """Rivers of the offline basemap, simplified for one zoom band."""
    from webapp.maps.builder import current_catalog

    band = _band(band)
    return _respond(current_catalog(), f"rivers-{band}", rivers_json(current_catalog(), band))


@bp.get("/basemap/roads/<band>.json")
def roads(band):
    """Roads and railways of the offline basemap, simplified for one of the zoom bands that draw them."""
    from webapp.maps.builder import current_catalog

    band = _band(band, ROAD_BANDS)
    return _respond(current_catalog(), f"roads-{band}", roads_json(current_catalog(), band))


def fetch_urls():
    """URL templates (``{band}``) the served maps fetch the basemap from (needs a request context)."""
    return {"countriesUrl": url_for("basemap.countries", band="0").replace("/0.json", "/{band}.json"),
            "placesUrl": url_for("basemap.places"),
            "riversUrl": url_for("basemap.rivers", band="0").replace("/0.json", "/{band}.json"),
            "roadsUrl": url_for("basemap.roads", band=str(ROAD_BANDS[0])).replace(f"/{ROAD_BANDS[0]}.json",
                                                                                 "/{band}.json")}


class VectorBasemap(JSCSSMixin, Layer):
    """Country polygons and labels, city labels, rivers, roads and railways: the basemap that needs no network.

    Drawn in its own pane above tiles and below the data, on a sea-coloured
    rectangle of the region the boundaries cover (outside it there is no
    data, shown neutral). With no tile layer showing, or when tiles fail to
    load, land is filled and labelled; over working tiles only the borders
    are drawn. ``sources``: either fetch URLs (served maps) or inline data
    (``countries``, ``places``, ``rivers``, ``roads`` as script-safe JSON, for exports). Roads draw from
    :data:`~webapp.maps.roads.ROADS_MIN_ZOOM` in a pane of their own above the land and under every layer,
    only where the vector basemap is the map (no working tiles).
    ``region``: (minlon, minlat, maxlon, maxlat). ``fill``: ``{iso3: #rrggbb}`` countries filled by
    bloc (:mod:`webapp.maps.blocs`), also over tiles.
    """

    _template = _template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = MapSvc.vectorBasemap({{ this._parent.get_name() }}, {{ this.js_options|tojson }}, {
    countries: {{ this.inline.countries or "null" }}, places: {{ this.inline.places or "null" }},
    rivers: {{ this.inline.rivers or "null" }}, roads: {{ this.inline.roads or "null" }}});
{% endmacro %}
""")

    land_style: ClassVar[dict] = {"color": "#8d8d8d", "weight": 0.8, "opacity": 1, "fillColor": "#f4f1ea",
                                  "fillOpacity": 1}
    border_style: ClassVar[dict] = {"color": "#505050", "weight": 0.9, "opacity": 0.55, "fillOpacity": 0}
    # thin and grey: context under the project's own, coloured lines
    road_style: ClassVar[dict] = {"color": "#9b948a", "weight": 1.4, "opacity": 0.9}
    rail_style: ClassVar[dict] = {"color": "#7b746b", "weight": 1, "opacity": 0.9, "dashArray": "5 3"}

    def __init__(self, *, attribution: str, tiles_on: bool, region: tuple, band: int, urls: dict | None = None,
                 inline: dict | None = None, tiles_max_zoom: int = 19, fill: dict | None = None):
        super().__init__(name="Country boundaries", overlay=True, control=True, show=True)
        self._name = "VectorBasemap"
        lon0, lat0, lon1, lat1 = region
        self.inline = {k: Markup(v) for k, v in (inline or {}).items()}
        self.js_options = {
            "pane": BASEMAP_PANE, "roadsPane": ROADS_PANE, "labelPane": LABEL_PANE,
            "region": [[lat0, lon0], [lat1, lon1]],
            "tilesOn": tiles_on, "band": band, "bands": [ZOOM_BANDS[b][0] for b in OFFLINE_BANDS],
            "offlineMaxZoom": OFFLINE_MAX_ZOOM, "tilesMaxZoom": tiles_max_zoom, "riversMinZoom": RIVERS_MIN_ZOOM,
            "roadsMinZoom": ROADS_MIN_ZOOM, "roadStyle": self.road_style, "railStyle": self.rail_style,
            "landStyle": self.land_style, "borderStyle": self.border_style, "fill": dict(sorted((fill or {}).items())),
            "attribution": attribution_parts(attribution, NE_BASEMAP_SOURCE["title"], ROADS_SOURCE), **(urls or {})}


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


class BasemapMiniMap(MiniMap):
    """The MiniMap plugin drawing the vector basemap's countries, so it works offline.

    Inherits the plugin's (vendored) JS/CSS links; must be added after the
    :class:`VectorBasemap` whose data it reuses. ``minimized``: start folded
    (embeds and exports, where it would cover features).
    """

    _template = _template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = MapSvc.miniMap({{ this._parent.get_name() }}, {{ this.basemap.get_name() }},
    {{ this.options|tojson }}, {{ this.style|tojson }});
{% endmacro %}
""")

    style: ClassVar[dict] = {"color": "#7a7a7a", "weight": 0.5, "fillColor": "#f4f1ea", "fillOpacity": 1}

    def __init__(self, basemap: VectorBasemap, *, minimized: bool | None = None):
        JSCSSMixin.__init__(self)
        self._name = "MiniMap"
        self.basemap = basemap
        self.options = {"position": "bottomright", "width": 150, "height": 150, "zoomLevelOffset": -3,
                        "toggleDisplay": True, "minimized": minimized,
                        "strings": {"hideText": "Hide the overview map", "showText": "Show the overview map"},
                        "aimingRectOptions": {"color": "#1f2d3a", "weight": 1, "fillOpacity": 0.06,
                                              "interactive": False},
                        "shadowRectOptions": {"color": "#1f2d3a", "weight": 1, "opacity": 0.4, "fillOpacity": 0}}
