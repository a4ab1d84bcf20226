"""What a responder's field map shows, gathered from a snapshot (no Dash, no I/O).

The field map export (``layers.fieldmap``) is one standalone HTML page for one
grid or one warning. This module collects its data from a
:class:`~township.read.snapshot.Snapshot`: the grid(s) in focus, the grids touching
them, the open cases there, the live warnings that reach them and the
resources in or near them, each with its distance and a compass word.

Every distance and direction is computed in the metric CRS (EPSG:4546), and
which grids a warning reaches is computed from the geometry in use, with the
same rule as :meth:`GridSet.grids_within` (the polygon lies within the radius).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

from township.domain.policy import Viewer, lists_person, may_see_village
from township.domain.privacy import person_role
from township.domain.vocab import LIVE_WARNING_STATUSES, OPEN_STATUSES
from township.grids.model import GridSet
from township.grids.spatial import distance_m, neighbours, to_metric, to_metric_xy
from township.read.snapshot import Snapshot
from township.read.views import overdue_mask
from township.store.models import utcnow

__all__ = [
    "FIELD_NEAR_M",
    "COMPASS",
    "FieldMapData",
    "compass_word",
    "for_viewer",
    "grid_fieldmap_data",
    "warning_fieldmap_data",
]

#: How far (metres) from the grid, or beyond a warning's radius, a resource still counts as near.
FIELD_NEAR_M = 2000.0

#: Eight compass words, clockwise from north.
COMPASS = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")


@dataclass(frozen=True)
class FieldMapData:
    """Everything one field map draws and lists.

    Attributes
    ----------
    subject : {"grid", "warning"}
        What the map is for.
    focus : list of str
        The highlighted level-3 grids: the grid itself, or the grids the warning reaches.
    neighbours : list of str
        Level-3 grids touching the focus (not in it), for orientation.
    cases : DataFrame
        Open cases in the focus grids (``services`` case columns plus a bool
        ``overdue``), overdue first, then by deadline.
    warnings : DataFrame
        Live warnings reaching the focus (``services`` warning columns), most
        severe first; for a warning map, the warning itself (whatever its status).
    resources : DataFrame
        Resources in or near the focus, nearest first, with ``distance_m``
        (0 inside the grid; from the warning's point for a warning map),
        ``bearing_deg`` (clockwise from north) and ``direction`` (a word of
        `COMPASS`, or ``"网格内"`` / ``"中心"`` at distance 0).
    generated_at : datetime
        Naive UTC, the time "overdue" was judged at.
    grid_id : str or None
        The grid of a grid map.
    warning : dict or None
        The warning row of a warning map (``id``, ``type``, ``level``,
        ``status``, ``title``, ``lon``, ``lat``, ``radius_m`` …).
    seen_as : mapping of str to str
        Set by :func:`for_viewer`: for each grid drawn or listed, the role whose
        masking applies to its people (`township.domain.privacy.person_role`);
        empty: the viewer's own role everywhere.
    """

    subject: Literal["grid", "warning"]
    focus: list[str]
    neighbours: list[str]
    cases: pd.DataFrame
    warnings: pd.DataFrame
    resources: pd.DataFrame
    generated_at: datetime
    grid_id: str | None = None
    warning: dict | None = None
    seen_as: Mapping[str, str] = field(default_factory=dict)


def compass_word(bearing_deg: float) -> str:
    """The compass word (北, 东北, 东 …) of a bearing in degrees clockwise from north."""
    return COMPASS[int(((bearing_deg % 360.0) + 22.5) // 45.0) % 8]


def _bearings(x0: float, y0: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Grid north of EPSG:4546 differs from true north by under 0.3° in Dalu: ignored.
    return (np.degrees(np.arctan2(x - x0, y - y0)) + 360.0) % 360.0


def for_viewer(data: FieldMapData, gridset: GridSet, viewer: Viewer) -> FieldMapData:
    """``data`` as ``viewer`` may see it, by the rule of the warning card (`township.domain.policy`).

    Open cases of another village are dropped (`may_see_village`), and so are
    its resources except duty contacts (`lists_person`); each grid's people
    (its officer, a resource's contact) are shown with the masking of
    `township.domain.privacy.person_role`, recorded in ``seen_as``. For any
    role but a village operator nothing is dropped or masked beyond the role's own.
    """
    def village(grid_id: object) -> str | None:
        return gridset.village_of(grid_id) if isinstance(grid_id, str) and grid_id in gridset else None

    cases = data.cases.loc[np.array([may_see_village(viewer, v if isinstance(v, str) else None)
                                     for v in data.cases["village_id"]], dtype=bool)]
    res = data.resources
    resources = res.loc[np.array([lists_person(viewer, k, village(g)) for k, g in zip(res["kind"], res["grid_id"],
                                                                                      strict=True)], dtype=bool)]
    grids = {*data.focus, *data.neighbours, *(g for g in resources["grid_id"] if isinstance(g, str))}
    grids |= set(neighbours(gridset, sorted(grids)))  # the ring around, which maps draw too
    return replace(data, cases=cases, resources=resources, seen_as={g: person_role(viewer, village(g)) for g in grids})


# -- gathering -----------------------------------------------------------------


def _open_cases(snap: Snapshot, grid_ids: list[str], now: datetime) -> pd.DataFrame:
    c = snap.cases
    mine = c[c["grid_id"].isin(grid_ids).to_numpy() & c["status"].isin(OPEN_STATUSES).to_numpy()]
    mine = mine.assign(overdue=overdue_mask(mine, now))
    return mine.sort_values(["overdue", "deadline_at"], ascending=[False, True], kind="stable")


def _warnings_reaching(snap: Snapshot, gridset: GridSet, grid_id: str) -> pd.DataFrame:
    w = snap.warnings
    live = w[w["status"].isin(LIVE_WARNING_STATUSES).to_numpy()]
    if live.empty:
        return live
    d = distance_m(gridset, grid_id, live["lon"].to_numpy(float), live["lat"].to_numpy(float))
    return live[d <= live["radius_m"].to_numpy(float)].sort_values(
        ["level", "issued_at"], ascending=[True, False])


def _with_place(res: pd.DataFrame, dist: np.ndarray, x0: float, y0: float, here: str) -> pd.DataFrame:
    """Resources with distance, bearing and compass word, nearest first."""
    x, y = to_metric_xy(res["lon"].to_numpy(float), res["lat"].to_numpy(float))
    bearing = _bearings(x0, y0, x, y)
    words = [here if d <= 0 else compass_word(b) for d, b in zip(dist, bearing, strict=True)]
    out = res.assign(distance_m=np.asarray(dist, float), bearing_deg=bearing, direction=words)
    return out.sort_values(["distance_m", "resource_id"], kind="stable")


def grid_fieldmap_data(snap: Snapshot, gridset: GridSet, grid_id: str, now: datetime | None = None,
                       near_m: float = FIELD_NEAR_M) -> FieldMapData:
    """Gather the field map of one level-3 grid.

    Parameters
    ----------
    snap : Snapshot
        The current data.
    gridset : GridSet
        The grids in use.
    grid_id : str
        A level-3 grid.
    now : datetime, optional
        Naive UTC time overdue is judged at (default: now).
    near_m : float
        Resources within this many metres of the grid are listed.

    Raises
    ------
    KeyError
        If ``grid_id`` is not a grid of ``gridset``.
    ValueError
        If it is not a level-3 grid.
    """
    if gridset.level(grid_id) != 3:
        raise ValueError(f"{grid_id} is a level-{gridset.level(grid_id)} area; a field map is for one level-3 grid")
    now = now or utcnow()
    res = snap.resources
    dist = distance_m(gridset, grid_id, res["lon"].to_numpy(float), res["lat"].to_numpy(float))
    near = dist <= near_m
    c = to_metric(gridset.geometry(grid_id)).representative_point()
    resources = _with_place(res[near], dist[near], c.x, c.y, "网格内")
    return FieldMapData(
        subject="grid",
        focus=[grid_id],
        neighbours=neighbours(gridset, grid_id),
        cases=_open_cases(snap, [grid_id], now),
        warnings=_warnings_reaching(snap, gridset, grid_id),
        resources=resources,
        generated_at=now,
        grid_id=grid_id,
    )


def warning_fieldmap_data(snap: Snapshot, gridset: GridSet, warning_id: int, now: datetime | None = None,
                          near_m: float = FIELD_NEAR_M) -> FieldMapData:
    """Gather the field map of one warning: its circle, the grids it reaches, what is near.

    The affected grids are those whose polygon lies within the radius of the
    warning's point (`GridSet.grids_within`, in EPSG:4546). Resources within
    ``radius_m + near_m`` of the point are listed, nearest first.

    Raises
    ------
    KeyError
        If there is no warning ``warning_id``.
    """
    w = snap.warnings
    rows = w[(w["id"] == int(warning_id)).to_numpy()]
    if rows.empty:
        raise KeyError(f"unknown warning {warning_id!r}")
    row = rows.iloc[0]
    warning = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.to_dict().items()}
    now = now or utcnow()
    lon, lat, radius = float(row["lon"]), float(row["lat"]), float(row["radius_m"])
    affected = gridset.grids_within(lon, lat, radius)
    res = snap.resources
    x0, y0 = to_metric_xy(lon, lat)
    x, y = to_metric_xy(res["lon"].to_numpy(float), res["lat"].to_numpy(float))
    dist = np.hypot(x - x0, y - y0)
    near = dist <= radius + near_m
    resources = _with_place(res[near], dist[near], x0, y0, "中心")
    return FieldMapData(
        subject="warning",
        focus=affected,
        neighbours=neighbours(gridset, affected),
        cases=_open_cases(snap, affected, now),
        warnings=rows,
        resources=resources,
        generated_at=now,
        warning=warning,
    )

