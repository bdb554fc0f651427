"""Display simplification: fewer vertices, topology kept, drawn within half a pixel at every zoom band.

The pixel checks use an independent reference: both geometries projected
to Web Mercator pixels with their own formula, sampled every 0.1 px, and
the symmetric Hausdorff distance taken from k-d trees of the samples.
"""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree
from shapely import LineString, MultiLineString, Point

from geo.geodesic import geodesic_length_km
from geo.pixels import ROUNDING_PX, TOLERANCE_PX, pixel_degrees, quantise_decimals, rounding_px, tolerance_degrees
from geo.simplify import FULL_BAND, ZOOM_BANDS, band_zoom, cached_display, display_geometries, zoom_band
from layers.errors import BadParameter

SAMPLE_PX = 0.1
BANDS = range(FULL_BAND)  # the simplified bands (the last one only rounds to 6 decimals)


def mercator_px(geoms, zoom):
    size = 256 * 2.0 ** zoom

    def f(xy):
        lat = np.radians(xy[:, 1])
        return np.column_stack([size * (xy[:, 0] + 180) / 360, size * (1 - np.arcsinh(np.tan(lat)) / np.pi) / 2])

    return shapely.transform(np.asarray(geoms, dtype=object), f)


def drawn_error_px(full, shown, zoom, window=None):
    """Largest symmetric Hausdorff distance (px) between pairs, from samples every SAMPLE_PX along each.

    Measured as drawn: vertices projected to pixels, straight lines between
    them. With ``window`` (lon/lat box) only the samples inside it are
    measured, against the other geometry kept 8 px beyond it (no clip edges).
    """
    a_px, b_px = mercator_px(full, zoom), mercator_px(shown, zoom)
    if window is not None:
        (x0, y1), (x1, y0) = shapely.get_coordinates(mercator_px(shapely.points([window[:2], window[2:]]), zoom))
        a_px = shapely.clip_by_rect(a_px, x0 - 8, y0 - 8, x1 + 8, y1 + 8)
        b_px = shapely.clip_by_rect(b_px, x0 - 8, y0 - 8, x1 + 8, y1 + 8)
    worst = 0.0
    for a, b in zip(a_px, b_px):
        if a is None or a.is_empty or b.is_empty:
            continue
        a, b = (shapely.boundary(g) if g.geom_type.endswith("Polygon") else g for g in (a, b))
        pa = shapely.get_coordinates(shapely.segmentize(a, SAMPLE_PX))
        pb = shapely.get_coordinates(shapely.segmentize(b, SAMPLE_PX))
        for query, target in ((pa, pb), (pb, pa)):
            if window is not None:
                query = query[(query[:, 0] >= x0) & (query[:, 0] <= x1) & (query[:, 1] >= y0) & (query[:, 1] <= y1)]
            if len(query):
                worst = max(worst, cKDTree(target).query(query)[0].max())
    return worst


def junction_gaps_px(full, shown, zoom):
    """Gap (px) on display at every junction of the full lines: a part's end lying on another part."""
    parts = shapely.get_parts(np.asarray(full, dtype=object))
    shown_parts = shapely.get_parts(np.asarray(shown, dtype=object))
    ends = np.r_[shapely.get_coordinates(shapely.get_point(parts, 0)), shapely.get_coordinates(shapely.get_point(parts, -1))]
    shown_ends = np.r_[shapely.get_coordinates(shapely.get_point(shown_parts, 0)),
                       shapely.get_coordinates(shapely.get_point(shown_parts, -1))]
    own = np.r_[np.arange(len(parts)), np.arange(len(parts))]
    e, other = shapely.STRtree(parts).query(shapely.points(ends), predicate="dwithin", distance=1e-9)
    keep = own[e] != other
    e, other = e[keep], other[keep]
    return shapely.distance(mercator_px(shapely.points(shown_ends[e]), zoom), mercator_px(shown_parts[other], zoom))


def new_crossings(full, shown):
    """Pairs of parts that meet more often on display than in the full geometry."""
    parts, shown_parts = (shapely.get_parts(np.asarray(g, dtype=object)) for g in (full, shown))
    i, j = shapely.STRtree(shown_parts).query(shown_parts, predicate="intersects")
    i, j = i[i < j], j[i < j]

    def meets(g):
        hit = shapely.intersection(g[i], g[j])
        return np.where(shapely.is_empty(hit), 0, shapely.get_num_geometries(hit))

    return int((meets(shown_parts) > meets(parts)).sum())


def vertices(gdf):
    return int(shapely.get_num_coordinates(gdf.geometry.values).sum())


