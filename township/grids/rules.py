"""The spatial rules of a grid file, and what a violation of any rule records.

A region that breaks a spatial rule (a child sticking out of its parent, two
siblings overlapping, a gap its children leave in a parent) is measured in
EPSG:4546 only where it is thicker than a tolerance: see
`township.grids.validate` for the tolerance and `significant` for the measure.
`check_spatial` applies the rules to the records `township.grids.validate`
has parsed.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from township.grids.crs import DENSIFY_DEG
from township.grids.spatial import from_metric, to_metric

__all__ = ["Measure", "Violation", "GridRecord", "format_area", "significant", "measure_text", "project",
           "check_spatial"]

#: What `significant` measures: area (m²), greatest width (m) and a (lon, lat) point in the largest part.
Measure = tuple[float, float, tuple[float, float]]


def format_area(m2: float) -> str:
    """``m2`` square metres as text: m² below a square kilometre, km² from there."""
    return f"{m2:,.1f} m²" if m2 < 1e6 else f"{m2 / 1e6:,.3f} km²"


def _polygon_parts(geoms: np.ndarray) -> np.ndarray:
    """All single Polygons inside ``geoms`` (overlay results may be collections)."""
    parts = shapely.get_parts(geoms)
    while True:
        types = shapely.get_type_id(parts)
        if not np.isin(types, (6, 7)).any():  # no MultiPolygon / GeometryCollection left
            return parts[types == 3]
        parts = shapely.get_parts(parts)


def significant(region: BaseGeometry, tol: float) -> Measure | None:
    """Measure the parts of a metric ``region`` thicker than ``tol`` metres.

    Returns ``(area_m2, max_width_m, (lon, lat) of a point in the largest
    part)``, or ``None`` when everything is a sliver.
    """
    parts = _polygon_parts(np.array([region], dtype=object))
    if not parts.size:
        return None
    # Morphological opening (shrink by tol/2, grow back): what survives is the
    # part thicker than `tol`; slivers, and sliver spikes hanging off a real
    # gap, vanish. Mitred joins keep square corners square.
    core = shapely.buffer(parts, -tol / 2, join_style="mitre")
    keep = ~shapely.is_empty(core)
    if not keep.any():
        return None
    opened = shapely.intersection(
        shapely.buffer(core[keep], tol / 2, join_style="mitre"), parts[keep])
    areas = shapely.area(opened)
    radius = shapely.length(shapely.maximum_inscribed_circle(opened, tolerance=tol / 20))
    where = from_metric(shapely.point_on_surface(opened[np.argmax(areas)]))
    return float(areas.sum()), float(2 * radius.max()), (where.x, where.y)


def measure_text(m: Measure, tol: float) -> tuple[str, str]:
    """``("85.2 m² (up to 12.3 m wide)", "near 111.20000E 40.05000N; slivers …")``."""
    area, width, (lon, lat) = m
    return (f"{format_area(area)} (up to {width:,.1f} m wide)",
            f"near {lon:.5f}E {lat:.5f}N; slivers under {tol:g} m are tolerated")

@dataclass(frozen=True)
class Violation:
    """One broken rule in a grid file.

    Attributes
    ----------
    grid_id : str or None
        The grid at fault (``None`` for file-level problems).
    rule : str
        Short code: ``format``, ``crs``, ``duplicate_id``, ``bad_property``,
        ``empty_geometry``, ``not_polygon``, ``invalid_geometry``,
        ``lonlat_range``, ``parent_missing``, ``parent_level``,
        ``outside_parent``, ``sibling_overlap``, ``coverage_gap``.
    message : str
        Human-readable English sentence naming the grid, the rule and the measure.
    where : BaseGeometry or None
        The region that breaks a spatial rule, in lon/lat (the overlap, the gap, the part outside the
        parent), so that a map can draw it; ``None`` for the other rules.
    """

    grid_id: str | None
    rule: str
    message: str
    where: BaseGeometry | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"




@dataclass
class GridRecord:
    """Working record of one feature during validation."""

    gid: str
    index: int  # position in the file, for messages
    props: dict
    level: int | None = None  # None when level/parent are unusable
    parent: str | None = None
    geom: BaseGeometry | None = None  # WGS-84, None when unusable
    metric: BaseGeometry | None = None



def project(grids: dict[str, GridRecord]) -> tuple[list[GridRecord], np.ndarray]:
    """Set ``g.metric`` (EPSG:4546) on every grid with a level and a geometry; those grids and their metric shapes."""
    usable = [g for g in grids.values() if g.level is not None and g.geom is not None]
    if not usable:
        return usable, np.array([], dtype=object)
    # Densify first: a long edge that is straight in lon/lat (RFC 7946) is
    # curved in Gauss-Krüger, and a neighbour's vertices lie on the curve.
    # Projecting only the end points would open false slivers (~1 m over 20 km).
    metric = to_metric(shapely.segmentize(
        np.array([g.geom for g in usable], dtype=object), DENSIFY_DEG))
    # Projection can in rare cases fold a hair-thin ring; repair so overlay works.
    invalid = ~shapely.is_valid(metric)
    metric[invalid] = shapely.make_valid(metric[invalid])
    for g, m in zip(usable, metric, strict=True):
        g.metric = m
    return usable, metric


def check_spatial(grids: dict[str, GridRecord], usable: list[GridRecord], metric: np.ndarray, tol: float,
                   out: list[Violation]) -> None:
    """Containment, sibling overlap and coverage, measured in EPSG:4546 on what `_project` made."""

    def ok(gid: str | None) -> GridRecord | None:
        g = grids.get(gid) if gid is not None else None
        return g if g is not None and g.metric is not None and g.level is not None else None

    # A child lies inside its parent. `covers` is tested on the lon/lat input,
    # where shared borders are exact; projected, they can miss by nanometres.
    # (A level-1 grid has no parent, so `ok` leaves it out.)
    pairs = [(g, p) for g in usable if (p := ok(g.parent)) is not None]
    if pairs:
        suspect = np.flatnonzero(~shapely.covers(
            np.array([p.geom for _, p in pairs], dtype=object),
            np.array([c.geom for c, _ in pairs], dtype=object),
        ))
        diffs = shapely.difference(
            np.array([pairs[i][0].metric for i in suspect], dtype=object),
            np.array([pairs[i][1].metric for i in suspect], dtype=object),
        )
        for i, diff in zip(suspect, diffs, strict=True):
            m = significant(diff, tol)
            if m:
                c, p = pairs[i]
                what, where = measure_text(m, tol)
                out.append(Violation(
                    c.gid, "outside_parent",
                    f"{c.gid} extends {what} outside its parent {p.gid}, {where}", from_metric(diff),
                ))

    # Families of siblings: same parent (level-1 grids share the parent None).
    families: dict[str | None, list[int]] = defaultdict(list)
    for n, g in enumerate(usable):
        families[g.parent].append(n)
    areas = shapely.area(metric)
    unions: dict[str | None, BaseGeometry] = {}
    overlapping: list[int] = []
    for pid, members in families.items():
        unions[pid] = union = shapely.union_all(metric[members])
        # Overlaps add to the summed areas but not to the union's. A part
        # thicker than the tolerance holds a disc of diameter `tol`, so a
        # family whose excess is smaller cannot have one: skip its pairs.
        if len(members) > 1 and areas[members].sum() - union.area >= np.pi * (tol / 2) ** 2:
            overlapping += members

    # Siblings do not overlap: bounding-box pairs within suspect families,
    # then those whose interiors meet (DE-9IM 'T********'), then measure.
    if overlapping:
        idx = np.array(overlapping)
        a, b = shapely.STRtree(metric[idx]).query(metric[idx])
        a, b = idx[a], idx[b]
        keep = a < b
        a, b = a[keep], b[keep]
        keep = np.array([usable[i].parent == usable[j].parent for i, j in zip(a, b, strict=True)], dtype=bool)
        a, b = a[keep], b[keep]
        inner = shapely.relate_pattern(metric[a], metric[b], "T********")
        a, b = a[inner], b[inner]
        for i, j, inter in zip(a, b, shapely.intersection(metric[a], metric[b]), strict=True):
            m = significant(inter, tol)
            if m:
                gi, gj = sorted((usable[i].gid, usable[j].gid))
                what, where = measure_text(m, tol)
                out.append(Violation(
                    gi, "sibling_overlap", f"{gi} and {gj} overlap by {what}, {where}", from_metric(inter),
                ))

    # Children cover their parent. Skip a parent when any child is unusable:
    # that child's own violation is the real problem.
    named: dict[str, list[GridRecord]] = defaultdict(list)
    for g in grids.values():
        pid = g.props.get("parent_id")
        if isinstance(pid, str):
            named[pid].append(g)
    for p in usable:
        if p.level == 3:
            continue
        kids = named.get(p.gid, [])
        if not kids:
            out.append(Violation(
                p.gid, "coverage_gap",
                f"{p.gid} (level {p.level}) has no child grids: all of its "
                f"{format_area(shapely.area(p.metric))} is uncovered", p.geom,
            ))
            continue
        if any(k.metric is None or k.level is None or k.parent != p.gid for k in kids):
            continue
        gap = shapely.difference(p.metric, unions[p.gid])
        m = significant(gap, tol)
        if m:
            what, where = measure_text(m, tol)
            out.append(Violation(
                p.gid, "coverage_gap",
                f"{p.gid} is not covered by its children over {what}, {where}", from_metric(gap),
            ))
