"""Bench 3: overview map of all 1,174 GEM pipelines, naive folium vs display geometry.

Naive: ``folium.GeoJson`` of the full layer with every property. Ours: the
layer's cached display geometry for the region zoom band
(``geo.simplify.cached_display``: simplified to half a pixel, topology
kept, coordinates quantised) with slim properties (id, name, status); the
served map's popups fetch the rest from the API. Reports build time, HTML
bytes, and the largest displacement of any route, in screen pixels.

"Served" is the web app's own map of the layer (``/embed/<id>``, the map
alone, and ``/map/<id>``, the page with its route table), built in-process:
the zoom band its initial view needs, slim properties with a shared style
table, popups fetched on click, plus the options of the offline vector
basemap that naive folium does not have (its countries are fetched per zoom
band, not inlined; its bytes are shown separately).
"""

import folium
import numpy as np
import shapely

from bench.common import GEM_PIPELINES, Row, fmt_bytes, fmt_s, gem_layers_dir, median_s, time_calls
from bench.servers import webapp_ready
from geo.pixels import pixel_xy
from geo.simplify import band_zoom, cached_display, zoom_band
from layers.catalog import Catalog

__all__ = ["NAME", "REGION_ZOOM", "SLIM_COLUMNS", "overview_html", "run"]

NAME = "mapsize"
# the project region (44-90°E) spans about 1,000 px at zoom 5
REGION_ZOOM = 5
SLIM_COLUMNS = ["id", "name", "status"]


def overview_html(gdf):
    """A folium overview map of one layer, rendered to HTML text."""
    fmap = folium.Map(location=[30, 80], zoom_start=REGION_ZOOM - 1, tiles=None)
    folium.GeoJson(gdf, name=GEM_PIPELINES).add_to(fmap)
    return fmap.get_root().render()


def _max_shift_px(full, shown, zoom):
    """Largest Hausdorff distance between full and shown routes as drawn: Web Mercator pixels at ``zoom``."""
    return _drawn_px(full.geometry.values, shown.geometry.values, zoom)


def _drawn_px(full, shown, zoom):
    def px(geoms):
        return shapely.transform(np.asarray(geoms, dtype=object), lambda xy: pixel_xy(xy, zoom))

    return float(np.max(shapely.hausdorff_distance(px(full), px(shown), densify=0.25)))


def _inline_json(html, call):
    """The JSON text of the object passed after the map to the first ``call(map_…, {…}`` in the page."""
    import json

    start = html.index("{", html.index(f"= {call}("))
    _, end = json.JSONDecoder().raw_decode(html, start)
    return html[start:end]


def _served(layers_dir, full):
    """Bytes of the web app's served map of the GEM layer: (embed page, map page, layer data, basemap, band, px)."""
    import json

    from geo.simplify import zoom_band
    from webapp import create_app
    from webapp.maps.builder import fit_zoom

    app = create_app({"LAYERS_DIRS": [str(layers_dir)], "DEFAULT_BASEMAP": "none"})
    client = app.test_client()
    embed = client.get(f"/embed/{GEM_PIPELINES}", headers={"Accept-Encoding": "identity"}).get_data(as_text=True)
    page = client.get(f"/map/{GEM_PIPELINES}", headers={"Accept-Encoding": "identity"}).get_data()
    layer_data = _inline_json(embed, "MapSvc.featureLayer")
    basemap = _inline_json(embed, "MapSvc.vectorBasemap")  # its options; the countries are fetched per band
    zoom = fit_zoom(app.extensions["catalog"].layer(GEM_PIPELINES).bbox)
    shown = shapely.from_geojson([json.dumps(f["geometry"]) for f in json.loads(layer_data)["features"]])
    px = _drawn_px(full.geometry.values, shown, zoom)
    return len(embed.encode()), len(page), len(layer_data.encode()), len(basemap.encode()), zoom_band(zoom), zoom, px


