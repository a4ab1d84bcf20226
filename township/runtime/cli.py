"""Command line of the township core: ``python -m township <command> ...``.

Each subcommand is one ``_add_<name>(subparsers)`` function that registers its
parser and sets ``func`` to a handler taking the parsed arguments and returning
the exit code. To add a command, write such a function and list it in
`_COMMANDS`.

Exit codes: 0 success, 1 the input was read but broke rules, 2 the command
could not run (usage error, missing file, not JSON).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

from township.domain.policy import SEES_PERSONAL, STAFF
from township.domain.vocab import ROLES
from township.grids.mapping import GRID_FIELDS
from township.grids.validate import SLIVER_TOLERANCE_M, GridValidationError
from township.runtime.notify_cli import add_channels, add_notify


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _near_configured_grids() -> tuple[float, float] | None:
    """The middle of the configured grid file (GRIDS_FILE), if it is lon/lat: where the township roughly is."""
    import pyogrio

    from township.config import Settings
    from township.grids.crs import looks_lonlat

    try:
        info = pyogrio.read_info(Settings.from_env().grids_file, force_total_bounds=True)
        minx, miny, maxx, maxy = info["total_bounds"]
    except Exception:  # no usable configured file: no hint, the message lists every zone
        return None
    return ((minx + maxx) / 2, (miny + maxy) / 2) if looks_lonlat((minx, miny, maxx, maxy)) else None


def _validate_grids(args: argparse.Namespace) -> int:
    from township.grids.files import read_grid_files
    from township.grids.mapping import parse_map_option

    started = time.perf_counter()
    try:
        mapping = parse_map_option(args.map)
    except ValueError as exc:
        return _fail(str(exc))
    read = read_grid_files(args.files, layer=args.layer, crs=args.crs, encoding=args.encoding, mapping=mapping,
                           near=_near_configured_grids)
    named = " ".join(args.files)
    if not read.ok:
        for error in read.errors:
            print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        grids = read.validate()
    except GridValidationError as exc:
        print(f"INVALID: {named}")
        print(exc.report(limit=None))
        _print_notes(read.notes)
        return 1
    elapsed = time.perf_counter() - started

    kinds = Counter(grids.props(g)["kind"] for g in grids.ids(level=2))
    towns, level2, level3 = (len(grids.ids(level=n)) for n in (1, 2, 3))
    area = sum(grids.area_km2(g) for g in grids.ids(level=1))
    print(
        f"OK: {_plural(towns, 'town')}, {level2} villages/communities, "
        f"{_plural(level3, 'grid')} ({_plural(kinds['village'], 'village')} + "
        f"{_plural(kinds['community'], 'community', 'communities')}; "
        f"{area:,.1f} km²; sliver tolerance {SLIVER_TOLERANCE_M:g} m; "
        f"validated in {elapsed:.2f} s)"
    )
    _print_notes(read.notes)
    return 0


def _print_notes(notes: list[str]) -> None:
    """How the file was read (CRS, encoding, columns), after the verdict."""
    for note in notes:
        print(f"  read: {note}")


def _add_validate_grids(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate-grids",
        help="check a grid file (GeoJSON, Shapefile, GeoPackage, KML) against the grid rules",
        description="Validate the town/village/grid polygons of a GeoJSON FeatureCollection, a Shapefile "
        "(.shp with its sidecars, or a .zip of them), a GeoPackage or a KML/KMZ (docs/design.md §1); "
        "several files are read as the layers of one set (town, villages, grids). Exit 0 if valid, 1 with "
        "a numbered report of every violation, 2 if the file cannot be read.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="the grid file(s)")
    p.add_argument(
        "--crs",
        help="CRS of the coordinates, overriding the file's (.prj, GeoPackage SRS; GeoJSON and KML: lon/lat): "
        "EPSG:NNNN (e.g. EPSG:4546, a CGCS2000 Gauss-Krüger zone), or lon/lat in wgs84 (also cgcs2000), "
        "gcj02 (Amap/Tencent) or bd09 (Baidu); converted to WGS-84",
    )
    p.add_argument("--layer", help="GeoPackage/KML layer(s) to read, comma-separated (default: the polygon "
                   "layers, combined when each says its level)")
    p.add_argument("--encoding", help="text encoding of a Shapefile's .dbf (default: its .cpg, else "
                   "detected: UTF-8 or GB18030/GBK)")
    p.add_argument("--map", metavar="COLUMN=FIELD,...",
                   help=f"columns to read as grid fields, e.g. XZQDM=grid_id,所属=parent_id (fields: "
                   f"{', '.join(GRID_FIELDS)}); common Chinese headers are recognised without it")
    p.set_defaults(func=_validate_grids)


def _init(args: argparse.Namespace) -> int:
    from township.config import Settings
    from township.runtime.bootstrap import open_township

    settings = Settings.from_env()
    try:
        app_ctx = open_township(settings)
    except GridValidationError as exc:
        print(f"INVALID grid file {settings.grids_file} and no grids stored yet:")
        print(exc.report(limit=None))
        return 1
    load = app_ctx.grid_load
    snap = app_ctx.township.snapshot()
    print(f"store: {settings.database_url}")
    if load.error is not None:
        print(f"grid file {settings.grids_file} REJECTED, the stored grids stay in use:")
        print(load.error.report(limit=None))
    else:
        print(f"grids: {settings.grids_file} ({'installed' if load.installed else 'unchanged'})")
    print(f"{len(load.gridset)} grids, {len(snap.cases)} cases, {len(snap.warnings)} warnings, "
          f"{len(snap.resources)} resources")
    return 1 if load.error is not None else 0


def _add_init(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init",
        help="prepare the store: tables, the configured grid file, resources, demo data",
        description="Open the store named by DATABASE_URL, install GRIDS_FILE if it is valid and new "
        "(a file that fails leaves the stored grids in use and exits 1), load resources and, "
        "unless SEED_DEMO=0, a year of illustrative cases into an empty store.",
    )
    p.set_defaults(func=_init)


def _import(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from township.config import Settings
    from township.formats.imports import import_file
    from township.formats.tables import UnreadableFile
    from township.runtime.bootstrap import open_township

    # An import never seeds the demo year into the store it writes to.
    settings = replace(Settings.from_env(), seed_demo=False)
    try:
        ctx = open_township(settings)
    except GridValidationError as exc:
        return _fail(f"no grids stored and the grid file {settings.grids_file} is invalid:\n{exc.report()}")
    shown = [-1]

    def progress(done: int, total: int) -> None:
        pct = 100 * done // max(total, 1)
        if pct != shown[0]:  # one line per percent, not per chunk
            shown[0] = pct
            print(f"导入进度 {pct}%", file=sys.stderr, flush=True)

    try:
        report = import_file(ctx.township.engine, ctx.township.gridset, args.file, kind=args.kind,
                             mode=args.mode, default_source=args.source, progress=progress, crs=args.crs,
                             sla=ctx.settings.sla)
    except FileNotFoundError:
        return _fail(f"{args.file}: no such file")
    except (OSError, UnreadableFile) as exc:
        return _fail(f"{args.file}: {exc}")
    except ValueError as exc:  # e.g. an unknown --source
        return _fail(str(exc))
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def _add_import(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import cases or warnings from CSV, XLSX or GeoJSON",
        description="Import a hotline/grid-officer sheet (CSV in UTF-8 or GBK, XLSX; Chinese headers and "
        "labels accepted, times without zone are Beijing time) or a GeoJSON FeatureCollection into the "
        "store named by DATABASE_URL, in one transaction. Exit 0 if every row was stored, 1 if rows "
        "were rejected (one line each: 第N行 列X: reason), 2 if the file cannot be read.",
    )
    p.add_argument("file", help="a .csv, .xlsx, .geojson or .json file")
    p.add_argument("--kind", choices=("cases", "warnings", "households"), default="cases",
                   help="what the rows are (default cases; households: a village's register for evacuations)")
    p.add_argument("--mode", choices=("all", "good"), default="all",
                   help="all: store nothing if any row is bad (default); good: store the good rows")
    p.add_argument("--source", help="source of rows that name none, e.g. hotline or 市长热线")
    p.add_argument("--crs", type=str.lower, choices=("wgs84", "gcj02", "bd09"), default=None,
                   help="datum of the coordinates: wgs84 (default), gcj02 (Amap/Tencent), bd09 (Baidu)")
    p.set_defaults(func=_import)


def _token(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from township.accounts.tokens import create_token
    from township.config import Settings
    from township.store.engine import init_db, make_engine
    from township.store.models import Grid

    engine = make_engine(Settings.from_env().database_url)
    init_db(engine)
    with engine.connect() as conn:
        villages = conn.execute(select(Grid.grid_id).where(Grid.level == 2).order_by(Grid.grid_id)).scalars().all()
    if args.village and villages and args.village not in villages:
        return _fail(f"--village {args.village} unknown; allowed: {', '.join(villages)}")
    try:
        token = create_token(engine, args.name, args.role, args.village, args.handler)
    except ValueError as exc:
        return _fail(str(exc))
    print(token)
    print(f"token {args.name!r} (role {args.role}{', village ' + args.village if args.village else ''}"
          f"{', acting as handler ' + args.handler if args.handler else ''}) "
          f"created; it is shown only now. Roles that may write: {', '.join(sorted(STAFF))}; "
          f"personal data shown to: {', '.join(sorted(SEES_PERSONAL))}.", file=sys.stderr)
    return 0


def _add_role(p: argparse.ArgumentParser, what: str) -> None:
    """The role of a token or a user, from the vocabulary, and the village a village role needs."""
    p.add_argument("--role", required=True, choices=tuple(ROLES))
    p.add_argument("--village", help=f"the village of a village {what}, e.g. DL-03")


def _add_token(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "token",
        help="create an API token (printed once; only its SHA-256 is stored)",
        description="Create a bearer token for the HTTP API in the store named by DATABASE_URL and print it "
        "on stdout. admin, command and village tokens may write; a village token only in its village.",
    )
    p.add_argument("name", help="who holds the token, e.g. hotline-bridge (unique)")
    _add_role(p, "token")
    p.add_argument("--handler", help="the handler a responder token acts as in the closed loop, e.g. H-OF-DL-01-01")
    p.set_defaults(func=_token)


def _user(args: argparse.Namespace) -> int:
    import getpass

    from township.accounts.users import create_user
    from township.config import Settings
    from township.store.engine import init_db, make_engine

    engine = make_engine(Settings.from_env().database_url)
    init_db(engine)
    # The password from stdin when piped (scripts), else asked twice without echo.
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            return _fail("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        create_user(engine, args.username, password, args.role, args.village, args.name, args.handler)
    except ValueError as exc:
        return _fail(str(exc))
    print(f"user {args.username!r} (role {args.role}) created; sign in at /login", file=sys.stderr)
    return 0


def _add_user(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "user",
        help="create a user who signs in to the dashboard (password asked, or read from stdin)",
        description="Create a user in the store named by DATABASE_URL. The password is asked twice on a "
        "terminal or read as one line from stdin; only its scrypt hash is stored.",
    )
    p.add_argument("username", help="1 to 64 letters, digits, '_', '.', '-'")
    _add_role(p, "user")
    p.add_argument("--name", help="the name shown on screen and in the audit trail")
    p.add_argument("--handler", help="the handler a responder user acts as, e.g. H-OF-DL-01-01")
    p.set_defaults(func=_user)


def _escalate(args: argparse.Namespace) -> int:
    from township.config import Settings
    from township.loop.sweeps import escalate_overdue
    from township.store.engine import init_db, make_engine

    settings = Settings.from_env()
    sla = settings.sla
    if not sla.auto_escalate and not args.force:
        print("SLA_AUTO_ESCALATE is not set: nothing escalated (--force escalates anyway)", file=sys.stderr)
        return 0
    engine = make_engine(settings.database_url)
    init_db(engine)
    done = escalate_overdue(engine, actor="超期自动升级", sla=replace(sla, auto_escalate=True))
    print(f"escalated {len(done)} overdue case(s){': ' + ', '.join(map(str, done)) if done else ''}")
    return 0


def _add_escalate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "escalate",
        help="escalate every open case past its deadline by one tier (for cron under gunicorn)",
        description="One escalation sweep over the store named by DATABASE_URL, when SLA_AUTO_ESCALATE=1 "
        "(python app.py runs one every minute by itself). Each escalation starts the new tier's deadline "
        "and is written to the case's audit trail.",
    )
    p.add_argument("--force", action="store_true", help="sweep even if SLA_AUTO_ESCALATE is not set")
    p.set_defaults(func=_escalate)


def _import_staff(args: argparse.Namespace) -> int:
    from pathlib import Path

    from township.config import Settings
    from township.formats.roster import import_staff
    from township.formats.tables import UnreadableFile
    from township.runtime.bootstrap import open_township

    settings = replace(Settings.from_env(), seed_demo=False)
    try:
        ctx = open_township(settings)
        data = Path(args.file).read_bytes()
        report = import_staff(ctx.township.engine, ctx.township.gridset, data, Path(args.file).name,
                              mode=args.mode, accounts=args.accounts)
    except GridValidationError as exc:
        return _fail(f"no grids stored and the grid file {settings.grids_file} is invalid:\n{exc.report()}")
    except FileNotFoundError:
        return _fail(f"{args.file}: no such file")
    except (OSError, UnreadableFile) as exc:
        return _fail(f"{args.file}: {exc}")
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def _add_import_staff(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-staff",
        help="import a staff or party-member roster from CSV or XLSX into the handlers",
        description="Import grid officers, party members (党员中心户), volunteer teams, departments and legal "
        "advisers from a sheet with Chinese headers (姓名, 类别/身份, 网格编码/所属网格, 所属村/社区, 联系电话, "
        "党员中心户, 服务领域) in one transaction. Phones are checked and name one person each: a phone twice "
        "in the file, or stored under another name, is an error; stored under the same name, an update. "
        "Exit 0 if every row was stored, 1 if rows were rejected (第N行 列X: reason), 2 if the file cannot be read.",
    )
    p.add_argument("file", help="a .csv or .xlsx file")
    p.add_argument("--mode", choices=("all", "good"), default="all",
                   help="all: store nothing if any row is bad (default); good: store the good rows")
    p.add_argument("--accounts", action="store_true",
                   help="give every new person a responder sign-in (user name: the phone); the first "
                   "passwords are printed once, here")
    p.set_defaults(func=_import_staff)


#: Registration functions of all subcommands.
def _devices(args: argparse.Namespace) -> int:
    from township.accounts.devices import list_devices, revoke_device, revoke_user_devices
    from township.config import Settings
    from township.domain.isotime import local_text
    from township.store.engine import init_db, make_engine
    from township.store.models import User

    engine = make_engine(Settings.from_env().database_url)
    init_db(engine)
    if args.revoke is not None:
        if not revoke_device(engine, args.revoke):
            return _fail(f"no open device session {args.revoke} (see `python -m township devices`)")
        print(f"device session {args.revoke} revoked: that phone signs in again at /m/login", file=sys.stderr)
        return 0
    if args.revoke_user:
        from sqlalchemy import select
        from sqlalchemy.orm import Session

        with Session(engine) as s:
            uid = s.scalar(select(User.id).where(User.username == args.revoke_user))
        if uid is None:
            return _fail(f"no user {args.revoke_user!r}")
        n = revoke_user_devices(engine, uid)
        print(f"{_plural(n, 'device session')} of {args.revoke_user} revoked", file=sys.stderr)
        return 0
    rows = list_devices(engine, args.user)
    print(f"{'id':>5}  {'user':<12} {'state':<8} {'last seen':<16}  {'signed in':<16}  device")
    for d in rows:
        state = "active" if d.active else ("revoked" if d.revoked_at else "expired")
        print(f"{d.id:>5}  {d.username:<12} {state:<8} {local_text(d.last_seen_at):<16}  "
              f"{local_text(d.created_at):<16}  {d.user_agent[:60]}")
    return 0


def _add_devices(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "devices",
        help="list the field app's device sessions (phones signed in to /m), or revoke them",
        description="List the device sessions of the field app (/m) in the store named by DATABASE_URL, most "
        "recently seen first (times in Beijing time), or revoke one (a lost phone) or all of a user's.",
    )
    p.add_argument("--user", help="only this username's sessions")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--revoke", type=int, metavar="ID", help="revoke the session with this id")
    group.add_argument("--revoke-user", metavar="USERNAME", help="revoke every open session of this user")
    p.set_defaults(func=_devices)


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_validate_grids, _add_init, _add_import, _add_token, _add_user, _add_escalate, _add_devices,
    _add_import_staff, add_notify, add_channels,
]


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m township", description="Smart-township command map: core tools."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.func(args)
