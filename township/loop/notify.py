"""Who is told of what: the outbox's events, their recipients, and the fan-out to people and channels.

A move someone must act on puts a `Notification` in its own unit of work
(`township.store.uow.UnitOfWork.notify`; for the closed loop :func:`note_move`).
The worker (`township.runtime.notifier`) then calls :func:`fan_out`, which
finds the people each event concerns with :data:`RECIPIENTS` — the one table
of event → recipients — puts it on their unread lists (`NotificationAudience`)
and writes one `Delivery` per channel subscribed to it (`Subscription`: a
webhook, a 企业微信 or 钉钉 robot @-mentioning the people, SMS to each of
their phones). A crash between the move and the fan-out loses nothing: the
outbox row waits for the next worker.

| event | told | audience |
|---|---|---|
| ``dispatched`` | the handler (a pool dispatch: the village's party members) | ``handler:<id>`` |
| ``overdue`` | the duty people of the tier above the case's | see :func:`tier_duty` |
| ``escalated`` | the duty people of the tier it reached | see :func:`tier_duty` |
| ``warning`` (red, orange) | the officers of the grids it reaches, and the command centre | ``handler:``, ``command`` |
| ``reported`` (a resident's new report) | the village's duty operator | ``village:<id>`` |
| ``closed``, ``reopened`` | the residents following the case (their phones) | (SMS only) |
"""
from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session

from township.domain.vocab import DONE_STATUSES, OPEN_STATUSES, TIERS
from township.formats.notices import (
    case_data,
    dingtalk_body,
    message_text,
    sms_params,
    webhook_body,
    wecom_body,
)
from township.read.resident import followers_of
from township.store.models import Case, Grid, Handler, WarningGrid
from township.store.outbox import Delivery, Notification, NotificationAudience, Subscription
from township.store.uow import UnitOfWork

#: Tiers, lowest first.
_TIERS: tuple[str, ...] = tuple(TIERS)
#: A case found overdue longer ago than this is not told of any more (a year of history is not news).
OVERDUE_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class Recipient:
    """Someone a notification concerns.

    Attributes
    ----------
    audience : str or None
        Whose unread list it goes on (``handler:H-…``, ``village:DL-01``, ``command``); ``None``: no list
        (a resident, told by SMS).
    role : str
        The role they act in (a subscription's ``role`` selects by it): ``responder``, ``village``,
        ``command`` or ``public``.
    name : str
        For the message.
    phone : str or None
        Where SMS goes and whom a robot @-mentions (personal data: never logged unmasked).
    """

    audience: str | None
    role: str
    name: str
    phone: str | None = None


def _handler(h: Handler) -> Recipient:
    return Recipient(f"handler:{h.handler_id}", "responder", h.name, h.phone)


def _village_duty(village_id: str | None) -> list[Recipient]:
    return [Recipient(f"village:{village_id}", "village", f"{village_id} 值班员")] if village_id else []


def _command() -> list[Recipient]:
    return [Recipient("command", "command", "指挥中心")]


def _officers(s: Session, grids: list[str]) -> list[Recipient]:
    rows = s.scalars(select(Handler).where(Handler.kind == "officer", Handler.active.is_(True),
                                           Handler.grid_id.in_(grids)).order_by(Handler.handler_id))
    return [_handler(h) for h in rows]


def tier_duty(s: Session, tier: str | None, grid_id: str | None, village_id: str | None) -> list[Recipient]:
    """The duty people of a tier: the grid's officers; the village's operator; the command centre (镇 and 旗)."""
    if tier == "grid":
        return _officers(s, [grid_id]) if grid_id else _village_duty(village_id)
    if tier == "village":
        return _village_duty(village_id) or _command()
    return _command()


def _next_tier(tier: str | None) -> str:
    at = _TIERS.index(tier) if tier in _TIERS else 0
    return _TIERS[min(at + 1, len(_TIERS) - 1)]


def _to_dispatched(s: Session, n: Notification, data: dict) -> list[Recipient]:
    if data.get("handler_id"):
        h = s.get(Handler, data["handler_id"])
        return [_handler(h)] if h is not None else []
    rows = s.scalars(select(Handler).where(Handler.kind == "party_member", Handler.active.is_(True),
                                           Handler.village_id == n.village_id).order_by(Handler.handler_id))
    return [_handler(h) for h in rows]


