"""Services: what the screens ask of the store, computed once per data version.

:class:`Township` keeps a snapshot of cases, warnings and resources as
DataFrames and reloads it only when the store's data version moves, so a
filter change is a few numpy masks, not a database round trip. After the
first load only the cases written since the previous snapshot are read
(every write stamps the cases it changes with its data version) and merged
into the previous frame, and likewise the grids of the warnings written
since; warnings and resources are few and read whole.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from township.domain.filters import WINDOWS, FilterState
from township.domain.vocab import (
    CASE_STATUSES,
    CASE_TYPES,
    DOMAINS,
    DONE_STATUSES,
    LIVE_WARNING_STATUSES,
    OPEN_STATUSES,
    TIERS,
    WARNING_LEVELS,
)
from township.grids.model import GridSet
from township.grids.spatial import distance_m
from township.store.models import (
    Case,
    Meta,
    Resource,
    Warning,
    WarningEvent,
    WarningGrid,
    bump_version,
    data_version,
    session_scope,
    utcnow,
)

log = logging.getLogger(__name__)

CASE_COLUMNS = [
    Case.id, Case.type, Case.domain, Case.status, Case.tier, Case.max_tier, Case.title, Case.handler,
    Case.grid_id, Case.village_id, Case.lon, Case.lat, Case.reported_at, Case.deadline_at,
    Case.resolved_at, Case.closed_at, Case.version,
]
#: The dtype of each non-categorical case column, fixed so that every chunk and every merge
#: agrees (inferred per chunk, an all-empty ``handler`` would come out ``object``).
CASE_DTYPES = {
    "id": "int64", "title": "str", "handler": "str", "lon": "float64", "lat": "float64",
    "reported_at": "datetime64[us]", "deadline_at": "datetime64[us]", "resolved_at": "datetime64[us]",
    "closed_at": "datetime64[us]", "version": "int64",
}
WARNING_COLUMNS = [
    Warning.id, Warning.type, Warning.level, Warning.status, Warning.title, Warning.lon, Warning.lat,
    Warning.radius_m, Warning.grid_id, Warning.village_id, Warning.issued_at,
]
#: Case columns of few distinct values, kept as pandas categoricals: a filter's `isin` and the
#: per-grid counts then work on small integer codes (about 10x faster at a million cases).
CATEGORICAL = ("type", "domain", "status", "tier", "max_tier", "grid_id", "village_id")
RESOURCE_COLUMNS = [
    Resource.resource_id, Resource.kind, Resource.name, Resource.lon, Resource.lat, Resource.grid_id,
    Resource.contact, Resource.phone,
]
#: Cases read per chunk at a full load: each chunk's rows become columns and are dropped before
#: the next chunk is read, so a million cases never sit in memory as a million Row objects.
CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class Snapshot:
    """Everything the dashboard draws, as of one data version.

    ``cases`` is ordered by ``id`` with a fresh ``RangeIndex``, whether it was
    loaded whole or merged; the `CATEGORICAL` columns are categoricals.
    """

    version: int
    cases: pd.DataFrame
    warnings: pd.DataFrame
    #: warning id → the level-3 grids its radius reaches
    warning_grids: dict[int, list[str]]
    resources: pd.DataFrame


@dataclass(frozen=True)
class Reload:
    """How :class:`Township` made its latest snapshot (for tests, benches and logs)."""

    version: int
    #: every case was read (the first load, or a guard refused the merge); else only changed ones
    full: bool
    #: case rows read from the store
    case_rows: int
    seconds: float


def _frame(conn: Connection, columns: list) -> pd.DataFrame:
    rows = conn.execute(select(*columns)).all()
    names = [c.key for c in columns]
    # Column by column: a frame built from rows checks every row's type (60 ms for a city's 13,000 warnings).
    return pd.DataFrame(dict(zip(names, map(list, zip(*rows))))) if rows else pd.DataFrame(columns=names)


def _warnings_frame(conn: Connection) -> pd.DataFrame:
    warnings = _frame(conn, WARNING_COLUMNS)
    warnings["issued_at"] = pd.to_datetime(warnings["issued_at"])
    return warnings


def case_dtypes(gridset: GridSet) -> dict[str, pd.CategoricalDtype]:
    """The fixed categories of the `CATEGORICAL` columns: the vocabulary's codes and the grid set's ids.

    Fixed, so that frames loaded at different times concatenate as
    categoricals (pandas turns categoricals of different categories into
    ``object``). Categories are sorted, as ``astype("category")`` sorts them.
    """
    codes = {"type": CASE_TYPES, "domain": DOMAINS, "status": CASE_STATUSES, "tier": TIERS, "max_tier": TIERS}
    out = {col: pd.CategoricalDtype(sorted(table)) for col, table in codes.items()}
    out["grid_id"] = pd.CategoricalDtype(gridset.ids(level=3))
    out["village_id"] = pd.CategoricalDtype(gridset.ids(level=2))
    return out


class Township:
    """The services over one store and its grid set.

    Parameters
    ----------
    engine : Engine
        The store.
    gridset : GridSet
        The grids in use.

    Attributes
    ----------
    last_reload : Reload or None
        How the current snapshot was made.
    """

    def __init__(self, engine: Engine, gridset: GridSet) -> None:
        self.engine = engine
        self.gridset = gridset
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        #: the store's grids digest at the previous load (see `_merged_cases`)
        self._grids_digest: str | None = None
        self.last_reload: Reload | None = None

    def snapshot(self) -> Snapshot:
        """The current snapshot, reloaded if the store's data version moved."""
        version = data_version(self.engine)
        snap = self._snapshot
        if snap is not None and snap.version == version:
            return snap
        with self._lock:
            if self._snapshot is None or self._snapshot.version != version:
                # Built whole, then swapped in: a reader holds either the old snapshot or the new one.
                self._snapshot = self._load(version, self._snapshot)
            return self._snapshot

    def _load(self, version: int, previous: Snapshot | None) -> Snapshot:
        start = time.perf_counter()
        # One connection, so one read transaction: on SQLite the changed rows, the row count
        # and the grids digest are then of one moment (see `_merged_cases`).
        with self.engine.connect() as conn:
            digest = conn.scalar(select(Meta.value).where(Meta.key == "grids_digest"))
            cases, warnings, reach, read = None, None, None, 0
            if previous is not None and previous.version < version and digest == self._grids_digest:
                cases, read = _merged_cases(conn, previous)
                warnings, reach = _merged_warnings(conn, previous)
            full = cases is None
            if full:
                cases = read_cases(conn, case_dtypes(self.gridset))
                read += len(cases)
            if warnings is None:
                warnings = _warnings_frame(conn)
            if reach is None:
                reach = _read_reach(conn)
            resources = _frame(conn, RESOURCE_COLUMNS)
            self._grids_digest = digest
        self.last_reload = Reload(version, full, read, time.perf_counter() - start)
        return Snapshot(version, cases, warnings, reach, resources)


