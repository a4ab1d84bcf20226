"""One case as a viewer works on it: scope, the case file, handler choices and what the API shows.

Shared by the HTTP API (`api.v1`) and the dashboard's case card
(`callbacks.casecard`), so the two cannot disagree about who may see a
case, which handlers are offered, or how the audit trail is masked.

Scope (docs/design.md §5): a ``village`` operator sees and acts on the cases of
their own village only; every other role sees every case (what they may
*do* is `township.loop.workflow`'s business). Personal data — the reporter's
name and phone, handlers' phones, the names in the audit trail — is shown
as the viewer's role may see it (`township.domain.privacy`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.filters import FilterState
from township.domain.isotime import iso
from township.domain.policy import may_see_village
from township.domain.privacy import sees_personal, shown_name, shown_phone
from township.domain.vocab import CASE_MOVES, OPEN_STATUSES
from township.grids.model import GridSet
from township.loop.staff import HANDLER_KINDS, Suggestion, suggest_handlers
from township.loop.sweeps import case_trail
from township.loop.workflow import POOL, Actor, Moved, MoveRefused, allowed_moves
from township.read.resident import follow_counts
from township.store.models import Case, CaseAssignment, CaseEvent, Handler

#: Audit actions that are not moves: written by ingest (a new case, a source re-sending it).
OTHER_ACTIONS: dict[str, dict[str, str]] = {
    "report": {"zh": "上报", "en": "Reported"},
    "update": {"zh": "来源更新", "en": "Updated by source"},
    # A new grid set put in use moved the case into another grid (township.loop.gridversions).
    "regrid": {"zh": "网格调整", "en": "Grid changed"},
    "photo": {"zh": "添加照片", "en": "Photo added"},  # township.loop.photos
}

#: HTTP status of each `MoveRefused` code.
REFUSAL_STATUS: dict[str, int] = {"not_found": 404, "stale": 409, "forbidden": 403, "status": 409,
                                  "missing": 422, "invalid": 422}

#: The text parameter each move reads from a single free-text box (the case card's).
TEXT_PARAM: dict[str, str] = {"resolve": "result", "close": "verification", "return": "reason",
                              "cancel": "reason", "escalate": "reason"}


def action_label(action: str, lang: str = "zh") -> str:
    """派单, 接单 … for a move; 上报, 来源更新 for ingest's own records."""
    entry = CASE_MOVES.get(action) or OTHER_ACTIONS.get(action)
    return entry[lang] if entry else action


def check_visible(actor: Actor, case_id: int, village_id: str | None) -> None:
    """Refuse a case outside a village operator's village as if there were none.

    The answer is the one for a missing case, word for word: whether another
    village has a case ``case_id`` is itself not for the operator to learn.

    Raises
    ------
    MoveRefused
        Code ``not_found``.
    """
    if not may_see_village(actor, village_id):
        raise MoveRefused(f"case {case_id} does not exist", "not_found")


def visible_case(engine: Engine, case_id: int, actor: Actor) -> Case:
    """The stored case, if ``actor`` may see it.

    Raises
    ------
    MoveRefused
        ``not_found``: no such case, or another village's (the same answer).
    """
    with Session(engine) as s:
        case = s.get(Case, case_id)
    if case is None:
        raise MoveRefused(f"case {case_id} does not exist", "not_found")
    check_visible(actor, case_id, case.village_id)
    return case


def clamp_state(state: FilterState, actor: Actor, gridset: GridSet) -> FilterState:
    """The filter a viewer may have: a village operator's always names their village only.

    Applied on the server to every state the browser sends (the page, the
    reducer, the views), so a crafted URL or store cannot widen it; a grid of
    another village closes.
    """
    if actor.role != "village":
        return state
    village = actor.village_id or ""
    grid = state.grid if state.grid and gridset.village_of(state.grid) == village else None
    if state.village == [village] and grid == state.grid:
        return state
    return state.model_copy(update={"village": [village], "grid": grid})


