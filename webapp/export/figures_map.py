"""The map frame of a printed figure: its plane and extent, the basemap, and catalogue layers drawn in it.

Geometry is drawn in the figure's azimuthal-equidistant plane
(:class:`geo.mapframe.MapPlane`), at the detail a printed pixel can show
(the display zoom bands of :mod:`geo.simplify`; measurement never uses
them). Colours, dashes and opacities come from :mod:`layers.styles`, the
same table as the web map and its legend; line widths and marker sizes are
in points times the page's type unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from geo.mapframe import MapPlane, box_edge_lonlat
from geo.simplify import FULL_BAND, band_zoom, cached_display, tolerance_degrees
from layers.schema import REGION_BBOX
from layers.styles import HALO_QUALITIES, QUALITY_STYLE, STATUS_STYLE, layer_colour
from webapp.export.figures_page import plain_text
from webapp.maps.display import BASEMAP_LAYER

__all__ = [
    "COLOURS",
    "MARKERS",
    "MapFrame",
    "dash_pattern",
    "draw_basemap",
    "draw_layer",
    "draw_lines",
    "draw_points",
    "draw_polygons",
    "layer_handles",
    "open_frame",
    "print_band",
    "status_handles",
]

COLOURS = {"sea": "#cfe0ea", "land": "#f4f1ea", "border": "#8d8d8d", "nodata": "#e6e5e1", "frame": "#2b3640",
           "graticule": "#8f9ba6", "country": "#6b6459", "place": "#2c3e50"}
MARKERS = {"port": "s", "power_plant": "^", "lng_terminal": "D", "substation": "p", "converter_station": "p",
           "steel_mill": "h", "education": "*", "coal_mine": "X", "place": "o", "start": "o", "end": "s"}
_KM_PER_DEG = 111.32
_PAD = 0.05  # of the data's extent, each side


@dataclass
class MapFrame:
    """The map axes of a figure and what drawing in them needs (all lengths in the plane: metres)."""

    fig: object
    ax: object
    plane: MapPlane
    extent: tuple  # minx, miny, maxx, maxy of the view in the plane
    unit: float  # the page's type unit (points scale)
    dpi: float  # pixels per inch the output will have (vector formats: 300, what a printer resolves)
    renderer: object
    band: int = FULL_BAND
    obstacles: list = field(default_factory=list)  # display-space Bboxes labels must not cover
    ink: list = field(default_factory=list)  # plane geometries drawn (lines, points) labels prefer to avoid

    @property
    def width_m(self):
        return self.extent[2] - self.extent[0]

    @property
    def height_m(self):
        return self.extent[3] - self.extent[1]

    def to_view(self, geoms):
        """Lon/lat geometries in the plane, cut to the view (and a 2% margin): what lies outside is not
        written into the file (a zoomed-in PDF or SVG would otherwise carry the whole region)."""
        lon0, lat0, lon1, lat1 = self.lonlat_extent()
        pad_lon, pad_lat = 0.05 * (lon1 - lon0) + 0.1, 0.05 * (lat1 - lat0) + 0.1
        rough = shapely.clip_by_rect(np.asarray(geoms, dtype=object), lon0 - pad_lon, lat0 - pad_lat,
                                     lon1 + pad_lon, lat1 + pad_lat)
        x0, y0, x1, y1 = self.extent
        pad_x, pad_y = 0.02 * (x1 - x0), 0.02 * (y1 - y0)
        return shapely.clip_by_rect(self.plane.project(rough), x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y)

    def lonlat_extent(self):
        """(minlon, minlat, maxlon, maxlat) of the view (its outline sampled)."""
        x0, y0, x1, y1 = self.extent
        t = np.linspace(0, 1, 16)
        xs = np.concatenate([x0 + (x1 - x0) * t, np.full(16, x1), x0 + (x1 - x0) * t, np.full(16, x0)])
        ys = np.concatenate([np.full(16, y0), y0 + (y1 - y0) * t, np.full(16, y1), y0 + (y1 - y0) * t])
        lon, lat = self.plane.inverse(xs, ys)
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def print_band(ground_km_per_px, lat):
    """The coarsest display zoom band whose simplification stays under half a printed pixel."""
    for band in range(FULL_BAND):
        if float(tolerance_degrees(band_zoom(band), lat)) * _KM_PER_DEG <= 0.5 * ground_km_per_px:
            return band
    return FULL_BAND


def open_frame(fig, rect_in, bounds, *, unit, dpi, renderer, plane=None, min_span_km=60.0):
    """Map axes at ``rect_in`` (left, bottom, width, height in inches) showing ``bounds`` (lon/lat).

    The view is the data's extent in the plane, padded, then widened along
    whichever side is short so that it fills the frame (no empty bands, no
    distortion: one plane metre is as long across as up).
    """
    plane = plane or MapPlane.around(bounds)
    x0, y0, x1, y1 = plane.bounds_xy(bounds)
    span = max(x1 - x0, y1 - y0, min_span_km * 1000.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w = max(x1 - x0, span * 0.25) * (1 + 2 * _PAD)
    h = max(y1 - y0, span * 0.25) * (1 + 2 * _PAD)
    fw, fh = fig.get_size_inches()
    left, bottom, width, height = rect_in
    ratio = height / width
    if h / w < ratio:
        h = w * ratio
    else:
        w = h / ratio
    extent = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    ax = fig.add_axes((left / fw, bottom / fh, width / fw, height / fh))
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])  # same ratio as the frame: one plane metre as long across as up
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor(COLOURS["nodata"])  # outside the region the boundaries cover: no data, not sea
    for spine in ax.spines.values():
        spine.set_edgecolor(COLOURS["frame"])
        spine.set_linewidth(0.8 * unit)
    _, lat = plane.inverse(cx, cy)
    band = print_band(w / 1000.0 / (width * dpi), float(abs(lat)))
    return MapFrame(fig, ax, plane, extent, unit, dpi, renderer, band=band)


def _paths(geoms):
    """(n, 2) coordinate arrays of every line part (polygon rings included) of ``geoms``."""
    parts = shapely.get_parts(shapely.get_parts(np.asarray(geoms, dtype=object)))
    lines = shapely.boundary(parts[np.isin(shapely.get_type_id(parts), (3,))])
    rings = shapely.get_parts(lines) if len(lines) else np.array([], dtype=object)
    plain = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    return [shapely.get_coordinates(p) for p in (*plain, *rings) if not shapely.is_empty(p)]


def _polygon_path(geoms):
    """One compound matplotlib Path of polygons (exteriors anticlockwise, holes clockwise: nonzero fill)."""
    from matplotlib.path import Path

    polys = shapely.get_parts(np.asarray(geoms, dtype=object))
    polys = shapely.orient_polygons(polys[shapely.get_type_id(polys) == 3])
    rings = []
    for poly in polys:
        rings.append(shapely.get_coordinates(shapely.get_exterior_ring(poly)))
        rings += [shapely.get_coordinates(shapely.get_interior_ring(poly, i))
                  for i in range(shapely.get_num_interior_rings(poly))]
    if not rings:
        return None
    return Path.make_compound_path(*[Path(r, closed=True) for r in rings if len(r) >= 3])


def _fill(ax, geoms, *, facecolor, zorder, alpha=1.0, edgecolor="none", linewidth=0.0, linestyle="solid"):
    from matplotlib.patches import PathPatch

    path = _polygon_path(geoms)
    if path is not None:
        ax.add_artist(PathPatch(path, facecolor=facecolor, edgecolor=edgecolor, linewidth=linewidth, alpha=alpha,
                               linestyle=linestyle, zorder=zorder))


def region_outline(plane, bounds=REGION_BBOX, steps=64):
    """The lon/lat box ``bounds`` as a polygon in the plane (its edges sampled: they curve there)."""
    x, y = plane.forward(*box_edge_lonlat(bounds, steps=steps))
    return shapely.Polygon(np.column_stack([x, y]))


def country_shapes(catalog, frame):
    """(names, plane polygons) of the boundaries layer at the frame's print detail; empty without the layer."""
    if BASEMAP_LAYER not in catalog:
        return [], np.array([], dtype=object)
    gdf = cached_display(catalog, BASEMAP_LAYER, frame.band)
    shapes = frame.to_view(gdf.geometry.to_numpy())
    # a polygon valid in lon/lat may pinch in the plane (two vertices of a simplified ring a rounding apart):
    # repaired, so the view's clipping and the labels' areas never meet a GEOS topology error
    bad = ~shapely.is_valid(shapes)
    shapes[bad] = shapely.make_valid(shapes[bad])
    return list(gdf["name"]), shapes


