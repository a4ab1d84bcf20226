"""The dashboard page: builders of its parts from a filter state and a view.

Pure functions of their arguments; the callbacks call the same builders to
refresh a part, so the first page and every update look the same.
"""
from __future__ import annotations

import json

import dash_ag_grid as dag
import pandas as pd
from dash import dcc, html
from plotly.utils import PlotlyJSONEncoder

from layers.basemap import map_style, view_for_bounds
from layers.charts import counts_chart
from layers.mapfig import (
    EMPTY_FC,
    INSET_DOMAIN,
    INSET_PX,
    LEGEND_PX,
    apply_updates,
    base_figure,
    grids_inline,
    map_labels,
    map_note,
    map_updates,
)
from layers.preview import MAX_AREAS, area_count, figure_picture, view_bounds
from layers.text import dropdown_labels, grid_locale, t
from township.config import Settings
from township.domain.filters import LAYERS, MEASURES, WINDOWS, FilterState
from township.domain.isotime import local_text
from township.domain.policy import may_administer
from township.domain.privacy import shown_name, shown_phone
from township.domain.vocab import (
    CASE_SOURCES,
    CASE_STATUSES,
    CASE_TYPES,
    DOMAINS,
    GRID_LEVELS,
    RESOURCE_KINDS,
    TIERS,
    WARNING_LEVELS,
    WARNING_TYPES,
    label,
)
from township.grids.model import GridSet
from township.read.views import GridDetail, View, counts_by
from ui import ids
from ui.legend import desk_legend


def _options(table: dict, lang: str) -> list[dict]:
    return [{"label": entry[lang], "value": code} for code, entry in table.items()]


def _dropdown(options: list[dict], value, lang: str, **kwargs) -> dcc.Dropdown:
    """A dropdown whose own texts (search, select all …) speak ``lang``."""
    return dcc.Dropdown(options, value, labels=dropdown_labels(lang), **kwargs)


def _field(key: str, control, lang: str) -> html.Div:
    return html.Div([html.Label(t(key, lang), className="field-label"), control], className="field")


def filter_panel(state: FilterState, gridset: GridSet) -> html.Div:
    """The filter controls, set to ``state``."""
    lang = state.lang
    villages = [{"label": gridset.props(v)["name"], "value": v} for v in gridset.ids(level=2)]
    window_text = {k: t(k if k != "all" else "all_time", lang) for k in WINDOWS}
    return html.Div(
        [
            _field("village", _dropdown(villages, state.village, lang, multi=True, id=ids.F_VILLAGE,
                                        placeholder=t("all", lang)), lang),
            _field("level", dcc.RadioItems(
                [{"label": e[lang], "value": lv} for lv, e in GRID_LEVELS.items()], state.level,
                id=ids.F_LEVEL, inline=True), lang),
            _field("domain", _dropdown(_options(DOMAINS, lang), state.domain, lang, multi=True, id=ids.F_DOMAIN,
                                       placeholder=t("all", lang)), lang),
            _field("status", _dropdown(_options(CASE_STATUSES, lang), state.status, lang, multi=True,
                                       id=ids.F_STATUS, placeholder=t("all", lang)), lang),
            _field("type", _dropdown(_options(CASE_TYPES, lang), state.type, lang, multi=True, id=ids.F_TYPE,
                                     placeholder=t("all", lang)), lang),
            _field("wlevel", dcc.Checklist(
                [{"label": html.Span(e[lang], style={"color": e["color"], "fontWeight": 700}), "value": lv}
                 for lv, e in WARNING_LEVELS.items()], state.wlevel, id=ids.F_WLEVEL, inline=True), lang),
            _field("window", _dropdown([{"label": v, "value": k} for k, v in window_text.items()],
                                       state.window, lang, clearable=False, id=ids.F_WINDOW), lang),
            html.Div(t("window_note", lang), className="hint"),
            _field("measure", dcc.RadioItems([{"label": t(m, lang), "value": m} for m in MEASURES],
                                             state.measure, id=ids.F_MEASURE), lang),
            _field("layers", dcc.Checklist([{"label": t(k, lang), "value": k} for k in LAYERS], state.layers,
                                           id=ids.F_LAYERS, inline=True), lang),
            html.Button(t("reset", lang), id=ids.F_RESET, className="button"),
        ],
        className="filters",
    )


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def headline_cards(view: View) -> list:
    """The headline figures: open, overdue, the three rates, live warnings by colour."""
    lang, h = view.state.lang, view.headline
    cards = [
        ("open", str(h.open), ""),
        ("overdue", str(h.overdue), "bad" if h.overdue else ""),
        ("done_rate", _pct(h.done_rate), ""),
        ("ontime_rate", _pct(h.ontime_rate), ""),
        ("village_rate", _pct(h.village_rate), ""),
    ]
    out = [html.Div([html.Div(v, className=f"kpi-value {cls}", id=f"kpi-{k}"),
                     html.Div(t(k, lang), className="kpi-label")],
                    className="kpi") for k, v, cls in cards]
    warn = [html.Span(str(h.warnings[lv]), className="warn-badge", title=e[lang], id=f"kpi-warning-{lv}",
                      style={"background": e["color"], "color": "#000" if lv == 3 else "#fff"})
            for lv, e in WARNING_LEVELS.items()]
    out.append(html.Div([html.Div(warn, className="kpi-value"), html.Div(t("warnings", lang), className="kpi-label")],
                        className="kpi"))
    return out


