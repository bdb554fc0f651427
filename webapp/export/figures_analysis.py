"""Print-grade figures of analysis results: a corridor with what lies within it, a network route by mode.

They draw the cached results the API serves (:func:`webapp.analysis.queries.corridor_result`,
:func:`~webapp.analysis.queries.route_result`), in the colours of the
interactive analysis maps (:mod:`webapp.analysis.maps`), on the same page
layout as the layer figures (:mod:`webapp.export.figures`). Need an app
context (the results live in the app's cache).
"""

from __future__ import annotations

import shapely

from geo.corridor import PLACES
from layers.styles import layer_colour
from webapp.analysis.maps import BAND_COLOUR, MODE_STYLE, PLACE_COLOUR, layer_title
from webapp.analysis.queries import corridor_result, route_result
from webapp.export.figures import LABEL_PLACES, base_credits, facts_sentence, geometry_notes, place_labels
from webapp.export.figures_layout import FigureContent, compose
from webapp.export.figures_map import MARKERS, draw_lines, draw_points, draw_polygons, status_handles
from webapp.export.figures_page import plain_text

__all__ = ["corridor_figure", "route_figure"]

_LEG_ROWS = 12  # legs listed one by one in the legend; more are summed up in one row


def _geoms(features):
    return [shapely.geometry.shape(f["geometry"]) if f.get("geometry") else None for f in features]


def _bounds(geoms):
    return tuple(float(v) for v in shapely.total_bounds([g for g in geoms if g is not None]))


def _line(colour, unit, *, width=2.2, dash=None):
    from matplotlib.lines import Line2D

    from webapp.export.figures_map import dash_pattern

    pattern = dash_pattern(dash, dotted_caps=True)
    return Line2D([], [], color=colour, lw=width * unit, linestyle="solid" if pattern is None else pattern,
                  dash_capstyle="round")


def _marker(colour, unit, kind):
    from matplotlib.lines import Line2D

    return Line2D([], [], color="none", marker=MARKERS.get(kind, "o"), markersize=5.5 * unit,
                  markerfacecolor=colour, markeredgecolor="white", markeredgewidth=0.5 * unit)


def _layer_extras(catalog, layer_ids, sources):
    """(sources, licences, GeoDataFrames) of the layers a result draws, with the base map's credits."""
    layers = [catalog.layer(lid) for lid in dict.fromkeys(layer_ids) if lid in catalog and lid != PLACES]
    base_sources, base_licences = base_credits(catalog)
    return ([*sources, *base_sources], [lay.meta.get("licence", "") for lay in layers] + base_licences,
            [lay.gdf for lay in layers])


def _places_first(found_places):
    """Found gazetteer places, the well-known ones (:data:`LABEL_PLACES`) first, then along the route."""
    rank = {name.split(",")[0].lower(): i for i, name in enumerate(LABEL_PLACES)}
    return sorted(found_places, key=lambda p: (rank.get(p[2].lower(), len(rank)), p[5]))