def draw_basemap(catalog, frame, *, ax=None, border_lw=0.45, fill=None):
    """Sea inside the region the boundaries cover, land, borders. Returns the plane country polygons.

    ``fill`` maps ISO alpha-3 codes to the colour their country is filled with (a bloc, ``?blocs=``).
    """
    from matplotlib.collections import LineCollection

    ax = ax or frame.ax
    _fill(ax, [region_outline(frame.plane)], facecolor=COLOURS["sea"], zorder=0.5)
    names, shapes = country_shapes(catalog, frame)
    if len(shapes):
        _fill(ax, shapes, facecolor=COLOURS["land"], zorder=1)
        ids = cached_display(catalog, BASEMAP_LAYER, frame.band)["id"].to_numpy()
        for colour in sorted(set((fill or {}).values())):
            chosen = np.isin(ids, [code for code, c in fill.items() if c == colour])
            _fill(ax, shapes[chosen], facecolor=colour, zorder=1.1)
        ax.add_collection(LineCollection(_paths(shapes), colors=COLOURS["border"],
                                         linewidths=border_lw * frame.unit, zorder=2), autolim=False)
    return names, shapes


def dash_pattern(dash, *, dotted_caps=False):
    """A Leaflet dashArray (px at weight 3) as a matplotlib dash pattern in line widths (None: solid)."""
    if not dash:
        return None
    values = [float(v) / 3.0 for v in str(dash).split()]
    if dotted_caps:  # round caps add a line width to every dash: shorten dashes, lengthen gaps to match
        values = [max(v - 1.0, 0.05) if i % 2 == 0 else v + 1.0 for i, v in enumerate(values)]
    return 0, tuple(values)


