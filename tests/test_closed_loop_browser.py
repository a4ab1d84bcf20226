"""Sign-in and the closed loop in a real browser, on an app that requires sign-in (no DEFAULT_ROLE).

The server here is this module's own: the loop changes figures that other
modules' browser tests read on the shared one.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from conftest import LiveServer
from sqlalchemy import text
from test_browser import GRAPH, click_lonlat, drawn_locations, figure_value, kpi, open_map, table_cells

from layers.mapfig import CASES, GRIDS, VILLAGES
from township.config import BUNDLED_GRIDS, SECRET_FILE
from township.domain.vocab import CASE_STATUS_COLORS, DONE_STATUSES, OPEN_STATUSES
from township.formats.ingest import CaseIn, write_cases
from township.grids.validate import load_grid_file
from township.loop.workflow import MOVES
from township.store.engine import make_engine
from township.store.models import utcnow

VILLAGE, GRID = "DL-07", "DL-07-02"


@pytest.fixture(scope="module")
def grids():
    return load_grid_file(BUNDLED_GRIDS)


@pytest.fixture(scope="module")
def signin_server(tmp_path_factory):
    """An app as ``make run`` starts it: sign-in required, demo users seeded, no demo feed."""
    srv = LiveServer(tmp_path_factory.mktemp("signin"), {"DEFAULT_ROLE": "", "DEMO_FEED": "0"}).start()
    srv.engine = make_engine(srv.database_url)  # type: ignore[attr-defined]
    yield srv
    srv.stop()
    srv.engine.dispose()


def sign_in(page, srv, username: str, password: str, target: str = "/") -> None:
    """Sign in through the form, as a person would; lands on ``target``."""
    page.goto(srv.url + target)
    page.wait_for_selector("#login-form")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")


# -- sign-in ----------------------------------------------------------------------------------


def test_sign_in_is_required_and_checks_the_password(signin_server):
    srv = signin_server
    r = requests.get(srv.url + "/?village=DL-03", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=%2F%3Fvillage%3DDL-03"
    # the wall, the API and the login form itself need no sign-in
    assert requests.get(srv.url + "/wall", timeout=10).status_code == 200
    assert requests.get(srv.url + "/api/v1/version", timeout=10).status_code == 200
    assert "用户名" in requests.get(srv.url + "/login", timeout=10).text
    # downloads carry personal data: they need sign-in too
    assert requests.get(srv.url + "/export/cases.csv", allow_redirects=False, timeout=10).status_code == 302

    s = requests.Session()
    bad = s.post(srv.url + "/login", data={"username": "command", "password": "dalu-wrong"}, timeout=10)
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    assert s.get(srv.url + "/", allow_redirects=False, timeout=10).status_code == 302
    good = s.post(srv.url + "/login", data={"username": "command", "password": "dalu-command",
                                            "next": "/?village=DL-03"}, allow_redirects=False, timeout=10)
    assert good.status_code == 302 and good.headers["Location"] == "/?village=DL-03"
    cookie = good.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert s.get(srv.url + "/", allow_redirects=False, timeout=10).status_code == 200
    # an outside "next" is not followed
    s2 = requests.Session()
    r = s2.post(srv.url + "/login", data={"username": "command", "password": "dalu-command",
                                          "next": "//evil.example/"}, allow_redirects=False, timeout=10)
    assert r.headers["Location"] == "/"
    # the key is kept next to the SQLite file, so a restarted (or second) process accepts the cookie
    assert (srv.db.parent / SECRET_FILE).exists()
    srv.stop()
    srv.start()
    assert s.get(srv.url + "/", allow_redirects=False, timeout=10).status_code == 200
    s.get(srv.url + "/logout", timeout=10)
    assert s.get(srv.url + "/", allow_redirects=False, timeout=10).status_code == 302


def test_a_village_operator_sees_only_their_village(signin_server, page):
    sign_in(page, signin_server, "village01", "dalu-village01", "/?village=DL-05")
    page.wait_for_selector(GRAPH, timeout=30000)
    open_map(page, page.url)
    assert "小滩子村值班员" in page.inner_text("#account")
    # their village is shown by its grids (coloured, not one blob): only DL-01's, no other village's
    assert figure_value(page, f"gd._fullData[{VILLAGES}].visible") is False
    grids = drawn_locations(page, GRIDS)
    assert grids and all(g.startswith("DL-01-") for g in grids)
    assert "小滩子村" in page.inner_text("#filter-village")
    cells = table_cells(page, "grid")
    assert cells and all(c.startswith("小滩子村") for c in cells)
    page.locator("#desk-tab label").nth(1).click()  # the statistics: their own tab, filled when opened
    page.wait_for_selector("#stats-stages", timeout=20000)
    assert page.locator("#stats-ranking").count() == 0  # the ranking is the township head's


def upload_report(page, srv) -> str:
    """Drop a file with bad rows (it stores nothing) into the page's import and return the report."""
    from test_upload import DATA

    page.locator("#desk-tab label").nth(1).click()  # the import is on the statistics and data page
    page.click("text=导入事件/预警文件")
    page.set_input_files("#import-upload input[type=file]", str(DATA / "patrol_bad_rows.csv"))
    page.wait_for_function("() => document.querySelector('#import-report').innerText.length > 0", timeout=30000)
    return page.inner_text("#import-report")


