"""One-point command on a warning (一点指挥): whom to call, what is near, the warning's moves and tasks.

Plain functions (no Dash): the warning card (`callbacks.warningcard`) and the
tests call them with any viewer.

* :func:`warning_file` gathers one warning as a viewer may see it, reusing
  :func:`township.read.fieldmap.warning_fieldmap_data` for the affected grids
  (their polygon within the radius, EPSG:4546), the resources near the point
  (distance and compass word) and the open cases of the affected grids. Every
  list is nearest first; a grid officer or a central household is as far as
  their grid (0 when the point lies in it).
* :func:`move_warning` moves a warning ``active → acknowledged → handling →
  cleared``, logging a :class:`~township.store.models.WarningEvent` in the same
  transaction as the status change and the data-version bump.
* :func:`dispatch_task` turns the warning into a case of the closed loop:
  a ``hazard`` case of domain ``safety`` at the warning's point, written by
  `township.formats.ingest.add_cases` (source ``patrol``, the only fitting code of
  ``CASE_SOURCES``), dispatched with `township.loop.workflow.move_case` to the
  chosen handler and logged on the warning, all in one unit of work. The link
  is the case's ``external_id``: ``warning-<warning id>-<random>`` (see :func:`task_prefix`).

Who may act: admin and command on every warning, a village operator on the
warnings that reach their village (the warning's own village or one of its
affected grids), the wall and responders never. A village operator sees only
the warnings reaching their village.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import cast

import numpy as np
import pandas as pd
import shapely
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.isotime import iso
from township.domain.policy import lists_person, may_act_on_warning, may_see_reach, may_see_village
from township.domain.privacy import person_role, sees_personal, shown_name, shown_phone
from township.domain.sla import DEFAULT_SLA, SlaConfig
from township.formats.ingest import CaseIn, add_cases
from township.grids.model import GridSet
from township.grids.spatial import distance_m, from_metric_xy, to_metric_xy
from township.loop.staff import get_handler
from township.loop.workflow import Actor, MoveRefused, move_case
from township.read.fieldmap import FieldMapData, for_viewer, warning_fieldmap_data
from township.read.snapshot import Snapshot
from township.store.models import Case, Handler, Warning, WarningEvent, utcnow
from township.store.uow import UnitOfWork

#: The warning's moves: name → (statuses it leaves from, status it goes to, Chinese label).
WARNING_MOVES: dict[str, tuple[frozenset[str], str, str]] = {
    "acknowledge": (frozenset({"active"}), "acknowledged", "确认"),
    "handle": (frozenset({"active", "acknowledged"}), "handling", "处置"),
    "clear": (frozenset({"active", "acknowledged", "handling"}), "cleared", "解除"),
}
#: The log's note of a dispatched task, and how its case id is read back (`_task_of`).
TASK_NOTE_FORMAT = "任务 #{case_id} 派单给{name} ({handler_id})"
TASK_NOTE = re.compile(r"任务 #(\d+) ")
#: The case source of a task dispatched from a warning (CaseIn allows only CASE_SOURCES).
TASK_SOURCE = "patrol"


def task_prefix(warning_id: int) -> str:
    """The start of the ``external_id`` of every task dispatched from warning ``warning_id``."""
    return f"warning-{int(warning_id)}-"


def radius_ring(lon: float, lat: float, radius_m: float, quad_segs: int = 16) -> tuple[list[float], list[float]]:
    """The warning's circle as a closed lon/lat ring: buffered in EPSG:4546, converted back to WGS84."""
    x, y = to_metric_xy(lon, lat)
    ring = np.asarray(shapely.Point(x, y).buffer(float(radius_m), quad_segs=quad_segs).exterior.coords)
    lons, lats = from_metric_xy(ring[:, 0], ring[:, 1])
    return np.round(lons, 6).tolist(), np.round(lats, 6).tolist()


def reached_villages(gridset: GridSet, village_id: str | None, grids: list[str]) -> set[str]:
    """The villages a warning reaches: its own and those of its affected grids."""
    out = {gridset.village_of(g) for g in grids if g in gridset}
    if village_id:
        out.add(village_id)
    return {v for v in out if v}


def allowed_warning_moves(status: str, actor: Actor, villages: set[str]) -> list[str]:
    """The moves ``actor`` may make on a warning in ``status`` (for the buttons)."""
    if not may_act_on_warning(actor, villages):
        return []
    return [m for m, (froms, _, _) in WARNING_MOVES.items() if status in froms]


