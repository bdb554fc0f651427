"""Map furniture of a printed figure: scale bar, north arrow, graticule, inset locator, and labels that fit.

The scale bar's length is true ground distance measured on the ellipsoid
where the bar is drawn, and the arrow points to true north where it stands
(:class:`geo.mapframe.MapPlane`). Labels are placed one at a time in
priority order (countries, then the given points): a label is kept only
where it stays inside the frame and overlaps no label, furniture or marker
placed before it, trying several positions around its point and preferring
those that cover no drawn line.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.ops import polylabel

from geo.mapframe import nice_km
from webapp.export.figures_map import COLOURS, MapFrame, draw_basemap, region_outline
from webapp.export.figures_page import plain_text

__all__ = ["LabelPlacer", "draw_graticule", "draw_inset", "draw_north_arrow", "draw_scale_bar",
           "label_countries", "label_points"]

_HALO = "white"
# Where a point label may sit, as (dx, dy) in label heights and its alignment: right, left, above, below, corners.
_AROUND = [((0.55, 0.0), "left", "center"), ((-0.55, 0.0), "right", "center"), ((0.0, 0.6), "center", "bottom"),
           ((0.0, -0.6), "center", "top"), ((0.45, 0.45), "left", "bottom"), ((-0.45, 0.45), "right", "bottom"),
           ((0.45, -0.45), "left", "top"), ((-0.45, -0.45), "right", "top")]


def _add_halo(frame, text, width=2.2):
    """A white halo under ``text``: a copy drawn as a stroked outline just beneath it.

    The text itself keeps no path effect, because matplotlib draws text with
    path effects as outlines: the PDF and SVG would lose their real, selectable text.
    """
    from matplotlib import patheffects

    halo = frame.ax.annotate(text.get_text(), xy=text.xy, xytext=text.xyann, textcoords=text.anncoords,
                             ha=text.get_ha(), va=text.get_va(), fontproperties=text.get_fontproperties(),
                             color=_HALO, parse_math=False, annotation_clip=False, zorder=text.get_zorder() - 0.01,
                             path_effects=[patheffects.Stroke(linewidth=width * frame.unit, foreground=_HALO)])
    return halo


class LabelPlacer:
    """Keeps the display boxes taken so far; places a text only where it fits."""

    def __init__(self, frame: MapFrame, *, pad_pt=1.5):
        self.frame = frame
        self.pad = pad_pt * frame.unit * frame.fig.dpi / 72.0
        self.inside = frame.ax.get_window_extent(frame.renderer).padded(-self.pad)
        self.taken = list(frame.obstacles)
        ink = [g for g in frame.ink if g is not None and not shapely.is_empty(g)]
        self._ink = shapely.STRtree(ink) if ink else None
        self._to_data = frame.ax.transData.inverted()

    def block(self, bbox):
        """Mark a display box as taken (furniture, markers)."""
        self.taken.append(bbox)

    def free(self, bbox):
        """Inside the frame and clear of everything taken."""
        if not (self.inside.x0 <= bbox.x0 and bbox.x1 <= self.inside.x1 and self.inside.y0 <= bbox.y0
                and bbox.y1 <= self.inside.y1):
            return False
        grown = bbox.padded(self.pad)
        return not any(grown.overlaps(other) for other in self.taken)

    def covers_ink(self, bbox):
        """Whether the box lies over a drawn line or marker."""
        (x0, y0), (x1, y1) = self._to_data.transform([[bbox.x0, bbox.y0], [bbox.x1, bbox.y1]])
        return self.ink_in(x0, y0, x1, y1) > 0

    def ink_in(self, x0, y0, x1, y1):
        """How many drawn geometries meet the plane box (x0, y0, x1, y1)."""
        if self._ink is None:
            return 0
        return len(self._ink.query(shapely.box(x0, y0, x1, y1), predicate="intersects"))

    def place(self, x, y, text, *, size, options, avoid_ink=True, **style):
        """Annotate ``text`` at plane (x, y) in the first free spot of ``options`` (offsets in label heights).

        Spots over no line come first when ``avoid_ink``. Returns the kept text, or None (nothing drawn).
        """
        ax, renderer = self.frame.ax, self.frame.renderer
        fitting = []
        for (dx, dy), ha, va in options:
            label = ax.annotate(plain_text(text), xy=(x, y), xytext=(dx * size, dy * size),
                                textcoords="offset points", ha=ha, va=va, fontsize=size, parse_math=False,
                                annotation_clip=False, zorder=12, **style)
            bbox = label.get_window_extent(renderer)
            if self.free(bbox):
                if not avoid_ink or not self.covers_ink(bbox):
                    for other, _ in fitting:
                        other.remove()
                    self.block(bbox)
                    _add_halo(self.frame, label)
                    return label
                fitting.append((label, bbox))
                continue
            label.remove()
        if fitting:
            label, bbox = fitting[0]
            for other, _ in fitting[1:]:
                other.remove()
            self.block(bbox)
            _add_halo(self.frame, label)
            return label
        return None


def _points_per_m(frame):
    width_in = frame.ax.get_position().width * frame.fig.get_size_inches()[0]
    return width_in * 72.0 / frame.width_m


def _block_texts(placer, texts, pad_pt=2.0):
    from matplotlib.transforms import Bbox

    boxes = [t.get_window_extent(placer.frame.renderer) for t in texts]
    box = Bbox.union(boxes).padded(pad_pt * placer.frame.unit * placer.frame.fig.dpi / 72.0)
    placer.block(box)
    return box


def draw_scale_bar(frame, placer, *, size):
    """A two-part scale bar in the lower corner with less drawn on it: its length is geodesic km measured at
    the bar's own position and latitude."""
    from matplotlib.patches import FancyBboxPatch, Rectangle

    ax, plane = frame.ax, frame.plane
    x0, y0, x1, _ = frame.extent
    per_m = _points_per_m(frame)
    ya = y0 + 0.035 * frame.height_m + 2.6 * size / per_m
    span = 0.3 * frame.width_m
    km = nice_km(float(plane.ground_km(x0 + 0.035 * frame.width_m, ya, x0 + 0.035 * frame.width_m + span, ya)))
    top = ya + 2.2 * size / per_m
    left_ink = placer.ink_in(x0, y0, x0 + 0.07 * frame.width_m + span, top)
    right_ink = placer.ink_in(x1 - 0.07 * frame.width_m - span, y0, x1, top)
    if right_ink < left_ink:
        xa = x1 - 0.035 * frame.width_m - plane.plane_length_m(x1 - 0.035 * frame.width_m - span, ya, km)
    else:
        xa = x0 + 0.035 * frame.width_m
    length = plane.plane_length_m(xa, ya, km)
    height = 0.45 * size / per_m
    for i, colour in enumerate(("#1d2329", "white")):
        ax.add_artist(Rectangle((xa + i * length / 2, ya), length / 2, height, facecolor=colour,
                               edgecolor="#1d2329", linewidth=0.6 * frame.unit, zorder=14))
    texts = [ax.text(xa + f * length, ya + height + 0.25 * size / per_m, text, ha="center", va="bottom",
                     fontsize=size, zorder=14, parse_math=False)
             for f, text in ((0, "0"), (0.5, f"{km / 2:g}"), (1, f"{km:g} km"))]
    _, lat = plane.inverse(xa + length / 2, ya)
    hemi = "N" if float(lat) >= 0 else "S"
    texts.append(ax.text(xa + length / 2, ya - 0.3 * size / per_m, f"geodesic, at {abs(float(lat)):.1f}°{hemi}",
                         ha="center", va="top", fontsize=size * 0.85, color="#33404a", zorder=14,
                         parse_math=False))
    box = _block_texts(placer, texts)
    (bx0, by0), (bx1, by1) = ax.transData.inverted().transform([[box.x0, box.y0], [box.x1, box.y1]])
    ax.add_artist(FancyBboxPatch((bx0, by0), bx1 - bx0, by1 - by0, boxstyle="round,pad=0,rounding_size=0",
                                facecolor="white", edgecolor="none", alpha=0.82, zorder=13))
    return km


