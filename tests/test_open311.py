"""Open311 GeoReport v2 over real HTTP, with requests shaped like the spec's examples."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import defusedxml.ElementTree as SafeET
import pytest
import requests
from sqlalchemy import text

from township.config import BUNDLED_GRIDS
from township.domain.isotime import iso
from township.domain.vocab import CASE_TYPES, OPEN_STATUSES
from township.formats.open311 import Open311Request, Open311Service
from township.grids.validate import load_grid_file
from township.store.models import utcnow

pytestmark = pytest.mark.store

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


@pytest.fixture(scope="module")
def spot():
    """A point inside grid DL-06-02 (lon, lat)."""
    p = load_grid_file(BUNDLED_GRIDS).geometry("DL-06-02").representative_point()
    return round(p.x, 6), round(p.y, 6)


def url(srv, path: str) -> str:
    return f"{srv.url}/open311/v2/{path}"


def sample_form(api_key: str, lon: float, lat: float, **extra) -> dict:
    """A POST requests form as the spec's example sends it (the fields we do not keep included)."""
    return {
        "api_key": api_key, "jurisdiction_id": "dalu.zhungeer.gov.cn", "service_code": "hazard",
        "lat": str(lat), "long": str(lon), "address_string": "大路镇二旦桥村三社", "email": "resident@example.cn",
        "device_id": "tt222111", "account_id": "", "first_name": "建国", "last_name": "王",
        "phone": "13812341234", "description": "路边电线杆倾斜,随时可能倒下\n靠近小学门口", "media_url": "",
        **extra,
    }


def xml(resp: requests.Response):
    assert resp.text.startswith(XML_HEAD)
    return SafeET.fromstring(resp.content)


def sql(srv, query: str, **params):
    with srv.engine.connect() as conn:
        return conn.execute(text(query), params).all()


def test_services_in_json_and_xml(api_server):
    services = requests.get(url(api_server, "services.json"), timeout=10).json()
    assert [s["service_code"] for s in services] == list(CASE_TYPES)
    for s in services:
        assert set(s) == set(Open311Service.model_fields)
        assert s["metadata"] is False and s["type"] == "realtime" and s["keywords"]
    assert {s["service_code"]: s["group"] for s in services}["hazard"] == "平安预警"
    root = xml(requests.get(url(api_server, "services.xml"), timeout=10))
    assert root.tag == "services"
    assert [el.findtext("service_code") for el in root.findall("service")] == list(CASE_TYPES)
    assert root.find("service").findtext("metadata") == "false"
    assert root.find("service").findtext("service_name") == "矛盾纠纷"


def test_service_definition_and_unknown_service(api_server):
    definition = requests.get(url(api_server, "services/dispute.json"), timeout=10).json()
    assert definition["service_code"] == "dispute" and definition["attributes"][0]["code"] == "domain"
    root = xml(requests.get(url(api_server, "services/dispute.xml"), timeout=10))
    assert root.tag == "service_definition"
    assert "governance" in [v.findtext("key") for v in root.iter("value")]
    r = requests.get(url(api_server, "services/plumbing.json"), timeout=10)
    assert r.status_code == 404 and r.json() == [{"code": 404, "description": "service_code 'plumbing' unknown"}]
    r = requests.get(url(api_server, "services/plumbing.xml"), timeout=10)
    err = xml(r)
    assert r.status_code == 404 and err.tag == "errors" and err.find("error").findtext("code") == "404"
    assert requests.get(url(api_server, "discovery.json"), timeout=10).json()["endpoints"][0]["url"].endswith("/v2/")


def test_post_a_request_then_read_it_back_in_json_and_xml(api_server, spot):
    lon, lat = spot
    r = requests.post(url(api_server, "requests.json"), data=sample_form(api_server.tokens["command"], lon, lat),
                      timeout=10)
    assert r.status_code == 201, r.text
    [created] = r.json()
    rid = created["service_request_id"]
    assert rid.isdigit() and "service_notice" in created

    [req] = requests.get(url(api_server, f"requests/{rid}.json"), timeout=10).json()
    assert set(req) == set(Open311Request.model_fields)
    assert req["service_request_id"] == rid and req["service_code"] == "hazard" and req["service_name"] == "隐患"
    assert req["status"] == "open" and req["status_notes"] == "已上报 (reported)"
    assert (req["lat"], req["long"]) == (lat, lon)
    assert req["grid_id"] == "DL-06-02" and req["village_id"] == "DL-06" and req["domain"] == "safety"
    assert req["requested_datetime"].endswith("+08:00") and req["expected_datetime"] > req["requested_datetime"]
    assert req["address"] == "大路镇二旦桥村三社" and req["description"] == "路边电线杆倾斜,随时可能倒下\n靠近小学门口"
    assert "建国" not in json.dumps(req, ensure_ascii=False) and "13812341234" not in json.dumps(req)
    assert req["agency_responsible"].startswith("网格")

    root = xml(requests.get(url(api_server, f"requests/{rid}.xml"), timeout=10))
    assert root.tag == "service_requests"
    [el] = root.findall("request")
    assert el.findtext("service_request_id") == rid and el.findtext("status") == "open"
    assert float(el.findtext("lat")) == lat and float(el.findtext("long")) == lon
    assert el.findtext("requested_datetime") == req["requested_datetime"]

    # the reporter is kept (surname first), the e-mail is not; personal data shows only to a role that may see it
    row = sql(api_server, "SELECT reporter, reporter_phone, source, title FROM cases WHERE id=:i", i=int(rid))[0]
    assert tuple(row) == ("王建国", "13812341234", "citizen", "路边电线杆倾斜,随时可能倒下")
    assert "resident@example.cn" not in str(sql(api_server, "SELECT * FROM cases WHERE id=:i", i=int(rid)))
    case = requests.get(f"{api_server.url}/api/v1/cases/{rid}", timeout=10,
                        headers={"Authorization": f"Bearer {api_server.tokens['responder']}"}).json()
    assert case["reporter"] == "王建国"


