"""The dashboard in a real headless Chromium against the running app."""
from __future__ import annotations

import re

import pytest

from township.config import BUNDLED_GRIDS
from township.grids.validate import load_grid_file

GRAPH = "#map-graph .js-plotly-plot"


@pytest.fixture(scope="module")
def grids():
    return load_grid_file(BUNDLED_GRIDS)


def open_map(page, url: str) -> None:
    """Load ``url`` and wait until MapLibre has drawn the map's layers (on the desk: fitted to the map's size,
    assets/mapview.js, as an operator first sees it)."""
    page.goto(url)
    page.wait_for_selector(GRAPH, timeout=30000)
    page.wait_for_function(
        f"""() => {{
            const gd = document.querySelector('{GRAPH}');
            const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
            const fit = gd && gd.layout.meta && gd.layout.meta.fit;
            return m && m.map && m.map.loaded() && m.map.areTilesLoaded() && (!fit || gd._townshipFitted === fit.key);
        }}""",
        timeout=30000,
    )


def rendered_features(page, trace: int) -> int:
    """How many distinct polygons of choropleth ``trace`` MapLibre actually drew on screen.

    A polygon cut across tiles comes back in pieces; each piece carries the
    polygon's centroid (``ct``), which tells them apart.
    """
    return page.evaluate(
        f"""(trace) => {{
            const gd = document.querySelector('{GRAPH}');
            const sub = gd._fullLayout.map._subplot;
            const layer = 'plotly-trace-layer-' + gd._fullData[trace].uid + '-fill';
            const feats = sub.map.queryRenderedFeatures({{layers: [layer]}});
            return new Set(feats.map(f => JSON.stringify(f.properties.ct))).size;
        }}""",
        trace,
    )


def click_lonlat(page, lon: float, lat: float) -> None:
    """Click the map where (lon, lat) is drawn."""
    box = page.locator(GRAPH).bounding_box()
    xy = page.evaluate(
        f"""([lon, lat]) => {{
            const sub = document.querySelector('{GRAPH}')._fullLayout.map._subplot;
            const p = sub.map.project([lon, lat]);
            const r = sub.map.getContainer().getBoundingClientRect();
            return [p.x + r.left, p.y + r.top];
        }}""",
        [lon, lat],
    )
    assert box["x"] <= xy[0] <= box["x"] + box["width"], "point is off the map"
    page.mouse.move(xy[0], xy[1])
    page.wait_for_timeout(300)
    page.mouse.click(xy[0], xy[1])


def figure_value(page, expr: str):
    return page.evaluate(f"() => {{ const gd = document.querySelector('{GRAPH}'); return {expr}; }}")


def table_cells(page, column: str) -> list[str]:
    """Texts of ``column`` in the case table's rows, once their block has loaded.

    The table asks the server for rows in blocks; until a block arrives its
    rows show the loading mark, so reading them at once races the answer.
    """
    cells = f'#table-cases .ag-center-cols-container .ag-row .ag-cell[col-id="{column}"]'
    page.wait_for_function(
        f"""() => {{
            const cells = [...document.querySelectorAll('{cells}')].map(c => c.innerText.trim());
            return cells.length > 0 && cells.every(t => t && t !== '…');
        }}""",
        timeout=15000,
    )
    return page.locator(cells).all_inner_texts()


def drawn_locations(page, trace: int) -> list[str]:
    """The grids choropleth ``trace`` has a value for: the ones it draws (its ids are all the level's)."""
    return figure_value(page, f"gd.data[{trace}].locations.filter((g, i) => gd.data[{trace}].z[i] !== null)")


def kpi(page, name: str) -> str:
    return page.inner_text(f"#kpi-{name}")


def test_map_draws_all_146_grids_offline(server, page):
    open_map(page, server.url + "/?level=3")
    assert figure_value(page, "gd.data[2].locations.length") == 146
    assert figure_value(page, "gd._fullData[2].visible") is True
    drawn = rendered_features(page, 2)
    assert drawn == 146, f"MapLibre drew {drawn} grids"
    assert "示意数据,非官方界线" in page.inner_text("body")
    assert "在办事件" in page.inner_text("#fig-headline")
    outside = [u for u in page.requests if not u.startswith(server.url) and not u.startswith(("blob:", "data:"))]
    assert outside == [], f"requests outside the app: {outside}"


def test_clicking_a_village_zooms_in_and_changes_the_figures(server, page, grids):
    # points off, so that the click lands on the village and not on a case
    open_map(page, server.url + "/?layers=none")
    town_open = int(kpi(page, "open"))
    zoom_before = figure_value(page, "gd._fullLayout.map.zoom")
    village = "DL-13"
    p = grids.geometry(village).representative_point()
    click_lonlat(page, p.x, p.y)
    page.wait_for_function(f"() => document.querySelector('{GRAPH}').data[2].visible === true", timeout=15000)
    page.wait_for_function(
        f"() => {{ const gd = document.querySelector('{GRAPH}'); "
        f"return gd._fullLayout.map.zoom > {zoom_before} + 1; }}",
        timeout=15000,
    )
    locations = drawn_locations(page, 2)
    assert locations and all(g.startswith(village + "-") for g in locations)
    assert rendered_features(page, 2) == len(locations) == len(grids.children(village))  # and no other grid
    assert "创业社区" in page.inner_text("#map-crumbs")
    assert int(kpi(page, "open")) <= town_open
    page.wait_for_url(lambda url: f"village={village}" in url and "level=3" in url, timeout=15000)


