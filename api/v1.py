"""``/api/v1``: cases and their closed loop (moves, audit trail, suggestions, open orders),
warnings (JSON and CAP 1.2) and the data version."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import Blueprint, request
from pydantic import BaseModel

from township.domain.filters import WINDOWS, FilterState, from_query
from township.domain.isotime import iso, parse_iso
from township.domain.vocab import CASE_STATUSES, CASE_TYPES, DOMAINS, LIVE_WARNING_STATUSES, WARNING_STATUSES
from township.formats.cap import CapFormatError, parse_cap
from township.formats.cap_out import CAP_MIMETYPE, alert_element, alert_xml, feed_xml, in_feed
from township.formats.cap_store import apply_cap
from township.formats.ingest import CaseIn, FieldError, WarningIn, parse_items, write_cases, write_warnings
from township.formats.schemas import written_out
from township.loop.casefile import MovedOut, MoveIn, event_out, handler_choices, handler_village, suggestion_out
from township.loop.sweeps import case_trail, open_orders
from township.loop.warnings import (
    WARNING_MOVES,
    TaskIn,
    WarningMovedOut,
    WarningMoveIn,
    allowed_warning_moves,
    dispatch_task,
    move_warning,
    reached_villages,
    visible_warning,
    warning_event_out,
    warning_events,
)
from township.loop.workflow import MOVES, MoveRefused, allowed_moves, apply_move
from township.read.api import Viewer, area_desc, case_out, case_page, get_case, get_warnings, warning_out
from township.read.playback import moment_problem
from township.read.resident import follow_counts
from township.runtime.bootstrap import AppContext
from township.store.models import data_version, utcnow

from .http import (
    GEOJSON,
    MAX_ID,
    ApiError,
    acting_viewer,
    actor_of,
    case_in_scope,
    check_radius,
    check_village,
    int_arg,
    read_json,
    refused,
    respond,
    viewer,
    village_name,
)

#: Query parameters of GET /cases that are not dashboard filters.
PAGING = ("limit", "offset", "since_version", "format", "as_of")
#: Filters of the dashboard that say something about cases (its map-only ones are unknown here).
CASE_FILTERS = ("village", "domain", "status", "type", "window")
#: Who sends CAP: the sender name of our own alerts.
CAP_SENDER = "dalu-township"
CAP_TYPES = ("application/cap+xml", "application/xml", "text/xml")


def _written_status(written: list) -> int:
    return 201 if any(w.created for w in written) else 200


def _feature_collection(items: list[dict], extra: dict) -> dict:
    """Items with lon/lat as RFC 7946 point features (no point: ``geometry`` null)."""
    features = []
    for item in items:
        props = {k: v for k, v in item.items() if k not in ("lon", "lat")}
        geometry = None if item["lon"] is None else {"type": "Point", "coordinates": [item["lon"], item["lat"]]}
        features.append({"type": "Feature", "id": item["id"], "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", **extra, "features": features}


def _wants_geojson() -> bool:
    """GeoJSON when ``format=geojson`` or ``Accept: application/geo+json`` asks for it."""
    chosen = request.args.get("format")
    if chosen not in (None, "json", "geojson"):
        raise ApiError(400, [FieldError(None, "format", f"{chosen!r} unknown; allowed: json, geojson")])
    if chosen:
        return chosen == "geojson"
    return request.accept_mimetypes.best_match(["application/json", GEOJSON]) == GEOJSON


def _case_filter(ctx: AppContext, who: Viewer) -> FilterState:
    """The dashboard's filter from the query string; unknown names and values are 400, not ignored.

    The dashboard drops an unknown value with a notice; an integrator that
    misspells a filter would silently get *more* rows, so here it is refused.
    """
    gridset = ctx.township.gridset
    unknown = [k for k in request.args if k not in CASE_FILTERS + PAGING]
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k in CASE_FILTERS]
    if "since_version" in request.args and "window" not in request.args:
        pairs.append(("window", "all"))  # "what changed" must not hide old cases that changed
    state, notices = from_query(urlencode(pairs), set(gridset.ids(level=2)), set(gridset.ids(level=3)))
    allowed = {"village": gridset.ids(level=2), "domain": DOMAINS, "status": CASE_STATUSES,
               "type": CASE_TYPES, "window": WINDOWS}
    errors = [FieldError(None, k, f"unknown parameter; allowed: {', '.join(CASE_FILTERS + PAGING)}")
              for k in unknown]
    for notice in notices:
        name, _, value = notice.partition("=")
        errors.append(FieldError(None, name, f"{value!r} unknown; allowed: {', '.join(allowed[name])}"))
    if errors:
        raise ApiError(400, errors)
    if who.role == "village":
        if state.village and state.village != [who.village_id]:
            raise ApiError(403, [f"this token may only read {village_name(gridset, who.village_id)}"])
        state = state.model_copy(update={"village": [who.village_id]})
    return state


def _as_of(ctx: AppContext, since: int | None) -> datetime | None:
    """The ``as_of`` moment asked for (naive UTC), or ``None``; 400 naming it and the rule it breaks."""
    raw = request.args.get("as_of")
    if raw is None:
        return None
    if since is not None:
        raise ApiError(400, [FieldError(None, "as_of", "cannot be combined with since_version, which lists "
                                        "the changes up to now; ask for one or the other")])
    try:
        moment = parse_iso(raw) if raw.strip() else None
    except (ValueError, OverflowError) as e:  # overflow: a zone that moves it off the calendar (year 1)
        raise ApiError(400, [FieldError(None, "as_of", str(e) if isinstance(e, ValueError) else
                                        f"{raw!r} lies outside the years 1 to 9999 in UTC")]) from None
    if moment is None:
        raise ApiError(400, [FieldError(None, "as_of", "is empty; give an ISO 8601 time "
                                        "(e.g. 2024-04-09T10:00:00+08:00)")])
    problem = moment_problem(moment, ctx.township.history().span(), utcnow())
    if problem:
        raise ApiError(400, [FieldError(None, "as_of", problem)])
    return moment


def register(bp: Blueprint, ctx: AppContext) -> None:
    """Add the ``/api/v1`` routes to ``bp``."""
    township = ctx.township
    gridset = township.gridset

    @bp.get("/api/v1/version")
    def version():
        return respond({"version": data_version(township.engine)})

    @bp.post("/api/v1/cases")
    def cases_post():
        who = viewer(ctx, write=True)
        items = parse_items(CaseIn, read_json())
        check_village(gridset, who, [c.lon for c in items], [c.lat for c in items])
        written = write_cases(township.engine, gridset, items, actor=f"api:{who.name}", sla=ctx.settings.sla,
                              writer=who)
        return respond(written_out(written), _written_status(written))

    @bp.get("/api/v1/cases")
    def cases_get():
        who = viewer(ctx)
        state = _case_filter(ctx, who)
        limit = int_arg("limit", 100, 1, 1000)
        offset = int_arg("offset", 0, 0)
        since = int_arg("since_version", None, 0)
        as_of = _as_of(ctx, since)
        now = as_of or utcnow()
        page = case_page(township, state, now, since, limit, offset, as_of)
        follows = follow_counts(township.engine, [r.id for r in page.rows])
        items = [case_out(r, who, now, follows[r.id], page.at.get(r.id)) for r in page.rows]
        head = {"version": page.version, "total": page.total, "limit": limit, "offset": offset,
                **({"as_of": iso(as_of)} if as_of else {})}
        if _wants_geojson():
            return respond(_feature_collection(items, head), fmt="geojson")
        return respond({**head, "items": items})

    @bp.get("/api/v1/cases/<int:case_id>")
    def case_get(case_id: int):
        who = viewer(ctx)
        return respond(case_out(case_in_scope(ctx, who, case_id), who, utcnow(),
                                follow_counts(township.engine, [case_id])[case_id]))

    # -- the closed loop: moves, audit trail, suggestions, open orders --------------------------

    # The moves are spelt in the rule, so another word there is no route at all: 404, or 405 where a GET
    # route has that name (…/events), and OPTIONS lists only what exists.
    @bp.post(f"/api/v1/cases/<int:case_id>/<any({','.join(MOVES)}):move>")
    def case_move(case_id: int, move: str):
        who = acting_viewer(ctx)
        case_in_scope(ctx, who, case_id)  # another village's case is 404 before anything else is said
        body = _one_body(MoveIn)
        actor = actor_of(who)
        try:
            moved = apply_move(township.engine, case_id, move, actor, expected_version=body.expected_version,
                               sla=ctx.settings.sla, **body.params())
        except MoveRefused as exc:
            raise refused(exc, "expected_version" if exc.code == "stale" else move) from None
        row = get_case(township.engine, case_id)
        return respond(MovedOut(event=event_out(moved, who.role, actor.name), case=case_out(row, who, utcnow()),
                                moves=allowed_moves(township.engine, case_id, actor)).model_dump())

    @bp.get("/api/v1/cases/<int:case_id>/events")
    def case_events(case_id: int):
        who = viewer(ctx)
        case_in_scope(ctx, who, case_id)
        items = [event_out(e, who.role) for e in case_trail(township.engine, case_id)]
        return respond({"case_id": case_id, "items": items})

    @bp.get("/api/v1/cases/<int:case_id>/suggestions")
    def case_suggestions(case_id: int):
        who = viewer(ctx)
        row = case_in_scope(ctx, who, case_id)
        choices = handler_choices(township.engine, gridset, row, actor_of(who), "dispatch")
        return respond({"case_id": case_id, "items": [suggestion_out(h, who.role) for h in choices]})

    @bp.get("/api/v1/orders")
    def orders_get():
        who = viewer(ctx)
        unknown = [k for k in request.args if k != "village"]
        if unknown:
            raise ApiError(400, [FieldError(None, k, "unknown parameter; allowed: village") for k in unknown])
        village = request.args.get("village") or (
            who.village_id if who.role == "village" else handler_village(township.engine, who.handler_id))
        if not village:
            raise ApiError(400, [FieldError(None, "village", "required: the village whose open orders to list")])
        if village not in gridset.ids(level=2):
            raise ApiError(400, [FieldError(None, "village", f"{village!r} unknown; allowed: "
                                            f"{', '.join(gridset.ids(level=2))}")])
        if who.role == "village" and village != who.village_id:
            raise ApiError(403, [f"this token may only read {village_name(gridset, who.village_id)}"])
        now = utcnow()
        items = [case_out(r, who, now) for r in open_orders(township.engine, village)]
        return respond({"village_id": village, "total": len(items), "items": items})

    _register_warning_moves(bp, ctx)

    @bp.post("/api/v1/warnings")
    def warnings_post():
        who = viewer(ctx, write=True)
        items = parse_items(WarningIn, read_json())
        check_village(gridset, who, [w.lon for w in items], [w.lat for w in items])
        check_radius(ctx, who, [w.radius_m for w in items])
        written = write_warnings(township.engine, gridset, items, writer=who)
        return respond(written_out(written), _written_status(written))

    def _statuses() -> set[str] | None:
        raw = request.args.get("status", "")
        if raw == "all":
            return None
        chosen = {s for s in raw.split(",") if s} or set(LIVE_WARNING_STATUSES)
        bad = sorted(chosen - set(WARNING_STATUSES))
        if bad:
            raise ApiError(400, [FieldError(None, "status", f"{', '.join(bad)} unknown; allowed: all, "
                                            f"{', '.join(WARNING_STATUSES)}")])
        return chosen

    def _warnings(who: Viewer):
        village = who.village_id if who.role == "village" else None
        return get_warnings(township.engine, gridset, _statuses(), village)

    @bp.get("/api/v1/warnings")
    def warnings_get():
        items = [warning_out(w, g) for w, g in _warnings(viewer(ctx))]
        if _wants_geojson():
            return respond(_feature_collection(items, {"total": len(items)}), fmt="geojson")
        return respond({"total": len(items), "items": items})

    @bp.post("/api/v1/warnings/cap")
    def warnings_cap_post():
        who = viewer(ctx, write=True)
        if request.mimetype not in CAP_TYPES:
            got = request.mimetype or "none"
            raise ApiError(400, [f"Content-Type must be one of {', '.join(CAP_TYPES)}, got {got}"])
        try:
            msg = parse_cap(request.get_data(cache=False))
        except CapFormatError as exc:
            raise ApiError(400, [FieldError(None, "alert", str(exc))]) from None
        if msg.warning is not None:
            check_village(gridset, who, [msg.warning.lon], [msg.warning.lat])
            check_radius(ctx, who, [msg.warning.radius_m], "info/area")
        outcome = apply_cap(township.engine, gridset, msg, writer=who)
        body = {"msgType": msg.msg_type, "identifier": msg.identifier, "written": written_out(outcome.written),
                "notes": outcome.notes}
        return respond(body, _written_status(outcome.written))

    @bp.get("/api/v1/warnings/cap")
    def warnings_cap_get():
        """An Atom feed linking each warning's CAP document; by default the live ones and recent Cancels."""
        who = viewer(ctx)
        now = utcnow()
        if "status" in request.args:
            rows = [w for w, _ in _warnings(who)]
        else:
            village = who.village_id if who.role == "village" else None
            rows = [w for w, _ in get_warnings(township.engine, gridset, None, village) if in_feed(w, now)]
        feed = feed_xml(rows, CAP_SENDER, request.base_url,
                        lambda wid: f"{request.url_root}api/v1/warnings/{wid}/cap", now)
        return respond(feed, mimetype="application/atom+xml; charset=utf-8")

    @bp.get("/api/v1/warnings/<int:warning_id>/cap")
    def warning_cap_get(warning_id: int):
        who = viewer(ctx)
        village = who.village_id if who.role == "village" else None
        found = get_warnings(township.engine, gridset, None, village, warning_id) if warning_id <= MAX_ID else []
        if not found:
            raise ApiError(404, [f"no warning {warning_id}"])
        w, g = found[0]
        return respond(alert_xml(alert_element(w, CAP_SENDER, area_desc(gridset, g))),
                       mimetype=f"{CAP_MIMETYPE}; charset=utf-8")


