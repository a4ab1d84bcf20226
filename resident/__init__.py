"""The residents' routes (群众点单): ``/report``, ``/resident/…`` and ``/track/<code>``, with no sign-in.

- ``GET /report``: the form (`resident.pages.report_page`) with a fresh signed form token.
- ``POST /report``: the proofs (`township.formats.citizen.proof_refusal`), the
  throttle per client address and per phone (429 with ``Retry-After``; the
  limits are configuration, ``REPORT_*``), the fields, then the use case
  (`township.loop.resident.file_report`): a page with the case number and the
  tracking link. Every refusal says why, and gives the form back as it was filled.
- ``GET /resident/nearby``: open cases of the same kind within 250 m (JSON), as the public may see them.
- ``POST /resident/follow``: 关注 a case instead (same proofs and throttle): a tracking link of one's own.
- ``GET /resident/app.js``: the page's one script.
- ``GET /track/<code>``: the tracking page; ``POST`` it: the 回访 answer after 办结.

These paths pass the sign-in gate (`auth.OPEN_PREFIXES`, `auth.OPEN_PATHS`); a
POST from another site is refused by `auth.surface` as every other one is.
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from flask import Blueprint, Response, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from api.photos import upload_limit
from layers.text import t
from resident import pages
from township.accounts.throttle import Limit, address_key, record_failure, retry_after
from township.config import session_secret
from township.domain.vocab import CASE_STATUSES, RESIDENT_CATEGORIES, Lang, label
from township.formats.citizen import ResidentReport, clean_phone, issue_token, proof_refusal
from township.formats.ingest import validation_errors
from township.formats.photos import PhotoRefused
from township.loop.photos import PhotoRules
from township.loop.resident import ResidentRefused, Tracked, answer_revisit, file_report, follow
from township.read.resident import nearby_open, track_view
from township.runtime.bootstrap import AppContext
from township.store.models import ResidentHit
from township.store.uow import UnitOfWork

__all__ = ["make_blueprint"]

log = logging.getLogger(__name__)

SCRIPT = Path(__file__).resolve().parent / "static" / "app.js"
HTML = "text/html; charset=utf-8"
#: The fields of the form that refill it after a refusal.
FORM_FIELDS = ("category", "description", "lon", "lat", "name", "phone")


def _lang() -> Lang:
    return "en" if request.args.get("lang") == "en" else "zh"


def _html(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # no-store: a tracking code is in these pages, and a form token must be fresh.
    return Response(text, status, {"Cache-Control": "no-store", **(headers or {})}, content_type=HTML)


def phone_key(phone: str) -> str:
    """The resident throttle's key of a phone number: its SHA-256, so that the throttle's table holds no phone."""
    return "phone:" + hashlib.sha256(phone.encode("utf-8")).hexdigest()


def make_blueprint(app_ctx: AppContext) -> Blueprint:
    """The residents' routes on ``app_ctx``'s store and grids."""
    bp = Blueprint("resident", __name__)
    tw, settings = app_ctx.township, app_ctx.settings
    secret = session_secret(settings)
    rules = PhotoRules.of(settings)
    made: dict[str, str] = {}  # the map and the script, made on first use

    def svg() -> str:
        if "svg" not in made:
            made["svg"] = pages.town_svg(tw.gridset)
        return made["svg"]

    def form(lang: Lang, status: int = 200, error: str = "", values: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> Response:
        page = pages.report_page(svg(), issue_token(secret, time.time()), settings.report_pow_bits, lang,
                                 rules.per_request, values=values, error=error)
        return _html(page, status, headers)

    def limits(phone: str | None) -> list[Limit]:
        out = [Limit(address_key(request.remote_addr), settings.report_address_limit, settings.report_window_s)]
        if phone:
            out.append(Limit(phone_key(phone), settings.report_phone_limit, settings.report_window_s))
        return out

    def guarded(lang: Lang, phone: str | None, values: dict[str, str]) -> Response | None:
        """The proofs and the throttle: a refusal page, or ``None`` to go on."""
        f = request.form
        why = proof_refusal(secret, f.get("form_token"), f.get("pow"), f.get("website"), time.time(),
                            min_age_s=settings.report_min_age_s, bits=settings.report_pow_bits)
        if why:
            log.warning("resident form refused from %s: %s", request.remote_addr, why)
            return form(lang, 400, why, values)
        wait = retry_after(tw.engine, limits(phone), table=ResidentHit)
        if wait:
            log.warning("resident form throttled from %s, %d s to wait", request.remote_addr, wait)
            return form(lang, 429, f"提交过于频繁,请 {wait} 秒后再试 · too many reports from this address or "
                        f"phone: try again in {wait} s", values, {"Retry-After": str(wait)})
        return None

    def counted(phone: str | None, done: Tracked, lang: Lang, followed: bool) -> Response:
        record_failure(tw.engine, [lim.key for lim in limits(phone)], keep_s=settings.report_window_s,
                       table=ResidentHit)
        return _html(pages.tracked_page(done.case_id, done.code, lang, followed), 201)

    @bp.get("/report")
    def report_form() -> Response:
        return form(_lang())

    @bp.post("/report")
    def report_send() -> Response:
        lang = _lang()
        request.max_content_length = upload_limit(rules)  # the photos: bigger than a form, not unbounded
        try:
            values = {k: request.form.get(k, "") for k in FORM_FIELDS}
            photos = [data for f in request.files.getlist("photo") if (data := f.read())]
        except RequestEntityTooLarge:
            return form(lang, 413, f"照片太大,每张最多 {rules.max_bytes // 2**20} MB · the photos (field: photo) are "
                        f"too large: at most {rules.per_request} of {rules.max_bytes // 2**20} MB each")
        phone = values["phone"].replace(" ", "") or None
        refused = guarded(lang, phone, values)
        if refused is not None:
            return refused
        if not values["lon"] or not values["lat"]:
            return form(lang, 422, "请先选择位置:点“使用我的位置”或在地图上点选 · pick the place first "
                        "(fields lon, lat): use your position or tap the map", values)
        try:
            report = ResidentReport.model_validate({k: v for k, v in values.items() if v != ""})
        except ValidationError as err:
            text = "; ".join(f"{e.field}: {e.message}" for e in validation_errors(err))
            return form(lang, 422, f"请检查填写的内容 · please check: {text}", values)
        try:
            with UnitOfWork(tw.engine) as uow:
                done = file_report(uow, tw.gridset, report, sla=settings.sla, photos=photos, rules=rules)
                uow.commit()
        except ResidentRefused as exc:
            return form(lang, exc.status, exc.reason, values)
        except PhotoRefused as exc:
            which = f"第 {exc.index + 1} 张照片" if exc.index is not None else "照片"
            return form(lang, 413 if exc.code == "size" else 422, f"{which}未能接收,请重新选择照片 · photo: "
                        f"{exc.message} (nothing was sent: choose the photos again)", values)
        return counted(report.phone, done, lang, followed=False)

    @bp.get("/resident/nearby")
    def nearby() -> Response:
        lang = _lang()
        category = request.args.get("category", "")
        try:
            lon, lat = float(request.args.get("lon", "")), float(request.args.get("lat", ""))
        except ValueError:
            lon = lat = float("nan")
        if category not in RESIDENT_CATEGORIES or not (-180 <= lon <= 180 and -90 <= lat <= 90):
            refusal = jsonify(error=f"category must be one of {', '.join(RESIDENT_CATEGORIES)}; lon and lat "
                              "numbers in range")
            refusal.status_code = 400
            return refusal
        found = nearby_open(tw.engine, category, lon, lat)
        return jsonify(cases=[{"id": n.id, "title": n.title, "status": label(CASE_STATUSES, n.status, lang),
                               "distance_m": round(n.distance_m, 1), "follows": n.follows} for n in found])

    @bp.post("/resident/follow")
    def follow_case() -> Response:
        lang = _lang()
        phone = request.form.get("phone", "").replace(" ", "") or None
        refused = guarded(lang, phone, {"phone": phone or ""})
        if refused is not None:
            return refused
        case_text = request.form.get("case_id", "")
        try:
            phone = clean_phone(phone)
        except ValueError as err:
            return form(lang, 422, f"手机号格式不对 · phone: {err}", {"phone": phone or ""})
        if not case_text.isdigit() or len(case_text) > 9:
            return form(lang, 422, f"请检查:case_id 须为事件编号 · case_id must be a case number, not {case_text!r}",
                        {"phone": phone or ""})
        case_id = int(case_text)
        try:
            with UnitOfWork(tw.engine) as uow:
                done = follow(uow, case_id, phone)
                uow.commit()
        except ResidentRefused as exc:
            return _html(pages.message_page("res_refused", exc.reason, lang), exc.status)
        return counted(phone, done, lang, followed=True)

    @bp.get("/resident/app.js")
    def script() -> Response:
        if "js" not in made:
            made["js"] = SCRIPT.read_text(encoding="utf-8")
        return Response(made["js"], content_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    def tracking(code: str, lang: Lang, status: int = 200, reopened: bool = False, error: str = "") -> Response:
        view = track_view(tw.engine, code)
        if view is None:
            return _html(pages.message_page("res_refused", t("res_not_found", lang), lang), 404)
        gs = tw.gridset
        place = gs.props(view.village_id)["name"] if view.village_id and view.village_id in gs else ""
        return _html(pages.track_page(view, place, code, lang, reopened=reopened, error=error), status)

    @bp.get("/track/<code>")
    def track(code: str) -> Response:
        return tracking(code, _lang())

    @bp.post("/track/<code>")
    def revisit(code: str) -> Response:
        lang = _lang()
        answer = request.form.get("answer")
        if answer not in ("yes", "no"):
            return tracking(code, lang, 422, error="请选择“满意”或“不满意” · answer must be yes (满意) or no (不满意)")
        try:
            with UnitOfWork(tw.engine) as uow:
                done = answer_revisit(uow, code, answer == "yes", request.form.get("comment", ""),
                                      reopen_days=settings.revisit_reopen_days, sla=settings.sla)
                uow.commit()
        except ResidentRefused as exc:
            if exc.status == 404:
                return _html(pages.message_page("res_refused", exc.reason, lang), 404)
            return tracking(code, lang, exc.status, error=exc.reason)
        return tracking(code, lang, reopened=done.reopened)

    return bp