def draw_north_arrow(frame, placer, *, size):
    """A north arrow in the upper corner with less drawn on it, turned to true north where it stands."""
    from matplotlib.patches import Polygon
    from matplotlib.transforms import Affine2D, Bbox, ScaledTranslation

    ax, fig = frame.ax, frame.fig
    x0, _, x1, y1 = frame.extent
    per_m = _points_per_m(frame)
    reach = 4.5 * size / per_m
    right = x1 - 0.035 * frame.width_m - 1.2 * size / per_m
    left = x0 + 0.035 * frame.width_m + 1.2 * size / per_m
    ya = y1 - 0.035 * frame.height_m - 3.4 * size / per_m
    xa = left if placer.ink_in(left - reach, ya - reach, left + reach, y1) < placer.ink_in(
        right - reach, ya - reach, right + reach, y1) else right
    angle = float(frame.plane.north_deg(xa, ya))
    s = size / 72.0  # inches per type size
    place = Affine2D().rotate_deg(angle) + fig.dpi_scale_trans + ScaledTranslation(xa, ya, ax.transData)
    dark = [(0, 1.5 * s), (-0.55 * s, -1.0 * s), (0, -0.45 * s)]
    light = [(0, 1.5 * s), (0.55 * s, -1.0 * s), (0, -0.45 * s)]
    patches = [Polygon(dark, closed=True, facecolor="#1d2329", edgecolor="#1d2329", linewidth=0.6 * frame.unit,
                       transform=place, zorder=14),
               Polygon(light, closed=True, facecolor="white", edgecolor="#1d2329", linewidth=0.6 * frame.unit,
                       transform=place, zorder=14)]
    for patch in patches:
        ax.add_artist(patch)
    tip = Affine2D().rotate_deg(angle).transform([(0, 1.55 * s)])[0]
    label = ax.annotate("N", xy=(xa, ya), xytext=(tip[0] * 72, tip[1] * 72), textcoords="offset points",
                        ha="center", va="bottom", fontsize=size * 1.1, weight="bold", zorder=14,
                        annotation_clip=False, parse_math=False)
    _add_halo(frame, label)
    boxes = [p.get_window_extent(frame.renderer) for p in patches]
    placer.block(Bbox.union([*boxes, label.get_window_extent(frame.renderer)]).padded(
        2 * frame.unit * fig.dpi / 72.0))
    return angle


