"""Validating a grid file: every rule checked, every violation reported.

`parse_grid_geojson` checks every rule of a grid file and either returns an
immutable `township.grids.model.GridSet` or raises one `GridValidationError` listing *all*
violations, each naming the grid, the rule and by how much. Geometry is kept
in WGS-84 (EPSG:4326) lon/lat; areas and distances are computed in the metric
CRS `township.grids.crs.METRIC` (EPSG:4546), never in degrees.

Tolerance
---------
Real grid files are digitised by hand and converted between datums, so
neighbouring polygons rarely share borders to the millimetre. A region that
breaks a spatial rule (the part of a child outside its parent, the overlap of
two siblings, the part of a parent its children leave uncovered) is ignored
where it is thinner than `SLIVER_TOLERANCE_M` metres: the region is shrunk by
half the tolerance (a negative buffer in EPSG:4546) and grown back (a
morphological opening), and only what survives counts. Equivalently, a spot
counts when it lies in a circle wider than the tolerance that fits inside the
region. Messages report the area that counts, its greatest width and a point
in it.
"""
from __future__ import annotations

import json
import numbers
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import pyproj
import shapely
from shapely.geometry import shape

from township.domain.vocab import GRID_KINDS, KIND_LEVEL
from township.grids import rules
from township.grids.crs import normalize_crs, to_wgs84_geom
from township.grids.model import GridSet, json_loads
from township.grids.rules import GridRecord, Violation, project

__all__ = [
    "SLIVER_TOLERANCE_M",
    "RULES_VERSION",
    "GridValidationError",
    "check_crs_member",
    "parse_grid_geojson",
    "load_grid_file",
]

#: Slivers thinner than this (metres) are tolerated: a child may stick out of
#: its parent, overlap a sibling or leave a gap by less than this width.
SLIVER_TOLERANCE_M = 1.0

#: The version of the rules `parse_grid_geojson` checks. Bump it when a rule changes, so that a
#: file which passed the old rules is checked again (`township.grids.install.ensure_grids` skips it otherwise).
RULES_VERSION = 1

#: How many violations ``str(GridValidationError)`` lists before "… and N more".
REPORT_LIMIT = 50

# GeoJSON `crs` members we honour: all mean lon/lat on WGS-84 (CGCS2000 is
# equal to it at map precision).
_ACCEPTED_CRS = {("EPSG", "4326"), ("EPSG", "4490"), ("OGC", "CRS84")}

_OPTIONAL_STR = ("officer", "officer_phone")
_OPTIONAL_COUNT = ("households", "population", "party_members", "party_households")


class GridValidationError(ValueError):
    """A grid file broke one or more rules; ``.violations`` lists them all."""

    def __init__(self, violations: Iterable[Violation]):
        self.violations: list[Violation] = list(violations)
        super().__init__(self.report(REPORT_LIMIT))

    def report(self, limit: int | None = None) -> str:
        """Numbered multi-line report of the violations (the first ``limit``)."""
        n = len(self.violations)
        lines = [f"grid file rejected: {n} problem{'s' if n != 1 else ''}"]
        shown = self.violations if limit is None else self.violations[:limit]
        lines += [f"{i:>4}. {v}" for i, v in enumerate(shown, 1)]
        if len(shown) < n:
            lines.append(f"      … and {n - len(shown)} more")
        return "\n".join(lines)



def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "…"


def check_crs_member(member: Any) -> Violation | None:
    """Honour a legacy GeoJSON ``crs`` member if it names WGS-84 lon/lat, else refuse it.

    GCJ-02 and BD-09 have no EPSG code; tools that export them label them
    EPSG:4326/CRS84, so such a member is compatible with ``crs="gcj02"``.
    """
    if member is None:
        return None
    name: Any = None
    if isinstance(member, dict):
        props = member.get("properties") or {}
        if member.get("type") == "name" and isinstance(props, dict):
            name = props.get("name")
        elif member.get("type") == "EPSG" and isinstance(props, dict):  # GeoJSON 2008 draft
            name = f"EPSG:{props.get('code')}"
    if not isinstance(name, str):
        return Violation(
            None, "crs",
            f"the file's 'crs' member {_describe(member)} is not a named CRS; "
            "remove it (RFC 7946 files are EPSG:4326) or name EPSG:4326, CRS84 or EPSG:4490",
        )
    try:
        authority = pyproj.CRS.from_user_input(name).to_authority(min_confidence=100)
    except pyproj.exceptions.CRSError:
        authority = None
    if authority not in _ACCEPTED_CRS:
        return Violation(
            None, "crs",
            f"the file declares CRS {name!r}; only lon/lat EPSG:4326, CRS84 or "
            "EPSG:4490 (CGCS2000) are accepted — reproject the file to WGS-84 "
            "(GCJ-02/BD-09 input: pass crs='gcj02'/'bd09'); geometry was not checked further",
        )
    return None


