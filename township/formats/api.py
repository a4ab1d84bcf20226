"""The service layer of the HTTP API: what it reads, how it shows it, and CAP messages.

No Flask here: the API's views parse the request, call these functions and
serialise what they return. Case lists are filtered with the dashboard's own
`township.read.snapshot.case_mask` on the dashboard's snapshot, so the API and
the map always agree; full rows then come from the store.

Personal data (reporter name and phone) is shown as the viewer's role may
see it (`township.domain.privacy`); an anonymous viewer sees what the wall sees.

CAP Update and Cancel
---------------------
A CAP message is stored under its own key (``source`` = sender,
``external_id`` = identifier). An Update or Cancel finds the earlier
warning through its ``references`` triples, matching sender and identifier
(the ``sent`` part is not compared: senders write it in various zones).

- Update: if a warning already carries the Update's own identifier, this is
  a re-send and it is updated in place. Otherwise the warning its
  references name (the last one listed, if several are stored) takes the new
  content and is then re-keyed to the Update's identifier, so the next Update
  in the chain, which names this one, finds it again; any other referenced
  warning is cleared in the same transaction. An operator's
  ``acknowledged``/``handling`` status is kept. An Update whose references
  match nothing is stored as a new warning (the original was missed) and
  the answer says so.
- Cancel: every referenced warning is set to ``cleared``; one that matches
  nothing is refused (422, ``alert/references``).
- A sender that always references only the *first* alert of a chain is not
  followed past the first Update (the first identifier is no longer stored).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from township.domain.filters import FilterState
from township.domain.isotime import iso
from township.domain.privacy import shown_name, shown_phone
from township.domain.vocab import OPEN_STATUSES
from township.formats.cap import CapMessage
from township.formats.ingest import FieldError, IngestError, WarningIn, Written, write_warnings
from township.formats.open311 import RequestQuery
from township.grids.model import GridSet
from township.read.snapshot import Township, case_mask
from township.store.models import Case, Warning, WarningGrid, bump_version, session_scope, utcnow


class Viewer(BaseModel):
    """Who asks: the role of their token (``wall`` without one), a village token's village,
    and the handler a responder token acts as."""

    role: str = "wall"
    village_id: str | None = None
    name: str | None = None
    handler_id: str | None = None


ANONYMOUS = Viewer()

Time = str | None


class CaseOut(BaseModel):
    """A case as the API shows it; times are ISO 8601 in +08:00."""

    id: int
    source: str
    external_id: str | None
    type: str
    domain: str
    status: str
    tier: str
    max_tier: str
    title: str
    description: str
    lon: float | None
    lat: float | None
    grid_id: str | None
    village_id: str | None
    reporter: str | None = Field(description="masked (张*) unless the token's role sees personal data")
    reporter_phone: str | None = Field(description="masked (138****1234) unless the role sees personal data")
    handler: str | None
    reported_at: Time
    updated_at: Time
    deadline_at: Time
    resolved_at: Time
    closed_at: Time
    overdue: bool = Field(description="still open past its deadline, as of the answer")
    version: int = Field(description="the data version of the write that last changed the case")


class CasePageOut(BaseModel):
    """One page of a filtered case list."""

    version: int = Field(description="the data version the answer reflects; pass it as since_version next time")
    total: int
    limit: int
    offset: int
    items: list[CaseOut]


class WarningOut(BaseModel):
    """An early warning as the API shows it."""

    id: int
    source: str
    external_id: str | None
    type: str
    level: int = Field(description="1 red … 4 blue")
    status: str
    title: str
    description: str
    lon: float
    lat: float
    radius_m: float
    grid_id: str | None
    village_id: str | None
    grids: list[str] = Field(description="level-3 grids the radius reaches")
    issued_at: Time
    expires_at: Time
    updated_at: Time
    version: int


class WrittenOut(BaseModel):
    """What a write did to one item."""

    id: int
    created: bool
    grid_id: str | None


class CapResultOut(BaseModel):
    """What a CAP message did."""

    msgType: str
    identifier: str
    written: list[WrittenOut]
    notes: list[str]


class ErrorItem(BaseModel):
    """One broken rule: the item (in a batch), the field and the message."""

    index: int | None
    field: str
    message: str


class ErrorsOut(BaseModel):
    """Every problem of a rejected request."""

    errors: list[ErrorItem]


class VersionOut(BaseModel):
    """The store's data version; it moves on every write."""

    version: int


def written_out(items: list[Written]) -> list[dict]:
    """Write results as the API returns them."""
    return [WrittenOut(id=w.id, created=w.created, grid_id=w.grid_id).model_dump() for w in items]


