"""The field map export: one standalone HTML page that works from disk with no network.

Pages are built from the bundled grids and the demo year (``township_ctx``),
written to ``tests/artifacts/fieldmap/`` and opened as ``file://`` in the real
headless Chromium with every non-file request aborted and the context offline.
"""
from __future__ import annotations

import re
import struct
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.geometry import shape

from layers.fieldmap import NOTE, field_map, grid_field_map, print_html
from township.domain.privacy import mask_phone
from township.domain.vocab import LIVE_WARNING_STATUSES, OPEN_STATUSES, WARNING_LEVELS
from township.grids.spatial import NEIGHBOUR_GAP_M
from township.read.fieldmap import FIELD_NEAR_M, compass_word, grid_fieldmap_data, warning_fieldmap_data
from township.runtime.render import A4_PX, render_pdf, render_png

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "artifacts" / "fieldmap"

#: The only absolute URLs a page may contain, none of them loaded: the SVG
#: namespace, and Leaflet's own comments/attribution prefix (which is switched off).
ALLOWED_URLS = {
    "http://www.w3.org/2000/svg",
    "https://leafletjs.com",
    "https://bugs.chromium.org/p/chromium/issues/detail?id=600120",
    "https://bugzilla.mozilla.org/show_bug.cgi?id=888319",
}

# An independent metric projection for the brute-force checks (not township.grids.crs).
TO_4546 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)


def to4546(geom):
    """A lon/lat shapely geometry in EPSG:4546 metres."""
    return shapely.transform(geom, lambda xy: np.column_stack(TO_4546.transform(xy[:, 0], xy[:, 1])))


# -- fixtures -------------------------------------------------------------------


@pytest.fixture(scope="module")
def gridset(township_ctx):
    return township_ctx.township.gridset


@pytest.fixture(scope="module")
def snap(township_ctx):
    return township_ctx.township.snapshot()


@pytest.fixture(scope="module")
def busy_grid(snap, gridset) -> str:
    """The level-3 grid with the most open cases (ties: the first id) that has an officer phone."""
    open_ = snap.cases[snap.cases["status"].isin(OPEN_STATUSES)]
    for gid in open_["grid_id"].value_counts().sort_index().sort_values(ascending=False, kind="stable").index:
        if gridset.props(gid).get("officer_phone"):
            return gid
    raise AssertionError("no grid with open cases and an officer phone in the demo data")


@pytest.fixture(scope="module")
def grid_data(snap, gridset, busy_grid):
    return grid_fieldmap_data(snap, gridset, busy_grid)


@pytest.fixture(scope="module")
def big_warning(snap, gridset) -> dict:
    """The live warning whose radius reaches the most grids."""
    live = snap.warnings[snap.warnings["status"].isin(LIVE_WARNING_STATUSES)]
    assert not live.empty, "the demo year has live warnings"
    counts = [len(gridset.grids_within(r.lon, r.lat, r.radius_m)) for r in live.itertuples()]
    return live.iloc[int(np.argmax(counts))].to_dict()


@pytest.fixture(scope="module")
def warning_data(snap, gridset, big_warning):
    return warning_fieldmap_data(snap, gridset, int(big_warning["id"]))


def save(name: str, text: str | bytes) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


class Offline:
    """A browser context that can only read files: every other request is aborted and recorded."""

    def __init__(self, browser, width: int = 1200, height: int = 860):
        self.context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []

        def route(r):
            if r.request.url.startswith("file:"):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)
        self.context.set_offline(True)
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def open(self, path: Path):
        self.page.goto(path.as_uri())
        self.page.wait_for_selector(".leaflet-overlay-pane svg path", state="attached")
        return self.page

    def close(self, shot: str | None = None):
        if shot:
            OUT.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(OUT / shot), full_page=True)
        self.context.close()


# -- the HTML links nothing -------------------------------------------------------


class _Refs(HTMLParser):
    """Collects every URL-bearing attribute and every tag name."""

    URL_ATTRS = {"src", "href", "srcset", "data", "poster", "action", "background", "xlink:href"}

    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in self.URL_ATTRS and v is not None:
                self.refs.append((tag, k, v))


def assert_self_contained(page_html: str) -> _Refs:
    p = _Refs()
    p.feed(page_html)
    loaded = [(t, k, v) for t, k, v in p.refs if t in {"script", "link", "img", "iframe", "source", "video",
                                                       "audio", "embed", "object", "image", "use", "input"}]
    assert loaded == [], f"the page references files: {loaded}"
    assert "link" not in p.tags, "no <link>: styles are inlined"
    outside = [(t, k, v) for t, k, v in p.refs if re.match(r"\s*(https?:)?//", v, re.I)]
    assert outside == [], f"the page links outside: {outside}"
    assert not re.search(r"@import", page_html, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", page_html, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?!#|data:)[^)'\"]+\.(png|jpe?g|gif|svg|woff2?|ttf|otf)", page_html, re.I)
    assert "@font-face" not in page_html
    urls = set(re.findall(r"https?://[^\s\"'<>)`]+", page_html))
    assert urls <= ALLOWED_URLS, f"unexpected absolute URLs: {urls - ALLOWED_URLS}"
    assert "sourceMappingURL" not in page_html
    return p


