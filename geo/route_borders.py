"""The countries a network route crosses and the border crossings it uses.

A route (:func:`geo.routing.route`, legs in travel order) is measured as one
line through the country polygons of the ``boundaries`` layer
(:func:`geo.countries.length_by_country_km` and
:func:`~geo.countries.border_crossings`, geodesic km). Each border the line
crosses is matched to the placed crossing of the ``border_crossings`` layer
(kind ``border_crossing``) that joins those two countries and lies within
:data:`CROSSING_KM` of where the line crosses; a border with none is listed
with ``crossing: null`` (not every crossing has a cited position). A matched
crossing brings its dated traffic status (``crossing_status``), so a route
through a closed crossing says so.
"""

import geopandas as gpd
import numpy as np
import shapely

from geo.countries import OUTSIDE, border_crossings, country_of_points, length_by_country_km
from geo.geodesic import distance_km

__all__ = ["CROSSING_KM", "CROSSINGS_LAYER", "route_borders", "with_borders", "borders_lines"]

BOUNDARIES = "boundaries"
CROSSING_KM = 30.0  # a placed crossing this close to where the route crosses its border is the one used
CROSSINGS_LAYER = "border_crossings"


def _path_line(result):
    """The legs' coordinates joined in travel order, as one LineString (None when shorter than two points)."""
    parts = [np.asarray(f["geometry"]["coordinates"], dtype=float) for f in result["features"]
             if f["geometry"]["type"] == "LineString" and len(f["geometry"]["coordinates"]) >= 2]
    if not parts:
        return None
    xy = np.concatenate(parts)
    xy = xy[np.r_[True, np.any(xy[1:] != xy[:-1], axis=1)]]
    return shapely.LineString(xy) if len(xy) >= 2 else None


def _crossing_points(catalog):
    if CROSSINGS_LAYER not in catalog:
        return None
    gdf = catalog.layer(CROSSINGS_LAYER).gdf
    return gdf[(gdf["kind"] == "border_crossing") & (gdf.geom_type == "Point")]


def _match(points, lon, lat, a, b):
    """The placed crossing joining countries ``a`` and ``b`` nearest to (lon, lat), within CROSSING_KM, or None."""
    if points is None or not len(points):
        return None
    joins = np.array([{a, b} <= set(c) for c in points["countries"]])
    if not joins.any():
        return None
    cand = points[joins]
    km = distance_km(lon, lat, cand.geometry.x.to_numpy(), cand.geometry.y.to_numpy())
    i = int(np.argmin(km))
    if km[i] > CROSSING_KM:
        return None
    row = cand.iloc[i]
    history = row.get("crossing_history")
    last = history[-1] if isinstance(history, list) and history else {}
    return {"id": str(row["id"]), "name": str(row["name"]), "km": round(float(km[i]), 1),
            "crossing_status": row.get("crossing_status"), "status_date": last.get("date"),
            "status_source": last.get("source")}


def _is_country(code):
    return isinstance(code, str) and code != OUTSIDE and code.isupper()


def route_borders(catalog, result):
    """``{countries, km_by_country, borders}`` of a route result (a FeatureCollection of legs in order).

    ``countries``: ISO alpha-3 codes in the order the route enters them;
    ``km_by_country``: geodesic km in each (at sea or off the map under
    ``outside``); ``borders``: each border crossed in order, ``{from, to,
    lon, lat, chainage_km, crossing}`` with the matched placed crossing
    (``id, name, km, crossing_status, status_date, status_source``) or None.
    A stretch at sea between two runs of one country (a coast, a delta) is
    no border.
    """
    line = _path_line(result)
    if BOUNDARIES not in catalog or line is None:
        return {"countries": [], "km_by_country": {}, "borders": []}
    boundaries = catalog.layer(BOUNDARIES).gdf
    lines = gpd.GeoDataFrame({"id": ["route"]}, geometry=[line], crs="EPSG:4326")
    lengths = length_by_country_km(lines, boundaries)
    km = {str(c): round(float(v), 1) for c, v in zip(lengths["country"], lengths["length_km"])}
    found = border_crossings(lines, boundaries)
    start = shapely.get_coordinates(line)[0]
    current = str(country_of_points([start[0]], [start[1]], boundaries)[0])
    countries = [current] if _is_country(current) else []
    points, borders = _crossing_points(catalog), []
    for row in found.itertuples():
        b = row.to_country
        if not _is_country(b) or b == current:
            continue
        a, current = current, b
        countries.append(b)
        crossing = _match(points, row.lon, row.lat, a, b) if _is_country(a) else None
        borders.append({"from": a, "to": b, "lon": float(row.lon), "lat": float(row.lat),
                        "chainage_km": float(row.chainage_km), "crossing": crossing})
    return {"countries": list(dict.fromkeys(countries)), "km_by_country": km, "borders": borders}


def with_borders(catalog, result):
    """``result`` with :func:`route_borders` in its ``totals`` (``countries``, ``km_by_country``, ``borders``)."""
    result["totals"].update(route_borders(catalog, result))
    return result


def borders_lines(totals):
    """Text lines naming the countries crossed and each border with the crossing used (for the CLI)."""
    km = totals.get("km_by_country", {})
    lines = ["countries: " + ", ".join(f"{c} {km.get(c, 0.0):.1f} km" for c in totals.get("countries", []))]
    for b in totals.get("borders", []):
        c = b["crossing"]
        used = (f"{c['name']} ({c['km']:.1f} km off the line; {c['crossing_status']} as of {c['status_date']})"
                if c else "no placed crossing")
        lines.append(f"border {b['from']} -> {b['to']} at km {b['chainage_km']:.1f} ({b['lat']:.3f}N "
                     f"{b['lon']:.3f}E): {used}")
    return lines
