"""Routes against country polygons: runs per country, length per country, border crossings.

Every line is made ready for topology by :func:`geo.topology.dense_lines`
(densified along the geodesic, cut at the antimeridian and the poles), then
cut wherever it meets a polygon boundary. The cuts split each part's
chainage (geodesic km from its start) into *runs*, each labelled by the
polygon holding its midpoint. Lengths per country are sums of runs and
crossings are the boundaries between runs, so the pieces always add up to
the part's geodesic length and every crossing's chainage is where the
previous country's km end.

Labels: ISO alpha-3 codes, :data:`OUTSIDE` (sea, or land in no polygon)
and :data:`UNMAPPED` (beyond the rectangle the boundaries layer was clipped
to: its metadata ``clip_bbox``, which the catalogue attaches to the
GeoDataFrame's ``attrs``; Natural Earth is cut to 44-90°E, 5-50°N). Moving
in or out of UNMAPPED is not a border crossing: the clip edge is an
artefact, not a border.
"""

import numpy as np
import pandas as pd
import shapely

from geo.geodesic import as_geometry_array
from geo.topology import dense_lines

__all__ = ["OUTSIDE", "UNMAPPED", "MIN_RUN_KM", "boundaries_for", "clip_sides", "country_runs", "country_of_points",
           "length_by_country_km", "border_crossings", "crossings_from_runs", "lengths_from_runs"]

OUTSIDE = "outside"
UNMAPPED = "unmapped"
MIN_RUN_KM = 0.001  # a run shorter than a metre (a sliver between two polygons' edges) joins its neighbour
_EPS = 1e-9


def clip_sides(boundaries):
    """The clip rectangle of a boundaries GeoDataFrame as {west, south, east, north} (None: not clipped).

    Read from ``attrs["clip_bbox"]``, else from the layer metadata the
    catalogue attaches (``attrs["metadata"]["clip_bbox"]``).
    """
    attrs = getattr(boundaries, "attrs", {}) or {}
    bbox = attrs.get("clip_bbox") or (attrs.get("metadata") or {}).get("clip_bbox")
    if bbox is None:
        return {"west": None, "south": None, "east": None, "north": None}
    west, south, east, north = (float(v) for v in bbox)
    return {"west": west, "south": south, "east": east, "north": north}


def boundaries_for(catalog, layer_id="boundaries"):
    """The catalogue's country boundaries (their metadata, with ``clip_bbox``, in ``attrs``), or None."""
    return catalog.layer(layer_id).gdf if layer_id in catalog else None


def _beyond(lon, lat, sides):
    out = np.zeros(len(lon), dtype=bool)
    for side, value in sides.items():
        if value is not None:
            coord = lat if side in ("south", "north") else lon
            out |= coord < value - _EPS if side in ("west", "south") else coord > value + _EPS
    return out


def _side_lines(sides):
    lines = []
    for side, value in sides.items():
        if value is not None:
            ends = [(value, -90.0), (value, 90.0)] if side in ("west", "east") else [(-180.0, value), (180.0, value)]
            lines.append(shapely.LineString(ends))
    return shapely.MultiLineString(lines) if lines else None


def _boundary_arrays(boundaries):
    return np.asarray(boundaries["id"], dtype=object), as_geometry_array(boundaries)


def _pairs(polys, geoms, predicate):
    """``(geom index, polygon index)`` of every pair for which ``predicate(polygon, geom)`` holds.

    The tree holds the many small ``geoms`` and the few big polygons are the
    queries, so each polygon is prepared once; the other way round tests
    every geometry against an unprepared country (75x slower on 20,000 lines).
    """
    poly_idx, geom_idx = shapely.STRtree(geoms).query(polys, predicate=predicate)
    return geom_idx, poly_idx


def country_of_points(lon, lat, boundaries):
    """ISO alpha-3 code of the polygon containing each point (:data:`OUTSIDE` if none).

    Where polygons overlap (or share a border) the first in the layer's
    order wins. Points beyond the boundaries' clip rectangle
    (:func:`clip_sides`) are :data:`UNMAPPED`.
    """
    sides = clip_sides(boundaries)
    codes, polys = _boundary_arrays(boundaries)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    points = shapely.points(lon, lat)
    pt_idx, poly_idx = _pairs(polys, points, "intersects")
    # a point on a shared border (or where a layer's polygons overlap) matches several: the first polygon in
    # the layer's order wins, not the first the tree happens to visit
    order = np.lexsort((poly_idx, pt_idx))
    pt_idx, poly_idx = pt_idx[order], poly_idx[order]
    out = np.full(len(points), OUTSIDE, dtype=object)
    first = np.r_[True, pt_idx[1:] != pt_idx[:-1]] if len(pt_idx) else np.zeros(0, dtype=bool)
    out[pt_idx[first]] = codes[poly_idx[first]]
    out[(out == OUTSIDE) & _beyond(lon, lat, sides)] = UNMAPPED
    return out


