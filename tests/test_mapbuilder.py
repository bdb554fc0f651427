"""Map building: parameters, display data, popups, elements and the rendered-map cache."""

import json
import re

import folium
import numpy as np
import pytest
import shapely

from geo.geodesic import geodesic_length_km
from geo.stats import layer_stats
from layers.catalog import Catalog
from layers.errors import BadParameter, FeatureNotFound, LayerNotFound
from webapp.maps import assets, builder, display, elements
from webapp.maps.builder import MapCache, MapOptions, MapSpec

OPTIONS = MapOptions(tiles_url="https://tile.example.org/{z}/{x}/{y}.png", tiles_attribution="Example tiles")


@pytest.fixture(scope="module")
def hostile_catalog(hostile_dir):
    return Catalog.from_dirs(extra_dirs=[hostile_dir])


def render(catalog, spec, options=OPTIONS):
    return builder.render_parts(builder.build_map(catalog, spec, options))


def test_parse_layer_ids_keeps_order_and_drops_repeats(catalog):
    assert builder.parse_layer_ids(" tapi, north_south_pipeline,tapi ", catalog) == ("tapi", "north_south_pipeline")


@pytest.mark.parametrize("text", ["", " , ", None])
def test_parse_layer_ids_refuses_empty(catalog, text):
    with pytest.raises(BadParameter) as err:
        builder.parse_layer_ids(text, catalog)
    assert err.value.name == "layers"


@pytest.mark.parametrize("text", ["tapii", "../etc/passwd", "TAPI"])
def test_parse_layer_ids_unknown_is_not_found(catalog, text):
    with pytest.raises(LayerNotFound):
        builder.parse_layer_ids(text, catalog)


def test_parse_basemap():
    assert builder.parse_basemap(None, default="osm") == "osm"
    assert builder.parse_basemap("NONE", default="osm") == "none"
    with pytest.raises(BadParameter) as err:
        builder.parse_basemap("osmm", default="osm")
    assert err.value.name == "basemap" and err.value.suggestions == ["osm"]


def test_drawing_order_puts_points_on_top_and_the_busiest_line_layer_lowest(catalog):
    order = builder.drawing_order(catalog, ["lng_terminals", "tapi", "pakistan_gas_grid"])
    assert order == ("pakistan_gas_grid", "tapi", "lng_terminals")


def test_pin_colours_of_builtin_point_layers_differ(catalog):
    points = [lay.id for lay in catalog if lay.geometry_family == "point"]
    colours = [builder.pin_colour(lid, elements_colour(catalog, lid))[0] for lid in points]
    assert len(set(colours)) == len(colours)


def elements_colour(catalog, layer_id):
    from layers.styles import layer_colour

    return layer_colour(layer_id, catalog.layer(layer_id).meta)


def test_display_data_has_every_feature_with_status_styles(catalog):
    data = json.loads(str(display.layer_display_js(catalog, "tapi", with_popups=True)))
    layer = catalog.layer("tapi")
    assert [f["properties"]["id"] for f in data["features"]] == list(layer.gdf["id"])
    trunk = next(f for f in data["features"] if f["properties"]["id"] == "tapi_trunk")
    assert trunk["properties"]["status"] == "construction"
    assert trunk["properties"]["geometry_quality"] == "approximate"  # drawn with a halo
    style = data["styles"][trunk["properties"]["_s"]]  # one shared style per look, indexed by the feature
    assert style["dashArray"] == "10 6"  # construction: dashed
    assert style["color"] == "#e67e22"
    popup = trunk["properties"]["_popup"]
    assert "Geodesic length" in popup
    assert "Status as of 2026-01-27: <b>construction</b>" in popup and "91 km milestone" in popup
    assert "Approximate geometry:</b> the source route has 65 vertices and straight runs up to 127.9 km" in popup
    coords = np.array(trunk["geometry"]["coordinates"])
    assert np.allclose(coords, np.round(coords, 5))
    # full geometry (rounded) when no zoom band is asked for
    assert len(coords) == shapely.get_num_coordinates(layer.gdf.geometry.iloc[layer.positions["tapi_trunk"]])


