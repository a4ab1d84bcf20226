"""The admin part of issue 16: rosters into the handlers, grid versions (diff, apply, restore), the admin page.

Real files, a real store (SQLite, or PostgreSQL under ``make test``), a real
server and a real Chromium for the page. Expected values come from SQL and
from shapely/pyproj computed here, not from the code under test.
"""
from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from conftest import LiveServer
from openpyxl import Workbook
from shapely.geometry import box, mapping, shape
from sqlalchemy import text

from township.accounts.users import check_password
from township.config import Settings
from township.formats.roster import import_staff
from township.grids.compare import check_grid_file, diff_gridsets
from township.grids.validate import parse_grid_geojson
from township.loop.gridversions import apply_version, keep_version, list_versions
from township.runtime.bootstrap import open_township
from township.store.engine import make_engine

ROOT = Path(__file__).resolve().parent.parent
GRIDS = ROOT / "geodata" / "dalu_grids.geojson"
#: Two sibling grids of a community: a piece of the second moves to the first in the "fixed" file.
A, B = "DL-13-02", "DL-13-03"
#: Areas measured here (pyproj, no densifying) and by the code (densified edges) agree within this share.
AREA_TOL = 1e-3
HEADER = "姓名,类别,网格编码,所属村/社区,联系电话,党员中心户,服务领域\n"


def sql(engine, query: str, **args) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query), args)]


def one(engine, query: str, **args):
    return sql(engine, query, **args)[0][0]


def source() -> dict:
    return json.loads(GRIDS.read_text(encoding="utf-8"))


def features(fc: dict) -> dict[str, dict]:
    return {f["properties"]["grid_id"]: f for f in fc["features"]}


def with_overlap() -> dict:
    """The bundled grids with grid A shifted east into its sibling B (an overlap, a gap, a part outside)."""
    fc = source()
    f = features(fc)[A]
    f["geometry"] = mapping(shapely.affinity.translate(shape(f["geometry"]), xoff=0.0015))
    return fc


def with_piece_moved() -> dict:
    """The bundled grids with the western half of B given to A: a valid file, A and B reshaped, B renamed."""
    fc = source()
    fa, fb = features(fc)[A], features(fc)[B]
    a, b = shape(fa["geometry"]), shape(fb["geometry"])
    x0, y0, x1, y1 = b.bounds
    piece = b.intersection(box(x0, y0, (x0 + x1) / 2, y1))
    fa["geometry"], fb["geometry"] = mapping(a.union(piece)), mapping(b.difference(piece))
    fb["properties"]["name"] = fb["properties"]["name"] + "（调整）"
    return fc


def upload(fc: dict) -> bytes:
    return json.dumps(fc, ensure_ascii=False).encode()


_TO_METRIC = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)


def metric_area(geom) -> float:
    """Area in m² in EPSG:4546, by pyproj here (the code under test densifies edges first)."""
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_METRIC.transform(xy[:, 0], xy[:, 1]))).area


def leaf_of(fc: dict):
    """Point → level-3 grid of ``fc`` by shapely alone (``None`` outside, or on a border shared by two)."""
    leaves = [(f["properties"]["grid_id"], shape(f["geometry"])) for f in fc["features"]
              if f["properties"]["level"] == 3]
    tree = shapely.STRtree([g for _, g in leaves])

    def find(lon: float, lat: float) -> str | None:
        p = shapely.Point(lon, lat)
        hits = [leaves[i][0] for i in tree.query(p, predicate="covered_by")]
        return hits[0] if len(hits) == 1 else None

    return find


# -- rosters -------------------------------------------------------------------------------------------------


@pytest.fixture
def bare(store_url):
    """A store opened as the app does, with the bundled grids and handlers but no demo cases."""
    ctx = open_township(Settings(database_url=store_url, seed_demo=False))
    yield ctx.township
    ctx.township.engine.dispose()


