"""The admin page's validation map: an uploaded grid file's outlines, each broken rule drawn where it is.

A pure builder: a `township.grids.compare.GridCheck` (and, for a file that
passed, its `~township.grids.compare.GridDiff` against the grids in use) in,
a Plotly figure dict out. Every problem is one trace, named with its number
and rule so that the legend beside the map reads as the report, with the
full message in its hover card; map text is never drawn (docs/design.md §3).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from layers.basemap import map_style, view_for_bounds
from layers.text import GRID_RULES, t
from township.domain.vocab import label
from township.grids.compare import GridCheck, GridDiff
from township.grids.model import GridSet

#: Colours of the problems (a rule's region) and of the diff's kinds; none is a warning level's colour.
RULE_COLOURS = {"sibling_overlap": "#D81B60", "coverage_gap": "#8E24AA", "outside_parent": "#F4511E"}
OTHER_RULE = "#6D4C41"
DIFF_COLOURS = {"added": "#43A047", "removed": "#757575", "reshaped": "#FB8C00"}
OUTLINE = "#607D8B"


def _rings(geoms: Iterable[BaseGeometry | None]) -> tuple[list[float | None], list[float | None]]:
    """Lon and lat of every polygon ring of ``geoms``, rings separated by ``None`` (one trace draws them all)."""
    lon: list[float | None] = []
    lat: list[float | None] = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        for part in shapely.get_parts(g):
            if part.geom_type == "GeometryCollection":
                continue
            rings = [part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part]
            for ring in rings:
                xy = np.round(np.asarray(ring.coords)[:, :2], 6)
                lon += [*xy[:, 0].tolist(), None]
                lat += [*xy[:, 1].tolist(), None]
    return lon, lat


def _area_trace(name: str, geoms: Iterable[BaseGeometry | None], colour: str, hover: str, rule: str) -> dict:
    lon, lat = _rings(geoms)
    return {"type": "scattermap", "mode": "lines", "fill": "toself", "name": name, "lon": lon, "lat": lat,
            "line": {"color": colour, "width": 2}, "fillcolor": colour + "88", "hoverinfo": "text",
            "hovertext": hover, "meta": rule, "hoverlabel": {"namelength": -1}}


def _file_geoms(check: GridCheck) -> list[BaseGeometry | None]:
    if check.gridset is not None:
        return [check.gridset.geometry(g) for g in check.gridset]
    features = (check.data or {}).get("features") or []
    ids = [f.get("properties", {}).get("grid_id") for f in features if isinstance(f, dict)
           and isinstance(f.get("properties"), dict)]
    return [check.geometry_of(g) for g in ids if isinstance(g, str)]


#: The least span (degrees, about 2 km) of a view fitted to problems: a sliver is shown with the grids around it.
MIN_SPAN_DEG = 0.02


def _frame(geoms: list[BaseGeometry]) -> tuple[float, float, float, float]:
    """Bounds of ``geoms``, widened to at least `MIN_SPAN_DEG` each way (the town's if there is nothing)."""
    if not geoms:
        return 110.9, 39.9, 111.3, 40.2
    x0, y0, x1, y1 = (float(b) for b in shapely.total_bounds(np.array(geoms, dtype=object)))
    dx, dy = max(0.0, MIN_SPAN_DEG - (x1 - x0)) / 2, max(0.0, MIN_SPAN_DEG - (y1 - y0)) / 2
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def validation_figure(check: GridCheck, current: GridSet | None = None, diff: GridDiff | None = None,
                      lang: str = "zh", tile_url: str | None = None) -> dict:
    """The map of an upload: its grid outlines, then one trace per problem, or per kind of change in ``diff``.

    A problem without a region of its own (a bad property, an invalid polygon) is drawn as its grid. The view
    fits the problems when there are any, else the whole file.
    """
    geoms = _file_geoms(check)
    lon, lat = _rings(geoms)
    traces: list[dict] = [{"type": "scattermap", "mode": "lines", "name": check.filename, "lon": lon, "lat": lat,
                           "line": {"color": OUTLINE, "width": 0.7}, "hoverinfo": "skip", "meta": "outline"}]
    problems: list[BaseGeometry] = []
    for n, v in enumerate(check.violations, start=1):
        where = v.where if v.where is not None else check.geometry_of(v.grid_id)
        if where is None:
            continue
        problems.append(where)
        traces.append(_area_trace(f"{n}. {label(GRID_RULES, v.rule, lang)} {v.grid_id or ''}".strip(), [where],
                                  RULE_COLOURS.get(v.rule, OTHER_RULE), v.message, v.rule))
    if diff is not None and check.gridset is not None:
        new = check.gridset
        problems += [new.geometry(g) for g in diff.added + [r.grid_id for r in diff.reshaped]]
        if diff.added:
            traces.append(_area_trace(f"{t('admin_added', lang)} {len(diff.added)}",
                                      [new.geometry(g) for g in diff.added], DIFF_COLOURS["added"],
                                      "、".join(diff.added), "added"))
        if diff.reshaped:
            traces.append(_area_trace(f"{t('admin_reshaped', lang)} {len(diff.reshaped)}",
                                      [new.geometry(r.grid_id) for r in diff.reshaped], DIFF_COLOURS["reshaped"],
                                      "、".join(r.grid_id for r in diff.reshaped), "reshaped"))
        if diff.removed and current is not None:
            traces.append(_area_trace(f"{t('admin_removed', lang)} {len(diff.removed)}",
                                      [current.geometry(g) for g in diff.removed if g in current],
                                      DIFF_COLOURS["removed"], "、".join(diff.removed), "removed"))
    center, zoom = view_for_bounds(_frame(problems or [g for g in geoms if g is not None and not g.is_empty]),
                                   width=900, height=600)
    return {"data": traces,
            "layout": {"map": {"style": map_style(tile_url), "center": center, "zoom": zoom},
                       "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "showlegend": True,
                       # Inside the map's corner: beside the problems on a desk, and not half the map on a phone.
                       "legend": {"x": 0.01, "xanchor": "left", "y": 0.99, "yanchor": "top",
                                  "bgcolor": "rgba(255,255,255,0.85)"},
                       "uirevision": check.filename}}
