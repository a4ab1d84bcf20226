"""The field app ``/m`` on a phone (390×844, touch) against a real server: sign-in, 接单 → 开始处置 → 办结,
a patrol report, moves made offline and sent once, a stale move shown as refused; device sessions and
idempotency keys over plain HTTP.

Expected values come from the store by SQL and from the grid file by shapely, not from the app's code.
"""
from __future__ import annotations

import io
import json
import re
import secrets
import subprocess
import sys
import time

import pytest
import requests
from conftest import ROOT, LiveServer
from PIL import Image
from shapely.geometry import Point, shape
from sqlalchemy import text

from township.accounts.tokens import create_token
from township.config import BUNDLED_GRIDS
from township.store.engine import make_engine

TIMEOUT = 30
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "locale": "zh-CN"}
OWN_GRID = "DL-01-01"
#: Demo accounts (README): party members of 小滩子村第1网格 and its grid officer.
PARTY01 = ("party01", "dalu-party01", "H-PM-DL-01-01-01")
PARTY02 = ("party02", "dalu-party02", "H-PM-DL-01-01-02")
PARTY03 = ("party03", "dalu-party03", "H-PM-DL-03-01-01")
OFFICER = ("responder", "dalu-responder", "H-OF-DL-01-01")


@pytest.fixture(scope="module")
def srv(tmp_path_factory, stores):
    """An app as ``make run`` starts it (sign-in required, demo users and year), no feed writing meanwhile."""
    s = LiveServer(tmp_path_factory.mktemp("field"), {"DEFAULT_ROLE": "", "DEMO_FEED": "0"},
                   stores.new("field")).start()
    s.engine = make_engine(s.database_url)  # type: ignore[attr-defined]
    s.token = create_token(s.engine, "field-test", "command")  # type: ignore[attr-defined]
    yield s
    s.stop()
    s.engine.dispose()


def sql(srv, query: str, **params) -> list:
    with srv.engine.connect() as conn:
        return list(conn.execute(text(query), params))


def api(srv, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, srv.url + path, headers={"Authorization": f"Bearer {srv.token}"},
                            timeout=TIMEOUT, **kw)


CAMERA = "FieldTestCam X1"


def jpeg_with_exif(lon: float, lat: float) -> bytes:
    """A real JPEG photo whose EXIF names the camera and holds a GPS position (what must not be served)."""
    img = Image.new("RGB", (640, 480), (90, 140, 60))
    exif = Image.Exif()
    exif[0x010F] = "FieldTest"  # Make
    exif[0x0110] = CAMERA  # Model

    def dms(x: float) -> tuple[float, float, float]:
        d = int(x)
        m = int((x - d) * 60)
        return (float(d), float(m), round((x - d - m / 60) * 3600, 2))

    exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}  # GPSInfo
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    data = out.getvalue()
    assert CAMERA.encode() in data and Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    return data


def photo_file(lon: float, lat: float, name: str = "IMG_0001.jpg") -> dict:
    return {"name": name, "mimeType": "image/jpeg", "buffer": jpeg_with_exif(lon, lat)}


def grid_shapes() -> dict[str, object]:
    with open(BUNDLED_GRIDS, encoding="utf-8") as fh:
        doc = json.load(fh)
    return {f["properties"]["grid_id"]: shape(f["geometry"]) for f in doc["features"]}


def new_case(srv, dispatch_to: str | None, type_: str = "hotline") -> int:
    """A case in ``OWN_GRID`` from the hotline, dispatched to a handler or the village pool (``pool``)."""
    inner = grid_shapes()[OWN_GRID].representative_point()
    r = api(srv, "POST", "/api/v1/cases", json={
        "source": "hotline", "external_id": f"FIELD-{secrets.token_hex(4)}", "type": type_, "domain": "livelihood",
        "title": "村口路灯不亮", "description": "村口路灯不亮,晚上看不见路", "lon": inner.x, "lat": inner.y,
        "reporter": "测试人", "reporter_phone": "13900001111"})
    assert r.status_code == 201, r.text
    case_id = r.json()[0]["id"]
    if dispatch_to:
        moved = api(srv, "POST", f"/api/v1/cases/{case_id}/dispatch", json={
            "expected_version": version(srv, case_id), "handler": dispatch_to})
        assert moved.status_code == 200, moved.text
    return case_id