@pytest.mark.store
def test_roster_rows_are_stored_as_handlers(bare):
    engine = bare.engine
    before = one(engine, "select count(*) from handlers")
    csv = (HEADER
           + "王建国,网格员,DL-01-01,小滩子村,139 0477 1234,否,\n"
           + "李秀英,党员,DL-01-02,DL-01,+86 139-0477-1235,是,民生实事、平安预警\n"
           + "城关法律服务所,法律顾问,,小滩子村,0477-5123456,,综治\n")
    report = import_staff(engine, bare.gridset, csv.encode("gb18030"), "roster.csv")
    assert report.ok and report.created == 3, report.lines()
    assert report.encoding == "gb18030"
    assert one(engine, "select count(*) from handlers") == before + 3
    rows = {r[0]: r[1:] for r in sql(engine, "select phone, kind, name, grid_id, village_id, central_household, "
                                             "domains from handlers where phone in ('13904771234', '13904771235', "
                                             "'04775123456')")}
    assert rows["13904771234"] == ("officer", "王建国", "DL-01-01", "DL-01", 0, "") or \
        rows["13904771234"] == ("officer", "王建国", "DL-01-01", "DL-01", False, "")
    assert rows["13904771235"][0] == "party_member" and bool(rows["13904771235"][4]) is True
    assert rows["13904771235"][5] == "livelihood,safety"
    assert rows["04775123456"][:4] == ("legal_adviser", "城关法律服务所", None, "DL-01")

    # The same sheet again, as a workbook: the same people, updated, none added.
    book = Workbook()
    sheet = book.active
    for line in csv.splitlines():
        sheet.append(line.split(","))
    data = io.BytesIO()
    book.save(data)
    again = import_staff(engine, bare.gridset, data.getvalue(), "roster.xlsx")
    assert (again.created, again.updated, again.rejected) == (0, 3, 0), again.lines()
    assert one(engine, "select count(*) from handlers") == before + 3


@pytest.mark.store
def test_a_bad_phone_is_named_by_row_and_a_bad_file_changes_nothing(bare):
    engine = bare.engine
    before = sql(engine, "select count(*), (select count(*) from users) from handlers")
    csv = (HEADER + "王建国,网格员,DL-01-01,,13904771234,否,\n"
           + "张三,党员,DL-01-02,,1390477,否,\n"
           + "李四,党员,DL-99-99,,13904771299,否,\n"
           + "赵五,网格长,DL-01-03,,13904771298,否,\n")
    report = import_staff(engine, bare.gridset, csv.encode(), "bad.csv", accounts=True)
    lines = "\n".join(report.lines())
    assert "第3行 列「联系电话」" in lines and "'1390477' is not a phone number" in lines, lines
    assert "第4行 列「网格编码」" in lines and "DL-99-99" in lines, lines
    assert "第5行 列「类别」" in lines, lines
    assert report.created == 0 and report.rejected == 3
    # One transaction: the good first row was not stored either, nor any sign-in.
    assert sql(engine, "select count(*), (select count(*) from users) from handlers") == before
    # Mode "good" stores the good row and reports the rest.
    good = import_staff(engine, bare.gridset, csv.encode(), "bad.csv", mode="good")
    assert (good.created, good.rejected) == (1, 3)
    assert one(engine, "select count(*) from handlers") == before[0][0] + 1


@pytest.mark.store
def test_duplicate_phones_in_the_file_and_in_the_store(bare):
    engine = bare.engine
    stored_phone, stored_name = sql(engine, "select phone, name from handlers where kind = 'officer' "
                                            "order by handler_id limit 1")[0]
    before = one(engine, "select count(*) from handlers")
    csv = (HEADER + "王建国,网格员,DL-01-01,,13904771234,否,\n"
           + "王建业,党员,DL-01-02,,139-0477-1234,否,\n"
           + f"另一个人,党员,DL-01-02,,{stored_phone},否,\n")
    report = import_staff(engine, bare.gridset, csv.encode(), "dup.csv")
    lines = "\n".join(report.lines())
    assert "第3行 列「联系电话」: 13904771234 is already the phone of row 2" in lines, lines
    assert f"第4行 列「联系电话」: {stored_phone} is already the phone of {stored_name}" in lines, lines
    assert one(engine, "select count(*) from handlers") == before
    # The stored person under their own name: an update, not a second handler.
    same = import_staff(engine, bare.gridset, (HEADER + f"{stored_name},网格员,DL-01-01,,{stored_phone},否,\n")
                        .encode(), "same.csv")
    assert (same.created, same.updated) == (0, 1), same.lines()
    assert one(engine, "select count(*) from handlers where phone = :p", p=stored_phone) == 1


