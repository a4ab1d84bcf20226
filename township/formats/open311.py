"""Open311 GeoReport v2 ↔ our cases: services, request forms, request lists, XML.

Pure mapping, no I/O. One Open311 *service* per case type (``service_code``
is our type code). A POSTed request form becomes the raw dict of a
`township.formats.ingest.CaseIn`, validated by the shared write path; a stored case
becomes an Open311 *request* with the standard field names plus our extras
``grid_id``, ``village_id`` and ``domain``.

Decisions
---------
- ``status`` is ``open`` for every case still needing work (`OPEN_STATUSES`),
  else ``closed``; the finer state goes in ``status_notes`` as
  ``已派单 (dispatched)``. An overdue case says so in ``service_notice``.
- ``first_name``/``last_name``/``phone`` become the reporter (surname first,
  as Chinese names are written). ``email`` is not kept: the store has no
  place for it and PIPL asks to keep no more personal data than needed.
  Request lists carry no personal data at all (the standard has no field for it).
- ``lat``/``long`` are required: there is no geocoder on a closed network, so
  ``address_string`` alone cannot place a case. It is kept as the case's
  ``address`` and answered as the request's ``address`` (without one, the
  village and grid names); ``media_url`` is kept and answered as sent.
- One jurisdiction, `JURISDICTION_ID`: a request naming another is 404, as
  the spec says of an unknown ``jurisdiction_id``; one naming none is ours.
- Extras a client may send: ``domain`` (or ``attribute[domain]``),
  ``source`` and ``external_id`` (or ``attribute[...]``); a re-sent
  ``(source, external_id)`` updates the case instead of adding one.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from township.domain.isotime import iso, parse_iso
from township.domain.vocab import CASE_STATUSES, CASE_TYPES, DOMAINS, OPEN_STATUSES, TIERS, label
from township.formats.ingest import FieldError
from township.store.models import MAX_ID, Case

#: The domain a case of each type (service) falls in unless the request names one.
DEFAULT_DOMAIN: dict[str, str] = {
    "dispute": "governance",
    "hotline": "livelihood",
    "proposal": "livelihood",
    "wish": "livelihood",
    "petition": "governance",
    "service": "livelihood",
    "hazard": "safety",
}

#: Search words of each service, Chinese and English.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "dispute": ("矛盾", "纠纷", "调解", "dispute", "mediation"),
    "hotline": ("12345", "市长热线", "工单", "hotline", "ticket"),
    "proposal": ("村民说事", "议事", "建议", "proposal", "meeting"),
    "wish": ("微心愿", "帮扶", "wish", "help"),
    "petition": ("信访", "代办", "petition", "proxy"),
    "service": ("便民服务", "代办", "咨询", "service", "errand"),
    "hazard": ("隐患", "安全", "hazard", "safety"),
}

#: Our field names → the Open311 names a client sent, for error messages.
OPEN311_FIELD: dict[str, str] = {
    "type": "service_code",
    "lon": "long",
    "lon,lat": "lat,long",
    "title": "description",
    "reporter": "last_name",
    "reporter_phone": "phone",
    "address": "address_string",
}

#: Longest span ``start_date``..``end_date`` the spec allows, and the default look-back.
MAX_SPAN = timedelta(days=90)
#: Most requests one GET answers (the spec suggests 1000).
MAX_REQUESTS = 1000
#: The one jurisdiction this endpoint serves (the township's); GeoReport v2 calls it ``jurisdiction_id``.
JURISDICTION_ID = "dalu.zhungeer.gov.cn"
#: Form fields of the standard that we accept and do not store.
IGNORED_FIELDS = frozenset({"api_key", "jurisdiction_id", "email", "device_id", "account_id", "address_id"})


def services() -> list[dict[str, Any]]:
    """The service list: one ``realtime`` service per case type, without metadata."""
    return [
        {
            "service_code": code,
            "service_name": names["zh"],
            "description": f"{names['zh']} · {names['en']}",
            "metadata": False,
            "type": "realtime",
            "keywords": ",".join(KEYWORDS[code]),
            "group": label(DOMAINS, DEFAULT_DOMAIN[code]),
        }
        for code, names in CASE_TYPES.items()
    ]


def service_definition(code: str) -> dict[str, Any]:
    """The definition of service ``code``: the one optional attribute, ``domain``.

    The services say ``metadata: false`` (a standard client needs nothing
    more); the definition is offered for clients that want to set the domain.

    Raises
    ------
    KeyError
        ``code`` is not a service.
    """
    if code not in CASE_TYPES:
        raise KeyError(code)
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "domain",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": f"默认 {DEFAULT_DOMAIN[code]}",
                "order": 1,
                "description": "领域 domain",
                "values": [{"key": k, "name": v["zh"]} for k, v in DOMAINS.items()],
            }
        ],
    }


def _form_value(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name) or form.get(f"attribute[{name}]")
    return value.strip() if value and value.strip() else None


def form_to_case(form: Mapping[str, str]) -> dict[str, Any]:
    """A POSTed request form as the raw dict of a `CaseIn` (validated later by the write path).

    Parameters
    ----------
    form : Mapping[str, str]
        The form fields, e.g. Werkzeug's ``request.form``.
    """
    code = (form.get("service_code") or "").strip()
    description = (form.get("description") or "").strip()
    # The title is what the map and table show: the first line of the
    # description, or the service name when there is none.
    first_line = description.splitlines()[0] if description else ""
    title = first_line[:60] or label(CASE_TYPES, code)
    name = "".join(form.get(k, "").strip() for k in ("last_name", "first_name")) or None
    raw: dict[str, Any] = {
        "source": _form_value(form, "source") or "citizen",
        "domain": _form_value(form, "domain") or DEFAULT_DOMAIN.get(code, "livelihood"),
        "title": title,
        "description": description,
        "reporter": name,
        "reporter_phone": (form.get("phone") or "").strip() or None,
        "address": (form.get("address_string") or "").strip() or None,
        "media_url": (form.get("media_url") or "").strip() or None,
    }
    if code:  # left out when missing, so the error says the field is missing
        raw["type"] = code
    external_id = _form_value(form, "external_id")
    if external_id:
        raw["external_id"] = external_id
    for ours, theirs in (("lat", "lat"), ("lon", "long")):
        if (form.get(theirs) or "").strip():
            raw[ours] = form[theirs].strip()
    return raw


def error_list(code: int, errors: list[FieldError] | list[str]) -> list[dict[str, Any]]:
    """Errors as the spec's list of ``{code, description}``, fields named as the client sent them."""
    out = []
    for e in errors:
        if isinstance(e, FieldError):
            # "(request)"-like places are not fields: the message says it all.
            field = "" if e.field.startswith("(") else OPEN311_FIELD.get(e.field, e.field) + ": "
            # pydantic's "Field required" names no field the client knows of as missing: say it plainly.
            message = "missing; it is required" if e.message == "Field required" else e.message
            text = f"{field}{message}" if e.index is None else f"item {e.index}: {field}{message}"
        else:
            text = e
        out.append({"code": code, "description": text})
    return out