@dataclass(frozen=True)
class Contact:
    """One person or place of a list of the card, with its distance from the warning.

    ``handler_id`` is set when a task may be dispatched to it (a grid officer,
    a party member, a volunteer team); ``phone`` and ``person`` are personal
    data, to be masked for the viewer's role.
    """

    kind: str  # officer, party_member, pioneer_post, volunteer_team, supply_depot
    name: str
    distance_m: float
    grid_id: str | None
    phone: str | None = None
    person: str | None = None  # a resource's contact person
    direction: str = ""
    handler_id: str | None = None
    resource_id: str | None = None
    masked: bool = False  # already masked for the viewer (another village's person): no tel: link


@dataclass(frozen=True)
class WarningFile:
    """One warning as a viewer sees it: the row, the lists (nearest first), its tasks and log."""

    row: Warning
    data: FieldMapData
    villages: set[str]
    officers: list[Contact]
    party: list[Contact]
    support: list[Contact]
    cases: pd.DataFrame  # open cases of the affected grids, with distance_m, nearest first
    tasks: list[Case]
    events: list[WarningEvent]
    moves: list[str]
    may_dispatch: bool
    affected: list[str] = field(default_factory=list)
    #: Log steps about another village's task (the dispatch naming its handler): the viewer sees their
    #: names masked, as the people of other villages elsewhere on the card.
    foreign_events: frozenset[int] = frozenset()


def _grid_distances(gridset: GridSet, grids: list[str], lon: float, lat: float) -> dict[str, float]:
    p = np.array([lon]), np.array([lat])
    return {g: float(distance_m(gridset, g, *p)[0]) for g in grids}


def _handlers(engine: Engine, grids: list[str]) -> list[Handler]:
    if not grids:
        return []
    with Session(engine) as s:
        return list(s.scalars(select(Handler).where(Handler.active.is_(True), Handler.grid_id.in_(grids))))


def contacts(engine: Engine, gridset: GridSet,
             data: FieldMapData) -> tuple[list[Contact], list[Contact], list[Contact]]:
    """(grid officers, 党员中心户 + pioneer posts, volunteer teams + supply depots), each nearest first."""
    w = data.warning or {}
    lon, lat = float(w["lon"]), float(w["lat"])
    dist = _grid_distances(gridset, data.focus, lon, lat)
    officers, party = [], []
    for h in _handlers(engine, data.focus):
        d = dist[cast(str, h.grid_id)]  # _handlers selects by grid: never None here
        c = Contact(h.kind, h.name, d, h.grid_id, h.phone, handler_id=h.handler_id,
                    direction="网格内" if d <= 0 else "")
        if h.kind == "officer":
            officers.append(c)
        elif h.kind == "party_member" and h.central_household:
            party.append(c)
    with Session(engine) as s:
        teams = {h.resource_id: h.handler_id for h in s.scalars(
            select(Handler).where(Handler.active.is_(True), Handler.kind == "volunteer_team"))}
    support = []
    for r in data.resources.itertuples(index=False):
        c = Contact(r.kind, r.name, float(r.distance_m), r.grid_id if isinstance(r.grid_id, str) else None,
                    r.phone if isinstance(r.phone, str) else None,
                    r.contact if isinstance(r.contact, str) else None, r.direction,
                    teams.get(r.resource_id) if r.kind == "volunteer_team" else None, r.resource_id)
        if r.kind == "pioneer_post":
            party.append(c)
        elif r.kind in ("volunteer_team", "supply_depot"):
            support.append(c)

    def order(items: list[Contact]) -> list[Contact]:
        return sorted(items, key=lambda c: (c.distance_m, c.grid_id or "", c.handler_id or c.resource_id or ""))

    return order(officers), order(party), order(support)


def visible_contacts(gridset: GridSet, items: list[Contact], actor: Actor) -> list[Contact]:
    """``items`` as ``actor`` may see them (`township.domain.policy`): another village's people only if they
    are duty contacts, their names and phones masked, and nothing of theirs to dispatch to."""
    out = []
    for c in items:
        village = gridset.village_of(c.grid_id) if c.grid_id and c.grid_id in gridset else None
        if not lists_person(actor, c.kind, village):
            continue
        role = person_role(actor, village)
        if role != actor.role:
            name = shown_name(c.name, role) if c.kind in ("officer", "party_member") else c.name
            c = replace(c, name=name, phone=shown_phone(c.phone, role) or None,
                        person=shown_name(c.person, role) or None, handler_id=None, masked=True)
        out.append(c)
    return out


