"""The page of a printed figure: paper or pixel size, resolution, type sizes, and turning a Figure into bytes.

Everything on a figure is sized in points from :attr:`Page.unit`, which
grows with the page (the square root of its area, 1.0 on A4), so a PNG
3,000 px wide looks like a sharper 1,500 px one, an A3 sheet like an
enlarged A4, and text never shrinks to specks. ``dpi`` only says how many
pixels an inch gets (PNG) or which physical size pixel dimensions mean
(SVG, PNG metadata). Matplotlib's object-oriented API only (``Figure`` +
``FigureCanvasAgg``): no pyplot, no global figure manager, nothing shared
between threads but matplotlib's per-thread font cache, so exports need no
lock. Text from data is drawn with ``parse_math=False`` (:func:`plain_text`
prepares it): a ``$\\macro$`` in a layer title is shown, never parsed.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from layers.errors import BadParameter

__all__ = [
    "DEFAULT_DPI",
    "DPI_RANGE",
    "FIGURE_DOWNLOADS",
    "FIGURE_FORMATS",
    "ORIENTATIONS",
    "PAPERS_MM",
    "SIZE_RANGE_PX",
    "Page",
    "TypeSizes",
    "configure_matplotlib",
    "figure_page",
    "new_figure",
    "plain_text",
    "release_figure",
    "render_figure",
    "wrap_text",
]

FIGURE_FORMATS = ("png", "svg", "pdf")
# The figure entries of every page's download list (maps, corridors, routes): (label, export options).
FIGURE_DOWNLOADS = (("PDF figure (A4 landscape)", {"format": "pdf", "paper": "a4"}),
                    ("PNG figure (A4, 300 dpi)", {"format": "png", "paper": "a4", "dpi": "300"}),
                    ("SVG figure (editable text)", {"format": "svg"}))
PAPERS_MM = {"a4": (210.0, 297.0), "a3": (297.0, 420.0), "letter": (215.9, 279.4)}
ORIENTATIONS = ("landscape", "portrait")
DEFAULT_DPI = 150
DPI_RANGE = (72, 600)
SIZE_RANGE_PX = (200, 12000)
_A4_SQRT_AREA_IN = math.sqrt(210.0 * 297.0) / 25.4
_MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
# Written into every file; no creation date, so the same request gives the same bytes (ETag-friendly).
_CREATOR = "mapsvc (matplotlib)"


@dataclass(frozen=True)
class TypeSizes:
    """Type sizes in points for a page of type unit ``unit`` (1.0 on A4)."""

    unit: float

    @property
    def title(self):
        return 15.0 * self.unit

    @property
    def subtitle(self):
        return 9.5 * self.unit

    @property
    def body(self):
        return 7.4 * self.unit

    @property
    def small(self):
        return 6.3 * self.unit

    @property
    def label(self):
        return 6.6 * self.unit

    @property
    def country(self):
        return 8.2 * self.unit


@dataclass(frozen=True)
class Page:
    """A figure's page: size in inches, pixels per inch, output format, and the paper it came from (if any)."""

    width_in: float
    height_in: float
    dpi: int
    fmt: str
    paper: str | None = None
    orientation: str | None = None

    @property
    def pixels(self):
        """(width, height) in pixels of a PNG of this page (Agg truncates: see :func:`_whole_px_in`)."""
        return int(self.width_in * self.dpi), int(self.height_in * self.dpi)

    @property
    def unit(self):
        """The type unit: 1.0 on an A4 sheet, growing with the square root of the page area."""
        return min(max(math.sqrt(self.width_in * self.height_in) / _A4_SQRT_AREA_IN, 0.45), 4.0)

    @property
    def sizes(self):
        return TypeSizes(self.unit)

    @property
    def mimetype(self):
        return _MIME[self.fmt]

    @property
    def landscape(self):
        return self.width_in >= self.height_in * 1.15


