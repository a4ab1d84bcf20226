"""What every endpoint shares: answering in JSON or XML, errors, bodies, tokens, paging.

Every rejected request ends in `ApiError` (or `IngestError`, or an HTTP
error Werkzeug raised) and the blueprint's one handler, `error_response`,
turns it into the format the client speaks: ``{"errors": [{index, field,
message}]}`` under ``/api/``, Open311's ``[{code, description}]`` list
(JSON or XML by the URL's extension) under ``/open311/``.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
from flask import Response, g, request
from werkzeug.exceptions import HTTPException

from township.accounts.tokens import check_token, token_handler
from township.domain.policy import STAFF, may_write, warning_radius_cap
from township.formats.ingest import FieldError, IngestError
from township.formats.open311 import error_list, to_xml
from township.grids.model import GridSet
from township.loop.casefile import REFUSAL_STATUS, visible_case
from township.loop.workflow import Actor, MoveRefused
from township.read.api import ANONYMOUS, Viewer
from township.runtime.bootstrap import AppContext
from township.store.models import Case
from township.store.uow import StoreUnavailable

log = logging.getLogger(__name__)

#: Largest request body the API reads (bigger ones get 413).
MAX_BODY = 5 * 1024 * 1024
JSON = "application/json"
GEOJSON = "application/geo+json"
XML = "application/xml; charset=utf-8"
#: When a client may try a write again after a 503 (the store read-only or full), seconds.
RETRY_AFTER_S = "30"
#: Largest id or version a query may name: ids and versions are INTEGER columns, 64-bit in
#: SQLite but 32-bit in PostgreSQL, which refuses to compare a bigger number (township.store.models.MAX_ID).
MAX_ID = 2**31 - 1


class ApiError(Exception):
    """A rejected request: the HTTP status and every reason, each a message or a `FieldError`."""

    def __init__(self, status: int, errors: Iterable[FieldError | str], headers: dict[str, str] | None = None):
        self.status = status
        self.errors = [e if isinstance(e, FieldError) else FieldError(None, "(request)", e) for e in errors]
        self.headers = headers or {}
        super().__init__("; ".join(e.message for e in self.errors))


def respond(data: Any, status: int = 200, fmt: str = "json", xml_root: str | None = None,
            mimetype: str | None = None) -> Response:
    """Answer ``data`` as JSON (``fmt`` "json"/"geojson") or as Open311 XML under ``xml_root``.

    ``data`` may also be ready bytes (CAP XML), sent as ``mimetype``.
    """
    if isinstance(data, bytes):
        return Response(data, status, mimetype=mimetype or XML)
    if fmt == "xml":
        return Response(to_xml(xml_root or "response", data), status, mimetype=XML)
    return Response(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), status,
                    mimetype=GEOJSON if fmt == "geojson" else JSON)


def _open311_format() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


def error_response(exc: Exception) -> Response:
    """The one error handler of the blueprint: any failure as a clean 4xx (or, last resort, 500)."""
    if isinstance(exc, ApiError):
        status, errors, headers = exc.status, exc.errors, exc.headers
    elif isinstance(exc, IngestError):
        status, errors, headers = 422, exc.errors, {}
    elif isinstance(exc, StoreUnavailable):  # read-only or full: not the client's fault, and it passes
        log.error("API write %s %s refused: %s", request.method, request.path, exc)
        status, errors, headers = 503, [FieldError(None, "(store)", str(exc))], {"Retry-After": RETRY_AFTER_S}
    elif isinstance(exc, HTTPException):
        status, headers = exc.code or 500, {}
        message = exc.description or exc.name
        if status == 413:
            limit = g.get("body_limit", MAX_BODY)  # the endpoint's own (`api._limit_body`): photo uploads are larger
            message = f"the body is larger than {limit / (1024 * 1024):.0f} MB"
        errors = [FieldError(None, "(request)", message)]
    else:  # a bug: log it with its traceback, answer without leaking it
        log.exception("API request %s %s failed", request.method, request.path)
        status, errors, headers = 500, [FieldError(None, "(server)", "internal error; it has been logged")], {}
    if request.path.startswith("/open311/"):
        # The spec answers a broken request with 400 and a list of {code, description}.
        status = 400 if status == 422 else status
        fmt = _open311_format()
        resp = respond(error_list(status, errors), status, fmt, "errors")
    else:
        resp = respond({"errors": [e.to_dict() for e in errors]}, status)
    resp.headers.update(headers)
    return resp


def read_json() -> list:
    """The JSON body as a list of items (one object becomes a list of one).

    Raises
    ------
    ApiError
        400 for another content type, a body that is not UTF-8 JSON, or JSON
        that is neither an object nor a list; 413 (via Werkzeug) for a body
        over `MAX_BODY`.
    """
    if request.mimetype != JSON and not request.mimetype.endswith("+json"):
        raise ApiError(400, [f"Content-Type must be {JSON}, got {request.mimetype or 'none'}"])
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError too
        raise ApiError(400, [f"malformed JSON: {exc}"]) from None
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list):
        return body
    raise ApiError(400, ["the body must be a JSON object or a list of objects"])


def _presented_token() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, ["Authorization must be 'Bearer <token>'"], {"WWW-Authenticate": "Bearer"})
        return value.strip()
    if request.path.startswith("/open311/"):
        # Open311 clients send the key as a form field (POST) or a query parameter (GET).
        return request.values.get("api_key") or None
    return None


def viewer(ctx: AppContext, write: bool = False) -> Viewer:
    """Who is asking; anonymous readers get the wall's (masked) view.

    Raises
    ------
    ApiError
        401 for an unknown token, or no token on a write; 403 for a role that may not write.
    """
    token = _presented_token()
    if token is None:
        if write:
            raise ApiError(401, ["writing needs a token: Authorization: Bearer <token>"],
                           {"WWW-Authenticate": "Bearer"})
        return ANONYMOUS
    row = check_token(ctx.township.engine, token)
    if row is None:
        raise ApiError(401, ["unknown or revoked token"], {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if write and not may_write(row.role):
        raise ApiError(403, [f"role {row.role} may not write; writers are {', '.join(sorted(STAFF))}"])
    handler = token_handler(ctx.township.engine, row.id) if row.role == "responder" else None
    return Viewer(role=row.role, village_id=row.village_id, name=row.name, handler_id=handler)


def acting_viewer(ctx: AppContext) -> Viewer:
    """Who makes a move of the closed loop: a token is required (401), its role is checked by the workflow."""
    if _presented_token() is None:
        raise ApiError(401, ["a move needs a token: Authorization: Bearer <token>"], {"WWW-Authenticate": "Bearer"})
    return viewer(ctx)


def actor_of(who: Viewer) -> Actor:
    """The workflow's actor for an API viewer; the audit trail names the token (``api:hotline-bridge``)."""
    return Actor(f"api:{who.name}" if who.name else "api", who.role, who.village_id, who.handler_id)


