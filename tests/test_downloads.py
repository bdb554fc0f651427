"""Every download format opens in GDAL (pyogrio) or pyarrow with the right feature count, CRS and fields."""

import io
import json
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest

from webapp.export.downloads import DOWNLOAD_FORMATS, FORMAT_NAMES

FIELDS = {"id", "name", "kind", "status", "countries", "geometry_quality", "licence", "sources"}
# GDAL launders Shapefile field names to 10 characters
SHP_FIELDS = {"id", "name", "kind", "status", "countries", "geometry_q", "licence", "sources"}
CORRIDOR = "/export/corridor?layer=tapi&feature=tapi_trunk&width_km=50&with=ports,energy_projects"
ROUTE = "/export/route?from=Kashgar&to=Gwadar&modes=road"


def _open(tmp_path, body, fmt):
    """{name: (count, crs string or None, field names)} of each layer in the downloaded file."""
    path = tmp_path / f"download.{fmt}"
    path.write_bytes(body)
    if fmt == "parquet":  # this GDAL build has no (Geo)Parquet driver: pyarrow reads it, via geopandas
        frame = gpd.read_parquet(path)
        return {"parquet": (len(frame), frame.crs.to_string(), set(frame.columns) - {"geometry"})}
    if fmt == "shp":
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        zipfile.ZipFile(io.BytesIO(body)).extractall(folder)
        return {p.stem: _layer(p, None) for p in sorted(folder.glob("*.shp"))}
    return {name: _layer(path, name) for name, _ in pyogrio.list_layers(path)}


def _layer(path, name):
    info = pyogrio.read_info(path, layer=name)
    crs = info["crs"]
    return info["features"], crs, set(info["fields"])


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_every_format_of_a_whole_layer(client, catalog, tmp_path, fmt):
    response = client.get(f"/api/layers/casa1000/download?format={fmt}")
    spec = next(f for f in DOWNLOAD_FORMATS if f.name == fmt)
    assert response.status_code == 200 and response.mimetype == spec.media_type
    assert response.headers["Content-Disposition"] == f'attachment; filename="casa1000.{spec.extension}"'
    layers = _open(tmp_path, response.data, fmt)
    gdf = catalog.layer("casa1000").gdf
    if fmt == "shp":  # one file per geometry type: the 2 lines and the 5 stations
        assert {k: v[0] for k, v in layers.items()} == {"casa1000_lines": 2, "casa1000_points": 5}
        assert all(crs == "EPSG:4326" and SHP_FIELDS <= fields for _, crs, fields in layers.values())
        return
    (count, crs, fields), = layers.values()
    assert count == len(gdf)
    if fmt == "csv":
        assert crs is None and {"WKT", "lon", "lat"} | FIELDS <= fields  # CSV holds no CRS: WGS84 lon/lat
    elif fmt == "kml":
        assert crs == "EPSG:4326" and {"Name", "kind", "status", "countries"} <= fields
    else:
        assert crs in ("EPSG:4326", "OGC:CRS84") and FIELDS <= fields, (crs, fields)


def test_values_survive_the_round_trip(client, tmp_path):
    for fmt in ("gpkg", "fgb", "parquet"):
        path = tmp_path / f"tapi.{fmt}"
        path.write_bytes(client.get(f"/api/layers/tapi/download?format={fmt}").data)
        frame = gpd.read_parquet(path) if fmt == "parquet" else pyogrio.read_dataframe(path)
        trunk = frame.set_index("id").loc["tapi_trunk"]
        assert trunk["reported_length_km"] == 1814.0, fmt
        assert json.loads(trunk["countries"]) if isinstance(trunk["countries"], str) else list(trunk["countries"])
    csv_text = client.get("/api/layers/ports/download?format=csv").get_data(as_text=True)
    rows = csv_text.splitlines()
    assert rows[0].startswith("WKT,lon,lat,id") and "POINT (" in rows[1]


def test_filtered_selection_downloads(client, tmp_path):
    response = client.get("/api/layers/pakistan_gas_grid/download?format=gpkg&status=operating&bbox=66,24,70,28")
    assert 'filename="pakistan_gas_grid_selection.gpkg"' in response.headers["Content-Disposition"]
    api = client.get("/api/layers/pakistan_gas_grid?status=operating&bbox=66,24,70,28").get_json()
    (count, _, _), = _open(tmp_path, response.data, "gpkg").values()
    assert count == api["numberMatched"] > 0
    geojson = client.get("/api/layers/pakistan_gas_grid/download?status=operating&bbox=66,24,70,28").get_json()
    assert [f["id"] for f in geojson["features"]] == [f["id"] for f in api["features"]]
    assert client.get("/api/layers/tapi/download?format=xls").status_code == 400
    assert client.get("/api/layers/tapi/download?format=gpkg&operator=x").status_code == 400


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_corridor_and_route_downloads(client, tmp_path, fmt):
    corridor = client.get("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=50&with=ports,energy_projects")
    route = client.get("/api/route?from=Kashgar&to=Gwadar&modes=road").get_json()
    for url, expected in ((CORRIDOR, len(corridor.get_json()["features"])), (ROUTE, len(route["features"]))):
        response = client.get(f"{url}&format={fmt}")
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
        layers = _open(tmp_path, response.data, fmt)
        assert sum(count for count, _, _ in layers.values()) == expected, (url, fmt)
