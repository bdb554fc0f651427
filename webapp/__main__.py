"""``python -m webapp [serve|export] ...``: run the map service, or export maps and statistics.

    python -m webapp serve [--host 127.0.0.1] [--port 5000] [--layers-dir DIR]
    python -m webapp export --layers tapi,casa1000 --out tapi_casa.html [--basemap none|osm]
    python -m webapp export --layers tapi --out tapi.png [--format png|svg] [--width 1600 --height 1000]
    python -m webapp export --stats --layers tapi,casa1000 --format csv|json|md [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from layers.errors import MapError

__all__ = ["build_parser", "main", "run_export", "serve", "warm_up"]


def build_parser():
    """The argparse parser of ``python -m webapp``."""
    parser = argparse.ArgumentParser(prog="python -m webapp", description="Map service for the corridor layers.")
    parser.add_argument("--layers-dir", action="append", default=[], metavar="DIR",
                        help="extra folder of user GeoJSON layers (repeatable)")
    sub = parser.add_subparsers(dest="command")
    serve_p = sub.add_parser("serve", help="serve the maps and the API (default command)")
    serve_p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve_p.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    serve_p.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    serve_p.add_argument("--layers-dir", action="append", default=[], metavar="DIR", dest="sub_layers_dir",
                         help="extra folder of user GeoJSON layers (repeatable)")
    export_p = sub.add_parser("export", help="write a self-contained HTML map, a PNG/SVG map, or statistics")
    export_p.add_argument("--layers", help="comma-separated layer ids (default: every layer but boundaries)")
    export_p.add_argument("--out", help="output file (statistics default to standard output)")
    export_p.add_argument("--format", choices=["html", "png", "svg", "csv", "json", "md"],
                          help="map: html|png|svg (default from --out suffix, else html); --stats: csv|json|md")
    export_p.add_argument("--stats", action="store_true", help="export the route-statistics table instead of a map")
    export_p.add_argument("--basemap", default="none", help="html only: none (default, fully offline) or osm/topo/hot")
    export_p.add_argument("--width", type=int, help="png/svg width in pixels")
    export_p.add_argument("--height", type=int, help="png/svg height in pixels")
    export_p.add_argument("--layers-dir", action="append", default=[], metavar="DIR", dest="sub_layers_dir",
                          help="extra folder of user GeoJSON layers (repeatable)")
    return parser


def warm_up(app):
    """Compute every layer's statistics and render the overview once, so no visitor waits for them."""
    with app.test_request_context("/"):
        from webapp.display import stats_payload
        from webapp.mapbuilder import MapSpec, cached_map, overview_layer_ids

        catalog = app.extensions["catalog"]
        for layer_id in catalog.ids:
            stats_payload(catalog, layer_id)
        cached_map(MapSpec(overview_layer_ids(catalog), app.config["DEFAULT_BASEMAP"], None))


def serve(app, *, host, port, threads=8):
    """Serve ``app`` with waitress (a production WSGI server) until interrupted."""
    from waitress import serve as waitress_serve

    warm_up(app)
    print(f"serving on http://{host}:{port}/", file=sys.stderr)
    waitress_serve(app, host=host, port=port, threads=threads)


def run_export(app, args):
    """Write the export ``args`` describes; return the exit code."""
    from webapp import export
    from webapp.mapbuilder import overview_layer_ids, parse_basemap, parse_layer_ids

    out = Path(args.out) if args.out else None
    fmt = args.format or (out.suffix.lstrip(".").lower() if out and out.suffix else None)
    with app.app_context():
        catalog = app.extensions["catalog"]
        layer_ids = parse_layer_ids(args.layers, catalog) if args.layers else overview_layer_ids(catalog)
        if args.stats:
            fmt = fmt or "csv"
            if fmt not in export.STATS_FORMATS:
                raise ValueError(f"--format {fmt} is not a statistics format (csv, json, md)")
            body = export.stats_table(catalog, layer_ids, fmt=fmt).encode("utf-8")
        else:
            fmt = fmt or "html"
            if out is None:
                raise ValueError("--out is required for a map export")
            if fmt == "html":
                body = export.export_html(layer_ids, basemap=parse_basemap(args.basemap, default="none")).encode("utf-8")
            elif fmt in ("png", "svg"):
                width = export.check_size_px("--width", args.width or app.config["EXPORT_WIDTH_PX"])
                height = export.check_size_px("--height", args.height or app.config["EXPORT_HEIGHT_PX"])
                body = export.static_map(catalog, layer_ids, fmt=fmt, width_px=width, height_px=height,
                                         simplify_deg=app.config["BASEMAP_SIMPLIFY_DEG"])
            else:
                raise ValueError(f"--format {fmt} is not a map format (html, png, svg); add --stats for tables")
    if out is None:
        sys.stdout.write(body.decode("utf-8"))
    else:
        out.write_bytes(body)
        print(f"wrote {out} ({len(body):,} bytes)", file=sys.stderr)
    return 0


def main(argv=None):
    """Entry point; returns the exit code (2 on a usage or data error)."""
    from webapp import create_app

    args = build_parser().parse_args(argv)
    command = args.command or "serve"
    layers_dirs = [*args.layers_dir, *getattr(args, "sub_layers_dir", [])]
    try:
        app = create_app({"LAYERS_DIRS": layers_dirs} if layers_dirs else None)
        if command == "serve":
            serve(app, host=getattr(args, "host", "127.0.0.1"), port=getattr(args, "port", 5000),
                  threads=getattr(args, "threads", 8))
            return 0
        return run_export(app, args)
    except (MapError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