def until(check, timeout: float = 20.0) -> None:
    """Wait until ``check()`` is true (what the phone sends arrives in its own time)."""
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.2)


def version(srv, case_id: int) -> int:
    return sql(srv, "SELECT version FROM cases WHERE id = :i", i=case_id)[0][0]


def status(srv, case_id: int) -> str:
    return sql(srv, "SELECT status FROM cases WHERE id = :i", i=case_id)[0][0]


def events(srv, case_id: int, action: str) -> list:
    return sql(srv, "SELECT actor, note FROM case_events WHERE case_id = :i AND action = :a ORDER BY id",
               i=case_id, a=action)


@pytest.fixture
def phone(browser, srv):
    """A phone's browser context (390×844, touch, a position in the own grid), its page recording errors."""
    inner = grid_shapes()[OWN_GRID].representative_point()
    ctx = browser.new_context(**PHONE, geolocation={"longitude": inner.x, "latitude": inner.y},
                              permissions=["geolocation"])
    page = ctx.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    ctx.close()


def sign_in(page, srv, who: tuple[str, str, str]) -> None:
    page.goto(srv.url + "/m")
    page.wait_for_selector("#m-login")  # not signed in: the field app's own form
    page.fill("#m-username", who[0])
    page.fill("#m-password", who[1])
    page.tap("#m-login-submit")
    page.wait_for_selector("#m-mine")


def tap_move(page, move: str, text_: str = "") -> None:
    form = f"form[data-move={move}]"
    if text_:
        page.fill(f"{form} textarea", text_)
    page.tap(f"#m-do-{move}")


# -- the loop from the phone --------------------------------------------------------------------------


def test_party_member_takes_a_pool_order_starts_and_resolves_it_with_a_photo(srv, phone):
    case_id = new_case(srv, "pool", "hazard")  # a hazard needs a 办结 photo (FIELD_PHOTO_REQUIRED's default)
    sign_in(phone, srv, PARTY01)
    pool = phone.locator("#m-pool a.m-item")
    assert f"/m/case/{case_id}" in [pool.nth(i).get_attribute("href") for i in range(pool.count())]
    phone.tap(f"#m-pool a[href='/m/case/{case_id}']")
    phone.wait_for_selector("#m-do-accept")
    # Only the moves of the workflow for this person now: 接单 of a pool order, nothing else.
    assert phone.locator("#m-moves button").count() == 1
    tap_move(phone, "accept")
    phone.wait_for_selector("#m-do-start", timeout=20000)
    assert status(srv, case_id) == "accepted"
    tap_move(phone, "start")
    phone.wait_for_selector("#m-do-resolve", timeout=20000)
    assert status(srv, case_id) == "in_progress"
    assert phone.locator("form[data-move=resolve] .m-hint").count() == 1  # says a photo is needed
    inner = grid_shapes()[OWN_GRID].representative_point()
    phone.set_input_files("form[data-move=resolve] input[type=file]", [photo_file(inner.x, inner.y)])
    tap_move(phone, "resolve", "路灯已更换,恢复照明")
    phone.wait_for_selector("#m-no-moves", timeout=20000)
    assert status(srv, case_id) == "resolved"
    assert sql(srv, "SELECT purpose, uploader FROM photos WHERE case_id = :i", i=case_id) == [
        ("resolve", sql(srv, "SELECT display_name FROM users WHERE username = 'party01'")[0][0])]
    # The page shows the photo, served to this phone.
    phone.locator("#m-photos img").first.wait_for()
    # loaded and decoded (a photo refused to this phone would never get a width)
    phone.wait_for_function("(i => i.complete && i.naturalWidth > 0)(document.querySelector('#m-photos img'))",
                            timeout=20000)
    # The timeline says who in words: no API token's name, source code or handler id (the store has them).
    trail = phone.inner_text("#m-trail")
    logged = sql(srv, "SELECT actor, note FROM case_events WHERE case_id = :i", i=case_id)
    assert any(a.startswith("api:") for a, _ in logged) and any(n == "hotline" for _, n in logged), logged
    assert "api:" not in trail and "hotline" not in trail and not re.search(r"\(H-[A-Z]+-", trail), trail
    assert "市长热线" in trail or "12345" in trail, trail
    assert not phone.errors
    # The audit trail names the party member; 开始处置 recorded where the phone was.
    name = sql(srv, "SELECT display_name FROM users WHERE username = 'party01'")[0][0]
    assert [a for a, _ in events(srv, case_id, "accept")] == [name]
    start_note = events(srv, case_id, "start")[0][1]
    assert f"位置 {inner.x:.5f},{inner.y:.5f}" in start_note and "手机时间" in start_note
    assert events(srv, case_id, "resolve")[0][1].startswith("路灯已更换")
    assert sql(srv, "SELECT handler_id FROM case_assignments WHERE case_id = :i", i=case_id)[0][0] == PARTY01[2]
    # The dashboard's view (the snapshot the map and the case card read) shows it resolved.
    r = api(srv, "GET", "/api/v1/cases?status=resolved&window=all&limit=1000&format=geojson")
    assert case_id in {f["id"] for f in r.json()["features"]}
    # Done on the phone: gone from my tasks and from the pool.
    phone.goto(srv.url + "/m")
    assert phone.locator(f"a[href='/m/case/{case_id}']").count() == 0


