"""The dashboard's export links (CSV, XLSX, GeoJSON, daily report) follow its filter."""
from __future__ import annotations

from dash import Dash, Input, Output
from dash.exceptions import PreventUpdate

from ui import ids
from ui.exports import EXPORT_LINKS, export_href


def register(app: Dash) -> None:
    """Keep every export link's query string equal to the dashboard's (ids.QUERY mirrors the state)."""

    @app.callback(*[Output(cid, "href") for cid, _ in EXPORT_LINKS], Input(ids.QUERY, "data"),
                  prevent_initial_call=True)
    def on_query(query):
        if not isinstance(query, str):  # the store starts empty (the page was built with the right links), or forged
            raise PreventUpdate
        return [export_href(path, query) for _, path in EXPORT_LINKS]
