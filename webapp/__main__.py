"""``python -m webapp [serve|export] ...``: run the map service, or export maps and statistics.

    python -m webapp serve [--host 127.0.0.1] [--port 5000] [--layers-dir DIR]
    python -m webapp serve --production [--workers 2 --threads 8]    (gunicorn; or MAPSVC_PRODUCTION=1)
    python -m webapp serve --production --server waitress [--threads 16] [--trusted-proxy 127.0.0.1]
    python -m webapp stack [--listen 127.0.0.1:8080] [--prefix DIR]   (nginx in front of gunicorn; deploy/run)
    python -m webapp export --layers tapi,casa1000 --out tapi_casa.html [--basemap none|osm]
    python -m webapp export --layers tapi --out tapi.pdf [--paper a4|a3|letter] [--orientation landscape|portrait]
    python -m webapp export --layers tapi --out tapi.png [--paper a4 --dpi 300 | --width 1600 --height 1000]
    python -m webapp export --stats --layers tapi,casa1000 --format csv|json|md [--out FILE]
    python -m webapp export --corridor tapi:tapi_trunk --width-km 50 [--with places,ports] --out corridor.pdf
    python -m webapp export --from Kashgar --to Gwadar [--modes road] --out route.html|pdf|png|svg
    python -m webapp import FILE --user NAME [--public] [--replace ID] ...   (see webapp.imports.cli)
    python -m webapp user add NAME | user list | token create NAME | store check | store backup FILE | layers
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from layers.errors import MapError
from webapp.logs import install as install_log_filter
from webapp.settings import ENV_PREFIX, parse_bool

__all__ = ["PRODUCTION_ENV", "build_parser", "main", "production_waitress_options", "run_export", "serve", "warm_up",
           "write_atomic"]

PRODUCTION_ENV = ENV_PREFIX + "PRODUCTION"
DEFAULT_BASE_URL = "http://127.0.0.1:5000"  # where `python -m webapp serve` listens by default


def build_parser():
    """The argparse parser of ``python -m webapp``."""
    parser = argparse.ArgumentParser(prog="python -m webapp", description="Map service for the corridor layers.")
    parser.add_argument("--layers-dir", action="append", default=[], metavar="DIR",
                        help="extra folder of layers in any supported format (repeatable)")
    sub = parser.add_subparsers(dest="command")
    serve_p = sub.add_parser("serve", help="serve the maps and the API (default command)")
    serve_p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve_p.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    serve_p.add_argument("--threads", type=int, help="worker threads (default 8)")
    serve_p.add_argument("--production", action="store_true",
                         help=f"production serving (also {PRODUCTION_ENV}=1): gunicorn with deploy/gunicorn.conf.py "
                              "(or --server waitress), error logging, bounded requests and connections, no server "
                              "version in headers")
    serve_p.add_argument("--server", choices=["gunicorn", "waitress"], default="gunicorn",
                         help="with --production: gunicorn (default, POSIX) or waitress (anywhere)")
    serve_p.add_argument("--workers", type=int, help="with --production (gunicorn): worker processes (default 2)")
    serve_p.add_argument("--trusted-proxy", metavar="ADDR",
                         help="with --production: address of the reverse proxy whose X-Forwarded-* headers to trust")
    serve_p.add_argument("--layers-dir", action="append", default=[], metavar="DIR", dest="sub_layers_dir",
                         help="extra folder of layers in any supported format (repeatable)")
    stack_p = sub.add_parser("stack", help="production stack: nginx in front of gunicorn (Debian nginx needed)")
    stack_p.add_argument("--listen", default="127.0.0.1:8080", help="address:port nginx listens on")
    stack_p.add_argument("--prefix", help="folder for nginx's configuration, logs and the socket (default: temporary)")
    stack_p.add_argument("--workers", type=int, help="gunicorn worker processes (default 2)")
    stack_p.add_argument("--threads", type=int, help="threads per gunicorn worker (default 8)")
    stack_p.add_argument("--layers-dir", action="append", default=[], metavar="DIR", dest="sub_layers_dir",
                         help="extra folder of layers in any supported format (repeatable)")
    export_p = sub.add_parser("export", help="write a self-contained HTML map, a PDF/PNG/SVG figure, or statistics")
    export_p.add_argument("--layers", help="comma-separated layer ids (default: every layer but boundaries)")
    export_p.add_argument("--out", help="output file, written atomically (statistics default to standard output)")
    export_p.add_argument("--format", choices=["html", "png", "svg", "pdf", "csv", "json", "md"],
                          help="map: html|png|svg|pdf (default from --out suffix, else html); --stats: csv|json|md")
    export_p.add_argument("--stats", action="store_true", help="export the route-statistics table instead of a map")
    export_p.add_argument("--corridor", metavar="LAYER:FID", help="map of the corridor of this route instead")
    export_p.add_argument("--width-km", default="50", help="with --corridor: half-width of the band (0 < km <= 500)")
    export_p.add_argument("--with", dest="with_layers", help="with --corridor: layers to search, e.g. places,ports")
    export_p.add_argument("--from", dest="route_from", metavar="PLACE",
                          help="map of the network route from this place (with --to) instead")
    export_p.add_argument("--to", dest="route_to", metavar="PLACE", help="with --from: the destination")
    export_p.add_argument("--modes", help="with --from/--to: road,rail,gas,power (default all)")
    export_p.add_argument("--blocs", help="map or figure: colour the countries by bloc (sco, eaeu, carec)")
    export_p.add_argument("--basemap", default="none", help="html only: none (default, fully offline) or osm/topo/hot")
    export_p.add_argument("--paper", help="pdf/png/svg: a4 (pdf default), a3 or letter")
    export_p.add_argument("--orientation", help="with --paper: landscape (default) or portrait")
    export_p.add_argument("--dpi", help="png: pixels per inch, 72..600 (default 150); svg: the size pixels mean")
    export_p.add_argument("--width", help="png/svg without --paper: width in pixels")
    export_p.add_argument("--height", help="png/svg without --paper: height in pixels")
    export_p.add_argument("--base-url", default=DEFAULT_BASE_URL,
                          help=f"where the interactive map is served, printed on figures (default {DEFAULT_BASE_URL})")
    export_p.add_argument("--layers-dir", action="append", default=[], metavar="DIR", dest="sub_layers_dir",
                          help="extra folder of layers (repeatable)")
    from webapp.imports.cli import add_commands

    add_commands(sub)
    return parser


def warm_up(app, *, background=True):
    """Compute the layers' statistics and render the overview, so that no visitor waits for them.

    Layers of at most ``WARM_UP_MAX_VERTICES`` vertices (all the built-in
    ones) are done before the port opens; larger layers -- and the overview
    when it shows one -- in a background thread after it opens, so start-up
    stays short (a request meanwhile waits for the same single computation).
    Returns that thread, or None. ``WARM_UP_MAX_VERTICES = 0`` skips warm-up.
    ``background=False`` returns the rest as a function instead of starting the
    thread: a process that forks (gunicorn's preloading master) must not fork
    while a thread holds an expensive-work slot or a half-built cache entry,
    which a child would inherit held, by nobody, forever.
    """
    import threading

    import shapely

    limit = app.config["WARM_UP_MAX_VERTICES"]
    if not limit:
        return None
    from webapp.maps.builder import MapSpec, cached_map, drawing_order, overview_layer_ids
    from webapp.maps.display import stats_payload

    catalog = app.extensions["catalog"]
    big = [lay.id for lay in catalog if int(shapely.get_num_coordinates(lay.gdf.geometry.values).sum()) > limit]
    with app.test_request_context("/"):
        # the key the overview page asks for (pages._spec): layers in drawing order
        overview = MapSpec(drawing_order(catalog, overview_layer_ids(catalog)), app.config["DEFAULT_BASEMAP"], None)
        for layer_id in catalog.ids:
            if layer_id not in big:
                stats_payload(catalog, layer_id)
        if not set(big) & set(overview.layer_ids):
            cached_map(overview)
            overview = None
    if not big:
        return None

    def later():
        with app.test_request_context("/"):
            for layer_id in big:
                stats_payload(catalog, layer_id)
            if overview is not None:
                cached_map(overview)
        print(f"warm-up done: statistics of {', '.join(big)}", file=sys.stderr)

    if not background:
        return later
    thread = threading.Thread(target=later, name="warm-up", daemon=True)
    thread.start()
    return thread


def production_waitress_options(*, threads, trusted_proxy=None, max_body_bytes=1024 * 1024):
    """waitress options for production: bounded connections, bodies and timeouts, proxy headers only from the proxy.

    waitress reads whole requests before the app sees them, so a slow or
    huge client costs a channel, not a thread; put nginx in front (``stack``)
    to resist slowloris, which waitress alone does not time out per header.
    """
    options = {
        "threads": threads,
        "connection_limit": max(100, 16 * threads),
        "channel_timeout": 60,  # seconds an idle or stalled client may hold a connection
        "ident": "mapsvc",  # the Server header names no software version
        "max_request_body_size": max_body_bytes,  # 413 instead of spooling a 1 GB body to disk
        "channel_request_lookahead": 1,  # lets the app see a client that has gone (webapp.workload)
    }
    if trusted_proxy:
        # behind nginx & co: embed snippets and links then use the public scheme and host
        options.update(trusted_proxy=trusted_proxy, trusted_proxy_count=1, clear_untrusted_proxy_headers=True,
                       trusted_proxy_headers="x-forwarded-for x-forwarded-host x-forwarded-proto x-forwarded-port")
    return options


def serve(app, *, host, port, threads=8, production=False, trusted_proxy=None):
    """Serve ``app`` with waitress (a production WSGI server) until interrupted.

    ``production`` adds logging to stderr (unexpected errors, waitress queue
    warnings), connection limits and proxy handling
    (:func:`production_waitress_options`), and refuses a debug or testing app.
    """
    from waitress import serve as waitress_serve

    if threads < 1:
        raise ValueError(f"--threads must be at least 1, got {threads}")
    options = {"threads": threads}
    if production:
        if app.debug or app.testing:
            raise ValueError("refusing to serve a DEBUG or TESTING app in production")
        install_log_filter()
        from webapp.limits import largest_body_bytes

        # uploads may be larger than MAX_BODY_MB: the app itself refuses any body its endpoint does not allow
        options = production_waitress_options(threads=threads, trusted_proxy=trusted_proxy,
                                              max_body_bytes=largest_body_bytes(app))
    warm_up(app)
    mode = f"production, {threads} threads" if production else f"{threads} threads"
    print(f"serving on http://{host}:{port}/ ({mode})", file=sys.stderr)
    waitress_serve(app, host=host, port=port, **options)


def write_atomic(path, body):
    """Write ``body`` (bytes) to ``path`` through a temporary file in the same folder, then rename it.

    A crash, a full disk or an interrupt leaves the old file (or none), never a truncated one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # what a plain open() would have given, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _export_body(app, args, out, fmt):
    """(bytes, format) of the export ``args`` describe; runs inside a request context for absolute URLs."""
    from webapp.export import views as export
    from webapp.export.figures_page import FIGURE_FORMATS, figure_page
    from webapp.maps.blocs import parse_bloc
    from webapp.maps.builder import overview_layer_ids, parse_basemap, parse_layer_ids

    catalog = app.extensions["catalog"]
    figure = {"paper": args.paper, "orientation": args.orientation, "dpi": args.dpi, "width": args.width,
              "height": args.height}
    if args.stats:
        fmt = fmt or "csv"
        if fmt not in export.STATS_FORMATS:
            raise ValueError(f"--format {fmt} is not a statistics format (csv, json, md)")
        layer_ids = parse_layer_ids(args.layers, catalog) if args.layers else overview_layer_ids(catalog)
        return export.stats_table(catalog, layer_ids, fmt=fmt).encode("utf-8"), fmt
    fmt = fmt or "html"
    if out is None:
        raise ValueError("--out is required for a map export")
    if fmt not in ("html", *FIGURE_FORMATS):
        raise ValueError(f"--format {fmt} is not a map format (html, png, svg, pdf); add --stats for tables")
    if fmt == "html":
        export.refuse_figure_params(figure, fmt)
        basemap = parse_basemap(args.basemap, default="none")
    else:
        page = figure_page(fmt, **export.figure_params(figure, app.config))
    if args.corridor or args.route_from or args.route_to:
        return _analysis_body(catalog, args, fmt, None if fmt == "html" else page, basemap if fmt == "html" else None)
    layer_ids = parse_layer_ids(args.layers, catalog) if args.layers else overview_layer_ids(catalog)
    bloc = parse_bloc(args.blocs)
    if fmt == "html":
        return export.export_html(layer_ids, basemap=basemap, bloc=bloc).encode("utf-8"), fmt
    return export.layers_figure(catalog, layer_ids, page, url=export.layers_page_url(catalog, layer_ids),
                                bloc=bloc), fmt


def _analysis_body(catalog, args, fmt, page, basemap):
    from webapp.analysis.queries import corridor_query, route_query
    from webapp.analysis.views import corridor_html, route_html
    from webapp.export.figures_analysis import corridor_figure, route_figure
    from webapp.hosts import external_url

    if args.corridor:
        query = {"feature": args.corridor, "width_km": args.width_km}
        query.update({"with": args.with_layers} if args.with_layers is not None else {})
        q, kind, html, figure = corridor_query(catalog, query), "corridor", corridor_html, corridor_figure
    else:
        if not (args.route_from and args.route_to):
            raise ValueError("a route export needs both --from PLACE and --to PLACE")
        query = {"from": args.route_from, "to": args.route_to}
        query.update({"modes": args.modes} if args.modes else {})
        q, kind, html, figure = route_query(catalog, query), "route", route_html, route_figure
    if fmt == "html":
        return html(q, basemap=basemap).encode("utf-8"), fmt
    return figure(catalog, q, page, url=external_url(f"analysis.{kind}_page", **q.params())), fmt


def run_export(app, args):
    """Write the export ``args`` describe; return the exit code."""
    out = Path(args.out) if args.out else None
    fmt = args.format or (out.suffix.lstrip(".").lower() if out and out.suffix else None)
    with app.test_request_context("/", base_url=args.base_url):
        body, fmt = _export_body(app, args, out, fmt)
    if out is None:
        sys.stdout.write(body.decode("utf-8"))
    else:
        write_atomic(out, body)
        print(f"wrote {out} ({len(body):,} bytes)", file=sys.stderr)
    return 0


def serve_gunicorn(args, layers_dirs):
    """Replace this process by gunicorn serving the production app (deploy/gunicorn.conf.py)."""
    from webapp.serving import gunicorn_command

    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    if layers_dirs:
        os.environ["MAPSVC_LAYERS_DIRS"] = os.pathsep.join(layers_dirs)
    if args.trusted_proxy:
        os.environ.setdefault("MAPSVC_PROXY_COUNT", "1")
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")  # fewer malloc arenas: threads' freed memory is reused
    command = gunicorn_command(bind=f"{args.host}:{args.port}", workers=args.workers, threads=args.threads)
    os.execv(command[0], command)


def main(argv=None):
    """Entry point; returns the exit code (2 on a usage or data error)."""
    from webapp import create_app

    args = build_parser().parse_args(argv)
    command = args.command or "serve"
    layers_dirs = [*args.layers_dir, *getattr(args, "sub_layers_dir", [])]
    try:
        if command == "stack":
            from webapp.serving import Stack

            env = {"MAPSVC_LAYERS_DIRS": os.pathsep.join(layers_dirs)} if layers_dirs else {}
            return Stack(listen=args.listen, prefix=args.prefix, workers=args.workers, threads=args.threads,
                         env=env).run_forever()
        if command == "serve":
            production = getattr(args, "production", False) or parse_bool(os.environ.get(PRODUCTION_ENV, "0"))
            if production and getattr(args, "server", "gunicorn") == "gunicorn":
                serve_gunicorn(args, layers_dirs)
                return 0  # only reached when execv is replaced (tests)
        app = create_app({"LAYERS_DIRS": layers_dirs} if layers_dirs else None)
        if command == "serve":
            production = getattr(args, "production", False) or parse_bool(os.environ.get(PRODUCTION_ENV, "0"))
            serve(app, host=getattr(args, "host", "127.0.0.1"), port=getattr(args, "port", 5000),
                  threads=getattr(args, "threads", None) or 8, production=production,
                  trusted_proxy=getattr(args, "trusted_proxy", None))
            return 0
        if command == "export":
            return run_export(app, args)
        from webapp.imports.cli import run

        return run(app, args)
    except (MapError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