def _open_cases_by_distance(cases: pd.DataFrame, lon: float, lat: float) -> pd.DataFrame:
    if cases.empty:
        return cases.assign(distance_m=pd.Series(dtype=float))
    x0, y0 = to_metric_xy(lon, lat)
    x, y = to_metric_xy(cases["lon"].to_numpy(float), cases["lat"].to_numpy(float))
    d = np.hypot(np.asarray(x) - x0, np.asarray(y) - y0)
    return cases.assign(distance_m=d).sort_values(["distance_m", "id"], kind="stable")


def warning_tasks(engine: Engine, warning_id: int) -> list[Case]:
    """The cases dispatched from warning ``warning_id`` (by their ``external_id``), oldest first."""
    with Session(engine) as s:
        return list(s.scalars(select(Case).where(Case.source == TASK_SOURCE,
                                                 Case.external_id.startswith(task_prefix(warning_id), autoescape=True))
                              .order_by(Case.id)))


def warning_events(engine: Engine, warning_id: int) -> list[WarningEvent]:
    """The warning's log, oldest first."""
    with Session(engine) as s:
        return list(s.scalars(select(WarningEvent).where(WarningEvent.warning_id == int(warning_id))
                              .order_by(WarningEvent.at, WarningEvent.id)))


def _load(engine: Engine, warning_id: int) -> Warning:
    with Session(engine) as s:
        row = s.get(Warning, int(warning_id))
    if row is None:
        raise MoveRefused(f"warning {warning_id} does not exist", "not_found")
    return row


def _refuse_unseen(actor: Actor, warning_id: int, villages: set[str]) -> None:
    # A warning the viewer may not see is, to them, one that does not exist (as for cases): the answer
    # says nothing of where it is.
    if not may_see_reach(actor, villages):
        raise MoveRefused(f"warning {warning_id} does not exist", "not_found")


def visible_warning(engine: Engine, gridset: GridSet, warning_id: int, actor: Actor) -> Warning:
    """The warning ``warning_id`` if ``actor`` may see it.

    Raises
    ------
    MoveRefused
        ``not_found``: no such warning, or one not reaching a village operator's village.
    """
    row = _load(engine, warning_id)
    _refuse_unseen(actor, row.id, reached_villages(gridset, row.village_id,
                                                   gridset.grids_within(row.lon, row.lat, row.radius_m)))
    return row


def warning_file(engine: Engine, gridset: GridSet, snap: Snapshot, warning_id: int, actor: Actor,
                 now: datetime | None = None) -> WarningFile:
    """The warning card's content for ``actor``.

    Raises
    ------
    MoveRefused
        ``not_found``: no such warning, or one not reaching a village operator's village.
    """
    row = _load(engine, warning_id)
    data = for_viewer(warning_fieldmap_data(snap, gridset, int(warning_id), now), gridset, actor)
    villages = reached_villages(gridset, row.village_id, data.focus)
    _refuse_unseen(actor, row.id, villages)
    officers, party, support = (visible_contacts(gridset, items, actor) for items in contacts(engine, gridset, data))
    acting = may_act_on_warning(actor, villages)
    # Tasks of other villages are theirs, as their open cases are (`for_viewer`).
    every_task = warning_tasks(engine, row.id)
    tasks = [c for c in every_task if may_see_village(actor, c.village_id)]
    foreign = {c.id for c in every_task} - {c.id for c in tasks}
    events = warning_events(engine, row.id)
    return WarningFile(
        row=row, data=data, villages=villages, officers=officers, party=party, support=support,
        cases=_open_cases_by_distance(data.cases, row.lon, row.lat), tasks=tasks,
        events=events, moves=allowed_warning_moves(row.status, actor, villages),
        may_dispatch=acting and row.status != "cleared", affected=data.focus,
        foreign_events=frozenset(e.id for e in events if _task_of(e) in foreign),
    )


def _task_of(event: WarningEvent) -> int | None:
    """The task case a dispatch step of the log names (its note starts ``任务 #N``, see `dispatch_task`)."""
    found = TASK_NOTE.match(event.note or "") if event.action == "dispatch" else None
    return int(found.group(1)) if found else None


