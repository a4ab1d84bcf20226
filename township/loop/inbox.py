"""A person's unread notifications, the channels subscribed (the command line manages them), the deliveries.

What is told to whom is `township.loop.notify`'s; this module reads and keeps
what came of it: a viewer's list and what they have read, the subscriptions,
and the deliveries an admin looks over (status, attempts, last error, dead letters).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.isotime import iso
from township.domain.policy import COMMAND, check_role
from township.domain.privacy import mask_phone
from township.domain.vocab import NOTIFY_CHANNELS, NOTIFY_EVENTS, Lang, label
from township.formats.notices import message_text, new_webhook_secret, webhook_key
from township.store.models import MAX_ID, utcnow
from township.store.outbox import Delivery, Notification, NotificationAudience, NotificationRead, Subscription
from township.store.uow import UnitOfWork

#: Most notifications one list holds.
MAX_LIST = 200


def audiences_of(role: str, village_id: str | None, handler_id: str | None) -> list[str]:
    """The unread lists a viewer reads: the command centre's, their village's, their own as a handler."""
    out = ["command"] if role in COMMAND else []
    if role == "village" and village_id:
        out.append(f"village:{village_id}")
    if handler_id:
        out.append(f"handler:{handler_id}")
    return out


class NotificationOut(BaseModel):
    """One notification on a person's list."""

    id: int
    event: str = Field(description="dispatched, overdue, escalated, warning, reported, closed, reopened")
    label: str = Field(description="the event in words (派单 …)")
    text: str = Field(description="the message, as the robots and SMS carry it")
    case_id: int | None
    warning_id: int | None
    village_id: str | None
    created_at: str = Field(description="ISO 8601, Beijing time (+08:00)")
    read: bool


class Inbox(BaseModel):
    """A viewer's notifications, newest first, and how many are unread (``GET /api/v1/notifications``)."""

    unread: int
    items: list[NotificationOut]


class ReadIn(BaseModel):
    """The body of ``POST /api/v1/notifications/read``: the ids to mark read, or ``all``."""

    # The rule of _one, for the OpenAPI document: ids, or all: true.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["ids"], "properties": {"ids": {"type": "array"}}},
        {"required": ["all"], "properties": {"all": {"const": True}}}]})

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(None, min_length=1, max_length=MAX_LIST * 5)
    all: bool = Field(False, description="mark every notification on the caller's lists read")

    @model_validator(mode="after")
    def _one(self) -> ReadIn:
        if not self.all and not self.ids:
            raise ValueError("give ids (a list of notification ids) or all: true")
        return self


class ReadOut(BaseModel):
    """What marking read did: how many were newly marked, how many stay unread."""

    marked: int
    unread: int


def _listed(audiences: list[str]):  # the notifications on any of these lists, each once
    return select(NotificationAudience.notification_id).where(NotificationAudience.audience.in_(audiences))


def _read_by(reader: str):
    return select(NotificationRead.notification_id).where(NotificationRead.reader == reader)


def unread_count(engine: Engine, audiences: list[str], reader: str) -> int:
    """How many notifications on ``audiences``' lists ``reader`` has not read (the badge)."""
    if not audiences:
        return 0
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(Notification).where(
            Notification.id.in_(_listed(audiences)), Notification.id.not_in(_read_by(reader)))) or 0


def inbox(engine: Engine, audiences: list[str], reader: str, limit: int = 50, lang: Lang = "zh") -> Inbox:
    """The newest ``limit`` notifications on ``audiences``' lists, each marked read or not for ``reader``."""
    if not audiences:
        return Inbox(unread=0, items=[])
    with Session(engine) as s:
        rows = s.scalars(select(Notification).where(Notification.id.in_(_listed(audiences)))
                         .order_by(Notification.id.desc()).limit(min(limit, MAX_LIST))).all()
        read = set(s.scalars(_read_by(reader).where(NotificationRead.notification_id.in_([r.id for r in rows]))))
    items = [NotificationOut(id=r.id, event=r.event, label=label(NOTIFY_EVENTS, r.event, lang),
                             text=message_text(r.event, json.loads(r.data)), case_id=r.case_id,
                             warning_id=r.warning_id, village_id=r.village_id,
                             created_at=iso(r.created_at) or "", read=r.id in read) for r in rows]
    return Inbox(unread=unread_count(engine, audiences, reader), items=items)