def corridor_figure(catalog, q, page, *, url=None):
    """The figure of a :class:`~webapp.analysis.queries.CorridorQuery` result: PNG, SVG or PDF bytes."""
    doc = corridor_result(catalog, q).doc
    band, found = doc["features"][0], doc["features"][1:]
    head = band["properties"]
    route_layer = catalog.layer(q.layer)
    row = route_layer.gdf.iloc[route_layer.positions[q.feature]]
    route_colour = layer_colour(q.layer, route_layer.meta)
    band_geom = shapely.geometry.shape(band["geometry"])
    geoms = _geoms(found)
    by_layer = {}
    for f, g in zip(found, geoms):
        by_layer.setdefault(f["properties"]["layer"], []).append((f["properties"], g))
    colours = {lid: PLACE_COLOUR if lid == PLACES else layer_colour(lid, catalog.layer(lid).meta) for lid in by_layer}
    halos = {row["geometry_quality"]}

    def draw(frame):
        draw_polygons(frame, [band_geom], BAND_COLOUR, alpha=0.13, zorder=3, dash="6 4")
        draw_lines(frame, [row.geometry], route_colour, status=row["status"], width=2.8,
                   quality=row["geometry_quality"], zorder=6)
        for lid, items in by_layer.items():
            lines = [(p, g) for p, g in items if g is not None and g.geom_type in ("LineString", "MultiLineString")]
            points = [(p, g) for p, g in items if g is not None and g.geom_type == "Point"]
            for p, g in lines:
                draw_lines(frame, [g], colours[lid], status=p["status"], width=1.8, zorder=5)
            if points:
                draw_points(frame, [g for _, g in points], colours[lid], kinds=[p["kind"] for p, _ in points],
                            statuses=[p["status"] for p, _ in points], size=3.6 if lid == PLACES else 5.0, zorder=8)

    unit = page.unit
    within = []
    for lid, items in by_layer.items():
        kinds = sorted({p["kind"] or "" for p, _ in items})
        is_point = all(g is not None and g.geom_type == "Point" for _, g in items)
        handle = _marker(colours[lid], unit, kinds[0] if len(kinds) == 1 else "o") if is_point else _line(
            colours[lid], unit, width=1.8)
        within.append((handle, f"{layer_title(catalog, lid)} ({len(items)})"))
    legend = [("Corridor", [(_band_patch(unit), f"{head['width_km']:g} km each side of the route (geodesic buffer)"),
                            (_line(route_colour, unit, width=2.8), plain_text(f"Route: {head['name']}"))]),
              ("Within the band", within or [(_line("none", unit), "nothing from the layers searched")]),
              ("Status of the route", status_handles({row["status"]}, unit, halos=halos))]
    counts = ", ".join(f"{len(items)} {layer_title(catalog, lid).lower() if lid != PLACES else 'places'}"
                       for lid, items in by_layer.items())
    subtitle = (f"Route {head['route_length_km']:,.1f} km; corridor area {head['area_km2']:,.0f} km²; "
                f"{len(found)} features within{': ' + counts if counts else ''}")
    places = [(g.x, g.y, plain_text(p["name"]), PLACE_COLOUR, False, p["chainage_km"] or 0.0)
              for p, g in by_layer.get(PLACES, []) if g is not None]
    others = [(g.x, g.y, plain_text(p["name"]), colours[lid], False) for lid, items in by_layer.items()
              if lid != PLACES for p, g in items if g is not None and g.geom_type == "Point"]
    sources, licences, frames = _layer_extras(catalog, [q.layer, *q.with_layers], doc["attribution"])
    content = FigureContent(
        title=f"{head['width_km']:g} km corridor of {plain_text(head['name'])}", subtitle=subtitle,
        bounds=tuple(band_geom.bounds), draw=draw, legend=legend, sources=sources, licences=licences,
        as_of=facts_sentence(frames),
        url=url, notes=geometry_notes(tuple(band_geom.bounds), halos=halos) + [
            "The band holds every point within the width of the route on the WGS84 ellipsoid; distances and "
            "chainage (km along the route) of each feature are in the CSV and GeoJSON exports."],
        points=others + [p[:5] for p in _places_first(places)] + (
            [] if PLACES in by_layer else place_labels(catalog)))
    return compose(catalog, content, page)


def _band_patch(unit):
    from matplotlib.patches import Patch

    return Patch(facecolor=BAND_COLOUR, alpha=0.25, edgecolor=BAND_COLOUR, linewidth=0.8 * unit, linestyle="--")


