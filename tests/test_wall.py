"""The wall display (/wall) in a real headless Chromium: fits both screens, tours, reacts, recovers, masks."""
from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ARTIFACTS, LiveServer
from sqlalchemy import create_engine, text

from layers.mapfig import INSET_LABELS
from township.config import BUNDLED_GRIDS
from township.domain.vocab import CASE_TYPES, LIVE_WARNING_STATUSES, OPEN_STATUSES
from township.formats.ingest import CaseIn, WarningIn, write_cases, write_warnings
from township.grids.validate import load_grid_file
from township.store.engine import make_engine
from ui import wall as ui

GRAPH = "#wall-map .js-plotly-plot"
#: How long the tests wait for the wall to react (to a warning, a restart). About 2 s is usual
#: (a poll a second, the refresh, the next tick); speed is the benchmark's to measure, not these tests'.
WAIT_S = 15
#: The main panels: each must lie wholly inside the viewport.
PANELS = [".wall-top", "#wall-headline", ".wall-rank", ".wall-map", ".wall-feed", "#wall-stop", "#wall-legend"]


@pytest.fixture(scope="module")
def grids():
    return load_grid_file(BUNDLED_GRIDS)


def new_page(browser, width: int = 1920, height: int = 1080):
    """A page in its own context at ``width``×``height`` CSS px, one device pixel each."""
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                  locale="zh-CN")
    return context, context.new_page()


def open_wall(page, url: str) -> None:
    """Load the wall and wait until MapLibre has drawn it and the map has been fitted to the screen."""
    page.goto(url)
    page.wait_for_selector(GRAPH, timeout=60000)
    page.wait_for_function(
        f"""() => {{
            const gd = document.querySelector('{GRAPH}');
            const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
            // loaded, and already moved to the first stop (fitted to this screen's size)
            return m && m.map && m.map.loaded() && m.map.areTilesLoaded()
                && document.querySelector('#wall-stop').dataset.stop !== ''
                && String(gd.layout.map.uirevision).startsWith('wall:')
                && Math.abs(m.map.getZoom() - gd.layout.map.zoom) < 0.01;
        }}""",
        timeout=60000,  # software WebGL at 4K on a busy CI machine is slow; a real wall has a GPU
    )


def figure_value(page, expr: str):
    return page.evaluate(f"() => {{ const gd = document.querySelector('{GRAPH}'); return {expr}; }}")


def map_center(page) -> tuple[float, float]:
    c = figure_value(page, "gd._fullLayout.map._subplot.map.getCenter()")
    return c["lng"], c["lat"]


def wait_center_in(page, bounds: tuple[float, float, float, float], timeout: int = WAIT_S * 1000) -> None:
    """Wait until the centre MapLibre shows lies inside ``bounds`` (lon/lat)."""
    minx, miny, maxx, maxy = bounds
    page.wait_for_function(
        f"""() => {{
            const c = document.querySelector('{GRAPH}')._fullLayout.map._subplot.map.getCenter();
            return c.lng >= {minx} && c.lng <= {maxx} && c.lat >= {miny} && c.lat <= {maxy};
        }}""",
        timeout=timeout,
    )


def drawn_villages(page) -> int:
    """How many distinct village polygons MapLibre actually drew."""
    return page.evaluate(
        f"""() => {{
            const gd = document.querySelector('{GRAPH}');
            const layer = 'plotly-trace-layer-' + gd._fullData[1].uid + '-fill';
            const feats = gd._fullLayout.map._subplot.map.queryRenderedFeatures({{layers: [layer]}});
            return new Set(feats.map(f => JSON.stringify(f.properties.ct))).size;
        }}"""
    )


