"""The resident's form (群众点单 at ``/report``): its fields, and the proofs that a person sent it.

A report is parsed here into a :class:`ResidentReport` (every bad field named
with its rule) and becomes an ingest `township.formats.ingest.CaseIn` of source
``citizen`` (:func:`to_case`). The proofs, none of which loads anything from
outside:

- a **form token** the page is served with: ``<issued unix time>.<nonce>.<HMAC>``,
  signed with the app's secret; it must be at least ``min_age_s`` old when the
  form comes back (a person reads and types; a script posts at once) and at
  most `TOKEN_MAX_AGE_S`;
- a **proof of work** the page's script computes: a counter such that the
  SHA-256 of ``<token>:<counter>`` starts with ``bits`` zero bits (hashcash);
  about half a second on a phone at 16 bits, and again for every form a script
  would send;
- a **honeypot** field the page hides: a person leaves it empty.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Annotated, Literal

from pydantic import Field, field_validator

from township.domain.vocab import RESIDENT_CATEGORIES
from township.formats.ingest import CaseIn, Lat, Lon, _In

#: Longest description a resident may send (a phone's screenful or two).
MAX_DESCRIPTION = 1000
#: Longest 回访 comment.
MAX_COMMENT = 500
#: A form token older than this is refused: the page was left open too long; reload it.
TOKEN_MAX_AGE_S = 2 * 3600
#: A mainland mobile number (11 digits from 1[3-9]) or a landline with its area code (0xxx-xxxxxxx).
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
#: Characters of a title taken from the description after the category's words.
TITLE_CHARS = 40


class ResidentReport(_In):
    """What a resident sends from ``/report`` (the proofs are checked apart, before it)."""

    category: Literal[tuple(RESIDENT_CATEGORIES)]  # type: ignore[valid-type]
    description: Annotated[str, Field(min_length=2, max_length=MAX_DESCRIPTION)]
    lon: Lon
    lat: Lat
    name: Annotated[str, Field(max_length=32)] | None = None
    phone: Annotated[str, Field(max_length=16)] | None = None

    @field_validator("name", "phone", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("phone", mode="after")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return clean_phone(value)


def clean_phone(value: str | None) -> str | None:
    """A phone as typed, without spaces (``None`` for none); ValueError saying the rule if it is not one."""
    value = (value or "").replace(" ", "") or None
    if value is not None and not PHONE.match(value):
        raise ValueError("a phone number is 11 digits starting 13–19 (a mobile), or a landline with "
                         "its area code (0477-1234567)")
    return value


def to_case(report: ResidentReport) -> CaseIn:
    """The case a report becomes: source ``citizen``, status ``reported``, its category's type and domain."""
    cat = RESIDENT_CATEGORIES[report.category]
    first_line = report.description.splitlines()[0] if report.description else ""
    title = f"{cat['zh']}:{first_line[:TITLE_CHARS]}"
    return CaseIn(source="citizen", type=cat["type"], domain=cat["domain"], title=title,
                  description=report.description, lon=report.lon, lat=report.lat, status="reported",
                  reporter=report.name, reporter_phone=report.phone)


def _sign(secret: bytes, body: str) -> str:
    # 96 bits of the HMAC: a token lives two hours. Short, so that ``token:counter`` fits one SHA-256 block
    # (55 bytes) and the page's proof of work costs one block per try.
    return hmac.new(secret, f"resident-form|{body}".encode(), hashlib.sha256).hexdigest()[:24]


def issue_token(secret: bytes, now: float) -> str:
    """A new form token for a page served at unix time ``now`` (44 characters)."""
    body = f"{int(now)}.{secrets.token_urlsafe(6)}"
    return f"{body}.{_sign(secret, body)}"


def leading_zero_bits(digest: bytes) -> int:
    """How many zero bits ``digest`` starts with."""
    n = 0
    for byte in digest:
        if byte:
            return n + 8 - byte.bit_length()
        n += 8
    return n


def work_done(token: str, counter: str, bits: int) -> bool:
    """Whether ``counter`` is a proof of work of ``bits`` for ``token``."""
    if not counter.isdigit() or len(counter) > 12:
        return False
    return leading_zero_bits(hashlib.sha256(f"{token}:{counter}".encode()).digest()) >= bits


def proof_refusal(secret: bytes, token: str | None, counter: str | None, honeypot: str | None, now: float, *,
                  min_age_s: float, bits: int) -> str | None:
    """Why a form does not prove a person sent it, in words (zh · en); ``None`` when it does."""
    if honeypot:
        return "表单含有不应填写的字段 · a field people do not see was filled in (field: website)"
    parts = (token or "").split(".")
    if len(parts) != 3 or not hmac.compare_digest(parts[2], _sign(secret, f"{parts[0]}.{parts[1]}")) \
            or not parts[0].isdigit():
        return ("缺少或无效的表单令牌,请刷新页面后重新填写 · the form token is missing or not ours "
                "(field: form_token): reload the page and fill it in again")
    age = now - int(parts[0])
    if age < min_age_s:
        return (f"提交太快,请稍等 {max(1, round(min_age_s - age))} 秒再提交 · sent too quickly after the page "
                f"loaded (form_token is {age:.0f} s old, at least {min_age_s:.0f} s)")
    if age > TOKEN_MAX_AGE_S:
        return ("页面打开太久,请刷新后重新提交 · the page was opened too long ago (form_token is older than "
                f"{TOKEN_MAX_AGE_S // 3600} h): reload it")
    if not work_done(token or "", counter or "", bits):
        return ("缺少页面计算的校验值,请在浏览器中打开本页提交 · the proof of work (field: pow) is missing or "
                f"wrong: the page computes it (SHA-256 of token:counter with {bits} leading zero bits)")
    return None


__all__ = ["MAX_DESCRIPTION", "MAX_COMMENT", "PHONE", "ResidentReport", "clean_phone", "to_case", "issue_token",
           "work_done", "leading_zero_bits", "proof_refusal", "TOKEN_MAX_AGE_S"]
