"""The operators' file upload: a background job with a progress bar and a per-row report."""
from __future__ import annotations

import base64

from dash import Dash, Input, Output, State

from township.bootstrap import AppContext
from township.imports import UnreadableFile, import_data
from ui import ids
from ui.text import t

#: Roles that may write data through the page.
WRITERS = {"admin", "command", "village"}


def run_import(app_ctx: AppContext, contents: str, filename: str, kind: str, mode: str,
               source: str | None, progress=None, lang: str = "zh") -> str:
    """Import one uploaded file and return the report text (the callback's whole body)."""
    if app_ctx.settings.role not in WRITERS:
        return t("import_refused", lang)
    data = base64.b64decode(contents.split(",", 1)[1])
    tw = app_ctx.township
    try:
        report = import_data(tw.engine, tw.gridset, data, filename, kind=kind, mode=mode,
                             default_source=source, progress=progress, actor=f"upload:{app_ctx.settings.role}")
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
        background=True,
        progress=[Output(ids.IMPORT_PROGRESS, "value"), Output(ids.IMPORT_PROGRESS, "max")],
        running=[(Output(ids.IMPORT_UPLOAD, "disabled"), True, False)],
        prevent_initial_call=True,
    )
    def on_upload(set_progress, contents, filename, kind, mode, source):
        return run_import(app_ctx, contents, filename, kind, mode, source,
                          progress=lambda done, total: set_progress((str(done), str(max(total, 1)))))