def read_cases(conn: Connection, dtypes: dict[str, pd.CategoricalDtype], where=None) -> pd.DataFrame:
    """Cases (those matching ``where``, else all) as a frame ordered by id, read in chunks.

    The `CATEGORICAL` columns get the categories of ``dtypes``, extended by
    any value they lack (see `categorical`).
    """
    dtypes = dict(dtypes)  # extended chunk by chunk
    stmt = select(*CASE_COLUMNS).execution_options(yield_per=CHUNK_ROWS)
    if where is None:
        stmt = stmt.order_by(Case.id)  # SQLite's table order anyway; PostgreSQL's differs
    else:
        # Sorted below, not here: an ORDER BY makes SQLite scan the whole table in id
        # order instead of looking the few changed cases up in the version index.
        stmt = stmt.where(where)
    chunks = [_case_chunk(rows, dtypes) for rows in conn.execute(stmt).partitions()] or [_case_chunk([], dtypes)]
    # A later chunk may have added a category: bring every chunk to the final ones.
    cases = pd.concat([_aligned(c, chunks[-1]) for c in chunks], ignore_index=True)
    return cases if where is None else cases.sort_values("id", ignore_index=True)


def _case_chunk(rows: list, dtypes: dict[str, pd.CategoricalDtype]) -> pd.DataFrame:
    """One chunk of case rows as typed columns; a category value ``dtypes`` lacks is added to it."""
    names = [c.key for c in CASE_COLUMNS]
    columns = list(zip(*rows)) if rows else [()] * len(names)
    frame = {}
    for name, values in zip(names, columns):
        if name in CATEGORICAL:
            frame[name], dtypes[name] = categorical(values, dtypes[name])
        else:
            frame[name] = pd.array(values, dtype=CASE_DTYPES[name])
    return pd.DataFrame(frame)


