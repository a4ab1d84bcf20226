"""The map speaks for itself, in a real Chromium on a real server: names, legends, red warnings on the wall.

Expected values come from outside the code under test: the village names from the grid file read
as JSON, a warning's affected grids from shapely and pyproj on that file, its rings from pyproj's
geodesic distances, its time from the card the page shows.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pyproj
import pytest
import requests
import shapely
from conftest import ARTIFACTS, command_server
from shapely.geometry import shape

from layers.mapfig import GRIDS, INSET_LABELS, LABELS, RADIUS, WARNINGS
from township.config import BUNDLED_GRIDS

WALL = "#wall-map .js-plotly-plot"
DESK = "#map-graph .js-plotly-plot"
WAIT_MS = 20000


@pytest.fixture(scope="module")
def grid_file() -> dict:
    return json.loads(BUNDLED_GRIDS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def village_names(grid_file) -> set[str]:
    return {f["properties"]["name"] for f in grid_file["features"] if f["properties"]["kind"] == "village"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory, stores):
    """An app of its own (warnings posted here count nowhere else), with a command token."""
    yield from command_server(tmp_path_factory, stores, "maplabels")


def api(srv, path: str, body: dict) -> dict:
    r = requests.post(srv.url + path, json=body, headers={"Authorization": f"Bearer {srv.token}"}, timeout=30)
    assert r.status_code in (200, 201), r.text
    return r.json()


def open_page(browser, url: str, graph: str, width: int, height: int):
    """A page at ``width``×``height`` that records requests, loaded until MapLibre drew the map and its text."""
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                  locale="zh-CN")
    page = context.new_page()
    page.requests = []  # type: ignore[attr-defined]
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(url)
    page.wait_for_selector(graph, timeout=60000)
    page.wait_for_function(
        f"""() => {{
            const gd = document.querySelector('{graph}');
            const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
            return m && m.map && m.map.loaded() && m.map.areTilesLoaded();
        }}""", timeout=60000)
    return context, page


def value(page, graph: str, expr: str):
    return page.evaluate(f"() => {{ const gd = document.querySelector('{graph}'); return {expr}; }}")


def rendered_names(page, graph: str, trace: int, until: frozenset[str] = frozenset(), wait_s: float = 20) -> list[str]:
    """The label texts MapLibre actually placed on screen (first lines: the names).

    Symbol placement settles after the tiles, later on a loaded machine: asked again every 0.8 s
    until the names ``until`` are all placed or ``wait_s`` has passed (then what is placed is returned).
    """
    deadline = time.monotonic() + wait_s
    while True:
        page.wait_for_timeout(800)
        texts = page.evaluate(
            f"""() => {{
                const gd = document.querySelector('{graph}');
                const layer = 'plotly-trace-layer-' + gd._fullData[{trace}].uid + '-symbol';
                const map = gd._fullLayout.map._subplot.map;
                return map.queryRenderedFeatures({{layers: [layer]}}).map(f => String(f.properties.text));
            }}""")
        if until <= {t.split("\n")[0] for t in texts} or time.monotonic() > deadline:
            return texts


@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160)])
@pytest.mark.parametrize("path,graph", [("/wall", WALL), ("/", DESK)])
def test_village_names_are_drawn_as_map_text_with_a_legend(srv, browser, village_names, path, graph, width, height):
    context, page = open_page(browser, srv.url + path, graph, width, height)
    try:
        texts = value(page, graph, f"gd.data[{LABELS}].text")
        names = {str(t).split("<br>")[0] for t in texts}
        assert village_names <= names, village_names - names
        assert value(page, graph, f"gd.data[{LABELS}].mode") == "text"
        drawn = {t.split("\n")[0] for t in rendered_names(page, graph, LABELS, frozenset(village_names))}
        assert village_names <= drawn, village_names - drawn  # MapLibre placed every one of them
        # the three communities, named in the inset
        inset = set(value(page, graph, f"gd.data[{INSET_LABELS}].text"))
        assert inset == {"创业社区", "杨四圪咀社区", "苗家滩社区"}
        if path == "/wall":  # open and overdue per village, the wall's counts
            assert all("在办" in t and "超期" in t for t in texts)
            # read from five metres; twice as large at 4K (the scale comes with the wall's first refresh, which
            # may land after MapLibre has loaded)
            least = 20 * width / 1920
            page.wait_for_function(f"() => document.querySelector('{graph}').data[{LABELS}].textfont.size >= {least}",
                                   timeout=WAIT_MS)
        legend = "#wall-legend" if path == "/wall" else ".map-legend"
        assert page.locator(f"{legend} .lg-group").count() >= 3
        for word in ("已上报", "红色", "黄河"):
            assert word in page.inner_text(legend)
        # every glyph came from the app itself
        outside = [u for u in page.requests if not u.startswith(srv.url) and not u.startswith(("blob:", "data:"))]
        assert outside == []
        assert any(u.endswith("/assets/fonts/map-latin.ttf") for u in page.requests)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"maplabels{path.replace('/', '-') or '-desk'}-{width}.png"))
    finally:
        context.close()


def affected(grid_file, lon: float, lat: float, radius_m: float) -> set[str]:
    """Level-3 grids within ``radius_m`` of the point, measured in EPSG:4546 with pyproj and shapely."""
    proj = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)

    def to_m(geom):
        return shapely.transform(geom, lambda xy: np.column_stack(proj.transform(xy[:, 0], xy[:, 1])))

    circle = to_m(shapely.Point(lon, lat)).buffer(radius_m)
    return {f["properties"]["grid_id"] for f in grid_file["features"]
            if f["properties"]["level"] == 3 and to_m(shape(f["geometry"])).intersects(circle)}


def written_version(srv, wid: int) -> int:
    """A warning's version as the API reads it (a move must name it)."""
    r = requests.get(f"{srv.url}/api/v1/warnings?status=all", headers={"Authorization": f"Bearer {srv.token}"},
                     timeout=10)
    return next(w["version"] for w in r.json()["items"] if w["id"] == wid)


