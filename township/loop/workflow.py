"""The closed loop (闭环): one state machine for a case's status and tier.

群众点单 → 网格派单 → 党员接单 → 办结 → 销号::

    reported ─dispatch→ dispatched ─accept→ accepted ─start→ in_progress ─resolve→ resolved ─close→ closed
       │  ↑                  │                  │                  │
       │  └──dispatch── returned ←──return──────┴──────────────────┘
       └─accept (micro-wishes 微心愿 only: a party member claims it straight away)
    any open status ─cancel→ cancelled          any open status ─escalate→ same status, tier + 1
    resolved/closed ─reopen (回访 不满意, returned to dispatch: 返工; ``system`` only)→ returned

The tier (分级化解) grid → village → township → county only moves up; each
escalation starts the new tier's clock (`township.domain.sla.deadline_for`).

Every move is one row of :data:`MOVES`: the statuses it leaves from, the
status it goes to, the roles allowed, the parameters it needs, and at most one
extra rule and one effect (small named functions below). :func:`apply_move`
checks everything first and raises :class:`MoveRefused` with the reason — in
that case nothing was written — and otherwise, in one transaction, changes the
case, writes its :class:`~township.store.models.CaseEvent`, bumps the data version
and stamps ``case.version`` with it. A caller that passes the version it saw
(``expected_version``) is refused if the case changed since (optimistic
concurrency: two operators on one case cannot overwrite each other).

Roles (docs/design.md §5): ``admin`` and ``command`` act on every case; ``village``
only on cases of its own village that are still at grid or village tier
(小事不出村: once the case is at the township, the township handles it);
``responder`` only on cases dispatched to the handler it acts as (and may
take orders from its village's party-member pool); ``wall`` never acts.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.policy import STAFF
from township.domain.sla import DEFAULT_SLA, SlaConfig, deadline_for
from township.domain.vocab import CASE_STATUSES, CASE_TYPES, DONE_STATUSES, OPEN_STATUSES, TIERS
from township.loop.notify import note_move
from township.loop.staff import get_handler
from township.store.models import Case, CaseAssignment, CaseEvent, Grid, Handler, User, utcnow
from township.store.uow import UnitOfWork

#: Tiers, lowest first.
TIER_ORDER: tuple[str, ...] = tuple(TIERS)
#: The value of ``handler`` that dispatches to the case's village party-member pool (接单池).
POOL = "pool"
#: Longest note text accepted.
MAX_NOTE = 2000


class MoveRefused(Exception):
    """A move that is not allowed; nothing was changed.

    Attributes
    ----------
    reason : str
        The message to show: names the case, its status and the rule.
    code : str
        ``not_found``, ``stale``, ``forbidden`` (role or scope), ``status``
        (not allowed from the case's status or tier), ``missing`` (a required
        parameter absent) or ``invalid`` (a parameter wrong). The HTTP API
        maps them to 404, 409, 403, 409, 422, 422.
    """

    def __init__(self, reason: str, code: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Actor:
    """Who makes a move.

    Attributes
    ----------
    name : str
        Written into the audit trail (``CaseEvent.actor``).
    role : str
        ``admin``, ``command``, ``village``, ``responder``, ``wall``; ``system`` for scheduled jobs.
    village_id : str, optional
        The village of a ``village`` operator.
    handler_id : str, optional
        The handler a ``responder`` acts as (a grid officer or party member).
    """

    name: str
    role: str
    village_id: str | None = None
    handler_id: str | None = None

    @classmethod
    def of_user(cls, user: User) -> Actor:
        """The actor of a signed-in :class:`~township.store.models.User`."""
        return cls(user.display_name or user.username, user.role, user.village_id, user.handler_id)


@dataclass
class _Ctx:
    """What a rule or an effect sees: the open session, the locked case and the move's inputs."""

    s: Session
    case: Case
    actor: Actor
    params: dict[str, str]
    now: datetime
    sla: SlaConfig
    assignment: CaseAssignment | None
    #: Set by a rule for its effect (the handler dispatched to or accepting).
    target: Handler | None = None


