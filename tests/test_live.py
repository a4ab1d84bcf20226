"""Live to the screen: a new case or red warning shows on an open page without a reload."""
from __future__ import annotations

import json
import time
import urllib.request

from test_browser import GRAPH, figure_value, open_map

from township.accounts.tokens import create_token
from township.config import BUNDLED_GRIDS
from township.formats.ingest import WarningIn, write_warnings
from township.grids.validate import load_grid_file
from township.store.engine import make_engine


def test_case_posted_to_the_api_appears_without_reload_and_zoom_is_kept(server, page):
    grids = load_grid_file(BUNDLED_GRIDS)
    token = create_token(make_engine(f"sqlite:///{server.db}"), f"live-{time.time_ns()}", "command")
    open_map(page, server.url + "/?window=7d")
    # the operator zooms in (a move of theirs: plotly keeps it through updates of the figure, uirevision):
    # a live update must not undo it
    page.evaluate(f"""() => document.querySelector('{GRAPH}')._fullLayout.map._subplot.map
        .jumpTo({{zoom: 12.5}}, {{originalEvent: {{type: 'wheel'}}}})""")
    page.wait_for_timeout(500)
    before = figure_value(page, "gd.data[4].lon.length")
    page.wait_for_function("() => /\\(\\d+\\)/.test(document.querySelector('#table-count').innerText)", timeout=15000)
    listed = int(page.inner_text("#table-count").strip(" ()"))
    p = grids.geometry("DL-07-03").representative_point()
    case = {"source": "patrol", "external_id": f"LIVE-{time.time_ns()}", "type": "hazard", "domain": "safety",
            "title": "实时测试隐患", "lon": p.x, "lat": p.y}
    request = urllib.request.Request(server.url + "/api/v1/cases", data=json.dumps(case).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert urllib.request.urlopen(request, timeout=10).status == 201
    # The budget (2 s) is measured by the benchmark; here: it shows, without a reload.
    page.wait_for_function(f"() => document.querySelector('{GRAPH}').data[4].lon.length === {before + 1}",
                           timeout=15000)
    assert figure_value(page, "gd._fullLayout.map.zoom") == 12.5
    types = figure_value(page, "gd.data[4].customdata.map(c => c[1])")
    assert "隐患" in types
    # the table follows once the map has drawn the case (ui.ids.DRAWN)
    page.wait_for_function(f"() => document.querySelector('#table-count').innerText.trim() === '({listed + 1})'",
                           timeout=15000)


def test_new_red_warning_is_announced_until_acknowledged(server, page):
    grids = load_grid_file(BUNDLED_GRIDS)
    open_map(page, server.url + "/")
    # acknowledge whatever is already announced
    for _ in range(10):
        if page.is_hidden("#alert-banner"):
            break
        page.click("#alert-ack")
        page.wait_for_timeout(1500)
    assert page.is_hidden("#alert-banner")
    p = grids.geometry("DL-14-02").representative_point()
    warning = WarningIn(source="test", external_id=f"W-{time.time_ns()}", type="fire", level=1,
                        title="测试火灾红色预警", lon=p.x, lat=p.y, radius_m=800)
    write_warnings(make_engine(f"sqlite:///{server.db}"), grids, [warning])
    page.wait_for_selector("#alert-banner:not([hidden])", timeout=15000)
    assert "测试火灾红色预警" in page.inner_text("#alert-banner")
    page.click("#alert-ack")
    page.wait_for_selector("#alert-banner", state="hidden", timeout=15000)
