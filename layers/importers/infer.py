"""Turn a raw layer from any file into a layer of the project's schema, saying what was inferred.

Nothing is invented silently: the CRS is reprojected to WGS84 with a note
(or, when the file names none and its numbers are not lon/lat, reported as
an unknown CRS); ids, names, kinds, statuses, countries, sources and
licence come from recognisable columns, and where a value is mapped
(``"Under construction"`` -> ``construction``) the original is kept as
``source_<name>``; a status nobody stated is ``unknown`` and a kind nobody
recognises ``other``. Every remaining problem names the feature (its row,
position or id) and what is wrong; invalid geometry can be repaired with
``shapely.make_valid`` on request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np
import pyproj
import shapely

from layers.importers.common import slug
from layers.importers.vocabulary import (
    COUNTRY_KEYS,
    DEFAULT_LICENCE,
    ID_KEYS,
    KIND_KEYS,
    LENGTH_KEYS,
    LICENCE_KEYS,
    NAME_KEYS,
    SOURCE_KEYS,
    STATUS_KEYS,
    URL_KEYS,
    countries_of,
    layer_title,
    match_kind,
    match_status,
    number,
)
from layers.schema import (
    FEATURE_ID_RE,
    GEOMETRY_QUALITIES,
    ISO3_RE,
    KINDS,
    LAYER_ID_RE,
    STATUSES,
    Problem,
    feature_problems,
    finite_only,
)

__all__ = ["Candidate", "ImportOptions", "infer_candidate", "layer_title", "match_kind", "match_status"]

@dataclass(frozen=True)
class ImportOptions:
    """What the user chose in the preview: which layer, the layer's id and metadata, repair or skip."""

    layer: str | None = None
    layer_id: str | None = None
    title: str | None = None
    description: str | None = None
    attribution: str | None = None
    licence: str | None = None
    source_url: str | None = None
    geometry_quality: str = "traced"  # for lines and polygons; points are always 'point'
    repair: bool = False  # shapely.make_valid on invalid geometry
    skip_invalid: bool = False  # drop the features that still have problems


@dataclass
class Candidate:
    """One layer of an uploaded file, mapped to the schema, with its notes and remaining problems."""

    name: str
    fmt: str
    meta: dict
    properties: list
    geometries: np.ndarray
    labels: list
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    needs_countries: list = field(default_factory=list)  # positions whose countries come from the boundaries

    @property
    def layer_id(self):
        return self.meta["id"]

    @property
    def vertex_count(self):
        return int(shapely.get_num_coordinates(self.geometries).sum()) if len(self.geometries) else 0

    def summary(self, *, max_problems=200, sample=5):
        """The JSON-ready preview: counts, types, bbox, inferred metadata, notes, problems, a few features."""
        geoms = self.geometries
        types = {}
        for t in shapely.get_type_id(geoms[~shapely.is_missing(geoms)]) if len(geoms) else []:
            name = _TYPE_NAMES.get(int(t), str(t))
            types[name] = types.get(name, 0) + 1
        finite = geoms[~shapely.is_missing(geoms)] if len(geoms) else geoms
        bounds = shapely.total_bounds(finite) if len(finite) else None
        bbox = [round(float(v), 6) for v in bounds] if bounds is not None and np.isfinite(bounds).all() else None
        return {
            "name": self.name, "format": self.fmt, "layer_id": self.layer_id, "meta": self.meta,
            "feature_count": len(self.properties), "vertex_count": self.vertex_count, "geometry_types": types,
            "bbox": bbox, "notes": self.notes,
            "problems": [{"feature": p.feature, "problem": p.problem, "repairable": p.repairable}
                         for p in self.problems[:max_problems]],
            "problem_count": len(self.problems), "repairable_count": sum(p.repairable for p in self.problems),
            "sample": self.properties[:sample],
        }


_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
               6: "MultiPolygon", 7: "GeometryCollection"}


