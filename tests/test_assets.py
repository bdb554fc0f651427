"""Offline front-end assets: folium must load nothing from a CDN."""

import json
import re
import shutil
import subprocess

import folium
import folium.folium
import pytest
from flask import Flask
from folium import plugins

from webapp.maps import assets, vendor_assets

STATIC = assets.VENDOR_DIR.parent
VENDOR = STATIC / "vendor"
CONFIGURED = [folium.Map, plugins.Fullscreen, plugins.MiniMap, plugins.MousePosition]

# src= / href= of <script> and <link> tags only: tile templates and
# attribution anchors are not asset loads.
TAG_URL = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
LOCAL_TILES = "/tiles/{z}/{x}/{y}.png"


@pytest.fixture(autouse=True)
def restore_folium():
    """Put folium's class attributes back, so no test leaks configuration."""
    saved = {cls: {k: cls.__dict__[k] for k in ("default_js", "default_css") if k in cls.__dict__} for cls in CONFIGURED}
    yield
    for cls, attrs in saved.items():
        for key in ("default_js", "default_css"):
            if key in attrs:
                setattr(cls, key, attrs[key])
            elif key in cls.__dict__:
                delattr(cls, key)


def full_map() -> folium.Map:
    """A map using every element the pages use, with no remote tiles."""
    m = folium.Map(location=[20, 0], zoom_start=3, tiles=None, control_scale=True)
    folium.TileLayer(LOCAL_TILES, attr="local", name="local").add_to(m)
    folium.Marker([0, 0], icon=folium.Icon(icon="star", prefix="fa", angle=45)).add_to(m)
    folium.Marker([10, 20], icon=folium.Icon(icon="info-sign")).add_to(m)
    folium.Marker([30, -30], popup="default marker").add_to(m)
    feature = {
        "type": "Feature",
        "properties": {"name": "triangle"},
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 0]]]},
    }
    folium.GeoJson(
        {"type": "FeatureCollection", "features": [feature]},
        tooltip=folium.GeoJsonTooltip(["name"]),
        popup=folium.GeoJsonPopup(["name"]),
    ).add_to(m)
    plugins.Fullscreen().add_to(m)
    plugins.MiniMap(tile_layer=folium.TileLayer(LOCAL_TILES, attr="local")).add_to(m)
    plugins.MousePosition().add_to(m)
    folium.LayerControl().add_to(m)
    return m


@pytest.fixture
def page() -> str:
    assets.configure_folium()
    return full_map().get_root().render()


def test_page_loads_no_remote_assets(page):
    urls = TAG_URL.findall(page)
    assert urls, "expected script/link tags in the header"
    assert [u for u in urls if re.match(r"(https?:)?//", u)] == []
    assert assets.remote_asset_urls(page) == []


def test_page_asset_files_exist(page):
    urls = TAG_URL.findall(page)
    assert all(u.startswith("/static/vendor/") for u in urls), urls
    for url in urls:
        assert (STATIC / url.removeprefix("/static/")).is_file(), url
    # Every vendored JS/CSS of ASSETS is actually used by the full map, but Leaflet.VectorGrid: only maps with a
    # layer drawn from vector tiles load it (tests/browser/test_gis_browser.py)
    tiled_only = {"leaflet.vectorgrid-1.3.0/dist/Leaflet.VectorGrid.bundled.min.js"}
    assert {u.removeprefix("/static/vendor/") for u in urls} == set(assets.vendor_files()) - tiled_only


def test_remote_asset_urls_spots_folium_defaults(monkeypatch):
    # Guards the guard: folium's own lists must be flagged.
    monkeypatch.setattr(folium.Map, "default_js", folium.folium._default_js)
    monkeypatch.setattr(folium.Map, "default_css", folium.folium._default_css)
    html = folium.Map(tiles=None).get_root().render()
    assert len(assets.remote_asset_urls(html)) == len(folium.folium._default_js) + len(folium.folium._default_css)


def test_configure_is_idempotent_and_leaves_folium_module_lists_alone():
    original_js = list(folium.folium._default_js)
    original_css = list(folium.folium._default_css)
    assets.configure_folium()
    first = {cls: (cls.default_js, cls.default_css) for cls in CONFIGURED}
    assets.configure_folium()
    for cls in CONFIGURED:
        assert cls.default_js is first[cls][0] and cls.default_css is first[cls][1]
    assert folium.folium._default_js == original_js
    assert folium.folium._default_css == original_css
    assert folium.Map.default_js is not folium.folium._default_js
    assert all(url.startswith("https://") for _, url in folium.folium._default_js)


def test_configure_with_prefix():
    assets.configure_folium("/assets/v/")
    assert folium.Map.default_js[0] == ("leaflet", "/assets/v/leaflet-1.9.3/dist/leaflet.js")
    assert plugins.MiniMap.default_css[0][1].startswith("/assets/v/leaflet-minimap-3.6.1/")


def test_init_app_serves_vendor_files():
    app = Flask(__name__, static_folder=str(STATIC))
    assets.init_app(app)
    assert folium.Map.default_css[0][1] == "/static/vendor/leaflet-1.9.3/dist/leaflet.css"
    client = app.test_client()
    for rel in ("leaflet-1.9.3/dist/leaflet.js", "fontawesome-free-6.2.0/webfonts/fa-solid-900.woff2"):
        response = client.get(f"/static/vendor/{rel}")
        assert response.status_code == 200
        assert response.data == (VENDOR / rel).read_bytes()
        response.close()


