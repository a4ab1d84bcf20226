"""Downloads over real HTTP: filtered exports, the daily report, field-map files, and masking by role.

Counts are checked against independent SQL on the server's own SQLite file
(not township.read.snapshot); masking against the reporters stored there.
"""
from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest
import requests
from conftest import LiveServer
from test_browser import open_map

from downloads import RenderCache
from township.domain.filters import FilterState
from township.domain.isotime import LOCAL_TZ
from township.domain.privacy import mask_name, mask_phone
from township.domain.vocab import CASE_STATUSES, LIVE_WARNING_STATUSES, OPEN_STATUSES
from township.formats import exports
from township.read.views import make_view
from ui.exports import export_href

HEADERS = ["编号", "事项", "事件类型", "领域", "状态", "是否超期", "村/社区", "网格", "网格编号", "化解层级",
           "最高化解层级", "来源", "处置人", "报告人", "报告人电话", "上报时间", "办理时限", "办结时间", "销号时间",
           "经度", "纬度"]
VILLAGES = ["DL-13", "DL-14"]
DOMAINS = ["safety", "governance", "livelihood"]
QUERY = f"village={','.join(VILLAGES)}&domain={','.join(DOMAINS)}&window=all"
#: A mainland mobile number (not the decimals of a coordinate): none may appear unmasked in a masked export.
PHONE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?!\d)")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def sql(db, query: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, args).fetchall()


def marks(values) -> str:
    return ",".join("?" * len(values))


def sql_case_count(db, villages, domains, since: datetime | None = None) -> int:
    q = f"SELECT count(*) FROM cases WHERE village_id IN ({marks(villages)}) AND domain IN ({marks(domains)})"
    args = [*villages, *domains]
    if since is not None:
        q += f" AND (reported_at >= ? OR status IN ({marks(OPEN_STATUSES)}))"
        args += [since.isoformat(sep=" "), *sorted(OPEN_STATUSES)]
    return sql(db, q, *args)[0][0]


def sql_warning_count(db, villages, levels) -> int:
    reach = " OR ".join("g.grid_id LIKE ?" for _ in villages)
    q = (f"SELECT count(*) FROM warnings w WHERE w.status IN ({marks(LIVE_WARNING_STATUSES)}) "
         f"AND w.level IN ({marks(levels)}) AND (w.village_id IN ({marks(villages)}) OR EXISTS "
         f"(SELECT 1 FROM warning_grids g WHERE g.warning_id = w.id AND ({reach})))")
    return sql(db, q, *sorted(LIVE_WARNING_STATUSES), *levels, *villages, *[v + "-%" for v in villages])[0][0]


def get(srv: LiveServer, path: str, status: int = 200) -> requests.Response:
    r = requests.get(srv.url + path, timeout=90)
    assert r.status_code == status, f"{path}: {r.status_code} {r.text[:300]}"
    return r


def read_csv(body: bytes) -> list[dict]:
    assert body.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM for Excel"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def read_xlsx(body: bytes) -> tuple[list[str], list[list]]:
    ws = openpyxl.load_workbook(io.BytesIO(body)).active
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return rows[0], rows[1:]


def filename(resp: requests.Response) -> str:
    disp = resp.headers["Content-Disposition"]
    assert disp.startswith("attachment;")
    return unquote(disp.split("filename*=UTF-8''")[1])


# -- rows equal an independent SQL count ------------------------------------------


def test_csv_rows_and_headers_match_sql(server):
    r = get(server, "/export/cases.csv?" + QUERY)
    assert r.headers["Content-Type"].startswith("text/csv")
    assert filename(r).endswith(".csv") and "大路镇" in filename(r)
    rows = read_csv(r.content)
    assert list(rows[0]) == HEADERS
    assert len(rows) == sql_case_count(server.db, VILLAGES, DOMAINS) > 0
    assert {row["村/社区"] for row in rows} <= {"创业社区", "杨四圪咀社区"}
    assert {row["领域"] for row in rows} <= {"平安预警", "综治", "民生实事"}


def test_csv_under_a_time_window_matches_sql(server):
    # The window keeps cases reported since now-30d, and every open case.
    before = utcnow()
    rows = read_csv(get(server, f"/export/cases.csv?village=DL-13&domain={','.join(DOMAINS)}&window=30d").content)
    after = utcnow()
    lo = sql_case_count(server.db, ["DL-13"], DOMAINS, after - timedelta(days=30))
    hi = sql_case_count(server.db, ["DL-13"], DOMAINS, before - timedelta(days=30))
    assert lo <= len(rows) <= hi
    assert sql_case_count(server.db, ["DL-13"], DOMAINS) > len(rows), "the window should cut something"


