"""Tests of the grid loader, the grid set and ``python -m township validate-grids``.

The synthetic town is 2 × 2 km near 111.2°E 40.05°N: two villages side by
side (DL-01 west, DL-02 east), each split into a south and a north grid.
Each rule test breaks exactly one thing in an otherwise valid file.
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import box, mapping

from township.grids.crs import (
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalize_crs,
    to_wgs84_geom,
    wgs84_to_gcj02,
)
from township.grids.model import CELL_INDEX_FROM, GridSet
from township.grids.spatial import to_metric
from township.grids.validate import (
    SLIVER_TOLERANCE_M,
    GridValidationError,
    Violation,
    load_grid_file,
    parse_grid_geojson,
)

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "geodata" / "dalu_grids.geojson"

X0, Y0 = 111.2, 40.05
DX = 0.011740  # ≈ 1 km of longitude at 40°N
DY = 0.009      # ≈ 1 km of latitude
M_LON = 1000 / DX  # metres per degree, for building offsets in metres
M_LAT = 1000 / DY


def cell(i0: float, j0: float, i1: float, j1: float, km: float = 1.0) -> shapely.Polygon:
    """Box from offsets in units of ``km`` kilometres (east, north) from the town's SW corner."""
    dx, dy = DX * km, DY * km
    return box(X0 + i0 * dx, Y0 + j0 * dy, X0 + i1 * dx, Y0 + j1 * dy)


def feature(gid, level, parent, kind, geom, **extra) -> dict:
    props = {"grid_id": gid, "name": f"name of {gid}", "level": level,
             "parent_id": parent, "kind": kind}
    if level == 3:
        props.update(officer="张三", officer_phone="13800001234", households=120,
                     population=350, party_members=10, party_households=3)
    props.update(extra)
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def make_fc(km: float = 1.0) -> dict:
    """A valid FeatureCollection: 1 town, 2 villages, 4 grids, each grid ``km`` km wide."""
    return {
        "type": "FeatureCollection",
        "features": [
            feature("DL", 1, None, "town", cell(0, 0, 2, 2, km)),
            feature("DL-01", 2, "DL", "village", cell(0, 0, 1, 2, km)),
            feature("DL-02", 2, "DL", "community", cell(1, 0, 2, 2, km)),
            feature("DL-01-01", 3, "DL-01", "grid", cell(0, 0, 1, 1, km)),
            feature("DL-01-02", 3, "DL-01", "grid", cell(0, 1, 1, 2, km)),
            feature("DL-02-01", 3, "DL-02", "grid", cell(1, 0, 2, 1, km)),
            feature("DL-02-02", 3, "DL-02", "grid", cell(1, 1, 2, 2, km)),
        ],
    }


def feat(fc: dict, gid: str) -> dict:
    return next(f for f in fc["features"] if f["properties"].get("grid_id") == gid)


def violations(fc: dict, crs: str | None = None) -> list[Violation]:
    with pytest.raises(GridValidationError) as info:
        parse_grid_geojson(fc, crs=crs)
    return info.value.violations


def only(vs: list[Violation], rule: str) -> Violation:
    """The single violation of ``rule``, after checking nothing else fired."""
    assert [v.rule for v in vs] == [rule], [str(v) for v in vs]
    return vs[0]


def measures(message: str) -> tuple[float, float]:
    """(area m², width m) quoted in a spatial violation message."""
    m = re.search(r"([\d,.]+) m² \(up to ([\d,.]+) m wide\)", message)
    assert m, message
    return float(m[1].replace(",", "")), float(m[2].replace(",", ""))


def one_of(vs: list[Violation], rule: str, gid: str) -> Violation:
    hits = [v for v in vs if v.rule == rule and v.grid_id == gid]
    assert len(hits) == 1, [str(v) for v in vs]
    return hits[0]


# ---------------------------------------------------------------------------
# valid input


