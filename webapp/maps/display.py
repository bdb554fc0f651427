"""Display data derived from catalogue layers, each computed once and memoised in the catalogue.

JSON-ready feature properties, the statistics payload (from
:func:`geo.stats.layer_stats`, the one source of figures for popups, pages
and the API), escaped popup HTML, the display GeoJSON of each layer (slim
properties, a shared style table, full geometry or one zoom band of
:func:`geo.simplify.cached_display`) and the vector basemap (simplified as
one coverage). Display geometry is rounded or simplified; measurement never
reads it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import numpy as np
import shapely
from markupsafe import Markup

from geo.pixels import tolerance_degrees
from geo.simplify import FULL_BAND, band_zoom, cached_display
from geo.stats import layer_summary, records
from layers.schema import PROPERTIES, REGION_BBOX, latest_status
from layers.styles import HALO_QUALITIES, QUALITY_STYLE, layer_colour, line_style
from webapp.analytics import layer_stats
from webapp.jsonout import dumps
from webapp.workload import heavy

__all__ = [
    "BASEMAP_LAYER",
    "SLIM_PROPERTIES",
    "basemap_band",
    "basemap_geojson",
    "country_names",
    "feature_properties",
    "history_of",
    "layer_display_js",
    "layer_styles",
    "popup_fragments",
    "popup_html",
    "stats_payload",
    "status_line",
]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
_POPUP_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                                trim_blocks=True, lstrip_blocks=True)

BASEMAP_LAYER = "boundaries"
DISPLAY_DECIMALS = 5  # ~1 m: plenty on screen, and halves the embedded JSON
# What a map needs per feature: tooltip (name), focus (id), pin icon (kind); the rest is in the popup.
SLIM_PROPERTIES = ("id", "name", "kind", "status")


def _clean(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def feature_properties(catalog, layer_id):
    """Each feature's properties as JSON-ready dicts (NaN -> None), in layer order."""

    def compute():
        gdf = catalog.layer(layer_id).gdf
        table = gdf.drop(columns=gdf.geometry.name).to_dict(orient="records")
        return [{k: _clean(v) for k, v in row.items()} for row in table]

    return catalog.memo(("webapp.properties", layer_id), compute)


def stats_payload(catalog, layer_id):
    """``{"features": [per-feature stats], "summary": {...}}`` from the memoised layer statistics."""

    def compute():
        with heavy(f"the statistics of layer {layer_id!r}"):
            stats = layer_stats(catalog, layer_id)
        return {"features": records(stats), "summary": layer_summary(stats)}

    return catalog.memo(("webapp.stats-payload", layer_id), compute)


def country_names(catalog):
    """ISO3 -> country name, from the boundaries layer."""

    def compute():
        if BASEMAP_LAYER not in catalog:
            return {}
        gdf = catalog.layer(BASEMAP_LAYER).gdf
        return dict(zip(gdf["id"], gdf["name"]))

    return catalog.memo(("webapp.country-names",), compute, layers=(BASEMAP_LAYER,))


def _text(value):
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.3f}".rstrip("0")
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _km(value):
    return "\u2014" if value is None else f"{value:,.1f} km"


def _is_web_url(url):
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.netloc)


def _source_link(source):
    url = str(source.get("url") or "").strip()
    return {"title": str(source.get("title") or url or "source"), "url": url, "link": _is_web_url(url)}


def status_line(props):
    """``{status, date, source: {title, url, link}}`` of a feature's newest dated status, or None (undated)."""
    entry = latest_status(props)
    if entry is None or not isinstance(entry.get("source"), dict):
        return None
    return {"status": str(entry.get("status")), "date": str(entry.get("date")), "source": _source_link(entry["source"])}


# shown on their own lines of the popup (status line, geometry note, sources), not in the properties table
_POPUP_OWN = {"name", "sources", "status_history", "facts", "reference_point", "source_vertex_count",
              "source_longest_segment_km"}


