"""Grid files as GIS offices deliver them: Shapefile (GBK, with or without .cpg; zipped), GeoPackage, KML/KMZ.

The bundled Dalu grids are converted here with geopandas into each format and
CRS (CGCS2000 Gauss-Krüger zones EPSG:4546 and EPSG:4525, CGCS2000 lon/lat
EPSG:4490), with Chinese headers; each must validate as the same 1 / 15 / 146
grids with the same names and the same areas as the GeoJSON. The expected areas
are computed here with pyproj and shapely, not by the code under test.

Area tolerance: a polygon projected to a Gauss-Krüger zone and back moves by
well under a millimetre, and a Shapefile keeps doubles, so every grid read
must have the GeoJSON grid's area (both projected here to EPSG:4546 vertex by
vertex) to 1e-6 relative (1 m² per km²); and the grid set built from it must
have the areas of the grid set built from the GeoJSON to the same 1e-6.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from township.config import BUNDLED_GRIDS, ROOT
from township.grids.files import read_grid_file
from township.grids.install import ensure_grids
from township.grids.mapping import HEADER_ALIASES, complete_hierarchy, grid_properties, match_columns
from township.grids.validate import load_grid_file
from township.store.engine import init_db, make_engine
from township.store.models import Grid

#: Relative tolerance of a grid's area against the GeoJSON's (see the module docstring).
AREA_RTOL = 1e-6
#: Chinese headers a natural-resources office might use, for the project's properties.
HEADERS = {"grid_id": "网格编码", "name": "网格名称", "level": "层级", "parent_id": "上级编码", "kind": "类型",
           "officer": "网格员", "officer_phone": "联系电话", "households": "户数", "population": "人口",
           "party_members": "党员数", "party_households": "党员中心户"}
KIND_ZH = {"town": "镇", "village": "村", "community": "社区", "grid": "网格"}


def _areas(collection: dict) -> dict[str, float]:
    """Each grid's area (m²) in EPSG:4546, its vertices projected by pyproj."""
    to_metric = pyproj.Transformer.from_crs(4326, 4546, always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1]))

    return {f["properties"]["grid_id"]: shapely.transform(shape(f["geometry"]), project).area
            for f in collection["features"]}


BUNDLED = json.loads(BUNDLED_GRIDS.read_text(encoding="utf-8"))
AREAS = _areas(BUNDLED)
NAMES = {f["properties"]["grid_id"]: f["properties"]["name"] for f in BUNDLED["features"]}
GEOJSON_SET = load_grid_file(BUNDLED_GRIDS)