def _merged_cases(conn: Connection, previous: Snapshot) -> tuple[pd.DataFrame | None, int]:
    """The previous cases with those written since merged in, and how many rows were read.

    Every code path that writes a case stamps it with the data version of
    its write (``Case.version``), and writes run one at a time, so the
    cases with a version above the previous snapshot's are all that
    changed. Two things break that, and get a full load instead (``None``):
    a new grid file, whose install re-locates every case without touching
    its version (the caller compares the grids digest), and rows added or
    removed without a version (``township.runtime.demo`` seeds cases at version 0;
    bench scripts delete theirs), which the row count catches.
    """
    # Starting from the previous frame's categories, which `read_cases` only ever extends,
    # so that giving the previous frame the changed rows' categories loses no value.
    dtypes = {col: previous.cases[col].dtype for col in CATEGORICAL}
    changed = read_cases(conn, dtypes, Case.version > previous.version)
    cases = merge_cases(_aligned(previous.cases, changed), changed)
    stored = conn.scalar(select(func.count()).select_from(Case))
    if len(cases) != stored:
        log.info("%d cases stored but %d after merging the changes since version %d: loading all",
                 stored, len(cases), previous.version)
        return None, len(changed)
    return cases, len(changed)


def _read_reach(conn: Connection, where=None) -> dict[int, list[str]]:
    """Warning id → the level-3 grids its radius reaches, sorted; of the warnings matching ``where``, else all.

    A city's warnings reach a million grids: read in chunks, as the cases.
    """
    stmt = select(WarningGrid.warning_id, WarningGrid.grid_id).execution_options(yield_per=CHUNK_ROWS)
    if where is None:
        stmt = stmt.order_by(WarningGrid.warning_id, WarningGrid.grid_id)  # the primary key's order: no sort
    else:
        stmt = stmt.join(Warning, Warning.id == WarningGrid.warning_id).where(where)
    reach: dict[int, list[str]] = {}
    for rows in conn.execute(stmt).partitions():
        for wid, gid in rows:
            reach.setdefault(wid, []).append(gid)
    return reach if where is None else {wid: sorted(gids) for wid, gids in reach.items()}


def _merged_warnings(conn: Connection, previous: Snapshot) -> tuple[pd.DataFrame, dict[int, list[str]] | None]:
    """The warnings, and the previous snapshot's warning grids with those of the warnings written since read again.

    No warning written since (most new data is cases) and as many stored: the
    previous frame and grids are kept. A warning's grids are written with the
    warning, under its version. Grids ``None`` (read them all) when a warning
    appeared without a newer version: ``township.runtime.demo`` seeds its warnings at version 0.
    """
    changed = set(conn.scalars(select(Warning.id).where(Warning.version > previous.version)))
    if not changed and conn.scalar(select(func.count()).select_from(Warning)) == len(previous.warnings):
        return previous.warnings, previous.warning_grids
    warnings = _warnings_frame(conn)
    ids = set(warnings["id"].tolist())
    if ids - changed - set(previous.warnings["id"].tolist()):
        return warnings, None
    reach = {wid: gids for wid, gids in previous.warning_grids.items() if wid in ids and wid not in changed}
    reach.update(_read_reach(conn, Warning.version > previous.version))
    return warnings, reach


