"""Time the hotspot analysis (Gi* with 999 permutations, trends, repeat spots) at township and county scale.

``.venv/bin/python -m bench.hotspots [township|county ...]``: the grids of `bench.scale.SIZES` (the bundled
Dalu grids, the county's 1,500-grid lattice) and a year of cases at that size's count, placed at random
points of random grids, heavier in a block of grids. Prints the weights' first build and an analysis
(median of three, each with its own choices so that nothing is reused).
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import shapely

from bench.scale import SIZES, make_grid_features
from township.grids.validate import load_grid_file, parse_grid_geojson
from township.read.hotspots import HotspotModel, analyse

DALU = "geodata/dalu_grids.geojson"


def cases_for(gridset, n: int, now: datetime, gen: np.random.Generator) -> pd.DataFrame:
    ids = gridset.ids(level=3)
    weight = np.ones(len(ids))
    weight[: max(1, len(ids) // 20)] = 8  # a block of heavier grids (ids sort by village, so neighbours)
    pick = gen.choice(len(ids), size=n, p=weight / weight.sum())
    centres = shapely.centroid(np.array([gridset.geometry(g) for g in ids], dtype=object))
    xy = shapely.get_coordinates(centres)[pick] + gen.normal(0, 0.002, (n, 2))
    return pd.DataFrame({"id": np.arange(n), "grid_id": np.array(ids, dtype=object)[pick], "lon": xy[:, 0],
                         "lat": xy[:, 1], "reported_at": pd.array(
                             [now - timedelta(seconds=float(s)) for s in gen.uniform(0, 365 * 86400, n)],
                             dtype="datetime64[us]")})


def run(size: str) -> None:
    spec = SIZES[size]
    t = time.perf_counter()
    gridset = (load_grid_file(DALU) if spec.nx == 0 else
               parse_grid_geojson({"type": "FeatureCollection", "features": make_grid_features(spec)},
                                  check_spatial=False))
    load_s = time.perf_counter() - t
    now = datetime(2026, 6, 1)
    cases = cases_for(gridset, spec.cases, now, np.random.default_rng(spec.seed))
    model = HotspotModel()
    t = time.perf_counter()
    model.weights(gridset)
    weights_s = time.perf_counter() - t
    times = []
    for window in ("30d", "90d", "365d"):
        t = time.perf_counter()
        result = analyse(model, gridset, cases, np.ones(len(cases), bool), now, window)
        times.append(time.perf_counter() - t)
    hot = int((result.frame["bin"] > 0).sum())
    print(f"{size}: {len(gridset.ids(level=3))} grids, {len(cases)} cases (grids loaded in {load_s:.1f} s); "
          f"weights {weights_s * 1000:.0f} ms; analysis 30d/90d/365d "
          f"{' / '.join(f'{x * 1000:.0f}' for x in times)} ms; 365d: {hot} hot grids")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sizes", nargs="*", help="township and/or county; default: both")
    for size in p.parse_args().sizes or ["township", "county"]:
        run(size)


if __name__ == "__main__":
    main()