def _step_deg(span):
    for step in (0.25, 0.5, 1, 2, 5, 10, 15, 30):
        if span / step <= 7:
            return step
    return 45


def _deg_text(value, pos, neg):
    return f"{abs(value):g}°{pos if value > 0 else neg}" if value else "0°"


def draw_graticule(frame, placer, *, size):
    """Meridians and parallels every 0.25-30 degrees, labelled where they meet the left and bottom edges."""
    from matplotlib.collections import LineCollection

    ax, plane = frame.ax, frame.plane
    lon0, lat0, lon1, lat1 = frame.lonlat_extent()
    step = _step_deg(max(lon1 - lon0, lat1 - lat0))
    lons = np.arange(np.floor(lon0 / step) * step, lon1 + step, step)
    lats = np.arange(np.floor(lat0 / step) * step, lat1 + step, step)
    lats = lats[np.abs(lats) < 90]
    t = np.linspace(0, 1, 120)
    merid = [np.column_stack(plane.forward(np.full_like(t, lon), lat0 - step + (lat1 - lat0 + 2 * step) * t))
             for lon in lons]
    paral = [np.column_stack(plane.forward(lon0 - step + (lon1 - lon0 + 2 * step) * t, np.full_like(t, lat)))
             for lat in lats]
    ax.add_collection(LineCollection(merid + paral, colors=COLOURS["graticule"], linewidths=0.35 * frame.unit,
                                     alpha=0.55, zorder=4), autolim=False)
    x0, y0, _, _ = frame.extent
    style = {"size": size, "color": "#4d5a66", "avoid_ink": False}
    for lon, line in zip(lons, merid):
        order = np.argsort(line[:, 1])
        x = float(np.interp(y0, line[order, 1], line[order, 0]))
        placer.place(x, y0, _deg_text(float(lon), "E", "W"), options=[((0.3, 0.7), "left", "bottom")], **style)
    for lat, line in zip(lats, paral):
        order = np.argsort(line[:, 0])
        y = float(np.interp(x0, line[order, 0], line[order, 1]))
        placer.place(x0, y, _deg_text(float(lat), "N", "S"), options=[((0.7, 0.3), "left", "bottom")], **style)