def categorical(values, dtype: pd.CategoricalDtype) -> tuple[pd.Categorical, pd.CategoricalDtype]:
    """``values`` as a categorical of ``dtype``, and ``dtype`` itself, extended by any value it lacks.

    A value outside the categories would silently become NaN (a case on a
    grid the grid set does not have, a status a newer version wrote): it is
    added to the categories instead, so no value is lost.
    """
    values = np.asarray(values, dtype=object)
    codes = dtype.categories.get_indexer(values)  # -1: missing, or not a category
    lost = (codes < 0) & pd.notna(values)
    if lost.any():
        dtype = pd.CategoricalDtype(sorted({*dtype.categories, *values[lost]}))
        codes = dtype.categories.get_indexer(values)
    return pd.Categorical.from_codes(codes, dtype=dtype), dtype


def _aligned(cases: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """``cases`` with the categories of ``like`` (a superset of its own), a new frame only if they differ.

    Concatenating categoricals of different categories would give ``object`` columns.
    """
    stale = {col: like[col].dtype for col in CATEGORICAL if cases[col].dtype != like[col].dtype}
    return cases.astype(stale) if stale else cases


def merge_cases(cases: pd.DataFrame, changed: pd.DataFrame) -> pd.DataFrame:
    """``cases`` (ordered by id) with ``changed`` merged in: same id replaced in place, new ids added.

    Both must have the same dtypes (categoricals of the same categories).
    Returns a new frame ordered by id; ``cases`` is left as it is, as
    readers may still hold it.
    """
    if changed.empty:
        return cases
    ids = cases["id"].to_numpy()
    new_ids = changed["id"].to_numpy()
    pos = np.searchsorted(ids, new_ids)
    known = pos < len(ids)
    known[known] = ids[pos[known]] == new_ids[known]
    merged = pd.concat([cases, changed[~known]], ignore_index=True)
    if known.any():
        for j, col in enumerate(merged.columns):
            merged.iloc[pos[known], j] = changed[col].array[known]
    if len(ids) and (~known).any() and new_ids[~known].min() < ids[-1]:
        # Ids are handed out in increasing order, but a store is free not to.
        merged = merged.sort_values("id", kind="stable", ignore_index=True)
    return merged


def categorise(cases: pd.DataFrame) -> pd.DataFrame:
    """``cases`` with the `CATEGORICAL` columns as categoricals of their own values (in place, and returned).

    The snapshot uses fixed categories instead (`case_dtypes`), so that its merges stay categorical.
    """
    for col in CATEGORICAL:
        cases[col] = cases[col].astype("category")
    return cases


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


def shown_ids(gridset: GridSet, level: int, villages: list[str]) -> list[str]:
    """The grids of ``level`` that the village filter leaves on the map."""
    if not villages or level == 1:
        return gridset.ids(level=level)
    if level == 2:
        return sorted(set(villages) & set(gridset.ids(level=2)))
    return sorted(g for v in set(villages) & set(gridset.ids(level=2)) for g in gridset.children(v))


def make_view(snap: Snapshot, gridset: GridSet, f: FilterState, now: datetime | None = None) -> View:
    """Apply the filter state to a snapshot: one pass of numpy masks."""
    now = now or utcnow()
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
                headline(cases, warnings, now))


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


def acknowledge_warning(engine: Engine, warning_id: int, actor: str) -> bool:
    """Mark an active warning acknowledged; False if it was not active (already acknowledged or gone)."""
    with session_scope(engine) as s:
        row = s.get(Warning, warning_id)
        if row is None or row.status != "active":
            return False
        now = utcnow()
        s.add(WarningEvent(warning_id=row.id, at=now, actor=actor[:64], action="acknowledge", from_status="active",
                           to_status="acknowledged", note=""))
        row.status = "acknowledged"
        row.updated_at = now
        row.version = bump_version(s)
        return True
