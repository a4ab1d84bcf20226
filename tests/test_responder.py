"""The responder view /grid/<id> on a phone (390×844, touch) in a real Chromium against the running app."""
from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import plotly
import pytest
from conftest import ARTIFACTS

from township.config import BUNDLED_GRIDS
from township.domain.privacy import mask_name, mask_phone
from township.domain.vocab import OPEN_STATUSES
from township.grids.validate import load_grid_file
from township.read.fieldmap import grid_fieldmap_data
from ui import responder

#: A busy grid of the demo year: open cases (one overdue), a red warning, many resources near.
GRID = "DL-13-08"
PHONE_SIZE = {"width": 390, "height": 844}
MAP = "#rsp-map .js-plotly-plot"


@pytest.fixture(scope="module")
def grids():
    return load_grid_file(BUNDLED_GRIDS)


@pytest.fixture
def phone(browser):
    """A phone-sized touch page that records its requests and accepts downloads."""
    context = browser.new_context(viewport=PHONE_SIZE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                  locale="zh-CN", accept_downloads=True)
    pg = context.new_page()
    pg.requests = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: pg.requests.append(r.url))
    yield pg
    context.close()


def open_grid(page, url: str) -> None:
    """Load a responder view and wait until MapLibre has drawn its map."""
    page.goto(url)
    page.wait_for_selector(MAP, timeout=30000)
    page.wait_for_function(
        f"""() => {{
            const gd = document.querySelector('{MAP}');
            const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
            return m && m.map && m.map.loaded() && m.map.areTilesLoaded();
        }}""",
        timeout=30000,
    )


def open_cases(db: Path, grid_id: str) -> list[tuple[str, bool]]:
    """(title, overdue) of the grid's open cases, straight from the server's SQLite file."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(db) as conn:
        marks = ",".join("?" * len(OPEN_STATUSES))
        rows = conn.execute(f"SELECT title, deadline_at < ? FROM cases WHERE grid_id = ? AND status IN ({marks})",
                            (now, grid_id, *sorted(OPEN_STATUSES))).fetchall()
    return [(title, bool(late)) for title, late in rows]


def reporter_phones(db: Path, grid_id: str) -> dict[int, str]:
    """case id → reporter's phone of the grid's open cases that have one, from the server's SQLite file."""
    with sqlite3.connect(db) as conn:
        marks = ",".join("?" * len(OPEN_STATUSES))
        rows = conn.execute(f"SELECT id, reporter_phone FROM cases WHERE grid_id = ? AND status IN ({marks}) "
                            "AND reporter_phone IS NOT NULL", (grid_id, *sorted(OPEN_STATUSES))).fetchall()
    return dict(rows)


def test_responder_view_fits_a_phone_and_calls_the_reporter(server, phone, grids):
    open_grid(phone, server.url + f"/grid/{GRID}")
    props = grids.props(GRID)
    # one column: nothing to scroll sideways at 390 px
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_SIZE["width"]
    assert phone.evaluate("document.body.scrollWidth") <= PHONE_SIZE["width"]
    # who is responsible (their number a link), and a big button that calls the reporter of the first
    # case listed that left a number, not the officer (often the responder reading this)
    assert props["officer"] in phone.inner_text("#rsp-officer")
    assert phone.get_attribute("#rsp-officer-phone", "href") == "tel:" + props["officer_phone"]
    reporters = reporter_phones(server.db, GRID)
    listed = [int(n) for n in re.findall(r"#(\d+)", phone.inner_text("#rsp-cases"))]
    first = next(i for i in listed if i in reporters)
    call = phone.locator("#rsp-call")
    assert call.get_attribute("href") == "tel:" + reporters[first] != "tel:" + props["officer_phone"]
    assert f"#{first}" in call.inner_text()
    assert call.bounding_box()["height"] >= 48
    # what is open, from the server's own file
    cases = open_cases(server.db, GRID)
    text = phone.inner_text("#rsp-cases")
    assert cases and all(title in text for title, _ in cases)
    assert phone.locator("#rsp-cases .rsp-overdue").count() == sum(late for _, late in cases)
    # warnings reaching the grid, resources with distance and direction
    assert "红色" in phone.inner_text("#rsp-warnings")
    assert phone.locator("#rsp-resources li").count() >= 1
    assert "格内" in phone.inner_text("#rsp-resources") or " m" in phone.inner_text("#rsp-resources")
    # every visible link and button is a thumb-sized target
    small = phone.evaluate("""() => [...document.querySelectorAll('#rsp-page a, #rsp-page button, #rsp-page summary')]
        .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44).map(e => e.outerHTML)""")
    assert small == []
    # the way back up: the village on the dashboard with this grid open, and the town
    village = grids.village_of(GRID)
    assert phone.get_attribute("#rsp-back-village", "href") == f"/?village={village}&level=3&grid={GRID}"
    assert phone.get_attribute("#rsp-back-town", "href") == "/"
    # the map shows the grid and its neighbours, zoomed to the grid
    shown = phone.evaluate(f"() => document.querySelector('{MAP}').data[2].locations")
    assert shown[0] == GRID and len(shown) > 1
    outside = [u for u in phone.requests if not u.startswith(server.url) and not u.startswith(("blob:", "data:"))]
    assert outside == [], f"requests outside the app: {outside}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "responder.png"), full_page=True)


