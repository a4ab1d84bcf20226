"""The notification worker: fans the outbox out and delivers each message, with retries, leases and rate limits.

``python -m township notify`` runs :func:`run` (beside gunicorn, or from a
service manager); ``python app.py`` runs it in a thread. Any number may run
on one store:

- a worker **claims** a due message in a write transaction —
  ``UPDATE … SET lease_until, claim_token WHERE id = ? AND status = 'pending'
  AND (lease_until IS NULL OR lease_until < now)``, taken only if one row
  changed — so two workers never send the same message at once;
- it sends outside the transaction, waiting at most half the lease, and
  records the outcome only if it still holds the claim token;
- a worker that dies mid-send leaves the lease to run out: another sends the
  message again with the same ``webhook-id`` (a receiver de-duplicates by it);
- a failure waits ``retry_s``, doubled after each failure up to ``retry_max_s``;
  past ``give_up_s`` from its creation the message is a **dead letter** with
  the reason (the admin page lists them);
- a group robot (企业微信, 钉钉) takes ``robot_per_minute`` messages a minute:
  each try is an attempt row counted at claim time, in the same transaction,
  so the limit holds across workers; the 21st waits for the minute to pass.

Phones appear in the log masked (`township.domain.privacy.mask_phone`).
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, cast
from urllib.parse import urlsplit

import requests
from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session

from township.config import NotifyConfig
from township.domain.privacy import mask_phone
from township.formats.notices import aliyun_sms_query, dingtalk_url, webhook_headers
from township.loop.notify import fan_out, note_overdue
from township.store.models import utcnow
from township.store.outbox import Delivery, DeliveryAttempt, Subscription
from township.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Messages one worker claims at a time.
BATCH = 10
#: The window of the robots' rate limit.
RATE_WINDOW = timedelta(minutes=1)
#: Seconds between two looks for newly overdue cases.
OVERDUE_EVERY_S = 60.0
#: Longest error text kept.
MAX_ERROR = 500


class DeliveryFailed(Exception):
    """A try that did not deliver: the receiver refused, answered an error, or could not be reached."""


class SmsProvider(Protocol):
    """Sends one template SMS; raises `DeliveryFailed` with the provider's reason."""

    def send(self, phone: str, template_param: str) -> None: ...


class LogSms:
    """The default SMS "provider": writes the message to the log, the phone masked; sends nothing."""

    def send(self, phone: str, template_param: str) -> None:
        """Log the message."""
        log.info("SMS (log only) to %s: %s", mask_phone(phone), template_param)


@dataclass(frozen=True)
class AliyunSms:
    """Aliyun SMS ``SendSms`` over HTTPS with its RPC signature (`township.formats.notices.aliyun_sms_query`)."""

    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_code: str
    endpoint: str
    timeout: float

    def send(self, phone: str, template_param: str) -> None:
        """Send one template message; `DeliveryFailed` unless Aliyun answers ``Code: OK``."""
        query = aliyun_sms_query(self.access_key_id, self.access_key_secret, phone, self.sign_name,
                                 self.template_code, template_param, nonce=uuid.uuid4().hex,
                                 timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        answer = _answer(requests.get(self.endpoint, params=query, timeout=self.timeout))
        if answer.get("Code") != "OK":
            raise DeliveryFailed(f"Aliyun SMS to {mask_phone(phone)}: {answer.get('Code')} {answer.get('Message')}")


def sms_provider(cfg: NotifyConfig) -> SmsProvider:
    """The SMS provider ``cfg`` names."""
    if cfg.sms_provider == "aliyun":
        return AliyunSms(cfg.sms_access_key_id, cfg.sms_access_key_secret, cfg.sms_sign_name, cfg.sms_template_code,
                         cfg.sms_endpoint, cfg.lease_s / 2)
    return LogSms()


def _answer(r: requests.Response) -> dict:
    """The JSON of a 2xx answer; `DeliveryFailed` naming the status otherwise."""
    if not 200 <= r.status_code < 300:
        raise DeliveryFailed(f"HTTP {r.status_code}: {r.text[:200]}")
    try:
        out = r.json()
    except ValueError:
        raise DeliveryFailed(f"HTTP {r.status_code} but not JSON: {r.text[:200]}") from None
    return out if isinstance(out, dict) else {}


@dataclass(frozen=True)
class Claimed:
    """A message this worker holds: the delivery, its channel's address and secret, and the claim token."""

    id: int
    token: str
    attempt_id: int
    channel: str
    message_id: str
    body: str
    phone: str | None
    url: str | None
    secret: str | None


def send(c: Claimed, sms: SmsProvider, timeout: float) -> None:
    """Make one try at delivering ``c``; `DeliveryFailed` (or a requests error) if it did not arrive."""
    if c.channel == "sms":
        sms.send(c.phone or "", c.body)
        return
    if not c.url:
        raise DeliveryFailed("the subscription has no URL")
    data = c.body.encode()
    if c.channel == "webhook":
        headers = webhook_headers(c.secret or "", c.message_id, int(time.time()), c.body)
        r = requests.post(c.url, data=data, headers=headers, timeout=timeout)
        if not 200 <= r.status_code < 300:
            raise DeliveryFailed(f"HTTP {r.status_code}: {r.text[:200]}")
        return
    url = dingtalk_url(c.url, c.secret, int(time.time() * 1000)) if c.channel == "dingtalk" else c.url
    answer = _answer(requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=timeout))
    if answer.get("errcode") != 0:  # both robots answer errcode 0 on success (45009 / 130101: too many)
        raise DeliveryFailed(f"robot answered errcode {answer.get('errcode')}: {answer.get('errmsg')}")


