"""Command-line side of imports, accounts and the store (``python -m webapp import|user|token|store|layers``).

    python -m webapp import FILE --user NAME [--layer L] [--layer-id ID] [--title T] [--public]
                            [--replace ID] [--repair] [--skip-invalid] [--preview]
    python -m webapp user add NAME            (password from the terminal, or one line on stdin)
    python -m webapp user list
    python -m webapp token create NAME [--label L]
    python -m webapp store check | store backup FILE
    python -m webapp store migrate --to postgresql://USER@HOST/DB | --to embedded | --to sqlite:///DIR
    python -m webapp layers

They act on the store the settings name (``DATA_DIR`` / ``DATABASE_URL``),
as the operator: the change is recorded in the audit log under the user
named (imports) or as ``cli``.
"""

from __future__ import annotations

import getpass
import sys
import time

from layers.errors import BadParameter

__all__ = ["add_commands", "run"]


def add_commands(sub):
    """Add the subcommands to ``python -m webapp``'s parser."""
    imp = sub.add_parser("import", help="import a GIS file into the store as a user's layer")
    imp.add_argument("file", help="GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ, FlatGeobuf, GeoParquet or CSV")
    imp.add_argument("--user", required=True, help="the account that will own the layer")
    imp.add_argument("--layer", help="which layer of a multi-layer file (GeoPackage layer, GEM type)")
    imp.add_argument("--layer-id", help="the layer id (default: from the title or file name)")
    for name in ("title", "description", "attribution", "licence", "source-url"):
        imp.add_argument(f"--{name}")
    imp.add_argument("--geometry-quality", choices=["traced", "schematic"], default="traced")
    imp.add_argument("--public", action="store_true", help="publish it at once (default: private)")
    imp.add_argument("--replace", metavar="ID", help="save as a new version of this layer of the user's")
    imp.add_argument("--repair", action="store_true", help="repair invalid geometry with make_valid")
    imp.add_argument("--skip-invalid", action="store_true", help="drop the features that still have problems")
    imp.add_argument("--preview", action="store_true", help="only show what would be imported")
    user = sub.add_parser("user", help="accounts: add, list")
    user.add_argument("action", choices=["add", "list"])
    user.add_argument("name", nargs="?")
    token = sub.add_parser("token", help="make an API token for an account")
    token.add_argument("action", choices=["create"])
    token.add_argument("name")
    token.add_argument("--label", default="made with python -m webapp token")
    store = sub.add_parser("store", help="check the store, back it up while it serves, or migrate it")
    store.add_argument("action", choices=["check", "backup", "migrate"])
    store.add_argument("path", nargs="?", help="backup: the file to write")
    store.add_argument("--to", dest="target", metavar="URL",
                       help="migrate: the empty store to copy into: postgresql://..., sqlite:///DIR, or 'embedded' "
                            "(the embedded store in DATA_DIR)")
    sub.add_parser("layers", help="list the user layers in the store")


def _user(store, name):
    user = store.user(name=name)
    if user is None:
        raise BadParameter("user", f"no account {name!r} (python -m webapp user add {name})")
    return user


def _print_preview(candidates):
    for c in candidates:
        s = c.summary()
        types = ", ".join(f"{n} {t}" for t, n in s["geometry_types"].items())
        print(f"{s['name']}: id {s['layer_id']}, {s['feature_count']} features ({types}), {s['vertex_count']} vertices")
        for note in s["notes"]:
            print(f"  note: {note}")
        for p in s["problems"][:20]:
            print(f"  problem: {p['feature'] or 'layer'}: {p['problem']}")
        if s["problem_count"] > 20:
            print(f"  … and {s['problem_count'] - 20} more problems")


