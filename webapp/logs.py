"""Rate-limited, de-duplicated log warnings.

A server under a flood logs the same warning thousands of times (waitress
wrote 128,306 "Task queue depth" lines in 9 minutes). :class:`RepeatFilter`
lets the first record of each kind (logger, level, message template)
through, drops repeats for ``interval_s`` seconds, and then lets the next
one through with how many were dropped meanwhile. Errors with tracebacks
are repeated too: the traceback is the same, the count says how often.
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["RepeatFilter", "install"]


class RepeatFilter(logging.Filter):
    """Pass one record per (logger, level, template) every ``interval_s`` seconds, counting the rest."""

    def __init__(self, interval_s=60.0, *, clock=time.monotonic):
        super().__init__()
        self.interval_s = float(interval_s)
        self.clock = clock
        self._seen = {}  # key -> [last time passed, suppressed since]
        self._lock = threading.Lock()

    def filter(self, record):
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.interval_s:
                entry[1] += 1
                return False
            suppressed = entry[1] if entry is not None else 0
            self._seen[key] = [now, 0]
            if len(self._seen) > 10_000:  # never grow without end: forget the oldest kinds
                for old in sorted(self._seen, key=lambda k: self._seen[k][0])[:5_000]:
                    del self._seen[old]
        if suppressed:
            record.msg = f"{record.msg} ({suppressed:,} similar messages suppressed in the last " \
                         f"{self.interval_s:g} s)"
        return True


def install(interval_s=60.0, *, level=logging.INFO):
    """Log to stderr at ``level`` through a :class:`RepeatFilter` on the root handler (production serving)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    repeat = RepeatFilter(interval_s)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            handler.addFilter(repeat)
    return repeat
