"""The command map: one figure of independent traces, and the updates to it.

Each trace changes on its own so that a filter change patches only what moved
(Plotly re-tiles a whole choropleth on any change). The grid geometry is put
in the figure once; :func:`map_updates` returns only colours, values,
visibility and points, which the callbacks apply as a ``Patch``.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

import numpy as np
import pandas as pd

from layers.text import t
from township.domain.privacy import shown_name
from township.domain.vocab import (
    CASE_STATUS_COLORS,
    CASE_STATUSES,
    CASE_TYPES,
    DOMAINS,
    EVAC_STATUS_COLORS,
    EVAC_STATUSES,
    OPEN_STATUSES,
    RESOURCE_COLORS,
    RESOURCE_KINDS,
    WARNING_LEVELS,
    WARNING_TYPES,
    label,
)

#: Trace order in the figure; the callbacks patch traces by these positions.
#: RADIUS (the open warning card's circle) was added last, so the others kept their places.
TOWN, VILLAGES, GRIDS, OVERDUE, CASES, WARNINGS, RESOURCES, RADIUS = range(8)
#: The open warning's evacuation: its households as small points by status (last, so the others keep their places).
EVACUATION = 8
#: The choropleth trace of each grid level.
LEVEL_TRACES = {1: TOWN, 2: VILLAGES, 3: GRIDS}

#: Outline width of each grid level; a selected grid is drawn thicker.
LINE_WIDTH = {1: 3.0, 2: 1.6, 3: 0.6}
SELECTED_WIDTH = 4.0
#: Colour scales, light (none) to dark (many), one per measure.
MEASURE_SCALES = {
    "open": [[0, "#FFF8E1"], [0.5, "#FFB74D"], [1, "#E65100"]],
    "overdue": [[0, "#FFEBEE"], [0.5, "#EF9A9A"], [1, "#B71C1C"]],
    "density": [[0, "#F3E5F5"], [0.5, "#BA68C8"], [1, "#4A148C"]],
}
OVERDUE_RING = "rgba(229,57,53,0.45)"
#: The most case points the map draws. Beyond it (a county or a city, or a long
#: window) the points are too many to tell apart and to send at every filter change
#: (bench/results.md): the map draws the most urgent ones and says so; the grid
#: colours, the headline and the table still count every case.
MAX_CASE_POINTS = 2_000
#: Of those, the share kept for the newest cases whatever their status: a case that just came
#: in is on the map at once, even where overdue cases alone would fill it (a city has thousands).
NEWEST_SHARE = 0.1
EMPTY_FC: dict = {"type": "FeatureCollection", "features": []}


def grids_inline(gridset, level: int, limit: int) -> bool:
    """Whether a page opened on ``level`` carries the level-3 geometry, or gets it when level 3 is shown.

    Up to ``limit`` level-3 grids (``Settings.inline_grids``) it always does; beyond it (a city's
    50,000 grids are megabytes) only a page opened on level 3.
    """
    return level == 3 or len(gridset.ids(level=3)) <= limit


def geometry_only(fc: dict) -> dict:
    """A FeatureCollection with only ids and geometry: the browser needs no more."""
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "id": f["id"], "geometry": f["geometry"]} for f in fc["features"]],
    }


def _choropleth(name: str, fc: dict, line: str, width: float) -> dict:
    return {
        "type": "choroplethmap",
        "name": name,
        "geojson": geometry_only(fc),
        "locations": [],
        "z": [],
        "marker": {"line": {"color": line, "width": width}, "opacity": 0.72},
        "showscale": False,
        "hoverlabel": {"namelength": 0},
    }


def _points(name: str) -> dict:
    return {"type": "scattermap", "name": name, "lon": [], "lat": [], "mode": "markers",
            "hoverlabel": {"namelength": 0}}


def base_figure(town_fc: dict, village_fc: dict, grid_fc: dict, style: dict, view: tuple[dict, float]) -> dict:
    """The figure (a plain dict) with all geometry and empty data; :func:`map_updates` fills it.

    A dict, not a ``go.Figure``: plotly's objects validate and deep-copy every
    coordinate, which took seconds for a city's 50,000 grids (bench/results.md).

    Parameters
    ----------
    town_fc, village_fc, grid_fc : dict
        GeoJSON FeatureCollections of levels 1–3 (feature ``id`` = grid id).
    style : dict
        MapLibre style (see :func:`layers.basemap.map_style`).
    view : (dict, float)
        Initial centre and zoom.
    """
    center, zoom = view
    town = _choropleth("town", town_fc, "#37474F", LINE_WIDTH[1])
    town.update(marker={**town["marker"], "opacity": 0.15}, colorscale=[[0, "#B0BEC5"], [1, "#B0BEC5"]],
                hoverinfo="skip")
    return {
        "data": [
            town,
            _choropleth("villages", village_fc, "#455A64", LINE_WIDTH[2]),
            _choropleth("grids", grid_fc, "#607D8B", LINE_WIDTH[3]),
            _points("overdue"),
            _points("cases"),
            _points("warnings"),
            _points("resources"),
            {"type": "scattermap", "name": "radius", "lon": [], "lat": [], "mode": "lines", "fill": "none",
             "hoverinfo": "skip", "line": {"width": 3, "color": "#E53935"}},
            _points("evacuation"),
        ],
        "layout": {
            "map": {"style": style, "center": center, "zoom": zoom, "uirevision": "town"},
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "showlegend": False,
            "uirevision": "keep",
            "paper_bgcolor": "rgba(0,0,0,0)",
        },
    }


def text_table(*columns) -> np.ndarray:
    """Columns of equal length as one text array of rows, for ``customdata``.

    Plotly serialises a text array whole, where a list of lists is walked item
    by item: at 2,000 case points that walk was a third of a filter change's
    server time. Numbers become text (``"17"``); the callbacks read ids with ``int()``.
    """
    return np.array(columns, dtype=str).T.reshape(-1, len(columns))


def age_text(now: datetime, since: pd.Series, lang: str) -> np.ndarray:
    """How long ago each of ``since`` was, as the screen says it: hours up to two days, then days."""
    hours = (np.datetime64(now) - since.to_numpy()) / np.timedelta64(1, "h")
    days = np.strings.add(np.round(hours / 24).astype(int).astype(str), t("days", lang))
    return np.where(hours >= 48, days, np.strings.add(np.round(hours).astype(int).astype(str), t("hours", lang)))


def _per_code(codes: pd.Series, text: Callable[[object], str]) -> np.ndarray:
    # One lookup per category, then an index: the snapshot's case code columns are categorical.
    cat = codes.astype("category").cat
    return np.array([text(c) for c in cat.categories] + [""], dtype=str)[cat.codes.to_numpy()]


def _labels(codes: pd.Series, table: dict, lang: str) -> np.ndarray:
    return _per_code(codes, lambda c: label(table, c, lang))


def grid_labels(ids: list[str], gridset, role: str, own: Collection[str] | None = None) -> dict:
    """The fixed part of a choropleth level: its grids and their hover names, sent with its geometry.

    ``locations`` never change afterwards: a filter sends only :func:`grid_colours`,
    with no value (not drawn) for the grids it leaves out, so a city's 50,000 ids
    and names are not resent at every change (bench/results.md). ``own`` (a
    village operator's villages) leaves the officers of other villages out.
    """
    props = [gridset.props(g) for g in ids]
    names = [p["name"] for p in props]
    officers = [shown_name(p.get("officer"), role) if own is None or gridset.village_of(g) in own else ""
                for g, p in zip(ids, props, strict=True)]
    return {"locations": ids, "customdata": text_table(names, officers)}


def grid_colours(ids: list[str], values: np.ndarray, measure: str, lang: str, level: int,
                 selected: str | Collection[str] | None = None, visible: bool = True) -> dict:
    """Values, colours and hover of one choropleth level whose :func:`grid_labels` are ``ids``.

    ``values`` is aligned with ``ids``; NaN leaves a grid undrawn. ``selected``
    (one id or several) is drawn with a thicker outline.
    """
    chosen = {selected} if isinstance(selected, str) else set(selected or ())
    drawn = values[~np.isnan(values)]
    zmax = float(drawn.max()) if len(drawn) and drawn.max() > 0 else 1.0
    hover = (
        "<b>%{customdata[0]}</b><br>"
        + f"{t('officer', lang)}: %{{customdata[1]}}<br>{t(measure, lang)}: %{{z}}<extra></extra>"
    )
    width = LINE_WIDTH[level]
    z = np.round(values, 2)  # NaN goes out as null, which plotly leaves undrawn
    if len(drawn) == len(z) and np.array_equal(z, z.round()):
        z = z.astype(np.int32)  # counts go out without a ".0"
    return {
        "z": z,
        "hovertemplate": hover,
        "colorscale": MEASURE_SCALES[measure],
        "zmin": 0,
        "zmax": zmax,
        "showscale": visible,
        "colorbar": {"title": {"text": t(measure, lang)}, "thickness": 12, "len": 0.5, "x": 0.99, "y": 0.5},
        "marker": {"line": {"width": [SELECTED_WIDTH if i in chosen else width for i in ids] if chosen else width}},
        "visible": visible,
    }


def _coords(frame: pd.DataFrame) -> dict:
    # numpy arrays go to orjson whole (a list is walked item by item); 5
    # decimals is about a metre, which is all a map point needs.
    return {"lon": frame["lon"].to_numpy(float).round(5), "lat": frame["lat"].to_numpy(float).round(5)}


def case_update(cases: pd.DataFrame, overdue: np.ndarray, now: datetime, lang: str, visible: bool = True) -> dict:
    """Case points coloured by status (hover: type, domain, status, age).

    The title is left to the case card and the table: it was the largest part
    of every filter change (bench/results.md).
    """
    hover = (
        "<b>%{customdata[1]}</b> · %{customdata[2]}<br>%{customdata[3]}"
        + f"<br>{t('age', lang)}: %{{customdata[4]}}<extra></extra>"
    )
    status = _labels(cases["status"], CASE_STATUSES, lang)
    custom = text_table(
        cases["id"].to_numpy(),
        _labels(cases["type"], CASE_TYPES, lang),
        _labels(cases["domain"], DOMAINS, lang),
        np.where(overdue, np.strings.add(status, f" · {t('overdue', lang)}"), status),
        age_text(now, cases["reported_at"], lang),
    )
    return {
        **_coords(cases),
        "customdata": custom,
        "hovertemplate": hover,
        "marker": {"color": _per_code(cases["status"], CASE_STATUS_COLORS.__getitem__), "size": 9, "opacity": 0.9},
        "visible": visible,
    }


def overdue_update(cases: pd.DataFrame, visible: bool = True) -> dict:
    """A red halo under every overdue case, so overdue shows at any zoom."""
    return {
        **_coords(cases),
        "marker": {"color": OVERDUE_RING, "size": 22},
        "hoverinfo": "skip",
        "visible": visible,
    }


def warning_update(warnings: pd.DataFrame, lang: str, visible: bool = True) -> dict:
    """Warning points in the four national colours, the most severe the largest."""
    hover = (
        "<b>%{customdata[1]}</b><br>%{customdata[2]} · %{customdata[3]}"
        + f"<br>{t('issued', lang)}: %{{customdata[4]}}<br>{t('radius', lang)}: %{{customdata[5]}} km<extra></extra>"
    )
    levels = warnings["level"].tolist()
    custom = text_table(
        warnings["id"].tolist(),
        warnings["title"].tolist(),
        [label(WARNING_TYPES, c, lang) for c in warnings["type"]],
        [WARNING_LEVELS[lv][lang] for lv in levels],
        warnings["issued_at"].dt.strftime("%m-%d %H:%M").tolist(),
        (warnings["radius_m"] / 1000).round(1).tolist(),
    )
    return {
        **_coords(warnings),
        "customdata": custom,
        "hovertemplate": hover,
        "marker": {"color": [WARNING_LEVELS[lv]["color"] for lv in levels],
                   "size": [30 - 4 * lv for lv in levels], "opacity": 0.95},
        "visible": visible,
    }


def resource_update(resources: pd.DataFrame, lang: str, visible: bool = True) -> dict:
    """Resource points: pioneer posts, teams, stations, depots."""
    custom = text_table(resources["name"].tolist(), [label(RESOURCE_KINDS, k, lang) for k in resources["kind"]])
    return {
        **_coords(resources),
        "customdata": custom,
        "hovertemplate": "<b>%{customdata[0]}</b><br>%{customdata[1]}<extra></extra>",
        "marker": {"color": [RESOURCE_COLORS[k] for k in resources["kind"]], "size": 8, "opacity": 0.9},
        "visible": visible,
    }


def radius_update(warning: dict | None) -> dict:
    """The open warning's circle (computed in EPSG:4546), in its level's colour; empty when none is open.

    ``warning`` is :func:`township.loop.warnings.selected_warning`'s dict (``lon``, ``lat``, ``radius_m``, ``level``).
    """
    if not warning:
        return {"lon": [], "lat": [], "visible": True}
    from township.loop.warnings import radius_ring

    lon, lat = radius_ring(warning["lon"], warning["lat"], warning["radius_m"])
    return {"lon": lon, "lat": lat, "visible": True,
            "line": {"color": WARNING_LEVELS.get(warning.get("level"), {}).get("color", "#E53935"), "width": 3}}


def apply_updates(target, updates: dict[int, dict]) -> None:
    """Write ``updates`` (trace index → nested attributes) into a figure dict or a ``Patch``.

    The same function fills the first figure and patches it later, so the two
    can never drift apart.
    """
    def put(node, values: dict) -> None:
        for key, value in values.items():
            if isinstance(value, dict):
                put(node.setdefault(key, {}) if isinstance(node, dict) else node[key], value)
            else:
                node[key] = value

    for index, values in updates.items():
        put(target["data"][index], values)


def _town_outline(n: int) -> dict:
    """The ``n`` town(s) drawn as a faint outline under a village or grid view."""
    return {"z": np.zeros(n, dtype=np.int32), "colorscale": [[0, "#B0BEC5"], [1, "#B0BEC5"]], "showscale": False,
            "visible": True}


def map_labels(gridset, state, role: str, levels: Collection[int] = (1, 2, 3)) -> dict[int, dict]:
    """:func:`grid_labels` of ``levels`` for a page of ``role`` opened on ``state``.

    Every grid of each level, whoever looks: the values a later update sends line
    up with them even when the viewer changes under an open page (a session that
    expires). A village operator's page draws only their village and names no
    other village's officers.
    """
    own = state.village if role == "village" else None
    return {LEVEL_TRACES[lv]: grid_labels(gridset.ids(level=lv), gridset, role, own) for lv in levels}


def _aligned(gridset, level: int, ids: list[str], values: np.ndarray) -> np.ndarray:
    """``values`` of ``ids`` placed at their grids' positions in ``ids(level)``; NaN for the others."""
    n = len(gridset.ids(level=level))
    if len(ids) == n:
        return values.astype(float)  # both are the level's sorted ids
    out = np.full(n, np.nan)
    out[gridset.positions(ids, level)] = values
    return out


#: The case columns :func:`case_update` and :func:`overdue_update` draw from.
CASE_POINT_COLUMNS = ["id", "type", "domain", "status", "reported_at", "lon", "lat"]


def drawn_cases(cases: pd.DataFrame, overdue: np.ndarray) -> np.ndarray:
    """Row positions of the cases the map draws: all of them, or the `MAX_CASE_POINTS` most urgent.

    Most urgent: the newest (`NEWEST_SHARE` of the points) first, then overdue,
    then open, then the rest; newest first within each.
    """
    limit = MAX_CASE_POINTS
    if len(cases) <= limit:
        return np.arange(len(cases))
    open_ = cases["status"].isin(OPEN_STATUSES).to_numpy()
    age = cases["reported_at"].to_numpy().astype("datetime64[s]").astype(np.int64)
    age = age.max() - age
    # One key, smaller is more urgent: the rank (0 newest, 1 overdue, 2 open, 3 other) above the age.
    # A partition finds the smallest in linear time, where sorting a city's million took 0.1 s.
    rank = np.where(overdue, 1, np.where(open_, 2, 3)).astype(np.int64)
    newest = int(limit * NEWEST_SHARE)
    if newest:
        rank[np.argpartition(age, newest - 1)[:newest]] = 0
    key = (rank << 40) + age
    return np.sort(np.argpartition(key, limit - 1)[:limit])


def map_note(view, lang: str) -> list[dict]:
    """The map's annotations: a line saying how many cases are drawn when not all are."""
    total = len(view.cases)
    if total <= MAX_CASE_POINTS or "cases" not in view.state.layers:
        return []
    return [{"text": t("points_capped", lang).format(shown=f"{MAX_CASE_POINTS:,}", total=f"{total:,}"),
             "x": 0.01, "y": 0.99, "xref": "paper", "yref": "paper", "xanchor": "left", "yanchor": "top",
             "showarrow": False, "bgcolor": "rgba(255,255,255,0.85)", "font": {"size": 13}}]


def map_updates(view, gridset, warning: dict | None = None) -> dict[int, dict]:
    """Every data-dependent attribute of the map for one :class:`~township.read.views.View`.

    The grids' ids and names are not among them (:func:`map_labels` sent them
    once), and nothing in them depends on who looks.

    Parameters
    ----------
    view : township.read.views.View
        The filtered data.
    gridset : township.grids.model.GridSet
        The grids in use.
    warning : dict, optional
        The warning whose card is open (:func:`township.loop.warnings.selected_warning`):
        its circle is drawn and its affected grids outlined thicker.
    """
    f = view.state
    lang = f.lang
    updates: dict[int, dict] = {}
    for level, index in LEVEL_TRACES.items():
        if level != f.level:
            # A hidden level keeps what it had: its values are sent when it is shown again
            # (tens of thousands of grids at city scale would otherwise go out at every change).
            updates[index] = _town_outline(len(gridset.ids(level=1))) if level == 1 else {"visible": False}
            continue
        ids, values, _open, _overdue = view.levels[level]
        updates[index] = grid_colours(
            gridset.ids(level=level), _aligned(gridset, level, ids, values), f.measure, lang, level,
            selected=({f.grid} if f.grid else set()) | set(warning["grids"] if warning and level == 3 else ()),
        )
    layers = set(f.layers)
    drawn = drawn_cases(view.cases, view.overdue)
    # Only the columns the points show are taken: a case row has a dozen more.
    cases, overdue = view.cases[CASE_POINT_COLUMNS].iloc[drawn], view.overdue[drawn]
    updates[OVERDUE] = overdue_update(cases[overdue], visible="cases" in layers)
    updates[CASES] = case_update(cases, overdue, view.now, lang, visible="cases" in layers)
    updates[WARNINGS] = warning_update(view.warnings, lang, visible="warnings" in layers)
    updates[RESOURCES] = resource_update(view.resources, lang, visible="resources" in layers)
    updates[RADIUS] = radius_update(warning)
    updates[EVACUATION] = evacuation_update((warning or {}).get("households") or [], lang)
    return updates


def evacuation_update(points: list[tuple[float, float, str]], lang: str) -> dict:
    """The open warning's households as small points coloured by evacuation status, no name or number.

    ``points`` are (lon, lat, status) of the households the viewer may see
    (`township.loop.evacroster.evacuation_points`); empty for everyone else.
    """
    statuses = [p[2] for p in points]
    return {"lon": [p[0] for p in points], "lat": [p[1] for p in points], "visible": True,
            "marker": {"color": [EVAC_STATUS_COLORS[s] for s in statuses], "size": 6, "opacity": 0.95},
            "text": [label(EVAC_STATUSES, s, lang) for s in statuses], "hoverinfo": "text"}
