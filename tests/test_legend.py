"""The legends and the desk on a phone, in a real Chromium on a real server (issue 14, what was left).

- The wall's legend, Chinese and English, at 1080p and 4K: no word broken across lines, nothing cut, inside
  its panel, and no village name or count that MapLibre placed lies under it.
- The desk legend's evacuation key: shown while the map shades a started evacuation's grids (a red 凌汛
  warning posted and its evacuation started through the API, its card opened from the banner), not before.
- The desk at 390×844 on a touch phone: no horizontal scroll, the map first, its canvas the whole width.
"""
from __future__ import annotations

import pytest
import requests
from conftest import ARTIFACTS, command_server
from test_wall import open_wall

from layers.mapfig import EVACUATION_GRIDS, LABELS
from ui import ids

WALL = "#wall-map .js-plotly-plot"
DESK = f"#{ids.MAP} .js-plotly-plot"
KEY = f"#{ids.LEGEND_EVAC}"
WAIT_MS = 60000
#: A point on the Yellow River bank between 小滩子村 and 常树梁村 (lon, lat) and a radius (m): households inside.
POINT, RADIUS = (111.22, 40.18), 4000.0


@pytest.fixture(scope="module")
def srv(tmp_path_factory, stores):
    """An app of its own (the warning posted here counts nowhere else), with a command token."""
    yield from command_server(tmp_path_factory, stores, "legend")


def api(srv, path: str, body: dict):
    r = requests.post(srv.url + path, json=body, headers={"Authorization": f"Bearer {srv.token}"}, timeout=30)
    assert r.status_code in (200, 201), r.text
    return r.json()


def new_page(browser, width: int, height: int, phone: bool = False):
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                  locale="zh-CN", is_mobile=phone, has_touch=phone)
    return context, context.new_page()


def wait_drawn(page, graph: str) -> None:
    """Until MapLibre has drawn the map of ``graph`` with its tiles."""
    page.wait_for_selector(graph, timeout=WAIT_MS)
    page.wait_for_function(
        f"""() => {{
            const gd = document.querySelector('{graph}');
            const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
            return m && m.map && m.map.loaded() && m.map.areTilesLoaded();
        }}""", timeout=WAIT_MS)


#: Every word of the legend's texts (a run without spaces: a Chinese entry is one word) whose letters lie on
#: more than one line, i.e. broken inside the word.
BROKEN_WORDS = """(sel) => {
    const out = [], walker = document.createTreeWalker(document.querySelector(sel), NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const m of node.textContent.matchAll(/\\S+/g)) {
            const range = document.createRange();
            range.setStart(node, m.index);
            range.setEnd(node, m.index + m[0].length);
            const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
            if (tops.size > 1) { out.push(m[0]); }
        }
    }
    return out;
}"""


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160)])
def test_the_wall_legend_breaks_no_word_and_covers_no_name_or_count(srv, browser, lang, width, height):
    context, page = new_page(browser, width, height)
    try:
        open_wall(page, srv.url + f"/wall?lang={lang}")  # drawn and fitted to the screen (the first stop)
        # the names at this screen's size (the wall's scale comes with its first refresh), then placed: placement
        # settles after the tiles, later on a loaded machine (asked again until MapLibre placed every name laid
        # out, for at most 20 s)
        page.wait_for_function(f"() => document.querySelector('{WALL}').data[{LABELS}].textfont.size"
                               f" >= {20 * width / 1920}", timeout=WAIT_MS)
        layer = page.evaluate(f"() => 'plotly-trace-layer-' + document.querySelector('{WALL}')._fullData[{LABELS}].uid"
                              " + '-symbol'")
        query = f"""(box) => {{
            const map = document.querySelector('{WALL}')._fullLayout.map._subplot.map;
            const c = map.getContainer().getBoundingClientRect();
            const geom = box ? [[box.x - c.left, box.y - c.top], [box.x + box.width - c.left,
                                                                   box.y + box.height - c.top]] : undefined;
            return (geom ? map.queryRenderedFeatures(geom, {{layers: ['{layer}']}})
                         : map.queryRenderedFeatures({{layers: ['{layer}']}})).map(f => String(f.properties.text));
        }}"""
        laid_out = page.evaluate(f"() => document.querySelector('{WALL}').data[{LABELS}].text.length")
        for _ in range(25):
            page.wait_for_timeout(800)
            if len(page.evaluate(query, None)) >= laid_out:
                break
        assert len(page.evaluate(query, None)) >= 10
        legend = page.locator("#wall-legend").bounding_box()
        panel = page.locator(".wall-map").bounding_box()
        assert legend and panel and legend["height"] > 100
        assert page.evaluate(BROKEN_WORDS, "#wall-legend") == []
        # inside its panel, under the banner, and nothing cut inside it
        banner = page.locator("#wall-banner").bounding_box()
        assert panel["x"] <= legend["x"] and legend["x"] + legend["width"] <= panel["x"] + panel["width"]
        assert legend["y"] >= (banner["y"] + banner["height"] if banner else panel["y"]) - 1
        assert legend["y"] + legend["height"] <= panel["y"] + panel["height"]
        assert page.evaluate("""() => { const e = document.querySelector('#wall-legend');
                                        return e.scrollWidth <= e.clientWidth + 1
                                            && e.scrollHeight <= e.clientHeight + 1; }""")
        # no name and no count that MapLibre placed lies under the legend (their text boxes, as placed)
        assert page.evaluate(query, legend) == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"legend-wall-{lang}-{width}.png"))
    finally:
        context.close()