def test_init_app_refuses_other_static_folder(tmp_path):
    with pytest.raises(RuntimeError, match="vendored assets"):
        assets.init_app(Flask(__name__, static_folder=str(tmp_path)))


def test_inline_assets_is_self_contained(page):
    html = assets.inline_assets(page)
    assert "/static/vendor" not in html
    assert TAG_URL.findall(html) == []
    assert assets.remote_asset_urls(html) == []
    assert "Leaflet 1.9.3" in html
    assert "data:font/woff2;base64," in html  # Font Awesome and glyphicons webfonts
    assert "../webfonts/" not in html
    # Every CSS url() left is a data: URI (or Leaflet's IE "#default#VML").
    leftovers = {u for u in re.findall(r"""url\(\s*["']?([^"')]*)""", html) if not u.startswith(("data:", "#"))}
    assert leftovers == set()
    assert "sourceMappingURL" not in html


def test_inline_assets_embeds_woff2_only(page):
    html = assets.inline_assets(page)
    # ttf/eot/svg fallbacks would more than double the export (each FA font
    # is declared three times); woff2 is read by every browser Bootstrap 5 runs on.
    assert "data:font/ttf" not in html and "data:application/vnd.ms-fontobject" not in html
    assert len(html) < 3_000_000


def test_inline_assets_keeps_default_marker_icons(page):
    html = assets.inline_assets(page)
    fix = html.index("L.Icon.Default.imagePath")
    assert html.index("Leaflet 1.9.3") < fix < html.index("L.marker(")
    assert 'iconUrl: "data:image/png;base64,' in html
    assert 'shadowUrl: "data:image/png;base64,' in html


def test_inline_assets_missing_file_is_a_clear_error():
    html = '<script src="/static/vendor/nope-1.0/nope.js"></script>'
    with pytest.raises(assets.MissingVendorAsset, match="nope-1.0/nope.js"):
        assets.inline_assets(html)
    with pytest.raises(assets.MissingVendorAsset):
        assets.inline_assets('<link rel="stylesheet" href="/static/vendor/../../assets.py"/>')


def test_inline_assets_leaves_foreign_tags_alone():
    html = '<link rel="icon" href="/static/vendor/leaflet-1.9.3/dist/images/layers.png"/><script src="/app.js"></script>'
    assert assets.inline_assets(html) == html


HOSTILE_JS = r"""var a = "</script><script>alert(1)</script>";
var b = /<\/script>/i.test(a) && /\<script/.test("<script") ;
var c = `<!-- ${a} -->`;
// a comment that says </SCRIPT>
console.log(JSON.stringify([a, b, c]));
"""


@pytest.fixture
def hostile_vendor(tmp_path):
    (tmp_path / "evil-1.0").mkdir()
    (tmp_path / "evil-1.0" / "evil.js").write_text(HOSTILE_JS)
    return tmp_path


def test_inline_js_cannot_close_its_script_element(hostile_vendor):
    html = assets.inline_assets('<script src="/v/evil-1.0/evil.js"></script>', url_prefix="/v", vendor_dir=hostile_vendor)
    assert len(re.findall(r"</script", html, re.IGNORECASE)) == 1
    assert not re.search(r"<!--|<script(?!>\n)", html[len("<script>"):], re.IGNORECASE)


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_inline_js_means_the_same(hostile_vendor, tmp_path):
    html = assets.inline_assets('<script src="/v/evil-1.0/evil.js"></script>', url_prefix="/v", vendor_dir=hostile_vendor)
    escaped = html.removeprefix("<script>\n").removesuffix("\n</script>")
    (tmp_path / "escaped.js").write_text(escaped)
    run = [subprocess.run(["node", str(f)], capture_output=True, text=True, check=True).stdout
           for f in (hostile_vendor / "evil-1.0" / "evil.js", tmp_path / "escaped.js")]
    assert run[0] == run[1] and json.loads(run[0])[1] is True


def test_manifest_matches_vendor_tree():
    assert vendor_assets.verify(VENDOR) == []
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    listed = {f"{p['folder']}/{f['path']}" for p in manifest["packages"] for f in p["files"]}
    assert set(assets.vendor_files()) <= listed
    for pkg in manifest["packages"]:
        assert pkg["license"]
        if pkg["source"] == "npm":
            assert pkg["integrity"].startswith("sha512-")
            paths = [f["path"] for f in pkg["files"]]
            # a package shipping no LICENSE file keeps the file that states its licence, and says so
            kept = "README.md" in paths and "licence" in pkg["note"]
            assert kept or any(re.match(r"(MIT-)?LICEN[CS]E", p) for p in paths), pkg["folder"]


def test_manifest_pins_match_script():
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    by_name = {p["package"]: p for p in manifest["packages"]}
    for pkg in vendor_assets.PACKAGES:
        assert by_name[pkg.name]["version"] == pkg.version
        assert by_name[pkg.name]["integrity"] == pkg.integrity


def test_rotate_css_covers_every_angle():
    css = (VENDOR / "folium-awesome-rotate-0.20.0" / "leaflet.awesome.rotate.css").read_text()
    assert css == vendor_assets.rotate_css()
    assert ".fa-rotate-45{" in css and ".fa-rotate-359{" in css
