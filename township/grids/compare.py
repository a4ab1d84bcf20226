"""An uploaded grid file checked, and two grid sets compared: what the admin page shows before it replaces the grids.

`check_grid_file` reads a file and checks it against every rule of
`township.grids.validate`, keeping the broken rules with the region each is
about (`township.grids.rules.Violation.where`) so a map can draw them.
`diff_gridsets` says what replacing one grid set by another changes: grids
added, removed, renamed and reshaped, with areas in m² measured in the
project's metric CRS (`township.grids.spatial`, EPSG:4546).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from township.grids.crs import DENSIFY_DEG
from township.grids.files import Near, read_grid_file
from township.grids.model import GridSet
from township.grids.rules import Violation
from township.grids.spatial import to_metric
from township.grids.validate import GridValidationError, parse_grid_geojson

__all__ = ["GridCheck", "GridDiff", "Reshaped", "check_grid_file", "diff_gridsets", "read_grid_upload",
           "RESHAPE_MIN_M2"]

#: A common grid whose outline moved by less than this (m², added and lost area together) counts as unchanged:
#: re-projecting or rounding a file moves vertices by millimetres.
RESHAPE_MIN_M2 = 1.0


def read_grid_upload(data: bytes, filename: str, near: Near = None) -> tuple[Any, list[str]]:
    """The grid file's content as a lon/lat GeoJSON FeatureCollection, and notes on how it was read.

    Any file `township.grids.files.read_grid_file` reads: GeoJSON, a zipped
    Shapefile, GeoPackage, KML/KMZ. ``near`` (where the township roughly is)
    names the likely zone first when a file's coordinates need a CRS.

    Raises
    ------
    GridValidationError
        The file cannot be read (one ``file`` violation per reason).
    """
    read = read_grid_file(data, filename=filename, near=near)
    if not read.ok:
        raise GridValidationError([Violation(None, "file", e) for e in read.errors])
    return read.geojson, read.notes


@dataclass
class GridCheck:
    """A grid file after reading and checking.

    Attributes
    ----------
    filename : str
    data : dict or None
        The FeatureCollection read (``None`` when the file could not be read at all).
    gridset : GridSet or None
        The grids, when every rule holds.
    violations : list of Violation
        Every broken rule (empty when ``gridset`` is set).
    notes : list of str
        How the file was read (format, encoding, CRS).
    """

    filename: str
    data: dict | None
    gridset: GridSet | None
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.gridset is not None

    def geometry_of(self, grid_id: str | None) -> BaseGeometry | None:
        """The lon/lat geometry the file gives ``grid_id`` (``None``: no such grid or no usable geometry)."""
        if grid_id is None or not isinstance(self.data, dict):
            return None
        for f in self.data.get("features") or []:
            props = f.get("properties") if isinstance(f, dict) else None
            if isinstance(props, dict) and props.get("grid_id") == grid_id:
                try:
                    return shape(f["geometry"])
                except (KeyError, TypeError, ValueError, AttributeError, GEOSException):
                    return None
        return None


def check_grid_file(data: bytes, filename: str, near: Near = None) -> GridCheck:
    """Read ``data`` (a file named ``filename``) and check it as a grid file; never raises on a bad file."""
    try:
        collection, notes = read_grid_upload(data, filename, near)
    except GridValidationError as err:
        return GridCheck(filename, None, None, err.violations)
    try:
        return GridCheck(filename, collection, parse_grid_geojson(collection), notes=notes)
    except GridValidationError as err:
        return GridCheck(filename, collection if isinstance(collection, dict) else None, None, err.violations, notes)


@dataclass(frozen=True)
class Reshaped:
    """A grid in both sets whose outline changed: its areas before and after, and how much moved (m²)."""

    grid_id: str
    old_m2: float
    new_m2: float
    #: Area the grid gained plus area it lost (the symmetric difference of the two outlines).
    moved_m2: float


@dataclass
class GridDiff:
    """What replacing the ``old`` grid set by the ``new`` one changes, grid by grid.

    Attributes
    ----------
    added, removed : list of str
        Grid ids only in the new set, only in the old one.
    renamed : list of (grid_id, old name, new name)
    reshaped : list of Reshaped
        Grids in both whose outline moved by at least `RESHAPE_MIN_M2`.
    """

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)
    reshaped: list[Reshaped] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.renamed or self.reshaped)


def _metric(geoms: list[BaseGeometry]) -> np.ndarray:
    # Densified as validation does (township.grids.rules.project): an edge straight in lon/lat is curved in metres.
    return to_metric(shapely.segmentize(np.array(geoms, dtype=object), DENSIFY_DEG))


def diff_gridsets(old: GridSet, new: GridSet) -> GridDiff:
    """Compare two grid sets by grid id: added, removed, renamed and reshaped grids (areas in m², EPSG:4546)."""
    before, after = set(old), set(new)
    common = sorted(before & after)
    out = GridDiff(added=sorted(after - before), removed=sorted(before - after))
    out.renamed = [(g, old.props(g)["name"], new.props(g)["name"]) for g in common
                   if old.props(g)["name"] != new.props(g)["name"]]
    changed = [g for g in common if not shapely.equals_exact(old.geometry(g), new.geometry(g), 0.0)]
    if changed:
        a = _metric([old.geometry(g) for g in changed])
        b = _metric([new.geometry(g) for g in changed])
        moved = shapely.area(shapely.symmetric_difference(a, b))
        out.reshaped = [Reshaped(g, float(x), float(y), float(m))
                        for g, x, y, m in zip(changed, shapely.area(a), shapely.area(b), moved, strict=True)
                        if m >= RESHAPE_MIN_M2]
    return out
