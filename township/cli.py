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
import json
import sys
import time
from collections import Counter
from typing import Callable, Sequence

from .gridset import SLIVER_TOLERANCE_M, GridValidationError, load_grid_file


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _validate_grids(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        grids = load_grid_file(args.file, crs=args.crs)
    except GridValidationError as exc:
        print(f"INVALID: {args.file}")
        print(exc.report(limit=None))
        return 1
    except FileNotFoundError:
        return _fail(f"{args.file}: no such file")
    except json.JSONDecodeError as exc:
        return _fail(f"{args.file}: not valid JSON ({exc})")
    except UnicodeDecodeError:
        return _fail(f"{args.file}: not UTF-8 text")
    except (OSError, ValueError) as exc:
        return _fail(f"{args.file}: {exc}")
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
    return 0


def _add_validate_grids(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate-grids",
        help="check a grid GeoJSON file against the grid rules",
        description="Validate a town/village/grid FeatureCollection (DESIGN.md §1). "
        "Exit 0 if valid, 1 with a numbered report of every violation, 2 if the "
        "file cannot be read.",
    )
    p.add_argument("file", help="GeoJSON FeatureCollection of the grids")
    p.add_argument(
        "--crs",
        type=str.lower,
        choices=("wgs84", "gcj02", "bd09"),
        default="wgs84",
        help="datum of the coordinates: wgs84 (also CGCS2000; default), "
        "gcj02 (Amap/Tencent) or bd09 (Baidu); converted to WGS-84",
    )
    p.set_defaults(func=_validate_grids)


#: Registration functions of all subcommands.
_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_validate_grids]


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