def test_display_properties_are_slim(catalog):
    data = json.loads(str(display.layer_display_js(catalog, "pakistan_gas_grid", with_popups=False)))
    grid = catalog.layer("pakistan_gas_grid").gdf
    keys = {k for f in data["features"] for k in f["properties"]}
    assert keys <= {"id", "name", "kind", "status", "countries", "geometry_quality", "_h", "_s"}
    assert "sources" not in keys and "_popup" not in keys and "reported_length_km" not in keys
    assert len(data["styles"]) == len({(s, q) for s, q in zip(grid["status"], grid["geometry_quality"])})
    statuses = {f["properties"]["status"]: data["styles"][f["properties"]["_s"]] for f in data["features"]}
    assert statuses["operating"]["dashArray"] is None and statuses["proposed"]["dashArray"] == "2 6"


def test_zoom_band_display_is_simplified_and_stats_are_not(catalog):
    from geo.simplify import cached_display

    full = catalog.layer("pakistan_gas_grid").gdf
    data = json.loads(str(display.layer_display_js(catalog, "pakistan_gas_grid", with_popups=False, zoom_band=0)))
    shown = shapely.from_geojson([json.dumps(f["geometry"]) for f in data["features"]])
    expected = cached_display(catalog, "pakistan_gas_grid", 0).geometry.to_numpy()
    assert shapely.equals_exact(shown, expected, tolerance=1e-9).all()
    assert shapely.get_num_coordinates(shown).sum() < 0.5 * shapely.get_num_coordinates(full.geometry.to_numpy()).sum()
    # within half a pixel at zoom 4 (band 0's top zoom) of the real routes
    assert shapely.hausdorff_distance(shown, full.geometry.to_numpy()).max() < 0.5 * 360 / 256 / 2 ** 4
    # statistics come from the full geometry (rounded to metres), not from the shorter simplified lines
    stats_km = layer_stats(catalog, "pakistan_gas_grid")["geodesic_length_km"].to_numpy()
    assert stats_km == pytest.approx(geodesic_length_km(full.geometry), abs=5e-4)
    assert stats_km.sum() - geodesic_length_km(shown).sum() > 1.0


def test_fit_zoom():
    # Pakistan and neighbours in a 1000 x 600 view: 18 deg of 360 is 1/20 of the world, 1000 px wide at
    # 256 * 2**z / 20 px per span -> z = floor(log2(78.1)) = 6 by width; 15 deg of latitude limits it to 5
    assert builder.fit_zoom((60, 23, 78, 38)) == 5
    assert builder.fit_zoom((-4.5, -9.6, 143.9, 53.8)) == 3  # the GEM Asia pipelines: floor(log2(9.5))
    assert builder.fit_zoom((-180, -85, 180, 85)) == builder.MIN_ZOOM
    assert builder.fit_zoom((67.0, 24.8, 67.0, 24.8)) == builder.FIT_MAX_ZOOM  # one point


def test_large_layers_embed_a_zoom_band_and_fetch_finer(catalog, embedded_layers):
    options = MapOptions(tiles_url="x", tiles_attribution="x", popup_url="/popup/{layer}/{fid}",
                         display_url="/api/layers/{layer}/display?zoom_band={band}", simplify_min_vertices=1000)
    assert builder.display_band(catalog, "pakistan_gas_grid", options, 5) == 1  # 1,933 vertices > 1,000
    assert builder.display_band(catalog, "tapi", options, 5) is None  # 244 vertices: full geometry
    parts = render(catalog, MapSpec(("pakistan_gas_grid", "tapi"), "none", None), options)
    assert parts.script.count('"/api/layers/pakistan_gas_grid/display?zoom_band={band}"') == 1
    assert "/api/layers/tapi/display" not in parts.script
    # each band's first zoom, then the embedded band: 1 (zooms 5-6) for a view fitting the gas grid
    assert '"band": 1' in parts.script and '"bandZooms": [0, 5, 7, 9, 11, 13]' in parts.script
    shown = embedded_layers(str(parts.script))
    band1 = json.loads(str(display.layer_display_js(catalog, "pakistan_gas_grid", with_popups=False, zoom_band=1)))
    assert shown["pakistan_gas_grid"] == band1  # simplified, slim, popups fetched (70 features > 50)
    assert "_popup" in shown["tapi"]["features"][0]["properties"]  # 3 features: embedded


