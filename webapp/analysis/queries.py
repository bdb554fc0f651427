"""Analysis requests as normalised queries, and their results computed once and kept in a bounded LRU.

A query parser turns request parameters (or a plain dict: page defaults,
the CLI) into a hashable query -- widths as floats, layer lists and modes
in catalogue order, places resolved to coordinates -- so ``Gwadar`` and
``gwadar``, or ``with=ports,places`` and ``with=places,ports``, share one
result. Results are the :mod:`geo` answers serialised once (body + ETag);
a ``NoPath`` answer is remembered too. Bad parameters raise BadParameter
(400) naming them, unknown layers or features LayerNotFound/FeatureNotFound
(404), as everywhere in the app.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

from flask import current_app

from geo.corridor import MAX_WIDTH_KM, PLACES, bounded_km
from geo.corridor_report import (
    corridor_geojson,
    overlap_report,
    parse_feature_ref,
    parse_layer_list,
)
from geo.network import DEFAULT_ATTACH_KM, DEFAULT_SNAP_KM, MAX_ATTACH_KM, MODES, SNAP_MAX_KM, network_for
from geo.places import Place, find_place
from geo.route_borders import with_borders
from geo.routing import nearest, parse_modes, shortest_path
from layers.errors import BadParameter, NoPath
from layers.index import capped_limit
from webapp.analysis.maps import PLACES_ATTRIBUTION
from webapp.analytics import corridor_report
from webapp.api.views import _json_body
from webapp.maps.builder import MapCache
from webapp.maps.display import BASEMAP_LAYER
from webapp.workload import heavy

__all__ = [
    "DEFAULT_OVERLAP_WIDTH_KM",
    "DEFAULT_WIDTH_KM",
    "CorridorQuery",
    "NearestQuery",
    "Result",
    "RouteQuery",
    "corridor_query",
    "corridor_result",
    "init_app",
    "km_text",
    "nearest_query",
    "nearest_result",
    "overlap_result",
    "route_query",
    "route_result",
]

DEFAULT_WIDTH_KM = 50.0
DEFAULT_OVERLAP_WIDTH_KM = 25.0
NEAREST_MAX_LIMIT = 100
_RESULTS = "analysis_results"


def _result_bytes(value):
    result, no_path = value
    return len(no_path or "") + (len(result.body) + len(result.etag) if result is not None else 0)


def init_app(app):
    """Give ``app`` its LRU of analysis results, bounded in bytes (``RESULT_CACHE_MB``)."""
    app.extensions[_RESULTS] = MapCache(app.config["RESULT_CACHE_MB"] * 1024 * 1024, sizeof=_result_bytes)


def km_text(km):
    """A km figure as query text, without float noise (50.0 -> '50')."""
    return f"{km:.15g}"


@dataclass(frozen=True)
class CorridorQuery:
    """A corridor request: route feature, half-width km, layers searched (catalogue order)."""

    layer: str
    feature: str
    width_km: float
    with_layers: tuple[str, ...]

    def params(self):
        """Canonical query parameters (for links, embeds and exports)."""
        return {"layer": self.layer, "feature": self.feature, "width_km": km_text(self.width_km),
                "with": ",".join(self.with_layers)}


@dataclass(frozen=True)
class RouteQuery:
    """A path request between two resolved places; the typed texts are kept for links only."""

    start: Place
    end: Place
    modes: tuple[str, ...]
    snap_km: float
    attach_km: float
    from_text: str = field(compare=False, default="")
    to_text: str = field(compare=False, default="")

    def params(self):
        """Canonical query parameters (for links, embeds and exports)."""
        return {"from": self.from_text, "to": self.to_text, "modes": ",".join(self.modes),
                "snap_km": km_text(self.snap_km), "attach_km": km_text(self.attach_km)}


@dataclass(frozen=True)
class NearestQuery:
    """A nearest-feature request from one resolved place."""

    place: Place
    layer: str
    modes: tuple[str, ...]
    snap_km: float
    attach_km: float
    limit: int


def _joined(args, name):
    """Comma-joined values of a parameter that may repeat (checkbox lists); None when absent.

    ``args`` is request.args or a plain dict (pages with defaults, the CLI).
    """
    if name not in args:
        return None
    return ",".join(args.getlist(name)) if hasattr(args, "getlist") else str(args[name])


def _canonical_modes(text):
    chosen = parse_modes(text)
    return tuple(m for m in MODES if m in chosen)


def _network_km(args):
    snap = bounded_km(args.get("snap_km", DEFAULT_SNAP_KM), "snap_km", high=SNAP_MAX_KM, low_inclusive=True)
    reach = bounded_km(args.get("attach_km", DEFAULT_ATTACH_KM), "attach_km", high=MAX_ATTACH_KM, low_inclusive=True)
    return snap, reach


def corridor_query(catalog, args):
    """:class:`CorridorQuery` from ``layer``+``feature`` (or ``feature=layer:fid``), ``width_km``, ``with``."""
    layer, feature = args.get("layer"), args.get("feature")
    if not feature:
        raise BadParameter("feature", "give feature=<id> with layer=<id>, or feature=<layer>:<id>")
    if not layer:
        layer, sep, feature = feature.partition(":")
        if not sep or not feature:
            raise BadParameter("layer", "give layer=<id> with feature=<id>, or feature=<layer>:<id>")
    catalog.feature(layer, feature)  # unknown layer or feature: 404 before any work
    width = bounded_km(args.get("width_km", DEFAULT_WIDTH_KM), "width_km", high=MAX_WIDTH_KM)
    order = [PLACES, *catalog.ids]
    chosen = parse_layer_list(catalog, _joined(args, "with"))
    return CorridorQuery(layer, feature, width, tuple(sorted(chosen, key=order.index)))


def route_query(catalog, args):
    """:class:`RouteQuery` from ``from``, ``to`` (names, 'lat,lon' or layer:fid), ``modes``, km options."""
    modes = _canonical_modes(_joined(args, "modes"))
    snap, reach = _network_km(args)
    start = find_place(catalog, args.get("from"), parameter="from")
    end = find_place(catalog, args.get("to"), parameter="to")
    return RouteQuery(start, end, modes, snap, reach, args["from"].strip(), args["to"].strip())


def _degrees(name, text, limit):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise BadParameter(name, f"must be a number of degrees (WGS84), got {text!r}") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise BadParameter(name, f"must be a finite number within -{limit}..{limit} degrees, got {text!r}")
    return value


def nearest_query(catalog, args):
    """:class:`NearestQuery` from ``lat``+``lon`` or ``place``, ``layer`` (ports), ``modes`` (road,rail)..."""
    if "place" in args:
        if "lat" in args or "lon" in args:
            raise BadParameter("place", "give either place= or lat= and lon=, not both")
        place = find_place(catalog, args["place"], parameter="place")
    else:
        if "lat" not in args or "lon" not in args:
            raise BadParameter("lon" if "lat" in args else "lat", "give lat= and lon= (degrees, WGS84) or place=")
        lat, lon = _degrees("lat", args["lat"], 90), _degrees("lon", args["lon"], 180)
        place = find_place(catalog, f"{lat!r},{lon!r}", parameter="lat")
    layer = args.get("layer", "ports")
    catalog.layer(layer)
    limit = capped_limit(args.get("limit", "5"), max_limit=NEAREST_MAX_LIMIT)  # larger: capped, as OGC asks
    return NearestQuery(place, layer, _canonical_modes(args.get("modes", "road,rail")), *_network_km(args), limit)


# --- cached results --------------------------------------------------------------------------

class Result:
    """A computed answer: its serialised body and ETag; ``doc`` (the JSON-ready document) is parsed on access.

    Only the bytes are kept, so the result cache's byte budget is what the
    results really hold (a parsed document takes several times its JSON).
    """

    __slots__ = ("body", "etag")

    def __init__(self, body, etag):
        self.body = body
        self.etag = etag

    @property
    def doc(self):
        return json.loads(self.body)


def _result(doc):
    body = _json_body(doc)
    return Result(body, hashlib.blake2b(body, digest_size=16).hexdigest())


def _cached(key, compute):
    """``compute()`` once per key in the app's bounded LRU; a NoPath answer is remembered as well."""

    def build():
        try:
            with heavy(f"the {key[0]} query"):
                return compute(), None
        except NoPath as exc:
            return None, str(exc)

    value, no_path = current_app.extensions[_RESULTS].get(key, build)
    if no_path is not None:
        raise NoPath(no_path)
    return value