def wait_map_version(srv, page, graph: str) -> None:
    """Wait until ``graph`` draws the data as of now: the banner may come a frame before the map's patch."""
    now = requests.get(srv.url + "/api/v1/version", timeout=10).json()["version"]
    page.wait_for_function(
        f"() => ((document.querySelector('{graph}').layout.meta || {{}}).version || 0) >= {now}", timeout=WAIT_MS)


def rings(lons: list, lats: list) -> list[np.ndarray]:
    """The closed rings of a line trace whose parts are split by nulls."""
    out, part = [], []
    for x, y in zip(lons, lats, strict=True):
        if x is None:
            out.append(np.array(part))
            part = []
        else:
            part.append((x, y))
    return [*out, np.array(part)] if part else out


def test_a_red_warning_draws_its_radius_and_grids_on_the_wall_and_stays_until_cleared(srv, browser, grid_file):
    grid = next(f for f in grid_file["features"] if f["properties"]["grid_id"] == "DL-06-02")
    point = shape(grid["geometry"]).representative_point()
    radius = 1200.0
    title = f"大屏半径测试{time.time_ns() % 100000}"
    context, page = open_page(browser, srv.url + "/wall", WALL, 1920, 1080)
    try:
        rings_before = len(rings(*value(page, WALL, f"[gd.data[{RADIUS}].lon, gd.data[{RADIUS}].lat]")))
        [written] = api(srv, "/api/v1/warnings", {
            "source": "test", "external_id": title, "type": "flash_flood", "level": 1, "title": title,
            "lon": point.x, "lat": point.y, "radius_m": radius})
        wid = written["id"]
        # the banner and the map come in one refresh
        page.wait_for_function(f"() => document.querySelector('#wall-banner').innerText.includes('{title}')",
                               timeout=WAIT_MS)
        wait_map_version(srv, page, WALL)
        # its circle: one more ring, every point of it `radius` metres from the warning (geodesic)
        found = rings(*value(page, WALL, f"[gd.data[{RADIUS}].lon, gd.data[{RADIUS}].lat]"))
        geod = pyproj.Geod(ellps="GRS80")
        mine = [r for r in found if abs(r[:, 0].mean() - point.x) < 0.01 and abs(r[:, 1].mean() - point.y) < 0.01]
        assert len(found) == rings_before + 1 and len(mine) == 1
        _, _, dist = geod.inv(np.full(len(mine[0]), point.x), np.full(len(mine[0]), point.y),
                              mine[0][:, 0], mine[0][:, 1])
        assert np.all(np.abs(dist - radius) < radius * 0.01), (dist.min(), dist.max())
        # its grids: those shapely finds within the radius, filled on the wall
        expected = affected(grid_file, point.x, point.y, radius)
        assert expected
        shown = set(value(page, WALL, f"gd.data[{GRIDS}].locations"))
        assert expected <= shown
        assert value(page, WALL, f"gd.data[{GRIDS}].visible") is True
        filled = page.evaluate(
            f"""() => {{
                const gd = document.querySelector('{WALL}');
                const layer = 'plotly-trace-layer-' + gd._fullData[{GRIDS}].uid + '-fill';
                return gd._fullLayout.map._subplot.map.queryRenderedFeatures({{layers: [layer]}}).length;
            }}""")
        assert filled >= 1
        # the red warning's point is on the map, below the banner, never under it
        banner = page.locator("#wall-banner").bounding_box()
        xy = page.evaluate(f"""([lon, lat]) => {{
                const sub = document.querySelector('{WALL}')._fullLayout.map._subplot;
                const p = sub.map.project([lon, lat]), r = sub.map.getContainer().getBoundingClientRect();
                return [p.x + r.left, p.y + r.top]; }}""", [point.x, point.y])
        assert xy[1] > banner["y"] + banner["height"]
        assert wid in value(page, WALL, f"gd.data[{WARNINGS}].meta.pulse")

        # a desk acknowledges it: still live, still on the wall's banner and map
        moved = api(srv, f"/api/v1/warnings/{wid}/acknowledge", {"expected_version": written_version(srv, wid)})
        assert moved["warning"]["status"] == "acknowledged"
        # once the wall's map shows the data after the acknowledgement, its banner and map still hold the warning
        wait_map_version(srv, page, WALL)
        assert title in page.inner_text("#wall-banner")
        assert len(rings(*value(page, WALL, f"[gd.data[{RADIUS}].lon, gd.data[{RADIUS}].lat]"))) == rings_before + 1

        # cleared: gone from the banner and from the map
        api(srv, f"/api/v1/warnings/{wid}/clear", {"expected_version": written_version(srv, wid)})
        page.wait_for_function(f"() => !document.querySelector('#wall-banner').innerText.includes('{title}')",
                               timeout=WAIT_MS)
        wait_map_version(srv, page, WALL)
        assert len(rings(*value(page, WALL, f"[gd.data[{RADIUS}].lon, gd.data[{RADIUS}].lat]"))) == rings_before
    finally:
        context.close()


