"""Exports: the self-contained HTML, static PNG/SVG maps, statistics tables, and the CLI."""

import html as stdlib_html
import io
import json
import re

import numpy as np
import pytest
from markdown_it import MarkdownIt
from matplotlib import image

from geo.stats import layer_stats
from webapp.__main__ import main
from webapp.maps import assets

# What a browser would fetch from an HTML page: script/link/img/iframe sources, CSS url() and
# @import, and Leaflet tile templates. Attribution and source links (<a href>) are not fetched.
FETCHED = [
    re.compile(r"""\b(?:src|srcset|data)\s*=\s*\\?["']?\s*(?:https?:)?//""", re.IGNORECASE),
    re.compile(r"""url\(\s*\\?["']?\s*(?:https?:)?//""", re.IGNORECASE),
    re.compile(r"""@import\s+(?:url\()?\s*["']?(?:https?:)?//""", re.IGNORECASE),
    re.compile(r"""L\.tileLayer\(\s*["'](?:https?:)?//""", re.IGNORECASE),
    re.compile(r"""\b(?:fetch|\$\.ajax|\.open)\(\s*["'](?:https?:)?//""", re.IGNORECASE),
]


def fetched_urls(page):
    found = assets.remote_asset_urls(page)
    for pattern in FETCHED:
        found += [page[m.start():m.end() + 60] for m in pattern.finditer(page)]
    return found


