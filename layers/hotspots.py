"""Pure builders of the analysis page: the hotspot map (grid fills by Gi* bin, with its legend), the ranked
list of hot grids, and the monthly evaluation as a labelled table and a printable page."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from layers.basemap import map_style, view_for_bounds
from layers.mapfig import geometry_only
from layers.text import t
from township.domain.vocab import EVALUATION_UNITS, HOTSPOT_BINS, HOTSPOT_COLORS, TREND_LABELS, label
from township.grids.model import GridSet
from township.read.evaluation import MonthlyEvaluation

#: Rates of the evaluation table, in the order shown, with their text keys.
RATES: tuple[tuple[str, str], ...] = (("closed_rate", "an_closed_rate"), ("ontime_rate", "an_ontime_rate"),
                                      ("late_rate", "an_late_rate"), ("village_rate", "an_village_rate"),
                                      ("rework_rate", "an_rework_rate"))


def _grid_name(gridset: GridSet, grid_id: str) -> str:
    return f"{gridset.props(grid_id)['name']} ({grid_id})" if grid_id in gridset else grid_id


def hotspot_figure(gridset: GridSet, frame: pd.DataFrame, lang: str, tile_url: str | None = None,
                   attribution: str = "", size: tuple[int, int] = (900, 620)) -> dict:
    """The map: one fill trace per bin present (its legend entry), village outlines over them.

    ``frame`` is `township.read.hotspots.for_viewer`'s (``grid_id``, ``count``, ``z``, ``p``, ``bin``,
    ``trend``, ``repeats``); the map frames its grids.
    """
    grid_fc = gridset.feature_collection(3)
    data = []
    for b in sorted(HOTSPOT_COLORS, reverse=True):
        part = frame[frame["bin"] == b]
        if part.empty:
            continue
        hover = [f"{_grid_name(gridset, r.grid_id)}<br>{t('an_count', lang)} {r.count} · z {r.z:.2f} · p {p_text(r.p)}"
                 f"<br>{label(TREND_LABELS, r.trend, lang) if r.trend else '—'} · {t('an_repeats', lang)} {r.repeats}"
                 for r in part.itertuples(index=False)]
        colour = HOTSPOT_COLORS[b]
        data.append({"type": "choroplethmap", "name": label(HOTSPOT_BINS, b, lang), "geojson": geometry_only(grid_fc),
                     "locations": part["grid_id"].tolist(), "z": [1] * len(part),
                     "colorscale": [[0, colour], [1, colour]], "showscale": False, "showlegend": True,
                     "marker": {"line": {"color": "#607D8B", "width": 0.6}, "opacity": 0.8},
                     "text": hover, "hovertemplate": "%{text}<extra></extra>", "legendrank": 10 - b})
    villages = sorted({v for v in frame.get("village_id", pd.Series(dtype=object)).dropna()})
    village_fc = gridset.feature_collection(2)
    data.append({"type": "choroplethmap", "name": "villages", "geojson": geometry_only(village_fc),
                 "locations": villages, "z": [0] * len(villages), "colorscale": [[0, "rgba(0,0,0,0)"],
                                                                                 [1, "rgba(0,0,0,0)"]],
                 "showscale": False, "showlegend": False, "hoverinfo": "skip",
                 "marker": {"line": {"color": "#263238", "width": 1.6}, "opacity": 1}})
    center, zoom = view_for_bounds(gridset.bounds(frame["grid_id"].tolist() or None), *size)
    return {"data": data, "layout": {
        "map": {"style": map_style(tile_url, attribution), "center": center, "zoom": zoom},
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "showlegend": True,
        "legend": {"x": 0.01, "y": 0.99, "bgcolor": "rgba(255,255,255,0.9)", "font": {"size": 14},
                   "title": {"text": t("an_bin", lang)}},
        "paper_bgcolor": "rgba(0,0,0,0)"}}


def p_text(p: float) -> str:
    """A p-value as people read it: three decimals, ``<0.001`` below that."""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def hot_list(gridset: GridSet, hot: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The hot grids ranked (``HotspotResult.hot`` order) as screen rows with labelled columns."""
    return pd.DataFrame({
        t("an_rank", lang): np.arange(1, len(hot) + 1),
        t("an_grid", lang): [_grid_name(gridset, g) for g in hot["grid_id"]],
        t("an_count", lang): hot["count"].to_numpy(),
        "z": np.round(hot["z"].to_numpy(dtype=float), 2),
        "p": [p_text(p) for p in hot["p"].to_numpy(dtype=float)],
        t("an_bin", lang): [label(HOTSPOT_BINS, int(b), lang) for b in hot["bin"]],
        t("an_trend", lang): [label(TREND_LABELS, x, lang) if x else "—" for x in hot["trend"]],
        t("an_repeats", lang): hot["repeats"].to_numpy(),
    })


def _unit_name(gridset: GridSet, unit: str, key: str) -> str:
    return key if unit == "handler" else _grid_name(gridset, key)


def evaluation_table(ev: MonthlyEvaluation, gridset: GridSet, lang: str) -> pd.DataFrame:
    """The evaluation as a table to show or save: rank, unit, due, the rates in %, the changes."""
    tab = ev.table

    def pct(values: pd.Series) -> pd.Series:
        return pd.Series([None if pd.isna(v) else round(float(v) * 100, 1) for v in values], dtype=object)

    out = pd.DataFrame({
        t("an_rank", lang): tab["rank"].to_numpy(),
        # Signed, as a league table shows movers: +3 moved up three places; none for a unit new this month.
        t("an_rank_change", lang): pd.Series([None if pd.isna(v) else f"{int(v):+d}" if v else "0"
                                              for v in tab["rank_change"]], dtype=object),
        label(EVALUATION_UNITS, ev.unit, lang): [_unit_name(gridset, ev.unit, k) for k in tab.index],
        t("an_due", lang): tab["due"].to_numpy(),
        t("an_resolved", lang): tab["resolved"].to_numpy(),
    })
    for col, key in RATES:
        out[f"{t(key, lang)} %"] = pct(tab[col])
    out[f"{t('an_ontime_change', lang)} %"] = pct(tab["ontime_change"])
    return out


def evaluation_html(ev: MonthlyEvaluation, gridset: GridSet, lang: str) -> str:
    """A printable A4 page of the evaluation (rendered to PDF by `township.runtime.render`)."""
    table = evaluation_table(ev, gridset, lang)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    def cell(v: object) -> str:
        return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else html.escape(str(v))

    rows = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    title = f"{t('an_eval', lang)} · {label(EVALUATION_UNITS, ev.unit, lang)} · {ev.label}"
    empty = "" if len(table) else f"<p>{html.escape(t('an_no_rows', lang))}</p>"
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>@page{size:A4 landscape;margin:12mm}body{font-family:'Noto Sans CJK SC',sans-serif;"
            "font-size:11px}table{border-collapse:collapse;width:100%}th,td{border:1px solid #90A4AE;"
            "padding:3px 5px;text-align:right}td:nth-child(3),th:nth-child(3){text-align:left}"
            "th{background:#ECEFF1}</style></head>"
            f"<body><h2>{html.escape(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
            f"</table>{empty}</body></html>")
