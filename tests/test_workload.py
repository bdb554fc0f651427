"""Bounded work: slots, a bounded queue, a time budget and abandoned work, unit by unit and through the app."""

import socket
import threading
import time

import pytest

from geo.budget import budget, checkpoint
from layers.errors import ClientGone, Overloaded
from webapp import create_app
from webapp.workload import Workload, _socket_closed


def test_checkpoint_is_free_outside_a_budget_and_stops_work_past_it():
    checkpoint()  # no budget: nothing happens
    with budget(0.05, what="the test"):
        checkpoint()
        time.sleep(0.08)
        with pytest.raises(Overloaded, match="the test ran past its time budget of 0.05 s"):
            checkpoint()
    with budget(10, cancelled=lambda: True), pytest.raises(ClientGone):
        checkpoint()


def test_a_full_queue_is_refused_at_once_and_a_waiter_times_out():
    work = Workload(slots=1, queue=1, queue_timeout_s=0.3, budget_s=5)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with work.run("holder"):
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    waiter_error = []
    waiter = threading.Thread(target=lambda: waiter_error.append(pytest.raises(Overloaded, work.acquire)))
    waiter.start()
    time.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(Overloaded, match="1 expensive requests running and 1 waiting"):
        work.acquire()
    assert time.monotonic() - started < 0.05  # refused at once, not queued
    waiter.join(5)
    assert "within 0.3 s" in str(waiter_error[0].value)
    release.set()
    holder.join(5)
    assert work.refused == 2 and work.running == 0
    with work.run("after"):  # the slot came back
        assert work.running == 1


def test_a_waiter_whose_client_goes_is_dropped():
    work = Workload(slots=1, queue=4, queue_timeout_s=5, budget_s=5)
    work.acquire()
    gone = threading.Event()
    threading.Timer(0.3, gone.set).start()
    started = time.monotonic()
    with pytest.raises(ClientGone):
        work.acquire(gone.is_set)
    assert time.monotonic() - started < 1.5 and work.abandoned == 1
    work.release()


def test_a_closed_peer_is_seen_on_the_socket():
    a, b = socket.socketpair()
    try:
        assert not _socket_closed(a)
        b.sendall(b"GET / HTTP/1.1\r\n")  # data waiting is not a close
        assert not _socket_closed(a)
        a.recv(100)
        b.close()
        assert _socket_closed(a)
    finally:
        a.close()


def test_over_budget_work_is_a_503_with_retry_after():
    app = create_app({"TESTING": True, "HEAVY_TIME_BUDGET_S": 0.001, "RETRY_AFTER_S": 7})
    client = app.test_client()
    response = client.get("/api/corridor?feature=tapi:tapi_trunk&width_km=300&with=places,ports,pakistan_gas_grid")
    assert response.status_code == 503 and response.headers["Retry-After"] == "7"
    body = response.get_json()
    assert "time budget of 0.001 s" in body["error"] and body["retry_after_s"] == 7
    assert response.headers["Cache-Control"] == "no-store"
    # nothing half-done was kept: with a budget the same query computes and answers
    app.extensions["workload"].budget_s = 60
    assert client.get("/api/corridor?feature=tapi:tapi_trunk&width_km=300&with=places,ports,pakistan_gas_grid"
                      ).status_code == 200


def test_saturated_expensive_work_answers_503_while_cheap_requests_are_served():
    app = create_app({"TESTING": True, "HEAVY_CONCURRENCY": 1, "HEAVY_QUEUE": 0})
    work = app.extensions["workload"]
    assert app.test_client().get("/api/layers/tapi/stats").status_code == 200  # computed once, then cheap
    work.acquire()  # someone else's corridor holds the only slot
    try:
        client = app.test_client()
        busy = client.get("/api/corridor?feature=tapi:tapi_trunk&width_km=123")
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        page = client.get("/corridor?feature=cpec:ml1_railway&width_km=77")
        assert page.status_code == 503 and "busy" in page.get_data(as_text=True)
        assert client.get("/export?layers=tapi&format=png").status_code == 503
        # cheap: cached results, the API, static files
        assert client.get("/api/layers/tapi").status_code == 200
        assert client.get("/api/layers/tapi/stats").status_code == 200
        assert client.get("/static/js/page.js").status_code == 200
        assert client.get("/api/layers/ports/stats").status_code == 503  # a first statistics is expensive
    finally:
        work.release()
    assert app.test_client().get("/api/corridor?feature=tapi:tapi_trunk&width_km=123").status_code == 200
