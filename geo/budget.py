"""Cooperative limits for long computations: a deadline and a "is anyone still waiting?" check.

A caller (the web app) runs a computation inside :func:`budget`; the
computation calls :func:`checkpoint` between its steps (per layer, per
route piece), which raises :class:`~layers.errors.Overloaded` once the
deadline has passed and :class:`~layers.errors.ClientGone` once the
``cancelled`` callable says the client has gone. Outside :func:`budget`
(the CLI, tests) a checkpoint costs one context-variable lookup and never
raises. Cooperative: a single vectorised step is never interrupted, so a
budget can be overrun by at most one step.
"""

from __future__ import annotations

import contextvars
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from layers.errors import ClientGone, Overloaded

__all__ = ["Budget", "budget", "checkpoint", "current_budget"]


@dataclass(frozen=True)
class Budget:
    """A deadline (``time.monotonic()`` seconds), what the work is, and an optional "client gone" check."""

    deadline: float
    seconds: float
    what: str = "this request"
    cancelled: Callable[[], bool] | None = None
    retry_after_s: int = 5

    def check(self):
        """Raise if the client has gone or the deadline has passed."""
        if self.cancelled is not None and self.cancelled():
            raise ClientGone(f"{self.what}: the client closed the connection; work abandoned",
                             retry_after_s=self.retry_after_s)
        if time.monotonic() > self.deadline:
            raise Overloaded(f"{self.what} ran past its time budget of {self.seconds:g} s and was stopped; "
                             "narrow the request (width, layers) or retry later", retry_after_s=self.retry_after_s)


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("geo_budget", default=None)


def current_budget():
    """The :class:`Budget` in force in this context, or None."""
    return _current.get()


def checkpoint():
    """Raise :class:`~layers.errors.Overloaded`/``ClientGone`` when the current budget is spent; else nothing."""
    current = _current.get()
    if current is not None:
        current.check()


@contextmanager
def budget(seconds, *, what="this request", cancelled=None, retry_after_s=5):
    """Run the body with a budget of ``seconds`` (None or <= 0: no deadline, only the ``cancelled`` check)."""
    limit = float(seconds) if seconds and seconds > 0 else float("inf")
    token = _current.set(Budget(time.monotonic() + limit, limit, what, cancelled, retry_after_s))
    try:
        yield _current.get()
    finally:
        _current.reset(token)