@pytest.mark.parametrize("role", ["responder", "wall"])
def test_grid_page_links_nothing_outside(gridset, grid_data, role):
    page_html = field_map(gridset, grid_data, role)
    assert_self_contained(page_html)
    assert page_html.count("<script>") >= 2  # Leaflet inlined, then the map
    assert "Leaflet 1.9.4" in page_html and "BSD 2-Clause License" in page_html
    assert 'name="viewport"' in page_html
    assert NOTE in page_html


def test_warning_and_print_pages_link_nothing_outside(gridset, warning_data, grid_data):
    assert_self_contained(field_map(gridset, warning_data, "command"))
    for data in (grid_data, warning_data):
        printed = print_html(gridset, data, "responder")
        assert_self_contained(printed)
        assert re.search(r"@page\s*\{\s*size:\s*A4 portrait", printed)


def test_the_same_data_gives_the_same_page(gridset, grid_data):
    """Elements are named by their place, not by random hex (which once read as a phone number to a privacy
    check): two renders are byte for byte one page, and every name the script uses is declared in it."""
    first, second = (field_map(gridset, grid_data, "responder") for _ in range(2))
    assert first == second
    assert not re.search(r"_[0-9a-f]{32}\b", first)
    used = set(re.findall(r"\b((?:polygon|circle|circle_marker|map)_\d+)\b", first))
    declared = set(re.findall(r"\bvar ((?:polygon|circle|circle_marker|map)_\d+) =", first))
    assert used and used <= declared


def test_folium_defaults_are_not_used(gridset, grid_data):
    page_html = field_map(gridset, grid_data, "responder")
    for lib in ("jquery", "bootstrap", "awesome-markers", "fontawesome", "cdn.jsdelivr", "cdnjs", "openstreetmap"):
        assert lib not in page_html.lower(), lib
    assert "L.tileLayer" not in page_html  # no base tiles by default


# -- the data -----------------------------------------------------------------------


def test_compass_words():
    assert [compass_word(b) for b in (0, 44, 46, 90, 135, 180, 225, 270, 315, 359)] == [
        "北", "东北", "东北", "东", "东南", "南", "西南", "西", "西北", "北"]


def test_grid_data_is_complete_and_sorted(snap, gridset, busy_grid, grid_data):
    d = grid_data
    assert d.subject == "grid" and d.focus == [busy_grid] and busy_grid not in d.neighbours
    # Neighbours: exactly the level-3 grids that touch it, by brute force in EPSG:4546.
    mine = to4546(gridset.geometry(busy_grid))
    touching = sorted(g for g in gridset.ids(level=3) if g != busy_grid and
                      to4546(gridset.geometry(g)).distance(mine) <= NEIGHBOUR_GAP_M)
    assert d.neighbours == touching and touching
    # Open cases of the grid, overdue first, overdue judged at generation time.
    c = snap.cases
    expect = c[(c["grid_id"] == busy_grid) & c["status"].isin(OPEN_STATUSES)]
    assert sorted(d.cases["id"]) == sorted(expect["id"]) and len(d.cases) > 0
    assert list(d.cases["overdue"]) == sorted(d.cases["overdue"], reverse=True)
    assert (d.cases["overdue"] == (d.cases["deadline_at"] < d.generated_at)).all()
    # Resources within 2 km, nearest first, with a direction word.
    dist = d.resources["distance_m"].to_numpy()
    assert (np.diff(dist) >= 0).all() and (dist <= FIELD_NEAR_M).all()
    inside = d.resources[d.resources["grid_id"] == busy_grid]
    assert (inside["distance_m"] == 0).all() and (inside["direction"] == "网格内").all()
    assert set(d.resources.loc[d.resources["distance_m"] > 0, "direction"]) <= {
        "北", "东北", "东", "东南", "南", "西南", "西", "西北"}
    # Every other resource is farther than 2 km.
    others = snap.resources[~snap.resources["resource_id"].isin(d.resources["resource_id"])]
    for r in others.itertuples():
        assert mine.distance(shapely.Point(TO_4546.transform(r.lon, r.lat))) > FIELD_NEAR_M
    # Live warnings reaching the grid.
    for w in d.warnings.itertuples():
        assert w.status in LIVE_WARNING_STATUSES
        assert mine.distance(shapely.Point(TO_4546.transform(w.lon, w.lat))) <= w.radius_m