def selected_warning(snap: Snapshot, gridset: GridSet, warning_id: int | None) -> dict | None:
    """What the map draws for an open warning card: point, radius, level and affected grids (or None)."""
    if warning_id is None:
        return None
    w = snap.warnings
    rows = w[(w["id"] == int(warning_id)).to_numpy()]
    if rows.empty:
        return None
    r = rows.iloc[0]
    lon, lat, radius = float(r["lon"]), float(r["lat"]), float(r["radius_m"])
    return {"id": int(r["id"]), "lon": lon, "lat": lat, "radius_m": radius, "level": int(r["level"]),
            "grids": gridset.grids_within(lon, lat, radius)}


def _log_event(uow: UnitOfWork, warning: Warning, actor: Actor, action: str, at: datetime, note: str,
               to_status: str | None = None) -> WarningEvent:
    """Write one step of the warning's log in ``uow``; ``to_status`` when the step moves the warning."""
    event = WarningEvent(warning_id=warning.id, at=at, actor=actor.name[:64], action=action,
                         from_status=warning.status if to_status else None, to_status=to_status, note=note)
    uow.session.add(event)
    version = uow.version()  # the warning card reloads its log when the data version moves
    if to_status:
        warning.version = version
    return event


def _locked_warning(uow: UnitOfWork, gridset: GridSet, warning_id: int, actor: Actor,
                    doing: str) -> tuple[Warning, set[str]]:
    """The warning, locked in ``uow``, and the villages it reaches; refused unless ``actor`` may act on it."""
    row = uow.session.get(Warning, int(warning_id), with_for_update=True)
    if row is None:
        raise MoveRefused(f"warning {warning_id} does not exist", "not_found")
    villages = reached_villages(gridset, row.village_id, gridset.grids_within(row.lon, row.lat, row.radius_m))
    _refuse_unseen(actor, row.id, villages)
    if not may_act_on_warning(actor, villages):
        raise MoveRefused(f"role {actor.role!r} may not {doing}; allowed: admin, command, "
                          "village (warnings reaching their village)", "forbidden")
    return row, villages


def _check_version(row: Warning, expected_version: int | None) -> None:
    """Refuse (``stale``) when the warning changed since the viewer read ``expected_version``."""
    if expected_version is not None and row.version != expected_version:
        raise MoveRefused(f"warning {row.id} was changed by someone else since you opened it (you saw version "
                          f"{expected_version}, it is now {row.version}); reload it and try again", "stale")


def move_warning(engine: Engine, gridset: GridSet, warning_id: int, move: str, actor: Actor, *,
                 expected_version: int | None = None, note: str = "", now: datetime | None = None) -> WarningEvent:
    """Move a warning one step (acknowledge, handle, clear), logged in the same unit of work.

    Raises
    ------
    MoveRefused
        Unknown move (``invalid``), no such warning (``not_found``), a role or
        village that may not act (``forbidden``), a status the move does not
        leave from (``status``), a warning changed since the card showed it
        (``stale``). Nothing is changed.
    """
    spec = WARNING_MOVES.get(move)
    if spec is None:
        raise MoveRefused(f"unknown warning move {move!r}; moves: {', '.join(WARNING_MOVES)}", "invalid")
    froms, to, zh = spec
    now = now or utcnow()
    with UnitOfWork(engine) as uow:
        row, _ = _locked_warning(uow, gridset, warning_id, actor, f"{move} ({zh}) a warning")
        _check_version(row, expected_version)
        if row.status not in froms:
            raise MoveRefused(f"warning {row.id} is {row.status}; {move} ({zh}) leaves only from "
                              f"{', '.join(sorted(froms))}", "status")
        event = _log_event(uow, row, actor, move, now, (note or "").strip(), to_status=to)
        row.status = to
        row.updated_at = now
        uow.commit()
    return event


