"""The picture of the map (issue 14: a drawn map within 1.5 s of a cold load).

The desk paints a picture of its map's figure (layers/preview.py, ui/dashboard.py map_pictures,
assets/mapview.js) in the map's place as soon as the page is in, and takes it away once MapLibre has drawn.

- What it holds, from a page rendered on a real store: the town and every village as an area, a dot per case
  the map draws (as many as the store's default view has, up to the map's cap: counted in SQL), the map's names,
  the villages placed where Web Mercator puts them (pyproj), and none of the hover texts (no officer's name).
- In a real Chromium at 1920×1080 (device pixel ratio 1 and 2), 3840×2160 and on a 390×844 touch phone: it is on
  the screen before the map has drawn, painted where its box is, its town lies where MapLibre then draws the town
  (within 2 px), and it goes only once its map has drawn the figure's features.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from conftest import ARTIFACTS, drawn
from pyproj import Transformer
from sqlalchemy import text

from callbacks.dashboard import render_page
from layers.mapfig import CASE_SIZE, LABELS, MAX_CASE_POINTS, VILLAGES
from township.domain.vocab import CASE_STATUS_COLORS, OPEN_STATUSES
from township.store.models import utcnow
from ui import ids

GRAPH = f"#{ids.MAP} .js-plotly-plot"
WAIT_MS = 60000


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        yield from _walk(child)


def pictures_and_figure(township_ctx, search: str) -> tuple[dict[str, dict], dict, str]:
    """The page's pictures by subplot, its map figure, and the pictures as the page sends them (JSON)."""
    page = render_page(township_ctx, None, search)
    parts = list(_walk(page))
    found = {c.to_plotly_json()["props"]["data-subplot"]: c for c in parts
             if "map-picture" in (getattr(c, "className", "") or "")}
    figure = next(c for c in parts if getattr(c, "id", None) == ids.MAP).figure
    sent = " ".join(c.to_plotly_json()["props"]["data-picture"] for c in found.values())
    return {k: json.loads(c.to_plotly_json()["props"]["data-picture"]) for k, c in found.items()}, figure, sent


def default_view_cases(engine) -> int:
    """Cases of the desk's default view, counted in the store: the last 90 days, and every open case."""
    since = utcnow() - timedelta(days=90)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, reported_at FROM cases")).all()
    return sum(s in OPEN_STATUSES or _as_dt(at) >= since for s, at in rows)