def _is_int(value: Any) -> TypeGuard[int]:
    # numbers.Integral admits numpy integers from dict input; bool is not a count.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_props(g: GridRecord, out: list[Violation]) -> None:
    """Check property types; set ``g.level``/``g.parent`` when the hierarchy is usable."""
    p, gid = g.props, g.gid

    def bad(msg: str) -> None:
        out.append(Violation(gid, "bad_property", f"{gid}: {msg}"))

    name = p.get("name")
    if "name" not in p:
        bad("required property 'name' is missing")
    elif not isinstance(name, str) or not name.strip():
        bad(f"property 'name' must be a non-empty string, got {_describe(name)}")

    raw_level = p.get("level")
    level = int(raw_level) if _is_int(raw_level) and 1 <= raw_level <= 3 else None  # None: unusable
    if "level" not in p:
        bad("required property 'level' is missing (1 town, 2 village/community, 3 grid)")
    elif level is None:
        bad(f"property 'level' must be the integer 1, 2 or 3, got {_describe(raw_level)}")

    pid = p.get("parent_id")
    parent_ok = False
    if level is not None:
        if level == 1:
            parent_ok = pid is None
            if not parent_ok:
                bad(f"a level-1 grid (the town) has no parent, but parent_id is {_describe(pid)}")
        else:
            parent_ok = isinstance(pid, str) and bool(pid.strip())
            if not parent_ok:
                bad(f"property 'parent_id' must name the level-{level - 1} parent, "
                    f"got {_describe(pid) if 'parent_id' in p else 'nothing'}")

    kind = p.get("kind")
    if kind not in GRID_KINDS:
        bad(f"property 'kind' must be one of {', '.join(GRID_KINDS)}, "
            f"got {_describe(kind) if 'kind' in p else 'nothing'}")
    elif level is not None and KIND_LEVEL[kind] != level:
        bad(f"kind {kind!r} belongs on level {KIND_LEVEL[kind]}, but level is {level}")

    for key in _OPTIONAL_STR:
        value = p.get(key)
        if value is not None and not isinstance(value, str):
            bad(f"property {key!r} must be a string, got {_describe(value)}")
    for key in _OPTIONAL_COUNT:
        value = p.get(key)
        if value is not None and not (_is_int(value) and value >= 0):
            bad(f"property {key!r} must be a non-negative integer, got {_describe(value)}")
        elif value is not None:
            p[key] = int(value)  # plain int, JSON-serialisable

    if level is not None:
        p["level"] = level
    if level is not None and parent_ok:
        g.level, g.parent = level, pid


def _parse_geometry(g: GridRecord, geometry: Any, out: list[Violation]) -> None:
    """Set ``g.geom`` (still in the input datum) if the geometry is a usable polygon."""
    gid = g.gid
    if geometry is None:
        out.append(Violation(gid, "empty_geometry", f"{gid} has no geometry"))
        return
    gtype = geometry.get("type") if isinstance(geometry, dict) else None
    if gtype not in ("Polygon", "MultiPolygon"):
        out.append(Violation(
            gid, "not_polygon",
            f"{gid} has a {gtype or type(geometry).__name__} geometry; a grid must be "
            "a Polygon or MultiPolygon",
        ))
        return
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed rings
        out.append(Violation(gid, "invalid_geometry",
                             f"{gid} has malformed {gtype} coordinates: {exc}"))
        return
    if geom.is_empty:
        out.append(Violation(gid, "empty_geometry", f"{gid} has an empty {gtype}"))
        return
    xy = shapely.get_coordinates(geom)
    bad = ~(np.isfinite(xy).all(axis=1)
            & (np.abs(xy[:, 0]) <= 180) & (np.abs(xy[:, 1]) <= 90))
    if bad.any():
        x, y = xy[np.argmax(bad)]
        out.append(Violation(
            gid, "lonlat_range",
            f"{gid} has {int(bad.sum())} coordinate(s) outside lon −180…180 / lat −90…90, "
            f"e.g. ({x:g}, {y:g}); is it projected, or lat/lon swapped?",
        ))
        return
    g.geom = shapely.force_2d(geom)


def _check_hierarchy(grids: dict[str, GridRecord], all_ids: set[str], out: list[Violation]) -> None:
    """Every parent exists and is exactly one level up; broken links drop out."""
    levels = {gid: g.level for gid, g in grids.items()}  # before any link is dropped
    for g in grids.values():
        if g.level is None or g.level == 1:
            continue
        if g.parent not in all_ids:
            out.append(Violation(
                g.gid, "parent_missing",
                f"{g.gid} names parent {g.parent}, which is not in the file",
            ))
            g.level = None
            continue
        parent_level = levels[g.parent]
        if parent_level is not None and parent_level != g.level - 1:
            out.append(Violation(
                g.gid, "parent_level",
                f"{g.gid} (level {g.level}) has parent {g.parent} on level {parent_level}; "
                f"a parent must be exactly one level up (level {g.level - 1})",
            ))
            g.level = None


