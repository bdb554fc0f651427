"""The figure plane (geo/mapframe.py): true ground scale and true north where they are drawn; the page
options and the label placement of the figure builders (webapp/export/figures_page.py, figures_furniture.py)."""

import itertools

import numpy as np
import pytest

from geo.geodesic import distance_km
from geo.mapframe import MapPlane, nice_km
from layers.errors import BadParameter
from webapp.export.figures_furniture import LabelPlacer
from webapp.export.figures_map import open_frame
from webapp.export.figures_page import figure_page, new_figure, release_figure, wrap_text


@pytest.mark.parametrize("limit, expected", [(430.0, 200.0), (99.9, 50.0), (1000.0, 1000.0), (0.7, 0.5),
                                             (2.4, 2.0), (7.0, 5.0)])
def test_nice_km(limit, expected):
    assert nice_km(limit) == expected


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan"), float("inf")])
def test_nice_km_refuses_nonsense(bad):
    with pytest.raises(ValueError):
        nice_km(bad)


@pytest.mark.parametrize("lat0", [0.0, 30.0, 45.0, -35.0])
@pytest.mark.parametrize("dx_km, dy_km", [(0, 0), (600, -400), (-900, 700)])
def test_scale_bar_length_is_true_ground_km_where_it_is_drawn(lat0, dx_km, dy_km):
    plane = MapPlane(66.0, lat0)
    x, y = dx_km * 1000.0, dy_km * 1000.0
    for km in (10.0, 200.0, 500.0):
        length = plane.plane_length_m(x, y, km)
        lon0, lat0_ = plane.inverse(x, y)
        lon1, lat1 = plane.inverse(x + length, y)
        assert float(distance_km(lon0, lat0_, lon1, lat1)) == pytest.approx(km, rel=1e-6)


def test_a_degree_based_bar_would_be_wrong_and_this_one_is_not():
    """At 40°N a degree of longitude is 85.4 km, not the 111.3 km of the equator."""
    plane = MapPlane(70.0, 40.0)
    length = plane.plane_length_m(0.0, 0.0, 85.39)
    lon, lat = plane.inverse([0.0, length], [0.0, 0.0])
    assert lon[1] - lon[0] == pytest.approx(1.0, abs=0.01) and abs(lat[1] - lat[0]) < 0.01


def test_true_north():
    plane = MapPlane(66.0, 30.0)
    assert float(plane.north_deg(0.0, 0.0)) == pytest.approx(0.0, abs=1e-9)  # up at the centre
    east, west = plane.forward([75.0, 57.0], [30.0, 30.0])
    tilt_east, tilt_west = plane.north_deg(east, [0.0, 0.0])
    # meridians converge on the pole: east of the centre north leans left (anticlockwise), west of it right
    assert 2.0 < tilt_east < 8.0 and tilt_west == pytest.approx(-tilt_east, abs=1e-6)


def test_plane_bounds_hold_the_curved_edges_of_a_lon_lat_box():
    plane = MapPlane.around((60.0, 24.0, 75.0, 37.0))
    x0, y0, x1, y1 = plane.bounds_xy((60.0, 24.0, 75.0, 37.0))
    lon = np.linspace(60.0, 75.0, 50)
    for lat in (24.0, 37.0):
        x, y = plane.forward(lon, np.full_like(lon, lat))
        assert x.min() >= x0 - 1 and x.max() <= x1 + 1 and y.min() >= y0 - 1 and y.max() <= y1 + 1
    assert plane.lon0 == 67.5 and plane.lat0 == 30.5


def test_ground_km_between_plane_points():
    plane = MapPlane(66.0, 30.0)
    x, y = plane.forward([62.3254, 75.9895], [25.1216, 39.4707])  # Gwadar, Kashgar
    assert float(plane.ground_km(x[0], y[0], x[1], y[1])) == pytest.approx(
        float(distance_km(62.3254, 25.1216, 75.9895, 39.4707)), rel=1e-9)


# --- the page ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("paper, orientation, dpi, pixels", [
    ("a4", "landscape", 300, (3508, 2480)), ("a4", "portrait", 150, (1240, 1754)),
    ("letter", "landscape", 300, (3300, 2550)), ("a3", "portrait", 600, (7016, 9921)),
])
def test_paper_pixels(paper, orientation, dpi, pixels):
    page = figure_page("png", paper=paper, orientation=orientation, dpi=dpi)
    assert page.pixels == pixels


def test_type_grows_with_the_page():
    a4, a3 = figure_page("pdf", paper="a4"), figure_page("pdf", paper="a3")
    assert a4.unit == pytest.approx(1.0) and a3.unit == pytest.approx(2 ** 0.5)
    assert figure_page("png", width=3000, height=2000).unit == pytest.approx(
        2 * figure_page("png", width=1500, height=1000).unit, rel=1e-4)
    assert figure_page("png", width=1600, height=1000, dpi=300).pixels == (1600, 1000)


def test_page_errors_name_the_option():
    with pytest.raises(BadParameter) as err:
        figure_page("png", width=9000, height=9000, max_pixels=70_000_000)
    assert err.value.name == "width" and "81.0 megapixels" in str(err.value)
    with pytest.raises(BadParameter) as err:
        figure_page("png", paper="a3", dpi=600, max_pixels=10_000_000)
    assert err.value.name == "dpi"
    with pytest.raises(BadParameter) as err:
        figure_page("gif")
    assert err.value.name == "format"


def test_wrap_text_never_exceeds_the_width():
    text = "A long credit line with averyveryverylongwordthatcannotfit and more words after it"
    lines = wrap_text(text, 12, len)
    assert all(len(line) <= 12 for line in lines) and "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert wrap_text("", 10, len) == []


# --- labels ----------------------------------------------------------------------------------------------

def test_labels_never_overlap_and_never_leave_the_frame():
    page = figure_page("png", width=800, height=600)
    fig, renderer = new_figure(page)
    frame = open_frame(fig, (0.5, 0.5, 4.0, 3.0), (60.0, 24.0, 75.0, 37.0), unit=page.unit, dpi=page.dpi,
                       renderer=renderer)
    placer = LabelPlacer(frame)
    x0, y0, x1, y1 = frame.extent
    rng = np.random.default_rng(1)
    spots = list(zip(rng.uniform(x0, x1, 60), rng.uniform(y0, y1, 60))) + [(x0, y0), (x1, y1), (x1, y0)] * 3
    from webapp.export.figures_furniture import _AROUND

    labels = [placer.place(x, y, f"Place number {i}", size=7, options=_AROUND) for i, (x, y) in enumerate(spots)]
    kept = [label.get_window_extent(renderer) for label in labels if label is not None]
    assert 5 < len(kept) < len(spots)  # some fit, the rest are left out rather than piled up
    inside = frame.ax.get_window_extent(renderer)
    for box in kept:
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
    for a, b in itertools.combinations(kept, 2):
        assert not a.overlaps(b)
    release_figure(fig)
