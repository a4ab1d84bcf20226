"""One-point command on a warning (一点指挥): the warning card, its lists, moves, tasks and the map's circle.

The functions are called directly on a store of this module's own (the moves
change data other modules count); one browser test clicks a warning on the
shared server and acknowledges it (a yellow or blue one, which no banner counts).
"""
from __future__ import annotations

import re

import numpy as np
import pyproj
import pytest
import shapely
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from callbacks.dashboard import map_warning
from callbacks.warningcard import clicked_warning, make_dispatch, make_warning_move, open_warning
from layers.mapfig import GRIDS, RADIUS, RESOURCES, SELECTED_WIDTH, WARNINGS, map_labels, map_updates
from township.config import Settings
from township.domain.filters import FilterState
from township.domain.vocab import OPEN_STATUSES
from township.loop.warnings import (
    dispatch_task,
    move_warning,
    reached_villages,
    task_prefix,
    warning_events,
    warning_file,
    warning_tasks,
)
from township.loop.workflow import Actor, MoveRefused
from township.read.views import make_view
from township.runtime.bootstrap import open_township
from township.store.engine import make_engine
from township.store.models import Case, CaseAssignment, CaseEvent, Handler, Warning, WarningEvent
from ui import ids

COMMAND = Actor("指挥中心值班员", "command")
ADMIN = Actor("管理员", "admin")
WALL = Actor("大屏", "wall")

_TR = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)


def metric(geom):
    """Independently of the app: a WGS84 shapely geometry in EPSG:4546."""
    return shapely.transform(geom, lambda xy: np.column_stack(_TR.transform(xy[:, 0], xy[:, 1])))


@pytest.fixture(scope="module")
def ctx(stores):
    return open_township(Settings(database_url=stores.new("warningcard"), role="command"))


@pytest.fixture(scope="module")
def gs(ctx):
    return ctx.township.gridset


def live_warning(ctx, status: str = "active", exclude: tuple[int, ...] = ()) -> int:
    w = ctx.township.snapshot().warnings
    rows = w[(w["status"] == status).to_numpy() & ~w["id"].isin(exclude).to_numpy()]
    assert not rows.empty, f"the demo store has no {status} warning left"
    return int(rows.iloc[0]["id"])


def state_of(ctx, wid: int) -> tuple:
    with Session(ctx.township.engine) as s:
        w = s.get(Warning, wid)
        n = s.scalar(select(func.count()).select_from(WarningEvent).where(WarningEvent.warning_id == wid))
        cases = s.scalar(select(func.count()).select_from(Case))
        return w.status, w.version, n, cases


def other_village(gs, villages: set[str]) -> str:
    return next(v for v in gs.ids(level=2) if v not in villages)


# -- the lists, nearest first, against an independent computation in EPSG:4546 ---------------


