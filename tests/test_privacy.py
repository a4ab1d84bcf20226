"""The boundary between villages and the one masking rule, over real HTTP where the finding is the API's.

Rules (docs/design.md §5): an idempotent re-send updates only the report's own
fields, only for a caller allowed to write that case, and never its status,
tier or village; a caller not allowed to see a case gets the answer given for
a case that does not exist.
"""
from __future__ import annotations

import re

import pytest
import requests
from test_api import a_case, get, point_in, post, sql, uid
from test_cap import SENDER, alert, info, new_id, send, when
from test_closed_loop_api import act, new_case

from township.accounts.users import create_user
from township.config import BUNDLED_GRIDS, Settings
from township.grids.validate import load_grid_file

pytestmark = pytest.mark.store


@pytest.fixture(scope="module")
def gridset():
    return load_grid_file(BUNDLED_GRIDS)


def stored(srv, case_id: int) -> tuple:
    """Everything a refused re-send must leave alone: the row's fields and its audit trail length."""
    [r] = sql(srv, "SELECT village_id, grid_id, status, tier, title, reporter, reporter_phone, closed_at, version "
                   "FROM cases WHERE id = :i", i=case_id)
    [(events,)] = sql(srv, "SELECT count(*) FROM case_events WHERE case_id = :i", i=case_id)
    return (*r, events)


def closed_case(srv, gridset, grid_id: str) -> dict:
    case = new_case(srv, gridset, grid_id, reporter="王小明", reporter_phone="13912345678")
    for move, params in (("dispatch", {"handler": f"H-OF-{grid_id}"}), ("accept", {}),
                         ("start", {}), ("resolve", {"result": "已修复"}), ("close", {"verification": "回访满意"})):
        r = act(srv, case, move, srv.tokens["command"], **params)
        assert r.status_code == 200, (move, r.text)
        case = r.json()["case"]
    return case


def test_a_village_token_cannot_take_over_another_villages_case(api_server, gridset):
    srv, village = api_server, api_server.tokens["village"]  # bound to DL-03
    theirs = closed_case(srv, gridset, "DL-05-01")
    before = stored(srv, theirs["id"])
    # the same (source, external_id), a point in the token's own village, no title of note and no reporter
    attack = a_case(gridset, "DL-03-01", external_id=theirs["external_id"], title="x")
    r = post(srv, "/api/v1/cases", attack, village)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "external_id"
    # the refusal names neither the case nor its village (beyond the caller's own key, which it echoes)
    rest = error["message"].replace(str(theirs["external_id"]), "").replace(str(attack.get("source", "")), "")
    assert str(theirs["id"]) not in rest and "DL-05" not in rest, error
    assert stored(srv, theirs["id"]) == before
    assert before[:3] == ("DL-05", "DL-05-01", "closed") and before[5] == "王小明"


def test_another_villages_case_answers_as_a_missing_one(api_server, gridset):
    srv, village = api_server, api_server.tokens["village"]
    theirs = new_case(srv, gridset, "DL-05-02")
    [(top,)] = sql(srv, "SELECT max(id) FROM cases")
    missing = top + 1000
    paths = ["/api/v1/cases/{}", "/api/v1/cases/{}/events", "/api/v1/cases/{}/suggestions",
             "/open311/v2/requests/{}.json", "/open311/v2/requests/{}.xml"]
    for path in paths:
        hidden, absent = get(srv, path.format(theirs["id"]), village), get(srv, path.format(missing), village)
        assert (hidden.status_code, absent.status_code) == (404, 404), path
        assert hidden.text.replace(str(theirs["id"]), "N") == absent.text.replace(str(missing), "N"), path
    hidden = act(srv, theirs, "cancel", village, reason="x")
    absent = act(srv, missing, "cancel", village, version=0, reason="x")
    assert (hidden.status_code, absent.status_code) == (404, 404)
    assert hidden.text.replace(str(theirs["id"]), "N") == absent.text.replace(str(missing), "N")


