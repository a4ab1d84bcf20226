"""The desk console (issue 14): one 1080p screen, the table's row flies the map, whole zh/en, the village operator.

Real server, real Chromium. Expected values come from the server's SQLite file
and the vocabulary, not from the code under test.
"""
from __future__ import annotations

import json
import re
import sqlite3

import pytest
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from layers import mapfig
from tests.conftest import LiveServer
from township.domain.vocab import CASE_MOVES, CASE_SOURCES, CASE_STATUSES, DOMAINS, WARNING_MOVE_LABELS
from ui import ids

DESK = {"width": 1920, "height": 1080}
ROW = "#table-cases .ag-center-cols-container .ag-row"
MAP = f"#{ids.MAP} .js-plotly-plot"
#: The codes that must never reach an English screen (docs/design.md §1): statuses, moves, domains, sources.
CODES = sorted({*CASE_STATUSES, *CASE_MOVES, *WARNING_MOVE_LABELS, *DOMAINS, *CASE_SOURCES})
#: Their English labels, which may hold a code as a word ("Urban construction"): taken out before the search.
LABELS = sorted({e["en"] for table in (CASE_STATUSES, CASE_MOVES, WARNING_MOVE_LABELS, DOMAINS, CASE_SOURCES)
                 for e in table.values()}, key=len, reverse=True)


def raw_codes(text: str) -> list[str]:
    """The codes that ``text`` shows as words of their own (not inside their labels)."""
    for words in LABELS:
        text = text.replace(words, " ")
    return sorted({code for code in CODES if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)})


def open_desk(browser, url: str, size: dict | None = None):
    context = browser.new_context(viewport=size or DESK, locale="zh-CN")
    pg = context.new_page()
    pg.goto(url)
    pg.wait_for_function(f"() => {{ const gd = document.querySelector('{MAP}');"
                         " return gd && gd._fullLayout && gd._fullLayout.map; }", timeout=60000)
    pg.wait_for_selector(ROW, timeout=60000)  # the table comes after the map has drawn
    return context, pg


def click_row(pg, index: int = 0) -> int:
    """Click the title of row ``index``; the id of its case."""
    # the table loads after the map has drawn: wait for the row's case, not only its place
    pg.wait_for_selector(f'{ROW}[row-index="{index}"][row-id]', timeout=30000)
    row = pg.locator(f'{ROW}[row-index="{index}"]')
    case_id = int(row.get_attribute("row-id"))
    row.locator('.ag-cell[col-id="title"]').click()
    pg.wait_for_selector(f"#{ids.CASE_CARD}:not([hidden]) #case-title", timeout=30000)
    pg.wait_for_function(f"() => document.querySelector('#case-title').innerText.startsWith('#{case_id} ')",
                         timeout=30000)
    return case_id


def box(pg, selector: str) -> dict:
    return pg.locator(selector).first.bounding_box()


def overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def lonlat(server: LiveServer, case_id: int) -> tuple[float, float]:
    with sqlite3.connect(server.db) as conn:
        return conn.execute("SELECT lon, lat FROM cases WHERE id = ?", (case_id,)).fetchone()


@pytest.mark.parametrize("size", [DESK, {"width": 3840, "height": 2160}], ids=["1080p", "2160p"])
def test_map_table_and_card_on_one_screen(server, browser, size):
    context, pg = open_desk(browser, server.url + "/", size)
    try:
        click_row(pg)
        assert pg.evaluate("document.scrollingElement.scrollHeight") <= size["height"]
        view = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
        shown = {name: box(pg, sel) for name, sel in
                 (("map", f"#{ids.MAP}"), ("table", "#table-cases"), ("card", f"#{ids.CASE_CARD}"))}
        for name, b in shown.items():
            assert b and b["width"] > 0.15 * size["width"] / 2, name  # there, and not a sliver
            inside = (b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= size["width"] + 1
                      and b["y"] + b["height"] <= size["height"] + 1)
            assert inside and overlap(b, view), (name, b)
        # the card lies beside the map, and covers neither it nor the banner's button
        assert not overlap(shown["card"], shown["map"])
        if pg.locator(f"#{ids.ALERT}:not([hidden])").count():
            assert not overlap(shown["card"], box(pg, f"#{ids.ALERT_ACK}"))
        # scaled up on a 4K desk: the table's text is as big, for the eye, as at 1080p
        font = pg.evaluate(f"""() => {{ const c = document.querySelector('{ROW} .ag-cell');
            const zoom = c.getBoundingClientRect().height / c.offsetHeight;
            return parseFloat(getComputedStyle(c).fontSize) * zoom; }}""")
        assert font >= 13 * size["width"] / 1920 * 0.95
        # statistics are a tab of their own, filled when opened
        assert pg.locator("#stats-stages").count() == 0
        pg.locator(f"#{ids.TAB} label").nth(1).click()
        pg.wait_for_selector("#stats-stages", timeout=30000)
        assert pg.locator(f"#{ids.STATS_PAGE}").is_visible()
    finally:
        context.close()