def test_the_lists_are_ordered_by_distance_as_shapely_computes_them(ctx, gs):
    tw = ctx.township
    snap = tw.snapshot()
    wid = live_warning(ctx)
    f = warning_file(tw.engine, gs, snap, wid, COMMAND)
    w = f.row
    pt = metric(shapely.Point(w.lon, w.lat))
    # affected grids: level-3 polygons within the radius of the point
    dist = {g: shapely.distance(metric(gs.geometry(g)), pt) for g in gs.ids(level=3)}
    affected = sorted(g for g, d in dist.items() if d <= w.radius_m)
    assert f.affected == affected and affected
    with Session(tw.engine) as s:
        handlers = list(s.scalars(select(Handler).where(Handler.grid_id.in_(affected), Handler.active.is_(True))))
        teams = {h.resource_id: h.handler_id for h in s.scalars(select(Handler).where(
            Handler.kind == "volunteer_team"))}
    # grid officers: as far as their grid
    officers = sorted((dist[h.grid_id], h.grid_id, h.handler_id) for h in handlers if h.kind == "officer")
    assert [c.handler_id for c in f.officers] == [h for _, _, h in officers]
    assert all(abs(c.distance_m - d) < 0.01 for c, (d, _, _) in zip(f.officers, officers, strict=True))
    # resources: from the point, within radius + 2 km
    res = snap.resources
    rd = {r.resource_id: shapely.distance(metric(shapely.Point(r.lon, r.lat)), pt) for r in res.itertuples()}
    kinds = dict(zip(res["resource_id"], res["kind"], strict=True))
    near = {r: d for r, d in rd.items() if d <= w.radius_m + 2000}
    party = sorted([(dist[h.grid_id], h.grid_id, h.handler_id) for h in handlers
                    if h.kind == "party_member" and h.central_household]
                   + [(d, "", r) for r, d in near.items() if kinds[r] == "pioneer_post"],
                   key=lambda x: (round(x[0], 6), x[1], x[2]))
    assert [c.handler_id or c.resource_id for c in f.party] == [k for _, _, k in party]
    assert all(c.kind in ("party_member", "pioneer_post") for c in f.party)
    support = sorted((round(d, 6), r) for r, d in near.items() if kinds[r] in ("volunteer_team", "supply_depot"))
    assert [c.resource_id for c in f.support] == [r for _, r in support]
    assert [c.handler_id for c in f.support if c.kind == "volunteer_team"] == [
        teams[r] for _, r in support if kinds[r] == "volunteer_team"]
    # open cases in the affected grids, from the point
    c = snap.cases
    mine = c[c["grid_id"].isin(affected) & c["status"].isin(OPEN_STATUSES)]
    cd = sorted((shapely.distance(metric(shapely.Point(r.lon, r.lat)), pt), r.id) for r in mine.itertuples())
    assert f.cases["id"].tolist() == [i for _, i in cd]


def test_the_card_masks_phones_for_the_wall_and_links_them_for_command(ctx, gs):
    wid = live_warning(ctx)
    shown = str(open_warning(ctx, COMMAND, wid).children)
    f = warning_file(ctx.township.engine, gs, ctx.township.snapshot(), wid, COMMAND)
    phone = f.officers[0].phone
    assert f"tel:{phone}" in shown and ids.WARN_DISPATCH in shown
    wall = str(open_warning(ctx, WALL, wid).children)
    assert phone not in wall and "tel:" not in wall and phone[:3] + "****" + phone[-4:] in wall
    assert ids.WARN_DISPATCH not in wall and "warn-no-moves" in wall


# -- moves and their log -----------------------------------------------------------------------


def test_moves_go_active_acknowledged_handling_cleared_each_logged(ctx, gs):
    tw = ctx.township
    wid = live_warning(ctx)
    before = state_of(ctx, wid)
    opened = open_warning(ctx, COMMAND, wid).opened
    out = make_warning_move(ctx, COMMAND, opened, "acknowledge", "已电话通知")
    assert out.moved and state_of(ctx, wid)[0] == "acknowledged"
    # the card now stands for the new version; an old version is refused as stale
    stale = make_warning_move(ctx, COMMAND, opened, "handle", "")
    assert not stale.moved and "changed by someone else" in str(stale.children)
    move_warning(tw.engine, gs, wid, "handle", ADMIN)
    with pytest.raises(MoveRefused) as refused:
        move_warning(tw.engine, gs, wid, "acknowledge", COMMAND)
    assert refused.value.code == "status"
    move_warning(tw.engine, gs, wid, "clear", COMMAND, note="险情解除")
    log = warning_events(tw.engine, wid)
    assert [(e.action, e.from_status, e.to_status, e.actor) for e in log] == [
        ("acknowledge", "active", "acknowledged", COMMAND.name), ("handle", "acknowledged", "handling", ADMIN.name),
        ("clear", "handling", "cleared", COMMAND.name)]
    assert log[0].note == "已电话通知" and log[2].note == "险情解除"
    status, version, n, _ = state_of(ctx, wid)
    assert status == "cleared" and n == before[2] + 3 and version > before[1]
    assert open_warning(ctx, COMMAND, wid).children  # a cleared warning still opens, with no moves
    assert warning_file(tw.engine, gs, tw.snapshot(), wid, COMMAND).moves == []


