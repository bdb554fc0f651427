"""Vector tiles decode (mapbox-vector-tile) with the expected features at several zooms; TileJSON and the TMS."""

import math

import mapbox_vector_tile
import pytest
import shapely

from webapp.ogc.mvt import EXTENT, tile_bounds_lonlat

TILES = "/ogcapi/collections/{layer}/tiles/WebMercatorQuad"


def tile_of(lon, lat, z):
    """(z, row, col) of the WebMercatorQuad tile holding lon/lat."""
    n = 2 ** z
    col = int((lon + 180) / 360 * n)
    row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, row, col


def decode(client, layer, z, y, x):
    response = client.get(f"{TILES.format(layer=layer)}/{z}/{y}/{x}")
    assert response.status_code == 200 and response.mimetype == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(response.data, default_options={"y_coord_down": True}).get(layer)


@pytest.mark.parametrize("z", [3, 6, 9, 14])
def test_a_tile_under_the_tapi_trunk_holds_it(client, catalog, z):
    coords = shapely.get_coordinates(catalog.layer("tapi").gdf.geometry.iloc[0])
    lon, lat = coords[len(coords) // 2]  # a vertex of the trunk, so the tile holds it at every zoom
    tile = decode(client, "tapi", *tile_of(lon, lat, z))
    assert tile is not None and tile["extent"] == EXTENT
    trunk = [f for f in tile["features"] if f["properties"]["id"] == "tapi_trunk"]
    assert len(trunk) == 1
    props = trunk[0]["properties"]
    assert props["status"] == "construction" and props["kind"] == "gas_pipeline" and isinstance(props["_s"], int)
    assert trunk[0]["geometry"]["type"] in ("LineString", "MultiLineString")


def test_polygons_and_points_at_low_zoom_and_simplification_by_zoom(client, catalog):
    z, y, x = tile_of(69.0, 30.0, 4)
    countries = {f["properties"]["id"] for f in decode(client, "boundaries", z, y, x)["features"]}
    assert {"PAK", "AFG", "IND"} <= countries
    ports = decode(client, "ports", *tile_of(62.33, 25.12, 5))
    assert "Gwadar Port" in {f["properties"]["name"] for f in ports["features"]}
    gwadar = next(f for f in ports["features"] if f["properties"]["name"].startswith("Gwadar"))
    assert gwadar["geometry"]["type"] == "Point"

    def vertices(z):
        tile = decode(client, "boundaries", *tile_of(69.0, 30.0, z))
        pak = next(f for f in tile["features"] if f["properties"]["id"] == "PAK")
        return sum(len(ring) for poly in _polygons(pak["geometry"]) for ring in poly)

    full = shapely.get_num_coordinates(catalog.layer("boundaries").gdf.set_index("id").geometry["PAK"])
    # the whole of Pakistan fits one zoom-3 tile, drawn from the simplified display geometry, as the map does
    assert vertices(3) < full / 2


def _polygons(geometry):
    return [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]


def test_empty_and_out_of_range_tiles(client):
    empty = decode(client, "tapi", *tile_of(-30.0, 10.0, 6))  # the Atlantic
    assert empty is None or empty["features"] == []
    for path in ("3/8/0", "23/0/0", "2/-1/0"):
        response = client.get(f"{TILES.format(layer='tapi')}/{path}")
        assert response.status_code == 404, path
    assert client.get("/ogcapi/collections/tapi/tiles/WorldCRS84Quad/1/0/0").status_code == 404
    assert client.get(f"{TILES.format(layer='nope')}/1/0/0").status_code == 404


def test_tiles_are_cached_and_revalidated(client):
    url = f"{TILES.format(layer='pakistan_gas_grid')}/5/13/22"
    first = client.get(url)
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    gz = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gz.headers.get("Content-Encoding") == "gzip" or len(first.data) < 1024


def test_tilejson_and_tileset_metadata(client):
    doc = client.get(f"{TILES.format(layer='tapi')}/tilejson.json").get_json()
    assert doc["tilejson"] == "3.0.0" and doc["tiles"][0].endswith("/ogcapi/collections/tapi/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert doc["vector_layers"][0]["id"] == "tapi" and doc["styles"] and doc["maxzoom"] == 22
    tilesets = client.get("/ogcapi/collections/tapi/tiles").get_json()["tilesets"]
    item = next(link for link in tilesets[0]["links"] if link["rel"] == "item")
    assert item["templated"] and item["type"] == "application/vnd.mapbox-vector-tile"
    tms = client.get("/ogcapi/tileMatrixSets/WebMercatorQuad").get_json()
    assert len(tms["tileMatrices"]) == 23 and tms["tileMatrices"][0]["scaleDenominator"] == pytest.approx(559082264.03)
    assert tile_bounds_lonlat(0, 0, 0)[3] == pytest.approx(85.0511287798)



def test_a_layer_over_the_display_limit_is_drawn_tile_by_tile_with_the_same_features(app, client, monkeypatch):
    # boundaries has 51 features: with the limit at 10 it is drawn from its full geometry, never simplified whole
    z, y, x = tile_of(69.0, 30.0, 4)
    banded = decode(client, "boundaries", z, y, x)
    banded_etag = client.get(f"{TILES.format(layer='boundaries')}/{z}/{y}/{x}").headers["ETag"]
    monkeypatch.setitem(app.config, "TILE_DISPLAY_MAX_FEATURES", 10)

    def no_display(*args):
        raise AssertionError("a per-tile layer must not compute whole-layer display geometry")

    monkeypatch.setattr("webapp.ogc.tiles.cached_display", no_display)
    response = client.get(f"{TILES.format(layer='boundaries')}/{z}/{y}/{x}")
    assert response.status_code == 200 and response.headers["ETag"] != banded_etag  # another drawing, another tag
    tile = mapbox_vector_tile.decode(response.data, default_options={"y_coord_down": True})["boundaries"]
    ids = {f["properties"]["id"] for f in tile["features"]}
    assert ids >= {"PAK", "AFG", "IND"} and ids == {f["properties"]["id"] for f in banded["features"]}
    pak = next(f for f in tile["features"] if f["properties"]["id"] == "PAK")
    assert pak["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # our encoder now draws the full geometry snapped to the grid, finer than the banded tile; PostGIS's
    # ST_AsMVTGeom drew the stored full geometry in both cases
    banded_pak = next(f for f in banded["features"] if f["properties"]["id"] == "PAK")
    if getattr(app.extensions["catalog"], "spatial", None) is None:
        assert _vertex_count(pak["geometry"]) > _vertex_count(banded_pak["geometry"])
    else:
        assert pak["geometry"] == banded_pak["geometry"]


def _vertex_count(geometry):
    return sum(len(ring) for poly in _polygons(geometry) for ring in poly)