def test_post_in_xml_with_the_domain_attribute_and_a_source_id(api_server, spot):
    lon, lat = spot
    ext = uuid.uuid4().hex[:10]
    form = sample_form(api_server.tokens["admin"], lon, lat, service_code="proposal",
                       **{"attribute[domain]": "agriculture", "external_id": ext, "source": "meeting"})
    r = requests.post(url(api_server, "requests.xml"), data=form, timeout=10)
    assert r.status_code == 201
    rid = xml(r).find("request").findtext("service_request_id")
    again = requests.post(url(api_server, "requests.xml"), data=dict(form, description="已协调解决"), timeout=10)
    assert again.status_code == 200, "a re-sent source id is an update"
    assert xml(again).find("request").findtext("service_request_id") == rid
    row = sql(api_server, "SELECT domain, type, description FROM cases WHERE source='meeting' AND external_id=:e",
              e=ext)
    assert len(row) == 1 and row[0].domain == "agriculture" and row[0].type == "proposal"
    assert row[0].description.startswith("已协调解决")


def test_post_errors_are_a_code_description_list(api_server, spot):
    lon, lat = spot
    token = api_server.tokens["command"]
    r = requests.post(url(api_server, "requests.json"), data=dict(sample_form(token, lon, lat), api_key=""),
                      timeout=10)
    assert r.status_code == 401 and r.json()[0]["code"] == 401
    r = requests.post(url(api_server, "requests.json"), data=sample_form("wrong", lon, lat), timeout=10)
    assert r.status_code == 401
    r = requests.post(url(api_server, "requests.xml"), data=sample_form(api_server.tokens["wall"], lon, lat),
                      timeout=10)
    assert r.status_code == 403 and xml(r).find("error").findtext("code") == "403"

    bad = dict(sample_form(token, lon, lat), lat="north", phone="call me", address_string="x" * 201)
    del bad["long"]
    del bad["service_code"]
    r = requests.post(url(api_server, "requests.json"), data=bad, timeout=10)
    assert r.status_code == 400
    described = {e["description"].split(":")[0]: e["description"] for e in r.json()}
    assert set(described) == {"service_code", "lat", "long", "phone", "address_string"}
    assert described["service_code"] == "service_code: missing; it is required"
    assert all(e["code"] == 400 for e in r.json())

    r = requests.post(url(api_server, "requests.xml"), data=sample_form(token, 116.397, 39.909), timeout=10)
    [err] = xml(r).findall("error")
    assert r.status_code == 400 and err.findtext("description").startswith("lat,long:")
    assert "outside the town" in err.findtext("description")

    r = requests.post(url(api_server, "requests.json"), json=sample_form(token, lon, lat), timeout=10)
    assert r.status_code == 400 and "form-encoded" in r.json()[0]["description"]


def test_get_requests_filters_agree_with_sql(api_server):
    end = utcnow()
    start = end - timedelta(days=60)
    params = {"start_date": iso(start), "end_date": iso(end), "service_code": "hazard,dispute", "status": "open"}
    found = requests.get(url(api_server, "requests.json"), params=params, timeout=10).json()
    open_list = ",".join(f"'{s}'" for s in OPEN_STATUSES)
    expected = sql(api_server, f"SELECT id FROM cases WHERE type IN ('hazard','dispute') AND status IN ({open_list}) "
                   "AND reported_at BETWEEN :s AND :e ORDER BY reported_at DESC, id DESC",
                   s=start.replace(microsecond=0).isoformat(sep=" "), e=end.replace(microsecond=0).isoformat(sep=" "))
    assert [int(r["service_request_id"]) for r in found] == [e.id for e in expected]
    assert found and all(r["status"] == "open" and r["service_code"] in ("hazard", "dispute") for r in found)

    closed = requests.get(url(api_server, "requests.xml"), params={**params, "status": "closed"}, timeout=10)
    assert all(el.findtext("status") == "closed" for el in xml(closed).findall("request"))

    some = [str(e.id) for e in expected[:3]]
    picked = requests.get(url(api_server, "requests.json"), params={"service_request_id": ",".join(some),
                                                                     "service_code": "wish"}, timeout=10).json()
    assert sorted(r["service_request_id"] for r in picked) == sorted(some), "ids win over other filters"


