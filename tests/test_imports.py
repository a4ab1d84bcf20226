"""File import of cases and warnings: real files, a real store (SQLite or PostgreSQL), a real killed process."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import text

import township.formats.imports as imports
from township.config import Settings
from township.formats.imports import import_data, import_file
from township.formats.ingest import MAX_BATCH
from township.formats.tables import UnreadableFile, read_case_table
from township.grids.crs import wgs84_to_gcj02
from township.runtime import cli
from township.runtime.bootstrap import open_township

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
pytestmark = pytest.mark.store


def _plain(value):
    """A stored time as SQLite keeps it as text, so that checks read the same on both stores."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


class Store:
    """A fresh township store (a URL of the `stores` fixture), as the app opens it, without demo data."""

    def __init__(self, url: str) -> None:
        self.url = url
        ctx = open_township(Settings(database_url=self.url, seed_demo=False))
        self.engine = ctx.township.engine
        self.gridset = ctx.township.gridset

    def query(self, sql: str, **args) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(_plain(v) for v in row) for row in conn.execute(text(sql), args)]

    def count(self, table: str = "cases") -> int:
        return self.query(f"select count(*) from {table}")[0][0]

    def version(self) -> int:
        return int(self.query("select value from meta where key='data_version'")[0][0])

    def cases(self) -> dict[str, dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("select * from cases")).mappings()
            return {r["external_id"]: {k: _plain(v) for k, v in r.items()} for r in rows}


@pytest.fixture
def store(store_url) -> Store:
    s = Store(store_url)
    yield s
    s.engine.dispose()


def _points(gridset) -> list[tuple[float, float, str]]:
    """One point well inside each level-3 grid, with that grid's id."""
    out = []
    for gid in gridset.ids(level=3):
        p = gridset.geometry(gid).representative_point()
        out.append((round(p.x, 6), round(p.y, 6), gid))
    return out


def _big_csv(path: Path, gridset, n: int) -> Path:
    pts = _points(gridset)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["工单编号", "事件类型", "所属领域", "诉求内容", "经度", "纬度", "受理时间"])
        for i in range(n):
            x, y, _ = pts[i % len(pts)]
            w.writerow([f"BIG{i:05d}", "市长热线工单", "民生实事", f"第{i}号工单", x, y, "2026-11-20 09:30"])
    return path