def _one_body(model: type[BaseModel]):
    """The JSON body of a move: exactly one object, validated by ``model`` (422 naming every bad field)."""
    items = read_json()
    if len(items) != 1:
        raise ApiError(400, ["the body must be one JSON object"])
    return parse_items(model, items)[0]


def _register_warning_moves(bp: Blueprint, ctx: AppContext) -> None:
    """The warning card's moves over HTTP: acknowledge, handle, clear, and dispatching a task.

    The same use cases as the card (`township.loop.warnings`), so the same
    rules: who may act, from which status, and ``expected_version`` (409 when
    the warning changed since it was read; nothing is written).
    """
    township = ctx.township
    gridset = township.gridset

    def in_scope(who: Viewer, warning_id: int) -> None:
        # A warning that does not reach a village token's village is 404, as a missing one, before its body is read.
        try:
            if warning_id > MAX_ID:
                raise MoveRefused(f"warning {warning_id} does not exist", "not_found")
            visible_warning(township.engine, gridset, warning_id, actor_of(who))
        except MoveRefused as exc:
            raise refused(exc) from None

    def moved(who: Viewer, warning_id: int, event, case_id: int | None = None):
        [(row, grids)] = get_warnings(township.engine, gridset, None, None, warning_id)
        moves = allowed_warning_moves(row.status, actor_of(who), reached_villages(gridset, row.village_id, grids))
        return respond(WarningMovedOut(event=warning_event_out(event, who.role), warning=warning_out(row, grids),
                                       moves=moves, case_id=case_id).model_dump())

    @bp.post("/api/v1/warnings/<int:warning_id>/tasks")
    def warning_task(warning_id: int):
        who = acting_viewer(ctx)
        in_scope(who, warning_id)
        body = _one_body(TaskIn)
        try:
            case_id = dispatch_task(township.engine, gridset, warning_id, body.handler, actor_of(who),
                                    expected_version=body.expected_version, note=body.note, sla=ctx.settings.sla)
        except MoveRefused as exc:
            raise refused(exc, "expected_version" if exc.code == "stale" else "handler") from None
        # The log record dispatch_task wrote names the new case (任务 #<id> …).
        [event] = [e for e in warning_events(township.engine, warning_id)
                   if e.action == "dispatch" and e.note.startswith(f"任务 #{case_id} ")]
        return moved(who, warning_id, event, case_id)

    @bp.post(f"/api/v1/warnings/<int:warning_id>/<any({','.join(WARNING_MOVES)}):move>")
    def warning_move(warning_id: int, move: str):
        who = acting_viewer(ctx)
        in_scope(who, warning_id)
        body = _one_body(WarningMoveIn)
        try:
            event = move_warning(township.engine, gridset, warning_id, move, actor_of(who),
                                 expected_version=body.expected_version, note=body.note)
        except MoveRefused as exc:
            raise refused(exc, "expected_version" if exc.code == "stale" else move) from None
        return moved(who, warning_id, event)
