"""The dashboard's callback functions, called directly (no browser)."""
from __future__ import annotations

import pytest
from conftest import drawn

from callbacks.dashboard import reduce, render_page
from layers import mapfig
from layers.mapfig import CASES, GRIDS, VILLAGES, map_labels, map_updates
from township.domain.filters import FilterState
from township.domain.vocab import OPEN_STATUSES
from township.read.views import make_view
from ui import dashboard as ui
from ui import ids


@pytest.fixture(scope="module")
def gs(township_ctx):
    return township_ctx.township.gridset


def _find(component, cid):
    if getattr(component, "id", None) == cid:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        found = _find(child, cid)
        if found is not None:
            return found
    return None


def test_reduce_follows_controls_clicks_and_crumbs(gs):
    s = FilterState()
    s = reduce(s, ids.F_DOMAIN, {"domain": ["safety"], "village": []}, None, gs)
    assert s.domain == ["safety"]
    s = reduce(s, ids.MAP, {}, {"points": [{"location": "DL-04", "curveNumber": VILLAGES}]}, gs)
    assert (s.village, s.level) == (["DL-04"], 3)
    s = reduce(s, ids.MAP, {}, {"points": [{"location": "DL-04-02", "curveNumber": GRIDS}]}, gs)
    assert s.grid == "DL-04-02"
    # a case point has no location: the state stays
    assert reduce(s, ids.MAP, {}, {"points": [{"customdata": [1], "curveNumber": CASES}]}, gs) == s
    # choosing another village closes a grid panel that is not in it
    s2 = reduce(s, ids.F_VILLAGE, {"village": ["DL-05"]}, None, gs)
    assert s2.grid is None
    assert reduce(s, ids.CRUMB_VILLAGE, {}, None, gs).grid is None
    assert reduce(s, ids.F_RESET, {}, None, gs) == FilterState()


def test_render_page_from_a_deep_link(township_ctx):
    page = render_page(township_ctx, None, "?village=DL-03&level=3&domain=safety&grid=DL-03-02")
    store = _find(page, ids.STATE)
    assert store.data["village"] == ["DL-03"] and store.data["grid"] == "DL-03-02"
    graph = _find(page, ids.MAP)
    grids = graph.figure["data"][GRIDS]
    shown = drawn(grids)
    assert grids["visible"] is True and shown and all(g.startswith("DL-03-") for g in shown)
    assert len(grids["locations"]) == 146  # the ids go once; a village view leaves the others without a value
    assert _find(page, "panel-title").children == township_ctx.township.gridset.props("DL-03-02")["name"]
    assert _find(page, ids.NOTICE).hidden is True


def test_render_page_with_unknown_values_shows_a_notice(township_ctx):
    page = render_page(township_ctx, None, "?village=DL-99&domain=nope")
    notice = _find(page, ids.NOTICE)
    assert notice.hidden is False and "DL-99" in notice.children and "nope" in notice.children


def test_map_updates_carry_no_geometry_and_mask_officers_for_the_wall(township_ctx, gs):
    view = make_view(township_ctx.township.snapshot(), gs, FilterState(level=3))
    updates = map_updates(view, gs)
    # a filter change carries values only: no geometry, and not the grids' ids and names either
    assert all(not {"geojson", "locations"} & set(u) for u in updates.values())
    assert "customdata" not in updates[GRIDS] and len(updates[GRIDS]["z"]) == 146
    labels = map_labels(gs, view.state, "wall")[GRIDS]
    officers = [row[1] for row in labels["customdata"]]
    real = [gs.props(g)["officer"] for g in labels["locations"]]
    assert officers and all(o != r and o[0] == r[0] and "*" in o for o, r in zip(officers, real, strict=True))
    shown = map_labels(gs, view.state, "command")[GRIDS]
    assert [row[1] for row in shown["customdata"]] == real