def label_countries(frame, placer, names, shapes, *, size):
    """Country names (grey, larger) where a country shows enough of itself in the view, largest first."""
    x0, y0, x1, y1 = frame.extent
    view = shapely.box(x0, y0, x1, y1)
    if not len(shapes):
        return []
    visible = shapely.intersection(shapes, view)
    area = shapely.area(visible) / view.area
    placed = []
    for i in np.argsort(-area):
        if area[i] < 0.012:
            break
        parts = shapely.get_parts(visible[i])
        part = parts[np.argmax(shapely.area(parts))]
        spot = polylabel(part, tolerance=max(frame.width_m, frame.height_m) / 400)
        scale = float(np.clip(np.sqrt(area[i]) * 2.2, 0.85, 1.3))
        label = placer.place(spot.x, spot.y, names[i], size=size * scale, avoid_ink=False,
                             options=[((0, 0), "center", "center"), ((0, 1.1), "center", "center"),
                                      ((0, -1.1), "center", "center")],
                             color=COLOURS["country"])
        if label is not None:
            placed.append(names[i])
    return placed


def label_points(frame, placer, points, *, size, limit):
    """Dots and names for ``points`` [(lon, lat, name, colour, dot)] in priority order, at most ``limit``.

    A point whose name finds no free spot is left out altogether (no
    nameless dots); ``dot=False`` names a marker already drawn.
    """
    if not points:
        return []
    lon = np.array([p[0] for p in points], dtype=float)
    lat = np.array([p[1] for p in points], dtype=float)
    x, y = frame.plane.forward(lon, lat)
    from matplotlib.transforms import Bbox

    ex0, ey0, ex1, ey1 = frame.extent
    radius = 1.6 * frame.unit * frame.fig.dpi / 72.0
    near = size * 1.6 * frame.fig.dpi / 72.0  # a second name this close to a named point repeats it
    anchors = np.empty((0, 2))
    placed = []
    for i, (_, _, name, colour, dot) in enumerate(points):
        if len(placed) >= limit:
            break
        if not (ex0 < x[i] < ex1 and ey0 < y[i] < ey1):
            continue
        here = frame.ax.transData.transform((x[i], y[i]))
        if len(anchors) and np.hypot(*(anchors - here).T).min() < near:
            continue
        box = None
        if dot:  # the dot's own box (collections report no tight extent of one marker)
            cx, cy = frame.ax.transData.transform((x[i], y[i]))
            box = Bbox.from_bounds(cx - radius, cy - radius, 2 * radius, 2 * radius)
            if not placer.free(box):
                continue
        label = placer.place(float(x[i]), float(y[i]), name, size=size, options=_AROUND, color=colour)
        if label is None:
            continue
        if box is not None:
            placer.block(box)
            frame.ax.scatter([x[i]], [y[i]], s=(2.6 * frame.unit) ** 2, c=colour, edgecolors="white",
                             linewidths=0.5 * frame.unit, zorder=11)
        anchors = np.vstack([anchors, here])
        placed.append(name)
    return placed


def draw_inset(catalog, fig, rect_in, frame, renderer):
    """A locator map at ``rect_in`` (inches): the region (or four times the view) with the view outlined."""
    from matplotlib.patches import Polygon

    fw, fh = fig.get_size_inches()
    left, bottom, width, height = rect_in
    ax = fig.add_axes((left / fw, bottom / fh, width / fw, height / fh))
    plane = frame.plane
    x0, y0, x1, y1 = frame.extent
    region = region_outline(plane)
    view = shapely.box(x0, y0, x1, y1)
    if region.contains(view.centroid):
        rx0, ry0, rx1, ry1 = region.bounds
    else:
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        rx0, ry0, rx1, ry1 = cx - 2 * w, cy - 2 * h, cx + 2 * w, cy + 2 * h
    w, h = rx1 - rx0, ry1 - ry0
    cx, cy = (rx0 + rx1) / 2, (ry0 + ry1) / 2
    if h / w < height / width:
        h = w * height / width
    else:
        w = h * width / height
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor(COLOURS["nodata"])
    for spine in ax.spines.values():
        spine.set_edgecolor(COLOURS["frame"])
        spine.set_linewidth(0.6 * frame.unit)
    inset = MapFrame(fig, ax, plane, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), frame.unit, frame.dpi,
                     renderer, band=0)
    draw_basemap(catalog, inset, border_lw=0.25)
    ax.add_artist(Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], closed=True, facecolor="#c0392b",
                         alpha=0.12, edgecolor="#c0392b", linewidth=1.1 * frame.unit, zorder=5))
    return ax

