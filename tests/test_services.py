"""Headline figures and grid measures, checked against counts made straight from the database."""
from __future__ import annotations

import threading
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from township.domain.filters import FilterState
from township.formats.ingest import CaseIn, WarningIn, write_cases, write_warnings
from township.loop.warnings import move_warning
from township.loop.workflow import Actor, apply_move
from township.read.snapshot import CATEGORICAL, Snapshot, Township, categorical
from township.read.views import make_view
from township.runtime.demo import ICE_PREFIX
from township.store.models import Case, CaseEvent, Meta, Warning, WarningGrid, bump_version, data_version, utcnow
from township.store.uow import session_scope

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
    # The year's cases; the red ice-flood warning's night (township/runtime/demo.py ICE_NIGHT) comes on top.
    by_type = dict(db.execute(text("select type, count(*) from cases where external_id not like :night group by type"),
                              {"night": ICE_PREFIX + "%"}).all())
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
    from township.store.models import bump_version
    from township.store.uow import session_scope

    with session_scope(tw.engine) as s:
        bump_version(s)
    assert tw.snapshot() is not first


# -- incremental reloads ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def town(stores):
    """A store of its own (bundled grids, demo year): these tests write cases the others would count."""
    from township.config import Settings
    from township.runtime.bootstrap import open_township

    return open_township(Settings(database_url=stores.new("incremental"))).township


def _by_id(cases: pd.DataFrame) -> pd.DataFrame:
    return cases.sort_values("id", ignore_index=True)


def _fresh(tw: Township) -> Snapshot:
    """A snapshot loaded from scratch by a new Township on the same store."""
    fresh = Township(tw.engine, tw.gridset)
    snap = fresh.snapshot()
    assert fresh.last_reload.full
    return snap


def _point(tw: Township, grid: str = "DL-01-01") -> dict:
    p = tw.gridset.geometry(grid).representative_point()
    return {"lon": p.x, "lat": p.y}


def test_incremental_reload_equals_a_full_load(town):
    tw = Township(town.engine, town.gridset)
    first = tw.snapshot()
    assert tw.last_reload.full and tw.last_reload.case_rows == len(first.cases) > 0
    before = first.cases.copy()
    # Through the real code paths: a new case, a re-sent one (ingest's update), a workflow move.
    new_id = write_cases(tw.engine, tw.gridset, [CaseIn(source="patrol", type="hazard", domain="safety",
                                                         title="增量测试", **_point(tw))])[0].id
    resent = first.cases.iloc[1]
    with Session(tw.engine) as s:
        stored = s.get(Case, int(resent["id"]))
        item = CaseIn(source=stored.source, external_id=stored.external_id, type=stored.type, domain=stored.domain,
                      title="重新报送", lon=stored.lon, lat=stored.lat, status=stored.status, tier=stored.tier)
    write_cases(tw.engine, tw.gridset, [item])
    moved_id = int(first.cases.loc[first.cases["status"].isin(OPEN).to_numpy(), "id"].iloc[-1])
    apply_move(tw.engine, moved_id, "cancel", Actor("指挥中心", "command"), reason="测试撤销")
    # And warnings: a new one (with the grids it reaches) and an acknowledged one.
    fire = WarningIn(source="test", type="fire", level=2, title="增量预警", radius_m=1500, **_point(tw))
    new_warning = write_warnings(tw.engine, tw.gridset, [fire])[0].id
    active = first.warnings.loc[first.warnings["status"] == "active", "id"]
    moved = move_warning(tw.engine, tw.gridset, int(active.iloc[0]), "acknowledge", Actor("测试", "command"))
    assert (moved.from_status, moved.to_status) == ("active", "acknowledged")

    snap = tw.snapshot()
    assert not tw.last_reload.full and tw.last_reload.case_rows == 3  # only the changed cases were read
    assert snap.version == data_version(tw.engine)
    fresh = _fresh(tw)
    pd.testing.assert_frame_equal(snap.warnings, fresh.warnings)
    assert snap.warning_grids == fresh.warning_grids and snap.warning_grids[new_warning]
    # The grids of the warnings that did not change were kept, not read again.
    kept = int(active.iloc[-1])
    assert snap.warning_grids[kept] is first.warning_grids[kept]
    cases = snap.cases.set_index("id")
    assert cases.loc[new_id, "title"] == "增量测试" and cases.loc[int(resent["id"]), "title"] == "重新报送"
    assert cases.loc[moved_id, "status"] == "cancelled"
    pd.testing.assert_frame_equal(_by_id(snap.cases), _by_id(fresh.cases))
    # Ordered by id, like a full load, and the reader of the first snapshot saw nothing move.
    assert snap.cases["id"].is_monotonic_increasing and snap.cases.index.equals(pd.RangeIndex(len(snap.cases)))
    pd.testing.assert_frame_equal(first.cases, before)