def test_the_desk_legend_shows_the_evacuation_key_while_an_evacuation_is_shaded(srv, browser):
    body = {"source": "test", "external_id": "legend-ice-1", "type": "ice_flood", "level": 1,
            "title": "图例测试凌汛红色预警", "lon": POINT[0], "lat": POINT[1], "radius_m": RADIUS}
    wid = api(srv, "/api/v1/warnings", body)[0]["id"]
    context, page = new_page(browser, 1920, 1080)
    try:
        page.goto(srv.url + "/")
        wait_drawn(page, DESK)
        assert page.locator(KEY).count() == 1 and page.locator(KEY).is_hidden()  # no evacuation anywhere yet
        # the banner announces the newest red warning, ours: its card opens, no evacuation started: no key
        page.wait_for_function(f"() => document.querySelector('#{ids.ALERT_ACK}').value === '{wid}'",
                               timeout=WAIT_MS)
        page.click(f"#{ids.ALERT_TEXT}")
        page.wait_for_selector(f"#{ids.WARN_CARD}:not([hidden]) #warn-title", timeout=WAIT_MS)
        assert page.inner_text("#warn-title").startswith(f"#{wid} ")
        page.wait_for_timeout(1500)
        assert page.locator(KEY).is_hidden()
        assert page.evaluate(f"() => document.querySelector('{DESK}').data[{EVACUATION_GRIDS}].visible") is False
        # started through the API: the desk follows with its next refresh, the grids shaded and the key shown
        api(srv, f"/api/v1/warnings/{wid}/evacuation", {"note": "按预案转移"})
        page.wait_for_selector(f"{KEY}:not([hidden])", timeout=WAIT_MS)
        assert page.evaluate(f"() => document.querySelector('{DESK}').data[{EVACUATION_GRIDS}].visible") is True
        key = page.locator(KEY)
        assert "转移安置" in key.inner_text() and "网格已转移户比例" in key.inner_text()
        assert key.locator(".lg-evac").count() == 1
        # in the legend's column beside the map, inside the window
        column = page.locator(".map-legend").bounding_box()
        box = key.bounding_box()
        assert column and box and column["x"] - 1 <= box["x"] and box["x"] + box["width"] <= column["x"] + \
            column["width"] + 1 and box["y"] + box["height"] <= 1080
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "legend-desk-evacuation.png"))
        # the card closed: the map shades nothing, and the key goes
        page.click(f"#{ids.WARN_CARD} .case-close")
        page.wait_for_selector(f"{KEY}[hidden]", state="attached", timeout=WAIT_MS)
        assert page.locator(KEY).is_hidden()
    finally:
        context.close()
    # in English, from the text table
    context, page = new_page(browser, 1920, 1080)
    try:
        page.goto(srv.url + "/?lang=en")
        wait_drawn(page, DESK)
        page.wait_for_function(f"() => document.querySelector('#{ids.ALERT_ACK}').value === '{wid}'",
                               timeout=WAIT_MS)
        page.click(f"#{ids.ALERT_TEXT}")
        page.wait_for_selector(f"{KEY}:not([hidden])", timeout=WAIT_MS)
        assert "Evacuation" in page.inner_text(KEY) and "share of households moved" in page.inner_text(KEY)
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_desk_on_a_phone_puts_the_map_first_at_full_width_without_horizontal_scroll(srv, browser, lang):
    context, page = new_page(browser, 390, 844, phone=True)
    try:
        page.goto(srv.url + f"/?lang={lang}")
        wait_drawn(page, DESK)
        page.wait_for_timeout(1000)  # the table and the names come after the map
        dims = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
        assert dims[0] <= dims[1] == 390, dims
        canvas = page.locator(f"{DESK} canvas.maplibregl-canvas").first.bounding_box()
        assert canvas and canvas["height"] >= 300 and canvas["x"] <= 0.5 and canvas["width"] >= 390 - 1, canvas
        # the map first: above the figures, the filters, the case list and the panel, one under the other
        tops = {sel: page.locator(sel).bounding_box() for sel in
                (".map-col", f"#{ids.HEADLINE}", ".filters", ".center > .table", f"#{ids.PANEL}")}
        order = sorted(tops, key=lambda s: tops[s]["y"])
        assert order[0] == ".map-col", order
        for sel, b in tops.items():  # each within the width, none beside another
            assert b["x"] >= -0.5 and b["x"] + b["width"] <= 390.5, (sel, b)
        ys = sorted((b["y"], b["y"] + b["height"]) for b in tops.values())
        assert all(a[1] <= b[0] + 1 for a, b in zip(ys, ys[1:], strict=False)), ys
        # the legend under the map, whole
        legend = page.locator(".map-legend").bounding_box()
        assert legend and legend["y"] >= canvas["y"] + canvas["height"] - 1 and legend["width"] <= 390
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"legend-desk-phone-{lang}.png"))
    finally:
        context.close()
