"""Folium maps of analysis results: a corridor band with what lies within, and a network path by mode.

Built from the JSON-ready results the API serves (:func:`geo.corridor_report.corridor_geojson`,
:func:`geo.network.shortest_path`), with the pieces of :mod:`webapp.maps.builder`
(base map, catalogue layers, controls) and :class:`webapp.maps.elements.FeatureLayer`
for the analysis overlays. Popups come from autoescaped templates, tooltips
are set with ``textContent`` and data reaches the page as htmlsafe JSON, as
for the layer maps.
"""

from __future__ import annotations

import folium
import jinja2
import numpy as np
import shapely
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from geo.corridor import PLACES
from layers.importers.gazetteer import GEONAMES_SOURCE
from layers.styles import STATUS_STYLE, layer_colour, line_style, point_icon
from webapp.maps import elements
from webapp.maps.builder import add_controls, base_map, fit_zoom, layer_element, pin_colour, render_parts
from webapp.maps.display import popup_fragments

__all__ = [
    "BAND_COLOUR",
    "MODE_STYLE",
    "PLACES_ATTRIBUTION",
    "PLACES_TITLE",
    "PLACE_COLOUR",
    "corridor_map",
    "layer_title",
    "route_map",
]

PLACES_TITLE = "Places (GeoNames gazetteer)"
PLACES_ATTRIBUTION = GEONAMES_SOURCE["title"]
BAND_COLOUR = "#6c3483"
PLACE_COLOUR = "#2c3e50"
# Leg colours by mode; sea legs and the three connector kinds are broken lines so they never read as
# mapped infrastructure (a sea leg is a port-to-port geodesic, connectors are straight hops).
MODE_STYLE = {
    "road": {"color": "#c0392b", "dashArray": None, "label": "road"},
    "rail": {"color": "#4a235a", "dashArray": None, "label": "rail"},
    "sea": {"color": "#1a5276", "dashArray": "10 6", "label": "sea leg (port-to-port geodesic)"},
    "gas": {"color": "#e67e22", "dashArray": None, "label": "gas pipeline"},
    "power": {"color": "#2471a3", "dashArray": None, "label": "power line"},
    "snap": {"color": "#7f8c8d", "dashArray": "6 6", "label": "connector: snap (line ends joined)"},
    "transfer": {"color": "#7f8c8d", "dashArray": "1 5", "label": "connector: transfer at an interchange"},
    "access": {"color": "#7f8c8d", "dashArray": "2 6", "label": "connector: access (place to network)"},
}
_ENDS = {"start": ("green", "play"), "end": ("red", "flag-checkered")}

_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
_ROWS = """{% for label, value in rows %}<tr><th scope="row">{{ label }}</th><td>{{ value }}</td></tr>{% endfor %}"""
_POPUP = _ENV.from_string("""<div class="mapsvc-popup">
<div class="mapsvc-popup-title">{{ title }}</div>
<div class="mapsvc-popup-layer">{{ subtitle }}</div>
{% if schematic %}<p class="mapsvc-schematic"><b>Schematic geometry:</b> drawn through named waypoints; \
distances are indicative.</p>{% endif %}
<table class="mapsvc-popup-table"><caption>{{ caption }}</caption>""" + _ROWS + """</table>
{% if note %}<p class="mapsvc-popup-layer">{{ note }}</p>{% endif %}
</div>{{ details or "" }}""")


def _km(value):
    return "\u2014" if value is None else f"{value:,.1f} km"


def layer_title(catalog, layer_id):
    """Display title of a found-feature layer id ('places' is the gazetteer)."""
    return PLACES_TITLE if layer_id == PLACES else catalog.layer(layer_id).title


def _attribution(catalog, layer_id):
    return PLACES_ATTRIBUTION if layer_id == PLACES else catalog.layer(layer_id).attribution


def _collection(features):
    """Script-safe JSON of a FeatureCollection made of (GeoJSON geometry dict, properties) pairs."""
    doc = {"type": "FeatureCollection",
           "features": [{"type": "Feature", "geometry": g, "properties": p} for g, p in features]}
    return htmlsafe_json_dumps(doc)


