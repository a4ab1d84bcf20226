"""The snapshot: what the store holds, as DataFrames, read once per data version.

:class:`Township` keeps a snapshot of cases, warnings and resources as
DataFrames and reloads it only when the store's data version moves, so a
filter change is a few numpy masks (`township.read.views`), not a database
round trip. After the first load only the cases written since the previous
snapshot are read (every write stamps the cases it changes with its data
version) and merged into the previous frame, and likewise the grids of the
warnings written since; warnings and resources are few and read whole.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from township.domain.vocab import (
    CASE_STATUSES,
    CASE_TYPES,
    DOMAINS,
    TIERS,
)
from township.grids.install import load_gridset
from township.grids.model import GridSet
from township.read.playback import History
from township.store.models import (
    Case,
    Meta,
    Resource,
    Warning,
    WarningGrid,
    data_version,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")

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
    #: the moment it shows (naive UTC) when it is a playback frame (`township.read.playback`): views
    #: compute overdue at it; ``None`` for the live snapshot, whose moment is the current time
    now: datetime | None = None


@dataclass(frozen=True)
class Reload:
    """How :class:`Township` made its latest snapshot (for tests, benches and logs)."""

    version: int
    #: every case was read (the first load, or a guard refused the merge); else only changed ones
    full: bool
    #: case rows read from the store
    case_rows: int
    seconds: float


def _frame(conn: Connection, columns: Sequence[InstrumentedAttribute[Any]]) -> pd.DataFrame:
    rows = conn.execute(select(*columns)).all()
    names = [c.key for c in columns]
    if not rows:
        return pd.DataFrame(columns=names)
    # Column by column: a frame built from rows checks every row's type (60 ms for a city's 13,000 warnings).
    return pd.DataFrame(dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)))


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
        #: the store's grids digest when ``gridset`` was read: a snapshot that finds another reloads it
        self._gridset_digest = _grids_digest(engine)
        #: the data version `follow_grids` last looked at the digest in
        self._followed = -1
        self.last_reload: Reload | None = None
        self._history: History | None = None
        self._history_lock = threading.Lock()
        #: what `kept` made, by key, for one data version
        self._kept: tuple[int, dict[Hashable, Any]] = (-1, {})
        self._kept_lock = threading.Lock()

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

    def history(self) -> History:
        """The playback index (`township.read.playback`) of the current snapshot's data version.

        Read on first use; when the data version moved, the records written since are read
        and merged into the previous one. Readers in other threads meanwhile keep the one they hold.
        A thread still holding an older snapshot gets the newer index (the trail only grows), never
        one read again for its older version, which the next caller would then read anew.
        """
        version = self.snapshot().version
        got = self._history
        if got is not None and got.version >= version:
            return got
        with self._history_lock:
            if self._history is None or self._history.version < version:
                with self.engine.connect() as conn:
                    self._history = History.read(conn, version, self._history)
            return self._history

    def kept(self, snap: Snapshot, key: Hashable, build: Callable[[], _T]) -> _T:
        """What ``build`` makes of ``snap``, made once per data version and ``key`` (a read a refresh should not
        pay again while nothing changed: the wall's monthly evaluation).

        ``key`` names all else the result depends on (the month, the viewer …); what the store holds is
        covered by the version, as every write bumps it. The results of one version are dropped when a
        newer one is asked for; a caller still holding an older snapshot gets its result made, not kept.
        """
        version, made = self._kept
        if version == snap.version and key in made:
            return made[key]
        with self._kept_lock:
            if self._kept[0] < snap.version:
                self._kept = (snap.version, {})
            version, made = self._kept
            if version != snap.version:
                return build()
            if key not in made:
                made[key] = build()
            return made[key]

    def follow_grids(self) -> None:
        """Use the store's grids if they were replaced since this process read them (the admin page, here or in
        another process): a data-version read, and the grids digest only when that moved.

        The app asks it before each request that may use the grids, so that even a request that
        reads no snapshot (an API write, a filter checked against the grid ids) uses the grids in use.
        """
        version = data_version(self.engine)
        if version == self._followed:
            return
        with self._lock, self.engine.connect() as conn:
            self._follow(conn, conn.scalar(select(Meta.value).where(Meta.key == "grids_digest")))
            self._followed = version

    def _follow(self, conn: Connection, digest: str | None) -> None:
        if digest != self._gridset_digest:
            fresh = load_gridset(conn, check_spatial=False)
            if fresh is not None:
                self.gridset.replace_by(fresh)  # in place: everything holding the grid set follows
            self._gridset_digest = digest

    def _load(self, version: int, previous: Snapshot | None) -> Snapshot:
        start = time.perf_counter()
        # One connection, so one read transaction: on SQLite the changed rows, the row count
        # and the grids digest are then of one moment (see `_merged_cases`).
        with self.engine.connect() as conn:
            digest = conn.scalar(select(Meta.value).where(Meta.key == "grids_digest"))
            self._follow(conn, digest)
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


def _grids_digest(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.scalar(select(Meta.value).where(Meta.key == "grids_digest"))


def read_cases(conn: Connection, dtypes: dict[str, pd.CategoricalDtype],
               where: ColumnElement[bool] | None = None) -> pd.DataFrame:
    """Cases (those matching ``where``, else all) as a frame ordered by id, read in chunks.

    The `CATEGORICAL` columns get the categories of ``dtypes``, extended by
    any value they lack (see `categorical`).
    """
    dtypes = dict(dtypes)  # extended chunk by chunk
    stmt = select(*CASE_COLUMNS).execution_options(yield_per=CHUNK_ROWS)
    # All cases in id order (SQLite's table order anyway; PostgreSQL's differs). Changed ones are
    # sorted below instead: an ORDER BY makes SQLite scan the whole table in id order instead of
    # looking the few changed cases up in the version index.
    stmt = stmt.order_by(Case.id) if where is None else stmt.where(where)
    chunks = [_case_chunk(rows, dtypes) for rows in conn.execute(stmt).partitions()] or [_case_chunk([], dtypes)]
    # A later chunk may have added a category: bring every chunk to the final ones.
    cases = pd.concat([_aligned(c, chunks[-1]) for c in chunks], ignore_index=True)
    return cases if where is None else cases.sort_values("id", ignore_index=True)


def _case_chunk(rows: Sequence[Sequence[Any]], dtypes: dict[str, pd.CategoricalDtype]) -> pd.DataFrame:
    """One chunk of case rows as typed columns; a category value ``dtypes`` lacks is added to it."""
    names = [c.key for c in CASE_COLUMNS]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    frame = {}
    for name, values in zip(names, columns, strict=True):
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


def _read_reach(conn: Connection, where: ColumnElement[bool] | None = None) -> dict[int, list[str]]:
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


def categorical(values: Sequence[Any], dtype: pd.CategoricalDtype) -> tuple[pd.Categorical, pd.CategoricalDtype]:
    """``values`` as a categorical of ``dtype``, and ``dtype`` itself, extended by any value it lacks.

    A value outside the categories would silently become NaN (a case on a
    grid the grid set does not have, a status a newer version wrote): it is
    added to the categories instead, so no value is lost.
    """
    array = np.asarray(values, dtype=object)
    codes = dtype.categories.get_indexer(array)  # -1: missing, or not a category
    lost = (codes < 0) & pd.notna(array)
    if lost.any():
        dtype = pd.CategoricalDtype(sorted({*dtype.categories, *array[lost]}))
        codes = dtype.categories.get_indexer(array)
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


