"""Bench 2: length-by-country split of all 1,174 GEM Asia pipeline routes.

The routes come from the GEM user-layer importer (densified to 10 km on the
geodesic); the split is ``geo.countries.length_by_country_km`` against the
committed ``boundaries`` layer (34 countries of the region; routes further
east count as 'outside'). Compared with the plain geodesic length of the
same routes, and the full per-feature statistics table for reference.
"""

import shapely

from bench.common import GEM_PIPELINES, Row, fmt_s, gem_layers_dir, median_s, time_calls
from geo.countries import length_by_country_km
from geo.geodesic import geodesic_length_km
from geo.stats import feature_stats
from layers.catalog import Catalog

__all__ = ["NAME", "run"]

NAME = "countries"


def run(*, budget_s=60.0):
    catalog = Catalog.from_dirs(extra_dirs=[gem_layers_dir()], extra_region=None)
    lines = catalog.layer(GEM_PIPELINES).gdf
    boundaries = catalog.layer("boundaries").gdf
    n_vertices = int(shapely.get_num_coordinates(lines.geometry.values).sum())
    print(f"  {len(lines):,} routes, {n_vertices:,} vertices; {len(boundaries)} country polygons")
    plain = time_calls(lambda: geodesic_length_km(lines), repeats=7, budget_s=budget_s / 6)
    split = time_calls(lambda: length_by_country_km(lines, boundaries), repeats=5, budget_s=budget_s / 3)
    stats = time_calls(lambda: feature_stats(lines, boundaries), repeats=3, budget_s=budget_s / 3)
    by_country = length_by_country_km(lines, boundaries)
    total = float(geodesic_length_km(lines).sum())
    assert abs(float(by_country["length_km"].sum()) - total) < 1e-6 * total  # pieces add up to the whole
    ratio = median_s(split) / median_s(plain)
    top = by_country.groupby("country")["length_km"].sum().sort_values(ascending=False).head(4)
    print(f"  plain geodesic length       median {fmt_s(median_s(plain))}  (total {total:,.0f} km)")
    print(f"  length_by_country_km        median {fmt_s(median_s(split))}  ({len(by_country):,} route-country rows)")
    print(f"  feature_stats (incl. border crossings) median {fmt_s(median_s(stats))}")
    print("  longest by country: " + ", ".join(f"{c} {km:,.0f} km" for c, km in top.items()))
    print(f"  ratio split / plain length = {ratio:.1f}x")
    return [
        Row("2 countries", "1,174 GEM routes: length by country", fmt_s(median_s(split))),
        Row("2 countries", "split / plain geodesic length", f"{ratio:.1f}x"),
        Row("2 countries", "full stats table (lengths, split, crossings)", fmt_s(median_s(stats))),
    ]