def domain_chart(view: View):
    """Cases by domain under the filter."""
    counts = counts_by(view.cases, "domain", view.now, view.overdue).reindex(list(DOMAINS), fill_value=0)
    return counts_chart(counts, [label(DOMAINS, d, view.state.lang) for d in counts.index], view.state.lang)


#: The most villages the village chart lists: past it (a county, a city) it keeps those with most open cases.
MAX_CHART_VILLAGES = 30


def village_chart(view: View, gridset: GridSet):
    """Cases by village under the filter (the `MAX_CHART_VILLAGES` with most open cases, when more)."""
    villages = view.state.village or gridset.ids(level=2)
    counts = counts_by(view.cases, "village_id", view.now, view.overdue).reindex(villages, fill_value=0)
    if len(counts) > MAX_CHART_VILLAGES:
        counts = counts.sort_values(["open", "overdue"], ascending=False, kind="stable")[:MAX_CHART_VILLAGES]
        villages = list(counts.index)
    return counts_chart(counts, [gridset.props(v)["name"] for v in villages], view.state.lang,
                        height=max(260, 24 * len(villages)))


def map_figure(view: View, gridset: GridSet, role: str, tile_url: str | None, attribution: str,
               inline_grids: int = Settings.inline_grids) -> dict:
    """The full map figure (with geometry): sent once, at page load (many level-3 grids: when first shown)."""
    inline = grids_inline(gridset, view.state.level, inline_grids)
    fig = base_figure(
        gridset.feature_collection(1), gridset.feature_collection(2),
        gridset.feature_collection(3) if inline else EMPTY_FC,
        map_style(tile_url, attribution), map_view(view.state, gridset)[0:2], view.state,
    )
    apply_updates(fig, map_labels(gridset, view.state, role, (1, 2, 3) if inline else (1, 2)))
    apply_updates(fig, map_updates(view, gridset))
    fig["layout"]["annotations"] = map_note(view, view.state.lang)
    fig["layout"]["map"]["uirevision"] = map_view(view.state, gridset)[2]
    fig["layout"]["margin"]["r"] = LEGEND_PX  # the legend's column beside the map (ui/legend.py)
    fig["layout"]["meta"] = {"fit": map_fit(view.state, gridset)}
    return fig


