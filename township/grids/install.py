"""Reading and writing grids and resources in the store.

Grids come in as a validated :class:`~township.grids.model.GridSet`; installing a
new set is one transaction that also re-locates every stored point, so a
case never points at a grid that no longer exists.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.grids.files import read_grid_file
from township.grids.model import GridSet
from township.grids.validate import RULES_VERSION, GridValidationError, parse_grid_geojson
from township.store.models import Case, Grid, Meta, Resource, Warning, bump_version, grid_rows_to_geojson
from township.store.uow import session_scope

log = logging.getLogger(__name__)


def gridset_digest(gridset: GridSet) -> str:
    """A stable digest of a grid set, to tell whether a file changed."""
    text = json.dumps(gridset.to_geojson(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


#: Meta key of the grid file that last passed validation: its `grid_file_key` and its grid set's digest.
VALIDATED_FILE = "grids_file_validated"


def grid_file_key(digest: str) -> str:
    """Names a grid file read (`GridFileRead.digest`: its bytes and the options) and the version of the rules."""
    return f"{digest}:rules-{RULES_VERSION}"


def _meta(session: Session, key: str) -> str | None:
    row = session.get(Meta, key)
    return row.value if row else None


def _set_meta(session: Session, key: str, value: str) -> None:
    session.merge(Meta(key=key, value=value))


def load_gridset(engine: Engine) -> GridSet | None:
    """The grid set in the store, or None when none was installed yet."""
    with session_scope(engine) as s:
        rows = s.scalars(select(Grid).order_by(Grid.level, Grid.grid_id)).all()
        if not rows:
            return None
        return parse_grid_geojson(grid_rows_to_geojson(list(rows)))


def _relocate(session: Session, gridset: GridSet, model: type[Case] | type[Warning]) -> None:
    """Re-assign the grid and village of every stored point of ``model``; only the changed rows are written."""
    rows = session.execute(select(model.id, model.lon, model.lat, model.grid_id, model.village_id)
                           .where(model.lon.is_not(None))).all()
    if not rows:
        return
    ids, lon, lat, grids, villages = zip(*rows, strict=True)
    found = gridset.locate(np.array(lon, float), np.array(lat, float)).tolist()
    village_of = {g: gridset.village_of(g) if g else None for g in set(found)}
    changed = [{"id": i, "grid_id": g, "village_id": village_of[g]}
               for i, g, old_grid, old_village in zip(ids, found, grids, villages, strict=True)
               if (g, village_of[g]) != (old_grid, old_village)]
    if changed:
        session.execute(update(model), changed)


def _grid_row(feature: dict) -> dict:
    """The `Grid` row of one feature of `GridSet.to_geojson`."""
    p = feature["properties"]
    return {"grid_id": p["grid_id"], "name": p["name"], "level": p["level"], "parent_id": p.get("parent_id"),
            "kind": p["kind"], "properties": json.dumps(p, ensure_ascii=False),
            "geometry": json.dumps(feature["geometry"])}


def install_grids(engine: Engine, gridset: GridSet) -> None:
    """Replace the stored grids by ``gridset`` in one transaction.

    Cases and warnings are re-located in the new grids and resources keep
    only home grids that still exist, all before the old grids are removed.
    """
    rows = [_grid_row(f) for f in gridset.to_geojson()["features"]]
    with session_scope(engine) as s:
        # Bulk statements, not one ORM merge per grid (a city has 50,000).
        stored = set(s.scalars(select(Grid.grid_id)))
        new = [r for r in rows if r["grid_id"] not in stored]
        kept = [r for r in rows if r["grid_id"] in stored]
        if new:
            s.execute(insert(Grid), new)
        if kept:
            s.execute(update(Grid), kept)
        _relocate(s, gridset, Case)
        _relocate(s, gridset, Warning)
        for res in s.scalars(select(Resource)):
            found = gridset.locate(np.array([res.lon]), np.array([res.lat]))[0]
            res.grid_id = found
        s.flush()
        gone = stored - {r["grid_id"] for r in rows}
        if gone:
            s.execute(delete(Grid).where(Grid.grid_id.in_(gone)))
        _set_meta(s, "grids_digest", gridset_digest(gridset))
        bump_version(s)


@dataclass
class GridLoad:
    """What happened when the configured grid file was loaded at start."""

    gridset: GridSet
    installed: bool
    error: GridValidationError | None = None


def _stored_town_centre(engine: Engine) -> tuple[float, float] | None:
    """The middle of the stored towns (lon, lat), or None: where the township is, to name a file's zone."""
    with Session(engine) as s:
        outlines = s.scalars(select(Grid.geometry).where(Grid.level == 1)).all()
    if not outlines:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(shapely.from_geojson(list(outlines)))
    return (minx + maxx) / 2, (miny + maxy) / 2


