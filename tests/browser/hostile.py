"""Hostile input shared by the tests: a layer whose every text field tries to inject markup or script,
and URL paths that try to climb out of the app into the filesystem.

The layer is written to a folder and loaded with ``LAYERS_DIRS``. Each
payload, if it ever ran, would call ``alert(...)``; the browser tests hook
``alert`` and look for the text shown literally instead.
"""

from __future__ import annotations

import json

__all__ = ["FEATURES", "LAYER_ID", "LEAK_MARKERS", "PAYLOADS", "SAFE_URLS", "SOURCES", "TITLE", "TRAVERSAL_PATHS",
           "UNSAFE_URLS", "write_layer"]

LAYER_ID = "hostile"

PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "img": "<img src=x onerror=alert(2)>",
    "quote": "\"'><svg onload=alert(3)>",
    "close_script": "</script><script>alert(4)</script>",
    "comment": "<!--<script>alert(5)//-->",
    "rtl": "Gas \u202egnp.exe\u202c line",  # right-to-left override: shown, not obeyed as markup
    "template": "{{7*7}} ${alert(6)} `alert(7)`",
    # Jinja that would run on the server if any layer of the stack rendered data as a template
    "jinja": "{{ lipsum.__globals__.os.getcwd() }} {% if true %}{# open",
    "entity": "&lt;b&gt;not bold&lt;/b&gt; &amp; co",  # must show as typed, not decoded to <b>
    "separators": "line\u2028separator\u2029end",
}

TITLE = PAYLOADS["script"] + " " + PAYLOADS["quote"] + " {{7*7}}"

# Source URLs: only the http(s) ones may become links.
UNSAFE_URLS = [
    "javascript:alert(8)",
    " JaVaScRiPt:alert(9)",
    "java\tscript:alert(10)",
    "data:text/html,<script>alert(11)</script>",
    "vbscript:msgbox(12)",
    "//evil.example/scheme-relative",
    "file:///etc/passwd",
]
SAFE_URLS = [
    "https://example.org/report?a=1&b=\"onmouseover=\"alert(13)",
    "http://example.org/plain",
]
SOURCES = ([{"title": PAYLOADS["img"] + f" #{i}", "url": url} for i, url in enumerate(UNSAFE_URLS)]
           + [{"title": f"Safe source {i}", "url": url} for i, url in enumerate(SAFE_URLS)])


def _props(fid, name, **extra):
    props = {
        "id": fid, "name": name, "kind": "gas_pipeline", "status": "proposed", "countries": ["PAK"],
        "reported_length_km": 250.0, "geometry_quality": "schematic", "sources": SOURCES,
        "licence": PAYLOADS["quote"], "description": PAYLOADS["close_script"], "operator": PAYLOADS["comment"],
        "length_note": PAYLOADS["rtl"], PAYLOADS["img"]: PAYLOADS["template"],  # a hostile property *name*
        "partners": [PAYLOADS["entity"], PAYLOADS["separators"]],
    }
    props.update(extra)
    return props


FEATURES = [
    {"type": "Feature", "properties": _props("evil_line", PAYLOADS["script"]),
     "geometry": {"type": "LineString", "coordinates": [[66.0, 25.5], [67.5, 27.0], [69.0, 29.0], [71.0, 30.5]]}},
    {"type": "Feature", "properties": _props("evil_quote", PAYLOADS["quote"], status="construction"),
     "geometry": {"type": "LineString", "coordinates": [[68.0, 32.0], [70.0, 33.0], [72.0, 33.5]]}},
    {"type": "Feature", "properties": _props("evil_close", PAYLOADS["close_script"] + PAYLOADS["rtl"],
                                             status="operating"),
     "geometry": {"type": "LineString", "coordinates": [[64.0, 28.0], [65.0, 30.0], [66.0, 31.5]]}},
    {"type": "Feature", "properties": _props("evil_jinja", PAYLOADS["jinja"], status="shelved"),
     "geometry": {"type": "LineString", "coordinates": [[68.5, 31.0], [70.0, 31.6]]}},
    {"type": "Feature", "properties": _props("evil_point", PAYLOADS["img"], kind="power_plant", status="operating",
                                             geometry_quality="point", reported_length_km=None),
     "geometry": {"type": "Point", "coordinates": [67.0, 24.9]}},
]