def busiest_first(database_url: str) -> list[str]:
    """The tour order computed straight from the store with SQL (not through the app's code).

    score = open cases + 2 × overdue ones + 3 × live warnings reaching the village
    (through a grid in its radius, or its own point); ties by village id.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    engine = create_engine(database_url)
    try:
        with engine.connect() as con:
            def rows(sql: str, **params):
                return con.execute(text(sql), params).all()

            parent = dict(rows("SELECT grid_id, parent_id FROM grids WHERE level = 3"))
            score = {v: 0 for (v,) in rows("SELECT grid_id FROM grids WHERE level = 2")}
            for village, status, deadline in rows("SELECT village_id, status, deadline_at FROM cases"):
                if village in score and status in OPEN_STATUSES:
                    due = deadline if isinstance(deadline, datetime) else datetime.fromisoformat(deadline)
                    score[village] += 1 + (2 if due < now else 0)
            for wid, own, status in rows("SELECT id, village_id, status FROM warnings"):
                if status not in LIVE_WARNING_STATUSES:
                    continue
                reached = {parent[g] for (g,) in rows("SELECT grid_id FROM warning_grids WHERE warning_id = :w",
                                                      w=wid)} | {own}
                for village in reached & score.keys():
                    score[village] += 3
    finally:
        engine.dispose()
    return sorted(score, key=lambda v: (-score[v], v))


@pytest.mark.parametrize("width,height,lang,name", [
    (1920, 1080, "zh", "wall-1080p"), (3840, 2160, "zh", "wall-4k"), (1920, 1080, "en", "wall-1080p-en"),
])
def test_wall_fills_the_screen_without_scroll_bars(server, browser, grids, width, height, lang, name):
    context, page = new_page(browser, width, height)
    try:
        open_wall(page, server.url + f"/wall?lang={lang}")
        dims = page.evaluate("""() => ({sh: document.documentElement.scrollHeight, ih: innerHeight,
                                         sw: document.documentElement.scrollWidth, iw: innerWidth})""")
        assert dims["sh"] <= dims["ih"] and dims["sw"] <= dims["iw"], dims
        for sel in PANELS:
            box = page.locator(sel).bounding_box()
            assert box, f"{sel} not shown"
            assert box["x"] >= 0 and box["y"] >= 0, (sel, box)
            assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, (sel, box)
        # nothing cut inside the panels either (the feed scrolls on purpose and is left out)
        clipped = page.evaluate("""() => [...document.querySelectorAll(
                '.wall-top > *, .kpi, .kpi-value, #wall-ranking, .wall-rank-table th, .wall-rank-table td, '
                + '#wall-stop, #wall-legend')]
            .filter(e => e.offsetParent !== null
                    && (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1))
            .map(e => e.id || e.className + ':' + e.textContent.slice(0, 20))""")
        assert clipped == []
        # type scales with the screen: 4K is not tiny
        base = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.wall')).fontSize)")
        assert base >= width / 100, base
        kpi = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#kpi-open')).fontSize)")
        assert kpi >= width / 40, kpi
        # the map: geometry and data present, MapLibre loaded, all 15 villages drawn
        assert figure_value(page, "gd.data.length") == INSET_LABELS + 1  # every trace of layers.mapfig
        assert figure_value(page, "gd.data[1].locations.length") == 15
        assert drawn_villages(page) == 15
        # fitted to this screen: the town spans most of the map's height or width
        span = page.evaluate(f"""([w, s, e, n]) => {{
            const map = document.querySelector('{GRAPH}')._fullLayout.map._subplot.map;
            const a = map.project([w, n]), b = map.project([e, s]), c = map.getContainer();
            return Math.max((b.x - a.x) / c.clientWidth, (b.y - a.y) / c.clientHeight);
        }}""", list(grids.bounds(grids.ids(level=1))))
        assert 0.6 <= span <= 1.0, span
        # the clock says Beijing time, the data age is fresh
        clock = page.inner_text("#wall-clock")
        beijing = datetime.now(UTC) + timedelta(hours=8)
        shown = datetime.strptime(re.search(r"\d{4}-\d\d-\d\d", clock)[0] + " "
                                  + re.search(r"\d\d:\d\d:\d\d", clock)[0], "%Y-%m-%d %H:%M:%S")
        assert abs((shown - beijing.replace(tzinfo=None)).total_seconds()) < 5, clock
        fresh = {"zh": "数据更新于 [0-3] 秒前", "en": "Data as of [0-3] s ago"}[lang]
        page.wait_for_function(f"() => /^{fresh}$/.test(document.querySelector('#wall-age').innerText)",
                               timeout=WAIT_S * 1000)
        assert page.is_hidden("#wall-offline")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    finally:
        context.close()


def test_tour_visits_the_busiest_village_first(server, browser, grids):
    context, page = new_page(browser)
    # From the first moment on, sample the stop shown and the centre MapLibre draws, every 100 ms:
    # a skipped stop or a map that did not move shows in the samples, however slow the machine.
    page.add_init_script(f"""
        window.__samples = [];
        setInterval(() => {{
            const el = document.querySelector('#wall-stop');
            const gd = document.querySelector('{GRAPH}');
            const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
            if (el && el.dataset.stop && sub && sub.map) {{
                const c = sub.map.getCenter();
                window.__samples.push([el.dataset.stop, c.lng, c.lat]);
            }}
        }}, 100);
    """)
    try:
        open_wall(page, server.url + "/wall?tour=1&interval=5&bogus=9")
        tour = page.locator("#wall-tour")
        assert tour.get_attribute("data-tour") == "1" and tour.get_attribute("data-interval") == "5"
        order = tour.get_attribute("data-order").split(",")
        assert order == busiest_first(server.database_url)
        page.wait_for_function(
            """() => new Set(window.__samples.map(s => s[0])).size >= 5""", timeout=60000)
        samples = page.evaluate("() => window.__samples")
        visited = [stop for i, (stop, _, _) in enumerate(samples) if i == 0 or samples[i - 1][0] != stop]
        assert visited[:4] == ["town", *order[:3]]
        for village in order[:3]:
            minx, miny, maxx, maxy = grids.bounds([village])
            assert any(stop == village and minx <= lon <= maxx and miny <= lat <= maxy
                       for stop, lon, lat in samples), f"the map did not move to {village}"
        # the tour names the stop, and outlines the village it is at
        current = page.get_attribute("#wall-stop", "data-stop")
        if current in order:
            assert grids.props(current)["name"] in page.inner_text("#wall-stop")
            assert figure_value(page, "gd.layout.map.uirevision") == f"wall:{current}"
            widths = figure_value(page, "gd.data[1].marker.line.width")
            assert widths[grids.ids(level=2).index(current)] == ui.STOP_WIDTH
        # Dash's undo history (one entry per tick) is trimmed: no growing list in the browser
        assert page.evaluate("() => window.dash_stores[0].getState().history.past.length") <= 12
    finally:
        context.close()


@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160)])
def test_the_tour_map_moves_with_its_stop(server, browser, width, height):
    """When the stop's name changes, MapLibre has already drawn the map at the stop's view: the camera does not
    wait for plotly to re-render the whole figure (which at 4K in software GL took up to seconds)."""
    context, page = new_page(browser, width, height)
    try:
        open_wall(page, server.url + "/wall?tour=1&interval=3")
        page.evaluate(f"""() => {{
            const gd = document.querySelector('{GRAPH}');
            const map = gd._fullLayout.map._subplot.map;
            let drawn = null;
            map.on('render', () => {{ const c = map.getCenter(); drawn = [c.lng, c.lat]; }});
            window.__atStop = [];
            const el = document.querySelector('#wall-stop');
            new MutationObserver(() => {{
                const row = [el.dataset.stop, drawn, null];
                window.__atStop.push(row);
                // the view the figure then holds for this stop (the patch sets it after the name)
                setTimeout(() => {{ const c = gd._fullLayout.map.center; row[2] = [c.lon, c.lat]; }}, 2000);
            }}).observe(el, {{attributes: true, attributeFilter: ['data-stop']}});
        }}""")
        page.wait_for_function("() => window.__atStop.filter(r => r[2]).length >= 3", timeout=90000)
        rows = [r for r in page.evaluate("() => window.__atStop") if r[2]]
        for stop, drawn, target in rows:
            assert drawn == pytest.approx(target, abs=1e-4), (stop, drawn, target)
    finally:
        context.close()


def test_new_red_warning_takes_the_map_and_the_banner(server, browser, grids):
    context, page = new_page(browser)
    try:
        open_wall(page, server.url + "/wall")
        reds = int(page.inner_text("#kpi-warning-1"))
        # the zoom MapLibre shows, as map_center reads its centre: the tour moves MapLibre first and the
        # figure's layout follows once the moved map has drawn (assets/wall.js)
        town_zoom = figure_value(page, "gd._fullLayout.map._subplot.map.getZoom()")
        p = grids.geometry("DL-06-02").representative_point()
        title = f"大屏测试红色预警{time.time_ns() % 10000}"
        warning = WarningIn(source="test", external_id=f"WALL-{time.time_ns()}", type="fire", level=1,
                            title=title, lon=p.x, lat=p.y, radius_m=800)
        written = write_warnings(make_engine(server.database_url), grids, [warning])
        page.wait_for_function(
            f"() => document.querySelector('#wall-stop').dataset.stop === 'warning:{written[0].id}'",
            timeout=WAIT_S * 1000)
        page.wait_for_selector("#wall-banner:not([hidden])", timeout=WAIT_S * 1000)
        d = 0.01
        wait_center_in(page, (p.x - d, p.y - d, p.x + d, p.y + d), timeout=WAIT_S * 1000)
        assert title in page.inner_text("#wall-banner")
        assert "level-1" in page.get_attribute("#wall-banner", "class")
        assert title in page.inner_text(".wall-stop")
        assert int(page.inner_text("#kpi-warning-1")) == reds + 1
        assert figure_value(page, "gd._fullLayout.map._subplot.map.getZoom()") > town_zoom + 0.5  # closer than the town
        village = grids.ids(level=2).index(grids.village_of(grids.locate_one(p.x, p.y)))
        # the stop's outline comes with the figure's patch, once the moved map has drawn (assets/wall.js)
        page.wait_for_function(f"""() => {{ const w = document.querySelector('{GRAPH}').data[1].marker.line.width;
                                           return Array.isArray(w) && w[{village}] === {ui.STOP_WIDTH}; }}""",
                               timeout=WAIT_S * 1000)
    finally:
        context.close()


def test_wall_goes_offline_and_catches_up_after_a_server_restart(tmp_path, browser, grids):
    srv = LiveServer(tmp_path).start()
    context, page = new_page(browser)
    try:
        open_wall(page, srv.url + "/wall")
        cases_before = figure_value(page, "gd.data[4].lon.length")
        srv.stop()
        # Shown with its word "离线" (a request still in flight may hide it once more first).
        page.wait_for_function("() => { const e = document.querySelector('#wall-offline');"
                               " return e && !e.hidden && e.innerText.includes('离线'); }", timeout=WAIT_S * 1000)
        # written while the server is down; the restarted server reads the same file
        p = grids.geometry("DL-11-01").representative_point()
        case = CaseIn(source="patrol", external_id=f"WALL-{time.time_ns()}", type="petition", domain="governance",
                      title="重启期间上报", lon=p.x, lat=p.y)
        write_cases(make_engine(srv.database_url), grids, [case])
        srv.start()
        page.wait_for_selector("#wall-offline", state="hidden", timeout=WAIT_S * 1000)
        page.wait_for_function(f"() => document.querySelector('{GRAPH}').data[4].lon.length === {cases_before + 1}",
                               timeout=WAIT_S * 1000)
        first = page.locator("#wall-feed .feed-list").first.locator(".feed-item").first.inner_text()
        assert CASE_TYPES["petition"]["zh"] in first and grids.props("DL-11")["name"] in first and "刚刚" in first
        # the feed is replaced, not appended to: two copies of at most FEED_SIZE items
        assert page.locator("#wall-feed .feed-item").count() <= 2 * ui.FEED_SIZE
        fresh = "() => /^数据更新于 [0-3] 秒前$/.test(document.querySelector('#wall-age').innerText)"
        page.wait_for_function(fresh, timeout=WAIT_S * 1000)
        assert page.locator("#wall-age.stale").count() == 0
    finally:
        context.close()
        srv.stop()


#: Computed background colours of the banner's two flash states, per level (assets/wall.css).
FLASH = {1: ["rgb(183, 28, 28)", "rgb(229, 57, 53)"], 2: ["rgb(230, 81, 0)", "rgb(251, 140, 0)"]}

#: In the page: banners of both levels and an offline mark of the test's own (whether the demo's red
#: warning is still unacknowledged depends on the other tests), the colours and visibility they take,
#: sampled every 100 ms for `ms`.
SAMPLE_FLASHES = """(ms) => new Promise(done => {
    const map = document.querySelector('.wall-map'), top = document.querySelector('.wall-top');
    const made = [1, 2].map(level => {
        const el = document.createElement('div');
        el.className = 'wall-banner level-' + level;
        el.textContent = 'test';
        map.appendChild(el);
        return el;
    });
    const mark = document.createElement('span');
    mark.className = 'wall-offline';
    mark.textContent = 'test';
    top.appendChild(mark);
    const seen = {1: new Set(), 2: new Set(), mark: new Set()};
    const t = setInterval(() => {
        made.forEach((el, i) => seen[i + 1].add(getComputedStyle(el).backgroundColor));
        seen.mark.add(getComputedStyle(mark).visibility);
    }, 100);
    setTimeout(() => {
        clearInterval(t);
        made.forEach(el => el.remove());
        mark.remove();
        done(Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, [...v].sort()])));
    }, ms);
})"""

#: In the page: the feed's position (the track's transform, and which line of the first copy is at
#: the window's top edge, -1 for none) every 100 ms for `ms`; and every CSS animation seen meanwhile.
SAMPLE_FEED = """(ms) => new Promise(done => {
    const samples = [], animations = new Set();
    const t = setInterval(() => {
        const track = document.querySelector('#wall-feed');
        const top = track.parentElement.getBoundingClientRect().top;
        const lines = [...track.querySelector('.feed-list').children];
        samples.push([track.style.transform,
                      lines.findIndex(li => Math.abs(li.getBoundingClientRect().top - top) < 1.5)]);
        document.getAnimations().forEach(a => animations.add(
            (a.animationName || a.transitionProperty || a.constructor.name) + ':'
            + (a.effect ? a.effect.getComputedTiming().iterations : '?')));
    }, 100);
    setTimeout(() => { clearInterval(t); done({samples, animations: [...animations]}); }, ms);
})"""


def test_the_wall_moves_without_css_animations(server, browser, grids):
    """Banner flash, offline blink and feed steps are set from assets/wall.js, never by a CSS animation.

    While any CSS animation runs Chromium composites 60 frames a second; without a GPU that took more
    than a CPU core all the time and slowed the wall's own updates.
    """
    context, page = new_page(browser)
    try:
        open_wall(page, server.url + "/wall")
        step_s = int(page.get_attribute("#wall-feed", "data-step-ms")) / 1000
        assert step_s == ui.FEED_STEP_S
        # two and a half steps: the feed moves at least twice, a whole line at a time
        feed = page.evaluate(SAMPLE_FEED, int(2.5 * step_s * 1000))
        assert feed["animations"] == [], feed["animations"]
        assert page.evaluate("() => document.getAnimations().length") == 0
        lines = [line for _, line in feed["samples"]]
        assert -1 not in lines, feed["samples"]  # always a line flush with the window's top edge
        moves = [(a, b) for a, b in zip(lines, lines[1:], strict=False) if a != b]  # each line with the next
        assert len(moves) >= 2, feed["samples"]
        n = page.locator("#wall-feed .feed-list").first.locator(".feed-item").count()
        assert all(b == (a + 1) % n for a, b in moves), moves  # one line on each step, round and round
        assert len({transform for transform, _ in feed["samples"]}) >= 3
        # the banners flash between their two colours, the offline mark blinks
        seen = page.evaluate(SAMPLE_FLASHES, 3000)
        assert seen == {"1": FLASH[1], "2": FLASH[2], "mark": ["hidden", "visible"]}, seen
        assert page.evaluate("() => document.getAnimations().length") == 0
        # a newer case: the server replaces the items and the feed goes back to the top, where it is
        page.wait_for_function("() => document.querySelector('#wall-feed').style.transform !== ''",
                               timeout=WAIT_S * 1000)
        p = grids.geometry("DL-05-01").representative_point()
        case = CaseIn(source="patrol", external_id=f"WALL-F-{time.time_ns()}", type="hazard",
                      domain="governance", title="信息流测试", lon=p.x, lat=p.y)
        written = write_cases(make_engine(server.database_url), grids, [case])
        page.wait_for_function(
            f"""() => {{
                const track = document.querySelector('#wall-feed');
                const first = track.querySelector('.feed-item');
                return first.dataset.case === '{written[0].id}' && track.style.transform === ''
                    && Math.abs(first.getBoundingClientRect().top
                                - track.parentElement.getBoundingClientRect().top) < 1.5;
            }}""",
            timeout=WAIT_S * 1000)
        assert page.locator("#wall-feed .feed-item").count() <= 2 * ui.FEED_SIZE
        assert page.evaluate("() => document.getAnimations().length") == 0
    finally:
        context.close()


def test_reduced_motion_keeps_the_banner_steady_and_the_feed_stepping(server, browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=1,
                                  locale="zh-CN", reduced_motion="reduce")
    page = context.new_page()
    try:
        page.goto(server.url + "/wall")
        page.wait_for_selector("#wall-feed .feed-item", timeout=60000)
        seen = page.evaluate(SAMPLE_FLASHES, 3000)
        assert seen == {"1": FLASH[1][1:], "2": FLASH[2][1:], "mark": ["visible"]}, seen
        page.wait_for_function("() => document.querySelector('#wall-feed').style.transform !== ''",
                               timeout=WAIT_S * 1000)
        assert page.evaluate("() => document.getAnimations().length") == 0
    finally:
        context.close()


def test_data_age_turns_red_after_a_minute_without_the_server(tmp_path, browser):
    srv = LiveServer(tmp_path).start()
    context, page = new_page(browser)
    try:
        page.clock.install()
        open_wall(page, srv.url + "/wall")
        assert page.locator("#wall-age.stale").count() == 0
        srv.stop()
        page.wait_for_selector("#wall-offline:not([hidden])", timeout=WAIT_S * 1000)
        page.clock.fast_forward(ui.STALE_S * 1000 + 5000)
        page.wait_for_selector("#wall-age.stale", timeout=WAIT_S * 1000)
        age = re.fullmatch(r"数据更新于 (\d+) 秒前", page.inner_text("#wall-age"))
        assert age and int(age[1]) > ui.STALE_S, page.inner_text("#wall-age")
        srv.start()
        page.wait_for_selector("#wall-age:not(.stale)", timeout=WAIT_S * 1000)
    finally:
        context.close()
        srv.stop()


def _personal_data(database_url: str) -> set[str]:
    """Every officer's name and phone (grid file), every reporter, handler and contact (store)."""
    found: set[str] = set()
    for feature in json.loads(BUNDLED_GRIDS.read_text())["features"]:
        found |= {feature["properties"].get("officer"), feature["properties"].get("officer_phone")}
    engine = create_engine(database_url)
    try:
        with engine.connect() as con:
            for query in ("SELECT reporter, reporter_phone, handler FROM cases",
                          "SELECT contact, phone FROM resources"):
                for row in con.execute(text(query)):
                    found |= set(row)
    finally:
        engine.dispose()
    return {s for s in found if s and len(s) >= 2}


