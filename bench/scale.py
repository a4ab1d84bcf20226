"""Deterministic scale data: nested grid sets and a year of cases, and the app started on them.

Three sizes (`SIZES`), each written under ``var/scale/<size>/`` as
``grids.geojson`` and a SQLite store ``township.db``:

=========  =====================================================  ==========  ========
size       grids (town / village+community / grid)                cases       warnings
=========  =====================================================  ==========  ========
township   the bundled Dalu file: 1 / 15 / 146                    10,000      133
county     10 / ~120 / 1,500 on a jittered lattice                200,000     2,666
city       100 / ~2,000 / 50,000 on a jittered lattice            1,000,000   13,333
=========  =====================================================  ==========  ========

The generated grids tile a lon/lat rectangle round Dalu (inside the
EPSG:4546 zone, 109.5–112.5°E): a lattice of quadrilaterals with uneven
columns and rows, jittered corners and a bent midpoint on every edge, each
quadrilateral one level-3 grid. Villages are connected groups of grids grown
from well-spread seeds inside their town, towns the same over the whole
lattice; every parent is the coverage union of its children. Neighbours build
their rings from the very same rounded vertices, so the file passes
`township.grids.validate.load_grid_file` exactly (no slivers to tolerate).

Cases follow `township.runtime.demo`: its types, domains, sources, titles, tiers and
closed-loop timings, spread over a year by grid population, each point drawn
inside its own grid, with the audit trail (`CaseEvent`) of every step taken.
About one warning per 75 cases, a few percent of them still live, each with
the level-3 grids its radius reaches. Everything is written by SQLAlchemy
core ``executemany`` in one transaction that bumps the data version.

Deterministic: fixed seeds, so two builds give byte-identical ``grids.geojson``
files and, for the same ``now``, the same rows (``now`` defaults to the
current hour, so the year of history ends at the build).

Run from the project root::

    .venv/bin/python -m bench.scale build county        # or township, city, all
    PORT=8091 .venv/bin/python -m bench.scale run city  # builds if needed, then serves
    make run-scale SIZE=county

``run`` starts ``python app.py`` with `app_env` (no demo seeding, no demo
feed) and ``DEFAULT_ROLE=command``, so no sign-in is needed.
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from sqlalchemy import Connection, Table, event, insert

from geodata.generate import write_collection
from township.config import BUNDLED_GRIDS, ROOT
from township.domain.vocab import TIER_DAYS, WARNING_LEVELS, WARNING_TYPES
from township.grids.install import ensure_grids
from township.grids.model import GridSet
from township.runtime.demo import GIVEN, SURNAMES, TITLES, TYPE_DOMAINS, TYPE_SOURCES, YEARLY_CASES, _Rng
from township.store.engine import init_db, make_engine
from township.store.models import Case, CaseEvent, Warning, WarningGrid, bump_version, utcnow
from township.store.uow import session_scope

__all__ = ["SIZES", "SizeSpec", "Scale", "build", "app_env", "scale_dir", "main"]

#: Where the sizes are written: ``var/scale/<size>/`` (``var/`` is git-ignored).
OUT = ROOT / "var" / "scale"
#: Written last: a build with this file (and a matching spec) is complete and reused.
MARKER = "complete.json"
#: Bump when the generator changes, so older builds are rebuilt instead of reused.
GENERATOR_VERSION = 1
#: Cases (with their events) written per ``executemany`` batch.
BATCH = 25_000


@dataclass(frozen=True)
class SizeSpec:
    """One size: its grids and how many cases.

    Attributes
    ----------
    name : str
        ``township``, ``county`` or ``city``.
    cases : int
        Cases over the year.
    towns : int
        Level-1 grids (ignored for the bundled township).
    villages_per_town : int
        Level-2 grids per town, on average.
    nx, ny : int
        Lattice columns and rows: ``nx * ny`` level-3 grids. 0 means the bundled Dalu grids.
    extent : tuple of float
        ``(min_lon, min_lat, max_lon, max_lat)`` of the lattice.
    community_share : float
        Share of level-2 grids that are communities (社区: more households per grid).
    seed : int
        Seed of everything random in this size.
    """

    name: str
    cases: int
    towns: int = 1
    villages_per_town: int = 15
    nx: int = 0
    ny: int = 0
    extent: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    community_share: float = 0.2
    seed: int = 0

    @property
    def warnings(self) -> int:
        """About one warning per 75 cases (the demo year has one per 22, mostly cleared)."""
        return self.cases // 75

    @property
    def live_warnings(self) -> int:
        """Warnings still live (active, acknowledged or handling): 4 %, at least the demo's nine."""
        return max(9, round(self.warnings * 0.04))


#: The three sizes. Lattice cells are about 2.2 km (county) and 0.7 km (city) square.
SIZES: dict[str, SizeSpec] = {
    "township": SizeSpec("township", cases=10_000, seed=146),
    "county": SizeSpec("county", cases=200_000, towns=10, villages_per_town=12, nx=50, ny=30,
                       extent=(110.60, 39.70, 111.90, 40.30), seed=1_500),
    "city": SizeSpec("city", cases=1_000_000, towns=100, villages_per_town=20, nx=250, ny=200,
                     extent=(110.00, 39.40, 112.05, 40.66), seed=50_000),
}


