"""Host safety: the Host allow-list, absolute URLs from PUBLIC_BASE_URL, Vary: Host, redirects, url_for keywords."""

import re

import pytest

from webapp import create_app
from webapp.hosts import allowed_host, host_name

SNIPPET = re.compile(r"iframe src=&#34;(.*?)&#34;")


@pytest.fixture(scope="module")
def public_app():
    return create_app({"TESTING": True, "PUBLIC_BASE_URL": "https://maps.example.org/corridors/"})


@pytest.mark.parametrize("path", ["/", "/map/tapi", "/corridor", "/route", "/api/layers", "/embed/tapi"])
def test_a_foreign_host_is_refused_before_any_view(client, path):
    response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "evil.example" in response.get_data(as_text=True) and "ALLOWED_HOSTS" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_api_names_the_host_as_the_bad_parameter(client):
    body = client.get("/api/layers/tapi", headers={"Host": "evil.example:8080"}).get_json()
    assert body["parameter"] == "Host" and "'evil.example:8080'" in body["error"]


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:8080", "[::1]:5000"])
def test_local_hosts_are_served_and_pages_that_use_the_host_vary_on_it(client, host):
    response = client.get("/map/tapi", headers={"Host": host})
    assert response.status_code == 200
    assert SNIPPET.search(response.get_data(as_text=True)).group(1) == f"http://{host}/embed/tapi"
    assert "Host" in response.headers["Vary"]
    # the 304 of a revalidation carries the same Vary
    again = client.get("/map/tapi", headers={"Host": host, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and "Host" in again.headers["Vary"]


@pytest.mark.parametrize("path, embed", [
    ("/map/tapi", "/embed/tapi"),
    ("/", "/embed?layers="),
    ("/corridor", "/embed/corridor?layer=tapi&feature=tapi_trunk"),
    ("/route", "/embed/route?from=Kashgar&to=Gwadar"),
])
def test_with_a_public_base_url_snippets_never_use_the_request_host(public_app, path, embed):
    response = public_app.test_client().get(path, headers={"Host": "maps.example.org"})
    assert response.status_code == 200
    url = SNIPPET.search(response.get_data(as_text=True)).group(1).replace("&amp;amp;", "&").replace("&amp;", "&")
    assert url.startswith("https://maps.example.org/corridors" + embed), url
    assert "Host" not in response.headers.get("Vary", "")


def test_the_public_host_is_allowed_and_others_still_refused(public_app):
    client = public_app.test_client()
    assert client.get("/api/layers", headers={"Host": "maps.example.org"}).status_code == 200
    assert client.get("/api/layers", headers={"Host": "localhost"}).status_code == 200
    assert client.get("/api/layers", headers={"Host": "evil.example"}).status_code == 400


def test_redirects_stay_on_the_site():
    any_host = create_app({"TESTING": True, "ALLOWED_HOSTS": "*"}).test_client()
    response = any_host.get("/map//tapi?basemap=none", headers={"Host": "evil.example"})
    assert response.status_code == 308 and response.headers["Location"] == "/map/tapi?basemap=none"
    assert any_host.get("/map").headers["Location"] == "/"


def test_redirects_point_at_the_public_base_url(public_app):
    response = public_app.test_client().get("/map//tapi", headers={"Host": "maps.example.org"})
    assert response.status_code == 308
    assert response.headers["Location"] == "https://maps.example.org/corridors/map/tapi"


@pytest.mark.parametrize("query", ["endpoint=x", "_method=POST", "_external=1", "_scheme=javascript", "_anchor=x",
                                   "layer_id=evil", "values=1&_method=POST&endpoint=y"])
@pytest.mark.parametrize("path", ["/", "/map/tapi", "/map?layers=tapi,ports"])
def test_query_parameters_never_reach_url_for_as_keywords(client, path, query):
    sep = "&" if "?" in path else "?"
    response = client.get(path + sep + query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # the basemap links keep the odd parameter as a query value, and nothing else
    assert "javascript:" not in html.split("Basemap")[1].split("</p>")[0]


def test_suggestion_links_on_analysis_pages_keep_odd_parameters_as_values(client):
    response = client.get("/route?from=Gwadr&to=Lahore")
    assert response.status_code == 400
    assert 'href="/route?from=Gwadar&amp;to=Lahore"' in response.get_data(as_text=True)


def test_host_helpers():
    assert host_name("MAPS.example.org:443") == "maps.example.org"
    assert host_name("[2001:db8::1]:80") == "2001:db8::1"
    assert allowed_host("a.b.example.org", (".example.org",)) and allowed_host("example.org", (".example.org",))
    assert not allowed_host("example.org.evil", (".example.org",)) and not allowed_host("xexample.org", (".example.org",))
    assert allowed_host("anything", ("*",))


def test_a_malformed_public_base_url_fails_at_start_up():
    from layers.errors import BadParameter

    with pytest.raises(BadParameter, match="PUBLIC_BASE_URL"):
        create_app({"TESTING": True, "PUBLIC_BASE_URL": "maps.example.org"})


def test_behind_a_proxy_the_forwarded_scheme_and_host_are_used_and_varied_on():
    client = create_app({"TESTING": True, "PROXY_COUNT": 1, "ALLOWED_HOSTS": "maps.example.org"}).test_client()
    headers = {"Host": "127.0.0.1:8000", "X-Forwarded-Host": "maps.example.org", "X-Forwarded-Proto": "https",
               "X-Forwarded-For": "203.0.113.9"}
    response = client.get("/map/tapi", headers=headers)
    assert SNIPPET.search(response.get_data(as_text=True)).group(1) == "https://maps.example.org/embed/tapi"
    assert {"Host", "X-Forwarded-Host", "X-Forwarded-Proto"} <= set(response.headers["Vary"].replace(" ", "").split(","))
    forged = dict(headers, **{"X-Forwarded-Host": "evil.example"})
    assert client.get("/map/tapi", headers=forged).status_code == 400
