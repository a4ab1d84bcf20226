"""The account chip's unread badge: it follows new notifications without a reload.

It asks again on each new data version (a move and its notification are one write) and every
``ui.account.UNREAD_POLL_MS`` (the notifier puts a notification on its lists after the move,
and marking read elsewhere moves no data version). Whose lists are read is the one rule of
`township.loop.inbox.audiences_of`, for the viewer the policy sees (`auth.current_viewer`).
"""
from __future__ import annotations

from dash import Dash, Input, Output, State
from dash.exceptions import PreventUpdate

from auth import current_viewer, reader_key
from callbacks.checked import lang_of
from township.loop.inbox import audiences_of, inbox
from township.runtime.bootstrap import AppContext
from ui import account as ui
from ui import ids

#: The newest messages the badge's tooltip lists (as at page load, callbacks/dashboard.py).
LATEST = 5


def unread_badge(app_ctx: AppContext, lang: str) -> tuple[str, bool, str]:
    """The badge (text, hidden, tooltip) of who is looking: nothing for someone without a list (not signed in)."""
    viewer, reader = current_viewer(app_ctx), reader_key(app_ctx)
    if reader is None:
        return ui.badge(0, (), lang)
    box = inbox(app_ctx.township.engine, audiences_of(viewer.role, viewer.village_id, viewer.handler_id), reader,
                LATEST, lang)
    return ui.badge(box.unread, [i.text for i in box.items if not i.read], lang)


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the badge's callback."""

    @app.callback(Output(ids.ACCOUNT_UNREAD, "children"), Output(ids.ACCOUNT_UNREAD, "hidden"),
                  Output(ids.ACCOUNT_UNREAD, "title"), Input(ids.ACCOUNT_POLL, "n_intervals"),
                  Input(ids.VERSION, "data"), State(ids.STATE, "data"), State(ids.ACCOUNT_UNREAD, "title"),
                  prevent_initial_call=True)
    def on_unread(_n, _version, state, shown):
        lang = lang_of(state)
        out = unread_badge(app_ctx, lang)
        if out[2] == (shown or ""):  # the same count and messages: nothing to send
            raise PreventUpdate
        return out