@dataclass(frozen=True)
class Scale:
    """A built size: where its files are and what they hold."""

    size: str
    grids_file: Path
    database_url: str
    n_grids: dict[int, int]
    n_cases: int
    n_warnings: int
    n_case_events: int = 0


def scale_dir(size: str) -> Path:
    """``var/scale/<size>/``."""
    return OUT / size


def app_env(scale: Scale) -> dict[str, str]:
    """The environment that starts the app on ``scale`` (`township.config.Settings.from_env` names)."""
    return {
        "GRIDS_FILE": str(scale.grids_file),
        "DATABASE_URL": scale.database_url,
        "SEED_DEMO": "0",
        "DEMO_FEED": "0",
    }


# --------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------

# Syllables of the made-up place names (any pair is a plausible northern name).
_FIRST = "东西南北新老大小上下前后中高长红白黑金柳杨马沙石"
_SECOND = "沟梁湾滩塔营庄河山泉坪峁圪堡店川台窑渠湖"


def _place_names(n: int, gen: np.random.Generator) -> list[str]:
    """``n`` distinct two-character names (at most ``len(_FIRST) * len(_SECOND)``)."""
    combos = [a + b for a in _FIRST for b in _SECOND]
    if n > len(combos):
        raise ValueError(f"only {len(combos)} distinct names")
    return [combos[int(i)] for i in gen.permutation(len(combos))[:n]]


def _edges(n: int, gen: np.random.Generator) -> np.ndarray:
    """``n + 1`` increasing positions in [0, 1] with uneven gaps (0.6–1.4 of the mean)."""
    gaps = gen.uniform(0.6, 1.4, n)
    return np.concatenate([[0.0], np.cumsum(gaps) / gaps.sum()])


def _lattice(spec: SizeSpec, gen: np.random.Generator) -> np.ndarray:
    """The level-3 quadrilaterals as lon/lat polygons, ``(nx, ny)`` cells in row-major order.

    Corners are jittered by up to 22 % of the neighbouring gaps, and every edge
    gets one midpoint pushed sideways by up to 12 % of its length; both
    neighbours of an edge use the same rounded coordinates.
    """
    nx, ny = spec.nx, spec.ny
    x0, y0, x1, y1 = spec.extent
    ex, ey = _edges(nx, gen), _edges(ny, gen)
    gx = np.diff(ex)
    gy = np.diff(ey)
    # Half the smaller neighbouring gap bounds how far a corner may move.
    room_x = np.minimum(np.concatenate([[gx[0]], gx]), np.concatenate([gx, [gx[-1]]]))
    room_y = np.minimum(np.concatenate([[gy[0]], gy]), np.concatenate([gy, [gy[-1]]]))
    vx = ex[:, None] + gen.uniform(-0.22, 0.22, (nx + 1, ny + 1)) * room_x[:, None]
    vy = ey[None, :] + gen.uniform(-0.22, 0.22, (nx + 1, ny + 1)) * room_y[None, :]
    vx[0, :], vx[-1, :] = 0.0, 1.0  # the outline stays the rectangle
    vy[:, 0], vy[:, -1] = 0.0, 1.0
    vx = np.round(x0 + vx * (x1 - x0), 6)
    vy = np.round(y0 + vy * (y1 - y0), 6)

    def bent(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, straight: np.ndarray):
        # Midpoint of a→b pushed along the normal, in metres-ish units (lon scaled by cos lat).
        k = np.cos(np.radians((y0 + y1) / 2))
        dx, dy = (bx - ax) * k, by - ay
        t = gen.uniform(-0.12, 0.12, ax.shape) * ~straight
        return np.round((ax + bx) / 2 - t * dy / k, 6), np.round((ay + by) / 2 + t * dx, 6)

    # Horizontal edges (i, j)→(i+1, j): shape (nx, ny+1); the outline's stay straight.
    straight_h = np.zeros((nx, ny + 1), bool)
    straight_h[:, [0, -1]] = True
    hx, hy = bent(vx[:-1, :], vy[:-1, :], vx[1:, :], vy[1:, :], straight_h)
    # Vertical edges (i, j)→(i, j+1): shape (nx+1, ny).
    straight_v = np.zeros((nx + 1, ny), bool)
    straight_v[[0, -1], :] = True
    wx, wy = bent(vx[:, :-1], vy[:, :-1], vx[:, 1:], vy[:, 1:], straight_v)

    # Counter-clockwise ring of cell (i, j): bottom, right, top (backwards), left (backwards).
    ring_x = np.stack([vx[:-1, :-1], hx[:, :-1], vx[1:, :-1], wx[1:, :], vx[1:, 1:], hx[:, 1:],
                       vx[:-1, 1:], wx[:-1, :], vx[:-1, :-1]], axis=-1)
    ring_y = np.stack([vy[:-1, :-1], hy[:, :-1], vy[1:, :-1], wy[1:, :], vy[1:, 1:], hy[:, 1:],
                       vy[:-1, 1:], wy[:-1, :], vy[:-1, :-1]], axis=-1)
    coords = np.stack([ring_x, ring_y], axis=-1).reshape(nx * ny, 9, 2)
    return shapely.polygons(coords)