def test_field_map_downloads_from_the_phone(server, phone, grids):
    open_grid(phone, server.url + f"/grid/{GRID}")
    with phone.expect_download(timeout=30000) as dl:
        phone.tap("#rsp-download-html")
    download = dl.value
    assert download.suggested_filename == f"{grids.props(GRID)['name']}现场图.html"
    page = Path(download.path()).read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert grids.props(GRID)["officer"] in page and "tel:" in page


def test_the_village_link_opens_the_grid_on_the_dashboard(server, phone):
    open_grid(phone, server.url + f"/grid/{GRID}")
    phone.tap("#rsp-back-village")
    phone.wait_for_selector("#panel-title", timeout=30000)
    assert phone.url.endswith(f"grid={GRID}")


def test_unknown_or_non_grid_ids_get_a_clear_page(server, phone, grids):
    phone.goto(server.url + "/grid/NOPE")
    phone.wait_for_selector("#not-found", timeout=20000)
    assert "NOPE" in phone.inner_text("#not-found")
    # a village id explains itself and offers the village's grids
    phone.goto(server.url + "/grid/DL-03")
    phone.wait_for_selector("#not-found", timeout=20000)
    assert "不是网格" in phone.inner_text("#not-found")
    hrefs = phone.eval_on_selector_all("#not-found .rsp-choose a", "els => els.map(e => e.getAttribute('href'))")
    assert hrefs == [f"/grid/{g}" for g in grids.ids(level=3, parent="DL-03")]
    phone.goto(server.url + "/grid/DL")
    phone.wait_for_selector("#not-found", timeout=20000)
    assert "Traceback" not in phone.content()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_SIZE["width"]


def test_the_wall_role_sees_masked_numbers_and_no_tel_links(township_ctx):
    """The page builder for the wall: no tel: link and no full name or number anywhere."""
    tw = township_ctx.township
    gs = tw.gridset
    snap = tw.snapshot()
    data = grid_fieldmap_data(snap, gs, GRID)
    layout = responder.page(data, gs, "wall", "zh", snap.cases, {"version": 8, "sources": {}, "layers": []})
    text = json.dumps(layout, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
    props = gs.props(GRID)
    assert "tel:" not in text
    assert props["officer_phone"] not in text and mask_phone(props["officer_phone"]) in text
    assert mask_name(props["officer"]) in text and f'"{props["officer"]}"' not in text
    for r in data.resources.itertuples():
        assert r.phone not in text
    for g in data.neighbours:
        assert gs.props(g)["officer_phone"] not in text


def test_a_village_operator_sees_other_villages_officers_masked(township_ctx):
    """Its own grid's page: neighbours in its village in full, those of another village masked (as the card)."""
    from township.grids.spatial import neighbours
    from township.loop.workflow import Actor
    from township.read.fieldmap import for_viewer

    tw = township_ctx.township
    gs = tw.gridset
    snap = tw.snapshot()
    # a grid of DL-03 on its village's border: a neighbour in another village, and one in its own
    border = next(g for g in gs.ids(level=3) if gs.village_of(g) == "DL-03"
                  and {gs.village_of(n) for n in neighbours(gs, [g])} - {"DL-03"}
                  and "DL-03" in {gs.village_of(n) for n in neighbours(gs, [g])})
    operator = Actor("常树梁村值班员", "village", "DL-03")
    data = for_viewer(grid_fieldmap_data(snap, gs, border), gs, operator)
    layout = responder.page(data, gs, "village", "zh", snap.cases, {"version": 8, "sources": {}, "layers": []})
    text = json.dumps(layout, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
    shown = [border, *neighbours(gs, [border, *data.neighbours]), *data.neighbours]
    own = [gs.props(g) for g in shown if gs.village_of(g) == "DL-03"]
    foreign = [gs.props(g) for g in shown if gs.village_of(g) != "DL-03"]
    assert foreign and own
    for p in own:
        assert p["officer_phone"] in text or p["officer"] in text  # every own grid it lists, in full
    for p in foreign:
        assert p["officer_phone"] not in text and f'"{p["officer"]}"' not in text
    neighbour_names = [gs.props(g)["officer"] for g in data.neighbours if gs.village_of(g) != "DL-03"]
    assert any(mask_name(n) in text for n in neighbour_names)  # listed, masked
