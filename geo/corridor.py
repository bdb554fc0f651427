"""Corridors: true geodesic buffers around routes, what lies within them, distance and chainage.

A corridor is the band within ``width_km`` of a route on the WGS84
ellipsoid. The route (lon/lat, EPSG:4326) is made ready for topology by
:func:`geo.topology.dense_lines` (RFC 7946 halves rejoined, densified to
2 km), cut into pieces of at most ``max_piece_km``, and each piece is
buffered in metres in an azimuthal-equidistant plane centred on its own
middle, densified, and returned to lon/lat by
:func:`geo.lonlat_polygons.plane_to_lonlat` (cut at 180°, closed along the
pole when the band holds one); the pieces are then united. AEQD keeps
distances from its centre exact; the scale across the radial direction is
``(r/R)/sin(r/R)``, +0.10% at 500 km and +0.41% at 1000 km from the centre.
Measured at width 50 km (``tests/test_corridor.py``): one plane puts the
band edge up to 0.13% inside the width for a 1000 km route, 0.44% for
2000 km, 0.95% for 3000 km; 1000 km pieces keep it within 0.13% at any
length (this includes the 0.03% of the chords of the round ends). Areas are
geodesic (``Geod.geometry_area_perimeter``).

Membership does not rest on that polygon: candidates are taken from it with
a margin wider than its error, and a feature is within when its exact
geodesic distance from the route (:mod:`geo.nearest`) is at most the width.
Distance and chainage are those of the exact nearest point on the route.
"""

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo.corridor_lines import nearest_lines
from geo.geodesic import as_geometry_array, geodesic_area_km2, geodesic_length_km
from geo.lonlat_polygons import _xy_func, aeqd_crs, plane_to_lonlat
from geo.nearest import LineIndex, ecef_km, nearest_on_lines
from geo.topology import TOPOLOGY_STEP_KM, dense_lines, planar_geometries
from layers.errors import BadParameter

__all__ = [
    "MAX_WIDTH_KM",
    "MAX_PIECE_KM",
    "PLACES",
    "Corridor",
    "bounded_km",
    "route_line",
    "build_corridor",
    "geodesic_area_km2",
    "nearest_on_route",
    "within_corridor",
    "candidate_margin_degrees",
]

PLACES = "places"  # the gazetteer, usable wherever a layer id is
MAX_WIDTH_KM = 500.0
MAX_PIECE_KM = 1000.0
EDGE_STEP_M = 2000.0  # densify buffer edges before projecting back so the shape survives
QUAD_SEGS = 32  # arc segments per quarter circle: chord sagitta 0.03% of the width
CANDIDATE_MARGIN = 0.005  # candidates from the band widened by 0.5% of the width (its edge errs <= 0.13%)
_TOL_KM = 1e-6


def bounded_km(value, name, *, high, low=0.0, low_inclusive=False):
    """``value`` as a float km within (low, high] (or [low, high]); BadParameter otherwise.

    Strings from a URL or command line are parsed; NaN, inf and booleans refused.

    >>> bounded_km("50", "width_km", high=500)
    50.0
    """
    if isinstance(value, bool):
        raise BadParameter(name, f"must be a number of km, got {value!r}")
    try:
        km = float(value)
    except (TypeError, ValueError):
        raise BadParameter(name, f"must be a number of km, got {value!r}") from None
    if not math.isfinite(km):
        raise BadParameter(name, f"must be a finite number of km, got {value!r}")
    if km > high or km < low or (km == low and not low_inclusive):
        low_text = f">= {low:g}" if low_inclusive else f"> {low:g}"
        raise BadParameter(name, f"must be {low_text} and <= {high:g} km, got {km:g}")
    return km


def route_line(geom, *, name="feature"):
    """The non-empty LineString/MultiLineString to build a corridor on; BadParameter otherwise."""
    if geom is None or geom.is_empty:
        raise BadParameter(name, "has no geometry")
    if geom.geom_type not in ("LineString", "MultiLineString"):
        raise BadParameter(name, f"a corridor needs a line route, got a {geom.geom_type}")
    coords = shapely.get_coordinates(geom)
    if not (np.isfinite(coords).all() and (np.abs(coords[:, 0]) <= 180).all() and (np.abs(coords[:, 1]) <= 90).all()):
        raise BadParameter(name, "coordinates must be lon -180..180, lat -90..90 (EPSG:4326)")
    return geom


