"""The dashboard's row of export links: the filtered cases as CSV/XLSX/GeoJSON, and the daily report."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from dash import html

from layers.text import t
from township.domain.filters import REPLAY_PARAMS
from ui import ids

#: Link id → download path; the filter query string is appended (see `downloads`).
EXPORT_LINKS: list[tuple[str, str]] = [
    (ids.EXPORT_CSV, "/export/cases.csv"),
    (ids.EXPORT_XLSX, "/export/cases.xlsx"),
    (ids.EXPORT_GEOJSON, "/export/features.geojson"),
    (ids.EXPORT_REPORT, "/report/daily"),
]
_LABELS = {ids.EXPORT_CSV: "CSV", ids.EXPORT_XLSX: "XLSX", ids.EXPORT_GEOJSON: "GeoJSON"}


#: Links that are not of a moment: the daily report is of its day, so a replayed ``t`` is left out of its link.
UNTIMED = frozenset({"/report/daily"})


def export_href(path: str, query: str | None) -> str:
    """``path`` under the dashboard's filter (``query`` as `FilterState.to_query` writes it: ``""`` or ``?…``).

    The case exports keep a replayed moment (they hold the cases as they were then, as the desk shows them);
    the daily report's link leaves it out (`UNTIMED`).
    """
    if path in UNTIMED and query:
        pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=True) if k not in REPLAY_PARAMS]
        query = "?" + urlencode(pairs, safe=",:") if pairs else ""
    return path + (query or "")


def export_row(query: str, lang: str) -> html.Div:
    """导出: CSV · XLSX · GeoJSON · 日报, each carrying the current filter."""
    links = [html.A(_LABELS.get(cid) or t("daily_report", lang), href=export_href(path, query), id=cid,
                    className="export-link", target="_blank" if cid == ids.EXPORT_REPORT else None)
             for cid, path in EXPORT_LINKS]
    return html.Div([html.Span(t("export", lang), className="export-label"), *links], id=ids.EXPORT_ROW,
                    className="export-row")
