"""A local map plane for printed figures, and true ground measure inside it.

A figure is drawn in an azimuthal-equidistant plane (metres, WGS84) centred
on the middle of what it shows: distances from the centre are exact, the
scale across is ``(r/R)/sin(r/R)`` (+0.4% 1,000 km from the centre), and
north is straight up at the centre. What a reader measures on the page --
the scale bar, the direction of north -- is measured here on the ellipsoid
(:data:`geo.geodesic.GEOD`) at the place it is drawn, never taken from the
plane's metres or from degrees.

Input lon/lat in degrees (EPSG:4326); plane coordinates in metres.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from pyproj import Transformer

from geo.corridor import aeqd_crs
from geo.geodesic import GEOD, distance_km

__all__ = ["MapPlane", "nice_km"]

_NICE_STEPS = (1.0, 2.0, 5.0)  # halves stay round too: 0.5, 1, 2.5


def nice_km(limit_km):
    """The largest 1, 2 or 5 x 10^n km that is at most ``limit_km`` (a scale-bar length).

    >>> nice_km(430.0), nice_km(99.9), nice_km(0.7)
    (200.0, 50.0, 0.5)
    """
    if not limit_km > 0 or not math.isfinite(limit_km):
        raise ValueError(f"a scale bar needs a positive finite length, got {limit_km!r}")
    power = 10.0 ** math.floor(math.log10(limit_km))
    return max(step * power for step in _NICE_STEPS if step * power <= limit_km * (1 + 1e-12))


class MapPlane:
    """The azimuthal-equidistant plane centred on (``lon0``, ``lat0``) degrees, in metres."""

    def __init__(self, lon0, lat0):
        self.lon0, self.lat0 = float(lon0), float(lat0)
        self.crs = aeqd_crs(self.lon0, self.lat0)
        # pyproj >= 3.1 transformers are thread-safe; one per plane, both directions
        self._transformer = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)

    @classmethod
    def around(cls, bounds):
        """The plane centred on the middle of ``bounds`` (minlon, minlat, maxlon, maxlat)."""
        lon0, lat0, lon1, lat1 = bounds
        return cls((lon0 + lon1) / 2, (lat0 + lat1) / 2)

    def forward(self, lon, lat):
        """Plane x, y (m) of lon/lat arrays (degrees)."""
        x, y = self._transformer.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x), np.asarray(y)

    def inverse(self, x, y):
        """lon, lat (degrees) of plane x, y arrays (m)."""
        lon, lat = self._transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float),
                                               direction="INVERSE")
        return np.asarray(lon), np.asarray(lat)

    def project(self, geoms):
        """Shapely geometries (lon/lat) -> the same geometries in plane metres (vectorised)."""
        def apply(xy):
            x, y = self.forward(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(np.asarray(geoms, dtype=object), apply)

    def bounds_xy(self, bounds, *, steps=65):
        """Plane bounds (minx, miny, maxx, maxy) of a lon/lat box, its edges sampled (they curve in the plane;
        an odd count keeps each edge's middle, where a parallel bulges furthest)."""
        lon0, lat0, lon1, lat1 = bounds
        t = np.linspace(0.0, 1.0, steps)
        lon = np.concatenate([lon0 + (lon1 - lon0) * t, np.full(steps, lon1), lon1 - (lon1 - lon0) * t,
                              np.full(steps, lon0)])
        lat = np.concatenate([np.full(steps, lat0), lat0 + (lat1 - lat0) * t, np.full(steps, lat1),
                              lat1 - (lat1 - lat0) * t])
        x, y = self.forward(lon, lat)
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())

    def ground_km(self, x0, y0, x1, y1):
        """Geodesic km on the WGS84 ellipsoid between plane points (x0, y0) and (x1, y1) (arrays broadcast)."""
        lon0, lat0 = self.inverse(x0, y0)
        lon1, lat1 = self.inverse(x1, y1)
        return distance_km(lon0, lat0, lon1, lat1)

    def plane_length_m(self, x, y, km):
        """How many plane metres eastwards from (x, y) measure ``km`` on the ground (for a scale bar there).

        Solved by two secant steps on the true (geodesic) length; the plane is
        within 1% of true scale in any figure, so this converges to < 1 m.
        """
        length = km * 1000.0
        for _ in range(3):
            ground = float(self.ground_km(x, y, x + length, y)) * 1000.0
            length *= km * 1000.0 / ground
        return length

    def north_deg(self, x, y):
        """Direction of true north at plane point (x, y): degrees anticlockwise from the plane's +y axis."""
        lon, lat = self.inverse(x, y)
        lat = np.clip(lat, -89.9, 89.9)
        lon2, lat2, _ = GEOD.fwd(lon, lat, np.zeros_like(lon), np.full_like(lon, 10_000.0))
        x2, y2 = self.forward(lon2, lat2)
        return np.degrees(np.arctan2(-(x2 - x), y2 - y))
