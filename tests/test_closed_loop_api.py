"""The closed loop over real HTTP: moves, audit trail, suggestions, open orders, scope, stale updates."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from test_api import a_case, get, post, sql

from township.accounts.tokens import create_token
from township.config import BUNDLED_GRIDS
from township.grids.validate import load_grid_file

pytestmark = pytest.mark.store  # run on SQLite and on PostgreSQL (tests/conftest.py)
MOVE_ROUTES = ("dispatch", "accept", "start", "resolve", "close", "return", "cancel", "escalate", "reopen")


@pytest.fixture(scope="module")
def gridset():
    """The bundled grids, to place the cases sent (a fixture of this module's own, not test_api's)."""
    return load_grid_file(BUNDLED_GRIDS)


def new_case(srv, gridset, grid_id: str, **extra) -> dict:
    r = post(srv, "/api/v1/cases", a_case(gridset, grid_id, **extra), srv.tokens["command"])
    assert r.status_code == 201, r.text
    return get(srv, f"/api/v1/cases/{r.json()[0]['id']}", srv.tokens["command"]).json()


def act(srv, case: dict | int, move: str, token: str | None, version: int | None = None, **params):
    case_id = case if isinstance(case, int) else case["id"]
    body = {"expected_version": case["version"] if version is None else version, **params}
    return post(srv, f"/api/v1/cases/{case_id}/{move}", body, token)


def row(srv, case_id: int) -> tuple:
    """The stored case and its audit trail length: what a refused move must leave alone."""
    [(status, tier, handler, version)] = sql(srv, "SELECT status, tier, handler, version FROM cases WHERE id = :i",
                                             i=case_id)
    [(events,)] = sql(srv, "SELECT count(*) FROM case_events WHERE case_id = :i", i=case_id)
    return status, tier, handler, version, events


def test_the_whole_loop_over_the_api_and_open311_follows(api_server, gridset):
    srv, cmd = api_server, api_server.tokens["command"]
    case = new_case(srv, gridset, "DL-03-02", reporter="张三丰", reporter_phone="13812341234")
    o311 = f"/open311/v2/requests/{case['id']}.json"
    assert get(srv, o311).json()[0]["status"] == "open"

    suggestions = get(srv, f"/api/v1/cases/{case['id']}/suggestions", cmd).json()["items"]
    first = suggestions[0]
    assert first["handler_id"] == "H-OF-DL-03-02" and first["why"] == "本网格网格员"
    assert suggestions[-1]["handler_id"] == "pool"

    r = act(srv, case, "dispatch", cmd, handler=first["handler_id"], note="请尽快处理")
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["case"]["status"] == "dispatched" and moved["case"]["handler"] == first["name"]
    assert moved["event"]["action"] == "dispatch" and moved["event"]["actor"] == "api:test-command"
    assert set(moved["moves"]) == {"accept", "return", "cancel", "escalate"}
    notes = get(srv, o311).json()[0]
    assert notes["status"] == "open" and "已派单" in notes["status_notes"]

    case = moved["case"]
    for move, params in (("accept", {}), ("start", {}), ("resolve", {"result": "已修复水管"}),
                         ("close", {"verification": "回访满意"})):
        r = act(srv, case, move, cmd, **params)
        assert r.status_code == 200, (move, r.text)
        case = r.json()["case"]
    assert case["status"] == "closed" and case["resolved_at"] and case["closed_at"]
    assert row(srv, case["id"])[0] == "closed"

    events = get(srv, f"/api/v1/cases/{case['id']}/events", cmd).json()["items"]
    assert [e["action"] for e in events] == ["report", "dispatch", "accept", "start", "resolve", "close"]
    assert [e["action_zh"] for e in events][1:] == ["派单", "接单", "开始处置", "办结", "销号"]
    assert events[4]["note"] == "已修复水管" and events[1]["note"].endswith("请尽快处理")
    # without a token: the wall's view, names and notes masked
    masked = get(srv, f"/api/v1/cases/{case['id']}/events").json()["items"]
    assert all(e["note"] == "" for e in masked) and masked[1]["actor"] != "api:test-command"

    done = get(srv, o311).json()[0]
    assert done["status"] == "closed" and "已销号" in done["status_notes"]
    xml = ET.fromstring(requests.get(srv.url + o311.replace(".json", ".xml"), timeout=10).content)
    assert xml.find("request/status").text == "closed"


def test_escalation_moves_the_open311_expected_datetime(api_server, gridset):
    srv, cmd = api_server, api_server.tokens["command"]
    case = new_case(srv, gridset, "DL-04-01")
    before = get(srv, f"/open311/v2/requests/{case['id']}.json").json()[0]["expected_datetime"]
    r = act(srv, case, "escalate", cmd, reason="网格无法化解")
    r = act(srv, r.json()["case"], "escalate", cmd, reason="村内无法化解")  # the township has 7 days, not 3
    assert r.status_code == 200 and r.json()["case"]["tier"] == "township"
    after = get(srv, f"/open311/v2/requests/{case['id']}.json").json()[0]["expected_datetime"]
    assert after != before and after == r.json()["case"]["deadline_at"]


def test_refusals_map_to_http_statuses_and_change_nothing(api_server, gridset):
    srv, cmd = api_server, api_server.tokens["command"]
    case = new_case(srv, gridset, "DL-03-03")
    before = row(srv, case["id"])
    cases = [
        (act(srv, 999999999, "dispatch", cmd, version=0, handler="pool"), 404),
        (act(srv, case, "teleport", cmd), 404),
        (act(srv, case, "close", cmd, verification="x"), 409),  # not from reported
        (act(srv, case, "resolve", cmd), 409),
        (act(srv, case, "dispatch", cmd), 422),  # no handler
        (act(srv, case, "dispatch", cmd, handler="H-NOBODY"), 422),
        (act(srv, case, "start", cmd, colour="red"), 422),  # unknown field
        (post(srv, f"/api/v1/cases/{case['id']}/cancel", {"reason": "x"}, cmd), 422),  # no expected_version
        (act(srv, case, "cancel", None, reason="x"), 401),
        (act(srv, case, "cancel", srv.tokens["wall"], reason="x"), 403),
        (act(srv, case, "dispatch", srv.tokens["responder"], handler="pool"), 403),
        (post(srv, f"/api/v1/cases/{case['id']}/cancel", [{"expected_version": 1}, {"expected_version": 1}], cmd),
         400),
    ]
    for r, status in cases:
        assert r.status_code == status, (status, r.status_code, r.text)
        assert r.json()["errors"][0]["message"]
    assert row(srv, case["id"]) == before


def test_a_stale_update_is_409_and_changes_nothing(api_server, gridset):
    srv, cmd, admin = api_server, api_server.tokens["command"], api_server.tokens["admin"]
    case = new_case(srv, gridset, "DL-03-04")
    assert act(srv, case, "dispatch", cmd, handler="H-OF-DL-03-04").status_code == 200
    before = row(srv, case["id"])
    r = act(srv, case, "cancel", admin, reason="重复上报")  # with the version read before the dispatch
    assert r.status_code == 409
    err = r.json()["errors"][0]
    assert err["field"] == "expected_version" and "changed by someone else" in err["message"]
    assert row(srv, case["id"]) == before


def test_a_village_token_is_refused_another_villages_case_on_every_route(api_server, gridset):
    srv, village = api_server, api_server.tokens["village"]  # bound to DL-03
    other = new_case(srv, gridset, "DL-05-01")
    own = new_case(srv, gridset, "DL-03-01")
    before = row(srv, other["id"])
    # the case answers as a missing one (404); asking for the other village itself is refused (403)
    reads = {f"/api/v1/cases/{other['id']}": 404, f"/api/v1/cases/{other['id']}/events": 404,
             f"/api/v1/cases/{other['id']}/suggestions": 404, f"/open311/v2/requests/{other['id']}.json": 404,
             f"/open311/v2/requests/{other['id']}.xml": 404, "/api/v1/cases?village=DL-05": 403,
             "/api/v1/orders?village=DL-05": 403}
    for path, status in reads.items():
        assert get(srv, path, village).status_code == status, path
    for move in MOVE_ROUTES:
        r = act(srv, other, move, village, handler="pool", reason="x", result="x", verification="x")
        assert r.status_code == 404, (move, r.text)
    assert row(srv, other["id"]) == before
    # its own village: every read works, and it acts
    for path in [p.replace(str(other["id"]), str(own["id"])).replace("DL-05", "DL-03") for p in reads]:
        assert get(srv, path, village).status_code == 200, path
    items = get(srv, f"/api/v1/cases/{own['id']}/suggestions", village).json()["items"]
    assert items and all(h["village_id"] == "DL-03" for h in items)  # only handlers it may dispatch to
    r = act(srv, own, "dispatch", village, handler="pool")
    assert r.status_code == 200 and r.json()["case"]["status"] == "dispatched"
    orders = get(srv, "/api/v1/orders", village).json()
    assert orders["village_id"] == "DL-03" and own["id"] in [c["id"] for c in orders["items"]]


def test_a_responder_token_acts_as_its_handler(api_server, gridset):
    srv, cmd = api_server, api_server.tokens["command"]
    officer = create_token(srv.engine, "test-responder-0301", "responder", handler_id="H-OF-DL-03-01")
    mine = new_case(srv, gridset, "DL-03-01")
    theirs = new_case(srv, gridset, "DL-03-02")
    mine = act(srv, mine, "dispatch", cmd, handler="H-OF-DL-03-01").json()["case"]
    theirs = act(srv, theirs, "dispatch", cmd, handler="H-OF-DL-03-02").json()["case"]
    r = act(srv, mine, "accept", officer)
    assert r.status_code == 200 and r.json()["case"]["status"] == "accepted", r.text
    assert act(srv, theirs, "accept", officer).status_code == 403
    # a responder token without a handler acts on nothing; a responder token's orders are its village's
    assert act(srv, theirs, "accept", srv.tokens["responder"]).status_code == 403
    assert get(srv, "/api/v1/orders", officer).json()["village_id"] == "DL-03"
    with pytest.raises(ValueError):
        create_token(srv.engine, "test-responder-nobody", "responder", handler_id="H-NOBODY")


def test_orders_need_a_known_village(api_server):
    srv, cmd = api_server, api_server.tokens["command"]
    assert get(srv, "/api/v1/orders", cmd).status_code == 400
    assert get(srv, "/api/v1/orders?village=DL-99", cmd).status_code == 400
    assert get(srv, "/api/v1/orders?village=DL-03&x=1", cmd).status_code == 400
    body = get(srv, "/api/v1/orders?village=DL-03", cmd).json()
    assert body["village_id"] == "DL-03" and body["total"] == len(body["items"])
