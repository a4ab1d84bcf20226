"""Notification messages as each channel takes them, and the channels' signatures.

Pure functions, no I/O: the worker (`township.runtime.notifier`) sends what
these build, the tests check them against independent computations.

- **Standard Webhooks** (standardwebhooks.com): ``webhook-id`` (the message's
  id, the same on every retry), ``webhook-timestamp`` (Unix seconds of this
  attempt) and ``webhook-signature: v1,<base64 HMAC-SHA256>`` of
  ``"{id}.{timestamp}.{body}"``, keyed by the secret ``whsec_<base64>`` decoded.
- **企业微信 group robot**: ``{"msgtype": "text", "text": {"content", "mentioned_mobile_list"}}``
  (``markdown`` when no one is to be @-mentioned: it cannot mention by mobile).
- **钉钉 custom robot**: ``{"msgtype": "text", "text": {"content"}, "at": {"atMobiles", "isAtAll"}}``;
  signed mode adds ``timestamp`` (ms) and ``sign`` = URL-encoded base64 HMAC-SHA256 of
  ``"{timestamp}\\n{secret}"`` keyed by the secret, as query parameters.
- **Aliyun SMS** ``SendSms`` (API version 2017-05-25): ``PhoneNumbers``, ``SignName``,
  ``TemplateCode``, ``TemplateParam`` (JSON), signed with the RPC signature
  (HMAC-SHA1 of ``GET&%2F&<percent-encoded sorted query>``, key ``secret&``).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from township.domain.isotime import iso
from township.domain.vocab import NOTIFY_EVENTS, TIERS, WARNING_LEVELS, label
from township.store.models import Case, Warning

#: Prefix of a Standard Webhooks secret.
SECRET_PREFIX = "whsec_"
#: Bytes of a secret, as the spec recommends (24 to 64).
SECRET_BYTES = (24, 64)
#: The text a robot message may carry (企业微信 allows 2048 bytes of text, 钉钉 more): cut before.
MAX_TEXT = 600
ALIYUN_VERSION = "2017-05-25"


# -- what the messages say ------------------------------------------------------------------------------


def case_data(case: Case, village_name: str | None = None, **more: object) -> dict:
    """What a notification about ``case`` says: no resident's name or phone (webhooks go to other systems)."""
    return {"case_id": case.id, "title": case.title, "type": case.type, "domain": case.domain,
            "status": case.status, "tier": case.tier, "village_id": case.village_id,
            "village": village_name or case.village_id, "grid_id": case.grid_id,
            "deadline_at": iso(case.deadline_at), **more}


def warning_data(warning: Warning, villages: list[str], names: list[str]) -> dict:
    """What a notification about ``warning`` says: the ids and the names of the villages it reaches."""
    return {"warning_id": warning.id, "title": warning.title, "type": warning.type, "level": warning.level,
            "status": warning.status, "village_id": warning.village_id, "villages": villages, "village_names": names,
            "radius_m": warning.radius_m, "lon": warning.lon, "lat": warning.lat}


def message_text(event: str, data: Mapping) -> str:
    """One line or two for a person: ``【派单】#12 路灯不亮(小滩子村)派给 张三,期限 2026-12-07 18:00`` (北京时间)."""
    head = f"【{label(NOTIFY_EVENTS, event)}】"
    if "warning_id" in data:
        level = label(WARNING_LEVELS, data.get("level"))
        text = f"{head}{level}预警 #{data['warning_id']} {data.get('title', '')}"
        if data.get("village_names"):
            text += f",影响 {'、'.join(data['village_names'])}"
        return text[:MAX_TEXT]
    text = f"{head}#{data.get('case_id')} {data.get('title', '')}({data.get('village') or '镇外'})"
    if data.get("handler"):
        text += f" 派给 {data['handler']}"
    if event in ("overdue", "escalated"):
        text += f",现为{label(TIERS, data.get('tier'))}级"
    if data.get("deadline_at") and event not in ("closed",):
        text += f",期限 {str(data['deadline_at'])[:16].replace('T', ' ')}"  # Beijing time (+08:00)
    if data.get("reason"):
        text += f";{data['reason']}"
    return text[:MAX_TEXT]


