"""Hostile data and hostile URLs, through the Flask test client (the real browser does the same in
tests/browser/test_hostile_browser.py, and raw HTTP to the live server in tests/browser/test_live_paths.py).

Every property value that reaches HTML must arrive as text: no element or
event attribute may come from the data, the payloads never appear raw in a
page, links are made only of http(s) URLs. Ids in URLs never reach a file.
"""

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

import pytest
from browser.hostile import (
    FEATURES,
    LAYER_ID,
    LEAK_MARKERS,
    PAYLOADS,
    SAFE_URLS,
    TITLE,
    TRAVERSAL_PATHS,
    UNSAFE_URLS,
    write_layer,
)
from markdown_it import MarkdownIt

from layers.catalog import Catalog
from layers.errors import LayerInvalid
from webapp import create_app

RAW_PAYLOADS = [p for p in PAYLOADS.values() if any(c in p for c in "<>\"'")]


class _Page(HTMLParser):
    """Tags with their attributes, text outside <script>/<style>, and inline script bodies."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.scripts, self._in = [], [], [], None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in = tag
            if tag == "script":
                self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in is None:
            self.text.append(data)

    @property
    def all_text(self):
        return "".join(self.text)


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_layers")
    write_layer(folder)
    return create_app({"TESTING": True, "LAYERS_DIRS": [str(folder)]})


@pytest.fixture()
def hclient(hostile_app):
    return hostile_app.test_client()


def _table_rows(html):
    """Cell texts of each body row of the tables in ``html``."""

    class Rows(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.rows, self._cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag == "td":
                self._cell = ""

        def handle_endtag(self, tag):
            if tag == "td":
                self.rows[-1].append(self._cell)
                self._cell = None

        def handle_data(self, data):
            if self._cell is not None:
                self._cell += data

    parser = Rows()
    parser.feed(html)
    return [row for row in parser.rows if row]


def _assert_nothing_injected(html, *, reference=None):
    """No element or attribute in ``html`` comes from the payloads; scripts are ours only."""
    page = _Page(html)
    handlers = [(tag, name) for tag, attrs in page.tags for name in attrs if name.lower().startswith("on")]
    assert handlers == [], f"event-handler attributes in the page: {handlers[:5]}"
    assert not [t for t, a in page.tags if t == "img" and a.get("src") == "x"]
    assert not [t for t, a in page.tags if t == "svg" and "onload" in a]
    for payload in RAW_PAYLOADS:
        assert payload not in html, f"payload reached the page unescaped: {payload!r}"
    for tag, attrs in page.tags:
        for name in ("href", "src", "action", "formaction"):
            value = (attrs.get(name) or "").strip().lower().replace("\t", "")
            assert not value.startswith(("javascript:", "vbscript:", "data:text/html")), (tag, attrs)
    if reference is not None:  # same number of scripts as a page of a benign layer: none was added
        assert len(page.scripts) == len(_Page(reference).scripts)
    for tag, attrs in page.tags:
        if tag == "script" and attrs.get("src"):  # vendored libraries and the app's own scripts only
            assert attrs["src"].startswith("/static/v/"), attrs
    return page


@pytest.mark.parametrize("path, reference", [
    (f"/map/{LAYER_ID}", "/map/tapi"),
    (f"/embed/{LAYER_ID}", "/embed/tapi"),
    (f"/map?layers={LAYER_ID},tapi", "/map?layers=casa1000,tapi"),
    ("/", None),
    (f"/corridor?feature={LAYER_ID}:evil_line&with={LAYER_ID},ports,places&width_km=50", None),
    (f"/embed/corridor?feature={LAYER_ID}:evil_quote", None),
    (f"/route?from={LAYER_ID}:evil_point&to=Karachi", None),
    ("/route?from=%3Cscript%3Ealert(1)%3C/script%3E&to=Gwadar", None),
])
def test_map_pages_show_hostile_text_as_text(hclient, path, reference):
    response = hclient.get(path)
    assert response.status_code == (400 if "%3Cscript" in path else 200)
    html = response.get_data(as_text=True)
    benign = hclient.get(reference).get_data(as_text=True) if reference else None
    page = _assert_nothing_injected(html, reference=benign)
    if path.startswith("/map/"):
        text = page.all_text
        assert TITLE in text  # <h1>, nav bar, <title>, the statistics table's section
        assert PAYLOADS["script"] in text and PAYLOADS["quote"] in text  # feature names in the statistics table
        assert PAYLOADS["img"] + " " + PAYLOADS["entity"] in text  # the description, entities not decoded
        # the embed snippet: a textarea whose text is the snippet; its title attribute is escaped once
        snippet = next(t for t in page.text if t.startswith("<figure"))
        escaped_title = "&lt;script&gt;alert(1)&lt;/script&gt; &#34;&#39;&gt;&lt;svg onload=alert(3)&gt; {{7*7}}"
        assert f'title="Interactive map: {escaped_title}"' in snippet
        assert [tag for tag, _ in _Page(snippet).tags] == ["figure", "iframe", "figcaption", "a"]
        assert _Page(snippet).tags[1][1]["title"] == "Interactive map: " + TITLE
        assert TITLE in "".join(_Page(snippet).text)  # the caption names the map as text


@pytest.mark.parametrize("path", [f"/map/{LAYER_ID}", f"/embed/{LAYER_ID}", "/",
                                  f"/export?layers={LAYER_ID}&format=html",
                                  f"/corridor?feature={LAYER_ID}:evil_jinja&width_km=40",
                                  f"/export/corridor?feature={LAYER_ID}:evil_line&with={LAYER_ID}"])
def test_jinja_in_the_data_is_never_run_on_the_server(hclient, path):
    """folium's branca compiles rendered output as a template again; webapp.security.harden_folium stops it."""
    response = hclient.get(path)
    assert response.status_code == 200  # '{% if true %}' in a name would otherwise break the page
    html = response.get_data(as_text=True)
    assert "49 ${alert(6)}" not in html and "{{7*7}} ${alert(6)}" in html
    assert "{{ lipsum.__globals__.os.getcwd() }}" in html
    assert str(Path.cwd()) not in html  # what the payload would have printed