def test_a_table_row_flies_the_map_to_its_case(server, browser):
    context, pg = open_desk(browser, server.url + "/")
    try:
        before = pg.evaluate(f"() => document.querySelector('{MAP}')._fullLayout.map.zoom")
        case_id = click_row(pg, 1)
        lon, lat = lonlat(server, case_id)
        pg.wait_for_function(f"""() => {{ const m = document.querySelector('{MAP}')._fullLayout.map;
            return Math.abs(m.center.lon - {lon}) < 1e-6 && Math.abs(m.center.lat - {lat}) < 1e-6; }}""",
                             timeout=30000)
        layout = pg.evaluate(f"() => document.querySelector('{MAP}')._fullLayout.map")
        assert layout["zoom"] > before
        ring = layout["layers"][0]["source"]["features"][0]["geometry"]["coordinates"]
        assert ring == pytest.approx([lon, lat])
    finally:
        context.close()


# -- the map's view, its names and its legend (issue 14, what was left) ---------------------------------------

SIZES = [DESK, {"width": 3840, "height": 2160}]


@pytest.fixture(scope="module")
def grid_file() -> dict:
    from township.config import BUNDLED_GRIDS

    return json.loads(BUNDLED_GRIDS.read_text(encoding="utf-8"))


def polygons(grid_file: dict, level: int) -> dict[str, BaseGeometry]:
    return {f["properties"]["grid_id"]: shape(f["geometry"]) for f in grid_file["features"]
            if f["properties"]["level"] == level}


def anchor(geom: BaseGeometry) -> tuple[float, float]:
    """Where a polygon's name belongs: its pole of inaccessibility (of its largest part), by shapely."""
    if geom.geom_type == "MultiPolygon":
        geom = max(geom.geoms, key=lambda g: g.area)
    minx, miny, maxx, maxy = geom.bounds
    p = polylabel(geom, tolerance=max(maxx - minx, maxy - miny) / 1000)
    return p.x, p.y


def on_screen(pg, points: list[tuple[float, float]]) -> list[dict]:
    """``points`` (lon/lat) as the page shows them: MapLibre's projection, in the page's own pixels (a 4K desk
    is zoomed 2×: the map's box in the page over its own width gives the factor)."""
    return pg.evaluate(f"""pts => {{
        const map = document.querySelector('{MAP}')._fullLayout.map._subplot.map;
        const el = map.getContainer(), r = el.getBoundingClientRect(), k = r.width / el.offsetWidth;
        return pts.map(([lon, lat]) => {{ const p = map.project([lon, lat]);
                                          return {{x: r.left + p.x * k, y: r.top + p.y * k}}; }});
    }}""", [list(p) for p in points])


def map_box(pg) -> dict:
    """The map's own area (MapLibre's canvas, without the legend's column) in the page."""
    return pg.evaluate(f"""() => {{ const r = document.querySelector('{MAP}')._fullLayout.map._subplot.map
        .getContainer().getBoundingClientRect();
        return {{x: r.left, y: r.top, width: r.width, height: r.height}}; }}""")