def test_popup_figures_are_the_cached_statistics(catalog):
    stats = layer_stats(catalog, "tapi").set_index("id")
    popup = display.popup_fragments(catalog, "tapi")[catalog.layer("tapi").positions["tapi_trunk"]]
    geodesic = stats.loc["tapi_trunk", "geodesic_length_km"]
    assert abs(geodesic - 1814) / 1814 < 0.10
    assert f"{geodesic:,.1f} km" in popup
    pak = stats.loc["tapi_trunk", "length_by_country_km"]["PAK"]
    assert f"Pakistan (PAK) {pak:,.1f} km" in popup
    assert 'href="https://www.gem.wiki/' in popup


def test_popup_escapes_properties_and_links_only_web_urls(hostile_catalog):
    popup = display.popup_fragments(hostile_catalog, "hostile")[0]
    assert "<script>" not in popup and "&lt;script&gt;alert(1)&lt;/script&gt;" in popup
    assert "<svg" not in popup and "&lt;svg onload=alert(3)&gt;" in popup
    assert "<i>evil title</i>" not in popup and "&lt;i&gt;evil title&lt;/i&gt;" in popup
    hrefs = re.findall(r'href="([^"]*)"', popup)
    assert hrefs == ["https://example.org/a?b=1&amp;c=2"]
    assert "javascript:alert(document.cookie)" in popup  # shown as text, not as a link
    assert "Schematic geometry" in popup


def test_basemap_is_simplified_for_display_only(catalog):
    data = json.loads(str(display.basemap_geojson(catalog, tolerance_deg=0.05)))
    boundaries = catalog.layer("boundaries").gdf
    assert len(data["features"]) == len(boundaries)
    shown = sum(len(shapely.get_coordinates(shapely.from_geojson(json.dumps(f["geometry"])))) for f in data["features"])
    assert shown < 0.5 * shapely.get_num_coordinates(boundaries.geometry.to_numpy()).sum()
    # statistics still read the full geometry
    assert catalog.layer("boundaries").gdf is boundaries


def test_rendered_map_loads_no_remote_assets_and_has_the_furniture(app, catalog):
    spec = MapSpec(("tapi", "lng_terminals"), "none", None)
    with app.app_context():  # folium pointed at the vendored files by create_app
        parts = render(catalog, spec)
    page = parts.header + parts.html + parts.script
    assert assets.remote_asset_urls(page) == []
    assert "L.tileLayer(" not in page  # basemap none: no tiles at all
    for marker in ("L.control.scale", "MapSvc.measureControl", "L.control.fullscreen", "MapSvc.miniMap",
                   "L.Control.MousePosition", "L.control.layers", "mapsvc-legend", "MapSvc.featureLayer",
                   "MapSvc.vectorBasemap", "js/mapsvc.js", "js/basemap.js", "js/measure.js", "css/map.css"):
        assert marker in page, marker
    assert '"icon": "fire"' in page  # LNG terminal icon from layers.styles.KIND_ICON
    assert "Global Energy Monitor, Asia Gas Tracker, May 2024 (CC BY 4.0)" in page
    assert "Natural Earth (public domain)" in page


def test_tiles_with_their_attribution_when_asked(catalog):
    parts = render(catalog, MapSpec(("tapi",), "osm", None))
    assert '"https://tile.example.org/{z}/{x}/{y}.png"' in parts.script
    assert "Example tiles" in parts.script
    assert "opentopomap" in parts.script  # alternatives stay selectable
    assert "No tiles (offline)" in parts.script


