"""The grid set: an immutable, validated town → village/community → grid hierarchy and its lookups.

Build one with `township.grids.validate.parse_grid_geojson`. Geometry is kept
in WGS-84 (EPSG:4326) lon/lat; areas and distances are computed in the metric
CRS `township.grids.crs.METRIC` (EPSG:4546), never in degrees
(`township.grids.spatial`).
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from township.grids.cellindex import BORDER, CellIndex
from township.grids.spatial import LeafMetric, to_metric

__all__ = ["CELL_INDEX_FROM", "GridSet", "json_loads"]

#: Batches of this many points or more are looked up in a `CellIndex` (built once, on the first):
#: below it the polygon test alone is about as fast as building the lattice.
CELL_INDEX_FROM = 5_000

json_loads: Callable[[str | bytes], Any]
try:  # orjson parses big grid files ~5x faster; the stdlib is the fallback
    from orjson import loads as json_loads
except ImportError:  # pragma: no cover
    json_loads = json.loads


class GridSet:
    """An immutable, validated set of grids (build it with `parse_grid_geojson`).

    Grids are ordered by ``grid_id``. Geometry is WGS-84 lon/lat; areas and
    distances use EPSG:4546.

    Parameters
    ----------
    properties : sequence of mapping
        One property mapping per grid (``grid_id``, ``level``, ``parent_id`` …).
    geometries : sequence of shapely geometry
        The matching (Multi)Polygons in WGS-84.
    """

    def __init__(
        self,
        properties: Sequence[Mapping[str, Any]],
        geometries: Sequence[BaseGeometry],
        _metric: Sequence[BaseGeometry] | None = None,
    ):
        order = sorted(range(len(properties)), key=lambda i: properties[i]["grid_id"])
        self._props = tuple(MappingProxyType(dict(properties[i])) for i in order)
        self._ids: tuple[str, ...] = tuple(p["grid_id"] for p in self._props)
        self._index = {gid: i for i, gid in enumerate(self._ids)}
        self._geoms = np.array([geometries[i] for i in order], dtype=object)
        self._levels = np.array([p["level"] for p in self._props], dtype=np.int64)
        self._parent: dict[str, str | None] = {p["grid_id"]: p.get("parent_id") for p in self._props}
        children: dict[str, list[str]] = defaultdict(list)
        for gid, pid in self._parent.items():  # ids are sorted, so children are too
            if pid is not None:
                children[pid].append(gid)
        self._children = {k: tuple(v) for k, v in children.items()}
        by_level: dict[int, list[str]] = defaultdict(list)
        for gid, lvl in zip(self._ids, self._levels.tolist(), strict=True):
            by_level[lvl].append(gid)
        self._by_level = {lvl: tuple(v) for lvl, v in by_level.items()}
        # The validator already projected everything; reuse it when given.
        metric = (to_metric(self._geoms) if _metric is None
                  else np.array([_metric[i] for i in order], dtype=object))
        self._area_km2 = shapely.area(metric) / 1e6
        # Points are assigned to level-3 grids only; the trees hold them in id
        # order, so the smallest tree index is the smallest grid id.
        leaf = self._leaf = np.flatnonzero(self._levels == 3)
        self._leaf_ids = np.array([self._ids[i] for i in leaf], dtype=object)
        self._leaf_tree = shapely.STRtree(self._geoms[leaf])
        self._leaf_metric_polygons = metric[leaf]  # the tree over them is built on first use
        shapely.prepare(self._geoms[leaf])  # speeds up repeated point-in-polygon
        # Cells about one grid wide, for sorting points in `locate`.
        extent = shapely.bounds(self._geoms[leaf]).reshape(-1, 4)
        size = np.maximum(extent[:, 2] - extent[:, 0], extent[:, 3] - extent[:, 1])
        cell = float(np.median(size)) if size.size else 1.0
        x0, y0 = extent[:, :2].min(axis=0) if size.size else (0.0, 0.0)
        self._sort_grid = (float(x0), float(y0), cell if cell > 0 else 1.0)
        self._fc_cache: dict[int, dict] = {}
        self._level_pos: dict[int, dict[str, int]] = {}  # built by `positions`
        self._rollup: dict[int, np.ndarray] = {}  # built by `rollup`
        self._cell_index: CellIndex | None = None  # built by the first big `locate`

    # -- identity -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, grid_id: object) -> bool:
        return grid_id in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def replace_by(self, other: GridSet) -> None:
        """Become ``other``: the one change a grid set takes, when the grids in use are replaced.

        The app's services, its API routes and the demo feed hold the grid set
        they were built with; swapping its state in one assignment makes all of
        them use the new grids from their next call (`township.read.snapshot`
        does it when the store's grids digest moves). A call already running
        may finish on the old grids.
        """
        self.__dict__ = other.__dict__

    def __repr__(self) -> str:
        counts = {lvl: int((self._levels == lvl).sum()) for lvl in (1, 2, 3)}
        return f"<GridSet {counts[1]}/{counts[2]}/{counts[3]} grids by level>"

    def _i(self, grid_id: str) -> int:
        try:
            return self._index[grid_id]
        except KeyError:
            raise KeyError(f"unknown grid {grid_id!r}") from None

    # -- hierarchy ----------------------------------------------------------

    def ids(self, level: int | None = None, parent: str | None = None) -> list[str]:
        """Grid ids, sorted; optionally only those on ``level`` and/or under ``parent``."""
        if parent is None:
            return list(self._ids if level is None else self._by_level.get(level, ()))
        self._i(parent)
        out: Iterable[str] = self._children.get(parent, ())
        if level is not None:
            out = (g for g in out if self._levels[self._index[g]] == level)
        return list(out)

    def props(self, grid_id: str) -> dict[str, Any]:
        """A copy of the grid's properties (``grid_id``, ``name``, ``level`` …)."""
        return dict(self._props[self._i(grid_id)])

    def level(self, grid_id: str) -> int:
        """The grid's level: 1 town, 2 village/community, 3 grid."""
        return int(self._levels[self._i(grid_id)])

    def parent(self, grid_id: str) -> str | None:
        """The parent's id, ``None`` for the town."""
        self._i(grid_id)
        return self._parent[grid_id]

    def children(self, grid_id: str) -> list[str]:
        """The ids of the grid's children, sorted."""
        self._i(grid_id)
        return list(self._children.get(grid_id, ()))

    def village_of(self, grid_id: str) -> str | None:
        """The level-2 ancestor of a level-2/3 grid (itself on level 2); ``None`` for the town."""
        gid: str | None = grid_id
        while gid is not None and self.level(gid) > 2:
            gid = self._parent[gid]
        return gid if gid is not None and self.level(gid) == 2 else None

    def positions(self, grid_ids: Iterable[str], level: int) -> np.ndarray:
        """Where each of ``grid_ids`` stands in ``ids(level=level)``."""
        pos = self._level_pos.get(level)
        if pos is None:
            pos = self._level_pos[level] = {g: i for i, g in enumerate(self._by_level.get(level, ()))}
        return np.fromiter((pos[g] for g in grid_ids), dtype=np.intp)

    def _parent_id(self, grid_id: str) -> str:
        """The parent of a grid below the town (a validated set gives each one)."""
        pid = self._parent[grid_id]
        if pid is None:
            raise KeyError(f"{grid_id!r} is a level-1 grid: it has no parent")
        return pid

    def rollup(self, level: int) -> np.ndarray:
        """For each level-3 grid (``ids(level=3)`` order), the position of its ``level`` ancestor in ``ids(level)``.

        Per-grid sums become per-village or per-town sums with one ``np.bincount``.
        """
        if level not in self._rollup:
            up = {g: g for g in self._by_level.get(3, ())}
            for _ in range(3 - level):
                up = {g: self._parent_id(a) for g, a in up.items()}
            self._rollup[level] = self.positions(up.values(), level)
        return self._rollup[level]

    # -- geometry -----------------------------------------------------------

    def geometry(self, grid_id: str) -> BaseGeometry:
        """The grid's (Multi)Polygon in WGS-84 lon/lat."""
        return self._geoms[self._i(grid_id)]

    def area_km2(self, grid_id: str) -> float:
        """The grid's area in km², computed in EPSG:4546."""
        return float(self._area_km2[self._i(grid_id)])

    def areas_km2(self, level: int) -> np.ndarray:
        """Areas in km² of ``ids(level=level)``, in that order."""
        return self._area_km2[self._levels == level]

    def bounds(self, grid_ids: Iterable[str] | None = None) -> tuple[float, float, float, float]:
        """``(minlon, minlat, maxlon, maxlat)`` of the given grids (all grids if ``None``)."""
        if isinstance(grid_ids, str):
            grid_ids = [grid_ids]
        if grid_ids is None:
            geoms = self._geoms
        else:
            idx = [self._i(g) for g in grid_ids]
            if not idx:
                raise ValueError("bounds() of no grids")
            geoms = self._geoms[idx]
        return tuple(float(v) for v in shapely.total_bounds(geoms))  # type: ignore[return-value]

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """The level-3 grid id containing each point, ``None`` outside the town.

        Border rule: a point on a border shared by several grids (so covered
        by each) goes to the grid whose id sorts first; NaN coordinates give
        ``None``. Big batches look most points up in a lattice of cells no
        border crosses (`township.grids.cellindex`), with the same answers.

        Parameters
        ----------
        lon, lat : array_like
            WGS-84 coordinates in degrees, broadcast together.

        Returns
        -------
        ndarray of object
            Grid ids (str) or ``None``, shaped like the broadcast input.
        """
        lon, lat = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
        shape_ = lon.shape
        lon, lat = lon.ravel(), lat.ravel()
        out = np.full(lon.size, None, dtype=object)
        if not self._leaf_ids.size:
            return out.reshape(shape_)
        if lon.size >= CELL_INDEX_FROM:
            if self._cell_index is None:
                self._cell_index = CellIndex(self._geoms[self._leaf], self._leaf_index)
            label = self._cell_index.lookup(lon, lat)
            found = label >= 0
            out[found] = self._leaf_ids[label[found]]
            rest = np.flatnonzero(label == BORDER)
        else:
            rest = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        idx = self._leaf_index(lon[rest], lat[rest])
        hit = idx >= 0
        out[rest[hit]] = self._leaf_ids[idx[hit]]
        return out.reshape(shape_)

    def _leaf_index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index into the level-3 grids of the one containing each (finite) point, -1 for none.

        One STRtree query; a point covered by several grids gets the smallest index.
        """
        if not x.size:
            return np.empty(0, dtype=np.intp)
        # Query in spatial order (row-major over cells about one grid wide):
        # consecutive points then visit the same tree nodes and prepared
        # polygons, which makes big unsorted batches ~3x faster.
        x0, y0, cell = self._sort_grid
        cx = np.clip((x - x0) // cell, -1, 1 << 20).astype(np.int64)
        cy = np.clip((y - y0) // cell, -1, 1 << 20).astype(np.int64)
        order = np.argsort((cy << 22) + cx, kind="stable")
        p_idx, t_idx = self._leaf_tree.query(shapely.points(x[order], y[order]), predicate="intersects")
        best = np.full(x.size, self._leaf_ids.size, dtype=np.intp)
        np.minimum.at(best, order[p_idx], t_idx)
        best[best == self._leaf_ids.size] = -1
        return best

    def locate_one(self, lon: float, lat: float) -> str | None:
        """`locate` for a single point."""
        return self.locate(np.array([lon]), np.array([lat]))[0]

    def grids_within(self, lon: float, lat: float, radius_m: float) -> list[str]:
        """Level-3 grids whose polygon lies within ``radius_m`` metres of the point, sorted.

        Distances are measured in EPSG:4546; radius 0 gives the grid(s)
        containing the point.
        """
        if not radius_m >= 0:
            raise ValueError(f"radius must be a non-negative number of metres, got {radius_m!r}")
        return self.leaf_metric.within(to_metric(shapely.Point(lon, lat)), radius_m)

    @cached_property
    def leaf_metric(self) -> LeafMetric:
        """The level-3 grids in EPSG:4546 with an STRtree over them (built on first use, then kept)."""
        return LeafMetric(self._leaf_ids, self._leaf_metric_polygons)

    # -- GeoJSON out ----------------------------------------------------------

    def _features(self, idx: Iterable[int], digits: int | None) -> list[dict]:
        idx = list(idx)
        geoms = self._geoms[idx]
        if digits is not None:
            geoms = shapely.transform(geoms, lambda xy: np.round(xy, digits))
        texts = shapely.to_geojson(geoms)
        return [
            {
                "type": "Feature",
                "id": self._ids[i],
                "properties": dict(self._props[i]),
                "geometry": json_loads(t),
            }
            for i, t in zip(idx, texts, strict=True)
        ]

    def feature_collection(self, level: int) -> dict:
        """GeoJSON FeatureCollection of one level, feature ``id`` = grid_id (cached).

        Coordinates are rounded to 6 decimals (~0.1 m) to keep the browser
        payload small. The returned dict is shared: do not mutate it.
        """
        if level not in self._fc_cache:
            idx = np.flatnonzero(self._levels == level)
            self._fc_cache[level] = {
                "type": "FeatureCollection",
                "features": self._features(idx, digits=6),
            }
        return self._fc_cache[level]

    def to_geojson(self) -> dict:
        """The whole set as an RFC 7946 FeatureCollection (full precision, level then id order)."""
        idx = np.lexsort((np.arange(len(self)), self._levels))
        return {"type": "FeatureCollection", "features": self._features(idx, digits=None)}