def mark_read(engine: Engine, audiences: list[str], reader: str, ids: list[int] | None) -> int:
    """Mark ``ids`` (``None``: all) of ``audiences``' lists read for ``reader``; how many were newly marked.

    An id on none of the reader's lists is not theirs to mark: it is left alone, as a missing one.
    """
    if not audiences:
        return 0
    now = utcnow()
    with UnitOfWork(engine) as uow:
        s = uow.session
        query = select(Notification.id).where(Notification.id.in_(_listed(audiences)),
                                              Notification.id.not_in(_read_by(reader)))
        if ids is not None:
            query = query.where(Notification.id.in_(ids))
        fresh = list(s.scalars(query))
        s.add_all(NotificationRead(notification_id=i, reader=reader, read_at=now) for i in fresh)
        uow.commit()
    return len(fresh)


# -- subscriptions ------------------------------------------------------------------------------------


def _events(events: list[str]) -> str:
    unknown = [e for e in events if e not in NOTIFY_EVENTS]
    if unknown:
        raise ValueError(f"events: {', '.join(unknown)} unknown; allowed: {', '.join(NOTIFY_EVENTS)}")
    return ",".join(dict.fromkeys(events))


def add_subscription(engine: Engine, channel: str, url: str | None = None, *, secret: str | None = None,
                     events: list[str] | None = None, village_id: str | None = None,
                     role: str | None = None) -> Subscription:
    """Subscribe a channel to ``events`` (none: all); a webhook without ``secret`` gets a new one.

    Raises
    ------
    ValueError
        Naming the field and the rule: an unknown channel, event or role; a URL that is not http(s);
        a webhook secret that is not ``whsec_`` base64 of 24 to 64 bytes.
    """
    if channel not in NOTIFY_CHANNELS:
        raise ValueError(f"channel {channel!r} unknown; allowed: {', '.join(NOTIFY_CHANNELS)}")
    if channel == "sms":
        url = None
    elif not url or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ValueError(f"url: a {channel} needs an http(s) URL, got {url!r}")
    if channel == "webhook":
        secret = secret or new_webhook_secret()
        webhook_key(secret)
    if role is not None:
        check_role(role, "role")
    row = Subscription(channel=channel, url=url, secret=secret or None, events=_events(events or []),
                       village_id=village_id or None, role=role, active=True, created_at=utcnow())
    with UnitOfWork(engine) as uow:
        uow.session.add(row)
        uow.commit()
    return row


def list_subscriptions(engine: Engine) -> list[Subscription]:
    """Every active subscription, oldest first."""
    with Session(engine) as s:
        return list(s.scalars(select(Subscription).where(Subscription.active.is_(True)).order_by(Subscription.id)))


def remove_subscription(engine: Engine, subscription_id: int) -> bool:
    """Stop a subscription; its undelivered messages become dead letters saying so. ``False``: no such one."""
    with UnitOfWork(engine) as uow:
        s = uow.session
        row = s.get(Subscription, subscription_id)
        if row is None or not row.active:
            return False
        row.active = False
        s.execute(update(Delivery).where(Delivery.subscription_id == subscription_id, Delivery.status == "pending")
                  .values(status="dead", last_error="the subscription was removed", lease_until=None))
        uow.commit()
    return True


# -- deliveries, for the admin ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery as the admin page lists it (the phone masked)."""

    id: int
    notification_id: int
    event: str
    channel: str
    to: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str


def deliveries(engine: Engine, status: str | None = None, limit: int = 200) -> list[DeliveryRow]:
    """The newest deliveries (of one ``status``: ``pending``, ``delivered``, ``dead``), newest first."""
    with Session(engine) as s:
        query = (select(Delivery, Notification.event, Subscription.url)
                 .join(Notification, Notification.id == Delivery.notification_id)
                 .join(Subscription, Subscription.id == Delivery.subscription_id, isouter=True))
        if status:
            query = query.where(Delivery.status == status)
        rows = s.execute(query.order_by(Delivery.id.desc()).limit(limit)).all()
    return [DeliveryRow(d.id, d.notification_id, event, d.channel,
                        mask_phone(d.phone) if d.phone else urlsplit(url or "").netloc, d.status, d.attempts,
                        d.created_at, d.next_attempt_at, d.delivered_at, d.last_error or "")
            for d, event, url in rows]


def delivery_counts(engine: Engine) -> dict[str, int]:
    """How many deliveries are in each status."""
    with Session(engine) as s:
        return {status: n for status, n in s.execute(select(Delivery.status, func.count()).group_by(Delivery.status))}