def _pooled(case: Case, assignment: CaseAssignment | None) -> bool:
    """An open order (接单池, or a micro-wish waiting in 已上报): a party member takes it."""
    return (case.status == "reported" and case.type == "wish") or (
        case.status == "dispatched" and assignment is not None and assignment.handler_id is None)


def handler_choices(engine: Engine, gridset: GridSet, case: Case, actor: Actor, move: str) -> list[Suggestion]:
    """The handlers the case card offers for ``move``, best first.

    ``dispatch``: :func:`~township.loop.staff.suggest_handlers`, for a village
    operator only their village's (others would be refused), then the
    village's party-member pool (接单池). ``accept`` of an open order: the
    suggested party members of the case's village (someone must take it).
    """
    suggested = suggest_handlers(engine, gridset, case.id)
    if move == "dispatch":
        out = [h for h in suggested if actor.role != "village" or h.village_id == actor.village_id]
        if case.village_id:
            name = gridset.props(case.village_id)["name"] if case.village_id in gridset else case.village_id
            out.append(Suggestion(POOL, "pool", f"{name}党员接单池", None, None, case.village_id, "接单池"))
        return out
    if move == "accept":
        return [h for h in suggested if h.kind == "party_member" and h.village_id == case.village_id]
    return []


@dataclass(frozen=True)
class CaseFile:
    """What the case card shows: the case, its audit trail, the moves the viewer may make, the handlers offered.

    Attributes
    ----------
    case : Case
        The stored row (detached), with ``version`` to act on.
    events : list of CaseEvent
        The audit trail, oldest first.
    moves : list of str
        Moves of `township.loop.workflow.MOVES` the viewer may make now.
    handlers : list of Suggestion
        Choices for ``dispatch``, or for ``accept`` of an open order; empty otherwise.
    handler_move : str or None
        Which move the handler choice is for.
    follows : int
        关注: residents following the case from ``/report`` (`township.read.resident.follow_counts`).
    """

    case: Case
    events: list[CaseEvent]
    moves: list[str]
    handlers: list[Suggestion]
    handler_move: str | None
    follows: int = 0


def case_file(engine: Engine, gridset: GridSet, case_id: int, actor: Actor) -> CaseFile:
    """Everything the case card needs about one case, for ``actor``.

    Raises
    ------
    MoveRefused
        ``not_found`` (no such case, or another village's).
    """
    case = visible_case(engine, case_id, actor)
    moves = allowed_moves(engine, case_id, actor)
    with Session(engine) as s:
        assignment = s.get(CaseAssignment, case_id)
    handler_move = None
    if "dispatch" in moves:
        handler_move = "dispatch"
    elif "accept" in moves and _pooled(case, assignment) and actor.role != "responder":
        handler_move = "accept"  # a responder takes an order for themself: no choice to make
    handlers = handler_choices(engine, gridset, case, actor, handler_move) if handler_move else []
    return CaseFile(case, case_trail(engine, case_id), moves, handlers, handler_move,
                    follow_counts(engine, [case_id])[case_id])


def move_params(move: str, handler: str | None, text: str | None) -> dict[str, str]:
    """The parameters of ``move`` from the card's handler choice and its one text box.

    The text is the move's required text (办结情况, 回访结果, a reason) or
    else its note; the handler goes only to dispatch and accept.
    """
    params: dict[str, str] = {}
    if handler and move in ("dispatch", "accept"):
        params["handler"] = handler
    if text and text.strip():
        params[TEXT_PARAM.get(move, "note")] = text.strip()
    return params


# -- what the API shows ----------------------------------------------------------------------


class EventOut(BaseModel):
    """One step of a case's audit trail; names masked unless the viewer's role sees personal data."""

    at: str | None = Field(description="ISO 8601, +08:00")
    actor: str
    action: str = Field(description="a move (dispatch, accept …), or report / update written by ingest")
    action_zh: str
    from_status: str | None
    to_status: str | None
    from_tier: str | None
    to_tier: str | None
    note: str = Field(description="empty for roles that do not see personal data (notes name people)")