def test_the_wall_and_another_village_change_nothing(ctx, gs):
    tw = ctx.township
    wid = live_warning(ctx)
    f = warning_file(tw.engine, gs, tw.snapshot(), wid, COMMAND)
    outsider = Actor("他村值班员", "village", other_village(gs, f.villages))
    insider = Actor("本村值班员", "village", sorted(f.villages)[0])
    before = state_of(ctx, wid)
    handler = f.officers[0].handler_id
    for who in (WALL, outsider):
        for move in ("acknowledge", "handle", "clear"):
            with pytest.raises(MoveRefused) as refused:
                move_warning(tw.engine, gs, wid, move, who)
            # the wall may see it but not act; to another village's operator it does not exist
            assert refused.value.code == ("forbidden" if who is WALL else "not_found")
        with pytest.raises(MoveRefused):
            dispatch_task(tw.engine, gs, wid, handler, who)
        out = make_warning_move(ctx, who, {"id": wid, "version": before[1]}, "acknowledge", "")
        assert not out.moved
        assert state_of(ctx, wid) == before
    # another village's operator is not even shown the warning; the village it reaches is, and may act
    assert open_warning(ctx, outsider, wid).opened is None
    assert warning_file(tw.engine, gs, tw.snapshot(), wid, insider).moves == ["acknowledge", "handle", "clear"]


# -- dispatching a task into the closed loop --------------------------------------------------------


def test_dispatching_a_task_creates_a_dispatched_hazard_case_with_its_trail(ctx, gs):
    tw = ctx.township
    wid = live_warning(ctx)
    f = warning_file(tw.engine, gs, tw.snapshot(), wid, COMMAND)
    officer = f.officers[0]
    opened = open_warning(ctx, COMMAND, wid).opened
    out = make_dispatch(ctx, COMMAND, opened, officer.handler_id, "带好救生衣")
    assert out.moved
    tasks = warning_tasks(tw.engine, wid)
    assert len(tasks) == 1
    case = tasks[0]
    assert (case.status, case.type, case.domain, case.source) == ("dispatched", "hazard", "safety", "patrol")
    assert case.external_id.startswith(task_prefix(wid)) and f"#{wid}" in case.description
    assert abs(case.lon - f.row.lon) < 1e-9 and abs(case.lat - f.row.lat) < 1e-9 and case.handler == officer.name
    with Session(tw.engine) as s:
        trail = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
        assert [(e.action, e.from_status, e.to_status) for e in trail] == [
            ("report", None, "reported"), ("dispatch", "reported", "dispatched")]
        assert all(e.actor == COMMAND.name for e in trail)
        assert s.get(CaseAssignment, case.id).handler_id == officer.handler_id
    assert warning_events(tw.engine, wid)[-1].action == "dispatch"
    assert f"#{case.id}" in str(out.children)  # listed under the card's tasks
    # the warning's own status is not touched by a dispatch; an unknown handler writes nothing
    n_cases = state_of(ctx, wid)[3]
    with pytest.raises(MoveRefused):
        dispatch_task(tw.engine, gs, wid, "H-NOBODY", COMMAND)
    assert state_of(ctx, wid)[3] == n_cases


# -- the map: the circle and the affected grids ---------------------------------------------------------


