"""Grid files at start-up: a valid new file is installed, a broken one leaves the stored grids in use."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from township.bootstrap import open_township
from township.settings import BUNDLED_GRIDS, ROOT, Settings

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
