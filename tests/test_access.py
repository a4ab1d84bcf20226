"""Every HTTP route and every Dash callback against every role and a foreign village.

The tables below give each route (from the app's own URL map) and each
callback (from its own callback map) a probe: what a role may get back and
what it may change. `test_the_tables_cover_the_app` fails when a route or a
callback exists that has no probe, so a new one cannot be forgotten.

Each probe runs against a real server (sign-in required, demo users and data)
as each role: ``admin``, ``command``, ``village`` (DL-01), ``responder``
(H-OF-DL-01-01), ``wall`` (signed in as each demo user, with an API token of
that role) and ``anonymous`` (no cookie, no token). Whatever comes back is
searched for what the role may not see, taken from the store by SQL: for the
village operator the foreign village's (DL-05) reporters and handlers, for
the wall and the anonymous every reporter's name and phone and every handler's
phone. A write a role may not make must be refused and change no row.
"""
from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import requests
from conftest import LiveServer
from sqlalchemy import text

from township.accounts.tokens import create_token
from township.accounts.users import DEMO_USERS
from township.store.engine import make_engine

ROLES = ("admin", "command", "village", "responder", "wall", "anonymous")
OWN, FOREIGN = "DL-01", "DL-05"
RESPONDER_HANDLER = "H-OF-DL-01-01"
#: Roles that see personal data unmasked (spelt out here, not taken from the policy under test).
PERSONAL = ("admin", "command", "village", "responder")
#: The map's trace number of warning points (layers.mapfig.WARNINGS).
WARNING_TRACE = 5
TIMEOUT = 60


@dataclass
class Secrets:
    """What the store holds that some role may not see, read by SQL."""

    foreign_cases: set[int]
    own_cases: set[int]
    #: names and phones of the foreign village's reporters and handlers (none of them also in the own village's)
    foreign_people: set[str]
    reporter_names: set[str]
    reporter_phones: set[str]
    handler_phones: set[str]
    handler_names: set[str]

    @property
    def longest(self) -> int:
        """The longest name of them all (in characters)."""
        return max(len(n) for n in self.foreign_people | self.reporter_names | self.handler_names if not n.isdigit())


@dataclass
class Site:
    srv: LiveServer
    engine: object
    tokens: dict[str, str]
    secrets: Secrets
    end_id: str
    deps: dict[str, dict]
    clients: dict[str, Client] = field(default_factory=dict)

    def sql(self, query: str, **params) -> list:
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            return list(conn.execute(text(query), params))

    def one(self, query: str, **params):
        return self.sql(query, **params)[0][0]

    def counts(self) -> tuple:
        """Everything a write could change: row counts, the sum of versions, the data version."""
        return tuple(self.one(q) for q in (
            "SELECT count(*) FROM cases", "SELECT coalesce(sum(version), 0) FROM cases",
            "SELECT count(*) FROM case_events", "SELECT count(*) FROM warnings",
            "SELECT coalesce(sum(version), 0) FROM warnings", "SELECT count(*) FROM warning_events",
            "SELECT value FROM meta WHERE key = 'data_version'"))


class Client:
    """One role's browser and API client: a signed-in session cookie and a bearer token of that role."""

    def __init__(self, site: Site, role: str) -> None:
        self.site, self.role = site, role
        self.http = requests.Session()
        self.token = site.tokens.get(role)
        if role != "anonymous":
            username, password = next((u, p) for u, p, r, *_ in DEMO_USERS if r == role)
            r = self.http.post(site.srv.url + "/login", data={"username": username, "password": password},
                               allow_redirects=False, timeout=TIMEOUT)
            assert r.status_code == 302, r.text

    def request(self, method: str, path: str, *, token: bool = True, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if token and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.http.request(method, self.site.srv.url + path, headers=headers, allow_redirects=False,
                                 timeout=TIMEOUT, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def callback(self, key: str, values: dict[str, object], trigger: str) -> requests.Response:
        """Call the callback ``key`` as the page would: ``values`` by ``id.property`` (missing: None)."""
        dep = self.site.deps[key]

        def spec(item: dict) -> dict | list:
            cid = json.loads(item["id"]) if item["id"].startswith("{") else item["id"]
            name = f"{item['id']}.{item['property']}"
            if isinstance(cid, dict):  # a pattern (ALL): the values given are the matching components
                return [{"id": i, "property": item["property"], "value": v} for i, v in values.get(name, [])]
            return {"id": cid, "property": item["property"], "value": values.get(name)}

        outputs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
                   for o in dep["output"].strip(".").split("...")]
        body = {"output": dep["output"], "outputs": outputs if dep["output"].startswith("..") else outputs[0],
                "inputs": [spec(i) for i in dep["inputs"]], "state": [spec(s) for s in dep["state"]],
                "changedPropIds": [trigger]}
        url = f"/_dash-update-component?endId={self.site.end_id}"
        r = self.post(url, json=body, token=False)
        if not dep["background"]:
            return r
        assert r.status_code == 200, r.text  # a background callback answers with a job to poll until it is done
        job = r.json()
        for _ in range(300):
            time.sleep(0.1)
            r = self.post(f"{url}&cacheKey={job['cacheKey']}&job={job['job']}", json=body, token=False)
            if r.status_code != 200 or "response" in r.json():
                return r
        raise AssertionError(f"background callback {key} did not finish")


# -- what may come back ----------------------------------------------------------------------------

def _readable(r: requests.Response) -> str:
    """The body as text: JSON with its \\u escapes undone (an escaped name would hide from the search), a
    workbook's cells one per line."""
    kind = r.headers.get("Content-Type", "")
    if "spreadsheetml" in kind:
        import io

        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(r.content), read_only=True)
        return "\n".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if v)
    if "json" in kind:
        try:
            return json.dumps(r.json(), ensure_ascii=False)
        except ValueError:
            return r.text
    return r.text


def _grams(body: str, longest: int) -> set[str]:
    """Every run of 2..``longest`` Chinese characters in ``body`` (names are looked up here, not searched for)."""
    return {run[i:j] for run in re.findall(r"[\u4e00-\u9fff]{2,}", body)
            for i in range(len(run)) for j in range(i + 2, min(len(run), i + longest) + 1)}


def leaks(site: Site, role: str, r: requests.Response) -> list[str]:
    """What in the answer ``role`` may not see."""
    body = _readable(r)
    s = site.secrets
    found: list[str] = []
    phones = set(re.findall(r"\d{11}", body))
    if role == "village":
        found += [f"foreign village's {p}" for p in (phones | _grams(body, s.longest)) & s.foreign_people]
    if role not in PERSONAL:
        found += [f"reporter phone {p}" for p in phones & s.reporter_phones]
        found += [f"handler phone {p}" for p in phones & s.handler_phones]
        handlers = _grams(body, s.longest) & s.handler_names
        found += [f"handler name {n}" for n in handlers]
        for name in sorted(handlers, key=len, reverse=True):  # a reporter 贾强 is no leak inside the handler 贾强军
            body = body.replace(name, "")
        found += [f"reporter name {n}" for n in _grams(body, s.longest) & s.reporter_names]
    return found


def clean(c: Client, r: requests.Response, *statuses: int) -> requests.Response:
    """Assert the status is one of ``statuses`` and nothing ``c.role`` may not see came back."""
    assert r.status_code in statuses, f"{c.role}: {r.status_code} {r.text[:300]}"
    found = leaks(c.site, c.role, r)
    assert not found, f"{c.role} was shown {found[:5]}"
    return r


def refused(c: Client, do: Callable[[], requests.Response], *statuses: int) -> requests.Response:
    """``do`` is refused with one of ``statuses`` and changes nothing stored."""
    before = c.site.counts()
    r = clean(c, do(), *statuses)
    assert c.site.counts() == before, f"{c.role}: a refused write changed the store"
    return r


def page_status(c: Client) -> int:
    """A page: shown to whoever signed in; someone not signed in is sent to /login."""
    return 302 if c.role == "anonymous" else 200


# -- the fixtures -----------------------------------------------------------------------------------

def _secrets(site: Site) -> Secrets:
    def col(q: str, **p) -> set:
        return {row[0] for row in site.sql(q, **p) if row[0]}

    own_people = (col("SELECT reporter FROM cases WHERE village_id = :v", v=OWN)
                  | col("SELECT reporter_phone FROM cases WHERE village_id = :v", v=OWN)
                  | col("SELECT handler FROM cases WHERE village_id = :v", v=OWN)
                  | col("SELECT name FROM handlers WHERE village_id = :v", v=OWN)
                  | col("SELECT phone FROM handlers WHERE village_id = :v", v=OWN)
                  | col("SELECT head FROM households WHERE village_id = :v", v=OWN)
                  | col("SELECT phone FROM households WHERE village_id = :v", v=OWN))
    foreign = (col("SELECT reporter FROM cases WHERE village_id = :v", v=FOREIGN)
               | col("SELECT reporter_phone FROM cases WHERE village_id = :v", v=FOREIGN)
               | col("SELECT name FROM handlers WHERE village_id = :v", v=FOREIGN)
               | col("SELECT phone FROM handlers WHERE village_id = :v", v=FOREIGN)
               | col("SELECT head FROM households WHERE village_id = :v", v=FOREIGN)
               | col("SELECT phone FROM households WHERE village_id = :v", v=FOREIGN))
    # Handlers who are people (a volunteer team's or a department's name is no personal data).
    teams = col("SELECT name FROM handlers WHERE kind IN ('volunteer_team', 'department')")
    handler_names = (col("SELECT name FROM handlers") | col("SELECT handler FROM cases")) - teams
    return Secrets(
        foreign_cases=col("SELECT id FROM cases WHERE village_id = :v", v=FOREIGN),
        own_cases=col("SELECT id FROM cases WHERE village_id = :v", v=OWN),
        # A name shared with someone of the own village proves nothing: left out.
        foreign_people={p for p in foreign - own_people if len(p) >= 2},
        reporter_names={n for n in col("SELECT reporter FROM cases") - handler_names if len(n) >= 2},
        reporter_phones=col("SELECT reporter_phone FROM cases"),
        handler_phones=col("SELECT phone FROM handlers"),
        handler_names={n for n in handler_names if len(n) >= 2},
    )


@pytest.fixture(scope="module")
def app_maps(site):
    """The app's own URL map and callback map (built in this process on the server's store)."""
    from app import create_app
    from township.config import Settings

    app = create_app(Settings(database_url=site.srv.database_url, seed_demo=False))
    rules = {(m, rule.rule) for rule in app.server.url_map.iter_rules() for m in rule.methods - {"HEAD", "OPTIONS"}}
    return rules, set(app.callback_map)


