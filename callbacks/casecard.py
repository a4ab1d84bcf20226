"""The case card's callback: open a case (table row, map point, listed order), make a move, close.

One callback owns the card, so an open, a move and a close can never race
each other. The work is in plain functions (:func:`open_card`,
:func:`make_move`) that tests call with any viewer. A move goes through
`township.loop.workflow.apply_move` with ``expected_version`` = the version the
card shows; a refused move shows its reason and changes nothing; a move
done writes the new data version into the page's version store, so the map,
the figures and the table refresh at once (they follow that store).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dash import ALL, Dash, Input, Output, State, no_update
from dash import ctx as dash_ctx
from dash.exceptions import PreventUpdate

from auth import current_viewer
from layers.mapfig import CASES
from township.loop.casefile import case_file, move_params, visible_case
from township.loop.workflow import MOVES, Actor, MoveRefused, apply_move
from township.runtime.bootstrap import AppContext
from township.store.models import data_version, utcnow
from ui import casecard as ui
from ui import ids
from ui.text import t


@dataclass(frozen=True)
class CardOut:
    """The card after one action.

    Attributes
    ----------
    opened : dict or None
        ``{"id", "version"}`` of the case shown (what the next move is checked against).
    children : list
        The card's content.
    hidden : bool
        Whether the card is closed.
    moved : bool
        A move was made: the page must refresh its views.
    """

    opened: dict | None
    children: list
    hidden: bool
    moved: bool = False


def open_card(app_ctx: AppContext, viewer: Actor, case_id: int, lang: str = "zh", *, message: str | None = None,
              ok: bool = False, text: str = "", handler: str | None = None, now: datetime | None = None) -> CardOut:
    """The card of ``case_id`` as ``viewer`` may see it; another village's case shows only the refusal."""
    tw = app_ctx.township
    try:
        file = case_file(tw.engine, tw.gridset, case_id, viewer)
    except MoveRefused as exc:
        return CardOut(None, ui.refusal(exc.reason, lang), False)
    body = ui.card(file, tw.gridset, viewer, now or utcnow(), lang, message, ok, text, handler)
    return CardOut({"id": file.case.id, "version": file.case.version}, body, False)


def make_move(app_ctx: AppContext, viewer: Actor, opened: dict, move: str, handler: str | None, text: str | None,
              lang: str = "zh") -> CardOut:
    """Make ``move`` on the open case, checked against the version the card shows.

    Refused: the card shows the reason and keeps what was typed; when the
    case changed meanwhile (stale), the card is reloaded so that the
    operator sees what changed before trying again.
    """
    tw = app_ctx.township
    case_id = int(opened["id"])
    try:
        visible_case(tw.engine, case_id, viewer)  # scope first: another village's case says only that
        moved = apply_move(tw.engine, case_id, move, viewer, expected_version=int(opened["version"]),
                           sla=app_ctx.settings.sla, **move_params(move, handler, text))
    except MoveRefused as exc:
        if exc.code == "stale":
            return open_card(app_ctx, viewer, case_id, lang, message=f"{exc.reason}({t('reloaded', lang)})",
                             text=text or "", handler=handler)
        out = open_card(app_ctx, viewer, case_id, lang, message=exc.reason, text=text or "", handler=handler)
        # Nothing changed, so the card still stands for the version it was opened with.
        return CardOut(opened if out.opened else None, out.children, out.hidden)
    label = MOVES[move].zh if lang == "zh" else move
    done = open_card(app_ctx, viewer, case_id, lang, message=f"{label} {moved.note}".strip(), ok=True)
    return CardOut(done.opened, done.children, done.hidden, moved=True)


def clicked_case(trigger: object, cell: dict | None, click: dict | None) -> int | None:
    """The case a table row or a map point names, if that is what was clicked."""
    if trigger == ids.TABLE and cell and cell.get("rowId"):
        return int(cell["rowId"])
    if trigger == ids.MAP and click:
        point = (click.get("points") or [{}])[0]
        if point.get("curveNumber") == CASES and point.get("customdata"):
            return int(point["customdata"][0])
    if isinstance(trigger, dict) and trigger.get("type") == ids.CASE_OPEN:
        return int(trigger["case"])
    return None


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the case card's callback."""

    @app.callback(
        Output(ids.CASE_OPENED, "data"),
        Output(ids.CASE_CARD, "children"),
        Output(ids.CASE_CARD, "hidden"),
        Output(ids.VERSION, "data", allow_duplicate=True),
        Input(ids.TABLE, "cellClicked"),
        Input(ids.MAP, "clickData"),
        Input({"type": ids.CASE_OPEN, "case": ALL}, "n_clicks"),
        Input({"type": ids.CASE_MOVE, "move": ALL}, "n_clicks"),
        Input({"type": ids.CASE_CONTROL, "name": ALL}, "n_clicks"),
        State({"type": ids.CASE_FIELD, "name": ALL}, "value"),
        State(ids.CASE_OPENED, "data"),
        State(ids.STATE, "data"),
        prevent_initial_call=True,
    )
    def on_case(cell, click, _opens, _moves, _controls, _fields, opened, state):
        trigger = dash_ctx.triggered_id
        if isinstance(trigger, dict) and not dash_ctx.triggered[0].get("value"):
            raise PreventUpdate  # a button just drawn (n_clicks None), not a click
        lang = (state or {}).get("lang", "zh")
        viewer = current_viewer(app_ctx)
        fields = {s["id"]["name"]: s.get("value") for s in dash_ctx.states_list[0]}
        case_id = clicked_case(trigger, cell, click)
        if case_id is not None:
            out = open_card(app_ctx, viewer, case_id, lang)
        elif isinstance(trigger, dict) and trigger.get("type") == ids.CASE_MOVE and opened:
            out = make_move(app_ctx, viewer, opened, trigger["move"], fields.get("handler"), fields.get("text"),
                            lang)
        elif isinstance(trigger, dict) and trigger.get("name") == "reload" and opened:
            out = open_card(app_ctx, viewer, int(opened["id"]), lang)
        elif isinstance(trigger, dict) and trigger.get("name") == "close":
            out = CardOut(None, [], True)
        else:
            raise PreventUpdate
        version = data_version(app_ctx.township.engine) if out.moved else no_update
        return out.opened, out.children, out.hidden, version