def _grow(cells: np.ndarray, centres: np.ndarray, neighbours: Callable[[int], Iterator[int]], k: int,
          gen: np.random.Generator) -> np.ndarray:
    """Split ``cells`` into ``k`` connected regions of similar size; return a label per cell.

    Seeds are k-means centres of the cell centres (a few Lloyd steps, so they
    are well spread); regions then grow from the cell nearest each seed,
    nearest first with a random stretch, so borders wander and every region is
    connected (it only ever takes a neighbour of a cell it holds).
    """
    k = min(k, len(cells))
    pts = centres[cells]
    seeds = pts[gen.choice(len(cells), k, replace=False)]
    for _ in range(8):
        near = ((pts[:, None, :] - seeds[None, :, :]) ** 2).sum(-1).argmin(1)
        for r in range(k):
            if (near == r).any():
                seeds[r] = pts[near == r].mean(0)
    start = np.unique(((pts[:, None, :] - seeds[None, :, :]) ** 2).sum(-1).argmin(0))
    where = {int(c): n for n, c in enumerate(cells)}
    label = np.full(len(cells), -1)
    stretch = gen.uniform(0.75, 1.25, len(cells))
    heap: list[tuple[float, int, int]] = []
    for r, s in enumerate(start):
        label[s] = r
    for r, s in enumerate(start):
        for c in neighbours(int(cells[s])):
            n = where.get(c)
            if n is not None and label[n] < 0:
                heapq.heappush(heap, (float(np.hypot(*(pts[n] - pts[s]))) * stretch[n], n, r))
    seed_of = pts[start]
    while heap:
        _, n, r = heapq.heappop(heap)
        if label[n] >= 0:
            continue
        label[n] = r
        for c in neighbours(int(cells[n])):
            m = where.get(c)
            if m is not None and label[m] < 0:
                heapq.heappush(heap, (float(np.hypot(*(pts[m] - seed_of[r]))) * stretch[m], m, r))
    # Relabel in spatial order (north first, then west) so ids read like a map.
    mid = np.array([pts[label == r].mean(0) for r in range(len(start))])
    order = np.lexsort((mid[:, 0], -np.round(mid[:, 1], 3)))
    relabel = np.empty(len(start), int)
    relabel[order] = np.arange(len(start))
    return relabel[label]


def _household_stats(n: int, community: np.ndarray, gen: np.random.Generator) -> dict[str, np.ndarray]:
    """Households, population and party members per grid, in Dalu's proportions."""
    hh = np.where(community, gen.integers(150, 601, n), gen.integers(40, 201, n))
    pop = np.round(hh * gen.uniform(2.3, 3.0, n)).astype(int)
    members = np.maximum(1, np.round(hh * gen.uniform(0.012, 0.035, n))).astype(int)
    central = np.minimum(members, np.maximum(1, np.round(members * gen.uniform(0.25, 0.5, n)))).astype(int)
    return {"households": hh, "population": pop, "party_members": members, "party_households": central}


def _geometry(geom: shapely.Geometry) -> dict:
    """GeoJSON geometry, exteriors counter-clockwise (RFC 7946); coordinates are already rounded."""
    return mapping(shapely.orient_polygons(geom))