@dataclass(frozen=True)
class Corridor:
    """A route's geodesic buffer: polygon in lon/lat, area km², the dense route and its nearest-point index.

    ``route`` is the planar (seam- and pole-safe) dense route; chainage runs
    on across parts (the gap between parts counts nothing).
    """

    route: object
    width_km: float
    polygon: object
    area_km2: float
    length_km: float
    pieces: tuple = field(repr=False)  # the AEQD planes' centres (lon, lat), one per <= max_piece_km piece
    dense: object = field(repr=False, default=None)
    index: object = field(repr=False, default=None)

    def chainage(self, part, chain_km):
        """Chainage along the whole route of km ``chain_km`` within logical ``part``."""
        return self.dense.part_offset_km[np.asarray(part, dtype=int)] + np.asarray(chain_km, dtype=float)


def _piece_bounds(dense, max_piece_km):
    """(first, last) dense vertex of every <= max_piece_km piece of every part (neighbours share a vertex)."""
    out = []
    first = np.r_[0, np.flatnonzero(np.diff(dense.part)) + 1]
    last = np.r_[first[1:] - 1, len(dense.part) - 1]
    for f, last_v in zip(first, last):  # one iteration per part, not per vertex
        c = dense.chain_km[f:last_v + 1]
        n = max(1, math.ceil(c[-1] / max_piece_km))
        edges = c[-1] * np.arange(n + 1) / n
        starts = np.clip(np.searchsorted(c, edges[:-1], side="right") - 1, 0, len(c) - 1)
        ends = np.clip(np.searchsorted(c, edges[1:], side="left"), 0, len(c) - 1)
        out += [(f + s, f + e) for s, e in zip(starts, ends)]
    return out


def _band_piece(coords, chain, width_m):
    """The band of one route piece: buffered in the AEQD plane of its middle, returned in lon/lat."""
    mid = int(np.argmin(np.abs(chain - (chain[0] + chain[-1]) / 2)))
    crs = aeqd_crs(coords[mid, 0], coords[mid, 1])
    to_plane = _xy_func(Transformer.from_crs("EPSG:4326", crs, always_xy=True))
    to_lonlat = _xy_func(Transformer.from_crs(crs, "EPSG:4326", always_xy=True))
    xy = to_plane(coords)
    line = shapely.linestrings(xy) if np.hypot(*np.diff(xy, axis=0).T).sum() > 0 else shapely.points(xy[0])
    band = shapely.segmentize(shapely.buffer(line, width_m, quad_segs=QUAD_SEGS), EDGE_STEP_M)
    return plane_to_lonlat(band, to_plane, to_lonlat), (float(coords[mid, 0]), float(coords[mid, 1]))


def build_corridor(route, width_km, *, max_piece_km=MAX_PIECE_KM):
    """The :class:`Corridor` within ``width_km`` (0 < w <= 500 km) of a lon/lat line.

    >>> from shapely import LineString
    >>> c = build_corridor(LineString([(70, 30), (71, 30)]), 10)
    >>> round(c.length_km, 1), round(c.area_km2 / (2 * 10 * c.length_km + math.pi * 100), 3)
    (96.5, 1.0)
    """
    width = bounded_km(width_km, "width_km", high=MAX_WIDTH_KM)
    max_piece = bounded_km(max_piece_km, "max_piece_km", low=10.0, high=5000.0, low_inclusive=True)
    line = route_line(route)
    dense = dense_lines(np.array([line], dtype=object), step_km=TOPOLOGY_STEP_KM)
    polys, centres = [], []
    for f, last in _piece_bounds(dense, max_piece):
        band, centre = _band_piece(dense.coords[f:last + 1], dense.chain_km[f:last + 1], width * 1000.0)
        polys.append(band)
        centres.append(centre)
    polygon = shapely.make_valid(shapely.union_all(polys)) if len(polys) > 1 else polys[0]
    length = float(dense.part_length_km.sum())
    return Corridor(dense.geometries()[0], width, polygon, geodesic_area_km2(polygon), length, tuple(centres),
                    dense, LineIndex.of(dense))