def test_map_data_reaches_the_page_only_as_script_safe_json(hclient):
    html = hclient.get(f"/map/{LAYER_ID}").get_data(as_text=True)
    page = _Page(html)
    for script in page.scripts:
        assert "</script" not in script.lower() and "<!--" not in script
    blob = "\n".join(page.scripts)
    # the names are there, but only with <, >, ' and & as \\u escapes
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in blob
    assert "alert(1)</script>" not in blob


def test_popup_shows_every_property_literally_and_links_only_http_urls(hclient):
    html = hclient.get(f"/popup/{LAYER_ID}/evil_line").get_data(as_text=True)
    page = _assert_nothing_injected(html)
    text = page.all_text
    for name in ("script", "close_script", "comment", "quote", "rtl", "template", "entity"):
        assert PAYLOADS[name] in text, name
    assert PAYLOADS["img"] in text  # a hostile property *name* is a table header, as text
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert links == SAFE_URLS
    for url in UNSAFE_URLS:
        assert f"({url.strip()})" in text, f"unsafe source URL not shown as plain text: {url!r}"


@pytest.mark.parametrize("path", [f"/export?layers={LAYER_ID}&format=html"])
def test_exported_html_is_self_contained_and_inert(hclient, path):
    response = hclient.get(path)
    assert response.status_code == 200
    page = _assert_nothing_injected(response.get_data(as_text=True))
    assert not [a for t, a in page.tags if t == "script" and a.get("src")], "an export must inline its scripts"
    assert not [a for t, a in page.tags if t == "link" and a.get("href")], "an export must inline its styles"