class EventsOut(BaseModel):
    """A case's audit trail, oldest first."""

    case_id: int
    items: list[EventOut]


class SuggestionOut(BaseModel):
    """A handler a case may be dispatched to, and why it is suggested."""

    handler_id: str
    kind: str = Field(description="officer, party_member, volunteer_team, department")
    kind_zh: str
    name: str
    phone: str | None = Field(description="masked (138****1234) unless the role sees personal data")
    grid_id: str | None
    village_id: str | None
    why: str


class SuggestionsOut(BaseModel):
    """Handlers for a case, best first; dispatch to ``pool`` sends it to the village's party-member pool."""

    case_id: int
    items: list[SuggestionOut]


class MoveIn(BaseModel):
    """The body of ``POST /api/v1/cases/{id}/{move}``: the version read, and the move's parameters."""

    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=0, description="the case's version as last read (GET the case); "
                                  "a case changed since is refused with 409")
    handler: str | None = Field(None, description="dispatch: a handler id or 'pool'; accept: who takes an open order")
    result: str | None = Field(None, description="resolve: what was done (办结情况)")
    verification: str | None = Field(None, description="close: the verification / return visit (回访结果)")
    reason: str | None = Field(None, description="return, cancel, escalate: why")
    note: str | None = Field(None, description="any move: a note for the audit trail")

    def params(self) -> dict[str, str]:
        """The move's parameters that were given."""
        return {k: v for k, v in self.model_dump(exclude={"expected_version"}).items() if v is not None}


class MovedOut(BaseModel):
    """What a move did: the audit record, the case after it, and the moves now open to the caller."""

    event: EventOut
    case: dict = Field(description="the case after the move (CaseOut)")
    moves: list[str]


class OrdersOut(BaseModel):
    """Open orders of a village (接单): its party-member pool and its waiting micro-wishes."""

    village_id: str
    total: int
    items: list[dict] = Field(description="CaseOut, earliest deadline first")


def event_out(e: CaseEvent | Moved, role: str, actor: str | None = None) -> dict:
    """An audit record (stored, or just written by a move) as the API shows it to ``role``."""
    personal = sees_personal(role)
    if isinstance(e, Moved):
        action, at, who, note = e.move, e.at, actor or "", e.note
    else:
        action, at, who, note = e.action, e.at, e.actor, e.note or ""
    fs, ts, ft, tt = e.from_status, e.to_status, e.from_tier, e.to_tier
    return EventOut(at=iso(at), actor=who if personal else shown_name(who, role), action=action,
                    action_zh=action_label(action), from_status=fs, to_status=ts, from_tier=ft, to_tier=tt,
                    note=note if personal else "").model_dump()


def suggestion_out(h: Suggestion, role: str) -> dict:
    """A suggested handler as the API shows it to ``role``."""
    kind_zh = HANDLER_KINDS[h.kind]["zh"] if h.kind in HANDLER_KINDS else h.why
    return SuggestionOut(handler_id=h.handler_id, kind=h.kind, kind_zh=kind_zh, name=shown_name(h.name, role),
                         phone=shown_phone(h.phone, role) if h.phone else None, grid_id=h.grid_id,
                         village_id=h.village_id, why=h.why).model_dump()


def handler_village(engine: Engine, handler_id: str | None) -> str | None:
    """The village of a handler (a responder's orders are their village's), or ``None``."""
    if not handler_id:
        return None
    with Session(engine) as s:
        return s.scalar(select(Handler.village_id).where(Handler.handler_id == handler_id))


def overdue(case: Case, now: datetime) -> bool:
    """Still open past its deadline at ``now`` (as `township.read.views.overdue_mask` counts it)."""
    return case.status in OPEN_STATUSES and case.deadline_at < now
