"""Spatial index per layer, bbox queries and paging of large responses.

Each layer gets one shapely ``STRtree`` over its geometries, built on the
first query and memoised in the catalogue, so a bbox request on a
100,000-feature layer visits the tree's few matching leaves instead of
scanning every feature. A bbox here is a lon/lat *filter* in degrees
(EPSG:4326), never a measurement.
"""

import math
import numbers

import numpy as np
import shapely

from layers.errors import BadParameter

__all__ = [
    "MAX_LIMIT",
    "capped_limit",
    "MAX_OFFSET",
    "parse_bbox",
    "validate_bbox",
    "build_tree",
    "query_bbox",
    "layer_tree",
    "bbox_positions",
    "page",
]

MAX_LIMIT = 10_000
# Offsets past any real layer size are refused rather than silently empty.
MAX_OFFSET = 1_000_000_000
_BBOX_TEXT_MAX = 200


def _bbox_number(text, which):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise BadParameter("bbox", f"{which} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise BadParameter("bbox", f"{which} {text!r} is not a finite number")
    return value


def validate_bbox(bbox):
    """Check ``(minlon, minlat, maxlon, maxlat)`` in degrees; return it as floats.

    Raises :class:`~layers.errors.BadParameter` ``("bbox", why)`` unless it
    holds 4 finite numbers with min < max, lon in [-180, 180] and lat in
    [-90, 90].

    >>> validate_bbox((66, 24, 68, 26))
    (66.0, 24.0, 68.0, 26.0)
    """
    if isinstance(bbox, (str, bytes)) or not hasattr(bbox, "__len__") or len(bbox) != 4:
        raise BadParameter("bbox", "expected 4 numbers: minlon,minlat,maxlon,maxlat")
    names = ("minlon", "minlat", "maxlon", "maxlat")
    for name, value in zip(names, bbox):
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
            raise BadParameter("bbox", f"{name} {value!r} is not a number")
    minlon, minlat, maxlon, maxlat = (_bbox_number(v, n) for n, v in zip(names, bbox))
    for name, value, limit in (("minlon", minlon, 180), ("maxlon", maxlon, 180),
                               ("minlat", minlat, 90), ("maxlat", maxlat, 90)):
        if not -limit <= value <= limit:
            raise BadParameter("bbox", f"{name} {value:g} is outside [-{limit}, {limit}]")
    if not minlon < maxlon:
        raise BadParameter("bbox", f"minlon {minlon:g} must be less than maxlon {maxlon:g}")
    if not minlat < maxlat:
        raise BadParameter("bbox", f"minlat {minlat:g} must be less than maxlat {maxlat:g}")
    return minlon, minlat, maxlon, maxlat


def parse_bbox(text):
    """Parse ``"minlon,minlat,maxlon,maxlat"`` (degrees) into a validated 4-tuple.

    >>> parse_bbox("66.9,24.8,67.2,25.0")
    (66.9, 24.8, 67.2, 25.0)
    """
    if not isinstance(text, str) or not text.strip():
        raise BadParameter("bbox", "expected minlon,minlat,maxlon,maxlat")
    if len(text) > _BBOX_TEXT_MAX:
        raise BadParameter("bbox", f"longer than {_BBOX_TEXT_MAX} characters")
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise BadParameter("bbox", f"expected 4 comma-separated numbers minlon,minlat,maxlon,maxlat, got {len(parts)}")
    names = ("minlon", "minlat", "maxlon", "maxlat")
    return validate_bbox(tuple(_bbox_number(p, n) for n, p in zip(names, parts)))


def build_tree(geoms):
    """An ``STRtree`` over an array (or GeoSeries) of geometries; missing ones never match."""
    values = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    return shapely.STRtree(values)


def query_bbox(tree, bbox):
    """Sorted positions of the tree's geometries that intersect ``bbox``.

    The tree's envelope search finds candidates; the exact ``intersects``
    test then drops lines whose envelope, but not whose path, meets the box.
    """
    box = shapely.box(*validate_bbox(bbox))
    hits = tree.query(box, predicate="intersects")
    return np.sort(hits.astype(np.int64, copy=False))


def layer_tree(catalog, layer_id):
    """The layer's ``STRtree``, built once per catalogue (raises LayerNotFound).

    With a PostGIS store (``catalog.spatial``) it is a
    :class:`~layers.store.pg_spatial.PgTree`: the same queries, answered in
    the database on its GiST index.
    """
    layer = catalog.layer(layer_id)
    spatial = getattr(catalog, "spatial", None)
    if spatial is not None:
        from layers.store.pg_spatial import PgTree

        return catalog.memo(("pgtree", layer_id), lambda: PgTree(spatial, layer_id, layer.version,
                                                                 lambda: build_tree(layer.gdf.geometry)))
    return catalog.memo(("strtree", layer_id), lambda: build_tree(layer.gdf.geometry))


def bbox_positions(catalog, layer_id, bbox):
    """Row positions (sorted int array) of ``layer_id``'s features intersecting ``bbox``.

    ``bbox`` is ``(minlon, minlat, maxlon, maxlat)`` in degrees, or the
    text form accepted by :func:`parse_bbox`.
    """
    if isinstance(bbox, str):
        bbox = parse_bbox(bbox)
    bbox = validate_bbox(bbox)
    return query_bbox(layer_tree(catalog, layer_id), bbox)


def _whole_number(name, value, *, low, high):
    if isinstance(value, bool):
        raise BadParameter(name, f"{value!r} is not a whole number")
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.lstrip("+-").isdigit() or len(text) > 12:
            raise BadParameter(name, f"{value[:40]!r} is not a whole number")
        value = int(text)
    elif isinstance(value, (numbers.Integral, np.integer)):
        value = int(value)
    elif isinstance(value, (numbers.Real, np.floating)) and math.isfinite(value) and float(value).is_integer():
        value = int(value)
    else:
        raise BadParameter(name, f"{value!r} is not a whole number")
    if value < low:
        raise BadParameter(name, f"{value} must be at least {low}")
    if value > high:
        raise BadParameter(name, f"{value} is larger than the maximum {high}")
    return value


def capped_limit(value, *, max_limit=MAX_LIMIT):
    """A ``limit`` parameter as an int in 1..``max_limit`` (larger values capped), or BadParameter."""
    return min(_whole_number("limit", value, low=1, high=10**12), max_limit)


def page(positions, *, limit=None, offset=0, max_limit=MAX_LIMIT):
    """One page of ``positions``: ``(positions[offset:offset+limit], next_offset or None)``.

    ``limit`` None means every position from ``offset``. ``limit`` must be
    at least 1 and is capped at ``max_limit`` (as OGC API Features asks:
    a larger limit is not an error); ``offset`` must be 0..:data:`MAX_OFFSET`.
    Strings of digits (query parameters) are accepted. ``next_offset`` is
    None on the last page.

    >>> page(np.arange(5), limit=2, offset=2)
    (array([2, 3]), 4)
    >>> page(np.arange(5), limit=10**6, max_limit=3)
    (array([0, 1, 2]), 3)
    """
    positions = np.asarray(positions)
    offset = _whole_number("offset", 0 if offset is None else offset, low=0, high=MAX_OFFSET)
    if limit is None:
        return positions[offset:], None
    limit = capped_limit(limit, max_limit=max_limit)
    end = offset + limit
    return positions[offset:end], (end if end < len(positions) else None)
