"""The field app ``/m``: grid officers and party members on a phone — my tasks, 接单, 办结, patrol reports.

Plain Flask, not Dash: server-rendered pages and one small script
(``static/field.js``) with a service worker (``/m/sw.js``) that keeps the
shell and the person's pages readable offline and an outbox that sends what
was done offline, in order, when the network returns.

- Sign-in: ``/m/login`` checks the password behind ``/login``'s throttle
  (`auth.attempt_sign_in`) and opens a device session
  (`township.accounts.devices`) whose token rides in a signed cookie
  (``township_device``, path ``/m``, HttpOnly, SameSite=Lax, 30 days). Every
  ``/m`` request checks it; ``/m/logout`` revokes it; an admin revokes it
  with ``python -m township devices``.
- Who: only accounts the policy lets use the field app
  (`township.domain.policy.may_use_field_app`: a responder acting as a handler).
- Writes: ``POST /m/api/cases/<id>/<move>`` (accept, start, resolve, return)
  and ``POST /m/api/reports``, JSON with an idempotency ``key``, and
  ``POST /m/api/cases/<id>/photos`` (multipart: ``file``, ``key``, ``purpose``:
  the photo pipeline of `township.loop.photos`, served back at ``/m/photos/<id>``); each runs
  through `township.loop.receipts.once`, so a replay answers the first answer.
  They are same-site requests with the cookie: `auth.surface` refuses cross-site ones.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, redirect, request, send_file, send_from_directory
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from api.photos import CACHE, upload_limit
from auth import attempt_sign_in
from field import evacpage, pages
from field.text import word
from township.accounts.devices import LIFETIME, check_device, open_device, revoke_device
from township.config import session_secret
from township.domain.actors import actor_label
from township.domain.isotime import parse_iso
from township.domain.policy import may_use_field_app
from township.domain.privacy import person_role, sees_personal, shown_name, shown_phone
from township.grids.model import GridSet
from township.loop.casefile import visible_case
from township.loop.evacroster import helper_rosters
from township.loop.evacuation import EVAC_MOVES, move_household_in
from township.loop.fieldwork import (
    FIELD_MOVES,
    Place,
    field_move,
    field_moves,
    my_tasks,
    needs_photo,
    patrol_report,
    takeable,
)
from township.loop.photos import PhotoRules, attach_photo, photo_file, photo_for_viewer, shown_photos
from township.loop.receipts import Answer, check_key, once
from township.loop.staff import get_handler
from township.loop.sweeps import case_trail
from township.loop.workflow import Actor, MoveRefused
from township.runtime.bootstrap import AppContext
from township.store.models import Handler, utcnow
from township.store.uow import UnitOfWork

__all__ = ["make_blueprint", "COOKIE"]

COOKIE = "township_device"
LANG_COOKIE = "m_lang"
STATIC = Path(__file__).resolve().parent / "static"
#: Paths of /m a phone reaches before signing in: the form, the shell, the manifest, the service worker.
OPEN = ("/m/login", "/m/static/", "/m/manifest.webmanifest", "/m/sw.js")
#: The account a queued request was made by (the page's ``data-owner``): another account's session does not send it.
OWNER_HEADER = "X-Field-Owner"
#: Largest JSON body of a move or report.
MAX_JSON = 64 * 1024


def _lang() -> pages.Lang:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")


def _error(status: int, field: str, message: str) -> Response:
    return _json({"errors": [{"index": None, "field": field, "message": message}]}, status)


def _place_name(gridset: GridSet, grid_id: str | None) -> str:
    if not grid_id or grid_id not in gridset:
        return "—"
    return str(gridset.props(grid_id)["name"])  # a grid's name says its village (小滩子村第1网格)


def _number(raw: Any, name: str, low: float, high: float) -> float | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not low <= raw <= high:
        raise ValueError(f"{name}: a number within {low}..{high}, got {raw!r}")
    return float(raw)


def _place(body: dict) -> Place:
    """Where and when, from the phone's body; ValueError naming the field."""
    at = body.get("at")
    when: datetime | None = None
    if at is not None:
        try:
            when = parse_iso(str(at))
        except ValueError:
            raise ValueError(f"at: an ISO 8601 time with its zone, got {at!r}") from None
    return Place(_number(body.get("lon"), "lon", -180, 180), _number(body.get("lat"), "lat", -90, 90),
                 _number(body.get("accuracy"), "accuracy", 0, 100_000), when)