def test_no_personal_data_reaches_the_wall(server, browser, grids):
    context, page = new_page(browser)
    responses = []
    page.on("response", lambda r: responses.append(r) if "/_dash-" in r.url else None)
    try:
        open_wall(page, server.url + "/wall?tour=1&interval=3")
        # a new case with a reporter, so the refresh runs with fresh personal data in the store
        p = grids.geometry("DL-02-01").representative_point()
        case = CaseIn(source="citizen", external_id=f"WALL-P-{time.time_ns()}", type="service", domain="livelihood",
                      title="隐私测试", lon=p.x, lat=p.y, reporter="欧阳测试", reporter_phone="13912345678",
                      handler="司马测试")
        write_cases(make_engine(server.database_url), grids, [case])
        page.wait_for_function("() => document.querySelector('#wall-feed').innerText.includes('便民服务')",
                               timeout=WAIT_S * 1000)
        page.wait_for_timeout(4000)  # a tour step or two
        secrets = _personal_data(server.database_url)
        assert {"13912345678", "欧阳测试", "司马测试"} <= secrets and len(secrets) > 100
        # decode the JSON, so that a name escaped as \\uXXXX is still found
        bodies = [json.dumps(r.json(), ensure_ascii=False) for r in responses
                  if r.ok and r.request.method == "POST"]
        assert len(bodies) >= 2  # the page, and at least one refresh
        texts = [page.content(), page.inner_text("body"), *bodies]
        leaks = sorted({s for s in secrets for text in texts if s in text})
        assert leaks == []
        # the geometry went to the browser once, with the page, and never again
        assert sum('"geojson"' in b for b in bodies) == 1
    finally:
        context.close()