def settled(pg, revision: str | None = None) -> None:
    """Wait until the map has been fitted (and the camera reported); with ``revision``: moved to it."""
    want = json.dumps(revision)
    pg.wait_for_function(f"""() => {{ const gd = document.querySelector('{MAP}');
        return gd._townshipCamera && (!{want} || gd._fullLayout.map.uirevision === {want})
            && gd._fullLayout.map._subplot.map.loaded(); }}""", timeout=30000)
    pg.wait_for_timeout(1500)  # the names' patch after the last report


def inside(p: dict, b: dict) -> bool:
    return b["x"] <= p["x"] <= b["x"] + b["width"] and b["y"] <= p["y"] <= b["y"] + b["height"]


@pytest.mark.parametrize("size", SIZES, ids=["1080p", "2160p"])
def test_the_legend_covers_no_name_and_no_warning(server, browser, grid_file, size):
    context, pg = open_desk(browser, server.url + "/", size)
    try:
        settled(pg)
        legend = box(pg, ".map-legend")
        assert legend and legend["height"] > 100, legend
        # every symbol of the map is in it (the grids' colours are the colour bar above it)
        text = pg.inner_text(".map-legend")
        for word in ("已上报", "超期", "红色", "蓝色", "党员先锋岗", "应急物资点", "黄河"):
            assert word in text, word
        assert pg.locator(f"{MAP} .colorbar").count() == 1
        bar = pg.evaluate(f"() => document.querySelector('{MAP} .colorbar').getBoundingClientRect().toJSON()")
        # beside the map, not over it: the map's area ends where the legend's column begins
        area = map_box(pg)
        assert legend["x"] >= area["x"] + area["width"] - 1 and bar["x"] >= area["x"] + area["width"] - 1
        assert not overlap(legend, bar)
        villages = polygons(grid_file, 2)
        warnings = pg.evaluate(f"""() => {{ const t = document.querySelector('{MAP}').data[{mapfig.WARNINGS}];
            return t.lon.map((x, i) => [x, t.lat[i]]); }}""")
        with sqlite3.connect(server.db) as conn:
            live = conn.execute("SELECT count(*) FROM warnings WHERE status != 'cleared'").fetchone()[0]
        assert live and len(warnings) >= 1
        points = [anchor(g) for g in villages.values()] + [tuple(w) for w in warnings]
        shown = on_screen(pg, points)
        assert all(inside(p, area) for p in shown[:len(villages)])  # the whole town in view
        covered = [pt for pt, p in zip(points, shown, strict=True) if inside(p, legend) or inside(p, bar)]
        assert covered == []
    finally:
        context.close()