def test_the_map_draws_the_open_warnings_circle_and_outlines_its_grids(ctx, gs):
    tw = ctx.township
    snap = tw.snapshot()
    wid = live_warning(ctx)
    assert clicked_warning(ids.MAP, {"points": [{"curveNumber": WARNINGS, "customdata": [wid, "x"]}]}) == wid
    assert clicked_warning(ids.MAP, {"points": [{"curveNumber": RESOURCES, "customdata": ["x"]}]}) is None
    view = make_view(snap, gs, FilterState(level=3))
    plain = map_updates(view, gs)
    assert len(plain[RADIUS]["lon"]) == 0
    assert SELECTED_WIDTH not in np.atleast_1d(plain[GRIDS]["marker"]["line"]["width"])
    warning = map_warning(snap, gs, COMMAND, {"id": wid, "version": 0})
    drawn = map_updates(view, gs, warning)
    lon, lat = drawn[RADIUS]["lon"], drawn[RADIUS]["lat"]
    assert len(lon) > 32 and (lon[0], lat[0]) == (lon[-1], lat[-1])
    # every vertex lies on the radius, measured in EPSG:4546
    row = snap.warnings[snap.warnings["id"] == wid].iloc[0]
    centre = metric(shapely.Point(row["lon"], row["lat"]))
    d = [shapely.distance(metric(shapely.Point(x, y)), centre) for x, y in zip(lon, lat, strict=True)]
    assert max(abs(v - row["radius_m"]) for v in d) < 1.0
    located = map_labels(gs, view.state, "command")[GRIDS]["locations"]
    widths = dict(zip(located, drawn[GRIDS]["marker"]["line"]["width"], strict=True))
    assert {g for g, w in widths.items() if w == SELECTED_WIDTH} == set(warning["grids"])
    # another village's operator gets no circle
    outsider = Actor("他村值班员", "village", other_village(gs, reached_villages(gs, row["village_id"],
                                                                            warning["grids"])))
    assert map_warning(snap, gs, outsider, {"id": wid}) is None


# -- in a real browser -----------------------------------------------------------------------------


def test_clicking_a_warning_opens_its_card_draws_its_radius_and_acknowledges(server, page):
    from test_browser import GRAPH, click_lonlat, figure_value, open_map

    engine = make_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, lon, lat, level, status FROM warnings "
                                     "WHERE status IN ('active', 'acknowledged', 'handling')")).all()
    finally:
        engine.dispose()
    live = [(r.id, r.lon, r.lat) for r in rows]
    # a yellow or blue active warning (no banner counts it), the one farthest from any other live warning
    candidates = [r for r in rows if r.status == "active" and r.level >= 3] or [r for r in rows if r.status == "active"]
    assert candidates, "no active warning on the test server"

    def room(r):
        others = [np.hypot(r.lon - x, r.lat - y) for i, x, y in live if i != r.id]
        return min(others) if others else 1.0

    target = max(candidates, key=room)
    open_map(page, server.url + f"/?layers=warnings&wlevel={target.level}")
    click_lonlat(page, target.lon, target.lat)
    page.wait_for_selector("#warn-card:not([hidden]) #warn-title", timeout=20000)
    assert page.inner_text("#warn-title").startswith(f"#{target.id} ")
    page.wait_for_selector("#warn-officers li")
    assert page.locator("#warn-officers .warn-tel").count() >= 1
    assert page.locator("#warn-party").count() == 1 and page.locator("#warn-support").count() == 1
    page.wait_for_function(f"() => document.querySelector('{GRAPH}').data[{RADIUS}].lon.length > 30",
                           timeout=20000)
    assert figure_value(page, f"gd.data[{RADIUS}].lat.length") > 30
    assert page.get_attribute(f"#{ids.WARN_STATUS}", "data-status") == "active"
    page.click(".warn-move-acknowledge")
    page.wait_for_selector(f"#{ids.WARN_STATUS}[data-status='acknowledged']", timeout=20000)
    assert "已确认" in page.inner_text(f"#{ids.WARN_STATUS}")
    assert re.search("确认", page.inner_text("#warn-log"))
    page.click(".warn-card .case-close")
    page.wait_for_function(f"() => document.querySelector('{GRAPH}').data[{RADIUS}].lon.length === 0",
                           timeout=20000)