def test_officer_reports_a_patrol_case_with_a_photo_served_without_exif(srv, phone):
    sign_in(phone, srv, OFFICER)
    before = sql(srv, "SELECT count(*) FROM cases WHERE source = 'patrol'")[0][0]
    phone.tap("#m-report-link")
    phone.wait_for_selector("#m-pick-map")
    phone.select_option("select[name=type]", "hazard")
    phone.select_option("select[name=domain]", "safety")
    phone.fill("textarea[name=description]", "桥头护栏松动,有坠落风险")
    box = phone.locator("#m-pick-map").bounding_box()
    phone.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    lon = float(phone.input_value("input[name=lon]"))
    lat = float(phone.input_value("input[name=lat]"))
    phone.set_input_files("#m-report input[type=file]", [photo_file(lon, lat)])
    phone.tap("#m-send")
    until(lambda: sql(srv, "SELECT count(*) FROM cases WHERE source = 'patrol'")[0][0] > before)
    phone.locator("#m-outbox").wait_for(state="hidden", timeout=20000)
    rows = sql(srv, "SELECT id, type, domain, grid_id, lon, lat, reporter, status FROM cases "
               "WHERE source = 'patrol' ORDER BY id DESC")
    assert len(rows) == before + 1
    _, type_, domain, grid_id, slon, slat, reporter, st = rows[0]
    assert (type_, domain, st) == ("hazard", "safety", "reported")
    assert (round(slon, 6), round(slat, 6)) == (round(lon, 6), round(lat, 6))
    # The tapped point lies in the grid the case was placed in, by shapely on the grid file.
    assert grid_shapes()[grid_id].covers(Point(slon, slat))
    assert grid_id.startswith("DL-01-")
    assert reporter == sql(srv, "SELECT display_name FROM users WHERE username = 'responder'")[0][0]
    # Its photo arrives after the report (the case's id comes with the answer); the served copy carries no EXIF.
    case_id = rows[0][0]
    until(lambda: sql(srv, "SELECT count(*) FROM photos WHERE case_id = :i", i=case_id)[0][0] == 1)
    phone.locator("#m-outbox").wait_for(state="hidden", timeout=20000)
    photo_id = sql(srv, "SELECT id FROM photos WHERE case_id = :i", i=case_id)[0][0]
    for suffix in ("", "/thumb"):
        served = phone.context.request.get(srv.url + f"/m/photos/{photo_id}{suffix}")
        assert served.status == 200 and served.headers["content-type"] == "image/jpeg"
        body = served.body()
        assert not Image.open(io.BytesIO(body)).getexif() and CAMERA.encode() not in body and b"Exif" not in body
    # Nobody else's cookie gets it: without the phone's session there is no photo.
    assert requests.get(srv.url + f"/m/photos/{photo_id}", allow_redirects=False, timeout=TIMEOUT).status_code == 302
    assert not phone.errors


