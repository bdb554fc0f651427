"""How a map gets each layer's features: the one switch between inline data, fetched data and vector tiles.

- full geometry inline: small layers, and self-contained exports;
- one zoom band of display geometry inline (layers over
  ``DISPLAY_SIMPLIFY_MIN_VERTICES`` vertices), finer bands fetched on zoom;
- fetched when shown (display data over ``INLINE_MAX_KB``): the page holds
  none of it, so a huge layer never makes every page huge;
- vector tiles (OGC API Tiles, layers over ``TILED_MIN_FEATURES`` features):
  the browser fetches only the tiles in view.
"""

from __future__ import annotations

from typing import NamedTuple

import shapely
from markupsafe import Markup

from geo.simplify import zoom_band
from webapp.maps.display import layer_display_js

__all__ = ["EMPTY_COLLECTION", "Delivery", "display_band", "embeds_popups", "is_tiled", "layer_delivery"]


def embeds_popups(catalog, layer_id, options):
    """True when a map embeds every popup of the layer (small layers, or no popup URL as in exports)."""
    return options.popup_url is None or len(catalog.layer(layer_id).gdf) <= options.popup_embed_max


def display_band(catalog, layer_id, options, zoom):
    """The zoom band whose simplified geometry a map at ``zoom`` embeds, or None for full geometry.

    Full geometry for layers of at most ``simplify_min_vertices`` vertices
    (simplifying them saves little) and when maps cannot fetch (exports).
    """
    if options.display_url is None:
        return None
    vertices = catalog.memo(("webapp.vertices", layer_id), lambda: int(
        shapely.get_num_coordinates(catalog.layer(layer_id).gdf.geometry.to_numpy()).sum()))
    return None if vertices <= options.simplify_min_vertices else zoom_band(zoom)


def is_tiled(catalog, layer_id, options):
    """True when a map draws the layer from its vector tiles (large layers, maps that can fetch)."""
    return options.tile_url is not None and len(catalog.layer(layer_id).gdf) > options.tiled_min_features


class Delivery(NamedTuple):
    """How a map gets a layer's features: ``inline`` (in the page), ``fetch`` (from ``display_url`` when
    shown) or ``tiles`` (vector tiles from ``tile_url``).

    ``band``: the zoom band of display geometry written inline (None: full geometry).
    """

    mode: str
    band: int | None


EMPTY_COLLECTION = Markup('{"type":"FeatureCollection","features":[]}')


def layer_delivery(catalog, layer_id, options, zoom):
    """The one switch deciding how a layer reaches a map.

    Tiles for layers over ``options.tiled_min_features`` when the map can
    fetch; otherwise inline unless the display data at the opening zoom
    exceeds ``options.inline_max_bytes`` and the map can fetch (not in exports).
    """
    if is_tiled(catalog, layer_id, options):
        return Delivery("tiles", None)
    band = display_band(catalog, layer_id, options, zoom)
    if options.display_url is None:
        return Delivery("inline", band)
    data = layer_display_js(catalog, layer_id, with_popups=embeds_popups(catalog, layer_id, options), zoom_band=band)
    return Delivery("fetch" if len(data) > options.inline_max_bytes else "inline", band)
