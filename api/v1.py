"""``/api/v1``: cases, warnings (JSON and CAP 1.2) and the data version."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, request

from township.bootstrap import AppContext
from township.cap import CapFormatError, alert_element, alert_xml, alerts_xml, parse_cap
from township.exchange import (
    Viewer,
    apply_cap,
    area_desc,
    case_out,
    case_page,
    get_case,
    get_warnings,
    warning_out,
    written_out,
)
from township.filters import WINDOWS, FilterState, from_query
from township.ingest import CaseIn, FieldError, WarningIn, parse_items, write_cases, write_warnings
from township.store import data_version, utcnow
from township.vocab import CASE_STATUSES, CASE_TYPES, DOMAINS, LIVE_WARNING_STATUSES, WARNING_STATUSES

from .http import GEOJSON, MAX_ID, ApiError, check_village, int_arg, read_json, respond, viewer, village_name

#: Query parameters of GET /cases that are not dashboard filters.
PAGING = ("limit", "offset", "since_version", "format")
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
        written = write_cases(township.engine, gridset, items, actor=f"api:{who.name}")
        return respond(written_out(written), _written_status(written))

    @bp.get("/api/v1/cases")
    def cases_get():
        who = viewer(ctx)
        state = _case_filter(ctx, who)
        limit = int_arg("limit", 100, 1, 1000)
        offset = int_arg("offset", 0, 0)
        since = int_arg("since_version", None, 0)
        now = utcnow()
        page = case_page(township, state, now, since, limit, offset)
        items = [case_out(r, who, now) for r in page.rows]
        head = {"version": page.version, "total": page.total, "limit": limit, "offset": offset}
        if _wants_geojson():
            return respond(_feature_collection(items, head), fmt="geojson")
        return respond({**head, "items": items})

    @bp.get("/api/v1/cases/<int:case_id>")
    def case_get(case_id: int):
        who = viewer(ctx)
        row = get_case(township.engine, case_id) if case_id <= MAX_ID else None
        if row is None:
            raise ApiError(404, [f"no case {case_id}"])
        if who.role == "village" and row.village_id != who.village_id:
            raise ApiError(403, [f"case {case_id} is not in {village_name(gridset, who.village_id)}"])
        return respond(case_out(row, who, utcnow()))

    @bp.post("/api/v1/warnings")
    def warnings_post():
        who = viewer(ctx, write=True)
        items = parse_items(WarningIn, read_json())
        check_village(gridset, who, [w.lon for w in items], [w.lat for w in items])
        written = write_warnings(township.engine, gridset, items)
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
            raise ApiError(400, [f"Content-Type must be one of {', '.join(CAP_TYPES)}, got {request.mimetype or 'none'}"])
        try:
            msg = parse_cap(request.get_data(cache=False))
        except CapFormatError as exc:
            raise ApiError(400, [FieldError(None, "alert", str(exc))]) from None
        if msg.warning is not None:
            check_village(gridset, who, [msg.warning.lon], [msg.warning.lat])
        outcome = apply_cap(township.engine, gridset, msg)
        body = {"msgType": msg.msg_type, "identifier": msg.identifier, "written": written_out(outcome.written),
                "notes": outcome.notes}
        return respond(body, _written_status(outcome.written))

    @bp.get("/api/v1/warnings/cap")
    def warnings_cap_get():
        alerts = [alert_element(w, CAP_SENDER, area_desc(gridset, g)) for w, g in _warnings(viewer(ctx))]
        return respond(alerts_xml(alerts))

    @bp.get("/api/v1/warnings/<int:warning_id>/cap")
    def warning_cap_get(warning_id: int):
        who = viewer(ctx)
        village = who.village_id if who.role == "village" else None
        found = get_warnings(township.engine, gridset, None, village, warning_id) if warning_id <= MAX_ID else []
        if not found:
            raise ApiError(404, [f"no warning {warning_id}"])
        w, g = found[0]
        return respond(alert_xml(alert_element(w, CAP_SENDER, area_desc(gridset, g))),
                       mimetype="application/cap+xml; charset=utf-8")
