"""``GET /api/openapi.json``: the OpenAPI 3.1 document of the API.

Schemas come from the pydantic models (`model_json_schema`), so the
document cannot drift from what is validated and returned.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from township.domain.filters import WINDOWS
from township.domain.vocab import CASE_STATUSES, CASE_TYPES, DOMAINS, PHOTO_PURPOSES, WARNING_STATUSES
from township.formats.ingest import MAX_BATCH, CaseIn, WarningIn
from township.formats.open311 import (
    JURISDICTION_ID,
    Open311Created,
    Open311Error,
    Open311Request,
    Open311Service,
)
from township.formats.schemas import (
    CapResultOut,
    CaseOut,
    CasePageOut,
    ErrorsOut,
    VersionOut,
    WarningOut,
    WrittenOut,
)
from township.loop.casefile import EventsOut, MovedOut, MoveIn, OrdersOut, SuggestionsOut
from township.loop.evacroster import EvacMovedOut, EvacMoveIn, EvacStartIn, EvacuationOut
from township.loop.evacuation import EVAC_MOVES
from township.loop.inbox import MAX_LIST, Inbox, ReadIn, ReadOut
from township.loop.photos import PhotoAddedOut, PhotosOut
from township.loop.warnings import WARNING_MOVES, TaskIn, WarningMovedOut, WarningMoveIn
from township.loop.workflow import MOVES

from .analysis import HOTSPOT_ARGS

MODELS: tuple[type[BaseModel], ...] = (
    CaseIn, WarningIn, CaseOut, CasePageOut, WarningOut, WrittenOut, CapResultOut, ErrorsOut, VersionOut,
    Open311Service, Open311Request, Open311Created, Open311Error,
    MoveIn, MovedOut, EventsOut, SuggestionsOut, OrdersOut, WarningMoveIn, TaskIn, WarningMovedOut,
    Inbox, ReadIn, ReadOut,
    PhotosOut, PhotoAddedOut,
    EvacuationOut, EvacStartIn, EvacMoveIn, EvacMovedOut,
)


def _schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> dict:
    return {"type": "array", "items": _ref(name)}


def _json(schema: dict, description: str = "OK", media: str = "application/json") -> dict:
    return {"description": description, "content": {media: {"schema": schema}}}


def _errors(*codes: int) -> dict:
    words = {400: "malformed request", 401: "no or unknown token", 403: "role or village not allowed",
             404: "not found", 409: "the case changed since expected_version, or the move is not allowed "
             "from its status or tier", 413: "body over 5 MB", 422: "fields break rules; every one is named"}
    return {str(c): _json(_ref("ErrorsOut"), words[c]) for c in codes}


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _enum_list(values) -> dict:
    return {"type": "string", "description": "comma-separated: " + ", ".join(values)}


#: What each Open311 error status means (the spec's own: 400, 401/403 for the key, 404).
OPEN311_ERRORS = {400: "a field breaks a rule, or a body that is not UTF-8", 401: "no or unknown api_key",
                  403: "the key's role may not do this, or another village's request",
                  404: "unknown format, service_code, jurisdiction_id or request", 413: "body over 5 MB"}


def _open311_errors(*codes: int) -> dict:
    return {str(c): {"description": f"{OPEN311_ERRORS[c]}: a list of {{code, description}}",
                     "content": {"application/json": {"schema": _list_of("Open311Error")},
                                 "application/xml": {"schema": {"type": "string"}}}} for c in codes}


def _open311(summary: str, item: str, root: str, params: list | None = None, post: bool = False,
             errors: tuple[int, ...] = (400, 404)) -> dict:
    jurisdiction = _query("jurisdiction_id", f"optional: {JURISDICTION_ID} (this endpoint serves no other; "
                          "another is 404)")
    op: dict[str, Any] = {
        "tags": ["Open311 GeoReport v2"],
        "summary": summary,
        "parameters": [{"name": "fmt", "in": "path", "required": True,
                        "schema": {"enum": ["json", "xml"]}, "description": "json or xml"},
                       *(params or []), *([] if post else [jurisdiction])],
        "responses": {
            "200": {"description": f"JSON list, or XML <{root}>",
                    "content": {"application/json": {"schema": _list_of(item) if item else {"type": "object"}},
                                "application/xml": {"schema": {"type": "string"}}}},
            **_open311_errors(*errors),
        },
    }
    if post:
        op["requestBody"] = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object",
            "required": ["service_code", "lat", "long"],
            "properties": {name: {"type": "string", "description": text} for name, text in (
                ("api_key", "a token (see `python -m township token`), unless sent as Authorization: Bearer"),
                ("jurisdiction_id", f"optional: {JURISDICTION_ID} (this endpoint serves no other; another is 404)"),
                ("service_code", "a case type: " + ", ".join(CASE_TYPES)),
                ("lat", "WGS-84 latitude"), ("long", "WGS-84 longitude"),
                ("address_string", "where it is, in words (at most 200 characters): answered as address; "
                                   "lat/long still place it (no geocoder)"),
                ("media_url", "an http(s) URL of a photo or video of it, answered as media_url"),
                ("description", "the request text; its first line becomes the title"),
                ("first_name", "reporter (personal data)"), ("last_name", "reporter surname"),
                ("phone", "reporter phone (personal data)"), ("email", "accepted, not stored"),
                ("attribute[domain]", "domain: " + ", ".join(DOMAINS)),
                ("source", "our source code (default citizen)"),
                ("external_id", "the client's own id: re-sending it updates the case"),
            )}}}}}
        op["responses"]["201"] = {"description": "created", "content": {
            "application/json": {"schema": _list_of("Open311Created")}, "application/xml": {"schema": {
                "type": "string"}}}}
        op["responses"]["200"]["description"] = "updated (a re-sent source and external_id)"
        op["security"] = [{"bearer": []}, {"open311_api_key": []}]
    return op


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route the blueprint serves."""
    write = [{"bearer": []}]
    case_filters = [
        _query("village", "village/community ids (DL-03,…)", _enum_list(["DL-01", "…"])),
        _query("domain", "domains", _enum_list(DOMAINS)),
        _query("status", "case statuses", _enum_list(CASE_STATUSES)),
        _query("type", "case types", _enum_list(CASE_TYPES)),
        _query("window", "reported within (open cases always kept); default 90d, or all with since_version",
               {"enum": list(WINDOWS)}),
        _query("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
        _query("offset", "rows to skip", {"type": "integer", "minimum": 0, "default": 0}),
        _query("since_version", "only cases changed after this data version, oldest change first",
               {"type": "integer", "minimum": 0}),
        _query("format", "geojson: same as Accept: application/geo+json", {"enum": ["json", "geojson"]}),
        _query("as_of", "ISO 8601 time: each case as it was then, from the audit trail (status, tier, handler, "
               "resolved/closed, overdue at that moment); only cases reported by then; filters apply to what "
               "they were then. 400 when not ISO 8601, more than a minute ahead of the server, before the trail "
               "begins, or with since_version", {"type": "string", "format": "date-time"}),
    ]
    def body_of(name: str) -> dict:
        schema = {"oneOf": [_ref(name), {"type": "array", "maxItems": MAX_BATCH, "items": _ref(name)}]}
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    written = {"200": _json(_list_of("WrittenOut"), "all were updates (re-sent source ids)"),
               "201": _json(_list_of("WrittenOut"), "at least one was created")}
    warning_status = _query("status", "default: the live ones (active, acknowledged, handling); or all",
                            _enum_list(["all", *WARNING_STATUSES]))
    paths: dict[str, Any] = {
        "/api/v1/version": {"get": {"tags": ["data"], "summary": "the data version (moves on every write)",
                                    "responses": {"200": _json(_ref("VersionOut"))}}},
        "/api/v1/cases": {
            "get": {"tags": ["cases"], "summary": "cases under the dashboard's filters, paged; "
                    "reporter masked unless the token's role sees personal data",
                    "parameters": case_filters,
                    "responses": {"200": {"description": "a page", "content": {
                        "application/json": {"schema": _ref("CasePageOut")},
                        "application/geo+json": {"schema": {"type": "object", "description":
                                                            "RFC 7946 FeatureCollection of CaseOut"}}}},
                        **_errors(400, 401, 403)}},
            "post": {"tags": ["cases"], "summary": "create or update cases (idempotent by source, external_id)",
                     "security": write, "requestBody": body_of("CaseIn"),
                     "responses": {**written, **_errors(400, 401, 403, 413, 422)}},
        },
        "/api/v1/cases/{case_id}": {"get": {
            "tags": ["cases"], "summary": "one case",
            "parameters": [{"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": _json(_ref("CaseOut")), **_errors(401, 403, 404)}}},
"/api/v1/cases/{case_id}/{move}": {"post": {
            "tags": ["closed loop"],
            "summary": "make one move of the closed loop (群众点单 → 派单 → 接单 → 办结 → 销号), as the token's role",
            "description": "Moves: " + "; ".join(f"{m.name} {m.zh} (from {', '.join(sorted(m.from_statuses))}; "
                                                 f"roles {', '.join(sorted(m.roles - {'system'}))}"
                                                 + (f"; needs {', '.join(m.needs)}" if m.needs else "") + ")"
                                                 for m in MOVES.values())
            + ". A village token acts only in its village and below township tier; a responder token only on "
            "cases dispatched to its handler (or open orders of its village). Pass the case's `version` as "
            "`expected_version`: a case changed since is refused (409) and nothing is written.",
            "security": write,
            "parameters": [{"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                           {"name": "move", "in": "path", "required": True, "schema": {"enum": list(MOVES)}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("MoveIn")}}},
            "responses": {"200": _json(_ref("MovedOut")), **_errors(400, 401, 403, 404, 409, 413, 422)}}},
        "/api/v1/cases/{case_id}/events": {"get": {
            "tags": ["closed loop"], "summary": "the case's audit trail, oldest first (names and notes only for "
            "roles that see personal data)",
            "parameters": [{"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": _json(_ref("EventsOut")), **_errors(401, 403, 404)}}},
        "/api/v1/cases/{case_id}/suggestions": {"get": {
            "tags": ["closed loop"], "summary": "handlers to dispatch the case to, best first (a village token: its "
            "village's only), and the village's party-member pool (handler 'pool')",
            "parameters": [{"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": _json(_ref("SuggestionsOut")), **_errors(401, 403, 404)}}},
        "/api/v1/orders": {"get": {
            "tags": ["closed loop"], "summary": "open orders of a village (接单): its party-member pool and waiting "
            "micro-wishes, earliest deadline first",
            "parameters": [_query("village", "a village id; default: a village token's village, a responder "
                                  "token's handler's village")],
            "responses": {"200": _json(_ref("OrdersOut")), **_errors(400, 401, 403)}}},
        "/api/v1/warnings": {
            "get": {"tags": ["warnings"], "summary": "warnings (live ones by default)",
                    "parameters": [warning_status],
                    "responses": {"200": _json({"type": "object", "properties": {
                        "total": {"type": "integer"}, "items": _list_of("WarningOut")}}), **_errors(400, 401)}},
            "post": {"tags": ["warnings"], "summary": "create or update warnings (idempotent by source, external_id)",
                     "security": write, "requestBody": body_of("WarningIn"),
                     "responses": {**written, **_errors(400, 401, 403, 413, 422)}},
        },
        "/api/v1/warnings/cap": {
            "get": {"tags": ["warnings"],
                    "summary": "an Atom feed of warnings, one entry each linking its CAP 1.2 document",
                    "description": "Each entry's link (type application/cap+xml) is "
                                   "/api/v1/warnings/{warning_id}/cap. Without status: the live warnings and "
                                   "those cleared in the last 24 hours (their Cancel).",
                    "parameters": [warning_status],
                    "responses": {"200": {"description": "Atom (RFC 4287)", "content": {
                        "application/atom+xml": {"schema": {"type": "string"}}}}, **_errors(400, 401)}},
            "post": {"tags": ["warnings"], "summary": "a CAP 1.2 Alert, Update or Cancel",
                     "security": write,
                     "requestBody": {"required": True, "content": {
                         t: {"schema": {"type": "string"}} for t in ("application/cap+xml", "application/xml")}},
                     "responses": {"200": _json(_ref("CapResultOut"), "an update"),
                                   "201": _json(_ref("CapResultOut"), "a new warning"),
                                   **_errors(400, 401, 403, 413, 422)}},
        },
        "/api/v1/warnings/{warning_id}/cap": {"get": {
            "tags": ["warnings"], "summary": "one warning as a CAP 1.2 document: an Alert, an Update (after its "
            "content changed, with references) or a Cancel (once cleared)",
            "parameters": [{"name": "warning_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "CAP XML", "content": {
                "application/cap+xml": {"schema": {"type": "string"}}}}, **_errors(401, 404)}}},
        **_warning_moves(write),
        **_notifications(write),
        **_photos(write),
        **_hotspots(),
        **_evacuation(write),
        "/api/openapi.json": {"get": {"tags": ["data"], "summary": "this document",
                                      "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        "/open311/v2/discovery.{fmt}": {"get": _open311("service discovery", "", "discovery", errors=(404,))},
        "/open311/v2/services.{fmt}": {"get": _open311("services: one per case type", "Open311Service", "services",
                                                       errors=(404,))},
        "/open311/v2/services/{service_code}.{fmt}": {"get": _open311(
            "a service definition (metadata is false; the optional attribute is domain)", "", "service_definition",
            [{"name": "service_code", "in": "path", "required": True, "schema": {"enum": list(CASE_TYPES)}}],
            errors=(404,))},
        "/open311/v2/requests.{fmt}": {
            "get": _open311("requests (no personal data); at most 90 days, 1000 requests", "Open311Request",
                            "service_requests", [
                                _query("service_request_id", "comma list; other filters are then ignored"),
                                _query("service_code", "comma list"),
                                _query("status", "open, closed (comma list)"),
                                _query("start_date", "ISO 8601; default end_date − 90 days"),
                                _query("end_date", "ISO 8601; default now; at most 90 days after start_date"),
                                _query("api_key", "a token: a village's sees its village's requests only"),
                            ], errors=(400, 401, 404)),
            "post": _open311("create a request (form-encoded)", "Open311Created", "service_requests", post=True,
                             errors=(400, 401, 403, 404, 413)),
        },
        "/open311/v2/requests/{service_request_id}.{fmt}": {"get": _open311(
            "one request", "Open311Request", "service_requests",
            [{"name": "service_request_id", "in": "path", "required": True, "schema": {"type": "integer"}},
             _query("api_key", "a token: a village's may read its village's requests only")],
            errors=(401, 403, 404))},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "大路镇智慧乡镇 · 一点指挥 API", "version": "1",
                 "description": "Cases and early warnings of the township command map. Writes need "
                 "`Authorization: Bearer <token>` of role admin, command or village (own village only); "
                 "moves of the closed loop need a token whose role the move allows (responder tokens act as "
                 "their handler); a village token reading or acting on another village's case gets 404, the "
                 "answer for a case that does not exist; a re-send (same source and external_id) updates only "
                 "the report's own fields, never status, tier or village; "
                 "reads without a token see the wall's masked view."},
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "open311_api_key": {"type": "apiKey", "in": "query", "name": "api_key",
                                    "description": "Open311 api_key (a form field on POST)"},
            },
        },
    }


def _warning_moves(write: list) -> dict[str, Any]:
    """The warning card's moves (一点指挥) over HTTP."""
    warning_id = {"name": "warning_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    rules = ("A village token acts only on warnings reaching its village (dispatching only for a warning whose "
             "point lies in it, to its own handlers); wall and responder tokens never. Pass the warning's "
             "`version` as `expected_version`: a warning changed since is refused (409) and nothing is written.")
    answers = {"200": _json(_ref("WarningMovedOut")), **_errors(400, 401, 403, 404, 409, 413, 422)}
    return {
        "/api/v1/warnings/{warning_id}/{move}": {"post": {
            "tags": ["warnings"], "summary": "move a warning: acknowledge 确认, handle 处置, clear 解除",
            "description": "Moves: " + "; ".join(f"{m} {zh} (from {', '.join(sorted(froms))} to {to})"
                                                 for m, (froms, to, zh) in WARNING_MOVES.items()) + ". " + rules,
            "security": write,
            "parameters": [warning_id, {"name": "move", "in": "path", "required": True,
                                        "schema": {"enum": list(WARNING_MOVES)}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("WarningMoveIn")}}},
            "responses": answers}},
        "/api/v1/warnings/{warning_id}/tasks": {"post": {
            "tags": ["warnings"], "summary": "dispatch a task from a warning (派单): a hazard case at its point, "
            "dispatched to the handler, logged on the warning",
            "description": rules, "security": write, "parameters": [warning_id],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TaskIn")}}},
            "responses": answers}},
    }


def _notifications(write: list) -> dict[str, Any]:
    """A person's unread notifications (issue 13): a token's, or a signed-in session's."""
    who = ("The caller's lists: a responder token's handler's, a village token's village's, the command "
           "centre's for command and admin tokens (a wall token has none); without a token, the signed-in "
           "user's (the session cookie); neither: 401.")
    return {
        "/api/v1/notifications": {"get": {
            "tags": ["notifications"], "summary": "the caller's notifications, newest first, and how many are unread",
            "description": who, "security": [*write, {}],
            "parameters": [_query("limit", "how many", {"type": "integer", "minimum": 1, "maximum": MAX_LIST,
                                                        "default": 50})],
            "responses": {"200": _json(_ref("Inbox")), **_errors(400, 401)}}},
        "/api/v1/notifications/read": {"post": {
            "tags": ["notifications"], "summary": "mark notifications read (ids, or all); ids on none of the "
            "caller's lists are left alone", "description": who, "security": [*write, {}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ReadIn")}}},
            "responses": {"200": _json(_ref("ReadOut")), **_errors(400, 401, 413, 422)}}},
    }


def _photos(write: list) -> dict[str, Any]:
    """Case photos: upload (multipart), list, and the stored bytes."""
    case_id = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    photo_id = {"name": "photo_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    who = ("Who may see a case's photos: admin, command, responder tokens, and a village token for its own "
           "village's cases; another village's case, and the wall, get 404 as for a missing case.")
    upload = {"type": "object", "required": ["file"], "properties": {
        "file": {"oneOf": [{"type": "string", "format": "binary"},
                           {"type": "array", "items": {"type": "string", "format": "binary"}}],
                 "description": "the photo(s): JPEG, PNG or WebP by content; several parts named file allowed "
                                "(PHOTOS_PER_REQUEST, default 3; a case holds at most PHOTOS_PER_CASE, default 6)"},
        "purpose": {"enum": list(PHOTO_PURPOSES), "default": "report",
                    "description": "report, resolve (办结 evidence) or progress"}}}
    image = {t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/jpeg", "image/png")}
    return {
        "/api/v1/cases/{case_id}/photos": {
            "post": {
                "tags": ["photos"], "summary": "add photos to a case: checked by content, turned upright, shrunk "
                "to 2048 px, every metadata tag (EXIF, GPS, XMP, ICC) stripped, a 320 px thumbnail made",
                "description": who + " The EXIF position, read before stripping, is answered as `gps` (a "
                "suggestion; not stored). One file: 201 with the photo; several: 201 with a list. A refused "
                "file stores nothing of the upload: 413 a file over PHOTO_MAX_BYTES (default 15 MB), 415 not "
                "an accepted image, 422 damaged/truncated, too many pixels, or over the photo limits; 409 a "
                "closed or cancelled case.",
                "security": write, "parameters": [case_id],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": upload}}},
                "responses": {"201": _json({"oneOf": [_ref("PhotoAddedOut"), _list_of("PhotoAddedOut")]},
                                           "stored: the photo, or a list for several files"),
                              **_errors(400, 401, 404, 409),
                              "413": _json(_ref("ErrorsOut"), "a file or the upload too large"),
                              "415": _json(_ref("ErrorsOut"), "not a JPEG, PNG or WebP image"),
                              **_errors(422)}},
            "get": {"tags": ["photos"], "summary": "a case's photos, oldest first", "description": who,
                    "parameters": [case_id],
                    "responses": {"200": _json(_ref("PhotosOut")), **_errors(401, 404)}},
        },
        "/api/v1/photos/{photo_id}": {"get": {
            "tags": ["photos"], "summary": "a photo's bytes (Cache-Control private)",
            "description": who + " Without a token, the signed-in user's session cookie decides.",
            "parameters": [photo_id],
            "responses": {"200": {"description": "the photo", "content": image}, **_errors(401, 404)}}},
        "/api/v1/photos/{photo_id}/thumb": {"get": {
            "tags": ["photos"], "summary": "a photo's thumbnail (at most 320 px)", "description": who,
            "parameters": [photo_id],
            "responses": {"200": {"description": "the thumbnail", "content": image}, **_errors(401, 404)}}},
    }


def _hotspots() -> dict[str, Any]:
    """Getis-Ord Gi* per grid (`api.analysis`)."""
    item = {"type": "object", "required": ["grid_id", "village_id", "count", "value", "z", "p", "p_sim", "bin",
                                           "trend", "repeats"], "properties": {
        "grid_id": {"type": "string"}, "village_id": {"type": ["string", "null"]},
        "count": {"type": "integer", "description": "cases of the choices in the window"},
        "value": {"type": "number", "description": "what was tested: the count, or cases per 100 households"},
        "z": {"type": "number", "description": "Gi* z-score (0 for a grid without neighbours)"},
        "p": {"type": "number", "description": "two-sided p-value of z (the bins test it)"},
        "p_sim": {"type": "number", "description": "pseudo p-value of 999 conditional permutations (fixed seed)"},
        "bin": {"type": "integer", "minimum": -3, "maximum": 3,
                "description": "3/2/1 hot at 99/95/90 % after Benjamini-Hochberg, -3/-2/-1 cold, 0 not significant"},
        "trend": {"enum": ["new", "intensifying", "diminishing", "persistent", "sporadic", None],
                  "description": "Mann-Kendall over the last 12 whole months (null: no case in them)"},
        "repeats": {"type": "integer", "description": "cases within 50 m and 30 days of an earlier one"}}}
    body = {"type": "object", "required": ["version", "window", "measure", "permutations", "islands", "items"],
            "properties": {"version": {"type": "integer"}, "window": {"type": "string"},
                           "measure": {"type": "string"}, "domain": {"type": ["string", "null"]},
                           "type": {"type": ["string", "null"]}, "permutations": {"type": "integer"},
                           "islands": {"type": "integer"}, "items": {"type": "array", "items": item}}}
    params = [_query(name, f"{name}; default {allowed[0] if name in ('window', 'measure') else 'all'}",
                     {"enum": list(allowed)}) for name, allowed in HOTSPOT_ARGS.items()]
    return {"/api/v1/hotspots": {"get": {
        "tags": ["analysis"], "summary": "hotspots: Getis-Ord Gi* of the cases per grid, with trend and repeat spots",
        "description": "Counts per level-3 grid of the domain and type in the window (or per 100 households: "
                       "measure=rate, where the grid file gives households for every grid), Queen contiguity, "
                       "999 permutations, Benjamini-Hochberg. Aggregates: every role; a village token is shown "
                       "its village's grids.",
        "parameters": params,
        "responses": {"200": _json(body), **_errors(400, 401)}}}}
def _evacuation(write: list) -> dict[str, Any]:
    """Evacuation (转移安置): a warning's roster, starting it, a household's steps."""
    warning_id = {"name": "warning_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    who = ("Counts by status and village for every reader (the wall, no token, another village's operator on a "
           "warning reaching their village); the households with names, phones and flags only for command and "
           "admin, the household's own village and its 包保 helper or backup (a responder token). Every read that "
           "shows people is logged. A warning that does not reach a village token's village is 404.")
    return {
        "/api/v1/warnings/{warning_id}/evacuation": {
            "get": {"tags": ["evacuation"], "summary": "a warning's 转移名单: progress for all, people as allowed",
                    "description": who + " Before the evacuation starts: the households it would hold, counted.",
                    "parameters": [warning_id],
                    "responses": {"200": _json(_ref("EvacuationOut")), **_errors(401, 404)}},
            "post": {"tags": ["evacuation"], "summary": "start the evacuation of a live warning (command, admin)",
                     "description": "The households inside the warning's radius and its affected grids, vulnerable "
                     "first, each pointed to the nearest shelter with room; logged on the warning. 409 when it "
                     "has started already or the warning is cleared.",
                     "security": write, "parameters": [warning_id],
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": _ref("EvacStartIn")}}},
                     "responses": {"201": _json(_ref("EvacuationOut"), "started"),
                                   **_errors(400, 401, 403, 404, 409, 413, 422)}},
        },
        "/api/v1/evacuation/households/{entry_id}/{move}": {"post": {
            "tags": ["evacuation"], "summary": "a household's step: notify 已通知, move 已转移, settle 已安置, "
            "refuse 拒绝转移, unreachable 无法联系",
            "description": "Moves: " + "; ".join(f"{m} (from {', '.join(sorted(froms))} to {to}"
                                                 f"{', a note required' if note else ''})"
                                                 for m, (froms, to, note) in EVAC_MOVES.items())
            + ". By command, the household's village or its helper; to anyone else the household is missing (404). "
            "Pass the row's `version` as `expected_version` (409 when it changed).",
            "security": write,
            "parameters": [{"name": "entry_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                           {"name": "move", "in": "path", "required": True, "schema": {"enum": list(EVAC_MOVES)}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("EvacMoveIn")}}},
            "responses": {"200": _json(_ref("EvacMovedOut")), **_errors(400, 401, 403, 404, 409, 413, 422)}}},
    }
