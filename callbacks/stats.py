"""The statistics section's callback: it follows the filter state and the data version the map has drawn."""
from __future__ import annotations

from dash import Dash, Input, Output
from dash.exceptions import PreventUpdate

from auth import current_viewer
from callbacks.checked import state_of
from callbacks.playback import frame_view
from township.loop.casefile import clamp_state
from township.loop.workflow import Actor
from township.read.resident import feedback_frame
from township.runtime.bootstrap import AppContext
from ui import ids
from ui import stats as ui


def stats_body(app_ctx: AppContext, viewer: Actor, data: dict) -> list:
    """The section for a filter state, as ``viewer`` may see it (a village operator: their village).

    ``app_ctx.entries`` reads the audit trail once per data version (a filter
    change reads nothing), and then only the events added since.
    """
    tw = app_ctx.township
    state = clamp_state(state_of(data), viewer, tw.gridset)
    snap = tw.snapshot()
    view = frame_view(tw, state)[1]  # a replayed moment: its cases as they were then
    return [*ui.charts(view, tw.gridset),
            *ui.body(view, app_ctx.entries.get(snap.version), tw.gridset, viewer.role, state.lang,
                     feedback_frame(tw.engine))]


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the statistics callback."""

    @app.callback(Output(ids.STATS_BODY, "children"), Input(ids.STATE, "data"), Input(ids.DRAWN, "data"),
                  Input(ids.TAB, "value"))
    def on_stats(data, _version, tab):
        # Only while its tab is open: the desk's cold load and its filter changes compute no statistics.
        # Opened, it follows the filter and, after new data, the map (DRAWN).
        if tab != "stats":
            raise PreventUpdate
        return stats_body(app_ctx, current_viewer(app_ctx), data)