def _icon(colour, icon):
    options = folium.Icon(color=colour, icon_color="white", icon=icon, prefix="fa").options
    return {folium.utilities.camelize(k): v for k, v in options.items()}


def _bounds(geometries):
    """(minlon, minlat, maxlon, maxlat) of GeoJSON geometry dicts."""
    geoms = [shapely.geometry.shape(g) for g in geometries if g]
    return tuple(float(v) for v in shapely.total_bounds(np.array(geoms, dtype=object)))


def _route_feature(catalog, layer_id, fid):
    """The analysed route itself, bold, with its catalogue popup (properties, statistics, sources)."""
    layer = catalog.layer(layer_id)
    pos = layer.positions[fid]
    row = layer.gdf.iloc[pos]
    style = line_style(layer_colour(layer_id, layer.meta), row.get("status"), row.get("kind"))
    style["weight"] = style["weight"] + 3
    geom = shapely.geometry.mapping(shapely.transform(row.geometry, lambda xy: np.round(xy, 5)))
    props = {"id": fid, "name": row["name"], "kind": row.get("kind"), "status": row.get("status"),
             "geometry_quality": row.get("geometry_quality"), "_style": style,
             "_popup": popup_fragments(catalog, layer_id)[pos]}
    return elements.FeatureLayer("analysis_route", _collection([(geom, props)]), title=f"Route: {row['name']}",
                                 attribution=layer.attribution, icons={"": _icon("gray", "circle")})


def _legend(rows, *, statuses=(), schematic=False):
    shown = [{"status": s, **v} for s, v in STATUS_STYLE.items() if s in set(statuses)]
    return elements.Legend(layers=rows, statuses=shown, schematic=schematic)