def test_valid_file_passes():
    gs = parse_grid_geojson(make_fc())
    assert isinstance(gs, GridSet)
    assert len(gs) == 7
    assert gs.ids(level=1) == ["DL"]
    assert gs.ids(level=2) == ["DL-01", "DL-02"]
    assert gs.ids(level=3, parent="DL-02") == ["DL-02-01", "DL-02-02"]
    assert gs.children("DL") == ["DL-01", "DL-02"]
    assert gs.parent("DL-01-02") == "DL-01" and gs.parent("DL") is None
    assert gs.village_of("DL-02-01") == "DL-02"
    assert gs.village_of("DL-02") == "DL-02"
    assert gs.village_of("DL") is None
    assert gs.props("DL-01-01")["party_members"] == 10
    assert gs.area_km2("DL") == pytest.approx(4.0, rel=0.01)  # built as ≈ 2 × 2 km
    assert gs.area_km2("DL-01-01") == pytest.approx(1.0, rel=0.01)
    minx, miny, maxx, maxy = gs.bounds(["DL-01-01", "DL-02-02"])
    assert (minx, miny) == pytest.approx((X0, Y0)) and (maxx, maxy) == pytest.approx((X0 + 2 * DX, Y0 + 2 * DY))
    assert gs.geometry("DL").equals(cell(0, 0, 2, 2))
    assert gs.bounds("DL") == gs.bounds(["DL"]) == gs.bounds()
    with pytest.raises(KeyError, match="DL-99"):
        gs.props("DL-99")


def test_props_are_a_copy():
    gs = parse_grid_geojson(make_fc())
    gs.props("DL")["name"] = "changed"
    assert gs.props("DL")["name"] == "name of DL"


def test_json_text_and_bytes_accepted():
    text = json.dumps(make_fc(), ensure_ascii=False)
    assert len(parse_grid_geojson(text)) == 7
    assert len(parse_grid_geojson(text.encode("utf-8"))) == 7


def test_feature_collection_and_round_trip():
    gs = parse_grid_geojson(make_fc())
    fc = gs.feature_collection(3)
    assert [f["id"] for f in fc["features"]] == ["DL-01-01", "DL-01-02", "DL-02-01", "DL-02-02"]
    assert fc["features"][0]["properties"]["grid_id"] == "DL-01-01"
    assert gs.feature_collection(3) is fc  # cached, geometry is sent once
    again = parse_grid_geojson(gs.to_geojson())
    assert again.ids() == gs.ids()
    assert again.geometry("DL-02-02").equals(gs.geometry("DL-02-02"))


def test_slivers_under_tolerance_are_ignored():
    fc = make_fc()
    d = 0.3 * SLIVER_TOLERANCE_M
    # DL-01-01 sticks out west by 0.3 m and leaves a 0.3 m gap in the south.
    feat(fc, "DL-01-01")["geometry"] = mapping(box(
        X0 - d / M_LON, Y0 + d / M_LAT, X0 + DX, Y0 + DY))
    parse_grid_geojson(fc)


@pytest.mark.parametrize("km", [1, 10, 40])
def test_town_edge_with_t_junctions_passes(km):
    """The town's edge has no vertex where villages meet: no false gap.

    A 2×40 km edge straight in lon/lat bows by ~100 m in Gauss-Krüger
    against the villages' corner if only its end points were projected.
    """
    fc = make_fc(km)
    assert len(feat(fc, "DL")["geometry"]["coordinates"][0]) == 5
    gs = parse_grid_geojson(fc)
    assert gs.area_km2("DL") == pytest.approx(4 * km * km, rel=0.01)


# ---------------------------------------------------------------------------
# one test per rule


def test_duplicate_id():
    fc = make_fc()
    fc["features"].append(copy.deepcopy(feat(fc, "DL-01-01")))
    v = only(violations(fc), "duplicate_id")
    assert v.grid_id == "DL-01-01"
    assert "DL-01-01" in v.message and "#3" in v.message and "#7" in v.message


def test_invalid_geometry():
    fc = make_fc()
    bowtie = [[X0, Y0], [X0 + DX, Y0 + DY], [X0 + DX, Y0], [X0, Y0 + DY], [X0, Y0]]
    feat(fc, "DL-01-01")["geometry"] = {"type": "Polygon", "coordinates": [bowtie]}
    v = only(violations(fc), "invalid_geometry")
    assert v.grid_id == "DL-01-01"
    assert "DL-01-01" in v.message and "Self-intersection" in v.message


def test_malformed_coordinates():
    fc = make_fc()
    feat(fc, "DL-01-01")["geometry"] = {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + DX, Y0]]]}
    v = only(violations(fc), "invalid_geometry")
    assert v.grid_id == "DL-01-01" and "DL-01-01" in v.message