def ensure_grids(engine: Engine, path: Path, crs: str | None = None, *, layer: str | None = None,
                 encoding: str | None = None, mapping: Mapping[str, str] | None = None) -> GridLoad:
    """Install the grid file at ``path`` if it is valid and new; else keep the stored grids.

    The file may be any format `township.grids.files.read_grid_file` reads
    (GeoJSON, Shapefile or a .zip of one, GeoPackage, KML/KMZ), with its
    options. A file that passed validation before (same bytes, options and
    rules) and whose grid set is the stored one is not checked again: its
    spatial rules take most of a start at a city's 50,000 grids.

    Raises
    ------
    GridValidationError
        When the file cannot be read or is invalid, and the store holds no grids to fall back on.
    """
    read = read_grid_file(path, crs=crs, layer=layer, encoding=encoding, mapping=mapping,
                          near=lambda: _stored_town_centre(engine))
    key = grid_file_key(read.digest)
    with Session(engine) as s:
        stored, validated = _meta(s, "grids_digest"), _meta(s, VALIDATED_FILE)
    # The digest is written only by install_grids, so a match means the stored
    # grids are this very file, which passed validation.
    if read.ok and stored is not None and validated == f"{key} {stored}":
        return GridLoad(read.validate(check_spatial=False), installed=False)
    try:
        candidate = read.validate()
    except GridValidationError as err:
        # Only now are the stored grids needed: reading them validates them
        # again, which a city's grid set makes worth skipping on every start.
        fallback = load_gridset(engine)
        if fallback is None:
            raise
        log.error("grid file %s rejected, keeping the %d stored grids:\n%s", path, len(fallback), err)
        return GridLoad(fallback, installed=False, error=err)
    digest = gridset_digest(candidate)
    if digest != stored:
        install_grids(engine, candidate)
    with session_scope(engine) as s:
        # True whatever is installed later: this file passed and gives this grid set.
        _set_meta(s, VALIDATED_FILE, f"{key} {digest}")
    return GridLoad(candidate, installed=digest != stored)


def install_resources(engine: Engine, path: Path, gridset: GridSet) -> int:
    """Load resource points from a GeoJSON file when the store has none; return how many."""
    with session_scope(engine) as s:
        if s.scalar(select(Resource.resource_id).limit(1)) is not None:
            return 0
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        feats = data["features"]
        lon = np.array([f["geometry"]["coordinates"][0] for f in feats], dtype=float)
        lat = np.array([f["geometry"]["coordinates"][1] for f in feats], dtype=float)
        grid_ids = gridset.locate(lon, lat)
        for f, x, y, g in zip(feats, lon, lat, grid_ids, strict=True):
            p = f["properties"]
            s.add(
                Resource(
                    resource_id=p["resource_id"],
                    kind=p["kind"],
                    name=p["name"],
                    lon=float(x),
                    lat=float(y),
                    grid_id=g,
                    contact=p.get("contact"),
                    phone=p.get("phone"),
                )
            )
        bump_version(s)
        return len(feats)
