"""The closed loop in the dashboard, without a browser: roles, clamping, the case card, statistics.

The page renderer, the reducer, the case card and the statistics are called
directly with a viewer of each role, on a store of their own (the moves here
change data other modules' tests count).
"""
from __future__ import annotations

import pytest
from conftest import drawn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callbacks.casecard import clicked_case, make_move, open_card
from callbacks.dashboard import reduce, render_page
from callbacks.stats import stats_body
from layers.mapfig import CASES, GRIDS, VILLAGES, map_updates
from township.config import Settings
from township.domain.filters import FilterState
from township.formats.ingest import CaseIn, write_cases
from township.loop.casefile import clamp_state
from township.loop.workflow import POOL, Actor, apply_move
from township.read.views import make_view
from township.runtime.bootstrap import open_township
from township.store.models import Case, CaseEvent
from ui import ids

COMMAND = Actor("指挥中心值班员", "command")
VILLAGE = Actor("小滩子村值班员", "village", "DL-01")
WALL = Actor("大屏", "wall")


@pytest.fixture(scope="module")
def ctx(stores):
    return open_township(Settings(database_url=stores.new("casecard"), role="command"))


@pytest.fixture(scope="module")
def gs(ctx):
    return ctx.township.gridset


def new_case(ctx, grid: str, **extra) -> int:
    p = ctx.township.gridset.geometry(grid).representative_point()
    item = CaseIn(source="citizen", type=extra.pop("type", "dispute"), domain="governance", title="卡片测试",
                  lon=p.x, lat=p.y, reporter="张三丰", reporter_phone="13812341234", **extra)
    return write_cases(ctx.township.engine, ctx.township.gridset, [item], actor="测试")[0].id


def find(component, cid):
    """The component with id ``cid`` in a built layout, or None."""
    if getattr(component, "id", None) == cid:
        return component
    children = component if isinstance(component, list) else getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            found = find(child, cid)
            if found is not None:
                return found
    return None


def text(component) -> str:
    return str(component)


def snapshot(ctx, case_id: int) -> tuple:
    """The case row's fields and its event count: what a refused move must leave alone."""
    with Session(ctx.township.engine) as s:
        c = s.get(Case, case_id)
        n = s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id))
        return c.status, c.tier, c.handler, c.version, n


# -- roles and clamping ----------------------------------------------------------------------


def test_the_reducer_keeps_a_village_operator_in_their_village(gs):
    own = FilterState(village=["DL-01"], level=3)
    # clicking another village on the map, resetting, going up to the town: still DL-01
    s = reduce(own, ids.MAP, {}, {"points": [{"location": "DL-05", "curveNumber": VILLAGES}]}, gs, VILLAGE)
    assert s.village == ["DL-01"]
    assert reduce(own, ids.F_RESET, {}, None, gs, VILLAGE).village == ["DL-01"]
    assert reduce(own, ids.CRUMB_TOWN, {}, None, gs, VILLAGE).village == ["DL-01"]
    assert reduce(own, ids.F_VILLAGE, {"village": ["DL-02", "DL-03"]}, None, gs, VILLAGE).village == ["DL-01"]
    # a grid of another village does not open; one of their own does
    s = reduce(own, ids.MAP, {}, {"points": [{"location": "DL-05-01", "curveNumber": GRIDS}]}, gs, VILLAGE)
    assert s.grid is None and s.village == ["DL-01"]
    assert reduce(own, ids.MAP, {}, {"points": [{"location": "DL-01-02"}]}, gs, VILLAGE).grid == "DL-01-02"
    # the command centre is not clamped
    assert reduce(own, ids.F_RESET, {}, None, gs, COMMAND).village == []
    # a forged store is clamped too
    assert clamp_state(FilterState(village=["DL-07"], grid="DL-07-01"), VILLAGE, gs).model_dump() == \
        FilterState(village=["DL-01"]).model_dump()


def test_render_page_clamps_a_village_operator_whatever_the_url(ctx, gs):
    page = render_page(ctx, None, "?village=DL-05&level=3&grid=DL-05-01", VILLAGE)
    state = find(page, ids.STATE).data
    assert state["village"] == ["DL-01"] and state["grid"] is None
    grids = find(page, ids.MAP).figure["data"][GRIDS]
    # the operator's page draws their village's grids only, and names no other village's officers
    shown = drawn(grids)
    assert shown and all(g.startswith("DL-01-") for g in shown)
    officers = {g: row[1] for g, row in zip(grids["locations"], grids["customdata"], strict=True)}
    assert all(officers[g] for g in shown) and not any(o for g, o in officers.items() if g not in shown)
    # a later update lines up with those grids whoever is signed in by then (a session that expired)
    later = make_view(ctx.township.snapshot(), gs, FilterState(level=3))
    assert len(map_updates(later, gs)[GRIDS]["z"]) == len(grids["locations"])
    control = find(page, ids.F_VILLAGE)
    assert control.disabled is True and [o["value"] for o in control.options] == ["DL-01"]
    assert "小滩子村值班员" in text(find(page, ids.ACCOUNT))
    # the same URL for the command centre shows DL-05
    page = render_page(ctx, None, "?village=DL-05&level=3&grid=DL-05-01", COMMAND)
    assert find(page, ids.STATE).data["village"] == ["DL-05"]
    assert getattr(find(page, ids.F_VILLAGE), "disabled", False) is not True
    # the page holds the (closed) case card and the statistics section
    assert find(page, ids.CASE_CARD).hidden is True and find(page, ids.STATS_BODY) is not None


