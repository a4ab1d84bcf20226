"""``/api/v1/notifications``: the caller's unread notifications, and marking them read.

A person's list: the caller is an API token (a responder token reads its
handler's list, a village token its village's, command and admin the command
centre's) or a signed-in session (the field app ``/m`` and the dashboard).
What goes on which list is `township.loop.notify`'s; the lists are read by
`township.loop.inbox.audiences_of`.
"""
from __future__ import annotations

from flask import Blueprint, request

from auth import reader_key, signed_in
from township.formats.ingest import FieldError
from township.loop.inbox import audiences_of, inbox, mark_read
from township.read.api import Viewer
from township.runtime.bootstrap import AppContext

from .http import ApiError, int_arg, read_json, respond, viewer

#: Most ids one mark-read request may name.
MAX_IDS = 1000


def _reader(ctx: AppContext) -> tuple[list[str], str]:
    """The caller's lists and reader key: a token's, else the signed-in user's; 401 for anyone else."""
    if request.headers.get("Authorization"):
        who: Viewer = viewer(ctx)
        return audiences_of(who.role, who.village_id, who.handler_id), f"token:{who.name}"
    user = signed_in(ctx)
    key = reader_key(ctx)
    if user is None or key is None:
        raise ApiError(401, ["notifications are a person's: send a token (Authorization: Bearer <token>) "
                             "or sign in"], {"WWW-Authenticate": "Bearer"})
    return audiences_of(user.role, user.village_id, user.handler_id), key


def register(bp: Blueprint, ctx: AppContext) -> None:
    """Add the notification routes to ``bp``."""
    engine = ctx.township.engine

    @bp.get("/api/v1/notifications")
    def notifications_get():
        audiences, reader = _reader(ctx)
        box = inbox(engine, audiences, reader, int_arg("limit", 50, 1, 200) or 50)
        return respond({"unread": box.unread, "items": box.items})

    @bp.post("/api/v1/notifications/read")
    def notifications_read():
        audiences, reader = _reader(ctx)
        body = read_json()
        if len(body) != 1 or not isinstance(body[0], dict):
            raise ApiError(400, ["the body must be one JSON object: {\"ids\": [1, 2]} or {\"all\": true}"])
        ids, everything = body[0].get("ids"), body[0].get("all")
        unknown = sorted(set(body[0]) - {"ids", "all"})
        if unknown:
            raise ApiError(422, [FieldError(None, k, "unknown field; allowed: ids, all") for k in unknown])
        if everything is not True and not (isinstance(ids, list) and ids and len(ids) <= MAX_IDS
                                           and all(type(i) is int and 0 < i < 2**31 for i in ids)):
            raise ApiError(422, [FieldError(None, "ids", f"must be a list of 1 to {MAX_IDS} notification ids "
                                            "(integers), or send all: true")])
        marked = mark_read(engine, audiences, reader, None if everything is True else ids)
        return respond({"marked": marked, "unread": inbox(engine, audiences, reader, 1).unread})