def make_blueprint(app_ctx: AppContext) -> Blueprint:
    """The ``/m`` routes over ``app_ctx``; register it on the Dash app's Flask server."""
    bp = Blueprint("field", __name__)
    engine, gridset, settings = app_ctx.township.engine, app_ctx.township.gridset, app_ctx.settings
    signer = URLSafeSerializer(session_secret(settings), salt="field-device")
    photo_rules = PhotoRules.of(settings)

    def me() -> Actor | None:
        """The person of this phone's device session (``g.field_user``: its user id), or ``None``."""
        if "field_actor" not in g:
            g.field_actor, g.field_user, g.field_session = None, None, None
            try:
                token = signer.loads(request.cookies.get(COOKIE, ""))
            except BadSignature:
                token = None
            found = check_device(engine, token if isinstance(token, str) else None)
            if found is not None and may_use_field_app(found[1].role, found[1].handler_id):
                g.field_session, user = found
                g.field_actor, g.field_user = Actor.of_user(user), user.id
        return g.field_actor

    def handler_of(actor: Actor) -> Handler | None:
        with Session(engine) as s:
            return get_handler(s, actor.handler_id or "")

    @bp.before_request
    def _gate() -> Response | None:
        if request.path.startswith(OPEN):
            return None
        if me() is not None:
            owner = request.headers.get(OWNER_HEADER)
            if owner is None or owner == str(g.field_user):
                return None
            # Made on this phone by another account (the phone changed hands): kept there until they sign in.
            return _error(401, "(session)", "this was made by another account on this phone: it is sent when "
                          "they sign in again")
        if request.path.startswith("/m/api/"):
            return _error(401, "(session)", "sign in again at /m/login: this phone's session ended or was revoked")
        return redirect("/m/login")

    @bp.after_request
    def _private(resp: Response) -> Response:
        # Pages name people: no shared cache keeps them (the phone's service worker keeps its own copy).
        if not request.path.startswith(("/m/static/", "/m/photos/")) and \
                request.path not in ("/m/sw.js", "/m/manifest.webmanifest"):
            resp.headers["Cache-Control"] = "private, no-cache"
        return resp

    def html(text: str, status: int = 200) -> Response:
        return Response(text, status, mimetype="text/html")

    @bp.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Response:
        return _error(413, "file", f"the upload is over {upload_limit(photo_rules) // (1024 * 1024)} MB: send one "
                      f"photo of at most {photo_rules.max_bytes // (1024 * 1024)} MB per request")

    # -- sign-in -----------------------------------------------------------------------------------

    @bp.get("/m/login")
    def login_form():
        return html(pages.login_page("", "", _lang()))

    @bp.post("/m/login")
    def login():
        lang = _lang()
        username = request.form.get("username", "").strip()[:64]
        user, wait = attempt_sign_in(app_ctx, username, request.form.get("password", ""))
        if wait:
            resp = html(pages.login_page(word("throttled", lang).format(wait=wait), username, lang), 429)
            resp.headers["Retry-After"] = str(wait)
            return resp
        if user is None:
            return html(pages.login_page(word("wrong", lang), username, lang), 401)
        if not may_use_field_app(user.role, user.handler_id):
            return html(pages.login_page(word("not_field", lang), username, lang), 403)
        token = open_device(engine, user.id, request.headers.get("User-Agent", ""))
        resp = redirect("/m")
        resp.set_cookie(COOKIE, signer.dumps(token), max_age=int(LIFETIME.total_seconds()), path="/m",
                        httponly=True, samesite="Lax", secure=request.is_secure)
        return resp

    @bp.post("/m/logout")
    def logout():
        me()
        revoke_device(engine, g.field_session, g.field_user)
        resp = redirect("/m/login")
        resp.delete_cookie(COOKIE, path="/m")
        return resp

    # -- pages -------------------------------------------------------------------------------------

    @bp.get("/m")
    def tasks():
        actor, lang, now = me(), _lang(), utcnow()
        assert actor is not None  # the gate let only a signed-in phone through
        mine = [(c, _place_name(gridset, c.grid_id)) for c in my_tasks(engine, actor, now)]
        h = handler_of(actor)
        pool = [(c, _place_name(gridset, c.grid_id)) for c in takeable(engine, actor)] \
            if h is not None and h.kind == "party_member" else None
        waiting = sum(1 for _, r in helper_rosters(engine, gridset, actor, actor.name) for h in r.households
                      if h.status in ("pending", "notified"))
        return html(pages.task_list(actor.name, mine, pool, now, lang, str(g.field_user),
                                    evacpage.evacuation_link(waiting, lang)))

    @bp.get("/m/evacuation")
    def evacuation():
        actor, lang = me(), _lang()
        assert actor is not None
        return html(evacpage.evacuation_page(helper_rosters(engine, gridset, actor, actor.name), lang,
                                             str(g.field_user)))

    @bp.get("/m/case/<int:case_id>")
    def case(case_id: int):
        actor, lang = me(), _lang()
        assert actor is not None
        try:
            row = visible_case(engine, case_id, actor)
        except MoveRefused:
            return html(pages.shell(word("not_found", lang), pages.top_bar(word("not_found", lang), lang, True),
                                    lang, "missing", str(g.field_user)), 404)
        role = person_role(actor, row.village_id)
        events = case_trail(engine, case_id)
        shapes = [(gridset.props(row.grid_id)["name"], gridset.geometry(row.grid_id))] \
            if row.grid_id and row.grid_id in gridset else []
        photos = [p.id for p in shown_photos(engine, case_id, actor)]
        return html(pages.case_page(
            row, _place_name(gridset, row.grid_id), shown_name(row.reporter, role),
            shown_phone(row.reporter_phone, role),
            shown_name(row.handler, role), events, [actor_label(e.actor, role, lang) for e in events],
            sees_personal(role),
            field_moves(engine, case_id, actor), shapes, needs_photo(row, settings.field_photo_types),
            pages.photo_strip(photos, lang), utcnow(), lang, str(g.field_user)))

    @bp.get("/m/report")
    def report():
        actor, lang = me(), _lang()
        assert actor is not None
        h = handler_of(actor)
        village = h.village_id if h is not None else None
        grids = gridset.ids(level=3, parent=village) if village and village in gridset else []
        shapes = [(gridset.props(gid)["name"], gridset.geometry(gid)) for gid in grids]
        return html(pages.report_page(shapes, lang, str(g.field_user)))

    # -- the writes: JSON, each with an idempotency key --------------------------------------------

    def body_and_key() -> tuple[dict, str]:
        if request.mimetype != "application/json":
            raise ValueError(f"Content-Type must be application/json, got {request.mimetype or 'none'}")
        if (request.content_length or 0) > MAX_JSON:
            raise ValueError(f"the body is over {MAX_JSON // 1024} kB")
        try:
            body = json.loads(request.get_data(cache=False) or b"null")
        except ValueError as exc:
            raise ValueError(f"malformed JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return body, check_key(body.get("key"))

    def move_body(what: str) -> tuple[dict, str, int, str | None]:
        """A move's body, its key, ``expected_version`` (of ``what``) and text; ValueError names the field."""
        body, key = body_and_key()
        version = body.get("expected_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValueError(f"expected_version: the {what}'s version as the page showed it (an integer)")
        text = body.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError("text: words, or nothing")
        return body, key, version, text

    def answer(a: Answer) -> Response:
        return _json(a.body, a.status)

    @bp.post(f"/m/api/cases/<int:case_id>/<any({','.join(FIELD_MOVES)}):move>")
    def move(case_id: int, move: str):
        actor = me()
        assert actor is not None
        try:
            body, key, version, text = move_body("case")
            place = _place(body)
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            return _error(400, field if message else "(request)", message or str(exc))
        try:
            visible_case(engine, case_id, actor)
        except MoveRefused as exc:
            return _error(404, "(move)", exc.reason)
        return answer(once(engine, g.field_user, key, lambda uow: field_move(
            uow, case_id, move, actor, version, text, place, settings.sla, settings.field_photo_types)))

    @bp.post(f"/m/api/evacuation/<int:entry_id>/<any({','.join(EVAC_MOVES)}):move>")
    def evacuation_move(entry_id: int, move: str):
        actor = me()
        assert actor is not None
        try:
            body, key, version, text = move_body("household")
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            return _error(400, field if message else "(request)", message or str(exc))

        def step(uow: UnitOfWork) -> Answer:
            done = move_household_in(uow, entry_id, move, actor, expected_version=version, note=text or "")
            return Answer(200, {"id": done.entry.id, "status": done.entry.status, "version": done.entry.version,
                                "shelter_id": done.entry.shelter_id})

        return answer(once(engine, g.field_user, key, step))

    @bp.post("/m/api/cases/<int:case_id>/photos")
    def photo_post(case_id: int):
        actor = me()
        assert actor is not None
        request.max_content_length = upload_limit(photo_rules)
        if request.mimetype != "multipart/form-data":
            return _error(400, "file", "send multipart/form-data with the photo in the field 'file'")
        files = request.files.getlist("file")
        try:
            key = check_key(request.form.get("key"))
        except ValueError as exc:
            return _error(400, "key", str(exc).partition(": ")[2])
        if len(files) != 1:
            return _error(400, "file", f"send one photo per request (with its own key), got {len(files)}")
        data, purpose = files[0].read(), request.form.get("purpose") or "report"

        def attach(uow: UnitOfWork) -> Answer:
            added = attach_photo(uow, photo_rules, case_id, data, actor, purpose)
            gps = {"lon": added.gps[0], "lat": added.gps[1]} if added.gps else None
            return Answer(201, {"id": added.photo.id, "case_id": case_id, "url": f"/m/photos/{added.photo.id}",
                                "thumb_url": f"/m/photos/{added.photo.id}/thumb", "gps": gps})

        return answer(once(engine, g.field_user, key, attach))

    @bp.get("/m/photos/<int:photo_id>")
    @bp.get("/m/photos/<int:photo_id>/thumb", endpoint="photo_thumb")
    def photo_get(photo_id: int):
        actor = me()
        assert actor is not None
        photo = photo_for_viewer(engine, photo_id, actor)
        path = photo_file(photo_rules, photo, request.path.endswith("/thumb")) if photo is not None else None
        if photo is None or path is None or not path.is_file():
            return _error(404, "photo_id", f"photo {photo_id} does not exist")
        resp = send_file(path, mimetype=photo.media_type, max_age=0)
        resp.headers["Cache-Control"] = CACHE
        return resp

    @bp.post("/m/api/reports")
    def report_post():
        actor = me()
        assert actor is not None
        try:
            body, key = body_and_key()
            place = _place(body)
            fields = {k: body.get(k) for k in ("type", "domain", "description")}
            for k, v in fields.items():
                if not isinstance(v, str):
                    raise ValueError(f"{k}: required, as text")
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            return _error(400, field if message else "(request)", message or str(exc))
        return answer(once(engine, g.field_user, key, lambda uow: patrol_report(
            uow, gridset, actor, fields["type"], fields["domain"], fields["description"], place, settings.sla)))

    # -- the PWA: manifest, service worker, static shell ---------------------------------------------

    @bp.get("/m/manifest.webmanifest")
    def manifest():
        doc = {"name": "大路镇智慧乡镇 · 现场端", "short_name": "现场端", "lang": "zh-CN", "start_url": "/m",
               "scope": "/m", "display": "standalone", "background_color": "#ffffff", "theme_color": "#0d3b66",
               "icons": [{"src": f"/m/static/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png"}
                         for n in (192, 512)]}
        return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/manifest+json")

    @bp.get("/m/sw.js")
    def service_worker():
        resp = send_from_directory(STATIC, "sw.js", mimetype="text/javascript", max_age=0)
        # Its scope is /m itself (the task list), above the script's folder.
        resp.headers["Service-Worker-Allowed"] = "/m"
        return resp

    @bp.get("/m/static/<path:filename>")
    def static(filename: str):
        return send_from_directory(STATIC, filename, max_age=0)

    @bp.route("/m/<path:rest>", methods=["GET", "POST"])
    def not_found(rest: str):
        # Without it Dash's catch-all page would answer: /m is not the dashboard.
        return _error(404, "(request)", f"no such page: /m/{rest}")

    return bp