@pytest.mark.parametrize("geometry", [None, {"type": "Polygon", "coordinates": []}])
def test_empty_geometry(geometry):
    fc = make_fc()
    feat(fc, "DL-02-02")["geometry"] = geometry
    v = only(violations(fc), "empty_geometry")
    assert v.grid_id == "DL-02-02" and "DL-02-02" in v.message


def test_not_polygon():
    fc = make_fc()
    feat(fc, "DL-02-02")["geometry"] = {"type": "Point", "coordinates": [X0, Y0]}
    v = only(violations(fc), "not_polygon")
    assert v.grid_id == "DL-02-02"
    assert "DL-02-02" in v.message and "Point" in v.message


def test_parent_missing():
    fc = make_fc()
    feat(fc, "DL-02-02")["properties"]["parent_id"] = "DL-09"
    vs = violations(fc)
    v = one_of(vs, "parent_missing", "DL-02-02")
    assert "DL-02-02" in v.message and "DL-09" in v.message
    # DL-02 really has lost half its cover; that is reported too.
    assert {x.rule for x in vs} == {"parent_missing", "coverage_gap"}


def test_parent_level():
    fc = make_fc()
    feat(fc, "DL-02-02")["properties"]["parent_id"] = "DL"
    v = one_of(violations(fc), "parent_level", "DL-02-02")
    assert "DL-02-02" in v.message and "level 1" in v.message and "level 2" in v.message


def test_outside_parent():
    fc = make_fc()
    # DL-01-02 pushes 50 m east into DL-02.
    feat(fc, "DL-01-02")["geometry"] = mapping(box(X0, Y0 + DY, X0 + DX + 50 / M_LON, Y0 + 2 * DY))
    v = only(violations(fc), "outside_parent")
    assert v.grid_id == "DL-01-02"
    assert "DL-01-02" in v.message and "outside its parent DL-01," in v.message
    area, width = measures(v.message)
    assert area == pytest.approx(50 * 1000, rel=0.02)
    assert width == pytest.approx(50, abs=1)
    assert "slivers under 1 m" in v.message


def test_sibling_overlap():
    fc = make_fc()
    # DL-01-01 reaches 30 m north into its sibling DL-01-02.
    feat(fc, "DL-01-01")["geometry"] = mapping(box(X0, Y0, X0 + DX, Y0 + DY + 30 / M_LAT))
    v = only(violations(fc), "sibling_overlap")
    assert v.grid_id == "DL-01-01"
    assert "DL-01-01 and DL-01-02 overlap" in v.message
    area, width = measures(v.message)
    assert area == pytest.approx(30 * 1000, rel=0.02) and width == pytest.approx(30, abs=1)


def test_coverage_gap():
    fc = make_fc()
    # DL-01-01 leaves a 30 m strip along the town's south edge.
    feat(fc, "DL-01-01")["geometry"] = mapping(box(X0, Y0 + 30 / M_LAT, X0 + DX, Y0 + DY))
    v = only(violations(fc), "coverage_gap")
    assert v.grid_id == "DL-01"
    assert v.message.startswith("DL-01 is not covered by its children")
    area, width = measures(v.message)
    assert area == pytest.approx(30 * 1000, rel=0.02) and width == pytest.approx(30, abs=1)


def test_parent_without_children_is_a_gap():
    fc = make_fc()
    fc["features"] = [f for f in fc["features"] if f["properties"]["parent_id"] != "DL-02"]
    v = only(violations(fc), "coverage_gap")
    assert v.grid_id == "DL-02" and "no child grids" in v.message and "km²" in v.message


def test_lonlat_range():
    fc = make_fc()
    # Projected (Gauss-Krüger) metres instead of degrees.
    metric = to_metric(cell(1, 1, 2, 2))
    feat(fc, "DL-02-02")["geometry"] = mapping(metric)
    v = only(violations(fc), "lonlat_range")
    assert v.grid_id == "DL-02-02" and "DL-02-02" in v.message and "5 coordinate" in v.message


