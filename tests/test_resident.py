"""Residents (群众点单): /report, the nearby suggestion and 关注, /track and the 回访 that reopens (返工).

A real server on its own SQLite file, behind one trusted proxy so that each
HTTP test counts against an address of its own (``X-Forwarded-For``); the
browser is Chromium at 390×844 with touch. Expected values come from SQL
and from hashlib, not from the code under test.
"""
from __future__ import annotations

import hashlib
import io
import re
import time
from datetime import timedelta

import pytest
import requests
from conftest import LiveServer
from sqlalchemy import text

from township.accounts.tokens import create_token
from township.store.engine import make_engine

ADDRESS_LIMIT, PHONE_LIMIT, MIN_AGE_S, BITS = 3, 2, 2, 16
TIMEOUT = 30
#: A point well outside the town (Beijing).
OUTSIDE = (116.39, 39.91)
_n = iter(range(1, 10**6))


@pytest.fixture(scope="module")
def srv(tmp_path_factory, stores):
    s = LiveServer(tmp_path_factory.mktemp("resident"), {
        "DEMO_FEED": "0", "TRUSTED_PROXIES": "1", "REPORT_ADDRESS_LIMIT": str(ADDRESS_LIMIT),
        "REPORT_PHONE_LIMIT": str(PHONE_LIMIT), "REPORT_MIN_AGE_S": str(MIN_AGE_S),
        "REPORT_POW_BITS": str(BITS)}, stores.new("resident")).start()
    s.engine = make_engine(s.database_url)  # type: ignore[attr-defined]
    s.token = create_token(s.engine, "resident-test", "command")  # type: ignore[attr-defined]
    yield s
    s.stop()
    s.engine.dispose()


def sql(srv, query: str, **params) -> list:
    with srv.engine.connect() as conn:
        return list(conn.execute(text(query), params))


def one(srv, query: str, **params):
    return sql(srv, query, **params)[0][0]


def a_point(srv, village: str = "DL-03") -> tuple[float, float]:
    """A point inside ``village``: where one of its demo cases lies."""
    return tuple(sql(srv, "SELECT lon, lat FROM cases WHERE village_id = :v AND lon IS NOT NULL ORDER BY id LIMIT 1",
                     v=village)[0])  # type: ignore[return-value]


def client(address: str | None = None) -> requests.Session:
    http = requests.Session()
    http.headers["X-Forwarded-For"] = address or f"10.9.{next(_n) % 250}.{next(_n) % 250}"
    return http


def proof(http: requests.Session, srv) -> dict[str, str]:
    """A form token from the page and a proof of work for it, found with hashlib; once the token is old enough."""
    page = http.get(srv.url + "/report", timeout=TIMEOUT).text
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
    counter = 0
    while True:
        digest = hashlib.sha256(f"{token}:{counter}".encode()).digest()
        if int.from_bytes(digest[:4], "big") >> (32 - BITS) == 0:
            break
        counter += 1
    time.sleep(MIN_AGE_S + 0.2)
    return {"form_token": token, "pow": str(counter), "website": ""}


def report(srv, http, point=None, **fields) -> requests.Response:
    lon, lat = point or a_point(srv)
    data = {"category": "water", "description": "自来水停了两天", "lon": str(lon), "lat": str(lat), **fields}
    return http.post(srv.url + "/report", data=data, timeout=TIMEOUT)


def a_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def citizen_cases(srv) -> int:
    return one(srv, "SELECT count(*) FROM cases WHERE source = 'citizen'")


