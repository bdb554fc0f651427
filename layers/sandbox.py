"""Run a reader on untrusted input in a child process with a time budget and a memory cap.

A hostile or merely huge file must not hang or exhaust the service: the
reader runs in a process forked from a clean, single-threaded fork server
(``multiprocessing``'s ``forkserver``, with the GIS stack preloaded, so a
child starts in milliseconds and never inherits a lock held by a server
thread). The child's address space is capped (``RLIMIT_AS``); the parent
waits at most the time budget, then kills it. Whatever the child returns or
raises is pickled back; :class:`~layers.errors.MapError`\\ s keep their type.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
import warnings

from layers.errors import LayerInvalid, MapError

__all__ = ["PRELOAD", "run_bounded"]

# imported once by the fork server, so that children start warm
PRELOAD = ["layers.importers.user"]
_context = None
_context_lock = threading.Lock()


def _ctx():
    global _context
    with _context_lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _context = ctx
        return _context


def _child(conn, func, args, kwargs, what, memory_mb):
    if memory_mb:
        import resource

        limit = int(memory_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        result = ("ok", func(*args, **kwargs))
    except MapError as exc:
        result = ("error", exc)
    except MemoryError:
        result = ("memory", None)
    except RecursionError:
        result = ("error", LayerInvalid(what, None, "nested too deeply to read"))
    except Exception as exc:  # noqa: BLE001 - anything a reader meets in hostile input is reported, not raised
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        result = ("crash", detail[:300])
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("memory", None))
    finally:
        conn.close()


def run_bounded(func, *args, what, time_budget_s, memory_mb=None, isolate=True, **kwargs):
    """``func(*args, **kwargs)`` in a child process, within ``time_budget_s`` seconds and ``memory_mb``.

    ``what`` names the input in errors (a file name). Over budget, out of
    memory or a crash in the child raise :class:`~layers.errors.LayerInvalid`
    naming it; the service process is never at risk. ``isolate=False`` runs
    in-process (no budget; for debugging).
    """
    if not isolate:
        return func(*args, **kwargs)
    ctx = _ctx()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(sender, func, args, kwargs, what, memory_mb), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(time_budget_s):
            raise LayerInvalid(what, None, f"reading it took longer than the time budget of {time_budget_s:g} s")
        try:
            with warnings.catch_warnings():  # NaN coordinates (to be reported as problems) warn when unpickled
                warnings.simplefilter("ignore", RuntimeWarning)
                status, payload = receiver.recv()
        except (EOFError, OSError):
            process.join(5)
            raise LayerInvalid(what, None, f"the reader process died reading it (exit code {process.exitcode}); "
                                           "the file is damaged or too large") from None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    if status == "ok":
        return payload
    if status == "error":
        raise payload
    if status == "memory":
        raise LayerInvalid(what, None, f"reading it needs more than the memory limit of {memory_mb} MB")
    raise LayerInvalid(what, None, f"unreadable: {payload}")
