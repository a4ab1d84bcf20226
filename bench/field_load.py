"""The field app ``/m`` on an emulated 4G phone: first-load bytes, time to usable, reload from the service worker.

The issue's budget (issue 12): ``/m`` first load ≤ 300 kB transferred (compressed) and usable within
1.5 s at ~9 Mbit/s down, 150 ms latency (Chromium's network emulation, CDP
``Network.emulateNetworkConditions``); a later load from the service worker ≤ 0.5 s.

:func:`measure` starts the app (``tests.conftest.LiveServer``) on the size's
store, makes a grid officer's account acting as the first officer there with
:data:`TASKS` open cases dispatched to it (all deleted at the end), signs it in at ``/m/login``
and opens ``/m`` in a new phone context (390×844, touch) for each run:

- **bytes**: every response of the context (Playwright's ``request.sizes()``:
  headers and body as they came over the wire, compressed) from the navigation
  until the page was usable and 2 s more: the page, its shell, the case pages
  of the list it keeps for offline use and the service worker's install fetches;
- **usable**: the ``m-ready`` mark ``field.js`` sets when its handlers are on
  the page (ms from navigation start);
- **reload**: once the service worker controls the page, a reload with the
  phone offline: page and shell from the worker's cache (online the page goes
  to the network first, so that the person's tasks are current; noted beside).

Run alone: ``.venv/bin/python -m bench.field_load [--runs 3]`` (the bundled grids, a fresh demo store).
"""
from __future__ import annotations

import argparse
import logging
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import delete, select

from bench.ingest import remove_bench_rows
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer
from township.accounts.tokens import create_token
from township.accounts.users import create_user
from township.config import BUNDLED_GRIDS
from township.grids.model import GridSet
from township.grids.validate import load_grid_file
from township.store.engine import make_engine
from township.store.models import DeviceSession, Handler, User

#: ~9 Mbit/s down, 150 ms latency (issue 12); up a third of that.
FOUR_G = {"offline": False, "latency": 150, "downloadThroughput": 9_000_000 / 8, "uploadThroughput": 3_000_000 / 8}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "locale": "zh-CN"}
SETTLE_S = 2.0
log = logging.getLogger(__name__)
#: Open cases dispatched to the officer for the run (deleted after it), so the list has a length.
TASKS = 30
PREFIX = "BENCH-FIELD"
READY = "performance.getEntriesByName('m-ready').length ? performance.getEntriesByName('m-ready')[0].startTime : null"


def _ready_ms(page, timeout_s: float = 30.0) -> float:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = page.evaluate(READY)
        if value is not None:
            return float(value)
        page.wait_for_timeout(20)
    raise TimeoutError("/m did not become usable")


def grid_files(grids_file: Path | None) -> GridSet:
    return load_grid_file(grids_file or BUNDLED_GRIDS)


def _give_tasks(url: str, token: str, gridset: GridSet, grid: str, handler: str) -> None:
    """:data:`TASKS` open cases in the officer's grid, dispatched to them: a list as long as a busy week's."""
    inner = gridset.geometry(grid).representative_point()
    headers = {"Authorization": f"Bearer {token}"}
    items = [{"source": "hotline", "external_id": f"{PREFIX}-{secrets.token_hex(4)}", "type": "hotline",
              "domain": "livelihood", "title": f"测试工单 {n}", "description": "村口路灯不亮,晚上看不见路。" * 3,
              "lon": inner.x, "lat": inner.y, "reporter": "测试人", "reporter_phone": "13900001111"}
             for n in range(TASKS)]
    r = requests.post(url + "/api/v1/cases", json=items, headers=headers, timeout=60)
    assert r.status_code == 201, r.text
    for written in r.json():
        case = requests.get(url + f"/api/v1/cases/{written['id']}", headers=headers, timeout=60).json()
        moved = requests.post(url + f"/api/v1/cases/{written['id']}/dispatch", headers=headers, timeout=60,
                              json={"expected_version": case["version"], "handler": handler})
        assert moved.status_code == 200, moved.text