def test_statistics_follow_the_viewer(ctx):
    mine = text(stats_body(ctx, VILLAGE, FilterState(village=["DL-05"]).model_dump()))
    assert "stats-ranking" not in mine  # the ranking is the township head's
    assert ctx.township.gridset.props("DL-01")["name"] in mine
    assert ctx.township.gridset.props("DL-05")["name"] not in mine
    town = text(stats_body(ctx, COMMAND, FilterState().model_dump()))
    assert "stats-ranking" in town and "stats-stages" in town and "stats-trend" in town


# -- the case card ---------------------------------------------------------------------------


def test_another_villages_case_is_refused_in_the_card(ctx):
    other = new_case(ctx, "DL-05-01")
    out = open_card(ctx, VILLAGE, other)
    # answered as a missing case: nothing says it exists, nor where
    assert out.opened is None and "does not exist" in text(out.children) and "DL-05" not in text(out.children)
    assert "卡片测试" not in text(out.children)
    before = snapshot(ctx, other)
    # a move on it (a forged "opened" store) is refused and changes nothing
    out = make_move(ctx, VILLAGE, {"id": other, "version": before[3]}, "cancel", None, "重复")
    assert not out.moved and out.opened is None and "does not exist" in text(out.children)
    assert snapshot(ctx, other) == before


def test_the_wall_sees_the_case_masked_and_cannot_act(ctx):
    cid = new_case(ctx, "DL-02-01")
    out = open_card(ctx, WALL, cid)
    body = text(out.children)
    assert "张**" in body and "138****1234" in body and "张三丰" not in body and "13812341234" not in body
    assert "case-no-moves" in body and "case-move" not in body
    body = text(open_card(ctx, COMMAND, cid).children)
    assert "张三丰" in body and "13812341234" in body


def test_the_wall_sees_the_handler_masked_in_the_card(ctx):
    cid = new_case(ctx, "DL-02-01", status="dispatched", handler="王小伟")
    body = text(open_card(ctx, WALL, cid).children)
    assert "王**" in body and "王小伟" not in body
    assert "王小伟" in text(open_card(ctx, COMMAND, cid).children)


def test_the_whole_loop_from_the_card(ctx):
    cid = new_case(ctx, "DL-01-01")
    out = open_card(ctx, COMMAND, cid)
    handler = find(out.children, {"type": ids.CASE_FIELD, "name": "handler"})
    assert handler.value == "H-OF-DL-01-01"  # the grid's officer, suggested first
    assert handler.options[-1]["value"] == POOL
    steps = [("dispatch", "H-OF-DL-01-01", ""), ("accept", None, ""), ("start", None, "到现场")]
    for move, chosen, note in steps:
        out = make_move(ctx, COMMAND, out.opened, move, chosen, note)
        assert out.moved, text(out.children)
    # resolve without a result is refused, says why and keeps the card's version
    seen = out.opened
    refused = make_move(ctx, COMMAND, seen, "resolve", None, "")
    assert not refused.moved and refused.opened == seen and "result" in text(refused.children)
    out = make_move(ctx, COMMAND, seen, "resolve", None, "双方达成调解协议")
    assert out.moved and snapshot(ctx, cid)[0] == "resolved"
    out = make_move(ctx, COMMAND, out.opened, "close", None, "回访满意")
    assert out.moved and snapshot(ctx, cid)[0] == "closed"
    timeline = find(out.children, "case-timeline")
    steps = [li.className for li in timeline.children]
    assert steps == ["step step-report", "step step-dispatch", "step step-accept", "step step-start",
                     "step step-resolve", "step step-close"]
    assert "双方达成调解协议" in text(timeline) and "回访满意" in text(timeline)
    assert "case-no-moves" in text(out.children)  # a closed case has no moves left


def test_a_stale_card_is_refused_reloaded_and_nothing_changed(ctx):
    cid = new_case(ctx, "DL-01-02")
    card = open_card(ctx, COMMAND, cid)
    # someone else dispatches it meanwhile
    apply_move(ctx.township.engine, cid, "dispatch", Actor("另一值班员", "command"),
               expected_version=card.opened["version"], handler="H-OF-DL-01-02")
    before = snapshot(ctx, cid)
    out = make_move(ctx, COMMAND, card.opened, "cancel", None, "重复上报")
    assert not out.moved and "changed by someone else" in text(out.children)
    assert snapshot(ctx, cid) == before
    assert out.opened["version"] == before[3]  # reloaded: the next try acts on what is shown