def _popup_context(layer, props, stats, names):
    order = [k for k in PROPERTIES if k in props] + [k for k in props if k not in PROPERTIES]
    # Optional properties that are empty say nothing; required ones are shown even when null.
    shown = [(k, _text(props[k])) for k in order
             if k not in _POPUP_OWN and (props[k] is not None or PROPERTIES.get(k, (False,))[0])]
    shown += [(f"{f.get('field')} (as of {f.get('as_of')})", _text(f.get("value")))
              for f in props.get("facts") or [] if isinstance(f, dict)]
    sources = [_source_link(s) for s in (props.get("sources") or []) if isinstance(s, dict)]
    route = []
    if stats.get("geodesic_length_km") is not None:
        ratio, sinuosity = stats.get("length_ratio"), stats.get("sinuosity")
        route = [
            ("Geodesic length", _km(stats["geodesic_length_km"])),
            ("Reported length", _km(stats.get("reported_length_km"))),
            ("Measured / reported", "\u2014" if ratio is None else f"{ratio:.3f}"),
            ("Straight line, end to end", _km(stats.get("straight_line_km"))),
            ("Sinuosity", "\u2014" if sinuosity is None else f"{sinuosity:.3f}"),
            ("Border crossings", str(len(stats.get("border_crossings") or []))),
        ]
    by_country = [
        {"code": code, "name": names.get(code, code), "km": _km(km)}
        for code, km in sorted((stats.get("length_by_country_km") or {}).items(), key=lambda kv: -kv[1])
    ]
    quality = props.get("geometry_quality")
    return {
        "name": _text(props.get("name")), "layer_title": layer.title, "properties": shown, "sources": sources,
        "stats": route, "by_country": by_country, "schematic": quality == "schematic",
        "approximate": ({"vertices": props.get("source_vertex_count"),
                         "longest_km": _km(props.get("source_longest_segment_km"))}
                        if quality == "approximate" else None),
        "status_line": status_line(props),
    }


POPUP_MEMO_MAX = 5000


def popup_html(catalog, layer_id, pos):
    """The popup HTML of the feature at ``pos``: from :func:`popup_fragments` for layers of up to
    :data:`POPUP_MEMO_MAX` features, rendered alone for larger ones (a first click need not render 100,000)."""
    if len(catalog.layer(layer_id).gdf) <= POPUP_MEMO_MAX:
        return popup_fragments(catalog, layer_id)[pos]
    layer = catalog.layer(layer_id)
    row = stats_payload(catalog, layer_id)["features"][pos]
    context = _popup_context(layer, feature_properties(catalog, layer_id)[pos], row, country_names(catalog))
    return _POPUP_ENV.get_template("popup.html").render(**context)


def popup_fragments(catalog, layer_id):
    """Escaped popup HTML of every feature, in layer order (all properties, statistics, sources)."""

    def compute():
        layer = catalog.layer(layer_id)
        template = _POPUP_ENV.get_template("popup.html")
        names = country_names(catalog)
        stats = stats_payload(catalog, layer_id)["features"]
        return [template.render(**_popup_context(layer, props, row, names))
                for props, row in zip(feature_properties(catalog, layer_id), stats)]

    return catalog.memo(("webapp.popups", layer_id), compute)


def _script_json(text):
    """JSON text made safe inside <script>: no '<', '>', '&' or "'" left to the HTML parser."""
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
                  .replace("'", "\\u0027"))


def _feature_collection(geometry_json, props_list, *, extra=""):
    features = ",".join(
        f'{{"type":"Feature","geometry":{g},"properties":{dumps(p)}}}'
        for g, p in zip(geometry_json, props_list)
    )
    return '{"type":"FeatureCollection"' + extra + ',"features":[' + features + "]}"


def _rounded_json(geoms, decimals):
    rounded = shapely.transform(np.asarray(geoms, dtype=object), lambda xy: np.round(xy, decimals))
    return shapely.to_geojson(rounded)


def _feature_style(colour, props, family):
    style = line_style(colour, props.get("status"), props.get("kind"))
    quality = QUALITY_STYLE.get(props.get("geometry_quality"))
    if quality and quality["weight_delta"]:
        style["weight"] = max(2, style["weight"] + quality["weight_delta"])
    if family == "polygon":
        style.update(fillColor=colour, fillOpacity=0.08, weight=1.5)
    return style


def layer_styles(catalog, layer_id):
    """``(styles, index)``: the layer's distinct Leaflet path styles and each feature's position among them.

    A layer has a handful of (status, kind, quality) looks, so features
    carry a small index (``_s``) instead of repeating the style.
    """

    def compute():
        layer = catalog.layer(layer_id)
        colour = layer_colour(layer_id, layer.meta)
        family = "polygon" if layer.geometry_family == "polygon" else "other"
        styles, seen, index = [], {}, []
        for props in feature_properties(catalog, layer_id):
            style = _feature_style(colour, props, family)
            key = json.dumps(style, sort_keys=True)
            if key not in seen:
                seen[key] = len(styles)
                styles.append(style)
            index.append(seen[key])
        return styles, index

    return catalog.memo(("webapp.styles", layer_id), compute)


