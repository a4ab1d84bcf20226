"""The throttles: too many wrong passwords for a username or from an address, and sign-in waits; too many
resident reports from an address or a phone, and ``/report`` waits.

A sliding window per key (``user:<name>``, ``addr:<address>``): once a key
has ``limit`` failures within ``window_s`` seconds, every attempt on it is
refused — the right password too — until the oldest of those failures has
left the window. The failures are rows of the store (``sign_in_failures``),
the one storage every deployment has, so all app processes count alike and a
restart forgets nothing. The resident throttle counts its events the same way in
a table of its own (``resident_hits``: ``table=ResidentHit``), so that neither
forgets the other's rows on its own window.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.store.models import ResidentHit, SignInFailure, utcnow
from township.store.uow import session_scope

#: Longest key kept (the column's width); a longer username is cut, which only merges keys.
KEY_CHARS = 128
#: A table of counted events: rows of a ``key`` and a time ``at``.
Counted = type[SignInFailure] | type[ResidentHit]


@dataclass(frozen=True)
class Limit:
    """At most ``failures`` wrong passwords on one key within ``window_s`` seconds."""

    key: str
    failures: int
    window_s: float


def user_key(username: str) -> str:
    """The throttle key of a username as typed (case folded: ``Admin`` and ``admin`` count together)."""
    return f"user:{username.strip().casefold()}"[:KEY_CHARS]


def address_key(address: str | None) -> str:
    """The throttle key of a client address."""
    return f"addr:{address or '?'}"[:KEY_CHARS]


def retry_after(engine: Engine, limits: Iterable[Limit], now: datetime | None = None,
                table: Counted = SignInFailure) -> int:
    """Seconds until an attempt is allowed on every key of ``limits``; 0: allowed now.

    For a key over its limit, that is when its failure number ``n - limit``
    (oldest first, of the ``n`` in the window) leaves the window: then ``limit - 1``
    remain, and one more attempt may be made.
    """
    now = now or utcnow()
    wait = 0.0
    with Session(engine) as s:
        for lim in limits:
            since = now - timedelta(seconds=lim.window_s)
            times = s.scalars(select(table.at).where(table.key == lim.key, table.at > since)
                              .order_by(table.at)).all()
            if len(times) >= lim.failures:
                free_at = times[len(times) - lim.failures] + timedelta(seconds=lim.window_s)
                wait = max(wait, (free_at - now).total_seconds())
    return math.ceil(wait) if wait > 0 else 0


def record_failure(engine: Engine, keys: Iterable[str], keep_s: float, now: datetime | None = None,
                   table: Counted = SignInFailure) -> None:
    """Count one wrong password (one report: ``table=ResidentHit``) against each key; forget the table's
    rows older than ``keep_s`` (every key's)."""
    now = now or utcnow()
    with session_scope(engine) as s:
        s.execute(delete(table).where(table.at <= now - timedelta(seconds=keep_s)))
        s.add_all(table(key=k, at=now) for k in keys)


def forget(engine: Engine, key: str) -> None:
    """Clear a key's failures (its user has signed in: a typo earlier today should not count on)."""
    with session_scope(engine) as s:
        s.execute(delete(SignInFailure).where(SignInFailure.key == key))