def test_the_90_day_rule_and_other_query_errors(api_server):
    end = utcnow()
    r = requests.get(url(api_server, "requests.json"), timeout=10, params={
        "start_date": iso(end - timedelta(days=91)), "end_date": iso(end)})
    assert r.status_code == 400
    assert r.json() == [{"code": 400, "description": "start_date and end_date are 91 days apart; at most 90 allowed"}]
    r = requests.get(url(api_server, "requests.xml"), timeout=10, params={
        "start_date": iso(end - timedelta(days=10)), "end_date": iso(end - timedelta(days=20))})
    assert r.status_code == 400 and "after end_date" in xml(r).find("error").findtext("description")
    r = requests.get(url(api_server, "requests.json"), params={"start_date": "last tuesday", "status": "pending"},
                     timeout=10)
    assert r.status_code == 400 and len(r.json()) == 2
    ok = requests.get(url(api_server, "requests.json"), timeout=10, params={
        "start_date": (end - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ"), "end_date": iso(end)})
    assert ok.status_code == 200
    assert requests.get(url(api_server, "requests/999999999.json"), timeout=10).status_code == 404


def count_cases(srv) -> int:
    return sql(srv, "SELECT count(*) FROM cases")[0][0]


def test_media_url_and_address_string_are_kept_and_answered(api_server, spot):
    lon, lat = spot
    media = "https://photos.example.cn/dalu/pole-0042.jpg"
    form = sample_form(api_server.tokens["command"], lon, lat, media_url=media)
    r = requests.post(url(api_server, "requests.json"), data=form, timeout=10)
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    [req] = requests.get(url(api_server, f"requests/{rid}.json"), timeout=10).json()
    assert req["media_url"] == media and req["address"] == "大路镇二旦桥村三社"
    el = xml(requests.get(url(api_server, f"requests/{rid}.xml"), timeout=10)).find("request")
    assert el.findtext("media_url") == media and el.findtext("address") == "大路镇二旦桥村三社"
    assert sql(api_server, "SELECT address, media_url FROM cases WHERE id=:i", i=int(rid))[0] == (
        "大路镇二旦桥村三社", media)

    # without address_string the address is the village's and the grid's names, from the grid file itself
    bare = {k: v for k, v in form.items() if k not in ("address_string", "media_url")}
    rid = requests.post(url(api_server, "requests.json"), data=bare, timeout=10).json()[0]["service_request_id"]
    [req] = requests.get(url(api_server, f"requests/{rid}.json"), timeout=10).json()
    gs = load_grid_file(BUNDLED_GRIDS)
    assert req["address"] == f"{gs.props('DL-06')['name']} {gs.props('DL-06-02')['name']}"
    assert req["media_url"] == ""

    r = requests.post(url(api_server, "requests.json"), data=dict(form, media_url="javascript:alert(1)"), timeout=10)
    assert r.status_code == 400 and r.json()[0]["description"].startswith("media_url: ")


def test_unknown_service_code_and_jurisdiction_are_404_and_write_nothing(api_server, spot):
    lon, lat = spot
    token = api_server.tokens["command"]
    before = count_cases(api_server)
    r = requests.post(url(api_server, "requests.json"), data=sample_form(token, lon, lat, service_code="plumbing"),
                      timeout=10)
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    assert r.json()[0]["description"].startswith("service_code: 'plumbing' unknown")
    r = requests.post(url(api_server, "requests.xml"),
                      data=sample_form(token, lon, lat, jurisdiction_id="beijing.gov.cn"), timeout=10)
    assert r.status_code == 404 and xml(r).find("error").findtext("description").startswith("jurisdiction_id: ")
    assert count_cases(api_server) == before
    for path in ("services.json", "requests.json", "discovery.json", "services/hazard.json"):
        r = requests.get(url(api_server, path), params={"jurisdiction_id": "beijing.gov.cn"}, timeout=10)
        assert r.status_code == 404 and "jurisdiction_id" in r.json()[0]["description"], path
        assert requests.get(url(api_server, path), params={"jurisdiction_id": "dalu.zhungeer.gov.cn"},
                            timeout=10).status_code == 200, path


def test_a_body_that_is_not_utf8_is_400_saying_so(api_server, spot):
    lon, lat = spot
    token = api_server.tokens["command"]
    before = count_cases(api_server)
    gbk = f"api_key={token}&service_code=hazard&lat={lat}&long={lon}&description=".encode() + "电线杆".encode("gbk")
    percent = f"api_key={token}&service_code=hazard&lat={lat}&long={lon}&description=%B5%E7%CF%DF%B8%CB"
    for body in (gbk, percent.encode()):
        r = requests.post(url(api_server, "requests.json"), data=body, timeout=10,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 400, r.text
        assert "not UTF-8" in r.json()[0]["description"]
    assert count_cases(api_server) == before
