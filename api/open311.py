"""``/open311/v2``: Open311 GeoReport v2 over our cases; the format is the URL's extension."""
from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Blueprint, request

from township.domain.vocab import CASE_TYPES
from township.formats.ingest import CaseIn, FieldError, parse_items, write_cases
from township.formats.open311 import (
    JURISDICTION_ID,
    MAX_REQUESTS,
    Open311QueryError,
    RequestQuery,
    case_to_request,
    form_to_case,
    parse_request_query,
    service_definition,
    services,
)
from township.loop.photos import first_photos, photo_url
from township.read.api import open311_requests, place_name
from township.runtime.bootstrap import AppContext
from township.store.models import utcnow

from .http import ApiError, case_in_scope, check_village, respond, viewer

PREFIX = "/open311/v2"
FORMAT = "<any(json,xml):fmt>"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _check_jurisdiction() -> None:
    """404 for a ``jurisdiction_id`` that is not ours, as the spec says (none given: ours)."""
    given = (request.values.get("jurisdiction_id") or "").strip()
    if given and given != JURISDICTION_ID:
        raise ApiError(404, [FieldError(None, "jurisdiction_id", f"{given!r} unknown; this endpoint serves "
                                        f"{JURISDICTION_ID} only")])


def _check_utf8_form() -> None:
    """400 for a form body that is not UTF-8, before a garbled field is read as missing (e.g. ``api_key``).

    Werkzeug replaces undecodable bytes silently; Open311 is UTF-8 everywhere,
    so a GBK form is refused, saying so, instead of being stored garbled.
    """
    if request.mimetype != FORM_TYPES[0]:
        return  # multipart parts carry their own charsets; Werkzeug decodes each part
    try:
        parse_qsl(request.get_data(cache=True).decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise ApiError(400, [f"the body is not UTF-8 ({exc.reason} at byte {exc.start}); Open311 forms are "
                             "UTF-8, percent-encoded"]) from None


def register(bp: Blueprint, ctx: AppContext) -> None:
    """Add the Open311 routes to ``bp``."""
    township = ctx.township
    gridset = township.gridset

    def place(grid_id: str | None) -> str:
        return place_name(gridset, grid_id)

    def find(q: RequestQuery) -> list[dict]:
        # A village token sees its village's requests only; the list holds no personal data.
        who = viewer(ctx)
        village = who.village_id if who.role == "village" else None
        now = utcnow()
        rows = open311_requests(township.engine, q, village, MAX_REQUESTS)
        # media_url: a case without its own is answered with its first photo, to who may see it (absolute URL).
        base = request.host_url.rstrip("/")
        photos = first_photos(township.engine, rows, who)
        return [case_to_request(r, now, place, base + photo_url(photos[r.id]) if r.id in photos else None)
                for r in rows]

    @bp.get(f"{PREFIX}/discovery.{FORMAT}")
    def discovery(fmt: str):
        _check_jurisdiction()
        base = request.host_url.rstrip("/") + PREFIX + "/"
        body = {
            "changeset": None,
            "contact": "大路镇智慧乡镇平台",
            "key_service": "python -m township token NAME --role command",
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                           "changeset": None, "type": "production", "formats": ["text/xml", "application/json"]}],
        }
        return respond(body, fmt=fmt, xml_root="discovery")

    @bp.get(f"{PREFIX}/services.{FORMAT}")
    def services_list(fmt: str):
        _check_jurisdiction()
        return respond(services(), fmt=fmt, xml_root="services")

    @bp.get(f"{PREFIX}/services/<service_code>.{FORMAT}")
    def service_get(service_code: str, fmt: str):
        _check_jurisdiction()
        try:
            return respond(service_definition(service_code), fmt=fmt, xml_root="service_definition")
        except KeyError:
            raise ApiError(404, [f"service_code {service_code!r} unknown"]) from None

    @bp.get(f"{PREFIX}/requests.{FORMAT}")
    def requests_get(fmt: str):
        _check_jurisdiction()
        try:
            q = parse_request_query(request.args, utcnow())
        except Open311QueryError as exc:
            raise ApiError(400, exc.messages) from None
        return respond(find(q), fmt=fmt, xml_root="service_requests")

    @bp.get(f"{PREFIX}/requests/<int:service_request_id>.{FORMAT}")
    def request_get(service_request_id: int, fmt: str):
        _check_jurisdiction()
        # Another village's request is answered as a missing one (404): as GET /api/v1/cases/{id} does.
        case_in_scope(ctx, viewer(ctx), service_request_id)
        found = find(RequestQuery(ids=(service_request_id,)))
        if not found:
            raise ApiError(404, [f"service_request_id {service_request_id} not found"])
        return respond(found, fmt=fmt, xml_root="service_requests")

    @bp.post(f"{PREFIX}/requests.{FORMAT}")
    def requests_post(fmt: str):
        if request.mimetype not in FORM_TYPES:
            raise ApiError(400, [f"POST requests is form-encoded ({FORM_TYPES[0]}), got {request.mimetype or 'none'}"])
        _check_utf8_form()
        who = viewer(ctx, write=True)
        _check_jurisdiction()
        code = (request.form.get("service_code") or "").strip()
        if code and code not in CASE_TYPES:  # the spec: an unknown service_code is 404
            raise ApiError(404, [FieldError(None, "service_code", f"{code!r} unknown; services: "
                                            f"{', '.join(CASE_TYPES)}")])
        items = parse_items(CaseIn, [form_to_case(request.form)])
        check_village(gridset, who, [items[0].lon], [items[0].lat])
        written = write_cases(township.engine, gridset, items, actor=f"open311:{who.name}", sla=ctx.settings.sla,
                              writer=who)
        body = [{"service_request_id": str(w.id), "service_notice": "", "account_id": None} for w in written]
        return respond(body, 201 if written[0].created else 200, fmt, "service_requests")