def _cuts(dense, polys, sides):
    """Planar positions along each piece where it meets a polygon boundary or a clip side: (piece, position)."""
    pieces = dense.pieces
    p_idx, g_idx = _pairs(polys, pieces, "intersects")
    # a piece strictly inside a polygon meets none of its edges: skip its costly intersection with the boundary
    in_p, in_g = _pairs(polys, pieces, "contains_properly")
    crossing = ~np.isin(p_idx * len(polys) + g_idx, in_p * len(polys) + in_g)
    p_idx, g_idx = p_idx[crossing], g_idx[crossing]
    edges = shapely.boundary(polys)
    hits = shapely.intersection(pieces[p_idx], edges[g_idx])
    side = _side_lines(sides)
    if side is not None:
        crossing = shapely.intersects(pieces, side)
        p_idx = np.r_[p_idx, np.flatnonzero(crossing)]
        hits = np.r_[hits, shapely.intersection(pieces[crossing], side)]
    xy, which = shapely.get_coordinates(hits, return_index=True)
    piece = p_idx[which]
    pos = shapely.line_locate_point(pieces[piece], shapely.points(xy)) if len(xy) else np.zeros(0)
    return piece, pos


def country_runs(lines, boundaries, *, id_column="id"):
    """Runs of each line part through the countries, in order along the part.

    ``lines`` and ``boundaries`` are GeoDataFrames in EPSG:4326; boundaries
    carry ISO alpha-3 codes in ``id``. Returns a DataFrame ``feature_id,
    part, from_km, to_km, country, lon, lat`` (chainage in geodesic km from
    the part's start; lon/lat where the run starts). Parts are logical
    parts (an RFC 7946 antimeridian split is one part).
    """
    columns = ["feature_id", "part", "from_km", "to_km", "country", "lon", "lat"]
    fids = np.asarray(lines[id_column], dtype=object)
    dense = dense_lines(as_geometry_array(lines))
    if len(dense.pieces) == 0:
        return pd.DataFrame(columns=columns)
    codes, polys = _boundary_arrays(boundaries)
    sides = clip_sides(boundaries)
    cut_piece, cut_pos = _cuts(dense, polys, sides)
    lengths = shapely.length(dense.pieces)
    n_pieces = len(dense.pieces)
    piece = np.r_[np.arange(n_pieces), np.arange(n_pieces), cut_piece]
    pos = np.r_[np.zeros(n_pieces), lengths, np.clip(cut_pos, 0.0, lengths[cut_piece])]
    order = np.lexsort((pos, piece))
    piece, pos = piece[order], pos[order]
    # consecutive cuts on one piece bound a run; its midpoint says where it is
    ok = (piece[1:] == piece[:-1]) & (pos[1:] - pos[:-1] > 0)
    run_piece, start, end = piece[:-1][ok], pos[:-1][ok], pos[1:][ok]
    mid = shapely.line_interpolate_point(dense.pieces[run_piece], (start + end) / 2)
    mid_xy = shapely.get_coordinates(mid)
    label = country_of_points(mid_xy[:, 0], mid_xy[:, 1], boundaries)
    start_xy = shapely.get_coordinates(shapely.line_interpolate_point(dense.pieces[run_piece], start))
    from_km = dense.chain_at(run_piece, start)
    to_km = dense.chain_at(run_piece, end)
    part = dense.piece_part[run_piece]
    runs = pd.DataFrame({"part_id": part, "from_km": from_km, "to_km": to_km, "country": label,
                         "lon": start_xy[:, 0], "lat": start_xy[:, 1]})
    runs = _merge_runs(runs.sort_values(["part_id", "from_km"], kind="stable").reset_index(drop=True))
    return pd.DataFrame({
        "feature_id": fids[dense.part_owner[runs["part_id"]]], "part": dense.part_index[runs["part_id"]],
        "from_km": runs["from_km"].to_numpy(), "to_km": runs["to_km"].to_numpy(),
        "country": runs["country"].to_numpy(), "lon": runs["lon"].to_numpy(), "lat": runs["lat"].to_numpy(),
    }, columns=columns)