def _as_dt(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def areas(steps: list[dict], trace: str) -> list[dict]:
    return [area for s in steps if s.get("trace") == trace for area in s.get("areas", [])]


def test_the_picture_holds_the_towns_areas_its_cases_and_names_and_no_hover_text(township_ctx):
    gs = township_ctx.township.gridset
    pictures, figure, sent = pictures_and_figure(township_ctx, "")
    assert set(pictures) == {"map", "map2"}  # the whole town: the communities' inset is shown
    steps = pictures["map"]["steps"]
    # the town and each of its villages and communities, as an area
    assert len(areas(steps, "town")) == 1 and len(areas(steps, "villages")) == len(gs.ids(level=2))
    # a dot per case the map draws: every case of the default view, or the cap's most urgent
    case_steps = [s for s in steps if s["trace"] == "cases"]
    assert {s["stroke"] for s in case_steps} <= set(CASE_STATUS_COLORS.values())
    assert {s["width"] for s in case_steps} == {CASE_SIZE}
    assert sum(s["dots"] for s in case_steps) == min(MAX_CASE_POINTS, default_view_cases(township_ctx.township.engine))
    # the map's names, as the figure places them: every village's (a community's may be in the inset only)
    names = [t[2] for s in steps if s["trace"] == "labels" for t in s["texts"]]
    labels = [str(x).replace("<br>", "\n") for x in figure["data"][LABELS]["text"] if x]
    assert labels and sorted(labels) == sorted(names)
    villages = {gs.props(v)["name"] for v in gs.ids(level=2) if gs.props(v).get("kind") != "community"}
    assert villages and villages <= set(names)
    # none of the hover texts: no officer's name (the villages' hover) and no case's hover line
    officers = {str(row[1]) for row in figure["data"][VILLAGES]["customdata"] if row[1]}
    assert officers and not any(name in sent for name in officers)
    assert "hovertemplate" not in sent and "customdata" not in sent


def path_box(d: str) -> list[float]:
    """West, north, east, south (picture units) of SVG path data of ``M x y l dx dy … z`` rings."""
    xs, ys = [], []
    for ring in re.findall(r"M([^z]*)z", d):
        start, _, moves = ring.partition("l")
        x, y = (float(v) for v in start.split())
        xs.append(x)
        ys.append(y)
        steps = [float(v) for v in moves.split()]
        for dx, dy in zip(steps[::2], steps[1::2], strict=True):
            x, y = x + dx, y + dy
            xs.append(x)
            ys.append(y)
    return [min(xs), min(ys), max(xs), max(ys)]


def test_the_picture_places_the_villages_where_web_mercator_puts_them(township_ctx):
    gs = township_ctx.township.gridset
    pictures, figure, _ = pictures_and_figure(township_ctx, "")
    west, south, east, north = figure["layout"]["meta"]["fit"]["bounds"]
    merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    (x0, x1), (y0, y1) = merc.transform([west, east], [north, south])
    width, height = pictures["map"]["size"]
    assert width / height == pytest.approx((x1 - x0) / (y0 - y1), rel=1e-3)
    villages = figure["data"][VILLAGES]
    features = {f["id"]: f for f in villages["geojson"]["features"]}
    for step, grid_id in zip(areas(pictures["map"]["steps"], "villages"), villages["locations"], strict=True):
        geometry = features[grid_id]["geometry"]
        rings = [geometry["coordinates"][0]] if geometry["type"] == "Polygon" else \
            [polygon[0] for polygon in geometry["coordinates"]]
        lon, lat = zip(*[p for ring in rings for p in ring], strict=True)
        mx, my = merc.transform(lon, lat)
        want = [(min(mx) - x0) / (x1 - x0) * width, (y0 - max(my)) / (y0 - y1) * height,
                (max(mx) - x0) / (x1 - x0) * width, (y0 - min(my)) / (y0 - y1) * height]
        assert path_box(step["d"]) == pytest.approx(want, abs=1.0), grid_id
    assert {gs.props(v)["name"] for v in villages["locations"]} == {gs.props(v)["name"] for v in gs.ids(level=2)}


@pytest.mark.parametrize("search", ["?level=1", "?level=3", "?village=DL-03&level=3&domain=safety&grid=DL-03-02",
                                    "?lang=en&window=all", "?measure=overdue&layers=cases"])
def test_every_view_has_a_picture_of_the_areas_its_map_draws(township_ctx, search):
    pictures, figure, _ = pictures_and_figure(township_ctx, search)
    for trace in figure["data"]:
        if trace["type"] == "choroplethmap" and trace.get("subplot", "map") == "map":
            shown = drawn(trace) if trace.get("visible") and trace["geojson"]["features"] else []
            assert len(areas(pictures["map"]["steps"], trace["name"])) == len(shown), trace["name"]
    assert areas(pictures["map"]["steps"], "town")


def test_a_map_of_more_areas_than_the_limit_has_no_picture(township_ctx, monkeypatch):
    from ui import dashboard

    shown = 1 + len(township_ctx.township.gridset.ids(level=2))  # the town and its villages
    monkeypatch.setattr(dashboard, "MAX_AREAS", shown)
    assert set(pictures_and_figure(township_ctx, "")[0]) == {"map", "map2"}
    monkeypatch.setattr(dashboard, "MAX_AREAS", shown - 1)
    assert pictures_and_figure(township_ctx, "")[0] == {}


def test_a_chosen_village_has_no_inset_picture(township_ctx):
    pictures, figure, _ = pictures_and_figure(township_ctx, "?village=DL-03")
    assert set(pictures) == {"map"}
    assert len(areas(pictures["map"]["steps"], "town")) == 1


#: The picture's inner box (where the fitted bounds go) when it was painted, and the marks of the picture and
#: the map, in ms since navigation; then, after the map drew, where MapLibre projects the fitted bounds.
PICTURE_BOX = """() => {
    const pic = document.querySelector('.map-picture.map');
    const r = pic.firstElementChild.getBoundingClientRect(), o = pic.getBoundingClientRect();
    const canvas = pic.querySelector('canvas'), ctx = canvas.getContext('2d', {willReadFrequently: true});
    const rgb = (x, y) => Array.from(ctx.getImageData(Math.round((x - o.left) / o.width * canvas.width),
                                                      Math.round((y - o.top) / o.height * canvas.height), 1, 1).data);
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, painted: JSON.parse(pic.dataset.painted),
            hidden: pic.hidden, corner: rgb(o.left + 2, o.bottom - 3), middle: rgb((r.left + r.right) / 2,
            (r.top + r.bottom) / 2), land: JSON.parse(pic.dataset.picture).steps[0].background};
}"""
MAP_BOUNDS = f"""() => {{
    const gd = document.querySelector('{GRAPH}');
    const map = gd._fullLayout.map._subplot.map;
    const b = gd.layout.meta.fit.bounds;
    const c = map.getContainer(), r = c.getBoundingClientRect(), zoom = r.width / c.offsetWidth;
    const nw = map.project([b[0], b[3]]), se = map.project([b[2], b[1]]);
    const mark = n => (performance.getEntriesByName(n)[0] || {{}}).startTime;
    return {{left: r.left + nw.x * zoom, top: r.top + nw.y * zoom, right: r.left + se.x * zoom,
             bottom: r.top + se.y * zoom, picture: mark('map-picture:map'), drawn: mark('map-drawn:map'),
             hidden: [...document.querySelectorAll('.map-picture')].map(p => p.hidden)}};
}}"""


#: When a picture goes, how many of the figure's features its map has drawn (by subplot).
HIDDEN_WITH = f"""new MutationObserver(changes => {{
    for (const change of changes) {{
        const pic = change.target;
        if (!pic.classList.contains('map-picture') || !pic.hidden || pic.dataset.gone) continue;
        pic.dataset.gone = '1';
        const sub = document.querySelector('{GRAPH}')._fullLayout[pic.dataset.subplot];
        const map = sub && sub._subplot && sub._subplot.map;
        const layers = map ? map.getLayersOrder().filter(id => id.startsWith('plotly-trace-layer-')) : [];
        (window.__hiddenWith = window.__hiddenWith || {{}})[pic.dataset.subplot] =
            layers.length ? map.queryRenderedFeatures({{layers: layers}}).length : 0;
    }}
}}).observe(document, {{attributes: true, attributeFilter: ['hidden'], subtree: true}});"""


@pytest.mark.parametrize("width,height,phone,dpr", [(1920, 1080, False, 1), (1920, 1080, False, 2),
                                                    (3840, 2160, False, 1), (390, 844, True, 3)])
def test_the_picture_shows_first_where_the_map_then_draws_the_town_and_goes(server, browser, width, height, phone,
                                                                           dpr):
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=dpr,
                                  locale="zh-CN", is_mobile=phone, has_touch=phone)
    context.add_init_script(HIDDEN_WITH)
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        page.wait_for_selector(".map-picture.map[data-painted]", state="attached", timeout=WAIT_MS)
        shown = page.evaluate(PICTURE_BOX)
        assert shown["painted"]["villages"] > 1 and shown["painted"]["cases"] > 0 and not shown["hidden"]
        # painted where its box is: the town in the middle of it, bare land in the plot area's corner
        land = [int(shown["land"][i:i + 2], 16) for i in (1, 3, 5)] + [255]
        assert shown["corner"] == land and shown["middle"] != land, shown
        page.screenshot(path=str(ARTIFACTS / f"picture-{width}x{height}@{dpr}.png"))
        # then the map draws, fitted (assets/mapview.js), and the pictures go
        page.wait_for_function("() => performance.getEntriesByName('map-drawn:map').length > 0", timeout=WAIT_MS)
        page.wait_for_function("() => [...document.querySelectorAll('.map-picture')].every(p => p.hidden)",
                               timeout=WAIT_MS)
        page.wait_for_function(f"""() => {{
            const gd = document.querySelector('{GRAPH}');
            return gd && gd._townshipFitted === gd.layout.meta.fit.key && !gd._fullLayout.map._subplot.map.isMoving();
        }}""", timeout=WAIT_MS)
        drawn = page.evaluate(MAP_BOUNDS)
        assert drawn["picture"] < drawn["drawn"], drawn  # the picture was on the screen before the map drew
        hidden_with = page.evaluate("window.__hiddenWith")
        assert hidden_with["map"] > 0 and hidden_with["map2"] > 0, hidden_with  # gone once the figure was drawn
        for edge in ("left", "top", "right", "bottom"):
            assert drawn[edge] == pytest.approx(shown[edge], abs=2.0), (edge, drawn, shown)
        page.screenshot(path=str(ARTIFACTS / f"picture-then-map-{width}x{height}@{dpr}.png"))
    finally:
        context.close()