def map_pictures(fig: dict, lang: str) -> list[html.Div]:
    """The pictures of ``fig`` (layers/preview.py) over the map until MapLibre has drawn it.

    Each holds its drawing (``data-picture``), which assets/mapview.js paints at once and takes away when
    its own map has drawn. The map's is fitted as mapview.js fits the map (its ``meta.fit`` bounds, 14 px
    round them, clear of the inset; its inner box is where they go); the inset's, when shown, sits in the
    inset's place at the inset's own zoom (a box of ``INSET_PX``, as MapLibre draws it whatever its size).
    None when the map has more than ``MAX_AREAS`` areas.
    """
    layout = fig["layout"]
    inset = layout.get("map2") or {}
    shown = inset.get("domain") == INSET_DOMAIN and "center" in inset
    x0, x1 = INSET_DOMAIN["x"]
    y0, y1 = INSET_DOMAIN["y"]

    def picture(subplot: str, drawing: dict, style: dict, box: dict | None = None) -> html.Div:
        width, height = drawing["size"]
        return html.Div(html.Div(style={"--aspect": f"{width / height:.4f}", **(box or {})}),
                        className=f"map-picture {subplot}", role="img", title=t("map_picture", lang),
                        style=style, **{"data-subplot": subplot,
                                        "data-picture": json.dumps(drawing, separators=(",", ":"),
                                                                   ensure_ascii=False)})

    if area_count(fig) > MAX_AREAS:  # a city opened on its grids: megabytes more, and MapLibre's job anyway
        return []
    pictures = [picture("map", figure_picture(fig, layout["meta"]["fit"]["bounds"], DESK_MAP_PX),
                        {"--inset": f"{1 - x0 if shown else 0}"})]
    if shown:
        box = view_bounds(inset["center"], inset["zoom"], INSET_PX)
        pictures.append(picture("map2", figure_picture(fig, box, INSET_PX, "map2"),
                                {"--x0": f"{x0}", "--x1": f"{x1}", "--y0": f"{y0}", "--y1": f"{y1}"},
                                {"width": f"{INSET_PX[0]}px"}))
    return pictures


#: What a view is fitted to: a little less than the map's size on the desk at 1920×1080 (1150×510, and zoomed 2×
#: at 3840×2160), so that the town also fits a smaller screen's map (the town is about as high as it is wide).
DESK_MAP_PX = (800, 420)


def map_view(state: FilterState, gridset: GridSet) -> tuple[dict, float, str]:
    """Centre, zoom and ``uirevision`` of the map for ``state``.

    The ``uirevision`` names the villages in view: it changes (and the map
    moves) only on a drill, so zoom and pan survive every other update.
    """
    focus = state.village or gridset.ids(level=1)
    center, zoom = view_for_bounds(gridset.bounds(focus), *DESK_MAP_PX)
    return center, zoom, "view:" + ",".join(sorted(state.village))


def map_fit(state: FilterState, gridset: GridSet) -> dict:
    """What the browser fits the map to for ``state`` (assets/mapview.js, in the figure's ``layout.meta``).

    The server's :func:`map_view` guesses the map's size; the browser knows it, fits ``bounds``
    (lon/lat: the chosen villages or the town) to it once per ``key`` (the view's revision: a drill),
    and reports what it then shows, and after every move, to ``camera`` (callbacks.dashboard
    ``camera_patch`` lays the names out for it).
    """
    focus = state.village or gridset.ids(level=1)
    return {"key": map_view(state, gridset)[2], "bounds": [round(float(v), 6) for v in gridset.bounds(focus)],
            "camera": ids.MAP_CAMERA}


#: The zoom a table row flies the map to: the case's street block, with its grid around it.
FOCUS_ZOOM = 12.8
#: The ring round the case a table row flies to (not a status or warning colour: docs/design.md §1).
FOCUS_COLOUR = "#00B8D4"


def case_focus(lon: float, lat: float, revision: str) -> dict:
    """The map's layout after a table row click: centred on the case, zoomed in, the case ringed.

    A new ``uirevision`` makes the map move even after the operator has
    panned; the ring is a MapLibre circle layer of the layout, so no trace of
    the figure changes index.
    """
    ring = {"sourcetype": "geojson", "type": "circle", "color": FOCUS_COLOUR, "opacity": 0.5,
            "circle": {"radius": 22},
            "source": {"type": "FeatureCollection",
                       "features": [{"type": "Feature", "properties": {},
                                     "geometry": {"type": "Point", "coordinates": [lon, lat]}}]}}
    return {"center": {"lon": lon, "lat": lat}, "zoom": FOCUS_ZOOM, "uirevision": revision, "layers": [ring]}


