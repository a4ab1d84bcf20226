"""Case → grid assignment: ``GridSet.locate`` against ``geopandas.sjoin``, on a store's own case points.

Both get the same WGS-84 lon/lat arrays (every case of the store) and the
same level-3 polygons, and both keep their spatial index between calls (our
`GridSet` its STRtree and lattice of cells, geopandas the polygon frame's
``sindex``), so each is timed twice: the first call (index built inside it)
and later calls (medians). The answers are compared point by point: they
must agree wherever ``sjoin`` finds exactly one grid (on a shared border it
lists every grid touching; ours picks the first id).

Run: ``.venv/bin/python -m bench.assign [--size township county city] [--runs 3]``.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import select

from township.grids.model import GridSet
from township.grids.validate import load_grid_file
from township.store.engine import make_engine
from township.store.models import Case

#: docs/design.md §4 at city scale: at least this many points a second, and this many times sjoin.
BUDGET_RATE, BUDGET_RATIO = 1e6, 2.0


def case_points(database_url: str) -> tuple[np.ndarray, np.ndarray]:
    """Every case's lon/lat in the store."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(Case.lon, Case.lat)).all()
    engine.dispose()
    xy = np.array(rows, dtype=float).reshape(-1, 2)
    return xy[:, 0], xy[:, 1]


def _fresh(gs: GridSet) -> GridSet:
    # A new GridSet over the same grids: its lattice is not built yet.
    return GridSet([gs.props(g) for g in gs], [gs.geometry(g) for g in gs])


def _sjoin(points_x: np.ndarray, points_y: np.ndarray, polygons: gpd.GeoDataFrame) -> pd.DataFrame:
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(points_x, points_y), crs=polygons.crs)
    return gpd.sjoin(pts, polygons, how="left", predicate="intersects")


def measure(grids_file: Path, database_url: str, runs: int = 3) -> list[dict]:
    """Rows of the assignment figures (see the module docstring) for one store."""
    t0 = time.perf_counter()
    gs = load_grid_file(grids_file)
    load_s = time.perf_counter() - t0
    x, y = case_points(database_url)
    leaves = gs.ids(level=3)
    polygons = gpd.GeoDataFrame({"grid_id": leaves}, geometry=[gs.geometry(g) for g in leaves], crs="EPSG:4326")

    ours_first, ours_warm, sj_first, sj_warm = [], [], [], []
    for _ in range(runs):
        fresh = _fresh(gs)
        t0 = time.perf_counter()
        got = fresh.locate(x, y)
        ours_first.append(time.perf_counter() - t0)
        for _ in range(2):
            t0 = time.perf_counter()
            fresh.locate(x, y)
            ours_warm.append(time.perf_counter() - t0)
        frame = polygons.copy()  # a frame without a built sindex
        t0 = time.perf_counter()
        joined = _sjoin(x, y, frame)
        sj_first.append(time.perf_counter() - t0)
        for _ in range(2):
            t0 = time.perf_counter()
            _sjoin(x, y, frame)
            sj_warm.append(time.perf_counter() - t0)

    # Same answers wherever sjoin finds one grid only.
    matches = joined.groupby(level=0)["grid_id"].agg(["count", "first"])
    single = (matches["count"] == 1).to_numpy()
    agree = bool((got[single] == matches["first"].to_numpy()[single]).all())
    if not agree:
        raise AssertionError("GridSet.locate and sjoin disagree on points inside one grid")
    n = x.size
    of, ow, sf, sw = (statistics.median(v) for v in (ours_first, ours_warm, sj_first, sj_warm))
    note = (f"{n:,} case points, {len(leaves):,} level-3 grids; answers agree on all {int(single.sum()):,} points "
            f"sjoin puts in one grid")
    return [
        {"what": "grid file load + validation", "ours": load_s, "peer": None, "peer_name": None, "unit": "s",
         "ratio": None, "note": f"{len(gs):,} grids"},
        {"what": "case → grid, first call (index built)", "ours": n / of / 1e6, "peer": n / sf / 1e6,
         "peer_name": "geopandas.sjoin", "unit": "M points/s", "ratio": sf / of, "note": note},
        {"what": "case → grid, later calls", "ours": n / ow / 1e6, "peer": n / sw / 1e6,
         "peer_name": "geopandas.sjoin", "unit": "M points/s", "ratio": sw / ow,
         "note": f"budget ≥ {BUDGET_RATE / 1e6:g} M points/s and ≥ {BUDGET_RATIO:g}× sjoin"},
    ]


def main(argv: list[str] | None = None) -> None:
    from bench.scale import build

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", nargs="+", default=["township", "county", "city"])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    for size in args.size:
        scale = build(size)
        for row in measure(scale.grids_file, scale.database_url, args.runs):
            ratio = f"{row['ratio']:.2f}×" if row["ratio"] else ""
            peer = f"{row['peer']:.2f}" if row["peer"] else ""
            print(f"{size:9} {row['what']:40} {row['ours']:8.2f} {peer:>8} {row['unit']:11} {ratio:>7}  {row['note']}")


if __name__ == "__main__":
    main()