def _to_overdue(s: Session, n: Notification, data: dict) -> list[Recipient]:
    return tier_duty(s, _next_tier(data.get("tier")), data.get("grid_id"), n.village_id)


def _to_escalated(s: Session, n: Notification, data: dict) -> list[Recipient]:
    return tier_duty(s, data.get("tier"), data.get("grid_id"), n.village_id)


def _to_warning(s: Session, n: Notification, data: dict) -> list[Recipient]:
    grids = list(s.scalars(select(WarningGrid.grid_id).where(WarningGrid.warning_id == n.warning_id)))
    return [*_officers(s, grids), *_command()]


def _to_reported(s: Session, n: Notification, data: dict) -> list[Recipient]:
    return _village_duty(n.village_id)


def _to_followers(s: Session, n: Notification, data: dict) -> list[Recipient]:
    # The residents who left a phone reporting or following it (`township.read.resident.followers_of`).
    # A read beside fan_out's unit of work (on the engine itself), without its write lock.
    bind = s.get_bind()
    reader = bind.execution_options(write=False) if isinstance(bind, Engine) else None
    phones = followers_of(reader, n.case_id) if reader is not None and n.case_id is not None else []
    return [Recipient(None, "public", "关注群众", phone) for phone in phones]


#: Event → the people it concerns: the one table of who is told of what.
RECIPIENTS: Mapping[str, Callable[[Session, Notification, dict], list[Recipient]]] = MappingProxyType({
    "dispatched": _to_dispatched,
    "overdue": _to_overdue,
    "escalated": _to_escalated,
    "warning": _to_warning,
    "reported": _to_reported,
    "closed": _to_followers,
    "reopened": _to_followers,
})


# -- writing events -----------------------------------------------------------------------------------


def _village_name(s: Session, village_id: str | None) -> str | None:
    row = s.get(Grid, village_id) if village_id else None
    return row.name if row is not None else village_id


def note_move(uow: UnitOfWork, case: Case, move: str, from_status: str | None, target: Handler | None,
              reason: str = "") -> None:
    """Put the notification of a move of the closed loop (if it is one people must hear of) in ``uow``.

    ``dispatch`` → ``dispatched`` (to ``target``, or the village's pool); ``escalate`` → ``escalated``;
    ``close`` → ``closed``; any move from a done status back to an open one → ``reopened``.
    """
    if move == "dispatch":
        event = "dispatched"
    elif move == "escalate":
        event = "escalated"
    elif move == "close":
        event = "closed"
    elif from_status in DONE_STATUSES and case.status in OPEN_STATUSES:
        event = "reopened"
    else:
        return
    extra: dict[str, object] = {"reason": reason} if event == "escalated" and reason else {}
    if event == "dispatched":
        extra = {"handler_id": target.handler_id if target else None, "handler": case.handler}
    uow.notify(event, case_data(case, _village_name(uow.session, case.village_id), **extra), case_id=case.id,
               village_id=case.village_id)


def note_overdue(engine: Engine, now: datetime) -> int:
    """Put an ``overdue`` notification in the outbox for each open case past its deadline, once per deadline.

    Only cases whose deadline passed within `OVERDUE_LOOKBACK`: the first run over a store with
    a year of history tells of what is late now, not of everything ever late. For a town that
    escalates by itself (``SLA_AUTO_ESCALATE``) the escalation is the news; the worker then skips this.
    """
    def fresh(s: Session) -> list[tuple[Case, str]]:
        due = s.scalars(select(Case).where(Case.status.in_(OPEN_STATUSES), Case.deadline_at < now,
                                           Case.deadline_at >= now - OVERDUE_LOOKBACK).order_by(Case.id)).all()
        keys = {c.id: f"overdue:{c.id}:{c.deadline_at:%Y%m%dT%H%M%S}" for c in due}
        told = set(s.scalars(select(Notification.key).where(Notification.key.in_(list(keys.values())))))
        return [(c, keys[c.id]) for c in due if keys[c.id] not in told]

    with Session(engine) as s:
        if not fresh(s):  # most rounds: a read, and no write lock taken
            return 0
    with UnitOfWork(engine) as uow:
        found = fresh(uow.session)  # again under the write lock: another worker may have told of them
        for c, key in found:
            uow.notify("overdue", case_data(c, _village_name(uow.session, c.village_id)), case_id=c.id,
                       village_id=c.village_id, key=key)
        uow.commit()
    return len(found)


