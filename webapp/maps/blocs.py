"""Countries coloured by bloc on the basemap (``?blocs=sco``): which countries, in which colour, and the legend.

Memberships are the ``blocs`` property of the ``boundaries`` layer (dated and
cited, from ``data/raw/blocs.toml``); a country is coloured by its latest
status in the bloc. Colours are :data:`layers.styles.BLOC_STATUS_COLOURS`.
"""

from layers.errors import BadParameter
from layers.styles import BLOC_STATUS_COLOURS, BLOC_TITLES

__all__ = ["BLOC_IDS", "parse_bloc", "bloc_statuses", "bloc_fill", "bloc_legend"]

BLOC_IDS = tuple(BLOC_TITLES)
BASEMAP_LAYER = "boundaries"


def parse_bloc(text):
    """The bloc id of a ``blocs`` query value (None when absent or empty); an unknown bloc is a 400."""
    if text is None or not text.strip():
        return None
    bloc = text.strip().lower()
    if bloc not in BLOC_IDS:
        raise BadParameter("blocs", f"unknown bloc {text!r}", suggestions=list(BLOC_IDS))
    return bloc


def bloc_statuses(catalog, bloc):
    """``{iso3: latest status}`` of the countries with a membership in ``bloc``."""

    def compute():
        if BASEMAP_LAYER not in catalog or "blocs" not in catalog.layer(BASEMAP_LAYER).gdf:
            return {}
        gdf = catalog.layer(BASEMAP_LAYER).gdf
        return {fid: blocs[bloc]["status"] for fid, blocs in zip(gdf["id"], gdf["blocs"])
                if isinstance(blocs, dict) and bloc in blocs}

    return catalog.memo(("webapp.maps.blocs", bloc), compute)


def bloc_fill(catalog, bloc):
    """``{iso3: #rrggbb}`` the basemap fills countries with (empty for no bloc)."""
    if bloc is None:
        return {}
    return {code: BLOC_STATUS_COLOURS[status] for code, status in bloc_statuses(catalog, bloc).items()}


def bloc_legend(catalog, bloc):
    """``{title, rows: [{status, label, colour, count}]}`` for the legend, or None for no bloc."""
    if bloc is None:
        return None
    statuses = list(bloc_statuses(catalog, bloc).values())
    rows = [{"status": s, "label": s.replace("_", " "), "colour": colour, "count": statuses.count(s)}
            for s, colour in BLOC_STATUS_COLOURS.items() if s in statuses]
    return {"title": f"{BLOC_TITLES[bloc]} ({bloc.upper()})", "rows": rows}
