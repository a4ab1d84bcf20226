"""Hardened sign-in and the web surface, against the real app (``python app.py``) with sign-in required.

The throttle, the ``next`` rule, cross-site refusals, security headers, the
``Secure`` cookie behind a trusted proxy, the server banner, and the pages'
Content-Security-Policy in a real Chromium.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from tests.conftest import LiveServer
from township.accounts.throttle import Limit, record_failure, retry_after
from township.store.engine import init_db, make_engine
from township.store.models import SignInFailure, utcnow
from township.store.uow import session_scope

#: Long enough that no run is slow enough to see it pass by itself: the test moves the failures instead.
WINDOW_S = 120
#: How far inside the window the boundary check puts the oldest failure (more than a request takes).
MARGIN_S = 30
USER_FAILURES = 3
ADDRESS_FAILURES = 5
FRAMER = "'self' https://screen.example"
GOOD = {"username": "command", "password": "dalu-command"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """Sign-in required, behind one trusted proxy (the test plays it), a short throttle window."""
    s = LiveServer(tmp_path_factory.mktemp("signin"), {
        "DEFAULT_ROLE": "", "DEMO_FEED": "0", "TRUSTED_PROXIES": "1", "LOGIN_WINDOW_S": str(WINDOW_S),
        "LOGIN_USER_FAILURES": str(USER_FAILURES), "LOGIN_ADDRESS_FAILURES": str(ADDRESS_FAILURES),
        "WALL_FRAME_ANCESTORS": FRAMER}).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    """Sign-in required, no proxy trusted (the default): forwarded headers are anyone's."""
    s = LiveServer(tmp_path_factory.mktemp("direct"), {"DEFAULT_ROLE": "", "DEMO_FEED": "0"}).start()
    yield s
    s.stop()


def post_login(srv: LiveServer, data: dict, address: str, **headers: str) -> requests.Response:
    """POST the form as a client at ``address`` (told by the trusted proxy's X-Forwarded-For)."""
    return requests.post(srv.url + "/login", data=data, headers={"X-Forwarded-For": address, **headers},
                         allow_redirects=False, timeout=20)


# -- the throttle -------------------------------------------------------------------------------


def age_failures(srv: LiveServer, key: str, oldest_at: datetime) -> None:
    """Move ``key``'s stored failures back in time, the oldest to ``oldest_at`` (naive UTC), gaps kept.

    The failures are all the throttle remembers and the server reads its own clock against them,
    so this is the window passing without the test sleeping through it (a sleep measured around
    slow requests was the flake: under load the failures were recorded later than the test thought).
    """
    engine = make_engine(srv.database_url)
    try:
        with session_scope(engine) as s:
            rows = s.scalars(select(SignInFailure).where(SignInFailure.key == key).order_by(SignInFailure.at)).all()
            shift = oldest_at - rows[0].at
            for row in rows:
                row.at += shift
    finally:
        engine.dispose()


def test_wrong_passwords_for_a_user_are_throttled_then_the_window_passes(srv):
    for _ in range(USER_FAILURES):
        r = post_login(srv, {"username": "village01", "password": "wrong-password"}, "10.0.0.1")
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    # the right password, even from another address, waits: the username is over its limit
    for address in ("10.0.0.1", "10.0.0.2"):
        r = post_login(srv, {"username": "village01", "password": "dalu-village01"}, address)
        assert r.status_code == 429, r.text
        wait = int(r.headers["Retry-After"])
        assert 1 <= wait <= WINDOW_S
        assert f"{wait} 秒后再试" in r.text and "Set-Cookie" not in r.headers
    # the oldest failure MARGIN_S before it leaves the window: still refused, told to wait MARGIN_S less
    # the time the request took (the server's clock moved on meanwhile; Retry-After rounds up)
    sent = utcnow()
    age_failures(srv, "user:village01", sent - timedelta(seconds=WINDOW_S - MARGIN_S))
    r = post_login(srv, {"username": "village01", "password": "dalu-village01"}, "10.0.0.1")
    took = (utcnow() - sent).total_seconds()
    assert r.status_code == 429, r.text
    assert MARGIN_S - took <= int(r.headers["Retry-After"]) <= MARGIN_S
    # the oldest failure a millisecond past the window (2 < 3 remain in it): the right password works
    age_failures(srv, "user:village01", utcnow() - timedelta(seconds=WINDOW_S, milliseconds=1))
    r = post_login(srv, {"username": "village01", "password": "dalu-village01"}, "10.0.0.1")
    assert r.status_code == 302 and "township_session=" in r.headers["Set-Cookie"]
    log = srv.log.read_text()
    assert log.count("sign-in failed: user 'village01' from 10.0.0.1") == USER_FAILURES
    assert "sign-in refused, too many failures: user 'village01' from 10.0.0.2" in log