@pytest.mark.parametrize("size", [*SIZES, {"width": 1280, "height": 800}], ids=["1080p", "2160p", "narrow"])
@pytest.mark.parametrize("village", [None, "DL-05"])
def test_the_view_is_fitted_to_the_map(server, browser, grid_file, size, village):
    context, pg = open_desk(browser, server.url + (f"/?village={village}" if village else "/"), size)
    try:
        settled(pg)
        geoms = polygons(grid_file, 2)
        focus = geoms[village] if village else shapely.union_all(list(geoms.values()))
        minx, miny, maxx, maxy = focus.bounds
        corners = on_screen(pg, [(minx, maxy), (maxx, miny)])
        area = map_box(pg)
        (x0, y0), (x1, y1) = (corners[0]["x"], corners[0]["y"]), (corners[1]["x"], corners[1]["y"])
        assert inside(corners[0], area) and inside(corners[1], area), (corners, area)
        fill = max((x1 - x0) / area["width"], (y1 - y0) / area["height"])
        assert fill >= 0.8, fill
        # the view is kept through new data (plotly takes the browser's fit for the operator's own view)
        zoom = pg.evaluate(f"() => document.querySelector('{MAP}')._fullLayout.map.zoom")
        pg.locator(f"#{ids.F_LAYERS} input").first.click()  # a filter change: a patch of the figure
        pg.wait_for_timeout(2500)
        assert pg.evaluate(f"() => document.querySelector('{MAP}')._fullLayout.map.zoom") == pytest.approx(zoom)
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES, ids=["1080p", "2160p"])
def test_names_follow_the_map_after_a_row_click(server, browser, grid_file, size):
    context, pg = open_desk(browser, server.url + "/", size)
    try:
        settled(pg)
        assert pg.evaluate(f"() => document.querySelector('{MAP}')._fullLayout.map2.domain.x[1]") > 0.5  # inset
        case_id = click_row(pg, 1)
        settled(pg, f"view:|case:{case_id}")
        pg.wait_for_function(f"() => document.querySelector('{MAP}')._fullLayout.map2.domain.x[1] < 0.01",
                             timeout=30000)  # the inset folded: the map is not showing the whole town
        west, south, east, north = pg.evaluate(f"""() => {{ const b = document.querySelector('{MAP}')._fullLayout
            .map._subplot.map.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }}""")
        names = {f["properties"]["grid_id"]: f["properties"]["name"] for f in grid_file["features"]}
        anchors = {g: anchor(geom) for g, geom in polygons(grid_file, 2).items()}
        expected = {names[g] for g, (lon, lat) in anchors.items() if west <= lon <= east and south <= lat <= north}
        assert expected  # the case lies in a village whose name is in view
        shown = set(pg.evaluate(f"() => document.querySelector('{MAP}').data[{mapfig.LABELS}].text"))
        assert shown == expected
        # and scrolled out by the operator until the whole town is in view: the inset again, and the names laid
        # out anew for that view (more of them, each one's anchor in view; at that small scale some collide)
        here = on_screen(pg, [lonlat(server, case_id)])[0]
        pg.mouse.move(here["x"], here["y"])
        for _ in range(40):
            pg.mouse.wheel(0, 200)
            pg.wait_for_timeout(400)
            if pg.evaluate(f"() => document.querySelector('{MAP}')._fullLayout.map2.domain.x[1] > 0.5"):
                break
        settled(pg)
        west, south, east, north = pg.evaluate(f"""() => {{ const b = document.querySelector('{MAP}')._fullLayout
            .map._subplot.map.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }}""")
        town = shapely.union_all(list(polygons(grid_file, 2).values())).bounds
        assert west <= town[0] + 0.02 and south <= town[1] + 0.02 and east >= town[2] - 0.02 and north >= town[3] - 0.02
        assert pg.evaluate(f"() => document.querySelector('{MAP}')._fullLayout.map2.domain.x[1]") > 0.5
        wide = set(pg.evaluate(f"() => document.querySelector('{MAP}').data[{mapfig.LABELS}].text"))
        assert len(wide) > len(shown) and wide <= {names[g] for g in anchors}
    finally:
        context.close()


def test_a_move_redraws_the_names_and_nothing_else(server, browser):
    """After a move, the names are laid out anew; MapLibre is given the names' data again and no other source's
    (plotly sets every source anew on any change of the figure: each one parsed, tiled and drawn again)."""
    context, pg = open_desk(browser, server.url + "/")
    try:
        settled(pg)
        before = pg.evaluate(f"() => document.querySelector('{MAP}').data[{mapfig.LABELS}].text")
        pg.evaluate(f"""() => {{
            const gd = document.querySelector('{MAP}'), map = gd._fullLayout.map._subplot.map;
            window.__reloaded = new Set();
            map.on('sourcedata', e => {{ if (e.sourceDataType === 'content') window.__reloaded.add(e.sourceId); }});
            // the operator zooms in two steps on the town's centre
            map.jumpTo({{zoom: map.getZoom() + 2}}, {{originalEvent: {{type: 'wheel'}}}});
        }}""")
        pg.wait_for_function(f"""before => {{ const t = document.querySelector('{MAP}').data[{mapfig.LABELS}].text;
            return JSON.stringify(Array.from(t)) !== JSON.stringify(before); }}""", arg=before, timeout=30000)
        pg.wait_for_function(f"() => document.querySelector('{MAP}')._fullLayout.map._subplot.map.loaded()",
                             timeout=30000)
        pg.wait_for_timeout(1000)
        reloaded, names_uid = pg.evaluate(f"""() => [Array.from(window.__reloaded),
            document.querySelector('{MAP}')._fullData[{mapfig.LABELS}].uid]""")
        assert reloaded and all(source.startswith(f"source-{names_uid}") for source in reloaded), reloaded
        # the new names are what the map draws
        drawn = pg.evaluate(f"""() => {{
            const gd = document.querySelector('{MAP}'), map = gd._fullLayout.map._subplot.map;
            const layers = map.getStyle().layers.map(l => l.id)
                .filter(id => id.startsWith('plotly-trace-layer-' + gd._fullData[{mapfig.LABELS}].uid));
            return map.queryRenderedFeatures({{layers}}).map(f => f.properties.text); }}""")
        now = set(pg.evaluate(f"() => document.querySelector('{MAP}').data[{mapfig.LABELS}].text"))
        assert drawn and set(drawn) <= now
    finally:
        context.close()