def test_clicking_a_grid_opens_its_panel(server, page, grids):
    grid = "DL-02-03"
    open_map(page, server.url + "/?village=DL-02&level=3&layers=none")
    p = grids.geometry(grid).representative_point()
    click_lonlat(page, p.x, p.y)
    page.wait_for_selector("#panel-title", timeout=15000)
    panel = page.inner_text("#panel-grid")
    props = grids.props(grid)
    assert props["name"] in panel and props["officer"] in panel
    assert "党员" in panel and str(props["party_members"]) in panel
    page.wait_for_url(lambda url: f"grid={grid}" in url, timeout=15000)
    # the breadcrumb walks back up to the town
    page.click("#map-crumb-town")
    page.wait_for_function("() => !document.querySelector('#panel-title')", timeout=15000)
    page.wait_for_url(lambda url: "village=" not in url and "grid=" not in url, timeout=15000)


def test_deep_link_reproduces_the_view(server, page):
    open_map(page, server.url + "/?village=DL-03&level=3&domain=safety")
    locations = drawn_locations(page, 2)
    assert locations and all(g.startswith("DL-03-") for g in locations)
    assert "平安预警" in page.inner_text("#filter-domain")
    assert "常树梁村" in page.inner_text("#filter-village")
    domains = table_cells(page, "domain")
    assert domains and all(d == "平安预警" for d in domains)


def test_unknown_url_values_get_a_notice_not_a_traceback(server, page):
    open_map(page, server.url + "/?village=DL-99&level=9&domain=magic")
    notice = page.inner_text("#notice")
    assert "village=DL-99" in notice and "level=9" in notice and "domain=magic" in notice
    assert "Traceback" not in page.content()


def test_english_switch(server, page):
    open_map(page, server.url + "/")
    page.click("#filter-lang")
    page.wait_for_selector("text=Dalu Town command map", timeout=20000)
    assert "lang=en" in page.url
    assert re.search(r"Open cases", page.inner_text("#fig-headline"))


def test_rejected_grid_file_keeps_the_old_grids_on_screen(tmp_path, page):
    from conftest import LiveServer
    from test_repo import _broken_copy

    srv = LiveServer(tmp_path).start()
    srv.stop()
    srv.env["GRIDS_FILE"] = str(_broken_copy(tmp_path))
    srv.start()
    try:
        open_map(page, srv.url + "/?level=3")
        assert "grid file rejected" in page.inner_text("#notice")
        assert figure_value(page, "gd.data[2].locations.length") == 146
    finally:
        srv.stop()


def test_many_grids_come_with_the_first_view_of_level_3_and_only_then(tmp_path, browser):
    # INLINE_GRIDS=10: the 146 Dalu grids count as "many", as a city's 50,000 do by default.
    from conftest import LiveServer

    srv = LiveServer(tmp_path, {"INLINE_GRIDS": "10", "DEMO_FEED": "0"}).start()
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")  # the page fixture's size
    page = context.new_page()
    try:
        open_map(page, srv.url + "/")
        assert figure_value(page, "gd.data[2].geojson.features.length") == 0  # the village level needs none

        # The map callback's answers, kept by the page as they arrive: it rewrites its URL right after
        # one (history.replaceState), and Chromium may drop a response's body on that navigation. Only the
        # filter's: the names laid out after the map's first draw (map-camera) may come in between.
        page.evaluate("""() => {
            const fetch = window.fetch;
            window.__mapAnswers = [];
            window.fetch = async (url, init) => {
                const answer = await fetch(url, init);
                const body = String(init && init.body);
                const map = body.includes('map-graph.figure') && !body.includes('"changedPropIds":["map-camera.data"]');
                if (String(url).includes('_dash-update-component') && map && answer.status === 200) {
                    answer.clone().text().then(text => window.__mapAnswers.push(text));
                }
                return answer;
            };
        }""")

        def show_level(n: int) -> str:
            seen = page.evaluate("window.__mapAnswers.length")
            page.locator("#filter-level label").nth(n - 1).click()
            page.wait_for_function(f"() => window.__mapAnswers.length > {seen}", timeout=30000)
            return page.evaluate("window.__mapAnswers[window.__mapAnswers.length - 1]")

        first = show_level(3)
        assert '"geojson"' in first
        page.wait_for_function(f"() => document.querySelector('{GRAPH}').data[2].geojson.features.length === 146",
                               timeout=15000)
        show_level(2)
        again = show_level(3)
        assert '"geojson"' not in again  # sent once per page
        page.wait_for_function(
            f"""() => {{ const m = document.querySelector('{GRAPH}')._fullLayout.map._subplot.map;
                       return m.loaded() && m.areTilesLoaded(); }}""", timeout=30000)
        assert rendered_features(page, 2) == 146
    finally:
        context.close()
        srv.stop()