def route_figure(catalog, q, page, *, url=None):
    """The figure of a :class:`~webapp.analysis.queries.RouteQuery` path: PNG, SVG or PDF bytes."""
    doc = route_result(catalog, q).doc
    totals = doc["totals"]
    legs = doc["features"]
    geoms = _geoms(legs)
    ends = [(totals["from"], "start", "#2e7d32"), (totals["to"], "destination", "#c62828")]
    end_points = [shapely.Point(p["lon"], p["lat"]) for p, _, _ in ends]
    qualities, layers_used = [], []
    for f in legs:
        p = f["properties"]
        quality = None
        if p["project"] and p["layer"] in catalog:
            layer = catalog.layer(p["layer"])
            quality = layer.gdf["geometry_quality"].iloc[layer.positions[p["feature"]]]
            layers_used.append(p["layer"])
        qualities.append(quality)
    halos = set(qualities)

    def draw(frame):
        for f, g, quality in zip(legs, geoms, qualities):
            p = f["properties"]
            if g is not None:
                draw_lines(frame, [g], MODE_STYLE[p["mode"]]["color"], status=p["status"] if p["project"] else None,
                           width=2.8 if p["project"] else 1.4, quality=quality, zorder=6)
        for (_, kind, colour), point in zip(ends, end_points):
            draw_points(frame, [point], colour, kinds=["start" if kind == "start" else "end"], size=7.5, zorder=9)

    unit = page.unit
    used = [m for m in MODE_STYLE if m in totals["by_mode_km"]]
    modes = [(_line(MODE_STYLE[m]["color"], unit, width=2.6 if m not in ("snap", "access") else 1.4,
                    dash=MODE_STYLE[m]["dashArray"]), f"{MODE_STYLE[m]['label']}: {totals['by_mode_km'][m]:,.1f} km")
             for m in used]
    rows = []
    for f in legs[:_LEG_ROWS]:
        p = f["properties"]
        style = MODE_STYLE[p["mode"]]
        rows.append((_line(style["color"], unit, width=2.0, dash=style["dashArray"]),
                     plain_text(f"{p['seq']}. {p['name'] or style['label']}: {p['km']:,.1f} km")))
    if len(legs) > _LEG_ROWS:
        rest = sum(f["properties"]["km"] for f in legs[_LEG_ROWS:])
        rows.append((_line("#999999", unit, width=2.0), f"{len(legs) - _LEG_ROWS} more legs: {rest:,.1f} km"))
    ends_rows = [(_marker(colour, unit, "start" if kind == "start" else "end"), plain_text(f"{kind}: {p['name']}"))
                 for p, kind, colour in ends]
    statuses = {f["properties"]["status"] for f in legs if f["properties"]["project"]}
    legend = [("Path by mode", modes), ("Legs", rows), ("Ends", ends_rows),
              ("Status of the projects used", status_handles(statuses, unit, halos=halos))]
    reported = totals.get("reported_equivalent_km")
    subtitle = (f"{totals['total_km']:,.1f} km in {totals['legs']} legs (network {totals['network_km']:,.1f}, "
                f"snapping gaps {totals['snap_km']:,.1f}, access {totals['access_km']:,.1f})"
                + (f"; the projects' reported lengths, pro rata: {reported:,.1f} km" if reported is not None else ""))
    bounds = _bounds([*geoms, *end_points])
    sources, licences, frames = _layer_extras(catalog, layers_used, doc["attribution"])
    content = FigureContent(
        title=plain_text(f"{totals['from']['name']} \u2192 {totals['to']['name']} over {', '.join(q.modes)}"),
        subtitle=subtitle, bounds=bounds, draw=draw, legend=legend, sources=sources, licences=licences,
        as_of=facts_sentence(frames), url=url,
        notes=geometry_notes(bounds, halos=halos) + [
            "Shortest path over the chosen modes on the network of every line layer (line ends joined within the "
            "snapping distance); km are geodesic along the drawn geometry."],
        points=[(p["lon"], p["lat"], plain_text(p["name"]), colour, False) for p, _, colour in ends]
        + place_labels(catalog))
    return compose(catalog, content, page)

