"""The statistics section (统计): rates, time per stage, backlog, weekly trend, village ranking.

Pure builders over a :class:`township.read.views.View` (so the section follows
the dashboard's filter) and, from the audit trail, when the shown cases first
entered each status (`township.read.stats.EntryTimes`). The numbers are
`township.read.stats`'s; the three rates are the headline's own
(`township.read.views.headline`), so the section and the headline cards cannot
disagree.
"""
from __future__ import annotations

import math

import pandas as pd
from dash import dcc, html

from layers.charts import trend_chart
from layers.text import t
from township.domain.policy import sees_ranking
from township.domain.privacy import shown_name
from township.grids.model import GridSet
from township.read.stats import (
    NONE_LABEL,
    RANKING_ROWS,
    STAGES,
    backlog_by_handler,
    backlog_by_village,
    resident_rates,
    stage_times,
    trend,
    village_ranking,
)
from township.read.views import View
from ui import ids
from ui.dashboard import domain_chart, village_chart

#: Rows of each backlog table.
BACKLOG_ROWS = {"village_id": 15, "handler": 10}


def pct(rate: float | None) -> str:
    """A rate as ``87.5%``; ``—`` when there is nothing to divide."""
    return "—" if rate is None or (isinstance(rate, float) and math.isnan(rate)) else f"{rate * 100:.1f}%"


def _hours(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.1f}"


def charts(view: View, gridset: GridSet) -> list:
    """Cases by domain and by village under the filter, side by side."""
    lang = view.state.lang
    return [html.Div([
        html.Div([html.H4(t("by_domain", lang)),
                  dcc.Graph(id=ids.CHART_DOMAIN, figure=domain_chart(view),
                            config={"displayModeBar": False})], className="chart"),
        html.Div([html.H4(t("by_village", lang)),
                  dcc.Graph(id=ids.CHART_VILLAGE, figure=village_chart(view, gridset),
                            config={"displayModeBar": False})], className="chart"),
    ], className="charts")]


def section(lang: str) -> html.Div:
    """The (empty) section in the page; its callback fills ``STATS_BODY``."""
    return html.Div([html.H4(t("stats", lang)), html.Div(id=ids.STATS_BODY, className="stats-body")],
                    id=ids.STATS, className="table stats")


def _table(head: list[str], rows: list[list], table_id: str) -> html.Table:
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])),
                       html.Tbody([html.Tr([html.Td(c) for c in r]) for r in rows])],
                      className="stats-table", id=table_id)


def rates(view: View, lang: str, feedback: pd.DataFrame | None = None) -> html.Div:
    """办结率, 按期办结率, 村级化解率 and the count they are of (the headline's figures); with the 回访
    answers ``feedback`` also 返工率 and 满意率 (`township.read.stats.resident_rates`)."""
    h = view.headline
    cells = [("total_n", str(h.total)), ("done_rate", pct(h.done_rate)), ("ontime_rate", pct(h.ontime_rate)),
             ("village_rate", pct(h.village_rate))]
    if feedback is not None:
        r = resident_rates(view.cases, feedback)
        cells += [("rework_rate", pct(r.rework_rate)), ("satisfaction_rate", pct(r.satisfaction_rate))]
    return html.Div([html.Div([html.Div(v, className="kpi-value", id=f"stats-{k}"),
                               html.Div(t(k, lang), className="kpi-label")], className="kpi") for k, v in cells],
                    className="headline stats-rates")


def stage_table(times: pd.DataFrame, lang: str) -> html.Table:
    """Average and median hours of each stage, and how many cases completed it."""
    rows = [[t(f"stage_{label}", lang), int(times.loc[label, "count"]), _hours(times.loc[label, "mean_h"]),
             _hours(times.loc[label, "median_h"])] for label, _, _ in STAGES]
    return _table([t("stage", lang), t("stage_count", lang), t("mean_h", lang), t("median_h", lang)], rows,
                  "stats-stages")


def backlog_table(frame: pd.DataFrame, names: list[str], key: str, lang: str) -> html.Table:
    """Open and overdue cases and the oldest open case's age, per village or handler."""
    rows = [[name, int(r.open), int(r.overdue), f"{r.oldest_days:.0f}"]
            for name, r in zip(names, frame.itertuples(), strict=True)]
    head = t("village" if key == "village_id" else "handler", lang)
    return _table([head, t("open", lang), t("overdue", lang), t("oldest_days", lang)], rows, f"stats-backlog-{key}")


def ranking_table(view: View, gridset: GridSet, lang: str, feedback: pd.DataFrame | None = None) -> html.Table:
    """Villages ranked by `township.read.stats.village_ranking` (score, rates, overdue); with the 回访
    answers ``feedback`` also each village's 返工率 and 满意率."""
    rank = village_ranking(view.cases, view.now, feedback=feedback).head(RANKING_ROWS)
    rows = [[int(r.rank), gridset.props(v)["name"] if v in gridset else v, int(r.total), pct(r.done_rate),
             pct(r.ontime_rate), pct(r.village_rate), int(r.overdue), f"{r.score:.1f}"]
            + ([pct(r.rework_rate), pct(r.satisfaction_rate)] if feedback is not None else [])
            for v, r in zip(rank.index, rank.itertuples(), strict=True)]
    keys = ("rank", "village", "total_n", "done_rate", "ontime_rate", "village_rate", "overdue", "score")
    head = [t(k, lang) for k in keys + (("rework_rate", "satisfaction_rate") if feedback is not None else ())]
    return _table(head, rows, "stats-ranking")


def body(view: View, entries: pd.DataFrame, gridset: GridSet, role: str, lang: str,
         feedback: pd.DataFrame | None = None) -> list:
    """The section's content for one view.

    ``entries`` are `township.read.stats.EntryTimes` (any superset of its cases);
    ``feedback`` the 回访 answers (`township.read.resident.feedback_frame`), for 返工率 and 满意率.
    """
    now = view.now
    by_village = backlog_by_village(view.cases, now).head(BACKLOG_ROWS["village_id"])
    village_names = [gridset.props(v)["name"] if v in gridset else t("none", lang) for v in by_village.index]
    by_handler = backlog_by_handler(view.cases, now).head(BACKLOG_ROWS["handler"])
    handler_names = [t("no_handler", lang) if h == NONE_LABEL else shown_name(h, role) for h in by_handler.index]
    parts = [
        html.Div([
            html.Div([rates(view, lang, feedback), html.H5(t("stage_times", lang)),
                      stage_table(stage_times(view.cases, entries), lang)], className="stats-col"),
            html.Div([html.H5(t("backlog_village", lang)),
                      backlog_table(by_village, village_names, "village_id", lang),
                      html.H5(t("backlog_handler", lang)),
                      backlog_table(by_handler, handler_names, "handler", lang)], className="stats-col"),
            html.Div([html.H5(t("trend", lang)),
                      dcc.Graph(id="stats-trend", figure=trend_chart(trend(view.cases), lang),
                                config={"displayModeBar": False})], className="stats-col"),
        ], className="stats-grid"),
    ]
    if sees_ranking(role):
        parts += [html.H5(t("ranking_head", lang)), ranking_table(view, gridset, lang, feedback)]
    return parts
