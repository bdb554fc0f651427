"""Check the raw inputs of the extended region: ``python -m layers.importers.region_check``.

Resolves every place of ``data/raw/region_places.toml`` against the extended
GeoNames gazetteer (each within its country, checked against its cited
expectation) and checks every region layer file (:data:`LAYER_FILES`):

- places: explicit positions lie in (or, for border facilities, within
  :data:`BORDER_KM` of) their stated country on Natural Earth; routing
  points at sea lie off land;
- routes: known kind/mode/status, ISO alpha-3 countries equal to the
  countries the chain actually crosses (Natural Earth, a country counts from
  :data:`MIN_KM_IN_COUNTRY` km, or a fifth of a shorter link), no implausible detour, sea lanes off land
  away from their ports, dated status histories whose last entry is the
  status, and every ``passes_through`` town within its stated distance of
  the chain (geodesic km, chain densified to 1 km) and cited by one of the
  route's sources;
- points, areas, references to other layers, GEM rows and bloc memberships.

Prints one line per layer (features, km of chains) and every problem; exit
status 1 when there is any. Distances are geodesic on the WGS84 ellipsoid.
"""

import csv
import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod

from geo.geodesic import densify_lonlat, distance_km, line_length_km
from layers.errors import ImportFailed
from layers.importers.common import ISO3_BY_ISO2
from layers.importers.gazetteer import load_gazetteer
from layers.importers.region import (
    GAZETTEER,
    LAYER_FILES,
    PLACES,
    RAW_DIR,
    load_places,
    read_layer_file,
    route_lonlat,
    waypoint_keys,
)
from layers.importers.region_blocs import check_blocs
from layers.importers.region_geometry import RegionGeometry
from layers.importers.waypoints import DETOUR_MAX, detour_problems
from layers.schema import STATUSES

__all__ = ["BORDER_KM", "MIN_KM_IN_COUNTRY", "Checker", "check_all", "main"]

BORDER_KM = 10.0  # a crossing or bridge may sit this far outside its stated country's polygon
MIN_KM_IN_COUNTRY = 10.0  # a chain "crosses" a country when this much of it lies inside
APPROXIMATE_KM = 40.0  # an approximate stand-in may lie this far from a country it joins
ROUTE_KINDS = {"road": "road", "rail": "rail", "sea_route": "sea"}
CROSSING_STATUSES = ("open", "restricted", "closed")
DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
GEOD = Geod(ellps="WGS84")