def test_xlsx_rows_match_sql_with_beijing_times(server):
    r = get(server, "/export/cases.xlsx?" + QUERY)
    assert r.content[:2] == b"PK"
    header, rows = read_xlsx(r.content)
    assert header == HEADERS
    assert len(rows) == sql_case_count(server.db, VILLAGES, DOMAINS)
    first = dict(zip(header, rows[0], strict=True))
    (stored,) = sql(server.db, "SELECT reported_at FROM cases WHERE id = ?", first["编号"])[0]
    beijing = datetime.fromisoformat(stored) + timedelta(hours=8)
    assert first["上报时间"] == beijing.replace(microsecond=0)


def test_geojson_has_the_filtered_cases_and_live_warnings(server):
    r = get(server, "/export/features.geojson?" + QUERY + "&wlevel=1,2,3")
    assert r.headers["Content-Type"].startswith("application/geo+json")
    fc = json.loads(r.content.decode("utf-8"))
    assert fc["type"] == "FeatureCollection"
    cases = [f for f in fc["features"] if f["properties"]["kind"] == "case"]
    warns = [f for f in fc["features"] if f["properties"]["kind"] == "warning"]
    assert len(cases) == sql_case_count(server.db, VILLAGES, DOMAINS)
    assert len(warns) == sql_warning_count(server.db, VILLAGES, [1, 2, 3]) > 0
    p = cases[0]["properties"]
    assert p["domain"] in DOMAINS and p["domain_label"] in {"平安预警", "综治", "民生实事"}
    assert p["reported_at"].endswith("+08:00")
    lon, lat = cases[0]["geometry"]["coordinates"]
    assert 110 < lon < 112 and 39 < lat < 41, "RFC 7946: longitude first"
    assert {w["properties"]["level"] for w in warns} <= {1, 2, 3}
    assert all(w["properties"]["color"].startswith("#") for w in warns)


def test_unknown_filter_values_are_refused_by_name(server):
    r = get(server, "/export/cases.csv?village=DL-99&domain=magic", status=400)
    assert "village=DL-99" in r.text and "domain=magic" in r.text


def test_personal_data_is_plain_for_a_role_that_may_see_it(server):
    # The default role (command) sees reporters; the wall does not (below).
    rows = read_csv(get(server, "/export/cases.csv?" + QUERY).content)
    stored = dict((i, (n, p)) for i, n, p in sql(server.db, "SELECT id, reporter, reporter_phone FROM cases"))
    row = rows[0]
    assert (row["报告人"], row["报告人电话"]) == stored[int(row["编号"])]


# -- the daily report -------------------------------------------------------------


def test_daily_report_lists_the_overdue_oldest_first_and_links_nothing_outside(server):
    r = get(server, "/report/daily?window=all")
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    page = r.text
    now = utcnow()
    overdue = sql(server.db, f"SELECT id FROM cases WHERE status IN ({marks(OPEN_STATUSES)}) AND deadline_at < ? "
                             "ORDER BY deadline_at, id", *sorted(OPEN_STATUSES), now.isoformat(sep=" "))
    section = page.split('<section id="overdue">')[1].split("</section>")[0]
    listed = [int(i) for i in re.findall(r"<tr><td class=n>(\d+)</td>", section)]
    assert listed == [i for (i,) in overdue] and listed
    headings = ("在办事件", "超期", "办结率", "按期办结率", "村级化解率", "生效预警", "各领域事件", "各村/社区事件")
    for heading in headings:
        assert heading in page
    assert not re.search(r"(?:https?:)?//|<script|<link|<img|url\(|@import", page), "the report names an outside URL"


def test_daily_report_pdf(server):
    today = (utcnow() + timedelta(hours=8)).date().isoformat()
    r = get(server, f"/report/daily.pdf?village=DL-13&date={today}")
    assert r.content.startswith(b"%PDF")
    assert r.headers["Content-Type"] == "application/pdf"
    assert filename(r) == f"大路镇日报-{today}.pdf"


def test_daily_report_refuses_bad_dates(server):
    assert "YYYY-MM-DD" in get(server, "/report/daily?date=yesterday", status=400).text
    assert "after today" in get(server, "/report/daily?date=2999-01-01", status=400).text


# -- field-map files ----------------------------------------------------------------


def test_field_map_files(server):
    r = get(server, "/grid/DL-13-08/fieldmap.html")
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert filename(r) == "创业社区第8网格现场图.html"
    assert "创业社区第8网格" in r.text and "tel:" in r.text
    assert get(server, "/grid/DL-13-08/fieldmap.png").content.startswith(b"\x89PNG")
    assert get(server, "/grid/DL-13-08/fieldmap.pdf").content.startswith(b"%PDF")
    (wid,) = sql(server.db, "SELECT id FROM warnings WHERE status = 'active' ORDER BY level LIMIT 1")[0]
    assert get(server, f"/warnings/{wid}/fieldmap.pdf").content.startswith(b"%PDF")
    assert f'data-warning-id="{wid}"' in get(server, f"/warnings/{wid}/fieldmap.html").text


