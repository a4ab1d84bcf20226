"""Measuring in metres: the projection to EPSG:4546, the level-3 grids there, neighbours and distances.

Geometry is stored in WGS-84 lon/lat; every area, distance and "within so
many metres" is computed in `township.grids.crs.METRIC` (CGCS2000 Gauss-Krüger,
central meridian 111°E). This module holds the one projection to and from it
(a pyproj ``Transformer`` built on first use, not at import) and what is
measured on the level-3 grids: which grids neighbour others and how far a
point is from a grid.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, TypeVar, overload

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from township.grids.crs import METRIC, WGS84

if TYPE_CHECKING:
    from township.grids.model import GridSet

__all__ = [
    "NEIGHBOUR_GAP_M",
    "LeafMetric",
    "to_metric_xy",
    "from_metric_xy",
    "to_metric",
    "from_metric",
    "neighbours",
    "distance_m",
]

#: Level-3 grids closer than this (metres) count as neighbours: borders digitised
#: by hand leave hairline gaps, and the validator tolerates slivers of
#: `township.grids.validate.SLIVER_TOLERANCE_M` (1 m) on each side.
NEIGHBOUR_GAP_M = 2.0

#: One shapely geometry or an array of them; projecting gives back the same kind.
Geoms = TypeVar("Geoms", BaseGeometry, np.ndarray)


@cache
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    # Building a Transformer costs milliseconds and every measurement needs one:
    # build each direction once, on first use.
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


@overload
def to_metric_xy(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def to_metric_xy(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def to_metric_xy(lon, lat):
    """Project WGS-84 ``lon``/``lat`` degrees to EPSG:4546 ``x``/``y`` metres (floats or arrays, as given)."""
    return _transformer(WGS84, METRIC).transform(lon, lat)


@overload
def from_metric_xy(x: float, y: float) -> tuple[float, float]: ...
@overload
def from_metric_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def from_metric_xy(x, y):
    """Project EPSG:4546 ``x``/``y`` metres back to WGS-84 ``lon``/``lat`` degrees (floats or arrays, as given)."""
    return _transformer(METRIC, WGS84).transform(x, y)


def to_metric(geom: Geoms) -> Geoms:
    """Project a WGS-84 shapely geometry (or array of them) to EPSG:4546 metres."""
    return shapely.transform(geom, lambda xy: np.column_stack(to_metric_xy(xy[:, 0], xy[:, 1])))


def from_metric(geom: Geoms) -> Geoms:
    """Project an EPSG:4546 shapely geometry (or array of them) back to WGS-84."""
    return shapely.transform(geom, lambda xy: np.column_stack(from_metric_xy(xy[:, 0], xy[:, 1])))


class LeafMetric:
    """The level-3 grids of a grid set in EPSG:4546, with an STRtree over them.

    A `GridSet` builds one on first use (`GridSet.leaf_metric`) and keeps it.

    Parameters
    ----------
    ids : sequence of str
        The level-3 grid ids, sorted.
    polygons : ndarray of shapely geometry
        Their (Multi)Polygons in EPSG:4546, in the same order.
    """

    def __init__(self, ids: Iterable[str], polygons: np.ndarray):
        self.ids = np.array(list(ids), dtype=object)
        self.polygons = polygons
        self.tree = shapely.STRtree(polygons)

    def within(self, geoms: BaseGeometry | np.ndarray, distance: float) -> list[str]:
        """Ids of the grids within ``distance`` metres of any of the metric ``geoms``, sorted."""
        idx = self.tree.query(geoms, predicate="dwithin", distance=distance)
        # An array query answers (input, tree) index pairs; a single geometry, tree indices.
        hit = idx[1] if idx.ndim == 2 else idx
        return sorted(set(self.ids[hit].tolist()))


def neighbours(gridset: GridSet, grid_ids: str | Iterable[str], village_first: bool = False) -> list[str]:
    """Level-3 grids within `NEIGHBOUR_GAP_M` of any of ``grid_ids``, not counting those.

    Parameters
    ----------
    gridset : GridSet
        The grids in use.
    grid_ids : str or iterable of str
        The grid(s) whose neighbours are wanted.
    village_first : bool, default False
        Sort the neighbours in the village of a given grid before the others
        (the dispatch list prefers the same village); by id within each part.

    Returns
    -------
    list of str
        Sorted by id (or village first, then id).
    """
    focus = [grid_ids] if isinstance(grid_ids, str) else list(grid_ids)
    if not focus:
        return []
    near = gridset.leaf_metric.within(to_metric(np.array([gridset.geometry(g) for g in focus], dtype=object)),
                                      NEIGHBOUR_GAP_M)
    own = set(focus)
    out = [g for g in near if g not in own]
    if village_first:
        villages = {gridset.village_of(g) for g in focus}
        out.sort(key=lambda n: (gridset.village_of(n) not in villages, n))
    return out


def distance_m(gridset: GridSet, grid_id: str, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Metres from each point to grid ``grid_id`` (0 inside it), measured in EPSG:4546."""
    x, y = to_metric_xy(lon, lat)
    return shapely.distance(to_metric(gridset.geometry(grid_id)), shapely.points(x, y))