def run(*, budget_s=60.0):
    layers_dir = gem_layers_dir()
    band = zoom_band(REGION_ZOOM)
    full = Catalog.from_dirs(extra_dirs=[layers_dir], extra_region=None).layer(GEM_PIPELINES).gdf

    def naive():
        return overview_html(full)

    def ours_cold():
        catalog = Catalog.from_dirs(extra_dirs=[layers_dir], extra_region=None)
        return overview_html(cached_display(catalog, GEM_PIPELINES, band)[SLIM_COLUMNS + ["geometry"]])

    warm_catalog = Catalog.from_dirs(extra_dirs=[layers_dir], extra_region=None)

    def ours_warm():
        return overview_html(cached_display(warm_catalog, GEM_PIPELINES, band)[SLIM_COLUMNS + ["geometry"]])

    shown = cached_display(warm_catalog, GEM_PIPELINES, band)
    sizes = {
        "naive": len(naive().encode()),
        "slim properties only": len(overview_html(full[SLIM_COLUMNS + ["geometry"]]).encode()),
        "simplified only": len(overview_html(shown).encode()),
        "ours": len(ours_warm().encode()),
    }
    t_naive = median_s(time_calls(naive, repeats=5, budget_s=budget_s / 4))
    # cold also reloads the catalogue; its load time is subtracted to leave the display work
    t_load = median_s(time_calls(lambda: Catalog.from_dirs(extra_dirs=[layers_dir], extra_region=None),
                                 repeats=3, budget_s=budget_s / 8))
    t_cold = median_s(time_calls(ours_cold, repeats=3, budget_s=budget_s / 4)) - t_load
    t_warm = median_s(time_calls(ours_warm, repeats=5, budget_s=budget_s / 4))
    verts = [int(shapely.get_num_coordinates(g.geometry.values).sum()) for g in (full, shown)]
    shift_region = _max_shift_px(full, shown, REGION_ZOOM)
    shift_top = _max_shift_px(full, shown, band_zoom(band))
    ratio = sizes["naive"] / sizes["ours"]
    print(f"  {len(full):,} routes; display band {band} (zooms up to {band_zoom(band)}): "
          f"{verts[0]:,} -> {verts[1]:,} vertices")
    for name, size in sizes.items():
        print(f"  HTML {name:22s} {fmt_bytes(size):>10s}   ({sizes['naive'] / size:.2f}x fewer than naive)")
    print(f"  build naive folium            median {fmt_s(t_naive)}")
    print(f"  build ours, cold (simplify)   median {fmt_s(t_cold)}  (catalogue load {fmt_s(t_load)} excluded)")
    print(f"  build ours, warm (cached)     median {fmt_s(t_warm)}")
    print(f"  largest route displacement: {shift_region:.2f} px at zoom {REGION_ZOOM}, "
          f"{shift_top:.2f} px at zoom {band_zoom(band)}")
    rows = []
    why = webapp_ready()
    if why:
        print(f"  served map: not run: {why}")
    else:
        embed, page, data, basemap, served_band, zoom, px = _served(layers_dir, full)
        print(f"  served /embed/{GEM_PIPELINES} {fmt_bytes(embed):>10s}   "
              f"({sizes['naive'] / embed:.2f}x fewer than naive; band {served_band} for its initial zoom {zoom}, "
              f"largest displacement {px:.2f} px there)")
        print(f"    of which layer data {fmt_bytes(data)} ({sizes['naive'] / data:.2f}x fewer than naive), "
              f"vector basemap options {fmt_bytes(basemap)}, the rest {fmt_bytes(embed - data - basemap)}")
        print(f"    without the basemap (naive has none) {fmt_bytes(embed - basemap)}   "
              f"({sizes['naive'] / (embed - basemap):.2f}x fewer than naive)")
        print(f"  served /map/{GEM_PIPELINES} (with the 1,174-row route table) {fmt_bytes(page)}")
        rows = [
            Row("3 map size", "served embed page (map only) / of it the vector basemap",
                f"{fmt_bytes(embed)} / {fmt_bytes(basemap)}"),
            Row("3 map size", "bytes naive / served embed page without basemap",
                f"{sizes['naive'] / (embed - basemap):.2f}x", "≥ 3x"),
            Row("3 map size", "bytes naive / served embed page incl. basemap", f"{sizes['naive'] / embed:.2f}x"),
            Row("3 map size", f"served map: max displacement at its initial zoom {zoom}", f"{px:.2f} px", "<= 0.5 px"),
            Row("3 map size", "served map page incl. route table", fmt_bytes(page)),
        ]
    return [
        Row("3 map size", "naive folium HTML", fmt_bytes(sizes["naive"])),
        Row("3 map size", "simplified + quantised + slim HTML", fmt_bytes(sizes["ours"])),
        Row("3 map size", "bytes naive / ours", f"{ratio:.2f}x", "≥ 3x"),
        Row("3 map size", f"max displacement at zoom {REGION_ZOOM}", f"{shift_region:.2f} px", "<= 0.5 px"),
        Row("3 map size", "build time naive / ours cold / ours warm",
            f"{fmt_s(t_naive)} / {fmt_s(t_cold)} / {fmt_s(t_warm)}"),
        *rows,
    ]