def max_decimals(gdf):
    coords = shapely.get_coordinates(gdf.geometry.values)
    for d in range(0, 12):
        if np.allclose(coords, np.round(coords, d), rtol=0, atol=1e-9):
            return d
    return None


def test_pixel_size_and_tolerance():
    # 256-pixel tiles: zoom 0 shows 360 degrees in 256 pixels
    assert pixel_degrees(0) == pytest.approx(1.40625)
    assert pixel_degrees(5) == pytest.approx(1.40625 / 32)
    assert pixel_degrees(5, 60.0) == pytest.approx(1.40625 / 32 / 2)
    assert tolerance_degrees(9, 30.0) == pytest.approx(0.5 * 1.40625 / 512 * np.cos(np.radians(30)))


def test_zoom_bands_cover_every_zoom_once():
    zooms = [z for lo, hi in ZOOM_BANDS for z in range(lo, hi + 1)]
    assert zooms == list(range(0, 23))
    assert [zoom_band(z) for z in (0, 4, 5, 6, 7, 9, 12, 13, 22)] == [0, 0, 1, 1, 2, 3, 4, 5, 5]
    assert band_zoom(0) == 4 and band_zoom(FULL_BAND) == 22


@pytest.mark.parametrize("zoom, lat, decimals", [(0, 0, 1), (3, 0, 2), (4, 0, 2), (5, 50, 3), (6, 30, 3), (8, 30, 3),
                                                 (10, 30, 4), (12, 30, 5), (15, 30, 6), (22, 0, 6)])
def test_quantisation_decimals_by_zoom_and_latitude(zoom, lat, decimals):
    assert quantise_decimals(zoom, lat) == decimals
    if decimals < 6:  # 6 decimals (~0.1 m) is the cap: the data carry no more
        # the fewest decimals whose rounding moves a vertex at most ROUNDING_PX on screen, there
        assert rounding_px(zoom, decimals, lat) <= ROUNDING_PX < rounding_px(zoom, decimals - 1, lat)


def test_boundaries_stay_a_valid_coverage_with_fewer_vertices(catalog):
    full = catalog.layer("boundaries").gdf
    z5, z9 = cached_display(catalog, "boundaries", 1), cached_display(catalog, "boundaries", 3)
    assert vertices(z5) < vertices(z9) < vertices(full)
    assert vertices(z5) < 0.6 * vertices(full)
    for simple in (z5, z9):
        assert simple.is_valid.all()
        assert shapely.coverage_is_valid(simple.geometry.values)  # no gaps or overlaps opened
        assert simple["id"].tolist() == full["id"].tolist()


def test_pakistan_shares_its_simplified_border_with_india(catalog):
    simple = cached_display(catalog, "boundaries", 1).set_index("id").geometry
    shared = shapely.intersection(simple["PAK"].boundary, simple["IND"].boundary)
    # a common edge (a line over a thousand km long), not a scatter of touching points
    assert geodesic_length_km([shared])[0] > 1000


# Windows where borders and pipelines are densest: the Wakhan (five countries) and the Sindh/Punjab grid.
BORDER_WINDOW = (71.0, 36.5, 74.5, 37.6)
GRID_WINDOW = (66.8, 24.6, 68.6, 26.0)


@pytest.mark.parametrize("band", BANDS)
def test_polygons_are_drawn_within_the_tolerance_at_every_band(catalog, band):
    zoom = band_zoom(band)
    full = catalog.layer("boundaries").gdf
    shown = cached_display(catalog, "boundaries", band)
    assert shapely.coverage_is_valid(shown.geometry.values) and shown.is_valid.all()
    assert vertices(shown) < vertices(full)  # simplified, not fallen back to full detail
    near = shapely.intersects(full.geometry.values, shapely.box(*BORDER_WINDOW))
    error = drawn_error_px(full.geometry.values[near], shown.geometry.values[near], zoom, window=BORDER_WINDOW)
    assert error <= TOLERANCE_PX + SAMPLE_PX / 2  # the sampling itself may overstate by half a step


@pytest.mark.parametrize("band", BANDS)
def test_lines_are_drawn_within_the_tolerance_with_junctions_closed_and_no_new_crossings(catalog, band):
    zoom = band_zoom(band)
    full = catalog.layer("pakistan_gas_grid").gdf
    shown = cached_display(catalog, "pakistan_gas_grid", band)
    assert vertices(shown) < vertices(full)
    gaps = junction_gaps_px(full.geometry.values, shown.geometry.values, zoom)
    assert len(gaps) >= 4 and gaps.max() == 0.0  # every junction stays closed, exactly
    assert new_crossings(full.geometry.values, shown.geometry.values) == 0
    near = shapely.intersects(full.geometry.values, shapely.box(*GRID_WINDOW))
    error = drawn_error_px(full.geometry.values[near], shown.geometry.values[near], zoom, window=GRID_WINDOW)
    assert error <= TOLERANCE_PX + SAMPLE_PX / 2