@pytest.mark.parametrize(
    "gid, key, value, words",
    [
        ("DL-01-01", "level", "3", "'level'"),
        ("DL-01-01", "level", 4, "'level'"),
        ("DL-01-01", "kind", "hamlet", "'kind'"),
        ("DL-01-01", "kind", "village", "level 2"),
        ("DL-01-01", "households", -1, "'households'"),
        ("DL-01-01", "party_members", 2.5, "'party_members'"),
        ("DL-01-01", "officer_phone", 13800001234, "'officer_phone'"),
        ("DL-01-01", "name", "", "'name'"),
        ("DL", "parent_id", "DL-00", "parent_id"),
        ("DL-01", "parent_id", None, "'parent_id'"),
    ],
)
def test_bad_property(gid, key, value, words):
    fc = make_fc()
    feat(fc, gid)["properties"][key] = value
    v = one_of(violations(fc), "bad_property", gid)
    assert gid in v.message and words in v.message


def test_missing_required_property():
    fc = make_fc()
    del feat(fc, "DL-02-01")["properties"]["name"]
    v = only(violations(fc), "bad_property")
    assert v.grid_id == "DL-02-01" and "'name' is missing" in v.message


def test_missing_grid_id():
    fc = make_fc()
    del feat(fc, "DL-02-01")["properties"]["grid_id"]
    vs = violations(fc)
    v = next(v for v in vs if v.rule == "bad_property")
    assert v.grid_id is None and "feature #5" in v.message and "grid_id" in v.message


def test_not_a_feature_collection():
    v = only(violations({"type": "Feature"}), "format")
    assert "FeatureCollection" in v.message


def test_all_violations_collected():
    fc = make_fc()
    feat(fc, "DL-01-01")["properties"]["households"] = -5
    feat(fc, "DL-02-02")["geometry"] = {"type": "Point", "coordinates": [X0, Y0]}
    fc["features"].append(copy.deepcopy(feat(fc, "DL-01-02")))
    vs = violations(fc)
    assert {(v.rule, v.grid_id) for v in vs} == {
        ("bad_property", "DL-01-01"), ("not_polygon", "DL-02-02"), ("duplicate_id", "DL-01-02")}


def test_error_report_is_numbered():
    fc = make_fc()
    feat(fc, "DL-01-01")["properties"]["households"] = -5
    feat(fc, "DL-02-01")["properties"]["households"] = -6
    with pytest.raises(GridValidationError) as info:
        parse_grid_geojson(fc)
    text = str(info.value)
    assert "2 problems" in text
    assert "1. [bad_property] DL-01-01" in text and "2. [bad_property] DL-02-01" in text
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------
# CRS


@pytest.mark.parametrize("name", [
    "urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326", "urn:ogc:def:crs:EPSG::4490"])
def test_crs_member_honoured(name):
    fc = make_fc()
    fc["crs"] = {"type": "name", "properties": {"name": name}}
    assert len(parse_grid_geojson(fc)) == 7


def test_crs_member_refused():
    fc = make_fc()
    fc["crs"] = {"type": "name", "properties": {"name": "EPSG:3857"}}
    v = only(violations(fc), "crs")
    assert v.grid_id is None and "EPSG:3857" in v.message


def test_malformed_crs_member_refused():
    fc = make_fc()
    fc["crs"] = {"type": "link", "properties": {"href": "http://example.com/crs"}}
    only(violations(fc), "crs")


def test_unknown_declared_crs_raises():
    with pytest.raises(ValueError, match="unknown CRS"):
        parse_grid_geojson(make_fc(), crs="EPSG:3857")
    assert normalize_crs("CGCS2000") == normalize_crs("EPSG:4490") == "wgs84"


def _metres(lon0, lat0, lon1, lat1) -> np.ndarray:
    a = shapely.get_coordinates(to_metric(shapely.points(np.c_[lon0, lat0])))
    b = shapely.get_coordinates(to_metric(shapely.points(np.c_[lon1, lat1])))
    return np.hypot(*(a - b).T)


def test_gcj02_known_point():
    # Published test vector (eviltransform): WGS-84 → GCJ-02 in Shanghai.
    wgs = (121.5272106, 31.1774276)
    gcj = (121.531541859215, 31.17530398364597)
    assert np.allclose(wgs84_to_gcj02(*wgs), gcj, atol=1e-9)
    assert _metres(*gcj02_to_wgs84(*gcj), *wgs).max() < 0.5
    bd = gcj02_to_bd09(*gcj)
    assert np.allclose(bd, (121.53801568643858, 31.181328606874466), atol=1e-9)
    assert _metres(*bd09_to_wgs84(*bd), *wgs).max() < 0.5