@pytest.mark.store
def test_accounts_from_the_command_line(bare, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + "王建国,网格员,DL-01-01,,13904771234,否,\n李秀英,党员,DL-01-02,,13904771235,是,\n"
                    + "红色志愿服务队,志愿服务队,DL-01-02,,13904771236,,民生\n", encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": bare.engine.url.render_as_string(hide_password=False),
           "DEMO_FEED": "0", "SEED_DEMO": "0"}
    done = subprocess.run([sys.executable, "-m", "township", "import-staff", str(path), "--accounts"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    users = sql(bare.engine, "select u.username, u.role, h.phone, h.kind from users u join handlers h "
                             "on h.handler_id = u.handler_id order by u.username")
    # People get a sign-in as responders acting as their handler; a team does not.
    assert users == [("13904771234", "responder", "13904771234", "officer"),
                     ("13904771235", "responder", "13904771235", "party_member")]
    printed = {line.split()[0]: line.split()[-1] for line in done.stdout.splitlines() if line.startswith("  139")}
    assert check_password(bare.engine, "13904771234", printed["13904771234"]) is not None
    assert check_password(bare.engine, "13904771235", printed["13904771234"]) is None
    path.write_text(HEADER + "张三,党员,DL-01-02,,123,否,\n", encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "township", "import-staff", str(path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "第2行 列「联系电话」" in bad.stdout, bad.stdout


# -- grid files: check and diff ------------------------------------------------------------------------------


def test_an_overlap_is_reported_with_its_region():
    check = check_grid_file(upload(with_overlap()), "overlap.geojson")
    assert not check.ok
    overlap = [v for v in check.violations if v.rule == "sibling_overlap"]
    assert len(overlap) == 1 and A in overlap[0].message and B in overlap[0].message
    fc = with_overlap()
    expected = shape(features(fc)[A]["geometry"]).intersection(shape(features(fc)[B]["geometry"]))
    region = overlap[0].where
    assert region is not None
    assert metric_area(region) == pytest.approx(metric_area(expected), rel=AREA_TOL)


def test_the_diff_figures_match_shapely():
    old, new_fc = parse_grid_geojson(source()), with_piece_moved()
    check = check_grid_file(upload(new_fc), "fixed.geojson")
    assert check.ok, check.violations
    diff = diff_gridsets(old, check.gridset)
    assert diff.added == [] and diff.removed == []
    assert diff.renamed == [(B, features(source())[B]["properties"]["name"],
                             features(new_fc)[B]["properties"]["name"])]
    assert sorted(r.grid_id for r in diff.reshaped) == [A, B]
    for r in diff.reshaped:
        before, after = shape(features(source())[r.grid_id]["geometry"]), shape(features(new_fc)[r.grid_id]["geometry"])
        assert r.old_m2 == pytest.approx(metric_area(before), rel=AREA_TOL)
        assert r.new_m2 == pytest.approx(metric_area(after), rel=AREA_TOL)
        assert r.moved_m2 == pytest.approx(metric_area(before.symmetric_difference(after)), rel=AREA_TOL)
    # B split into two grids: one added; read backwards, removed.
    split = split_grid()
    two = parse_grid_geojson(split)
    forward, backward = diff_gridsets(old, two), diff_gridsets(two, old)
    assert forward.added == ["DL-13-90"] and backward.removed == ["DL-13-90"]
    assert [r.grid_id for r in forward.reshaped] == [B]


# -- grid versions: apply and restore -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(stores):
    """A store with the demo year (cases and warnings with points), opened as the app does."""
    ctx = open_township(Settings(database_url=stores.new("versions")))
    yield ctx.township
    ctx.township.engine.dispose()


def case_grids(engine) -> dict[int, str | None]:
    return dict(sql(engine, "select id, grid_id from cases where lon is not null"))


def located(engine, fc: dict) -> dict[int, str | None]:
    find = leaf_of(fc)
    return {i: find(lon, lat) for i, lon, lat in sql(engine, "select id, lon, lat from cases where lon is not null")}


def agree(stored: dict[int, str | None], expected: dict[int, str | None]) -> None:
    """Every case's stored grid is the shapely one (cases on a shared border, where shapely finds two, skipped)."""
    wrong = {i: (stored[i], g) for i, g in expected.items() if g is not None and stored[i] != g}
    assert not wrong, list(wrong.items())[:5]


@pytest.mark.store
def test_apply_and_restore_relocate_cases(demo):
    engine = demo.engine
    start = case_grids(engine)
    agree(start, located(engine, source()))
    fixed = with_piece_moved()
    moved = {i for i, g in located(engine, fixed).items() if g is not None and g != start[i]}
    assert moved, "the moved piece holds cases"
    events = one(engine, "select count(*) from case_events where action = 'regrid'")

    vid = keep_version(engine, parse_grid_geojson(fixed), "test", "fixed.geojson")
    done = apply_version(engine, vid, demo.gridset, "test")
    assert {c for c, _, _ in done.impact.cases} == moved
    now = case_grids(engine)
    agree(now, located(engine, fixed))
    assert {i for i in now if now[i] != start[i]} == moved
    # The old grid is kept in each moved case's trail.
    trail = dict(sql(engine, "select case_id, note from case_events where action = 'regrid' and id > :n", n=events))
    assert set(trail) == moved
    assert all(f"{start[i]} → {now[i]}" in trail[i] for i in moved)
    assert sql(engine, "select count(*) from grid_versions where active") == [(1,)]
    # This process follows at its next snapshot: its GridSet is the new one.
    demo.snapshot()
    assert demo.gridset.props(B)["name"].endswith("（调整）")

    # Restore the grids in use before: the version kept by the first apply.
    first = next(v for v in list_versions(engine) if v.created_by == "start")
    apply_version(engine, first.id, demo.gridset, "test")
    assert case_grids(engine) == start
    assert one(engine, "select count(*) from case_events where action = 'regrid'") == events + 2 * len(moved)
    assert sql(engine, "select id from grid_versions where active") == [(first.id,)]
    # The warnings' reach and own grid point at grids that exist.
    assert one(engine, "select count(*) from warning_grids where grid_id not in (select grid_id from grids)") == 0


def test_a_rejected_upload_keeps_nothing():
    check = check_grid_file(b"{not json", "broken.geojson")
    assert not check.ok and check.violations[0].rule == "file" and "broken.geojson" in check.violations[0].message


# -- the page -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("admin"), {"DEFAULT_ROLE": "admin", "DEMO_FEED": "0"}).start()
    srv.engine = make_engine(srv.database_url)  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def map_traces(page) -> list[dict]:
    # the report's text is written before Plotly has drawn the new figure: wait until more than the outline is drawn
    page.wait_for_function("() => (document.querySelector('#admin-grid-map .js-plotly-plot')?.data || [])"
                           ".some(t => t.meta && t.meta !== 'outline')", timeout=30000)
    return page.evaluate("() => document.querySelector('#admin-grid-map .js-plotly-plot').data"
                         ".map(t => ({meta: t.meta, name: t.name, lon: t.lon, lat: t.lat}))")


def drop(page, tmp_path: Path, name: str, fc: dict) -> None:
    path = tmp_path / name
    path.write_bytes(upload(fc))
    page.set_input_files("#admin-grid-upload input[type=file]", str(path))
    page.wait_for_function(f"() => (document.querySelector('#admin-grid-report') || {{}}).innerText"
                           f"?.includes('{name}')", timeout=60000)


def test_admin_checks_fixes_applies_and_restores_grids(admin_server, page, tmp_path):
    engine = admin_server.engine  # type: ignore[attr-defined]
    start = case_grids(engine)
    page.goto(admin_server.url + "/admin")
    page.wait_for_selector("#admin-grid-upload", timeout=60000)

    # An overlap: drawn on the map where it is, the message beside it.
    drop(page, tmp_path, "overlap.geojson", with_overlap())
    traces = map_traces(page)
    drawn = [t for t in traces if t["meta"] == "sibling_overlap"]
    assert len(drawn) == 1, [t["meta"] for t in traces]
    ring = [(x, y) for x, y in zip(drawn[0]["lon"], drawn[0]["lat"], strict=True) if x is not None]
    fc = with_overlap()
    expected = shape(features(fc)[A]["geometry"]).intersection(shape(features(fc)[B]["geometry"]))
    assert shapely.Polygon(ring).intersection(expected).area > 0.9 * expected.area
    assert "网格重叠" in page.inner_text("#admin-grid-report") and page.is_disabled("#admin-grid-apply")
    assert one(engine, "select count(*) from grid_versions") == 0

    # The fixed file: the diff and what it does to data, then apply.
    fixed = with_piece_moved()
    drop(page, tmp_path, "fixed.geojson", fixed)
    diff = page.inner_text("#admin-grid-diff")
    moved = {i for i, g in located(engine, fixed).items() if g is not None and g != start[i]}
    assert f"{len(moved)} 件事件改属其他网格" in diff and A in diff and B in diff, diff
    page.click("#admin-grid-apply")
    page.wait_for_function("() => document.querySelector('#admin-grid-result').innerText.includes('已启用')",
                           timeout=60000)
    now = case_grids(engine)
    agree(now, located(engine, fixed))
    # The app shows the cases of the changed grids in their new grid (the API reads what the screens read).
    for case_id in sorted(moved)[:5]:
        shown = page.request.get(f"{admin_server.url}/api/v1/cases/{case_id}").json()
        assert shown["grid_id"] == now[case_id] != start[case_id], shown

    # Restore the version in use before.
    first = one(engine, "select id from grid_versions where created_by = 'start'")
    page.click("#admin-version-pick")
    page.get_by_role("option", name=f"#{first} ").click()
    page.click("#admin-version-restore")
    page.wait_for_function(f"() => document.querySelector('#admin-grid-result').innerText.includes('版本 {first}')",
                           timeout=60000)
    assert case_grids(engine) == start
    for case_id in sorted(moved)[:5]:
        assert page.request.get(f"{admin_server.url}/api/v1/cases/{case_id}").json()["grid_id"] == start[case_id]


def test_admin_imports_a_roster_and_manages_a_user(admin_server, page, tmp_path):
    engine = admin_server.engine  # type: ignore[attr-defined]
    page.goto(admin_server.url + "/admin")
    page.wait_for_selector("#admin-staff-upload", timeout=60000)
    roster = tmp_path / "花名册.csv"
    roster.write_bytes((HEADER + "王建国,网格员,DL-02-01,,13904779901,否,\n"
                        + "李秀英,党员,DL-02-01,尔圪气村,13904779902,是,民生实事\n").encode("gb18030"))
    page.check("#admin-staff-accounts input")
    page.set_input_files("#admin-staff-upload input[type=file]", str(roster))
    page.wait_for_function("() => document.querySelector('#admin-staff-report').innerText.length > 0", timeout=60000)
    report = page.inner_text("#admin-staff-report")
    assert "新增 2" in report and "新建账号 2 个" in report, report
    password = next(line.split()[-1] for line in report.splitlines() if "13904779901" in line)
    assert check_password(engine, "13904779901", password) is not None

    # The new sign-in, disabled from the page: it can no longer sign in.
    page.click("#admin-user-pick")
    page.get_by_role("option", name="13904779901").click()
    page.click("#admin-user-disable")
    page.wait_for_function("() => document.querySelector('#admin-users-msg').innerText.includes('已停用')",
                           timeout=60000)
    assert check_password(engine, "13904779901", password) is None
    assert one(engine, "select active from users where username = '13904779901'") in (0, False)


def test_admin_signs_a_phone_out(admin_server, page):
    from township.accounts.devices import check_device, open_device

    engine = admin_server.engine  # type: ignore[attr-defined]
    user = one(engine, "select id from users where username = 'responder'")
    phone = open_device(engine, user, "Mozilla/5.0 (Linux; Android 14) 外勤手机")
    assert check_device(engine, phone) is not None
    page.goto(admin_server.url + "/admin")
    page.wait_for_selector("#admin-devices-table", timeout=60000)
    assert "外勤手机" in page.inner_text("#admin-devices-table")
    page.click("#admin-device-pick")
    page.get_by_role("option", name="responder").click()
    page.click("#admin-device-revoke")
    page.wait_for_function("() => document.querySelector('#admin-users-msg').innerText.includes('已注销')",
                           timeout=60000)
    assert check_device(engine, phone) is None
    assert one(engine, "select revoked_at from device_sessions where user_id = :u", u=user) is not None


def test_the_page_refuses_other_roles(tmp_path, browser):
    srv = LiveServer(tmp_path, {"DEFAULT_ROLE": "command", "DEMO_FEED": "0"}).start()
    try:
        pg = browser.new_page()
        pg.goto(srv.url + "/admin")
        pg.wait_for_selector("#admin-refused", timeout=60000)
        assert pg.query_selector("#admin-grid-upload") is None
        pg.close()
    finally:
        srv.stop()



@pytest.mark.store
def test_users_and_tokens_are_managed(bare):
    from township.accounts.tokens import check_token, create_token, list_tokens, revoke_token
    from township.accounts.users import create_user, list_users, reset_password, set_active

    engine = bare.engine
    uid = create_user(engine, "duty01", "first-password", "command", display_name="值班员")
    assert [u.username for u in list_users(engine)] == ["duty01"]
    set_active(engine, uid, False)
    assert check_password(engine, "duty01", "first-password") is None
    set_active(engine, uid, True)
    new = reset_password(engine, uid)
    assert check_password(engine, "duty01", new) is not None
    assert check_password(engine, "duty01", "first-password") is None
    with pytest.raises(KeyError):
        reset_password(engine, 999_999)
    token = create_token(engine, "phone-01", "responder", handler_id="H-OF-DL-01-01")
    row = check_token(engine, token)
    assert row is not None and [k.name for k in list_tokens(engine)] == ["phone-01"]
    assert revoke_token(engine, row.id) and check_token(engine, token) is None
    assert sql(engine, "select count(*) from api_token_handlers") == [(0,)]
    assert not revoke_token(engine, row.id)


def split_grid() -> dict:
    """The bundled grids with B's western half made a new grid DL-13-90."""
    fc = source()
    fb = features(fc)[B]
    b = shape(fb["geometry"])
    x0, y0, x1, y1 = b.bounds
    west = b.intersection(box(x0, y0, (x0 + x1) / 2, y1))
    fb["geometry"] = mapping(b.difference(west))
    extra = copy.deepcopy(fb)
    extra["properties"].update(grid_id="DL-13-90", name="新网格")
    extra["geometry"] = mapping(west)
    fc["features"].append(extra)
    return fc


def test_every_process_uses_the_applied_grids(tmp_path, stores):
    """Two gunicorn workers; the grids replaced by a third process: each worker's next request uses them."""
    from township.accounts.tokens import create_token
    from township.grids.install import load_gridset

    srv = LiveServer(tmp_path, {"DEMO_FEED": "0"}, stores.new("workers"), gunicorn_workers=2).start()
    engine = make_engine(srv.database_url)
    try:
        import requests

        auth = {"Authorization": f"Bearer {create_token(engine, 'workers', 'command')}"}

        west = shape(features(split_grid())["DL-13-90"]["geometry"]).representative_point()

        def placed() -> set[str]:
            # Enough new cases that both workers place some (each request goes to whichever accepts first).
            ids = [requests.post(f"{srv.url}/api/v1/cases", headers=auth, timeout=60, json={
                "source": "hotline", "type": "hotline", "domain": "livelihood", "title": "路灯不亮",
                "lon": west.x, "lat": west.y}).json()[0]["id"] for _ in range(16)]
            return {g for (g,) in sql(engine, f"select grid_id from cases where id in ({','.join(map(str, ids))})")}

        assert placed() == {B}
        vid = keep_version(engine, parse_grid_geojson(split_grid()), "test")
        apply_version(engine, vid, load_gridset(engine, check_spatial=False), "test")
        assert placed() == {"DL-13-90"}
    finally:
        srv.stop()
        engine.dispose()


def test_the_page_reads_a_zipped_shapefile_and_names_the_zone_of_one_without_crs(tmp_path):
    import zipfile

    import geopandas as gpd

    gpd.read_file(GRIDS).to_crs(4546).to_file(tmp_path / "grids.shp", encoding="gbk")

    def zipped(name: str, skip: str = "") -> bytes:
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            for part in tmp_path.glob("grids.*"):
                if part.suffix not in (".zip", skip):
                    z.write(part, part.name)
        return (tmp_path / name).read_bytes()

    check = check_grid_file(zipped("grids.zip"), "grids.zip", near=(111.1, 40.05))
    assert check.ok and check.gridset is not None and len(check.gridset) == 1 + 15 + 146
    assert check.gridset.props("DL-01")["name"] == features(source())["DL-01"]["properties"]["name"]
    assert any("EPSG:4546" in n for n in check.notes), check.notes
    bare = check_grid_file(zipped("noprj.zip", skip=".prj"), "noprj.zip", near=(111.1, 40.05))
    assert not bare.ok and bare.violations[0].rule == "file" and "EPSG:4546" in bare.violations[0].message
