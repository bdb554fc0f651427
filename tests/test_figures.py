"""Print-grade figures: one-page PDFs with everything inside the page, PNG size/dpi/type scaling, SVG text,
hostile text, pixel limits, memory freed after each export, exports in parallel, atomic CLI writes.

PDFs are read back with poppler (``pdfinfo``, ``pdftotext -bbox``, ``pdftoppm``, Debian ``poppler-utils``);
without it those tests skip, except under ``CI=true``, where they fail.
"""

import gc
import io
import itertools
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib import image

from webapp import create_app
from webapp.__main__ import main, write_atomic
from webapp.export.figures_page import figure_page

POPPLER = shutil.which("pdftotext") and shutil.which("pdftoppm") and shutil.which("pdfinfo")
needs_poppler = pytest.mark.skipif(not POPPLER and os.environ.get("CI") != "true",
                                   reason="poppler-utils (pdftotext, pdftoppm) is not installed")
HOSTILE_TITLE = r"$\undefinedmacro$ costs $5 \\ {{ 7*7 }} <b>bold</b>"
HOSTILE_NAME = r"$x^2$ pipeline \n with a line break" + "\n" + "and $$ two dollars"
LONG_WORD = "Pipeline" * 40  # 320 characters, no space to wrap at


def _get(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def pdf_words(path):
    """(page width, page height, [(x0, y0, x1, y1, word)]) in points, from ``pdftotext -bbox``."""
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    page = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', out)
    words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', out)]
    return float(page[1]), float(page[2]), words


def pdf_pages(path):
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info)[1]), re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups()


def rendered_page(path, tmp_path, dpi=40):
    """The PDF's first page as an RGB array, rendered by pdftoppm."""
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(path), str(tmp_path / "page")],
                   check=True)
    return image.imread(tmp_path / "page.png")[..., :3]


def png_dpi(data):
    """Pixels per inch from a PNG's pHYs chunk (None without one)."""
    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"pHYs":
            ppx, _, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
            return round(ppx * 0.0254) if unit == 1 else None
        pos += 12 + length
    return None


def title_height_px(pixels):
    """Height of the first band of dark rows from the top: the title's cap height plus descenders."""
    dark = (pixels[..., :3].mean(axis=2) < 0.35).any(axis=1)
    rows = np.flatnonzero(dark)
    start = rows[0]
    end = start
    while end + 1 < len(dark) and dark[end + 1]:
        end += 1
    return end - start + 1


PDFS = {  # name: (url, page size in points, title, legend heading)
    "overview": ("/export?format=pdf&paper=a4&orientation=landscape", (841.89, 595.28),
                 "Pakistan connectivity corridors", "Status of lines"),
    "tapi_portrait": ("/export?layers=tapi&format=pdf&paper=a4&orientation=portrait", (595.28, 841.89),
                      "TAPI gas pipeline", "Status of lines"),
    "corridor": ("/export/corridor?layer=tapi&feature=tapi_trunk&width_km=50&with=places,ports&format=pdf"
                 "&paper=letter", (792.0, 612.0), "50 km corridor of TAPI gas pipeline (main trunk)", "Within the band"),
    "route": ("/export/route?from=Kashgar&to=Gwadar&modes=road&format=pdf&paper=a3", (1190.55, 841.89),
              "Kashgar (Kashi) → Gwadar over road", "Legs"),
}


# --- PDF: one page, everything on it and inside it ------------------------------------------------
# One test for all four PDFs, so that one worker draws them (a module fixture would be drawn per worker).