def api(srv, method: str, path: str, **body) -> requests.Response:
    return requests.request(method, srv.url + path, json=body or None, timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {srv.token}"})


def close_case(srv, case_id: int) -> None:
    """Through the API, as the desk and the handler would: dispatch … close."""
    handler = one(srv, "SELECT handler_id FROM handlers WHERE kind = 'officer' AND phone IS NOT NULL "
                       "AND village_id = (SELECT village_id FROM cases WHERE id = :i) ORDER BY handler_id LIMIT 1",
                  i=case_id)
    for move, params in (("dispatch", {"handler": handler}), ("accept", {}), ("start", {}),
                         ("resolve", {"result": "已修复"}), ("close", {"verification": "已核实"})):
        version = api(srv, "GET", f"/api/v1/cases/{case_id}").json()["version"]
        r = api(srv, "POST", f"/api/v1/cases/{case_id}/{move}", expected_version=version, **params)
        assert r.status_code == 200, (move, r.text)


# -- the browser: report, the nearby suggestion, follow, 回访 → 返工 ----------------------------------------------

def test_a_resident_reports_follows_and_reworks_on_a_phone(srv, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  locale="zh-CN")
    page = context.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(srv.url) else None)
    try:
        def open_form_at_dl03() -> None:
            page.goto(srv.url + "/report")
            page.wait_for_selector("body[data-ready='1']", timeout=20_000)
            # Tap the village where its name is written (its representative point lies inside it).
            box = page.locator("#town-map text", has_text="常树梁村").bounding_box()
            page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            assert "常树梁村" in page.inner_text("#report-place")
            page.locator("input[value=road_light]").check()

        open_form_at_dl03()
        page.fill("#report-description", "村口第三盏路灯不亮已一周")
        page.fill("#report-phone", "13900001111")
        page.set_input_files("#report-photo", files=[{"name": "light.jpg", "mimeType": "image/jpeg",
                                                      "buffer": a_jpeg()}])
        time.sleep(MIN_AGE_S)
        page.click("#report-send")
        page.wait_for_selector("#report-done")
        sent_at = time.monotonic()
        case_id = int(page.inner_text("#report-case"))
        code = page.inner_text("#report-link").rsplit("/", 1)[1]
        assert len(code) >= 16  # 96 bits and more, base64url
        [(source, status, village, type_, domain, phone)] = sql(
            srv, "SELECT source, status, village_id, type, domain, reporter_phone FROM cases WHERE id = :i", i=case_id)
        assert (source, status, village, type_, domain, phone) == (
            "citizen", "reported", "DL-03", "service", "construction", "13900001111")
        [(photos, width)] = sql(srv, "SELECT count(*), max(width) FROM photos WHERE case_id = :i", i=case_id)
        assert (photos, width) == (1, 320)
        # The dashboard's data (the snapshot the map draws, read through the API) has it within 2 s.
        while True:
            items = api(srv, "GET", "/api/v1/cases?village=DL-03&window=all&limit=5").json()["items"]
            if any(c["id"] == case_id for c in items):
                break
            assert time.monotonic() - sent_at < 2, "the report is not in the dashboard's data after 2 s"
            time.sleep(0.1)

        # A second resident at the same spot: the nearby suggestion, and following instead of reporting.
        open_form_at_dl03()
        page.wait_for_selector(f"#nearby button.follow[data-case='{case_id}']")
        assert "附近已有人反映" in page.inner_text("#nearby")
        page.fill("#report-phone", "13900002222")
        time.sleep(MIN_AGE_S)
        page.click(f"#nearby button.follow[data-case='{case_id}']")
        page.wait_for_selector("#report-done")
        assert "已关注" in page.inner_text("#report-done") and int(page.inner_text("#report-case")) == case_id
        follow_code = page.inner_text("#report-link").rsplit("/", 1)[1]
        assert follow_code != code
        assert citizen_cases_for(srv, case_id) == 1
        follows = one(srv, "SELECT count(*) FROM resident_tracks WHERE case_id = :i AND kind = 'follow'", i=case_id)
        assert follows == 1 and api(srv, "GET", f"/api/v1/cases/{case_id}").json()["follows"] == follows
        phones = sorted(r[0] for r in sql(srv, "SELECT phone FROM resident_tracks WHERE case_id = :i", i=case_id))
        from township.read.resident import followers_of
        assert followers_of(srv.engine, case_id) == phones == ["13900001111", "13900002222"]

        # Done through the API; the reporter says 不满意 on the tracking page: reopened, counted as 返工.
        close_case(srv, case_id)
        page.goto(f"{srv.url}/track/{code}")
        assert page.get_attribute("#track-status", "data-status") == "closed"
        page.fill("#revisit-comment", "灯还是不亮")
        page.click("#revisit-no")
        page.wait_for_selector("#revisit-reopened")
        [(status, resolved_at)] = sql(srv, "SELECT status, resolved_at FROM cases WHERE id = :i", i=case_id)
        assert status == "returned" and resolved_at is None
        assert one(srv, "SELECT count(*) FROM case_events WHERE case_id = :i AND action = 'reopen'", i=case_id) == 1
        page.screenshot(path=str(srv.log.parent / "track.png"), full_page=True)
        # The follower's link shows the progress but asks no 回访.
        page.goto(f"{srv.url}/track/{follow_code}")
        assert page.locator("#revisit-form").count() == 0
        assert not outside, f"the resident's pages loaded from outside: {outside[:3]}"
    finally:
        context.close()

    # 返工率 on the daily report equals SQL: reworked cases / cases resolved at least once.
    reworked = one(srv, "SELECT count(DISTINCT case_id) FROM resident_feedback WHERE reopened")
    resolved = one(srv, "SELECT count(*) FROM cases WHERE status IN ('resolved', 'closed') OR id IN "
                        "(SELECT case_id FROM resident_feedback WHERE reopened)")
    assert reworked == 1
    html = api(srv, "GET", "/report/daily?window=all").text
    shown = re.search(r'data-kpi="返工率"><b>([^<]+)</b>', html).group(1)
    assert shown == f"{reworked / resolved * 100:.1f}%"