def _loads(text: str | bytes | bytearray) -> Any:
    """Parse JSON text; a UTF-8 BOM is tolerated. Raises ``json.JSONDecodeError``."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    text = bytes(text).removeprefix(b"\xef\xbb\xbf")
    return json_loads(text)  # orjson.JSONDecodeError subclasses the stdlib's


def parse_grid_geojson(data: dict | str | bytes, crs: str | None = None, check_spatial: bool = True) -> GridSet:
    """Validate a grid FeatureCollection and build a `GridSet`.

    Checks every rule of docs/design.md §1 and collects all violations before
    raising. Spatial rules tolerate slivers thinner than `SLIVER_TOLERANCE_M`
    (see the module docstring).

    Parameters
    ----------
    data : dict, str or bytes
        The GeoJSON FeatureCollection, parsed or as JSON text.
    crs : str, optional
        Datum of the coordinates: ``None``/"wgs84"/"EPSG:4326"/"EPSG:4490"/
        "cgcs2000" (WGS-84, the default), "gcj02" (Amap, Tencent) or "bd09"
        (Baidu). GCJ-02/BD-09 cannot be detected, so they must be declared;
        they are converted to WGS-84. A legacy GeoJSON ``crs`` member is
        honoured when it names EPSG:4326, CRS84 or EPSG:4490, refused otherwise.
    check_spatial : bool, default True
        False skips the spatial rules (containment, overlap, coverage: most of
        the time a big file takes), for a file known to have passed them
        (`township.grids.install.ensure_grids`); everything else is parsed and checked as usual.

    Returns
    -------
    GridSet

    Raises
    ------
    GridValidationError
        Listing every broken rule.
    ValueError
        If ``data`` is not JSON (``json.JSONDecodeError``) or ``crs`` is unknown.
    """
    datum = normalize_crs(crs)
    if isinstance(data, (bytes, bytearray, str)):
        data = _loads(data)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        found = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise GridValidationError([Violation(
            None, "format", f"expected a GeoJSON FeatureCollection, found {_describe(found)}")])
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise GridValidationError([Violation(
            None, "format", "the FeatureCollection has no 'features' (a list of grids)")])

    out: list[Violation] = []
    crs_problem = check_crs_member(data.get("crs"))
    if crs_problem:
        out.append(crs_problem)

    grids: dict[str, GridRecord] = {}
    for i, f in enumerate(features):
        if not isinstance(f, dict) or f.get("type") != "Feature":
            out.append(Violation(None, "format", f"feature #{i} is not a GeoJSON Feature"))
            continue
        raw_props = f.get("properties")
        props: dict = raw_props if isinstance(raw_props, dict) else {}
        gid = props.get("grid_id")
        if not isinstance(gid, str) or not gid.strip():
            out.append(Violation(
                None, "bad_property",
                f"feature #{i}: required property 'grid_id' must be a non-empty string, "
                f"got {_describe(gid)}",
            ))
            continue
        if gid in grids:
            out.append(Violation(
                gid, "duplicate_id",
                f"{gid} appears more than once (features #{grids[gid].index} and #{i}); "
                "grid ids must be unique",
            ))
            continue
        g = grids[gid] = GridRecord(gid, i, dict(props))
        _check_props(g, out)
        if crs_problem is None:  # coordinates in an unknown CRS cannot be checked
            _parse_geometry(g, f.get("geometry"), out)

    # Convert the datum in one vectorised pass, then check validity.
    with_geom = [g for g in grids.values() if g.geom is not None]
    if with_geom:
        geoms = to_wgs84_geom(np.array([g.geom for g in with_geom], dtype=object), datum)
        valid = shapely.is_valid(geoms)
        geoms[valid] = shapely.orient_polygons(geoms[valid])  # RFC 7946 right-hand rule
        for g, geom, is_valid in zip(with_geom, geoms, valid, strict=True):
            g.geom = geom if is_valid else None
            if not is_valid:
                out.append(Violation(
                    g.gid, "invalid_geometry",
                    f"{g.gid} is not a valid polygon: {shapely.is_valid_reason(geom)}",
                ))

    _check_hierarchy(grids, set(grids), out)
    usable, metric = project(grids)
    if check_spatial:
        rules.check_spatial(grids, usable, metric, SLIVER_TOLERANCE_M, out)
    if out:
        raise GridValidationError(out)
    return GridSet([g.props for g in grids.values()], [g.geom for g in grids.values()],
                   _metric=[g.metric for g in grids.values()])


def load_grid_file(path: str | Path, crs: str | None = None) -> GridSet:
    """Read and validate a grid GeoJSON file (see `parse_grid_geojson`).

    Raises
    ------
    OSError
        If the file cannot be read.
    GridValidationError, ValueError
        As `parse_grid_geojson`.
    """
    return parse_grid_geojson(Path(path).read_bytes(), crs=crs)
