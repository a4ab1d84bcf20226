"""The notification tables (migration 0010): the outbox, who is told, the channels, the deliveries.

Models of the store as `township.store.models`' are, kept in a module of their own so that
neither passes 500 lines; `township.store` imports both, so ``Base.metadata`` always holds them.
Who is told of what is `township.loop.notify`'s; the worker is `township.runtime.notifier`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import DateTime

from township.store.models import Base


class Notification(Base):
    """One thing someone must act on (a dispatch, an escalation, a red warning …): the outbox.

    Written in the unit of work of the move that causes it (`township.store.uow.UnitOfWork.notify`),
    so a move is never stored without it; the worker then fans it out to the people it concerns
    (`NotificationAudience`) and to the channels subscribed to it (`Delivery`), and sets ``fanned_out_at``.
    """

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: A code of `township.domain.vocab.NOTIFY_EVENTS`: ``dispatched``, ``overdue``, ``escalated`` …
    event: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    warning_id: Mapped[int | None] = mapped_column(Integer)
    village_id: Mapped[str | None] = mapped_column(String(64))
    #: Set for events a sweep finds (``overdue:<case>:<deadline>``): the same finding is told once.
    key: Mapped[str | None] = mapped_column(String(128), unique=True)
    #: What the messages say, as it was at the move (JSON): title, village, handler, tier, level …
    data: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    fanned_out_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)


class NotificationAudience(Base):
    """Whose unread list a notification is on: ``handler:<id>``, ``village:<id>``, ``command``."""

    __tablename__ = "notification_audiences"
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), primary_key=True)
    audience: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)


class NotificationRead(Base):
    """A reader (``user:<id>``, ``token:<name>``) has read a notification."""

    __tablename__ = "notification_reads"
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), primary_key=True)
    reader: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)
    read_at: Mapped[datetime] = mapped_column(DateTime)


class Subscription(Base):
    """A channel told of some events: a webhook, a 企业微信 or 钉钉 group robot, or SMS to the people concerned.

    ``events`` is a comma list of event codes (empty: all); ``village_id`` limits it to one village's
    events; ``role`` to the people of one role (whom a robot @-mentions, whom an SMS goes to).
    """

    __tablename__ = "notification_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))  # webhook, wecom, dingtalk, sms
    url: Mapped[str | None] = mapped_column(String(500))
    secret: Mapped[str | None] = mapped_column(String(200))
    events: Mapped[str] = mapped_column(String(200), default="")
    village_id: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Delivery(Base):
    """One message to one channel (and for SMS one phone), delivered by the worker with retries.

    ``message_id`` is the same on every attempt (the webhook's ``webhook-id``), so a receiver that got
    it twice — the worker died after sending, before recording — can tell. A worker claims a row by
    setting ``lease_until`` and its ``claim_token``; only the holder of the token records the outcome.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_delivery_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(Integer, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: Who is rate-limited together (one robot's URL, hashed); ``None``: no limit.
    rate_key: Mapped[str | None] = mapped_column(String(32), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))  # personal data: SMS only
    #: The message as it is sent (JSON): the same bytes, and so the same signature input, every time.
    body: Mapped[str] = mapped_column(Text)
    #: ``pending``, ``delivered``, ``dead`` (gave up: ``last_error`` says why).
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    give_up_at: Mapped[datetime] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)


class DeliveryAttempt(Base):
    """One try at sending a delivery, written when a worker claims it: the robots' rate limit counts these."""

    __tablename__ = "notification_attempts"
    __table_args__ = (Index("ix_attempt_rate", "rate_key", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notification_deliveries.id"), index=True)
    rate_key: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime)
    #: ``None`` while the try runs (or its worker died), ``ok``, or the error.
    outcome: Mapped[str | None] = mapped_column(Text)