def _linestyle(status):
    style = STATUS_STYLE.get(status, STATUS_STYLE["operating"])
    pattern = dash_pattern(style["dash"], dotted_caps=True)
    return ("solid" if pattern is None else pattern), style["opacity"]


def draw_lines(frame, geoms, colour, *, status=None, width=1.6, quality=None, zorder=5, label_ink=True):
    """Lines (lon/lat) in ``colour``, dashed and faded by ``status``; a schematic or approximate ``quality``
    (:data:`~layers.styles.HALO_QUALITIES`) adds a pale halo, as on the web map."""
    from matplotlib.collections import LineCollection

    plane_geoms = frame.to_view(geoms)
    paths = _paths(plane_geoms)
    if not paths:
        return
    linestyle, alpha = _linestyle(status)
    lw = width * frame.unit
    if quality in HALO_QUALITIES:
        frame.ax.add_collection(LineCollection(paths, colors=colour, linewidths=lw + 4.5 * frame.unit, alpha=0.18,
                                               capstyle="round", joinstyle="round", zorder=zorder - 0.5), autolim=False)
    frame.ax.add_collection(LineCollection(paths, colors=colour, linewidths=lw, alpha=alpha, linestyles=[linestyle],
                                           capstyle="round", joinstyle="round", zorder=zorder), autolim=False)
    if label_ink:
        frame.ink.extend(plane_geoms)


def draw_points(frame, geoms, colour, *, kinds=None, statuses=None, size=5.0, zorder=7):
    """Points (lon/lat) as markers by kind, faded by status, white-edged."""
    points = np.asarray(geoms, dtype=object)
    if not len(points):
        return
    xy = shapely.get_coordinates(frame.plane.project(points))
    kinds = np.asarray(kinds if kinds is not None else ["place"] * len(points), dtype=object)
    alpha = np.array([STATUS_STYLE.get(s, STATUS_STYLE["operating"])["opacity"]
                      for s in (statuses if statuses is not None else [None] * len(points))]).clip(0.45, 1)
    for kind in sorted(set(kinds)):
        sel = kinds == kind
        frame.ax.scatter(xy[sel, 0], xy[sel, 1], s=(size * frame.unit) ** 2, marker=MARKERS.get(kind, "o"),
                         c=colour, alpha=alpha[sel], edgecolors="white", linewidths=0.6 * frame.unit, zorder=zorder)
    frame.ink.extend(shapely.points(xy))


