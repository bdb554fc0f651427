"""Per-client rate limits on expensive endpoints, and request body limits."""

import pytest

from webapp import create_app
from webapp.limits import EXPENSIVE_ENDPOINTS, allow_large_body


@pytest.fixture()
def limited():
    return create_app({"TESTING": True, "RATELIMIT_ENABLED": True, "RATELIMIT_EXPENSIVE": "3 per minute"})


def test_only_computations_count_and_past_the_limit_it_is_429_with_retry_after(limited):
    client = limited.test_client()
    for width in (10, 11, 12):
        assert client.get(f"/api/corridor?feature=tapi:tapi_trunk&width_km={width}").status_code == 200
    # cache hits are free ... (same query again)
    # ... but the fourth computation is refused, JSON under /api, with the limit named
    refused = client.get("/api/corridor?feature=tapi:tapi_trunk&width_km=13")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert "3 per minute" in refused.get_json()["error"]
    page = client.get("/route?from=Karachi&to=Lahore&modes=gas")
    assert page.status_code == 429 and "too many expensive requests" in page.get_data(as_text=True)
    # cheap endpoints are not limited at all
    for _ in range(20):
        assert client.get("/api/layers/tapi").status_code == 200


def test_cached_answers_do_not_use_up_the_allowance(limited):
    client = limited.test_client()
    for _ in range(10):
        assert client.get("/api/corridor?feature=tapi:tapi_trunk&width_km=20").status_code == 200


def test_clients_are_counted_apart(limited):
    client = limited.test_client()
    for width in (30, 31, 32, 33):
        client.get(f"/api/corridor?feature=tapi:tapi_trunk&width_km={width}",
                   environ_overrides={"REMOTE_ADDR": "198.51.100.1"})
    assert client.get("/api/corridor?feature=tapi:tapi_trunk&width_km=34",
                      environ_overrides={"REMOTE_ADDR": "198.51.100.2"}).status_code == 200


def test_every_expensive_endpoint_exists(limited):
    assert set(EXPENSIVE_ENDPOINTS) <= set(limited.view_functions)


def test_limits_can_be_switched_off():
    client = create_app({"TESTING": True, "RATELIMIT_ENABLED": False, "RATELIMIT_EXPENSIVE": "1 per hour"}
                        ).test_client()
    for width in (40, 41, 42):
        assert client.get(f"/api/corridor?feature=tapi:tapi_trunk&width_km={width}").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "GET"])
def test_a_body_over_the_limit_is_413_before_any_view_and_the_connection_closes(client, method):
    response = client.open("/", method=method, data=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413 and response.headers["Connection"] == "close"
    assert "1,048,577 bytes" in response.get_data(as_text=True)
    assert client.open("/api/layers", method=method, data=b"x" * 2_000_000).get_json()["error"].startswith(
        "request body of 2,000,000 bytes")


def test_a_small_body_gets_the_usual_405(client):
    response = client.post("/", data=b"x" * 100)
    assert response.status_code == 405 and "Connection" not in response.headers


def test_an_endpoint_may_take_a_larger_body():
    app = create_app({"TESTING": True, "MAX_BODY_MB": 0.001})
    allow_large_body(app, "api.layer_list", 2)
    client = app.test_client()
    assert client.get("/api/layers/tapi", data=b"x" * 5000).status_code == 413
    assert client.get("/api/layers", data=b"x" * 5000).status_code == 200