def test_the_import_panel_comes_with_its_tab_not_before_the_map(server, browser):
    """The file drop's script is not among what the desk loads before its map: the import panel is put in when
    the statistics and data tab first opens, and kept when the operator comes back to it."""
    context = browser.new_context(viewport=DESK, locale="zh-CN")
    pg = context.new_page()
    asked: list[str] = []
    pg.on("request", lambda r: asked.append(r.url))
    try:
        pg.goto(server.url + "/")
        pg.wait_for_selector(ROW, timeout=60000)  # the map has drawn and the table is in
        assert pg.locator(f"#{ids.IMPORT_UPLOAD}").count() == 0
        assert not [u for u in asked if "async-upload" in u]
        pg.locator(f"#{ids.TAB} label").nth(1).click()
        pg.wait_for_selector(f"#{ids.IMPORT_UPLOAD} input[type=file]", state="attached", timeout=30000)
        assert [u for u in asked if "async-upload" in u]
        pg.evaluate(f"() => {{ document.getElementById('{ids.IMPORT_UPLOAD}').__kept = true; }}")
        pg.locator(f"#{ids.TAB} label").nth(0).click()
        pg.locator(f"#{ids.TAB} label").nth(1).click()
        pg.wait_for_timeout(500)
        assert pg.evaluate(f"() => document.getElementById('{ids.IMPORT_UPLOAD}').__kept === true")
    finally:
        context.close()


def test_english_shows_no_raw_code(server, browser):
    context, pg = open_desk(browser, server.url + "/?lang=en")
    try:
        click_row(pg)
        pg.wait_for_selector("#case-timeline .step", timeout=30000)
        text = pg.evaluate("document.body.innerText")
        card = pg.inner_text(f"#{ids.CASE_CARD}")
        assert "Timeline" in card and pg.locator("#case-timeline .step").count() >= 1
        assert raw_codes(text) == []
        # the statistics page too
        pg.locator(f"#{ids.TAB} label").nth(1).click()
        pg.wait_for_selector("#stats-stages", timeout=30000)
        stats = pg.inner_text(f"#{ids.STATS_PAGE}")
        assert raw_codes(stats) == []
        assert "免登录" not in pg.inner_text(f"#{ids.ACCOUNT}")  # the kiosk chip speaks English too
    finally:
        context.close()


def test_chinese_dropdowns_and_table_speak_chinese(server, browser):
    context, pg = open_desk(browser, server.url + "/")
    try:
        pg.click(f"#{ids.F_DOMAIN}")
        pg.wait_for_timeout(500)
        text = pg.evaluate("document.body.innerText")
        assert "全选" in text
        assert not re.search(r"Select All|Deselect All|\bSearch\b|selected", text), text
    finally:
        context.close()


@pytest.fixture(scope="module")
def village_server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("desk-village"),
                     {"DEFAULT_ROLE": "village", "DEFAULT_VILLAGE": "DL-01", "DEMO_FEED": "0"}).start()
    yield srv
    srv.stop()