def test_field_map_errors_are_clear(server):
    assert "NOPE" in get(server, "/grid/NOPE/fieldmap.html", status=404).text
    assert "level-2" in get(server, "/grid/DL-13/fieldmap.pdf", status=400).text
    assert "999999" in get(server, "/warnings/999999/fieldmap.png", status=404).text


def test_render_cache_is_a_small_lru_with_a_time_limit():
    cache = RenderCache(size=2, ttl=0.2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"  # a is now the most recent
    cache.put("c", b"3")
    assert cache.get("b") is None and cache.get("a") == b"1" and len(cache) == 2
    time.sleep(0.25)
    assert cache.get("a") is None


# -- the wall role: nothing personal in any export ----------------------------------


@pytest.fixture(scope="module")
def wall_server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("wall-exports"), env={"DEFAULT_ROLE": "wall"}).start()
    yield srv
    srv.stop()


def test_wall_role_gets_no_personal_data_in_any_export(wall_server):
    db = wall_server.db
    stored = {i: (n, p, h) for i, n, p, h in sql(db, "SELECT id, reporter, reporter_phone, handler FROM cases")}
    names = {v for n, _, h in stored.values() for v in (n, h) if v and len(v) > 1}
    phones = {p for _, p, _ in stored.values() if p}
    assert names and phones

    rows = read_csv(get(wall_server, "/export/cases.csv?window=all").content)
    assert len(rows) == len(stored)
    for row in rows:
        name, phone, handler = stored[int(row["编号"])]
        assert (row["报告人"], row["报告人电话"], row["处置人"]) == (mask_name(name), mask_phone(phone),
                                                                  mask_name(handler))
    header, xrows = read_xlsx(get(wall_server, "/export/cases.xlsx?window=all").content)
    cells = {str(v) for r in xrows for v in r if v is not None}
    fc = get(wall_server, "/export/features.geojson?window=all").content.decode("utf-8")
    values = {str(v) for f in json.loads(fc)["features"] for v in f["properties"].values()}
    report = get(wall_server, "/report/daily?window=all").text
    fieldmap = get(wall_server, "/grid/DL-13-08/fieldmap.html").text
    csv_text = get(wall_server, "/export/cases.csv?window=all").content.decode("utf-8-sig")
    for label, text in (("csv", csv_text), ("xlsx", "\n".join(cells)), ("geojson", fc), ("report", report),
                        ("fieldmap", fieldmap)):
        assert not PHONE.search(text), f"{label} holds an unmasked phone number"
        assert not any(p in text for p in phones), f"{label} holds a reporter's phone"
    for label, found in (("csv", {v for r in rows for v in r.values()}), ("xlsx", cells), ("geojson", values)):
        assert not names & found, f"{label} holds a full name: {sorted(names & found)[:3]}"
    assert "tel:" not in fieldmap


# -- core, without a server ----------------------------------------------------------


def test_case_table_core(township_ctx):
    tw = township_ctx.township
    view = make_view(tw.snapshot(), tw.gridset, FilterState(village=["DL-03"], window="all"))
    table = exports.case_table(view, tw.gridset, "wall", exports.case_contacts(tw.engine))
    assert list(table.columns) == HEADERS and len(table) == len(view.cases)
    assert table["报告人电话"].str.contains(r"^\d{3}\*{4}\d{4}$").all()
    # A title that a spreadsheet would run as a formula is written as text.
    evil = replace(view, cases=view.cases.assign(title="=HYPERLINK(\"http://x\",\"y\")"))
    table = exports.case_table(evil, tw.gridset, "command")
    assert all(r["事项"].startswith("'=HYPERLINK(") for r in read_csv(exports.to_csv_bytes(table)))
    ws = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx_bytes(table))).active
    assert ws["B2"].value.startswith("'=") and ws["B2"].data_type == "s"


# -- a replayed moment (?t=, the desk's links while it replays) ----------------------------------------