def _xlsx(rows: list[list], title: str | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- each format imports --------------------------------------------------------------


def test_gbk_hotline_export_imports_with_labels_mapped_and_grids_assigned(store):
    report = import_file(store.engine, store.gridset, DATA / "hotline_gbk.csv", default_source="hotline")
    assert (report.rows, report.created, report.updated, report.rejected) == (6, 6, 0, 0), report.lines()
    assert report.ok and report.encoding == "gb18030"
    assert report.ignored_columns == ["序号", "所属村"]

    cases = store.cases()
    first = cases["RX20261120001"]
    assert (first["source"], first["type"], first["domain"], first["status"], first["tier"]) == (
        "hotline", "dispute", "governance", "reported", "grid")
    assert (first["grid_id"], first["village_id"]) == ("DL-01-03", "DL-01")
    assert (first["reporter"], first["reporter_phone"], first["handler"]) == ("王建国", "13847700001", "李桂兰")
    # Beijing 09:30 is 01:30 UTC; the store keeps naive UTC.
    assert first["reported_at"].startswith("2026-11-20 01:30:00")
    assert first["deadline_at"].startswith("2026-11-23 01:30:00")
    second = cases["RX20261120002"]  # 2026/11/20 10:05, 村/社区, 办理时限 "3天"
    assert (second["type"], second["tier"], second["status"]) == ("hotline", "village", "dispatched")
    assert second["reported_at"].startswith("2026-11-20 02:05:00")
    assert second["deadline_at"].startswith("2026-11-23 02:05:00")
    assert second["reporter_phone"] == "0477-8123456"
    # a deadline given as a date leaves the whole day (Beijing) for the work
    assert cases["RX20261121001"]["deadline_at"].startswith("2026-11-24 15:59:59")
    fifth = cases["RX20261121002"]  # 2026年11月21日 16:20, 镇, 平安预警, 隐患
    assert (fifth["type"], fifth["domain"], fifth["tier"], fifth["status"]) == (
        "hazard", "safety", "township", "accepted")
    assert fifth["reported_at"].startswith("2026-11-21 08:20:00")
    assert cases["RX20261122001"]["status"] == "closed"
    for c in cases.values():  # every case sits in the grid that contains its point
        assert c["grid_id"] == store.gridset.locate_one(c["lon"], c["lat"])
    events = store.query("select actor, action, count(*) from case_events group by 1, 2")
    assert events == [("import", "report", 6)]


def test_xlsx_with_title_row_excel_dates_and_numeric_phones(store):
    data = _xlsx([
        ["编号", "来源", "类型", "领域", "标题", "经度", "纬度", "上报时间", "联系电话", "状态"],
        ["WG-01", "网格员巡查", "矛盾纠纷", "综治", "宅基地纠纷", 111.09835, 40.20223,
         datetime(2026, 11, 20, 9, 30), 13847700001, "办结"],
        ["WG-02", "patrol", "hazard", "construction", "危房", 111.2675, 40.01302,
         datetime(2026, 11, 21, 8, 0), None, "已上报"],
        [None] * 10,
        ["WG-03", "巡查", "隐患", "环保", "秸秆焚烧", 111.20334, 40.01981, "2026-11-22 07:15", None, None],
    ], title="大路镇网格员巡查台账（2026年11月）")

    report = import_data(store.engine, store.gridset, data, "巡查台账.xlsx", mode="good")
    assert (report.rows, report.created, report.rejected) == (3, 2, 1)
    # the title is row 1, the header row 2: data starts at row 3; the blank row 5 is skipped, not renumbered
    assert [(e.row, e.column) for e in report.errors] == [(6, "领域")]
    assert "'环保' is not a known domain" in report.errors[0].reason and "综治 (governance)" in report.errors[0].reason
    assert str(report.errors[0]).startswith("第6行 列「领域」:")

    cases = store.cases()
    assert (cases["WG-01"]["source"], cases["WG-01"]["status"]) == ("patrol", "resolved")
    assert cases["WG-01"]["reporter_phone"] == "13847700001"  # a number cell, not 1.38e10
    assert cases["WG-01"]["reported_at"].startswith("2026-11-20 01:30:00")
    assert cases["WG-02"]["grid_id"] == "DL-10-04"


def test_warning_sheet_levels_units_and_labels(store):
    text = ("预警编号,发布单位,预警类型,预警级别,标题,经度,纬度,影响半径（公里）,发布时间,状态\n"
            "Q1,旗应急管理局,凌汛,红色预警,凌汛红色预警,111.4009,39.97162,3,2026-11-22 07:00,生效\n"
            "Q2,旗应急管理局,地质灾害,Ⅱ级,崩塌橙色预警,111.16393,40.1814,1.5,2026-11-22 08:00,已确认\n"
            "Q3,旗气象台,大风,黄色,大风黄色预警,111.2675,40.01302,20,2026-11-22 09:00,处置中\n"
            "Q4,旗气象台,道路结冰,蓝,道路结冰蓝色预警,111.3229,40.14399,0.5,2026-11-22 10:00,解除\n")
    report = import_data(store.engine, store.gridset, text.encode("gbk"), "预警.csv", kind="warnings")
    assert report.ok and report.created == 4, report.lines()
    rows = store.query("select external_id, type, level, status, radius_m, issued_at from warnings order by 1")
    assert rows == [
        ("Q1", "ice_flood", 1, "active", 3000.0, "2026-11-21 23:00:00.000000"),
        ("Q2", "geological", 2, "acknowledged", 1500.0, "2026-11-22 00:00:00.000000"),
        ("Q3", "gale", 3, "handling", 20000.0, "2026-11-22 01:00:00.000000"),
        ("Q4", "road_icing", 4, "cleared", 500.0, "2026-11-22 02:00:00.000000"),
    ]


def test_geojson_cases(store):
    report = import_file(store.engine, store.gridset, DATA / "cases.geojson")
    assert (report.rows, report.created, report.rejected) == (4, 4, 0), report.lines()
    cases = store.cases()
    meeting = cases["GZ-2026-0313"]  # labels in properties: 村民说事, 农业, 已接单, 网格
    assert (meeting["type"], meeting["domain"], meeting["status"], meeting["tier"]) == (
        "proposal", "agriculture", "accepted", "grid")
    assert meeting["grid_id"] == "DL-08-01"
    assert cases["GZ-2026-0311"]["reported_at"].startswith("2026-11-20 00:10:00")  # +08:00 kept
    assert cases["GZ-2026-0314"]["deadline_at"].startswith("2026-11-28 02:30:00")  # Z kept
    assert {c["grid_id"] for c in cases.values()} == {"DL-13-05", "DL-14-03", "DL-08-01", "DL-11-02"}


def test_geojson_warnings_reach_their_grids(store):
    report = import_file(store.engine, store.gridset, DATA / "warnings.geojson", kind="warnings")
    assert (report.rows, report.created, report.rejected) == (3, 3, 0), report.lines()
    rows = store.query("select id, external_id, type, level, lon, lat, radius_m, grid_id from warnings order by 2")
    assert [r[1:4] for r in rows] == [("YJ-2026-031", "ice_flood", 2), ("YJ-2026-032", "chemical_leak", 1),
                                      ("YJ-2026-033", "sandstorm", 4)]
    for wid, _, _, _, lon, lat, radius, grid in rows:
        assert grid == store.gridset.locate_one(lon, lat)
        reached = [g for (g,) in store.query("select grid_id from warning_grids where warning_id=:w order by 1", w=wid)]
        assert reached == store.gridset.grids_within(lon, lat, radius) and grid in reached


def test_declared_gcj02_coordinates_are_converted(store, tmp_path):
    data = json.loads((DATA / "cases.geojson").read_text(encoding="utf-8"))
    original = {}
    for f in data["features"]:
        lon, lat = f["geometry"]["coordinates"]
        original[f["properties"]["external_id"]] = (lon, lat)
        glon, glat = wgs84_to_gcj02(lon, lat)
        f["geometry"]["coordinates"] = [float(glon), float(glat)]
    path = tmp_path / "amap.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    report = import_file(store.engine, store.gridset, path, crs="gcj02")
    assert report.ok and report.created == 4
    for ext, c in store.cases().items():
        assert c["lon"] == pytest.approx(original[ext][0], abs=1e-7)
        assert c["lat"] == pytest.approx(original[ext][1], abs=1e-7)
        assert c["grid_id"] == store.gridset.locate_one(*original[ext])


# -- idempotence ----------------------------------------------------------------------


def test_reimport_updates_instead_of_duplicating(store, tmp_path):
    for _ in range(2):
        import_file(store.engine, store.gridset, DATA / "cases.geojson")
    again = import_file(store.engine, store.gridset, DATA / "hotline_gbk.csv", default_source="hotline")
    assert again.created == 6
    again = import_file(store.engine, store.gridset, DATA / "hotline_gbk.csv", default_source="hotline")
    assert (again.created, again.updated) == (0, 6)
    assert store.count() == 10
    assert import_file(store.engine, store.gridset, DATA / "warnings.geojson", kind="warnings").created == 3
    assert import_file(store.engine, store.gridset, DATA / "warnings.geojson", kind="warnings").updated == 3
    assert store.count("warnings") == 3

    # the hotline re-sends a ticket with its new status: the status moves only through the workflow
    text = (DATA / "hotline_gbk.csv").read_bytes().decode("gb18030").replace(",已上报,", ",已办结,")
    path = tmp_path / "hotline_again.csv"
    path.write_bytes(text.encode("gbk"))
    report = import_file(store.engine, store.gridset, path, default_source="热线")
    assert (report.created, report.updated) == (0, 6)
    assert store.cases()["RX20261120001"]["status"] == "reported"
    assert store.query("select from_status, to_status from case_events where action='update'") == []
    assert store.count() == 10


def test_a_ticket_twice_in_one_file_is_created_then_updated(store, tmp_path):
    """New rows go in by bulk insert: a stored ticket, a new one, and one sent twice in the file keep their order."""
    (x1, y1, g1), (x2, y2, g2) = _points(store.gridset)[:2]
    header = ["工单编号", "事件类型", "所属领域", "诉求内容", "经度", "纬度", "办理状态"]
    first = tmp_path / "first.csv"
    first.write_text(",".join(header) + f"\nT-OLD,市长热线工单,民生实事,已有工单,{x1},{y1},已上报\n", encoding="utf-8")
    assert import_file(store.engine, store.gridset, first, default_source="hotline").created == 1
    batch = tmp_path / "batch.csv"
    batch.write_text(",".join(header) + "\n" + "\n".join([
        f"T-NEW,市长热线工单,民生实事,新工单,{x2},{y2},已上报",
        f"T-OLD,市长热线工单,民生实事,已有工单再报,{x1},{y1},已派单",
        f"T-TWICE,矛盾纠纷,综治,第一次,{x1},{y1},已上报",
        f"T-TWICE,矛盾纠纷,综治,第二次,{x2},{y2},已办结",
    ]) + "\n", encoding="utf-8")
    report = import_file(store.engine, store.gridset, batch, default_source="hotline")
    assert (report.created, report.updated) == (2, 2)
    cases = store.cases()
    assert store.count() == 3
    assert (cases["T-NEW"]["title"], cases["T-NEW"]["grid_id"]) == ("新工单", g2)
    assert (cases["T-OLD"]["title"], cases["T-OLD"]["status"]) == ("已有工单再报", "reported")
    assert (cases["T-TWICE"]["title"], cases["T-TWICE"]["status"], cases["T-TWICE"]["grid_id"]) == (
        "第二次", "reported", g2)
    # every case has its report event, and the two updates theirs
    events = store.query("select c.external_id, e.action, e.to_status from case_events e "
                         "join cases c on c.id = e.case_id order by e.id")
    assert sorted(events) == sorted([("T-OLD", "report", "reported"), ("T-NEW", "report", "reported"),
                                     ("T-TWICE", "report", "reported"), ("T-OLD", "update", "reported"),
                                     ("T-TWICE", "update", "reported")])


# -- bad rows ----------------------------------------------------------------------------

BAD_ROWS = {  # patrol_bad_rows.csv: (row, column) → a word the reason must contain
    (3, "类型"): "'其他' is not a known type",
    (4, "经度,纬度"): "outside the town",
    (5, "上报时间"): "not a date and time",
    (5, "事项"): "required",
    (7, "经度"): "number",
}


def test_mode_all_stores_nothing_and_reports_every_bad_row(store):
    import_file(store.engine, store.gridset, DATA / "cases.geojson")
    before, version = store.cases(), store.version()

    report = import_file(store.engine, store.gridset, DATA / "patrol_bad_rows.csv", mode="all")
    assert (report.rows, report.created, report.updated, report.rejected) == (6, 0, 0, 4)
    assert report.encoding == "utf-8-sig"
    assert {(e.row, e.column) for e in report.errors} == set(BAD_ROWS)
    for e in report.errors:
        assert BAD_ROWS[(e.row, e.column)] in e.reason
    assert store.cases() == before and store.version() == version  # nothing written, not even a version bump
    assert "未写入任何数据" in report.summary()


def test_mode_good_stores_the_good_rows(store):
    report = import_file(store.engine, store.gridset, DATA / "patrol_bad_rows.csv", mode="good")
    assert (report.rows, report.created, report.rejected) == (6, 2, 4)
    assert {(e.row, e.column) for e in report.errors} == set(BAD_ROWS)
    cases = store.cases()
    assert set(cases) == {"XC-001", "XC-005"}
    assert (cases["XC-001"]["source"], cases["XC-001"]["grid_id"]) == ("patrol", "DL-07-04")


# -- broken files ------------------------------------------------------------------------


def _truncated_xlsx() -> bytes:
    data = _xlsx([["编号", "类型", "领域", "标题", "经度", "纬度"],
                  ["T1", "隐患", "城建", "危房", 111.2675, 40.01302]])
    return data[: len(data) // 2]


def _geojson(features: list, **extra) -> bytes:
    return json.dumps({"type": "FeatureCollection", **extra, "features": features}).encode()


_CASE_PROPS = {"source": "patrol", "type": "hazard", "domain": "construction", "title": "危房"}
_POINT = {"type": "Point", "coordinates": [111.2675, 40.01302]}
_SQUARE = {"type": "Polygon", "coordinates": [[[111.26, 40.01], [111.27, 40.01], [111.27, 40.02], [111.26, 40.01]]]}

UNREADABLE = {
    "truncated xlsx": ("台账.xlsx", _truncated_xlsx(), "not a readable .xlsx workbook"),
    "binary junk as csv": ("export.csv", bytes(range(256)) * 64, "not a text CSV file"),
    "legacy xls": ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "save the sheet as .xlsx or CSV"),
    "not json": ("cases.geojson", b'{"type": "FeatureCollection", "features": [', "not UTF-8 JSON"),
    "a feature, not a collection": ("one.geojson", json.dumps({"type": "Feature"}).encode(),
                                    "expected a GeoJSON FeatureCollection"),
}


@pytest.mark.parametrize("name", UNREADABLE)
def test_unreadable_files_raise_and_store_nothing(store, name):
    filename, data, message = UNREADABLE[name]
    version = store.version()
    with pytest.raises(UnreadableFile, match=message):
        import_data(store.engine, store.gridset, data, filename)
    assert store.count() == 0 and store.version() == version


RULE_BREAKING = {
    "csv without required columns": (
        "list.csv", "编号,标题,备注\nA1,路灯不亮,无\n".encode("gbk"), "cases",
        {(None, "事件类型 (type)"), (None, "所属领域 (domain)"), (None, "经度 (lon)"), (None, "纬度 (lat)")},
        "required column is missing"),
    "csv without a header row": (
        "list.csv", b"a,b,c\n1,2,3\n", "cases", {(None, "(header)")}, "no header row found"),
    "no source column and no --source": (
        "list.csv", "类型,领域,标题,经度,纬度\n隐患,城建,危房,111.2675,40.01302\n".encode(), "cases",
        {(None, "来源 (source)")}, "give the source of the whole file"),
    "geojson with polygon geometry": (
        "cases.geojson", _geojson([{"type": "Feature", "properties": _CASE_PROPS, "geometry": _POINT},
                                   {"type": "Feature", "properties": _CASE_PROPS, "geometry": _SQUARE}]),
        "cases", {(2, "geometry")}, 'expected a Point geometry with [lon, lat], found "Polygon"'),
    "geojson in web mercator": (
        "cases.geojson", _geojson([{"type": "Feature", "properties": _CASE_PROPS, "geometry": _POINT}],
                                  crs={"type": "name", "properties": {"name": "EPSG:3857"}}),
        "cases", {(None, "crs")}, "EPSG:3857"),
    "radius in an unknown unit": (
        "w.csv", "类型,级别,标题,经度,纬度,半径(英里),来源\n大风,蓝色,大风,111.2675,40.01302,3,气象台\n".encode(),
        "warnings", {(None, "半径(英里)")}, "unknown unit"),
    "empty sheet": ("list.csv", "编号,类型,领域,标题,经度,纬度\n".encode(), "cases", {(None, "(file)")},
                    "no data rows"),
}


@pytest.mark.parametrize("name", RULE_BREAKING)
def test_files_breaking_rules_are_reported_and_store_nothing(store, name):
    filename, data, kind, where, message = RULE_BREAKING[name]
    version = store.version()
    whole_file = all(row is None for row, _ in where)
    for mode in ("all", "good") if whole_file else ("all",):  # mode good would store the good rows
        report = import_data(store.engine, store.gridset, data, filename, kind=kind, mode=mode)
        assert {(e.row, e.column) for e in report.errors} == where, report.lines()
        assert all(message in e.reason for e in report.errors), report.lines()
        assert report.stored == 0 and not report.ok
        assert store.count() == 0 and store.count("warnings") == 0 and store.version() == version


# -- large files: progress and one transaction ----------------------------------------------


def test_large_file_is_one_transaction_with_progress(store, tmp_path, monkeypatch):
    n = MAX_BATCH + 1000  # more than one batch, so several write calls
    path = _big_csv(tmp_path / "big.csv", store.gridset, n)

    calls = []
    real = imports.write_cases

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 11:  # 5000 rows already written inside the transaction
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(imports, "write_cases", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_file(store.engine, store.gridset, path, default_source="hotline")
    assert store.count() == 0 and store.count("case_events") == 0
    monkeypatch.undo()

    seen: list[tuple[int, int]] = []
    report = import_file(store.engine, store.gridset, path, default_source="hotline",
                         progress=lambda done, total: seen.append((done, total)))
    assert report.created == n and store.count() == n
    assert {t for _, t in seen} == {2 * n}
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and dones[-1] == 2 * n and len(dones) > 20
    grids = dict(store.query("select external_id, grid_id from cases"))
    pts = _points(store.gridset)
    assert all(grids[f"BIG{i:05d}"] == pts[i % len(pts)][2] for i in range(0, n, 97))


def test_killed_import_leaves_all_or_nothing(tmp_path, store_url):
    env = {**os.environ, "DATABASE_URL": store_url, "PYTHONUNBUFFERED": "1"}
    store = Store(store_url)
    n = 20_000
    path = _big_csv(tmp_path / "big.csv", store.gridset, n)
    store.engine.dispose()

    proc = subprocess.Popen([sys.executable, "-m", "township", "import", str(path), "--source", "hotline"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Validation is the first half of the progress; past 55 % rows are being
    # written inside the open transaction.
    deadline = time.monotonic() + 120
    seen = []
    for line in proc.stderr:
        seen.append(line.strip())
        if line.startswith("导入进度") and int(line.split()[1].rstrip("%")) >= 55:
            break
        assert time.monotonic() < deadline, seen
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, seen

    if store.engine.dialect.name == "sqlite":
        assert store.query("pragma integrity_check") == [("ok",)]
    stored, events = store.count(), store.count("case_events")
    assert (stored, events) in ((0, 0), (n, n))
    # and the store takes the next import as usual
    done = subprocess.run([sys.executable, "-m", "township", "import", str(DATA / "cases.geojson")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# -- command line ---------------------------------------------------------------------------


def test_cli_reports_and_exit_codes(tmp_path, monkeypatch, capsys, store_url):
    monkeypatch.setenv("DATABASE_URL", store_url)
    monkeypatch.delenv("GRIDS_FILE", raising=False)

    assert cli.main(["import", str(DATA / "hotline_gbk.csv"), "--source", "hotline"]) == 0
    out = capsys.readouterr()
    assert "6 行事件，新增 6，更新 0，拒绝 0" in out.out and "导入进度 100%" in out.err

    assert cli.main(["import", str(DATA / "patrol_bad_rows.csv")]) == 1
    out = capsys.readouterr().out
    assert "拒绝 4；未写入任何数据" in out
    assert "第3行 列「类型」: '其他' is not a known type" in out
    assert "第4行 列「经度,纬度」: (111.900000, 40.500000) is outside the town" in out

    assert cli.main(["import", str(DATA / "patrol_bad_rows.csv"), "--mode", "good"]) == 1
    assert "新增 2" in capsys.readouterr().out

    assert cli.main(["import", str(DATA / "warnings.geojson"), "--kind", "warnings"]) == 0
    assert "3 行预警，新增 3" in capsys.readouterr().out

    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 8)
    assert cli.main(["import", str(junk)]) == 2
    assert "not a text CSV file" in capsys.readouterr().err
    assert cli.main(["import", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err

    store = Store(store_url)
    assert store.count() == 8 and store.count("warnings") == 3
    store.engine.dispose()


def test_reader_alone_returns_rows_numbered_as_the_sheet(tmp_path):
    table = read_case_table(DATA / "patrol_bad_rows.csv")
    assert [r.number for r in table.rows] == [2, 3, 4, 5, 6, 7]
    assert table.rows[0].values["source"] == "patrol" and table.rows[0].values["type"] == "hazard"
    assert table.columns["title"] == "事项" and table.unit == "row"


@pytest.mark.parametrize("encoding, delimiter, expected", [
    ("gbk", ",", "gb18030"),
    ("gb18030", ";", "gb18030"),
    ("utf-8", ",", "utf-8"),
    ("utf-8-sig", ",", "utf-8-sig"),
    ("utf-16", "\t", "utf-16"),  # Excel's "Unicode text" export: UTF-16 with BOM, tab-separated
])
def test_encodings_and_delimiters_give_the_same_rows(encoding, delimiter, expected):
    text = (DATA / "hotline_gbk.csv").read_bytes().decode("gb18030")
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    table = read_case_table(out.getvalue().encode(encoding), "export.csv")
    reference = read_case_table(DATA / "hotline_gbk.csv")
    assert table.encoding == expected
    assert [(r.number, r.values, r.problems) for r in table.rows] == [
        (r.number, r.values, r.problems) for r in reference.rows]


def test_rows_without_an_id_are_flagged_because_they_cannot_be_deduplicated(store):
    data = "来源,类型,领域,标题,经度,纬度\n巡查,隐患,城建,危房,111.2675,40.01302\n".encode()
    for n in (1, 2):
        report = import_data(store.engine, store.gridset, data, "no_id.csv")
        assert report.created == 1 and report.without_id == 1
        assert "1 行没有编号（external_id）：再次导入会重复新增" in report.lines()
        assert store.count() == n