def test_village_operator_sees_their_village_and_a_corrected_url(village_server, browser):
    context, pg = open_desk(browser, village_server.url + "/?village=DL-03&level=3")
    try:
        with sqlite3.connect(village_server.db) as conn:
            own = conn.execute("SELECT name FROM grids WHERE grid_id = 'DL-01'").fetchone()[0]
        pg.wait_for_function("() => location.search.includes('village=DL-01')", timeout=30000)
        assert "DL-03" not in pg.evaluate("location.search")
        assert own in pg.inner_text(f"#{ids.NOTICE}") and pg.locator(f"#{ids.NOTICE}").is_visible()
        # the breadcrumb's root is their village: no town to return to
        assert not pg.locator(f"#{ids.CRUMB_TOWN}").is_visible()
        assert pg.inner_text(f"#{ids.CRUMB_VILLAGE}") == own
        # the import is command's and admin's
        pg.locator(f"#{ids.TAB} label").nth(1).click()
        pg.wait_for_selector("#stats-stages", timeout=30000)
        assert pg.locator(f"#{ids.IMPORT_UPLOAD}").count() == 0
    finally:
        context.close()


def test_choosing_one_village_shows_its_grids():
    from callbacks.dashboard import CONTROLS, reduce
    from township.domain.filters import FilterState

    town = FilterState(level=2)
    values = {name: getattr(town, name) for _, name in CONTROLS}
    one = reduce(town, ids.F_VILLAGE, {**values, "village": ["DL-03"]}, None, None)
    assert (one.village, one.level) == (["DL-03"], 3)
    two = reduce(town, ids.F_VILLAGE, {**values, "village": ["DL-03", "DL-04"]}, None, None)
    assert (two.village, two.level) == (["DL-03", "DL-04"], 2)  # several: compared side by side, by village
    other = reduce(town, ids.F_DOMAIN, {**values, "domain": ["safety"]}, None, None)
    assert other.level == 2


def test_a_plain_address_is_not_corrected(village_server, browser):
    context, pg = open_desk(browser, village_server.url + "/")
    try:
        assert not pg.locator(f"#{ids.NOTICE}").is_visible()
        assert pg.evaluate("location.search") == ""
    finally:
        context.close()


def test_the_case_card_is_readable_and_closable_on_a_phone(server, browser):
    # A phone opening the desk (390×844, touch): the open card is the whole screen, scrolls by itself,
    # and its × stays at the top, thumb-sized, while it scrolls.
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  locale="zh-CN")
    try:
        pg = context.new_page()
        pg.goto(server.url + "/")
        # the row's case id comes with the table's first block, after the row itself
        pg.wait_for_selector(f'{ROW}[row-index="0"][row-id]', state="attached", timeout=60000)
        row = pg.locator(f'{ROW}[row-index="0"]')
        case_id = int(row.get_attribute("row-id"))
        # the desk's table has no room on a phone: the row is clicked as the map's point would open it
        row.locator('.ag-cell[col-id="title"]').dispatch_event("click")
        pg.wait_for_function(f"() => (document.querySelector('#case-title') || {{}}).innerText"
                             f"?.startsWith('#{case_id} ')", timeout=30000)
        card, close = box(pg, f"#{ids.CASE_CARD}"), box(pg, f"#{ids.CASE_CARD} .case-close")
        assert (card["x"], card["y"], card["width"], card["height"]) == (0, 0, 390, 844), card
        # every line of the card within the screen's width: nothing cut at the right edge
        wide = pg.evaluate(f"""() => [...document.querySelectorAll('#{ids.CASE_CARD} *')]
            .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 1)
            .map(e => e.tagName + '.' + e.className + ':' + e.textContent.slice(0, 20))""")
        assert wide == []
        assert pg.evaluate(f"document.querySelector('#{ids.CASE_CARD}').scrollHeight") > 844  # it scrolls …
        pg.evaluate(f"document.querySelector('#{ids.CASE_CARD}').scrollTop = 1e6")
        pg.wait_for_timeout(200)
        close = box(pg, f"#{ids.CASE_CARD} .case-close")  # … and the × stays on the screen, 44 px at least
        assert close["y"] >= 0 and close["y"] + close["height"] <= 844 and close["x"] + close["width"] <= 390
        assert close["width"] >= 44 and close["height"] >= 44
        pg.tap(f"#{ids.CASE_CARD} .case-close")
        pg.wait_for_selector(f"#{ids.CASE_CARD}", state="hidden", timeout=30000)
    finally:
        context.close()
