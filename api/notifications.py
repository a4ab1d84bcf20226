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
from township.formats.ingest import FieldError, parse_items
from township.loop.inbox import MAX_LIST, ReadIn, ReadOut, audiences_of, inbox, mark_read, unread_count
from township.read.api import Viewer
from township.runtime.bootstrap import AppContext

from .http import ApiError, int_arg, read_json, respond, viewer


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
        if request.args.get("limit") == "":  # int_arg takes an empty value as the default; the document does not
            raise ApiError(400, [FieldError(None, "limit", "empty; give a number of 1 to 200, or leave it out")])
        return respond(inbox(engine, audiences, reader, int_arg("limit", 50, 1, MAX_LIST) or 50).model_dump())

    @bp.post("/api/v1/notifications/read")
    def notifications_read():
        audiences, reader = _reader(ctx)
        items = read_json()
        if len(items) != 1:
            raise ApiError(400, ["the body must be one JSON object: {\"ids\": [1, 2]} or {\"all\": true}"])
        body = parse_items(ReadIn, items)[0]
        marked = mark_read(engine, audiences, reader, None if body.all else body.ids)
        return respond(ReadOut(marked=marked, unread=unread_count(engine, audiences, reader)).model_dump())