class Open311QueryError(ValueError):
    """A GET query that breaks the spec's rules; ``messages`` says which."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("; ".join(messages))


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET ``requests``: ids, or a time window with status and services."""

    ids: tuple[int, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()

    def our_statuses(self) -> set[str] | None:
        """Our statuses that the Open311 ``status`` filter keeps (``None``: all)."""
        if not self.statuses or set(self.statuses) == {"open", "closed"}:
            return None
        return set(OPEN_STATUSES) if "open" in self.statuses else set(CASE_STATUSES) - OPEN_STATUSES


def _comma(raw: str | None) -> list[str]:
    return [v.strip() for v in (raw or "").split(",") if v.strip()]


def parse_request_query(args: Mapping[str, str], now: datetime) -> RequestQuery:
    """Read and check the GET ``requests`` parameters.

    ``service_request_id`` wins over every other filter (as the spec says).
    Otherwise the window is ``start_date``..``end_date``: a missing end is
    ``now``, a missing start is 90 days before the end, and the two may be at
    most 90 days apart.

    Raises
    ------
    Open311QueryError
        Every bad parameter, each named with the rule it breaks.
    """
    errors: list[str] = []
    ids = _comma(args.get("service_request_id"))
    if ids:
        bad = [v for v in ids if not (v.isascii() and v.isdigit() and int(v) <= MAX_ID)]
        if bad:
            raise Open311QueryError([f"service_request_id: {', '.join(bad)} is not a request id (a number)"])
        return RequestQuery(ids=tuple(int(v) for v in ids))
    times: dict[str, datetime] = {}
    for name in ("start_date", "end_date"):
        if args.get(name):
            try:
                times[name] = parse_iso(args[name])
            except ValueError as exc:
                errors.append(f"{name}: {exc}")
    statuses = _comma(args.get("status"))
    if any(s not in ("open", "closed") for s in statuses):
        errors.append(f"status: {args.get('status')!r}; allowed: open, closed")
    codes = _comma(args.get("service_code"))
    unknown = [c for c in codes if c not in CASE_TYPES]
    if unknown:
        errors.append(f"service_code: {', '.join(unknown)} unknown; allowed: {', '.join(CASE_TYPES)}")
    if errors:
        raise Open311QueryError(errors)
    end = times.get("end_date", now)
    start = times.get("start_date", end - MAX_SPAN)
    if start > end:
        raise Open311QueryError([f"start_date {args['start_date']} is after end_date"])
    if end - start > MAX_SPAN:
        raise Open311QueryError([f"start_date and end_date are {(end - start).days} days apart; at most 90 allowed"])
    return RequestQuery(start=start, end=end, statuses=tuple(statuses), service_codes=tuple(codes))


def case_to_request(case: Case, now: datetime, place: Callable[[str | None], str],
                    photo: str | None = None) -> dict[str, Any]:
    """One stored case as an Open311 request (no personal data).

    Parameters
    ----------
    case : Case
        The stored row.
    now : datetime
        Naive UTC, to tell whether the case is overdue.
    place : callable
        Grid or village id → its name, for ``address`` and ``agency_responsible``.
    photo : str, optional
        The absolute URL of the case's first photo, answered as ``media_url`` when
        the case has none of its own (`township.loop.photos.first_photos`).
    """
    is_open = case.status in OPEN_STATUSES
    # Who is responsible follows the tier of 分级化解: the grid, the village, the town or the banner.
    holder = {"grid": case.grid_id, "village": case.village_id}.get(case.tier)
    agency = f"{label(TIERS, case.tier)} {place(holder)}".strip() if holder else {
        "township": "大路镇", "county": "准格尔旗"}.get(case.tier, label(TIERS, case.tier))
    overdue = is_open and case.deadline_at < now
    return {
        "service_request_id": str(case.id),
        "status": "open" if is_open else "closed",
        "status_notes": f"{label(CASE_STATUSES, case.status)} ({case.status})",
        "service_name": label(CASE_TYPES, case.type),
        "service_code": case.type,
        "description": case.description or case.title,
        "agency_responsible": agency,
        "service_notice": "已超期 overdue" if overdue else "",
        "requested_datetime": iso(case.reported_at),
        "updated_datetime": iso(case.updated_at),
        "expected_datetime": iso(case.deadline_at),
        "address": case.address or " ".join(p for p in (place(case.village_id), place(case.grid_id)) if p),
        "zipcode": "",
        "lat": case.lat,
        "long": case.lon,
        "media_url": case.media_url or photo or "",
        "grid_id": case.grid_id,
        "village_id": case.village_id,
        "domain": case.domain,
    }


#: The element name of one item of each list, per the spec's XML examples.
_ITEM_TAG: dict[str, str] = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _element(tag: str, value: Any) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, list):
        el.extend(_element(_ITEM_TAG[tag], v) for v in value)
    elif isinstance(value, dict):
        el.extend(_element(k, v) for k, v in value.items())
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = str(value)
    return el


def to_xml(tag: str, value: list | dict) -> bytes:
    """Serialise a response as the spec's XML: UTF-8, with the declaration.

    Parameters
    ----------
    tag : str
        The root element: ``services``, ``service_requests``, ``errors``,
        ``service_definition``.
    value : list or dict
        Lists become one child per item (``<services><service>…``).
    """
    return XML_DECLARATION + ET.tostring(_element(tag, value), encoding="utf-8", xml_declaration=False)


# -- shapes, for the OpenAPI document (tests keep them equal to what the functions return) --


class Open311Service(BaseModel):
    """One service of GET ``services``."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class Open311Request(BaseModel):
    """One request of GET ``requests``: the standard fields and our extras."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str
    zipcode: str
    lat: float | None
    long: float | None
    media_url: str
    grid_id: str | None
    village_id: str | None
    domain: str


class Open311Created(BaseModel):
    """The answer to POST ``requests``."""

    service_request_id: str
    service_notice: str
    account_id: str | None


class Open311Error(BaseModel):
    """One error of an Open311 error list."""

    code: int
    description: str
