"""Inputs and states that used to answer 500: each reproduced on a real store or a real server."""
from __future__ import annotations

import pytest

from township.domain.vocab import ROLES


@pytest.fixture(scope="module")
def outside_ctx(stores):
    """A fresh store with the demo year and one open case outside the town, reported just now."""
    from township.config import Settings
    from township.formats.ingest import CaseIn, write_cases
    from township.runtime.bootstrap import open_township

    ctx = open_township(Settings(database_url=stores.new("outside"), role="command"))
    gs = ctx.township.gridset
    lon, lat = gs.bounds()[0] - 1.0, gs.bounds()[1] - 1.0  # a degree west and south of the town's box
    case = CaseIn(source="hotline", type="hotline", domain="livelihood", title="镇外来电", lon=lon, lat=lat,
                  outside_ok=True)
    [written] = write_cases(ctx.township.engine, gs, [case])
    assert written.grid_id is None
    return ctx


@pytest.mark.parametrize("role", list(ROLES))
def test_statistics_with_a_case_outside_the_town_in_the_window(outside_ctx, role):
    # "Cannot setitem on a Categorical": the backlog labelled the no-village row on the categorical column.
    from callbacks.stats import stats_body
    from township.domain.filters import FilterState
    from township.loop.workflow import Actor
    from township.read.stats import NONE_LABEL, backlog_by_village
    from township.read.views import make_view

    village = "DL-03" if role == "village" else None
    actor = Actor(f"test-{role}", role, village, None)
    body = stats_body(outside_ctx, actor, {"window": "7d"})
    assert body  # the section is built
    if role in ("admin", "command", "wall"):
        view = make_view(outside_ctx.township.snapshot(), outside_ctx.township.gridset, FilterState(window="7d"))
        backlog = backlog_by_village(view.cases, view.now)
        assert backlog.loc[NONE_LABEL, "open"] == 1  # the one case outside is counted under "(none)"
