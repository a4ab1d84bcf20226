"""Reading and writing grids and resources in the store.

Grids come in as a validated :class:`~township.gridset.GridSet`; installing a
new set is one transaction that also re-locates every stored point, so a
case never points at a grid that no longer exists.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .gridset import GridSet, GridValidationError, load_grid_file, parse_grid_geojson
from .store import Case, Grid, Meta, Resource, Warning, bump_version, grid_rows_to_geojson, session_scope

log = logging.getLogger(__name__)


def gridset_digest(gridset: GridSet) -> str:
    """A stable digest of a grid set, to tell whether a file changed."""
    text = json.dumps(gridset.to_geojson(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


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


def _relocate(session: Session, gridset: GridSet, model: type) -> None:
    """Re-assign the grid and village of every stored point of ``model``."""
    rows = session.execute(select(model.id, model.lon, model.lat).where(model.lon.is_not(None))).all()
    if not rows:
        return
    ids = [r[0] for r in rows]
    found = gridset.locate(np.array([r[1] for r in rows], float), np.array([r[2] for r in rows], float))
    session.execute(
        update(model),
        [
            {"id": i, "grid_id": g, "village_id": gridset.village_of(g) if g else None}
            for i, g in zip(ids, found.tolist())
        ],
    )


def install_grids(engine: Engine, gridset: GridSet) -> None:
    """Replace the stored grids by ``gridset`` in one transaction.

    Cases and warnings are re-located in the new grids and resources keep
    only home grids that still exist, all before the old grids are removed.
    """
    features = gridset.to_geojson()["features"]
    with session_scope(engine) as s:
        new_ids = set()
        for f in features:
            p = f["properties"]
            new_ids.add(p["grid_id"])
            s.merge(
                Grid(
                    grid_id=p["grid_id"],
                    name=p["name"],
                    level=p["level"],
                    parent_id=p.get("parent_id"),
                    kind=p["kind"],
                    properties=json.dumps(p, ensure_ascii=False),
                    geometry=json.dumps(f["geometry"]),
                )
            )
        s.flush()
        _relocate(s, gridset, Case)
        _relocate(s, gridset, Warning)
        for res in s.scalars(select(Resource)):
            found = gridset.locate(np.array([res.lon]), np.array([res.lat]))[0]
            res.grid_id = found
        s.flush()
        s.execute(delete(Grid).where(Grid.grid_id.not_in(new_ids)))
        _set_meta(s, "grids_digest", gridset_digest(gridset))
        bump_version(s)


@dataclass
class GridLoad:
    """What happened when the configured grid file was loaded at start."""

    gridset: GridSet
    installed: bool
    error: GridValidationError | None = None


def ensure_grids(engine: Engine, path: Path, crs: str | None = None) -> GridLoad:
    """Install the grid file at ``path`` if it is valid and new; else keep the stored grids.

    Raises
    ------
    GridValidationError
        When the file is invalid and the store holds no grids to fall back on.
    """
    try:
        candidate = load_grid_file(path, crs=crs)
    except GridValidationError as err:
        # Only now are the stored grids needed: reading them validates them
        # again, which a city's grid set makes worth skipping on every start.
        stored = load_gridset(engine)
        if stored is None:
            raise
        log.error("grid file %s rejected, keeping the %d stored grids:\n%s", path, len(stored), err)
        return GridLoad(stored, installed=False, error=err)
    with session_scope(engine) as s:
        # The digest is written only by install_grids, so a match means the
        # stored grids are this very file.
        same = _meta(s, "grids_digest") == gridset_digest(candidate)
    if same:
        return GridLoad(candidate, installed=False)
    install_grids(engine, candidate)
    return GridLoad(candidate, installed=True)


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
        for f, x, y, g in zip(feats, lon, lat, grid_ids):
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