def case_out(row: Case, viewer: Viewer, now: datetime) -> dict:
    """A stored case as the API shows it to ``viewer`` (personal data masked per role)."""
    return CaseOut(
        id=row.id, source=row.source, external_id=row.external_id, type=row.type, domain=row.domain,
        status=row.status, tier=row.tier, max_tier=row.max_tier, title=row.title,
        description=row.description or "", lon=row.lon, lat=row.lat, grid_id=row.grid_id,
        village_id=row.village_id,
        reporter=None if row.reporter is None else shown_name(row.reporter, viewer.role),
        reporter_phone=None if row.reporter_phone is None else shown_phone(row.reporter_phone, viewer.role),
        handler=row.handler, reported_at=iso(row.reported_at), updated_at=iso(row.updated_at),
        deadline_at=iso(row.deadline_at), resolved_at=iso(row.resolved_at), closed_at=iso(row.closed_at),
        overdue=row.status in OPEN_STATUSES and row.deadline_at < now, version=row.version,
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


def _rows(engine: Engine, model: type, ids: list[int]) -> list:
    # Rows in the order of ``ids``; a closed session leaves them readable.
    with Session(engine) as s:
        found = {r.id: r for r in s.scalars(select(model).where(model.id.in_(ids)))} if ids else {}
    return [found[i] for i in ids if i in found]


@dataclass(frozen=True)
class CasePage:
    """A page of cases: the snapshot version, how many matched, and the rows of the page."""

    version: int
    total: int
    rows: list[Case]


def case_page(township: Township, f: FilterState, now: datetime, since_version: int | None,
              limit: int, offset: int) -> CasePage:
    """The cases the dashboard filter ``f`` keeps, one page of them.

    Newest first; with ``since_version`` only the cases changed after that
    data version, oldest change first, so a client can poll and catch up.
    """
    snap = township.snapshot()
    ids = snap.cases["id"].to_numpy()[case_mask(snap.cases, f, now)]
    if since_version is None:
        ordered = np.sort(ids)[::-1]
    else:
        with township.engine.connect() as conn:
            changed = conn.execute(select(Case.id, Case.version).where(Case.version > since_version)).all()
        keep = set(ids.tolist())
        ordered = np.array([i for _, i in sorted((v, i) for i, v in changed if i in keep)], dtype=np.int64)
    page = [int(i) for i in ordered[offset:offset + limit]]
    return CasePage(snap.version, len(ordered), _rows(township.engine, Case, page))


def get_case(engine: Engine, case_id: int) -> Case | None:
    """One stored case, or ``None``."""
    rows = _rows(engine, Case, [case_id])
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


# -- CAP messages -------------------------------------------------------------


@dataclass(frozen=True)
class CapOutcome:
    """What one CAP message changed, and notes for the sender."""

    written: list[Written]
    notes: list[str]


def _as_input(row: Warning, **changes) -> WarningIn:
    # A stored warning re-sent through the write path (e.g. to clear it);
    # it was placed when first stored, so it may stay outside the town.
    fields = {name: getattr(row, name) for name in (
        "source", "external_id", "type", "level", "status", "title", "description", "lon", "lat",
        "radius_m", "issued_at", "expires_at")}
    return WarningIn.model_validate({**fields, "description": row.description or "", "outside_ok": True,
                                     **changes})


def _find(engine: Engine, keys: list[tuple[str, str]]) -> list[Warning]:
    """Stored warnings by (source, external_id), in the order of ``keys``."""
    if not keys:
        return []
    with Session(engine) as s:
        rows = s.scalars(select(Warning).where(or_(*(
            and_(Warning.source == src, Warning.external_id == ext) for src, ext in keys)))).all()
    order = {k: n for n, k in enumerate(keys)}
    return sorted(rows, key=lambda r: order[(r.source, r.external_id)])


def _placed(gridset: GridSet, w: WarningIn, now: datetime, notes: list[str]) -> WarningIn:
    """Check the alert area reaches the town, and clear an alert that has already expired."""
    changes: dict = {}
    if gridset.locate_one(w.lon, w.lat) is None:
        if not gridset.grids_within(w.lon, w.lat, w.radius_m):
            raise IngestError([FieldError(None, "info/area", (
                f"the area (centre {w.lat:.5f},{w.lon:.5f}, radius {w.radius_m / 1000:.1f} km) "
                "does not reach the town"))])
        changes["outside_ok"] = True
        notes.append("the area's centre is outside the town; stored for the grids its radius reaches")
    if w.expires_at is not None and w.expires_at <= now:
        changes["status"] = "cleared"
        notes.append("the alert has already expired; stored as cleared")
    return w.model_copy(update=changes)


def _rekey(engine: Engine, warning_id: int, source: str, external_id: str) -> None:
    with session_scope(engine) as s:
        row = s.get(Warning, warning_id)
        row.source, row.external_id = source, external_id
        row.version = bump_version(s)


def apply_cap(engine: Engine, gridset: GridSet, msg: CapMessage, now: datetime | None = None) -> CapOutcome:
    """Store what a CAP Alert, Update or Cancel says (see the module notes).

    Raises
    ------
    IngestError
        The area does not reach the town, or a Cancel names no stored warning.
    """
    now = now or utcnow()
    notes = list(msg.notes)
    refs = _find(engine, [(r.sender, r.identifier) for r in msg.references])
    if msg.msg_type == "Cancel":
        if not refs:
            named = " ".join(f"{r.sender},{r.identifier}" for r in msg.references)
            raise IngestError([FieldError(None, "alert/references", f"no stored warning matches {named}")])
        return CapOutcome(write_warnings(engine, gridset, [_as_input(r, status="cleared") for r in refs]), notes)
    w = _placed(gridset, msg.warning, now, notes)
    if msg.msg_type == "Alert":
        return CapOutcome(write_warnings(engine, gridset, [w]), notes)
    own = _find(engine, [(msg.sender, msg.identifier)])
    target = own[0] if own else (refs[-1] if refs else None)
    if target is None:
        notes.append("no stored warning matches the references; stored as a new warning")
        return CapOutcome(write_warnings(engine, gridset, [w]), notes)
    status = target.status if w.status == "active" and target.status in ("acknowledged", "handling") else w.status
    item = w.model_copy(update={"source": target.source, "external_id": target.external_id, "status": status})
    others = [_as_input(r, status="cleared") for r in refs if r.id != target.id]
    written = write_warnings(engine, gridset, [item, *others])
    if (target.source, target.external_id) != (msg.sender, msg.identifier):
        try:
            _rekey(engine, target.id, msg.sender, msg.identifier)
        except IntegrityError:
            pass  # a concurrent re-send of this Update re-keyed it first
    return CapOutcome(written, notes)
