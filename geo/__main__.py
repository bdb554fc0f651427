"""``python -m geo``: route statistics and corridor analytics from the command line.

    python -m geo stats tapi --format table|csv|json|md [--dask [--workers 2] | --scheduler tcp://host:8786]
    python -m geo layers
    python -m geo corridor tapi tapi_trunk --width-km 50 --with places,ports --format table|json|geojson|csv [--dask]
    python -m geo overlap tapi:tapi_trunk pakistan_gas_grid:<fid> --width-km 25
    python -m geo route Kashgar Gwadar --modes road --snap-km 5 --format table|json|geojson|csv
    python -m geo nearest --lat 25.12 --lon 62.33 --layer ports
"""

import argparse
import json
import sys

from geo.corridor_report import corridor_geojson, corridor_report, overlap_report
from geo.places import find_place
from geo.route_borders import borders_lines
from geo.routing import nearest, route
from geo.stats import format_stats, layer_stats
from layers.catalog import BUILTIN_LAYERS_DIR, Catalog
from layers.errors import BadParameter, MapError

__all__ = ["main", "build_parser"]


def _cmd_layers(catalog, args):
    for layer in catalog:
        print(f"{layer.id:24s} {len(layer.gdf):5d}  {layer.title}")


def _engine(args):
    """The Dask engine ``--dask``/``--scheduler`` ask for (every layer on the cluster), or None (this process)."""
    if not (args.dask or args.scheduler):
        return None
    from geo.parallel import DaskEngine

    return DaskEngine(scheduler=args.scheduler, workers=args.workers)


def _cmd_stats(catalog, args):
    stats = layer_stats(catalog, args.layer_id, engine=args.engine)
    print(format_stats(stats, args.format))


def _dump(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)


def _cmd_corridor(catalog, args):
    report = corridor_report(catalog, args.layer_id, args.feature_id, args.width_km, with_layers=args.with_layers,
                             engine=args.engine)
    if args.format == "geojson":
        print(_dump(corridor_geojson(report)))
        return
    table = report["features"].drop(columns="geometry")
    if args.format == "csv":
        table = table.assign(countries=[";".join(c) if isinstance(c, list) else "" for c in table["countries"]])
        print(table.to_csv(index=False, float_format="%.3f"), end="")
        return
    if args.format == "json":
        doc = corridor_geojson(report)
        print(_dump({"corridor": doc["features"][0]["properties"], "features": [
            f["properties"] for f in doc["features"][1:]], "summary": doc["summary"]}))
        return
    summary = report["summary"]
    print(f"{report['name']} ({args.layer_id}:{args.feature_id}): {summary['route_length_km']:.1f} km route, "
          f"{summary['width_km']:g} km each side, corridor {summary['area_km2']:,.0f} km2, "
          f"{summary['features']} features within")
    if len(table):
        cols = ["layer", "id", "name", "kind", "status", "distance_km", "chainage_km", "inside_length_km"]
        if table["inside_area_km2"].notna().any():
            cols.append("inside_area_km2")
        shown = table[cols].assign(status=table["status"].fillna(""))
        print(shown.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.1f}"))
    for key in ("by_layer", "by_status", "by_country"):
        print(f"{key.replace('_', ' ')}: " + "; ".join(f"{k} {_group_text(v)}" for k, v in summary[key].items()))


def _group_text(entry):
    """'3' for points, '2 (19.3 km)' for lines, '1 (4,321 km2)' for polygons, summed per unit."""
    measures = [f"{entry['length_km']:.1f} km" if entry["lines"] else None,
                f"{entry['area_km2']:,.0f} km2" if entry["polygons"] else None]
    shown = ", ".join(m for m in measures if m)
    return f"{entry['features']}" + (f" ({shown})" if shown else "")


def _cmd_overlap(catalog, args):
    result = overlap_report(catalog, args.a, args.b, args.width_km)
    if args.format == "json":
        print(_dump(result))
        return
    print(f"{result['a']} ({result['a_length_km']:.1f} km) vs {result['b']} ({result['b_length_km']:.1f} km), "
          f"width {result['width_km']:g} km")
    print(f"A within B's band: {result['a_within_b_km']:.1f} km; B within A's band: {result['b_within_a_km']:.1f} km")
    for s in result["stretches"]:
        print(f"  shared run: A km {s['from_chainage_km']:.1f}-{s['to_chainage_km']:.1f} ({s['length_km']:.1f} km)")
    for c in result["crossings"]:
        print(f"  crossing at {c['lat']:.4f}N {c['lon']:.4f}E: A km {c['chainage_a_km']:.1f}, "
              f"B km {c['chainage_b_km']:.1f}")


def _legs_table(result):
    import pandas as pd

    cols = ["seq", "type", "mode", "project", "name", "km", "from_km", "to_km", "reported_length_km"]
    return pd.DataFrame([f["properties"] for f in result["features"]], columns=cols)