def test_static_svg_export_carries_text_only(hclient):
    response = hclient.get(f"/export?layers={LAYER_ID}&format=svg")
    assert response.status_code == 200
    root = ET.fromstring(response.data)  # well-formed XML, even with '--' and '<!--' in the names
    for element in root.iter():
        assert not element.tag.endswith("}script")
        assert not [k for k in element.attrib if k.lower().startswith("on")]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_markdown_statistics_escape_markup_the_markdown_way(hclient):
    text = hclient.get(f"/export?layers={LAYER_ID}&format=stats-md").get_data(as_text=True)
    assert "<script" not in text.replace("\\<script", "") and "&lt;" not in text.replace("\\&lt;", "")
    assert "\\<script>alert(1)\\</script>" in text  # a Markdown escape, not an HTML entity
    rows = [line for line in text.splitlines() if line.startswith("| evil_")]
    cells = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
    assert len(rows) == len(FEATURES) and len(cells) == 1, rows  # every row has the header's columns
    # A real CommonMark reader shows every name exactly as typed, and makes no element of it.
    html = MarkdownIt("commonmark").enable("table").render(text)
    page = _Page(html)
    assert {tag for tag, _ in page.tags} <= {"h2", "p", "table", "thead", "tbody", "tr", "th", "td"}
    names = [cells[1] for cells in _table_rows(html)]
    assert names == [" ".join(f["properties"]["name"].split()) for f in FEATURES]


def test_api_returns_the_strings_unchanged_as_json(hclient):
    response = hclient.get(f"/api/layers/{LAYER_ID}/features/evil_line")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "application/geo+json"
    props = json.loads(response.data)["properties"]
    assert props["name"] == PAYLOADS["script"]
    assert props[PAYLOADS["img"]] == PAYLOADS["template"]
    assert [s["url"] for s in props["sources"]] == UNSAFE_URLS + SAFE_URLS


@pytest.mark.parametrize("path", ["/map/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                                  "/embed/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
                                  "/map?layers=%3Csvg%20onload=alert(1)%3E", "/export?layers=tapi&format=%3Cscript%3E"])
def test_error_pages_echo_hostile_input_as_text(hclient, path):
    response = hclient.get(path)
    assert response.status_code in (400, 404)
    _assert_nothing_injected(response.get_data(as_text=True))


def test_a_colour_that_is_not_a_colour_is_refused_at_load(tmp_path):
    path = write_layer(tmp_path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["metadata"]["style"] = {"color": '#c0392b" onmouseover="alert(14)'}
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(LayerInvalid, match="style.color"):
        Catalog.from_dirs(extra_dirs=[tmp_path])  # strict loading (the geo CLI) refuses it
    app = create_app({"TESTING": True, "LAYERS_DIRS": [str(tmp_path)], "DATA_DIR": str(tmp_path / "data")})
    assert LAYER_ID not in app.extensions["catalog"]  # the service skips the file and says why on /status
    skipped = app.test_client().get("/api/status").get_json()["skipped_files"]
    assert [s["path"] for s in skipped] == [str(path)] and "style.color" in skipped[0]["reason"]


# --- ids in URLs never reach the filesystem ----------------------------------------------------

def _split(raw):
    """A raw request target -> (path, query) as the test client takes them, percent-decoding undone by WSGI."""
    parts = urlsplit(raw)
    return parts.path, parts.query


@pytest.fixture(scope="module")
def plain_client():
    return create_app({"TESTING": True}).test_client()


@pytest.mark.parametrize("target", TRAVERSAL_PATHS)
def test_ids_in_urls_never_reach_the_filesystem(plain_client, target):
    path, query = _split(target)
    # WSGI hands the app the percent-decoded path (as latin-1): exactly what the test client builds from it
    environ_path = unquote_to_bytes(path).decode("latin-1")
    response = plain_client.get(environ_path, query_string=query)
    if 300 <= response.status_code < 400:  # werkzeug folds '//' inside the app: follow it, once
        location = urlsplit(response.headers["Location"])
        assert location.netloc in ("", "localhost")
        response = plain_client.get(location.path)
    assert response.status_code == 404, (target, response.status_code)
    assert not any(marker in response.data for marker in LEAK_MARKERS), target
    if environ_path.startswith("/api/"):
        assert "error" in response.get_json()
