"""Bar charts of cases by domain and by village.

Built as plain figure dicts: ``go.Figure`` validates every attribute, which
cost more than the rest of a filter change together (bench/results.md).
"""
from __future__ import annotations

import pandas as pd

from layers.text import t

OPEN_COLOR, OVERDUE_COLOR, DONE_COLOR = "#FB8C00", "#E53935", "#90A4AE"


def counts_chart(counts: pd.DataFrame, labels: list[str], lang: str, height: int = 260) -> dict:
    """A horizontal stacked bar: open (of which overdue) and done, per row of ``counts``.

    Parameters
    ----------
    counts : DataFrame
        Columns ``open``, ``overdue``, ``done`` (see ``township.read.views.counts_by``).
    labels : list[str]
        The screen label of each row.
    """
    bars = [
        ("overdue", counts["overdue"], OVERDUE_COLOR),
        ("open", counts["open"] - counts["overdue"], OPEN_COLOR),
        ("done", counts["done"], DONE_COLOR),
    ]
    return {
        "data": [
            {"type": "bar", "name": t(key, lang), "y": labels, "x": values.tolist(), "orientation": "h",
             "marker": {"color": color}, "hovertemplate": "%{y}: %{x}<extra>" + t(key, lang) + "</extra>"}
            for key, values, color in bars
        ],
        "layout": {
            "barmode": "stack", "height": height, "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
            "legend": {"orientation": "h", "y": -0.12}, "yaxis": {"autorange": "reversed", "automargin": True},
            "plot_bgcolor": "rgba(0,0,0,0)", "paper_bgcolor": "rgba(0,0,0,0)", "font": {"size": 12},
        },
    }


REPORTED_COLOR = "#5C6BC0"


def trend_chart(weekly: pd.DataFrame, lang: str, height: int = 240) -> dict:
    """Cases reported and done per week, two lines (``weekly`` from ``township.read.stats.trend``)."""
    weeks = [d.strftime("%m-%d") for d in weekly.index]
    lines = [("reported_n", "reported", REPORTED_COLOR), ("done_n", "done", DONE_COLOR)]
    return {
        "data": [
            {"type": "scatter", "mode": "lines+markers", "name": t(key, lang), "x": weeks,
             "y": weekly[col].tolist(), "line": {"color": color, "width": 2}, "marker": {"size": 5},
             "hovertemplate": "%{x}: %{y}<extra>" + t(key, lang) + "</extra>"}
            for key, col, color in lines
        ],
        "layout": {
            "height": height, "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
            "legend": {"orientation": "h", "y": -0.2}, "xaxis": {"automargin": True, "type": "category"},
            "yaxis": {"automargin": True, "rangemode": "tozero"},
            "plot_bgcolor": "rgba(0,0,0,0)", "paper_bgcolor": "rgba(0,0,0,0)", "font": {"size": 12},
        },
    }