def _to_wgs84(raw):
    """(geometries in EPSG:4326, notes, problems) of a raw layer."""
    geoms = raw.geometries
    present = geoms[~shapely.is_missing(geoms)] if len(geoms) else geoms
    xy = shapely.get_coordinates(present) if len(present) else np.empty((0, 2))
    finite = xy[np.isfinite(xy).all(axis=1)]
    outside = (np.abs(finite[:, 0]) > 180) | (np.abs(finite[:, 1]) > 90) if len(finite) else np.zeros(0, bool)
    # most coordinates out of range means another CRS; a few are bad features, each reported by validation
    lonlat_like = raw.fmt == "geojson" or not len(finite) or outside.mean() <= 0.5
    if raw.crs is None:
        if lonlat_like:  # GeoJSON is WGS84 lon/lat by definition (RFC 7946): only other formats get a note
            return geoms, [] if raw.fmt == "geojson" else [
                "the file names no CRS: coordinates read as WGS84 longitude/latitude"], []
        big = float(np.abs(finite).max())
        return geoms, [], [Problem(None, f"unknown CRS: the file names no coordinate system and its coordinates "
                                         f"(up to {big:,.0f}) are not longitude/latitude; add a .prj or a crs "
                                         "to the file, or reproject it to WGS84")]
    try:
        crs = pyproj.CRS.from_user_input(raw.crs)
    except pyproj.exceptions.CRSError:
        return geoms, [], [Problem(None, f"unknown CRS {str(raw.crs)[:80]!r}: cannot reproject it to WGS84")]
    if crs.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True) or crs.to_epsg() == 4326:
        return geoms, [], []
    transformer = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)

    def to_lonlat(coords):
        lon, lat = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    label = f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.to_string()[:60]
    return shapely.transform(geoms, to_lonlat), [f"reprojected from {label} ({crs.name}) to WGS84 (EPSG:4326)"], []


def _repair(geom):
    """``make_valid`` keeping the geometry's own dimension (a bow-tie polygon stays polygons)."""
    fixed = shapely.make_valid(geom)
    dim = shapely.get_dimensions(geom)
    parts = [p for p in shapely.get_parts(fixed) if shapely.get_dimensions(p) == dim and not p.is_empty]
    if not parts:
        return fixed
    if len(parts) == 1:
        return parts[0]
    return shapely.union_all(parts) if dim == 2 else shapely.multilinestrings(parts) if dim == 1 else \
        shapely.multipoints(parts)


