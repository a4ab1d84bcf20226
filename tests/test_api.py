"""The JSON API over real HTTP: a real app process on a real store (SQLite or PostgreSQL)."""
from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import text

from township.config import BUNDLED_GRIDS
from township.domain.vocab import OPEN_STATUSES
from township.grids.validate import load_grid_file
from township.store.models import utcnow

pytestmark = pytest.mark.store


@pytest.fixture(scope="module")
def grids():
    return load_grid_file(BUNDLED_GRIDS)


def point_in(grids, grid_id: str) -> tuple[float, float]:
    """A point inside a grid (or village): its representative point."""
    p = grids.geometry(grid_id).representative_point()
    return round(p.x, 6), round(p.y, 6)


def auth(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


def uid(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def a_case(grids, grid_id: str = "DL-03-02", **extra) -> dict:
    lon, lat = point_in(grids, grid_id)
    return {"source": "hotline", "external_id": uid("HL"), "type": "hotline", "domain": "livelihood",
            "title": "自来水管漏水", "description": "村口水管破裂", "lon": lon, "lat": lat, **extra}


def sql(srv, query: str, **params):
    with srv.engine.connect() as conn:
        return conn.execute(text(query), params).all()


def post(srv, path: str, body, token: str | None, **kw) -> requests.Response:
    return requests.post(srv.url + path, json=body, headers=auth(token), timeout=30, **kw)


def get(srv, path: str, token: str | None = None, **kw) -> requests.Response:
    return requests.get(srv.url + path, headers={**auth(token), **kw.pop("headers", {})}, timeout=30, **kw)


def version(srv) -> int:
    return get(srv, "/api/v1/version").json()["version"]


# -- writing ---------------------------------------------------------------------------------------


def test_one_case_is_created_located_and_readable(api_server, grids):
    before = version(api_server)
    body = a_case(grids, "DL-03-02", reporter="张三丰", reporter_phone="13812341234")
    r = post(api_server, "/api/v1/cases", body, api_server.tokens["command"])
    assert r.status_code == 201, r.text
    [w] = r.json()
    assert w["created"] is True and w["grid_id"] == "DL-03-02"
    assert version(api_server) == before + 1

    case = get(api_server, f"/api/v1/cases/{w['id']}", api_server.tokens["command"]).json()
    assert case["external_id"] == body["external_id"] and case["village_id"] == "DL-03"
    assert case["status"] == "reported" and case["overdue"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", case["reported_at"])
    assert case["reporter"] == "张三丰" and case["reporter_phone"] == "13812341234"


def test_batch_then_resend_updates_instead_of_duplicating(api_server, grids):
    items = [a_case(grids, g) for g in ("DL-01-01", "DL-05-02", "DL-12-01")]
    r = post(api_server, "/api/v1/cases", items, api_server.tokens["admin"])
    assert r.status_code == 201
    first = r.json()
    assert [w["created"] for w in first] == [True] * 3
    resent = [dict(item, status="dispatched", title="已派单:" + item["title"]) for item in items]
    r = post(api_server, "/api/v1/cases", resent, api_server.tokens["admin"])
    assert r.status_code == 200, "all were updates"
    assert [w["id"] for w in r.json()] == [w["id"] for w in first]
    assert [w["created"] for w in r.json()] == [False] * 3
    rows = sql(api_server, "SELECT external_id, status, title FROM cases WHERE source='hotline' AND external_id IN "
               "(:a, :b, :c) ORDER BY id", a=items[0]["external_id"], b=items[1]["external_id"],
               c=items[2]["external_id"])
    assert len(rows) == 3
    # a re-send updates the report's own fields; the status moves only through the workflow
    assert all(r.status == "reported" and r.title.startswith("已派单:") for r in rows)
    # the re-send is in the audit trail
    events = sql(api_server, "SELECT action, from_status, to_status FROM case_events WHERE case_id=:i ORDER BY id",
                 i=first[0]["id"])
    assert [tuple(e) for e in events] == [("report", None, "reported"), ("update", "reported", "reported")]


def test_a_batch_with_one_new_item_answers_201(api_server, grids):
    old = a_case(grids)
    post(api_server, "/api/v1/cases", old, api_server.tokens["command"])
    r = post(api_server, "/api/v1/cases", [old, a_case(grids)], api_server.tokens["command"])
    assert r.status_code == 201
    assert [w["created"] for w in r.json()] == [False, True]


def test_422_names_every_bad_field_of_every_item_and_writes_nothing(api_server, grids):
    before = sql(api_server, "SELECT count(*) FROM cases")[0][0]
    good = a_case(grids)
    bad0 = dict(a_case(grids), type="complaint", domain="weather", colour="red")
    bad1 = dict(a_case(grids), lat=123.0, reporter_phone="call me", title="")
    del bad1["source"]
    r = post(api_server, "/api/v1/cases", [good, bad0, bad1], api_server.tokens["command"])
    assert r.status_code == 422
    errors = {(e["index"], e["field"]): e["message"] for e in r.json()["errors"]}
    assert set(errors) == {(1, "type"), (1, "domain"), (1, "colour"), (2, "lat"), (2, "reporter_phone"),
                           (2, "title"), (2, "source")}
    assert "'dispute'" in errors[(1, "type")] and "'hazard'" in errors[(1, "type")], "allowed values named"
    assert "'governance'" in errors[(1, "domain")]
    assert sql(api_server, "SELECT count(*) FROM cases")[0][0] == before


def test_a_point_outside_the_town_is_refused_with_its_coordinates(api_server, grids):
    beijing = dict(a_case(grids), lon=116.397, lat=39.909)
    r = post(api_server, "/api/v1/cases", beijing, api_server.tokens["command"])
    assert r.status_code == 422
    [e] = r.json()["errors"]
    assert e["field"] == "lon,lat" and "116.397" in e["message"] and "outside the town" in e["message"]
    r = post(api_server, "/api/v1/cases", dict(beijing, outside_ok=True), api_server.tokens["command"])
    assert r.status_code == 201 and r.json()[0]["grid_id"] is None


def test_warnings_are_written_and_listed(api_server, grids):
    lon, lat = point_in(grids, "DL-07-01")
    w = {"source": "sensor-net", "external_id": uid("W"), "type": "gale", "level": 3, "title": "大风黄色预警",
         "lon": lon, "lat": lat, "radius_m": 2500}
    r = post(api_server, "/api/v1/warnings", w, api_server.tokens["command"])
    assert r.status_code == 201
    wid = r.json()[0]["id"]
    live = get(api_server, "/api/v1/warnings").json()
    mine = [x for x in live["items"] if x["id"] == wid]
    assert mine and mine[0]["grids"] and "DL-07-01" in mine[0]["grids"]
    assert all(x["status"] in ("active", "acknowledged", "handling") for x in live["items"])
    r = post(api_server, "/api/v1/warnings", dict(w, status="cleared"), api_server.tokens["command"])
    assert r.status_code == 200
    assert wid not in [x["id"] for x in get(api_server, "/api/v1/warnings").json()["items"]]
    every = get(api_server, "/api/v1/warnings?status=all").json()["items"]
    assert [x["status"] for x in every if x["id"] == wid] == ["cleared"]
    assert get(api_server, "/api/v1/warnings?status=gone").status_code == 400


# -- the warning card's moves over the API ---------------------------------------------------------


def a_warning(srv, grids, grid_id: str) -> tuple[int, int]:
    """A new small warning at a point of ``grid_id`` (it reaches that grid's village only): (id, version)."""
    lon, lat = point_in(grids, grid_id)
    w = {"source": "sensor-net", "external_id": uid("W"), "type": "ice_flood", "level": 2, "title": "凌汛洪水橙色预警",
         "lon": lon, "lat": lat, "radius_m": 50}
    r = post(srv, "/api/v1/warnings", w, srv.tokens["command"])
    assert r.status_code == 201, r.text
    wid = r.json()[0]["id"]
    return wid, warning_row(srv, wid).version


def warning_row(srv, wid: int):
    return sql(srv, "SELECT status, version, (SELECT count(*) FROM warning_events e WHERE e.warning_id = w.id) "
               "AS logged FROM warnings w WHERE id=:i", i=wid)[0]


def a_handler(srv, village: str) -> str:
    return sql(srv, "SELECT handler_id FROM handlers WHERE village_id=:v AND active ORDER BY handler_id LIMIT 1",
               v=village)[0][0]


def test_warning_moves_follow_the_card_rules_with_expected_version(api_server, grids):
    wid, v = a_warning(api_server, grids, "DL-03-02")
    path = f"/api/v1/warnings/{wid}"
    village, command = api_server.tokens["village"], api_server.tokens["command"]
    assert post(api_server, f"{path}/acknowledge", {"expected_version": v}, None).status_code == 401
    for role in ("wall", "responder"):
        r = post(api_server, f"{path}/acknowledge", {"expected_version": v}, api_server.tokens[role])
        assert r.status_code == 403, (role, r.text)
    r = post(api_server, f"{path}/acknowledge", {"expected_version": v - 1}, village)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "expected_version"
    assert tuple(warning_row(api_server, wid)) == ("active", v, 0), "a refusal writes nothing"
    assert post(api_server, f"{path}/ring-bell", {"expected_version": v}, village).status_code == 404
    r = post(api_server, f"{path}/acknowledge", {"expected_version": v, "colour": "red"}, village)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"

    # the village's own warning: active → acknowledged → handling (the village operator), → cleared (command)
    r = post(api_server, f"{path}/acknowledge", {"expected_version": v, "note": "已电话确认"}, village)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["event"]["action"] == "acknowledge" and out["event"]["note"] == "已电话确认"
    assert (out["event"]["from_status"], out["event"]["to_status"]) == ("active", "acknowledged")
    assert out["warning"]["status"] == "acknowledged" and out["moves"] == ["handle", "clear"]
    status, v2, logged = warning_row(api_server, wid)
    assert (status, logged) == ("acknowledged", 1) and v2 > v and out["warning"]["version"] == v2
    r = post(api_server, f"{path}/acknowledge", {"expected_version": v2}, village)
    assert r.status_code == 409 and "leaves only from active" in r.json()["errors"][0]["message"]
    r = post(api_server, f"{path}/handle", {"expected_version": v2}, village)
    assert r.status_code == 200 and r.json()["moves"] == ["clear"]
    r = post(api_server, f"{path}/clear", {"expected_version": r.json()["warning"]["version"]}, command)
    assert r.status_code == 200 and r.json()["warning"]["status"] == "cleared" and r.json()["moves"] == []
    status, v3, logged = warning_row(api_server, wid)
    assert (status, logged) == ("cleared", 3)
    r = post(api_server, f"{path}/tasks", {"expected_version": v3, "handler": a_handler(api_server, "DL-03")},
             command)
    assert r.status_code == 409 and "cleared" in r.json()["errors"][0]["message"]


def test_dispatching_a_task_from_a_warning_over_the_api(api_server, grids):
    wid, v = a_warning(api_server, grids, "DL-03-02")
    path = f"/api/v1/warnings/{wid}/tasks"
    village = api_server.tokens["village"]
    own, other = a_handler(api_server, "DL-03"), a_handler(api_server, "DL-06")
    tasks = "SELECT id, status, handler FROM cases WHERE external_id LIKE :p"
    prefix = f"warning-{wid}-%"
    r = post(api_server, path, {"expected_version": v + 1, "handler": own}, village)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "expected_version"
    r = post(api_server, path, {"expected_version": v, "handler": "H-NOBODY"}, village)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "handler"
    r = post(api_server, path, {"expected_version": v, "handler": other}, village)
    assert r.status_code == 403, "a village operator dispatches only to its own village's handlers"
    assert post(api_server, path, {"expected_version": v}, village).status_code == 422
    assert sql(api_server, tasks, p=prefix) == [] and warning_row(api_server, wid).logged == 0

    r = post(api_server, path, {"expected_version": v, "handler": own, "note": "带沙袋"}, village)
    assert r.status_code == 200, r.text
    out = r.json()
    [(case_id, status, handler)] = sql(api_server, tasks, p=prefix)
    name = sql(api_server, "SELECT name FROM handlers WHERE handler_id=:h", h=own)[0][0]
    assert out["case_id"] == case_id and (status, handler) == ("dispatched", name)
    assert out["event"]["action"] == "dispatch" and out["event"]["note"].startswith(f"任务 #{case_id} ")
    assert out["warning"]["status"] == "active" and out["moves"] == ["acknowledge", "handle", "clear"]
    trail = get(api_server, f"/api/v1/cases/{case_id}/events", village).json()["items"]
    assert [e["action"] for e in trail] == ["report", "dispatch"]


def test_a_village_token_cannot_move_another_villages_warning(api_server, grids):
    wid, v = a_warning(api_server, grids, "DL-06-02")
    village = api_server.tokens["village"]
    missing = post(api_server, "/api/v1/warnings/999999999/acknowledge", {"expected_version": 0}, village)
    assert missing.status_code == 404
    for move, body in (("acknowledge", {"expected_version": v}), ("clear", {"expected_version": v}),
                       ("tasks", {"expected_version": v, "handler": a_handler(api_server, "DL-03")}),
                       ("acknowledge", {"garbage": True})):
        r = post(api_server, f"/api/v1/warnings/{wid}/{move}", body, village)
        # a warning beyond the token's village is, to it, one that does not exist: the same answer
        assert r.status_code == 404, (move, r.text)
        assert r.text.replace(str(wid), "N") == missing.text.replace("999999999", "N"), (move, r.text)
    assert tuple(warning_row(api_server, wid)) == ("active", v, 0)
    assert sql(api_server, "SELECT count(*) FROM cases WHERE external_id LIKE :p", p=f"warning-{wid}-%")[0][0] == 0
    r = post(api_server, f"/api/v1/warnings/{wid}/acknowledge", {"expected_version": v},
             api_server.tokens["command"])
    assert r.status_code == 200, "command acts on every warning"


# -- reading ---------------------------------------------------------------------------------------

FILTERS = [
    ({"village": "DL-03"}, "village_id IN ('DL-03')", 90),
    ({"domain": "safety,governance"}, "domain IN ('safety','governance')", 90),
    ({"status": "reported,in_progress", "window": "all"}, "status IN ('reported','in_progress')", None),
    ({"type": "hotline", "window": "30d"}, "type IN ('hotline')", 30),
    ({"village": "DL-01,DL-02", "domain": "livelihood", "window": "7d"},
     "village_id IN ('DL-01','DL-02') AND domain IN ('livelihood')", 7),
    ({"window": "365d"}, "1=1", 365),
]


@pytest.mark.parametrize("params,where,days", FILTERS, ids=[str(f[0]) for f in FILTERS])
def test_list_filters_agree_with_a_direct_sql_count(api_server, params, where, days):
    # The API applies the dashboard's filter: a window keeps recent cases and every open one.
    t0 = utcnow()
    r = get(api_server, "/api/v1/cases", params={**params, "limit": 1})
    t1 = utcnow()
    assert r.status_code == 200, r.text
    total = r.json()["total"]
    open_list = ",".join(f"'{s}'" for s in OPEN_STATUSES)

    def count(now) -> int:
        window = "1=1" if days is None else f"(reported_at >= :since OR status IN ({open_list}))"
        return sql(api_server, f"SELECT count(*) FROM cases WHERE {where} AND {window}",
                   since=(now - timedelta(days=days or 0)).isoformat(sep=" "))[0][0]

    assert count(t1) <= total <= count(t0)
    assert total > 0


def test_geojson_when_asked_for(api_server):
    r = get(api_server, "/api/v1/cases", params={"village": "DL-03", "limit": 20},
            headers={"Accept": "application/geo+json"})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == min(20, fc["total"])
    plain = get(api_server, "/api/v1/cases", params={"village": "DL-03", "limit": 20}).json()
    for feature, item in zip(fc["features"], plain["items"], strict=True):
        assert feature["id"] == item["id"]
        assert feature["geometry"] == {"type": "Point", "coordinates": [item["lon"], item["lat"]]}
        assert feature["properties"]["village_id"] == "DL-03"
    assert get(api_server, "/api/v1/cases?format=geojson&limit=1").json()["type"] == "FeatureCollection"


def test_paging_walks_every_case_once(api_server):
    params = {"village": "DL-05", "window": "all"}
    total = get(api_server, "/api/v1/cases", params={**params, "limit": 1}).json()["total"]
    seen: list[int] = []
    offset = 0
    while offset < total:
        page = get(api_server, "/api/v1/cases", params={**params, "limit": 37, "offset": offset}).json()
        assert page["total"] == total and len(page["items"]) == min(37, total - offset)
        seen += [c["id"] for c in page["items"]]
        offset += 37
    assert len(seen) == len(set(seen)) == total
    assert seen == sorted(seen, reverse=True), "newest first"
    assert sql(api_server, "SELECT count(*) FROM cases WHERE village_id='DL-05'")[0][0] == total
    for bad in ({"limit": 0}, {"limit": 1001}, {"limit": "ten"}, {"offset": -1}, {"since_version": "x"}):
        r = get(api_server, "/api/v1/cases", params=bad)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == next(iter(bad))


def test_since_version_lists_only_what_changed(api_server, grids):
    token = api_server.tokens["command"]
    start = version(api_server)
    a = post(api_server, "/api/v1/cases", a_case(grids, "DL-02-01"), token).json()[0]["id"]
    b = post(api_server, "/api/v1/cases", a_case(grids, "DL-09-01"), token).json()[0]["id"]
    page = get(api_server, "/api/v1/cases", params={"since_version": start}).json()
    assert [c["id"] for c in page["items"]] == [a, b], "oldest change first"
    assert page["version"] == start + 2
    assert get(api_server, "/api/v1/cases", params={"since_version": page["version"]}).json()["total"] == 0
    filtered = get(api_server, "/api/v1/cases", params={"since_version": start, "village": "DL-09"}).json()
    assert [c["id"] for c in filtered["items"]] == [b]


def test_unknown_filters_are_refused_naming_the_allowed_values(api_server):
    r = get(api_server, "/api/v1/cases", params={"village": "DL-99", "domain": "weather", "colour": "red"})
    assert r.status_code == 400
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert "DL-03" in errors["village"] and "livelihood" in errors["domain"] and "colour" in errors


def test_case_404_and_version_is_cheap(api_server):
    assert get(api_server, "/api/v1/cases/999999999").status_code == 404
    assert get(api_server, f"/api/v1/cases/{10**30}").status_code == 404
    assert isinstance(version(api_server), int)


# -- privacy, tokens and roles ------------------------------------------------------------------------


def test_personal_data_is_masked_unless_the_role_sees_it(api_server, grids):
    body = a_case(grids, "DL-03-01", reporter="李秀英", reporter_phone="13912345678")
    cid = post(api_server, "/api/v1/cases", body, api_server.tokens["command"]).json()[0]["id"]
    for token in (None, api_server.tokens["wall"]):
        case = get(api_server, f"/api/v1/cases/{cid}", token).json()
        assert (case["reporter"], case["reporter_phone"]) == ("李**", "139****5678")
    for role in ("admin", "command", "village", "responder"):
        case = get(api_server, f"/api/v1/cases/{cid}", api_server.tokens[role]).json()
        assert (case["reporter"], case["reporter_phone"]) == ("李秀英", "13912345678"), role
    listed = get(api_server, "/api/v1/cases", params={"since_version": 0, "village": "DL-03", "limit": 1000})
    assert "13912345678" not in listed.text and "李秀英" not in listed.text


def test_writes_need_a_writing_token(api_server, grids):
    body = a_case(grids)
    r = post(api_server, "/api/v1/cases", body, None)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert post(api_server, "/api/v1/cases", body, "not-a-token").status_code == 401
    for role in ("wall", "responder"):
        r = post(api_server, "/api/v1/cases", body, api_server.tokens[role])
        assert r.status_code == 403 and role in r.json()["errors"][0]["message"]
    r = requests.post(api_server.url + "/api/v1/cases", json=body, headers={"Authorization": "Basic abc"}, timeout=10)
    assert r.status_code == 401
    assert get(api_server, "/api/v1/cases?limit=1", "not-a-token").status_code == 401
    assert sql(api_server, "SELECT count(*) FROM cases WHERE external_id=:e", e=body["external_id"])[0][0] == 0


def test_a_village_token_stays_in_its_village(api_server, grids):
    token = api_server.tokens["village"]  # DL-03
    r = post(api_server, "/api/v1/cases", a_case(grids, "DL-05-01"), token)
    assert r.status_code == 403
    assert "DL-03" in r.json()["errors"][0]["message"] and "DL-05" in r.text
    inside = post(api_server, "/api/v1/cases", a_case(grids, "DL-03-03"), token)
    assert inside.status_code == 201
    assert get(api_server, "/api/v1/cases?village=DL-05", token).status_code == 403
    page = get(api_server, "/api/v1/cases", token, params={"window": "all", "limit": 1000}).json()
    assert page["total"] == sql(api_server, "SELECT count(*) FROM cases WHERE village_id='DL-03'")[0][0]
    assert {c["village_id"] for c in page["items"]} == {"DL-03"}
    other = sql(api_server, "SELECT id FROM cases WHERE village_id='DL-05' LIMIT 1")[0][0]
    assert get(api_server, f"/api/v1/cases/{other}", token).status_code == 404  # as if there were none


def test_cli_creates_a_token_that_works(api_server, grids):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": api_server.database_url}
    out = subprocess.run([sys.executable, "-m", "township", "token", "cli-test", "--role", "village",
                          "--village", "DL-03"], env=env, capture_output=True, text=True, check=True)
    token = out.stdout.strip()
    assert len(token) >= 40 and token not in out.stderr
    assert post(api_server, "/api/v1/cases", a_case(grids, "DL-03-01"), token).status_code == 201
    again = subprocess.run([sys.executable, "-m", "township", "token", "cli-test", "--role", "admin"], env=env,
                           capture_output=True, text=True)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = subprocess.run([sys.executable, "-m", "township", "token", "x", "--role", "village", "--village", "DL-99"],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "DL-03" in bad.stderr
    # only the digest is stored
    assert sql(api_server, "SELECT count(*) FROM api_tokens WHERE token_sha256=:t", t=token)[0][0] == 0


# -- bad requests are 4xx, never 500 -------------------------------------------------------------------


def test_malformed_json_is_400(api_server):
    token = api_server.tokens["command"]
    for data, ctype, needle in [
        (b'{"source": "hotline",', "application/json", "malformed JSON"),
        (b"", "application/json", "malformed JSON"),
        (b"\xff\xfe\x00garbage", "application/json", "malformed JSON"),
        (b'"just a string"', "application/json", "object or a list"),
        (b'{"source": "hotline"}', "text/plain", "Content-Type"),
        (b'{"source": "hotline"}', "", "Content-Type"),
    ]:
        r = requests.post(api_server.url + "/api/v1/cases", data=data,
                          headers={**auth(token), "Content-Type": ctype}, timeout=10)
        assert r.status_code == 400, (data, r.text)
        assert needle in r.json()["errors"][0]["message"]


def test_a_huge_body_is_413_with_a_json_error(api_server, grids):
    items = [a_case(grids) for _ in range(1)] * 30000  # ≈ 6 MB
    body = json.dumps(items).encode()
    assert len(body) > 5 * 1024 * 1024
    r = requests.post(api_server.url + "/api/v1/cases", data=body, timeout=30,
                      headers={**auth(api_server.tokens["command"]), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert "5 MB" in r.json()["errors"][0]["message"]
    assert get(api_server, "/api/v1/version").status_code == 200, "the server is still fine"


GARBAGE = [
    ("POST", "/api/v1/cases", {"data": b"[" * 100000 + b"]" * 100000}),
    ("POST", "/api/v1/cases", {"data": b'{"lon": NaN, "lat": Infinity}'}),
    ("POST", "/api/v1/cases", {"data": b'{"lon": 1' + b"0" * 5000 + b"}"}),
    ("POST", "/api/v1/cases", {"data": b"[null, 1, \"x\", []]"}),
    ("POST", "/api/v1/cases", {"data": json.dumps([{}] * 5001).encode()}),
    ("POST", "/api/v1/cases", {"data": json.dumps({"source": "hotline", "type": "hotline", "domain": "safety",
                                                   "title": "x" * 10**5, "lon": "east", "lat": None,
                                                   "reported_at": "yesterday"}).encode()}),
    ("POST", "/api/v1/warnings", {"data": json.dumps({"radius_m": -1, "level": 9}).encode()}),
    ("POST", "/api/v1/warnings", {"data": b"\x00\x01\x02"}),
    ("POST", "/api/v1/warnings/cap", {"data": b"<alert>", "ctype": "application/cap+xml"}),
    ("POST", "/api/v1/warnings/cap", {"data": b"\xff\xfe<", "ctype": "application/xml"}),
    ("POST", "/api/v1/version", {}),
    ("DELETE", "/api/v1/cases", {}),
    ("PUT", "/api/v1/cases/1", {}),
    ("GET", "/api/v1/cases?limit=" + "9" * 40, {}),
    ("GET", "/api/v1/cases?offset=" + "9" * 40, {}),
    ("GET", "/api/v1/cases?since_version=" + "9" * 40, {}),
    ("GET", "/api/v1/cases?village=%00%ff&window=forever&type=", {}),
    ("GET", "/api/v1/cases?format=xml&level=9", {}),
    ("GET", "/api/v1/cases/-1", {}),
    ("GET", "/api/v1/warnings/99999999999999999999999/cap", {}),
    ("GET", "/api/v1/nothing/here", {}),
    ("GET", "/api/v2/cases", {}),
    ("GET", "/open311/v2/requests.csv", {}),
    ("GET", "/open311/v2/requests/abc.json", {}),
    ("GET", "/open311/v2/requests.json?service_request_id=1,x,99999999999999999999999", {}),
    ("GET", "/open311/v2/requests.xml?start_date=tomorrow&status=maybe&service_code=zzz", {}),
    ("POST", "/open311/v2/requests.json", {"data": b"lat=%ff&long=&service_code=\x00",
                                           "ctype": "application/x-www-form-urlencoded"}),
    ("POST", "/open311/v2/requests.xml", {"data": b"--x\r\nbroken", "ctype": "multipart/form-data; boundary=x"}),
]


@pytest.mark.parametrize("method,path,kw", GARBAGE, ids=[f"{m} {p[:50]}" for m, p, _ in GARBAGE])
def test_garbage_never_gets_a_500(api_server, method, path, kw):
    headers = {**auth(api_server.tokens["admin"]), "Content-Type": kw.get("ctype", "application/json")}
    r = requests.request(method, api_server.url + path, data=kw.get("data"), headers=headers, timeout=30)
    assert 400 <= r.status_code < 500, r.text[:500]
    if path.startswith("/api/"):
        assert r.json()["errors"], "a JSON error list"
    elif path.endswith(".xml") or ".xml?" in path:
        assert r.text.startswith('<?xml version="1.0" encoding="UTF-8"?>') and "<errors><error>" in r.text
    else:
        assert r.json()[0]["code"] == r.status_code


def test_openapi_document_describes_every_route(api_server, tmp_path):
    import subprocess
    import sys

    doc = get(api_server, "/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    # The routes of the real app, listed in a process of their own (Dash keeps global state).
    rules = subprocess.run([sys.executable, "-c", (
        "from app import create_app; from township.config import Settings;"
        f"app = create_app(Settings(database_url='sqlite:///{tmp_path / 'routes.db'}', seed_demo=False));"
        "print('\\n'.join(r.rule for r in app.server.url_map.iter_rules() if r.endpoint.startswith('api.')))")],
        capture_output=True, text=True, check=True).stdout.split()
    documented = set(doc["paths"])
    for rule in rules:
        if "<path:rest>" in rule:
            continue
        template = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", re.sub(r"<any\([^)]*\):fmt>", "{fmt}", rule))
        assert template in documented, template
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])
    assert {"CaseIn", "WarningIn", "CaseOut"} <= set(doc["components"]["schemas"])
