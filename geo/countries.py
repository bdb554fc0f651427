"""Routes against country polygons: length per country and border crossings.

Topology (which piece lies in which polygon) is decided on lon/lat
coordinates of lines densified along the geodesic, where straight segments
and geodesics coincide to well under a metre; every length is then measured
on the WGS84 ellipsoid.
"""

import numpy as np
import pandas as pd
import shapely

from geo.geodesic import as_geometry_array, densify_geodesic, distance_km, geodesic_length_km

__all__ = ["OUTSIDE", "length_by_country_km", "country_of_points", "border_crossings"]

# The code given to pieces of a route outside every country polygon (sea, or
# beyond the boundaries layer).
OUTSIDE = "outside"


def _boundary_arrays(boundaries):
    codes = np.asarray(boundaries["id"], dtype=object)
    polys = as_geometry_array(boundaries)
    return codes, polys, shapely.STRtree(polys)


def length_by_country_km(lines, boundaries, *, id_column="id"):
    """Length (km) of each line within each country polygon.

    ``lines`` and ``boundaries`` are GeoDataFrames in EPSG:4326; boundaries
    carry ISO alpha-3 codes in ``id``. Returns a long DataFrame with columns
    ``feature_id, country, length_km``; the length outside every polygon is
    reported under :data:`OUTSIDE` when it exceeds 1 m.
    """
    geoms = as_geometry_array(lines)
    fids = np.asarray(lines[id_column], dtype=object)
    codes, polys, tree = _boundary_arrays(boundaries)
    line_idx, poly_idx = tree.query(geoms, predicate="intersects")
    pieces = shapely.intersection(geoms[line_idx], polys[poly_idx])
    piece_km = geodesic_length_km(pieces)
    frame = pd.DataFrame({"feature_id": fids[line_idx], "country": codes[poly_idx], "length_km": piece_km})
    frame = frame[frame["length_km"] > 0]
    inside_km = np.bincount(line_idx, weights=piece_km, minlength=len(geoms))
    rest_km = geodesic_length_km(geoms) - inside_km
    outside = pd.DataFrame({"feature_id": fids, "country": OUTSIDE, "length_km": rest_km})
    frame = pd.concat([frame, outside[outside["length_km"] > 0.001]], ignore_index=True)
    frame = frame.groupby(["feature_id", "country"], sort=False, as_index=False)["length_km"].sum()
    return frame.reset_index(drop=True)


def country_of_points(lon, lat, boundaries):
    """ISO alpha-3 code of the polygon containing each point (:data:`OUTSIDE` if none)."""
    codes, polys, tree = _boundary_arrays(boundaries)
    points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    pt_idx, poly_idx = tree.query(points, predicate="intersects")
    out = np.full(len(points), OUTSIDE, dtype=object)
    # a point on a shared border matches two polygons; keep the first match
    first = np.r_[True, pt_idx[1:] != pt_idx[:-1]] if len(pt_idx) else np.zeros(0, dtype=bool)
    out[pt_idx[first]] = codes[poly_idx[first]]
    return out


def border_crossings(lines, boundaries, *, id_column="id", step_km=2.0):
    """Points where each line passes from one country (or the sea) to another.

    Returns a DataFrame ``feature_id, part, lon, lat, from_country, to_country,
    chainage_km`` (km along the part from its start). Lines are densified to
    ``step_km`` first so that no crossing hides inside a long segment.
    """
    geoms = densify_geodesic(as_geometry_array(lines), max_segment_km=step_km)
    fids = np.asarray(lines[id_column], dtype=object)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    columns = ["feature_id", "part", "lon", "lat", "from_country", "to_country", "chainage_km"]
    if len(coords) < 2:
        return pd.DataFrame(columns=columns)
    country = country_of_points(coords[:, 0], coords[:, 1], boundaries)
    same_part = part_of[1:] == part_of[:-1]
    seg_km = np.where(same_part, distance_km(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1]), 0.0)
    # chainage at each vertex: cumulative km restarting at each part
    cum = np.r_[0.0, np.cumsum(seg_km)]
    part_start = np.r_[0, np.flatnonzero(~same_part) + 1]
    chain_at = cum - np.repeat(cum[part_start], np.diff(np.r_[part_start, len(coords)]))
    change = np.flatnonzero(same_part & (country[1:] != country[:-1]))
    if change.size == 0:
        return pd.DataFrame(columns=columns)
    # place the crossing where the segment meets the polygon edge, else its midpoint
    seg = shapely.linestrings(np.stack([coords[change], coords[change + 1]], axis=1))
    codes, polys, _ = _boundary_arrays(boundaries)
    poly_by_code = dict(zip(codes, polys))
    edge = np.array([shapely.boundary(poly_by_code.get(c if c != OUTSIDE else t))
                     for c, t in zip(country[change], country[change + 1])], dtype=object)
    xy, idx = shapely.get_coordinates(shapely.intersection(seg, edge), return_index=True)
    hit_xy = (coords[change] + coords[change + 1]) / 2
    if len(idx):
        first = np.r_[True, idx[1:] != idx[:-1]]
        hit_xy[idx[first]] = xy[first]
    chain = chain_at[change] + distance_km(coords[change, 0], coords[change, 1], hit_xy[:, 0], hit_xy[:, 1])
    return pd.DataFrame({
        "feature_id": fids[owner[part_of[change]]],
        "part": part_of[change] - np.searchsorted(owner, owner[part_of[change]]),
        "lon": hit_xy[:, 0].round(5),
        "lat": hit_xy[:, 1].round(5),
        "from_country": country[change],
        "to_country": country[change + 1],
        "chainage_km": chain.round(3),
    })