class _Mapper:
    """Maps one layer's property dicts to the schema, keeping originals it had to change.

    Which column plays which role (name, kind, status ...) is decided once per
    layer from the keys its features use; free-text values are matched once
    per distinct value. Both keep a 200,000-row CSV to seconds.
    """

    _ROLES = {"id": ID_KEYS, "name": NAME_KEYS, "kind": KIND_KEYS, "status": STATUS_KEYS, "countries": COUNTRY_KEYS,
              "length": LENGTH_KEYS, "url": URL_KEYS, "source": SOURCE_KEYS, "licence": LICENCE_KEYS}

    def __init__(self, raw, meta, options):
        self.meta, self.options = meta, options
        self.layer_kind = match_kind(meta["title"]) or match_kind(raw.name)
        self.used_ids = {}
        self.generated = set()  # positions whose id the file did not give
        self.default_source = {"title": meta.get("source_title") or meta["title"], "url": options.source_url or ""}
        present = set()
        for props in raw.properties:
            present.update(props)
        self.key = {role: next((k for k in keys if k in present), None) for role, keys in self._ROLES.items()}
        self._cache = {}

    def _value(self, props, role):
        key = self.key[role]
        value = props.get(key) if key is not None else None
        return key, (None if value is None or (isinstance(value, str) and not value.strip()) else value)

    def _matched(self, how, value):
        try:
            return self._cache[(how, value)]
        except KeyError:
            result = self._cache[(how, value)] = how(value)
            return result
        except TypeError:  # an unhashable value (a list): not cached
            return how(value)

    def _unique_id(self, value, position):
        text = re.sub(r"[^A-Za-z0-9_.\-]+", "_", str(value)).strip("_")[:120] if value is not None else ""
        if not text or not FEATURE_ID_RE.match(text):
            text = f"{self.meta['id']}_{position + 1}"
            self.generated.add(position)
        count = self.used_ids.get(text, 0) + 1
        self.used_ids[text] = count
        return text if count == 1 else f"{text}_{count}"

    def feature(self, props, is_point, position):
        out = dict(props)
        _, value = self._value(props, "id")
        out["id"] = self._unique_id(value, position)
        if value is not None and str(value) != out["id"]:
            out["source_id"] = value
        _, value = self._value(props, "name")
        out["name"] = str(value).strip() if value is not None else f"{self.meta['title']} {position + 1}"
        kind = props.get("kind") if props.get("kind") in KINDS else None
        if kind is None:
            key, value = self._value(props, "kind")
            kind = (self._matched(match_kind, value) if value is not None else None) or self.layer_kind or "other"
            if key == "kind" and value is not None:  # the schema's own name held another value: keep it too
                out["source_kind"] = value
        out["kind"] = kind
        status = props.get("status") if props.get("status") in STATUSES else None
        if status is None:
            key, value = self._value(props, "status")
            status = (self._matched(match_status, value) if value is not None else None) or "unknown"
            if key == "status" and value is not None:
                out["source_status"] = value
        out["status"] = status
        countries = props.get("countries")
        if not (isinstance(countries, list) and all(isinstance(c, str) and ISO3_RE.match(c) for c in countries)):
            key, value = self._value(props, "countries")
            countries = list(self._matched(countries_of, value)) if value is not None else []
            if value is not None and key == "countries":
                out["source_countries"] = value
        out["countries"] = countries
        length = props.get("reported_length_km")
        if length is not None and (number(length) is None or number(length) <= 0):
            out["source_reported_length_km"], length = length, None
        if length is None:
            _, value = self._value(props, "length")
            length = number(value) if value is not None and (number(value) or 0) > 0 else None
        out["reported_length_km"] = float(length) if length is not None else None
        quality = props.get("geometry_quality")
        if quality not in GEOMETRY_QUALITIES or (quality == "point") != is_point:
            quality = "point" if is_point else self.options.geometry_quality
        out["geometry_quality"] = quality
        sources = props.get("sources")
        if not (isinstance(sources, list) and sources and all(
                isinstance(s, dict) and isinstance(s.get("title"), str) and isinstance(s.get("url"), str)
                for s in sources)):
            _, url = self._value(props, "url")
            _, title = self._value(props, "source")
            sources = [{"title": str(title or url), "url": str(url or "")}] if (url or title) else [
                dict(self.default_source)]
        out["sources"] = sources
        licence = props.get("licence")
        if not (isinstance(licence, str) and licence.strip()):
            _, licence = self._value(props, "licence")
        out["licence"] = str(licence).strip() if licence else self.meta["licence"]
        if "capacity" in out and number(out["capacity"]) is None and out["capacity"] is not None:
            out["source_capacity"] = out.pop("capacity")
        return out, not countries


def _metadata(raw, filename, options):
    base = raw.meta or {}
    title = options.title or base.get("title") or layer_title(raw.name)
    # the id comes from the file (or its own metadata), never from an edited title: the preview's id stays
    layer_id = options.layer_id or (base.get("id") if LAYER_ID_RE.match(str(base.get("id", ""))) else None) or \
        (slug(layer_title(raw.name))[:64].strip("_") or "layer")
    return {
        "id": layer_id, "title": str(title).strip()[:200],
        "description": options.description or base.get("description") or f"Imported from {filename}"
        + ("" if raw.name == PurePath(filename).stem else f" (layer {raw.name})") + ".",
        "attribution": options.attribution or base.get("attribution") or f"{filename} (user upload)",
        "licence": options.licence or base.get("licence") or DEFAULT_LICENCE,
        "style": base.get("style") if isinstance(base.get("style"), dict) else {"color": None},
        "source_file": filename,
    }