def citizen_cases_for(srv, case_id: int) -> int:
    """Citizen cases at the point of ``case_id`` (a follow must not have filed another)."""
    return one(srv, "SELECT count(*) FROM cases WHERE source = 'citizen' AND lon = (SELECT lon FROM cases WHERE "
                    "id = :i) AND lat = (SELECT lat FROM cases WHERE id = :i)", i=case_id)


# -- HTTP: the anti-abuse check, the throttle, the place, the tracking page -------------------------------------

def test_a_plain_post_without_the_proof_is_refused_in_words(srv):
    before = citizen_cases(srv)
    http = client()
    r = report(srv, http)
    assert r.status_code == 400 and "form_token" in r.text and "自来水停了两天" in r.text  # the form comes back
    p = proof(http, srv)
    r = report(srv, http, **{**p, "pow": ""})
    assert r.status_code == 400 and "pow" in r.text
    r = report(srv, http, **{**p, "website": "http://spam.example"})
    assert r.status_code == 400 and "website" in r.text
    # Sent at once (the age is checked before the work: no time spent on a proof here).
    fresh = re.search(r'name="form_token" value="([^"]+)"', http.get(srv.url + "/report", timeout=TIMEOUT).text)
    r = report(srv, http, form_token=fresh.group(1), pow="0", website="")
    assert r.status_code == 400 and "sent too quickly" in r.text
    forged = dict(p, form_token=p["form_token"][:-1] + ("0" if p["form_token"][-1] != "0" else "1"))
    assert report(srv, http, **forged).status_code == 400
    assert citizen_cases(srv) == before


def test_the_throttle_answers_429_past_the_limit_per_address_and_per_phone(srv):
    http = client("10.77.0.1")
    before = citizen_cases(srv)
    for _ in range(ADDRESS_LIMIT):
        assert report(srv, http, **proof(http, srv)).status_code == 201
    r = report(srv, http, **proof(http, srv))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0 and "try again in" in r.text
    assert citizen_cases(srv) == before + ADDRESS_LIMIT
    # Per phone, from addresses of their own.
    for n in range(PHONE_LIMIT):
        other = client(f"10.78.0.{n + 1}")
        assert report(srv, other, phone="13700001234", **proof(other, srv)).status_code == 201
    last = client("10.78.0.99")
    r = report(srv, last, phone="137 0000 1234", **proof(last, srv))
    assert r.status_code == 429 and r.headers["Retry-After"]
    assert citizen_cases(srv) == before + ADDRESS_LIMIT + PHONE_LIMIT


def test_a_point_outside_the_town_is_refused_in_words(srv):
    http = client()
    before = citizen_cases(srv)
    r = report(srv, http, point=OUTSIDE, **proof(http, srv))
    assert r.status_code == 422 and "不在本镇范围内" in r.text and "outside the town" in r.text
    assert "自来水停了两天" in r.text  # nothing typed is lost
    r = report(srv, http, phone="12345", **proof(http, srv))
    assert r.status_code == 422 and "phone" in r.text
    assert citizen_cases(srv) == before


def test_a_file_that_is_no_photo_is_refused_and_nothing_is_stored(srv):
    http = client()
    before = citizen_cases(srv), one(srv, "SELECT count(*) FROM photos")
    lon, lat = a_point(srv)
    data = {"category": "water", "description": "自来水停了两天", "lon": str(lon), "lat": str(lat), **proof(http, srv)}
    r = http.post(srv.url + "/report", data=data, files=[("photo", ("x.jpg", b"not a photo at all", "image/jpeg"))],
                  timeout=TIMEOUT)
    assert r.status_code in (415, 422) and "photo" in r.text and "自来水停了两天" in r.text
    assert (citizen_cases(srv), one(srv, "SELECT count(*) FROM photos")) == before


def test_an_unknown_tracking_code_is_404(srv):
    r = requests.get(srv.url + "/track/not-a-code-of-ours", timeout=TIMEOUT)
    assert r.status_code == 404 and "没有这个查询码" in r.text
    r = requests.post(srv.url + "/track/not-a-code-of-ours", data={"answer": "no"}, timeout=TIMEOUT)
    assert r.status_code == 404


