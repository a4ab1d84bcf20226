"""Case photos over HTTP: upload (multipart), list, and the photo bytes for viewers who may see the case.

- ``POST /api/v1/cases/{id}/photos``: a token (as every API write); one or
  several ``file`` parts, and ``purpose`` (report, resolve, progress). 201 with
  the photo (one file) or a list (several). Who may add is who may see the
  case's photos (`township.domain.policy.may_see_photos`); another village's
  case, and the wall, get 404 as for a missing case.
- ``GET /api/v1/cases/{id}/photos``: the list, same rule.
- ``GET /api/v1/photos/{id}`` and ``…/thumb``: the bytes, to a token's viewer or
  else to whoever is signed in (the dashboard's ``<img>`` sends the session
  cookie), ``Cache-Control: private``. Everyone else gets 404.

The routes are thin: `township.loop.photos` runs the pipeline, keeps the
files, writes the rows and answers who may see what.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from auth import current_viewer
from township.formats.ingest import FieldError
from township.formats.photos import PhotoRefused
from township.loop.photos import (
    PhotoRules,
    attach_photos,
    attached_out,
    check_may_add,
    list_photos,
    photo_file,
    photo_for_viewer,
    photo_out,
    prepare_photos,
)
from township.loop.workflow import MoveRefused
from township.runtime.bootstrap import AppContext
from township.store.uow import run_in_unit

from .http import ApiError, acting_viewer, actor_of, refused, respond, viewer

log = logging.getLogger(__name__)

#: Form fields an upload may carry.
FIELDS = ("file", "purpose")
#: HTTP status of each kind of refused file (`township.formats.photos.PhotoRefused.code`).
REFUSED_STATUS = {"size": 413, "type": 415, "image": 422, "count": 422}
#: Room for the multipart framing and the purpose field beside the files, in bytes.
FORM_OVERHEAD = 64 * 1024
#: Cached by the viewer's browser only (never a shared cache), for an hour; the file never changes.
CACHE = "private, max-age=3600"


def upload_limit(rules: PhotoRules) -> int:
    """The largest upload body: the per-request count of photos at their largest, and the form around them."""
    return rules.per_request * rules.max_bytes + FORM_OVERHEAD


def _base() -> str:
    # Absolute URLs from the host the client asked (behind TRUSTED_PROXIES, the proxy's).
    return request.url_root.rstrip("/")


def register(bp: Blueprint, ctx: AppContext) -> None:
    """Add the photo routes to ``bp``."""
    engine = ctx.township.engine
    rules = PhotoRules.of(ctx.settings)

    @bp.post("/api/v1/cases/<int:case_id>/photos")
    def case_photos_post(case_id: int):
        who = acting_viewer(ctx)
        if request.mimetype != "multipart/form-data":
            raise ApiError(400, [FieldError(None, "file", "send multipart/form-data with the photo in the field "
                                            f"'file' (got {request.mimetype or 'no Content-Type'})")])
        # A part whose name Werkzeug could not read comes as None.
        unknown = sorted({str(k) for k in (*request.form, *request.files) if k not in FIELDS})
        if unknown:
            raise ApiError(400, [FieldError(None, k, f"unknown field; allowed: {', '.join(FIELDS)}")
                                 for k in unknown])
        purpose = request.form.get("purpose") or "report"
        actor = actor_of(who)
        try:
            check_may_add(engine, case_id, who, purpose)  # another village's case is 404 before a file is looked at
            # The pipeline runs before the unit of work: the store's write lock is not held while photos decode.
            files = prepare_photos(rules, [f.read() for f in request.files.getlist("file")])
            added = run_in_unit(engine, lambda uow: attach_photos(uow, rules, case_id, files, actor, purpose))
        except MoveRefused as exc:
            raise refused(exc, "purpose" if exc.code == "invalid" else "case_id") from None
        except PhotoRefused as exc:
            raise ApiError(REFUSED_STATUS.get(exc.code, 422), [FieldError(exc.index, "file", exc.message)]) from None
        out = [attached_out(a, _base()) for a in added]
        return respond(out[0] if len(out) == 1 else out, 201)

    @bp.get("/api/v1/cases/<int:case_id>/photos")
    def case_photos_get(case_id: int):
        who = viewer(ctx)
        try:
            rows = list_photos(engine, case_id, who)
        except MoveRefused as exc:
            raise refused(exc, "case_id") from None
        items = [photo_out(p, _base()) for p in rows]
        return respond({"case_id": case_id, "total": len(items), "items": items})

    def serve(photo_id: int, thumb: bool) -> Response:
        # A token speaks for itself; without one, the signed-in user (an <img> on the dashboard or the field app).
        who = viewer(ctx) if request.headers.get("Authorization") else current_viewer(ctx)
        photo = photo_for_viewer(engine, photo_id, who)
        if photo is None:
            raise ApiError(404, [FieldError(None, "photo_id", f"photo {photo_id} does not exist")])
        path = photo_file(rules, photo, thumb)
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            log.error("photo %s: its file %s is missing", photo_id, path)
            raise ApiError(404, [FieldError(None, "photo_id", f"photo {photo_id}'s file is missing")]) from None
        resp = Response(body, mimetype=photo.media_type)
        resp.headers["Cache-Control"] = CACHE
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.set_etag(photo.thumb_sha256 if thumb else photo.sha256)
        return resp.make_conditional(request)

    @bp.get("/api/v1/photos/<int:photo_id>")
    def photo_get(photo_id: int):
        return serve(photo_id, thumb=False)

    @bp.get("/api/v1/photos/<int:photo_id>/thumb")
    def photo_thumb_get(photo_id: int):
        return serve(photo_id, thumb=True)