def test_the_warning_hover_time_is_the_cards_time(srv, browser):
    context, page = open_page(browser, srv.url + "/?layers=warnings", DESK, 1920, 1080)
    try:
        custom = value(page, DESK, f"gd.data[{WARNINGS}].customdata")
        lons, lats = value(page, DESK, f"[gd.data[{WARNINGS}].lon, gd.data[{WARNINGS}].lat]")
        # the warning farthest from the others, so the click lands on it alone
        pts = np.column_stack([lons, lats])
        gaps = [np.sort(np.hypot(*(pts - p).T))[1] if len(pts) > 1 else 1 for p in pts]
        k = int(np.argmax(gaps))
        hover_time = custom[k][4]
        xy = page.evaluate(f"""([lon, lat]) => {{
                const sub = document.querySelector('{DESK}')._fullLayout.map._subplot;
                const p = sub.map.project([lon, lat]), r = sub.map.getContainer().getBoundingClientRect();
                return [p.x + r.left, p.y + r.top]; }}""", [lons[k], lats[k]])
        page.mouse.move(*xy)
        page.wait_for_timeout(300)
        page.mouse.click(*xy)
        page.wait_for_selector("#warn-card:not([hidden]) #warn-title", timeout=WAIT_MS)
        assert page.inner_text("#warn-title").startswith(f"#{custom[k][0]} ")
        assert hover_time in page.inner_text("#warn-card"), (hover_time, page.inner_text("#warn-card")[:400])
    finally:
        context.close()


def test_the_desk_banner_opens_its_warnings_card(srv, browser):
    context, page = open_page(browser, srv.url + "/", DESK, 1920, 1080)
    try:
        page.wait_for_selector("#alert-banner:not([hidden])", timeout=WAIT_MS)
        wid = page.get_attribute("#alert-ack", "value")
        assert wid
        page.click("#alert-text")
        page.wait_for_selector("#warn-card:not([hidden]) #warn-title", timeout=WAIT_MS)
        assert page.inner_text("#warn-title").startswith(f"#{wid} ")
    finally:
        context.close()