def test_the_tracking_page_shows_no_staff_name_or_phone(srv):
    http = client()
    r = report(srv, http, point=a_point(srv, "DL-05"), phone="13600001111", **proof(http, srv))
    assert r.status_code == 201, r.text
    case_id = int(re.search(r'id="report-case">(\d+)<', r.text).group(1))
    code = re.search(r'id="report-link">/track/([^<]+)<', r.text).group(1)
    close_case(srv, case_id)
    page = requests.get(f"{srv.url}/track/{code}", timeout=TIMEOUT).text
    phones = {p for (p,) in sql(srv, "SELECT phone FROM handlers WHERE phone IS NOT NULL")}
    names = {n for (n,) in sql(srv, "SELECT name FROM handlers WHERE kind IN ('officer', 'party_member')")}
    [(handler,)] = sql(srv, "SELECT handler FROM cases WHERE id = :i", i=case_id)
    assert handler in names and handler not in page
    assert not [p for p in phones if p in page] and "13600001111" not in page
    assert "已修复" not in page and "已核实" not in page  # the staff's notes stay inside


def test_a_satisfied_answer_counts_once_in_the_satisfaction_rate(srv):
    http = client()
    r = report(srv, http, point=a_point(srv, "DL-07"), **proof(http, srv))
    case_id = int(re.search(r'id="report-case">(\d+)<', r.text).group(1))
    code = re.search(r'id="report-link">/track/([^<]+)<', r.text).group(1)
    early = requests.post(f"{srv.url}/track/{code}", data={"answer": "yes"}, timeout=TIMEOUT)
    assert early.status_code == 409 and "尚未办结" in early.text  # nothing to answer before 办结
    close_case(srv, case_id)
    r = requests.post(f"{srv.url}/track/{code}", data={"answer": "yes", "comment": "谢谢"}, timeout=TIMEOUT)
    assert r.status_code == 200 and 'id="revisit-answer"' in r.text and 'id="revisit-form"' not in r.text
    again = requests.post(f"{srv.url}/track/{code}", data={"answer": "no"}, timeout=TIMEOUT)
    assert again.status_code == 409 and one(srv, "SELECT status FROM cases WHERE id = :i", i=case_id) == "closed"
    [(answered, satisfied)] = sql(srv, "SELECT count(*), sum(CASE WHEN satisfied THEN 1 ELSE 0 END) "
                                       "FROM resident_feedback")
    html = api(srv, "GET", "/report/daily?window=all").text
    shown = re.search(r'data-kpi="满意率"><b>([^<]+)</b>', html).group(1)
    assert shown == f"{satisfied / answered * 100:.1f}%"


def test_revisit_reopens_up_to_the_limit_and_not_a_second_later(township_ctx):
    """不满意 exactly REVISIT_REOPEN_DAYS after 办结 reopens the case; one second later it is only recorded."""
    from township.formats.citizen import ResidentReport
    from township.loop.resident import answer_revisit, file_report
    from township.loop.workflow import Actor, apply_move
    from township.store.models import utcnow
    from township.store.uow import UnitOfWork

    tw, days = township_ctx.township, township_ctx.settings.revisit_reopen_days
    cmd = Actor("测试", "command")
    with tw.engine.connect() as conn:
        officer = conn.execute(text("SELECT handler_id FROM handlers WHERE kind = 'officer' LIMIT 1")).scalar()
    outcomes = {}
    for late in (timedelta(0), timedelta(seconds=1)):
        lon, lat = tw.gridset.geometry(tw.gridset.ids(level=3)[0]).representative_point().coords[0]
        with UnitOfWork(tw.engine) as uow:
            done = file_report(uow, tw.gridset, ResidentReport(category="water", description="停水", lon=lon, lat=lat))
            uow.commit()
        resolved = utcnow() - timedelta(days=30)
        for move, params in (("dispatch", {"handler": officer}), ("accept", {}), ("start", {}),
                             ("resolve", {"result": "修好"})):
            apply_move(tw.engine, done.case_id, move, cmd, now=resolved, **params)
        with UnitOfWork(tw.engine) as uow:
            answered = answer_revisit(uow, done.code, False, "不行", reopen_days=days,
                                      now=resolved + timedelta(days=days) + late)
            uow.commit()
        with tw.engine.connect() as conn:
            status = conn.execute(text("SELECT status FROM cases WHERE id = :i"), {"i": done.case_id}).scalar()
        outcomes[late.total_seconds()] = (answered.reopened, status)
    assert outcomes == {0.0: (True, "returned"), 1.0: (False, "resolved")}