def claim(engine: Engine, cfg: NotifyConfig, now: datetime, batch: int = BATCH) -> list[Claimed]:
    """Claim up to ``batch`` due messages for this worker (see the module's text); a robot at its limit waits."""
    out: list[Claimed] = []
    free = or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)
    with Session(engine) as s:
        if s.scalar(select(Delivery.id).where(Delivery.status == "pending", Delivery.next_attempt_at <= now, free)
                    .limit(1)) is None:
            return out  # most rounds: a read, and no write lock taken
    with UnitOfWork(engine) as uow:
        s = uow.session
        # Each robot's tries of the last minute; those at their limit wait, and do not hold up the others.
        used: dict[str, int] = {key: n for key, n in s.execute(
            select(DeliveryAttempt.rate_key, func.count()).where(DeliveryAttempt.rate_key.is_not(None),
                                                                 DeliveryAttempt.at > now - RATE_WINDOW)
            .group_by(DeliveryAttempt.rate_key)) if key is not None}
        full = [key for key, n in used.items() if n >= cfg.robot_per_minute]
        due = s.execute(select(Delivery, Subscription).join(Subscription, Subscription.id == Delivery.subscription_id)
                        .where(Delivery.status == "pending", Delivery.next_attempt_at <= now, free,
                               or_(Delivery.rate_key.is_(None), Delivery.rate_key.not_in(full)))
                        .order_by(Delivery.next_attempt_at, Delivery.id).limit(batch * 5)).all()
        for d, sub in due:
            if d.rate_key is not None and used.get(d.rate_key, 0) >= cfg.robot_per_minute:
                continue
            token = secrets.token_hex(16)
            lease = update(Delivery).where(Delivery.id == d.id, Delivery.status == "pending", free)
            taken = cast(CursorResult, s.execute(lease.values(lease_until=now + timedelta(seconds=cfg.lease_s),
                                                              claim_token=token)))
            if taken.rowcount != 1:
                continue
            attempt = DeliveryAttempt(delivery_id=d.id, rate_key=d.rate_key, at=now)
            s.add(attempt)
            s.flush()
            if d.rate_key is not None:
                used[d.rate_key] = used.get(d.rate_key, 0) + 1
            out.append(Claimed(d.id, token, attempt.id, d.channel, d.message_id, d.body, d.phone, sub.url, sub.secret))
            if len(out) >= batch:
                break
        uow.commit()
    return out