def test_a_resend_changes_the_reports_fields_only(api_server, gridset):
    srv, cmd = api_server, api_server.tokens["command"]
    case = new_case(srv, gridset, "DL-03-02", reporter="李四", reporter_phone="13700001111")
    for move, params in (("dispatch", {"handler": "H-OF-DL-03-02"}), ("accept", {}), ("start", {})):
        case = act(srv, case, move, cmd, **params).json()["case"]
    assert case["status"] == "in_progress"
    events_before = stored(srv, case["id"])[-1]
    # the hotline re-sends its ticket with a new title, a status and a tier of its own, and no reporter
    resend = a_case(gridset, "DL-03-01", external_id=case["external_id"], title="水管漏水(已补充)",
                    status="closed", tier="county")
    r = post(srv, "/api/v1/cases", resend, cmd)
    assert r.status_code == 200, r.text
    village, grid, status, tier, title, reporter, phone, closed_at, _, events = stored(srv, case["id"])
    assert (status, tier, closed_at) == ("in_progress", "grid", None)  # the workflow's, untouched
    assert (village, grid, title) == ("DL-03", "DL-03-01", "水管漏水(已补充)")  # the report's own
    assert (reporter, phone) == ("李四", "13700001111")  # not sent: kept
    assert events == events_before + 1
    [(action, fs, ts, ft, tt, note)] = sql(
        srv, "SELECT action, from_status, to_status, from_tier, to_tier, note FROM case_events WHERE case_id = :i "
             "ORDER BY id DESC LIMIT 1", i=case["id"])
    assert (action, fs, ts, ft, tt) == ("update", "in_progress", "in_progress", "grid", "grid")
    assert "title" in note and "lon" in note and "status" not in note
    # the same re-send again changes nothing and writes no record
    assert post(srv, "/api/v1/cases", resend, cmd).status_code == 200
    assert stored(srv, case["id"])[-1] == events


def test_a_resend_does_not_move_a_case_to_another_village(api_server, gridset):
    srv, cmd = api_server, api_server.tokens["command"]
    case = new_case(srv, gridset, "DL-03-02")
    before = stored(srv, case["id"])
    r = post(srv, "/api/v1/cases", a_case(gridset, "DL-04-01", external_id=case["external_id"]), cmd)
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["field"] == "lon,lat" and "DL-03" in error["message"] and "DL-04" in error["message"]
    assert stored(srv, case["id"]) == before


def masked(name: str) -> str:
    """张三丰 → 张**: the surname and one star per further character (docs/design.md §5), spelt out here."""
    return name[0] + "*" * (len(name) - 1)


def test_the_handler_is_masked_for_anonymous_reads_as_in_the_audit_trail(api_server, gridset):
    srv, cmd = api_server, api_server.tokens["command"]
    case = new_case(srv, gridset, "DL-03-02")
    [(name,)] = sql(srv, "SELECT name FROM handlers WHERE handler_id = 'H-OF-DL-03-02'")
    assert len(name) > 1
    r = act(srv, case, "dispatch", cmd, handler="H-OF-DL-03-02")
    assert r.status_code == 200 and r.json()["case"]["handler"] == name  # command sees the name
    for token in (None, api_server.tokens["wall"]):
        one = get(srv, f"/api/v1/cases/{case['id']}", token).json()
        assert one["handler"] == masked(name), token
        listed = get(srv, "/api/v1/cases", token, params={"village": "DL-03", "limit": 1000}).json()["items"]
        [item] = [c for c in listed if c["id"] == case["id"]]
        assert item["handler"] == masked(name)
        assert name not in get(srv, f"/api/v1/cases/{case['id']}/events", token).text


def a_warning(gridset, radius_m: float, grid_id: str = "DL-03-01") -> dict:
    lon, lat = point_in(gridset, grid_id)
    return {"source": "test", "external_id": uid("W"), "type": "ice_flood", "level": 2, "title": "凌汛橙色预警",
            "lon": lon, "lat": lat, "radius_m": radius_m}