def test_a_report_without_a_position_takes_the_one_of_its_photo(srv, phone):
    """No position from the phone and no tap: the photo's EXIF GPS, read on the phone, places the report."""
    target = grid_shapes()["DL-01-02"].representative_point()
    sign_in(phone, srv, OFFICER)
    phone.goto(srv.url + "/m/report")
    phone.fill("textarea[name=description]", "道路塌陷一处")
    phone.set_input_files("#m-report input[type=file]", [photo_file(target.x, target.y)])
    until(lambda: phone.input_value("input[name=lon]") != "")
    assert "取自照片" in phone.inner_text("#m-position")
    before = sql(srv, "SELECT max(id) FROM cases")[0][0]
    phone.tap("#m-send")
    until(lambda: sql(srv, "SELECT count(*) FROM photos p JOIN cases c ON c.id = p.case_id WHERE c.id > :b "
                          "AND c.source = 'patrol'", b=before)[0][0] == 1)
    lon, lat, grid_id = sql(srv, "SELECT lon, lat, grid_id FROM cases WHERE id > :b AND source = 'patrol'",
                            b=before)[0]
    assert abs(lon - target.x) < 1e-4 and abs(lat - target.y) < 1e-4  # EXIF keeps seconds to 1/100
    assert grid_id == "DL-01-02" and grid_shapes()[grid_id].covers(Point(lon, lat))


# -- dead zones -----------------------------------------------------------------------------------------


