"""The operators' file upload: a background job with a progress bar and a per-row report."""
from __future__ import annotations

from dash import Dash, Input, Output, State

from auth import current_viewer
from callbacks.checked import text_of, upload
from layers.text import t
from township.domain.policy import may_import
from township.formats.imports import import_data
from township.formats.tables import UnreadableFile
from township.runtime.bootstrap import AppContext
from ui import ids


def run_import(app_ctx: AppContext, contents: object, filename: object, kind: object, mode: object,
               source: object, progress=None, lang: str = "zh") -> str:
    """Import one uploaded file and return the report text (the callback's whole body); what the browser sent
    is checked (`callbacks.checked`): a choice the page does not offer is named in the report."""
    # A background job: current_viewer reads the session from the cookies Dash kept for it.
    viewer = current_viewer(app_ctx)
    if not may_import(viewer.role):
        return t("import_refused", lang)
    # contents that are no file read as an empty one (the report says it has no rows)
    data, name = upload(contents) or b"", text_of(filename) or ""
    tw = app_ctx.township
    try:
        report = import_data(tw.engine, tw.gridset, data, name, kind=text_of(kind) or "", mode=text_of(mode) or "",
                             default_source=text_of(source), progress=progress, actor=f"upload:{viewer.name}",
                             sla=app_ctx.settings.sla)
    except (UnreadableFile, ValueError) as err:  # ValueError: a kind, mode or source the page does not offer
        return f"{name}: {err}"
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
