"""``python -m geo``: route statistics (and corridor analytics) from the command line.

    python -m geo stats tapi --format table|csv|json|md
    python -m geo layers
"""

import argparse
import sys

from layers.catalog import BUILTIN_LAYERS_DIR, Catalog
from layers.errors import MapError

from geo.stats import format_stats, layer_stats

__all__ = ["main", "build_parser"]


def _cmd_layers(catalog, args):
    for layer in catalog:
        print(f"{layer.id:24s} {len(layer.gdf):5d}  {layer.title}")


def _cmd_stats(catalog, args):
    stats = layer_stats(catalog, args.layer_id)
    print(format_stats(stats, args.format))


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m geo", description="Geodesic route statistics and corridor analytics.")
    parser.add_argument("--layers-dir", action="append", default=[], help="extra folder of user GeoJSON layers")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("layers", help="list the catalogue").set_defaults(func=_cmd_layers)
    stats = sub.add_parser("stats", help="per-feature route statistics of one layer")
    stats.add_argument("layer_id")
    stats.add_argument("--format", choices=["table", "csv", "json", "md"], default="table")
    stats.set_defaults(func=_cmd_stats)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        catalog = Catalog.from_dirs(BUILTIN_LAYERS_DIR, args.layers_dir)
        args.func(catalog, args)
    except MapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
