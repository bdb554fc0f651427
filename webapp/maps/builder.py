"""Build folium maps from catalogue layers, the style table and the cached statistics.

Per-layer display data (escaped popups, display GeoJSON, the vector
basemap) comes memoised from :mod:`webapp.maps.display`; whole rendered maps
are kept in a small LRU (:class:`MapCache`) keyed by (layers, basemap,
feature), so building a map never dominates a request.
"""

from __future__ import annotations

import colorsys
import difflib
import hashlib
import itertools
import math
import re
from dataclasses import dataclass, replace
from typing import NamedTuple

import folium
import numpy as np
from flask import current_app, has_app_context
from folium import plugins
from markupsafe import Markup

from geo.simplify import ZOOM_BANDS
from layers.errors import BadParameter, FeatureNotFound
from layers.schema import FOCUS_BBOX, REGION_BBOX
from layers.styles import STATUS_STYLE, layer_colour, legend_entries, point_icon
from webapp.cache import MapCache, parts_bytes
from webapp.catalog import current_catalog
from webapp.maps import assets, blocs, elements, tiled
from webapp.maps import basemap as vector_basemap
from webapp.maps.delivery import EMPTY_COLLECTION, Delivery, display_band, embeds_popups, is_tiled, layer_delivery
from webapp.maps.display import BASEMAP_LAYER, basemap_band, layer_display_js, layer_styles

__all__ = [
    "BASEMAPS",
    "Delivery",
    "TILE_PROVIDERS",
    "MapCache",
    "MapOptions",
    "MapParts",
    "MapSpec",
    "add_controls",
    "base_map",
    "build_map",
    "cached_map",
    "current_catalog",
    "display_band",
    "drawing_order",
    "embeds_popups",
    "fit_zoom",
    "init_app",
    "is_tiled",
    "layer_delivery",
    "layer_element",
    "map_bounds",
    "map_options",
    "overview_layer_ids",
    "parse_basemap",
    "parse_layer_ids",
    "parts_bytes",
    "pin_colour",
    "render_parts",
]


class TileProvider(NamedTuple):
    title: str
    url: str | None  # None: taken from the TILES_URL setting
    attribution: str | None
    max_zoom: int


TILE_PROVIDERS = {
    "osm": TileProvider("OpenStreetMap", None, None, 19),
    "topo": TileProvider(
        "OpenTopoMap", "https://{s}.tile.opentopomap.org/{z}/{x}/{y}.png",
        'Map data: &copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors, SRTM '
        '| Map style: &copy; <a href="https://opentopomap.org">OpenTopoMap</a> (CC-BY-SA)', 17),
    "hot": TileProvider(
        "Humanitarian OSM", "https://{s}.tile.openstreetmap.fr/hot/{z}/{x}/{y}.png",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors, '
        'tiles style by <a href="https://www.hotosm.org/">HOT</a> hosted by OpenStreetMap France', 19),
}
BASEMAPS = (*TILE_PROVIDERS, "none")

# Leaflet.awesome-markers draws pins from a sprite of fixed colours; hex is the sprite's colour.
_PIN_PALETTE = {
    "red": "#d63e2a", "darkred": "#a23336", "lightred": "#ff8e7f", "orange": "#f69730", "green": "#72b026",
    "darkgreen": "#728224", "lightgreen": "#bbf970", "blue": "#38aadd", "darkblue": "#0067a3",
    "cadetblue": "#436978", "lightblue": "#8adaff", "purple": "#d252b9", "darkpurple": "#5b396b",
    "pink": "#ff91ea", "gray": "#575757", "black": "#303030", "lightgray": "#a3a3a3",
}
_GREY_PINS = ("gray", "black", "lightgray")
# Where the nearest sprite colour would make two built-in point layers alike.
_PIN_OVERRIDES = {"lng_terminals": "cadetblue", "ports": "darkblue", "energy_projects": "green"}

TILE_PX = 256
MIN_ZOOM = 2  # the maps' min_zoom
FIT_MAX_ZOOM = 18
# A typical map frame (the map page on a laptop, a report iframe is smaller): sets the embedded zoom band;
# a larger screen fetches the next band right after loading.
FIT_VIEW_PX = (1000, 600)


@dataclass(frozen=True)
class MapSpec:
    """What a map shows: the key of the rendered-map cache."""

    layer_ids: tuple[str, ...]
    basemap: str
    feature: str | None = None
    bloc: str | None = None  # colour the basemap's countries by this bloc (webapp.maps.blocs)