def _one(browser, url: str, cookie: dict) -> dict:
    """One cold load of /m under 4G, then a reload with the service worker in control."""
    ctx = browser.new_context(**PHONE)
    ctx.add_cookies([cookie])
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    got: list[tuple[str, int]] = []

    def finished(req) -> None:
        sizes = req.sizes()  # as received: headers and the (compressed) body
        got.append((req.url, sizes["responseHeadersSize"] + sizes["responseBodySize"]))

    # The context's events include the service worker's own fetches (its install), not only the page's.
    ctx.on("requestfinished", finished)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", FOUR_G)
    page.goto(url + "/m")
    ready = _ready_ms(page)
    page.wait_for_timeout(SETTLE_S * 1000)  # (Playwright delivers the events while it waits, not in a sleep)
    ctx.remove_listener("requestfinished", finished)
    first_bytes = sum(n for _, n in got)
    log.debug("first load: %d responses, %.0f bytes", len(got), first_bytes)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    # Control comes with the next navigation (the first page was loaded before the worker existed).
    page.reload()
    _ready_ms(page)
    assert page.evaluate("!!navigator.serviceWorker.controller"), "the service worker does not control /m"
    page.reload()
    online_ms = _ready_ms(page)
    # In a dead zone: everything from the worker's cache.
    ctx.set_offline(True)
    page.reload()
    cached_ms = _ready_ms(page)
    ctx.close()
    return {"bytes": first_bytes, "ready_ms": ready, "reload_ms": cached_ms, "online_ms": online_ms}


def measure(grids_file: Path | None = None, database_url: str | None = None, env: dict[str, str] | None = None,
            runs: int = 3) -> list[dict]:
    """`bench.run`'s rows: /m's first-load kB, time to usable under 4G and the reload via the service worker."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        srv = LiveServer(Path(tmp), {"DEMO_FEED": "0", "DEFAULT_ROLE": "", **(env or {})}, database_url).start()
        engine = make_engine(srv.database_url)
        username, password = f"bench-field-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
        token_name = f"{username}-token"
        try:
            with engine.connect() as conn:
                handler, grid = conn.execute(select(Handler.handler_id, Handler.grid_id).where(
                    Handler.kind == "officer").order_by(Handler.handler_id).limit(1)).one()
            create_user(engine, username, password, "responder", None, "基准测试网格员", handler)
            _give_tasks(srv.url, create_token(engine, token_name, "command"), grid_files(grids_file), grid, handler)
            s = requests.Session()
            r = s.post(srv.url + "/m/login", data={"username": username, "password": password},
                       allow_redirects=False, timeout=60)
            assert r.status_code == 302, r.text
            value = s.cookies.get("township_device", path="/m")
            cookie = {"name": "township_device", "value": value, "url": srv.url + "/m"}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                results = [_one(browser, srv.url, cookie) for _ in range(runs)]
                browser.close()
        finally:
            with engine.begin() as conn:
                uid = conn.execute(select(User.id).where(User.username == username)).scalar()
                if uid is not None:
                    conn.execute(delete(DeviceSession).where(DeviceSession.user_id == uid))
                    conn.execute(delete(User).where(User.id == uid))
            engine.dispose()
            srv.stop()
            remove_bench_rows(srv.database_url, token_name, PREFIX)
    kb = statistics.median(r["bytes"] for r in results) / 1000
    ready = statistics.median(r["ready_ms"] for r in results) / 1000
    reload_s = statistics.median(r["reload_ms"] for r in results) / 1000
    online_s = statistics.median(r["online_ms"] for r in results) / 1000
    note = (f"{runs} cold loads of /m as a grid officer with {TASKS} open tasks on a 390×844 touch phone, Chromium "
            f"network emulation {FOUR_G['downloadThroughput'] * 8 / 1e6:g} Mbit/s down, {FOUR_G['latency']} ms "
            f"latency; bytes received until usable + {SETTLE_S:g} s (bench/field_load.py)")
    return [
        {"what": "/m first load, bytes (compressed)", "ours": kb, "peer": None, "peer_name": None, "unit": "kB",
         "ratio": None, "note": note},
        {"what": "/m first load → usable (4G)", "ours": ready, "peer": None, "peer_name": None, "unit": "s",
         "ratio": None, "note": None},
        {"what": "/m reload from the service worker", "ours": reload_s, "peer": None, "peer_name": None,
         "unit": "s", "ratio": None, "note": f"offline: page and shell from the worker's cache; online the reload "
         f"took {online_s:.2f} s (shell from the cache, the page network-first: Chromium's emulation does not "
         "slow the worker's own fetches, so that figure is a lower bound)"},
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG, format="%(message)s")
    for row in measure(runs=args.runs):
        print(f"{row['what']:<40} {row['ours']:8.3f} {row['unit']}")


if __name__ == "__main__":
    main()