def test_a_move_and_a_photo_made_offline_wait_and_arrive_once(srv, phone):
    case_id = new_case(srv, PARTY02[2], "hazard")
    # Accepted and started already (from the API, as the party member's own phone would have).
    token = create_token(srv.engine, f"phone-{secrets.token_hex(3)}", "responder", None, PARTY02[2])
    for move in ("accept", "start"):
        r = requests.post(srv.url + f"/api/v1/cases/{case_id}/{move}", json={"expected_version": version(srv, case_id)},
                          headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
    sign_in(phone, srv, PARTY02)
    phone.tap(f"#m-mine a[href='/m/case/{case_id}']")
    phone.wait_for_selector("#m-do-resolve")
    phone.context.set_offline(True)
    inner = grid_shapes()[OWN_GRID].representative_point()
    phone.set_input_files("form[data-move=resolve] input[type=file]", [photo_file(inner.x, inner.y)])
    tap_move(phone, "resolve", "裂缝已封堵")
    phone.wait_for_selector("#m-outbox .m-waiting")
    assert "待发送 (1)" in phone.inner_text("#m-outbox") and "1 张照片" in phone.inner_text("#m-outbox")
    assert events(srv, case_id, "resolve") == [] and events(srv, case_id, "photo") == []
    # Still readable offline: the service worker serves the task list from its copy.
    phone.goto(srv.url + "/m")
    assert phone.locator(f"a[href='/m/case/{case_id}']").count() == 1
    assert "待发送 (1)" in phone.inner_text("#m-outbox")
    phone.context.set_offline(False)
    phone.locator("#m-outbox").wait_for(state="hidden", timeout=30000)
    assert status(srv, case_id) == "resolved"
    assert len(events(srv, case_id, "resolve")) == 1 and len(events(srv, case_id, "photo")) == 1
    assert sql(srv, "SELECT count(*), min(purpose) FROM photos WHERE case_id = :i", i=case_id) == [(1, "resolve")]
    assert not phone.errors


def test_a_move_that_became_stale_offline_is_shown_as_refused(srv, phone):
    case_id = new_case(srv, PARTY02[2])
    sign_in(phone, srv, PARTY02)
    phone.goto(srv.url + f"/m/case/{case_id}")
    phone.wait_for_selector("#m-do-accept")
    phone.context.set_offline(True)
    tap_move(phone, "accept")
    phone.wait_for_selector("#m-outbox .m-waiting")
    # Meanwhile the command centre changes the case.
    r = api(srv, "POST", f"/api/v1/cases/{case_id}/escalate", json={"expected_version": version(srv, case_id),
                                                                    "reason": "群众再次来电"})
    assert r.status_code == 200, r.text
    phone.context.set_offline(False)
    phone.wait_for_selector("#m-outbox .m-refused", timeout=30000)
    words = phone.inner_text("#m-outbox .m-refused")
    assert "未被接受" in words and "changed by someone else" in words
    assert events(srv, case_id, "accept") == []
    assert status(srv, case_id) == "dispatched"
    phone.tap("#m-outbox button[data-dismiss]")
    phone.locator("#m-outbox").wait_for(state="hidden")


# -- sessions and keys over HTTP ---------------------------------------------------------------------------


def field_session(srv, who: tuple[str, str, str]) -> requests.Session:
    s = requests.Session()
    r = s.post(srv.url + "/m/login", data={"username": who[0], "password": who[1]}, allow_redirects=False,
               timeout=TIMEOUT)
    assert r.status_code == 302 and r.headers["Location"] == "/m", r.text
    return s


def test_a_replayed_key_answers_the_first_result_and_applies_once(srv):
    case_id = new_case(srv, PARTY02[2])
    s = field_session(srv, PARTY02)
    body = {"key": secrets.token_hex(16), "expected_version": version(srv, case_id), "text": "马上到"}
    first = s.post(srv.url + f"/m/api/cases/{case_id}/accept", json=body, timeout=TIMEOUT)
    again = s.post(srv.url + f"/m/api/cases/{case_id}/accept", json=body, timeout=TIMEOUT)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json()["version"] == first.json()["version"] and again.json()["replayed"] is True
    assert len(events(srv, case_id, "accept")) == 1
    # Made on this phone by another account (the page says whose): not sent as this one, kept for later.
    uid = sql(srv, "SELECT id FROM users WHERE username = 'party02'")[0][0]
    r = s.post(srv.url + f"/m/api/cases/{case_id}/start", json={**body, "key": secrets.token_hex(16)},
               headers={"X-Field-Owner": str(uid + 1000)}, timeout=TIMEOUT)
    assert r.status_code == 401 and events(srv, case_id, "start") == []
    # A refusal is an answer too: the same key answers it again, and nothing is applied.
    stale = {"key": secrets.token_hex(16), "expected_version": 1, "text": "x"}
    one = s.post(srv.url + f"/m/api/cases/{case_id}/start", json=stale, timeout=TIMEOUT)
    two = s.post(srv.url + f"/m/api/cases/{case_id}/start", json=stale, timeout=TIMEOUT)
    assert one.status_code == two.status_code == 409
    assert one.json()["errors"] == two.json()["errors"]
    assert events(srv, case_id, "start") == []
    # Bad input names the field; no key is no request.
    for bad, field in (({"expected_version": 1}, "key"), ({"key": "k" * 20, "expected_version": "7"},
                                                          "expected_version"),
                       ({"key": "k" * 20, "expected_version": 1, "lon": 500}, "lon")):
        r = s.post(srv.url + f"/m/api/cases/{case_id}/start", json=bad, timeout=TIMEOUT)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == field, r.text
    # A hazard is not resolved without a photo of the result: the refusal says so, nothing changes.
    hazard = new_case(srv, PARTY02[2], "hazard")
    for move in ("accept", "start", "resolve"):
        r = s.post(srv.url + f"/m/api/cases/{hazard}/{move}", json={
            "key": secrets.token_hex(16), "expected_version": version(srv, hazard), "text": "已处理"}, timeout=TIMEOUT)
    assert r.status_code == 422 and "photo" in r.json()["errors"][0]["message"], r.text
    assert status(srv, hazard) == "in_progress"
    r = s.post(srv.url + "/m/api/reports", json={"key": "k" * 21, "type": "hazard", "domain": "safety",
                                                 "description": "x", "lon": 100.0, "lat": 10.0}, timeout=TIMEOUT)
    assert r.status_code == 422 and "outside" in r.text, r.text


def test_device_sessions_sign_out_revoke_and_who_may_sign_in(srv):
    from township.accounts.devices import list_devices, revoke_user_devices

    s = field_session(srv, PARTY01)
    assert s.get(srv.url + "/m", allow_redirects=False, timeout=TIMEOUT).status_code == 200
    cookie = next(c for c in s.cookies if c.name == "township_device")
    assert cookie.path == "/m" and cookie.expires and cookie.has_nonstandard_attr("HttpOnly")
    uid = sql(srv, "SELECT id FROM users WHERE username = 'party01'")[0][0]
    # An admin revokes every phone of the person: the next request signs in again.
    assert revoke_user_devices(srv.engine, uid) >= 1
    assert s.get(srv.url + "/m", allow_redirects=False, timeout=TIMEOUT).headers["Location"] == "/m/login"
    assert s.post(srv.url + "/m/api/reports", json={}, timeout=TIMEOUT).status_code == 401
    # The person signs out: that session is revoked, the cookie gone.
    s = field_session(srv, PARTY01)
    r = s.post(srv.url + "/m/logout", allow_redirects=False, timeout=TIMEOUT)
    assert r.headers["Location"] == "/m/login"
    mine = list_devices(srv.engine, "party01")
    assert mine and not any(d.active for d in mine)
    # Only a responder acting as a handler signs in here; the command centre uses the dashboard.
    r = requests.post(srv.url + "/m/login", data={"username": "command", "password": "dalu-command"},
                      allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 403 and "township_device" not in r.headers.get("Set-Cookie", "")
    r = requests.post(srv.url + "/m/login", data={"username": "party01", "password": "wrong-one"},
                      allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 401
    # A forged cookie signs no one in.
    r = requests.get(srv.url + "/m", cookies={"township_device": "forged"}, allow_redirects=False, timeout=TIMEOUT)
    assert r.headers["Location"] == "/m/login"


def test_an_admin_revokes_a_phone_from_the_command_line_and_other_sites_cannot_write(srv):
    s = field_session(srv, PARTY03)
    assert s.get(srv.url + "/m", allow_redirects=False, timeout=TIMEOUT).status_code == 200
    # A page of another site cannot make the phone write (the cookie rides along, the browser says where from).
    r = s.post(srv.url + "/m/api/reports", json={"key": "x" * 20}, headers={"Sec-Fetch-Site": "cross-site"},
               timeout=TIMEOUT)
    assert r.status_code == 403
    env = {**srv.env, "DATABASE_URL": srv.database_url}
    listed = subprocess.run([sys.executable, "-m", "township", "devices", "--user", "party03"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "party03" in listed.stdout and "active" in listed.stdout, listed.stderr
    done = subprocess.run([sys.executable, "-m", "township", "devices", "--revoke-user", "party03"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sql(srv, "SELECT count(*) FROM device_sessions d JOIN users u ON u.id = d.user_id "
               "WHERE u.username = 'party03' AND d.revoked_at IS NULL")[0][0] == 0
    assert s.get(srv.url + "/m", allow_redirects=False, timeout=TIMEOUT).headers["Location"] == "/m/login"


def test_what_waits_on_a_phone_is_sent_only_as_the_person_who_made_it(srv, phone):
    case_id = new_case(srv, PARTY02[2])
    sign_in(phone, srv, PARTY02)
    phone.goto(srv.url + f"/m/case/{case_id}")
    phone.wait_for_selector("#m-do-accept")
    phone.context.set_offline(True)
    tap_move(phone, "accept")
    phone.wait_for_selector("#m-outbox .m-waiting")
    # The phone changes hands while offline: party01 signs in on it (their device cookie replaces party02's).
    theirs = phone.context.cookies()
    other = field_session(srv, PARTY01)
    mine = next(c for c in theirs if c["name"] == "township_device")
    phone.context.add_cookies([{**mine, "value": other.cookies.get("township_device")}])
    phone.context.set_offline(False)
    phone.goto(srv.url + "/m")
    phone.wait_for_selector("#m-mine")
    assert phone.inner_text(".m-who") == sql(srv, "SELECT display_name FROM users WHERE username = 'party01'")[0][0]
    assert phone.locator("#m-outbox").is_hidden()  # party02's waiting move is not party01's to see or send
    time.sleep(2)
    assert events(srv, case_id, "accept") == []
    # Back with party02's session, it goes out, once, as party02.
    phone.context.add_cookies([mine])
    phone.goto(srv.url + "/m")
    until(lambda: len(events(srv, case_id, "accept")) == 1)
    name = sql(srv, "SELECT display_name FROM users WHERE username = 'party02'")[0][0]
    assert [a for a, _ in events(srv, case_id, "accept")] == [name]