def candidate_margin_degrees(corridor):
    """Planar lon/lat distance that surely covers ``CANDIDATE_MARGIN`` of the width, at the band's latitudes."""
    km = corridor.width_km * CANDIDATE_MARGIN + 0.01
    lat = min(max(abs(corridor.polygon.bounds[1]), abs(corridor.polygon.bounds[3])), 89.0)
    return min(km / (110.5 * math.cos(math.radians(lat))), 10.0)


def _first_contact(corridor, geom):
    """Smallest chainage where the route meets ``geom`` (planar, seam-safe), with that point; None if apart."""
    pieces = corridor.dense.pieces
    hit = shapely.intersects(pieces, geom)
    if not hit.any():
        return None
    best = None
    for k in np.flatnonzero(hit):  # a handful of pieces
        xy = shapely.get_coordinates(shapely.intersection(pieces[k], geom))
        if not len(xy):
            continue
        chain = corridor.chainage(corridor.dense.piece_part[k],
                                  corridor.dense.chainage_on_pieces(shapely.points(xy), np.full(len(xy), k)))
        i = int(np.argmin(chain))
        if best is None or chain[i] < best[0]:
            best = (float(chain[i]), xy[i])
    return best


def _nearest_shape(corridor, geom):
    """Exact nearest (distance, chainage, route point, feature point) between the route and a line or polygon."""
    is_poly = shapely.get_type_id(geom) in (3, 6)
    planar = geom if is_poly else dense_lines(np.array([geom], dtype=object)).geometries()[0]
    contact = _first_contact(corridor, planar)
    if contact is not None:
        chain, xy = contact
        return 0.0, chain, xy, xy
    outline = shapely.boundary(geom) if is_poly else geom
    own = dense_lines(np.array([outline], dtype=object))
    if len(own.coords) == 0:
        return np.nan, np.nan, (np.nan, np.nan), (np.nan, np.nan)
    # the feature's vertices to the route ...
    near = nearest_on_lines(corridor.index, own.coords[:, 0], own.coords[:, 1])
    i = int(np.argmin(near["distance_km"]))
    d = float(near["distance_km"][i])
    result = (d, float(corridor.chainage(near["part"][i], near["chain_km"][i])),
              (near["lon"][i], near["lat"][i]), tuple(own.coords[i]))
    # ... and the route's vertices that could be nearer, to the feature's segments
    feature = LineIndex.of(own)
    reach = d + feature.longest_km + corridor.index.longest_km + 1e-6
    gap, _ = feature.tree.query(ecef_km(corridor.index.coords), k=1, distance_upper_bound=reach)
    close = np.flatnonzero(np.isfinite(gap))
    if len(close):
        back = nearest_on_lines(feature, corridor.index.coords[close, 0], corridor.index.coords[close, 1])
        j = int(np.argmin(back["distance_km"]))
        if back["distance_km"][j] < d:
            v = close[j]
            result = (float(back["distance_km"][j]), float(corridor.chainage(corridor.dense.part[v],
                                                                               corridor.dense.chain_km[v])),
                      tuple(corridor.index.coords[v]), (back["lon"][j], back["lat"][j]))
    return result


