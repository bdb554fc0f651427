"""Bloc memberships of the extended region (``data/raw/blocs.toml``): read, query, check.

Each ``[[membership]]`` is one dated status of one country (ISO 3166-1
alpha-3) in one bloc, dated by ``since`` (the status began then) or
``attested`` (a source of that date lists it). :func:`status_on` answers
"which status did the country hold on this date" the way the dated-facts
contract answers "status in year X": the last entry dated on or before it.
"""

import re
import tomllib
from pathlib import Path

import shapely

from layers.importers.geonames_extract import EXTENDED_BBOX
from layers.importers.region import RAW_DIR

__all__ = ["BLOCS", "memberships", "read_blocs", "status_on", "check_blocs"]

BLOCS = RAW_DIR / "blocs.toml"
_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def read_blocs(path=BLOCS):
    """(blocs ``{id: table}``, memberships list) of ``blocs.toml``."""
    doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return {b["id"]: b for b in doc.get("bloc") or []}, list(doc.get("membership") or [])


def _date(entry):
    return entry.get("since") or entry.get("attested")


def memberships(path=BLOCS):
    """``{iso3: {bloc id: [entries in date order]}}``.

    >>> m = memberships()
    >>> m["PAK"]["sco"][-1]["status"], m["PAK"]["sco"][-1]["since"]
    ('member', '2017-06-09')
    """
    out = {}
    for entry in read_blocs(path)[1]:
        out.setdefault(entry["country"], {}).setdefault(entry["bloc"], []).append(entry)
    for blocs in out.values():
        for entries in blocs.values():
            entries.sort(key=_date)  # stable: same-date entries keep file order
    return out


def status_on(entries, date):
    """Status held on ``date`` (YYYY[-MM[-DD]]), or None before the first entry.

    A partial date compares as its start ("2017" is before "2017-06-09"),
    except that a year asks for the status at the end of that year.

    >>> e = [{"status": "observer", "attested": "2017-06-09"}, {"status": "member", "since": "2023-07-04"}]
    >>> status_on(e, "2020"), status_on(e, "2023"), status_on(e, "2016")
    ('observer', 'member', None)
    """
    cutoff = f"{date}-12-31" if len(date) == 4 else date
    held = [e for e in entries if _date(e) <= cutoff]
    return held[-1]["status"] if held else None


def check_blocs(checker, path):
    """Report problems of ``blocs.toml`` into a :class:`~layers.importers.region_check.Checker`."""
    where0 = Path(path).name
    try:
        blocs, entries = read_blocs(path)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        checker.error(where0, f"cannot read: {exc}")
        return
    box = shapely.box(*EXTENDED_BBOX)
    region = {code for code, geom in checker.countries.items() if geom.intersects(box)}
    seen = {}
    for i, e in enumerate(entries):
        where = f"{where0}: membership {i} ({e.get('country')}, {e.get('bloc')})"
        bloc = blocs.get(e.get("bloc"))
        if bloc is None:
            checker.error(where, f"unknown bloc {e.get('bloc')!r}")
            continue
        if e.get("status") not in bloc.get("statuses", []):
            checker.error(where, f"status {e.get('status')!r} not in {bloc.get('statuses')}")
        if e.get("country") not in region:
            checker.error(where, f"{e.get('country')!r} is not a country of the extended region")
        if ("since" in e) == ("attested" in e) or not _DATE_RE.match(str(_date(e))):
            checker.error(where, "give exactly one of since / attested, as YYYY[-MM[-DD]]")
            continue
        source = e.get("source")
        if not (isinstance(source, dict) and str(source.get("url", "")).startswith(("http://", "https://"))
                and isinstance(source.get("title"), str)):
            checker.error(where, "needs source = {title, url}")
        key = (e["country"], e["bloc"])
        if key in seen and _date(e) < seen[key]:
            checker.error(where, f"out of date order ({_date(e)} after {seen[key]})")
        seen[key] = _date(e)
    counts = {b: sum(e.get("bloc") == b for e in entries) for b in blocs}
    checker.summary.append(f"{'blocs':28s} {len(entries)} memberships of {len({e.get('country') for e in entries})} "
                           f"countries ({', '.join(f'{b} {n}' for b, n in counts.items())})")