def corridor_map(catalog, doc, options, *, basemap, searched=()):
    """A folium map of a corridor result (:func:`geo.corridor_report.corridor_geojson` output).

    The band, the route (bold, with its catalogue popup) and the features
    found, highlighted per layer (popups: distance, chainage, km inside);
    the route's whole layer and the other catalogue layers in ``searched``
    are in the layer control for context, hidden until switched on.
    """
    band, found = doc["features"][0], doc["features"][1:]
    head = band["properties"]
    route_layer = catalog.layer(head["layer"])
    quality = route_layer.gdf["geometry_quality"].iloc[route_layer.positions[head["feature"]]]
    bounds = _bounds([band["geometry"]])
    fmap, vector = base_map(catalog, basemap, options, bounds)
    summary = doc["summary"]
    band_popup = _POPUP.render(
        title=f"{head['width_km']:g} km corridor", subtitle=head["name"], caption="Corridor (geodesic)",
        schematic=quality == "schematic", rows=[
            ("Width each side", _km(head["width_km"])), ("Route length", _km(head["route_length_km"])),
            ("Area", f"{head['area_km2']:,.0f} km\u00b2"), ("Features within", str(summary["features"]))])
    band_style = {"color": BAND_COLOUR, "weight": 1.5, "opacity": 0.9, "dashArray": "6 4", "fillColor": BAND_COLOUR,
                  "fillOpacity": 0.15}
    band_props = {"id": "band", "name": f"{head['width_km']:g} km corridor of {head['name']}", "_style": band_style,
                  "_popup": band_popup}
    overlays = [elements.FeatureLayer("analysis_band", _collection([(band["geometry"], band_props)]),
                                      title=f"Corridor band ({head['width_km']:g} km)", attribution="",
                                      icons={"": _icon("gray", "circle")})]
    zoom = fit_zoom(bounds)
    overlays.append(layer_element(catalog, route_layer.id, options, show=False, zoom=zoom))
    overlays.append(_route_feature(catalog, route_layer.id, head["feature"]))
    legend = [{"title": f"Corridor band, {head['width_km']:g} km each side", "colour": BAND_COLOUR, "family": "line"},
              {"title": f"Route: {head['name']}", "colour": layer_colour(route_layer.id, route_layer.meta),
               "family": "line"}]
    by_layer = {}
    for f in found:
        by_layer.setdefault(f["properties"]["layer"], []).append(f)
    for lid, feats in by_layer.items():
        colour = PLACE_COLOUR if lid == PLACES else layer_colour(lid, catalog.layer(lid).meta)
        pin = pin_colour(lid, colour)[0]
        details = None if lid == PLACES else popup_fragments(catalog, lid)
        positions = None if lid == PLACES else catalog.layer(lid).positions
        rows = []
        for f in feats:
            p = f["properties"]
            popup = _POPUP.render(
                title=p["name"], subtitle=layer_title(catalog, lid), caption=f"Within {head['width_km']:g} km of "
                f"{head['name']}", rows=[
                    ("Distance from the route", _km(p["distance_km"])),
                    ("Chainage (km along the route)", _km(p["chainage_km"])),
                    *([("Length inside the band", _km(p["inside_length_km"]))] if p["inside_length_km"] else []),
                    *([("Area inside the band", f"{p['inside_area_km2']:,.0f} km\u00b2")]
                      if p.get("inside_area_km2") is not None else []),
                    ("Kind", p["kind"] or "\u2014"), ("Status", p["status"] or "\u2014"),
                    ("Countries", ", ".join(p["countries"] or []) or "\u2014")],
                note=f"Source: {PLACES_ATTRIBUTION}" if lid == PLACES else None,
                details=Markup(details[positions[p["id"]]]) if details is not None else None)
            style = {"color": colour, "weight": 6, "opacity": 0.9, "dashArray": None}
            if lid == PLACES:  # many, small: circles rather than pins hiding the route
                style = {"radius": 5, "color": "#ffffff", "weight": 1.5, "opacity": 1, "fillColor": colour,
                         "fillOpacity": 0.9}
            rows.append((f["geometry"], {"id": p["id"], "name": p["name"], "kind": p["kind"], "status": p["status"],
                                         "_style": style, "_popup": popup, "_circle": lid == PLACES}))
        kinds = sorted({p["kind"] or "" for _, p in rows})
        icons = {k: _icon(pin, point_icon(k or None)) for k in [*kinds, ""]}
        title = f"Within the band: {layer_title(catalog, lid)} ({len(feats)})"
        overlays.append(elements.FeatureLayer(f"within_{lid}", _collection(rows), title=title,
                                              attribution=_attribution(catalog, lid), icons=icons))
        is_point = all(f["geometry"] and f["geometry"]["type"] == "Point" for f in feats)
        legend.append({"title": title, "colour": colour, "family": "point" if is_point else "line",
                       "icon": point_icon(kinds[0] or None) if len(kinds) == 1 else "circle",
                       "marker_hex": colour if lid == PLACES else pin_colour(lid, colour)[1]})
    for lid in searched:
        if lid not in (PLACES, route_layer.id) and lid in catalog:
            overlays.append(layer_element(catalog, lid, options, show=False, zoom=zoom))
    for element in overlays:
        element.add_to(fmap)
    statuses = {route_layer.gdf["status"].iloc[route_layer.positions[head["feature"]]]}
    _legend(legend, statuses=statuses, schematic=quality == "schematic").add_to(fmap)
    add_controls(fmap, vector, bounds, minimap_minimized=options.minimap_minimized)
    elements.PageHooks(overlays, status_styles=STATUS_STYLE).add_to(fmap)
    folium.LayerControl(collapsed=options.collapsed_control).add_to(fmap)
    return render_parts(fmap)


def _end_attribution(catalog, place):
    if place["source"] == "gazetteer":
        return PLACES_ATTRIBUTION
    return catalog.layer(place["source"]).attribution if place["source"] in catalog else ""