def _st(status: str | None) -> str:
    """A status as people read it: 已办结 (resolved)."""
    return f"{CASE_STATUSES[status]['zh']} ({status})" if status in CASE_STATUSES else str(status)


def tier_label(tier: str) -> str:
    """A tier as people read it: 村级 (village)."""
    return f"{TIERS[tier]['zh']} ({tier})" if tier in TIERS else str(tier)


# -- rules: extra preconditions, raising MoveRefused ---------------------------------------------


def _rule_dispatch(c: _Ctx) -> None:
    handler = c.params["handler"].strip()
    if handler == POOL:
        if not c.case.village_id:
            raise MoveRefused(f"case {c.case.id} lies in no village, so it has no party-member pool; "
                              "dispatch it to a handler", "invalid")
        return
    h = get_handler(c.s, handler)
    if h is None:
        raise MoveRefused(f"handler {handler!r} does not exist or is inactive", "invalid")
    if c.actor.role == "village" and h.village_id != c.actor.village_id:
        raise MoveRefused(f"a village operator of {c.actor.village_id} dispatches only to handlers of that "
                          f"village; {h.name} ({h.handler_id}) is not one — escalate the case instead", "forbidden")
    c.target = h


def _rule_accept(c: _Ctx) -> None:
    case, a = c.case, c.assignment
    pooled = case.status == "reported" or (a is not None and a.handler_id is None)
    given = (c.params.get("handler") or "").strip() or None
    if c.actor.role == "responder" and given and given != c.actor.handler_id:
        raise MoveRefused("a responder accepts only for themself, not for another handler", "forbidden")
    taker_id = given or c.actor.handler_id
    if pooled:
        # An open order (接单池 or a reported micro-wish) goes to whichever party member of the village takes it.
        if not taker_id:
            raise MoveRefused(f"case {case.id} is an open order of {case.village_id}: say which party member "
                              "takes it (handler)", "missing")
        h = get_handler(c.s, taker_id)
        if h is None or h.kind != "party_member" or h.village_id != case.village_id:
            raise MoveRefused(f"an open order of {case.village_id} is taken (接单) by a party member of that "
                              f"village; {taker_id!r} is not one", "forbidden")
        c.target = h
        return
    if a is None:
        # Dispatched outside the loop (an import, the demo history, a source re-sending its
        # status): only a name is known. Staff record the acceptance; a named handler takes it over.
        c.target = get_handler(c.s, given) if given else None
        if given and c.target is None:
            raise MoveRefused(f"handler {given!r} does not exist or is inactive", "invalid")
        return
    # (A responder reaching here is that handler: _check_scope saw to it.)
    if given and given != a.handler_id:
        raise MoveRefused(f"case {case.id} is dispatched to {case.handler} ({a.handler_id}); only they accept it — "
                          "dispatch it again to change the handler", "forbidden")
    c.target = get_handler(c.s, a.handler_id) if a.handler_id else None


# -- effects: what a move changes besides status, version and the audit record ---------------------


def _assign(c: _Ctx, handler_id: str | None, pool: str | None) -> None:
    if c.assignment is None:
        c.assignment = CaseAssignment(case_id=c.case.id, assigned_at=c.now)
        c.s.add(c.assignment)
    c.assignment.handler_id, c.assignment.pool_village_id, c.assignment.assigned_at = handler_id, pool, c.now


def _do_dispatch(c: _Ctx) -> str:
    if c.target is None:
        village = c.s.get(Grid, c.case.village_id)
        label = f"{village.name if village else c.case.village_id}党员接单池"
        _assign(c, None, c.case.village_id)
        c.case.handler = label[:64]
        return f"派单至{label}"
    _assign(c, c.target.handler_id, None)
    c.case.handler = c.target.name[:64]
    return f"派单给{c.target.name} ({c.target.handler_id})"


def _do_accept(c: _Ctx) -> str:
    h = c.target
    name = h.name if h is not None else (c.case.handler or "")
    if h is not None:
        _assign(c, h.handler_id, None)
    elif c.assignment is not None:
        _assign(c, c.assignment.handler_id, None)
    c.case.handler = name[:64] or None
    return f"{name}接单"