def test_grid_panel_masks_the_phone_for_the_wall(township_ctx, gs):
    from township.read.views import grid_detail

    view = make_view(township_ctx.township.snapshot(), gs, FilterState(level=3))
    detail = grid_detail(view, gs, "DL-13-01")
    phone = gs.props("DL-13-01")["officer_phone"]
    assert phone not in str(ui.grid_panel(detail, gs, "wall", "zh"))
    assert phone[-4:] in str(ui.grid_panel(detail, gs, "wall", "zh"))
    assert phone in str(ui.grid_panel(detail, gs, "command", "zh"))


def test_the_map_draws_the_most_urgent_cases_when_there_are_too_many(township_ctx, gs, monkeypatch):
    view = make_view(township_ctx.township.snapshot(), gs, FilterState(window="all"))
    newest = int(view.cases.loc[view.cases["reported_at"].idxmax(), "id"])
    view.cases.loc[view.cases["id"] == newest, "status"] = "closed"  # the newest case, closed at once
    n_overdue = int(view.overdue.sum())
    open_ = view.cases["status"].isin(OPEN_STATUSES).to_numpy()
    limit = n_overdue + 1 + max(1, (int(open_.sum()) - n_overdue) // 2)
    assert 0 < n_overdue < limit < int(open_.sum()) < len(view.cases)
    monkeypatch.setattr(mapfig, "MAX_CASE_POINTS", limit)
    monkeypatch.setattr(mapfig, "NEWEST_SHARE", 1.5 / limit)  # one point for the newest case
    updates = map_updates(view, gs)
    drawn_ids = [int(row[0]) for row in updates[CASES]["customdata"]]
    assert len(drawn_ids) == limit and len(updates[mapfig.OVERDUE]["lon"]) == n_overdue
    # the newest case first, closed or not (one that just came in is on the map at once),
    # then every overdue case, then the newest open ones; nothing else closed
    assert newest in drawn_ids
    rest = view.cases["id"].isin(drawn_ids).to_numpy() & (view.cases["id"] != newest).to_numpy()
    assert view.cases[rest]["status"].isin(OPEN_STATUSES).all()
    rest_open = view.cases[open_ & ~view.cases["id"].isin(drawn_ids).to_numpy()]
    assert view.cases[rest & ~view.overdue]["reported_at"].min() >= rest_open["reported_at"].max()
    note = mapfig.map_note(view, "zh")
    assert len(note) == 1 and f"{limit:,}" in note[0]["text"] and f"{len(view.cases):,}" in note[0]["text"]
    # the headline still counts every case, and a small enough set is drawn whole, without a note
    assert view.headline.total == len(view.cases)
    few = make_view(township_ctx.township.snapshot(), gs, FilterState(village=[gs.ids(level=2)[0]], window="7d"))
    assert len(few.cases) <= limit and mapfig.map_note(few, "zh") == []
    assert len(map_updates(few, gs)[CASES]["lon"]) == len(few.cases)


def test_ranking_tables_list_the_top_villages_only(township_ctx, gs, monkeypatch):
    # A city's 2,000 villages in one table stalled the browser for minutes: the tables list the top ones.
    from dash import html

    import ui.stats as stats_ui
    import ui.wall as wall_ui

    def body_rows(component) -> int:
        if isinstance(component, html.Tr):
            return 1
        children = getattr(component, "children", None)
        children = children if isinstance(children, list) else [children] if children is not None else []
        return sum(body_rows(c) for c in children)

    view = make_view(township_ctx.township.snapshot(), gs, FilterState(window="all"))
    villages = len(gs.ids(level=2))
    assert body_rows(stats_ui.ranking_table(view, gs, "zh")) == villages + 1  # with the header row
    assert body_rows(wall_ui.ranking_table(view, gs, "zh")) == villages + 1
    monkeypatch.setattr(stats_ui, "RANKING_ROWS", 5)
    monkeypatch.setattr(wall_ui, "RANKING_ROWS", 5)
    assert body_rows(stats_ui.ranking_table(view, gs, "zh")) == 5 + 1
    assert body_rows(wall_ui.ranking_table(view, gs, "zh")) == 5 + 1