@pytest.mark.parametrize("search,expected", [
    ("", ui.WallOptions()),
    ("?tour=1&interval=20", ui.WallOptions(True, 20)),
    ("?tour=yes&interval=1", ui.WallOptions(True, ui.INTERVAL_MIN)),
    ("?tour=maybe&interval=abc&lang=fr", ui.WallOptions()),
    ("?interval=-5&tour=0", ui.WallOptions(False, ui.INTERVAL_DEFAULT)),
    ("?interval=99999999&lang=en", ui.WallOptions(False, ui.INTERVAL_DEFAULT, "en")),
    ("?interval=100000&tour=on&tour=off", ui.WallOptions(False, ui.INTERVAL_MAX)),
    ("?interval=%EF%BC%95", ui.WallOptions()),  # a full-width digit is not a number here
])
def test_url_options_are_parsed_with_care(search, expected):
    assert ui.parse_options(search) == expected


def test_tour_scores_match_the_store(township_ctx):
    from township.read.views import make_view

    tw = township_ctx.township
    view = make_view(tw.snapshot(), tw.gridset, ui.state_for("zh"))
    scores = ui.tour_scores(view, tw.gridset)
    assert list(scores.index) == busiest_first(township_ctx.settings.database_url)
    assert (scores["score"] == scores["open"] + 2 * scores["overdue"] + 3 * scores["warnings"]).all()
    plan = ui.tour_plan(view, tw.gridset, "zh")
    assert [s["key"] for s in plan["order"]] == list(scores.index) and plan["town"]["key"] == "town"
    villages = tw.gridset.ids(level=2)
    assert all(villages[s["index"]] == s["key"] for s in plan["order"])  # the village trace's outline to widen


