"""Time playback on the screens (issue 17), in a real Chromium against a real server.

The seeded ice-flood night (the demo's DEMO-ICE- cases, played through the
closed loop up to now) is replayed on the desk at 1920×1080: a case closed
before now shows its earlier status on the map at a moment before its close
and the closed status after it, and the headline figures at each moment equal
a count made from ``case_events`` in SQL here, not by the code under test.
The wall's tour with ``?replay=24h`` shows the replay stop, its badge and a
moving clock.
"""
from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from tests.conftest import LiveServer
from township.domain.isotime import LOCAL_TZ, local_text, parse_iso
from township.domain.vocab import CASE_STATUS_COLORS, OPEN_STATUSES
from ui import ids

DESK = {"width": 1920, "height": 1080}
MAP = f"#{ids.MAP} .js-plotly-plot"
#: How the store writes a time (SQLAlchemy's SQLite DateTime): compared as text, so written the same way.
STORED = "%Y-%m-%d %H:%M:%S.%f"
#: The case traces of the map (layers.mapfig CASES, INSET_CASES): a warning's id may equal a case's.
CASE_TRACES = (4, 10)


def status_at(db, case_id: int, t: datetime) -> str | None:
    """The case's status at ``t`` from its audit trail: the last event by ``t`` (an event at ``t`` counts)."""
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT to_status FROM case_events WHERE case_id = ? AND at <= ? AND to_status IS NOT NULL "
                           "ORDER BY at DESC, id DESC LIMIT 1", (case_id, t.strftime(STORED))).fetchone()
    return row[0] if row else None


def counts_at(db, t: datetime) -> tuple[int, int]:
    """Open and overdue cases at ``t``, from the audit trail: each case reported by ``t`` with the status of its
    last event by ``t``; overdue when open and past its deadline at ``t``."""
    at = t.strftime(STORED)
    opened = ",".join(f"'{s}'" for s in OPEN_STATUSES)
    sql = f"""
        WITH last AS (
            SELECT e.case_id, e.to_status FROM case_events e
            WHERE e.id = (SELECT e2.id FROM case_events e2 WHERE e2.case_id = e.case_id AND e2.at <= :t
                          AND e2.to_status IS NOT NULL ORDER BY e2.at DESC, e2.id DESC LIMIT 1))
        SELECT count(*), coalesce(sum(c.deadline_at < :t), 0) FROM cases c JOIN last l ON l.case_id = c.id
        WHERE c.reported_at <= :t AND l.to_status IN ({opened})"""
    with sqlite3.connect(db) as conn:
        n_open, n_overdue = conn.execute(sql, {"t": at}).fetchone()
    return n_open, n_overdue


