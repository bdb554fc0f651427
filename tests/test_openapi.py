"""The OpenAPI description at /api/openapi.json, and schemathesis fuzzing the running app against it.

The fuzzing sends schema-valid and schema-violating requests to every
documented operation (in-process WSGI, the production app: no TESTING, so
an unexpected exception becomes the 500 a visitor would get) and demands:
no 5xx; every 4xx is JSON with an "error" message, and a 400 names the
"parameter" at fault; 2xx bodies match their documented schema. The counts
go to test-artifacts/schemathesis.json.
"""

import json
import os
import re
import threading
from collections import Counter
from pathlib import Path

import openapi_spec_validator
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from webapp import create_app

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# Per operation and generation mode; 10 operations x 2 modes x 30 examples stays well under a minute.
EXAMPLES = int(os.environ.get("MAPSVC_FUZZ_EXAMPLES", "30"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
_tally = Counter()
_lock = threading.Lock()


@pytest.fixture(scope="module")
def production_app():
    return create_app({"TESTING": False})


@pytest.fixture(scope="module")
def document(production_app):
    response = production_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.oai.openapi+json;version=3.0"
    return response.get_json()


@pytest.fixture(scope="module")
def schema(production_app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", production_app)


PER_LAYER = ("/api/layers/<layer_id>", "/api/layers/<layer_id>/download", "/ogcapi/collections/<layer_id>/items")


def _documented_paths(app):
    """Every /api and /ogcapi route as documented, with its methods: per-layer operations expanded to one path
    per layer."""
    ids = app.extensions["catalog"].ids
    paths = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/ogcapi")) or rule.endpoint == "static":
            continue
        text = rule.rule.rstrip("/") or rule.rule
        # reads are documented per layer (each with its own properties); writes once, under the template
        reads = "GET" in rule.methods
        names = [text.replace("<layer_id>", lid) for lid in ids] if text in PER_LAYER and reads else [
            re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)]
        for name in names:
            paths.setdefault(name, set()).update(set(rule.methods) - {"HEAD", "OPTIONS"})
    return paths


def test_document_is_openapi_3_and_lists_every_api_route(production_app, document):
    assert document["openapi"].startswith("3.")
    documented = _documented_paths(production_app)
    assert set(document["paths"]) == set(documented)
    # every method of every route, too
    assert documented == {path: {m.upper() for m in item} for path, item in document["paths"].items()}
    for path, item in document["paths"].items():
        for operation in item.values():
            assert operation["summary"] and operation["operationId"], path
            assert {"200", "201", "204"} & set(operation["responses"]), path
            names = [p["name"] for p in operation.get("parameters", [])]
            assert len(names) == len(set(names)), path
            assert {"{" + p["name"] + "}" for p in operation.get("parameters", []) if p["in"] == "path"} == {
                part for part in path.split("/") if part.startswith("{")}, path


def test_document_validates_against_the_openapi_3_0_specification(document):
    openapi_spec_validator.validate(document)


def test_each_layer_lists_its_own_filters(production_app, document):
    catalog = production_app.extensions["catalog"]
    params = {p["name"]: p for p in document["paths"]["/api/layers/tapi"]["get"]["parameters"]}
    assert params["status"]["schema"]["enum"][0] == "operating"
    assert {"bbox", "limit", "offset", "kind", "countries"} <= set(params)
    assert "operator" not in params  # tapi has no operator: a generated client cannot send it
    for path in ("/api/layers/cpec", "/api/layers/cpec/download", "/ogcapi/collections/cpec/items"):
        assert "operator" in {p["name"] for p in document["paths"][path]["get"]["parameters"]}, path
    ids = {p["name"]: p for p in document["paths"]["/api/layers/{layer_id}/stats"]["get"]["parameters"]}
    assert ids["layer_id"]["schema"]["enum"] == list(catalog.ids)
    nearest = document["paths"]["/api/nearest"]["get"]
    assert nearest["x-mutually-exclusive"] == [["lat", "lon"], ["place"]] and "mutually exclusive" in nearest[
        "description"]
    assert "mutually exclusive" in document["paths"]["/api/corridor"]["get"]["description"]


def test_the_api_page_draws_the_document_from_vendored_assets(client):
    page = client.get("/api").get_data(as_text=True)
    assert "swagger-ui-dist-5.35.0/swagger-ui-bundle.js" in page and "/api/openapi.json" in page
    assert "https://" not in page.split("<main")[0]
    assert client.get("/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js").status_code == 200
    assert '<a href="/api">API</a>' in client.get("/").get_data(as_text=True)


def test_every_documented_example_request_succeeds(production_app, document):
    """The examples in the document are real requests: each answers 200."""
    client = production_app.test_client()
    for path, item in document["paths"].items():
        if "get" not in item or "security" in item["get"]:  # writes, and reads that need an account
            continue
        params = item["get"].get("parameters", [])
        url = path
        query = {}
        for p in params:
            if "example" not in p:
                continue
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", str(p["example"]))
            else:
                query[p["name"]] = p["example"]
        if any(p["required"] and "example" not in p for p in params):
            continue
        response = client.get(url, query_string=query)
        assert response.status_code == 200, (url, query, response.get_data(as_text=True)[:300])


def _fuzz_cases():
    """(operation label, generation mode) pairs; operations without parameters have no negative requests."""
    app = create_app({"TESTING": True})
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    cases = []
    for result in schema.get_all_operations():
        operation = result.ok()
        # the per-layer operations are one route each: fuzz those of one layer, not of all of them
        per_layer = re.match(r"GET /(?:api/layers|ogcapi/collections)/([a-z0-9_]+)(?:/download|/items)?$",
                             operation.label)
        if per_layer and per_layer.group(1) != "tapi":
            continue
        modes = ["positive", "negative"] if list(operation.iter_parameters()) else ["positive"]
        cases += [(operation.label, mode, None) for mode in modes]
    # Real routes and places held fixed, the rest generated: requests that get past the lookups to the geometry.
    deep = {"GET /api/corridor": {"layer": "tapi", "feature": "tapi_trunk"},
            "GET /api/overlap": {"a": "tapi:tapi_trunk", "b": "cpec:cpec_western_alignment"},
            "GET /api/route": {"from": "Kashgar", "to": "Gwadar"},
            "GET /api/nearest": {"place": "Quetta"},
            "GET /api/layers/{layer_id}/features/{feature_id}": None}
    labels = {label for label, _, _ in cases}
    cases += [(label, "positive", fixed) for label, fixed in deep.items() if label in labels and fixed]
    return cases


def _check_error_body(response, label, query=None):
    if response.status_code < 400:
        return
    assert response.status_code < 500
    ctype = {k.lower(): v for k, v in response.headers.items()}.get("content-type", "")
    if (query or {}).get("f") == "html" and "text/html" in str(ctype):
        return  # the OGC API's HTML representation was asked for: the error is a page
    body = json.loads(response.content)
    assert isinstance(body.get("error"), str) and body["error"], (label, body)
    if response.status_code == 400:
        assert isinstance(body.get("parameter"), str) and body["parameter"], (label, body)


def _case_id(value):
    return "fixed" if isinstance(value, dict) else ("generated" if value is None else None)


@pytest.mark.parametrize("label, mode, fixed", _fuzz_cases(), ids=_case_id)
def test_fuzzed_requests_get_no_5xx_and_json_errors(schema, label, mode, fixed):
    operation = schema.find_operation_by_label(label)
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode), query=fixed)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, print_blob=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case):
        response = case.call(headers={"Accept-Encoding": "identity"})
        with _lock:
            _tally["requests"] += 1
            _tally[f"{response.status_code // 100}xx"] += 1
            _tally[f"{label} {response.status_code}"] += 1
        _check_error_body(response, label, case.query)
        case.validate_response(response, checks=CHECKS)

    fuzz()


