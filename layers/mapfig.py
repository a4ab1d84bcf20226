"""The command map: one figure of independent traces, and the updates to it.

Each trace changes on its own so that a filter change patches only what moved
(Plotly re-tiles a whole choropleth on any change). The grid geometry is put
in the figure once; :func:`map_updates` returns only colours, values,
visibility and points, which the callbacks apply as a ``Patch``.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import datetime
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from layers import maplabels
from layers.basemap import MAP_FONT, view_for_bounds
from layers.text import t
from township.domain.filters import FilterState
from township.domain.isotime import local_text
from township.domain.privacy import shown_name
from township.domain.vocab import (
    CASE_STATUS_COLORS,
    CASE_STATUSES,
    CASE_TYPES,
    DOMAINS,
    EVAC_STATUS_COLORS,
    EVAC_STATUSES,
    OPEN_STATUSES,
    RESOURCE_KINDS,
    WARNING_LEVELS,
    WARNING_TYPES,
    label,
)

#: Trace order in the figure; the callbacks patch traces by these positions.
#: RADIUS (the open warning card's circle) and LABELS (the names, layers/maplabels.py) were added
#: last, so the others kept their places.
TOWN, VILLAGES, GRIDS, OVERDUE, CASES, WARNINGS, RESOURCES, RADIUS, LABELS = range(9)
#: The inset of the dense communities (a second map, ``map2``), after them: their areas, cases, names.
INSET_AREAS, INSET_CASES, INSET_LABELS = range(9, 12)
#: The open warning's evacuation: its households as small points by status (last, so the others keep their places).
EVACUATION = 12
#: Its grids shaded by the share of their households moved. Plotly draws every choropleth below every
#: scattermap (it sorts a map's layers by trace type), so the households' points stay on top.
EVACUATION_GRIDS = 13
#: The share-moved scale (0–100 %): pale to deep green, semi-transparent so the base map and points show.
EVAC_GRID_SCALE = [[0.0, "#E8F5E9"], [1.0, "#1B5E20"]]
EVAC_GRID_OPACITY = 0.5
EVAC_GRID_LINE = "#2E7D32"
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
#: Each resource kind's shape (a character of the app's map font, layers/basemap.py): resources
#: are told apart by shape, in one neutral colour that is no status or warning colour
#: (docs/design.md §1), and look nothing like the round case dots.
RESOURCE_SYMBOLS = {
    "pioneer_post": "★",
    "volunteer_team": "▲",
    "social_work_station": "◆",
    "civilisation_station": "▼",
    "legal_adviser": "■",
    "governance_centre": "◉",
    "supply_depot": "▣",
}
#: The shape of a kind not in the table.
OTHER_SYMBOL = "◇"
#: The resources' colour and halo on the light desk map and the dark wall.
RESOURCE_INK = {"light": ("#263238", "#ffffff"), "dark": ("#e0f2f1", "#08121a")}
RESOURCE_SIZE = 15
#: Case dot and warning point sizes (px at 1080p); the most severe warning is the largest and
#: larger than any case dot, so it is on top and wins the click where they lie together.
CASE_SIZE = 9
WARNING_SIZE = {1: 30, 2: 26, 3: 22, 4: 18}
#: The most grids named at once: the largest first (a city's 50,000 grids cannot all be named).
MAX_LABELS = 400
#: The inset: where it sits on the map (paper fractions), its size in px on a 1080p screen (its zoom
#: is fitted to it) and the margin round the communities (a share of their extent).
INSET_DOMAIN = {"x": [0.7, 1.0], "y": [0.56, 1.0]}
INSET_PX = (300, 270)
INSET_MARGIN = 0.12
INSET_FRAME = "#FFB300"


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


def resource_trace(theme: str = "light") -> dict:
    """The resources' trace: shapes drawn as text in the map font, with a halo (assets/maplabels.js)."""
    ink, halo = RESOURCE_INK[theme]
    return {**_points("resources"), "mode": "text", "textposition": "middle center",
            "textfont": {"family": MAP_FONT, "color": ink, "size": RESOURCE_SIZE},
            "meta": {"halo": halo, "halo_width": 1.5}}


def dense_ids(village_fc: dict) -> list[str]:
    """The communities (``kind`` community) of a level-2 FeatureCollection: small, dense, together."""
    return sorted(f["id"] for f in village_fc["features"] if f.get("properties", {}).get("kind") == "community")