def test_the_tour_visits_at_most_tour_stops_villages(township_ctx, monkeypatch):
    from township.read.views import make_view

    tw = township_ctx.township
    view = make_view(tw.snapshot(), tw.gridset, ui.state_for("zh"))
    monkeypatch.setattr(ui, "TOUR_STOPS", 5)
    order = ui.tour_plan(view, tw.gridset, "zh")["order"]
    assert [s["key"] for s in order] == list(ui.tour_scores(view, tw.gridset).index[:5])
    assert order[-1]["detail"].endswith("5/5")


def test_wall_map_updates_carry_no_hover_text(township_ctx):
    from township.read.views import make_view

    tw = township_ctx.township
    view = make_view(tw.snapshot(), tw.gridset, ui.state_for("zh"))
    updates = ui.wall_updates(view, tw.gridset, scale=2)
    assert all("customdata" not in u and u["hoverinfo"] == "skip" for u in updates.values())
    assert "marker" not in updates[1]  # the tour owns the village outlines
    assert updates[4]["marker"]["size"] == 18  # case points twice as large on a 4K screen


def test_the_grids_red_warnings_reach_are_sent_only_when_the_reds_change(township_ctx):
    from layers.mapfig import GRIDS, RADIUS
    from township.read.views import make_view

    tw = township_ctx.township
    view = make_view(tw.snapshot(), tw.gridset, ui.state_for("zh"))
    reds = ui.red_ids(view.warnings)
    assert reds, "the demo year has a live red warning"
    first = ui.wall_updates(view, tw.gridset)
    reached = sorted({g for w in reds for g in view.warning_grids[w]})
    assert list(first[GRIDS]["locations"]) == reached and len(first[GRIDS]["geojson"]["features"]) == len(reached)
    assert sum(x is None for x in first[RADIUS]["lon"]) == len(reds) - 1  # one ring per red warning
    again = ui.wall_updates(view, tw.gridset, known_reds=reds)
    assert "geojson" not in again[GRIDS] and "locations" not in again[GRIDS]
    changed = ui.wall_updates(view, tw.gridset, known_reds=reds[1:])
    assert "geojson" in changed[GRIDS]