def _do_resolve(c: _Ctx) -> str:
    c.case.resolved_at = c.now
    return c.params["result"]


def _do_close(c: _Ctx) -> str:
    c.case.closed_at = c.now
    return c.params["verification"]


def _do_return(c: _Ctx) -> str:
    # Back to dispatch: nobody holds the case until it is dispatched again.
    if c.assignment is not None:
        c.s.delete(c.assignment)
        c.assignment = None
    c.case.handler = None
    if c.case.status in DONE_STATUSES:  # reopened (返工): done no more, and the tier's full time from now
        c.case.resolved_at = c.case.closed_at = None
        c.case.deadline_at = deadline_for(c.case.tier, c.case.domain, c.now, c.case.type, config=c.sla)
    return c.params["reason"]


def _do_escalate(c: _Ctx) -> str:
    new = TIER_ORDER[TIER_ORDER.index(c.case.tier) + 1]
    c.case.tier = new
    if TIER_ORDER.index(new) > TIER_ORDER.index(c.case.max_tier):
        c.case.max_tier = new
    # The new tier gets its own full time, from now (not from the report).
    c.case.deadline_at = deadline_for(new, c.case.domain, c.now, c.case.type, config=c.sla)
    return f"{c.params['reason']}(新期限 {c.case.deadline_at:%Y-%m-%d %H:%M} UTC)"


# -- the move table ---------------------------------------------------------------------------------

_FIELD = STAFF | {"responder"}
_WORK = frozenset({"dispatched", "accepted", "in_progress"})


@dataclass(frozen=True)
class Move:
    """One allowed move of the state machine.

    Attributes
    ----------
    name, zh : str
        Code and Chinese label (派单, 接单 …).
    from_statuses : frozenset of str
        Statuses the move may leave from.
    to : str or None
        Status after the move; ``None`` keeps the status (escalation moves the tier).
    roles : frozenset of str
        Roles that may make the move (``wall`` is in none).
    needs : tuple of str
        Parameters that must be given, non-blank; ``note`` is always optional.
    takes : tuple of str
        Further optional parameters.
    only_types : mapping of str to frozenset of str
        Statuses the move leaves from only for some case types.
    rule : callable, optional
        Extra precondition; raises :class:`MoveRefused`.
    effect : callable, optional
        Changes besides status; returns the text for the audit note.
    """

    name: str
    zh: str
    from_statuses: frozenset[str]
    to: str | None
    roles: frozenset[str]
    needs: tuple[str, ...] = ()
    takes: tuple[str, ...] = ()
    only_types: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    rule: Callable[[_Ctx], None] | None = None
    effect: Callable[[_Ctx], str] | None = None


#: The state machine: every allowed move, and nothing else.
MOVES: Mapping[str, Move] = MappingProxyType({m.name: m for m in (
    Move("dispatch", "派单", frozenset({"reported", "returned"}), "dispatched", STAFF,
         needs=("handler",), rule=_rule_dispatch, effect=_do_dispatch),
    Move("accept", "接单", frozenset({"dispatched", "reported"}), "accepted", _FIELD,
         takes=("handler",), only_types=MappingProxyType({"reported": frozenset({"wish"})}),
         rule=_rule_accept, effect=_do_accept),
    Move("start", "开始处置", frozenset({"accepted"}), "in_progress", _FIELD),
    Move("resolve", "办结", frozenset({"in_progress"}), "resolved", _FIELD,
         needs=("result",), effect=_do_resolve),
    Move("close", "销号", frozenset({"resolved"}), "closed", STAFF,
         needs=("verification",), effect=_do_close),
    Move("return", "退回", _WORK, "returned", _FIELD, needs=("reason",), effect=_do_return),
    Move("cancel", "撤销", OPEN_STATUSES, "cancelled", STAFF, needs=("reason",), effect=lambda c: c.params["reason"]),
    Move("escalate", "升级", OPEN_STATUSES, None, STAFF | {"system"}, needs=("reason",), effect=_do_escalate),
    Move("reopen", "重办", DONE_STATUSES, "returned", frozenset({"system"}), needs=("reason",), effect=_do_return),
)})