def export(client, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.get(f"/export?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def test_html_export_is_self_contained_and_holds_every_layer(client, catalog, embedded_layers):
    response = export(client, layers="tapi,north_south_pipeline,lng_terminals", format="html")
    assert response.headers["Content-Disposition"] == 'attachment; filename="tapi_north_south_pipeline_lng_terminals.html"'
    page = response.get_data(as_text=True)
    assert fetched_urls(page) == []
    assert "/static/" not in page  # every asset inlined
    assert "L.map(" in page and "L.Control.MiniMap" in page and "@font-face" in page
    layers = embedded_layers(page)
    assert set(layers) == {"tapi", "north_south_pipeline", "lng_terminals"}
    for layer_id, data in layers.items():
        assert [f["properties"]["id"] for f in data["features"]] == list(catalog.layer(layer_id).gdf["id"])
        assert all("_popup" in f["properties"] for f in data["features"])  # no popup fetched from a server
    assert 'href="https://www.gem.wiki/' in page.replace("\\u003c", "<").replace('\\"', '"')  # sources stay links


def test_html_export_tiles_only_when_asked(client):
    page = export(client, layers="tapi", format="html", basemap="osm").get_data(as_text=True)
    tiles = [u for u in fetched_urls(page) if "tileLayer" in u]
    assert tiles and all("tile.openstreetmap.org" in u or "opentopomap" in u or "openstreetmap.fr" in u for u in tiles)
    assert assets.remote_asset_urls(page) == []


def test_png_export_has_the_size_and_draws_the_layer(client):
    response = export(client, layers="tapi", format="png", width=800, height=500)
    assert response.mimetype == "image/png"
    pixels = image.imread(io.BytesIO(response.data))
    assert pixels.shape[:2] == (500, 800)
    rgb = (pixels[..., :3] * 255).round().astype(int).reshape(-1, 3)
    assert len(np.unique(rgb, axis=0)) > 50  # not blank
    tapi_orange = np.array([0xE6, 0x7E, 0x22])
    assert (np.abs(rgb - tapi_orange).max(axis=1) <= 12).sum() > 30  # the pipeline, in its layer colour


def test_svg_export(client):
    response = export(client, layers="tapi,lng_terminals", format="svg", width=900, height=600)
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert '<svg' in svg and 'width="432pt" height="288pt"' in svg  # 900x600 px at the default 150 dpi
    assert "#e67e22" in svg and "#00838f" in svg  # TAPI and LNG terminal colours
    assert "Natural Earth" in svg and "Global Energy Monitor" in svg  # the credits
    assert "geodesic, at" in svg  # scale bar


def test_stats_downloads(client, catalog):
    csv_text = export(client, layers="tapi,north_south_pipeline", format="stats-csv").get_data(as_text=True)
    header, *rows = csv_text.splitlines()
    assert header.startswith("layer,id,name")
    assert len(rows) == len(catalog.layer("tapi").gdf) + len(catalog.layer("north_south_pipeline").gdf)
    body = json.loads(export(client, layers="tapi", format="stats-json").data)
    expected = layer_stats(catalog, "tapi").set_index("id").loc["tapi_trunk", "geodesic_length_km"]
    assert body["tapi"]["features"][0]["geodesic_length_km"] == expected
    markdown = export(client, layers="tapi", format="stats-md").get_data(as_text=True)
    assert markdown.startswith("## TAPI gas pipeline") and "| tapi_trunk |" in markdown


def test_markdown_statistics_read_as_typed(client, catalog):
    """Escaped for Markdown, not HTML: a CommonMark reader shows TKM>AFG, never TKM&gt;AFG."""
    markdown = export(client, layers="tapi", format="stats-md").get_data(as_text=True)
    assert "&gt;" not in markdown and "TKM>AFG @218.1 km" in markdown
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    cells = re.findall(r"<td>(.*?)</td>", html)
    expected = "; ".join(f"{x['from']}>{x['to']} @{x['chainage_km']:.1f} km"
                         for x in layer_stats(catalog, "tapi").set_index("id").loc["tapi_trunk", "border_crossings"])
    assert stdlib_html.escape(expected, quote=False) in cells  # shown as TKM>AFG ..., exactly the statistics


def test_old_statistics_names_redirect_and_data_formats_go_to_the_layer_download(client):
    moved = client.get("/export?layers=tapi,cpec&format=csv")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("format=stats-csv")
    assert client.get("/export?layers=tapi&format=md", follow_redirects=True).get_data(as_text=True).startswith("## ")
    data = client.get("/export?layers=tapi&format=geojson")
    assert data.status_code == 303 and data.headers["Location"] == "/api/layers/tapi/download?format=geojson"
    several = client.get("/export?layers=tapi,cpec&format=gpkg")
    assert several.status_code == 400 and "/api/layers/cpec/download?format=gpkg" in several.get_data(as_text=True)


@pytest.mark.parametrize("query, parameter, status", [
    ("layers=tapi&format=tiff", "format", 400), ("layers=tapi&format=png&width=10", "width", 400),
    ("layers=tapi&format=png&height=tall", "height", 400), ("layers=tapi&fromat=png", "fromat", 400),
    ("layers=tapi&basemap=google", "basemap", 400), ("layers=", "layers", 400),
])
def test_bad_export_parameters(client, query, parameter, status):
    response = client.get(f"/export?{query}")
    assert response.status_code == status
    assert f"<code>{parameter}</code>" in response.get_data(as_text=True)


def test_export_unknown_layer(client):
    response = client.get("/export?layers=nope")
    assert response.status_code == 404 and "unknown layer" in response.get_data(as_text=True)


def test_cli_html_export(tmp_path, embedded_layers):
    out = tmp_path / "tapi.html"
    assert main(["export", "--layers", "tapi", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert fetched_urls(page) == [] and list(embedded_layers(page)) == ["tapi"]


def test_cli_png_export_size_from_options(tmp_path):
    out = tmp_path / "map.png"
    assert main(["export", "--layers", "tapi", "--out", str(out), "--width", "640", "--height", "480"]) == 0
    assert image.imread(out).shape[:2] == (480, 640)


def test_cli_stats_to_stdout(capsys):
    assert main(["export", "--stats", "--layers", "tapi", "--format", "md"]) == 0
    assert "| tapi_trunk |" in capsys.readouterr().out


def test_cli_errors_exit_2_with_a_message(tmp_path, capsys):
    assert main(["export", "--layers", "nope", "--out", str(tmp_path / "x.html")]) == 2
    assert "unknown layer 'nope'" in capsys.readouterr().err
    assert main(["export", "--stats", "--layers", "tapi", "--format", "png"]) == 2
    assert "not a statistics format" in capsys.readouterr().err


def test_flask_cli_export(runner):
    result = runner.invoke(args=["export", "--stats", "--layers", "tapi", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "tapi_trunk" in result.output
