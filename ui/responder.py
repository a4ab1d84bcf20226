"""The responder view ``/grid/<grid_id>``: one grid on a phone, usable with one thumb.

Who to call, what is open, which warnings reach the grid, what help is near
and the way back up — from the same data as the offline field map
(`township.read.fieldmap.grid_fieldmap_data`), so the page and the download
say the same. Pure builders: arguments in, Dash components out.

Everything stacks in one column (no horizontal scroll at 390 px); every
link and button is at least 44 px tall. The map is a static picture of the
dashboard's layers zoomed to the grid: on a phone a draggable map traps the
thumb that scrolls the page, and the downloadable field map is the one to pan.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd
from dash import dcc, html

from layers.basemap import view_for_bounds
from layers.mapfig import (
    CASES,
    EMPTY_FC,
    GRIDS,
    OVERDUE,
    RESOURCES,
    TOWN,
    VILLAGES,
    WARNINGS,
    age_text,
    apply_updates,
    base_figure,
    case_update,
    grid_colours,
    grid_labels,
    overdue_update,
    resource_update,
    warning_update,
)
from layers.text import t
from township.domain.isotime import LOCAL_TZ
from township.domain.policy import ANONYMOUS_ROLE, sees_personal
from township.domain.privacy import shown_name, shown_phone
from township.domain.vocab import (
    CASE_STATUS_COLORS,
    CASE_STATUSES,
    CASE_TYPES,
    RESOURCE_COLORS,
    RESOURCE_KINDS,
    WARNING_LEVELS,
    WARNING_STATUSES,
    WARNING_TYPES,
    label,
)
from township.grids.model import GridSet
from township.grids.spatial import neighbours
from township.read.contacts import Contact
from township.read.fieldmap import FieldMapData
from township.read.views import grid_values
from ui import ids

#: Map size on a 390 px phone (the section's padding taken off).
MAP_W, MAP_H = 360, 300
#: Zoom out from a tight fit, so the neighbours frame the grid.
CONTEXT_ZOOM = 0.9
#: Outline of the grid in focus (the field map's colour for it).
FOCUS_LINE = "#0D47A1"
#: Resources listed before the rest fold under "more".
FIRST_RESOURCES = 6
CLEAR = [[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]]


def _subset(fc: dict, keep: list[str]) -> dict:
    """The features of ``fc`` whose id is in ``keep``, in that order."""
    by_id = {f["id"]: f for f in fc["features"]}
    return {"type": "FeatureCollection", "features": [by_id[g] for g in keep if g in by_id]}


def village_href(gridset: GridSet, grid_id: str) -> str:
    """The dashboard drilled into the grid's village, with this grid's panel open."""
    return f"/?village={gridset.village_of(grid_id)}&level=3&grid={grid_id}"


def grid_figure(data: FieldMapData, gridset: GridSet, role: str, lang: str, cases: pd.DataFrame,
                style: dict) -> dict:
    """The small map: the grid and two rings of grids around it coloured by open cases, the village outline, points.

    Parameters
    ----------
    data : FieldMapData
        The grid's field-map data (its cases, warnings, resources, neighbours).
    gridset : GridSet
        The grids in use.
    role : str
        Officers' names in the hover are masked for roles that may not see them.
    lang : str
        Screen language.
    cases : DataFrame
        All cases of the snapshot (the neighbours' open counts).
    style : dict
        MapLibre style (`layers.basemap.map_style`).
    """
    gid = data.grid_id
    # Two rings of grids around it, so the picture has no holes at its edges.
    shown = [gid, *data.neighbours, *neighbours(gridset, [gid, *data.neighbours])]
    village = gridset.village_of(gid)
    center, zoom = view_for_bounds(gridset.bounds([gid]), width=MAP_W, height=MAP_H)
    fig = base_figure(EMPTY_FC, _subset(gridset.feature_collection(2), [village]),
                      _subset(gridset.feature_collection(3), shown), style, (center, zoom - CONTEXT_ZOOM))
    now = data.generated_at
    open_ = grid_values(cases, gridset, shown, "open", now)
    labels = grid_labels(shown, gridset, role, own=_own_villages(data, gridset, role))
    grids = {**labels, **grid_colours(shown, open_, "open", lang, 3, selected=gid)}
    grids["showscale"] = False  # no room for a colour bar on a phone
    grids["marker"]["line"]["color"] = [FOCUS_LINE if g == gid else "#607D8B" for g in shown]
    mine = data.cases
    apply_updates(fig, {
        TOWN: {"visible": False},
        VILLAGES: {"locations": [village], "z": [0], "colorscale": CLEAR, "showscale": False,
                   "hoverinfo": "skip", "marker": {"line": {"width": 2.5, "color": "#455A64"}}},
        GRIDS: grids,
        OVERDUE: overdue_update(mine[mine["overdue"].to_numpy(bool)]),
        CASES: case_update(mine, mine["overdue"].to_numpy(bool), now, lang),
        WARNINGS: warning_update(data.warnings, lang),
        RESOURCES: resource_update(data.resources, lang),
    })
    return fig


def _tel(phone: str | None, role: str, text: str, cls: str, lang: str, id_: str | None = None):
    """A ``tel:`` link for roles that may see numbers; the masked number, without a link, for the rest."""
    extra = {"id": id_} if id_ else {}
    if not phone:
        return html.Span("—", className="rsp-dim", **extra)
    if sees_personal(role):
        return html.A(" ".join(v for v in ("☎", text, phone) if v), href="tel:" + re.sub(r"[^0-9+]", "", phone),
                      className=cls, **extra)
    return html.Span(f"☎ {shown_phone(phone, role)}", className=f"{cls} rsp-masked", title=t("rsp_masked", lang),
                     **extra)


def _direction(row, lang: str) -> str:
    d = float(row.distance_m)
    if d <= 0:
        return t("inside", lang)
    dist = f"{d:.0f} m" if d < 1000 else f"{d / 1000:.1f} km"
    return f"{t('compass_' + row.direction, lang)} {dist}"


def _local(value, fmt: str = "%m-%d %H:%M") -> str:
    """A stored naive-UTC time in Beijing time."""
    return pd.Timestamp(value).tz_localize("UTC").tz_convert(LOCAL_TZ).strftime(fmt)


def _titled(key: str, n: int, lang: str, extra: str = "") -> str:
    """A section title with its count: 在办事件(2) / Open cases (2)."""
    return f"{t(key, lang)}({n}{extra})" if lang == "zh" else f"{t(key, lang)} ({n}{extra})"


def _chip(text: str, colour: str, dark_text: bool = False) -> html.Span:
    return html.Span(text, className="rsp-chip",
                     style={"background": colour, "color": "#212121" if dark_text else "#fff"})


def officer_section(props: dict, gridset: GridSet, grid_id: str, role: str, lang: str,
                    call: html.A | html.Span | None = None) -> html.Section:
    """Who is responsible (their number a plain link: the responder reading this is often they), and the
    big call button ``call`` (`reporter_call`)."""
    facts = [f"{t(k, lang)} {props[k]}" for k in ("households", "population", "party_members")
             if props.get(k) is not None]
    facts.append(f"{t('area', lang)} {gridset.area_km2(grid_id):.2f}")
    name = shown_name(props.get("officer"), role) or "—"
    return html.Section([
        html.H2(t("officer", lang)),
        html.Div(name, id=ids.RSP_OFFICER, className="rsp-person"),
        html.Div(" · ".join(facts), className="rsp-dim"),
        _tel(props.get("officer_phone"), role, "", "rsp-link rsp-officer-phone", lang, "rsp-officer-phone"),
        call,
    ], className="rsp-officer")


def reporter_call(cases: pd.DataFrame, contacts: dict[int, Contact], role: str, lang: str) -> html.A | html.Span:
    """The big call button: the reporter of the most urgent open case (overdue first) who left a number,
    dialled only where ``role`` may see their number (masked, without a link, elsewhere)."""
    for c in cases.itertuples():
        contact = contacts.get(int(c.id))
        if contact is not None and contact.phone:
            text = f"{t('rsp_call_reporter', lang)} {shown_name(contact.name, role) or ''} #{int(c.id)}".strip()
            return _tel(contact.phone, role, text, "rsp-call", lang, ids.RSP_CALL)
    return html.Span(t("rsp_no_reporter", lang), id=ids.RSP_CALL, className="rsp-dim")


def warnings_section(warnings: pd.DataFrame, lang: str) -> html.Section:
    """Live warnings reaching the grid, most severe first, each with its own field map."""
    items = []
    for w in warnings.itertuples():
        lv = WARNING_LEVELS[int(w.level)]
        radius = f"{w.radius_m / 1000:.1f} km"
        items.append(html.Li([
            html.Div([_chip(lv[lang], lv["color"], int(w.level) == 3), " ",
                      html.B(label(WARNING_TYPES, w.type, lang)), " ", w.title]),
            html.Div(f"{t('radius', lang)} {radius} · {label(WARNING_STATUSES, w.status, lang)} · "
                     f"{t('issued', lang)} {_local(w.issued_at)}", className="rsp-dim"),
            html.A(f"{t('rsp_warning_map', lang)} ↓", href=f"/warnings/{int(w.id)}/fieldmap.html",
                   className="rsp-link"),
        ], className="rsp-warning", style={"borderLeftColor": lv["color"]}))
    return html.Section([
        html.H2(_titled("reach_warnings", len(items), lang)),
        html.Ul(items or [html.Li(t("none", lang), className="rsp-dim")], id=ids.RSP_WARNINGS),
    ])


def cases_section(cases: pd.DataFrame, now, lang: str, contacts: dict[int, Contact] | None = None,
                  role: str = ANONYMOUS_ROLE) -> html.Section:
    """Open cases, overdue first: title, type, status, an overdue mark, the age, and whom to call about it
    (its reporter's number as ``role`` may see it)."""
    ages = age_text(now, cases["reported_at"], lang) if len(cases) else []
    items = []
    for c, age in zip(cases.itertuples(), ages, strict=True):
        over = bool(c.overdue)
        status = _chip(label(CASE_STATUSES, c.status, lang), CASE_STATUS_COLORS.get(c.status, "#757575"))
        items.append(html.Li([
            html.Div([html.B(c.title), " ", html.Span(t("overdue", lang), className="rsp-overdue") if over else None]),
            html.Div([status, f" {label(CASE_TYPES, c.type, lang)} · {t('age', lang)} {age} · "
                              f"{t('rsp_deadline', lang)} {_local(c.deadline_at)} · #{int(c.id)}"],
                     className="rsp-dim"),
            _reporter_line((contacts or {}).get(int(c.id)), role, lang),
        ], className="rsp-case rsp-case-overdue" if over else "rsp-case"))
    n_over = int(cases["overdue"].sum()) if len(cases) else 0
    extra = (",", ", ")[lang != "zh"] + f"{t('overdue', lang)} {n_over}" if n_over else ""
    return html.Section([html.H2(_titled("open_cases", len(items), lang, extra)),
                         html.Ul(items or [html.Li(t("none", lang), className="rsp-dim")], id=ids.RSP_CASES)])


def _reporter_line(contact: Contact | None, role: str, lang: str) -> html.Div | None:
    if contact is None:
        return None
    name = shown_name(contact.name, role) or ""
    if not contact.phone:
        return html.Div(f"{t('reporter', lang)} {name}", className="rsp-dim")
    return html.Div([f"{t('reporter', lang)} {name} ", _tel(contact.phone, role, "", "rsp-link", lang)],
                    className="rsp-dim")


def _own_villages(data: FieldMapData, gridset: GridSet, role: str) -> set[str | None] | None:
    """The villages whose people the viewer sees as its role allows (None: every village), by
    `township.read.fieldmap.for_viewer`'s ``seen_as``."""
    if all(seen == role for seen in data.seen_as.values()):
        return None
    return {gridset.village_of(g) for g, seen in data.seen_as.items() if seen == role}


def resources_section(resources: pd.DataFrame, role: str, lang: str,
                      seen_as: Mapping[str, str] | None = None) -> html.Section:
    """Resources in or near, nearest first: distance and compass direction, and whom to call.

    ``seen_as`` (grid → role) shows a resource's contact as its grid's people are shown to the viewer.
    """
    seen_as = seen_as or {}
    items = [
        html.Li([
            html.Div([html.Span("●", style={"color": RESOURCE_COLORS.get(r.kind, "#455A64")}), " ", html.B(r.name)]),
            html.Div(f"{label(RESOURCE_KINDS, r.kind, lang)} · {_direction(r, lang)}", className="rsp-dir"),
            html.Div([shown_name(r.contact, seen_as.get(r.grid_id, role)) or "—", " ",
                      _tel(r.phone, seen_as.get(r.grid_id, role), "", "rsp-tel", lang)]),
        ], className="rsp-resource")
        for r in resources.itertuples()
    ]
    listed: list = items[:FIRST_RESOURCES] or [html.Li(t("none", lang), className="rsp-dim")]
    more = (html.Details([html.Summary(_titled("rsp_more", len(items) - FIRST_RESOURCES, lang)),
                          html.Ul(items[FIRST_RESOURCES:])]) if len(items) > FIRST_RESOURCES else None)
    return html.Section([html.H2(_titled("near_resources", len(items), lang)),
                         html.Ul(listed, id=ids.RSP_RESOURCES), more])


def neighbours_section(gridset: GridSet, neighbours: list[str], role: str, lang: str,
                       seen_as: Mapping[str, str] | None = None) -> html.Section:
    """The grids around, each a link to its own responder view, with its officer's number
    (shown as ``seen_as`` says for its grid: another village's officer masked for a village operator)."""
    items = []
    for g in neighbours:
        p = gridset.props(g)
        who = (seen_as or {}).get(g, role)
        items.append(html.Li([
            html.A(p["name"], href=f"/grid/{g}", className="rsp-link rsp-grid-link"),
            html.Div([shown_name(p.get("officer"), who) or "—", " ",
                      _tel(p.get("officer_phone"), who, "", "rsp-tel", lang)]),
        ]))
    return html.Section([html.H2(_titled("rsp_neighbours", len(items), lang)),
                         html.Ul(items or [html.Li(t("none", lang), className="rsp-dim")], id=ids.RSP_NEIGHBOURS)])


def downloads_section(grid_id: str, lang: str) -> html.Section:
    """The field map to keep on the phone: HTML (works offline), PDF and PNG (A4)."""
    links = [html.A(t(f"rsp_dl_{fmt}", lang), href=f"/grid/{grid_id}/fieldmap.{fmt}", id=cid,
                    className="rsp-download")
             for fmt, cid in (("html", ids.RSP_DOWNLOAD_HTML), ("pdf", ids.RSP_DOWNLOAD_PDF),
                              ("png", ids.RSP_DOWNLOAD_PNG))]
    return html.Section([html.H2(t("rsp_downloads", lang)), html.Div(links, className="rsp-downloads")])


def page(data: FieldMapData, gridset: GridSet, role: str, lang: str, cases: pd.DataFrame, style: dict,
         search: str = "", contacts: dict[int, Contact] | None = None) -> html.Div:
    """The whole responder view of ``data.grid_id``.

    Parameters
    ----------
    data : FieldMapData
        `township.read.fieldmap.grid_fieldmap_data` of the grid.
    gridset : GridSet
        The grids in use.
    role : str
        The viewer's role: names, numbers and ``tel:`` links as it may see them.
    lang : str
        ``zh`` or ``en``.
    cases : DataFrame
        All cases of the snapshot (for the map's neighbour colours).
    style : dict
        The map style (offline by default).
    search : str
        The page's query string, kept by the refresh link.
    contacts : dict, optional
        The reporters of ``data.cases`` (`township.read.contacts.reporters`), shown as the grid's people
        are shown to the viewer (``data.seen_as``).
    """
    gid = data.grid_id
    props = gridset.props(gid)
    village = gridset.village_of(gid)
    vname = gridset.props(village)["name"] if village else ""
    figure = grid_figure(data, gridset, role, lang, cases, style)
    stamp = _local(data.generated_at, "%Y-%m-%d %H:%M")
    return html.Div([
        html.Header([html.Div(props["name"], className="rsp-title"),
                     html.Div(f"{vname} · {gid}", className="rsp-sub")], className="rsp-head"),
        html.Nav([html.A(f"‹ {t('rsp_back_town', lang)}", href="/", id=ids.RSP_BACK_TOWN),
                  html.A(f"‹ {vname or t('rsp_back_village', lang)}", href=village_href(gridset, gid),
                         id=ids.RSP_BACK_VILLAGE)], className="rsp-nav"),
        officer_section(props, gridset, gid, role, lang,
                        reporter_call(data.cases, contacts or {}, data.seen_as.get(gid, role), lang)),
        html.Section([dcc.Graph(id=ids.RSP_MAP, figure=figure, config={"staticPlot": True, "responsive": True},
                                style={"height": f"{MAP_H}px"}),
                      html.Div(t("illustrative", lang), className="rsp-note"),
                      html.Div(t("rsp_map_legend", lang), className="rsp-legend")], className="rsp-map"),
        warnings_section(data.warnings, lang),
        cases_section(data.cases, data.generated_at, lang, contacts, data.seen_as.get(gid, role)),
        resources_section(data.resources, role, lang, data.seen_as),
        downloads_section(gid, lang),
        neighbours_section(gridset, data.neighbours, role, lang, data.seen_as),
        html.Footer([f"{t('rsp_updated', lang)} {stamp} · ",
                     html.A(t("rsp_refresh", lang), href=f"/grid/{gid}{search or ''}", className="rsp-link")],
                    className="rsp-foot"),
    ], id=ids.RSP_PAGE, className="responder", lang="zh-CN" if lang == "zh" else "en")


def not_a_grid(gridset: GridSet, grid_id: str, lang: str) -> tuple[str, list[str]]:
    """Why ``grid_id`` has no responder view, and the grids to offer instead (a village's own)."""
    if grid_id not in gridset:
        return t("rsp_no_grid", lang) + grid_id, []
    name = gridset.props(grid_id)["name"]
    return f"{grid_id} {name} {t('rsp_not_grid', lang)}", gridset.ids(level=3, parent=grid_id) if \
        gridset.level(grid_id) == 2 else []


def other_village(gridset: GridSet, grid_id: str, lang: str) -> str:
    """Why a village operator does not get a grid of another village."""
    return f"{grid_id} {gridset.props(grid_id)['name']}: {t('rsp_other_village', lang)}"


def grid_links(gridset: GridSet, grid_ids: list[str], lang: str) -> html.Div:
    """Links to responder views, for the page that explains a village id is not a grid."""
    return html.Div([html.P(t("rsp_choose", lang)),
                     html.Ul([html.Li(html.A(gridset.props(g)["name"], href=f"/grid/{g}")) for g in grid_ids])],
                    className="responder rsp-choose")
