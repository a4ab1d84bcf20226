"""The map's legend, the same on the desk and the wall: what every colour and shape on the map means.

Built from the same tables the map is drawn from (layers/mapfig.py, layers/basemap.py and the
vocabulary), so the legend cannot say one colour while the map draws another.
"""
from __future__ import annotations

from collections.abc import Collection

import numpy as np
from dash import html

from layers.basemap import BASE_COLOURS
from layers.mapfig import (
    EVAC_GRID_LINE,
    EVAC_GRID_OPACITY,
    EVAC_GRID_SCALE,
    LEGEND_PX,
    OVERDUE_RING,
    RESOURCE_INK,
    RESOURCE_SYMBOLS,
    colour_ticks,
)
from layers.text import t
from township.domain.vocab import CASE_STATUS_COLORS, CASE_STATUSES, RESOURCE_KINDS, WARNING_LEVELS, label
from ui import ids


def scale_ticks(measure: str, scale_max: float) -> list[str]:
    """The numbers under the colour bar: whole numbers from 0 to the top for counts (as the map's ticks)."""
    top = max(float(scale_max), 1.0)
    ticks = colour_ticks(measure, float(np.ceil(top)))
    if not ticks:
        return ["0", f"{top:.1f}"]
    step = ticks["dtick"]
    values = list(range(0, int(np.ceil(top)) + 1, step))
    if values[-1] < top:
        values.append(values[-1] + step)
    return [str(v) for v in values]


def _swatch(cls: str, **style: str) -> html.Span:
    return html.Span(className=f"lg-swatch {cls}", style=style)


def _item(swatch, text: str) -> html.Span:
    return html.Span([swatch, html.Span(text)], className="lg-item")


def _group(title: str, items: list, cls: str = "") -> html.Div:
    return html.Div([html.Div(title, className="lg-title"), html.Div(items, className="lg-items")],
                    className=f"lg-group {cls}".strip())


def map_legend(lang: str, layers: Collection[str], scale_max: float | None = None, theme: str = "light",
               measure: str = "open", gradient: str | None = None) -> list:
    """The legend's groups for the layers shown.

    Parameters
    ----------
    lang : str
        ``zh`` or ``en``.
    layers : collection of str
        The layers the map shows (``cases``, ``warnings``, ``resources``; ``evacuation``: the grids shaded by
        the share of households moved, on the desk only).
    scale_max : float, optional
        The top of the grid colour scale (the town's largest value); no colour bar without it
        (the desk's map draws its own).
    theme : str
        ``light`` (desk) or ``dark`` (wall).
    measure : str
        The grid colour's measure.
    gradient : str, optional
        CSS gradient of the colour bar.
    """
    groups = []
    if scale_max is not None:
        ticks = scale_ticks(measure, scale_max)
        bar = html.Span(className="lg-bar", style={"background": gradient} if gradient else {})
        groups.append(_group(f"{t('legend_grid_scale', lang)} · {t(measure, lang)}",
                             [html.Div([bar, html.Div([html.Span(v) for v in ticks], className="lg-ticks")],
                                       className="lg-scale")]))
    if "cases" in layers:
        items = [_item(_swatch("lg-dot", background=CASE_STATUS_COLORS[s]), label(CASE_STATUSES, s, lang))
                 for s in CASE_STATUSES]
        items.append(_item(_swatch("lg-ring", **{"border-color": OVERDUE_RING}), t("legend_overdue_halo", lang)))
        groups.append(_group(t("legend_cases", lang), items))
    if "warnings" in layers:
        items = [_item(_swatch("lg-warn", background=v["color"]), v[lang]) for v in WARNING_LEVELS.values()]
        if theme == "dark":
            items += [_item(_swatch("lg-circle", **{"border-color": WARNING_LEVELS[1]["color"]}),
                            t("legend_radius", lang)),
                      _item(_swatch("lg-area"), t("legend_affected", lang))]
        groups.append(_group(t("legend_warnings", lang), items))
    if "resources" in layers:
        ink = RESOURCE_INK[theme][0]
        items = [_item(html.Span(sym, className="lg-symbol", style={"color": ink}), label(RESOURCE_KINDS, k, lang))
                 for k, sym in RESOURCE_SYMBOLS.items()]
        groups.append(_group(t("legend_resources", lang), items))
    if "evacuation" in layers:
        groups.append(evacuation_key(lang))
    base = BASE_COLOURS[theme]
    groups.append(_group(t("legend_base", lang), [
        _item(_swatch("lg-line", background=base["river"]), t("legend_river", lang)),
        _item(_swatch("lg-line thin", background=base["road"]), t("legend_road", lang)),
        _item(_swatch("lg-dot small", background=base["settlement"]), t("legend_settlement", lang)),
    ], "lg-base"))
    return groups


def evacuation_key(lang: str) -> html.Div:
    """The key of the evacuation's grid shading (share of households moved): in the warning card's evacuation
    and, while the map shades grids, in the desk legend's column."""
    low, high = (c for _, c in EVAC_GRID_SCALE)
    shade = _swatch("lg-evac", background=f"linear-gradient(90deg, {low}, {high})",
                    opacity=str(EVAC_GRID_OPACITY), **{"border-color": EVAC_GRID_LINE})
    return _group(t("evac", lang), [_item(shade, t("legend_evac_share", lang))])


def desk_legend(lang: str) -> html.Details:
    """The desk map's legend: a column beside the map, in the figure's right margin (``LEGEND_PX``) under the
    map's own colour bar of the grids (the bar follows the measure and the filter), so it never covers the
    map; it folds away. The evacuation's key (`ids.LEGEND_EVAC`) is hidden until the map shades an
    evacuation's grids (callbacks/dashboard.py shows it with them)."""
    evac = html.Div(evacuation_key(lang), id=ids.LEGEND_EVAC, hidden=True)
    return html.Details([html.Summary(t("legend", lang)),
                         html.Div([*map_legend(lang, ("cases", "warnings", "resources")), evac],
                                  className="lg-body")],
                        className="map-legend", open=True, style={"width": f"{LEGEND_PX}px"})