def breadcrumb(state: FilterState, gridset: GridSet, root: str | None = None) -> list:
    """大路镇 › 村 › 网格: the way back up.

    ``root``: a village operator's village, the top of their breadcrumb (they
    have no town to return to); the town's button stays in the page, hidden,
    so the reducer's inputs all exist.
    """
    lang = state.lang
    parts: list = [html.Button(t("town", lang), id=ids.CRUMB_TOWN, className="crumb", hidden=root is not None)]
    village = root or (state.village[0] if len(state.village) == 1 else None)
    name = gridset.props(village)["name"] if village else ""
    parts += [html.Span(" › ", hidden=not village or root is not None),
              html.Button(name, id=ids.CRUMB_VILLAGE, className="crumb", hidden=not village)]
    if state.grid:
        parts += [html.Span(" › "), html.Span(gridset.props(state.grid)["name"], className="crumb-current")]
    return parts


def grid_panel(detail: GridDetail | None, gridset: GridSet, role: str, lang: str) -> list:
    """The side panel of one grid: who is responsible, what is open, what reaches it, what is near."""
    if detail is None:
        return [html.Div(t("grid_panel_hint", lang), className="hint")]
    p = detail.props
    facts = [
        ("officer", shown_name(p.get("officer"), role)),
        ("phone", shown_phone(p.get("officer_phone"), role)),
        ("households", p.get("households", "—")),
        ("population", p.get("population", "—")),
        ("party_members", p.get("party_members", "—")),
        ("party_households", p.get("party_households", "—")),
        ("area", f"{detail.area_km2:.2f}"),
        ("open_cases", f"{len(detail.open_cases)} ({t('overdue', lang)} {detail.overdue})"),
    ]
    rows = [html.Tr([html.Th(t(k, lang)), html.Td(str(v))]) for k, v in facts]
    cases = [html.Li(f"#{r.id} {r.title} · {label(CASE_STATUSES, r.status, lang)}")
             for r in detail.open_cases.head(8).itertuples()]
    warns = [html.Li(f"{WARNING_LEVELS[w.level][lang]} · {label(WARNING_TYPES, w.type, lang)} · {w.title}",
                     style={"borderLeft": f"6px solid {WARNING_LEVELS[w.level]['color']}"})
             for w in detail.warnings.itertuples()]
    near = [html.Li(f"{r.name} · {label(RESOURCE_KINDS, r.kind, lang)} · "
                    + (t("inside", lang) if r.distance_m == 0 else f"{r.distance_m / 1000:.1f} km"))
            for r in detail.resources.head(10).itertuples()]
    return [
        html.H3(p["name"], id="panel-title"),
        html.Div(p["grid_id"], className="hint"),
        html.Table(rows, className="facts"),
        html.H4(t("open_cases", lang)), html.Ul(cases or [html.Li(t("none", lang))]),
        html.H4(t("reach_warnings", lang)), html.Ul(warns or [html.Li(t("none", lang))], className="warn-list"),
        html.H4(t("near_resources", lang)), html.Ul(near or [html.Li(t("none", lang))]),
    ]


#: Table columns the server can sort by.
SORTABLE = {"id", "reported_at", "deadline_at", "status", "domain", "type"}


def text_width(text: str) -> int:
    """Pixels that ``text`` takes in the table's 14 px font: a CJK character 1 em, a Latin one about 0.55 em."""
    return round(sum(14 if ord(c) > 0x2E80 else 7.7 for c in text))


#: Padding of an AG Grid cell (both sides) and room for a header's sort arrow.
CELL_PAD = 34
#: The widest a coded column grows: a longer label (English ones) wraps onto a second line instead.
CODED_MAX = 96
#: Row height of the case table: two lines of a wrapped label.
ROW_PX = 44
#: How the table shows a time: month, day and time fit its column (the case card shows the year too).
TABLE_TIME = "%m-%d %H:%M"


def label_words(field: str, lang: str) -> list[str]:
    """Every label a coded column of the case table can show in ``lang``."""
    table = {"type": CASE_TYPES, "domain": DOMAINS, "status": CASE_STATUSES, "tier": TIERS}.get(field)
    return [label(table, code, lang) for code in table] if table else []


