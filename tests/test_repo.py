"""Grid files at start-up: a valid new file is installed, a broken one leaves the stored grids in use,
one validated before is not checked again."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from township.config import BUNDLED_GRIDS, ROOT, Settings
from township.grids import rules
from township.grids.install import ensure_grids, gridset_digest
from township.runtime.bootstrap import open_township
from township.store.engine import init_db, make_engine
from township.store.models import Case, Grid

pytestmark = pytest.mark.store


def _broken_copy(tmp_path):
    data = json.loads(BUNDLED_GRIDS.read_text(encoding="utf-8"))
    # two grids with one id, and a grid whose parent does not exist
    data["features"][20]["properties"]["grid_id"] = data["features"][21]["properties"]["grid_id"]
    data["features"][30]["properties"]["parent_id"] = "DL-77"
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_broken_grid_file_keeps_the_stored_grids(tmp_path, store_url):
    url = store_url
    first = open_township(Settings(database_url=url))
    cases_before = len(first.township.snapshot().cases)
    again = open_township(Settings(database_url=url, grids_file=_broken_copy(tmp_path)))
    assert again.grid_load.error is not None and not again.grid_load.installed
    rules = {v.rule for v in again.grid_load.error.violations}
    assert {"duplicate_id", "parent_missing"} <= rules
    assert len(again.township.gridset) == 162
    assert len(again.township.snapshot().cases) == cases_before


def test_cli_init_reports_a_rejected_file(tmp_path, store_url):
    env = {"DATABASE_URL": store_url, "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-m", "township", "init"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "162 grids" in ok.stdout
    env["GRIDS_FILE"] = str(_broken_copy(tmp_path))
    bad = subprocess.run([sys.executable, "-m", "township", "init"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "REJECTED" in bad.stdout and "parent_missing" in bad.stdout or "DL-77" in bad.stdout
    assert "162 grids" in bad.stdout


def test_a_file_validated_before_is_not_checked_again(tmp_path, store_url, monkeypatch):
    engine = make_engine(store_url)
    init_db(engine)
    first = ensure_grids(engine, BUNDLED_GRIDS)
    assert first.installed

    def checked(*_args) -> None:
        raise AssertionError("spatial rules checked")

    monkeypatch.setattr(rules, "check_spatial", checked)
    again = ensure_grids(engine, BUNDLED_GRIDS)
    assert not again.installed and gridset_digest(again.gridset) == gridset_digest(first.gridset)
    assert again.gridset.area_km2("DL-05-01") == first.gridset.area_km2("DL-05-01")
    # the same grids in other bytes, or the same bytes in another datum, are checked
    data = json.loads(BUNDLED_GRIDS.read_text(encoding="utf-8"))
    same = tmp_path / "same.geojson"
    same.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    for path, crs in [(same, None), (BUNDLED_GRIDS, "gcj02")]:
        with pytest.raises(AssertionError, match="spatial rules checked"):
            ensure_grids(engine, path, crs)
    monkeypatch.undo()
    # a file validated before but no longer the stored grids is installed again
    data["features"][20]["properties"]["officer"] = "另一位网格员"
    other = tmp_path / "other.geojson"
    other.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert ensure_grids(engine, other).installed
    assert ensure_grids(engine, BUNDLED_GRIDS).installed
    engine.dispose()


def test_installing_other_grids_relocates_what_moved(tmp_path, store_url):
    first = open_township(Settings(database_url=store_url))
    engine = first.township.engine
    columns = (Case.id, Case.lon, Case.lat, Case.grid_id, Case.village_id, Case.version)
    with Session(engine) as s:
        before = {r.id: r for r in s.execute(select(*columns))}
    data = json.loads(BUNDLED_GRIDS.read_text(encoding="utf-8"))
    for f in data["features"]:
        if f["properties"]["grid_id"] == "DL-01-01":
            f["properties"]["grid_id"] = "DL-01-99"  # the same polygon under a new id
    path = tmp_path / "renamed.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    again = open_township(Settings(database_url=store_url, grids_file=path))
    assert again.grid_load.installed
    gs = again.township.gridset
    with Session(engine) as s:
        after = {r.id: r for r in s.execute(select(*columns))}
        assert s.get(Grid, "DL-01-01") is None and s.get(Grid, "DL-01-99") is not None
    assert after.keys() == before.keys()
    located = gs.locate(np.array([r.lon for r in after.values()]), np.array([r.lat for r in after.values()]))
    assert [r.grid_id for r in after.values()] == located.tolist()
    assert all(r.village_id == gs.village_of(r.grid_id) for r in after.values() if r.grid_id)
    moved = {i for i, r in before.items() if r.grid_id == "DL-01-01"}
    assert moved and {i for i, r in after.items() if r.grid_id == "DL-01-99"} == moved
    assert all(after[i].version == r.version for i, r in before.items())  # re-located, not changed