def make_grid_features(spec: SizeSpec) -> list[dict]:
    """The grid features of a generated size: towns, then villages/communities, then grids."""
    gen = np.random.default_rng(spec.seed)
    cells = _lattice(spec, gen)
    nx, ny = spec.nx, spec.ny
    centres = shapely.get_coordinates(shapely.centroid(cells))
    centres[:, 0] *= np.cos(np.radians(centres[:, 1].mean()))  # roughly isotropic distances

    def neighbours(c: int) -> Iterator[int]:
        i, j = divmod(c, ny)
        if i > 0:
            yield c - ny
        if i < nx - 1:
            yield c + ny
        if j > 0:
            yield c - 1
        if j < ny - 1:
            yield c + 1

    everything = np.arange(nx * ny)
    town_of = _grow(everything, centres, neighbours, spec.towns, gen)
    n_towns = int(town_of.max()) + 1
    village_of = np.empty(nx * ny, int)  # a global village number
    village_town: list[int] = []
    for t in range(n_towns):
        members = np.flatnonzero(town_of == t)
        local = _grow(members, centres, neighbours, spec.villages_per_town, gen)
        village_of[members] = local + len(village_town)
        village_town += [t] * (int(local.max()) + 1)
    n_villages = len(village_town)

    people = _Rng(gen)
    town_names = _place_names(n_towns, gen)
    town_w = len(str(n_towns))
    town_ids = [f"T{t + 1:0{town_w}d}" for t in range(n_towns)]
    community = gen.random(n_villages) < spec.community_share
    village_ids: list[str] = []
    village_names: list[str] = []
    for t in range(n_towns):
        vs = [v for v in range(n_villages) if village_town[v] == t]
        names = _place_names(len(vs), gen)
        for k, (v, name) in enumerate(zip(vs, names, strict=True)):
            village_ids.append(f"{town_ids[t]}-{k + 1:02d}")
            village_names.append(name + ("社区" if community[v] else "村"))

    stats = _household_stats(nx * ny, community[village_of], gen)
    grid_rows: list[dict[str, Any]] = []
    grid_ids = np.empty(nx * ny, object)
    for v in range(n_villages):
        members = np.flatnonzero(village_of == v)
        # Grids numbered north-west first, as on the village's map.
        members = members[np.lexsort((centres[members, 0], -np.round(centres[members, 1], 4)))]
        for k, c in enumerate(members):
            gid = f"{village_ids[v]}-{k + 1:02d}"
            grid_ids[c] = gid
            grid_rows.append({"cell": int(c), "grid_id": gid, "name": f"{village_names[v]}第{k + 1}网格",
                              "parent_id": village_ids[v]})

    sums = ("households", "population", "party_members", "party_households")
    v_geoms = [shapely.coverage_union_all(cells[village_of == v]) for v in range(n_villages)]
    t_geoms = [shapely.coverage_union_all(np.array(v_geoms, object)[np.array(village_town) == t])
               for t in range(n_towns)]
    features: list[dict] = []
    for t in range(n_towns):
        mask = town_of == t
        features.append(_feature(t_geoms[t], {
            "grid_id": town_ids[t], "name": town_names[t] + "镇", "level": 1, "parent_id": None, "kind": "town",
            **{k: int(stats[k][mask].sum()) for k in sums}}))
    for v in range(n_villages):
        mask = village_of == v
        features.append(_feature(v_geoms[v], {
            "grid_id": village_ids[v], "name": village_names[v], "level": 2,
            "parent_id": town_ids[village_town[v]], "kind": "community" if community[v] else "village",
            "officer": people.name(), "officer_phone": people.phone(),
            **{k: int(stats[k][mask].sum()) for k in sums}}))
    for row in grid_rows:
        c = row.pop("cell")
        features.append(_feature(cells[c], {
            **row, "level": 3, "kind": "grid", "officer": people.name(), "officer_phone": people.phone(),
            **{k: int(stats[k][c]) for k in sums}}))
    return features


def _feature(geom: shapely.Geometry, props: dict) -> dict:
    return {"type": "Feature", "properties": props, "geometry": _geometry(geom)}


def write_grids(spec: SizeSpec, path: Path) -> None:
    """Write the size's grid file (the bundled Dalu file for ``township``), atomically."""
    tmp = path.with_suffix(".tmp")
    if spec.nx == 0:
        shutil.copyfile(BUNDLED_GRIDS, tmp)
    else:
        meta = {"title": f"scale test grids: {spec.name} (generated, not real boundaries)",
                "generator": "bench/scale.py", "seed": spec.seed}
        write_collection(tmp, make_grid_features(spec), meta)
    tmp.replace(path)


# --------------------------------------------------------------------------
# Cases, events and warnings
# --------------------------------------------------------------------------

#: The steps of the closed loop as `township.runtime.demo` plays them: action, from, to, note.
_STEPS = [
    ("report", None, "reported", "上报"),
    ("dispatch", "reported", "dispatched", None),  # note: 派单给<handler>
    ("accept", "dispatched", "accepted", "已接单"),
    ("start", "accepted", "in_progress", "开始处置"),
    ("resolve", "in_progress", "resolved", "处置完毕"),
    ("close", "resolved", "closed", "回访满意,销号"),
]
_TIER_P = {"grid": 0.72, "village": 0.18, "township": 0.08, "county": 0.02}
#: Warning types through the year, as `township.runtime.demo` weighs the cleared ones.
_WARNING_TYPE_P = {"ice_flood": 1, "geological": 1, "gale": 2, "blizzard": 1, "road_icing": 2, "sandstorm": 2,
                   "fire": 1, "chemical_leak": 0.5, "subsidence": 0.5, "public_security": 1}
_US_PER_H = 3_600_000_000