def table_columns(lang: str) -> list[dict]:
    """Columns of the case table (rows come from the server in blocks).

    Each coded column is as wide as its longest label in ``lang`` (so nothing
    is cut, in English either); the title and the grid share what is left by
    ``flex``, and a long title shows whole in its tooltip.
    """
    overdue = f" · {t('overdue', lang)}"
    longest = {
        "type": max((label(CASE_TYPES, c, lang) for c in CASE_TYPES), key=text_width),
        "domain": max((label(DOMAINS, c, lang) for c in DOMAINS), key=text_width),
        "status": max((label(CASE_STATUSES, c, lang) + overdue for c in CASE_STATUSES), key=text_width),
        "tier": max((label(TIERS, c, lang) for c in TIERS), key=text_width),
        "reported_at": "12-01 21:30", "deadline_at": "12-01 21:30", "id": "00000",
    }
    cols = [("id", "id"), ("title", "title_col"), ("type", "type"), ("domain", "domain"), ("status", "status"),
            ("grid", "grid"), ("tier", "tier"), ("reported_at", "reported_at"), ("deadline_at", "deadline_at")]
    out = []
    for field, key in cols:
        col: dict = {"field": field, "headerName": t(key, lang), "sortable": field in SORTABLE}
        if field in longest:
            need = max(text_width(longest[field]), text_width(t(key, lang)))
            if need > CODED_MAX:  # wrap: as wide as its longest word, at least CODED_MAX
                words = " ".join(label_words(field, lang)).split() or [longest[field]]
                need = max(CODED_MAX, *(text_width(w) for w in words))
                col.update({"wrapText": True, "cellClass": "cell-wrap"})
            col["width"] = need + CELL_PAD
        else:  # the free text: what is left, the title a larger share than the grid
            col.update({"flex": 3 if field == "title" else 2, "minWidth": 100, "tooltipField": field})
        out.append(col)
    return out


def table_rows(view: View, gridset: GridSet, start: int, end: int, sort: list[dict] | None) -> tuple[list[dict], int]:
    """One block of case-table rows under the filter, overdue first unless sorted otherwise."""
    frame = view.cases.assign(overdue=view.overdue)
    if sort and sort[0]["colId"] in SORTABLE:
        frame = frame.sort_values(sort[0]["colId"], ascending=sort[0]["sort"] == "asc")
    else:
        frame = frame.sort_values(["overdue", "reported_at"], ascending=[False, False])
    block = frame.iloc[start:end]
    lang = view.state.lang
    rows = [
        {
            "id": int(r.id), "title": r.title, "type": label(CASE_TYPES, r.type, lang),
            "domain": label(DOMAINS, r.domain, lang),
            "status": label(CASE_STATUSES, r.status, lang) + (f" · {t('overdue', lang)}" if r.overdue else ""),
            "grid": gridset.props(r.grid_id)["name"] if isinstance(r.grid_id, str) else "—",
            "tier": label(TIERS, r.tier, lang),
            "reported_at": local_text(r.reported_at, TABLE_TIME),  # Beijing time, as the case card shows it
            "deadline_at": local_text(r.deadline_at, TABLE_TIME),
            "overdue": bool(r.overdue),
        }
        for r in block.itertuples()
    ]
    return rows, len(frame)


#: How often the page asks whether the data changed (one small request; 204 when it did not).
#: Half a second: a new case waits for the next poll, and at city scale 1 s of that left the
#: 2 s freshness budget too little for the map to draw (bench/ingest.py).
POLL_MS = 500


def case_table(lang: str) -> dag.AgGrid:
    """The case table: infinite row model, so a filter change sends one block, not every row."""
    return dag.AgGrid(
        id=ids.TABLE,
        columnDefs=table_columns(lang),
        defaultColDef={"sortable": False, "resizable": True},
        rowModelType="infinite",
        dashGridOptions={"cacheBlockSize": 50, "maxBlocksInCache": 4, "rowHeight": ROW_PX,
                         "localeText": grid_locale(lang, t("none", lang))},
        rowClassRules={"row-overdue": "params.data && params.data.overdue"},
        getRowId="'' + params.data.id",  # a clicked row names its case (cellClicked.rowId): the case card
        style={"height": "100%"},
    )


def alert_banner(alerts: pd.DataFrame, lang: str) -> tuple[str, str, bool]:
    """Text, warning id and hidden flag of the banner that announces red and orange warnings."""
    if alerts.empty:
        return "", "", True
    w = alerts.iloc[0]
    more = f" (+{len(alerts) - 1})" if len(alerts) > 1 else ""
    text = f"{WARNING_LEVELS[int(w.level)][lang]} · {label(WARNING_TYPES, w.type, lang)} · {w.title}{more}"
    return text, str(int(w.id)), False