#: What each required parameter is, for messages.
_PARAM_TEXT = {
    "handler": "a handler (a handler id, or 'pool' for the village's party-member pool)",
    "result": "a result note (办结情况)",
    "verification": "a verification / return-visit result (回访结果)",
    "reason": "a reason",
}


# -- checking and applying ---------------------------------------------------------------------------


def _check_scope(move: Move, case: Case, actor: Actor, assignment: CaseAssignment | None) -> None:
    """Role and scope: may this actor make this move on this case at all?"""
    if actor.role not in move.roles:
        raise MoveRefused(f"role {actor.role!r} may not {move.name} ({move.zh}); allowed: "
                          f"{', '.join(sorted(move.roles - {'system'}))}", "forbidden")
    if actor.role == "village":
        if not actor.village_id or case.village_id != actor.village_id:
            raise MoveRefused(f"case {case.id} belongs to {case.village_id or 'no village'}; a village operator "
                              f"acts only on cases of their own village ({actor.village_id})", "forbidden")
        if case.tier not in ("grid", "village"):
            raise MoveRefused(f"case {case.id} is at {tier_label(case.tier)} tier: the township handles it, "
                              "not the village operator", "forbidden")
    if actor.role == "responder":
        if not actor.handler_id:
            raise MoveRefused("this responder account is linked to no handler, so it can take no case", "forbidden")
        pooled = case.status == "reported" or (assignment is not None and assignment.handler_id is None)
        mine = assignment is not None and assignment.handler_id == actor.handler_id
        if not mine and not (move.name == "accept" and pooled):
            raise MoveRefused(f"case {case.id} is not dispatched to {actor.name} ({actor.handler_id}); "
                              "a responder acts only on their own cases", "forbidden")


def _check_status(move: Move, case: Case) -> None:
    allowed = [s for s in CASE_STATUSES if s in move.from_statuses]
    if case.status not in move.from_statuses:
        raise MoveRefused(f"cannot {move.name} ({move.zh}) case {case.id}: it is {_st(case.status)}, and "
                          f"{move.name} is allowed only from {', '.join(_st(s) for s in allowed)}", "status")
    types = move.only_types.get(case.status)
    if types is not None and case.type not in types:
        raise MoveRefused(f"cannot {move.name} ({move.zh}) case {case.id} while it is {_st(case.status)}: only "
                          f"{', '.join(CASE_TYPES[t]['zh'] for t in sorted(types))} can be taken before dispatch "
                          "— dispatch it first", "status")
    if move.name == "escalate" and case.tier == TIER_ORDER[-1]:
        raise MoveRefused(f"case {case.id} is already at the top tier {tier_label(case.tier)}; tiers only move up",
                          "status")


def _check_params(move: Move, params: dict[str, object]) -> dict[str, str]:
    allowed = (*move.needs, *move.takes, "note")
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise MoveRefused(f"{move.name} takes {', '.join(allowed)}; got unknown {', '.join(extra)}", "invalid")
    clean: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise MoveRefused(f"{key} must be text, got {type(value).__name__}", "invalid")
        if len(value) > MAX_NOTE:
            raise MoveRefused(f"{key} is {len(value)} characters; at most {MAX_NOTE}", "invalid")
        clean[key] = value.strip()
    for key in move.needs:
        if not clean.get(key):
            raise MoveRefused(f"{move.name} ({move.zh}) needs {_PARAM_TEXT.get(key, key)}", "missing")
    return clean


@dataclass(frozen=True)
class Moved:
    """What a successful move did (the audit record, and the case's new version)."""

    case_id: int
    move: str
    from_status: str
    to_status: str
    from_tier: str
    to_tier: str
    version: int
    at: datetime
    note: str


