"""Hostile URL paths sent byte-for-byte to the real server (waitress) with http.client.

No client-side normalisation: ``..``, ``%2e%2e``, ``%2F``, ``%5c``, ``//``
and ``%00`` reach the server as typed. Every one must end in a 404 (a 308
that waitress/werkzeug issues to fold ``//`` is followed once), and no
response may carry a file from outside data/. Needs no browser.
"""

from urllib.parse import urlsplit

import pytest
from browser.hostile import LEAK_MARKERS, TRAVERSAL_PATHS
from browser.liveserver import raw_get


@pytest.mark.parametrize("target", TRAVERSAL_PATHS)
def test_raw_traversal_paths_get_404_and_no_file(live_server, target):
    status, headers, body = raw_get(live_server.port, target)
    if status in (301, 302, 307, 308):
        location = urlsplit(headers["location"])
        assert location.hostname in (None, "127.0.0.1"), headers["location"]
        target = location.path + (f"?{location.query}" if location.query else "")
        status, headers, body = raw_get(live_server.port, target)
    assert status == 404, (target, status, body[:200])
    assert not any(marker in body for marker in LEAK_MARKERS), target
    assert headers["x-content-type-options"] == "nosniff"
    if target.startswith("/api/"):
        assert headers["content-type"].startswith("application/json") and b'"error"' in body


def test_a_huge_query_string_is_refused_cleanly(live_server):
    status, headers, body = raw_get(live_server.port, "/api/layers/tapi?bbox=" + "1," * 50_000 + "1")
    assert status in (400, 414, 431), status
    if status == 400:
        assert b'"parameter":"bbox"' in body.replace(b" ", b"")
