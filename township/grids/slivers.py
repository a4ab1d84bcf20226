"""Measuring where a grid file breaks a spatial rule, tolerating slivers.

A region that breaks a spatial rule (a child sticking out of its parent, two
siblings overlapping, a gap its children leave in a parent) is measured in
EPSG:4546 only where it is thicker than a tolerance: see
`township.grids.validate` for the rule and `significant` for the measure.
"""
from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from township.grids.spatial import from_metric

__all__ = ["Measure", "format_area", "significant", "measure_text"]

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
