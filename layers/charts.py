"""Bar charts of cases by domain and by village.

Built as plain figure dicts: ``go.Figure`` validates every attribute, which
cost more than the rest of a filter change together (bench/results.md).
"""
from __future__ import annotations

import pandas as pd

from ui.text import t

OPEN_COLOR, OVERDUE_COLOR, DONE_COLOR = "#FB8C00", "#E53935", "#90A4AE"


def counts_chart(counts: pd.DataFrame, labels: list[str], lang: str, height: int = 260) -> dict:
    """A horizontal stacked bar: open (of which overdue) and done, per row of ``counts``.

    Parameters
    ----------
    counts : DataFrame
        Columns ``open``, ``overdue``, ``done`` (see ``township.services.counts_by``).
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
