"""The field app's use cases: my tasks, the orders I may take, a move from the phone, a patrol report.

The phone (``/m``, `field`) acts through the same workflow as the dashboard
and the API (`township.loop.workflow.move_case` with ``expected_version``);
this module only chooses what a grid officer or party member sees first and
turns what the phone sends (a position, the phone's clock) into the move's
parameters. Each write runs inside `township.loop.receipts.once`, so a move
or report sent again after a dead zone is applied once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.isotime import local_text
from township.domain.sla import SlaConfig
from township.domain.vocab import CASE_TYPES, OPEN_STATUSES
from township.formats.ingest import CaseIn, FieldError, IngestError, add_cases, validation_errors
from township.grids.model import GridSet
from township.loop.casefile import overdue
from township.loop.receipts import Answer
from township.loop.staff import get_handler
from township.loop.sweeps import open_orders
from township.loop.workflow import Actor, MoveRefused, allowed_moves, move_case
from township.store.models import Case, CaseAssignment, Photo, utcnow
from township.store.uow import UnitOfWork

#: The moves the field app offers (the desk's dispatch, close, cancel and escalate stay at the desk).
FIELD_MOVES: tuple[str, ...] = ("accept", "start", "resolve", "return")
#: The text parameter of each field move, from the phone's one text box.
TEXT_PARAM: dict[str, str] = {"accept": "note", "start": "note", "resolve": "result", "return": "reason"}


@dataclass(frozen=True)
class Place:
    """Where and when the phone says the person was: WGS84, the GPS accuracy, the phone's clock."""

    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    at: datetime | None = None

    def words(self) -> str:
        """For the audit note: ``位置 110.12345,35.12345(±15 m);手机时间 2026-12-06 19:20``."""
        parts = []
        if self.lon is not None and self.lat is not None:
            acc = f"(±{self.accuracy_m:.0f} m)" if self.accuracy_m is not None else ""
            parts.append(f"位置 {self.lon:.5f},{self.lat:.5f}{acc}")
        if self.at is not None:
            parts.append(f"手机时间 {local_text(self.at)}")
        return ";".join(parts)


def my_tasks(engine: Engine, actor: Actor, now: datetime) -> list[Case]:
    """Open cases dispatched to the handler ``actor`` acts as: overdue first, then by deadline."""
    if not actor.handler_id:
        return []
    with Session(engine) as s:
        rows = list(s.scalars(select(Case).join(CaseAssignment, CaseAssignment.case_id == Case.id).where(
            CaseAssignment.handler_id == actor.handler_id, Case.status.in_(OPEN_STATUSES))))
    return sorted(rows, key=lambda c: (not overdue(c, now), c.deadline_at, c.id))


def takeable(engine: Engine, actor: Actor) -> list[Case]:
    """The open orders (接单池, waiting micro-wishes) ``actor`` may take: a party member's village's."""
    if not actor.handler_id:
        return []
    with Session(engine) as s:
        h = get_handler(s, actor.handler_id)
    if h is None or h.kind != "party_member" or not h.village_id:
        return []
    return open_orders(engine, h.village_id)


def field_moves(engine: Engine, case_id: int, actor: Actor) -> list[str]:
    """The moves of :data:`FIELD_MOVES` ``actor`` may make on the case now (the big buttons)."""
    return [m for m in allowed_moves(engine, case_id, actor) if m in FIELD_MOVES]


def move_params(move: str, text: str | None, place: Place) -> dict[str, str]:
    """The workflow parameters of a field move: its text where the move wants it, the place in the note."""
    params: dict[str, str] = {}
    key = TEXT_PARAM[move]
    if text and text.strip():
        params[key] = text.strip()
    where = place.words()
    if where:
        params["note"] = f"{params['note']};{where}" if "note" in params else where
    return params


def needs_photo(case: Case, photo_types: frozenset[str]) -> bool:
    """Whether resolving ``case`` from the field needs a photo of the result (``FIELD_PHOTO_REQUIRED``)."""
    return case.type in photo_types


def _check_evidence(uow: UnitOfWork, case_id: int, photo_types: frozenset[str]) -> None:
    """Refuse 办结 of a case whose type needs a photo while it has no 办结 photo (they are sent first)."""
    case = uow.session.get(Case, case_id)
    if case is None or not needs_photo(case, photo_types):
        return
    held = uow.session.scalar(select(func.count()).select_from(Photo).where(
        Photo.case_id == case_id, Photo.purpose == "resolve")) or 0
    if not held:
        raise MoveRefused(f"case {case_id} is a {CASE_TYPES[case.type]['en'].lower()} ({CASE_TYPES[case.type]['zh']}):"
                          " resolving it needs at least one photo of the result (办结照片) — add one and send again",
                          "missing")


def field_move(uow: UnitOfWork, case_id: int, move: str, actor: Actor, expected_version: int, text: str | None,
               place: Place, sla: SlaConfig, photo_types: frozenset[str] = frozenset()) -> Answer:
    """Make a field move in ``uow`` (the caller commits, through `township.loop.receipts.once`).

    ``photo_types``: case types whose 办结 needs a 办结 photo already attached (`needs_photo`).

    Raises
    ------
    MoveRefused
        Not a field move, refused by the workflow (stale, not allowed now, a
        missing reason) or a missing photo; nothing was written.
    """
    if move not in FIELD_MOVES:
        raise MoveRefused(f"{move!r} is not made from the field app; moves here: {', '.join(FIELD_MOVES)}",
                          "invalid")
    if move == "resolve":
        _check_evidence(uow, case_id, photo_types)
    params: dict[str, object] = dict(move_params(move, text, place))
    moved = move_case(uow, case_id, move, actor, expected_version=expected_version, now=utcnow(), sla=sla,
                      **params)
    return Answer(200, {"case_id": moved.case_id, "move": moved.move, "status": moved.to_status,
                        "version": moved.version})


def patrol_report(uow: UnitOfWork, gridset: GridSet, actor: Actor, type_: str, domain: str, description: str,
                  place: Place, sla: SlaConfig) -> Answer:
    """Report a new case from a grid officer's patrol (source ``patrol``), through ingest's one write path.

    Raises
    ------
    IngestError
        No position, a point outside the town, an unknown type or domain, no
        description; each named by its field. Nothing was written.
    """
    if place.lon is None or place.lat is None:
        raise IngestError([FieldError(None, "lon,lat", "the position is missing: let the phone locate you, or "
                                      "tap the place on the map")])
    text = (description or "").strip()
    if not text:
        raise IngestError([FieldError(None, "description", "say what you found (a few words at least)")])
    first_line = text.splitlines()[0]
    label = CASE_TYPES[type_]["zh"] if type_ in CASE_TYPES else type_
    title = first_line[:60] if len(first_line) >= 4 else f"{label}:{first_line}"
    try:
        item = CaseIn.model_validate({"source": "patrol", "type": type_, "domain": domain, "title": title,
                                      "description": text, "lon": place.lon, "lat": place.lat,
                                      "reporter": actor.name[:64]})
    except ValidationError as exc:
        raise IngestError(validation_errors(exc)) from None
    written = add_cases(uow, gridset, [item], actor=actor.name[:64], sla=sla)[0]
    return Answer(201, {"case_id": written.id, "grid_id": written.grid_id, "status": "reported"})


__all__ = ["FIELD_MOVES", "Place", "my_tasks", "takeable", "field_moves", "move_params", "field_move",
           "patrol_report", "needs_photo"]
