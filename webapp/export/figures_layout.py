"""The layout of a printed figure: title block, map frame, legend and locator panel, credits, all measured.

Every block is measured with the real font metrics before anything is
placed: titles and credits are word-wrapped to the page width, the legend
shrinks (and takes two columns on portrait pages) until it fits its panel,
and the map frame takes exactly the room that is left, so nothing is cut
off and no band of the page stays empty at any size. Landscape pages put
the legend and the locator map in a column right of the map; portrait and
square pages put them in a band below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from webapp.export.figures_furniture import (
    LabelPlacer,
    draw_graticule,
    draw_inset,
    draw_north_arrow,
    draw_scale_bar,
    label_countries,
    label_points,
)
from webapp.export.figures_map import draw_basemap, open_frame
from webapp.export.figures_page import new_figure, plain_text, render_figure, wrap_text

__all__ = ["FigureContent", "compose", "credit_lines"]


@dataclass
class FigureContent:
    """What a figure shows: texts, the area to fit, the drawing, legend sections and credits."""

    title: str
    subtitle: str
    bounds: tuple  # (minlon, minlat, maxlon, maxlat) the map must show
    draw: object  # draw(frame): the data, in the frame's plane
    legend: list  # [(section title, [(handle, label), ...]), ...]
    sources: list  # attribution lines of what is shown (deduplicated here)
    licences: list
    as_of: str  # the dating of the facts shown, one sentence
    url: str | None = None
    notes: list = field(default_factory=list)
    points: list = field(default_factory=list)  # [(lon, lat, name, colour, dot)], label priority order
    country_fill: dict = field(default_factory=dict)  # {iso3: colour} of countries coloured by a bloc


def credit_lines(content):
    """The credit paragraphs: sources and licences (each clause once), the facts' date and URL, the notes."""
    clauses = []
    for text in content.sources:
        for clause in plain_text(text).split("; "):
            if clause and clause.lower() not in (c.lower() for c in clauses):
                clauses.append(clause)
    licences = []
    for text in content.licences:
        for part in plain_text(text).split(" / "):
            if part and part.lower() not in (p.lower() for p in licences):
                licences.append(part)
    lines = [f"Sources: {'; '.join(clauses)}." + (f" Licences: {', '.join(licences)}." if licences else "")]
    lines.append(content.as_of + (f" Interactive map: {content.url}" if content.url else ""))
    lines += content.notes
    return lines


class _Measure:
    """Text widths and line heights in inches, from the figure's measuring renderer.

    A line's width is the sum of its words' widths and the spaces between
    them, each word measured once (laying out every candidate line anew
    would cost one FreeType layout per word per paragraph). A measured
    string carries a fixed overhead (the ink box's side bearings), taken
    off each word and counted once per line; kerning across a space is nil
    in DejaVu Sans, and 1% is kept in hand for rounding.
    """

    def __init__(self, fig, renderer):
        self.fig, self.renderer = fig, renderer
        self._words = {}

    def word_in(self, word, size, weight="normal"):
        key = (word, size, weight)
        if key not in self._words:
            from matplotlib.font_manager import FontProperties

            w, _, _ = self.renderer.get_text_width_height_descent(word, FontProperties(size=size, weight=weight),
                                                                   ismath=False)
            self._words[key] = w / self.fig.dpi
        return self._words[key]

    def width_in(self, text, size, weight="normal"):
        words = [w for w in text.split(" ") if w]
        if not words:
            return 0.0
        single, double = self.word_in("x", size, weight), self.word_in("xx", size, weight)
        overhead, space = 2 * single - double, self.word_in("x x", size, weight) - double
        net = sum(self.word_in(w, size, weight) - overhead for w in words)
        return 1.01 * (net + overhead + (len(words) - 1) * space)

    def wrap(self, text, width_in, size, weight="normal"):
        return wrap_text(text, width_in, lambda s: self.width_in(s, size, weight))

    @staticmethod
    def line_in(size, spacing=1.22):
        return size * spacing / 72.0


def _paragraphs(fig, measure, lines, x_in, y_in, width_in, size, *, top, **style):
    """Wrapped paragraphs at (x, y) inches, anchored at their top or bottom edge; returns their height."""
    wrapped = [w for line in lines for w in measure.wrap(line, width_in, size, style.get("weight", "normal"))]
    if not wrapped:
        return 0.0
    fw, fh = fig.get_size_inches()
    fig.text(x_in / fw, y_in / fh, "\n".join(wrapped), ha="left", va="top" if top else "bottom", fontsize=size,
             linespacing=1.22, parse_math=False, **style)
    return len(wrapped) * measure.line_in(size)


def _text_height(measure, lines, width_in, size, weight="normal"):
    return sum(len(measure.wrap(line, width_in, size, weight)) for line in lines) * measure.line_in(size)