def write_layer(folder):
    """Write ``hostile.geojson`` into ``folder`` (a ``pathlib.Path``); return the file."""
    doc = {
        "type": "FeatureCollection",
        "metadata": {
            "id": LAYER_ID, "title": TITLE, "description": PAYLOADS["img"] + " " + PAYLOADS["entity"],
            "attribution": PAYLOADS["img"] + "; " + PAYLOADS["close_script"], "licence": PAYLOADS["quote"],
            "style": {"color": "#8e44ad"},  # colours are checked at load (see tests/test_hostile.py)
        },
        "features": FEATURES,
    }
    path = folder / f"{LAYER_ID}.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


# Ids in URL paths and query strings that try to reach files: dot segments plain and encoded, encoded slashes
# and backslashes, absolute paths, null bytes. Sent byte-for-byte (no client-side normalisation).
TRAVERSAL_PATHS = (
    "/static/../webapp/__init__.py",
    "/static/%2e%2e/__init__.py",
    "/static/..%2f__init__.py",
    "/static/%2e%2e%2f%2e%2e%2fsettings.py",
    "/static/vendor/..%2f..%2f__init__.py",
    "/static/..%5c..%5c__init__.py",
    "/static/%2fetc%2fpasswd",
    "/static//etc/passwd",
    "/static/../../../../etc/passwd",
    "/static/x%00.js",
    "/api/layers/..%2f..%2fwebapp%2fsettings.py",
    "/api/layers/%2e%2e",
    "/api/layers/..",
    "/api/layers/%2e%2e%2f%2e%2e%2fdata%2flayers%2ftapi",
    "/api/layers/%2Fetc%2Fpasswd/stats",
    "/api/layers/tapi%00",
    "/api/layers/tapi%00.geojson/stats",
    "/api/layers/tapi/features/..%2f..%2f..%2fetc%2fpasswd",
    "/api/layers/tapi/features/%2fetc%2fpasswd",
    "/api/layers/tapi/features/..",
    "/api/layers/tapi/features/%00",
    "/map/..%2f..%2fetc%2fpasswd",
    "/map/%2e%2e%2f%2e%2e%2fwebapp%2f__init__.py",
    "/map//etc/passwd",
    "/embed/..%2F..%2Fetc%2Fpasswd",
    "/embed/%2Fetc%2Fpasswd",
    "/embed//etc/passwd",
    "/popup/tapi/..%2f..%2fetc%2fpasswd",
    "/popup/..%2f../tapi_trunk",
    "/popup/tapi/%00",
    "/export?layers=../../etc/passwd",
    "/export?layers=/etc/passwd&format=csv",
    "/export?layers=..%2F..%2Fdata%2Flayers%2Ftapi&format=md",
    "/api/corridor?layer=..%2F..%2Fetc%2Fpasswd&feature=x",
    "/api/corridor?feature=..%2F..%2Fetc:passwd",
    "/api/overlap?a=../../etc:passwd&b=tapi:tapi_trunk",
    "/api/nearest?lat=30&lon=70&layer=/etc/passwd",
    "/corridor?layer=..%2F..%2Fetc%2Fpasswd&feature=x",
    "/../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/data/layers/tapi.geojson",
    "/webapp/settings.py",
)
# Bytes that would show a file outside data/ (or a source file, or a raw layer file) was served.
LEAK_MARKERS = (b"root:x:0", b"def create_app", b"import ", b"__all__", b"SETTINGS", b'"metadata": {')
