"""The warning card's callback (一点指挥): open a warning from the map, move it, dispatch a task, close.

One callback owns the card, as for the case card (`callbacks.casecard`). The
work is in plain functions (:func:`open_warning`, :func:`make_warning_move`,
:func:`make_dispatch`) that tests call with any viewer. The open warning's id
goes into ``WARN_OPENED``, which the dashboard's map callback follows to draw
the radius and outline the affected grids; a move or a dispatch writes the new
data version into the page's version store, so the map and figures refresh.
"""
from __future__ import annotations

from dash import ALL, Dash, Input, Output, State, no_update
from dash import ctx as dash_ctx
from dash.exceptions import PreventUpdate

from auth import current_viewer
from callbacks.casecard import CardOut
from layers.mapfig import WARNINGS
from township.loop.warnings import WARNING_MOVES, dispatch_task, move_warning, warning_file
from township.loop.workflow import Actor, MoveRefused
from township.runtime.bootstrap import AppContext
from township.store.models import data_version
from ui import ids
from ui import warningcard as ui


def open_warning(app_ctx: AppContext, viewer: Actor, warning_id: int, lang: str = "zh", *,
                 message: str | None = None, ok: bool = False, text: str = "") -> CardOut:
    """The card of ``warning_id`` as ``viewer`` may see it; a warning out of reach shows only the refusal."""
    tw = app_ctx.township
    try:
        file = warning_file(tw.engine, tw.gridset, tw.snapshot(), warning_id, viewer)
    except (MoveRefused, KeyError) as exc:
        reason = exc.reason if isinstance(exc, MoveRefused) else f"warning {warning_id} does not exist"
        return CardOut(None, ui.refusal(reason, lang), False)
    body = ui.card(file, tw.gridset, viewer, lang, message, ok, text)
    return CardOut({"id": file.row.id, "version": file.row.version}, body, False)


def _refused(app_ctx: AppContext, viewer: Actor, opened: dict, exc: MoveRefused, text: str, lang: str) -> CardOut:
    wid = int(opened["id"])
    if exc.code == "stale":
        return open_warning(app_ctx, viewer, wid, lang, message=exc.reason, text=text)
    out = open_warning(app_ctx, viewer, wid, lang, message=exc.reason, text=text)
    return CardOut(opened if out.opened else None, out.children, out.hidden)


def make_warning_move(app_ctx: AppContext, viewer: Actor, opened: dict, move: str, text: str | None,
                      lang: str = "zh") -> CardOut:
    """Move the open warning, checked against the version the card shows; a refusal changes nothing."""
    tw = app_ctx.township
    try:
        event = move_warning(tw.engine, tw.gridset, int(opened["id"]), move, viewer,
                             expected_version=int(opened["version"]), note=text or "")
    except MoveRefused as exc:
        return _refused(app_ctx, viewer, opened, exc, text or "", lang)
    label = WARNING_MOVES[move][2] if lang == "zh" else move
    done = open_warning(app_ctx, viewer, event.warning_id, lang, message=label, ok=True)
    return CardOut(done.opened, done.children, done.hidden, moved=True)


def make_dispatch(app_ctx: AppContext, viewer: Actor, opened: dict, handler_id: str, text: str | None,
                  lang: str = "zh") -> CardOut:
    """Dispatch a task from the open warning to ``handler_id`` (a new case in the closed loop)."""
    tw = app_ctx.township
    try:
        case_id = dispatch_task(tw.engine, tw.gridset, int(opened["id"]), handler_id, viewer, note=text or "",
                                sla=app_ctx.settings.sla)
    except MoveRefused as exc:
        return _refused(app_ctx, viewer, opened, exc, text or "", lang)
    done = open_warning(app_ctx, viewer, int(opened["id"]), lang, message=f"#{case_id} {handler_id}", ok=True)
    return CardOut(done.opened, done.children, done.hidden, moved=True)


def clicked_warning(trigger: object, click: dict | None) -> int | None:
    """The warning a map click names, if a warning point was clicked."""
    if trigger == ids.MAP and click:
        point = (click.get("points") or [{}])[0]
        if point.get("curveNumber") == WARNINGS and point.get("customdata"):
            return int(point["customdata"][0])
    return None


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the warning card's callback."""

    @app.callback(
        Output(ids.WARN_OPENED, "data"),
        Output(ids.WARN_CARD, "children"),
        Output(ids.WARN_CARD, "hidden"),
        Output(ids.VERSION, "data", allow_duplicate=True),
        Input(ids.MAP, "clickData"),
        Input({"type": ids.WARN_MOVE, "move": ALL}, "n_clicks"),
        Input({"type": ids.WARN_DISPATCH, "handler": ALL}, "n_clicks"),
        Input({"type": ids.WARN_CONTROL, "name": ALL}, "n_clicks"),
        State({"type": ids.WARN_FIELD, "name": ALL}, "value"),
        State(ids.WARN_OPENED, "data"),
        State(ids.STATE, "data"),
        prevent_initial_call=True,
    )
    def on_warning(click, _moves, _dispatches, _controls, _fields, opened, state):
        trigger = dash_ctx.triggered_id
        if isinstance(trigger, dict) and not dash_ctx.triggered[0].get("value"):
            raise PreventUpdate  # a button just drawn (n_clicks None), not a click
        lang = (state or {}).get("lang", "zh")
        viewer = current_viewer(app_ctx)
        fields = {s["id"]["name"]: s.get("value") for s in dash_ctx.states_list[0]}
        warning_id = clicked_warning(trigger, click)
        kind = trigger.get("type") if isinstance(trigger, dict) else None
        if warning_id is not None:
            out = open_warning(app_ctx, viewer, warning_id, lang)
        elif kind == ids.WARN_MOVE and opened:
            out = make_warning_move(app_ctx, viewer, opened, trigger["move"], fields.get("text"), lang)
        elif kind == ids.WARN_DISPATCH and opened:
            out = make_dispatch(app_ctx, viewer, opened, trigger["handler"], fields.get("text"), lang)
        elif kind == ids.WARN_CONTROL and trigger.get("name") == "reload" and opened:
            out = open_warning(app_ctx, viewer, int(opened["id"]), lang)
        elif kind == ids.WARN_CONTROL and trigger.get("name") == "close":
            out = CardOut(None, [], True)
        else:
            raise PreventUpdate
        version = data_version(app_ctx.township.engine) if out.moved else no_update
        return out.opened, out.children, out.hidden, version