@dataclass(frozen=True)
class MapOptions:
    """Deployment choices that shape every map (from the app settings)."""

    tiles_url: str
    tiles_attribution: str
    simplify_deg: float = 0.01
    popup_embed_max: int = 50
    popup_url: str | None = None  # with "{layer}" and "{fid}"; used for layers over popup_embed_max
    collapsed_control: bool = True
    # with "{layer}" and "{band}"; layers over simplify_min_vertices are drawn from zoom-band display geometry
    display_url: str | None = None
    simplify_min_vertices: int = 5000
    inline_max_bytes: int = 2048 * 1024  # larger display data is fetched, not written into the page
    # with "{layer}" and "{z}/{y}/{x}"; layers over tiled_min_features are drawn from their vector tiles
    tile_url: str | None = None
    tiled_min_features: int = 5000
    tiled_script_url: str = "/static/js/tiled-layer.js"
    # {"countriesUrl", "placesUrl", "riversUrl", "roadsUrl"}: served maps fetch the offline basemap; None inlines it
    # (exports)
    basemap_urls: dict | None = None
    minimap_minimized: bool | None = None  # None: folded in frames under 900 px; True in embeds and exports


class MapParts(NamedTuple):
    """A rendered map in the three pieces a page template places."""

    header: Markup
    html: Markup
    script: Markup


# --- parameters ---------------------------------------------------------------

def parse_layer_ids(text, catalog, *, name="layers"):
    """Comma-separated layer ids -> tuple, in the given order, without repeats.

    Raises BadParameter when empty, LayerNotFound (404) for an unknown id.
    """
    ids = tuple(dict.fromkeys(part.strip() for part in (text or "").split(",") if part.strip()))
    if not ids:
        raise BadParameter(name, "give at least one layer id, e.g. tapi,casa1000", catalog.ids[:5])
    for layer_id in ids:
        catalog.layer(layer_id)
    return ids


def parse_basemap(text, *, default):
    """``osm``/``topo``/``hot``/``none``; None or '' means ``default``."""
    value = (text or default).strip().lower()
    if value not in BASEMAPS:
        raise BadParameter("basemap", f"must be one of {', '.join(BASEMAPS)}",
                           difflib.get_close_matches(value, BASEMAPS, n=2))
    return value


def overview_layer_ids(catalog):
    """Every layer except the boundaries, which the vector basemap already draws."""
    return tuple(lid for lid in catalog.ids if lid != BASEMAP_LAYER)


def drawing_order(catalog, layer_ids):
    """Polygons first, then lines (busiest layer lowest), then points on top."""
    rank = {"polygon": 0, "mixed": 1, "line": 2, "point": 3}

    def key(lid):
        layer = catalog.layer(lid)
        return rank[layer.geometry_family] if len(layer.gdf) else 1, -len(layer.gdf)

    return tuple(sorted(layer_ids, key=key))


# --- the map ----------------------------------------------------------------------

def _hls(hex_colour):
    return colorsys.rgb_to_hls(*(int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)))


def pin_colour(layer_id, colour):
    """(awesome-markers colour name, its hex) closest in hue to the layer colour."""
    name = _PIN_OVERRIDES.get(layer_id)
    if name is None:
        hue, light, sat = _hls(colour)
        if sat < 0.2:
            name = min(_GREY_PINS, key=lambda n: abs(_hls(_PIN_PALETTE[n])[1] - light))
        else:
            def distance(n):
                h, lum, s = _hls(_PIN_PALETTE[n])
                dh = min(abs(hue - h), 1 - abs(hue - h))
                return (2 * dh) ** 2 + (light - lum) ** 2 + 0.25 * (sat - s) ** 2
            name = min((n for n in _PIN_PALETTE if n not in _GREY_PINS), key=distance)
    return name, _PIN_PALETTE[name]


def _icons(layer_id, colour, kinds):
    marker, _ = pin_colour(layer_id, colour)
    icons = {}
    for kind in sorted(set(kinds)) + [""]:
        options = folium.Icon(color=marker, icon_color="white", icon=point_icon(kind or None), prefix="fa").options
        icons[kind] = {folium.utilities.camelize(k): v for k, v in options.items()}
    return icons