def _count(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _cmd_route(catalog, args):
    result = route(catalog, args.origin, args.destination, modes=args.modes, snap_km=args.snap_km,
                   attach_km=args.attach_km)
    if args.format == "geojson":
        print(_dump(result))
    elif args.format == "json":
        print(_dump({"totals": result["totals"], "legs": [f["properties"] for f in result["features"]]}))
    elif args.format == "csv":
        print(_legs_table(result).to_csv(index=False, float_format="%.3f"), end="")
    else:
        t = result["totals"]
        used = [m for m in t["modes"] if m in t["by_mode_km"]] or t["modes"]
        commodity = f" ({t['commodity']})" if t["commodity"] not in used else ""
        print(f"{t['from']['name']} -> {t['to']['name']} over {', '.join(used)}{commodity}: "
              f"{t['total_km']:.1f} km = {t['network_km']:.1f} on mapped lines + {t['sea_km']:.1f} at sea + "
              f"{t['connector_km']:.1f} in {_count(len(t['connectors']), 'connector')}; {_count(t['legs'], 'leg')}")
        table = _legs_table(result)
        print(table.where(table.notna(), "").to_string(index=False, float_format=lambda v: f"{v:.1f}"))
        for commodity, alt in t["alternatives"].items():
            print(f"{commodity}: " + (alt["error"] if "error" in alt else f"{alt['total_km']:.1f} km"))
        print("\n".join(borders_lines(t)))


def _cmd_nearest(catalog, args):
    if args.place is not None:
        origin = find_place(catalog, args.place)
    elif args.lat is not None and args.lon is not None:
        origin = find_place(catalog, f"{args.lat},{args.lon}", parameter="lat,lon")
    else:
        raise BadParameter("place", "give --place NAME or both --lat and --lon")
    result = nearest(catalog, origin, layer=args.layer, modes=args.modes, snap_km=args.snap_km,
                     attach_km=args.attach_km, limit=args.limit)
    if args.format == "json":
        print(_dump(result))
        return
    import pandas as pd

    rows = {r["id"]: r for r in result["by_geodesic"] + result["by_network"]}
    cols = ["id", "name", "lon", "lat", "geodesic_km", "path_km", "network_km", "sea_km", "connector_km"]
    table = pd.DataFrame(list(rows.values()), columns=cols).sort_values(["path_km", "geodesic_km"],
                                                                          na_position="last")
    if args.format == "csv":
        print(table.to_csv(index=False, float_format="%.3f"), end="")
        return
    print(f"nearest {args.layer} to {result['from']['name']} ({result['from']['lat']:.4f}N "
          f"{result['from']['lon']:.4f}E), network over {', '.join(result['modes'])}")
    print(table.to_string(index=False, na_rep="-", formatters={"lon": "{:.4f}".format, "lat": "{:.4f}".format},
                          float_format=lambda v: f"{v:.1f}"))
    if result["network_note"]:
        print(f"note: {result['network_note']}")


def _network_options(parser, modes_default):
    parser.add_argument("--modes", default=modes_default, help="comma-separated: road,rail,sea,gas,power")
    parser.add_argument("--snap-km", default="5", help="join line ends to lines within this many km (0-50)")
    parser.add_argument("--attach-km", default="25", help="attach places to the network within this many km")


def _engine_options(parser):
    parser.add_argument("--dask", action="store_true",
                        help="compute on dask-geopandas partitions on a local dask.distributed cluster")
    parser.add_argument("--workers", type=int, default=2, help="with --dask: worker processes (default 2)")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="compute on the dask.distributed scheduler at ADDR (tcp://host:8786) instead")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m geo", description="Geodesic route statistics and corridor analytics."
    )
    parser.add_argument("--layers-dir", action="append", default=[], help="extra folder of user GeoJSON layers")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("layers", help="list the catalogue").set_defaults(func=_cmd_layers)
    stats = sub.add_parser("stats", help="per-feature route statistics of one layer")
    stats.add_argument("layer_id")
    stats.add_argument("--format", choices=["table", "csv", "json", "md"], default="table")
    _engine_options(stats)
    stats.set_defaults(func=_cmd_stats)
    corridor = sub.add_parser("corridor", help="what lies within width_km of a route")
    corridor.add_argument("layer_id")
    corridor.add_argument("feature_id")
    corridor.add_argument("--width-km", default="50", help="half-width of the band in km (0 < w <= 500)")
    corridor.add_argument("--with", dest="with_layers", default=None,
                          help="comma-separated layer ids and/or 'places' (default: places,ports,energy_projects)")
    corridor.add_argument("--format", choices=["table", "json", "geojson", "csv"], default="table")
    _engine_options(corridor)
    corridor.set_defaults(func=_cmd_corridor)
    over = sub.add_parser("overlap", help="shared length and crossings of two routes (layer:fid each)")
    over.add_argument("a")
    over.add_argument("b")
    over.add_argument("--width-km", default="25")
    over.add_argument("--format", choices=["table", "json"], default="table")
    over.set_defaults(func=_cmd_overlap)
    rte = sub.add_parser("route", help="shortest network path between two places (name, 'lat,lon' or layer:fid)")
    rte.add_argument("origin")
    rte.add_argument("destination")
    _network_options(rte, None)
    rte.add_argument("--format", choices=["table", "json", "geojson", "csv"], default="table")
    rte.set_defaults(func=_cmd_route)
    near = sub.add_parser("nearest", help="nearest point features (ports) by geodesic and network distance")
    near.add_argument("--lat")
    near.add_argument("--lon")
    near.add_argument("--place")
    near.add_argument("--layer", default="ports")
    near.add_argument("--limit", default="5")
    _network_options(near, "road,rail")
    near.add_argument("--format", choices=["table", "json", "csv"], default="table")
    near.set_defaults(func=_cmd_nearest)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.engine = _engine(args) if hasattr(args, "dask") else None
    try:
        catalog = Catalog.from_dirs(BUILTIN_LAYERS_DIR, args.layers_dir)
        args.func(catalog, args)
    except MapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.engine is not None:
            args.engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
