"""What the HTTP API reads, and how it shows it to whom.

No Flask here: the API's views parse the request, call these functions and
serialise what they return. Case lists are filtered with the dashboard's own
`township.read.views.case_mask` on the dashboard's snapshot, so the API and
the map always agree; full rows then come from the store.

Personal data (the reporter's name and phone, the handler's name) is shown as
the viewer's role may see it, by the rule the audit trail and exports use
(`township.domain.privacy`); an anonymous viewer sees what the wall sees.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.filters import FilterState
from township.domain.isotime import iso
from township.domain.policy import ANONYMOUS_ROLE
from township.domain.privacy import shown_name, shown_phone
from township.domain.vocab import OPEN_STATUSES
from township.formats.open311 import RequestQuery
from township.formats.schemas import CaseOut, WarningOut
from township.grids.model import GridSet
from township.read.snapshot import Township
from township.read.views import case_mask
from township.store.models import Case, Warning, WarningGrid


class Viewer(BaseModel):
    """Who asks: the role of their token (``wall`` without one), a village token's village,
    and the handler a responder token acts as."""

    role: str = ANONYMOUS_ROLE
    village_id: str | None = None
    name: str | None = None
    handler_id: str | None = None


ANONYMOUS = Viewer()


#: What a case was at a moment (``as_of``) that may differ from what is stored (`township.read.playback`).
AS_OF_FIELDS = ("status", "tier", "max_tier", "handler", "resolved_at", "closed_at")


def case_out(row: Case, viewer: Viewer, now: datetime, follows: int = 0, at: dict | None = None) -> dict:
    """A stored case as the API shows it to ``viewer`` (reporter and handler masked per role), with its
    ``follows`` (关注, `township.read.resident.follow_counts`); with ``at`` (`AS_OF_FIELDS` of a moment, and
    ``now`` that moment) as it was then."""
    v = {name: getattr(row, name) for name in AS_OF_FIELDS} | (at or {})
    return CaseOut(
        id=row.id, source=row.source, external_id=row.external_id, type=row.type, domain=row.domain,
        status=v["status"], tier=v["tier"], max_tier=v["max_tier"], title=row.title,
        description=row.description or "", lon=row.lon, lat=row.lat, grid_id=row.grid_id,
        village_id=row.village_id,
        reporter=None if row.reporter is None else shown_name(row.reporter, viewer.role),
        reporter_phone=None if row.reporter_phone is None else shown_phone(row.reporter_phone, viewer.role),
        handler=None if v["handler"] is None else shown_name(v["handler"], viewer.role),
        reported_at=iso(row.reported_at), updated_at=iso(row.updated_at),
        deadline_at=iso(row.deadline_at), resolved_at=iso(v["resolved_at"]), closed_at=iso(v["closed_at"]),
        overdue=v["status"] in OPEN_STATUSES and row.deadline_at < now, version=row.version, follows=follows,
    ).model_dump()


def warning_out(row: Warning, grids: list[str]) -> dict:
    """A stored warning as the API shows it (warnings hold no personal data)."""
    return WarningOut(
        id=row.id, source=row.source, external_id=row.external_id, type=row.type, level=row.level,
        status=row.status, title=row.title, description=row.description or "", lon=row.lon, lat=row.lat,
        radius_m=row.radius_m, grid_id=row.grid_id, village_id=row.village_id, grids=grids,
        issued_at=iso(row.issued_at), expires_at=iso(row.expires_at), updated_at=iso(row.updated_at),
        version=row.version,
    ).model_dump()


def _case_rows(engine: Engine, ids: list[int]) -> list[Case]:
    # Rows in the order of ``ids``; a closed session leaves them readable.
    with Session(engine) as s:
        found = {r.id: r for r in s.scalars(select(Case).where(Case.id.in_(ids)))} if ids else {}
    return [found[i] for i in ids if i in found]


@dataclass(frozen=True)
class CasePage:
    """A page of cases: the snapshot version, how many matched, and the rows of the page."""

    version: int
    total: int
    rows: list[Case]
    #: with ``as_of``: per case id of the page, its `AS_OF_FIELDS` at that moment (for `case_out`)
    at: dict[int, dict] = field(default_factory=dict)


def case_page(township: Township, f: FilterState, now: datetime, since_version: int | None,
              limit: int, offset: int, as_of: datetime | None = None) -> CasePage:
    """The cases the dashboard filter ``f`` keeps, one page of them.

    Newest first; with ``since_version`` only the cases changed after that
    data version, oldest change first, so a client can poll and catch up.
    With ``as_of`` (naive UTC; ``now`` should be it too) the cases as they were
    then (`township.read.playback`): those reported by then, filtered by what
    they were then; ``version`` stays the current data version.
    """
    snap = live = township.snapshot()
    if as_of is not None:
        snap = township.history().snapshot_at(live, as_of)
    ids = snap.cases["id"].to_numpy()[case_mask(snap.cases, f, now)]
    if since_version is None:
        ordered = np.sort(ids)[::-1]
    else:
        with township.engine.connect() as conn:
            changed = conn.execute(select(Case.id, Case.version).where(Case.version > since_version)).all()
        keep = set(ids.tolist())
        ordered = np.array([i for _, i in sorted((v, i) for i, v in changed if i in keep)], dtype=np.int64)
    page = [int(i) for i in ordered[offset:offset + limit]]
    return CasePage(live.version, len(ordered), _case_rows(township.engine, page),
                    _fields_at(snap.cases, page) if as_of is not None else {})


def _fields_at(cases: pd.DataFrame, ids: list[int]) -> dict[int, dict]:
    """The `AS_OF_FIELDS` of the cases ``ids`` in a playback frame, as stored values (``None`` for none)."""
    rows = cases[cases["id"].isin(ids)]
    out: dict[int, dict] = {}
    for rec in rows[["id", *AS_OF_FIELDS]].astype(object).to_dict("records"):
        out[int(rec.pop("id"))] = {k: None if pd.isna(v) else v.to_pydatetime() if isinstance(v, pd.Timestamp)
                                   else v for k, v in rec.items()}
    return out


def get_case(engine: Engine, case_id: int) -> Case | None:
    """One stored case, or ``None``."""
    rows = _case_rows(engine, [case_id])
    return rows[0] if rows else None


def get_warnings(engine: Engine, gridset: GridSet, statuses: set[str] | None,
                 village: str | None = None, warning_id: int | None = None) -> list[tuple[Warning, list[str]]]:
    """Warnings of ``statuses`` (all if ``None``), each with the level-3 grids it reaches.

    With ``village``, only warnings located in it or reaching one of its
    grids; with ``warning_id``, only that one. Most severe first.
    """
    stmt = select(Warning).order_by(Warning.level, Warning.id)
    if warning_id is not None:
        stmt = stmt.where(Warning.id == warning_id)
    if statuses is not None:
        stmt = stmt.where(Warning.status.in_(statuses))
    if village is not None:
        reach = select(WarningGrid.warning_id).where(WarningGrid.grid_id.in_(gridset.ids(level=3, parent=village)))
        stmt = stmt.where(or_(Warning.village_id == village, Warning.id.in_(reach)))
    with Session(engine) as s:
        rows = list(s.scalars(stmt))
        pairs = s.execute(select(WarningGrid.warning_id, WarningGrid.grid_id)
                          .where(WarningGrid.warning_id.in_([r.id for r in rows]))).all()
    grids: dict[int, list[str]] = {}
    for wid, gid in sorted(pairs):
        grids.setdefault(wid, []).append(gid)
    return [(r, grids.get(r.id, [])) for r in rows]


def area_desc(gridset: GridSet, grids: list[str]) -> str:
    """The places a warning reaches, in words: whole villages by name, else their grids."""
    by_village: dict[str, list[str]] = {}
    for g in grids:
        if g in gridset:
            by_village.setdefault(gridset.village_of(g) or "", []).append(g)
    parts = []
    for village, mine in sorted(by_village.items()):
        if village and len(mine) == len(gridset.ids(level=3, parent=village)):
            parts.append(gridset.props(village)["name"])
        else:
            parts += [gridset.props(g)["name"] for g in mine]
    town = gridset.ids(level=1)
    prefix = gridset.props(town[0])["name"] if town else ""
    return f"{prefix} {'、'.join(parts)}".strip() if parts else prefix


def place_name(gridset: GridSet, grid_id: str | None) -> str:
    """The name of a grid or village; ``""`` for none or an unknown id."""
    return gridset.props(grid_id)["name"] if grid_id and grid_id in gridset else ""


def open311_requests(engine: Engine, q: RequestQuery, village: str | None, limit: int) -> list[Case]:
    """The cases a GET ``requests`` query asks for, newest first (at most ``limit``)."""
    stmt = select(Case).order_by(Case.reported_at.desc(), Case.id.desc()).limit(limit)
    if q.ids:
        stmt = stmt.where(Case.id.in_(q.ids))
    else:
        stmt = stmt.where(Case.reported_at >= q.start, Case.reported_at <= q.end)
        ours = q.our_statuses()
        if ours is not None:
            stmt = stmt.where(Case.status.in_(ours))
        if q.service_codes:
            stmt = stmt.where(Case.type.in_(q.service_codes))
    if village is not None:
        stmt = stmt.where(Case.village_id == village)
    with Session(engine) as s:
        return list(s.scalars(stmt))
