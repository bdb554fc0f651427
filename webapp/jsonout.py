"""Every JSON the service writes is valid JSON: non-finite numbers become ``null``.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which
``JSON.parse``, GDAL and most clients reject, so one NaN in a user layer's
property broke a whole ``/api/layers/<id>`` answer. The choice here is to
write such a number as ``null`` -- "no value", as JavaScript's
``JSON.stringify`` does -- rather than to refuse the whole document:
a missing figure is shown as missing, never as a wrong one. Layer geometry
never holds non-finite coordinates (validation refuses them at load).

:func:`dumps` is the one serialiser: the API bodies, the analysis results
and Flask's ``jsonify`` (through :class:`FiniteJSONProvider`) all use it.
The fast path is plain ``json.dumps(allow_nan=False)``; only a document
that holds a non-finite number is walked and cleaned.
"""

from __future__ import annotations

import json
import math

from flask.json.provider import DefaultJSONProvider

__all__ = ["FiniteJSONProvider", "dumps", "dumps_bytes", "finite", "init_app"]


def finite(value):
    """``value`` with every non-finite float (NaN, +-Infinity) inside dicts, lists and tuples replaced by None.

    >>> finite({"a": float("nan"), "b": [1.5, float("inf")], "c": "x"})
    {'a': None, 'b': [1.5, None], 'c': 'x'}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value, *, compact=True, **kwargs):
    """JSON text of ``value`` (UTF-8 characters kept; compact separators unless ``compact=False``), NaN -> null.

    >>> dumps({"km": float("nan"), "name": "Gwādar"})
    '{"km":null,"name":"Gwādar"}'
    """
    kwargs.setdefault("ensure_ascii", False)
    if compact:
        kwargs.setdefault("separators", (",", ":"))
    try:
        return json.dumps(value, allow_nan=False, **kwargs)
    except ValueError:  # "Out of range float values are not JSON compliant": clean, then write
        return json.dumps(finite(value), allow_nan=False, **kwargs)


def dumps_bytes(value):
    """:func:`dumps` as UTF-8 bytes (a response body)."""
    return dumps(value).encode("utf-8")


class FiniteJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider (``jsonify``, ``app.json``) writing non-finite numbers as ``null``."""

    sort_keys = False

    def dumps(self, obj, **kwargs):
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return dumps(obj, compact=False, **kwargs)


def init_app(app):
    """Make ``app``'s ``jsonify`` and ``app.json`` use :class:`FiniteJSONProvider`."""
    app.json = FiniteJSONProvider(app)