def test_csv_at_a_replayed_moment_holds_the_cases_as_they_were(server):
    """The desk's export link carries ``t`` while it replays: the file is that moment's, not today's. Expected
    from SQL over case_events: the cases reported by t, each with the status of its last record by t."""
    first, last = (datetime.fromisoformat(v) for v in sql(
        server.db, "SELECT min(reported_at), max(reported_at) FROM cases WHERE external_id LIKE 'DEMO-ICE-%'")[0])
    t = (first + (last - first) / 2).replace(second=0, microsecond=0)
    stamp = t.strftime("%Y-%m-%d %H:%M:%S.%f")
    expected = dict(sql(server.db, """
        SELECT c.id, (SELECT e.to_status FROM case_events e WHERE e.case_id = c.id AND e.to_status IS NOT NULL
                      AND e.at <= ? ORDER BY e.at DESC, e.id DESC LIMIT 1)
          FROM cases c WHERE c.reported_at <= ?""", stamp, stamp))
    local = t.replace(tzinfo=UTC).astimezone(LOCAL_TZ).isoformat(timespec="minutes").replace("+", "%2B")
    rows = read_csv(get(server, f"/export/cases.csv?window=all&t={local}").content)
    assert len(rows) == len(expected) < sql(server.db, "SELECT count(*) FROM cases")[0][0]
    assert {int(r["编号"]): r["状态"] for r in rows} == {i: CASE_STATUSES[s]["zh"] for i, s in expected.items()}
    now = {int(i): CASE_STATUSES[s]["zh"] for i, s in sql(server.db, "SELECT id, status FROM cases")}
    assert any(now[int(r["编号"])] != r["状态"] for r in rows), "the night has moved on since t"
    r = get(server, "/export/cases.csv?t=2000-01-01T00:00%2B08:00", status=400)
    assert "before the audit trail begins" in r.text


def test_the_daily_report_link_leaves_a_replayed_moment_out():
    query = FilterState(t=datetime(2026, 12, 5, 14), mode="moving", hours=6, village=["DL-03"]).to_query()
    assert export_href("/export/cases.csv", query) == "/export/cases.csv" + query
    assert export_href("/report/daily", query) == "/report/daily?village=DL-03"
    assert export_href("/report/daily", FilterState(t=datetime(2026, 12, 5, 14)).to_query()) == "/report/daily"


# -- the dashboard: export links and the map as PNG ------------------------------------


def test_dashboard_export_links_follow_the_filter(server, page):
    open_map(page, server.url + "/?village=DL-03&level=3&domain=safety")
    for cid, path in (("export-csv", "/export/cases.csv"), ("export-xlsx", "/export/cases.xlsx"),
                      ("export-geojson", "/export/features.geojson"), ("export-report", "/report/daily")):
        href = page.get_attribute(f"#{cid}", "href")
        assert href.startswith(path + "?") and "village=DL-03" in href and "domain=safety" in href
    page.click("#map-crumb-town")
    page.wait_for_function("() => !document.querySelector('#export-csv').href.includes('village=')", timeout=15000)
    assert "domain=safety" in page.get_attribute("#export-csv", "href")
    # the link downloads exactly what the dashboard counts
    rows = read_csv(get(server, page.get_attribute("#export-csv", "href")).content)
    assert {r["领域"] for r in rows} == {"平安预警"}


def test_map_downloads_as_png_from_the_modebar(server, browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
    try:
        pg = context.new_page()
        open_map(pg, server.url + "/?level=3")
        pg.hover("#map-graph")
        with pg.expect_download(timeout=30000) as dl:
            pg.click('#map-graph .modebar-btn[data-title="Download plot as a PNG"]')
        assert dl.value.suggested_filename == "大路镇指挥地图.png"
        assert Path(dl.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        titles = pg.evaluate("() => [...document.querySelectorAll('#map-graph .modebar-btn')]"
                             ".map(e => e.getAttribute('data-title'))")
        assert not any("Share" in (t or "") for t in titles), "no upload-to-cloud button on a closed network"
    finally:
        context.close()


# -- a village operator: their own village only -----------------------------------------


@pytest.fixture(scope="module")
def village_client(tmp_path_factory):
    """The app as a village operator of DL-03 sees it (DEFAULT_ROLE=village), through Flask's test client."""
    from app import create_app
    from township.config import Settings

    db = tmp_path_factory.mktemp("village") / "township.db"
    app = create_app(Settings(database_url=f"sqlite:///{db}", role="village", default_village="DL-03"))
    return app.server.test_client()


def test_village_operator_exports_only_their_village(village_client):
    r = village_client.get("/export/cases.csv?village=DL-13&window=all")
    assert r.status_code == 200
    rows = read_csv(r.data)
    assert rows and {row["村/社区"] for row in rows} == {"常树梁村"}, "the filter is clamped to DL-03"
    assert village_client.get("/grid/DL-13-08/fieldmap.html").status_code == 403
    assert village_client.get("/grid/DL-03-01/fieldmap.html").status_code == 200


def test_village_operator_gets_no_responder_view_of_another_village(village_client):
    from app import app_context
    from callbacks import responder

    ctx = app_context(village_client.application)
    other = responder.render_page(ctx, re.fullmatch(r"/grid/(?P<grid_id>[^/]+)", "/grid/DL-13-08"), "")
    assert other.id == "not-found" and "DL-13-08" in str(other.children)
    own = responder.render_page(ctx, re.fullmatch(r"/grid/(?P<grid_id>[^/]+)", "/grid/DL-03-01"), "")
    assert own.id == "rsp-page"