def test_resource_direction_is_from_the_grid(gridset, snap, grid_data):
    centre = to4546(gridset.geometry(grid_data.grid_id)).representative_point()
    for r in grid_data.resources[grid_data.resources["distance_m"] > 0].itertuples():
        x, y = TO_4546.transform(r.lon, r.lat)
        bearing = np.degrees(np.arctan2(x - centre.x, y - centre.y)) % 360
        assert r.direction == compass_word(bearing)


def test_unknown_or_non_grid_ids_are_refused(snap, gridset):
    with pytest.raises(KeyError):
        grid_fieldmap_data(snap, gridset, "DL-99-99")
    with pytest.raises(ValueError, match="level-2"):
        grid_fieldmap_data(snap, gridset, "DL-01")
    with pytest.raises(KeyError):
        warning_fieldmap_data(snap, gridset, 10**9)


def test_text_is_escaped(gridset, busy_grid):
    evil = "<script>alert(1)</script>`${document.title}`\\"
    cases = pd.DataFrame([{
        "id": 1, "type": "hazard", "status": "reported", "title": evil, "handler": evil, "grid_id": busy_grid,
        "lon": None, "lat": None, "deadline_at": datetime(2020, 1, 1), "overdue": True,
    }])
    page_html = grid_field_map(gridset, busy_grid, role="responder", cases=cases)
    assert "<script>alert" not in page_html and "${document" not in page_html
    assert "&lt;script&gt;alert(1)" in page_html
    assert "(无坐标)" in page_html  # a case without a point is listed, not drawn


# -- in the browser, from disk, offline -----------------------------------------------


def _officer_phone(gridset, gid) -> str:
    return gridset.props(gid)["officer_phone"]


def test_grid_map_draws_offline_for_a_responder(browser, gridset, grid_data, busy_grid):
    path = save(f"grid_{busy_grid}_responder.html", field_map(gridset, grid_data, "responder"))
    b = Offline(browser)
    try:
        pg = b.open(path)
        assert pg.locator(".leaflet-overlay-pane svg path").count() > 0
        assert pg.locator("path.fm-focus").count() >= 1
        assert pg.locator("path.fm-neighbour").count() >= len(grid_data.neighbours)
        assert pg.locator("path.fm-case").count() == int(grid_data.cases["lon"].notna().sum())
        assert pg.locator("path.fm-overdue").count() == int(grid_data.cases["overdue"].sum())
        # The grid is in view and named on the map, in the title and with its officer.
        box = pg.locator("path.fm-focus").first.bounding_box()
        frame = pg.locator(".folium-map").bounding_box()
        assert box and frame and box["width"] > 50 and box["height"] > 50
        assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
        name = gridset.props(busy_grid)["name"]
        assert name in pg.locator(".fm-title").inner_text()
        assert pg.locator(".fm-label-focus").count() == 1
        phone = _officer_phone(gridset, busy_grid)
        tel = pg.locator(".fm-officer a[href^='tel:']")
        assert tel.count() == 1 and tel.get_attribute("href") == f"tel:{phone}"
        assert pg.locator("a[href^='tel:']").count() >= 1 + len(grid_data.neighbours)
        assert NOTE in pg.locator("body").inner_text()
        assert pg.locator(".leaflet-control-scale-line").count() == 1
        assert pg.locator("time.fm-generated").inner_text().startswith(str(grid_data.generated_at.year))
        assert b.errors == []
        assert b.blocked == [] and set(b.requests) == {path.as_uri()}
    finally:
        b.close(f"grid_{busy_grid}_responder.png")


def test_grid_map_masks_phones_for_the_wall(browser, gridset, grid_data, busy_grid):
    page_html = field_map(gridset, grid_data, "wall")
    phones = [_officer_phone(gridset, g) for g in [busy_grid, *grid_data.neighbours]
              if gridset.props(g).get("officer_phone")]
    phones += [p for p in grid_data.resources["phone"] if p]
    for phone in phones:
        assert phone not in page_html
    assert "tel:" not in page_html
    officer = gridset.props(busy_grid)["officer"]
    assert officer not in page_html
    path = save(f"grid_{busy_grid}_wall.html", page_html)
    b = Offline(browser, width=390, height=844)  # a phone
    try:
        pg = b.open(path)
        assert pg.locator("a[href^='tel:']").count() == 0
        shown = pg.locator(".fm-officer .fm-masked").inner_text()
        assert shown == mask_phone(_officer_phone(gridset, busy_grid))
        assert pg.locator(".leaflet-overlay-pane svg path").count() > 0
        # On a phone the map fills the screen under the header; the panel follows below it.
        frame = pg.locator(".folium-map").bounding_box()
        assert frame["width"] == 390 and frame["height"] > 600
        assert pg.locator("#fm-panel").bounding_box()["y"] >= frame["y"] + frame["height"] - 1
        assert b.errors == [] and b.blocked == []
    finally:
        b.close(f"grid_{busy_grid}_wall_phone.png")