def _feature_name(label, fid, generated):
    """How a problem names a feature: its place in the file, and its id when the file gave one."""
    return label if generated or "(id" in label else f"{label} (id {fid!r})"


def infer_candidate(raw, filename, options=None):
    """A :class:`Candidate` for one raw layer: mapped properties, WGS84 geometry, notes and problems.

    ``options.repair`` makes invalid geometry valid (``make_valid``),
    ``options.skip_invalid`` drops the features that still have problems
    (each listed in the notes); the remaining problems block saving.
    """
    options = options or ImportOptions()
    meta = _metadata(raw, filename, options)
    geoms, notes, problems = _to_wgs84(raw)
    notes = list(raw.notes) + notes
    if problems:  # no usable coordinates: every feature would repeat the CRS problem
        return Candidate(name=raw.name, fmt=raw.fmt, meta=meta, properties=[dict(p) for p in raw.properties],
                         geometries=raw.geometries, labels=list(raw.labels), problems=problems, notes=notes)
    geoms = np.asarray(shapely.force_2d(geoms), dtype=object)
    bad_at = {}
    for p in raw.problems:
        if p.feature is not None and p.feature in raw.labels:
            bad_at.setdefault(raw.labels.index(p.feature), p)
        else:
            problems.append(p)
    mapper, counter = _Mapper(raw, meta, options), [0]
    props, needs = [], []
    points = (shapely.get_type_id(geoms) == 0).tolist() if len(geoms) else []
    for i, (p, is_point) in enumerate(zip(raw.properties, points)):
        mapped, no_countries = mapper.feature(finite_only(p, counter), is_point, i)
        props.append(mapped)
        if no_countries:
            needs.append(i)
    if counter[0]:
        notes.append(f"{counter[0]} property values were NaN or Infinity and are stored as null")
    collections = np.flatnonzero(shapely.get_type_id(geoms) == 7) if len(geoms) else []
    for i in collections:
        bad_at.setdefault(int(i), Problem(raw.labels[i], "a GeometryCollection; split it into points, lines and "
                                                         "polygons"))
    if options.repair and len(geoms):
        invalid = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_valid(geoms))
        for i in invalid:
            geoms[i] = _repair(geoms[i])
        if len(invalid):
            notes.append(f"repaired {len(invalid)} invalid geometries with make_valid")
    index = {p["id"]: i for i, p in enumerate(props)}
    for p in feature_problems(props, geoms, region=None):
        i = index.get(p.feature)
        if i is not None and i not in bad_at:
            bad_at[i] = p._replace(feature=_feature_name(raw.labels[i], props[i]["id"], i in mapper.generated))
    if options.skip_invalid:
        rows = [p for p in problems if p.feature is not None]  # rows that never became features (GEM, CSV)
        problems = [p for p in problems if p.feature is None]
        if rows:
            notes.append(f"skipped {len(rows)} rows: " + "; ".join(f"{p.feature}: {p.problem}" for p in rows[:5])
                         + (" …" if len(rows) > 5 else ""))
    if options.skip_invalid and bad_at:
        keep = [i for i in range(len(props)) if i not in bad_at]
        notes.append(f"skipped {len(bad_at)} features with problems: "
                     + "; ".join(f"{p.feature}: {p.problem}" for p in list(bad_at.values())[:5])
                     + (" …" if len(bad_at) > 5 else ""))
        kept = set(keep)
        needs = [keep.index(i) for i in needs if i in kept]
        props, geoms = [props[i] for i in keep], geoms[keep] if len(keep) else np.array([], dtype=object)
        labels = [raw.labels[i] for i in keep]
        bad_at = {}
    else:
        labels = list(raw.labels)
    problems += [bad_at[i] for i in sorted(bad_at)]
    if not props and not problems:
        problems.append(Problem(None, "no features to import"))
    return Candidate(name=raw.name, fmt=raw.fmt, meta=meta, properties=props, geometries=geoms, labels=labels,
                     problems=problems, notes=notes, needs_countries=needs)