def test_the_background_import_knows_who_signed_in(signin_server, page):
    # The import runs as a background job, outside any request: it reads the session from the
    # cookies Dash keeps for the job (not signed in, it would be refused). The wall may not import:
    # it has no import panel (its refusal by the job itself: tests/test_access.py probe_import);
    # the command centre may.
    sign_in(page, signin_server, "wall", "dalu-wall")
    page.wait_for_selector(GRAPH, timeout=30000)
    page.locator("#desk-tab label").nth(1).click()
    page.wait_for_selector("#stats-stages", timeout=30000)
    assert page.locator("#import-upload").count() == 0
    page.goto(signin_server.url + "/logout")
    sign_in(page, signin_server, "command", "dalu-command")
    page.wait_for_selector(GRAPH, timeout=30000)
    report = upload_report(page, signin_server)
    assert "第" in report and "行" in report, report


# -- the closed loop ------------------------------------------------------------------------


def db_figures(srv, village: str) -> dict:
    """Open cases and 办结率 of the dashboard's default view (90 days, open cases always kept),
    counted straight from the store."""
    since = utcnow() - timedelta(days=90)
    open_ = tuple(OPEN_STATUSES)
    with srv.engine.connect() as conn:
        rows = conn.execute(text("SELECT status, reported_at FROM cases WHERE village_id = :v"), {"v": village}).all()
    shown = [s for s, at in rows if s in open_ or _as_dt(at) >= since]
    done = sum(s in DONE_STATUSES for s in shown)
    return {"open": sum(s in open_ for s in shown), "done_rate": f"{done / len(shown) * 100:.1f}%"}


def _as_dt(value):
    from datetime import datetime

    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def case_point(page, case_id: int) -> dict:
    """The case's point on the map: its colour and status text (customdata, as text: id, type, domain, status, age)."""
    return page.evaluate(
        f"""(id) => {{
            const t = document.querySelector('{GRAPH}').data[{CASES}];
            const i = t.customdata.findIndex(c => c[0] === String(id));
            return i < 0 ? null : {{color: t.marker.color[i], status: t.customdata[i][3]}};
        }}""", case_id)