def test_the_village_operator_acts_in_their_village_only(ctx):
    cid = new_case(ctx, "DL-01-03")
    out = open_card(ctx, VILLAGE, cid)
    options = find(out.children, {"type": ids.CASE_FIELD, "name": "handler"}).options
    assert options and all(o["value"] == POOL or o["value"].startswith(("H-OF-DL-01", "H-PM-DL-01", "H-VT"))
                           for o in options)
    out = make_move(ctx, VILLAGE, out.opened, "dispatch", "H-DEP-governance", "")
    assert not out.moved and "village" in text(out.children)  # a township department is not theirs
    out = make_move(ctx, VILLAGE, out.opened, "dispatch", POOL, "")
    assert out.moved and snapshot(ctx, cid)[0] == "dispatched"


def test_pool_orders_show_in_the_grid_panel_and_are_taken_from_the_card(ctx, gs):
    cid = new_case(ctx, "DL-01-04")
    apply_move(ctx.township.engine, cid, "dispatch", COMMAND, expected_version=snapshot(ctx, cid)[3], handler=POOL)
    page = render_page(ctx, None, "?village=DL-01&level=3&grid=DL-01-04", COMMAND)
    orders = find(page, "grid-orders")
    assert orders is not None and f"#{cid} " in text(orders)
    assert find(orders, {"type": ids.CASE_OPEN, "case": cid}) is not None
    out = open_card(ctx, COMMAND, cid)
    taker = find(out.children, {"type": ids.CASE_FIELD, "name": "handler"})
    assert taker.value.startswith("H-PM-DL-01-04-")  # a party member of the grid takes it
    out = make_move(ctx, COMMAND, out.opened, "accept", taker.value, "")
    assert out.moved and snapshot(ctx, cid)[0] == "accepted"


def test_a_case_dispatched_by_name_only_can_be_accepted(ctx):
    # An import, the demo history or a source re-sending its status dispatches by name, with no
    # structured assignment: staff can still record the acceptance, and the loop goes on.
    cid = new_case(ctx, "DL-02-02", status="dispatched", handler="王伟")
    out = make_move(ctx, COMMAND, open_card(ctx, COMMAND, cid).opened, "accept", None, "")
    assert out.moved and snapshot(ctx, cid)[:3] == ("accepted", "grid", "王伟")
    out = make_move(ctx, Actor("网格员", "responder", handler_id="H-OF-DL-02-02"), out.opened, "start", None, "")
    assert not out.moved and "not dispatched to" in text(out.children)  # nobody's case in particular


def test_clicks_that_open_a_card(ctx):
    assert clicked_case(ids.TABLE, {"rowId": "42", "colId": "title"}, None) == 42
    assert clicked_case(ids.MAP, None, {"points": [{"curveNumber": CASES, "customdata": [7, "t"]}]}) == 7
    # a grid or a warning on the map is not a case
    assert clicked_case(ids.MAP, None, {"points": [{"curveNumber": GRIDS, "location": "DL-01-01"}]}) is None
    assert clicked_case({"type": ids.CASE_OPEN, "case": 9}, None, None) == 9


def test_the_banner_announces_to_a_village_operator_only_warnings_reaching_their_village(ctx):
    from callbacks.dashboard import viewer_alerts
    from township.read.views import alerts, warning_mask

    snap = ctx.township.snapshot()
    reach = set(snap.warnings["id"][warning_mask(snap, FilterState(village=["DL-01"]))])
    assert set(viewer_alerts(snap, VILLAGE)["id"]) == set(alerts(snap)["id"]) & reach
    assert viewer_alerts(snap, COMMAND).equals(alerts(snap))


def test_the_card_shows_the_photos_to_who_may_see_them_and_none_to_the_wall(ctx):
    from test_photos import jpeg

    from township.loop.photos import PhotoRules, attach_photo
    from township.store.uow import run_in_unit

    cid = new_case(ctx, "DL-01-01")
    assert find(open_card(ctx, COMMAND, cid).children, ids.CASE_PHOTOS) is None  # no photo yet: no strip
    data = jpeg((900, 600), orientation=None)
    rules = PhotoRules.of(ctx.settings)
    added = run_in_unit(ctx.township.engine, lambda uow: attach_photo(uow, rules, cid, data, COMMAND, "progress"))
    pid = added.photo.id
    for viewer in (COMMAND, VILLAGE):
        strip = find(open_card(ctx, viewer, cid).children, ids.CASE_PHOTOS)
        assert strip is not None, viewer.role
        [link] = strip.children[1].children
        assert (link.href, link.target, link.children.src) == (f"/api/v1/photos/{pid}", "_blank",
                                                                f"/api/v1/photos/{pid}/thumb")
    assert find(open_card(ctx, WALL, cid).children, ids.CASE_PHOTOS) is None
    assert "/api/v1/photos/" not in text(open_card(ctx, WALL, cid).children)