@pytest.fixture(scope="module", autouse=True)
def _write_tally():
    yield
    if _tally:
        ARTIFACTS.mkdir(exist_ok=True)
        name = f"schemathesis-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.json"
        (ARTIFACTS / name).write_text(json.dumps(dict(sorted(_tally.items())), indent=1))


# --- explicit bad input: each a 4xx naming what was wrong, never a 500 -------------------------------

LONG = "x" * 100_000  # a 100 kB query value
BAD_INPUT = [
    # (url, status, parameter, a suggestion that must be offered)
    ("/api/layers/tapi?bbox=1,2,3", 400, "bbox", None),
    ("/api/layers/tapi?bbox=a,b,c,d", 400, "bbox", None),
    ("/api/layers/tapi?bbox=70,30,60,20", 400, "bbox", None),  # inverted longitudes
    ("/api/layers/tapi?bbox=60,30,70,20", 400, "bbox", None),  # inverted latitudes
    ("/api/layers/tapi?bbox=-200,0,10,10", 400, "bbox", None),
    ("/api/layers/tapi?bbox=0,-95,10,10", 400, "bbox", None),
    ("/api/layers/tapi?bbox=nan,0,10,10", 400, "bbox", None),
    ("/api/layers/tapi?bbox=0,0,Infinity,10", 400, "bbox", None),
    ("/api/layers/tapi?bbox=1e999,0,1,1", 400, "bbox", None),
    ("/api/nearest?lat=91&lon=70", 400, "lat", None),
    ("/api/nearest?lat=30&lon=-181", 400, "lon", None),
    ("/api/nearest?lat=NaN&lon=70", 400, "lat", None),
    ("/api/nearest?lat=30&lon=Infinity", 400, "lon", None),
    ("/api/nearest?lat=-inf&lon=70", 400, "lat", None),
    ("/api/route?from=100,0&to=Gwadar", 400, "from", None),
    ("/api/route?from=nan,nan&to=Gwadar", 400, "from", None),
    ("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=-5", 400, "width_km", None),
    ("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=0", 400, "width_km", None),
    ("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=1e9", 400, "width_km", None),
    ("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=NaN", 400, "width_km", None),
    ("/api/corridor?layer=tapi&feature=tapi_trunk&width_km=inf", 400, "width_km", None),
    ("/api/overlap?a=tapi:tapi_trunk&b=cpec:cpec_western_alignment&width_km=1e308", 400, "width_km", None),
    ("/api/route?from=Kashgar&to=Gwadar&snap_km=-1", 400, "snap_km", None),
    ("/api/route?from=Kashgar&to=Gwadar&attach_km=1e6", 400, "attach_km", None),
    ("/api/layers/tapi?limit=0", 400, "limit", None),
    ("/api/layers/tapi?offset=-1", 400, "offset", None),
    ("/api/layers/tapi?offset=99999999999999999999999", 400, "offset", None),
    ("/api/route?from=Kashgar&to=Gwadar&modes=teleport", 400, "modes", "road"),
    ("/api/route?from=Kashgar&to=Gwadar&modes=road,hyperloop", 400, "modes", "rail"),
    ("/api/nearest?lat=30&lon=70&modes=boat", 400, "modes", "road"),
    ("/api/route?from=Gwadr&to=Kashgar", 400, "from", "Gwadar"),
    ("/api/route?from=Kashgar&to=Islamabadd", 400, "to", "Islamabad"),
    ("/api/nearest?place=Quetaa", 400, "place", "Quetta"),
    ("/api/layers/tapi?status=porposed", 400, "status", "proposed"),
    ("/api/layers/tapi?statsu=proposed", 400, "statsu", "status"),
    ("/api/layers/tapi/stats?format=jsno", 400, "format", "json"),
    ("/api/layers/tpai", 404, None, None),
    ("/api/layers/tapi/features/tapi_trunc", 404, None, None),
    ("/api/corridor?feature=tapi:nope", 404, None, None),
    ("/api/layers/tapi?bbox=" + "1," * 50_000 + "1", 400, "bbox", None),
    ("/api/route?from=" + LONG + "&to=Gwadar", 400, "from", None),
    ("/api/nearest?place=" + LONG, 400, "place", None),
    ("/api/layers/tapi?status=" + LONG, 400, "status", None),
    ("/api/corridor?layer=tapi&feature=tapi_trunk&with=" + LONG, 400, "with", None),
    ("/api/layers/tapi?" + "a=1&" * 20_000, 400, "a", None),
    ("/api/layers/" + LONG, 404, None, None),
]


@pytest.mark.parametrize("url, status, parameter, suggestion", BAD_INPUT, ids=lambda v: str(v)[:60])
def test_bad_input_is_a_4xx_naming_the_parameter(production_app, url, status, parameter, suggestion):
    response = production_app.test_client().get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert body.get("parameter") == parameter
    if suggestion:
        assert suggestion in body["suggestions"]


@pytest.mark.parametrize("url, status", [
    ("/map?layers=" + LONG, 404), ("/map/tapi?basemap=" + LONG, 400), ("/map/tapi?feature=" + LONG, 404),
    ("/export?layers=tapi&format=png&width=99999", 400), ("/export?layers=tapi&format=png&width=nan", 400),
    ("/corridor?layer=tapi&feature=tapi_trunk&width_km=-1", 400), ("/route?from=Gwadr&to=Kashgar", 400),
])
def test_bad_input_to_pages_is_an_html_4xx(production_app, url, status):
    response = production_app.test_client().get(url)
    assert response.status_code == status and response.mimetype == "text/html"
