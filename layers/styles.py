"""One style table for the web map, the static export and the legend.

Colour says which project (layer), line dash and opacity say the status,
the point icon says the kind. Plain data: no folium or matplotlib here.
"""

__all__ = [
    "LAYER_COLOURS",
    "DEFAULT_COLOUR",
    "STATUS_STYLE",
    "QUALITY_STYLE",
    "HALO_QUALITIES",
    "KIND_ICON",
    "layer_colour",
    "line_style",
    "point_icon",
    "legend_entries",
    "BLOC_TITLES",
    "BLOC_STATUS_COLOURS",
]

LAYER_COLOURS = {
    "cpec": "#c0392b",
    "tapi": "#e67e22",
    "casa1000": "#2471a3",
    "north_south_pipeline": "#c2185b",
    "iran_pakistan_pipeline": "#7d3c98",
    "thar_lahore_hvdc": "#17a589",
    "pakistan_gas_grid": "#a1887f",
    "lng_terminals": "#00838f",
    "energy_projects": "#2e7d32",
    "ports": "#1a237e",
    "boundaries": "#7f8c8d",
    # the extended region (issue 11)
    "instc": "#6d4c41",
    "trans_afghan_railway": "#00695c",
    "russia_pakistan_links": "#283593",
    "border_crossings": "#b71c1c",
    "motorways": "#f9a825",
    "carec_corridors": "#558b2f",
    "thar_coal_blocks": "#424242",
    "central_asia_china_pipeline": "#ad1457",
}
DEFAULT_COLOUR = "#37474f"

# status -> dash pattern (SVG dasharray; None = solid) and opacity
STATUS_STYLE = {
    "operating": {"dash": None, "opacity": 0.95, "label": "operating (solid)"},
    "construction": {"dash": "10 6", "opacity": 0.95, "label": "construction (dashed)"},
    "proposed": {"dash": "2 6", "opacity": 0.95, "label": "proposed (dotted)"},
    "shelved": {"dash": "2 6", "opacity": 0.35, "label": "shelved (faded)"},
    "cancelled": {"dash": "2 6", "opacity": 0.3, "label": "cancelled (faded)"},
    "mothballed": {"dash": None, "opacity": 0.45, "label": "mothballed (faded)"},
    "retired": {"dash": None, "opacity": 0.3, "label": "retired (faded)"},
    "unknown": {"dash": "1 4", "opacity": 0.6, "label": "status not stated (fine dots)"},
}

# geometry quality -> how honest the line's shape is, and how it is drawn: both non-surveyed qualities get a
# halo under the line; schematic lines are also one pixel thinner. Traced lines and points draw plainly.
QUALITY_STYLE = {
    "schematic": {"halo": True, "weight_delta": -1,
                  "label": "schematic (waypoints, not a surveyed route)"},
    "approximate": {"halo": True, "weight_delta": 0,
                    "label": "approximate (source route with long straight runs)"},
}
HALO_QUALITIES = tuple(q for q, style in QUALITY_STYLE.items() if style["halo"])

# kind -> Font Awesome icon name (without the fa- prefix)
KIND_ICON = {
    "port": "anchor",
    "power_plant": "bolt",
    "lng_terminal": "fire",
    "substation": "plug",
    "converter_station": "plug",
    "steel_mill": "industry",
    "education": "graduation-cap",
    "coal_mine": "cubes",
    "border_crossing": "flag",
}
# country fill when the map colours countries by a bloc (?blocs=sco): the bloc's title, and a colour per status
BLOC_TITLES = {"sco": "Shanghai Cooperation Organisation", "eaeu": "Eurasian Economic Union",
               "carec": "Central Asia Regional Economic Cooperation"}
BLOC_STATUS_COLOURS = {"member": "#3a7ca5", "observer": "#9cc3dc", "dialogue_partner": "#d9b26f",
                       "partner": "#d9b26f", "free_trade_agreement": "#b5a3cf"}
KIND_WEIGHT = {"gas_pipeline": 3, "power_line": 3, "road": 4, "rail": 3, "sea_route": 2}


def layer_colour(layer_id, meta=None):
    """Colour of a layer: its metadata style if set, else the table, else a default."""
    style = (meta or {}).get("style") or {}
    return style.get("color") or LAYER_COLOURS.get(layer_id, DEFAULT_COLOUR)


def line_style(colour, status, kind=None):
    """Leaflet path options for a line feature of this status and kind."""
    status_style = STATUS_STYLE.get(status, STATUS_STYLE["operating"])
    return {
        "color": colour,
        "weight": KIND_WEIGHT.get(kind, 3),
        "opacity": status_style["opacity"],
        "dashArray": status_style["dash"],
    }


def point_icon(kind):
    """Font Awesome icon name for a point kind ('circle' when unlisted)."""
    return KIND_ICON.get(kind, "circle")


def legend_entries(layers):
    """Legend rows for ``layers`` (iterable of (layer_id, title, meta, family)).

    Returns ``{"layers": [{id, title, colour, family}], "statuses": [...]}``.
    """
    rows = [
        {"id": lid, "title": title, "colour": layer_colour(lid, meta), "family": family}
        for lid, title, meta, family in layers
    ]
    statuses = [{"status": s, **v} for s, v in STATUS_STYLE.items()]
    return {"layers": rows, "statuses": statuses}