def alert_div(alerts: pd.DataFrame, lang: str) -> html.Div:
    """The flashing banner of the newest red or orange warning, with its acknowledge button."""
    text, wid, hidden = alert_banner(alerts, lang)
    return html.Div(
        [html.Span(text, id=ids.ALERT_TEXT), html.Button(t("acknowledge", lang), id=ids.ALERT_ACK, value=wid)],
        id=ids.ALERT, className="alert", hidden=hidden,
    )


def import_panel(lang: str) -> html.Details:
    """The operators' file import: drop a file, watch the bar, read the per-row report."""
    return html.Details(
        [
            html.Summary(t("import", lang)),
            html.Div(
                [
                    dcc.RadioItems([{"label": t("cases", lang), "value": "cases"},
                                    {"label": t("warnings", lang), "value": "warnings"}], "cases",
                                   id=ids.IMPORT_KIND, inline=True),
                    dcc.RadioItems([{"label": t("import_all", lang), "value": "all"},
                                    {"label": t("import_good", lang), "value": "good"}], "all",
                                   id=ids.IMPORT_MODE, inline=True),
                    _dropdown(_options(CASE_SOURCES, lang), None, lang, id=ids.IMPORT_SOURCE,
                              placeholder=t("import_source", lang), style={"width": 220}),
                ],
                className="import-options",
            ),
            dcc.Upload(html.Div(t("import_drop", lang)), id=ids.IMPORT_UPLOAD, className="upload",
                       accept=".csv,.xlsx,.geojson,.json"),
            html.Progress(id=ids.IMPORT_PROGRESS, value="0", max="1", className="progress"),
            html.Pre(id=ids.IMPORT_REPORT, className="import-report"),
        ],
        className="table",
    )


def import_spec(lang: str) -> dict:
    """:func:`import_panel` as component JSON: put in the page when the statistics and data tab first opens.

    Mounted with the page, its file drop fetched dcc's upload chunk before the map had drawn
    (docs/design.md §4: the bytes before the map draws).
    """
    return json.loads(json.dumps(import_panel(lang), cls=PlotlyJSONEncoder))


def tabs(lang: str) -> dcc.RadioItems:
    """指挥台 | 统计与数据: the desk (map, table, cards on one screen) or the statistics page over it."""
    return dcc.RadioItems([{"label": t("tab_desk", lang), "value": "desk"},
                           {"label": t("tab_stats", lang), "value": "stats"}], "desk", id=ids.TAB, inline=True,
                          className="tabs")


def nav_links(role: str, lang: str) -> list[html.A]:
    """Links to the other staff pages: the analysis for everyone at the desk, the admin pages for admin."""
    links = [html.A(t("nav_analysis", lang), href="/analysis", className="nav")]
    if may_administer(role):
        links += [html.A(t("admin_title", lang), href="/admin", className="nav"),
                  html.A(t("nav_deliveries", lang), href="/admin/notifications", className="nav")]
    return links


def table_spec(lang: str) -> dict:
    """The case table as component JSON and its library's script: put in the page once the map has drawn.

    dash-ag-grid is left out of the page's scripts (app.py ``defer_table_library``);
    ``assets/dashboard.js`` loads it and then renders this component.
    """
    grid = case_table(lang).to_plotly_json()
    return {"component": {"namespace": grid["namespace"], "type": grid["type"], "props": grid["props"]},
            "script": f"/_dash-component-suites/dash_ag_grid/dash_ag_grid.min.js?v={dag.__version__}"}


