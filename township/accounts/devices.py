"""Device sessions of the field app (``/m``): a phone stays signed in for weeks, until revoked.

A sign-in at ``/m/login`` makes a :class:`~township.store.models.DeviceSession`
and gives the phone a random token (in a signed cookie, `field`); only the
token's SHA-256 is stored. Every ``/m`` request looks the token up
(:func:`check_device`): a revoked session, an expired one (:data:`LIFETIME`
since it was last seen) or a deactivated user signs no one in. The person
signs out (:func:`revoke_device` of their own session); an admin lists and
revokes sessions (:func:`list_devices`, :func:`revoke_device`,
:func:`revoke_user_devices`; ``python -m township devices``).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.store.models import DeviceSession, User, utcnow
from township.store.uow import session_scope

#: How long a phone stays signed in without being used: each use renews it.
LIFETIME = timedelta(days=30)
#: ``last_seen_at`` is written at most this often: a write per page would queue behind every other write.
SEEN_EVERY = timedelta(minutes=5)
#: Longest user agent kept (the column's width).
MAX_AGENT = 200

__all__ = ["LIFETIME", "Device", "open_device", "check_device", "revoke_device", "revoke_user_devices",
           "list_devices"]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Device:
    """A device session as the admin sees it (no token: it is never kept)."""

    id: int
    user_id: int
    username: str
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Not revoked and used within :data:`LIFETIME`."""
        return self.revoked_at is None and self.last_seen_at + LIFETIME > utcnow()


def open_device(engine: Engine, user_id: int, user_agent: str = "", now: datetime | None = None) -> str:
    """Start a device session for ``user_id`` and return its token (shown to the phone only, never stored)."""
    token = secrets.token_urlsafe(32)
    now = now or utcnow()
    with session_scope(engine) as s:
        s.add(DeviceSession(token_sha256=_digest(token), user_id=user_id, created_at=now, last_seen_at=now,
                            user_agent=(user_agent or "")[:MAX_AGENT], revoked_at=None))
    return token


def check_device(engine: Engine, token: str | None, now: datetime | None = None) -> tuple[int, User] | None:
    """The (session id, active user) of a token, or ``None``: unknown, revoked, expired or the user deactivated.

    Renews the session (``last_seen_at``) at most every :data:`SEEN_EVERY`.
    """
    if not token:
        return None
    now = now or utcnow()
    with Session(engine) as s:
        row = s.scalar(select(DeviceSession).where(DeviceSession.token_sha256 == _digest(token)))
        user = s.get(User, row.user_id) if row is not None else None
    if row is None or user is None or not user.active or row.revoked_at is not None:
        return None
    if row.last_seen_at + LIFETIME <= now:
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        with session_scope(engine) as s:
            s.execute(update(DeviceSession).where(DeviceSession.id == row.id).values(last_seen_at=now))
    return row.id, user


def revoke_device(engine: Engine, session_id: int, user_id: int | None = None) -> bool:
    """Revoke one device session (``user_id``: only if it is that user's); whether one was revoked now."""
    stmt = update(DeviceSession).where(DeviceSession.id == session_id, DeviceSession.revoked_at.is_(None))
    if user_id is not None:
        stmt = stmt.where(DeviceSession.user_id == user_id)
    with session_scope(engine) as s:
        return s.execute(stmt.values(revoked_at=utcnow())).rowcount > 0  # type: ignore[attr-defined]


def revoke_user_devices(engine: Engine, user_id: int) -> int:
    """Revoke every open device session of a user (a lost phone, a person who left); how many."""
    with session_scope(engine) as s:
        result = s.execute(update(DeviceSession).where(DeviceSession.user_id == user_id,
                                                       DeviceSession.revoked_at.is_(None))
                           .values(revoked_at=utcnow()))
        return result.rowcount  # type: ignore[attr-defined]


def list_devices(engine: Engine, username: str | None = None) -> list[Device]:
    """Device sessions, most recently seen first; ``username``: only that user's."""
    stmt = (select(DeviceSession, User.username).join(User, User.id == DeviceSession.user_id)
            .order_by(DeviceSession.last_seen_at.desc(), DeviceSession.id.desc()))
    if username is not None:
        stmt = stmt.where(User.username == username)
    with Session(engine) as s:
        return [Device(d.id, d.user_id, name, d.created_at, d.last_seen_at, d.user_agent, d.revoked_at)
                for d, name in s.execute(stmt)]