def an_ice_case(db) -> tuple[int, datetime]:
    """A case of the ice-flood night closed before now, resolved well before its close: its id and close time."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("""
            SELECT c.id, r.at, k.at FROM cases c
            JOIN case_events r ON r.case_id = c.id AND r.to_status = 'resolved'
            JOIN case_events k ON k.case_id = c.id AND k.to_status = 'closed'
            WHERE c.external_id LIKE 'DEMO-ICE-%' AND c.status = 'closed' AND c.lon IS NOT NULL
            ORDER BY c.id""").fetchall()
    latest = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=20)  # a step after its close is not now
    for case_id, resolved, closed in rows:
        resolved_at, closed_at = datetime.fromisoformat(resolved), datetime.fromisoformat(closed)
        if closed_at - resolved_at > timedelta(minutes=10) and closed_at < latest:
            return case_id, closed_at
    raise AssertionError(f"no DEMO-ICE- case closed well after it was resolved: {rows}")


def url_moment(t: datetime) -> str:
    """``t`` (naive UTC) as a shared link writes it: Beijing time to the minute, the "+" escaped."""
    return t.replace(tzinfo=UTC).astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M%z").replace("+0800", "%2B08:00")


def shown_case(pg, case_id: int) -> dict | None:
    """The case's point as the page's figure holds it: its marker colour and its status text."""
    return pg.evaluate(f"""() => {{
        const gd = document.querySelector('{MAP}');
        for (const i of {list(CASE_TRACES)}) {{
            const tr = gd.data[i];
            if (!tr || !tr.customdata) continue;
            const k = tr.customdata.findIndex(c => c && Number(c[0]) === {case_id});
            if (k >= 0) return {{color: Array.isArray(tr.marker.color) ? tr.marker.color[k] : tr.marker.color,
                                status: tr.customdata[k][3]}};
        }}
        return null; }}""")


def headline(pg) -> tuple[int, int]:
    return int(pg.inner_text("#kpi-open")), int(pg.inner_text("#kpi-overdue"))


def page_moment(pg) -> datetime:
    """The moment the address bar carries (``t``), naive UTC."""
    query = parse_qs(urlsplit(pg.url).query)
    return parse_iso(query["t"][0])


def test_the_ice_flood_night_replays_case_by_case(server: LiveServer, browser):
    case_id, closed_at = an_ice_case(server.db)
    before = closed_at.replace(second=0, microsecond=0) - timedelta(minutes=1)  # a whole minute, as the URL writes
    was = status_at(server.db, case_id, before)
    assert was is not None and was != "closed", was
    context = browser.new_context(viewport=DESK, locale="zh-CN")
    pg = context.new_page()
    sent: list[int] = []  # bytes of each answer of the view callback (map patch, figures, panel …), decoded
    pg.on("response", lambda r: sent.append(len(r.body())) if "_dash-update-component" in r.url
          and "map-graph.figure" in (r.request.post_data or "").split('"inputs"')[0] and r.status == 200 else None)
    try:
        pg.goto(f"{server.url}/?t={url_moment(before)}")
        pg.wait_for_function(f"() => {{ const gd = document.querySelector('{MAP}');"
                             " return gd && gd._fullLayout && gd._fullLayout.map; }", timeout=60000)
        # the moment opened is the one the link named, and says so over the map
        assert page_moment(pg) == before
        pill = pg.locator(f"#{ids.PB_BADGE} .pb-pill")
        assert pill.is_visible() and "回放" in pill.inner_text()
        assert local_text(before, "%m-%d %H:%M") in pill.inner_text()
        assert pg.inner_text(f"#{ids.PB_CLOCK}") == local_text(before)
        # the case as it was a minute before it was closed
        point = shown_case(pg, case_id)
        assert point is not None and point["color"] == CASE_STATUS_COLORS[was], (point, was)
        assert headline(pg) == counts_at(server.db, before)
        # the replayed desk still fits one 1080p screen
        assert pg.evaluate("document.scrollingElement.scrollHeight") <= DESK["height"]

        # One step of 15 minutes forward with the control: a frame goes the filter's way (state → view → Patch)
        pg.locator(f"#{ids.PB_STEP} label").first.click()
        pg.wait_for_timeout(300)
        pg.click(f"#{ids.PB_FWD}")
        pg.wait_for_function("(t0) => !location.search.includes(t0)", arg=url_moment(before), timeout=30000)
        after = page_moment(pg)
        assert before < after <= before + timedelta(minutes=15) and after > closed_at
        assert status_at(server.db, case_id, after) == "closed"
        pg.wait_for_function(f"""() => {{ const gd = document.querySelector('{MAP}');
            return gd.layout.meta && gd.layout.meta.version < 0
                && document.querySelector('#{ids.PB_CLOCK}').innerText === '{local_text(after)}'; }}""",
                             timeout=30000)
        point = shown_case(pg, case_id)
        assert point is not None and point["color"] == CASE_STATUS_COLORS["closed"], point
        assert headline(pg) == counts_at(server.db, after)
        # the frame cost what a filter change costs (docs/design.md §4: bytes like a filter change)
        frame_bytes = sent[-1]
        pg.locator(f"#{ids.F_MEASURE} label").nth(1).click()
        pg.wait_for_function("() => location.search.includes('measure=overdue')", timeout=30000)
        pg.wait_for_timeout(500)
        filter_bytes = sent[-1]
        assert frame_bytes <= 1.2 * filter_bytes, (frame_bytes, filter_bytes)
        print(f"view callback answer: frame {frame_bytes} B, filter change {filter_bytes} B")

        # back to live: no badge, no t in the address, the case as the store holds it
        pg.click(f"#{ids.PB_LIVE}")
        pg.wait_for_function("() => !location.search.includes('t=')", timeout=30000)
        pg.wait_for_selector(f"#{ids.PB_BADGE}[hidden]", state="attached", timeout=30000)
        assert pg.locator(f"#{ids.PB_OPEN}").is_visible()
    finally:
        context.close()


def test_a_bad_or_future_moment_opens_live_with_a_notice(server: LiveServer, browser):
    future = url_moment(datetime.now(UTC).replace(tzinfo=None) + timedelta(days=2))
    context = browser.new_context(viewport=DESK, locale="zh-CN")
    pg = context.new_page()
    try:
        for t in ("yesterday", future):
            pg.goto(f"{server.url}/?t={t}")
            pg.wait_for_selector(f"#{ids.NOTICE}:not([hidden])", timeout=60000)
            assert "t=" in pg.inner_text(f"#{ids.NOTICE}")
            assert pg.locator(f"#{ids.PB_BADGE}[hidden]").count() == 1  # live
            assert pg.locator(f"#{ids.PB_OPEN}").is_visible()
    finally:
        context.close()


def test_the_wall_tour_replays_the_last_day(server: LiveServer, browser):
    context = browser.new_context(viewport=DESK, locale="zh-CN")
    pg = context.new_page()
    try:
        pg.goto(f"{server.url}/wall?tour=1&replay=24h&interval=3")
        pg.wait_for_function("() => document.querySelector('#wall-stop')?.dataset.stop === 'replay'", timeout=60000)
        assert "回放" in pg.inner_text(f"#{ids.WALL_STOP}")
        badge = pg.locator(f"#{ids.WALL_REPLAY_BADGE} .wall-replay-pill")
        badge.wait_for(state="visible", timeout=30000)
        clocks = set()
        for _ in range(20):
            text = badge.inner_text() if badge.is_visible() else ""
            found = re.search(r"(\d\d)-(\d\d) (\d\d):(\d\d)", text)
            if found:
                assert "回放" in text
                clocks.add(found[0])
            if len(clocks) >= 3:
                break
            pg.wait_for_timeout(1000)
        assert len(clocks) >= 3, clocks  # the clock runs through the day
        # each one within the last 24 hours, in Beijing time
        now = datetime.now(LOCAL_TZ)
        for c in clocks:
            month, day, hour, minute = map(int, re.findall(r"\d\d", c))
            shown = now.replace(month=month, day=day, hour=hour, minute=minute, second=0, microsecond=0)
            if shown > now + timedelta(minutes=2):  # 12-31 on the first of January: last year's
                shown = shown.replace(year=now.year - 1)
            assert now - timedelta(hours=24, minutes=2) <= shown <= now, (c, now)
        # the tour goes on after the replay, and the map is live again
        pg.wait_for_function("() => { const s = document.querySelector('#wall-stop').dataset.stop;"
                             " return s && s !== 'replay' && s !== 'town'; }", timeout=150000)
        pg.wait_for_selector(f"#{ids.WALL_REPLAY_BADGE}[hidden]", state="attached", timeout=30000)
    finally:
        context.close()


def test_the_player_runs_a_typed_range_to_its_end_and_stops(server: LiveServer, browser):
    """Open the replay, type a range of six hours, play it at 8× an hour a step: it reaches the range's end
    and pauses there; the moment is in the address all along; 返回实时 ends it."""
    end = datetime.now(LOCAL_TZ).replace(second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=6)
    context = browser.new_context(viewport=DESK, locale="zh-CN")
    pg = context.new_page()
    try:
        pg.goto(server.url + "/")
        pg.wait_for_function(f"() => {{ const gd = document.querySelector('{MAP}');"
                             " return gd && gd._fullLayout && gd._fullLayout.map; }", timeout=60000)
        pg.click(f"#{ids.PB_OPEN}")
        pg.wait_for_selector(f"#{ids.PB_BADGE}:not([hidden]) .pb-pill", timeout=30000)
        pg.click(f"#{ids.PB_RANGE}")
        pg.get_by_text("自定义", exact=True).click()
        pg.wait_for_selector(f"#{ids.PB_CUSTOM}:not([hidden])", timeout=30000)
        for cid, moment in ((ids.PB_FROM, start), (ids.PB_TO, end)):
            pg.fill(f"#{cid}", moment.strftime("%Y-%m-%d %H:%M"))
            pg.press(f"#{cid}", "Enter")
            pg.wait_for_timeout(800)
        # the moment was brought inside the typed range: its start
        pg.wait_for_function(f"() => document.querySelector('#{ids.PB_CLOCK}').innerText === "
                             f"'{start.strftime('%Y-%m-%d %H:%M')}'", timeout=30000)
        pg.locator(f"#{ids.PB_SPEED} label").nth(3).click()  # 8×
        pg.wait_for_timeout(500)
        pg.click(f"#{ids.PB_PLAY}")
        pg.wait_for_function(f"() => document.querySelector('#{ids.PB_PLAY}').innerText.includes('暂停')",
                             timeout=30000)
        pg.wait_for_function(f"() => document.querySelector('#{ids.PB_CLOCK}').innerText === "
                             f"'{end.strftime('%Y-%m-%d %H:%M')}'"
                             f" && document.querySelector('#{ids.PB_PLAY}').innerText.includes('播放')", timeout=30000)
        # the address follows (its mirror runs once the view's answer is in)
        last = end.astimezone(UTC).replace(tzinfo=None)
        pg.wait_for_function("(t) => location.search.includes(t)", arg=url_moment(last), timeout=30000)
        assert page_moment(pg) == last
        pill = pg.inner_text(f"#{ids.PB_BADGE}")
        assert end.strftime("%m-%d %H:%M") in pill
        # a range ending before it starts is refused, the inputs marked, the range kept
        pg.fill(f"#{ids.PB_TO}", (start - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"))
        pg.press(f"#{ids.PB_TO}", "Enter")
        pg.wait_for_function(f"() => document.getElementById('{ids.PB_TO}').closest('.pb-typed.bad')", timeout=30000)
        assert page_moment(pg) == last
        pg.click(f"#{ids.PB_LIVE}")
        pg.wait_for_function("() => !location.search.includes('t=')", timeout=30000)
    finally:
        context.close()
