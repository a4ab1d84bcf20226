"""The wall display (``/wall``): one dark screen, 1920×1080 or 3840×2160, read from five metres.

Pure builders, like :mod:`ui.dashboard` (whose headline cards and warning
banner text this page reuses): the page callback and the refresh callback
call the same functions, so the first screen and every refresh look alike.

Privacy: everything is built for role ``"wall"`` whatever the configured
role, so officer names come masked, and nothing a person typed or is called
(case titles, reporters, handlers, resource contacts) is put on the page or
into a callback payload.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import shapely
from dash import dcc, html

from layers import maplabels
from layers.basemap import map_style, view_for_bounds
from layers.mapfig import (
    EMPTY_FC,
    EVACUATION,
    EVACUATION_GRIDS,
    GRIDS,
    INSET_AREAS,
    INSET_DOMAIN,
    INSET_LABELS,
    LABELS,
    LINE_WIDTH,
    RADIUS,
    RESOURCES,
    TOWN,
    VILLAGES,
    WARNINGS,
    apply_updates,
    base_figure,
    grids_geojson,
    gridset_dense,
    inset_box,
    label_update,
    map_labels,
    map_note,
    map_updates,
    radius_update,
    resource_trace,
)
from layers.text import t
from township.domain.filters import FilterState
from township.domain.isotime import local_text
from township.domain.vocab import (
    CASE_STATUSES,
    CASE_TYPES,
    LIVE_WARNING_STATUSES,
    OPEN_STATUSES,
    WARNING_LEVELS,
    WARNING_TYPES,
    label,
)
from township.grids.model import GridSet
from township.grids.spatial import from_metric, to_metric
from township.read.evaluation import MonthlyEvaluation, biggest_movers
from township.read.stats import RANKING_ROWS, village_ranking
from township.read.views import View
from ui import ids
from ui.dashboard import POLL_MS, headline_cards
from ui.legend import map_legend
from ui.playback import epoch

#: The wall is always rendered for this role: names and phones masked.
ROLE = "wall"
#: Tour: default, smallest and largest seconds per stop (``?interval=``).
INTERVAL_DEFAULT, INTERVAL_MIN, INTERVAL_MAX = 20, 3, 600
#: How long a new red warning holds the map before the tour (or the town view) comes back.
HOLD_S = 60
#: Least half-width of the map around a new red warning, in metres.
FOCUS_MIN_M = 1500.0
#: Seconds without confirmed-current data after which the data age turns red (see assets/wall.js).
STALE_S = 60
#: Consecutive failed polls after which the screen says offline: two seconds of them at the half-second poll.
OFFLINE_AFTER = 4
#: Newest cases in the scrolling feed (the list is replaced on refresh, never appended to).
FEED_SIZE = 14
#: Seconds each feed line stands before the list moves up by one (assets/wall.js moves it).
FEED_STEP_S = 2.5
#: Tour score: open cases + 2 × overdue + 3 × live warnings reaching the village.
TOUR_WEIGHTS = {"open": 1, "overdue": 2, "warnings": 3}
#: The most villages a tour visits, busiest first: a city's 2,000 at 20 s a stop would take
#: eleven hours (and their plan was most of every wall refresh).
TOUR_STOPS = 30

#: Dark theme of the map: background, outlines, and a dark-to-bright scale (few → many open cases).
MAP_BG = "#0e1a23"
TOWN_FILL = "#13222d"
LINES = {TOWN: "#90a4ae", VILLAGES: "#b0bec5", GRIDS: "#78909c"}
#: Zero is a blue slate lighter than the town's fill; any case at all turns it brown to amber, so the
#: small busy communities stand out from the slate round them.
SCALE = [[0, "#24465c"], [0.15, "#7a4f2a"], [0.5, "#d9822b"], [1, "#ffd180"]]
#: Size of the villages' names on a 1080p wall, read from five metres (× 2 on a 4K wall).
WALL_LABEL_SIZE = 21.0
#: Affected grids of a live red warning: a translucent red fill under a bright outline.
AFFECTED_FILL, AFFECTED_LINE = "#E53935", "#ff8a80"
#: The wall's labels are placed at the zoom its map shows the town at on a 1080p screen (assets/wall.js
#: fits the town with this much less zoom than layers.basemap.view_for_bounds).
FIT_MARGIN = 0.2
#: The most live warnings the banner names (the rest are counted).
BANNER_ITEMS = 3
#: Outline width of the village the tour is at (the others keep the base width).
STOP_WIDTH = 5.0
#: The longest replay a wall runs (``?replay=``), in hours.
REPLAY_MAX_H = 24 * 7
#: Seconds the replay stop lasts: twice a stop, within these bounds (a day in 40 s is 36 min a second).
REPLAY_STOP_S = (30, 120)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class WallOptions:
    """What the URL can set: ``/wall?tour=1&interval=20&lang=en``.

    Attributes
    ----------
    tour : bool
        Visit the villages one after another, busiest first.
    interval : int
        Seconds per tour stop, within ``INTERVAL_MIN``–``INTERVAL_MAX``.
    lang : str
        ``zh`` or ``en``.
    replay : int | None
        Hours replayed as one stop of the tour (``replay=24h``), or None for no replay.
    """

    tour: bool = False
    interval: int = INTERVAL_DEFAULT
    lang: str = "zh"
    replay: int | None = None


def parse_options(search: str | None) -> WallOptions:
    """Options from a URL query; a value that is not understood is ignored (the default stays).

    ``tour`` takes 1/0, true/false, yes/no, on/off; ``interval`` takes whole
    seconds written in ASCII digits, clamped to the allowed range (a wall
    that asks for 1 s gets 3 s, not an error nobody would read). ``replay``
    takes hours or days (``24h``, ``12``, ``2d``), clamped to 1 h – 7 d.
    """
    query = parse_qs((search or "").lstrip("?"), keep_blank_values=True)

    def last(name: str) -> str:
        return (query.get(name) or [""])[-1].strip().lower()

    out = WallOptions()
    tour, interval, lang = last("tour"), last("interval"), last("lang")
    if tour in _TRUE | _FALSE:
        out = replace(out, tour=tour in _TRUE)
    if re.fullmatch(r"[0-9]{1,6}", interval):
        out = replace(out, interval=min(INTERVAL_MAX, max(INTERVAL_MIN, int(interval))))
    if lang in ("zh", "en"):
        out = replace(out, lang=lang)
    replay = re.fullmatch(r"([0-9]{1,4})([hd]?)", last("replay"))
    if replay:
        hours = int(replay[1]) * (24 if replay[2] == "d" else 1)
        out = replace(out, replay=min(REPLAY_MAX_H, max(1, hours)))
    return out


def state_for(lang: str) -> FilterState:
    """What the wall shows: the whole town by village, cases and warnings, the default time window."""
    return FilterState(level=2, layers=["cases", "warnings"], lang=lang)


def tour_scores(view: View, gridset: GridSet) -> pd.DataFrame:
    """Every village with its tour score, busiest first.

    ``score = open + 2·overdue + 3·warnings``, where ``open`` counts open
    cases, ``overdue`` open cases past their deadline, and ``warnings`` the
    live warnings (active, acknowledged, handling) whose radius reaches a grid
    of the village or whose point lies in it. Ties go to the village id.

    Returns
    -------
    DataFrame
        Indexed by village id; columns ``open``, ``overdue``, ``warnings``, ``score``.
    """
    villages = gridset.ids(level=2)
    cases = view.cases
    is_open = cases["status"].isin(OPEN_STATUSES).to_numpy()
    reach = dict.fromkeys(villages, 0)
    for wid, own in zip(view.warnings["id"], view.warnings["village_id"], strict=True):
        hit = {gridset.village_of(g) for g in view.warning_grids.get(wid, ())} | {own}
        for v in hit & reach.keys():
            reach[v] += 1
    frame = pd.DataFrame({
        "open": cases.loc[is_open, "village_id"].value_counts().reindex(villages, fill_value=0),
        "overdue": cases.loc[view.overdue, "village_id"].value_counts().reindex(villages, fill_value=0),
        "warnings": pd.Series(reach),
    }).astype(int)
    frame["score"] = sum(w * frame[k] for k, w in TOUR_WEIGHTS.items())
    frame.index.name = "village_id"
    return frame.reset_index().sort_values(["score", "village_id"], ascending=[False, True]).set_index("village_id")


def _stop(key: str, name: str, detail: str, bounds, index: int = -1) -> dict:
    """One place the map can be moved to (the browser fits ``bounds`` to the map's real size)."""
    return {"key": key, "name": name, "detail": detail, "bounds": [round(float(b), 5) for b in bounds],
            "index": index}


def tour_plan(view: View, gridset: GridSet, lang: str) -> dict:
    """The tour: the town overview, then the villages busiest first (at most `TOUR_STOPS`).

    Returns
    -------
    dict
        ``town`` (a stop), ``order`` (stops, :func:`tour_scores` order) and
        ``villages`` (how many villages the village trace has, for the
        outline widths). A stop is ``key``, ``name``, ``detail``, ``bounds``
        (lon/lat) and ``index`` (position in the village trace, -1 for none).
    """
    scores = tour_scores(view, gridset).head(TOUR_STOPS)
    villages = gridset.ids(level=2)
    n = len(scores)
    order = [
        _stop(r.Index, gridset.props(r.Index)["name"],
              f"{t('open', lang)} {r.open} · {t('overdue', lang)} {r.overdue} · {t('warnings', lang)} {r.warnings}"
              f" · {t('tour_stop', lang)} {k}/{n}",
              gridset.bounds([r.Index]), int(i))
        for k, (r, i) in enumerate(zip(scores.itertuples(), gridset.positions(scores.index, 2), strict=True), 1)
    ]
    h = view.headline
    town = _stop("town", t("town", lang), f"{t('whole_town', lang)} · {t('open', lang)} {h.open} · "
                 f"{t('overdue', lang)} {h.overdue}", gridset.bounds(gridset.ids(level=1)))
    return {"town": town, "order": order, "villages": len(villages)}


def red_ids(warnings: pd.DataFrame) -> list[int]:
    """Ids of the live red warnings (the browser keeps only these: the list cannot grow)."""
    return sorted(int(i) for i in warnings.loc[warnings["level"] == 1, "id"])


def warning_focus(warning, gridset: GridSet, lang: str) -> dict:
    """The stop of one warning: its village (outlined) and its circle, so the viewer sees where it is.

    The circle is measured in metres (EPSG:4546), at least ``FOCUS_MIN_M``
    each side of the point; a warning outside the town shows just that.
    """
    half = max(float(warning.radius_m), FOCUS_MIN_M)
    circle = from_metric(to_metric(shapely.Point(float(warning.lon), float(warning.lat))).buffer(half)).bounds
    villages = gridset.ids(level=2)
    index = villages.index(warning.village_id) if warning.village_id in villages else -1
    box = circle
    if index >= 0:
        v = gridset.bounds([warning.village_id])
        box = (min(v[0], circle[0]), min(v[1], circle[1]), max(v[2], circle[2]), max(v[3], circle[3]))
    name = f"⚠ {WARNING_LEVELS[int(warning.level)][lang]} · {label(WARNING_TYPES, warning.type, lang)}"
    focus = _stop(f"warning:{int(warning.id)}", name, str(warning.title), box, index)
    focus["id"] = int(warning.id)
    # centred on the warning itself, not on the box: the box only sets the zoom
    focus["center"] = [round(float(warning.lon), 5), round(float(warning.lat), 5)]
    return focus


def new_red_focus(warnings: pd.DataFrame, seen: list[int] | None, gridset: GridSet, lang: str) -> dict | None:
    """The stop of the newest red warning not in ``seen`` (the reds the page already knew), or None."""
    fresh = warnings[(warnings["level"] == 1).to_numpy() & ~warnings["id"].isin(seen or []).to_numpy()]
    if fresh.empty:
        return None
    return warning_focus(fresh.sort_values(["issued_at", "id"]).iloc[-1], gridset, lang)


def wall_zoom(gridset: GridSet) -> float:
    """The zoom of the wall's town view on a 1080p screen (labels are placed at it)."""
    return view_for_bounds(gridset.bounds(gridset.ids(level=1)), 1100, 860)[1] - FIT_MARGIN


def live_reds(view: View, gridset: GridSet) -> tuple[list[dict], list[str]]:
    """The live red warnings as the map draws them (point, radius, level) and the grids they reach."""
    reds = view.warnings[(view.warnings["level"] == 1).to_numpy()]
    circles = [{"lon": float(r.lon), "lat": float(r.lat), "radius_m": float(r.radius_m), "level": 1}
               for r in reds.itertuples()]
    grids = sorted({g for wid in reds["id"] for g in view.warning_grids.get(int(wid), ()) if g in gridset})
    return circles, grids


def affected_update(gridset: GridSet, grids: list[str], scale: float) -> dict:
    """The grids trace on the wall: only the grids live red warnings reach, filled red (geometry included)."""
    return {"geojson": grids_geojson(gridset, grids), "locations": grids, "z": np.ones(len(grids), dtype=np.int32),
            "colorscale": [[0, AFFECTED_FILL], [1, AFFECTED_FILL]], "zmin": 0, "zmax": 1, "showscale": False,
            "marker": {"opacity": 0.38, "line": {"color": AFFECTED_LINE, "width": 2.5 * scale}},
            "visible": bool(grids)}


def wall_updates(view: View, gridset: GridSet, scale: float = 1.0, known_reds: list[int] | None = None
                 ) -> dict[int, dict]:
    """:func:`layers.mapfig.map_updates` for the wall: role wall, dark colours, no hover, sizes × ``scale``.

    Nobody hovers on a wall, so hover texts and their ``customdata`` (case
    titles, officer names, even masked) are dropped: smaller payloads and no
    free text on the screen. The village outline widths are left to the tour.
    Every live red warning draws its circle and fills the grids it reaches; the
    villages are named with their open and overdue cases. ``known_reds`` (the red
    warnings the page already shows): when they are the live ones, the reached grids'
    geometry is on the screen already and is not sent again.
    """
    updates = map_updates(view, gridset, zoom=wall_zoom(gridset))
    for index in (EVACUATION, EVACUATION_GRIDS):  # the wall shows an evacuation as counts only (no such traces)
        updates.pop(index, None)
    circles, grids = live_reds(view, gridset)
    updates[RADIUS] = radius_update(circles, width=4 * scale)
    updates[GRIDS] = affected_update(gridset, grids, scale)  # the wall's grid trace shows only these
    if known_reds is not None and sorted(known_reds) == red_ids(view.warnings):
        for key in ("geojson", "locations", "z"):
            del updates[GRIDS][key]
    updates[LABELS] = label_update(view, gridset, wall_zoom(gridset), scale, counts=True, size=WALL_LABEL_SIZE)
    for index, u in updates.items():
        u.pop("customdata", None)
        u.pop("colorbar", None)
        u.update(hovertemplate=None, hoverinfo="skip")
        if index in (TOWN, VILLAGES, INSET_AREAS):
            u.update(showscale=False, colorscale=SCALE)
        elif "size" in u.get("marker", {}):
            size = u["marker"]["size"]
            u["marker"]["size"] = [s * scale for s in size] if isinstance(size, list) else size * scale
    updates[TOWN]["colorscale"] = [[0, TOWN_FILL], [1, TOWN_FILL]]
    updates[VILLAGES].pop("marker", None)
    if updates[INSET_LABELS].get("textfont"):
        updates[INSET_LABELS]["textfont"]["size"] = updates[INSET_LABELS]["textfont"]["size"] * scale
    # the pulse (assets/maplabels.js) rings each red warning it has not seen yet
    updates[WARNINGS]["meta"] = {"pulse": [int(i) for i in view.warnings.loc[view.warnings["level"] == 1, "id"]],
                                 "scale": scale}
    return updates


def wall_figure(view: View, gridset: GridSet, tile_url: str | None, attribution: str) -> dict:
    """The full map figure, geometry included: sent once, at page load."""
    town = gridset.bounds(gridset.ids(level=1))
    fig = base_figure(
        # The wall shows villages, never level 3: no grid geometry to send.
        gridset.feature_collection(1), gridset.feature_collection(2), EMPTY_FC,
        map_style(tile_url, attribution, background=MAP_BG, theme="dark"), view_for_bounds(town, 1100, 860),
        view.state,
    )
    del fig["data"][EVACUATION:]  # the wall shows an evacuation as counts only: no households' trace
    for index, color in LINES.items():
        fig["data"][index]["marker"]["line"]["color"] = color
    fig["data"][LABELS] = maplabels.label_trace("dark")
    # the legend lies along the map's left edge: MapLibre may move a name off its point to make room
    # (assets/maplabels.js), but never to the left of it, under the legend
    meta = fig["data"][LABELS]["meta"]
    meta["anchors"] = [a for a in meta["anchors"] if a != "right"]
    fig["data"][INSET_LABELS] = {**maplabels.label_trace("dark"), "subplot": "map2"}
    for shape in fig["layout"]["shapes"]:  # the inset's frame and title
        shape["label"]["font"]["color"] = "#ffd180"
    fig["data"][RESOURCES] = resource_trace("dark")
    labels = map_labels(gridset, view.state, ROLE, (1, 2))
    apply_updates(fig, {index: {"locations": u["locations"]} for index, u in labels.items()})  # no hover names
    apply_updates(fig, wall_updates(view, gridset))
    fig["layout"]["annotations"] = map_note(view, view.state.lang)
    fig["layout"]["font"] = {"color": "#cfd8dc"}
    return fig


def _pct(rate: float | None) -> str:
    return "—" if rate is None or pd.isna(rate) else f"{rate * 100:.0f}%"


def move_text(change: float, lang: str) -> str:
    """A change of rank as the wall shows it: ▲2 up two places, ▼1 down one, — the same, 新 not ranked last month."""
    if pd.isna(change):
        return t("mv_new", lang)
    n = int(change)
    return f"▲{n}" if n > 0 else f"▼{-n}" if n < 0 else "—"


def _move_kind(change: float) -> str:
    return "new" if pd.isna(change) else "up" if change > 0 else "down" if change < 0 else "same"


def _movers_line(ev: MonthlyEvaluation, gridset: GridSet, lang: str) -> html.Div:
    """The month's biggest movers up and down, by name, under the table; and what the change column means."""
    up, down = biggest_movers(ev)
    change = ev.table["rank_change"]
    parts = [html.Span([html.Span(t(key, lang), className="mv-tag"),
                        *[html.Span(f"{gridset.props(v)['name']} {move_text(change[v], lang)}", className="mv-name")
                          for v in names if v in gridset]], className=f"mv-line {kind}")
             for key, kind, names in (("mv_up", "up", up), ("mv_down", "down", down)) if names]
    return html.Div([*parts, html.Span(t("mv_note", lang).format(m=ev.label), className="mv-note")],
                    className="mv-movers")


def ranking_table(view: View, gridset: GridSet, lang: str, evaluation: MonthlyEvaluation | None = None
                  ) -> html.Table | html.Div:
    """The village ranking (:func:`township.read.stats.village_ranking`) as a table.

    With ``evaluation`` (this Beijing month's, by village: `township.read.evaluation`) each village also shows
    its change of rank in the month's evaluation from last month's (:func:`move_text`; blank when the month
    does not rank it), and the month's biggest movers (`township.read.evaluation.biggest_movers`) are marked,
    and named under the table (then a Div of both).
    """
    rank = village_ranking(view.cases, view.now).head(RANKING_ROWS)
    keys = ["rank", "village", "score", "rank_done", "rank_overdue"] + (["mv_head"] if evaluation is not None else [])
    head = html.Tr([html.Th(t(k, lang)) for k in keys])
    table = evaluation.table if evaluation is not None else None
    up, down = biggest_movers(evaluation) if evaluation is not None else ([], [])

    def month_cell(vid: str) -> list:
        if table is None:
            return []
        if vid not in table.index:
            return [html.Td("", className="mv-cell")]
        change = table.at[vid, "rank_change"]
        most = " most" if vid in up or vid in down else ""
        return [html.Td(html.Span(move_text(change, lang), className=f"mv {_move_kind(change)}{most}"),
                        className="mv-cell")]

    rows = [
        html.Tr([html.Td(str(r.rank)), html.Td(gridset.props(vid)["name"], className="name"),
                 html.Td(f"{r.score:.0f}"), html.Td(_pct(r.done_rate)),
                 html.Td(str(r.overdue), className="bad" if r.overdue else ""), *month_cell(vid)],
                className="mover-up" if vid in up else "mover-down" if vid in down else "",
                **{"data-village": vid})
        for vid, r in zip(rank.index, rank.itertuples(), strict=True)
        if vid in gridset
    ]
    out = html.Table([html.Thead(head), html.Tbody(rows)], className="wall-rank-table")
    if evaluation is None:
        return out
    return html.Div([out, _movers_line(evaluation, gridset, lang)], className="wall-rank-body")


def age_text(hours: float, lang: str) -> str:
    """How long ago, rounded for a glance: 刚刚, 25分钟前, 3小时前, 2天前."""
    if hours < 1 / 60:
        return t("just_now", lang)
    if hours < 1:
        return f"{hours * 60:.0f}{t('minutes', lang)}{t('ago', lang)}"
    if hours < 48:
        return f"{hours:.0f}{t('hours', lang)}{t('ago', lang)}"
    return f"{hours / 24:.0f}{t('days', lang)}{t('ago', lang)}"


def feed_items(view: View, gridset: GridSet, lang: str, size: int = FEED_SIZE) -> list:
    """The newest cases: type, village, status, age (no title, reporter or handler).

    Each line carries its case id (``data-case``): the browser sends the feed
    back to the top when the first line's id changes, i.e. a newer case came in.
    """
    newest = view.cases.assign(overdue=view.overdue).nlargest(size, ["reported_at", "id"])
    hours = (np.datetime64(view.now) - newest["reported_at"].to_numpy()) / np.timedelta64(1, "h")
    items = []
    for r, h in zip(newest.itertuples(), hours, strict=True):
        village = gridset.props(r.village_id)["name"] if isinstance(r.village_id, str) else "—"
        status = label(CASE_STATUSES, r.status, lang) + (f" · {t('overdue', lang)}" if r.overdue else "")
        items.append(html.Li([
            html.Span(label(CASE_TYPES, r.type, lang), className="feed-type"),
            html.Span(village, className="feed-village"),
            html.Span(status, className="feed-status bad" if r.overdue else "feed-status"),
            html.Span(age_text(float(h), lang), className="feed-age"),
        ], className="feed-item", **{"data-case": str(int(r.id))}))
    return items


def feed_track(view: View, gridset: GridSet, lang: str) -> list:
    """Children of the feed's moving track: the items twice, so the steps loop without a seam.

    assets/wall.js moves the track up one line every ``FEED_STEP_S`` (the
    track's ``data-step-ms``), with a transform and no CSS animation.
    """
    items = feed_items(view, gridset, lang)
    return [html.Ul(items, className="feed-list"),
            html.Ul(items, className="feed-list", **{"aria-hidden": "true"})]


def live_alerts(warnings: pd.DataFrame, max_level: int = 2) -> pd.DataFrame:
    """The warnings the wall's banner names: live (active, acknowledged or handling) red and orange ones.

    Acknowledging is not clearing: a desk's 确认收到 leaves a warning live, and on the wall's banner,
    until it is cleared. Most severe first, then newest.
    """
    w = warnings
    live = w["status"].isin(LIVE_WARNING_STATUSES).to_numpy() & (w["level"] <= max_level).to_numpy()
    return w[live].sort_values(["level", "issued_at", "id"], ascending=[True, False, False])


def banner(alerts: pd.DataFrame, lang: str) -> tuple[list, str, bool]:
    """Children, class and hidden flag of the banner: every live red and orange warning (the first
    `BANNER_ITEMS`, then how many more), in the most severe one's colour; no button."""
    if alerts.empty:
        return [], "wall-banner level-1", True
    items = [html.Span(f"⚠ {WARNING_LEVELS[int(w.level)][lang]} · {label(WARNING_TYPES, w.type, lang)} · {w.title}",
                       className=f"wall-alert level-{int(w.level)}", **{"data-warning": str(int(w.id))})
             for w in alerts.head(BANNER_ITEMS).itertuples()]
    if len(alerts) > BANNER_ITEMS:
        items.append(html.Span(f"+{len(alerts) - BANNER_ITEMS}", className="wall-alert-more"))
    return items, f"wall-banner level-{int(alerts.iloc[0].level)}", False


def legend(view: View, lang: str) -> list:
    """The map's legend: the village colours (0 to the town's top value, whole numbers), cases,
    warnings and the base layer (ui/legend.py)."""
    gradient = "linear-gradient(to right, " + ", ".join(f"{c} {p * 100:.0f}%" for p, c in SCALE) + ")"
    return map_legend(lang, view.state.layers, scale_max=view.scale_max.get(2, 0.0), theme="dark",
                      measure=view.state.measure, gradient=gradient)


def inset_fit(gridset: GridSet) -> dict | None:
    """What assets/wall.js needs to fit the communities' inset to the screen: its box and its share of the map."""
    dense = gridset_dense(gridset)
    if not dense:
        return None
    return {"bounds": [round(float(b), 5) for b in inset_box(gridset.bounds(dense))], "domain": INSET_DOMAIN}


def options_data(opts: WallOptions, gridset: GridSet) -> dict:
    """What the browser-side code (assets/wall.js) needs: the options, the thresholds, the texts."""
    lang = opts.lang
    return {
        "lang": lang, "tour": opts.tour, "interval": opts.interval, "replay": opts.replay, "hold": HOLD_S,
        "stale": STALE_S,
        "offline_after": OFFLINE_AFTER, "map": ids.WALL_MAP,
        "villages_trace": VILLAGES, "base_width": LINE_WIDTH[2], "stop_width": STOP_WIDTH,
        "inset": inset_fit(gridset),
        "texts": {k: t(k, lang) for k in ("updated_s", "updated_m", "updated_h", "beijing", "weekdays")},
    }


def page(view: View, gridset: GridSet, opts: WallOptions, version: int, alerts: pd.DataFrame,
         tile_url: str | None = None, attribution: str = "", evacuation: list | None = None,
         evaluation: MonthlyEvaluation | None = None) -> html.Div:
    """The whole wall: built once per page load; later only patched. ``evacuation``: the evacuations' progress
    (`ui.evacuation.wall_bars`), counts only; ``evaluation``: the month's, for the ranking's movers."""
    lang = opts.lang
    options = options_data(opts, gridset)
    plan = {**tour_plan(view, gridset, lang), "replay": replay_stop(options, gridset, view.now, lang)}
    text, banner_class, banner_hidden = banner(alerts, lang)
    track = feed_track(view, gridset, lang)
    return html.Div(
        [
            dcc.Store(id=ids.WALL_OPTIONS, data=options),
            dcc.Store(id=ids.WALL_SCALE, data=1),
            dcc.Store(id=ids.WALL_SHOWN, data=version),
            dcc.Store(id=ids.WALL_WANT),
            dcc.Store(id=ids.WALL_HEALTH),
            dcc.Store(id=ids.WALL_PLAN, data=plan),
            dcc.Store(id=ids.WALL_CURSOR),
            dcc.Store(id=ids.WALL_FOCUS),
            dcc.Store(id=ids.WALL_REPLAY),
            dcc.Store(id=ids.WALL_REPLAY_LABELS),
            dcc.Store(id=ids.WALL_REDS, data=red_ids(view.warnings)),
            dcc.Interval(id=ids.WALL_TICK, interval=1000),
            dcc.Interval(id=ids.WALL_POLL, interval=POLL_MS),
            dcc.Interval(id=ids.WALL_MINUTE, interval=60_000),
            html.Header(
                [
                    html.H1(t("wall_title", lang)),
                    html.Span(t("illustrative", lang), className="illustrative"),
                    html.Span(t("offline", lang), id=ids.WALL_OFFLINE, className="wall-offline", hidden=True),
                    html.Span(id=ids.WALL_AGE, className="wall-age"),
                    html.Span(id=ids.WALL_CLOCK, className="wall-clock"),
                ],
                className="wall-top",
            ),
            html.Div(headline_cards(view), id=ids.WALL_HEADLINE, className="wall-headline"),
            html.Section([html.H2(t("ranking", lang)), html.Div(ranking_table(view, gridset, lang, evaluation),
                                                                 id=ids.WALL_RANKING)],
                         className="wall-panel wall-rank"),
            html.Section(
                [
                    # above the map, never over it: a warning's point is never under the banner
                    html.Div(text, id=ids.WALL_BANNER, className=banner_class, hidden=banner_hidden),
                    # of no height, at the map's top edge: its pill lies over the map while the tour replays
                    html.Div(id=ids.WALL_REPLAY_BADGE, className="wall-replay", hidden=True),
                    dcc.Graph(id=ids.WALL_MAP, figure=wall_figure(view, gridset, tile_url, attribution),
                              config={"displayModeBar": False, "scrollZoom": False, "responsive": True},
                              className="wall-graph", style={"width": "100%"}),
                    html.Div([html.Div(plan["town"]["name"], id=ids.WALL_STOP, className="wall-stop-name",
                                       **{"data-stop": ""}),
                              html.Div(plan["town"]["detail"], id=ids.WALL_STOP_DETAIL, className="wall-stop-detail")],
                             className="wall-stop"),
                    html.Div(legend(view, lang), id=ids.WALL_LEGEND, className="wall-legend"),
                    html.Div(evacuation or [], id=ids.WALL_EVAC, className="wall-evac", hidden=not evacuation),
                    html.Div(id=ids.WALL_TOUR, hidden=True,
                             **{"data-order": ",".join(s["key"] for s in plan["order"]),
                                "data-tour": "1" if opts.tour else "0", "data-interval": str(opts.interval)}),
                ],
                className="wall-panel wall-map",
            ),
            html.Section([html.H2(t("feed", lang)),
                          html.Div(html.Div(track, id=ids.WALL_FEED, className="feed-track",
                                            **{"data-step-ms": str(round(FEED_STEP_S * 1000))}),
                                   className="feed-window")],
                         className="wall-panel wall-feed"),
        ],
        id=ids.WALL, className="wall", lang="zh-CN" if lang == "zh" else "en",
    )


# -- time playback (回放, issue 17): the tour's replay stop -------------------------------------------------

def replay_stop(options: dict, gridset: GridSet, now: datetime, lang: str) -> dict | None:
    """The tour's replay stop of the wall's ``options`` (`options_data`): the town over the last
    ``replay`` hours, run through in `REPLAY_STOP_S` (twice a stop, within bounds); None without a replay.

    Besides a stop's keys: ``start`` and ``end`` (epoch seconds, whole minutes) and ``seconds``.
    """
    hours = options.get("replay")
    if not options.get("tour") or not isinstance(hours, int) or not 1 <= hours <= REPLAY_MAX_H:
        return None
    interval = options.get("interval") if isinstance(options.get("interval"), int) else INTERVAL_DEFAULT
    end = epoch(now) // 60 * 60
    stop = _stop("replay", t("pb_wall_stop", lang).format(n=hours), t("pb_badge_note", lang),
                 gridset.bounds(gridset.ids(level=1)))
    stop.update(start=end - hours * 3600, end=end,
                seconds=min(REPLAY_STOP_S[1], max(REPLAY_STOP_S[0], 2 * interval)))
    return stop


def replay_badge(view: View, lang: str) -> list:
    """The badge over the map while the tour replays: 回放, the clock of the frame, its counts then."""
    h = view.headline
    return [html.Div([html.B(t("pb_replay", lang)),
                      html.Span(local_text(view.now, "%m-%d %H:%M"), className="wall-replay-clock"),
                      html.Span(f"{t('open', lang)} {h.open} · {t('overdue', lang)} {h.overdue} ({t('pb_then', lang)})",
                                className="wall-replay-counts")],
                     className="wall-replay-pill")]


def labels_key(updates: dict[int, dict]) -> str:
    """What the names on the wall's map say (villages and the inset's communities, with their counts)."""
    return "\n".join("\x1f".join(map(str, updates.get(index, {}).get("text", ()))) for index in (LABELS, INSET_LABELS))


def drop_labels(updates: dict[int, dict]) -> None:
    """Leave the names out of ``updates``: those on the screen say the same."""
    for index in (LABELS, INSET_LABELS):
        updates.pop(index, None)
