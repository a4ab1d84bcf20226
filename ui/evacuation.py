"""Evacuation progress as the screens show it: counts and bars only, never a person.

`progress` is the warning card's section (x / y households moved, by village,
by status, the shelters' occupancy, the start button for who may start it);
`wall_bars` the wall's panel (a bar per affected village). Both take
`township.loop.evacroster.EvacuationOut`, whose counts every reader may see.
"""
from __future__ import annotations

from dash import html

from layers.text import t
from township.domain.vocab import EVAC_STATUS_COLORS, EVAC_STATUSES, label
from township.grids.model import GridSet
from township.loop.evacroster import EvacuationOut, VillageCountOut
from ui import ids
from ui.legend import evacuation_key

#: Colours of a shelter's state.
SHELTER_COLORS = {"ok": "#2E7D32", "amber": "#FFB300", "full": "#C62828"}


def _village_name(gridset: GridSet, village_id: str | None) -> str:
    return gridset.props(village_id)["name"] if village_id and village_id in gridset else (village_id or "—")


def bar(moved: int, total: int, text: str, class_name: str = "evac-bar") -> html.Div:
    """A progress bar: ``moved`` of ``total`` filled, with ``text`` over it."""
    share = moved / total if total else 0.0
    return html.Div([html.Div(className="evac-fill", style={"width": f"{share:.0%}"}),
                     html.Span(text, className="evac-bar-text")], className=class_name)


def _village_rows(villages: list[VillageCountOut], gridset: GridSet, lang: str) -> list:
    return [html.Div([html.Span(_village_name(gridset, v.village_id), className="evac-village"),
                      bar(v.moved, v.total, f"{v.moved} / {v.total}")], className="evac-row")
            for v in villages]


def progress(evac: EvacuationOut, gridset: GridSet, lang: str, may_start: bool, move_id: dict,
             ledger_href: str | None) -> html.Div:
    """The warning card's 转移安置 section."""
    unit = t("evac_households", lang)
    if not evac.started:
        head = [html.B(t("evac_proposed", lang)), f" · {evac.total} {unit}",
                f" · {t('evac_vulnerable', lang)} {evac.vulnerable}"]
        body: list = [html.Div(head)]
        if evac.opens_roster:
            body.append(html.Div(t("evac_opens", lang), className="hint evac-advice"))
        if may_start and evac.total:
            body.append(html.Button(t("evac_start", lang), id=move_id, className="case-move evac-start"))
        elif not evac.total:
            body.append(html.Div(t("evac_none", lang), className="hint"))
        return html.Div(body, id=ids.EVAC_SECTION, className="evac-section")
    statuses = html.Div([html.Span(f"{label(EVAC_STATUSES, s, lang)} {n}", className="evac-status",
                                   style={"borderColor": EVAC_STATUS_COLORS[s]})
                         for s, n in evac.by_status.items() if n], className="evac-statuses")
    shelters = html.Ul([html.Li([html.Span("●", style={"color": SHELTER_COLORS[s.state]}),
                                 f" {s.name} {s.people}/{s.capacity} {t('evac_people', lang)}"])
                        for s in evac.shelters if s.people], className="evac-shelters")
    body = [
        html.Div([html.B(t("evac_moved", lang)), f" {evac.moved} / {evac.total} {unit}",
                  f" · {t('evac_vulnerable', lang)} {evac.vulnerable_moved} / {evac.vulnerable}"],
                 className="evac-head"),
        bar(evac.moved, evac.total, f"{evac.moved} / {evac.total}"),
        evacuation_key(lang),  # the map's grid shading
        statuses, *_village_rows(evac.villages, gridset, lang),
        html.H5(t("evac_shelters", lang)), shelters,
    ]
    if ledger_href:
        body.append(html.A(t("evac_ledger", lang), href=ledger_href, target="_blank", className="evac-ledger"))
    return html.Div(body, id=ids.EVAC_SECTION, className="evac-section")


def wall_bars(items: list[tuple[str, EvacuationOut]], gridset: GridSet, lang: str) -> list:
    """The wall's evacuation panel: per started evacuation its title, x / y moved, a bar per village."""
    out: list = [html.H3(t("evac_wall", lang))] if items else []
    for title, evac in items:
        out.append(html.Div([
            html.Div([html.B(title), html.Span(f" {t('evac_moved', lang)} {evac.moved} / {evac.total}",
                                               className="evac-count")], className="evac-head"),
            *_village_rows(evac.villages, gridset, lang)], className="evac-wall-item"))
    return out


__all__ = ["SHELTER_COLORS", "bar", "progress", "wall_bars"]
