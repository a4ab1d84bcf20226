"""The warning card's controller (一点指挥): open a warning from the map, move it, dispatch a task, close.

The callback is `callbacks.card.register_card`'s, as for the case card; the
work is in plain functions (:func:`open_warning`, :func:`make_warning_move`,
:func:`make_dispatch`) that tests call with any viewer. The open warning's id
goes into ``WARN_OPENED``, which the dashboard's map callback follows to draw
the radius and outline the affected grids.
"""
from __future__ import annotations

from dash import ALL, Dash, Input

from callbacks.card import CardOut, Reopen, done, refused, register_card
from callbacks.checked import clicked_record
from callbacks.dashboard import viewer_alerts
from layers.mapfig import WARNINGS
from layers.text import t
from township.domain.policy import may_export_roster, may_start_evacuation
from township.domain.vocab import WARNING_MOVE_LABELS
from township.domain.vocab import label as vocab_label
from township.loop.evacroster import evacuation_view
from township.loop.evacuation import start_evacuation
from township.loop.warnings import dispatch_task, move_warning, warning_file
from township.loop.workflow import Actor, MoveRefused
from township.runtime.bootstrap import AppContext
from ui import evacuation as evac_ui
from ui import ids
from ui import warningcard as ui
from ui.dashboard import alert_banner

#: The warning card's move (a WARN_MOVE button) that starts the evacuation.
EVACUATE = "evacuate"


def open_warning(app_ctx: AppContext, viewer: Actor, warning_id: int, lang: str = "zh", *,
                 message: str | None = None, ok: bool = False, text: str = "") -> CardOut:
    """The card of ``warning_id`` as ``viewer`` may see it; a warning out of reach shows only the refusal."""
    tw = app_ctx.township
    try:
        file = warning_file(tw.engine, tw.gridset, tw.snapshot(), warning_id, viewer)
    except (MoveRefused, KeyError) as exc:
        reason = exc.reason if isinstance(exc, MoveRefused) else f"warning {warning_id} does not exist"
        return CardOut(None, ui.refusal(reason, lang), False)
    # Counts only on the card (no person: the card is seen beside the map, by anyone at the desk).
    evac = evacuation_view(tw.engine, tw.gridset, file.row, viewer, "card", log=False)
    live = file.row.status != "cleared"
    ledger = (f"/warnings/{file.row.id}/evacuation.html" if evac.started and may_export_roster(
        viewer, None if viewer.role != "village" else viewer.village_id) else None)
    section = evac_ui.progress(evac, tw.gridset, lang, live and may_start_evacuation(viewer),
                               ui.CARD.move_id(EVACUATE), ledger)
    body = ui.card(file, tw.gridset, viewer, lang, message, ok, text, evacuation=section)
    return CardOut({"id": file.row.id, "version": file.row.version}, body, False)


def _reopen(app_ctx: AppContext, viewer: Actor, opened: dict, text: str | None, lang: str) -> Reopen:
    """Reopen the open warning with a message, keeping the typed note."""
    return lambda message: open_warning(app_ctx, viewer, int(opened["id"]), lang, message=message, text=text or "")


def make_warning_move(app_ctx: AppContext, viewer: Actor, opened: dict, move: str, text: str | None,
                      lang: str = "zh") -> CardOut:
    """Move the open warning, checked against the version the card shows; a refusal changes nothing."""
    tw = app_ctx.township
    try:
        event = move_warning(tw.engine, tw.gridset, int(opened["id"]), move, viewer,
                             expected_version=int(opened["version"]), note=text or "")
    except MoveRefused as exc:
        return refused(opened, exc, _reopen(app_ctx, viewer, opened, text, lang), lang)
    label = vocab_label(WARNING_MOVE_LABELS, move, lang)
    return done(open_warning(app_ctx, viewer, event.warning_id, lang, message=label, ok=True))


def make_evacuation(app_ctx: AppContext, viewer: Actor, opened: dict, text: str | None,
                    lang: str = "zh") -> CardOut:
    """Start the evacuation of the open warning (转移名单, one unit of work); a refusal changes nothing."""
    tw = app_ctx.township
    try:
        start_evacuation(tw.engine, tw.gridset, int(opened["id"]), viewer, note=text or "")
    except MoveRefused as exc:
        return refused(opened, exc, _reopen(app_ctx, viewer, opened, text, lang), lang)
    return done(open_warning(app_ctx, viewer, int(opened["id"]), lang, message=t("evac_started", lang), ok=True))


def make_dispatch(app_ctx: AppContext, viewer: Actor, opened: dict, handler_id: str, text: str | None,
                  lang: str = "zh") -> CardOut:
    """Dispatch a task from the open warning to ``handler_id`` (a new case in the closed loop)."""
    tw = app_ctx.township
    try:
        case_id = dispatch_task(tw.engine, tw.gridset, int(opened["id"]), handler_id, viewer, note=text or "",
                                sla=app_ctx.settings.sla)
    except MoveRefused as exc:
        return refused(opened, exc, _reopen(app_ctx, viewer, opened, text, lang), lang)
    # the handler is named in the card's task list, as the viewer may see them; the message names no id
    return done(open_warning(app_ctx, viewer, int(opened["id"]), lang, message=f"{t('warn_dispatch', lang)} #{case_id}",
                             ok=True))


def clicked_warning(trigger: object, click: dict | None) -> int | None:
    """The warning a map click names, if a warning point was clicked."""
    return clicked_record(click, WARNINGS) if trigger == ids.MAP else None


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the warning card's callback."""

    def act(viewer: Actor, trigger: object, inputs: list, fields: dict, opened: dict | None,
            lang: str) -> CardOut | None:
        warning_id = clicked_warning(trigger, inputs[0])
        if trigger == ids.ALERT_TEXT:
            # the banner's text: the warning the banner announces to this viewer now (as the banner computes it)
            banner_id = alert_banner(viewer_alerts(app_ctx.township.snapshot(), viewer), lang)[1]
            warning_id = int(banner_id) if banner_id else None
        if warning_id is not None:
            return open_warning(app_ctx, viewer, warning_id, lang)
        kind = trigger.get("type") if isinstance(trigger, dict) else None
        if kind == ids.WARN_MOVE and opened and trigger["move"] == EVACUATE:
            return make_evacuation(app_ctx, viewer, opened, fields.get("text"), lang)
        if kind == ids.WARN_MOVE and opened:
            return make_warning_move(app_ctx, viewer, opened, trigger["move"], fields.get("text"), lang)
        if kind == ids.WARN_DISPATCH and opened:
            return make_dispatch(app_ctx, viewer, opened, trigger["handler"], fields.get("text"), lang)
        return None

    register_card(
        app, app_ctx, card=ui.CARD, opened_store=ids.WARN_OPENED, card_box=ids.WARN_CARD,
        inputs=[Input(ids.MAP, "clickData"), Input({"type": ids.WARN_MOVE, "move": ALL}, "n_clicks"),
                Input({"type": ids.WARN_DISPATCH, "handler": ALL}, "n_clicks"),
                Input(ids.ALERT_TEXT, "n_clicks")],  # the banner's text opens its warning's card
        act=act, open_record=lambda viewer, warning_id, lang: open_warning(app_ctx, viewer, warning_id, lang))