def test_a_village_operator_sees_its_own_village_in_full_and_others_duty_contacts_masked(ctx, gs):
    from township.formats.ingest import WarningIn, write_warnings

    tw = ctx.township
    p = gs.geometry("DL-03-01").representative_point()
    [written] = write_warnings(tw.engine, gs, [WarningIn(source="test", external_id="privacy-card", type="ice_flood",
                                                         level=2, title="凌汛", lon=p.x, lat=p.y, radius_m=15_000)])
    operator = Actor("常树梁村值班员", "village", "DL-03")
    command = warning_file(tw.engine, gs, tw.snapshot(), written.id, COMMAND)
    mine = warning_file(tw.engine, gs, tw.snapshot(), written.id, operator)
    village = {c.grid_id: gs.village_of(c.grid_id) for c in command.officers + command.party if c.grid_id}
    assert {"DL-03"} < set(village.values())  # the radius reaches other villages
    with Session(tw.engine) as s:
        people = {h.handler_id: (h.name, h.phone) for h in s.scalars(select(Handler))}
    # own village: every officer and party member, in full, to dispatch to
    own = [c for c in command.officers + command.party if village.get(c.grid_id) == "DL-03"]
    assert own and [c for c in mine.officers + mine.party if village.get(c.grid_id) == "DL-03"] == own
    # other villages: their officers only, name and phone masked, nothing to dispatch to
    others = [c for c in mine.officers + mine.party if village.get(c.grid_id) != "DL-03"]
    assert others and all(c.kind == "officer" and c.handler_id is None for c in others)
    assert len(others) == len([c for c in command.officers if village.get(c.grid_id) != "DL-03"])
    full = {people[c.handler_id] for c in command.officers if village.get(c.grid_id) != "DL-03"}
    for c in others:
        assert (c.name, c.phone) not in full and c.name.endswith("*") and c.phone is not None and "****" in c.phone
    assert not [c for c in mine.party + mine.support if gs.village_of(c.grid_id or "") not in (None, "DL-03")]
    # open cases and tasks: its own village's only
    assert set(command.cases["village_id"].dropna()) - {"DL-03"}  # other villages have open cases there
    assert set(mine.cases["village_id"].dropna()) <= {"DL-03"}
    body = str(open_warning(ctx, operator, written.id).children)
    assert not [n for n, _ in full if n in body]


def test_the_log_shows_another_villages_task_with_its_people_masked(ctx, gs):
    from township.formats.ingest import WarningIn, write_warnings

    tw = ctx.township
    p = gs.geometry("DL-03-01").representative_point()
    [written] = write_warnings(tw.engine, gs, [WarningIn(source="test", external_id="privacy-log", type="ice_flood",
                                                         level=2, title="凌汛", lon=p.x, lat=p.y, radius_m=15_000)])
    command = warning_file(tw.engine, gs, tw.snapshot(), written.id, COMMAND)
    own = next(c for c in command.officers if c.grid_id and gs.village_of(c.grid_id) == "DL-03")
    reached = sorted(command.villages - {"DL-03"})
    assert reached  # the radius reaches other villages too
    with Session(tw.engine) as s:
        name = s.get_one(Handler, own.handler_id).name
    # a task lies at the warning's point: a case of DL-03, dispatched to one of its officers
    case_id = dispatch_task(tw.engine, gs, written.id, own.handler_id, COMMAND)
    step = f"任务 #{case_id} 派单给{name}"
    operator = Actor("常树梁村值班员", "village", "DL-03")
    neighbour = Actor("他村值班员", "village", reached[0])
    mine = str(open_warning(ctx, operator, written.id).children)
    theirs = str(open_warning(ctx, neighbour, written.id).children)
    # DL-03 sees its task in full; the other village sees that a task went out, not to whom nor by whom
    assert step in mine and COMMAND.name in mine
    assert "warn-log" in theirs and name not in theirs and step not in theirs and COMMAND.name not in theirs
    assert case_id not in {c.id for c in warning_file(tw.engine, gs, tw.snapshot(), written.id, neighbour).tasks}