def _choice(name, value, choices, default):
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text not in choices:
        raise BadParameter(name, f"{value!r} is not one of {', '.join(choices)}")
    return text


def _whole(name, value, lo, hi, unit):
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise BadParameter(name, f"{value!r} is not a whole number of {unit}") from None
    if not lo <= number <= hi:
        raise BadParameter(name, f"{number} is outside {lo}..{hi} {unit}")
    return number


def figure_page(fmt, *, paper=None, orientation=None, dpi=None, width=None, height=None,
                default_width_px=1600, default_height_px=1000, max_pixels=70_000_000):
    """The :class:`Page` a request or the CLI asks for, or BadParameter naming the option that is wrong.

    ``paper`` (a4, a3, letter) with ``orientation`` (landscape by default)
    sizes the page; PDF always has one (A4 landscape by default). Without
    ``paper``, PNG and SVG take ``width`` x ``height`` pixels. ``dpi``
    (72..600, default 150) gives pixels per inch. A PNG of more than
    ``max_pixels`` pixels is refused before anything is drawn.
    """
    fmt = _choice("format", fmt, FIGURE_FORMATS, None)
    dpi = DEFAULT_DPI if dpi in (None, "") else _whole("dpi", dpi, *DPI_RANGE, "dots per inch")
    sized = [n for n, v in (("width", width), ("height", height)) if v not in (None, "")]
    if fmt == "pdf" and paper in (None, "") and sized:
        raise BadParameter(sized[0], "PDF pages are sized by paper=a4|a3|letter and orientation=, not pixels")
    if paper not in (None, "") or fmt == "pdf":
        if sized:
            raise BadParameter(sized[0], "give either paper= (with orientation=) or width= and height=, not both")
        paper = _choice("paper", paper, tuple(PAPERS_MM), "a4")
        orientation = _choice("orientation", orientation, ORIENTATIONS, "landscape")
        short, long = (v / 25.4 for v in PAPERS_MM[paper])
        w_in, h_in = (long, short) if orientation == "landscape" else (short, long)
        if fmt == "png":  # whole pixels, rounded as paper pixel sizes are quoted (A4 at 300 dpi: 2480 x 3508)
            w_in, h_in = _whole_px_in(round(w_in * dpi), dpi), _whole_px_in(round(h_in * dpi), dpi)
        page = Page(w_in, h_in, dpi, fmt, paper, orientation)
    else:
        if orientation not in (None, ""):
            raise BadParameter("orientation", "orientation= goes with paper=a4|a3|letter")
        w_px = default_width_px if width in (None, "") else _whole("width", width, *SIZE_RANGE_PX, "pixels")
        h_px = default_height_px if height in (None, "") else _whole("height", height, *SIZE_RANGE_PX, "pixels")
        if fmt == "png":
            page = Page(_whole_px_in(w_px, dpi), _whole_px_in(h_px, dpi), dpi, fmt)
        else:  # vector: the exact size the pixels mean
            page = Page(w_px / dpi, h_px / dpi, dpi, fmt)
    if fmt == "png":
        w_px, h_px = page.pixels
        if w_px * h_px > max_pixels:
            name = "dpi" if page.paper else "width"
            raise BadParameter(name, f"{w_px} x {h_px} px is {w_px * h_px / 1e6:.1f} megapixels, over this "
                                     f"service's limit of {max_pixels / 1e6:g} (EXPORT_MAX_PIXELS); ask for a "
                                     "lower dpi or a smaller size, or for PDF or SVG, which are vector")
    return page


def _whole_px_in(px, dpi):
    """Inches that make exactly ``px`` pixels at ``dpi``: Agg truncates inches x dpi, and 1600 / 150 * 150
    may come out a hair under 1600, so a hundredth of a pixel is added."""
    return (px + 0.01) / dpi


def plain_text(value):
    """Text from data as one line for matplotlib (whitespace and line breaks collapsed); drawn with
    ``parse_math=False`` it is shown literally, ``$`` and ``\\`` included."""
    return " ".join(str(value).split())