def map_bounds(catalog, layer_ids):
    """(minlon, minlat, maxlon, maxlat) to show.

    The overview fits the routes: its point layers (LNG terminals along all of
    India's coast) would pull the view away from the corridors the map is
    about; and it stays within :data:`~layers.schema.FOCUS_BBOX` (Pakistan and
    its neighbours), not the whole region the routes reach (Moscow, Suez). A
    map of chosen layers fits everything that was asked for.
    """
    shown = [catalog.layer(lid) for lid in layer_ids if len(catalog.layer(lid).gdf)]
    is_overview = set(layer_ids) == set(overview_layer_ids(catalog))
    # "mixed" layers (cpec, casa1000) hold routes as well as stations
    lines = [lay for lay in shown if lay.geometry_family in ("line", "mixed")] if is_overview else []
    boxes = [lay.bbox for lay in (lines or shown)]
    if not boxes:
        return REGION_BBOX
    arr = np.array(boxes)
    box = float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max())
    if is_overview:
        box = (max(box[0], FOCUS_BBOX[0]), max(box[1], FOCUS_BBOX[1]), min(box[2], FOCUS_BBOX[2]),
               min(box[3], FOCUS_BBOX[3]))
    return box


def _legend(catalog, layer_ids, bloc=None):
    layers = [catalog.layer(lid) for lid in layer_ids]
    entries = legend_entries((lay.id, lay.title, lay.meta, lay.geometry_family) for lay in layers)
    for row, layer in zip(entries["layers"], layers):
        if row["family"] == "point":
            kinds = sorted(set(layer.gdf["kind"]))
            row["icon"] = point_icon(kinds[0]) if len(kinds) == 1 else "circle"
            row["marker_hex"] = pin_colour(layer.id, row["colour"])[1]
    # statuses of today and of every dated history: the year filter draws lines in their past status
    present = {s for lay in layers for s in lay.gdf["status"].dropna()}
    present |= {entry.get("status") for lay in layers if "status_history" in lay.gdf
                for history in lay.gdf["status_history"] if isinstance(history, list) for entry in history}
    statuses = [s for s in entries["statuses"] if s["status"] in present]
    present_q = {q for lay in layers for q in lay.gdf["geometry_quality"].dropna()}
    return elements.Legend(layers=entries["layers"], statuses=statuses, schematic="schematic" in present_q,
                           approximate="approximate" in present_q, blocs=blocs.bloc_legend(catalog, bloc))


def base_map(catalog, basemap, options, bounds, *, bloc=None):
    """A folium map centred on ``bounds`` (minlon, minlat, maxlon, maxlat) with tiles and the vector basemap.

    Returns ``(map, VectorBasemap element)``; ``basemap`` 'none' leaves the tiles out; ``bloc`` colours the
    countries by their status in that bloc.
    """
    lon0, lat0, lon1, lat1 = bounds
    fmap = folium.Map(location=[(lat0 + lat1) / 2, (lon0 + lon1) / 2], zoom_start=5, tiles=None,
                      control_scale=True, min_zoom=2)
    tiles_on = basemap != "none"
    if tiles_on:
        for key in (basemap, *(k for k in TILE_PROVIDERS if k != basemap)):
            tp = TILE_PROVIDERS[key]
            folium.TileLayer(tp.url or options.tiles_url, attr=tp.attribution or options.tiles_attribution,
                             name=tp.title, max_zoom=tp.max_zoom, overlay=False, show=key == basemap).add_to(fmap)
        vector_basemap.NoTilesLayer(show=False).add_to(fmap)
    boundaries_attr = catalog.layer(BASEMAP_LAYER).attribution if BASEMAP_LAYER in catalog else "Natural Earth"
    band = min(basemap_band(options.simplify_deg), vector_basemap.OFFLINE_BANDS[-1])
    inline = None
    if options.basemap_urls is None:
        inline = {"countries": vector_basemap.countries_json(catalog, band),
                  "places": vector_basemap.places_json(catalog),
                  "rivers": vector_basemap.rivers_json(catalog, 1),
                  "roads": vector_basemap.roads_json(catalog, vector_basemap.ROAD_BANDS[0])}
    tiles_max = TILE_PROVIDERS[basemap].max_zoom if tiles_on else 19
    vector = vector_basemap.VectorBasemap(attribution=boundaries_attr, tiles_on=tiles_on, region=REGION_BBOX,
                                          band=band, urls=options.basemap_urls, inline=inline,
                                          tiles_max_zoom=tiles_max, fill=blocs.bloc_fill(catalog, bloc))
    vector.add_to(fmap)
    return fmap, vector


def add_controls(fmap, basemap, bounds, *, minimap_minimized=None):
    """Fullscreen, geodesic measure tool, mouse position, the vector mini-map, and the initial view on ``bounds``.

    ``minimap_minimized``: True folds the mini-map (embeds, exports: it would cover features); None folds it
    in frames under 900 px.
    """
    lon0, lat0, lon1, lat1 = bounds
    plugins.Fullscreen(position="topleft", title="Full screen", title_cancel="Leave full screen").add_to(fmap)
    elements.MeasureTool().add_to(fmap)
    plugins.MousePosition(
        position="bottomright", separator=" | ", num_digits=4, prefix="lat | lon:", empty_string=""
    ).add_to(fmap)
    vector_basemap.BasemapMiniMap(basemap, minimized=minimap_minimized).add_to(fmap)
    elements.FitView([[lat0, lon0], [lat1, lon1]]).add_to(fmap)