def history_of(props):
    """A feature's ``status_history`` as ``[[date, status], ...]`` sorted by date ([] without one)."""
    history = props.get("status_history")
    if not isinstance(history, list):
        return []
    rows = [[str(h.get("date")), h.get("status")] for h in history
            if isinstance(h, dict) and h.get("date") and h.get("status")]
    return sorted(rows, key=lambda row: row[0])


def layer_display_js(catalog, layer_id, *, with_popups, zoom_band=None):
    """The layer's display FeatureCollection as script-safe JSON.

    Features carry slim properties (:data:`SLIM_PROPERTIES`;
    ``geometry_quality`` only when it has a halo, schematic or approximate), ``_s`` (index
    into the collection's ``styles`` list of Leaflet path options) and, with
    ``with_popups``, ``_popup`` (escaped HTML). ``zoom_band`` None gives the
    full geometry rounded to :data:`DISPLAY_DECIMALS`; a band index gives
    :func:`geo.simplify.cached_display` geometry (simplified to half a
    pixel, quantised). Display only: nothing is measured on it.
    """

    def compute():
        if zoom_band is None:
            geometry_json = _rounded_json(catalog.layer(layer_id).gdf.geometry.to_numpy(), DISPLAY_DECIMALS)
        else:
            geometry_json = shapely.to_geojson(cached_display(catalog, layer_id, zoom_band).geometry.to_numpy())
        styles, index = layer_styles(catalog, layer_id)
        props = feature_properties(catalog, layer_id)
        popups = popup_fragments(catalog, layer_id) if with_popups else [None] * len(props)
        display = []
        for p, s, popup in zip(props, index, popups):
            row = {k: p.get(k) for k in SLIM_PROPERTIES}
            row["countries"] = [c for c in (p.get("countries") or []) if isinstance(c, str)]
            history = history_of(p)
            if history:
                row["_h"] = history  # [[date, status], ...]: the year slider's status in year X
            if p.get("geometry_quality") in HALO_QUALITIES:
                row["geometry_quality"] = p["geometry_quality"]
            row["_s"] = s
            if popup is not None:
                row["_popup"] = popup
            display.append(row)
        extra = ',"styles":' + json.dumps(styles, separators=(",", ":"))
        return _script_json(_feature_collection(geometry_json, display, extra=extra))

    band = None if zoom_band is None else int(zoom_band)
    return catalog.memo(("webapp.maps.display", layer_id, bool(with_popups), band), compute)


def basemap_band(tolerance_deg):
    """The coarsest zoom band of :mod:`geo.simplify` whose tolerance at the region's poleward edge is at most
    ``tolerance_deg`` degrees (the full band for 0)."""
    lat = max(abs(REGION_BBOX[1]), abs(REGION_BBOX[3]))
    return next((band for band in range(FULL_BAND)
                 if float(tolerance_degrees(band_zoom(band), lat)) <= tolerance_deg), FULL_BAND)


def basemap_geojson(catalog, *, tolerance_deg):
    """Country polygons for display, with label points, simplified as one coverage (shared borders stay shared).

    The zoom band is :func:`basemap_band` of ``tolerance_deg``; geometry comes
    from :func:`geo.simplify.cached_display`. Measurement never uses it (it
    reads the layer itself).
    """
    return basemap_countries_js(catalog, basemap_band(tolerance_deg))


def basemap_countries_js(catalog, band):
    """Country polygons of zoom band ``band`` with ``id`` (ISO3), ``name`` and a label point ``_label`` [lon, lat], as
    script-safe JSON (memoised per band)."""

    def compute():
        if BASEMAP_LAYER not in catalog:
            return _script_json('{"type":"FeatureCollection","features":[]}')
        gdf = catalog.layer(BASEMAP_LAYER).gdf
        shown = cached_display(catalog, BASEMAP_LAYER, band).geometry.to_numpy()
        labels = shapely.get_coordinates(shapely.point_on_surface(gdf.geometry.to_numpy()))
        props = [{"id": str(code), "name": str(name), "_label": [round(float(x), 3), round(float(y), 3)]}
                 for code, name, (x, y) in zip(gdf["id"], gdf["name"], labels)]
        return _script_json(_feature_collection(shapely.to_geojson(shown), props))

    return catalog.memo(("webapp.basemap", band), compute, layers=(BASEMAP_LAYER,))