def test_t_junction_stays_closed_and_close_lines_do_not_cross():
    # B ends on the middle of A, off A's vertices; C runs 20 m beside A (closer than a grid step at zoom 4)
    a = LineString([(67.0, 25.0), (67.3, 25.001), (67.6, 25.0), (68.0, 25.002)])
    on_a = shapely.get_coordinates(shapely.intersection(a, LineString([(67.45, 24.0), (67.45, 26.0)])))[0]
    b = LineString([(67.45, 25.3), on_a])
    c = LineString([(67.0, 25.0002), (67.3, 25.0012), (67.6, 25.0002), (68.0, 25.0022)])
    gdf = gpd.GeoDataFrame({"id": ["a", "b", "c"]}, geometry=[a, b, c], crs="EPSG:4326")
    for band in BANDS:
        shown = display_geometries(gdf, zoom=band_zoom(band)).geometry.values
        assert junction_gaps_px(gdf.geometry.values, shown, band_zoom(band)).max() == 0.0
        assert new_crossings(gdf.geometry.values, shown) == 0
        assert drawn_error_px(gdf.geometry.values, shown, band_zoom(band)) <= TOLERANCE_PX + SAMPLE_PX / 2


def test_statistics_are_untouched_by_display_geometry(catalog):
    layer = catalog.layer("tapi")
    before = geodesic_length_km(layer.gdf).copy()
    shown = cached_display(catalog, "tapi", zoom_band(4))
    assert shown.attrs["display_only"] is True
    assert geodesic_length_km(layer.gdf).tolist() == before.tolist()
    assert vertices(shown) < vertices(layer.gdf)


def test_cached_display_is_memoised_per_band(catalog):
    first = cached_display(catalog, "pakistan_gas_grid", 1)
    assert cached_display(catalog, "pakistan_gas_grid", 1) is first
    assert cached_display(catalog, "pakistan_gas_grid", 3) is not first
    assert first.attrs["display_zoom"] == band_zoom(1)


def test_full_band_only_rounds_to_six_decimals(catalog):
    full = catalog.layer("pakistan_gas_grid").gdf
    shown = display_geometries(full, zoom=13)
    assert vertices(shown) == vertices(full)
    assert shapely.hausdorff_distance(full.geometry.values, shown.geometry.values).max() <= 1e-6


def test_awkward_geometries_survive():
    gdf = gpd.GeoDataFrame(
        {"id": ["tiny", "multi", "point", "none", "empty"]},
        geometry=[
            LineString([(67.0, 25.0), (67.0001, 25.0001)]),  # rounds to one point at zoom 3
            MultiLineString([[(60, 30), (61, 30.001), (62, 30)], [(70, 30), (71, 31)]]),
            Point(67.123456, 24.987654),
            None,
            LineString(),
        ],
        crs="EPSG:4326",
    )
    shown = display_geometries(gdf, zoom=3)
    geoms = shown.geometry.values
    assert shapely.get_num_coordinates(geoms[0]) == 2 and shapely.length(geoms[0]) > 0  # still drawable
    assert shapely.get_num_geometries(geoms[1]) == 2
    assert shapely.get_coordinates(geoms[2]).tolist() == [[67.12, 24.99]]  # quantise_decimals(3, 31) == 2
    assert geoms[3] is None and geoms[4].is_empty
    assert gdf.geometry.values[2].x == 67.123456  # input untouched


def test_projected_input_is_refused():
    gdf = gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(0, 0)], crs="EPSG:3857")
    with pytest.raises(BadParameter) as err:
        display_geometries(gdf, zoom=5)
    assert err.value.name == "crs"


@pytest.mark.parametrize("zoom", [-1, 23, 5.5, "5", True, None])
def test_bad_zoom(zoom):
    with pytest.raises(BadParameter):
        zoom_band(zoom)


@pytest.mark.parametrize("band", [-1, FULL_BAND + 1, "1", 1.0])
def test_bad_band(catalog, band):
    with pytest.raises(BadParameter) as err:
        cached_display(catalog, "tapi", band)
    assert err.value.name == "zoom_band"