def settle(engine: Engine, cfg: NotifyConfig, c: Claimed, error: str | None, now: datetime) -> str | None:
    """Record the outcome of a try, if this worker still holds the claim; the delivery's new status."""
    with UnitOfWork(engine) as uow:
        s = uow.session
        d = s.get(Delivery, c.id, with_for_update=True)
        attempt = s.get(DeliveryAttempt, c.attempt_id)
        if attempt is not None:
            attempt.outcome = "ok" if error is None else error[:MAX_ERROR]
        if d is None or d.claim_token != c.token:
            uow.commit()  # the lease ran out and another worker took it over: its outcome counts
            return None
        d.attempts += 1
        d.lease_until = d.claim_token = None
        if error is None:
            d.status, d.delivered_at, d.last_error = "delivered", now, None
        else:
            wait = min(cfg.retry_s * 2 ** (d.attempts - 1), cfg.retry_max_s)
            d.next_attempt_at = now + timedelta(seconds=wait)
            d.last_error = error[:MAX_ERROR]
            if d.next_attempt_at > d.give_up_at:
                d.status = "dead"
                d.last_error = (f"gave up after {d.attempts} tries over {(now - d.created_at).total_seconds():.0f} s "
                                f"(NOTIFY_GIVE_UP_S={cfg.give_up_s:g}); last error: {error}")[:MAX_ERROR]
        uow.commit()
        return d.status


def reason(exc: Exception) -> str:
    """Why a try failed, without the URL: a robot's URL holds its key (``access_token``, ``key``)."""
    if isinstance(exc, DeliveryFailed):
        return str(exc)
    request = getattr(exc, "request", None)
    host = urlsplit(request.url).netloc if request is not None and request.url else "the receiver"
    if isinstance(exc, requests.Timeout):
        return f"{host} did not answer in time ({type(exc).__name__})"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect to {host} ({type(exc).__name__}: refused, unreachable or reset)"
    return f"{type(exc).__name__} sending to {host}"


def release(engine: Engine, claimed: list[Claimed]) -> None:
    """Give back claimed messages not tried (their lease would run out first): due again at once, for any worker."""
    with UnitOfWork(engine) as uow:
        for c in claimed:
            uow.session.execute(update(Delivery).where(Delivery.id == c.id, Delivery.claim_token == c.token)
                                .values(lease_until=None, claim_token=None))
            uow.session.execute(update(DeliveryAttempt).where(DeliveryAttempt.id == c.attempt_id)
                                .values(outcome="released untried"))
        uow.commit()


def deliver_due(engine: Engine, cfg: NotifyConfig, sms: SmsProvider, clock: Callable[[], datetime] = utcnow) -> int:
    """Claim the due messages and try each once; how many were tried.

    Tries of one batch run one after another, each waiting at most half the lease: once half the
    lease has gone, the rest are released untried rather than sent under a lease about to run out.
    """
    started = time.monotonic()
    claimed = claim(engine, cfg, clock())
    for n, c in enumerate(claimed):
        if n and time.monotonic() - started > cfg.lease_s / 2:
            release(engine, claimed[n:])
            return n
        try:
            send(c, sms, cfg.lease_s / 2)
            error = None
        except (DeliveryFailed, requests.RequestException) as exc:
            error = reason(exc)
        status = settle(engine, cfg, c, error, clock())
        if error is not None:
            log.warning("delivery %d (%s) failed, %s: %s", c.id, c.channel, status or "taken over", error)
    return len(claimed)


def tick(engine: Engine, cfg: NotifyConfig, sms: SmsProvider, *, tell_overdue: bool = True) -> int:
    """One round: the overdue finding (unless escalation tells of it), the fan-out, the due messages."""
    now = utcnow()
    if tell_overdue:
        note_overdue(engine, now)
    fan_out(engine, now, timedelta(seconds=cfg.give_up_s))
    return deliver_due(engine, cfg, sms)


def run(engine: Engine, cfg: NotifyConfig, stop: threading.Event, *, tell_overdue: bool = True) -> None:
    """Run :func:`tick` until ``stop`` is set, at once again while there was work, else every ``poll_s``.

    The overdue finding runs once every `OVERDUE_EVERY_S` (deadlines are hours and days; the
    fan-out and the deliveries every round). A failed round (the store locked or unreachable) is
    logged and the next one runs as planned.
    """
    sms = sms_provider(cfg)
    last_overdue = float("-inf")
    while not stop.is_set():
        overdue = tell_overdue and time.monotonic() - last_overdue >= OVERDUE_EVERY_S
        try:
            busy = tick(engine, cfg, sms, tell_overdue=overdue)
            last_overdue = time.monotonic() if overdue else last_overdue
        except Exception:  # noqa: BLE001 - keep delivering; the traceback is in the log
            log.exception("notification round failed")
            busy = 0
        if not busy and stop.wait(cfg.poll_s):
            return