def _attributions(catalog, layer_ids):
    texts = [PLACES_ATTRIBUTION if lid == PLACES else catalog.layer(lid).attribution
             for lid in layer_ids if lid == PLACES or lid in catalog]
    return list(dict.fromkeys(texts))


def corridor_result(catalog, q):
    """The corridor GeoJSON (band first, then the features within) of a :class:`CorridorQuery`."""

    def compute():
        report = corridor_report(catalog, q.layer, q.feature, q.width_km, with_layers=q.with_layers)
        doc = corridor_geojson(report)
        doc["attribution"] = _attributions(catalog, [q.layer, *q.with_layers, BASEMAP_LAYER])
        return _result(doc)

    return _cached(("corridor", q, catalog.fingerprint((q.layer, *q.with_layers))), compute)


def _place_attribution(catalog, place):
    return [] if place.source == "coordinates" else _attributions(
        catalog, [PLACES if place.source == "gazetteer" else place.source])


def route_result(catalog, q):
    """The path FeatureCollection (legs + totals) of a :class:`RouteQuery`; raises NoPath."""

    def compute():
        doc = with_borders(catalog, shortest_path(network_for(catalog), q.start, q.end, modes=q.modes,
                                                  snap_km=q.snap_km, attach_km=q.attach_km))
        used = [f["properties"]["layer"] for f in doc["features"] if f["properties"]["project"]]
        doc["attribution"] = list(dict.fromkeys(
            _attributions(catalog, used) + _place_attribution(catalog, q.start) + _place_attribution(catalog, q.end)))
        return _result(doc)

    return _cached(("route", q, catalog.fingerprint()), compute)  # the network is every visible line layer