def test_a_new_case_reads_no_warning_but_an_acknowledged_warning_does(town):
    """Most new data is cases: the warnings (13,000 at city scale) are read again only when one was written."""
    tw = Township(town.engine, town.gridset)
    first = tw.snapshot()
    write_cases(tw.engine, tw.gridset, [CaseIn(source="citizen", type="wish", domain="livelihood",
                                               title="只有案件", **_point(tw, "DL-03-01"))])
    snap = tw.snapshot()
    assert not tw.last_reload.full and (snap.cases["title"] == "只有案件").sum() == 1
    assert snap.warnings is first.warnings and snap.warning_grids is first.warning_grids
    active = snap.warnings.loc[snap.warnings["status"] == "active", "id"]
    moved = move_warning(tw.engine, tw.gridset, int(active.iloc[0]), "acknowledge", Actor("测试", "command"))
    assert (moved.from_status, moved.to_status) == ("active", "acknowledged")
    after = tw.snapshot()
    acknowledged = after.warnings.set_index("id").loc[int(active.iloc[0]), "status"]
    assert after.warnings is not snap.warnings and acknowledged == "acknowledged"
    pd.testing.assert_frame_equal(after.warnings, _fresh(tw).warnings)


def test_merged_categoricals_stay_categorical_and_filter_alike(town):
    tw = Township(town.engine, town.gridset)
    tw.snapshot()
    write_cases(tw.engine, tw.gridset, [CaseIn(source="citizen", type="wish", domain="livelihood",
                                               title="微心愿", **_point(tw, "DL-03-01"))])
    snap = tw.snapshot()
    assert not tw.last_reload.full
    fresh = _fresh(tw)
    for col in CATEGORICAL:
        assert isinstance(snap.cases[col].dtype, pd.CategoricalDtype), col
        assert snap.cases[col].dtype == fresh.cases[col].dtype, col
    now = utcnow()
    for state in (FilterState(window="all"), FilterState(village=["DL-03", "DL-13"], domain=["livelihood"],
                                                         status=["reported", "closed"], window="30d", level=3),
                  FilterState(type=["wish", "hazard"], measure="overdue", level=3)):
        a, b = make_view(snap, tw.gridset, state, now), make_view(fresh, tw.gridset, state, now)
        pd.testing.assert_frame_equal(_by_id(a.cases), _by_id(b.cases))
        assert a.headline == b.headline
        for level in (1, 2, 3):
            assert a.levels[level][0] == b.levels[level][0]
            assert all(np.array_equal(x, y) for x, y in zip(a.levels[level][1:], b.levels[level][1:], strict=True))


def test_a_value_outside_the_categories_is_kept(town):
    tw = Township(town.engine, town.gridset)
    first = tw.snapshot()
    case_id = int(first.cases["id"].iloc[0])
    # A status this version does not know (as a newer app server sharing the store might write).
    with session_scope(tw.engine) as s:
        row = s.get(Case, case_id)
        row.status = "suspended"
        row.version = bump_version(s)
    snap = tw.snapshot()
    assert not tw.last_reload.full
    status = snap.cases["status"]
    assert isinstance(status.dtype, pd.CategoricalDtype) and "suspended" in status.cat.categories
    assert snap.cases.loc[snap.cases["id"] == case_id, "status"].tolist() == ["suspended"]
    assert status.notna().all()
    pd.testing.assert_frame_equal(_by_id(snap.cases), _by_id(_fresh(tw).cases))
    with session_scope(tw.engine) as s:  # put it back for the other tests
        row = s.get(Case, case_id)
        row.status = first.cases["status"].iloc[0]
        row.version = bump_version(s)


def test_categorical_extends_its_categories():
    dtype = pd.CategoricalDtype(["a", "c"])
    cat, grown = categorical(["c", None, "b", "a"], dtype)
    assert list(grown.categories) == ["a", "b", "c"] and cat.tolist()[0] == "c" and cat.tolist()[2:] == ["b", "a"]
    assert pd.isna(cat[1])
    same, kept = categorical(("a", "c"), dtype)
    assert kept is dtype and same.tolist() == ["a", "c"]


def test_rows_written_without_a_version_force_a_full_load(town):
    """township.runtime.demo seeds cases at version 0, and a delete moves no version: the row count catches both."""
    tw = Township(town.engine, town.gridset)
    first = tw.snapshot()
    template = first.cases.iloc[0]
    with session_scope(tw.engine) as s:
        stale = Case(source="patrol", external_id="NO-VERSION-1", type="hazard", domain="safety", status="reported",
                     tier="grid", max_tier="grid", title="无版本", grid_id=template["grid_id"],
                     village_id=template["village_id"], lon=template["lon"], lat=template["lat"],
                     reported_at=utcnow(), updated_at=utcnow(), deadline_at=utcnow() + timedelta(days=3))
        s.add(stale)
        bump_version(s)
    snap = tw.snapshot()
    assert tw.last_reload.full and (snap.cases["title"] == "无版本").sum() == 1
    with session_scope(tw.engine) as s:
        s.execute(delete(CaseEvent).where(CaseEvent.case_id == stale.id))
        s.execute(delete(Case).where(Case.id == stale.id))
        bump_version(s)
    snap = tw.snapshot()
    assert tw.last_reload.full and (snap.cases["title"] == "无版本").sum() == 0
    pd.testing.assert_frame_equal(snap.cases, _fresh(tw).cases)
    # The same for a warning and the grids it reaches.
    with session_scope(tw.engine) as s:
        w = Warning(source="test", external_id="NO-VERSION-W", type="gale", level=3, status="active", title="无版本",
                    lon=template["lon"], lat=template["lat"], radius_m=500, grid_id=template["grid_id"],
                    village_id=template["village_id"], issued_at=utcnow(), updated_at=utcnow())
        s.add(w)
        s.flush()
        s.add(WarningGrid(warning_id=w.id, grid_id=template["grid_id"]))
        bump_version(s)
    snap = tw.snapshot()
    assert snap.warning_grids[w.id] == [template["grid_id"]]
    assert snap.warning_grids == _fresh(tw).warning_grids