@needs_poppler
def test_pdf_figures_are_one_page_with_everything_inside_it_and_nothing_colliding(client, tmp_path):
    for name, (url, size_pt, title, legend) in PDFS.items():
        response = _get(client, url)
        assert response.mimetype == "application/pdf"
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(response.data)
        pages, (w, h) = pdf_pages(path)
        assert pages == 1, name
        assert (float(w), float(h)) == pytest.approx(size_pt, abs=0.02), name
        width, height, words = pdf_words(path)
        text = " ".join(w[4] for w in words)
        assert title in text and legend in text, name
        assert re.search(r"(^| )\d+ km( |$)", text) and re.search(r"geodesic, at \d+\.\d°N", text), f"{name}: scale"
        assert re.search(r"(^| )N( |$)", text), f"{name}: north arrow"
        assert "Sources:" in text and "Licences:" in text and "Natural Earth (public domain)" in text, name
        assert "Interactive map: http://localhost/" in text and "Facts as " in text, name
        for x0, y0, x1, y1, word in words:  # nothing off the page, and clear of its edge (no cut-off)
            assert 6 < x0 and x1 < width - 6 and 6 < y0 and y1 < height - 6, (name, word, x0, y0, x1, y1)
        overlaps = [(a[4], b[4]) for a, b in itertools.combinations(words, 2)
                    if min(a[2], b[2]) - max(a[0], b[0]) > 0.5 and min(a[3], b[3]) - max(a[1], b[1]) > 0.5]
        assert overlaps == [], f"{name}: texts collide"
        credits = text[text.index("Sources:"):]
        for clause in ("Natural Earth (public domain)", "facts from the sources cited per feature"):
            assert credits.count(clause) <= 1, f"{name}: {clause} credited twice"
        pixels = rendered_page(path, tmp_path)
        ph, pw, _ = pixels.shape
        band = max(2, int(0.012 * min(ph, pw)))
        edges = np.concatenate([pixels[:band].reshape(-1, 3), pixels[-band:].reshape(-1, 3),
                                pixels[:, :band].reshape(-1, 3), pixels[:, -band:].reshape(-1, 3)])
        assert edges.min() > 0.97, f"{name}: something is drawn into the page margin"
        land = np.abs(pixels - np.array([0xF4, 0xF1, 0xEA]) / 255).max(axis=2) < 0.03
        rows, cols = np.flatnonzero(land.any(axis=1)), np.flatnonzero(land.any(axis=0))
        # the map fills the room between title and credits: no third of the page left empty
        assert rows[-1] - rows[0] > 0.5 * ph and cols[-1] - cols[0] > 0.5 * pw, name


# --- PNG: size, dpi, text that scales -----------------------------------------------------------------

def test_png_paper_and_dpi_give_the_pixels_and_the_text_scales(client):
    small = _get(client, "/export?layers=tapi&format=png&paper=a4&dpi=150")
    large = _get(client, "/export?layers=tapi&format=png&paper=a4&dpi=300")
    a, b = image.imread(io.BytesIO(small.data)), image.imread(io.BytesIO(large.data))
    assert a.shape[:2] == (1240, 1754) and b.shape[:2] == (2480, 3508)  # A4 landscape at 150 and 300 dpi
    assert (png_dpi(small.data), png_dpi(large.data)) == (150, 300)
    assert title_height_px(b) / title_height_px(a) == pytest.approx(2.0, rel=0.12)


def test_png_wider_page_gets_larger_text(client):
    narrow = image.imread(io.BytesIO(_get(client, "/export?layers=tapi&format=png&width=750&height=500").data))
    wide = image.imread(io.BytesIO(_get(client, "/export?layers=tapi&format=png&width=1500&height=1000").data))
    assert narrow.shape[:2] == (500, 750) and wide.shape[:2] == (1000, 1500)
    assert title_height_px(wide) / title_height_px(narrow) == pytest.approx(2.0, rel=0.12)


def test_default_all_layers_png_keeps_title_and_credits_and_fills_the_page(client):
    """The figure the home page links: nothing cut off at its edges, no third of it left empty."""
    pixels = image.imread(io.BytesIO(_get(client, "/export?format=png").data))[..., :3]
    h, w, _ = pixels.shape
    assert (h, w) == (1000, 1600)
    band = int(0.012 * h)
    for edge in (pixels[:band], pixels[-band:], pixels[:, :band], pixels[:, -band:]):
        assert edge.min() > 0.97, "something runs into the edge of the image"
    dark = pixels.mean(axis=2) < 0.35
    assert dark[: int(0.1 * h)].any() and dark[-int(0.12 * h):].any(), "title at the top, credits at the bottom"
    land = np.abs(pixels - np.array([0xF4, 0xF1, 0xEA]) / 255).max(axis=2) < 0.03
    rows, cols = np.flatnonzero(land.any(axis=1)), np.flatnonzero(land.any(axis=0))
    assert rows[-1] - rows[0] > 0.6 * h and cols[-1] - cols[0] > 0.6 * w


