"""Each project is one feature, counted once in every summary; facilities sit at the facility."""

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.corridor_report import corridor_report
from geo.geodesic import distance_km, geodesic_length_km
from geo.stats import layer_stats, layer_summary

LINE_TYPES = ("LineString", "MultiLineString")


def _lines(catalog, layer_ids):
    """Line geometries of ``layer_ids`` that are projects of their own (a parallel pipe drawn on a copy of
    another's geometry is its own pipe, and says so with ``parallel_to``)."""
    out = []
    for lid in layer_ids:
        gdf = catalog.layer(lid).gdf
        own = gdf["parallel_to"].isna() if "parallel_to" in gdf else pd.Series(True, index=gdf.index)
        out += [g for g, keep in zip(gdf.geometry, own) if keep and g.geom_type in LINE_TYPES]
    return out


def _counted_once(lines):
    """Sum of the lines' geodesic km equals the km of their union: no piece of geometry counted twice."""
    total = float(np.sum(geodesic_length_km(np.array(lines, dtype=object))))
    union = shapely.union_all(lines)
    return total, float(np.sum(geodesic_length_km(np.array(shapely.get_parts(union), dtype=object))))


LINE_LAYERS = ("tapi", "north_south_pipeline", "iran_pakistan_pipeline", "pakistan_gas_grid", "cpec", "casa1000",
               "thar_lahore_hvdc")


@pytest.mark.parametrize("layer_ids", [(lid,) for lid in LINE_LAYERS] + [LINE_LAYERS],
                         ids=list(LINE_LAYERS) + ["all_line_layers"])
def test_no_geometry_is_counted_twice(catalog, layer_ids):
    total, union = _counted_once(_lines(catalog, layer_ids))
    assert total == pytest.approx(union, rel=1e-6)


def test_layer_totals_count_each_project_once(catalog):
    # cpec: the shared Khunjerab-Burhan trunk and southern sections are drawn once, not in each alignment
    cpec = layer_summary(layer_stats(catalog, "cpec"))
    assert cpec["total_length_km"] == pytest.approx(6166.3, abs=0.1)  # was 8,661.2 km with them drawn 3-4 times
    # the grid references the cross-border projects instead of copying them
    grid = catalog.layer("pakistan_gas_grid")
    assert len(grid.gdf) == 66 and not grid.gdf["id"].str.contains("turkmenistan|iran_pakistan|pakistan_stream").any()
    for ref in grid.meta["references"] + catalog.layer("cpec").meta["references"]:
        layer_id, _, fid = ref.partition(":")
        assert fid in catalog.layer(layer_id).positions, ref
    assert "gwadar_port" not in catalog.layer("cpec").positions and "gwadar_port" in catalog.layer("ports").positions
    # the one pair of GEM lines on the same points are two pipes: the second says so
    parallel = grid.gdf.dropna(subset=["parallel_to"])
    assert dict(zip(parallel["id"], parallel["parallel_to"])) == {
        "faisalabad_shahdara_gas_pipeline_ii": "faisalabad_shahdara_gas_pipeline_i"}


def test_corridor_over_every_layer_counts_each_line_once(catalog):
    with_layers = ",".join(lid for lid in catalog.ids if lid != "boundaries")
    report = corridor_report(catalog, "north_south_pipeline", "pakistan_stream", 25, with_layers=with_layers)
    found = report["features"]
    assert not found.duplicated(["layer", "id"]).any()
    grid = catalog.layer("pakistan_gas_grid").gdf
    parallel = set(grid.loc[grid["parallel_to"].notna(), "id"])  # a second pipe on its twin's points
    lines = found[found.geometry.geom_type.isin(LINE_TYPES) & ~found["id"].isin(parallel)]
    assert len(lines) > 20 and not lines.geometry.to_wkb().duplicated().any()
    assert sum(v["features"] for v in report["summary"]["by_layer"].values()) == len(found)


@pytest.mark.parametrize("layer_id, fid, lon, lat, max_km", [
    ("casa1000", "nowshera_converter", 71.82083, 33.99361, 0.1),       # Azakhel Bala, not Nowshera town
    ("energy_projects", "dasu_hydropower", 73.1932722, 35.3172667, 0.1),  # the dam, ~9 km from Dasu town
    ("ports", "bandar_abbas_port", 56.0636, 27.0958, 0.1),              # Shahid Rajaee, not the city harbour
    ("ports", "chabahar_port", 60.600833, 25.3025, 0.1),
    ("ports", "ormara_port", 64.66722, 25.20111, 0.1),                  # Jinnah Naval Base
])
def test_facilities_sit_at_the_facility(catalog, layer_id, fid, lon, lat, max_km):
    point = catalog.feature(layer_id, fid).geometry.iloc[0]
    assert float(distance_km(point.x, point.y, lon, lat)) < max_km


def test_line_ends_at_their_converters(catalog):
    hvdc = catalog.feature("casa1000", "casa1000_hvdc_sangtuda_nowshera").geometry.iloc[0]
    converter = catalog.feature("casa1000", "nowshera_converter").geometry.iloc[0]
    end = shapely.get_coordinates(hvdc)[-1]
    assert float(distance_km(end[0], end[1], converter.x, converter.y)) < 0.01
    matiari = catalog.feature("thar_lahore_hvdc", "matiari_lahore_hvdc").geometry.iloc[0]
    north = shapely.get_coordinates(matiari)[-1]
    assert float(distance_km(north[0], north[1], 73.95, 31.2)) < 0.01  # near Balloki, at Bhai Pheru


def test_iran_pakistan_is_two_sections_split_at_the_border(catalog):
    layer = catalog.layer("iran_pakistan_pipeline").gdf.set_index("id")
    iran, pakistan = layer.loc["iran_pakistan_iran_section"], layer.loc["iran_pakistan_pakistan_section"]
    assert (iran["status"], pakistan["status"]) == ("operating", "shelved")
    assert (iran["countries"], pakistan["countries"]) == (["IRN"], ["PAK"])
    a, b = shapely.get_coordinates(iran.geometry)[-1], shapely.get_coordinates(pakistan.geometry)[0]
    assert float(distance_km(a[0], a[1], b[0], b[1])) < 0.01  # one route, cut where it crosses the border
    stats = layer_stats(catalog, "iran_pakistan_pipeline").set_index("id")
    assert stats.loc["iran_pakistan_pakistan_section", "length_by_country_km"].get("PAK", 0) > 700


def test_approximate_routes_keep_their_source_figures_through_densifying(catalog):
    grid = catalog.layer("pakistan_gas_grid").gdf
    assert (grid["geometry_quality"] == "approximate").all()
    drawn = shapely.get_num_coordinates(grid.geometry.to_numpy())
    assert (drawn >= grid["source_vertex_count"]).all() and (drawn > grid["source_vertex_count"]).any()
    sawan = grid.set_index("id").loc["karachi_sawan_gas_pipeline"]
    assert (sawan["source_vertex_count"], sawan["source_longest_segment_km"]) == (2, 289.6)
    ipi = catalog.feature("iran_pakistan_pipeline", "iran_pakistan_india").iloc[0]
    assert ipi["geometry_quality"] == "approximate" and ipi["source_longest_segment_km"] == 585.5
