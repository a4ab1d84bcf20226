"""Headline figures and grid measures, checked against counts made straight from the database."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import text

from township.filters import FilterState
from township.services import make_view
from township.store import utcnow

pytestmark = pytest.mark.store
OPEN = ("reported", "dispatched", "accepted", "in_progress", "returned")
#: the open statuses as SQL parameters :o0, :o1, ...
MARKS = ",".join(f":o{i}" for i in range(len(OPEN)))
OPEN_ARGS = {f"o{i}": s for i, s in enumerate(OPEN)}


@pytest.fixture(scope="module")
def db(township_ctx):
    with township_ctx.township.engine.connect() as conn:
        yield conn


def _sql_count(db, where: str, **args) -> int:
    return db.execute(text(f"select count(*) from cases where {where}"), args).scalar()


def test_demo_year_follows_the_article(db):
    by_type = dict(db.execute(text("select type, count(*) from cases group by type")).all())
    assert by_type["proposal"] == 299 and by_type["hotline"] == 257 and by_type["dispute"] == 125
    assert by_type["wish"] == 25 and by_type["petition"] == 6
    live = dict(db.execute(text("select level, count(*) from warnings where status='active' group by level")).all())
    assert all(live.get(lv, 0) >= 1 for lv in (1, 2, 3, 4))
    # every case sits in the level-3 grid that contains it, in that grid's village
    rows = db.execute(text("select grid_id, village_id from cases")).all()
    assert all(g and v and g.startswith(v + "-") for g, v in rows)


def test_headline_matches_sql(township_ctx, db):
    tw = township_ctx.township
    now = utcnow()
    view = make_view(tw.snapshot(), tw.gridset, FilterState(window="all"), now)
    h = view.headline
    assert h.total == _sql_count(db, "1=1")
    assert h.open == _sql_count(db, f"status in ({MARKS})", **OPEN_ARGS)
    assert h.overdue == _sql_count(db, f"status in ({MARKS}) and deadline_at < :now", **OPEN_ARGS, now=now)
    done = _sql_count(db, "status in ('resolved','closed')")
    assert h.done_rate == pytest.approx(done / h.total)
    ontime = _sql_count(db, "status in ('resolved','closed') and resolved_at <= deadline_at")
    assert h.ontime_rate == pytest.approx(ontime / done)
    in_village = _sql_count(db, "status in ('resolved','closed') and max_tier in ('grid','village')")
    assert h.village_rate == pytest.approx(in_village / done)


def test_village_and_domain_filter_match_sql(township_ctx, db):
    tw = township_ctx.township
    now = utcnow()
    since = now - timedelta(days=30)
    state = FilterState(village=["DL-13", "DL-02"], domain=["livelihood", "construction"], window="30d")
    view = make_view(tw.snapshot(), tw.gridset, state, now)
    expected = _sql_count(
        db,
        f"village_id in ('DL-13','DL-02') and domain in ('livelihood','construction') "
        f"and (reported_at >= :since or status in ({MARKS}))",
        since=since, **OPEN_ARGS,
    )
    assert len(view.cases) == expected > 0


def test_grid_measure_sums_to_open_cases(township_ctx):
    tw = township_ctx.township
    view = make_view(tw.snapshot(), tw.gridset, FilterState(level=3, window="all"))
    ids, values, open_, overdue = view.levels[3]
    assert len(ids) == 146
    assert open_.sum() == view.headline.open and overdue.sum() == view.headline.overdue
    assert np.array_equal(values, open_)
    density = make_view(tw.snapshot(), tw.gridset, FilterState(level=3, measure="density")).levels[3][1]
    areas = np.array([tw.gridset.area_km2(g) for g in ids])
    assert np.allclose(density * areas, make_view(tw.snapshot(), tw.gridset, FilterState(level=3)).levels[3][2])


def test_snapshot_reloads_only_when_data_changes(township_ctx):
    tw = township_ctx.township
    first = tw.snapshot()
    assert tw.snapshot() is first
    from township.store import bump_version, session_scope

    with session_scope(tw.engine) as s:
        bump_version(s)
    assert tw.snapshot() is not first