@dataclass
class _Leaves:
    """The level-3 grids as arrays, for drawing points in them."""

    ids: np.ndarray
    villages: np.ndarray
    names: np.ndarray
    officers: np.ndarray
    population: np.ndarray
    geoms: np.ndarray

    @classmethod
    def of(cls, gridset: GridSet) -> _Leaves:
        ids = gridset.ids(level=3)
        props = [gridset.props(g) for g in ids]
        geoms = np.array([gridset.geometry(g) for g in ids], dtype=object)
        shapely.prepare(geoms)
        return cls(
            ids=np.array(ids, object),
            villages=np.array([gridset.village_of(g) for g in ids], object),
            names=np.array([p["name"] for p in props], object),
            officers=np.array([p.get("officer") or "网格员" for p in props], object),
            population=np.array([max(p.get("population") or 1, 1) for p in props], float),
            geoms=geoms,
        )

    def points(self, owner: np.ndarray, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A point strictly inside grid ``owner[i]`` for each i, rounded to 6 decimals as stored."""
        bounds = shapely.bounds(self.geoms)
        x, y = np.empty(owner.size), np.empty(owner.size)
        todo = np.arange(owner.size)
        while todo.size:
            b = bounds[owner[todo]]
            tx = np.round(gen.uniform(b[:, 0], b[:, 2]), 6)
            ty = np.round(gen.uniform(b[:, 1], b[:, 3]), 6)
            inside = shapely.contains_xy(self.geoms[owner[todo]], tx, ty)
            x[todo[inside]], y[todo[inside]] = tx[inside], ty[inside]
            todo = todo[~inside]
        return x, y


def _names(n: int, gen: np.random.Generator) -> list[str]:
    """``n`` fictitious names from `township.runtime.demo`'s surnames and given-name characters."""
    sur = gen.integers(len(SURNAMES), size=n)
    given = gen.integers(len(GIVEN), size=(n, 2))
    two = gen.random(n) < 0.5
    return [SURNAMES[s] + GIVEN[a] + (GIVEN[b] if t else "")
            for s, (a, b), t in zip(sur.tolist(), given.tolist(), two.tolist(), strict=True)]


def _phones(n: int, gen: np.random.Generator) -> list[str]:
    """``n`` fictitious mobile numbers (13…, 15…, 18…)."""
    second = np.array([3, 5, 8])[gen.integers(3, size=n)]
    rest = gen.integers(0, 10**9, size=n)
    return [f"1{a}{b:09d}" for a, b in zip(second.tolist(), rest.tolist(), strict=True)]


def _pick(keys_p: dict[str, float], n: int, gen: np.random.Generator) -> np.ndarray:
    keys = list(keys_p)
    p = np.array([keys_p[k] for k in keys], float)
    return np.array(keys, object)[gen.choice(len(keys), size=n, p=p / p.sum())]


def _by_group(groups: np.ndarray, table: dict[str, dict[str, float]], gen: np.random.Generator) -> np.ndarray:
    """For each element, a key drawn from ``table[its group]`` (e.g. a domain for each case type)."""
    out = np.empty(groups.size, object)
    for g, p in table.items():
        mask = groups == g
        if mask.any():
            out[mask] = _pick(p, int(mask.sum()), gen)
    return out


@dataclass
class _Cases:
    """A year of cases as column arrays, and the events of each."""

    columns: dict[str, np.ndarray | list]
    events: list[tuple[np.ndarray, dict[str, Any]]]  # per step: (mask over cases, columns)


def make_cases(leaves: _Leaves, n: int, now: datetime, gen: np.random.Generator) -> _Cases:
    """``n`` cases over the year before ``now``, played through the loop as `township.runtime.demo` does."""
    types = list(YEARLY_CASES)
    p = np.array([YEARLY_CASES[t] for t in types], float)
    ctype = np.array(types, object)[gen.choice(len(types), size=n, p=p / p.sum())]
    owner = gen.choice(leaves.ids.size, size=n, p=leaves.population / leaves.population.sum())
    lon, lat = leaves.points(owner, gen)
    domain = _by_group(ctype, TYPE_DOMAINS, gen)
    source = _by_group(ctype, TYPE_SOURCES, gen)
    tier = _pick(_TIER_P, n, gen)
    title = np.empty(n, object)
    for d, options in TITLES.items():
        mask = domain == d
        title[mask] = np.array(options, object)[gen.integers(len(options), size=int(mask.sum()))]

    now64 = np.datetime64(now, "us")
    age_us = (gen.uniform(0, 365, n) * 86_400e6 + gen.uniform(0, 60, n) * 60e6).astype("int64")
    reported = now64 - age_us.astype("timedelta64[us]")
    sla_days = np.where(ctype == "hotline", 5, np.vectorize(TIER_DAYS.get, otypes=[int])(tier))
    deadline = reported + (sla_days * 86_400_000_000).astype("timedelta64[us]")
    dispatch_h = gen.exponential(2.0, n)
    accept_h = dispatch_h + gen.exponential(3.0, n)
    resolve_h = accept_h + gen.lognormal(np.log(sla_days * 24 * 0.4), 0.6)
    resolve_h = np.where(gen.random(n) < 0.1, resolve_h * gen.uniform(3, 12, n), resolve_h)  # hard cases
    close_h = resolve_h + gen.uniform(24, 120, n)
    hours = np.stack([np.zeros(n), dispatch_h, accept_h, (accept_h + resolve_h) / 2, resolve_h, close_h], 1)
    at = reported[:, None] + (hours * _US_PER_H).astype("int64").astype("timedelta64[us]")
    steps = (at <= now64).sum(1)  # the steps taken by now (times only grow along the loop)
    # The escalation is logged right after dispatch: a case not dispatched yet is still at grid tier.
    tier = np.where(steps >= 2, tier, "grid").astype(object)
    cancel = (gen.random(n) < 0.01) & (steps >= 3)  # withdrawn when it would have been accepted
    cancel_at = reported + ((dispatch_h + 1) * _US_PER_H).astype("int64").astype("timedelta64[us]")
    status = np.array([s[2] for s in _STEPS], object)[steps - 1]
    status[cancel] = "cancelled"
    updated = np.where(cancel, cancel_at, at[np.arange(n), steps - 1])
    nat = np.datetime64("NaT", "us")
    resolved = np.where((steps >= 5) & ~cancel, at[:, 4], nat)
    closed = np.where((steps >= 6) & ~cancel, at[:, 5], nat)
    handler = np.where(tier == "grid", leaves.officers[owner], np.array(_names(n, gen), object))
    columns: dict[str, np.ndarray | list] = {
        "id": np.arange(1, n + 1), "source": source,
        "external_id": np.array([f"SCALE-{i:07d}" for i in range(1, n + 1)], object),
        "type": ctype, "domain": domain, "status": status,
        "tier": tier, "max_tier": tier, "title": title,
        "description": leaves.names[owner] + ":" + title,
        "lon": lon, "lat": lat, "grid_id": leaves.ids[owner], "village_id": leaves.villages[owner],
        "reporter": np.array(_names(n, gen), object), "reporter_phone": np.array(_phones(n, gen), object),
        "handler": np.where(status == "reported", None, handler),
        "reported_at": reported, "updated_at": updated, "deadline_at": deadline,
        "resolved_at": resolved, "closed_at": closed,
    }

    # The audit trail, in the order `township.runtime.demo` writes it: the steps taken, an
    # escalation right after dispatch for cases above grid tier, a withdrawal.
    dispatched = steps >= 2
    events: list[tuple[np.ndarray, dict[str, Any]]] = []
    actor_of = {"report": "群众", "dispatch": "指挥中心", "close": "指挥中心"}
    for k, (action, frm, to, note) in enumerate(_STEPS):
        mask = (steps > k) & (~cancel if k >= 2 else True)
        cols = {"at": at[:, k], "actor": actor_of.get(action, handler), "action": action,
                "from_status": frm, "to_status": to, "from_tier": None, "to_tier": None,
                "note": "派单给" + handler if note is None else note}
        events.append((mask, cols))
        if action == "dispatch":
            events.append((dispatched & (tier != "grid"), {
                "at": at[:, 1], "actor": "指挥中心", "action": "escalate", "from_status": "dispatched",
                "to_status": "dispatched", "from_tier": "grid", "to_tier": tier, "note": "上报上级化解"}))
    events.append((cancel, {"at": cancel_at, "actor": "指挥中心", "action": "cancel", "from_status": "dispatched",
                            "to_status": "cancelled", "from_tier": None, "to_tier": None, "note": "群众撤回诉求"}))
    return _Cases(columns, events)


def _text_times(values: np.ndarray) -> np.ndarray:
    """datetime64 → the text SQLAlchemy's SQLite ``DateTime`` stores (``2024-04-09 08:30:00.000000``); NaT → None."""
    text = np.char.replace(np.datetime_as_string(values.astype("datetime64[us]"), unit="us"), "T", " ")
    return np.where(np.isnat(values), None, text.astype(object))


def _column(col: Any, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of a column array, or a scalar repeated, ready for the driver."""
    if not isinstance(col, np.ndarray):
        return np.full(idx.size, col, dtype=object)
    part = col[idx]
    return _text_times(part) if part.dtype.kind == "M" else part


def _executemany(conn: Connection, table: Table, columns: dict[str, np.ndarray]) -> int:
    """One ``executemany`` of equal-length column arrays into ``table``; return the row count.

    The statement is the models' INSERT, compiled for the connection's dialect;
    rows go to the driver as tuples of plain values (times as the text SQLite
    stores), which skips SQLAlchemy's per-value bind processing: about half
    of the time of a million-row insert otherwise.
    """
    keys = list(columns)
    sql = str(insert(table).compile(dialect=conn.dialect, column_keys=keys))
    values = [c.tolist() for c in columns.values()]
    conn.exec_driver_sql(sql, list(zip(*values, strict=True)))
    return len(values[0]) if values else 0


def _drop_indexes(conn: Connection, tables: list[Table]) -> list[str]:
    """Drop the named indexes of ``tables`` (SQLite); return their DDL to recreate them after a bulk load.

    Building an index once over sorted keys is much cheaper than updating it
    row by row. Unique constraints (SQLite's automatic indexes) stay.
    """
    names = ", ".join(f"'{t.name}'" for t in tables)
    found = conn.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({names}) "
        "ORDER BY name").all()
    for name, _sql in found:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _name, sql in found]


def _write_cases(conn: Connection, cases: _Cases, version: int) -> int:
    """Insert cases and their events, ``BATCH`` cases at a time; return how many events."""
    n = len(cases.columns["id"])
    n_events = 0
    for start in range(0, n, BATCH):
        idx = np.arange(start, min(start + BATCH, n))
        _executemany(conn, Case.__table__, {**{k: _column(c, idx) for k, c in cases.columns.items()},
                                            "version": _column(version, idx)})
        # Events case by case (a case's trail is read in id order), steps in loop order.
        sels = [idx[mask[idx]] if isinstance(mask, np.ndarray) else idx for mask, _ in cases.events]
        case_of = np.concatenate(sels)
        order = np.lexsort((np.concatenate([np.full(sel.size, k) for k, sel in enumerate(sels)]), case_of))
        keys = list(cases.events[0][1])
        pairs = list(zip(cases.events, sels, strict=True))
        cols = {k: np.concatenate([_column(cols[k], sel) for (_, cols), sel in pairs])[order] for k in keys}
        n_events += _executemany(conn, CaseEvent.__table__, {"case_id": case_of[order] + 1, **cols})
    return n_events


def make_warnings(leaves: _Leaves, spec: SizeSpec, now: datetime, gen: np.random.Generator) -> dict[str, Any]:
    """The size's warnings: ``spec.live_warnings`` live ones from the last day, the rest cleared through the year."""
    n, live = spec.warnings, spec.live_warnings
    owner = gen.integers(leaves.ids.size, size=n)
    lon, lat = leaves.points(owner, gen)
    wtype = _pick(_WARNING_TYPE_P, n, gen)
    level = gen.choice([1, 2, 3, 4], size=n, p=[0.05, 0.2, 0.4, 0.35])
    status = np.full(n, "cleared", object)
    status[:live] = _pick({"active": 0.6, "acknowledged": 0.2, "handling": 0.2}, live, gen)
    age_h = np.where(np.arange(n) < live, gen.uniform(0.5, 20, n), gen.uniform(3 * 24, 360 * 24, n))
    issued = np.datetime64(now, "us") - (age_h * _US_PER_H).astype("int64").astype("timedelta64[us]")
    zh = {t: v["zh"] for t, v in WARNING_TYPES.items()}
    return {
        "id": np.arange(1, n + 1), "source": "scale",
        "external_id": np.array([f"SCALE-W-{i + 1:06d}" for i in range(n)], object),
        "type": wtype, "level": level, "status": status,
        "title": np.array([f"{zh[t]}{WARNING_LEVELS[int(lv)]['zh']}预警"
                           for t, lv in zip(wtype, level, strict=True)], object),
        "description": "示意数据", "lon": lon, "lat": lat,
        "radius_m": np.round(np.where(np.arange(n) < live, gen.uniform(1, 6, n), gen.uniform(1, 5, n)) * 1000, 1),
        "grid_id": leaves.ids[owner], "village_id": leaves.villages[owner],
        "issued_at": issued, "expires_at": issued + np.timedelta64(2, "D"), "updated_at": issued,
        "created_at": issued,  # migration 0005's column: one insert of many rows needs every column given
    }


# --------------------------------------------------------------------------
# Building a size
# --------------------------------------------------------------------------


def _marker(size: str) -> Path:
    return scale_dir(size) / MARKER


def _spec_key(spec: SizeSpec) -> dict:
    return {"generator": GENERATOR_VERSION, **asdict(spec)}


def _reuse(size: str) -> Scale | None:
    """The finished build of ``size``, if its marker is there and matches the current spec."""
    try:
        done = json.loads(_marker(size).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    scale = done.get("scale", {})
    if done.get("spec") != json.loads(json.dumps(_spec_key(SIZES[size]))):
        return None
    grids, db = Path(scale.get("grids_file", "")), scale_dir(size) / "township.db"
    if not (grids.is_file() and db.is_file()):
        return None
    scale["grids_file"] = grids
    scale["n_grids"] = {int(k): v for k, v in scale["n_grids"].items()}
    return Scale(**scale)


def _bulk_pragmas(dbapi_conn, _record) -> None:
    # This process alone writes the new file, once: no fsync per commit (the file is
    # checkpointed and synced at the end) and a cache big enough to hold the indexes.
    dbapi_conn.execute("PRAGMA synchronous=OFF")
    dbapi_conn.execute("PRAGMA cache_size=-1000000")  # KiB: up to 1 GB


def _clear(directory: Path) -> None:
    _marker(directory.name).unlink(missing_ok=True)  # incomplete from here on
    for name in ("township.db", "township.db-wal", "township.db-shm", "grids.geojson", "grids.tmp"):
        (directory / name).unlink(missing_ok=True)


def build(size: str, now: datetime | None = None, force: bool = False,
          log: Callable[[str], None] | None = None) -> Scale:
    """Build ``var/scale/<size>/`` (or reuse a complete earlier build) and describe it.

    Parameters
    ----------
    size : str
        A key of `SIZES`.
    now : datetime, optional
        End of the year of history (naive UTC); default the current hour.
    force : bool
        Rebuild even when a complete build is there.
    log : callable, optional
        Receives one line per step with its time (the CLI prints them).

    Returns
    -------
    Scale
    """
    spec = SIZES[size]
    say = log or (lambda _line: None)
    if not force and (done := _reuse(size)) is not None:
        say(f"{size}: reusing the complete build in {scale_dir(size)}")
        return done
    directory = scale_dir(size)
    directory.mkdir(parents=True, exist_ok=True)
    _clear(directory)
    now = now or utcnow().replace(minute=0, second=0, microsecond=0)
    grids_file, db = directory / "grids.geojson", directory / "township.db"
    url = f"sqlite:///{db}"
    times: dict[str, dict[str, float]] = {}
    cpu = time.process_time()

    def step(name: str, t0: float, what: str = "") -> float:
        # Wall and CPU time: on a shared machine the wall clock also counts other people's work.
        nonlocal cpu
        times[name] = {"wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(time.process_time() - cpu, 2)}
        say(f"{size}: {name:<16} {times[name]['wall_s']:7.1f} s (CPU {times[name]['cpu_s']:6.1f} s)  {what}")
        cpu = time.process_time()
        return time.perf_counter()

    t = time.perf_counter()
    write_grids(spec, grids_file)
    t = step("grids file", t, f"{grids_file} ({grids_file.stat().st_size / 1e6:.1f} MB)")
    engine = make_engine(url)
    event.listen(engine, "connect", _bulk_pragmas)  # after the store's own pragmas
    init_db(engine)
    # As the app loads it at start, so the store records that this file passed
    # validation and the app's start does not validate it again (10 s at city scale).
    gridset = ensure_grids(engine, grids_file).gridset
    n_grids = {lvl: len(gridset.ids(level=lvl)) for lvl in (1, 2, 3)}
    t = step("store + grids", t, f"{db} (schema, ensure_grids: {n_grids[1]} towns, "
                                 f"{n_grids[2]} villages/communities, {n_grids[3]} grids)")

    gen = np.random.default_rng(spec.seed + 1)
    leaves = _Leaves.of(gridset)
    cases = make_cases(leaves, spec.cases, now, gen)
    warnings = make_warnings(leaves, spec, now, gen)
    reach = [gridset.grids_within(x, y, r)
             for x, y, r in zip(warnings["lon"].tolist(), warnings["lat"].tolist(), warnings["radius_m"].tolist(),
                                strict=True)]
    t = step("generate rows", t, f"{spec.cases:,} cases, {spec.warnings:,} warnings")
    with session_scope(engine) as s:
        conn = s.connection()
        version = bump_version(s)
        indexes = _drop_indexes(conn, [Case.__table__, CaseEvent.__table__])
        n_events = _write_cases(conn, cases, version)
        for sql in indexes:  # rebuilt from the very DDL they were made with
            conn.exec_driver_sql(sql)
        every = np.arange(spec.warnings)
        _executemany(conn, Warning.__table__, {**{k: _column(c, every) for k, c in warnings.items()},
                                               "version": _column(version, every)})
        n_pairs = _executemany(conn, WarningGrid.__table__, {
            "warning_id": np.repeat(every + 1, [len(r) for r in reach]),
            "grid_id": np.array([g for r in reach for g in r], object)})
    t = step("insert rows", t, f"{spec.cases:,} cases, {n_events:,} events, {spec.warnings:,} warnings, "
                               f"{n_pairs:,} warning-grid pairs, data version {version}")
    engine.dispose()
    with sqlite3.connect(db) as raw:  # fold the WAL into the file, so it is complete on its own
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    t = step("checkpoint", t, f"{db.stat().st_size / 1e6:.0f} MB")

    scale = Scale(size, grids_file, url, n_grids, spec.cases, spec.warnings, n_events)
    record = {"spec": _spec_key(spec), "now": now.isoformat(), "seconds": times,
              "scale": {**asdict(scale), "grids_file": str(grids_file)}}
    _marker(size).write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return scale


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``build township|county|city|all [--force]`` or ``run <size>``."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write var/scale/<size>/ (reused when complete)")
    b.add_argument("size", choices=[*SIZES, "all"])
    b.add_argument("--force", action="store_true", help="rebuild even when a complete build is there")
    r = sub.add_parser("run", help="build if needed, then serve the app on it (PORT, HOST as usual)")
    r.add_argument("size", choices=list(SIZES))
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, flush=True)

    if args.command == "build":
        for size in (list(SIZES) if args.size == "all" else [args.size]):
            t0 = time.perf_counter()
            scale = build(size, force=args.force, log=say)
            say(f"{size}: done in {time.perf_counter() - t0:.1f} s: {scale}")
        return 0
    scale = build(args.size, log=say)
    env = {**os.environ, **app_env(scale)}
    env.setdefault("DEFAULT_ROLE", "command")
    say(f"{args.size}: serving on http://{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '8050')} "
        f"({' '.join(f'{k}={v}' for k, v in app_env(scale).items())} DEFAULT_ROLE={env['DEFAULT_ROLE']})")
    os.chdir(ROOT)
    os.execve(sys.executable, [sys.executable, "app.py"], env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