def test_warning_map_draws_the_radius_and_lists_the_affected_grids(browser, gridset, big_warning, warning_data):
    w = big_warning
    # Brute force: every level-3 grid whose polygon comes within the radius of the point, in EPSG:4546.
    centre = shapely.Point(TO_4546.transform(w["lon"], w["lat"]))
    expect = sorted(
        f["properties"]["grid_id"] for f in gridset.to_geojson()["features"]
        if f["properties"]["level"] == 3
        and to4546(shape(f["geometry"])).distance(centre) <= w["radius_m"])
    assert len(expect) >= 2

    path = save(f"warning_{w['id']}_command.html", field_map(gridset, warning_data, "command"))
    b = Offline(browser)
    try:
        pg = b.open(path)
        listed = pg.locator(".fm-affected li[data-grid-id]").evaluate_all(
            "els => els.map(e => e.dataset.gridId)")
        assert sorted(listed) == expect
        assert pg.locator("path.fm-focus").count() >= len(expect)
        # One radius circle, stroked in the level's national colour ...
        ring = pg.locator("path.fm-warning-radius")
        assert ring.count() == 1
        colour = WARNING_LEVELS[int(w["level"])]["color"]
        assert ring.get_attribute("stroke").lower() == colour.lower()
        # ... whose drawn size is the radius in metres (Leaflet's own scale, ±3 %).
        box = ring.bounding_box()
        m_per_px = pg.evaluate("""() => { const m = window.fieldMap, y = m.getSize().y / 2;
            return m.distance(m.containerPointToLatLng([0, y]), m.containerPointToLatLng([200, y])) / 200; }""")
        drawn_m = (box["width"] - 3) / 2 * m_per_px  # minus the stroke
        assert drawn_m == pytest.approx(w["radius_m"], rel=0.03)
        # The whole circle is in view.
        frame = pg.locator(".folium-map").bounding_box()
        assert frame["x"] - 2 <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 2
        assert frame["y"] - 2 <= box["y"] and box["y"] + box["height"] <= frame["y"] + frame["height"] + 2
        # Each affected grid's officer can be called.
        assert pg.locator(".fm-affected a[href^='tel:']").count() == sum(
            1 for g in expect if gridset.props(g).get("officer_phone"))
        assert b.errors == [] and b.blocked == [] and set(b.requests) == {path.as_uri()}
    finally:
        b.close(f"warning_{w['id']}_command.png")


def test_grid_map_shows_warnings_reaching_it(browser, snap, gridset, big_warning):
    gid = gridset.grids_within(big_warning["lon"], big_warning["lat"], big_warning["radius_m"])[0]
    data = grid_fieldmap_data(snap, gridset, gid)
    assert int(big_warning["id"]) in set(data.warnings["id"])
    path = save(f"grid_{gid}_warned.html", field_map(gridset, data, "responder"))
    b = Offline(browser)
    try:
        pg = b.open(path)
        assert pg.locator("path.fm-warning-radius").count() == len(data.warnings)
        assert pg.locator(f".fm-warnings li[data-warning-id='{int(big_warning['id'])}']").count() == 1
        assert b.errors == [] and b.blocked == []
    finally:
        b.close(f"grid_{gid}_warned.png")


# -- print: PDF and PNG ------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_print_layout_renders_to_pdf_and_png(gridset, grid_data, warning_data, busy_grid):
    for name, data in ((f"grid_{busy_grid}", grid_data), (f"warning_{warning_data.warning['id']}", warning_data)):
        printed = print_html(gridset, data, "responder")
        save(f"{name}_print.html", printed)
        pdf = render_pdf(printed)
        save(f"{name}.pdf", pdf)
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        # A4 portrait: the first page's MediaBox is 595 × 842 pt (± rounding).
        box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
        assert box and abs(float(box.group(1)) - 595) < 2 and abs(float(box.group(2)) - 842) < 2
        png = render_png(printed)
        save(f"{name}_a4.png", png)
        assert _png_size(png) == A4_PX and len(png) > 20_000


def test_print_page_draws_the_map_offline(browser, gridset, grid_data, busy_grid):
    path = save(f"grid_{busy_grid}_print_check.html", print_html(gridset, grid_data, "responder"))
    b = Offline(browser, width=A4_PX[0], height=A4_PX[1])
    try:
        pg = b.open(path)
        assert pg.locator("path.fm-focus").count() >= 1
        frame = pg.locator(".folium-map").bounding_box()
        assert 700 <= frame["width"] <= 730  # 190 mm at 96 dpi ≈ 718 px
        assert pg.locator(".leaflet-control-zoom").count() == 0
        assert b.errors == [] and b.blocked == []
    finally:
        b.close(f"grid_{busy_grid}_print_check.png")
