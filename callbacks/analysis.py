"""The analysis page (/analysis): hotspots follow the choices; the evaluation follows the month and the unit.

Both ask the policy through the core: the hotspot list shows a village operator
their village's grids (`township.read.hotspots.for_viewer`), the evaluation
counts their village's cases and names handlers only to roles that see people
(`township.read.evaluation.evaluation_for`).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode

from dash import Dash, Input, Output, html, no_update

from auth import current_viewer
from callbacks.checked import text_of
from layers.hotspots import evaluation_table, hot_list, hotspot_figure
from layers.text import t
from township.domain.policy import sees_personal
from township.read.evaluation import UNITS, EvaluationRefused, evaluation_for, parse_month
from township.read.hotspots import HotspotResult, for_viewer, township_hotspots
from township.read.resident import feedback_frame
from township.runtime.bootstrap import AppContext
from township.store.models import utcnow
from ui import analysis as ui
from ui import ids


def _lang(search: object) -> str:
    return "en" if parse_qs((text_of(search) or "").lstrip("?")).get("lang") == ["en"] else "zh"


def render_page(app_ctx: AppContext, match: re.Match, search: str | None) -> html.Div:
    """The page's frame for the viewer: the evaluation by handler only for roles that see names."""
    role = current_viewer(app_ctx).role
    units = [u for u in UNITS if u != "handler" or sees_personal(role)]
    return ui.page(_lang(search), parse_month(None, utcnow()), units)


def hotspots_view(app_ctx: AppContext, domain: str | None, case_type: str | None, window: str | None,
                  measure: str | None, lang: str = "zh") -> tuple[dict, object, str]:
    """(figure, hot list, message) for the choices, as the viewer may see them."""
    tw = app_ctx.township
    viewer = current_viewer(app_ctx)
    try:
        result: HotspotResult = township_hotspots(app_ctx.hotspots, tw.snapshot(), tw.gridset, utcnow(), domain,
                                                  case_type, window or "90d", measure or "count")
    except ValueError as exc:
        return no_update, no_update, str(exc)
    frame = for_viewer(result, tw.gridset, viewer)
    s = app_ctx.settings
    figure = hotspot_figure(tw.gridset, frame, lang, s.tile_url, s.tile_attribution)
    hot = frame[frame["bin"] > 0].sort_values(["bin", "z", "grid_id"], ascending=[False, False, True])
    return figure, ui.table(hot_list(tw.gridset, hot, lang), t("an_no_hot", lang), "an-hot-table"), ""


def evaluation_view(app_ctx: AppContext, month: str | None, unit: str | None, lang: str = "zh") -> tuple:
    """(table, XLSX link, PDF link) of the month and unit, as the viewer may see them."""
    tw = app_ctx.township
    viewer = current_viewer(app_ctx)
    try:
        year, mon = parse_month(month, utcnow())
        ev = evaluation_for(tw.snapshot().cases, viewer, unit or "village", year, mon, feedback_frame(tw.engine))
    except (ValueError, EvaluationRefused) as exc:
        return html.P(str(exc), className="an-msg"), "", ""
    query = urlencode({"month": ev.label, "unit": ev.unit, "lang": lang})
    return (ui.table(evaluation_table(ev, tw.gridset, lang), t("an_no_rows", lang), "an-eval-table"),
            f"/evaluation/monthly.xlsx?{query}", f"/evaluation/monthly.pdf?{query}")


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the analysis page's two callbacks."""

    @app.callback(Output(ids.AN_MAP, "figure"), Output(ids.AN_HOT, "children"), Output(ids.AN_MSG, "children"),
                  Input(ids.AN_DOMAIN, "value"), Input(ids.AN_TYPE, "value"), Input(ids.AN_WINDOW, "value"),
                  Input(ids.AN_MEASURE, "value"), Input(ids.URL, "search"))
    def on_hotspots(domain, case_type, window, measure, search):
        # the choices come from the browser: one that is not text is none (the view names a text it does not know)
        return hotspots_view(app_ctx, text_of(domain), text_of(case_type), text_of(window), text_of(measure),
                             _lang(search))

    @app.callback(Output(ids.AN_EVAL, "children"), Output(ids.AN_XLSX, "href"), Output(ids.AN_PDF, "href"),
                  Input(ids.AN_MONTH, "value"), Input(ids.AN_UNIT, "value"), Input(ids.URL, "search"))
    def on_evaluation(month, unit, search):
        return evaluation_view(app_ctx, text_of(month), text_of(unit), _lang(search))