def fit_zoom(bounds, *, width_px=FIT_VIEW_PX[0], height_px=FIT_VIEW_PX[1]):
    """The Web Mercator zoom at which ``bounds`` (minlon, minlat, maxlon, maxlat) fits a ``width_px`` x
    ``height_px`` view: the initial zoom of a map, estimated without a browser."""
    lon0, lat0, lon1, lat1 = bounds

    def merc(lat):
        lat = math.radians(min(max(lat, -85.0), 85.0))
        return math.log(math.tan(math.pi / 4 + lat / 2)) / (2 * math.pi)

    span_x = max((lon1 - lon0) / 360.0, 1e-12)
    span_y = max(merc(lat1) - merc(lat0), 1e-12)
    zoom = math.floor(math.log2(min(width_px / (TILE_PX * span_x), height_px / (TILE_PX * span_y))))
    return int(min(max(zoom, MIN_ZOOM), FIT_MAX_ZOOM))


def layer_element(catalog, layer_id, options, *, show=True, zoom=None):
    """The map element of one catalogue layer: a :class:`~webapp.maps.elements.FeatureLayer` (styles, icons,
    popups), or for layers over ``tiled_min_features`` a :class:`~webapp.maps.tiled.TiledFeatureLayer`.

    ``zoom``: the map's initial zoom (default: the zoom that fits the layer),
    which picks the embedded zoom band of large layers.
    """
    layer = catalog.layer(layer_id)
    colour = layer_colour(layer_id, layer.meta)
    embed = embeds_popups(catalog, layer_id, options)
    popup_url = None if embed else options.popup_url.replace("{layer}", layer_id)
    delivery = layer_delivery(catalog, layer_id, options, fit_zoom(layer.bbox) if zoom is None else zoom)
    if delivery.mode == "tiles":
        return tiled.TiledFeatureLayer(
            layer_id, title=layer.title, attribution=layer.attribution, styles=layer_styles(catalog, layer_id)[0],
            tile_url=options.tile_url.replace("{layer}", layer_id), show=show, script_url=options.tiled_script_url,
            popup_url=popup_url or options.popup_url.replace("{layer}", layer_id))
    band = delivery.band
    extra = {}
    if delivery.mode == "fetch":
        extra = {"display_url": options.display_url.replace("{layer}", layer_id), "band": -1,
                 "band_zooms": [lo for lo, _ in ZOOM_BANDS]}
    elif band is not None:
        extra = {"display_url": options.display_url.replace("{layer}", layer_id), "band": band,
                 "band_zooms": [lo for lo, _ in ZOOM_BANDS]}
    data = EMPTY_COLLECTION if delivery.mode == "fetch" else layer_display_js(catalog, layer_id, with_popups=embed,
                                                                     zoom_band=band)
    return elements.FeatureLayer(
        layer_id, data, title=layer.title,
        attribution=layer.attribution, icons=_icons(layer_id, colour, layer.gdf["kind"]), popup_url=popup_url,
        show=show, **extra)


def build_map(catalog, spec, options):
    """A folium map of ``spec.layer_ids`` with basemap, legend and the usual controls.

    Raises FeatureNotFound when ``spec.feature`` is in none of the layers.
    """
    layer_ids = drawing_order(catalog, spec.layer_ids)
    focus_layer = None
    if spec.feature is not None:
        focus_layer = next((lid for lid in layer_ids if spec.feature in catalog.layer(lid).positions), None)
        if focus_layer is None:
            raise FeatureNotFound(",".join(spec.layer_ids), spec.feature)
    bounds = map_bounds(catalog, layer_ids)
    zoom = fit_zoom(bounds)
    fmap, basemap = base_map(catalog, spec.basemap, options, bounds, bloc=spec.bloc)
    feature_layers = []
    # the overview (every visitor's first page) starts with layers too large to write into it switched off
    overview = set(layer_ids) == set(overview_layer_ids(catalog))
    for lid in layer_ids:
        show = not (overview and layer_delivery(catalog, lid, options, zoom).mode == "fetch")
        element = layer_element(catalog, lid, options, zoom=zoom, show=show)
        element.add_to(fmap)
        feature_layers.append(element)
    _legend(catalog, layer_ids, spec.bloc).add_to(fmap)
    add_controls(fmap, basemap, bounds, minimap_minimized=options.minimap_minimized)
    elements.PageHooks(feature_layers, status_styles=STATUS_STYLE).add_to(fmap)
    if focus_layer is not None and is_tiled(catalog, focus_layer, options):
        lon0, lat0, lon1, lat1 = catalog.feature(focus_layer, spec.feature).total_bounds
        elements.FitView([[lat0, lon0], [lat1, lon1]]).add_to(fmap)  # tiles hold no popup to open: show it
    elif focus_layer is not None:
        elements.FocusFeature(feature_layers[layer_ids.index(focus_layer)], spec.feature).add_to(fmap)
    folium.LayerControl(collapsed=options.collapsed_control).add_to(fmap)
    return fmap