def overlap_result(catalog, args):
    """Shared km and crossings of ``a`` and ``b`` (each ``layer:fid``) within ``width_km`` (default 25)."""
    a_layer, a_fid, _ = parse_feature_ref(catalog, args.get("a"), parameter="a")
    b_layer, b_fid, _ = parse_feature_ref(catalog, args.get("b"), parameter="b")
    width = bounded_km(args.get("width_km", DEFAULT_OVERLAP_WIDTH_KM), "width_km", high=MAX_WIDTH_KM)

    def compute():
        doc = overlap_report(catalog, f"{a_layer}:{a_fid}", f"{b_layer}:{b_fid}", width)
        doc["attribution"] = _attributions(catalog, [a_layer, b_layer])
        return _result(doc)

    return _cached(("overlap", a_layer, a_fid, b_layer, b_fid, width, catalog.fingerprint((a_layer, b_layer))), compute)


def nearest_result(catalog, q):
    """The nearest point features of a :class:`NearestQuery`, by geodesic km and by network km."""

    def compute():
        doc = nearest(catalog, q.place, layer=q.layer, modes=q.modes, snap_km=q.snap_km, attach_km=q.attach_km,
                      limit=q.limit)
        doc["attribution"] = _attributions(catalog, [q.layer]) + _place_attribution(catalog, q.place)
        return _result(doc)

    return _cached(("nearest", q, catalog.fingerprint()), compute)