def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDS_FILE": str(BUNDLED_GRIDS)}
    return subprocess.run([sys.executable, "-m", "township", "validate-grids", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _chinese(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grids with Chinese headers and kinds, as an office's file has them."""
    out = frame.rename(columns=HEADERS)
    out["类型"] = out["类型"].map(KIND_ZH)
    return out


def _write_shapefile(frame: gpd.GeoDataFrame, folder: Path, stem: str, encoding: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.shp"
    frame.to_file(path, encoding=encoding)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The bundled grids in each delivered form."""
    tmp = tmp_path_factory.mktemp("gridfiles")
    grids = gpd.read_file(BUNDLED_GRIDS)
    out: dict[str, Path] = {}
    out["shp_gbk"] = _write_shapefile(_chinese(grids).to_crs(4546), tmp / "gbk", "大路镇网格", "GBK")
    nocpg = _write_shapefile(_chinese(grids).to_crs(4546), tmp / "nocpg", "dalu", "GBK")
    nocpg.with_suffix(".cpg").unlink()
    out["shp_nocpg"] = nocpg
    zone = _write_shapefile(_chinese(grids).to_crs(4525), tmp / "zone37", "dalu_grids", "GBK")
    out["zip_4525"] = tmp / "dalu_grids.zip"
    with zipfile.ZipFile(out["zip_4525"], "w") as zf:
        for p in zone.parent.iterdir():
            zf.write(p, f"交付/{p.name}")  # in a folder, as an office zips it
    out["gpkg"] = tmp / "dalu.gpkg"
    cgcs = grids.to_crs(4490)
    for level, layer in ((1, "town"), (2, "villages"), (3, "grids")):
        cgcs[cgcs["level"] == level].to_file(out["gpkg"], layer=layer, driver="GPKG")
    out["kml"] = tmp / "dalu.kml"
    grids.to_file(out["kml"], driver="KML")
    out["kmz"] = tmp / "dalu.kmz"
    with zipfile.ZipFile(out["kmz"], "w") as zf:
        zf.write(out["kml"], "doc.kml")
    return out


FORMS = ["shp_gbk", "shp_nocpg", "zip_4525", "gpkg", "kml", "kmz"]


@pytest.mark.parametrize("form", FORMS)
def test_each_delivered_form_reads_as_the_geojson(files, form):
    read = read_grid_file(files[form])
    assert read.ok, read.errors
    gs = read.validate()
    assert [len(gs.ids(level=n)) for n in (1, 2, 3)] == [1, 15, 146]
    assert {g: gs.props(g)["name"] for g in gs} == NAMES  # the Chinese names intact
    read_areas = _areas(read.geojson)
    for gid, expected in AREAS.items():
        assert read_areas[gid] == pytest.approx(expected, rel=AREA_RTOL), gid
        assert gs.area_km2(gid) == pytest.approx(GEOJSON_SET.area_km2(gid), rel=AREA_RTOL), gid
    assert gs.props("DL-01")["officer"] == "乔宏" and gs.props("DL-01")["kind"] == "village"
    assert sum(gs.props(g)["party_members"] for g in gs.ids(level=3)) == 602


@pytest.mark.parametrize(("form", "says"), [
    ("shp_gbk", ["EPSG:4546", "GB18030 (from 大路镇网格.cpg)"]),
    ("shp_nocpg", ["EPSG:4546", "GB18030 (detected from the .dbf bytes, no .cpg)"]),
    ("zip_4525", ["EPSG:4525", "dalu_grids.zip: read dalu_grids.shp"]),
    ("gpkg", ["EPSG:4490", "layers town, villages, grids read together"]),
    ("kml", ["EPSG:4326"]),
])
def test_cli_validates_each_form_and_says_how_it_read_it(files, form, says):
    r = run_cli(files[form])
    assert r.returncode == 0, r.stdout + r.stderr
    total = AREAS["DL"] / 1e6
    assert r.stdout.startswith(f"OK: 1 town, 15 villages/communities, 146 grids (12 villages + 3 communities; "
                               f"{total:,.1f} km²")
    for text in says:
        assert text in r.stdout


@pytest.mark.filterwarnings("ignore:Could not decode error message:RuntimeWarning")  # GDAL reporting the cut
def test_a_utf8_shapefile_without_cpg_and_cut_headers(tmp_path):
    # UTF-8 Chinese headers are 3 bytes a character: the DBF's 10 bytes cut 网格编码 to 网格编 and a half.
    grids = gpd.read_file(BUNDLED_GRIDS).to_crs(4546)
    path = _write_shapefile(_chinese(grids), tmp_path, "utf8", "UTF-8")
    path.with_suffix(".cpg").unlink()
    read = read_grid_file(path)
    assert read.ok, read.errors
    assert read.encoding == "utf-8" and read.mapping["网格编"] == "grid_id"
    assert {g: read.validate().props(g)["name"] for g in NAMES} == NAMES


def test_the_encoding_option_overrides(files):
    assert read_grid_file(files["shp_nocpg"], encoding="GBK").validate().props("DL")["name"] == "大路镇"
    # read as Latin-1 the headers are mojibake: no column is recognised, and the error says so
    read = read_grid_file(files["shp_nocpg"], encoding="latin-1")
    assert not read.ok and "no column holds the grid's grid_id" in read.errors[0]


def test_a_gauss_kruger_file_without_prj_is_refused_with_the_likely_codes(files, tmp_path):
    for form, code in (("shp_gbk", "EPSG:4546"), ("zip_4525", "EPSG:4525")):
        folder = tmp_path / form
        folder.mkdir()
        if form == "zip_4525":
            with zipfile.ZipFile(files[form]) as zf:
                zf.extractall(folder)
            src = next(folder.rglob("*.shp"))
        else:
            src = files[form]
        for p in src.parent.iterdir():
            if p.stem == src.stem and p.suffix != ".prj":
                (folder / p.name).write_bytes(p.read_bytes())
        shp = folder / src.name
        r = run_cli(shp)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert r.stderr.startswith("error: ") and "names no CRS" in r.stderr
        # the code whose zone puts the data where the configured grids are comes first
        assert f"the likely code is {code}" in r.stderr or f"so this is {code}" in r.stderr, r.stderr
        # naming it reads the file
        ok = run_cli(shp, "--crs", code)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "146 grids" in ok.stdout


def test_without_a_location_every_meridian_is_named(files, tmp_path):
    grids = gpd.read_file(BUNDLED_GRIDS).to_crs(4546)
    path = _write_shapefile(_chinese(grids), tmp_path, "noprj", "GBK")
    path.with_suffix(".prj").unlink()
    read = read_grid_file(path)  # no `near`: the zone cannot be told
    assert not read.ok
    error = read.errors[0]
    assert "EPSG:4534–4554" in error and "EPSG:4502–4512" in error and "EPSG:4546" in error
    # the latitude it names is the data's, from the northing alone, to a tenth of a degree or so
    named = float(re.search(r"near (\d+\.\d)°N", error).group(1))
    assert named == pytest.approx(gpd.read_file(BUNDLED_GRIDS).union_all().centroid.y, abs=0.15)


def test_headers_mapped_with_the_map_option(tmp_path):
    grids = gpd.read_file(BUNDLED_GRIDS)
    odd = grids.rename(columns={"grid_id": "XZQDM", "name": "XZQMC", "level": "CJ", "parent_id": "SJDM"})
    path = tmp_path / "odd.geojson"
    odd.to_file(path, driver="GeoJSON")
    r = run_cli(path)
    assert r.returncode == 2 and "no column holds the grid's grid_id" in r.stderr and "XZQDM" in r.stderr
    ok = run_cli(path, "--map", "XZQDM=grid_id,XZQMC=name,CJ=level,SJDM=parent_id")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "146 grids" in ok.stdout
    bad = run_cli(path, "--map", "XZQDM=code")
    assert bad.returncode == 2 and "'code' is not a grid field" in bad.stderr


def test_levels_and_parents_from_national_codes(tmp_path):
    # 12-digit village codes under a 12-digit town code ending in 000, 15-digit grid codes under their village's:
    # no level, parent or kind column; the structure of the codes says it all.
    grids = gpd.read_file(BUNDLED_GRIDS)
    villages = sorted(grids.loc[grids["level"] == 2, "grid_id"])
    code = {"DL": "150621102000"} | {v: f"150621102{200 + i:03d}" for i, v in enumerate(villages, 1)}
    for gid, parent in grids.loc[grids["level"] == 3, ["grid_id", "parent_id"]].itertuples(index=False):
        code[gid] = code[parent] + gid.rsplit("-", 1)[1].zfill(3)
    coded = gpd.GeoDataFrame({"网格代码": grids["grid_id"].map(code), "名称": grids["name"]},
                             geometry=grids.geometry, crs=grids.crs)
    path = tmp_path / "coded.gpkg"
    coded.to_file(path, layer="乡镇网格", driver="GPKG")
    read = read_grid_file(path)
    assert read.ok, read.errors
    gs = read.validate()
    assert [len(gs.ids(level=n)) for n in (1, 2, 3)] == [1, 15, 146]
    assert gs.props(code["DL-01-05"])["parent_id"] == code["DL-01"]  # codes kept as given
    assert sorted(gs.props(code[v])["kind"] for v in villages) == sorted(
        grids.loc[grids["level"] == 2, "kind"])  # 社区 names are communities


def test_layers_in_separate_files_with_parents_by_name(tmp_path):
    grids = gpd.read_file(BUNDLED_GRIDS)
    name_of = dict(zip(grids["grid_id"], grids["name"], strict=True))
    paths = []
    for level, stem in ((1, "镇界"), (2, "村社区"), (3, "网格")):
        part = grids[grids["level"] == level][["grid_id", "name", "parent_id", "geometry"]].copy()
        part["所属"] = part.pop("parent_id").map(name_of)  # the parent by its name, as offices write it
        part = part.rename(columns={"grid_id": "编码", "name": "名称"}).to_crs(4546)
        paths.append(_write_shapefile(part, tmp_path / stem, stem, "GBK"))
    r = run_cli(*paths)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "146 grids (12 villages + 3 communities" in r.stdout
    assert "parent by name: 161 features" in r.stdout and "level from layer: 162 features" in r.stdout


@pytest.mark.parametrize(("make", "says"), [
    ("zip_without_shp", "holds no grid file"),
    ("shp_without_dbf", "dalu.dbf (the attributes: codes, names) is missing"),
    ("shp_without_shx", "dalu.shx (the index of the polygons) is missing"),
    ("empty_geojson", "no features, so no grids"),
    ("unknown_layer", "no layer 'roads'; its layers are town (1 Polygon), villages (15 Polygon), grids (146 Polygon)"),
    ("unnamed_layers", "cannot tell which level"),
    ("not_a_zip", "not a readable .zip file"),
    ("unknown_suffix", "unknown format .txt"),
])
def test_bad_input_is_a_clear_error_never_a_traceback(files, tmp_path, make, says):
    args: list[str | Path] = []
    if make == "zip_without_shp":
        path = tmp_path / "nope.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.write(files["shp_gbk"].with_suffix(".dbf"), "grids.dbf")
            zf.writestr("说明.txt", "边界")
        args = [path]
    elif make in ("shp_without_dbf", "shp_without_shx"):
        missing = ".dbf" if make == "shp_without_dbf" else ".shx"
        for p in files["shp_nocpg"].parent.iterdir():
            if p.suffix != missing:
                (tmp_path / p.name).write_bytes(p.read_bytes())
        args = [tmp_path / "dalu.shp"]
    elif make == "empty_geojson":
        path = tmp_path / "empty.geojson"
        path.write_text('{"type": "FeatureCollection", "features": []}')
        args = [path]
    elif make == "unknown_layer":
        args = [files["gpkg"], "--layer", "roads"]
    elif make == "unnamed_layers":
        path = tmp_path / "abc.gpkg"
        grids = gpd.read_file(BUNDLED_GRIDS).drop(columns=["level", "kind"])
        for i, layer in enumerate("abc"):
            grids.iloc[i::3].to_file(path, layer=layer, driver="GPKG")
        args = [path]
    elif make == "not_a_zip":
        path = tmp_path / "grids.zip"
        path.write_text("not a zip")
        args = [path]
    else:
        path = tmp_path / "grids.txt"
        path.write_text("x")
        args = [path]
    r = run_cli(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and says in r.stderr, r.stderr


def test_an_uploaded_file_is_read_from_its_bytes(files):
    read = read_grid_file(files["zip_4525"].read_bytes(), filename="上传.zip")
    assert read.ok and read.crs == "EPSG:4525"
    alone = read_grid_file(files["shp_gbk"].read_bytes(), filename="grids.shp")
    assert not alone.ok and "is missing" in alone.errors[0] and "zipped" in alone.errors[0]


def test_a_broken_file_is_validated_not_passed(files, tmp_path):
    # a Shapefile read fine but whose grids break a rule: the validator's report, exit 1
    grids = _chinese(gpd.read_file(BUNDLED_GRIDS))
    first = grids.loc[grids["网格编码"] == "DL-01-01", "geometry"].values
    grids.loc[grids["网格编码"] == "DL-01-02", "geometry"] = first
    path = _write_shapefile(grids.to_crs(4546), tmp_path, "overlap", "GBK")
    r = run_cli(path)
    assert r.returncode == 1 and r.stdout.startswith(f"INVALID: {path}")
    assert "sibling_overlap] DL-01-01 and DL-01-02" in r.stdout


@pytest.mark.store
def test_the_install_takes_a_zipped_shapefile(files, store_url, tmp_path):
    engine = make_engine(store_url)
    init_db(engine)
    load = ensure_grids(engine, files["zip_4525"])
    assert load.installed and load.error is None
    with Session(engine) as s:
        counts = dict(s.execute(select(Grid.level, func.count()).group_by(Grid.level)).all())
        names = dict(s.execute(select(Grid.grid_id, Grid.name)).all())
    assert counts == {1: 1, 2: 15, 3: 146} and names == NAMES
    assert not ensure_grids(engine, files["zip_4525"]).installed  # the same file again: nothing to do
    # a file without .prj is refused, the stored grids stay, and their place names the likely zone
    for p in files["shp_gbk"].parent.iterdir():
        if p.suffix != ".prj":
            (tmp_path / p.name).write_bytes(p.read_bytes())
    kept = ensure_grids(engine, tmp_path / files["shp_gbk"].name)
    assert kept.error is not None and not kept.installed and len(kept.gridset) == 162
    assert "the likely code is EPSG:4546" in str(kept.error)
    engine.dispose()


def test_a_geojson_in_a_gauss_kruger_zone_with_chinese_headers(tmp_path):
    # QGIS writes a projected GeoJSON with a legacy `crs` member naming its CRS
    path = tmp_path / "qgis.geojson"
    _chinese(gpd.read_file(BUNDLED_GRIDS)).to_crs(4546).to_file(path, driver="GeoJSON")
    assert "4546" in json.dumps(json.loads(path.read_text(encoding="utf-8"))["crs"])
    read = read_grid_file(path)
    assert read.ok and read.crs == "EPSG:4546", read.errors
    gs = read.validate()
    assert {g: gs.props(g)["name"] for g in gs} == NAMES
    assert _areas(read.geojson)["DL"] == pytest.approx(AREAS["DL"], rel=AREA_RTOL)


class _WindowsName(zipfile.ZipInfo):
    """A zip member whose name is GBK bytes without the UTF-8 flag, as Windows' built-in zip writes it."""

    def _encodeFilenameFlags(self):  # zipfile's own hook, spelt as it spells it
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def test_a_windows_zip_of_three_level_files(tmp_path):
    # 镇界 / 村社区 / 网格: the names in GBK tell the levels; no level, kind or parent code columns
    grids = gpd.read_file(BUNDLED_GRIDS)
    name_of = dict(zip(grids["grid_id"], grids["name"], strict=True))
    path = tmp_path / "大路镇.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for level, stem in ((1, "镇界"), (2, "村社区"), (3, "网格")):
            part = grids[grids["level"] == level][["grid_id", "name", "parent_id", "geometry"]].copy()
            part["所属村社区"] = part.pop("parent_id").map(name_of)
            shp = _write_shapefile(part.rename(columns={"grid_id": "编码", "name": "名称"}).to_crs(4546),
                                   tmp_path / stem, stem, "GBK")
            for p in shp.parent.iterdir():
                zf.writestr(_WindowsName(p.name, date_time=(2024, 4, 9, 0, 0, 0)), p.read_bytes())
    with zipfile.ZipFile(path) as zf:  # what Python itself makes of the names: CP437 mojibake
        assert "网格.shp" not in zf.namelist()
    r = run_cli(path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "146 grids (12 villages + 3 communities" in r.stdout and "网格.shp" in r.stdout


def test_the_readme_lists_the_headers_understood():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    township = readme.split("\n## Bring your own township\n", 1)[1].split("\n## ", 1)[0]
    section = township.split("\n### Grid files\n", 1)[1].split("\n### ", 1)[0]
    for fld, aliases in HEADER_ALIASES.items():
        row = next(line for line in section.splitlines() if line.startswith(f"| `{fld}` |"))
        assert all(a in row for a in aliases if a != fld), fld


def test_parents_from_where_the_polygons_lie(tmp_path):
    # codes with no structure, no parent column: each grid's parent is the polygon one level up that holds it
    grids = gpd.read_file(BUNDLED_GRIDS)
    code = {gid: f"G{i:04d}" for i, gid in enumerate(grids.sample(frac=1, random_state=3)["grid_id"])}
    path = tmp_path / "bare.gpkg"
    for level, layer in ((1, "town"), (2, "villages"), (3, "grids")):
        part = grids[grids["level"] == level]
        gpd.GeoDataFrame({"编码": part["grid_id"].map(code), "名称": part["name"]}, geometry=part.geometry,
                         crs=part.crs).to_file(path, layer=layer, driver="GPKG")
    read = read_grid_file(path)
    assert read.ok, read.errors
    gs = read.validate()
    pairs = zip(grids["grid_id"], grids["parent_id"], strict=True)
    expected = {code[g]: code[p] for g, p in pairs if isinstance(p, str)}
    assert {g: gs.props(g)["parent_id"] for g in gs if gs.props(g)["level"] > 1} == expected
    assert "parent from position: 161 features" in read.notes


def test_a_wrong_crs_override_is_read_but_said_to_lie_outside_china(files):
    read = read_grid_file(files["shp_gbk"], crs="EPSG:32631")  # UTM 31N: the same metres land in Europe
    assert read.ok and read.crs == "EPSG:32631"
    assert any("outside China: is the CRS right?" in n for n in read.notes)
    assert not any("outside China" in n for n in read_grid_file(files["shp_gbk"]).notes)
    bad = read_grid_file(files["shp_gbk"], crs="EPSG:99999")
    assert not bad.ok and bad.errors[0].startswith("--crs EPSG:99999: not a CRS")


def test_a_code_is_not_the_parent_of_a_longer_sibling():
    names = {"DL": "镇", "DL-1": "一村", "DL-10": "十社区", "DL-1-01": "一村第1网格", "DL-10-01": "十社区第1网格"}
    props = [{"grid_id": gid, "name": name} for gid, name in names.items()]
    complete_hierarchy(props, [None] * len(props), [None] * len(props))
    got = {p["grid_id"]: (p.get("parent_id"), p.get("level"), p.get("kind")) for p in props}
    assert got == {"DL": (None, 1, "town"), "DL-1": ("DL", 2, "village"), "DL-10": ("DL", 2, "community"),
                   "DL-1-01": ("DL-1", 3, "grid"), "DL-10-01": ("DL-10", 3, "grid")}


def test_cells_as_offices_write_them():
    fields = match_columns(["网格编码", "名称", "层级", "类型", "户数", "人口", "联系电话", "备注"]).fields
    row = {"网格编码": 150621102201.0, "名称": " 东城社区 ", "层级": "村/社区", "类型": "居委会", "户数": "41",
           "人口": 103.0, "联系电话": 13721860383, "备注": "x"}
    assert grid_properties(row, fields) == {"grid_id": "150621102201", "name": "东城社区", "level": 2,
                                            "kind": "community", "households": 41, "population": 103,
                                            "officer_phone": "13721860383"}
    # what cannot be read goes on unchanged, for the validator to name
    assert grid_properties({"层级": "乡级以上", "户数": "四十"}, {"层级": "level", "户数": "households"}) == {
        "level": "乡级以上", "households": "四十"}
    town = grid_properties({"层级": "镇", "类型": "街道"}, {"层级": "level", "类型": "kind"})
    assert town == {"level": 1, "kind": "town"}


def test_layers_without_polygons_are_skipped(tmp_path):
    grids = gpd.read_file(BUNDLED_GRIDS)
    path = tmp_path / "mixed.gpkg"
    grids.to_file(path, layer="网格", driver="GPKG")
    grids.assign(geometry=grids.representative_point()).to_file(path, layer="points", driver="GPKG")
    pyogrio.write_dataframe(pd.DataFrame({"备注": ["无几何的表"]}), path, layer="attrs", driver="GPKG")
    read = read_grid_file(path)
    assert read.ok and read.layers == ["网格"], read.errors
    assert "mixed.gpkg: layers without polygons skipped: points, attrs" in read.notes
    assert len(read.validate()) == 162


def test_a_geojson_saved_in_gbk(tmp_path):
    path = tmp_path / "gbk.geojson"
    path.write_bytes(BUNDLED_GRIDS.read_text(encoding="utf-8").encode("gbk"))
    read = read_grid_file(path)
    assert read.ok and "gbk.geojson: text in GB18030/GBK, not UTF-8 as GeoJSON should be" in read.notes
    assert {g: read.validate().props(g)["name"] for g in NAMES} == NAMES