def draw_polygons(frame, geoms, colour, *, alpha=0.15, zorder=3, dash=None):
    """Polygons (lon/lat) filled lightly in ``colour`` with a firm outline."""
    plane_geoms = frame.to_view(geoms)
    _fill(frame.ax, plane_geoms, facecolor=colour, alpha=alpha, zorder=zorder)
    _fill(frame.ax, plane_geoms, facecolor="none", edgecolor=colour, linewidth=1.0 * frame.unit, alpha=0.9,
          zorder=zorder + 0.1, linestyle="solid" if dash is None else dash_pattern(dash))


def draw_layer(catalog, frame, layer_id, *, emphasis=1.0):
    """Every feature of a catalogue layer, styled as on the web map. Returns the statuses of its lines."""
    layer = catalog.layer(layer_id)
    colour = layer_colour(layer_id, layer.meta)
    gdf = cached_display(catalog, layer_id, frame.band)
    geoms = gdf.geometry.to_numpy()
    types = shapely.get_type_id(geoms)
    polygons, lines, points = np.isin(types, (3, 6)), np.isin(types, (1, 5)), types == 0
    if polygons.any():
        draw_polygons(frame, geoms[polygons], colour, alpha=0.08)
    statuses = set()
    status = gdf["status"].fillna("operating").to_numpy()
    quality = gdf["geometry_quality"]
    halo = quality.where(quality.isin(HALO_QUALITIES), "").to_numpy()  # "": drawn without a halo
    for value in dict.fromkeys(status[lines]):
        for q in ("", *HALO_QUALITIES):
            sel = lines & (status == value) & (halo == q)
            if sel.any():
                statuses.add(value)
                delta = 0.4 * QUALITY_STYLE[q]["weight_delta"] if q else 0.0  # schematic: 1.2 as before
                draw_lines(frame, geoms[sel], colour, status=value, quality=q or None, width=(1.6 + delta) * emphasis)
    if points.any():
        draw_points(frame, geoms[points], colour, kinds=gdf["kind"].to_numpy()[points],
                    statuses=gdf["status"].to_numpy()[points], size=5.0 * emphasis)
    return statuses


def layer_handles(catalog, layer_ids, unit, *, label=None):
    """Legend (handle, label) pairs, one per layer: a line in its colour, or its kind's marker."""
    from matplotlib.lines import Line2D

    rows = []
    for lid in layer_ids:
        layer = catalog.layer(lid)
        if not len(layer.gdf):
            continue
        colour = layer_colour(lid, layer.meta)
        family = layer.geometry_family
        kinds = sorted(set(layer.gdf["kind"]))
        marker = MARKERS.get(kinds[0], "o") if family == "point" and len(kinds) == 1 else (
            "o" if family == "point" else None)
        handle = Line2D([], [], color=colour, lw=0 if marker else 2.2 * unit, marker=marker,
                        markersize=5.5 * unit, markeredgecolor="white", markeredgewidth=0.5 * unit)
        rows.append((handle, plain_text(label(layer) if label else layer.title)))
    return rows


def status_handles(statuses, unit, *, halos=()):
    """Legend pairs for the line statuses present (dash and fade), and the halo of each quality in ``halos``."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    rows = []
    for status, style in STATUS_STYLE.items():
        if status in statuses:
            linestyle, alpha = _linestyle(status)
            rows.append((Line2D([], [], color="#333333", lw=1.6 * unit, alpha=alpha, linestyle=linestyle,
                                dash_capstyle="round"), style["label"]))
    for quality in HALO_QUALITIES:
        if quality in halos:
            halo = [patheffects.Stroke(linewidth=6 * unit, foreground="#333333", alpha=0.18), patheffects.Normal()]
            rows.append((Line2D([], [], color="#333333", lw=1.2 * unit, path_effects=halo),
                         f"{QUALITY_STYLE[quality]['label']} (pale halo)"))
    return rows