def _merge_runs(runs):
    """Slivers (< :data:`MIN_RUN_KM`) join the run before them; then neighbours of one country merge."""
    part = runs["part_id"].to_numpy()
    km = (runs["to_km"] - runs["from_km"]).to_numpy()
    country = runs["country"].to_numpy(dtype=object).copy()
    first_of_part = np.r_[True, part[1:] != part[:-1]]
    sliver = (km < MIN_RUN_KM) & ~first_of_part
    # a sliver takes the label of the last non-sliver run before it in its part
    keep_idx = np.where(~sliver, np.arange(len(runs)), 0)
    np.maximum.accumulate(keep_idx, out=keep_idx)
    country[sliver] = country[keep_idx[sliver]]
    # a part that starts with slivers takes the label of its first real run
    lead = (km < MIN_RUN_KM) & first_of_part
    if lead.any():
        nxt = np.where(km >= MIN_RUN_KM, np.arange(len(runs)), len(runs))
        nxt = np.minimum.accumulate(nxt[::-1])[::-1]
        ok = lead & (nxt < len(runs))
        ok[ok] &= part[nxt[ok]] == part[ok]
        country[ok] = country[nxt[ok]]
    new = np.r_[True, (part[1:] != part[:-1]) | (country[1:] != country[:-1])]
    group = np.cumsum(new) - 1
    out = runs.assign(country=country).groupby(group, sort=True).agg(
        part_id=("part_id", "first"), from_km=("from_km", "first"), to_km=("to_km", "last"),
        country=("country", "first"), lon=("lon", "first"), lat=("lat", "first"))
    return out.reset_index(drop=True)


def lengths_from_runs(runs):
    """``feature_id, country, length_km`` from :func:`country_runs` output (outside / unmapped above 1 m)."""
    frame = runs.assign(length_km=runs["to_km"] - runs["from_km"])
    frame = frame.groupby(["feature_id", "country"], sort=False, as_index=False)["length_km"].sum()
    minor = frame["country"].isin([OUTSIDE, UNMAPPED]) & (frame["length_km"] <= MIN_RUN_KM)
    return frame[~minor & (frame["length_km"] > 0)].reset_index(drop=True)


def crossings_from_runs(runs):
    """Border crossings from :func:`country_runs` output: where a run of one country follows another's."""
    columns = ["feature_id", "part", "lon", "lat", "from_country", "to_country", "chainage_km"]
    if len(runs) < 2:
        return pd.DataFrame(columns=columns)
    same = ((runs["feature_id"].to_numpy()[1:] == runs["feature_id"].to_numpy()[:-1])
            & (runs["part"].to_numpy()[1:] == runs["part"].to_numpy()[:-1]))
    before, after = runs.iloc[:-1].reset_index(drop=True), runs.iloc[1:].reset_index(drop=True)
    real = same & (before["country"] != UNMAPPED).to_numpy() & (after["country"] != UNMAPPED).to_numpy()
    before, after = before[real], after[real]
    return pd.DataFrame({
        "feature_id": after["feature_id"].to_numpy(), "part": after["part"].to_numpy(dtype=int),
        "lon": after["lon"].to_numpy().round(5), "lat": after["lat"].to_numpy().round(5),
        "from_country": before["country"].to_numpy(), "to_country": after["country"].to_numpy(),
        "chainage_km": after["from_km"].to_numpy().round(3),
    }, columns=columns).reset_index(drop=True)


def length_by_country_km(lines, boundaries, *, id_column="id"):
    """Length (km) of each line within each country polygon.

    Returns a long DataFrame ``feature_id, country, length_km``; km at sea
    or outside every polygon are under :data:`OUTSIDE`, beyond the clipped
    edges of the boundaries layer under :data:`UNMAPPED` (each when above
    1 m). The rows of a feature add up to its geodesic length.
    """
    return lengths_from_runs(country_runs(lines, boundaries, id_column=id_column))


def border_crossings(lines, boundaries, *, id_column="id"):
    """Points where each line passes from one country (or the sea) to another.

    Returns a DataFrame ``feature_id, part, lon, lat, from_country,
    to_country, chainage_km`` (km along the part from its start, equal to
    the km of the part's runs before it). No crossing is reported at a
    clipped edge of the boundaries layer.
    """
    return crossings_from_runs(country_runs(lines, boundaries, id_column=id_column))
