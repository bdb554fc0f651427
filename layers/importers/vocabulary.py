"""The words of user data: which columns hold ids, names, kinds, statuses, countries, lengths, sources and
licences, and how free-text kinds and statuses map to the schema's (``'Under construction'`` ->
``construction``). One readable table per role, first match wins; extend it here."""

from __future__ import annotations

import math
import re

from layers.importers.common import ISO3_BY_ISO2, ISO3_BY_NAME
from layers.schema import ISO3_RE, KINDS, STATUSES

__all__ = ["COUNTRY_KEYS", "DEFAULT_LICENCE", "ID_KEYS", "KIND_KEYS", "LENGTH_KEYS", "LICENCE_KEYS", "NAME_KEYS",
           "SOURCE_KEYS", "STATUS_KEYS", "URL_KEYS", "countries_of", "layer_title", "match_kind", "match_status",
           "number"]

ID_KEYS = ("id", "fid", "ID", "Id", "uid", "feature_id", "code")
NAME_KEYS = ("name", "Name", "NAME", "title", "Title", "label", "project", "Project", "name_en", "NAME_EN")
KIND_KEYS = ("kind", "type", "Type", "category", "class", "fclass", "infrastructure", "feature_type", "highway",
             "railway", "power")
STATUS_KEYS = ("status", "Status", "STATUS", "state", "phase", "stage", "condition", "status_tabular")
COUNTRY_KEYS = ("countries", "country", "Country", "COUNTRY", "iso3", "ISO3", "iso_a3", "ISO_A3", "adm0_a3",
                "country_code", "iso2", "iso_a2")
LENGTH_KEYS = ("reported_length_km", "length_km", "Length_km", "LENGTH_KM", "km")
URL_KEYS = ("url", "source_url", "link", "website", "href", "wiki")
SOURCE_KEYS = ("source", "source_title", "reference", "citation")
LICENCE_KEYS = ("licence", "license", "License", "Licence")
DEFAULT_LICENCE = "not stated by the uploader"

# (pattern, kind), first match wins: LNG before port, converter before power plant, pre-construction before construction
_KIND_PATTERNS = [(re.compile(p, re.I), k) for p, k in (
    (r"\blng\b", "lng_terminal"), (r"gas.?pipe|pipe.?line.*gas|\bgas\b.*pipe|gas_pipeline|gasline", "gas_pipeline"),
    (r"converter", "converter_station"), (r"sub.?station|grid.?station", "substation"),
    (r"power.?line|transmission|hvdc|\bkv\b|electric.*line|minor_line|^cable$", "power_line"),
    (r"power.?(plant|station)|generat|hydro|solar|wind.?farm|thermal|nuclear|^plant$", "power_plant"),
    (r"rail|train|metro|tram", "rail"),
    (r"\broad|highway|motorway|trunk|primary|secondary|tertiary|street|expressway|freeway", "road"),
    (r"\bport\b|harbou?r|seaport", "port"), (r"steel", "steel_mill"), (r"coal.?(mine|field|block)|\bmine\b",
                                                                         "coal_mine"),
    (r"school|universit|college|institute", "education"),
)]
_STATUS_PATTERNS = [(re.compile(p, re.I), s) for p, s in (
    (r"pre.?construction|propos|plann|announc|feasib|design|study|discuss|future|approv|permit|concept", "proposed"),
    (r"construct|building|under.?way|in.?progress|ongoing", "construction"),
    (r"shelv|on.?hold|suspend|stall|paus|halt|delay", "shelved"),
    (r"cancel|abandon|scrap|terminat", "cancelled"), (r"mothball", "mothballed"),
    (r"retir|decommission|disused|closed|demolish", "retired"),
    (r"operat|existing|in.?service|active|complete|commission|open|built|functional|running", "operating"),
)]
_COUNTRY_BY_LOWER = {name.lower(): code for name, code in ISO3_BY_NAME.items()}


def match_kind(text):
    """A schema kind for free text ('Gas pipeline', 'motorway', 'LNG terminal'), or None."""
    text = str(text or "").strip()
    if text in KINDS:
        return text
    return next((kind for pattern, kind in _KIND_PATTERNS if pattern.search(text)), None)


def match_status(text):
    """A schema status for free text ('Under construction', 'Operational', 'planned'), or None."""
    text = str(text or "").strip()
    if text.lower() in STATUSES:
        return text.lower()
    return next((status for pattern, status in _STATUS_PATTERNS if pattern.search(text)), None)


def layer_title(stem):
    """A readable title from a file name: 'pk_gas-pipelines_2024' -> 'Pk gas pipelines 2024'."""
    words = re.sub(r"[_\-.]+", " ", str(stem)).strip()
    return (words[:1].upper() + words[1:]) if words else "Imported layer"


def countries_of(value):
    """ISO3 codes from text naming countries ('Pakistan; IN; AFG') or a list of them; unknown names dropped."""
    codes = []
    for part in re.split(r"[,;/|]", value) if isinstance(value, str) else (value if isinstance(value, list) else []):
        part = str(part).strip()
        code = (part.upper() if ISO3_RE.match(part.upper()) and len(part) == 3 else
                _COUNTRY_BY_LOWER.get(part.lower()) or ISO3_BY_ISO2.get(part.upper()))
        if code and code not in codes:
            codes.append(code)
    return codes


def number(value):
    """``value`` as a finite float, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