# -- the fan-out --------------------------------------------------------------------------------------


def _villages(n: Notification, data: dict) -> set[str]:
    return set(data.get("villages") or []) | ({n.village_id} if n.village_id else set())


def subscribed(sub: Subscription, n: Notification, data: dict) -> bool:
    """Whether ``sub`` is told of ``n``: its events (empty: all), and its village if it names one."""
    events = {e for e in sub.events.split(",") if e}
    return (not events or n.event in events) and (sub.village_id is None or sub.village_id in _villages(n, data))


def rate_key(url: str) -> str:
    """Who shares a robot's rate limit: its URL (hashed: the URL holds the robot's key)."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def _deliveries(sub: Subscription, n: Notification, data: dict, people: list[Recipient], audiences: list[str],
                now: datetime, give_up: timedelta) -> list[Delivery]:
    """The messages ``sub`` gets of ``n``: one for a webhook or a robot, one per phone for SMS."""
    chosen = [p for p in people if sub.role is None or p.role == sub.role]
    phones = list(dict.fromkeys(p.phone for p in chosen if p.phone))

    def one(body: str, phone: str | None = None) -> Delivery:
        return Delivery(notification_id=n.id, subscription_id=sub.id, channel=sub.channel,
                        message_id=f"msg_{secrets.token_hex(12)}", phone=phone, body=body, status="pending",
                        attempts=0, next_attempt_at=now, created_at=now, give_up_at=now + give_up,
                        rate_key=rate_key(sub.url or "") if sub.channel in ("wecom", "dingtalk") else None)

    text = message_text(n.event, data)
    if sub.channel == "webhook":
        return [one(webhook_body(n.event, data, n.created_at, audiences))]
    if sub.channel == "wecom":
        return [one(wecom_body(text, phones))] if chosen or sub.role is None else []
    if sub.channel == "dingtalk":
        return [one(dingtalk_body(text, phones))] if chosen or sub.role is None else []
    return [one(sms_params(n.event, data), phone) for phone in phones]


def fan_out(engine: Engine, now: datetime, give_up: timedelta, limit: int = 200) -> int:
    """Fan the outbox's new notifications out to their audiences and subscribed channels; how many.

    One unit of work: a notification is marked fanned out together with its audience and delivery
    rows, so two workers never fan one out twice (the second finds it marked, by row count).
    """
    with Session(engine) as s:
        if s.scalar(select(Notification.id).where(Notification.fanned_out_at.is_(None)).limit(1)) is None:
            return 0  # most rounds: a read, and no write lock taken
    with UnitOfWork(engine) as uow:
        s = uow.session
        rows = s.scalars(select(Notification).where(Notification.fanned_out_at.is_(None))
                         .order_by(Notification.id).limit(limit)).all()
        subs = s.scalars(select(Subscription).where(Subscription.active.is_(True)).order_by(Subscription.id)).all()
        done = 0
        for n in rows:
            mark = update(Notification).where(Notification.id == n.id, Notification.fanned_out_at.is_(None))
            taken = cast(CursorResult, s.execute(mark.values(fanned_out_at=now)))
            if taken.rowcount != 1:
                continue
            data = json.loads(n.data)
            people = RECIPIENTS[n.event](s, n, data) if n.event in RECIPIENTS else []
            audiences = sorted({p.audience for p in people if p.audience})
            s.add_all(NotificationAudience(notification_id=n.id, audience=a) for a in audiences)
            s.add_all(d for sub in subs if subscribed(sub, n, data)
                      for d in _deliveries(sub, n, data, people, audiences, now, give_up))
            done += 1
        uow.commit()
    return done