def test_new_grids_force_a_full_load(town):
    """Installing a grid file re-locates every case without moving its version."""
    tw = Township(town.engine, town.gridset)
    tw.snapshot()
    with session_scope(tw.engine) as s:
        digest = s.get(Meta, "grids_digest")
        old, digest.value = digest.value, "another grid file"
        bump_version(s)
    tw.snapshot()
    assert tw.last_reload.full
    with session_scope(tw.engine) as s:
        s.get(Meta, "grids_digest").value = old
        bump_version(s)
    tw.snapshot()
    assert tw.last_reload.full


def test_readers_and_a_writer_at_once(town):
    """Threads reading while cases are written: every snapshot is whole, the last equals a full load."""
    tw = Township(town.engine, town.gridset)
    tw.snapshot()
    stop, seen, errors = threading.Event(), [], []

    def read():
        try:
            while not stop.is_set():
                snap = tw.snapshot()
                ids = snap.cases["id"].to_numpy()
                assert (np.diff(ids) > 0).all() and len(ids) == len(snap.cases)
                assert all(isinstance(snap.cases[c].dtype, pd.CategoricalDtype) for c in CATEGORICAL)
                seen.append(snap.version)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for n in range(8):
            write_cases(tw.engine, tw.gridset, [CaseIn(source="sensor", type="hazard", domain="safety",
                                                       title=f"并发 {n}", **_point(tw))])
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors
    assert len(set(seen)) > 1
    final = tw.snapshot()
    assert not tw.last_reload.full
    pd.testing.assert_frame_equal(final.cases, _fresh(tw).cases)


def test_grid_measures_add_up_per_grid_village_and_town_over_several_towns():
    from bench.scale import SizeSpec, make_grid_features
    from township.grids.validate import parse_grid_geojson
    from township.read.views import leaf_counts, level_values

    extent = (110.6, 39.7, 110.9, 39.9)
    spec = SizeSpec("test", cases=0, towns=3, villages_per_town=3, nx=12, ny=9, extent=extent, seed=3)
    gs = parse_grid_geojson({"type": "FeatureCollection", "features": make_grid_features(spec)})
    assert len(gs.ids(level=1)) == 3
    rng = np.random.default_rng(1)
    n = 5000
    lon, lat = rng.uniform(extent[0] - 0.02, extent[2], n), rng.uniform(extent[1], extent[3] + 0.02, n)
    cases = pd.DataFrame({"grid_id": gs.locate(lon, lat), "status": rng.choice(["reported", "closed"], n)})
    assert cases["grid_id"].isna().any()  # some fall outside every grid, and count nowhere
    open_ = (cases["status"] == "reported").to_numpy()
    leaf = leaf_counts(cases, gs, open_)
    # categorical columns count alike, with the grid set's categories or with others of the same number
    fixed = cases.astype({"grid_id": pd.CategoricalDtype(gs.ids(level=3))})
    assert np.array_equal(leaf_counts(fixed, gs, open_), leaf)
    leaves = gs.ids(level=3)
    others = pd.CategoricalDtype(["X-unknown", *leaves[:-1]])  # one grid missing
    other = cases.assign(grid_id=cases["grid_id"].where(cases["grid_id"].isin(others.categories)).astype(others))
    expected = leaf.copy()
    expected[-1] = 0
    assert np.array_equal(leaf_counts(other, gs, open_), expected)

    def ancestor(grid: str, level: int) -> str:
        while gs.level(grid) > level:
            grid = gs.parent(grid)
        return grid

    for level in (1, 2, 3):
        ids = gs.ids(level=level)
        located = cases.loc[open_ & cases["grid_id"].notna().to_numpy(), "grid_id"]
        by_case = located.map(lambda g, level=level: ancestor(g, level))
        expected = by_case.value_counts().reindex(ids, fill_value=0).to_numpy(float)
        assert np.array_equal(level_values(gs, ids, leaf, "open"), expected), level
        assert np.array_equal(level_values(gs, ids[::2], leaf, "open"), expected[::2]), level
        areas = np.array([gs.area_km2(g) for g in ids])
        assert np.allclose(level_values(gs, ids, leaf, "density"), expected / areas), level