def _apply(uow: UnitOfWork, case: Case, move: Move, actor: Actor, params: dict[str, object], now: datetime,
           sla: SlaConfig) -> Moved:
    """Check ``move`` on a case locked in ``uow`` and apply it; raise before writing anything."""
    s = uow.session
    assignment = s.get(CaseAssignment, case.id)
    _check_scope(move, case, actor, assignment)
    _check_status(move, case)
    clean = _check_params(move, params)
    ctx = _Ctx(s, case, actor, clean, now, sla, assignment)
    if move.rule is not None:
        move.rule(ctx)
    # From here on the move is allowed: write.
    before = (case.status, case.tier)
    text = move.effect(ctx) if move.effect is not None else ""
    if clean.get("note"):
        text = f"{text};{clean['note']}" if text else clean["note"]
    case.status = move.to or case.status
    case.updated_at = now
    case.version = uow.version()
    s.add(CaseEvent(case_id=case.id, at=now, actor=actor.name[:64], action=move.name, from_status=before[0],
                    to_status=case.status, from_tier=before[1], to_tier=case.tier, note=text))
    note_move(uow, case, move.name, before[0], ctx.target, clean.get("reason", ""))  # the outbox, in this unit
    return Moved(case.id, move.name, before[0], case.status, before[1], case.tier, case.version, now, text)


def move_case(uow: UnitOfWork, case_id: int, move: str, actor: Actor, *, expected_version: int | None = None,
              now: datetime | None = None, sla: SlaConfig = DEFAULT_SLA, **params: object) -> Moved:
    """Make one move of the closed loop on one case, in ``uow`` (not committed: the caller commits).

    Parameters
    ----------
    uow : UnitOfWork
        The open unit of work; the case is locked in it.
    case_id : int
        The case.
    move : str
        A key of :data:`MOVES`: ``dispatch``, ``accept``, ``start``, ``resolve``,
        ``close``, ``return``, ``cancel``, ``escalate``, ``reopen``.
    actor : Actor
        Who makes it (role, village, handler).
    expected_version : int, optional
        ``case.version`` as the caller saw it; the move is refused if the case
        changed since. Screens and the API must pass it; ``None`` skips the
        check (scheduled jobs).
    now : datetime, optional
        The clock (naive UTC); default the current time.
    sla : SlaConfig
        Deadlines for escalation: the app's (`township.config.Settings.sla`).
    **params : str
        ``handler`` (dispatch; optional for accept), ``result`` (resolve),
        ``verification`` (close), ``reason`` (return, cancel, escalate, reopen),
        ``note`` (any move).

    Returns
    -------
    Moved
        The audit record written and the case's new version (the unit's data version).

    Raises
    ------
    MoveRefused
        The move is not allowed (see its ``code``); nothing was written.
    """
    spec = MOVES.get(move)
    if spec is None:
        raise MoveRefused(f"unknown move {move!r}; moves: {', '.join(MOVES)}", "invalid")
    case = uow.session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise MoveRefused(f"case {case_id} does not exist", "not_found")
    if expected_version is not None and case.version != expected_version:
        raise MoveRefused(f"case {case_id} was changed by someone else since you opened it (you saw version "
                          f"{expected_version}, it is now {case.version}); reload it and try again", "stale")
    return _apply(uow, case, spec, actor, dict(params), now or utcnow(), sla)


def apply_move(engine: Engine, case_id: int, move: str, actor: Actor, *, expected_version: int | None = None,
               now: datetime | None = None, sla: SlaConfig = DEFAULT_SLA, **params: object) -> Moved:
    """Make one move on one case in a unit of work of its own (see :func:`move_case`) and commit it.

    Raises
    ------
    MoveRefused
        The move is not allowed (see its ``code``); nothing was changed.
    """
    with UnitOfWork(engine) as uow:
        moved = move_case(uow, case_id, move, actor, expected_version=expected_version, now=now, sla=sla, **params)
        uow.commit()
    return moved


def allowed_moves(engine: Engine, case_id: int, actor: Actor) -> list[str]:
    """The moves whose role, scope and status rules let ``actor`` act on the case now (for the buttons).

    A listed move may still be refused for its parameters (e.g. a handler of another village).
    """
    with Session(engine) as s:
        case = s.get(Case, case_id)
        if case is None:
            return []
        assignment = s.get(CaseAssignment, case_id)
        out = []
        for name, spec in MOVES.items():
            try:
                _check_scope(spec, case, actor, assignment)
                _check_status(spec, case)
            except MoveRefused:
                continue
            out.append(name)
        return out