def refused(exc: MoveRefused, field: str = "(move)") -> ApiError:
    """A refused move as an API error: not_found 404, stale 409, forbidden 403, status 409, missing/invalid 422."""
    return ApiError(REFUSAL_STATUS.get(exc.code, 422), [FieldError(None, field, exc.reason)])


def case_in_scope(ctx: AppContext, who: Viewer, case_id: int) -> Case:
    """The case ``case_id`` if ``who`` may see it: 404 if there is none or it is another village's (one answer)."""
    try:
        if case_id > MAX_ID:  # no such id can exist (32-bit in PostgreSQL)
            raise MoveRefused(f"case {case_id} does not exist", "not_found")
        return visible_case(ctx.township.engine, case_id, actor_of(who))
    except MoveRefused as exc:
        raise refused(exc) from None


def village_name(gridset: GridSet, village: str | None) -> str:
    """``DL-03 常树梁村``, for messages."""
    return f"{village} {gridset.props(village)['name']}" if village and village in gridset else str(village)


def check_village(gridset: GridSet, who: Viewer, lons: list[float], lats: list[float]) -> None:
    """A village token may write only points inside its village: 403 naming the village otherwise."""
    if who.role != "village":
        return
    grids = gridset.locate(np.array(lons, float), np.array(lats, float))
    outside = [
        f"item {i}: ({lon}, {lat}) lies in {village_name(gridset, gridset.village_of(g)) if g else 'no village'}"
        for i, (g, lon, lat) in enumerate(zip(grids, lons, lats, strict=True))
        if g is None or gridset.village_of(g) != who.village_id
    ]
    if outside:
        raise ApiError(403, [f"this token may only write in {village_name(gridset, who.village_id)}", *outside])


def check_radius(ctx: AppContext, who: Viewer, radii: list[float], field: str = "radius_m") -> None:
    """A warning's radius within what ``who``'s role may post (`warning_radius_cap`): 403 naming each item otherwise."""
    cap = warning_radius_cap(who.role, ctx.settings.village_radius_km * 1000.0)
    if cap is None:
        return
    over = [FieldError(i if len(radii) > 1 else None, field, f"{r:.0f} m is over {cap:.0f} m, the largest radius "
                       f"a {who.role} token may post; ask the command centre for a wider warning")
            for i, r in enumerate(radii) if r > cap]
    if over:
        raise ApiError(403, over)


def int_arg(name: str, default: int | None, low: int, high: int = MAX_ID) -> int | None:
    """An integer query parameter within ``low``..``high``; 400 naming it otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, [FieldError(None, name, f"{raw!r} is not an integer")]) from None
    if not low <= value <= high:
        raise ApiError(400, [FieldError(None, name, f"{value} is outside {low}..{high}")])
    return value