def route_map(catalog, result, options, *, basemap):
    """A folium map of a network path (:func:`geo.network.shortest_path` output): legs coloured by mode.

    Start and end markers, each leg with a popup (project, mode, km,
    chainage along the path), and the layers of the projects used, hidden.
    """
    totals = result["totals"]
    geoms = [f["geometry"] for f in result["features"]]
    ends = [(name, totals[key]) for name, key in (("start", "from"), ("end", "to"))]
    geoms += [{"type": "Point", "coordinates": [p["lon"], p["lat"]]} for _, p in ends]
    bounds = _bounds(geoms)
    fmap, vector = base_map(catalog, basemap, options, bounds)
    legs, layers_used, schematic, statuses = [], [], False, set()
    for f in result["features"]:
        p = f["properties"]
        mode = MODE_STYLE[p["mode"]]
        quality = None
        if p["project"]:
            layer = catalog.layer(p["layer"])
            quality = layer.gdf["geometry_quality"].iloc[layer.positions[p["feature"]]]
            schematic = schematic or quality == "schematic"
            statuses.add(p["status"])
            if p["layer"] not in layers_used:
                layers_used.append(p["layer"])
        label = p["name"] or mode["label"]
        popup = _POPUP.render(
            title=f"Leg {p['seq']}: {label}", subtitle=mode["label"] + (f" \u00b7 {p['project']}" if p["project"]
                                                                        else ""),
            caption=f"{totals['from']['name']} \u2192 {totals['to']['name']}", schematic=quality == "schematic",
            rows=[("Length of the leg", _km(p["km"])), ("From km", _km(p["from_km"])), ("To km", _km(p["to_km"])),
                  ("Status", p["status"] or "\u2014"), ("Project's reported length", _km(p["reported_length_km"]))])
        style = line_style(mode["color"], p["status"] if p["project"] else None)
        style.update(weight=6 if p["project"] else 3, dashArray=mode["dashArray"] or style["dashArray"])
        legs.append((f["geometry"], {"id": str(p["seq"]), "name": f"{p['seq']}. {label}: {p['km']:,.1f} km",
                                     "kind": p["mode"], "status": p["status"], "geometry_quality": quality,
                                     "_style": style, "_popup": popup}))
    attribution = "; ".join(catalog.layer(lid).attribution for lid in layers_used)
    overlays = [elements.FeatureLayer("route_legs", _collection(legs), title="Path by mode", attribution=attribution,
                                      icons={"": _icon("gray", "circle")})]
    markers, icons = [], {"": _icon("gray", "circle")}
    for kind, place in ends:
        colour, icon = _ENDS[kind]
        icons[kind] = _icon(colour, icon)
        popup = _POPUP.render(title=place["name"], subtitle="start" if kind == "start" else "destination",
                              caption="Place", rows=[("Latitude", f"{place['lat']:.5f}"),
                                                     ("Longitude", f"{place['lon']:.5f}"),
                                                     ("Resolved from", place["source"])],
                              note=f"Source: {_end_attribution(catalog, place)}")
        markers.append(({"type": "Point", "coordinates": [place["lon"], place["lat"]]},
                         {"id": kind, "name": place["name"], "kind": kind, "status": None, "_style": {"opacity": 1},
                          "_popup": popup}))
    overlays.append(elements.FeatureLayer(
        "route_ends", _collection(markers), title="Start and destination", icons=icons,
        attribution="; ".join(_end_attribution(catalog, p) for _, p in ends)))
    overlays += [layer_element(catalog, lid, options, show=False, zoom=fit_zoom(bounds)) for lid in layers_used]
    for element in overlays:
        element.add_to(fmap)
    used = [m for m in MODE_STYLE if m in totals["by_mode_km"]]
    rows = [{"title": MODE_STYLE[m]["label"], "colour": MODE_STYLE[m]["color"], "family": "line"} for m in used]
    rows += [{"title": "start" if k == "start" else "destination", "family": "point", "icon": _ENDS[k][1],
              "marker_hex": {"green": "#72b026", "red": "#d63e2a"}[_ENDS[k][0]]} for k in _ENDS]
    _legend(rows, statuses=statuses, schematic=schematic).add_to(fmap)
    add_controls(fmap, vector, bounds, minimap_minimized=options.minimap_minimized)
    elements.PageHooks(overlays, status_styles=STATUS_STYLE).add_to(fmap)
    folium.LayerControl(collapsed=options.collapsed_control).add_to(fmap)
    return render_parts(fmap)
