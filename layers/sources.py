"""Where a cited source comes from: the datasets to credit, and the hosts that are not canonical.

Two readable tables, used by the build (a layer's attribution is derived
from the sources its features cite) and by ``python -m layers.audit``
(mirrors, forums and attribution gaps are findings):

- :data:`DATASETS`: a URL pattern -> the dataset's attribution line and
  licence. A feature citing such a URL uses that dataset, so its layer
  must credit it.
- :data:`NON_CANONICAL`: a URL pattern -> why it is not a source to cite
  (a copy of Wikipedia, a forum, a blog, a document-upload site…). Cite the
  canonical page instead: the operator, the government, the lender, the
  newspaper, or Wikipedia itself.
"""

import re

__all__ = ["DATASETS", "NON_CANONICAL", "CITED_FACTS", "dataset_of", "non_canonical_reason", "derive_attribution",
           "derive_licence", "derive_layer_licence", "cited", "source_urls", "CITED_LICENCE"]

# (name, URL regex, title regex or None, attribution line, licence as a feature names it, short licence for a
# layer). The first rule matching a source's URL (and title) wins, so the specific GEM trackers come first.
_GEM = r"^https?://(www\.)?gem\.wiki/"
DATASETS = (
    ("gem_gas", _GEM, r"Asia Gas Tracker", "Global Energy Monitor, Asia Gas Tracker, May 2024 (CC BY 4.0)",
     "CC BY 4.0 (Global Energy Monitor)", "CC BY 4.0"),
    ("gem_coal", _GEM, r"Coal Plant Tracker", "Global Energy Monitor, Global Coal Plant Tracker (gem.wiki, CC BY 4.0)",
     "CC BY 4.0 (Global Energy Monitor)", "CC BY 4.0"),
    ("gem_steel", _GEM, r"Steel Plant Tracker", "Global Energy Monitor, Global Steel Plant Tracker (gem.wiki, "
     "CC BY 4.0)", "CC BY 4.0 (Global Energy Monitor)", "CC BY 4.0"),
    ("gem", _GEM, None, "Global Energy Monitor wiki (gem.wiki, CC BY 4.0)", "CC BY 4.0 (Global Energy Monitor)",
     "CC BY 4.0"),
    ("geonames", r"^https?://(www\.)?geonames\.org/", None, "GeoNames (geonames.org), CC BY 4.0",
     "CC BY 4.0 (GeoNames gazetteer coordinates)", "CC BY 4.0"),
    ("naturalearth", r"^https?://(www\.)?naturalearthdata\.com/", None, "Natural Earth (public domain)",
     "Public domain (Natural Earth)", "Public domain"),
    ("wikipedia", r"^https?://[a-z\-]+\.(m\.)?wikipedia\.org/", None, "Wikipedia (facts and coordinates as cited), "
     "CC BY-SA 4.0", "CC BY-SA 4.0 (Wikipedia text; facts and coordinates as cited)", "CC BY-SA 4.0"),
)
# Facts (dates, figures, positions) taken from other cited pages are not themselves licensed works.
CITED_LICENCE = "other facts as cited per source"
CITED_FACTS = "facts from the sources cited per feature"

