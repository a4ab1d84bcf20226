"""The analysis page (/analysis): the hotspot map with its legend and the ranked hot grids, and the monthly
evaluation (综合评价) with its downloads. Layout only; `callbacks.analysis` fills it."""
from __future__ import annotations

import pandas as pd
from dash import dcc, html

from layers.text import t
from township.domain.vocab import CASE_TYPES, DOMAINS, EVALUATION_UNITS, label
from township.read.evaluation import previous_month
from township.read.hotspots import HOTSPOT_WINDOWS
from ui import ids

#: Months offered in the evaluation's choice (the last month first).
MONTHS_OFFERED = 12


def _options(table: dict, lang: str) -> list[dict]:
    return [{"label": label(table, code, lang), "value": code} for code in table]


def months(year: int, month: int, n: int = MONTHS_OFFERED) -> list[str]:
    """``YYYY-MM`` of ``year``-``month`` and the ``n - 1`` months before it, newest first."""
    out = []
    for _ in range(n):
        out.append(f"{year:04d}-{month:02d}")
        year, month = previous_month(year, month)
    return out


def table(frame: pd.DataFrame, empty: str, id_: str | None = None) -> html.Table | html.P:
    """A plain HTML table of ``frame`` (None and NaN shown as —), or ``empty`` without rows."""
    if frame.empty:
        return html.P(empty, className="an-empty")
    def cell(v: object) -> str:
        return "—" if v is None or (isinstance(v, float) and v != v) else str(v)
    return html.Table([html.Thead(html.Tr([html.Th(c) for c in frame.columns])),
                       html.Tbody([html.Tr([html.Td(cell(v)) for v in row])
                                   for row in frame.itertuples(index=False)])],
                      className="an-table", **({"id": id_} if id_ else {}))


def page(lang: str, last_month: tuple[int, int], units: list[str]) -> html.Div:
    """The page's frame: controls, an empty map and list, the evaluation's choices."""
    windows = [{"label": t(w, lang), "value": w} for w in HOTSPOT_WINDOWS]
    measures = [{"label": t(f"an_measure_{m}", lang), "value": m} for m in ("count", "rate")]
    month_choices = months(*last_month)
    return html.Div([
        html.Header([html.H1(t("an_title", lang)), html.A(t("an_back", lang), href="/", className="an-back")],
                    className="an-header"),
        html.Section([
            html.H2(t("an_hotspots", lang)),
            html.Div([
                dcc.Dropdown(_options(DOMAINS, lang), None, id=ids.AN_DOMAIN, placeholder=t("domain", lang),
                             className="an-choice"),
                dcc.Dropdown(_options(CASE_TYPES, lang), None, id=ids.AN_TYPE, placeholder=t("type", lang),
                             className="an-choice"),
                dcc.RadioItems(windows, "90d", id=ids.AN_WINDOW, inline=True),
                dcc.RadioItems(measures, "count", id=ids.AN_MEASURE, inline=True),
            ], className="an-controls"),
            html.P(t("an_method", lang), className="an-method"),
            html.Div(id=ids.AN_MSG, className="an-msg"),
            html.Div([
                dcc.Graph(id=ids.AN_MAP, config={"displaylogo": False, "scrollZoom": True},
                          style={"height": "620px"}, className="an-map"),
                html.Div([html.H3(t("an_hot_list", lang)), html.Div(id=ids.AN_HOT)], className="an-list"),
            ], className="an-row"),
        ], className="an-section"),
        html.Section([
            html.H2(t("an_eval", lang)),
            html.Div([
                dcc.Dropdown([{"label": m, "value": m} for m in month_choices], month_choices[0], id=ids.AN_MONTH,
                             clearable=False, className="an-choice"),
                dcc.RadioItems([{"label": label(EVALUATION_UNITS, u, lang), "value": u} for u in units],
                               units[0], id=ids.AN_UNIT, inline=True),
                html.A(t("an_xlsx", lang), id=ids.AN_XLSX, href="", className="an-download"),
                html.A(t("an_pdf", lang), id=ids.AN_PDF, href="", target="_blank", className="an-download"),
            ], className="an-controls"),
            html.Div(id=ids.AN_EVAL),
        ], className="an-section"),
    ], className=f"analysis-page lang-{lang}")