def _legend_stack(fig, rect_in, sections, size, renderer, measure, *, ncols=1, draw=True):
    """Legend sections stacked top-down in ``rect_in``; returns (height used in inches, axes or None)."""
    from matplotlib.legend import Legend

    fw, fh = fig.get_size_inches()
    left, bottom, width, height = rect_in
    ax = fig.add_axes((left / fw, bottom / fh, width / fw, height / fh))
    ax.set_axis_off()
    column_in = width / ncols - 3.6 * size / 72.0
    y = 1.0
    used = 0.0
    for title, rows in sections:
        if not rows:
            continue
        labels = ["\n".join(measure.wrap(label, column_in, size)) for _, label in rows]
        legend = Legend(ax, [h for h, _ in rows], labels, loc="upper left", bbox_to_anchor=(0.0, y),
                        frameon=False, fontsize=size, title=plain_text(title), alignment="left",
                        title_fontproperties={"weight": "bold", "size": size * 1.05}, borderaxespad=0.0,
                        borderpad=0.0, labelspacing=0.45, handlelength=2.4, handletextpad=0.7,
                        ncols=ncols if len(rows) > 3 else 1, columnspacing=1.0)
        for text in [*legend.get_texts(), legend.get_title()]:
            text.set_parse_math(False)
        ax.add_artist(legend)
        box = legend.get_window_extent(renderer)
        step = box.height / fig.dpi + 0.6 * size / 72.0
        used += step
        y -= step / height
    if not draw:
        ax.remove()
        return used, None
    return used, ax


def _fit_legend(fig, rect_in, sections, size, renderer, measure, *, ncols_options=(1,)):
    """The largest type size (down to 55%) and column count at which the legend fits ``rect_in``."""
    trial = size
    while True:
        for ncols in ncols_options:
            used, _ = _legend_stack(fig, rect_in, sections, trial, renderer, measure, ncols=ncols, draw=False)
            if used <= rect_in[3] or trial <= size * 0.55:
                _legend_stack(fig, rect_in, sections, trial, renderer, measure, ncols=ncols)
                return trial, ncols
        trial *= 0.92


def compose(catalog, content, page):
    """Draw ``content`` on ``page``; return the file's bytes (PNG, SVG or PDF)."""
    fig, renderer = new_figure(page)
    try:
        return _compose(catalog, content, page, fig, renderer)
    except BaseException:
        from webapp.export.figures_page import release_figure

        release_figure(fig)
        raise


def _compose(catalog, content, page, fig, renderer):
    sizes, unit = page.sizes, page.unit
    measure = _Measure(fig, renderer)
    W, H = page.width_in, page.height_in
    margin = min(0.32 * unit, 0.06 * min(W, H))
    gap = 0.14 * unit
    inner = W - 2 * margin
    # header: title and subtitle, wrapped
    top = H - margin
    top -= _paragraphs(fig, measure, [content.title], margin, top, inner, sizes.title, top=True, weight="bold",
                       color="#1d2329")
    if content.subtitle:
        top -= 0.25 * sizes.subtitle / 72.0
        top -= _paragraphs(fig, measure, [content.subtitle], margin, top, inner, sizes.subtitle, top=True,
                           color="#3d4852")
    top -= gap * 1.3
    # footer: credits, shrunk until they take at most a fifth of the page
    lines = credit_lines(content)
    small = sizes.small
    while _text_height(measure, lines, inner, small) > 0.2 * H and small > sizes.small * 0.6:
        small *= 0.92
    bottom = margin + _paragraphs(fig, measure, lines, margin, margin, inner, small, top=False, color="#33404a")
    bottom += gap * 1.3
    body_h = top - bottom
    if page.landscape:
        panel_w = min(max(0.25 * inner, 2.1 * unit), 3.6 * unit)
        map_rect = (margin, bottom, inner - panel_w - gap, body_h)
        natural, _ = _legend_stack(fig, (0, 0, panel_w, body_h), content.legend, sizes.body, renderer, measure,
                                   draw=False)
        # the locator takes what the legend leaves, between 0.3 of the column and a square
        inset_h = min(max(body_h - natural - gap * 1.5, min(panel_w * 0.6, 0.3 * body_h)), panel_w)
        inset_rect = (W - margin - panel_w, bottom, panel_w, inset_h)
        legend_rect = (W - margin - panel_w, bottom + inset_h + gap * 1.5, panel_w, body_h - inset_h - gap * 1.5)
        ncols_options = (1,)
    else:
        inset_w = min(0.34 * inner, 2.8 * unit)
        legend_w = inner - inset_w - gap * 1.5
        natural, _ = _legend_stack(fig, (margin, bottom, legend_w, body_h), content.legend, sizes.body, renderer,
                                   measure, ncols=2, draw=False)
        panel_h = min(max(natural, inset_w * 0.8, 0.2 * body_h), 0.36 * body_h)
        map_rect = (margin, bottom + panel_h + gap * 1.5, inner, body_h - panel_h - gap * 1.5)
        inset_rect = (W - margin - inset_w, bottom, inset_w, min(inset_w, panel_h))
        legend_rect = (margin, bottom, legend_w, panel_h)
        ncols_options = (2, 1)
    _fit_legend(fig, legend_rect, content.legend, sizes.body, renderer, measure, ncols_options=ncols_options)
    frame = open_frame(fig, map_rect, content.bounds, unit=unit, dpi=page.dpi if page.fmt == "png" else 300,
                       renderer=renderer)
    names, shapes = draw_basemap(catalog, frame, fill=content.country_fill)
    content.draw(frame)
    placer = LabelPlacer(frame)
    draw_north_arrow(frame, placer, size=sizes.body)
    draw_scale_bar(frame, placer, size=sizes.small)
    draw_graticule(frame, placer, size=sizes.small * 0.9)
    label_countries(frame, placer, names, shapes, size=sizes.country)
    area_in2 = map_rect[2] * map_rect[3]
    label_points(frame, placer, content.points, size=sizes.label, limit=max(6, int(area_in2 * 0.55)))
    draw_inset(catalog, fig, inset_rect, frame, renderer)
    return render_figure(fig, page, title=content.title)
