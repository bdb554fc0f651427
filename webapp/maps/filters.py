"""Map filters (status, kind, countries, year, layers switched off) from a page's query string; the feature table.

The browser applies the same filters (``MapSvc.matches`` in
``webapp/static/js/mapsvc.js``) to the map, the table, the statistics and
the legend as they change; the server validates them (an unknown status is
a 400 naming it, never silently ignored) and renders the first view with
them applied, so a permalink shows the same table before any script runs.

Status in year X follows the dated-facts contract: the status of the last
``status_history`` entry dated on or before X-12-31; no entry by then means
not yet proposed (not shown); a feature without a history counts with its
current status.
"""

from __future__ import annotations

import datetime
import difflib
import math
from dataclasses import dataclass

from layers.errors import BadParameter
from layers.schema import ISO3_RE, KINDS, STATUSES
from webapp.maps.display import country_names, feature_properties, history_of, stats_payload

__all__ = ["FILTER_ARGS", "MIN_YEAR", "Filters", "country_choices", "feature_rows", "parse_filters", "status_in",
           "summary", "year_range"]

FILTER_ARGS = ("status", "kind", "countries", "year", "off")
MIN_YEAR = 1950


@dataclass(frozen=True)
class Filters:
    """What a map shows: accepted statuses, kinds and countries (empty: all), the year (None: today), layers off."""

    status: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    year: int | None = None
    off: tuple[str, ...] = ()

    def query(self):
        """The non-empty filters as query-string arguments."""
        args = {k: ",".join(getattr(self, k)) for k in ("status", "kind", "countries", "off") if getattr(self, k)}
        if self.year is not None:
            args["year"] = str(self.year)
        return args

    def to_json(self):
        """The filters as ``MapSvc.filter`` takes them."""
        return {"status": list(self.status), "kind": list(self.kind), "countries": list(self.countries),
                "year": self.year, "off": list(self.off)}


def _values(args, name, allowed, *, check=None):
    text = args.get(name)
    if text is None:
        return ()
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    for value in values:
        if (check and not check(value)) or (not check and value not in allowed):
            raise BadParameter(name, f"{value!r} is not one of {', '.join(allowed)}",
                               difflib.get_close_matches(value, list(allowed), n=3))
    return values


def parse_filters(args, layer_ids):
    """:class:`Filters` from request ``args``; raises BadParameter naming the parameter and the bad value."""
    this_year = datetime.date.today().year
    year = None
    if args.get("year"):
        try:
            year = int(args["year"])
        except ValueError:
            raise BadParameter("year", f"{args['year']!r} is not a year") from None
        if not MIN_YEAR <= year <= this_year:
            raise BadParameter("year", f"{year} is outside {MIN_YEAR}..{this_year}")
    return Filters(
        status=_values(args, "status", STATUSES), kind=_values(args, "kind", KINDS),
        countries=tuple(v.upper() for v in _values(args, "countries", ("ISO 3166-1 alpha-3 codes",),
                                                   check=lambda v: bool(ISO3_RE.match(v.upper())))),
        year=year, off=_values(args, "off", layer_ids))


def status_in(status, history, year):
    """The status in ``year`` (None: today's ``status``); None when the feature was not yet proposed then."""
    if year is None or not history:
        return status
    end = f"{year}-12-31"
    found = None
    for date, value in history:
        if date <= end:
            found = value
    return found


def _matches(row, f):
    status = status_in(row["status"] or None, row["history"], f.year)
    if f.year is not None and status is None:
        return False
    if f.status and status not in f.status:
        return False
    if f.kind and row["kind"] not in f.kind:
        return False
    return not f.countries or bool(set(row["countries"]) & set(f.countries))


def year_range(catalog, layer_ids):
    """(first year of any status history among the layers, this year), or None when no feature has a history."""
    years = [int(date[:4]) for lid in layer_ids for props in feature_properties(catalog, lid)
             for date, _ in history_of(props) if date[:4].isdigit()]
    return (max(MIN_YEAR, min(years)), datetime.date.today().year) if years else None


def _km(value):
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else round(value, 1)


def feature_rows(catalog, layer_ids, filters):
    """One dict per feature of ``layer_ids`` for the feature table, with ``shown`` per ``filters``."""
    rows = []
    for lid in layer_ids:
        layer = catalog.layer(lid)
        stats = stats_payload(catalog, lid)["features"]
        for props, st in zip(feature_properties(catalog, lid), stats):
            countries = [c for c in (props.get("countries") or []) if isinstance(c, str)]
            row = {"layer": lid, "layer_title": layer.title, "id": props["id"], "name": props["name"],
                   "kind": props.get("kind") or "", "status": props.get("status") or "", "countries": countries,
                   "history": history_of(props), "km": _km(st.get("geodesic_length_km")),
                   "reported_km": _km(st.get("reported_length_km")),
                   "ratio": st.get("length_ratio"), "schematic": props.get("geometry_quality") == "schematic",
                   "approximate": props.get("geometry_quality") == "approximate",
                   "status_as_of": st.get("status_as_of") or "", "status_source_url": st.get("status_source_url")}
            row["shown"] = lid not in filters.off and _matches(row, filters)
            row["status_now"] = status_in(row["status"] or None, row["history"], filters.year) or ""
            rows.append(row)
    return rows


def summary(rows):
    """Figures of the shown rows: ``{"features", "total", "km", "by_status": [(status, features, km)]}``."""
    shown = [r for r in rows if r["shown"]]
    by_status = {}
    for r in shown:
        entry = by_status.setdefault(r["status_now"] or "none", [0, 0.0])
        entry[0] += 1
        entry[1] += r["km"] or 0.0
    return {"features": len(shown), "total": len(rows), "km": round(sum(r["km"] or 0.0 for r in shown), 1),
            "by_status": [(s, n, round(km, 1)) for s, (n, km) in sorted(by_status.items())]}


def country_choices(catalog, rows):
    """(ISO3, name) of the countries the rows touch, by name."""
    names = country_names(catalog)
    codes = {c for r in rows for c in r["countries"]}
    return sorted(((c, names.get(c, c)) for c in codes), key=lambda item: item[1])
