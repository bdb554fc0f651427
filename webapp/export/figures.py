"""Print-grade figures (PDF, PNG, SVG) of catalogue layers; shared pieces of the analysis figures.

A figure is a :class:`~webapp.export.figures_layout.FigureContent` (title,
subtitle, what to draw, legend, credits) composed on a
:class:`~webapp.export.figures_page.Page` by
:func:`~webapp.export.figures_layout.compose`. The map shows what the web
map shows (the same extent rule, styles and legend rows), in an
azimuthal-equidistant plane with a geodesic scale bar, true-north arrow,
graticule, country and place labels that do not collide, and an inset
locator; the credits name each source and licence once, say how current
the facts are (the features' ``as_of``/``last_checked`` dates, when the
data has them) and give the URL of the interactive map.
"""

from __future__ import annotations

from geo.places import find_place
from layers.errors import MapError
from layers.importers.gazetteer import GEONAMES_LICENCE
from webapp.export.figures_layout import FigureContent, compose
from webapp.export.figures_map import COLOURS, draw_layer, layer_handles, status_handles
from webapp.export.figures_page import plain_text
from webapp.maps import blocs
from webapp.maps.builder import drawing_order, map_bounds, overview_layer_ids
from webapp.maps.display import BASEMAP_LAYER
from webapp.maps.pages import SITE_TITLE

__all__ = ["CAPITALS", "CITIES", "LABEL_PLACES", "base_credits", "facts_sentence", "geometry_notes", "layers_figure",
           "place_labels"]

OVERVIEW_SUBTITLE = ("Infrastructure corridors that tie Central Asia, China and the Arabian Sea together through "
                     "Pakistan: roads, railways, pipelines, power lines, plants and ports")
# Places a figure may name, most important first: the capitals (named before the features of small point
# layers), then the largest cities and the corridor's towns (after them); the ones outside the view or without
# room are left out. Resolved in the gazetteer like any place.
CAPITALS = ("Islamabad", "Kabul", "Tehran", "Ashgabat", "Dushanbe", "Tashkent", "Bishkek")
CITIES = ("Delhi", "Karachi", "Lahore", "Faisalabad", "Rawalpindi", "Peshawar", "Multan", "Hyderabad, PK", "Quetta",
          "Kashgar", "Kandahar", "Herat", "Mazar-e Sharif", "Gwadar", "Mashhad", "Mary", "Khujand", "Gilgit", "Sukkur",
          "Dera Ismail Khan", "Zahedan", "Chabahar", "Bandar Abbas", "Turbat", "Hotan", "Muscat", "Mumbai",
          "Ahmedabad", "Chaman", "Nowshera", "Samarkand", "Osh", "Jalalabad, AF", "Bahawalpur", "Sialkot")
LABEL_PLACES = CAPITALS + CITIES
POINT_LABEL_MAX = 12  # point layers up to this size get every feature named (ports, plants, stations)


def place_labels(catalog, names=LABEL_PLACES, *, colour=COLOURS["place"]):
    """(lon, lat, name, colour, dot) of the ``names`` found in the gazetteer, in their order."""

    def compute():
        found = []
        for text in names:
            try:
                place = find_place(catalog, text)
            except MapError:
                continue  # not in this gazetteer
            found.append((place.lon, place.lat, place.name.split(" (")[0] if "(" in place.name else place.name))
        return found

    return [(lon, lat, name, colour, True) for lon, lat, name in
            catalog.memo(("webapp.export.figures.place-labels", names), compute)]


def _dates(gdf):
    as_of, checked = [], []
    for column, bucket in (("as_of", as_of), ("last_checked", checked)):
        if column in gdf:
            bucket += [str(v) for v in gdf[column] if isinstance(v, str) and v]
    if "facts" in gdf:
        for facts in gdf["facts"]:
            if isinstance(facts, list):
                as_of += [str(f["as_of"]) for f in facts if isinstance(f, dict) and isinstance(f.get("as_of"), str)]
    return as_of, checked


def facts_sentence(frames):
    """How current the facts shown are, from the dated-facts contract (``as_of``, ``last_checked``, ``facts``).

    Features without dates (user layers) are tolerated; when nothing is
    dated the sentence says so rather than inventing a date.
    """
    as_of, checked = [], []
    for gdf in frames:
        a, c = _dates(gdf)
        as_of += a
        checked += c
    if not as_of and not checked:
        return "Facts as stated by the sources cited; these layers record no as-of dates."
    parts = []
    if as_of:
        lo, hi = min(as_of), max(as_of)
        parts.append(f"Facts as of {hi}" if lo == hi else f"Facts as of {lo} to {hi} (dated per feature)")
    if checked:
        parts.append(f"last checked {max(checked)}")
    return "; ".join(parts).capitalize() + "."


def geometry_notes(bounds, *, halos=()):
    """The method notes every map figure carries: geodesic measure, the projection, schematic or approximate
    lines (the qualities in ``halos``), borders."""
    lon = (bounds[0] + bounds[2]) / 2
    lat = (bounds[1] + bounds[3]) / 2
    notes = [f"Lengths, distances and the scale bar are geodesic (WGS84 ellipsoid); azimuthal equidistant "
             f"projection centred on {abs(lat):.2f}°{'N' if lat >= 0 else 'S'} "
             f"{abs(lon):.2f}°{'E' if lon >= 0 else 'W'}."]
    if "schematic" in halos:
        notes.append("Schematic routes are drawn through named waypoints, not surveyed alignments: their lengths "
                     "are indicative.")
    if "approximate" in halos:
        notes.append("Approximate routes follow their source with long straight runs: their lengths are "
                     "indicative.")
    notes.append("Boundaries are Natural Earth's de-facto lines and imply no position on disputed territory.")
    return notes