@pytest.fixture(scope="module")
def site(tmp_path_factory, stores) -> Site:
    # Sign-in required (no DEFAULT_ROLE), the demo users and year of data, no feed writing meanwhile.
    srv = LiveServer(tmp_path_factory.mktemp("access"), {"DEMO_FEED": "0", "DEFAULT_ROLE": "", "SEED_DEMO": "1"},
                     stores.new("access")).start()
    engine = make_engine(srv.database_url)
    tokens = {role: create_token(engine, f"access-{role}", role, OWN if role == "village" else None,
                                 RESPONDER_HANDLER if role == "responder" else None)
              for role in ROLES if role != "anonymous"}
    index = requests.get(srv.url + "/wall", timeout=TIMEOUT).text
    config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', index,
                                  re.S).group(1))
    deps = {d["output"]: d for d in requests.get(srv.url + "/_dash-dependencies", timeout=TIMEOUT).json()}
    s = Site(srv, engine, tokens, None, config["end_id"], deps)  # type: ignore[arg-type]
    s.secrets = _secrets(s)
    assert s.secrets.foreign_cases and s.secrets.own_cases and s.secrets.foreign_people
    yield s
    srv.stop()
    engine.dispose()


def client(site: Site, role: str) -> Client:
    if role not in site.clients:
        site.clients[role] = Client(site, role)
    return site.clients[role]


# -- ids the probes use ------------------------------------------------------------------------------

def a_case(site: Site, village: str, open_: bool = False) -> int:
    """A case of ``village`` (``open_``: a new one, reported just now, sent with the command token)."""
    if not open_:
        return site.one("SELECT min(id) FROM cases WHERE village_id = :v", v=village)
    r = requests.post(site.srv.url + "/api/v1/cases", json=new_case(site, village), timeout=TIMEOUT,
                      headers={"Authorization": f"Bearer {site.tokens['command']}"})
    assert r.status_code == 201, r.text
    return r.json()[0]["id"]


def warnings_reaching(site: Site, village: str) -> set[int]:
    return {r[0] for r in site.sql("SELECT DISTINCT warning_id FROM warning_grids WHERE grid_id LIKE :p",
                                   p=f"{village}-%")}


def foreign_warning(site: Site) -> int:
    """A warning that does not reach the own village."""
    return site.one("SELECT min(id) FROM warnings WHERE id NOT IN (SELECT warning_id FROM warning_grids "
                    "WHERE grid_id LIKE :p)", p=f"{OWN}-%")


def shared_warning(site: Site) -> int:
    """A warning that reaches the own village and the foreign one."""
    both = warnings_reaching(site, OWN) & warnings_reaching(site, FOREIGN)
    assert both, "the demo data has no warning reaching both villages"
    return min(both)


def point_in(site: Site, village: str) -> tuple[float, float]:
    """A point inside ``village``: where one of its cases was reported."""
    return tuple(site.sql("SELECT lon, lat FROM cases WHERE village_id = :v AND lon IS NOT NULL LIMIT 1",
                          v=village)[0])  # type: ignore[return-value]


_n = iter(range(1, 10**6))


def new_case(site: Site, village: str) -> dict:
    lon, lat = point_in(site, village)
    return {"source": "hotline", "external_id": f"ACCESS-{next(_n)}", "type": "hotline", "domain": "livelihood",
            "title": "路灯不亮", "lon": lon, "lat": lat}


def new_warning(site: Site, village: str) -> dict:
    lon, lat = point_in(site, village)
    return {"source": "weather", "external_id": f"ACCESS-W-{next(_n)}", "type": "gale", "level": 4,
            "title": "大风蓝色预警", "lon": lon, "lat": lat, "radius_m": 500}


def cap_alert(site: Site, village: str) -> bytes:
    from test_cap import alert, info, new_id

    lon, lat = point_in(site, village)
    return alert(new_id("ACCESS"), info(area=f"<circle>{lat},{lon} 0.2</circle>"))


# -- the routes --------------------------------------------------------------------------------------

def public(path: str, status: int = 200) -> Callable[[Client], None]:
    """The same answer for everyone, signed in or not, and nothing personal in it."""
    def probe(c: Client) -> None:
        clean(c, c.get(path), status)
    return probe


def page(path: str) -> Callable[[Client], None]:
    """A page: shown to whoever signed in, else sent to /login; the page's data comes by callbacks."""
    def probe(c: Client) -> None:
        r = clean(c, c.get(path), page_status(c))
        if r.status_code == 302:
            assert r.headers["Location"].startswith("/login")
    return probe


def first_suite(c: Client) -> str:
    return re.search(r'src="(/_dash-component-suites/[^"]+)"', c.get("/wall").text).group(1)


def probe_update_component(c: Client) -> None:
    # The endpoint of every callback, each probed in CALLBACKS: here the cheapest, the data version;
    # a callback the app does not have (a page left open across a deployment) is the client's error.
    url = f"/_dash-update-component?endId={c.site.end_id}"
    for body in ({"output": "nothing.data", "outputs": {"id": "nothing", "property": "data"}, "inputs": []},
                 {"inputs": []}, [1]):
        r = refused(c, lambda body=body: c.post(url, json=body), 400)
        assert "reload" in r.text
    key = "live-version.data"
    r = clean(c, c.callback(key, {"live-tick.n_intervals": 1, "live-version.data": 0}, "live-tick.n_intervals"), 200)
    assert r.json()["response"]["live-version"]["data"] == int(c.site.counts()[-1])


def probe_login_post(c: Client) -> None:
    # Each role tries a user of its own: six wrong passwords for one user would be throttled (429) and lock it out.
    username = next((u for u, _, r, *_ in DEMO_USERS if r == c.role), "nobody")
    r = refused(c, lambda: c.post("/login", data={"username": username, "password": "wrong"}), 401)
    assert "id=\"login-error\"" in r.text  # the form again, with the error; refused() checked nothing changed


def probe_logout(c: Client) -> None:
    # A session of its own: the role's client stays signed in for the other probes.
    other = Client(c.site, c.role)
    assert other.get("/logout").headers["Location"] == "/login"
    assert other.get("/").status_code == 302


def probe_cases_post(c: Client) -> None:
    site = c.site
    if c.role in ("admin", "command"):
        clean(c, c.post("/api/v1/cases", json=new_case(site, FOREIGN)), 201)
    elif c.role == "village":
        clean(c, c.post("/api/v1/cases", json=new_case(site, OWN)), 201)
        refused(c, lambda: c.post("/api/v1/cases", json=new_case(site, FOREIGN)), 403)
    else:
        refused(c, lambda: c.post("/api/v1/cases", json=new_case(site, OWN)), 401 if c.role == "anonymous" else 403)


def probe_resend_foreign_case(c: Client) -> None:
    """A village token re-sending another village's case (its source and id) learns nothing of it."""
    source, external = c.site.sql("SELECT source, external_id FROM cases WHERE id = :i",
                                  i=a_case(c.site, FOREIGN))[0]
    body = {**new_case(c.site, OWN), "source": source, "external_id": external}
    r = refused(c, lambda: c.post("/api/v1/cases", json=body), 422)
    assert [e["field"] for e in r.json()["errors"]] == ["external_id"], r.text
    assert not {str(i) for i in c.site.secrets.foreign_cases} & set(re.findall(r"\d+", r.text))


def probe_cases_get(c: Client) -> None:
    r = clean(c, c.get("/api/v1/cases?window=all&limit=1000"), 200)
    ids = {item["id"] for item in r.json()["items"]}
    assert ids
    if c.role == "village":
        assert not ids & c.site.secrets.foreign_cases
        clean(c, c.get(f"/api/v1/cases?village={FOREIGN}"), 403)
    else:
        assert ids & c.site.secrets.foreign_cases
        clean(c, c.get(f"/api/v1/cases?village={FOREIGN}&window=all"), 200)


def _case_read(suffix: str) -> Callable[[Client], None]:
    def probe(c: Client) -> None:
        clean(c, c.get(f"/api/v1/cases/{a_case(c.site, OWN)}{suffix}"), 200)
        clean(c, c.get(f"/api/v1/cases/{a_case(c.site, FOREIGN)}{suffix}"), 404 if c.role == "village" else 200)
    return probe


def probe_case_move(c: Client) -> None:
    site = c.site

    def cancel(case_id: int) -> requests.Response:
        version = site.one("SELECT version FROM cases WHERE id = :i", i=case_id)
        return c.post(f"/api/v1/cases/{case_id}/cancel", json={"expected_version": version, "reason": "重复"})

    foreign, own = a_case(site, FOREIGN, open_=True), a_case(site, OWN, open_=True)
    if c.role in ("admin", "command"):
        clean(c, cancel(foreign), 200)
    elif c.role == "village":
        refused(c, lambda: cancel(foreign), 404)
        clean(c, cancel(own), 200)
    else:
        refused(c, lambda: cancel(own), {"anonymous": 401}.get(c.role, 403))
        refused(c, lambda: cancel(foreign), {"anonymous": 401}.get(c.role, 403))


def probe_orders(c: Client) -> None:
    clean(c, c.get(f"/api/v1/orders?village={OWN}"), 200)
    clean(c, c.get(f"/api/v1/orders?village={FOREIGN}"), 403 if c.role == "village" else 200)


def probe_warnings_post(c: Client) -> None:
    site = c.site
    if c.role in ("admin", "command"):
        clean(c, c.post("/api/v1/warnings", json=new_warning(site, FOREIGN)), 201)
    elif c.role == "village":
        clean(c, c.post("/api/v1/warnings", json=new_warning(site, OWN)), 201)
        refused(c, lambda: c.post("/api/v1/warnings", json=new_warning(site, FOREIGN)), 403)
    else:
        refused(c, lambda: c.post("/api/v1/warnings", json=new_warning(site, OWN)),
                401 if c.role == "anonymous" else 403)


def probe_warnings_get(c: Client) -> None:
    r = clean(c, c.get("/api/v1/warnings?status=all"), 200)
    ids = {w["id"] for w in r.json()["items"]}
    reach = warnings_reaching(c.site, OWN)
    assert ids and (ids <= reach if c.role == "village" else ids - reach)


def probe_cap_post(c: Client) -> None:
    site = c.site

    def send(village: str) -> requests.Response:
        return c.post("/api/v1/warnings/cap", data=cap_alert(site, village),
                      headers={"Content-Type": "application/cap+xml"})

    if c.role in ("admin", "command"):
        clean(c, send(FOREIGN), 201)
    elif c.role == "village":
        clean(c, send(OWN), 201)
        refused(c, lambda: send(FOREIGN), 403)
    else:
        refused(c, lambda: send(OWN), 401 if c.role == "anonymous" else 403)