def test_the_closed_loop_from_the_page(signin_server, page, grids):
    srv = signin_server
    p = grids.geometry(GRID).representative_point()
    [written] = write_cases(srv.engine, grids, [CaseIn(
        source="citizen", type="dispute", domain="governance", title="邻里漏水纠纷", lon=p.x, lat=p.y,
        reporter="赵六", reporter_phone="13900001111")])
    cid = written.id
    sign_in(page, srv, "command", "dalu-command", f"/?village={VILLAGE}&level=3")
    page.wait_for_selector(GRAPH, timeout=30000)
    open_map(page, page.url)
    before = {"open": int(kpi(page, "open")), "done_rate": kpi(page, "done_rate")}
    assert before == db_figures(srv, VILLAGE)
    assert case_point(page, cid) == {"color": CASE_STATUS_COLORS["reported"], "status": "已上报"}

    # newest first, then open the case from its row
    header = page.locator('#table-cases .ag-header-cell[col-id="id"]')
    header.click()
    header.click()
    row = page.locator(f'#table-cases .ag-row[row-id="{cid}"] .ag-cell[col-id="title"]')
    row.wait_for(timeout=15000)
    row.click()
    page.wait_for_selector("#case-card:not([hidden]) #case-title", timeout=15000)
    assert f"#{cid} 邻里漏水纠纷" in page.inner_text("#case-title")
    assert "赵六" in page.inner_text("#case-card") and page.inner_text("#case-status") == "已上报"

    # dispatch to a suggested party member of the grid, chosen in the list
    page.click("#case-card .case-handler")
    option = page.locator(".dash-dropdown-option", has_text="本网格党员").first
    member = option.inner_text().split(" · ")[0]
    option.click()
    page.fill("#case-card .case-text", "请上门了解情况")
    steps = [("dispatch", "", "已派单"), ("accept", "", "已接单"), ("start", "", "处置中"),
             ("resolve", "双方签订调解协议,已修复漏水", "已办结"), ("close", "回访:双方满意", "已销号")]
    for move, note, status in steps:
        if note:
            page.fill("#case-card .case-text", note)
        page.click(f"#case-card .move-{move}")
        page.wait_for_function(f"() => document.querySelector('#case-status')?.innerText === '{status}'",
                               timeout=15000)
        assert "已完成" in page.inner_text("#case-msg")
        # the map point follows the status (through the data version)
        page.wait_for_function(
            f"""() => {{ const t = document.querySelector('{GRAPH}').data[{CASES}];
                        const i = t.customdata.findIndex(c => c[0] === '{cid}');
                        return i >= 0 && t.marker.color[i] === '{CASE_STATUS_COLORS[MOVE_STATUS[move]]}'; }}""",
            timeout=15000)
    assert case_point(page, cid) == {"color": CASE_STATUS_COLORS["closed"], "status": "已销号"}
    # the table follows the data version too
    page.wait_for_function(
        f"""() => document.querySelector('#table-cases .ag-row[row-id="{cid}"] .ag-cell[col-id="status"]')
                  ?.innerText === '已销号'""", timeout=15000)

    timeline = page.inner_text("#case-timeline")
    for word in ("上报", *(MOVES[m].zh for m, _, _ in steps)):
        assert word in timeline, word
    assert f"派单给{member}" in timeline and "双方签订调解协议" in timeline and "回访:双方满意" in timeline
    assert page.locator("#case-no-moves").count() == 1

    # the headline: one open case fewer, 办结率 up, and both as the store counts them
    page.wait_for_function(f"() => document.querySelector('#kpi-open').innerText === '{before['open'] - 1}'",
                           timeout=15000)
    after = {"open": int(kpi(page, "open")), "done_rate": kpi(page, "done_rate")}
    assert after["done_rate"] != before["done_rate"]
    assert after == db_figures(srv, VILLAGE)
    page.locator("#desk-tab label").nth(1).click()  # the statistics: their own tab, filled when opened
    page.wait_for_function(f"() => document.querySelector('#stats-done_rate')?.innerText === '{after['done_rate']}'",
                           timeout=15000)
    page.locator("#desk-tab label").nth(0).click()

    # closing the card, then the case point on the map opens it again
    page.click("#case-card .case-close")
    page.wait_for_selector("#case-card", state="hidden", timeout=10000)
    page.evaluate("() => window.scrollTo(0, 0)")  # the table row's click scrolled the map away
    page.wait_for_timeout(300)
    click_lonlat(page, p.x, p.y)
    page.wait_for_selector("#case-card:not([hidden]) #case-title", timeout=15000)
    assert f"#{cid} " in page.inner_text("#case-title")


#: The status each move leads to.
MOVE_STATUS = {name: m.to for name, m in MOVES.items() if m.to}
