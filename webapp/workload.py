"""Bounded work: expensive computations run a few at a time, within a time budget, only for clients still there.

Expensive means a cache miss of a corridor, route, overlap or nearest
result, of a rendered map (a page's first visit), an export, or a layer's
first statistics. Each runs inside :func:`heavy`:

- at most ``HEAVY_CONCURRENCY`` at once per server process; up to
  ``HEAVY_QUEUE`` more wait for a slot, each at most
  ``HEAVY_QUEUE_TIMEOUT_S``. Beyond that the answer is a 503 with
  ``Retry-After`` at once, instead of a queue without end, so cheap
  requests (cached pages, the API, static files) keep their threads and
  their latency while expensive ones are saturated;
- within ``HEAVY_TIME_BUDGET_S``: :func:`geo.budget.checkpoint` calls
  between steps stop it with a 503 once spent;
- for a client that has gone: before starting, while waiting and at each
  checkpoint the connection is looked at (gunicorn's socket, waitress's
  ``client_disconnected``); work nobody will read is abandoned.

Nested calls (a corridor page computing its result, then its map) take one
slot. Outside a request (start-up warm-up, the CLI) nothing is limited.
"""

from __future__ import annotations

import functools
import select
import socket
import threading
import time
from contextlib import contextmanager

from flask import current_app, g, has_request_context, request

from geo.budget import budget, current_budget
from layers.errors import ClientGone, Overloaded

__all__ = ["Workload", "client_gone_check", "count_as_expensive", "heavy", "heavy_view", "init_app"]

_POLL_S = 0.25  # how often a waiting request looks whether its client is still there


def _socket_closed(sock):
    """True when the peer of ``sock`` has closed it (readable with nothing to read); never blocks."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):  # reset, or already closed
        return True


def client_gone_check(environ):
    """A callable telling whether the client of this WSGI request has gone, or None when the server can't tell."""
    waitress_check = environ.get("waitress.client_disconnected")
    if callable(waitress_check):
        return waitress_check
    sock = environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        return functools.partial(_socket_closed, sock)
    return None


class Workload:
    """Slots for expensive work in one process: ``slots`` at once, ``queue`` waiting at most ``queue_timeout_s``."""

    def __init__(self, *, slots, queue, queue_timeout_s, budget_s, retry_after_s=5):
        self.slots = max(1, int(slots))
        self.queue = max(0, int(queue))
        self.queue_timeout_s = float(queue_timeout_s)
        self.budget_s = float(budget_s)
        self.retry_after_s = int(retry_after_s)
        self._free = threading.Semaphore(self.slots)
        self._lock = threading.Lock()
        self._waiting = 0
        self.running = 0
        self.refused = 0  # counters, for /status-like reporting and tests
        self.abandoned = 0

    def _overloaded(self, why):
        with self._lock:
            self.refused += 1
        return Overloaded(f"the service is busy ({why}); retry in {self.retry_after_s} s",
                          retry_after_s=self.retry_after_s)

    def acquire(self, gone=None):
        """Take a slot, waiting in the bounded queue; raise Overloaded or ClientGone instead of waiting forever."""
        if self._free.acquire(blocking=False):
            return
        with self._lock:
            if self._waiting >= self.queue:
                full = True
            else:
                full = False
                self._waiting += 1
        if full:
            raise self._overloaded(f"{self.slots} expensive requests running and {self.queue} waiting")
        try:
            deadline = time.monotonic() + self.queue_timeout_s
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._overloaded(f"no slot for expensive work within {self.queue_timeout_s:g} s")
                if self._free.acquire(timeout=min(_POLL_S, left)):
                    return
                if gone is not None and gone():
                    with self._lock:
                        self.abandoned += 1
                    raise ClientGone("the client closed the connection while waiting; nothing computed")
        finally:
            with self._lock:
                self._waiting -= 1

    def release(self):
        self._free.release()

    @contextmanager
    def run(self, what, gone=None):
        """Hold a slot and a time budget for the body."""
        if gone is not None and gone():
            with self._lock:
                self.abandoned += 1
            raise ClientGone(f"{what}: the client closed the connection; nothing computed")
        self.acquire(gone)
        with self._lock:
            self.running += 1
        try:
            with budget(self.budget_s, what=what, cancelled=gone, retry_after_s=self.retry_after_s):
                yield
        except ClientGone:
            with self._lock:
                self.abandoned += 1
            raise
        finally:
            with self._lock:
                self.running -= 1
            self.release()


@contextmanager
def heavy(what):
    """Run the body as expensive work of the current request (see the module doc); re-entrant."""
    if not has_request_context() or current_budget() is not None:
        yield
        return
    workload = current_app.extensions.get("workload")
    if workload is None:
        yield
        return
    gone = g.get("_mapsvc_gone")
    if gone is None:
        gone = g._mapsvc_gone = client_gone_check(request.environ) or (lambda: False)
    with workload.run(what, gone):
        g._mapsvc_computed = True  # counts against the client's rate limit (webapp.limits)
        yield


def count_as_expensive():
    """Count this request against the client's rate limit of expensive work (webapp.limits) without taking a
    slot: for work bounded elsewhere, such as an import read in its own time- and memory-capped child process
    (holding a slot for it would stall every corridor behind one upload)."""
    if has_request_context():
        g._mapsvc_computed = True


def heavy_view(view):
    """Decorator: the whole view is expensive work (exports)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        with heavy(f"{request.path}"):
            return view(*args, **kwargs)

    return wrapped


def init_app(app):
    """Give ``app`` its :class:`Workload` from the ``HEAVY_*`` settings."""
    config = app.config
    app.extensions["workload"] = Workload(
        slots=config["HEAVY_CONCURRENCY"], queue=config["HEAVY_QUEUE"],
        queue_timeout_s=config["HEAVY_QUEUE_TIMEOUT_S"], budget_s=config["HEAVY_TIME_BUDGET_S"],
        retry_after_s=config["RETRY_AFTER_S"])