def _stable_ids(element, counter=None):
    """Give ``element`` and its descendants ids from their place in the tree instead of random ones.

    Every server process then renders the same page for the same map (one
    body and ETag whichever gunicorn worker answers, and across restarts).
    """
    counter = counter if counter is not None else itertools.count()
    element._id = hashlib.blake2b(str(next(counter)).encode(), digest_size=16).hexdigest()
    for child in list(element._children.values()):
        _stable_ids(child, counter)


# folium's own viewport tag forbids zooming the page (maximum-scale=1, user-scalable=no), which people with low
# vision need (WCAG 1.4.4); the page templates carry their own.
_FOLIUM_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*user-scalable=no[^>]*>\s*')


def render_parts(fmap):
    """Render ``fmap`` into (header, html, script) for a page template; element ids are stable."""
    if has_app_context():
        assets.use_app_prefix(current_app)
    root = fmap.get_root()
    _stable_ids(root)
    root.render()
    header = _FOLIUM_VIEWPORT.sub("", root.header.render())
    return MapParts(Markup(header), Markup(root.html.render()), Markup(root.script.render()))


# --- Flask glue ---------------------------------------------------------------

def init_app(app):
    """Set up the rendered-map cache and the map options (the catalogue is :mod:`webapp.catalog`'s)."""
    parse_basemap(app.config["DEFAULT_BASEMAP"], default="osm")  # a bad setting fails at start-up
    root = (app.config.get("APPLICATION_ROOT") or "/").rstrip("/")
    app.extensions["map_cache"] = MapCache(app.config["MAP_CACHE_MB"] * 1024 * 1024)
    app.extensions["map_options"] = MapOptions(
        tiles_url=app.config["TILES_URL"], tiles_attribution=app.config["TILES_ATTRIBUTION"],
        simplify_deg=app.config["BASEMAP_SIMPLIFY_DEG"], popup_embed_max=app.config["POPUP_EMBED_MAX"],
        popup_url=f"{root}/popup/{{layer}}/{{fid}}",
        display_url=f"{root}/api/layers/{{layer}}/display?zoom_band={{band}}",
        simplify_min_vertices=app.config["DISPLAY_SIMPLIFY_MIN_VERTICES"],
        inline_max_bytes=app.config["INLINE_MAX_KB"] * 1024,
        tile_url=f"{root}/ogcapi/collections/{{layer}}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}",
        tiled_min_features=app.config["TILED_MIN_FEATURES"],
        tiled_script_url=app.extensions["static_assets"]["prefix"] + "/js/tiled-layer.js",
        basemap_urls={"countriesUrl": f"{root}/basemap/countries/{{band}}.json",
                      "placesUrl": f"{root}/basemap/places.json", "riversUrl": f"{root}/basemap/rivers/{{band}}.json",
                      "roadsUrl": f"{root}/basemap/roads/{{band}}.json"},
    )


def map_options(*, self_contained=False, embed=False):
    """The app's :class:`MapOptions`; ``self_contained`` embeds every popup, full geometry and the basemap (no
    fetches, for exported files); ``embed`` and ``self_contained`` fold the mini-map."""
    options = current_app.extensions["map_options"]
    if self_contained:
        options = replace(options, popup_url=None, display_url=None, basemap_urls=None, tile_url=None)
    if self_contained or embed:
        options = replace(options, minimap_minimized=True)
    return options


def cached_map(spec, *, self_contained=False, embed=False):
    """Rendered :class:`MapParts` for ``spec``, from the app's LRU.

    ``self_contained`` embeds every popup and full geometry (no fetches), for exported files.
    """
    options = map_options(self_contained=self_contained, embed=embed)
    catalog = current_catalog()
    # the layers' versions are part of the key: a replaced layer is never drawn from its old map
    return current_app.extensions["map_cache"].get(
        (spec, self_contained, embed, catalog.fingerprint(spec.layer_ids)),
        lambda: render_parts(build_map(catalog, spec, options)))