def test_gcj02_inverse_round_trip_near_dalu():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(111.0, 111.5, 1000), rng.uniform(39.9, 40.25, 1000)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.01


def shifted_fc(forward) -> dict:
    """The synthetic town as a Chinese web map would hold it.

    Edges are densified first, as a real digitised polygon would be: a
    straight WGS-84 edge is not straight in GCJ-02/BD-09.
    """
    fc = make_fc()
    for f in fc["features"]:
        dense = shapely.segmentize(shapely.geometry.shape(f["geometry"]), 0.001)
        f["geometry"] = mapping(shapely.transform(dense, lambda xy: np.c_[forward(xy[:, 0], xy[:, 1])]))
    return fc


def to_bd09(lon, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


@pytest.mark.parametrize("datum, forward", [("gcj02", wgs84_to_gcj02), ("bd09", to_bd09)])
def test_declared_datum_is_converted(datum, forward):
    shifted = shifted_fc(forward)
    gs = parse_grid_geojson(shifted, crs=datum)
    for f in make_fc()["features"]:
        original = to_metric(shapely.geometry.shape(f["geometry"]))
        got = to_metric(gs.geometry(f["properties"]["grid_id"]))
        assert shapely.hausdorff_distance(original, got) < 0.5
    # Undeclared, the shifted file validates but lies hundreds of metres off.
    off = to_metric(parse_grid_geojson(shifted).geometry("DL"))
    assert shapely.hausdorff_distance(off, to_metric(gs.geometry("DL"))) > 100


def test_long_edges_stay_straight_through_conversion():
    """The town's 2 km straight edge has no vertex where the villages meet.

    Read as BD-09, converting only its corners would bend it away from the
    villages' shared corner by metres and report a false gap; densifying
    before conversion keeps it within the tolerance.
    """
    town = cell(0, 0, 2, 2)
    corners_only = to_wgs84_geom(town, "bd09", max_segment_deg=10)
    village_corner = to_wgs84_geom(shapely.Point(X0 + DX, Y0 + 2 * DY), "bd09")
    sag = to_metric(corners_only.exterior).distance(to_metric(village_corner))
    assert sag > SLIVER_TOLERANCE_M  # the problem is real
    gs = parse_grid_geojson(make_fc(), crs="bd09")  # and handled
    assert len(gs) == 7


# ---------------------------------------------------------------------------
# locate / grids_within


@pytest.fixture(scope="module")
def gs() -> GridSet:
    return parse_grid_geojson(make_fc())


def test_locate_interior_border_outside(gs):
    lon = np.array([X0 + 0.5 * DX, X0 + 1.5 * DX, X0 + 0.5 * DX, X0 + 1.5 * DX,
                    X0 + DX, X0 + DX, X0 + 3 * DX, np.nan])
    lat = np.array([Y0 + 0.5 * DY, Y0 + 0.5 * DY, Y0 + 1.5 * DY, Y0 + 1.5 * DY,
                    Y0 + 0.5 * DY, Y0 + DY, Y0, Y0])
    got = gs.locate(lon, lat)
    assert got.dtype == object
    assert got.tolist() == [
        "DL-01-01", "DL-02-01", "DL-01-02", "DL-02-02",
        "DL-01-01",  # on the DL-01-01 | DL-02-01 border: first id
        "DL-01-01",  # the corner shared by all four grids: first id
        None, None,
    ]
    assert gs.locate_one(X0 + 1.5 * DX, Y0 + 1.5 * DY) == "DL-02-02"


def test_locate_border_point_goes_to_exactly_one_grid(gs):
    # Points along the internal border between DL-02-01 and DL-02-02.
    lon = X0 + np.linspace(1.1, 1.9, 9) * DX
    lat = np.full_like(lon, Y0 + DY)
    assert set(gs.locate(lon, lat)) == {"DL-02-01"}


def test_grids_within_matches_brute_force(gs):
    rng = np.random.default_rng(7)
    leaves = gs.ids(level=3)
    metric = {g: to_metric(gs.geometry(g)) for g in leaves}
    for _ in range(50):
        lon = X0 + rng.uniform(-1, 3) * DX
        lat = Y0 + rng.uniform(-1, 3) * DY
        radius = rng.uniform(0, 1500)
        point = to_metric(shapely.Point(lon, lat))
        expected = sorted(g for g in leaves if metric[g].distance(point) <= radius)
        assert gs.grids_within(lon, lat, radius) == expected
    with pytest.raises(ValueError):
        gs.grids_within(X0, Y0, -1)


# ---------------------------------------------------------------------------
# CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "township", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_valid(tmp_path):
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps(make_fc(), ensure_ascii=False), encoding="utf-8")
    r = run_cli("validate-grids", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("OK: 1 town, 2 villages/communities, 4 grids (1 village + 1 community")


def test_cli_gcj02(tmp_path):
    fc = shifted_fc(wgs84_to_gcj02)
    path = tmp_path / "amap.geojson"
    path.write_text(json.dumps(fc))
    assert run_cli("validate-grids", str(path), "--crs", "gcj02").returncode == 0


def test_cli_invalid(tmp_path):
    fc = make_fc()
    feat(fc, "DL-01-01")["geometry"] = mapping(box(X0, Y0, X0 + DX, Y0 + DY + 30 / M_LAT))
    feat(fc, "DL-02-01")["properties"]["kind"] = "hamlet"
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(fc))
    r = run_cli("validate-grids", str(path))
    assert r.returncode == 1
    assert "2 problems" in r.stdout
    assert "1. [bad_property] DL-02-01" in r.stdout
    assert "2. [sibling_overlap] DL-01-01 and DL-01-02" in r.stdout