def inset_box(bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The lon/lat box the inset shows: the communities' ``bounds`` and a margin round them."""
    minx, miny, maxx, maxy = bounds
    dx, dy = (maxx - minx) * INSET_MARGIN, (maxy - miny) * INSET_MARGIN
    return minx - dx, miny - dy, maxx + dx, maxy + dy


def inset_bounds(village_fc: dict) -> tuple[float, float, float, float] | None:
    """:func:`inset_box` of the communities of a level-2 FeatureCollection; None without communities."""
    chosen = set(dense_ids(village_fc))
    geoms = [shapely.geometry.shape(f["geometry"]) for f in village_fc["features"] if f["id"] in chosen]
    return inset_box(shapely.union_all(geoms).bounds) if geoms else None


def gridset_dense(gridset) -> list[str]:
    """The grid set's communities (as :func:`dense_ids`)."""
    return [v for v in gridset.ids(level=2) if gridset.props(v).get("kind") == "community"]


def inset_relayout(target, state, gridset) -> None:
    """Show or fold the inset in ``target`` (a figure or a ``Patch``) for ``state``, when the town has one."""
    shown = bool(gridset_dense(gridset)) and inset_shown(state)
    target["layout"]["map2"]["domain"] = INSET_DOMAIN if shown else FOLDED
    target["layout"]["shapes"] = inset_frame(shown, state.lang)


def inset_updates(view, gridset, lang: str, points: dict) -> dict[int, dict]:
    """Data of the inset's traces: the communities coloured as on the main map, their cases, their names.

    ``points`` is the main map's case update (:func:`case_update`): the inset takes those inside its box.
    """
    dense = gridset_dense(gridset)
    if not dense or not inset_shown(view.state):
        return {INSET_AREAS: {"visible": False}, INSET_CASES: {"visible": False}, INSET_LABELS: {"visible": False}}
    ids2, values, _open, _overdue = view.levels[2]
    where = {g: i for i, g in enumerate(ids2)}
    values = np.array([values[where[g]] if g in where else np.nan for g in dense], float)
    colours = grid_colours(dense, values, view.state.measure, lang, 2, scale_max=view.scale_max.get(2))
    colours.update(showscale=False, customdata=text_table([gridset.props(g)["name"] for g in dense]),
                   hovertemplate=f"<b>%{{customdata[0]}}</b><br>{t(view.state.measure, lang)}: %{{z}}<extra></extra>")
    colours.pop("colorbar")
    box = inset_box(gridset.bounds(dense))
    lon, lat = points["lon"], points["lat"]
    inside = (lon >= box[0]) & (lon <= box[2]) & (lat >= box[1]) & (lat <= box[3])
    marker = points["marker"]
    cases = {**points, "lon": lon[inside], "lat": lat[inside], "customdata": points["customdata"][inside],
             "marker": {**marker, "color": marker["color"][inside]}}
    ids2_all, px, py, _area = label_points(gridset, 2)  # cached
    at = {g: i for i, g in enumerate(ids2_all)}
    names = [gridset.props(g)["name"] for g in dense]
    return {
        INSET_AREAS: colours,
        INSET_CASES: cases,
        INSET_LABELS: maplabels.label_update(names, px[[at[g] for g in dense]], py[[at[g] for g in dense]],
                                             maplabels.GRID_SIZE, view_for_bounds(box, *INSET_PX)[1]),
    }


#: Where a folded-away inset goes: a sliver in the corner (a map subplot cannot be hidden).
FOLDED = {"x": [0, 0.001], "y": [0, 0.001]}


def inset_frame(shown: bool, lang: str) -> list[dict]:
    """The inset's frame and title (a shape with a label), or nothing when it is folded away."""
    if not shown:
        return []
    d = INSET_DOMAIN
    return [{"type": "rect", "xref": "paper", "yref": "paper", "layer": "above", "name": "inset",
             "x0": d["x"][0], "x1": d["x"][1], "y0": d["y"][0], "y1": d["y"][1],
             "line": {"color": INSET_FRAME, "width": 2},
             "label": {"text": t("inset_title", lang), "textposition": "bottom center",
                       "font": {"size": 12, "color": "#263238"}, "padding": 4}}]


def inset_layout(village_fc: dict, style: dict, state) -> tuple[dict, list[dict]]:
    """The inset map (``map2``) and its frame for ``state``; a sliver when there is nothing to show.

    Its traces are in the figure either way, so that every figure has the same trace positions.
    """
    box = inset_bounds(village_fc)
    if box is None:
        return {"style": style, "domain": FOLDED}, []
    center, zoom = view_for_bounds(box, *INSET_PX)
    shown = inset_shown(state)
    return ({"style": style, "center": center, "zoom": zoom, "domain": INSET_DOMAIN if shown else FOLDED,
             "uirevision": "inset"}, inset_frame(shown, state.lang))


def inset_shown(state) -> bool:
    """Whether the inset is shown: over the whole town (no village chosen)."""
    return not state.village


def inset_traces(village_fc: dict) -> list[dict]:
    """The inset's traces (on ``map2``): the communities' areas, the cases there, their names."""
    dense = {f["id"] for f in village_fc["features"] if f["id"] in set(dense_ids(village_fc))}
    fc = {"type": "FeatureCollection", "features": [f for f in village_fc["features"] if f["id"] in dense]}
    areas = _choropleth("inset areas", fc, "#455A64", LINE_WIDTH[2])
    areas["locations"] = sorted(dense)
    return [{**areas, "subplot": "map2"}, {**_points("inset cases"), "subplot": "map2"},
            {**maplabels.label_trace(), "name": "inset labels", "subplot": "map2"}]


def base_figure(town_fc: dict, village_fc: dict, grid_fc: dict, style: dict, view: tuple[dict, float],
                state=None) -> dict:
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
    state : FilterState, optional
        What the page opens on (the inset of the communities shows over the whole town); the town by default.
    """
    state = state or FilterState()
    center, zoom = view
    town = _choropleth("town", town_fc, "#37474F", LINE_WIDTH[1])
    town.update(marker={**town["marker"], "opacity": 0.15}, colorscale=[[0, "#B0BEC5"], [1, "#B0BEC5"]],
                hoverinfo="skip")
    inset, frame = inset_layout(village_fc, style, state)
    return {
        "data": [
            town,
            _choropleth("villages", village_fc, "#455A64", LINE_WIDTH[2]),
            _choropleth("grids", grid_fc, "#607D8B", LINE_WIDTH[3]),
            _points("overdue"),
            _points("cases"),
            _points("warnings"),
            resource_trace(),
            {"type": "scattermap", "name": "radius", "lon": [], "lat": [], "mode": "lines", "fill": "none",
             "hoverinfo": "skip", "line": {"width": 3, "color": "#E53935"}},
            maplabels.label_trace(),
            *inset_traces(village_fc),
            _points("evacuation"),
            _choropleth("evacuation grids", EMPTY_FC, EVAC_GRID_LINE, 1.2),
        ],
        "layout": {
            # the whole figure: with a second map plotly would otherwise split the height between them
            "map": {"style": style, "center": center, "zoom": zoom, "uirevision": "town",
                    "domain": {"x": [0, 1], "y": [0, 1]}},
            "map2": inset,
            "shapes": frame,
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


def colour_ticks(measure: str, zmax: float) -> dict:
    """Colour bar ticks: whole numbers for counts (never 0.5), at most about six of them."""
    if measure == "density":
        return {}
    step = max(1, int(np.ceil(zmax / 5)))
    return {"tickmode": "linear", "tick0": 0, "dtick": step, "tickformat": "d"}


def grid_colours(ids: list[str], values: np.ndarray, measure: str, lang: str, level: int,
                 selected: str | Collection[str] | None = None, visible: bool = True,
                 scale_max: float | None = None) -> dict:
    """Values, colours and hover of one choropleth level whose :func:`grid_labels` are ``ids``.

    ``values`` is aligned with ``ids``; NaN leaves a grid undrawn. ``selected``
    (one id or several) is drawn with a thicker outline. ``scale_max`` (the town's
    largest value) tops the scale, so a chosen village is coloured as the town is.
    """
    chosen = {selected} if isinstance(selected, str) else set(selected or ())
    drawn = values[~np.isnan(values)]
    top = max(float(drawn.max()) if len(drawn) else 0.0, scale_max or 0.0)
    zmax = top if top > 0 else 1.0
    if measure != "density":
        zmax = float(np.ceil(zmax))  # counts: the scale ends on a whole number
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
        "colorbar": {"title": {"text": t(measure, lang)}, "thickness": 12, "len": 0.5, "x": 0.99, "y": 0.27,
                     **colour_ticks(measure, zmax)},
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
        "marker": {"color": _per_code(cases["status"], CASE_STATUS_COLORS.__getitem__), "size": CASE_SIZE,
                   "opacity": 0.9},
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
    """Warning points in the four national colours, the most severe the largest.

    Times are shown in Beijing time (:func:`township.domain.isotime.local_text`), as the warning card shows them.
    """
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
        [local_text(v) for v in warnings["issued_at"]],
        (warnings["radius_m"] / 1000).round(1).tolist(),
    )
    return {
        **_coords(warnings),
        "customdata": custom,
        "hovertemplate": hover,
        "marker": {"color": [WARNING_LEVELS[lv]["color"] for lv in levels],
                   "size": [WARNING_SIZE.get(lv, 18) for lv in levels], "opacity": 0.95},
        "visible": visible,
    }


def resource_update(resources: pd.DataFrame, lang: str, visible: bool = True) -> dict:
    """Resource points: pioneer posts, teams, stations, depots, each kind its shape (:data:`RESOURCE_SYMBOLS`)."""
    custom = text_table(resources["name"].tolist(), [label(RESOURCE_KINDS, k, lang) for k in resources["kind"]])
    return {
        **_coords(resources),
        "customdata": custom,
        "hovertemplate": "<b>%{customdata[0]}</b><br>%{customdata[1]}<extra></extra>",
        "text": np.array([RESOURCE_SYMBOLS.get(k, OTHER_SYMBOL) for k in resources["kind"]], dtype=str),
        "visible": visible,
    }


def radius_update(warning: dict | list[dict] | None, width: float = 3) -> dict:
    """Warning circles (computed in EPSG:4546) in the most severe one's colour; empty when there is none.

    ``warning`` is :func:`township.loop.warnings.selected_warning`'s dict (``lon``, ``lat``,
    ``radius_m``, ``level``), or a list of them (the wall draws every live red warning's circle):
    one line, each circle closed and a gap (``None``) between them.
    """
    found = [warning] if isinstance(warning, dict) else list(warning or [])
    if not found:
        return {"lon": [], "lat": [], "visible": True}
    from township.loop.warnings import radius_ring

    lon: list[float | None] = []
    lat: list[float | None] = []
    for w in found:
        x, y = radius_ring(w["lon"], w["lat"], w["radius_m"])
        lon += [*x, None]
        lat += [*y, None]
    level = min(int(w.get("level") or 1) for w in found)
    return {"lon": lon[:-1], "lat": lat[:-1], "visible": True,
            "line": {"color": WARNING_LEVELS.get(level, {}).get("color", "#E53935"), "width": width}}


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
             "x": 0.5, "y": 0.99, "xref": "paper", "yref": "paper", "xanchor": "center", "yanchor": "top",
             "showarrow": False, "bgcolor": "rgba(255,255,255,0.85)", "font": {"size": 13}}]


def drawn_level(state) -> int:
    """The grid level the map colours: a chosen village at village level shows its grids (not one blob)."""
    return 3 if state.village and state.level == 2 else state.level


@lru_cache(maxsize=16)
def label_points(gridset, level: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Ids, label points (lon, lat) and areas of a level's grids, largest first; built on first use per grid set."""
    ids = gridset.ids(level=level)
    points = np.array([maplabels.label_point(gridset.geometry(g)) for g in ids]).reshape(-1, 2)
    areas = np.asarray(gridset.areas_km2(level), float)
    order = np.argsort(-areas, kind="stable")
    return [ids[i] for i in order], points[order, 0], points[order, 1], areas[order]


def _short_name(gridset, grid_id: str) -> str:
    name = gridset.props(grid_id)["name"]
    parent = gridset.parent(grid_id)
    if not parent or gridset.level(grid_id) != 3:
        return name
    return name.removeprefix(gridset.props(parent)["name"]) or name


def focus_zoom(state, gridset) -> float:
    """The zoom the desk's map opens at for ``state`` (the chosen villages or the town, as ui.dashboard.map_view)."""
    return view_for_bounds(gridset.bounds(state.village or gridset.ids(level=1)))[1]


def label_update(view, gridset, zoom: float, scale: float = 1.0, counts: bool = False,
                 size: float | None = None) -> dict:
    """The names on the map for ``view``, placed at ``zoom`` (:func:`layers.maplabels.place`).

    The town (no village chosen, level 1 or 2) names its villages (villages before communities,
    larger first); a chosen village or level 3 names the grids shown. ``counts`` adds each
    village's open and overdue cases (the wall). ``size`` replaces the default text size (1080p px);
    sizes are × ``scale`` (a 4K wall).
    """
    f = view.state
    level = 2 if drawn_level(f) < 3 else 3
    ids, lon, lat, _area = label_points(gridset, level)
    shown = set(view.levels[level][0])
    keep = [i for i, g in enumerate(ids) if g in shown]
    if level == 2:  # villages first: communities are small and lie together (the inset names them too)
        keep.sort(key=lambda i: gridset.props(ids[i]).get("kind") == "community")
    keep = keep[:MAX_LABELS]
    # a grid's name without its village's, which the view already shows: 第3网格, not 创业社区第3网格
    names = [_short_name(gridset, ids[i]) for i in keep]
    if counts and level == 2:
        shown_ids, _v, n_open, n_overdue = view.levels[2]
        where = {g: k for k, g in enumerate(shown_ids)}
        names = [f"{n}<br>" + t("label_counts", f.lang).format(open=int(n_open[where[ids[i]]]),
                                                              overdue=int(n_overdue[where[ids[i]]]))
                 for n, i in zip(names, keep, strict=True)]
    base = size or (maplabels.VILLAGE_SIZE if level == 2 else maplabels.GRID_SIZE)
    return maplabels.label_update(names, lon[keep], lat[keep], base, zoom, scale,
                                  areas=[gridset.geometry(ids[i]) for i in keep])


def map_updates(view, gridset, warning: dict | None = None, zoom: float | None = None) -> dict[int, dict]:
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
    zoom : float, optional
        The zoom the labels are placed at; by default the one the view opens at (:func:`focus_zoom`).
    """
    f = view.state
    lang = f.lang
    shown_level = drawn_level(f)
    updates: dict[int, dict] = {}
    for level, index in LEVEL_TRACES.items():
        if level != shown_level:
            # A hidden level keeps what it had: its values are sent when it is shown again
            # (tens of thousands of grids at city scale would otherwise go out at every change).
            updates[index] = _town_outline(len(gridset.ids(level=1))) if level == 1 else {"visible": False}
            continue
        ids, values, _open, _overdue = view.levels[level]
        updates[index] = grid_colours(
            gridset.ids(level=level), _aligned(gridset, level, ids, values), f.measure, lang, level,
            selected=({f.grid} if f.grid else set()) | set(warning["grids"] if warning and level == 3 else ()),
            scale_max=view.scale_max.get(level),
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
    updates[LABELS] = label_update(view, gridset, focus_zoom(f, gridset) if zoom is None else zoom)
    updates.update(inset_updates(view, gridset, lang, updates[CASES]))
    updates[EVACUATION] = evacuation_update((warning or {}).get("households") or [], lang)
    updates[EVACUATION_GRIDS] = evacuation_grids_update(gridset, (warning or {}).get("grids_moved") or [], lang)
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


def grids_geojson(gridset, grid_ids: list[str]) -> dict:
    """A FeatureCollection of only these grids' geometry (a few grids sent with an update, not the level's all)."""
    texts = shapely.to_geojson(np.array([gridset.geometry(g) for g in grid_ids], dtype=object)) if grid_ids else []
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "id": g, "geometry": json.loads(text)}
                         for g, text in zip(grid_ids, texts, strict=True)]}


def evacuation_grids_update(gridset, counts: list[tuple[str, int, int]], lang: str) -> dict:
    """The open warning's evacuation grids shaded by the share of households moved (0–100 %).

    ``counts`` are (grid_id, moved, total) (`township.loop.evacroster.evacuation_grid_counts`):
    aggregates, the same for every viewer of the warning. Hover: the grid's name and "x / y 已转移".
    """
    rows = [(g, m, n) for g, m, n in counts if g in gridset and n > 0]
    ids = [g for g, _, _ in rows]
    if not ids:  # no evacuation open: hidden, and no geometry or ids in the patch (filter changes carry none)
        return {"visible": False}
    moved = t("evac_moved", lang)
    return {"geojson": grids_geojson(gridset, ids), "locations": ids,
            "z": [round(100 * m / n, 1) for _, m, n in rows], "zmin": 0, "zmax": 100,
            "colorscale": EVAC_GRID_SCALE, "showscale": False,
            "marker": {"opacity": EVAC_GRID_OPACITY, "line": {"color": EVAC_GRID_LINE, "width": 1.2}},
            "text": [f"{gridset.props(g)['name']}<br>{m} / {n} {moved}" for g, m, n in rows],
            "hoverinfo": "text", "visible": bool(ids)}