def wrap_text(text, width, measure):
    """Greedy word wrap of ``text`` into lines at most ``width`` wide (``measure(str)`` in the same unit).

    A word longer than the width is cut where it must be, so no line ever
    runs off the page.
    """
    lines, current = [], ""
    for word in plain_text(text).split(" "):
        candidate = f"{current} {word}" if current else word
        if measure(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while len(current) > 1 and measure(current) > width:  # a single overlong word: hard cut
            lo, hi = 1, len(current) - 1  # the longest prefix that fits, by bisection
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if measure(current[:mid]) <= width else (lo, mid - 1)
            lines.append(current[:lo])
            current = current[lo:]
    if current:
        lines.append(current)
    return lines


def new_figure(page):
    """A ``Figure`` of the page's size on its own Agg canvas, and a small renderer to measure text with.

    The measuring renderer is 8 x 8 px at the figure's dpi: text metrics do not
    depend on the canvas size, so laying out a 600 dpi A3 page costs no 280 MB buffer.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
    from matplotlib.figure import Figure

    configure_matplotlib()
    dpi = page.dpi if page.fmt == "png" else 72
    fig = Figure(figsize=(page.width_in, page.height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig, RendererAgg(8, 8, dpi)


# Read by matplotlib's file writers at save time, and by Text for any label not given parse_math=False:
# set once per process, always to these values, so concurrent exports never see each other's settings
# (rc_context per export would: it restores the previous values while another thread is still saving).
# One font family, matplotlib's own DejaVu Sans: the same glyphs on every machine, and one font file per weight
# embedded in a PDF (with the default fallback list, other installed fonts are embedded too, at ~1 s each).
_RC = {"svg.fonttype": "none", "svg.hashsalt": "mapsvc", "pdf.fonttype": 42, "text.parse_math": False,
       "font.family": ["DejaVu Sans"]}


def configure_matplotlib():
    """Fonts as text in SVG (``<text>``) and PDF (TrueType), stable SVG ids, math parsing off. Idempotent."""
    import matplotlib

    for key, value in _RC.items():
        if matplotlib.rcParams[key] != value:
            matplotlib.rcParams[key] = value


def render_figure(fig, page, *, title=""):
    """The figure as PNG, SVG (real ``<text>``) or PDF (one page, TrueType text) bytes; the figure is freed.

    Freed means: the artists are cleared and the canvas's pixel buffer
    dropped here, not whenever the garbage collector next breaks the
    Figure/canvas reference cycle (that delay let 40 big exports grow a
    server to 9.9 GB).
    """
    buffer = io.BytesIO()
    metadata = {"png": {"Software": _CREATOR, "Title": plain_text(title)},
                "svg": {"Date": None, "Creator": _CREATOR, "Title": plain_text(title)},
                "pdf": {"CreationDate": None, "Creator": _CREATOR, "Producer": _CREATOR,
                        "Title": plain_text(title)}}[page.fmt]
    try:
        configure_matplotlib()
        fig.savefig(buffer, format=page.fmt, dpi=page.dpi if page.fmt == "png" else 72, metadata=metadata)
    finally:
        release_figure(fig)
    return buffer.getvalue()


def release_figure(fig):
    """Let go of the canvas's renderer (the pixel buffer) now, and of the figure's artists.

    Texts keep the renderer that last drew them (``Text._renderer``) and live
    in reference cycles with their axes, so without this the buffer (64 MB
    for 16 megapixels) stays until the garbage collector's next full pass.
    """
    canvas = fig.canvas
    renderer = getattr(canvas, "renderer", None)
    for artist in fig.findobj():
        if getattr(artist, "_renderer", None) is not None:
            artist._renderer = None
    fig.clear()
    if renderer is not None:
        del canvas.renderer
    canvas._lastKey = None