def webhook_body(event: str, data: Mapping, created_at: datetime, audiences: list[str]) -> str:
    """The JSON a webhook receives, as the Standard Webhooks payload shape: ``type``, ``timestamp``, ``data``."""
    return json.dumps({"type": f"township.{event}", "timestamp": iso(created_at),
                       "data": {**data, "text": message_text(event, data), "audiences": audiences}},
                      ensure_ascii=False, sort_keys=True)


def wecom_body(text: str, mobiles: list[str]) -> str:
    """A 企业微信 group robot message: text with @-mentions by mobile, else markdown."""
    if mobiles:
        return json.dumps({"msgtype": "text", "text": {"content": text, "mentioned_mobile_list": mobiles}},
                          ensure_ascii=False)
    return json.dumps({"msgtype": "markdown", "markdown": {"content": text}}, ensure_ascii=False)


def dingtalk_body(text: str, mobiles: list[str]) -> str:
    """A 钉钉 custom robot text message, @-mentioning ``mobiles`` (the text names them, as 钉钉 asks)."""
    content = text + "".join(f" @{m}" for m in mobiles)
    return json.dumps({"msgtype": "text", "text": {"content": content},
                       "at": {"atMobiles": mobiles, "isAtAll": False}}, ensure_ascii=False)


def sms_params(event: str, data: Mapping) -> str:
    """The template parameters of an SMS (JSON): ``event``, ``id``, ``title`` (short: SMS templates cap them)."""
    ident = data.get("case_id") or data.get("warning_id")
    return json.dumps({"event": label(NOTIFY_EVENTS, event), "id": str(ident),
                       "title": str(data.get("title", ""))[:20]}, ensure_ascii=False)


# -- signatures -----------------------------------------------------------------------------------------


def new_webhook_secret() -> str:
    """A fresh secret ``whsec_<base64 of 32 random bytes>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; ValueError naming the rule if it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX} followed by base64 (make one with "
                         "`python -m township webhook add URL` and no --secret)")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the part after {SECRET_PREFIX} is not base64") from None
    low, high = SECRET_BYTES
    if not low <= len(key) <= high:
        raise ValueError(f"the secret decodes to {len(key)} bytes; Standard Webhooks secrets have {low} to {high}")
    return key


def webhook_headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt to send ``body``."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(webhook_key(secret), signed, hashlib.sha256).digest()
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
            "Content-Type": "application/json"}


def dingtalk_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    """The robot's URL with ``timestamp`` and ``sign`` added when it is in signed mode (a secret ``SEC…``)."""
    if not secret:
        return url
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("timestamp", str(timestamp_ms)), ("sign", base64.b64encode(digest).decode())]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _aliyun_encode(value: str) -> str:
    # Aliyun's POP percent-encoding: RFC 3986 unreserved characters stay, everything else %XX (space %20).
    return quote(value, safe="-_.~")


def aliyun_sms_query(access_key_id: str, access_key_secret: str, phone: str, sign_name: str, template_code: str,
                     template_param: str, *, nonce: str, timestamp: str, region: str = "cn-hangzhou") -> dict[str, str]:
    """The signed query of one Aliyun ``SendSms`` call (``timestamp`` as ``2026-12-06T10:00:00Z``)."""
    params = {"AccessKeyId": access_key_id, "Action": "SendSms", "Format": "JSON", "PhoneNumbers": phone,
              "RegionId": region, "SignName": sign_name, "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": nonce, "SignatureVersion": "1.0", "TemplateCode": template_code,
              "TemplateParam": template_param, "Timestamp": timestamp, "Version": ALIYUN_VERSION}
    canonical = "&".join(f"{_aliyun_encode(k)}={_aliyun_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"GET&{_aliyun_encode('/')}&{_aliyun_encode(canonical)}"
    digest = hmac.new(f"{access_key_secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return {"Signature": base64.b64encode(digest).decode(), **params}
