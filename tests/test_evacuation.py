"""Evacuation (转移安置): a red 凌汛 warning over the riverside villages, its roster, check-offs, privacy, summary.

Expected values are computed here, independently of the code under test: the
households inside the warning's area with shapely and pyproj from the rows in
SQL and the grid file; counts and occupancy from SQL.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import requests
import shapely
from conftest import LiveServer
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.orm import Session

from township.loop.evacroster import evacuation_summary
from township.store.models import Warning

ROOT = Path(__file__).resolve().parent.parent
#: A point on the Yellow River bank between 小滩子村 and 常树梁村 (lon, lat), and a radius in metres.
POINT, RADIUS = (111.22, 40.18), 4000.0
FOREIGN = "DL-10"  # a village far from the river: the warning does not reach it
TIMEOUT = 60

pytestmark = pytest.mark.store


@pytest.fixture(scope="module")
def site(tmp_path_factory, stores) -> LiveServer:
    """The app on its own store with the demo register; tokens per role (village tokens bound below)."""
    from township.accounts.tokens import create_token
    from township.store.engine import make_engine

    srv = LiveServer(tmp_path_factory.mktemp("evac"), {"DEMO_FEED": "0"}, stores.new("evac")).start()
    srv.engine = make_engine(srv.database_url)  # type: ignore[attr-defined]
    srv.tokens = {role: create_token(srv.engine, f"evac-{role}", role)  # type: ignore[attr-defined]
                  for role in ("command", "wall")}
    srv.tokens["foreign"] = create_token(srv.engine, "evac-foreign", "village", FOREIGN)  # type: ignore[attr-defined]
    yield srv
    srv.stop()
    srv.engine.dispose()


def auth(site: LiveServer, key: str | None) -> dict:
    return {"Authorization": f"Bearer {site.tokens[key]}"} if key else {}


def sql(site: LiveServer, query: str, **params) -> list:
    with site.engine.connect() as conn:  # type: ignore[attr-defined]
        return list(conn.execute(text(query), params))


def expected_households(site: LiveServer) -> set[str]:
    """The household numbers inside the circle and in a grid the circle reaches: pyproj + shapely, from SQL."""
    metric = Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)
    centre = shapely.Point(metric.transform(*POINT))

    def to_metric(geom):
        return shapely.transform(geom, lambda xy: np.column_stack(metric.transform(xy[:, 0], xy[:, 1])))

    grids = json.loads((ROOT / "geodata" / "dalu_grids.geojson").read_text())["features"]
    reached = {f["properties"]["grid_id"] for f in grids if f["properties"]["level"] == 3
               and to_metric(shape(f["geometry"])).distance(centre) <= RADIUS}
    out = set()
    for no, grid, lon, lat in sql(site, "SELECT household_no, grid_id, lon, lat FROM households"):
        if grid in reached and shapely.Point(metric.transform(lon, lat)).distance(centre) <= RADIUS:
            out.add(no)
    return out


def post_warning(site: LiveServer, external_id: str, level: int = 1, type_: str = "ice_flood") -> int:
    body = {"source": "test", "external_id": external_id, "type": type_, "level": level,
            "title": "黄河凌汛红色预警", "lon": POINT[0], "lat": POINT[1], "radius_m": RADIUS}
    r = requests.post(f"{site.url}/api/v1/warnings", json=body, headers=auth(site, "command"), timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return int(sql(site, "SELECT id FROM warnings WHERE external_id = :e", e=external_id)[0][0])


def roster(site: LiveServer, warning_id: int, key: str | None) -> requests.Response:
    return requests.get(f"{site.url}/api/v1/warnings/{warning_id}/evacuation", headers=auth(site, key),
                        timeout=TIMEOUT)


def move(site: LiveServer, entry: dict, what: str, key: str | None = None, headers: dict | None = None,
         note: str = "", version: int | None = None) -> requests.Response:
    body = {"expected_version": entry["version"] if version is None else version, "note": note}
    return requests.post(f"{site.url}/api/v1/evacuation/households/{entry['id']}/{what}", json=body,
                         headers=headers if headers is not None else auth(site, key), timeout=TIMEOUT)


@pytest.fixture(scope="module")
def started(site) -> dict:
    """A red 凌汛 warning posted through the API and its evacuation started by the command centre."""
    wid = post_warning(site, "ice-1")
    before = roster(site, wid, "command").json()
    r = requests.post(f"{site.url}/api/v1/warnings/{wid}/evacuation", json={"note": "按预案转移"},
                      headers=auth(site, "command"), timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return {"id": wid, "before": before, "after": r.json()}


def test_the_roster_holds_exactly_the_households_inside_the_area_vulnerable_first(site, started):
    expected = expected_households(site)
    assert len(expected) > 20  # the point is where people live
    before, after = started["before"], started["after"]
    # Before the start: a red ice flood opens the roster by itself, counts only, nobody listed yet.
    assert before["started"] is False and before["opens_roster"] is True
    assert before["total"] == len(expected) and before["households"] == []
    assert after["started"] and after["total"] == len(expected) == len(after["households"])
    assert {h["household_no"] for h in after["households"]} == expected
    flags = [h["vulnerable"] for h in after["households"]]
    assert flags == sorted(flags, reverse=True) and any(flags) and not all(flags)
    # The vulnerable ones are those with flags in SQL.
    flagged = {no for no, f in sql(site, "SELECT household_no, flags FROM households") if f}
    assert {h["household_no"] for h in after["households"] if h["vulnerable"]} == expected & flagged
    # Everyone is pointed to a shelter, at its straight-line distance.
    assert all(h["shelter_id"] and h["distance_m"] is not None for h in after["households"])
    # The villages' counts add up; the warning's log names the start.
    assert sum(v["total"] for v in after["villages"]) == len(expected) == after["by_status"]["pending"]
    [(note,)] = sql(site, "SELECT note FROM warning_events WHERE warning_id = :w AND action = 'evacuate'",
                    w=started["id"])
    assert f"{len(expected)} 户" in note and "按预案转移" in note
    # A second start is refused, and changes nothing.
    again = requests.post(f"{site.url}/api/v1/warnings/{started['id']}/evacuation", json={},
                          headers=auth(site, "command"), timeout=TIMEOUT)
    assert again.status_code == 409, again.text
    assert sql(site, "SELECT count(*) FROM evacuations")[0][0] == 1


def test_counts_only_for_the_wall_and_others_and_every_read_with_people_is_logged(site, started):
    from township.accounts.tokens import create_token

    wid = started["id"]
    everyone = started["after"]["households"]
    people = sql(site, "SELECT head, phone, village_id FROM households WHERE household_no IN ("
                 + ",".join(f"'{h['household_no']}'" for h in everyone) + ")")
    reads_before = sql(site, "SELECT count(*) FROM roster_reads WHERE warning_id = :w", w=wid)[0][0]
    for key in (None, "wall"):
        r = roster(site, wid, key)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["households"] == [] and body["hidden"] == body["total"] == len(everyone)
        for name, phone, _ in people:
            assert name not in r.text and phone not in r.text
    # The wall's and the anonymous reads show no one: nothing is logged for them.
    assert sql(site, "SELECT count(*) FROM roster_reads WHERE warning_id = :w", w=wid)[0][0] == reads_before
    # A village the warning does not reach: the warning is missing to it, as anywhere else.
    assert roster(site, wid, "foreign").status_code == 404
    # A reached village sees its own households' people and only counts of the other village's.
    villages = sorted({v for _, _, v in people})
    assert len(villages) >= 2
    own = villages[0]
    site.tokens["own"] = create_token(site.engine, "evac-own", "village", own)  # type: ignore[attr-defined]
    r = roster(site, wid, "own")
    body = r.json()
    assert {h["village_id"] for h in body["households"]} == {own}
    assert body["hidden"] == sum(1 for *_, v in people if v != own) and body["total"] == len(everyone)
    for _, phone, village in people:
        if village != own:
            assert phone not in r.text
    # Reads are logged per village: who, when, which warning.
    logged = sql(site, "SELECT actor, role, village_id, channel, households FROM roster_reads WHERE warning_id = :w "
                 "AND role = 'village'", w=wid)
    assert logged == [("api:evac-own", "village", own, "api", sum(1 for *_, v in people if v == own))]


def test_a_helper_checks_households_off_and_shelters_fill(site, started):
    from township.accounts.tokens import create_token

    wid = started["id"]
    rows = sql(site, "SELECT e.id, h.helper_id, h.people, e.shelter_id FROM evacuation_households e "
               "JOIN households h ON h.id = e.household_id JOIN evacuations v ON v.id = e.evacuation_id "
               "WHERE v.warning_id = :w AND h.flags != '' ORDER BY e.id", w=wid)
    entry_id, helper, people, shelter = rows[0]
    site.tokens["helper"] = create_token(site.engine, "evac-helper", "responder",  # type: ignore[attr-defined]
                                         handler_id=helper)
    mine = roster(site, wid, "helper").json()["households"]
    # The helper sees exactly the households they are helper or backup of.
    theirs = {i for (i,) in sql(site, "SELECT e.id FROM evacuation_households e JOIN households h ON "
                                "h.id = e.household_id JOIN evacuations v ON v.id = e.evacuation_id WHERE "
                                "v.warning_id = :w AND (h.helper_id = :h OR h.backup_id = :h)", w=wid, h=helper)}
    assert {h["id"] for h in mine} == theirs and entry_id in theirs
    entry = next(h for h in mine if h["id"] == entry_id)
    occupied = sql(site, "SELECT coalesce(sum(h.people), 0) FROM evacuation_households e JOIN households h ON "
                   "h.id = e.household_id WHERE e.shelter_id = :s AND e.status IN ('moved', 'settled')", s=shelter)
    r = move(site, entry, "notify", "helper")
    assert r.status_code == 200, r.text
    notified = r.json()["household"]
    assert notified["status"] == "notified"
    # The old version is refused (409), a refusal needs a note (422), the wall may not move anyone.
    assert move(site, entry, "move", "helper").status_code == 409
    assert move(site, notified, "refuse", "helper").status_code == 422
    assert move(site, notified, "move", "wall").status_code in (403, 404)
    assert move(site, notified, "move", headers={}).status_code == 401
    r = move(site, notified, "move", "helper")
    assert r.status_code == 200, r.text
    moved = r.json()["household"]
    assert moved["status"] == "moved"
    after = sql(site, "SELECT coalesce(sum(h.people), 0) FROM evacuation_households e JOIN households h ON "
                "h.id = e.household_id WHERE e.shelter_id = :s AND e.status IN ('moved', 'settled')",
                s=moved["shelter_id"])
    if moved["shelter_id"] == shelter:
        assert after[0][0] == occupied[0][0] + people
    events = sql(site, "SELECT actor, from_status, to_status FROM evacuation_events WHERE entry_id = :e ORDER BY id",
                 e=entry_id)
    assert events == [("api:evac-helper", "pending", "notified"), ("api:evac-helper", "notified", "moved")]
    counts = roster(site, wid, "wall").json()
    assert counts["moved"] == sql(site, "SELECT count(*) FROM evacuation_households e JOIN evacuations v ON "
                                  "v.id = e.evacuation_id WHERE v.warning_id = :w AND e.status IN "
                                  "('moved', 'settled')", w=wid)[0][0] >= 1
    # Another helper's household is missing to this helper.
    other = next(h for h in started["after"]["households"] if h["id"] not in theirs)
    assert move(site, other, "notify", "helper").status_code == 404


def test_a_full_shelter_points_the_next_household_elsewhere(township_ctx):
    from township.loop.evacuation import ShelterLoad, nearest_with_room

    near = ShelterLoad("A", "近", 0.0, 0.0, 0.0, 0.0, capacity=10, people=8)
    far = ShelterLoad("B", "远", 0.0, 0.0, 5000.0, 0.0, capacity=100)
    from township.grids.spatial import from_metric_xy

    lon, lat = from_metric_xy(0.0, 0.0)
    assert nearest_with_room([near, far], lon, lat, 2)[0].resource_id == "A"
    assert nearest_with_room([near, far], lon, lat, 3)[0].resource_id == "B"


def test_the_summary_after_clearing_matches_the_events_and_the_ledger_is_internal(site):
    """A second warning: every vulnerable household moved, two refuse, then the warning is cleared."""
    wid = post_warning(site, "ice-2", level=2, type_="flash_flood")
    r = requests.post(f"{site.url}/api/v1/warnings/{wid}/evacuation", json={}, headers=auth(site, "command"),
                      timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    rows = r.json()["households"]
    vulnerable = [h for h in rows if h["vulnerable"]]
    others = [h for h in rows if not h["vulnerable"]]
    for h in vulnerable:
        assert move(site, h, "move", "command").status_code == 200
    for h in others[:2]:
        assert move(site, h, "refuse", "command", note="不愿离家").status_code == 200
    version = sql(site, "SELECT version FROM warnings WHERE id = :w", w=wid)[0][0]
    r = requests.post(f"{site.url}/api/v1/warnings/{wid}/clear", json={"expected_version": version},
                      headers=auth(site, "command"), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    # A cleared warning's roster is closed.
    assert move(site, others[2], "notify", "command").status_code == 409

    with Session(site.engine) as s:  # type: ignore[attr-defined]
        summary = evacuation_summary(site.engine, s.get(Warning, wid))  # type: ignore[attr-defined]
    assert summary is not None
    events = sql(site, "SELECT e.entry_id, e.to_status, e.at FROM evacuation_events e JOIN evacuation_households x "
                 "ON x.id = e.entry_id JOIN evacuations v ON v.id = x.evacuation_id WHERE v.warning_id = :w", w=wid)
    moved = {i for i, to, _ in events if to == "moved"}
    refused = {i for i, to, _ in events if to == "refused"}
    started = sql(site, "SELECT started_at FROM evacuations WHERE warning_id = :w", w=wid)[0][0]
    last = max(at for _, to, at in events if to == "moved")
    def when(x) -> datetime:
        return x if isinstance(x, datetime) else datetime.fromisoformat(str(x))

    assert (summary.total, summary.moved, summary.refused, summary.vulnerable) == (
        len(rows), len(moved), len(refused), len(vulnerable))
    assert summary.minutes_to_move_vulnerable == round((when(last) - when(started)).total_seconds() / 60, 1)
    assert summary.pending == len(rows) - len(moved) - len(refused)
    # The daily report carries it; the ledger is marked 内部资料 and lists the people for command.
    report = requests.get(f"{site.url}/report/daily", timeout=TIMEOUT).text
    assert 'id="evacuation"' in report and "凌汛红色预警" in report
    ledger = requests.get(f"{site.url}/warnings/{wid}/evacuation.html", timeout=TIMEOUT)
    assert ledger.status_code == 200 and "内部资料" in ledger.text
    heads = [h for (h,) in sql(site, "SELECT head FROM households WHERE household_no = :n",
                               n=vulnerable[0]["household_no"])]
    assert heads[0] in ledger.text
    assert requests.get(f"{site.url}/warnings/{wid}/evacuation.html?village=XX", timeout=TIMEOUT).status_code == 400


def test_a_village_register_imports_from_a_chinese_csv_with_a_per_row_report(site, tmp_path):
    from township.formats.imports import import_data
    from township.grids.install import load_gridset

    gridset = load_gridset(site.engine)  # type: ignore[attr-defined]
    lon, lat = sql(site, "SELECT lon, lat FROM households WHERE grid_id = 'DL-07-01' LIMIT 1")[0]
    good = (f"户编号,社,户主,联系电话,人口,住址,经度,纬度,重点人群,包保人\n"
            f"T-1,一社,测试甲,13800000001,3人,一社1号,{lon},{lat},独居老人、残疾人,H-OF-DL-07-01\n"
            f"T-2,二社,测试乙,13800000002,2,二社2号,{lon},{lat},,\n")
    bad = good + f"T-3,三社,测试丙,13800000003,2,三社3号,{lon},{lat},外星人,\nT-4,三社,,138,2,,200,{lat},,\n"
    before = sql(site, "SELECT count(*) FROM households")[0][0]
    report = import_data(site.engine, gridset, bad.encode("gb18030"), "台账.csv", "households")  # type: ignore[attr-defined]
    # One bad row stores nothing; the report names the rows and columns.
    assert report.created == 0 and sql(site, "SELECT count(*) FROM households")[0][0] == before
    where = {(e.row, e.column) for e in report.errors}
    assert (4, "重点人群") in where and (5, "户主") in where and (5, "经度") in where, report.errors
    report = import_data(site.engine, gridset, good.encode("utf-8"), "台账.csv", "households")  # type: ignore[attr-defined]
    assert (report.created, report.errors) == (2, [])
    [(flags, people, village, grid)] = sql(site, "SELECT flags, people, village_id, grid_id FROM households "
                                           "WHERE household_no = 'T-1'")
    assert (flags, people, village, grid) == ("elderly_alone,disabled", 3, "DL-07", "DL-07-01")
    # Re-sent: updated by 户编号, not duplicated.
    report = import_data(site.engine, gridset, good.replace("3人", "4").encode(), "台账.csv", "households")  # type: ignore[attr-defined]
    assert (report.created, report.updated) == (0, 2)
    assert sql(site, "SELECT people FROM households WHERE household_no = 'T-1'")[0][0] == 4


PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "locale": "zh-CN"}


def wall_count(page) -> int:
    """The moved count of the first evacuation on the wall (``已转移 X / Y``)."""
    text = page.inner_text("#wall-evac .evac-count")
    return int(text.split("/")[0].split()[-1])


def test_a_helper_checks_off_from_a_phone_offline_and_back_and_the_wall_follows_without_names(site, started,
                                                                                                browser):
    from township.accounts.users import create_user

    wid = started["id"]
    # A party member with at least two households of the roster still to notify.
    helper, = sql(site, "SELECT h.helper_id FROM evacuation_households e JOIN households h ON h.id = e.household_id "
                  "JOIN evacuations v ON v.id = e.evacuation_id WHERE v.warning_id = :w AND e.status = 'pending' "
                  "AND h.helper_id LIKE 'H-PM-%' GROUP BY h.helper_id HAVING count(*) >= 2 ORDER BY h.helper_id "
                  "LIMIT 1", w=wid)[0]
    create_user(site.engine, "evac-helper-phone", "helper-pass-123", "responder", None, "包保甲", helper)  # type: ignore
    entries = [i for (i,) in sql(site, "SELECT e.id FROM evacuation_households e JOIN households h ON "
                                 "h.id = e.household_id JOIN evacuations v ON v.id = e.evacuation_id WHERE "
                                 "v.warning_id = :w AND (h.helper_id = :h OR h.backup_id = :h) ORDER BY e.id",
                                 w=wid, h=helper)]
    people = sql(site, "SELECT h.head, h.phone FROM evacuation_households e JOIN households h ON "
                 "h.id = e.household_id JOIN evacuations v ON v.id = e.evacuation_id WHERE v.warning_id = :w", w=wid)

    def status(entry: int) -> str:
        return sql(site, "SELECT status FROM evacuation_households WHERE id = :i", i=entry)[0][0]

    # The wall, open beside: every answer it gets is searched for the roster's names and phones.
    wall_ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    wall = wall_ctx.new_page()
    bodies: list[str] = []
    wall.on("response", lambda r: bodies.append(r.text()) if "_dash-update-component" in r.url else None)
    wall.goto(site.url + "/wall")
    wall.wait_for_selector("#wall-evac:not([hidden]) .evac-count", timeout=30000)

    phone_ctx = browser.new_context(**PHONE)
    phone = phone_ctx.new_page()
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    try:
        phone.goto(site.url + "/m")
        phone.wait_for_selector("#m-login")
        phone.fill("#m-username", "evac-helper-phone")
        phone.fill("#m-password", "helper-pass-123")
        phone.tap("#m-login-submit")
        phone.wait_for_selector("#m-evac-link")
        phone.tap("#m-evac-link")
        phone.wait_for_selector("li.m-evac")
        shown = [int(x.get_attribute("id").removeprefix("m-evac-")) for x in phone.query_selector_all("li.m-evac")]
        assert shown == sorted(shown, key=lambda i: entries.index(i)) and set(shown) == set(entries)
        first = next(i for i in shown if status(i) == "pending")
        assert phone.locator(f"#m-evac-{first} a.m-call[href^='tel:']").count() == 1
        assert phone.locator(f"#m-evac-{first} a[href^='geo:']").count() == 1
        phone.screenshot(path=str(ROOT / "tests" / "artifacts" / "evac-phone.png"))
        # Offline: the step waits in the outbox; nothing reaches the store.
        phone_ctx.set_offline(True)
        phone.tap(f"#m-evac-{first} .m-do-notify")
        phone.wait_for_selector("#m-outbox .m-waiting")
        assert status(first) == "pending"
        before = wall_count(wall)
        phone_ctx.set_offline(False)
        phone.locator("#m-outbox").wait_for(state="hidden", timeout=30000)
        assert status(first) == "notified"
        # Back online: 已转移 from the phone; the wall counts it within 2 s of the store.
        phone.wait_for_selector(f"#m-evac-{first}[data-status='notified'] .m-do-move", timeout=30000)
        phone.tap(f"#m-evac-{first} .m-do-move")
        until = time.monotonic() + 30
        while status(first) != "moved":
            assert time.monotonic() < until
            time.sleep(0.05)
        stored = time.monotonic()
        wall.wait_for_function(f"() => document.querySelector('#wall-evac .evac-count').textContent"
                               f".includes('{before + 1} /')", timeout=10000)
        assert time.monotonic() - stored <= 2.0
        events = sql(site, "SELECT actor, from_status, to_status FROM evacuation_events WHERE entry_id = :e "
                     "ORDER BY id", e=first)
        assert events == [("包保甲", "pending", "notified"), ("包保甲", "notified", "moved")]
        assert not errors
        page_text = wall.content() + "".join(bodies)
        for head, phone_no in people:
            assert phone_no not in page_text and head not in page_text, head
    finally:
        phone_ctx.close()
        wall_ctx.close()


def test_the_map_draws_the_households_by_status_only_for_who_may_see_them(site, started):
    from layers.mapfig import evacuation_update
    from township.domain.vocab import EVAC_STATUS_COLORS
    from township.loop.evacroster import evacuation_points
    from township.loop.workflow import Actor

    wid = started["id"]
    rows = sql(site, "SELECT h.lon, h.lat, e.status, h.village_id, h.head FROM evacuation_households e "
               "JOIN households h ON h.id = e.household_id JOIN evacuations v ON v.id = e.evacuation_id "
               "WHERE v.warning_id = :w", w=wid)
    command = evacuation_points(site.engine, wid, Actor("c", "command"))  # type: ignore[attr-defined]
    assert sorted(command) == sorted((lon, lat, s) for lon, lat, s, *_ in rows)
    assert evacuation_points(site.engine, wid, Actor("w", "wall")) == []  # type: ignore[attr-defined]
    own = rows[0][3]
    village = evacuation_points(site.engine, wid, Actor("v", "village", own))  # type: ignore[attr-defined]
    assert len(village) == sum(1 for *_, v, _ in rows if v == own)
    trace = evacuation_update(command, "zh")
    assert trace["marker"]["color"] == [EVAC_STATUS_COLORS[s] for *_, s in command]
    assert not {head for *_, head in rows} & set(trace["text"])


def test_the_warning_card_starts_the_evacuation_for_command_only_and_shows_counts(township_ctx):
    from callbacks.warningcard import make_evacuation, open_warning
    from township.formats.ingest import WarningIn, write_warnings
    from township.loop.workflow import Actor

    # Through ingest, as every warning arrives: the reached grids are stored and the data version moves,
    # so other tests on this shared store see a whole warning.
    engine = township_ctx.township.engine
    warning = WarningIn(source="card-test", external_id="card-ice", type="ice_flood", level=1,
                        title="凌汛红色预警(卡片)", lon=POINT[0], lat=POINT[1], radius_m=RADIUS)
    wid = write_warnings(engine, township_ctx.township.gridset, [warning])[0].id

    def card_text(out) -> str:
        return json.dumps([c.to_plotly_json() if hasattr(c, "to_plotly_json") else c for c in out.children],
                          default=lambda o: o.to_plotly_json() if hasattr(o, "to_plotly_json") else str(o),
                          ensure_ascii=False)

    command, village = Actor("指挥员", "command"), Actor("村值班员", "village", "DL-03")
    shown = open_warning(township_ctx, command, wid)
    assert "启动转移" in card_text(shown) and "evac-start" in card_text(shown)
    # A village operator sees the counts but no start button, and its start is refused; nothing is started.
    assert "evac-start" not in card_text(open_warning(township_ctx, village, wid))
    refused = make_evacuation(township_ctx, village, shown.opened, "")
    assert "may not start" in card_text(refused)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM evacuations WHERE warning_id = :w"), {"w": wid}).scalar() == 0
        total = conn.execute(text("SELECT count(*) FROM households")).scalar()
    started_card = make_evacuation(township_ctx, command, shown.opened, "")
    body = card_text(started_card)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM evacuation_households e JOIN evacuations v ON "
                                  "v.id = e.evacuation_id WHERE v.warning_id = :w"), {"w": wid}).scalar()
        heads = [h for (h,) in conn.execute(text("SELECT head FROM households LIMIT 200"))]
    assert 0 < n < total and f"0 / {n}" in body and "已启动转移" in body
    # Counts only on the card: no household's name.
    assert not any(h in body for h in heads if len(h) >= 3)


def test_the_map_shades_the_evacuation_grids_by_share_moved_for_every_viewer_of_the_warning(township_ctx):
    from callbacks.dashboard import map_patch
    from layers.mapfig import EVACUATION, EVACUATION_GRIDS
    from township.domain.filters import FilterState
    from township.formats.ingest import WarningIn, write_warnings
    from township.loop.evacuation import move_household, start_evacuation
    from township.loop.workflow import Actor
    from township.read.views import make_view

    tw = township_ctx.township
    engine, gs = tw.engine, tw.gridset
    warning = WarningIn(source="grid-test", external_id="grid-ice", type="ice_flood", level=1,
                        title="凌汛红色预警(网格)", lon=POINT[0], lat=POINT[1], radius_m=RADIUS)
    wid = write_warnings(engine, gs, [warning])[0].id
    command = Actor("指挥员", "command")
    start_evacuation(engine, gs, wid, command)

    def rows(query: str) -> list:
        with engine.connect() as conn:
            return list(conn.execute(text(query), {"w": wid}))

    roster_sql = ("SELECT e.id, e.version, h.grid_id, h.village_id, e.status FROM evacuation_households e "
                  "JOIN households h ON h.id = e.household_id JOIN evacuations v ON v.id = e.evacuation_id "
                  "WHERE v.warning_id = :w ORDER BY e.id")
    # Check-offs: every third household moved, every sixth then settled, one refused (not moved).
    for n, (entry, version, *_) in enumerate(rows(roster_sql)):
        if n % 3 == 0:
            done = move_household(engine, entry, "move", command, expected_version=version)
            if n % 6 == 0:
                move_household(engine, entry, "settle", command, expected_version=done.entry.version)
        elif n == 1:
            move_household(engine, entry, "refuse", command, expected_version=version, note="不愿离家")
    roster = rows(roster_sql)
    expected: dict[str, list[int]] = {}
    for _, _, grid, _, status in roster:
        counts = expected.setdefault(grid, [0, 0])
        counts[0] += status in ("moved", "settled")
        counts[1] += 1
    assert len(expected) > 1 and 0 < sum(m for m, _ in expected.values()) < len(roster)
    names = {f["properties"]["grid_id"]: f["properties"]["name"] for f in json.loads(
        (ROOT / "geodata" / "dalu_grids.geojson").read_text())["features"]}
    snap = tw.snapshot()
    view = make_view(snap, gs, FilterState())

    def drawn(viewer: Actor) -> dict[tuple, object]:
        patch, *_ = map_patch(township_ctx, snap, view, viewer, {"id": wid}, data_only=False, grids_sent=True,
                             shown_revision=None)
        return {tuple(op["location"][1:]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]
                if op["location"][:1] == ["data"]}

    mine = drawn(command)
    grids = sorted(expected)
    assert mine[(EVACUATION_GRIDS, "locations")] == grids
    assert mine[(EVACUATION_GRIDS, "z")] == [round(100 * expected[g][0] / expected[g][1], 1) for g in grids]
    assert mine[(EVACUATION_GRIDS, "text")] == [f"{names[g]}<br>{expected[g][0]} / {expected[g][1]} 已转移"
                                                for g in grids]
    assert [f["id"] for f in mine[(EVACUATION_GRIDS, "geojson", "features")]] == grids
    assert len(mine[(EVACUATION, "lon")]) == len(roster)
    # Counts name nobody: a village operator of another village the warning reaches and a responder who helps
    # none of these households get the same shading, but not the other village's households / none at all.
    villages = sorted({v for *_, v, _ in roster})
    assert len(villages) > 1
    other, responder = Actor("村值班员", "village", villages[-1]), Actor("巡查员", "responder", handler_id="nobody")
    for viewer, points in ((other, sum(1 for *_, v, _ in roster if v == villages[-1])), (responder, 0)):
        theirs = drawn(viewer)
        for key in ("locations", "z", "text"):
            assert theirs[(EVACUATION_GRIDS, key)] == mine[(EVACUATION_GRIDS, key)], (viewer.role, key)
        assert theirs[(EVACUATION_GRIDS, "visible")] is True
        assert len(theirs[(EVACUATION, "lon")]) == points < len(roster)
    # A village the warning does not reach does not see the warning: no shading either.
    assert drawn(Actor("村值班员", "village", FOREIGN))[(EVACUATION_GRIDS, "visible")] is False