def page(state: FilterState, notices: list[str], view: View, detail: GridDetail | None, gridset: GridSet, role: str,
         version: int, alerts: pd.DataFrame, tile_url: str | None = None, attribution: str = "", *,
         inline_grids: int = Settings.inline_grids, account=None, panel_extra: list | None = None,
         side: list | None = None, stats: list | None = None, extras: list | None = None, query: str | None = None,
         crumb_root: str | None = None, note: str = "", timebar: list | None = None) -> html.Div:
    """The whole dashboard for ``state``: built once per page load.

    One screen (the desk): the filters, the map with the headline above it and
    the case table under it, and on the right the open cards (``side``) above
    the grid panel (``panel_extra`` under it), so a card never covers the map
    or the banner. ``stats`` is the statistics page shown over the desk by its
    tab; ``extras`` go at the end (stores). ``account`` goes in the header.
    ``query``: the address bar is rewritten to it (a URL corrected to what is
    shown, ``note`` says so); ``crumb_root``: the breadcrumb's top when it is not the town.
    ``timebar``: the time control (beside the breadcrumb) and its badge over the map (`ui.playback`).
    """
    lang = state.lang
    other = "en" if lang == "zh" else "zh"
    lang_href = state.model_copy(update={"lang": other}).to_query() or "?"
    notice = " ".join(filter(None, [(t("notice", lang) + ", ".join(notices)) if notices else "", note]))
    figure = map_figure(view, gridset, role, tile_url, attribution, inline_grids)
    return html.Div(
        [
            dcc.Store(id=ids.STATE, data=state.model_dump()),
            dcc.Store(id=ids.QUERY, data=query),
            dcc.Store(id=ids.VIEW, data=map_view(state, gridset)[2]),
            dcc.Store(id=ids.GRIDS_SENT, data=grids_inline(gridset, state.level, inline_grids)),
            dcc.Store(id=ids.VERSION, data=version),
            dcc.Store(id=ids.MAP_VERSION, data=version),
            dcc.Store(id=ids.DRAWN, data=version),
            dcc.Store(id=ids.MAP_CAMERA),
            dcc.Store(id=ids.TABLE_SPEC, data=table_spec(lang)),
            dcc.Interval(id=ids.TICK, interval=POLL_MS),
            html.Header(
                [
                    html.H1(t("title", lang)),
                    html.Span(t("illustrative", lang), className="illustrative"),
                    tabs(lang),
                    *nav_links(role, lang),
                    html.A(t("lang_switch", lang), href=lang_href, id=ids.F_LANG, className="lang"),
                    account,
                ],
                className="top",
            ),
            html.Div(notice, id=ids.NOTICE, className="notice", hidden=not notice),
            alert_div(alerts, lang),
            html.Div([html.Div(
                [
                    filter_panel(state, gridset),
                    html.Div(
                        [
                            html.Div(headline_cards(view), id=ids.HEADLINE, className="headline"),
                            html.Div(
                                [
                                    html.Div([html.Div(breadcrumb(state, gridset, crumb_root), id=ids.CRUMBS,
                                                       className="crumbs"), *(timebar or [])[:1]],
                                             className="map-top"),
                                    *(timebar or [])[1:],
                                    html.Div([
                                        dcc.Graph(id=ids.MAP, figure=figure,
                                                  config={"displaylogo": False, "scrollZoom": True,
                                                          "responsive": True, "showSendToCloud": False,
                                                          "toImageButtonOptions": {"filename": "大路镇指挥地图",
                                                                                   "scale": 2}},
                                                  className="map-graph"),
                                        *map_pictures(figure, lang),
                                        desk_legend(lang),
                                    # the legend's width for CSS: a phone clips that margin off (assets/style.css)
                                    ], className="map-frame", style={"--legend-px": f"{LEGEND_PX}px"}),
                                    html.Div(t("illustrative", lang), className="map-note"),
                                ],
                                className="map-col",
                            ),
                            html.Div([html.H4([t("case_table", lang), html.Span(id=ids.TABLE_COUNT, className="hint")]),
                                      html.Div(html.Div(t("table_loading", lang), className="hint"),
                                               id=ids.TABLE_SLOT, className="table-slot")],
                                     className="table"),
                        ],
                        className="center",
                    ),
                    html.Div([*(side or []),
                              html.Aside(grid_panel(detail, gridset, role, lang) + (panel_extra or []), id=ids.PANEL,
                                         className="panel")],
                             id=ids.SIDE, className="side"),
                ],
                className="main",
            ), html.Div(stats or [], id=ids.STATS_PAGE, className="stats-page", hidden=True)], className="work"),
            *(extras or []),
        ],
        lang="zh-CN" if lang == "zh" else "en", className="desk",
    )