def dispatch_task(engine: Engine, gridset: GridSet, warning_id: int, handler_id: str, actor: Actor, *,
                  expected_version: int | None = None, note: str = "", now: datetime | None = None,
                  sla: SlaConfig = DEFAULT_SLA) -> int:
    """Create a hazard case at the warning's point and dispatch it to ``handler_id``; return the case id.

    One unit of work: the case with its ``report`` record, its ``dispatch``
    move, and the warning's ``dispatch`` log record naming the case commit
    together or not at all, so neither a refusal nor a crash leaves a
    half-made task. ``sla`` sets the case's deadline (the app's configuration).

    Raises
    ------
    MoveRefused
        As :func:`move_warning`, and ``invalid`` for an unknown or inactive handler.
    """
    now = now or utcnow()
    with UnitOfWork(engine) as uow:
        row, _ = _locked_warning(uow, gridset, warning_id, actor, "dispatch tasks from a warning")
        _check_version(row, expected_version)
        if row.status == "cleared":
            raise MoveRefused(f"warning {row.id} is cleared; no task is dispatched from it", "status")
        h = get_handler(uow.session, handler_id)
        if h is None:
            raise MoveRefused(f"handler {handler_id!r} does not exist or is inactive", "invalid")
        if actor.role == "village":
            point_grid = gridset.locate(np.array([row.lon]), np.array([row.lat]))[0]
            point_village = gridset.village_of(point_grid) if point_grid else None
            if point_village != actor.village_id or h.village_id != actor.village_id:
                raise MoveRefused(f"a village operator of {actor.village_id} dispatches tasks only for a warning "
                                  "whose point lies in that village, to handlers of that village; ask the command "
                                  "centre", "forbidden")
        extra = note.strip()
        item = CaseIn(source=TASK_SOURCE, external_id=task_prefix(row.id) + secrets.token_hex(4), type="hazard",
                      domain="safety", title=f"[预警处置] {row.title}"[:200],
                      description=f"预警 #{row.id} 一点指挥派单:{row.title}" + (f"\n{extra}" if extra else ""),
                      lon=row.lon, lat=row.lat, outside_ok=True)
        case_id = add_cases(uow, gridset, [item], actor=actor.name[:64], sla=sla)[0].id
        move_case(uow, case_id, "dispatch", actor, now=now, sla=sla, handler=h.handler_id,
                  note=f"预警 #{row.id} 一点指挥")
        _log_event(uow, row, actor, "dispatch", now, TASK_NOTE_FORMAT.format(case_id=case_id, name=h.name,
                                                                             handler_id=h.handler_id))
        uow.commit()
    return case_id


# -- the API's shapes of the moves (the card's buttons over HTTP) --------------------------------


class WarningMoveIn(BaseModel):
    """The body of ``POST /api/v1/warnings/{id}/{move}``: the version read, and a note for the log."""

    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=0, description="the warning's version as last read (GET the warnings); "
                                  "a warning changed since is refused with 409")
    note: str = Field("", max_length=2000, description="a note for the warning's log")


class TaskIn(WarningMoveIn):
    """The body of ``POST /api/v1/warnings/{id}/tasks``: whom to send, as the card's 派单 does."""

    handler: str = Field(min_length=1, max_length=64, description="a handler id (GET a case's suggestions, or "
                         "the warning card's lists)")


class WarningEventOut(BaseModel):
    """One step of a warning's log; names and notes shown only to roles that see personal data."""

    at: str | None = Field(description="ISO 8601, +08:00")
    actor: str
    action: str = Field(description="acknowledge, handle, clear or dispatch")
    from_status: str | None
    to_status: str | None
    note: str


class WarningMovedOut(BaseModel):
    """What a warning move or a dispatched task did: the log record, the warning after it, its open moves."""

    event: WarningEventOut
    warning: dict = Field(description="the warning after the move (WarningOut)")
    moves: list[str] = Field(description="the warning moves now open to the caller")
    case_id: int | None = Field(None, description="the task's case (POST .../tasks only)")


def warning_event_out(e: WarningEvent, role: str) -> dict:
    """A step of a warning's log as the API shows it to ``role``."""
    personal = sees_personal(role)
    return WarningEventOut(at=iso(e.at), actor=e.actor if personal else shown_name(e.actor, role), action=e.action,
                           from_status=e.from_status, to_status=e.to_status,
                           note=e.note if personal else "").model_dump()


__all__ = ["WARNING_MOVES", "TASK_SOURCE", "Contact", "WarningFile", "task_prefix", "radius_ring",
           "reached_villages", "allowed_warning_moves", "contacts", "warning_tasks",
           "warning_events", "visible_warning", "warning_file", "selected_warning", "move_warning", "dispatch_task",
           "WarningMoveIn", "TaskIn", "WarningEventOut", "WarningMovedOut", "warning_event_out"]
