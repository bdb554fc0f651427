"""Polygons built in a metric plane, returned as valid lon/lat polygons across 180° and around the poles.

A corridor band is buffered in an azimuthal-equidistant plane, where the
antimeridian and the poles are ordinary places. Back in lon/lat:

- a polygon that encloses neither pole has its rings unwrapped (longitudes
  made continuous, so a band across 180° runs to 181°, not back to -179°)
  and is then cut into the [-180, 180] window, each overflow shifted by
  360°;
- a polygon whose outline encloses a pole is moved into that pole's own
  azimuthal-equidistant plane, cut into its four quadrants there (each
  quadrant spans 90° of longitude, meridians being straight rays from the
  pole), and each quadrant piece returned to lon/lat: a vertex at the pole
  becomes the segment of latitude ±90 between the quadrant's meridians, so
  the piece is closed along the pole as lon/lat polygons must be.

Rings must be dense (vertices a few km apart) so the straight edges in
lon/lat stay close to the plane's; :data:`geo.corridor.EDGE_STEP_M` sees to it.
"""

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

__all__ = ["aeqd_crs", "plane_to_lonlat", "normalise_lonlat"]

_WINDOWS = (-2, -1, 0, 1, 2)  # 360° shifts tried when cutting an unwrapped polygon into [-180, 180]
_ORIGIN_M = 1e-3  # a vertex this close to a polar plane's origin is the pole


def aeqd_crs(lon0, lat0):
    """Azimuthal-equidistant CRS in metres centred on (lon0, lat0), WGS84."""
    return CRS.from_proj4(f"+proj=aeqd +lat_0={lat0:.8f} +lon_0={lon0:.8f} +datum=WGS84 +units=m +no_defs")


def _xy_func(transformer):
    def apply(xy):
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])

    return apply


@lru_cache(maxsize=2)
def _polar(sign):
    """(lon/lat -> polar plane, polar plane -> lon/lat, quadrant boxes with their longitude ranges)."""
    crs = aeqd_crs(0.0, 90.0 * sign)
    fwd = _xy_func(Transformer.from_crs("EPSG:4326", crs, always_xy=True))
    inv = _xy_func(Transformer.from_crs(crs, "EPSG:4326", always_xy=True))
    big = 3.0e7  # metres: further than anything from the pole
    quadrants = []
    for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        box = (min(0, sx * big), min(0, sy * big), max(0, sx * big), max(0, sy * big))
        lon = inv(np.array([[sx * 1e5, sy * 1e5]]))[0, 0]  # the quadrant's diagonal
        lo = 90.0 * np.floor(lon / 90.0)
        quadrants.append((box, lo, lo + 90.0))
    return fwd, inv, tuple(quadrants)


def normalise_lonlat(polygon):
    """Cut a polygon with continuous (possibly beyond ±180°) longitudes into the [-180, 180] window."""
    pieces = []
    for k in _WINDOWS:
        part = shapely.clip_by_rect(polygon, -180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0)
        if not part.is_empty:
            pieces.append(shapely.transform(part, lambda xy, k=k: xy - [360.0 * k, 0.0]))
    return shapely.make_valid(shapely.union_all(pieces)) if pieces else shapely.Polygon()


def _unwrapped_ring(ring_m, to_lonlat):
    ll = to_lonlat(shapely.get_coordinates(ring_m))
    ll[:, 0] = np.unwrap(ll[:, 0], period=360.0)
    return ll


def _quadrant_ring(xy, inv, lo, hi, pole_lat):
    """A closed ring of a quadrant piece in the polar plane, as an open lon/lat ring with the pole spread
    along the quadrant (latitude ±90 from the arriving meridian to the leaving one)."""
    xy = xy[:-1]  # open: the neighbours of every vertex are its cyclic ones
    ll = inv(xy)
    lon = np.clip(lo + np.mod(ll[:, 0] - lo + 1e-9, 360.0) - 1e-9, lo, hi)
    at_pole = np.hypot(xy[:, 0], xy[:, 1]) < _ORIGIN_M
    lat = np.where(at_pole, pole_lat, ll[:, 1])
    if not at_pole.any():
        return np.column_stack([lon, lat])
    reps = np.where(at_pole, 2, 1)
    out_lon, out_lat = np.repeat(lon, reps), np.repeat(lat, reps)
    first = np.cumsum(reps) - reps
    idx = np.flatnonzero(at_pole)
    out_lon[first[idx]], out_lon[first[idx] + 1] = np.roll(lon, 1)[idx], np.roll(lon, -1)[idx]
    return np.column_stack([out_lon, out_lat])


def _around_pole(polygon_m, to_lonlat, sign):
    """A plane polygon whose outline encloses the pole of ``sign`` (1 north, -1 south), in lon/lat."""
    fwd, inv, quadrants = _polar(sign)

    def to_polar(ring):
        return fwd(to_lonlat(shapely.get_coordinates(ring)))

    polar = shapely.make_valid(shapely.Polygon(to_polar(polygon_m.exterior),
                                               [to_polar(r) for r in polygon_m.interiors]))
    out = []
    for box, lo, hi in quadrants:
        piece = shapely.clip_by_rect(polar, *box)
        for poly in shapely.get_parts(piece):
            if poly.geom_type != "Polygon" or poly.is_empty:
                continue
            shell = _quadrant_ring(shapely.get_coordinates(poly.exterior), inv, lo, hi, 90.0 * sign)
            holes = [_quadrant_ring(shapely.get_coordinates(r), inv, lo, hi, 90.0 * sign) for r in poly.interiors]
            out.append(shapely.make_valid(shapely.Polygon(shell, holes)))
    return shapely.make_valid(shapely.union_all(out)) if out else shapely.Polygon()


def plane_to_lonlat(polygon_m, to_plane, to_lonlat):
    """A (Multi)Polygon in a metric plane as a valid lon/lat geometry within [-180, 180] x [-90, 90].

    ``to_plane`` / ``to_lonlat`` map (n, 2) arrays between lon/lat and the
    plane. Rings should be densified beforehand (a few km per edge).
    """
    out = []
    poles = to_plane(np.array([[0.0, 90.0], [0.0, -90.0]]))
    for poly in shapely.get_parts(polygon_m):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        shell = shapely.Polygon(poly.exterior)
        inside = shapely.contains_xy(shell, poles[:, 0], poles[:, 1])
        if inside[0] or inside[1]:
            out.append(_around_pole(poly, to_lonlat, 1 if inside[0] else -1))
            continue
        region = normalise_lonlat(shapely.make_valid(shapely.Polygon(_unwrapped_ring(poly.exterior, to_lonlat))))
        for ring in poly.interiors:
            hole = normalise_lonlat(shapely.make_valid(shapely.Polygon(_unwrapped_ring(ring, to_lonlat))))
            region = shapely.difference(region, hole)
        out.append(region)
    return shapely.make_valid(shapely.union_all(out)) if out else shapely.Polygon()
