"""Views: what one filter state shows of a snapshot, as numpy masks and counts.

A filter change costs a few masks over the `township.read.snapshot.Snapshot`
frames, never a database round trip. `make_view` applies a whole
`township.domain.filters.FilterState` at once; the masks, counts and
per-grid measures it is made of are public, as the wall, the responder
page, the stats section and the benches use them on their own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from township.domain.filters import WINDOWS, FilterState
from township.domain.vocab import DONE_STATUSES, LIVE_WARNING_STATUSES, OPEN_STATUSES, WARNING_LEVELS
from township.grids.model import GridSet
from township.grids.spatial import distance_m
from township.read.snapshot import Snapshot
from township.store.models import utcnow


def overdue_mask(cases: pd.DataFrame, now: datetime) -> np.ndarray:
    """Cases still open past their deadline: computed at ``now``, never stored."""
    return cases["status"].isin(OPEN_STATUSES).to_numpy() & (cases["deadline_at"].to_numpy() < np.datetime64(now))


def case_mask(cases: pd.DataFrame, f: FilterState, now: datetime) -> np.ndarray:
    """Which cases the filter keeps.

    The time window applies to when a case was reported, but open cases are
    always kept: the backlog must never drop out of sight.
    """
    keep = np.ones(len(cases), bool)
    if f.village:
        keep &= cases["village_id"].isin(f.village).to_numpy()
    for name in ("domain", "status", "type"):
        chosen = getattr(f, name)
        if chosen:
            keep &= cases[name].isin(chosen).to_numpy()
    days = WINDOWS[f.window]
    if days is not None:
        recent = cases["reported_at"].to_numpy() >= np.datetime64(now - timedelta(days=days))
        keep &= recent | cases["status"].isin(OPEN_STATUSES).to_numpy()
    return keep


def warning_mask(snap: Snapshot, f: FilterState) -> np.ndarray:
    """Live warnings of the chosen levels that reach the chosen villages."""
    w = snap.warnings
    keep = w["status"].isin(LIVE_WARNING_STATUSES).to_numpy().copy()
    if f.wlevel:
        keep &= w["level"].isin(f.wlevel).to_numpy()
    if f.village:
        # Only the warnings still kept are looked at: a city's reach lists hold a million grids.
        prefixes = tuple(v + "-" for v in f.village)
        cand = np.flatnonzero(keep)
        reach = np.array([any(g.startswith(prefixes) for g in snap.warning_grids.get(wid, ()))
                          for wid in w["id"].to_numpy()[cand]], bool)
        keep[cand] = reach | w["village_id"].isin(f.village).to_numpy()[cand]
    return keep


@dataclass(frozen=True)
class Headline:
    """The headline figures of a filtered set of cases and warnings."""

    total: int
    open: int
    overdue: int
    done_rate: float | None  # 办结率: resolved + closed over all
    ontime_rate: float | None  # 按期办结率: done by the deadline over all done
    village_rate: float | None  # 村级化解率: done without leaving the village tier, over all done
    warnings: dict[int, int] = field(default_factory=dict)  # live warnings by level


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def headline(cases: pd.DataFrame, warnings: pd.DataFrame, now: datetime) -> Headline:
    """Compute the headline figures of already-filtered cases and warnings."""
    done = cases["status"].isin(DONE_STATUSES).to_numpy()
    ontime = done & (cases["resolved_at"].to_numpy() <= cases["deadline_at"].to_numpy())
    in_village = done & cases["max_tier"].isin(("grid", "village")).to_numpy()
    n_done = int(done.sum())
    counts = warnings["level"].value_counts()
    return Headline(
        total=len(cases),
        open=int(cases["status"].isin(OPEN_STATUSES).sum()),
        overdue=int(overdue_mask(cases, now).sum()),
        done_rate=_rate(n_done, len(cases)),
        ontime_rate=_rate(int(ontime.sum()), n_done),
        village_rate=_rate(int(in_village.sum()), n_done),
        warnings={lv: int(counts.get(lv, 0)) for lv in WARNING_LEVELS},
    )


def leaf_counts(cases: pd.DataFrame, gridset: GridSet, mask: np.ndarray) -> np.ndarray:
    """How many of the ``mask``-ed cases fall in each level-3 grid, in ``ids(level=3)`` order.

    A case outside every grid (kept as "outside") counts in none, so a town's
    colour can be below the headline, which counts every case.
    """
    column = cases["grid_id"]
    leaves = gridset.ids(level=3)
    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.equals(pd.Index(leaves)):
        codes = column.cat.codes.to_numpy()  # the snapshot's fixed categories (`case_dtypes`)
    else:
        codes = pd.Index(leaves).get_indexer(column.astype(object))
    codes = codes[mask]
    return np.bincount(codes[codes >= 0], minlength=len(leaves))  # -1: outside every grid


def level_values(gridset: GridSet, ids: list[str], leaf: np.ndarray, measure: str) -> np.ndarray:
    """:func:`leaf_counts` summed up to the level of ``ids`` (all of one level), for those grids.

    ``density`` divides by each grid's area (per km²); any other measure is the count.
    """
    if not ids:
        return np.zeros(0)
    level = gridset.level(ids[0])
    values = leaf.astype(float) if level == 3 else np.bincount(
        gridset.rollup(level), weights=leaf, minlength=len(gridset.ids(level=level)))
    if measure == "density":
        values = values / gridset.areas_km2(level)
    return values if len(ids) == len(values) else values[gridset.positions(ids, level)]


def grid_values(cases: pd.DataFrame, gridset: GridSet, ids: list[str], measure: str, now: datetime,
                open_: np.ndarray | None = None, overdue: np.ndarray | None = None) -> np.ndarray:
    """The measure colouring each grid of ``ids`` (all of one level).

    ``open`` and ``overdue`` count cases; ``density`` is open cases per km².
    ``open_`` and ``overdue`` are the per-case masks when the caller has them.
    """
    if measure == "overdue":
        mask = overdue if overdue is not None else overdue_mask(cases, now)
    else:
        mask = open_ if open_ is not None else cases["status"].isin(OPEN_STATUSES).to_numpy()
    return level_values(gridset, ids, leaf_counts(cases, gridset, mask), measure)


def counts_by(cases: pd.DataFrame, key: str, now: datetime, overdue: np.ndarray | None = None) -> pd.DataFrame:
    """Open, overdue and done counts per value of ``key`` (``domain``, ``village_id``).

    Indexed by the column's categories (every value of a plain column), in
    their order; ``overdue`` is the per-case mask when the caller has it.
    """
    status = cases["status"]
    column = cases[key] if isinstance(cases[key].dtype, pd.CategoricalDtype) else cases[key].astype("category")
    codes = column.cat.codes.to_numpy()
    masks = {
        "open": status.isin(OPEN_STATUSES).to_numpy(),
        "overdue": overdue if overdue is not None else overdue_mask(cases, now),
        "done": status.isin(DONE_STATUSES).to_numpy(),
    }
    size = len(column.cat.categories)
    # One bincount per measure over the category codes; -1 (no value) counts nowhere.
    return pd.DataFrame({name: np.bincount(codes[mask & (codes >= 0)], minlength=size) for name, mask in masks.items()},
                        index=pd.Index(column.cat.categories, name=key))


@dataclass(frozen=True)
class View:
    """What one filter state shows: the filtered rows and the grid measures."""

    state: FilterState
    now: datetime
    cases: pd.DataFrame
    overdue: np.ndarray  # per row of ``cases``
    warnings: pd.DataFrame
    resources: pd.DataFrame
    #: every resource, for "near" queries that cross the village filter
    all_resources: pd.DataFrame
    #: warning id → the level-3 grids its radius reaches
    warning_grids: dict[int, list[str]]
    #: level → (grid ids shown, measure value, open count, overdue count)
    levels: dict[int, tuple[list[str], np.ndarray, np.ndarray, np.ndarray]]
    headline: Headline
    #: level → the largest measure value of any grid of the town at that level, whatever villages
    #: are chosen: the map's colour scale, so a chosen village is coloured as the town is
    scale_max: dict[int, float] = field(default_factory=dict)


def shown_ids(gridset: GridSet, level: int, villages: list[str]) -> list[str]:
    """The grids of ``level`` that the village filter leaves on the map."""
    if not villages or level == 1:
        return gridset.ids(level=level)
    if level == 2:
        return sorted(set(villages) & set(gridset.ids(level=2)))
    return sorted(g for v in set(villages) & set(gridset.ids(level=2)) for g in gridset.children(v))


def make_view(snap: Snapshot, gridset: GridSet, f: FilterState, now: datetime | None = None) -> View:
    """Apply the filter state to a snapshot: one pass of numpy masks.

    ``now`` is the moment overdue and the time window are computed at: default the
    snapshot's own (a playback frame's) or else the current time.
    """
    now = now or snap.now or utcnow()
    cases = snap.cases[case_mask(snap.cases, f, now)]
    overdue = overdue_mask(cases, now)
    warnings = snap.warnings[warning_mask(snap, f)]
    resources = snap.resources
    if f.village:
        resources = resources[resources["grid_id"].map(gridset.village_of, na_action="ignore").isin(f.village)]
    open_ = cases["status"].isin(OPEN_STATUSES).to_numpy()
    levels = {}
    leaf_open, leaf_overdue = leaf_counts(cases, gridset, open_), leaf_counts(cases, gridset, overdue)
    for level in (1, 2, 3):
        ids = shown_ids(gridset, level, f.village)
        n_open = level_values(gridset, ids, leaf_open, "open")
        n_overdue = level_values(gridset, ids, leaf_overdue, "overdue")
        value = level_values(gridset, ids, leaf_open, "density") if f.measure == "density" else \
            {"open": n_open, "overdue": n_overdue}[f.measure]
        levels[level] = (ids, value, n_open.astype(int), n_overdue.astype(int))
    return View(f, now, cases, overdue, warnings, resources, snap.resources, snap.warning_grids, levels,
                headline(cases, warnings, now), town_scale(snap, gridset, f, now, levels))


def town_scale(snap: Snapshot, gridset: GridSet, f: FilterState, now: datetime,
               levels: dict[int, tuple[list[str], np.ndarray, np.ndarray, np.ndarray]]) -> dict[int, float]:
    """The largest value of ``f.measure`` per level over the whole town, with ``f``'s other filters.

    Without a village filter these are the ``levels`` already computed; with one, the cases of
    every village are counted once more (a few masks over the snapshot).
    """
    if not f.village:
        return {lv: float(np.nanmax(v[1], initial=0.0)) for lv, v in levels.items()}
    cases = snap.cases[case_mask(snap.cases, f.model_copy(update={"village": []}), now)]
    mask = overdue_mask(cases, now) if f.measure == "overdue" else cases["status"].isin(OPEN_STATUSES).to_numpy()
    leaf = leaf_counts(cases, gridset, mask)
    return {lv: float(np.nanmax(level_values(gridset, gridset.ids(level=lv), leaf, f.measure), initial=0.0))
            for lv in levels}


@dataclass(frozen=True)
class GridDetail:
    """What the side panel shows about one level-3 grid."""

    grid_id: str
    props: dict
    area_km2: float
    open_cases: pd.DataFrame
    overdue: int
    warnings: pd.DataFrame
    #: resources inside or within ``NEAR_M`` of the grid, nearest first, with ``distance_m``
    resources: pd.DataFrame


#: How far from a grid a resource still counts as near.
NEAR_M = 1500.0


def grid_detail(view: View, gridset: GridSet, grid_id: str) -> GridDetail:
    """The panel of ``grid_id`` under the current filter."""
    cases = view.cases
    mine = (cases["grid_id"] == grid_id).to_numpy() & cases["status"].isin(OPEN_STATUSES).to_numpy()
    snap_warn = view.warnings
    reach = snap_warn[[grid_id in view.warning_grids.get(w, ()) for w in snap_warn["id"]]]
    res = view.all_resources
    dist = distance_m(gridset, grid_id, res["lon"].to_numpy(float), res["lat"].to_numpy(float))
    near = res.assign(distance_m=dist)[dist <= NEAR_M].sort_values("distance_m")
    return GridDetail(
        grid_id=grid_id,
        props=gridset.props(grid_id),
        area_km2=gridset.area_km2(grid_id),
        open_cases=cases[mine].sort_values("deadline_at"),
        overdue=int((view.overdue & mine).sum()),
        warnings=reach,
        resources=near,
    )


def alerts(snap: Snapshot, max_level: int = 2) -> pd.DataFrame:
    """Active (not yet acknowledged) warnings at ``max_level`` or worse, most severe and newest first."""
    w = snap.warnings
    return w[(w["status"] == "active").to_numpy() & (w["level"] <= max_level).to_numpy()].sort_values(
        ["level", "issued_at"], ascending=[True, False])