def test_wrong_passwords_from_an_address_are_throttled_whatever_the_username(srv):
    for i in range(ADDRESS_FAILURES):
        assert post_login(srv, {"username": f"guess{i}", "password": "wrong-password"}, "10.0.1.1").status_code == 401
    r = post_login(srv, GOOD, "10.0.1.1")
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= WINDOW_S
    # the user itself has no failures: from elsewhere it signs in
    assert post_login(srv, GOOD, "10.0.1.2").status_code == 302


@pytest.mark.store
def test_throttle_counts_in_the_store_at_its_boundaries(store_url):
    # Two engines on one store: two processes (or a restart) see the same failures.
    one, two = make_engine(store_url), make_engine(store_url)
    init_db(one)
    t0 = datetime(2026, 12, 6, 8, 0, 0)
    lim = Limit("user:x", 3, 60)
    for k in range(2):
        record_failure(one, ["user:x", "addr:a"], keep_s=60, now=t0 + timedelta(seconds=10 * k))
    assert retry_after(two, [lim], now=t0 + timedelta(seconds=11)) == 0  # 2 < 3: allowed
    record_failure(one, ["user:x"], keep_s=60, now=t0 + timedelta(seconds=20))
    # 3 failures at 0, 10, 20 s: free when the first leaves the window, at 60 s
    assert retry_after(two, [lim], now=t0 + timedelta(seconds=21)) == 39
    assert retry_after(two, [lim], now=t0 + timedelta(seconds=59.5)) == 1
    assert retry_after(two, [lim], now=t0 + timedelta(seconds=60)) == 0
    # the longest wait of several keys counts (addr:a, limit 1: free when its failure at 10 s leaves, at 70 s);
    # a key under its limit adds none
    assert retry_after(two, [Limit("addr:a", 1, 60), lim], now=t0 + timedelta(seconds=30)) == 40
    assert retry_after(two, [Limit("addr:a", 3, 60)], now=t0 + timedelta(seconds=30)) == 0
    one.dispose()
    two.dispose()


# -- where sign-in may send the browser ---------------------------------------------------------


@pytest.mark.parametrize(("target", "expected"), [
    ("/?village=DL-03", "/?village=DL-03"),
    ("/grid/DL-03-01", "/grid/DL-03-01"),
    ("/\t/evil.example", "/"),
    ("/\n/evil.example", "/"),
    ("/\r\nSet-Cookie: x=1", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("https://evil.example/", "/"),
    ("javascript:alert(1)", "/"),
    ("", "/"),
])
def test_next_is_only_a_path_on_this_site(srv, target, expected):
    r = post_login(srv, {**GOOD, "next": target}, "10.0.2.1")
    assert r.status_code == 302 and r.headers["Location"] == expected


def test_login_form_keeps_no_outside_next(srv):
    # /login?next=/%09/evil.com: the browser would turn the tab-split path into //evil.com
    r = requests.get(srv.url + "/login?next=/%09/evil.example", timeout=10)
    assert r.status_code == 200 and 'name="next" value="/"' in r.text
    r = requests.get(srv.url + "/login?next=/%0d%0aX:y", timeout=10)
    assert r.status_code == 200 and 'name="next" value="/"' in r.text


# -- cross-site requests ------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://other.township.example"},
    {"Origin": "https://evil.example"},  # a browser without Sec-Fetch-Site
    {"Origin": "null"},  # a sandboxed frame, a data: page
])
def test_cross_site_posts_are_refused(srv, headers):
    r = post_login(srv, GOOD, "10.0.3.1", **headers)
    assert r.status_code == 403 and "Set-Cookie" not in r.headers
    r = requests.post(srv.url + "/_dash-update-component", json={}, headers=headers, timeout=10)
    assert r.status_code == 403 and "cross-site" in r.text


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},  # typed by the user, a bookmark
    {},  # not a browser: it has no one's cookie to ride on
])
def test_own_site_posts_pass(srv, headers):
    own = {**headers, "Origin": srv.url} if headers.get("Sec-Fetch-Site") == "same-origin" else headers
    assert post_login(srv, GOOD, "10.0.3.2", **own).status_code == 302


