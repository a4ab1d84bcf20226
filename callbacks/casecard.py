"""The case card's controller: open a case (table row, map point, listed order), make a move, close.

The callback is `callbacks.card.register_card`'s; the work is in plain
functions (:func:`open_card`, :func:`make_move`) that tests call with any
viewer. A move goes through `township.loop.workflow.apply_move` with
``expected_version`` = the version the card shows.
"""
from __future__ import annotations

from datetime import datetime

from dash import ALL, Dash, Input

from callbacks.card import CardOut, done, refused, register_card
from callbacks.checked import clicked_record, record_id, row_record
from layers.mapfig import CASES
from township.domain.vocab import CASE_MOVES
from township.domain.vocab import label as vocab_label
from township.loop.casefile import case_file, move_params, visible_case
from township.loop.photos import shown_photos
from township.loop.workflow import Actor, MoveRefused, apply_move
from township.runtime.bootstrap import AppContext
from township.store.models import utcnow
from ui import casecard as ui
from ui import ids


def open_card(app_ctx: AppContext, viewer: Actor, case_id: int, lang: str = "zh", *, message: str | None = None,
              ok: bool = False, text: str = "", handler: str | None = None, now: datetime | None = None) -> CardOut:
    """The card of ``case_id`` as ``viewer`` may see it; another village's case shows only the refusal."""
    tw = app_ctx.township
    try:
        file = case_file(tw.engine, tw.gridset, case_id, viewer)
    except MoveRefused as exc:
        return CardOut(None, ui.refusal(exc.reason, lang), False)
    shown = shown_photos(tw.engine, case_id, viewer)  # none for the wall (`township.domain.policy.may_see_photos`)
    body = ui.card(file, tw.gridset, viewer, now or utcnow(), lang, message, ok, text, handler, shown)
    return CardOut({"id": file.case.id, "version": file.case.version}, body, False)


def make_move(app_ctx: AppContext, viewer: Actor, opened: dict, move: str, handler: str | None, text: str | None,
              lang: str = "zh") -> CardOut:
    """Make ``move`` on the open case, checked against the version the card shows (`callbacks.card.refused`)."""
    tw = app_ctx.township
    case_id = int(opened["id"])
    try:
        visible_case(tw.engine, case_id, viewer)  # scope first: another village's case says only that
        moved = apply_move(tw.engine, case_id, move, viewer, expected_version=int(opened["version"]),
                           sla=app_ctx.settings.sla, **move_params(move, handler, text))
    except MoveRefused as exc:
        return refused(opened, exc, lambda message: open_card(app_ctx, viewer, case_id, lang, message=message,
                                                              text=text or "", handler=handler), lang)
    label = vocab_label(CASE_MOVES, move, lang)
    return done(open_card(app_ctx, viewer, case_id, lang, message=f"{label} {moved.note}".strip(), ok=True))


def clicked_case(trigger: object, cell: dict | None, click: dict | None) -> int | None:
    """The case a table row or a map point names, if that is what was clicked."""
    if trigger == ids.TABLE:
        return row_record(cell)
    if trigger == ids.MAP:
        return clicked_record(click, CASES)
    if isinstance(trigger, dict) and trigger.get("type") == ids.CASE_OPEN:
        return record_id(trigger.get("case"))
    return None


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the case card's callback."""

    def act(viewer: Actor, trigger: object, inputs: list, fields: dict, opened: dict | None,
            lang: str) -> CardOut | None:
        cell, click = inputs[0], inputs[1]
        case_id = clicked_case(trigger, cell, click)
        if case_id is not None:
            return open_card(app_ctx, viewer, case_id, lang)
        if isinstance(trigger, dict) and trigger.get("type") == ids.CASE_MOVE and opened:
            return make_move(app_ctx, viewer, opened, trigger["move"], fields.get("handler"), fields.get("text"),
                             lang)
        return None

    register_card(
        app, app_ctx, card=ui.CARD, opened_store=ids.CASE_OPENED, card_box=ids.CASE_CARD,
        inputs=[Input(ids.TABLE, "cellClicked"), Input(ids.MAP, "clickData"),
                Input({"type": ids.CASE_OPEN, "case": ALL}, "n_clicks"),
                Input({"type": ids.CASE_MOVE, "move": ALL}, "n_clicks")],
        act=act, open_record=lambda viewer, case_id, lang: open_card(app_ctx, viewer, case_id, lang))