@pytest.mark.parametrize("query, parameter, why", [
    ("format=png&width=12000&height=12000", "width", "EXPORT_MAX_PIXELS"),
    ("format=png&paper=a3&dpi=600&orientation=sideways", "orientation", "landscape, portrait"),
    ("format=png&dpi=1200", "dpi", "72..600"), ("format=pdf&width=800", "width", "paper="),
    ("format=png&paper=a5", "paper", "a4, a3, letter"), ("format=png&paper=a4&width=900", "width", "not both"),
    ("format=svg&orientation=portrait", "orientation", "paper="), ("format=html&dpi=300", "dpi", "figure formats"),
])
def test_bad_figure_options_are_a_400_naming_them(client, query, parameter, why):
    response = client.get(f"/export?layers=tapi&{query}", headers={"Accept": "application/json"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert f"<code>{parameter}</code>" in body and why in body


def test_pixel_limit_is_a_setting():
    app = create_app({"TESTING": True, "EXPORT_MAX_PIXELS": 1_000_000})
    response = app.test_client().get("/export?layers=tapi&format=png&width=1200&height=1000")
    assert response.status_code == 400 and "1.2 megapixels" in response.get_data(as_text=True)
    assert app.test_client().get("/export?layers=tapi&format=png&width=1000&height=1000").status_code == 200
    assert figure_page("png", paper="a3", dpi=600).pixels == (9921, 7016)  # the default admits A3 at 600 dpi


# --- SVG: real text -------------------------------------------------------------------------------------

def test_svg_text_is_text(client):
    svg = _get(client, "/export?layers=tapi&format=svg&paper=a4").data
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "TAPI gas pipeline" in texts and "Status of lines" in texts and "Afghanistan" in texts
    assert any(t.startswith("Sources:") for t in texts) and "N" in texts
    assert root.get("width") == "841.889764pt"  # A4 landscape


def test_schematic_and_approximate_lines_get_the_web_maps_halo_legend_and_note(client, catalog):
    from layers.styles import QUALITY_STYLE

    for quality in ("schematic", "approximate"):
        layer = next(lay for lay in catalog if (lay.gdf[lay.gdf.geom_type.isin(["LineString", "MultiLineString"])]
                                               ["geometry_quality"] == quality).any())
        svg = _get(client, f"/export?layers={layer.id}&format=svg&paper=a4").data
        texts = " ".join("".join(t.itertext()) for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text"))
        assert f"{QUALITY_STYLE[quality]['label']} (pale halo)" in texts, (quality, layer.id)
        assert f"{quality.capitalize()} routes" in texts, (quality, layer.id)


def test_figures_are_the_same_bytes_every_time(client):
    for url in ("/export?layers=ports&format=svg&width=500&height=400", "/export?layers=ports&format=pdf",
                "/export?layers=ports&format=png&width=500&height=400"):
        assert _get(client, url).data == _get(client, url).data, url


# --- hostile text ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def math_app(tmp_path_factory):
    """A user layer whose title, names and attribution are full of mathtext, backslashes and markup."""
    folder = tmp_path_factory.mktemp("math_layers")
    props = {"kind": "gas_pipeline", "status": "proposed", "countries": ["PAK"], "reported_length_km": None,
             "geometry_quality": "traced", "sources": [{"title": "$\\sqrt{x}$", "url": "https://example.org/"}],
             "licence": "CC BY 4.0 $\\alpha$"}
    doc = {"type": "FeatureCollection",
           "metadata": {"id": "mathy", "title": HOSTILE_TITLE, "description": "$\\frac{1}{0}$ " + LONG_WORD,
                        "attribution": "Example $\\beta$ Org", "licence": "CC BY 4.0 $\\alpha$"},
           "features": [
               {"type": "Feature", "properties": {**props, "id": "m1", "name": HOSTILE_NAME, "as_of": "2024-05-31",
                                                  "last_checked": "2025-11-30"},
                "geometry": {"type": "LineString", "coordinates": [[66.0, 25.5], [68.0, 27.0], [70.0, 29.0]]}},
               {"type": "Feature", "properties": {**props, "id": "m2", "name": "$\\undefinedmacro$ plant",
                                                  "kind": "power_plant", "geometry_quality": "point"},
                "geometry": {"type": "Point", "coordinates": [67.2, 25.2]}}]}
    (folder / "mathy.geojson").write_text(json.dumps(doc), encoding="utf-8")
    return create_app({"TESTING": True, "LAYERS_DIRS": [str(folder)]})


@pytest.mark.parametrize("url", ["/export?format=png",  # the default all-layers PNG of the issue
                                 "/export?layers=mathy&format=png&width=600&height=450",
                                 "/export?layers=mathy&format=pdf&paper=a4&orientation=portrait",
                                 "/export/corridor?feature=mathy:m1&width_km=60&with=mathy,places&format=png"
                                 "&width=600&height=450"])
def test_text_from_data_never_reaches_the_math_parser(math_app, url):
    response = math_app.test_client().get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]


def test_hostile_text_is_shown_as_typed(math_app):
    svg = _get(math_app.test_client(), "/export?layers=mathy&format=svg&paper=a4").data
    texts = " ".join("".join(t.itertext()) for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text"))
    assert HOSTILE_TITLE in texts  # the title, $ and \\ and markup verbatim, on one line
    assert "$\\undefinedmacro$ plant" in texts and "Example $\\beta$ Org" in texts
    assert "Facts as of 2024-05-31; last checked 2025-11-30." in texts  # the dated-facts contract, where present
    assert LONG_WORD not in texts and LONG_WORD[:80] in texts.replace(" ", "")  # wrapped by force, all there
    svg = _get(math_app.test_client(), "/export/corridor?feature=mathy:m1&width_km=30&with=mathy&format=svg").data
    texts = " ".join("".join(t.itertext()) for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text"))
    assert "Route: $x^2$ pipeline \\n with a line break and $$ two dollars" in texts  # line break folded


# --- memory and concurrency ------------------------------------------------------------------------------

def _rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_big_exports_free_their_memory_without_the_garbage_collector(client):
    """Bounded form of the 200 x 8000x8000 check: 5 exports of 6.25 megapixels (25 MB of pixels each).

    The collector is off, so only memory freed on the spot is given back; before the fix each export left
    its canvas in a reference cycle and RSS grew by the size of the pixel buffer every time.
    """
    url = "/export?layers=ports&format=png&width=2500&height=2500"
    _get(client, url)
    gc.collect()
    gc.disable()
    try:
        start = _rss_mb()
        for _ in range(5):
            _get(client, url)
        grown = _rss_mb() - start
    finally:
        gc.enable()
    assert grown < 40, f"RSS grew {grown:.0f} MB over 5 exports (one leaked buffer is 25 MB)"


def test_exports_run_in_parallel_and_agree_with_serial_ones():
    urls = ["/export?layers=tapi&format=png&width=500&height=400", "/export?layers=casa1000&format=svg&width=500&height=400",
            "/export?layers=ports&format=pdf", "/export?layers=tapi,cpec&format=png&width=400&height=400"]
    # as many slots as exports: the figures themselves must be thread-safe (no global lock), whatever the workload
    # bound of a deployment lets run at once
    app = create_app({"TESTING": True, "HEAVY_CONCURRENCY": len(urls), "RATELIMIT_ENABLED": False})
    client = app.test_client()
    serial = [_get(client, u).data for u in urls]
    results, errors = {}, []
    barrier = threading.Barrier(len(urls))

    def run(i, url):
        try:
            barrier.wait(timeout=30)
            results[i] = _get(app.test_client(), url).data
        except Exception as exc:  # reported below with the URL
            errors.append((url, repr(exc)))

    threads = [threading.Thread(target=run, args=(i, u)) for i, u in enumerate(urls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    assert [results[i] for i in range(len(urls))] == serial


# --- analysis figures and the CLI ----------------------------------------------------------------------------

def test_corridor_and_route_figures_in_every_format(client):
    for fmt, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
        response = _get(client, f"/export/route?from=Karachi&to=Lahore&modes=gas&format={fmt}&width=600&height=450")
        assert response.mimetype == mime and response.headers["Content-Disposition"].endswith(f'route.{fmt}"')
    query = "layer=tapi&feature=tapi_trunk&width_km=50&with=places,ports"
    svg = _get(client, f"/export/corridor?{query}&format=svg&width=900&height=600").get_data(as_text=True)
    places = client.get(f"/api/corridor?{query}").get_json()["summary"]["by_layer"]["places"]["features"]
    assert f"Places (GeoNames gazetteer) ({places})" in svg and "Herat" in svg
    response = client.get("/export/corridor?layer=tapi&feature=tapi_trunk&format=png&paper=a4&width=100")
    assert response.status_code == 400


@needs_poppler
def test_cli_writes_figures(tmp_path, capsys):
    out = tmp_path / "tapi.pdf"
    assert main(["export", "--layers", "tapi", "--out", str(out), "--paper", "a4", "--orientation", "portrait",
                 "--base-url", "https://maps.example.org"]) == 0
    assert pdf_pages(out)[0] == 1
    assert "Interactive map: https://maps.example.org/map/tapi" in " ".join(w[4] for w in pdf_words(out)[2])
    png = tmp_path / "route.png"
    assert main(["export", "--from", "Karachi", "--to", "Lahore", "--modes", "gas", "--out", str(png),
                 "--width", "800", "--height", "600", "--dpi", "100"]) == 0
    assert image.imread(png).shape[:2] == (600, 800) and png_dpi(png.read_bytes()) == 100
    assert main(["export", "--corridor", "tapi:tapi_trunk", "--with", "ports", "--out", str(tmp_path / "c.svg"),
                 "--width", "600", "--height", "450"]) == 0
    assert main(["export", "--layers", "tapi", "--out", str(tmp_path / "x.png"), "--dpi", "9000"]) == 2
    assert "parameter 'dpi'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.svg", "route.png", "tapi.pdf"]


def test_write_atomic_leaves_the_old_file_or_the_new_one(tmp_path, monkeypatch):
    target = tmp_path / "figure.pdf"
    target.write_bytes(b"old complete file")
    os.chmod(target, 0o644)

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"new" * 1000)
    assert target.read_bytes() == b"old complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["figure.pdf"]  # no temporary file left behind
    monkeypatch.undo()
    write_atomic(target, b"new file")
    assert target.read_bytes() == b"new file" and (target.stat().st_mode & 0o777) == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