def test_focus_feature(catalog):
    parts = render(catalog, MapSpec(("tapi",), "none", "tapi_trunk"))
    assert 'MapSvc.select("tapi", "tapi_trunk");' in parts.script
    with pytest.raises(FeatureNotFound):
        builder.build_map(catalog, MapSpec(("tapi",), "none", "nope"), OPTIONS)


def test_hostile_layer_title_and_attribution_are_escaped(hostile_catalog):
    parts = render(hostile_catalog, MapSpec(("hostile",), "none", None))
    page = parts.header + parts.html + parts.script
    assert "<b>Evil</b>" not in page and "<img src=x" not in page and "<script>alert" not in page
    assert "\\u0026lt;img src=x onerror=alert(5)\\u0026gt;" in page  # escaped, then JSON-encoded
    assert "\\u0026lt;b\\u0026gt;Evil\\u0026lt;/b\\u0026gt; layer" in page  # layer control label


def test_large_layers_fetch_popups_instead_of_embedding(catalog):
    options = MapOptions(tiles_url="x", tiles_attribution="x", popup_embed_max=2, popup_url="/popup/{layer}/{fid}")
    parts = render(catalog, MapSpec(("tapi", "north_south_pipeline"), "none", None), options)
    assert '"/popup/tapi/{fid}"' in parts.script  # 3 features > 2
    assert parts.script.count('"_popup"') == 1  # the 1-feature layer still embeds its popup


def test_legend_lists_layers_present_statuses_and_schematic():
    legend = elements.Legend(
        layers=[{"id": "a", "title": "A <b>", "colour": "#123456", "family": "line"},
                {"id": "p", "title": "Plants", "colour": "#2e7d32", "family": "point", "icon": "bolt",
                 "marker_hex": "#72b026"}],
        statuses=[{"status": "proposed", "dash": "2 6", "opacity": 0.95, "label": "proposed (dotted)"}],
        schematic=True)
    fmap = folium.Map(tiles=None)
    legend.add_to(fmap)
    html = fmap.get_root().render()
    assert "A \\u0026lt;b\\u0026gt;" in html and "fa-bolt" in html
    assert "proposed (dotted)" in html and 'stroke-dasharray=\\"2 6\\"' in html
    assert "schematic (waypoints" in html
    assert "operating (solid)" not in html


def test_attribution_parts_split_dedupe_and_escape():
    assert elements.attribution_parts("A; B", "B;C &") == ["A", "B", "C &amp;"]


def test_map_cache_is_an_lru_bounded_in_bytes():
    cache, calls = MapCache(2000, sizeof=len), []

    def build(key):
        return lambda: calls.append(key) or key * 1000  # 1000 bytes each

    for key in ("a", "b", "a", "c", "a", "b"):
        cache.get(key, build(key))
    assert calls == ["a", "b", "c", "b"]  # 'b' evicted by 'c', rebuilt; 'a' kept as recently used
    assert len(cache) == 2 and cache.size_bytes == 2000
    assert cache.get("huge", lambda: "x" * 5000) == "x" * 5000  # bigger than the budget: served, not kept
    assert len(cache) == 2 and cache.size_bytes == 2000


def test_view_fits_routes_on_the_overview_and_everything_on_chosen_layers(catalog):
    from webapp.maps.builder import map_bounds, overview_layer_ids

    overview = map_bounds(catalog, overview_layer_ids(catalog))
    # the overview ignores India's east-coast LNG terminals (beyond 80E) ...
    assert overview[2] < 80.5
    # ... but a map of chosen layers shows every port asked for (Bandar Abbas at 56.2E, Karachi at 24.8N)
    chosen = map_bounds(catalog, ["tapi", "casa1000", "ports"])
    assert chosen[0] <= 56.21 and chosen[1] <= 24.85
    assert chosen[3] >= 40.9  # and the Datka end of CASA-1000
