"""Versions of the grid set: keep a checked upload, say what putting it in use does, apply it, put an old one back.

A grid file that passes every rule on the admin page is kept as a version
(`keep_version`; table ``grid_versions``). Before it replaces the grids in
use, `impact` says which cases and warnings change grid and which handlers
lose theirs. `apply_version` then does it in one unit of work: the grids
replaced (`township.grids.install.replace_grids`: cases and warnings
re-located by their points, warning reach found again), a ``regrid`` event
on every case that changed grid (its old grid kept in the trail), the
version marked active. Restoring an earlier version is the same call with
its id. The first apply also keeps the grids in use before it as a version,
so they can be put back.

Every app process picks the new grids up at its next request: the store's
grids digest moves, and `township.read.snapshot.Township.follow_grids` (asked
before each request, and by every snapshot) reloads its `GridSet` in place.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.grids.install import gridset_digest, replace_grids
from township.grids.model import GridSet
from township.grids.validate import parse_grid_geojson
from township.store.models import Case, CaseEvent, GridVersion, Handler, Warning, utcnow
from township.store.uow import UnitOfWork

__all__ = ["Applied", "Impact", "VersionInfo", "apply_version", "impact", "keep_version", "list_versions",
           "version_gridset"]

#: Who a version of the grids the app started with is kept by.
START = "start"


@dataclass(frozen=True)
class VersionInfo:
    """One stored version, without its grids."""

    id: int
    created_at: str
    created_by: str
    note: str
    active: bool
    grids: int
    applied_at: str | None


def _info(v: GridVersion) -> VersionInfo:
    data = json.loads(v.geojson)
    return VersionInfo(v.id, v.created_at.isoformat(timespec="seconds"), v.created_by, v.note, v.active,
                       len(data["features"]), v.applied_at.isoformat(timespec="seconds") if v.applied_at else None)


def list_versions(engine: Engine) -> list[VersionInfo]:
    """Every kept version, newest first."""
    with Session(engine) as s:
        return [_info(v) for v in s.scalars(select(GridVersion).order_by(GridVersion.id.desc()))]


def _keep(s: Session, gridset: GridSet, actor: str, note: str) -> GridVersion:
    digest = gridset_digest(gridset)
    found = s.scalar(select(GridVersion).where(GridVersion.digest == digest).order_by(GridVersion.id))
    if found is not None:
        return found
    row = GridVersion(created_at=utcnow(), created_by=actor[:64], digest=digest, note=note,
                      geojson=json.dumps(gridset.to_geojson(), ensure_ascii=False), active=False)
    s.add(row)
    s.flush()
    return row


def keep_version(engine: Engine, gridset: GridSet, actor: str, note: str = "") -> int:
    """Keep a checked grid set as a version (not in use yet) and return its id; the same grids twice are one version."""
    with UnitOfWork(engine) as uow:
        vid = _keep(uow.session, gridset, actor, note).id
        uow.commit()
    return vid


def version_gridset(engine: Engine, version_id: int) -> GridSet:
    """The grids of version ``version_id`` (they passed every rule when kept).

    Raises
    ------
    KeyError
        No such version.
    """
    with Session(engine) as s:
        row = s.get(GridVersion, version_id)
        if row is None:
            raise KeyError(f"no grid version {version_id}")
        return parse_grid_geojson(row.geojson, check_spatial=False)


@dataclass
class Impact:
    """What putting a grid set in use does to the stored data.

    Attributes
    ----------
    cases : list of (case id, old grid, new grid)
        Cases whose grid changes (``None``: outside every grid).
    warnings : list of (warning id, old grid, new grid)
        Warnings whose own grid changes.
    handlers : list of (handler id, name, grid)
        Active handlers whose grid is not in the new set.
    """

    cases: list[tuple[int, str | None, str | None]] = field(default_factory=list)
    warnings: list[tuple[int, str | None, str | None]] = field(default_factory=list)
    handlers: list[tuple[str, str, str | None]] = field(default_factory=list)


def _moves(s: Session, gridset: GridSet, model: type[Case] | type[Warning]) -> list[tuple[int, str | None, str | None]]:
    rows = s.execute(select(model.id, model.lon, model.lat, model.grid_id).where(model.lon.is_not(None))
                     .order_by(model.id)).all()
    if not rows:
        return []
    ids, lon, lat, old = zip(*rows, strict=True)
    new = gridset.locate(np.array(lon, float), np.array(lat, float)).tolist()
    return [(i, a, b) for i, a, b in zip(ids, old, new, strict=True) if a != b]


def _impact(s: Session, gridset: GridSet) -> Impact:
    handlers = [(h.handler_id, h.name, h.grid_id) for h in s.scalars(
        select(Handler).where(Handler.active.is_(True), Handler.grid_id.is_not(None)).order_by(Handler.handler_id))
        if h.grid_id not in gridset]
    return Impact(_moves(s, gridset, Case), _moves(s, gridset, Warning), handlers)


def impact(engine: Engine, gridset: GridSet) -> Impact:
    """What putting ``gridset`` in use would change: cases, warnings, handlers (nothing is written)."""
    with Session(engine) as s:
        return _impact(s, gridset)


@dataclass(frozen=True)
class Applied:
    """A version put in use: the grids, and what changed."""

    version_id: int
    gridset: GridSet
    impact: Impact


def apply_version(engine: Engine, version_id: int, current: GridSet, actor: str) -> Applied:
    """Put version ``version_id`` in use, in one unit of work (see the module docstring).

    ``current`` is the grid set in use now: kept as a version first when none is
    active yet, so that it can be put back.

    Raises
    ------
    KeyError
        No such version.
    """
    gridset = version_gridset(engine, version_id)
    with UnitOfWork(engine) as uow:
        s = uow.session
        if s.scalar(select(GridVersion.id).where(GridVersion.active.is_(True))) is None:
            start = _keep(s, current, START, "在用网格（首次替换前）")
            start.active = True
        done = _impact(s, gridset)
        replace_grids(s, gridset)
        now, version = utcnow(), uow.version()
        status = dict(s.execute(select(Case.id, Case.status).where(Case.id.in_([c for c, _, _ in done.cases]))).all())
        s.add_all(CaseEvent(case_id=cid, at=now, actor=actor[:64], action="regrid", from_status=status[cid],
                            to_status=status[cid], note=f"网格 {old or '—'} → {new or '—'}（网格版本 {version_id}）")
                  for cid, old, new in done.cases)
        if done.cases:
            s.execute(update(Case).where(Case.id.in_([c for c, _, _ in done.cases]))
                      .values(version=version, updated_at=now))
        s.execute(update(GridVersion).values(active=False))
        s.execute(update(GridVersion).where(GridVersion.id == version_id)
                  .values(active=True, applied_at=now, applied_by=actor[:64]))
        uow.commit()
    return Applied(version_id, gridset, done)