def _import(app, args):
    from webapp.imports import service

    store = app.extensions["store"]
    user = _user(store, args.user)
    values = {"layer": args.layer, "layer_id": args.layer_id, "title": args.title, "description": args.description,
              "attribution": args.attribution, "licence": args.licence, "source_url": args.source_url,
              "geometry_quality": args.geometry_quality, "repair": args.repair, "skip_invalid": args.skip_invalid}
    options = service.options_from(values)
    start = time.perf_counter()
    staged = service.stage_file(app, args.file, args.file, user.id)
    try:
        if args.preview:
            _print_preview(service.preview(app, staged, options))
            return 0
        record = service.save(app, staged, user, options, public=args.public, replace_id=args.replace)
    finally:
        service.discard(staged)
    print(f"saved {record.id} version {record.number}: {record.feature_count} features, {record.vertex_count} "
          f"vertices, {'published' if record.public else 'private'} ({time.perf_counter() - start:.1f} s)")
    return 0


def _migrate(app, store, target_url):
    """Copy the configured store into the empty one ``target_url`` names, then compare the two."""
    from layers.store import open_store
    from layers.store.migrate import copy_store, differences

    if not target_url:
        raise BadParameter("to", "give the store to migrate into: --to postgresql://... or --to embedded")
    target = open_store("" if target_url == "embedded" else target_url, app.extensions["data_dir"])
    try:
        if target.location == store.location:
            raise BadParameter("to", f"{target.location} is the store being migrated")
        start = time.perf_counter()
        counts = copy_store(store, target)
        found = differences(store, target)
        for problem in found:
            print(f"differs: {problem}")
        print(f"migrated {store.location} to {target.location}: {counts.get('user', 0)} users, "
              f"{counts.get('token', 0)} tokens, {counts.get('layer', 0)} layers with {counts.get('version', 0)} "
              f"versions, {counts.get('audit', 0)} audit entries ({time.perf_counter() - start:.1f} s); "
              f"{'identical' if not found else 'NOT identical'} when compared row by row")
        return 0 if not found else 1
    finally:
        target.close()


def _password():
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise BadParameter("password", "the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def run(app, args):
    """Run one of :func:`add_commands`' subcommands inside ``app``; return the exit code."""
    from webapp.accounts.auth import hash_password, new_token
    from webapp.accounts.views import check_new_account

    store = app.extensions["store"]
    with app.app_context():
        if args.command == "import":
            return _import(app, args)
        if args.command == "user" and args.action == "add":
            if not args.name:
                raise BadParameter("name", "give the account name")
            password = _password()
            check_new_account(args.name, password)
            user = store.create_user(args.name, hash_password(password), actor="cli")
            print(f"account {user.name} created")
        elif args.command == "user":
            owned = {}
            for record in store.list_layers():
                owned[record.owner_id] = owned.get(record.owner_id, 0) + 1
            for user in store.users():
                print(f"{user.name:40s} {owned.get(user.id, 0):4d} layers  since {user.created_at}")
        elif args.command == "token":
            token, token_hash = new_token()
            store.create_token(_user(store, args.name).id, token_hash, args.label, actor="cli")
            print(token)
        elif args.command == "store" and args.action == "check":
            problems = store.check()
            for problem in problems:
                print(f"problem: {problem}")
            layers = store.list_layers()
            print(f"{'ok' if not problems else 'NOT ok'}: {len(layers)} layers, "
                  f"{sum(len(store.versions(r.id)) for r in layers)} versions checked ({store.location})")
            return 0 if not problems else 1
        elif args.command == "store" and args.action == "migrate":
            return _migrate(app, store, args.target)
        elif args.command == "store":
            if not args.path:
                raise BadParameter("path", "give the backup file to write")
            store.backup(args.path)
            print(f"backed up {store.location} to {args.path}")
        elif args.command == "layers":
            for r in store.list_layers():
                owner = store.user(user_id=r.owner_id) if r.owner_id is not None else None
                print(f"{r.id:32s} v{r.number:<4d} {r.feature_count:7d} features  "
                      f"{'public ' if r.public else 'private'}  {owner.name if owner else '-'}  {r.title}")
    return 0