def test_origin_of_this_host_passes_without_sec_fetch_site(srv):
    assert post_login(srv, GOOD, "10.0.3.3", Origin=srv.url).status_code == 302


def test_token_api_is_not_judged_by_origin(srv):
    # Bearer tokens, not cookies: a cross-site page gains nothing there, and the API answers as itself.
    r = requests.post(srv.url + "/api/v1/cases", json={}, headers={"Sec-Fetch-Site": "cross-site"}, timeout=10)
    assert r.status_code == 401


# -- headers, the cookie, the banner ------------------------------------------------------------


def csp(r: requests.Response) -> dict[str, str]:
    return {d.strip().split(" ", 1)[0]: d.strip().partition(" ")[2]
            for d in r.headers["Content-Security-Policy"].split(";")}


def test_security_headers_and_no_server_banner(srv):
    pages = {path: requests.get(srv.url + path, timeout=30) for path in ("/login", "/wall", "/api/v1/version")}
    for path, r in pages.items():
        assert r.status_code == 200, path
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert "Server" not in r.headers, r.headers.get("Server")
        policy = csp(r)
        assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert csp(pages["/login"])["frame-ancestors"] == "'none'" and pages["/login"].headers["X-Frame-Options"] == "DENY"
    # the wall may be framed where the configuration says, and only there
    assert csp(pages["/wall"])["frame-ancestors"] == FRAMER and "X-Frame-Options" not in pages["/wall"].headers
    # an error is no banner either
    missing = requests.get(srv.url + "/assets/nope.js", timeout=10)
    assert "Server" not in missing.headers and "Werkzeug" not in missing.text


def test_cookie_is_secure_over_https_from_a_trusted_proxy_only(srv, direct):
    https = {"X-Forwarded-Proto": "https"}
    behind_tls = post_login(srv, GOOD, "10.0.4.1", **https).headers["Set-Cookie"]
    assert re.search(r";\s*Secure", behind_tls)
    plain = post_login(srv, GOOD, "10.0.4.1").headers["Set-Cookie"]
    assert "Secure" not in plain
    # no proxy trusted: a client's own X-Forwarded-Proto changes nothing
    spoofed = post_login(direct, GOOD, "10.0.4.1", **https).headers["Set-Cookie"]
    assert "township_session=" in spoofed and "Secure" not in spoofed
    for cookie in (behind_tls, plain, spoofed):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_forwarded_for_from_an_untrusted_client_is_not_believed(direct):
    # Otherwise anyone could step round the per-address limit by inventing addresses.
    post_login(direct, {"username": "nobody", "password": "wrong-password"}, "203.0.113.9")
    assert "sign-in failed: user 'nobody' from 127.0.0.1" in direct.log.read_text()


# -- the pages satisfy their CSP in Chromium ----------------------------------------------------

MAP_DRAWN = """() => {
    const gd = document.querySelector('.js-plotly-plot');
    const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return m && m.map && m.map.loaded() && m.map.areTilesLoaded();
}"""


def test_pages_load_with_no_csp_violation(srv, browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => console.error("
                         "'Content Security Policy violated: ' + e.violatedDirective + ' ' + e.blockedURI))")
    try:
        # the form, and the page's own sign-in POST (Chromium sends Sec-Fetch-Site: same-origin)
        page.goto(srv.url + "/login?next=/grid/DL-03-01")
        page.fill("#login-username", GOOD["username"])
        page.fill("#login-password", GOOD["password"])
        page.click("#login-submit")
        page.wait_for_url(srv.url + "/grid/DL-03-01", timeout=20000)
        page.wait_for_function(MAP_DRAWN, timeout=60000)
        for path in ("/", "/wall"):
            page.goto(srv.url + path)
            page.wait_for_function(MAP_DRAWN, timeout=60000)
    except PlaywrightTimeout:
        pytest.fail(f"a page did not draw its map; CSP violations: {violations}")
    else:
        assert violations == []
    finally:
        context.close()