def _point_labels(catalog, layer_ids):
    """Names of the features of small point layers (ports, plants, stations), in drawing order."""
    from layers.styles import layer_colour

    found = []
    for lid in layer_ids:
        layer = catalog.layer(lid)
        points = layer.gdf[layer.gdf.geom_type == "Point"]
        if 0 < len(points) <= POINT_LABEL_MAX:
            colour = layer_colour(lid, layer.meta)
            found += [(g.x, g.y, plain_text(name), colour, False) for g, name in zip(points.geometry, points["name"])]
    return found


def _title(catalog, layer_ids, overview):
    if overview:
        return SITE_TITLE
    titles = [catalog.layer(lid).title for lid in layer_ids]
    return " · ".join(titles) if len(titles) <= 4 else f"{SITE_TITLE}: {len(titles)} layers"


def _base_rows(unit):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [(Line2D([], [], color=COLOURS["border"], lw=0.8 * unit), "country border (Natural Earth)"),
            (Line2D([], [], color="none", marker="o", markersize=3.2 * unit, markerfacecolor=COLOURS["place"],
                    markeredgecolor="white"), "town or city (GeoNames)"),
            (Patch(facecolor=COLOURS["sea"], edgecolor="none"), "sea"),
            (Patch(facecolor=COLOURS["nodata"], edgecolor="none"), "outside the mapped region")]


def base_credits(catalog):
    """(sources, licences) of what every figure draws besides its data: the country boundaries, the place names."""
    sources, licences = ["GeoNames (geonames.org), CC BY 4.0"], [GEONAMES_LICENCE.split(" (")[0]]
    if BASEMAP_LAYER in catalog:
        base = catalog.layer(BASEMAP_LAYER)
        sources.insert(0, base.attribution)
        licences.insert(0, base.meta.get("licence", ""))
    return sources, licences


def bloc_rows(catalog, bloc):
    """Legend section (title, rows) of the countries coloured by ``bloc``, or None without a bloc."""
    from matplotlib.patches import Patch

    legend = blocs.bloc_legend(catalog, bloc)
    if legend is None:
        return None
    return (f"Countries: {legend['title']}",
            [(Patch(facecolor=row["colour"], edgecolor=COLOURS["border"], linewidth=0.3),
              f"{row['label']} ({row['count']})") for row in legend["rows"]])


def layers_figure(catalog, layer_ids, page, *, url=None, bloc=None):
    """The figure of catalogue layers ``layer_ids`` on ``page``: PNG, SVG or PDF bytes.

    ``bloc`` (``sco``, ``eaeu``, ``carec``) fills the countries by their latest status in it, as ``?blocs=`` does
    on the map pages, with a legend section.
    """
    title = _title(catalog, layer_ids, set(layer_ids) == set(overview_layer_ids(catalog)))
    layer_ids = drawing_order(catalog, layer_ids)
    layers = [catalog.layer(lid) for lid in layer_ids]
    overview = set(layer_ids) == set(overview_layer_ids(catalog))
    bounds = map_bounds(catalog, layer_ids)
    statuses, halos = set(), set()  # of the lines drawn: their statuses, their haloed qualities
    lines = [lay for lay in layers if lay.geometry_family in ("line", "mixed") and lay.id != BASEMAP_LAYER]
    for lay in lines:
        line_rows = lay.gdf[lay.gdf.geom_type.isin(["LineString", "MultiLineString"])]
        statuses |= set(line_rows["status"].fillna("operating"))
        halos |= set(line_rows["geometry_quality"].dropna())

    def draw(frame):
        for lid in layer_ids:
            draw_layer(catalog, frame, lid)

    unit = page.unit
    legend = [("Layers", layer_handles(catalog, [lid for lid in reversed(layer_ids)], unit)),
              ("Status of lines", status_handles(statuses, unit, halos=halos)),
              ("Base map", _base_rows(unit))]
    if bloc is not None:
        legend.insert(2, bloc_rows(catalog, bloc))
    if len(layers) == 1:
        subtitle = plain_text(layers[0].meta.get("description", ""))
    elif overview:
        subtitle = OVERVIEW_SUBTITLE
    else:
        subtitle = f"{len(layers)} layers: lines coloured by project and drawn by status, points by kind"
    base_sources, base_licences = base_credits(catalog)
    content = FigureContent(
        title=title, subtitle=subtitle, bounds=bounds, draw=draw, legend=legend,
        sources=[lay.attribution for lay in layers] + base_sources,
        licences=[lay.meta.get("licence", "") for lay in layers] + base_licences,
        as_of=facts_sentence([lay.gdf for lay in layers]), url=url,
        notes=geometry_notes(bounds, halos=halos),
        points=place_labels(catalog, CAPITALS) + _point_labels(catalog, layer_ids) + place_labels(catalog, CITIES),
        country_fill=blocs.bloc_fill(catalog, bloc))
    return compose(catalog, content, page)