def test_a_village_token_posts_warnings_up_to_the_radius_cap(api_server, gridset):
    srv, village, cmd = api_server, api_server.tokens["village"], api_server.tokens["command"]
    cap_m = Settings().village_radius_km * 1000  # the default the server runs with (no variable set)
    assert cap_m == 20_000
    [(before,)] = sql(srv, "SELECT count(*) FROM warnings")
    r = post(srv, "/api/v1/warnings", a_warning(gridset, cap_m + 1), village)
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "radius_m", r.text
    assert sql(srv, "SELECT count(*) FROM warnings")[0][0] == before  # nothing written
    assert post(srv, "/api/v1/warnings", a_warning(gridset, cap_m), village).status_code == 201
    # command is not capped by the policy (ingest's own 200 km stands)
    assert post(srv, "/api/v1/warnings", a_warning(gridset, 200_000), cmd).status_code == 201
    # CAP: the circle's radius is in km
    lat_lon = point_in(gridset, "DL-03-01")[::-1]
    cap = alert(uid("cap"), info(area=f"<circle>{lat_lon[0]},{lat_lon[1]} {cap_m / 1000 + 0.001}</circle>"))
    r = send(srv, cap, "village")
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "info/area", r.text


# -- the field map: the warning card's village boundary ---------------------------------------------