def probe_cap_get(c: Client) -> None:
    """An Atom feed linking each warning's CAP document: for a village operator only those reaching it."""
    clean(c, c.get("/api/v1/warnings/cap"), 200)
    r = clean(c, c.get("/api/v1/warnings/cap?status=all"), 200)
    assert "<feed" in r.text
    ids = {int(i) for i in re.findall(r"/api/v1/warnings/(\d+)/cap", r.text)}
    reach = warnings_reaching(c.site, OWN)
    assert ids and (ids <= reach if c.role == "village" else ids - reach)


def probe_warning_cap(c: Client) -> None:
    clean(c, c.get(f"/api/v1/warnings/{min(warnings_reaching(c.site, OWN))}/cap"), 200)
    clean(c, c.get(f"/api/v1/warnings/{foreign_warning(c.site)}/cap"), 404 if c.role == "village" else 200)


def a_warning(site: Site, village: str) -> tuple[int, int]:
    """A new active warning (id, version) posted with the command token; a foreign one misses the own village."""
    r = requests.post(site.srv.url + "/api/v1/warnings", json={**new_warning(site, village), "radius_m": 100},
                      headers={"Authorization": f"Bearer {site.tokens['command']}"}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    wid = r.json()[0]["id"]
    assert (wid in warnings_reaching(site, OWN)) == (village == OWN), wid
    return wid, site.one("SELECT version FROM warnings WHERE id = :i", i=wid)


def a_handler(site: Site, village: str) -> str:
    return site.one("SELECT min(handler_id) FROM handlers WHERE village_id = :v AND active", v=village)


def _warning_write(suffix: str, body: Callable[[Site, str], dict]) -> Callable[[Client], None]:
    """A write on a warning (``suffix``: a move or ``tasks``; ``body(site, village)`` beside the version): the command
    centre acts on any warning, a village operator only on one reaching its village (another is 404, as a
    missing one), the others are refused; a refused write changes nothing."""
    def probe(c: Client) -> None:
        site = c.site

        def send(village: str) -> Callable[[], requests.Response]:
            wid, version = a_warning(site, village)
            return lambda: c.post(f"/api/v1/warnings/{wid}/{suffix}",
                                  json={"expected_version": version, **body(site, village)})

        def acts(do: Callable[[], requests.Response]) -> None:
            before = site.counts()
            clean(c, do(), 200)
            assert site.counts() != before

        if c.role in ("admin", "command"):
            acts(send(FOREIGN))
        elif c.role == "village":
            acts(send(OWN))
            r = refused(c, send(FOREIGN), 404)
            assert not re.search(FOREIGN, r.text), r.text
        else:
            refused(c, send(OWN), 401 if c.role == "anonymous" else 403)
    return probe


def probe_requests_get(c: Client) -> None:
    r = clean(c, c.get("/open311/v2/requests.json?status=open,closed"), 200)
    ids = {int(x["service_request_id"]) for x in r.json()}
    assert ids
    assert bool(ids & c.site.secrets.foreign_cases) == (c.role != "village")


def probe_request_get(c: Client) -> None:
    clean(c, c.get(f"/open311/v2/requests/{a_case(c.site, OWN)}.json"), 200)
    clean(c, c.get(f"/open311/v2/requests/{a_case(c.site, FOREIGN)}.xml"), 404 if c.role == "village" else 200)


def probe_requests_post(c: Client) -> None:
    site = c.site

    def send(village: str) -> requests.Response:
        case = new_case(site, village)
        form = {"service_code": "hotline", "long": case["lon"], "lat": case["lat"], "description": "路灯不亮",
                **({"api_key": c.token} if c.token else {})}
        return c.post("/open311/v2/requests.json", data=form, token=False)

    if c.role in ("admin", "command"):
        clean(c, send(FOREIGN), 201)
    elif c.role == "village":
        clean(c, send(OWN), 201)
        refused(c, lambda: send(FOREIGN), 403)
    else:
        refused(c, lambda: send(OWN), 401 if c.role == "anonymous" else 403)


def probe_grid_fieldmap(c: Client) -> None:
    clean(c, c.get(f"/grid/{OWN}-01/fieldmap.html"), page_status(c))
    clean(c, c.get(f"/grid/{FOREIGN}-01/fieldmap.html"), 403 if c.role == "village" else page_status(c))
    if c.role in ("village", "anonymous"):  # the printed formats are refused before anything is rendered
        clean(c, c.get(f"/grid/{FOREIGN}-01/fieldmap.png"), page_status(c) if c.role == "anonymous" else 403)


def probe_warning_fieldmap(c: Client) -> None:
    # A warning beyond a village operator's reach is answered as a missing one, as the card and the API do.
    wid = foreign_warning(c.site)
    r = clean(c, c.get(f"/warnings/{wid}/fieldmap.html"), 404 if c.role == "village" else page_status(c))
    if c.role == "village":
        missing = c.site.one("SELECT max(id) FROM warnings") + 1000
        absent = c.get(f"/warnings/{missing}/fieldmap.html")
        assert r.text.replace(str(wid), "N") == absent.text.replace(str(missing), "N"), (r.text, absent.text)
    if c.role in ("village", "anonymous"):
        clean(c, c.get(f"/warnings/{wid}/fieldmap.pdf"), page_status(c) if c.role == "anonymous" else 404)


def probe_shared_warning_fieldmap(c: Client) -> None:
    """The field map of a warning reaching the own village and the foreign one lists only the own people."""
    clean(c, c.get(f"/warnings/{shared_warning(c.site)}/fieldmap.html"), 200)


def download(path: str) -> Callable[[Client], None]:
    """A file of the filtered view: a village operator asking for the foreign village gets the own one."""
    def probe(c: Client) -> None:
        clean(c, c.get(path), page_status(c))
        clean(c, c.get(f"{path}{'&' if '?' in path else '?'}village={FOREIGN}&window=all"), page_status(c))
    return probe


def probe_daily_pdf(c: Client) -> None:
    r = c.get(f"/report/daily.pdf?village={FOREIGN}")
    assert r.status_code == page_status(c)
    assert c.role == "anonymous" or r.content.startswith(b"%PDF")


# The residents' routes (群众点单): open to everyone, personal data of no one; a write without the page's proof
# (form token, proof of work) is refused with words and stores nothing.

def _resident_rows(site: Site) -> tuple:
    return site.counts() + tuple(site.one(f"SELECT count(*) FROM {t}") for t in (
        "resident_tracks", "resident_feedback", "resident_hits"))


def resident_write(path: str, data: Callable[[Site], dict], status: int) -> Callable[[Client], None]:
    """A POST of the residents' pages without the proof (or with an unknown code): ``status`` for every role."""
    def probe(c: Client) -> None:
        before = _resident_rows(c.site)
        clean(c, c.post(path, data=data(c.site)), status)
        assert _resident_rows(c.site) == before, f"{c.role}: a refused resident write changed the store"
    return probe


def probe_nearby(c: Client) -> None:
    lon, lat = point_in(c.site, FOREIGN)
    r = clean(c, c.get(f"/resident/nearby?category=road_light&lon={lon}&lat={lat}"), 200)
    assert isinstance(r.json()["cases"], list)
    clean(c, c.get("/resident/nearby?category=nonsense&lon=x"), 400)


def probe_reopen(c: Client) -> None:
    """返工 reopens a case only through the 回访 (the ``system`` actor): no token or role may send ``reopen``."""
    closed = c.site.one("SELECT min(id) FROM cases WHERE village_id = :v AND status = 'closed'", v=OWN)
    version = c.site.one("SELECT version FROM cases WHERE id = :i", i=closed)
    refused(c, lambda: c.post(f"/api/v1/cases/{closed}/reopen", json={"expected_version": version, "reason": "x"}),
            401 if c.role == "anonymous" else 403)


def a_jpeg() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def photo_count(site: Site) -> int:
    return site.one("SELECT count(*) FROM photos")


def probe_photos_post(c: Client) -> None:
    """Who may see a case's photos may add one: not the wall, nor a village operator on another village's case."""
    site = c.site

    def send(case_id: int) -> requests.Response:
        return c.post(f"/api/v1/cases/{case_id}/photos", files={"file": ("a.jpg", a_jpeg(), "image/jpeg")})

    def adds(case_id: int) -> None:
        before = photo_count(site)
        clean(c, send(case_id), 201)
        assert photo_count(site) == before + 1

    def refuses(case_id: int, status: int) -> None:
        before = photo_count(site)
        refused(c, lambda: send(case_id), status)
        assert photo_count(site) == before

    own, foreign = a_case(site, OWN, open_=True), a_case(site, FOREIGN, open_=True)
    if c.role == "village":
        adds(own)
        refuses(foreign, 404)
    elif c.role in PERSONAL:
        adds(foreign)
    else:
        refuses(own, 401 if c.role == "anonymous" else 404)


def a_photo(site: Site, village: str) -> tuple[int, int]:
    """(case, photo): a new open case of ``village`` with a photo, both sent with the command token."""
    case_id = a_case(site, village, open_=True)
    r = requests.post(f"{site.srv.url}/api/v1/cases/{case_id}/photos", files={"file": ("a.jpg", a_jpeg())},
                      headers={"Authorization": f"Bearer {site.tokens['command']}"}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return case_id, r.json()["id"]


def sees_photos(c: Client, village: str) -> bool:
    """Spelt out here: roles that see personal data, a village operator in its own village only."""
    return c.role in PERSONAL and (c.role != "village" or village == OWN)


def probe_photos_get(c: Client) -> None:
    for village in (OWN, FOREIGN):
        case_id, photo_id = a_photo(c.site, village)
        r = clean(c, c.get(f"/api/v1/cases/{case_id}/photos"), 200 if sees_photos(c, village) else 404)
        assert (r.status_code == 404) or [p["id"] for p in r.json()["items"]] == [photo_id]


def _photo_bytes(suffix: str) -> Callable[[Client], None]:
    """A photo's bytes, asked with the role's token and with its session cookie alone: the same answer."""
    def probe(c: Client) -> None:
        for village in (OWN, FOREIGN):
            _, photo_id = a_photo(c.site, village)
            for token in (True, False):
                r = c.get(f"/api/v1/photos/{photo_id}{suffix}", token=token)
                if sees_photos(c, village):
                    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg", (c.role, r.text[:200])
                else:
                    clean(c, r, 404)
    return probe


# -- evacuation (转移安置): the roster's people for command, the village and the helper; counts for the rest ----

_evacuations: dict[str, int] = {}


def an_evacuation(site: Site, village: str) -> int:
    """A red 凌汛 warning over the first grid of ``village`` (800 m round one of its households), its evacuation
    started by the command centre; made once per village."""
    if village not in _evacuations:
        lon, lat = site.sql("SELECT lon, lat FROM households WHERE grid_id = :g ORDER BY id LIMIT 1",
                            g=f"{village}-01")[0]
        command = {"Authorization": f"Bearer {site.tokens['command']}"}
        r = requests.post(site.srv.url + "/api/v1/warnings", headers=command, timeout=TIMEOUT, json={
            "source": "test", "external_id": f"ACCESS-EVAC-{village}", "type": "ice_flood", "level": 1,
            "title": "凌汛红色预警", "lon": lon, "lat": lat, "radius_m": 800})
        assert r.status_code == 201, r.text
        wid = r.json()[0]["id"]
        r = requests.post(f"{site.srv.url}/api/v1/warnings/{wid}/evacuation", json={}, headers=command,
                          timeout=TIMEOUT)
        assert r.status_code == 201, r.text
        _evacuations[village] = wid
    return _evacuations[village]


def roster_people(site: Site, wid: int, where: str = "1 = 1", **params) -> list[tuple]:
    """(entry id, head, phone, village, helper, backup) of warning ``wid``'s roster, by SQL."""
    return site.sql("SELECT e.id, h.head, h.phone, h.village_id, h.helper_id, h.backup_id FROM evacuation_households e "
                    "JOIN households h ON h.id = e.household_id JOIN evacuations v ON v.id = e.evacuation_id "
                    f"WHERE v.warning_id = :w AND {where} ORDER BY e.id", w=wid, **params)


def shown_households(c: Client, village: str) -> set[int]:
    """Spelt out here: command sees all, a village operator its own village's, the helper theirs, others none."""
    rows = roster_people(c.site, an_evacuation(c.site, village))
    if c.role in ("admin", "command"):
        return {r[0] for r in rows}
    if c.role == "village":
        return {r[0] for r in rows if r[3] == OWN}
    if c.role == "responder":
        return {r[0] for r in rows if RESPONDER_HANDLER in (r[4], r[5])}
    return set()


def probe_evacuation_get(c: Client) -> None:
    for village in (OWN, FOREIGN):
        wid = an_evacuation(c.site, village)
        r = c.get(f"/api/v1/warnings/{wid}/evacuation")
        if c.role == "village" and village == FOREIGN:
            clean(c, r, 404)
            continue
        body = clean(c, r, 200).json()
        rows = roster_people(c.site, wid)
        shown = shown_households(c, village)
        assert {h["id"] for h in body["households"]} == shown and body["total"] == len(rows), c.role
        assert body["hidden"] == len(rows) - len(shown)
        for entry, _, phone, *_ in rows:
            if entry not in shown:
                assert phone not in r.text, (c.role, entry)


def probe_evacuation_start(c: Client) -> None:
    """Only the command centre starts an evacuation; a refusal starts none."""
    site = c.site

    def send(village: str) -> Callable[[], requests.Response]:
        wid, _ = a_warning(site, village)
        return lambda: c.post(f"/api/v1/warnings/{wid}/evacuation", json={"note": "演练"})

    before = site.one("SELECT count(*) FROM evacuations")
    if c.role in ("admin", "command"):
        clean(c, send(FOREIGN)(), 201)
        assert site.one("SELECT count(*) FROM evacuations") == before + 1
        return
    refused(c, send(FOREIGN if c.role == "village" else OWN), {"village": 404, "anonymous": 401}.get(c.role, 403))
    if c.role == "village":
        refused(c, send(OWN), 403)
    assert site.one("SELECT count(*) FROM evacuations") == before


def probe_evacuation_move(c: Client) -> None:
    """A household is checked off by who may see it on the roster; to anyone else it is missing (401 without a
    token) and nothing changes."""
    site = c.site
    for village in (OWN, FOREIGN):
        wid = an_evacuation(site, village)
        pending = {r[0] for r in roster_people(site, wid, "e.status = 'pending'")}
        mine = sorted(pending & shown_households(c, village))
        target = mine[0] if mine else min(pending)
        version = site.one("SELECT version FROM evacuation_households WHERE id = :i", i=target)

        def do(target: int = target, version: int = version) -> requests.Response:
            return c.post(f"/api/v1/evacuation/households/{target}/notify", json={"expected_version": version})

        if mine:
            clean(c, do(), 200)
            assert site.one("SELECT status FROM evacuation_households WHERE id = :i", i=target) == "notified"
        else:
            refused(c, do, 401 if c.role == "anonymous" else 404)
            assert site.one("SELECT status FROM evacuation_households WHERE id = :i", i=target) == "pending"


def probe_evacuation_ledger(c: Client) -> None:
    """The printable 转移台账 (内部资料): command the whole roster, a village operator its own village's
    households; another village's warning is missing to it; everyone else 403 (the sign-in gate: 302)."""
    for village in (OWN, FOREIGN):
        wid = an_evacuation(c.site, village)
        r = c.get(f"/warnings/{wid}/evacuation.html")
        rows = roster_people(c.site, wid)
        if c.role == "anonymous":
            clean(c, r, 302)
        elif c.role in ("admin", "command") or (c.role == "village" and village == OWN):
            assert r.status_code == 200 and "内部资料" in r.text, (c.role, r.status_code)
            for _, _, phone, v, *_ in rows:
                assert (phone in r.text) == (c.role != "village" or v == OWN), (c.role, phone)
        else:
            clean(c, r, 404 if c.role == "village" else 403)


def unknown(method: str, path: str) -> Callable[[Client], None]:
    """A path under the API that does not exist: 404 for everyone, and nothing changes."""
    return lambda c: refused(c, lambda: c.request(method, path), 404)


# -- the field app (/m): its own sign-in (device sessions); only a responder acting as a handler ----------

FIELD_MOVES = ("accept", "start", "resolve", "return")


def field_client(c: Client) -> requests.Session | None:
    """The role's phone signed in at /m/login (a device session); ``None`` for a role the field app refuses."""
    if not hasattr(c, "phone"):
        c.phone = None  # type: ignore[attr-defined]
        if c.role == "responder":
            username, password = next((u, p) for u, p, r, *_ in DEMO_USERS if r == "responder")
            phone = requests.Session()
            r = phone.post(c.site.srv.url + "/m/login", data={"username": username, "password": password},
                           allow_redirects=False, timeout=TIMEOUT)
            assert r.status_code == 302 and r.headers["Location"] == "/m", r.text
            c.phone = phone  # type: ignore[attr-defined]
    return c.phone  # type: ignore[attr-defined]


def field_get(c: Client, path: str) -> requests.Response:
    """GET ``path`` as the role's phone (the responder) or with the role's desk session and token (the others)."""
    phone = field_client(c)
    if phone is None:
        return c.get(path)
    return phone.get(c.site.srv.url + path, allow_redirects=False, timeout=TIMEOUT)


def field_page(path: Callable[[Site], str]) -> Callable[[Client], None]:
    """A page of the field app: shown to a responder's phone; anyone else is sent to its own sign-in."""
    def probe(c: Client) -> None:
        r = clean(c, field_get(c, path(c.site)), 200 if c.role == "responder" else 302)
        if r.status_code == 302:
            assert r.headers["Location"] == "/m/login"
    return probe


def field_write(c: Client, path: str, body: dict) -> requests.Response:
    phone = field_client(c)
    if phone is None:
        return c.post(path, json=body)
    return phone.post(c.site.srv.url + path, json=body, allow_redirects=False, timeout=TIMEOUT)


def probe_field_move(c: Client) -> None:
    # A case dispatched to no one: the responder may not accept it (not theirs, not a pool order); the others
    # have no device session. Nothing changes either way.
    case_id = a_case(c.site, FOREIGN, open_=True)
    for move in FIELD_MOVES:
        body = {"key": f"access-{next(_n)}-{move}", "expected_version": c.site.one(
            "SELECT version FROM cases WHERE id = :i", i=case_id), "text": "演练"}
        refused(c, lambda move=move, body=body: field_write(c, f"/m/api/cases/{case_id}/{move}", body),
                *((403, 409) if c.role == "responder" else (401,)))


def probe_field_report(c: Client) -> None:
    lon, lat = point_in(c.site, OWN)
    body = {"key": f"access-report-{next(_n)}", "type": "hazard", "domain": "safety", "description": "护栏松动",
            "lon": lon, "lat": lat}
    if c.role == "responder":
        clean(c, field_write(c, "/m/api/reports", body), 201)
        refused(c, lambda: field_write(c, "/m/api/reports", {**body, "key": f"access-report-{next(_n)}",
                                                            "lon": 100.0, "lat": 10.0}), 422)
    else:
        refused(c, lambda: field_write(c, "/m/api/reports", body), 401)


def probe_field_login(c: Client) -> None:
    username, password = next(((u, p) for u, p, r, *_ in DEMO_USERS if r == c.role), ("nobody", "wrong-one"))
    r = requests.post(c.site.srv.url + "/m/login", data={"username": username, "password": password},
                      allow_redirects=False, timeout=TIMEOUT)
    expected = {"responder": 302, "anonymous": 401}.get(c.role, 403)
    assert r.status_code == expected, f"{c.role}: {r.status_code}"
    assert ("township_device" in r.headers.get("Set-Cookie", "")) == (c.role == "responder")


def probe_field_logout(c: Client) -> None:
    # A phone of its own: the role's phone stays signed in for the other probes.
    other = Client(c.site, c.role)
    phone = field_client(other)
    r = (phone or requests).post(c.site.srv.url + "/m/logout", allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302 and r.headers["Location"] == "/m/login"
    if phone is not None:
        assert phone.get(c.site.srv.url + "/m", allow_redirects=False, timeout=TIMEOUT).status_code == 302


def probe_field_unknown(method: str) -> Callable[[Client], None]:
    def probe(c: Client) -> None:
        phone = field_client(c)
        url = c.site.srv.url + "/m/nothing/here"
        r = (phone or c.http).request(method, url, allow_redirects=False, timeout=TIMEOUT)
        assert r.status_code == (404 if phone is not None else 302), f"{c.role}: {r.status_code}"
    return probe


def probe_field_evacuation(c: Client) -> None:
    """The helper's evacuation task: a responder's phone lists exactly the households it helps (none of another
    helper's phone numbers); anyone else is sent to the field app's sign-in."""
    rows = [r for v in (OWN, FOREIGN) for r in roster_people(c.site, an_evacuation(c.site, v))]
    r = clean(c, field_get(c, "/m/evacuation"), 200 if c.role == "responder" else 302)
    if r.status_code == 302:
        assert r.headers["Location"] == "/m/login"
        return
    mine = {e for e, *_, helper, backup in rows if RESPONDER_HANDLER in (helper, backup)}
    assert mine and set(map(int, re.findall(r'id="m-evac-(\d+)"', r.text))) == mine
    for entry, _, phone, *_ in rows:
        assert (phone in r.text) == (entry in mine), entry


def probe_field_evacuation_move(c: Client) -> None:
    """A helper's phone checks off its own household; another's is missing (404); no one else has a phone (401)."""
    site = c.site
    wid = an_evacuation(site, OWN)
    pending = roster_people(site, wid, "e.status = 'pending'")
    mine = next(r[0] for r in pending if RESPONDER_HANDLER in (r[4], r[5]))
    other = next(r[0] for r in pending if RESPONDER_HANDLER not in (r[4], r[5]))

    def send(entry: int) -> Callable[[], requests.Response]:
        body = {"key": f"access-evac-{next(_n)}", "text": "",
                "expected_version": site.one("SELECT version FROM evacuation_households WHERE id = :i", i=entry)}
        return lambda: field_write(c, f"/m/api/evacuation/{entry}/notify", body)

    if c.role == "responder":
        clean(c, send(mine)(), 200)
        assert site.one("SELECT status FROM evacuation_households WHERE id = :i", i=mine) == "notified"
        refused(c, send(other), 404)
    else:
        refused(c, send(mine), 401)
        assert site.one("SELECT status FROM evacuation_households WHERE id = :i", i=mine) == "pending"
    assert site.one("SELECT status FROM evacuation_households WHERE id = :i", i=other) == "pending"


def probe_field_photo_post(c: Client) -> None:
    """A responder's phone adds a photo to a case it may see; no one else has a phone session (401)."""
    site = c.site
    case_id = a_case(site, FOREIGN, open_=True)
    phone = field_client(c)

    def send() -> requests.Response:
        files = {"file": ("a.jpg", a_jpeg(), "image/jpeg")}
        data = {"key": f"access-photo-{next(_n)}", "purpose": "report"}
        if phone is None:
            return c.http.post(site.srv.url + f"/m/api/cases/{case_id}/photos", files=files, data=data,
                               allow_redirects=False, timeout=TIMEOUT)
        return phone.post(site.srv.url + f"/m/api/cases/{case_id}/photos", files=files, data=data,
                          allow_redirects=False, timeout=TIMEOUT)

    before = photo_count(site)
    if phone is not None:
        clean(c, send(), 201)
        assert photo_count(site) == before + 1
    else:
        refused(c, send, 401)
        assert photo_count(site) == before


def field_photo_bytes(suffix: str) -> Callable[[Client], None]:
    """A photo's bytes at /m/photos: to a responder's phone (it sees every village's); the others go to sign in."""
    def probe(c: Client) -> None:
        for village in (OWN, FOREIGN):
            _, photo_id = a_photo(c.site, village)
            r = field_get(c, f"/m/photos/{photo_id}{suffix}")
            if c.role == "responder":
                assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg", r.text[:200]
            else:
                clean(c, r, 302)
    return probe


SUITE = "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>"
FMT = "<any(json,xml):fmt>"
#: The moves spelt in the rules (the workflow's and the warning card's), so that another word is no route.
CASE_MOVES = ("dispatch", "accept", "start", "resolve", "close", "return", "cancel", "escalate", "reopen")
WARNING_MOVES = ("acknowledge", "handle", "clear")

#: (method, rule) → the probe of what each role gets from it.
# -- notifications (issue 13): a person's unread list, marking it read, the admin's deliveries page ---------

#: The lists each role's token reads (township.loop.inbox.audiences_of, spelt out here).
NOTIFY_LISTS = {"admin": {"command"}, "command": {"command"}, "village": {f"village:{OWN}"},
                "responder": {f"handler:{RESPONDER_HANDLER}"}, "wall": set()}


def notifications_of_both(site: Site) -> dict[str, int]:
    """A resident's report in the own and in the foreign village, fanned out: a notification on each village's list."""
    from datetime import timedelta

    from township.loop.notify import fan_out
    from township.store.models import utcnow

    made = {}
    for village in (OWN, FOREIGN):
        body = {**new_case(site, village), "source": "citizen"}
        r = requests.post(site.srv.url + "/api/v1/cases", json=body, timeout=TIMEOUT,
                          headers={"Authorization": f"Bearer {site.tokens['command']}"})
        assert r.status_code == 201, r.text
        made[village] = r.json()[0]["id"]
    fan_out(site.engine, utcnow(), timedelta(hours=1))  # the server's worker may have been first: either is once
    return {v: site.one("SELECT id FROM notifications WHERE case_id = :c", c=case_id) for v, case_id in made.items()}


def listed(site: Site, role: str) -> set[int]:
    """The notifications on the lists of ``role``'s token, by SQL."""
    lists = NOTIFY_LISTS.get(role, set())
    return {r[0] for r in site.sql("SELECT notification_id, audience FROM notification_audiences") if r[1] in lists}


def probe_notifications_get(c: Client) -> None:
    made = notifications_of_both(c.site)
    if c.role == "anonymous":  # no token, no session: a person's list is nobody's
        clean(c, c.get("/api/v1/notifications"), 401)
        return
    for token in (True, False):  # the token's list, then the signed-in user's (the same role)
        items = clean(c, c.get("/api/v1/notifications?limit=200", token=token), 200).json()["items"]
        assert {i["id"] for i in items} <= listed(c.site, c.role), c.role
        assert made[FOREIGN] not in {i["id"] for i in items}
        assert (made[OWN] in {i["id"] for i in items}) == (c.role == "village")


def probe_notifications_read(c: Client) -> None:
    made = notifications_of_both(c.site)
    reads = "SELECT count(*) FROM notification_reads"
    if c.role == "anonymous":
        before = c.site.one(reads)
        refused(c, lambda: c.post("/api/v1/notifications/read", json={"all": True}), 401)
        assert c.site.one(reads) == before
        return
    # Another village's notification is not the caller's to mark (the village operator's own is)
    r = clean(c, c.post("/api/v1/notifications/read", json={"ids": [made[FOREIGN]]}), 200)
    assert r.json()["marked"] == 0
    clean(c, c.post("/api/v1/notifications/read", json={"all": True}), 200)
    marked = {row[0] for row in c.site.sql("SELECT notification_id FROM notification_reads WHERE reader = :r",
                                           r=f"token:access-{c.role}")}
    assert marked == listed(c.site, c.role) and made[FOREIGN] not in marked
    refused(c, lambda: c.post("/api/v1/notifications/read", json={"ids": ["x"]}), 422)


def probe_admin_notifications(c: Client) -> None:
    r = clean(c, c.get("/admin/notifications", token=False), {"admin": 200, "anonymous": 302}.get(c.role, 403))
    if c.role == "admin":
        assert 'id="notify-deliveries"' in r.text and re.search(r"\d{11}", r.text) is None  # phones masked
        clean(c, c.get("/admin/notifications?status=nonsense", token=False), 400)
    elif c.role == "anonymous":
        assert r.headers["Location"].startswith("/login")
    else:
        assert "notify-deliveries" not in r.text


ROUTES: dict[tuple[str, str], Callable[[Client], None]] = {
    ("GET", "/static/<path:filename>"): lambda c: clean(
        c, c.get("/static/none.txt"), 302 if c.role == "anonymous" else 404),
    ("GET", "/assets/<path:filename>"): public("/assets/style.css"),
    ("GET", SUITE): lambda c: clean(c, c.get(first_suite(c)), 200),
    ("GET", "/_dash-layout"): public("/_dash-layout"),
    ("GET", "/_dash-dependencies"): public("/_dash-dependencies"),
    ("POST", "/_dash-update-component"): probe_update_component,
    ("GET", "/_reload-hash"): lambda c: clean(c, c.get("/_reload-hash"), 200, 404),
    ("GET", "/_favicon.ico"): public("/_favicon.ico"),
    ("GET", "/"): page("/"),
    ("GET", "/<path:path>"): page("/stats"),
    ("GET", "/login"): public("/login"),
    ("POST", "/login"): probe_login_post,
    ("GET", "/logout"): probe_logout,
    ("POST", "/logout"): lambda c: clean(c, Client(c.site, c.role).post("/logout"), 302),
    ("GET", "/api/v1/version"): public("/api/v1/version"),
    ("POST", "/api/v1/cases"): probe_cases_post,
    ("GET", "/api/v1/cases"): probe_cases_get,
    ("GET", "/api/v1/cases/<int:case_id>"): _case_read(""),
    ("POST", f"/api/v1/cases/<int:case_id>/<any({','.join(CASE_MOVES)}):move>"): lambda c: (
        probe_case_move(c), probe_reopen(c)),
    ("GET", "/api/v1/cases/<int:case_id>/events"): _case_read("/events"),
    ("GET", "/api/v1/cases/<int:case_id>/suggestions"): _case_read("/suggestions"),
    ("GET", "/api/v1/orders"): probe_orders,
    ("POST", "/api/v1/warnings"): probe_warnings_post,
    ("GET", "/api/v1/warnings"): probe_warnings_get,
    ("POST", "/api/v1/warnings/cap"): probe_cap_post,
    ("GET", "/api/v1/warnings/cap"): probe_cap_get,
    ("GET", "/api/v1/warnings/<int:warning_id>/cap"): probe_warning_cap,
    ("POST", f"/api/v1/warnings/<int:warning_id>/<any({','.join(WARNING_MOVES)}):move>"): lambda c: [
        _warning_write(move, lambda site, village: {"note": "演练"})(c) for move in WARNING_MOVES],
    ("POST", "/api/v1/warnings/<int:warning_id>/tasks"): _warning_write(
        "tasks", lambda site, village: {"handler": a_handler(site, village)}),
    ("GET", f"/open311/v2/discovery.{FMT}"): public("/open311/v2/discovery.xml"),
    ("GET", f"/open311/v2/services.{FMT}"): public("/open311/v2/services.json"),
    ("GET", f"/open311/v2/services/<service_code>.{FMT}"): public("/open311/v2/services/hotline.json"),
    ("GET", f"/open311/v2/requests.{FMT}"): probe_requests_get,
    ("GET", f"/open311/v2/requests/<int:service_request_id>.{FMT}"): probe_request_get,
    ("POST", f"/open311/v2/requests.{FMT}"): probe_requests_post,
    ("GET", "/api/openapi.json"): public("/api/openapi.json"),
    **{(m, f"/{prefix}/<path:rest>"): unknown(m, f"/{prefix}/v9/cases.json")
       for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "QUERY", "CONNECT")
       for prefix in ("api", "open311")},
    ("GET", "/grid/<grid_id>/fieldmap.<any(html, pdf, png):fmt>"): probe_grid_fieldmap,
    ("GET", "/warnings/<int:wid>/fieldmap.<any(html, pdf, png):fmt>"): probe_warning_fieldmap,
    ("GET", "/export/cases.<any(csv, xlsx):fmt>"): lambda c: (download("/export/cases.csv")(c),
                                                              download("/export/cases.xlsx")(c)),
    ("GET", "/export/features.geojson"): download("/export/features.geojson"),
    ("GET", "/report/daily"): download("/report/daily"),
    ("GET", "/report/daily.pdf"): probe_daily_pdf,
    ("GET", "/api/v1/notifications"): probe_notifications_get,
    ("POST", "/api/v1/notifications/read"): probe_notifications_read,
    ("GET", "/admin/notifications"): probe_admin_notifications,
    ("GET", "/report"): public("/report"),
    ("POST", "/report"): resident_write("/report", lambda site: dict(
        zip(("lon", "lat"), map(str, point_in(site, OWN)), strict=True), category="water", description="停水"), 400),
    ("GET", "/resident/nearby"): probe_nearby,
    ("POST", "/resident/follow"): resident_write(
        "/resident/follow", lambda site: {"case_id": str(a_case(site, OWN))}, 400),
    ("GET", "/resident/app.js"): public("/resident/app.js"),
    ("GET", "/track/<code>"): public("/track/no-such-code", 404),
    ("POST", "/track/<code>"): resident_write("/track/no-such-code", lambda site: {"answer": "no"}, 404),
    ("POST", "/api/v1/cases/<int:case_id>/photos"): probe_photos_post,
    ("GET", "/api/v1/cases/<int:case_id>/photos"): probe_photos_get,
    ("GET", "/api/v1/photos/<int:photo_id>"): _photo_bytes(""),
    ("GET", "/api/v1/photos/<int:photo_id>/thumb"): _photo_bytes("/thumb"),
    ("GET", "/api/v1/warnings/<int:warning_id>/evacuation"): probe_evacuation_get,
    ("POST", "/api/v1/warnings/<int:warning_id>/evacuation"): probe_evacuation_start,
    ("POST", "/api/v1/evacuation/households/<int:entry_id>/<any(notify,move,settle,refuse,unreachable):move>"):
        probe_evacuation_move,
    ("GET", "/warnings/<int:wid>/evacuation.<any(html, pdf):fmt>"): probe_evacuation_ledger,
    # the field app (/m)
    ("GET", "/m"): field_page(lambda site: "/m"),
    ("GET", "/m/case/<int:case_id>"): lambda c: [field_page(lambda site, v=v: f"/m/case/{a_case(site, v)}")(c)
                                                 for v in (OWN, FOREIGN)],
    ("GET", "/m/report"): field_page(lambda site: "/m/report"),
    ("GET", "/m/login"): public("/m/login"),
    ("POST", "/m/login"): probe_field_login,
    ("POST", "/m/logout"): probe_field_logout,
    ("POST", f"/m/api/cases/<int:case_id>/<any({','.join(FIELD_MOVES)}):move>"): probe_field_move,
    ("POST", "/m/api/reports"): probe_field_report,
    ("GET", "/m/manifest.webmanifest"): public("/m/manifest.webmanifest"),
    ("GET", "/m/sw.js"): public("/m/sw.js"),
    ("GET", "/m/static/<path:filename>"): public("/m/static/field.js"),
    ("GET", "/m/<path:rest>"): probe_field_unknown("GET"),
    ("POST", "/m/<path:rest>"): probe_field_unknown("POST"),
    ("POST", "/m/api/cases/<int:case_id>/photos"): probe_field_photo_post,
    ("GET", "/m/photos/<int:photo_id>"): field_photo_bytes(""),
    ("GET", "/m/photos/<int:photo_id>/thumb"): field_photo_bytes("/thumb"),
    ("GET", "/m/evacuation"): probe_field_evacuation,
    ("POST", "/m/api/evacuation/<int:entry_id>/<any(notify,move,settle,refuse,unreachable):move>"):
        probe_field_evacuation_move,
}


# -- the callbacks -------------------------------------------------------------------------------------

def callback_name(output: str, inputs: list[dict]) -> str:
    """A callback's name in the table: its first output (without Dash's duplicate hash) <- its first input."""
    first = output.strip(".").split("...")[0].split("@")[0]
    return f"{first} <- {inputs[0]['id']}.{inputs[0]['property']}"


def state(**kw) -> dict:
    from township.domain.filters import FilterState

    return FilterState(**kw).model_dump(mode="json")


def dep_key(c: Client, name: str) -> str:
    """The key of the callback named ``name`` in the table among the app's callbacks."""
    return next(k for k, d in c.site.deps.items() if callback_name(k, d["inputs"]) == name)


def in_browser(name: str) -> Callable[[Client], None]:
    """A callback that runs in the browser: the server has no code to answer it with."""
    def probe(c: Client) -> None:
        assert c.site.deps[dep_key(c, name)]["clientside_function"], f"{name} runs on the server now: probe it"
    return probe


def cb(c: Client, name: str, values: dict, trigger: str, *statuses: int):
    return clean(c, call(c, name, values, trigger)(), *(statuses or (200, 204)))


def probe_page_callback(c: Client) -> None:
    name = "page.children <- url.pathname"
    for path, search in (("/", f"?village={FOREIGN}&level=3&grid={FOREIGN}-01"), ("/stats", ""), ("/wall", ""),
                         (f"/grid/{FOREIGN}-01", ""), (f"/grid/{OWN}-01", "")):
        r = cb(c, name, {"url.pathname": path, "url.search": search}, "url.pathname")
        if path == "/wall":  # the wall's screen is masked whoever opened it
            assert not leaks(c.site, "wall", r), leaks(c.site, "wall", r)[:5]


def probe_on_state(c: Client) -> None:
    for data in (state(village=[FOREIGN], level=3, grid=f"{FOREIGN}-01", window="all"), state(window="all")):
        cb(c, "map-graph.figure <- state.data", {"state.data": data, "live-version.data": 1}, "state.data")


def probe_rows(c: Client) -> None:
    r = cb(c, "table-cases.getRowsResponse <- table-cases.getRowsRequest",
           {"table-cases.getRowsRequest": {"startRow": 0, "endRow": 2000},
            "state.data": state(village=[FOREIGN], window="all")}, "table-cases.getRowsRequest")
    rows = {int(row["id"]) for row in r.json()["response"]["table-cases"]["getRowsResponse"]["rowData"]}
    assert not rows & c.site.secrets.foreign_cases if c.role == "village" else rows & c.site.secrets.foreign_cases


def probe_acknowledge(c: Client) -> None:
    name = "live-version.data <- alert-ack.n_clicks"
    active = "SELECT min(id) FROM warnings WHERE status = 'active' AND id {} (SELECT warning_id FROM warning_grids " \
             "WHERE grid_id LIKE :p)"
    foreign = c.site.one(active.format("NOT IN"), p=f"{OWN}-%")
    if c.role in ("admin", "command"):
        before = c.site.counts()
        cb(c, name, {"alert-ack.n_clicks": 1, "alert-ack.value": foreign}, "alert-ack.n_clicks", 200)
        assert c.site.counts() != before
    else:
        refused(c, call(c, name, {"alert-ack.n_clicks": 1, "alert-ack.value": foreign}, "alert-ack.n_clicks"), 204)


def probe_import(c: Client) -> None:
    lon, lat = point_in(c.site, OWN)
    csv = f"source,type,domain,title,lon,lat\nhotline,hotline,livelihood,路灯不亮,{lon},{lat}\n"
    values = {"import-upload.contents": "data:text/csv;base64," + base64.b64encode(csv.encode()).decode(),
              "import-upload.filename": "cases.csv", "import-kind.value": "cases", "import-mode.value": "all",
              "import-source.value": "hotline", "import-nonce.data": f"access-{c.role}"}
    name = "import-report.children <- import-upload.contents"
    if c.role in ("admin", "command"):
        before = c.site.one("SELECT count(*) FROM cases")
        r = cb(c, name, values, "import-upload.contents", 200)
        assert c.site.one("SELECT count(*) FROM cases") == before + 1, r.text
    else:
        r = refused(c, call(c, name, values, "import-upload.contents"), 200)
        assert "无权导入" in r.json()["response"]["import-report"]["children"], r.text


def probe_wall_refresh(c: Client) -> None:
    # The wall shows the wall's masked view whoever looks at it.
    r = call(c, "wall-map.figure <- wall-want.data",
             {"wall-want.data": 1, "wall-minute.n_intervals": 1, "wall-scale.data": 1}, "wall-want.data")()
    assert r.status_code == 200 and not leaks(c.site, "wall", r), leaks(c.site, "wall", r)[:5]


def call(c: Client, name: str, values: dict, trigger: str) -> Callable[[], requests.Response]:
    """The callback named ``name`` in the table, called with ``values`` when the returned function is."""
    key = dep_key(c, name)
    return lambda: c.callback(key, values, trigger)


def card_move(c: Client, name: str, values: dict, kind: str, move: str) -> None:
    """A card's ``move`` button (pattern type ``kind``) through callback ``name``: made for admin and
    command (the store changes), refused for every other role (nothing changes)."""
    trigger = json.dumps({"move": move, "type": kind}, separators=(",", ":")) + ".n_clicks"
    move_it = call(c, name, values, trigger)
    if c.role in ("admin", "command"):
        before = c.site.counts()
        clean(c, move_it(), 200)
        assert c.site.counts() != before
    else:
        refused(c, move_it, 200)


def probe_case_card(c: Client) -> None:
    name = "case-opened.data <- table-cases.cellClicked"
    site = c.site
    for village in (OWN, FOREIGN):
        case_id = a_case(site, village)
        r = cb(c, name, {"table-cases.cellClicked": {"rowId": str(case_id)}}, "table-cases.cellClicked", 200)
        opened = r.json()["response"]["case-opened"]["data"]
        assert (opened is None) == (c.role == "village" and village == FOREIGN), opened
    # A move on a foreign case, as if a card had been opened on it: refused unless the role may make it.
    case_id = a_case(site, FOREIGN, open_=True)
    version = site.one("SELECT version FROM cases WHERE id = :i", i=case_id)
    move = '{"move":["ALL"],"type":"case-move"}.n_clicks'
    field_ = '{"name":["ALL"],"type":"case-field"}.value'
    values = {move: [({"type": "case-move", "move": "cancel"}, 1)],
              field_: [({"type": "case-field", "name": "text"}, "重复")],
              "case-opened.data": {"id": case_id, "version": version}, "state.data": state()}
    card_move(c, name, values, "case-move", "cancel")


def probe_case_focus(c: Client) -> None:
    """A table row flies the map to its case, and only to a case the role may see."""
    name = "map-graph.figure <- table-cases.cellClicked"
    for village in (OWN, FOREIGN):
        case_id = a_case(c.site, village)
        r = cb(c, name, {"table-cases.cellClicked": {"rowId": str(case_id)}, "state-view.data": "view:"},
               "table-cases.cellClicked")
        lon = c.site.one("SELECT lon FROM cases WHERE id = :i", i=case_id)
        if c.role == "village" and village == FOREIGN:
            assert r.status_code == 204 and repr(lon) not in r.text
        else:
            assert r.status_code == 200 and repr(lon) in r.text, r.text[:300]


def probe_warning_card(c: Client) -> None:
    name = "warn-opened.data <- map-graph.clickData"
    site = c.site
    wid = foreign_warning(site)
    click = {"points": [{"curveNumber": WARNING_TRACE, "customdata": [wid]}]}
    r = cb(c, name, {"map-graph.clickData": click}, "map-graph.clickData", 200)
    opened = r.json()["response"]["warn-opened"]["data"]
    assert (opened is None) == (c.role == "village"), opened
    # A move on a warning out of reach: refused unless the role may make it.
    active = site.one("SELECT min(id) FROM warnings WHERE status = 'active' AND id NOT IN "
                      "(SELECT warning_id FROM warning_grids WHERE grid_id LIKE :p)", p=f"{OWN}-%")
    version = site.one("SELECT version FROM warnings WHERE id = :i", i=active)
    move = '{"move":["ALL"],"type":"warn-move"}.n_clicks'
    values = {move: [({"type": "warn-move", "move": "acknowledge"}, 1)],
              "warn-opened.data": {"id": active, "version": version}, "state.data": state()}
    card_move(c, name, values, "warn-move", "acknowledge")


def probe_shared_warning_card(c: Client) -> None:
    """The card of a warning reaching the own village and the foreign one lists only the own people."""
    click = {"points": [{"curveNumber": WARNING_TRACE, "customdata": [shared_warning(c.site)]}]}
    cb(c, "warn-opened.data <- map-graph.clickData", {"map-graph.clickData": click}, "map-graph.clickData", 200)


def probe_camera(c: Client) -> None:
    """The names laid out for what the map shows: a village operator's are their own village's grids only,
    whatever the state sent; a camera that is no camera moves nothing."""
    import shapely
    from shapely.geometry import shape

    from layers.mapfig import LABELS
    from township.config import BUNDLED_GRIDS

    name = "map-graph.figure <- map-camera.data"
    features = json.loads(BUNDLED_GRIDS.read_text(encoding="utf-8"))["features"]
    town = shapely.union_all([shape(f["geometry"]) for f in features if f["properties"]["level"] == 2])
    camera = {"zoom": 9.8, "bounds": list(town.bounds)}
    r = cb(c, name, {"map-camera.data": camera, "state.data": state(village=[FOREIGN], level=3)}, "map-camera.data")
    if c.role == "village":
        own = next(shape(f["geometry"]) for f in features if f["properties"]["grid_id"] == OWN)
        ops = r.json()["response"]["map-graph"]["figure"]["operations"]
        where = {op["location"][-1]: op["params"]["value"] for op in ops if op["location"][:2] == ["data", LABELS]}
        assert where["lon"], ops
        assert all(own.contains(shapely.Point(x, y)) for x, y in zip(where["lon"], where["lat"], strict=True))
    for bad in (None, {"zoom": "near"}, {"zoom": 10, "bounds": [1, 2, 3]}, {"zoom": 10, "bounds": [5, 5, 1, 1]}):
        cb(c, name, {"map-camera.data": bad, "state.data": state()}, "map-camera.data", 204)


#: callback name → the probe of what each role gets from it.
CALLBACKS: dict[str, Callable[[Client], None]] = {
    "page.children <- url.pathname": probe_page_callback,
    "state.data <- filter-village.value": lambda c: cb(
        c, "state.data <- filter-village.value",
        {"filter-village.value": [FOREIGN], "state.data": state()}, "filter-village.value"),
    "map-graph.figure <- state.data": probe_on_state,
    "live-version.data <- live-tick.n_intervals": lambda c: cb(
        c, "live-version.data <- live-tick.n_intervals", {"live-tick.n_intervals": 1, "live-version.data": 0},
        "live-tick.n_intervals", 200),
    "live-version.data <- alert-ack.n_clicks": probe_acknowledge,
    "table-cases.getRowsResponse <- table-cases.getRowsRequest": probe_rows,
    "state-query.id <- state-query.data": in_browser("state-query.id <- state-query.data"),
    "live-drawn.data <- live-map-version.data": in_browser("live-drawn.data <- live-map-version.data"),
    "live-drawn.id <- live-drawn.data": in_browser("live-drawn.id <- live-drawn.data"),
    "import-report.children <- import-upload.contents": probe_import,
    "wall-map.figure <- wall-want.data": probe_wall_refresh,
    "wall-scale.data <- wall-options.data": in_browser("wall-scale.data <- wall-options.data"),
    "wall-health.data <- wall-poll.n_intervals": in_browser("wall-health.data <- wall-poll.n_intervals"),
    "wall-clock.children <- wall-tick.n_intervals": in_browser("wall-clock.children <- wall-tick.n_intervals"),
    "wall-map.figure <- wall-tick.n_intervals": in_browser("wall-map.figure <- wall-tick.n_intervals"),
    "export-csv.href <- state-query.data": lambda c: cb(
        c, "export-csv.href <- state-query.data", {"state-query.data": f"?village={FOREIGN}"}, "state-query.data"),
    "case-opened.data <- table-cases.cellClicked": probe_case_card,
    "warn-opened.data <- map-graph.clickData": probe_warning_card,
    "stats-body.children <- state.data": lambda c: cb(
        c, "stats-body.children <- state.data", {"state.data": state(village=[FOREIGN], window="all"),
                                                 "desk-tab.value": "stats"}, "state.data"),
    "map-graph.figure <- table-cases.cellClicked": probe_case_focus,
    "stats-page.hidden <- desk-tab.value": in_browser("stats-page.hidden <- desk-tab.value"),
    "table-slot.children <- table-spec.data": in_browser("table-slot.children <- table-spec.data"),
    "import-slot.children <- desk-tab.value": in_browser("import-slot.children <- desk-tab.value"),
    "map-graph.figure <- map-camera.data": probe_camera,
}

# -- the admin page (callbacks.admin): made for admin, refused to every other role ---------------------------

ADMIN_REFUSED = "只有系统管理员可以使用系统管理页面"


def _data_url(data: bytes, kind: str) -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode()


def admin_only(c: Client, name: str, values: dict, trigger: str, count: str) -> requests.Response:
    """Callback ``name``: for admin it changes what ``count`` (SQL) counts; any other role gets the refusal
    text and nothing stored changes."""
    before = c.site.one(count)
    if c.role == "admin":
        r = cb(c, name, values, trigger, 200)
        assert c.site.one(count) != before, r.text[:300]
    else:
        r = refused(c, call(c, name, values, trigger), 200)
        assert ADMIN_REFUSED in r.text and c.site.one(count) == before, r.text[:300]
    return r


def probe_admin_grid_upload(c: Client) -> None:
    from township.config import ROOT

    # The page itself: only admin is shown it.
    r = cb(c, "page.children <- url.pathname", {"url.pathname": "/admin", "url.search": ""}, "url.pathname")
    assert ("admin-grid-upload" in r.text) == (c.role == "admin") and ("admin-refused" in r.text) != (c.role == "admin")
    grids = json.loads((ROOT / "geodata" / "dalu_grids.geojson").read_text(encoding="utf-8"))
    grids["features"][-1]["properties"]["name"] += f"（{c.role}）"  # valid, and another version than the one in use
    values = {"admin-grid-upload.contents": _data_url(json.dumps(grids, ensure_ascii=False).encode(),
                                                      "application/geo+json"),
              "admin-grid-upload.filename": "grids.geojson"}
    admin_only(c, "admin-grid-map.figure <- admin-grid-upload.contents", values, "admin-grid-upload.contents",
               "SELECT count(*) FROM grid_versions")


def probe_admin_apply(c: Client) -> None:
    from township.grids.install import load_gridset
    from township.loop.gridversions import keep_version

    # A version with the grids in use: applying it changes no case, only which version is in use.
    version = keep_version(c.site.engine, load_gridset(c.site.engine, check_spatial=False), "access")  # type: ignore[arg-type]
    values = {"admin-grid-apply.n_clicks": 1, "admin-grid-candidate.data": version}
    admin_only(c, "admin-grid-result.children <- admin-grid-apply.n_clicks", values, "admin-grid-apply.n_clicks",
               "SELECT count(*) FROM grid_versions WHERE applied_at IS NOT NULL")


def probe_admin_staff(c: Client) -> None:
    phone = f"1390477{ROLES.index(c.role):04d}"
    roster = f"姓名,类别,网格编码,联系电话\n探针网格员,网格员,{OWN}-01,{phone}\n".encode()
    values = {"admin-staff-upload.contents": _data_url(roster, "text/csv"),
              "admin-staff-upload.filename": "roster.csv", "admin-staff-accounts.value": ["accounts"]}
    admin_only(c, "admin-staff-report.children <- admin-staff-upload.contents", values,
               "admin-staff-upload.contents", "SELECT count(*) FROM handlers")


def probe_admin_users(c: Client) -> None:
    values = {"admin-user-create.n_clicks": 1, "admin-user-name.value": f"probe-{c.role}",
              "admin-user-role.value": "wall", "admin-user-password.value": "probe-password"}
    admin_only(c, "admin-users.children <- admin-user-create.n_clicks", values, "admin-user-create.n_clicks",
               "SELECT count(*) FROM users")
    # Revoking a token is refused to every other role (admin's revoke: tests/test_admin.py).
    token = c.site.one("SELECT id FROM api_tokens WHERE name = 'access-wall'")
    values = {"admin-token-revoke.n_clicks": 1, "admin-token-pick.value": token}
    if c.role != "admin":
        refused(c, call(c, "admin-users.children <- admin-user-create.n_clicks", values,
                        "admin-token-revoke.n_clicks"), 200)
        assert c.site.one("SELECT count(*) FROM api_tokens WHERE id = :i", i=token) == 1
        # Signing a phone out likewise (admin's: tests/test_admin.py).
        from township.accounts.devices import check_device, open_device

        user = c.site.one("SELECT id FROM users WHERE username = 'responder'")
        phone = open_device(c.site.engine, user, "probe")  # type: ignore[arg-type]
        device = c.site.one("SELECT max(id) FROM device_sessions")
        values = {"admin-device-revoke.n_clicks": 1, "admin-device-pick.value": device}
        refused(c, call(c, "admin-users.children <- admin-user-create.n_clicks", values,
                        "admin-device-revoke.n_clicks"), 200)
        assert check_device(c.site.engine, phone) is not None  # type: ignore[arg-type]


ADMIN_CALLBACKS: dict[str, Callable[[Client], None]] = {
    "admin-grid-map.figure <- admin-grid-upload.contents": probe_admin_grid_upload,
    "admin-grid-result.children <- admin-grid-apply.n_clicks": probe_admin_apply,
    "admin-staff-report.children <- admin-staff-upload.contents": probe_admin_staff,
    "admin-users.children <- admin-user-create.n_clicks": probe_admin_users,
}
CALLBACKS.update(ADMIN_CALLBACKS)


# The analysis page (hotspots, the monthly evaluation): aggregates for every role that reads cases; a village
# operator its own village's grids and cases; the evaluation by handler names people, so not for the wall.

def probe_hotspots(c: Client) -> None:
    r = clean(c, c.get("/api/v1/hotspots?window=365d"), 200)
    villages = {i["village_id"] for i in r.json()["items"]}
    assert villages == {OWN} if c.role == "village" else {OWN, FOREIGN} <= villages, villages
    clean(c, c.get("/api/v1/hotspots?window=1d"), 400)


def probe_evaluation(c: Client) -> None:
    for unit in ("village", "grid", "handler"):
        r = c.get(f"/evaluation/monthly.xlsx?unit={unit}")
        if c.role == "anonymous":
            clean(c, r, 302)
            continue
        clean(c, r, 403 if unit == "handler" and c.role not in PERSONAL else 200)
        if c.role == "village" and unit == "grid":
            assert f"({FOREIGN}-" not in _readable(r)
    if c.role in ("command", "wall"):  # the printed form: rendered for the one, refused before rendering for the other
        r = clean(c, c.get("/evaluation/monthly.pdf?unit=handler"), 200 if c.role == "command" else 403)
        assert c.role == "wall" or r.content.startswith(b"%PDF")
    if c.role != "anonymous":
        clean(c, c.get("/evaluation/monthly.xlsx?month=2024-13"), 400)


def probe_hotspot_callback(c: Client) -> None:
    r = cb(c, "an-map.figure <- an-domain.value", {"an-domain.value": None, "an-type.value": None,
                                                   "an-window.value": "365d", "an-measure.value": "count",
                                                   "url.search": ""}, "an-window.value", 200)
    shown = {g for trace in r.json()["response"]["an-map"]["figure"]["data"] if trace["name"] != "villages"
             for g in trace["locations"]}
    assert shown and (all(g.startswith(f"{OWN}-") for g in shown) if c.role == "village"
                      else any(g.startswith(f"{FOREIGN}-") for g in shown))


def probe_evaluation_callback(c: Client) -> None:
    for unit in ("grid", "handler"):
        r = cb(c, "an-eval.children <- an-month.value", {"an-month.value": None, "an-unit.value": unit,
                                                         "url.search": ""}, "an-unit.value", 200)
        if c.role == "village":
            assert f"({FOREIGN}-" not in _readable(r)


ROUTES.update({
    ("GET", "/api/v1/hotspots"): probe_hotspots,
    ("GET", "/evaluation/monthly.<any(xlsx, pdf):fmt>"): probe_evaluation,
})
CALLBACKS.update({
    "an-map.figure <- an-domain.value": probe_hotspot_callback,
    "an-eval.children <- an-month.value": probe_evaluation_callback,
})

# -- the account chip's live unread badge (callbacks/account.py) -----------------------------------

#: Whose unread lists each role's demo user reads (township.loop.inbox.audiences_of, spelt out here).
AUDIENCES = {"admin": ["command"], "command": ["command"], "village": [f"village:{OWN}"],
             "responder": [f"handler:{RESPONDER_HANDLER}"], "wall": [], "anonymous": []}


def probe_unread_badge(c: Client) -> None:
    # Each role is told its own lists' unread count (SQL), nobody else's; asking changes nothing.
    name = "account-unread.children <- account-poll.n_intervals"
    before = c.site.counts()
    r = cb(c, name, {"account-poll.n_intervals": 1, "live-version.data": 1, "state.data": state(),
                     "account-unread.title": "(stale)"}, "account-poll.n_intervals", 200)
    assert c.site.counts() == before
    unread = 0
    if AUDIENCES[c.role]:
        username = next(u for u, _p, r_, *_ in DEMO_USERS if r_ == c.role)
        uid = c.site.one("SELECT id FROM users WHERE username = :u", u=username)
        marks = ", ".join(f":a{i}" for i in range(len(AUDIENCES[c.role])))
        unread = c.site.one(
            f"SELECT count(DISTINCT a.notification_id) FROM notification_audiences a WHERE a.audience IN ({marks}) "
            "AND a.notification_id NOT IN (SELECT notification_id FROM notification_reads WHERE reader = :r)",
            r=f"user:{uid}", **{f"a{i}": a for i, a in enumerate(AUDIENCES[c.role])})
    badge = r.json()["response"]["account-unread"]
    assert (badge["hidden"], badge["children"] if unread else "0") == (not unread, str(unread)), (c.role, badge)


CALLBACKS.update({
    "account-unread.children <- account-poll.n_intervals": probe_unread_badge,
})

# Time playback (issue 17): the time control writes only the moment into the state (no data, no write); a replayed
# frame is clamped like a live one (a village operator replays their village only); the wall's replay is the wall's.

def a_moment(site: Site) -> str:
    """A moment of the audit trail, an hour before its last event, as the state carries it (ISO, +08:00)."""
    from datetime import timedelta

    from township.domain.filters import moment_text

    last = site.one("SELECT max(at) FROM case_events")
    return moment_text(datetime.fromisoformat(str(last)).replace(microsecond=0) - timedelta(hours=1))


def frame_case_ids(r: requests.Response) -> set[int]:
    """The case ids a map patch draws (the case traces' customdata, first column)."""
    ops = r.json()["response"]["map-graph"]["figure"]["operations"]
    return {int(row[0]) for op in ops if op["location"][:1] == ["data"] and op["location"][1] in (4, 10)
            and op["location"][2:] == ["customdata"] for row in op["params"]["value"]}


def probe_on_state_replayed(c: Client) -> None:
    probe_on_state(c)
    data = {**state(village=[FOREIGN], level=3, window="all"), "t": a_moment(c.site)}
    r = cb(c, "map-graph.figure <- state.data", {"state.data": data, "live-version.data": 1}, "state.data", 200)
    shown = frame_case_ids(r)
    if c.role == "village":
        assert not shown & c.site.secrets.foreign_cases and shown, "a village operator replays their village only"
    else:
        assert shown & c.site.secrets.foreign_cases


def probe_play(c: Client) -> None:
    """Opening the replay patches the moment into the state, and nothing else; nothing stored changes."""
    name = "state.data <- pb-timer.n_intervals"
    before = c.site.counts()
    r = cb(c, name, {"pb-open.n_clicks": 1, "state.data": state(village=[FOREIGN]), "pb-player.data": {}},
           "pb-open.n_clicks", 200)
    ops = r.json()["response"]["state"]["data"]["operations"]
    assert {tuple(op["location"]) for op in ops} == {("t",), ("mode",), ("hours",)}, ops
    assert c.site.counts() == before


def probe_wall_replay(c: Client) -> None:
    # The wall's replay shows the wall's masked frame whoever looks at it.
    moment = int(datetime.now(UTC).timestamp()) - 7200
    r = call(c, "wall-map.figure <- wall-replay.data",
             {"wall-replay.data": {"t": moment}, "wall-scale.data": 1,
              "wall-options.data": {"lang": "zh", "tour": True, "interval": 20, "replay": 24}}, "wall-replay.data")()
    assert r.status_code == 200 and not leaks(c.site, "wall", r), leaks(c.site, "wall", r)[:5]
    assert "回放" in r.text


CALLBACKS.update({
    "map-graph.figure <- state.data": probe_on_state_replayed,
    "state.data <- pb-timer.n_intervals": probe_play,
    "wall-map.figure <- wall-replay.data": probe_wall_replay,
})


#: The leaks fixed on the branch ``privacy``: each a probe of its own, so that none comes back.
FIXED: list = [
    pytest.param("POST /api/v1/cases (re-send)", "village", probe_resend_foreign_case),
    pytest.param("GET /warnings/<wid>/fieldmap (shared)", "village", probe_shared_warning_fieldmap),
    pytest.param("warning card (shared)", "village", probe_shared_warning_card),
]


def test_the_tables_cover_the_app(site, app_maps):
    rules, callbacks = app_maps
    assert set(ROUTES) == rules
    names = {callback_name(k, site.deps[k]["inputs"]) for k in callbacks}
    assert len(names) == len(callbacks) and set(CALLBACKS) == names


def test_the_search_finds_what_it_looks_for(site):
    # The probes pass because nothing is found: the same search over the command centre's unmasked
    # file of the foreign village finds its people, as the village operator and as the wall would be shown them.
    r = client(site, "command").get(f"/export/cases.xlsx?village={FOREIGN}&window=all")
    as_village, as_wall = leaks(site, "village", r), leaks(site, "wall", r)
    for kind in ("reporter name", "reporter phone", "handler name"):
        assert any(f.startswith(kind) for f in as_wall), kind
    assert any(re.search(r"\d{11}$", f) for f in as_village) and any(re.search(r"[\u4e00-\u9fff]$", f)
                                                                     for f in as_village), as_village[:5]


@pytest.mark.parametrize(("route", "role"), [
    pytest.param(route, role, id=f"{' '.join(route)}-{role}") for route in ROUTES for role in ROLES])
def test_route(site, route, role):
    ROUTES[route](client(site, role))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CALLBACKS))
def test_callback(site, name, role):
    CALLBACKS[name](client(site, role))


@pytest.mark.parametrize(("what", "role", "probe"), FIXED)
def test_fixed_leak(site, what, role, probe):
    probe(client(site, role))
