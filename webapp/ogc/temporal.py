"""The ``datetime`` parameter of OGC API Features (Part 1, 7.15.6) against the layers' dated facts.

A feature's time is the period since it was first on record: the date of
the first entry of its ``status_history`` (the dated-facts contract: a list
sorted by date of ``{"date": "YYYY[-MM[-DD]]", "status", "source"}``), or,
for features without a history, its ``start_year``. Once on record a
feature stays on it (a cancelled project is still the cancelled project),
so the period is open-ended, and "status in year X" is the status of the
last history entry dated on or before X. A partial date counts from its
first day (``2015`` = 2015-01-01). Features with neither are undated: a
``datetime`` query never selects them.

``datetime`` is an RFC 3339 date or date-time, or an interval
``start/end`` with ``..`` (or nothing) for an open end; a bare year
``2015`` is accepted too.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import numpy as np

from layers.errors import BadParameter

__all__ = ["feature_start_days", "parse_datetime", "temporal_extent", "within_datetime"]

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
_OPEN = ("", "..")


def _partial_date_day(text):
    """``YYYY[-MM[-DD]]`` -> numpy datetime64[D] of its first day, or NaT."""
    match = _PARTIAL_DATE.match(str(text or "").strip())
    if not match:
        return np.datetime64("NaT", "D")
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    try:
        return np.datetime64(date(int(year), int(month), int(day)).isoformat(), "D")
    except ValueError:
        return np.datetime64("NaT", "D")


def _first_record_day(history, start_year):
    if isinstance(history, (list, tuple)) and history:
        days = [_partial_date_day(e.get("date")) for e in history if isinstance(e, dict)]
        days = [d for d in days if not np.isnat(d)]
        if days:
            return min(days)
    if isinstance(start_year, (int, float)) and np.isfinite(start_year) and 1800 <= start_year <= 2200:
        return np.datetime64(f"{int(start_year):04d}-01-01", "D")
    if isinstance(start_year, str):
        return _partial_date_day(start_year)
    return np.datetime64("NaT", "D")


def feature_start_days(gdf):
    """datetime64[D] array: the day each feature of ``gdf`` is first on record (NaT: undated)."""
    n = len(gdf)
    history = gdf["status_history"] if "status_history" in gdf.columns else [None] * n
    years = gdf["start_year"] if "start_year" in gdf.columns else [None] * n
    return np.array([_first_record_day(h, y) for h, y in zip(history, years)], dtype="datetime64[D]")


def _instant_day(text, name):
    text = text.strip()
    match = _PARTIAL_DATE.match(text)
    if match and match.group(2) is None:  # a bare year
        return np.datetime64(f"{match.group(1)}-01-01", "D"), np.datetime64(f"{match.group(1)}-12-31", "D")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadParameter(name, f"{text[:60]!r} is not an RFC 3339 date or date-time "
                                 "(e.g. 2015-10-16 or 2015-10-16T00:00:00Z), nor an interval start/end") from None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    day = np.datetime64(value.date().isoformat(), "D")
    return day, day


def parse_datetime(text, name="datetime"):
    """``(first_day, last_day)`` datetime64[D] of an instant or interval; NaT for an open end.

    >>> [str(d) for d in parse_datetime("2015")]
    ['2015-01-01', '2015-12-31']
    >>> [str(d) for d in parse_datetime("../2020-06-30")]
    ['NaT', '2020-06-30']
    """
    if not isinstance(text, str) or not text.strip():
        raise BadParameter(name, "give a date, a date-time or an interval start/end")
    if "/" not in text:
        return _instant_day(text, name)
    start_text, _, end_text = text.partition("/")
    if start_text.strip() in _OPEN and end_text.strip() in _OPEN:
        raise BadParameter(name, "an interval needs at least one end (e.g. 2015-01-01/.. or ../2020)")
    start = np.datetime64("NaT", "D") if start_text.strip() in _OPEN else _instant_day(start_text, name)[0]
    end = np.datetime64("NaT", "D") if end_text.strip() in _OPEN else _instant_day(end_text, name)[1]
    if not np.isnat(start) and not np.isnat(end) and start > end:
        raise BadParameter(name, f"the interval starts after it ends ({text[:60]!r})")
    return start, end


def within_datetime(start_days, interval):
    """Boolean mask of features whose open-ended period since ``start_days`` meets ``interval``."""
    _, last = interval
    dated = ~np.isnat(start_days)
    if np.isnat(last):
        return dated
    return dated & (start_days <= last)


def temporal_extent(start_days):
    """``[[first, None]]`` (ISO dates) of the dated features, or None when none is dated."""
    dated = start_days[~np.isnat(start_days)]
    if not len(dated):
        return None
    return [[f"{dated.min()}T00:00:00Z", None]]