# (URL regex, why it is not canonical). Matched case-insensitively against the whole URL.
NON_CANONICAL = (
    (r"wikipedia-on-ipfs\.org", "an IPFS mirror of Wikipedia"),
    (r"://[^/]*kiwix[^/]*/|wikipedia_[a-z]{2}_all", "a Kiwix copy of Wikipedia"),
    (r"://[^/]*\.wiki\.x\.io/|://wiki\.x\.io/", "a Wikipedia proxy"),
    (r"://(www\.)?(en\.)?wikipedia\.com/", "wikipedia.com, not the canonical wikipedia.org"),
    (r"wikiclassic\.com|wikimili\.com|piglix\.com|pinocchiopedia\.com|friendlywiki\.com|wikisort\.org"
     r"|wiki\.riteme\.site|wiki\.studentb\.eu|clateway\.com|the-uncensored-wiki\.com|theinfolist\.com"
     r"|fact-index\.com|duhoctrungquoc\.vn|wiki-gateway\.eudic\.net|academic\.ru|en-academic\.com"
     r"|movatter\.jp|hessslslslsls|cloudfront\.net/en/|wikizero|xcv\.wiki|osmarks\.net|wiki\.inamatrix",
     "a copy of Wikipedia"),
    (r"://[^/]*defence\.pk/|/threads/|/forums?/|reddit\.com/", "a discussion forum"),
    (r"wordpress\.com/|blogspot\.com/|medium\.com/", "a personal blog"),
    (r"scribd\.com/", "a document-upload site (the document's publisher is the source)"),
    (r"wikimapia\.org/", "a user-edited map, not a cited position"),
    (r"aroundus\.com/|trackstick\.com/|motogpsroutes\.com/|ueuo\.com/|pakipolitics\.com/",
     "a travel or aggregator site that copies its facts"),
)
_DATASETS = [(name, re.compile(url, re.I), re.compile(title, re.I) if title else None, line, licence, short)
             for name, url, title, line, licence, short in DATASETS]
_NON_CANONICAL = [(re.compile(pattern, re.I), why) for pattern, why in NON_CANONICAL]


def dataset_of(url, title=""):
    """``(name, attribution line, licence)`` of the dataset a cited source belongs to, or None."""
    for name, url_re, title_re, line, licence, _ in _DATASETS:
        if isinstance(url, str) and url_re.search(url) and (title_re is None or title_re.search(title or "")):
            return name, line, licence
    return None


def non_canonical_reason(url):
    """Why ``url`` is not a canonical source (text), or None when no rule matches."""
    for pattern, why in _NON_CANONICAL:
        if isinstance(url, str) and pattern.search(url):
            return why
    return None


def derive_licence(props):
    """A feature's licence line from the datasets its sources belong to (table order), plus cited facts."""
    used, other = [], False
    for url, title in cited(props):
        found = dataset_of(url, title)
        if found is None:
            other = True
        elif found[2] not in used:
            used.append(found[2])
    order = list(dict.fromkeys(licence for _, _, _, _, licence, _ in _DATASETS))
    return "; ".join(sorted(used, key=order.index) + ([CITED_LICENCE] if other else []))


def _datasets_used(features):
    used, other = set(), False
    for props in (f["properties"] for f in features):
        for url, title in cited(props):
            found = dataset_of(url, title)
            if found:
                used.add(found[0])
            else:
                other = True
    return used, other


def derive_attribution(features):
    """A layer's attribution line from the sources its features cite.

    Every dataset of :data:`DATASETS` a feature's ``sources`` (or dated
    facts) point at is credited, in table order; sources outside the table
    add :data:`CITED_FACTS`.
    """
    used, other = _datasets_used(features)
    lines = [line for name, _, _, line, _, _ in _DATASETS if name in used]
    return "; ".join(lines + ([CITED_FACTS] if other else []))


def derive_layer_licence(features):
    """A layer's licence line: the distinct licences of the datasets its features use (table order)."""
    used, other = _datasets_used(features)
    shorts = list(dict.fromkeys(short for name, _, _, _, _, short in _DATASETS if name in used))
    return " / ".join(shorts + (["facts as cited"] if other and not shorts else []))


def cited(props):
    """``(url, title)`` of every source a feature cites: ``sources``, status history, facts, reference point."""
    found = [s for s in props.get("sources") or [] if isinstance(s, dict)]
    for entry in (props.get("status_history") or []) + (props.get("facts") or []):
        if isinstance(entry, dict) and isinstance(entry.get("source"), dict):
            found.append(entry["source"])
    ref = props.get("reference_point")
    if isinstance(ref, dict) and isinstance(ref.get("source"), dict):
        found.append(ref["source"])
    return [(s.get("url"), str(s.get("title") or "")) for s in found if isinstance(s.get("url"), str)]


def source_urls(props):
    """Every URL a feature cites (see :func:`cited`)."""
    return [url for url, _ in cited(props)]