def nearest_on_route(corridor, geoms):
    """Exact geodesic distance (km) from each geometry to the route, and where it is nearest.

    Returns a DataFrame ``distance_km, chainage_km, route_lon, route_lat,
    lon, lat`` (the nearest point on the route and on the geometry).
    Points are measured to the exact foot on the geodesic route; lines and
    polygons that meet the route measure 0 at their first contact, others
    their closest pair of points. Missing or empty geometries give NaN.
    """
    geoms = as_geometry_array(geoms)
    n = len(geoms)
    best = np.full((n, 6), np.nan)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms)
    points = ok & (types == 0)
    if points.any():
        xy = shapely.get_coordinates(geoms[points])
        near = nearest_on_lines(corridor.index, xy[:, 0], xy[:, 1])
        best[points] = np.column_stack([near["distance_km"], corridor.chainage(near["part"], near["chain_km"]),
                                        near["lon"], near["lat"], xy])
    lines = ok & np.isin(types, (1, 5))
    if lines.any():  # all lines at once; the same floats as one at a time
        best[lines] = nearest_lines(corridor, geoms[lines])
    for i in np.flatnonzero(ok & ~points & ~lines):  # polygons, multipoints: one exact pass each
        geom = geoms[i]
        if types[i] == 4:  # MultiPoint: its nearest member
            sub = nearest_on_route(corridor, shapely.get_parts(geom))
            row = sub.iloc[int(np.nanargmin(sub["distance_km"].to_numpy()))]
            best[i] = row.to_numpy(dtype=float)
            continue
        d, chain, route_xy, own_xy = _nearest_shape(corridor, geom)
        best[i] = [d, chain, *route_xy, *own_xy]
    names = ["distance_km", "chainage_km", "route_lon", "route_lat", "lon", "lat"]
    return pd.DataFrame(best, columns=names)


def within_corridor(corridor, gdf, *, layer_id=None, exclude_id=None, tree=None, source_rows=False):
    """Features of ``gdf`` within the corridor, with distance, chainage and the part inside.

    Candidates are picked with an STRtree (``tree``: over
    :func:`geo.topology.planar_geometries` of ``gdf``'s geometry, built if
    not given; a tree over raw lines misses sparse ones and those crossing
    180°) within a margin of the corridor polygon, then
    kept when their exact geodesic distance is <= ``width_km``. Returns a
    GeoDataFrame (EPSG:4326) with ``layer, id, name, kind, status,
    countries, distance_km, chainage_km, inside_length_km`` (lines: km
    inside the band), ``inside_area_km2`` (polygons: km² inside the band)
    and the geometry clipped to the corridor, sorted by chainage (then
    distance, then the row's place in ``gdf``). ``source_rows=True`` adds
    ``source_row``: that place (0-based), for callers working on parts of a
    layer (:mod:`geo.parallel`).
    """
    geoms = as_geometry_array(gdf)
    tree = tree if tree is not None else shapely.STRtree(planar_geometries(geoms))
    idx = np.sort(tree.query(corridor.polygon, predicate="dwithin", distance=candidate_margin_degrees(corridor)))
    if exclude_id is not None and len(idx):
        idx = idx[np.asarray(gdf["id"], dtype=object)[idx] != exclude_id]
    measured = nearest_on_route(corridor, geoms[idx])
    keep = (measured["distance_km"] <= corridor.width_km + _TOL_KM).to_numpy()
    idx, measured = idx[keep], measured[keep].reset_index(drop=True)
    sub = gdf.iloc[idx]
    cand = geoms[idx]
    types = shapely.get_type_id(cand)
    is_line, is_poly = np.isin(types, (1, 5)), np.isin(types, (3, 6))
    clipped = cand.copy()
    if is_line.any():
        clipped[is_line] = shapely.intersection(dense_lines(cand[is_line]).geometries(), corridor.polygon)
    if is_poly.any():
        clipped[is_poly] = shapely.intersection(shapely.make_valid(cand[is_poly]), corridor.polygon)
    inside_km = np.where(is_line, geodesic_length_km(clipped), np.nan)
    inside_km2 = np.array([geodesic_area_km2(g) if p else np.nan for g, p in zip(clipped, is_poly)], dtype=float)

    def column(name):
        return sub[name].to_numpy(dtype=object) if name in sub else np.full(len(sub), None, dtype=object)

    out = gpd.GeoDataFrame({
        "layer": layer_id, "id": column("id"), "name": column("name"), "kind": column("kind"),
        "status": column("status"), "countries": column("countries"),
        "distance_km": measured["distance_km"].round(3).to_numpy(),
        "chainage_km": measured["chainage_km"].round(3).to_numpy(),
        "inside_length_km": np.round(inside_km, 3), "inside_area_km2": np.round(inside_km2, 1),
    }, geometry=clipped, crs="EPSG:4326")
    if source_rows:
        out["source_row"] = idx
    return out.sort_values(["chainage_km", "distance_km"], kind="stable").reset_index(drop=True)