def signed_in(srv, village: str) -> requests.Session:
    """A browser session of a village operator of ``village`` (a user of that role, signed in by the form)."""
    name = uid("op").lower()
    create_user(srv.engine, name, "secret-password-1", "village", village)
    s = requests.Session()
    r = s.post(srv.url + "/login", data={"username": name, "password": "secret-password-1", "next": "/"},
               allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    return s


def masked_phone(phone: str) -> str:
    """13812341234 → 138****1234 (docs/design.md §5), spelt out here."""
    return phone[:3] + "****" + phone[-4:]


def people_of(srv, village: str, other: bool) -> set[tuple[str, str]]:
    """(name, phone) of every handler of ``village`` (``other``: of every other village), from the table."""
    op = "!=" if other else "="
    return {(n, p) for n, p in sql(srv, f"SELECT name, phone FROM handlers WHERE village_id {op} :v "
                                        "AND kind IN ('officer', 'party_member') AND phone IS NOT NULL", v=village)}


def test_a_village_operators_warning_field_map_shows_other_villages_as_the_card_does(api_server, gridset):
    srv = api_server
    lon, lat = point_in(gridset, "DL-03-01")
    body = {"source": "test", "external_id": uid("W"), "type": "ice_flood", "level": 2, "title": "凌汛",
            "lon": lon, "lat": lat, "radius_m": 15_000}
    r = post(srv, "/api/v1/warnings", body, srv.tokens["command"])
    assert r.status_code == 201, r.text
    [written] = r.json()
    wid = written["id"]
    village_of = dict(sql(srv, "SELECT g.grid_id, g.parent_id FROM warning_grids w JOIN grids g "
                               "ON g.grid_id = w.grid_id WHERE w.warning_id = :i", i=wid))
    assert {"DL-03"} < set(village_of.values())  # the warning reaches other villages too
    neighbour = sorted(set(village_of.values()) - {"DL-03"})[0]
    # an open case in each of the two villages, under the warning
    for grid in ("DL-03-01", min(g for g, v in village_of.items() if v == neighbour)):
        new_case(srv, gridset, grid)
    page = signed_in(srv, "DL-03").get(f"{srv.url}/warnings/{wid}/fieldmap.html", timeout=60)
    assert page.status_code == 200, page.text
    text = page.text
    # no other village's officer or party member in full; DL-03's own people are taken out of the text
    # first (张梅 of another village is in 张梅兰 of DL-03)
    rest = text
    for n, p in sorted(people_of(srv, "DL-03", other=False), key=lambda person: -len(person[0])):
        rest = rest.replace(n, "").replace(p, "")
    others = people_of(srv, "DL-03", other=True)
    assert not [n for n, _ in others if n in rest] and not [p for _, p in others if p in rest]
    # the other villages' officers of the affected grids are there, masked; DL-03's in full, with a tel: link
    officers = sql(srv, "SELECT grid_id, name, phone FROM handlers WHERE kind = 'officer' AND grid_id IN "
                        f"({', '.join(repr(g) for g in village_of)})")
    for grid, name, phone in officers:
        if village_of[grid] == "DL-03":
            assert f'href="tel:{phone}"' in text, grid
        else:
            assert masked_phone(phone) in text and masked(name) in text, grid
    # open cases and resources of other villages are not on the page; DL-03's are
    cases = sql(srv, "SELECT id, village_id FROM cases WHERE status IN "
                     "('reported', 'dispatched', 'accepted', 'in_progress', 'returned') "
                     f"AND grid_id IN ({', '.join(repr(g) for g in village_of)})")
    shown = {int(i) for i in re.findall(r'data-case-id="(\d+)"', text)}
    assert shown == {i for i, v in cases if v == "DL-03"} and {v for _, v in cases} - {"DL-03"}
    resources = {r for (r,) in sql(srv, "SELECT r.resource_id FROM resources r JOIN grids g ON g.grid_id = r.grid_id "
                                       "WHERE g.parent_id != 'DL-03'")}
    assert not set(re.findall(r'data-resource-id="([^"]+)"', text)) & resources
    # the neighbour village's operator is not served the page cached for DL-03: their own officers in full
    theirs = signed_in(srv, neighbour).get(f"{srv.url}/warnings/{wid}/fieldmap.html", timeout=60).text
    for grid, _, phone in officers:
        mine = village_of[grid] == neighbour
        assert (f'href="tel:{phone}"' in theirs) == mine and (masked_phone(phone) in theirs) != mine, grid


# -- warning re-sends: another village's warning is one that does not exist ---------------------------


def stored_warning(srv, wid: int) -> tuple:
    """Everything a refused re-send must leave alone."""
    [row] = sql(srv, "SELECT source, external_id, status, level, title, lon, lat, radius_m, village_id, version "
                     "FROM warnings WHERE id = :i", i=wid)
    return tuple(row)


def test_a_village_token_cannot_change_another_villages_warning(api_server, gridset):
    srv, village = api_server, api_server.tokens["village"]  # bound to DL-03
    lon, lat = point_in(gridset, "DL-05-01")
    ident = new_id("theirs")
    r = send(srv, alert(ident, info(area=f"<circle>{lat},{lon} 0.1</circle>")), "command")
    assert r.status_code == 201, r.text
    [written] = r.json()["written"]
    wid = written["id"]
    reached = {v for (v,) in sql(srv, "SELECT g.parent_id FROM warning_grids w JOIN grids g ON g.grid_id = w.grid_id "
                                      "WHERE w.warning_id = :i", i=wid)}
    assert reached == {"DL-05"}
    before = stored_warning(srv, wid)
    # a JSON re-send under its key, from a point in the token's own village
    resend = dict(a_warning(gridset, 1000), source=SENDER, external_id=ident, title="已解除")
    r = post(srv, "/api/v1/warnings", resend, village)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    # the answer echoes the caller's own key (whose random part may hold any digits); beyond it, it names
    # neither the warning nor its village
    rest = error["message"].replace(ident, "").replace(SENDER, "")
    assert error["field"] == "external_id" and str(wid) not in rest and "DL-05" not in rest, error
    # a CAP Cancel naming it is answered as one naming a warning never sent
    hidden = send(srv, alert("c1", "", "Cancel", f"{SENDER},{ident},{when(0)}"), "village")
    absent = send(srv, alert("c1", "", "Cancel", f"{SENDER},never-sent,{when(0)}"), "village")
    assert (hidden.status_code, absent.status_code) == (422, 422)
    assert hidden.text.replace(ident, "X") == absent.text.replace("never-sent", "X")
    # a CAP Update naming it: as for a missed original, a new warning of its own (in DL-03)
    r = send(srv, alert(new_id("upd"), info(), "Update", f"{SENDER},{ident},{when(0)}"), "village")
    assert r.status_code == 201, r.text
    [new] = r.json()["written"]
    assert new["id"] != wid and any("no stored warning matches" in n for n in r.json()["notes"])
    assert stored_warning(srv, wid) == before
