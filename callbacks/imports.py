"""The operators' file upload: a background job with a progress bar and a per-row report."""
from __future__ import annotations

import base64

from dash import Dash, Input, Output, State

from auth import current_viewer
from layers.text import t
from township.domain.policy import may_import
from township.formats.imports import import_data
from township.formats.tables import UnreadableFile
from township.runtime.bootstrap import AppContext
from ui import ids


def run_import(app_ctx: AppContext, contents: str, filename: str, kind: str, mode: str,
               source: str | None, progress=None, lang: str = "zh") -> str:
    """Import one uploaded file and return the report text (the callback's whole body)."""
    # A background job: current_viewer reads the session from the cookies Dash kept for it.
    viewer = current_viewer(app_ctx)
    if not may_import(viewer.role):
        return t("import_refused", lang)
    data = base64.b64decode(contents.split(",", 1)[1])
    tw = app_ctx.township
    try:
        report = import_data(tw.engine, tw.gridset, data, filename, kind=kind, mode=mode,
                             default_source=source, progress=progress, actor=f"upload:{viewer.name}",
                             sla=app_ctx.settings.sla)
    except UnreadableFile as err:
        return f"{filename}: {err}"
    return "\n".join(report.lines())


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the upload callback (runs in the background job manager)."""

    @app.callback(
        Output(ids.IMPORT_REPORT, "children"),
        Input(ids.IMPORT_UPLOAD, "contents"),
        State(ids.IMPORT_UPLOAD, "filename"),
        State(ids.IMPORT_KIND, "value"),
        State(ids.IMPORT_MODE, "value"),
        State(ids.IMPORT_SOURCE, "value"),
        # Dash keys a background job's result by its arguments only, in a cache every process of
        # the machine shares: without a token of this page load, two people dropping the same file
        # at once would be shown each other's report (and a refused role the permitted one's).
        State(ids.IMPORT_NONCE, "data"),
        background=True,
        progress=[Output(ids.IMPORT_PROGRESS, "value"), Output(ids.IMPORT_PROGRESS, "max")],
        running=[(Output(ids.IMPORT_UPLOAD, "disabled"), True, False)],
        prevent_initial_call=True,
    )
    def on_upload(set_progress, contents, filename, kind, mode, source, _nonce):
        return run_import(app_ctx, contents, filename, kind, mode, source,
                          progress=lambda done, total: set_progress((str(done), str(max(total, 1)))))