class Checker(RegionGeometry):
    """Collects problems over all region files; ``errors`` is a list of strings."""

    def __init__(self, raw_dir=RAW_DIR):
        super().__init__(raw_dir)
        self.errors = []
        self.summary = []
        self.gaz = load_gazetteer(GAZETTEER if raw_dir == RAW_DIR else self.raw_dir / GAZETTEER.name)
        self._area_lines = []

    def error(self, where, problem):
        self.errors.append(f"{where}: {problem}")

    # -- places ----------------------------------------------------------------------------------------
    def check_places(self, path=None):
        path = path or (PLACES if self.raw_dir == RAW_DIR else self.raw_dir / PLACES.name)
        try:
            self.places = load_places(self.gaz, path)
        except ImportFailed as exc:
            self.error(Path(path).name, str(exc))
            return
        for p in self.places.values():
            where = f"region_places.toml: place {p.key!r}"
            if p.country is None:
                if p.role != "routing" or self.country_of([p.lon], [p.lat])[0]:
                    self.error(where, "a place without country must be a routing point at sea")
                continue
            iso3 = ISO3_BY_ISO2.get(p.country)
            if iso3 is None:
                self.error(where, f"country {p.country!r} has no ISO alpha-3 mapping")
            elif p.origin == "explicit" and self.km_outside(p.lon, p.lat, iso3) > BORDER_KM:
                self.error(where, f"{p.lat:.4f}N {p.lon:.4f}E is {self.km_outside(p.lon, p.lat, iso3):.0f} km "
                                  f"outside {iso3} (limit {BORDER_KM:g} km)")
        self.summary.append(f"{'places':28s} {len(self.places):4d} resolved "
                            f"({sum(p.origin == 'gazetteer' for p in self.places.values())} from the gazetteer)")

    # -- shared field checks ---------------------------------------------------------------------------
    def _sources(self, where, entry):
        sources = entry.get("sources")
        if not isinstance(sources, list) or not sources or not all(_source_ok(s) for s in sources):
            self.error(where, "sources must be a non-empty list of {title, url}")
            return set()
        return {s["url"] for s in sources}

    def _dated(self, where, entry, *, statuses=STATUSES, status_key="status"):
        history = entry.get("status_history")
        if not isinstance(history, list) or not history:
            self.error(where, "needs a status_history")
            return
        dates = [h.get("date") for h in history]
        if not all(isinstance(d, str) and DATE_RE.match(d) for d in dates):
            self.error(where, f"status_history dates must be YYYY[-MM[-DD]]: {dates}")
        elif dates != sorted(dates):
            self.error(where, "status_history must be sorted by date")
        for h in history:
            if h.get("status") not in statuses or not _source_ok(h.get("source")):
                self.error(where, f"history entry {h.get('date')}: status in {statuses} and a source needed")
        if history[-1].get("status") != entry.get(status_key):
            self.error(where, f"last history status {history[-1].get('status')!r} != {status_key} "
                              f"{entry.get(status_key)!r}")
        for f in entry.get("facts") or []:
            if not (isinstance(f.get("field"), str) and "value" in f and DATE_RE.match(str(f.get("as_of", "")))
                    and _source_ok(f.get("source"))):
                self.error(where, f"fact {f.get('field')!r} needs field, value, as_of and source")
        if not DATE_RE.match(str(entry.get("as_of", ""))):
            self.error(where, "needs as_of (YYYY[-MM[-DD]])")

    def _countries(self, where, entry):
        countries = entry.get("countries")
        if not isinstance(countries, list) or not all(isinstance(c, str) and re.match(r"^[A-Z]{3}$", c)
                                                      for c in countries):
            self.error(where, f"countries {countries!r} must be ISO 3166-1 alpha-3 codes")
            return []
        return countries

    # -- routes ----------------------------------------------------------------------------------------
    def check_route(self, where, route):
        kind, mode = route.get("kind"), route.get("mode")
        if ROUTE_KINDS.get(kind) != mode:
            self.error(where, f"kind {kind!r} with mode {mode!r}: expected one of {ROUTE_KINDS}")
        if route.get("status") not in STATUSES:
            self.error(where, f"status {route.get('status')!r} not in {STATUSES}")
        if route.get("geometry_quality") not in ("schematic", "approximate"):
            self.error(where, "geometry_quality must be schematic (or approximate)")
        urls = self._sources(where, route)
        self._dated(where, route)
        declared = self._countries(where, route)
        keys = waypoint_keys(route)
        unknown = [k for k in keys if k not in self.places]
        if len(keys) < 2 or unknown:
            self.error(where, f"needs two or more known waypoints (unknown: {unknown})")
            return 0.0
        lon, lat = route_lonlat(route, self.places)
        allowed = {i for i, wp in enumerate(route["waypoints"]) if isinstance(wp, dict) and wp.get("detour_ok")}
        for i, name, ratio in detour_problems(lon, lat, keys, allowed=allowed):
            self.error(where, f"waypoint {i} {name!r}: detour ratio {ratio:.2f} > {DETOUR_MAX:g}")
        dlon, dlat = densify_lonlat(lon, lat, max_segment_km=1.0)
        inside = self.country_of(dlon, dlat)
        seg_km = np.r_[distance_km(dlon[:-1], dlat[:-1], dlon[1:], dlat[1:]), 0.0]
        if mode == "sea":
            crossed = self._check_sea(where, route, keys, lon, lat)
        else:
            km = Counter()
            for code, d in zip(inside, seg_km):
                km[code] += d
            least = min(MIN_KM_IN_COUNTRY, 0.2 * seg_km.sum())  # short links: a fifth of their length
            crossed = {c for c, d in km.items() if c and d >= least} | {inside[0], inside[-1]}
            crossed = set(crossed) - {""}
        if set(declared) != crossed:
            self.error(where, f"countries {sorted(declared)} but the chain crosses {sorted(crossed)}")
        self._passes_through(where, route, urls, dlon, dlat)
        return float(line_length_km(lon, lat))

    def check_service(self, where, service, region_routes):
        urls = self._sources(where, service)
        self._dated(where, service)
        self._countries(where, service)
        parts = []
        for leg in service.get("legs") or []:
            coords = self._leg_coords(leg.get("layer"), leg.get("id"), region_routes)
            if coords is None:
                self.error(where, f"leg {leg.get('layer')}:{leg.get('id')} exists in no layer")
            else:
                parts.append(coords)
        if not parts:
            self.error(where, "a service needs legs")
            return
        dlon, dlat = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        self._passes_through(where, service, urls, dlon, dlat)

    def _passes_through(self, where, entry, urls, dlon, dlat):
        for pt in entry.get("passes_through") or []:
            key = pt.get("place")
            if key not in self.places:
                self.error(where, f"passes_through: unknown place {key!r}")
                continue
            p = self.places[key]
            if p.role == "routing":
                self.error(where, f"passes_through {key!r}: a routing point is not a documented place")
            if pt.get("source") not in urls:
                self.error(where, f"passes_through {key!r}: source must be one of the route's source URLs")
            off = float(np.min(distance_km(dlon, dlat, p.lon, p.lat)))
            if not isinstance(pt.get("within_km"), (int, float)) or off > pt["within_km"]:
                self.error(where, f"passes_through {key!r}: {off:.1f} km from the line, stated {pt.get('within_km')}")

    # -- points, areas, references ---------------------------------------------------------------------
    def check_point(self, where, point):
        place = self.places.get(point.get("place"))
        if place is None:
            self.error(where, f"unknown place {point.get('place')!r}")
        self._sources(where, point)
        for code in self._countries(where, point):
            if place is None:
                break
            limit = APPROXIMATE_KM if place.position == "approximate" else BORDER_KM
            off = self.km_outside(place.lon, place.lat, code)
            if off > limit:  # a crossing must touch every country it joins
                self.error(where, f"{place.key} is {off:.0f} km from {code} (limit {limit:g} km)")
        if point.get("status") not in STATUSES:
            self.error(where, f"status {point.get('status')!r} not in {STATUSES}")
        if "crossing_status" in point:
            self._dated(where, point, statuses=CROSSING_STATUSES, status_key="crossing_status")
        else:
            self._dated(where, point)

    def check_area(self, where, area):
        self._sources(where, area)
        self._dated(where, area)
        b = area.get("bounds") or {}
        try:
            lon0, lon1, lat0, lat1 = (float(b[k]) for k in ("lon_min", "lon_max", "lat_min", "lat_max"))
        except (KeyError, TypeError, ValueError):
            self.error(where, "bounds need numeric lon_min, lon_max, lat_min, lat_max")
            return
        poly = shapely.box(lon0, lat0, lon1, lat1)
        for code in self._countries(where, area):
            if code in self.countries and not self.countries[code].buffer(0.01).covers(poly):
                self.error(where, f"bounds are not inside {code}")
        area_km2 = abs(GEOD.geometry_area_perimeter(poly)[0]) / 1e6
        reported = area.get("reported_area_km2")
        ratio = f", reported {reported} km2 (ratio {area_km2 / reported:.2f})" if reported else ""
        self._area_lines.append(f"    {area.get('id')}: {area_km2:.1f} km2 as drawn{ratio}")

    def check_reference(self, where, ref):
        path = self.raw_dir.parent / "layers" / f"{ref.get('layer')}.geojson"
        try:
            ids = {f["properties"]["id"] for f in json.loads(path.read_text(encoding="utf-8"))["features"]}
        except (OSError, ValueError, KeyError):
            self.error(where, f"no built layer {ref.get('layer')!r}")
            return
        if ref.get("id") not in ids:
            self.error(where, f"layer {ref.get('layer')!r} has no feature {ref.get('id')!r}")
        if not _source_ok(ref.get("source")):
            self.error(where, "a reference needs a source saying why the layer uses it")
        for f in ref.get("facts") or []:
            if not (DATE_RE.match(str(f.get("as_of", ""))) and _source_ok(f.get("source"))):
                self.error(where, f"fact {f.get('field')!r} needs as_of and source")

    def check_gem_line(self, where, line, rows):
        match = [i for i, r in enumerate(rows, start=2) if r["project"] == line.get("project")
                 and r["unit"] == line.get("unit")]
        if len(match) != 1:
            self.error(where, f"GEM rows matching project/unit: {match}")
        elif line.get("csv_line") != match[0]:
            self.error(where, f"GEM row is CSV line {match[0]}, file says {line.get('csv_line')}")

    # -- files -----------------------------------------------------------------------------------------
    def layer_docs(self):
        """{layer id: parsed file} of every region layer file that parses (the others report elsewhere)."""
        docs = {}
        for layer_id, name in LAYER_FILES.items():
            try:
                docs[layer_id] = read_layer_file(self.raw_dir / name)
            except ImportFailed:
                continue
        return docs

    def region_routes(self):
        """{(layer id, route id): route} over every region layer file that parses."""
        return {(layer_id, r.get("id")): r
                for layer_id, doc in self.layer_docs().items() for r in doc.get("route") or []}

    def check_layer_file(self, layer_id, name):
        path = self.raw_dir / name
        where0 = name
        try:
            doc = read_layer_file(path)
        except ImportFailed as exc:
            self.error(where0, str(exc))
            return
        if doc["layer"]["id"] != layer_id:
            self.error(where0, f"[layer] id {doc['layer']['id']!r} != {layer_id!r}")
        self._sources(f"{where0} [layer]", doc["layer"])
        ids, km = set(), 0.0
        gem_rows = None
        region_routes = self.region_routes() if doc.get("service") else {}
        for table, check in (("route", self.check_route), ("service", None), ("point", self.check_point),
                             ("area", self.check_area), ("reference", self.check_reference), ("gem_line", None)):
            for entry in doc.get(table) or []:
                fid = entry.get("id") or f"{entry.get('layer')}:{entry.get('id')}"
                where = f"{where0}: {table} {fid!r}"
                if table in ("route", "service", "point", "area", "gem_line"):
                    if not re.match(r"^[a-z0-9_]{1,128}$", str(entry.get("id"))) or entry["id"] in ids:
                        self.error(where, "id must be unique snake_case")
                    ids.add(entry.get("id"))
                if table == "service":
                    self.check_service(where, entry, region_routes)
                    continue
                if table == "gem_line":
                    if gem_rows is None:
                        gem_csv = self.raw_dir / "gem_asia_gas_tracker_2024-05.csv"
                        with open(gem_csv, encoding="utf-8", newline="") as fh:
                            gem_rows = list(csv.DictReader(fh))
                    self.check_gem_line(where, entry, gem_rows)
                    continue
                result = check(where, entry)
                km += result if table == "route" else 0.0
        counts = ", ".join(f"{len(doc.get(t) or [])} {t}s" for t in ("route", "service", "point", "area",
                                                                      "reference", "gem_line") if doc.get(t))
        self.summary.append(f"{layer_id:28s} {counts}" + (f"; chains {km:,.0f} km" if km else ""))
        self.summary += self._area_lines
        self._area_lines = []

    def check_unused(self):
        """Every place of the registry is used by some route, point or passes_through list."""
        used = set()
        for doc in self.layer_docs().values():
            for entry in (doc.get("route") or []) + (doc.get("service") or []):
                used |= set(waypoint_keys(entry)) | {pt.get("place") for pt in entry.get("passes_through") or []}
            used |= {pt.get("place") for pt in doc.get("point") or []}
        for key in sorted(set(self.places) - used):
            self.error("region_places.toml", f"place {key!r} is used by no layer file")

    def check_blocs(self, name="blocs.toml"):
        check_blocs(self, self.raw_dir / name)


def _source_ok(source):
    return isinstance(source, dict) and isinstance(source.get("title"), str) and \
        isinstance(source.get("url"), str) and source["url"].startswith(("http://", "https://"))


def check_all(raw_dir=RAW_DIR):
    """Run every check; return the :class:`Checker` (``errors``, ``summary``)."""
    checker = Checker(raw_dir)
    checker.check_places()
    if checker.places:
        for layer_id, name in LAYER_FILES.items():
            checker.check_layer_file(layer_id, name)
        checker.check_unused()
    checker.check_blocs()
    return checker


def main(argv=None):
    checker = check_all()
    print("\n".join(checker.summary))
    for problem in checker.errors:
        print(f"error: {problem}", file=sys.stderr)
    print(f"{len(checker.errors)} problems")
    return 1 if checker.errors else 0


if __name__ == "__main__":
    sys.exit(main())