def test_cli_missing_file(tmp_path):
    r = run_cli("validate-grids", str(tmp_path / "nope.geojson"))
    assert r.returncode == 2
    assert "no such file" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_not_json(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", ')
    r = run_cli("validate-grids", str(path))
    assert r.returncode == 2
    assert "not valid JSON" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_usage_error():
    r = run_cli("validate-grids")
    assert r.returncode == 2 and "Traceback" not in r.stderr


# ---------------------------------------------------------------------------
# the bundled Dalu file


def test_bundled_dalu_grids():
    assert BUNDLED.exists(), f"{BUNDLED} is missing"
    gs = load_grid_file(BUNDLED)
    assert [len(gs.ids(level=n)) for n in (1, 2, 3)] == [1, 15, 146]
    assert sum(gs.props(g).get("party_members") or 0 for g in gs.ids(level=3)) == 602
    kinds = [gs.props(g)["kind"] for g in gs.ids(level=2)]
    assert kinds.count("village") == 12 and kinds.count("community") == 3
    # Every grid's centre-ish point is located in that grid.
    pts = [gs.geometry(g).point_on_surface() for g in gs.ids(level=3)]
    got = gs.locate(np.array([p.x for p in pts]), np.array([p.y for p in pts]))
    assert got.tolist() == gs.ids(level=3)


def test_a_big_batch_is_located_as_point_by_point():
    # Batches from CELL_INDEX_FROM points on go through the lattice of cells; it must
    # give exactly the polygon test's answers, on borders, corners and outside too.
    gs = load_grid_file(BUNDLED)
    rng = np.random.default_rng(11)
    minx, miny, maxx, maxy = gs.bounds()
    border_xy = shapely.get_coordinates(
        shapely.segmentize(shapely.boundary(np.array([gs.geometry(g) for g in gs.ids(level=3)])), 0.002))
    lon = np.concatenate([rng.uniform(minx - 0.01, maxx + 0.01, 20_000), border_xy[:, 0], [np.nan, minx, maxx]])
    lat = np.concatenate([rng.uniform(miny - 0.01, maxy + 0.01, 20_000), border_xy[:, 1], [miny, np.nan, maxy]])
    assert lon.size >= 2 * CELL_INDEX_FROM
    batch = gs.locate(lon, lat)
    small = CELL_INDEX_FROM - 1
    one_by_one = np.concatenate([gs.locate(lon[i:i + small], lat[i:i + small]) for i in range(0, lon.size, small)])
    assert batch.tolist() == one_by_one.tolist()
    # The points cover the town, its borders and beyond: all three kinds of answer occur.
    located = [g for g in batch if g is not None]
    assert len(set(located)) == 146 and None in batch.tolist()
