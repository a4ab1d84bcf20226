"""Hotspots (Getis-Ord Gi*), recurrence (Mann-Kendall, repeat spots) and the monthly evaluation.

Expected values are derived here independently of `township.read.hotspots` and
`township.read.evaluation`: the weights and G_Local built in the test from the
grid file's polygons, Benjamini-Hochberg spelt out as a loop, months bounded
with zoneinfo, counts made by SQL, distances with pyproj.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import requests
import shapely
from sqlalchemy import text

from township.grids.validate import load_grid_file
from township.read.evaluation import evaluate, evaluation_for, month_bounds
from township.read.hotspots import (
    HotspotModel,
    analyse,
    in_window,
    mann_kendall,
    repeat_spots,
    trend_label,
)

ROOT = Path(__file__).resolve().parents[1]
GRIDS = ROOT / "geodata" / "dalu_grids.geojson"
NOW = datetime(2026, 6, 15, 4, 0)  # naive UTC, as the store keeps times
BEIJING = ZoneInfo("Asia/Shanghai")
TIMEOUT = 120


@pytest.fixture(scope="module")
def gridset():
    return load_grid_file(GRIDS)


@pytest.fixture(scope="module")
def model():
    return HotspotModel()


def leaf_polygons() -> tuple[list[str], list]:
    """The level-3 grids straight from the file (not through the GridSet), in id order."""
    features = [f for f in json.loads(GRIDS.read_text())["features"] if f["properties"]["level"] == 3]
    features.sort(key=lambda f: f["properties"]["grid_id"])
    return [f["properties"]["grid_id"] for f in features], [shapely.geometry.shape(f["geometry"]) for f in features]


def touching(ids: list[str], polys: list, focus: set[str]) -> set[str]:
    """Grids sharing at least a point with any of ``focus`` (shapely, in the test)."""
    tree = shapely.STRtree(polys)
    out = set(focus)
    for g in focus:
        for j in tree.query(polys[ids.index(g)], predicate="intersects"):
            out.add(ids[int(j)])
    return out


def cases_frame(per_grid: dict[str, int], rng: np.random.Generator, days: float = 80) -> pd.DataFrame:
    """``per_grid[g]`` cases in each grid, reported at random within ``days`` before NOW, no points."""
    rows = [(g, NOW - timedelta(days=float(rng.uniform(0, days)))) for g, n in per_grid.items() for _ in range(n)]
    return pd.DataFrame({"id": np.arange(len(rows)), "grid_id": [r[0] for r in rows],
                         "reported_at": pd.array([r[1] for r in rows], dtype="datetime64[us]"),
                         "lon": np.nan, "lat": np.nan})


def bh(p: np.ndarray, alpha: float) -> set[int]:
    """Benjamini-Hochberg as the textbook says it: reject the k smallest, k the largest with p_(k) <= k/n·alpha."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    k = 0
    for rank, i in enumerate(order, 1):
        if p[i] <= rank / len(p) * alpha:
            k = rank
    return set(order[:k])


# -- Gi* ---------------------------------------------------------------------------------------------

def test_a_planted_cluster_comes_out_hot_at_99(gridset, model):
    ids, polys = leaf_polygons()
    block = touching(ids, polys, touching(ids, polys, {"DL-05-03"}))  # a grid and two rings around it
    assert len(block) >= 15
    rng = np.random.default_rng(7)
    cases = cases_frame({g: 25 if g in block else int(rng.poisson(2)) for g in ids}, rng)
    result = analyse(model, gridset, cases, np.ones(len(cases), bool), NOW, "90d")
    bins = dict(zip(result.frame["grid_id"], result.frame["bin"], strict=True))
    inner = touching(ids, polys, {"DL-05-03"})
    assert {g for g in inner if bins[g] != 3} == set(), "the cluster's core is not hot at 99 %"
    assert {g for g in ids if bins[g] > 0} <= touching(ids, polys, block), "a hot grid far from the cluster"
    hot = result.hot()
    assert list(hot["bin"]) == sorted(hot["bin"], reverse=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_uniform_field_has_no_hot_grid_after_fdr(gridset, model, seed):
    ids, _ = leaf_polygons()
    rng = np.random.default_rng(seed)
    cases = cases_frame({g: int(rng.poisson(6)) for g in ids}, rng)
    result = analyse(model, gridset, cases, np.ones(len(cases), bool), NOW, "90d")
    assert not (result.frame["bin"] > 0).any(), result.hot()


def test_the_hot_list_is_what_esda_gives(gridset, model):
    from esda.getisord import G_Local
    from libpysal.weights import Queen
    from libpysal.weights.util import fill_diagonal

    ids, polys = leaf_polygons()
    block = touching(ids, polys, touching(ids, polys, {"DL-10-02"}))
    rng = np.random.default_rng(11)
    cases = cases_frame({g: int(rng.poisson(18 if g in block else 3)) for g in ids}, rng)
    result = analyse(model, gridset, cases, np.ones(len(cases), bool), NOW, "90d")

    y = np.array([(cases["grid_id"] == g).sum() for g in ids], dtype=float)
    w = fill_diagonal(Queen.from_iterable(polys, ids=ids), 1.0)
    g = G_Local(y, w, transform="B", permutations=999, star=None, seed=12345)
    expected: dict[str, int] = {}
    for level, conf in ((3, 0.99), (2, 0.95), (1, 0.90)):
        for i in bh(2 * g.p_norm, 1 - conf):  # esda's p_norm is one-sided
            expected.setdefault(ids[i], level * int(np.sign(g.Zs[i])))
    hot = {gid: b for gid, b in expected.items() if b > 0}
    assert hot, "the test's cluster gave no hot grid"
    got = result.hot()
    assert dict(zip(got["grid_id"], got["bin"], strict=True)) == hot
    np.testing.assert_allclose(result.frame["z"], g.Zs)
    np.testing.assert_allclose(result.frame["p"], 2 * g.p_norm)
    np.testing.assert_allclose(result.frame["p_sim"], g.p_sim)


def test_the_window_start_is_in_a_second_before_is_out(gridset, model):
    start = NOW - timedelta(days=30)
    times = pd.Series(pd.array([start, start - timedelta(seconds=1), NOW, NOW + timedelta(seconds=1)],
                               dtype="datetime64[us]"))
    assert in_window(times, NOW, 30).tolist() == [True, False, True, False]
    cases = pd.DataFrame({"id": [1, 2], "grid_id": ["DL-01-01", "DL-01-01"], "lon": np.nan, "lat": np.nan,
                          "reported_at": pd.array([start, start - timedelta(seconds=1)], dtype="datetime64[us]")})
    frame = analyse(model, gridset, cases, np.ones(2, bool), NOW, "30d").frame
    assert int(frame.loc[frame["grid_id"] == "DL-01-01", "count"].iloc[0]) == 1


def test_a_rate_needs_households_and_unknown_choices_are_named(gridset, model):
    cases = cases_frame({"DL-01-01": 3}, np.random.default_rng(0))
    rate = analyse(model, gridset, cases, np.ones(3, bool), NOW, "90d", "rate").frame
    households = gridset.props("DL-01-01")["households"]
    assert rate.loc[rate["grid_id"] == "DL-01-01", "value"].iloc[0] == pytest.approx(3 / households * 100)
    with pytest.raises(ValueError, match="window='7d'"):
        analyse(model, gridset, cases, np.ones(3, bool), NOW, "7d")
    with pytest.raises(ValueError, match="measure='density'"):
        analyse(model, gridset, cases, np.ones(3, bool), NOW, "90d", "density")


# -- recurrence --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("series", "word"), [
    ([0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6], "intensifying"),
    ([7, 6, 6, 5, 4, 4, 3, 2, 2, 1, 0, 0], "diminishing"),
    ([0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 3], "new"),
    ([3, 2, 3, 3, 2, 3, 2, 3, 3, 2, 3, 2], "persistent"),
    ([1, 0, 0, 2, 0, 0, 1, 0, 0, 0, 1, 0], "sporadic"),
    ([0] * 12, None),
])
def test_trend_labels(series, word):
    assert trend_label(np.array(series)) == word


def test_mann_kendall_agrees_with_kendalls_tau():
    # Without ties, S = tau·n(n-1)/2, and the sign and significance follow Kendall's tau against time.
    from scipy.stats import kendalltau

    x = np.array([3.0, 5, 4, 8, 7, 9, 12, 10, 14, 13, 15, 18])
    z, p = mann_kendall(x)
    tau, p_tau = kendalltau(np.arange(x.size), x)
    assert z > 0 and tau > 0 and p < 0.05 and p_tau < 0.05
    n = x.size
    s = tau * n * (n - 1) / 2
    assert z == pytest.approx((s - 1) / np.sqrt(n * (n - 1) * (2 * n + 5) / 18))


def test_repeat_spots_within_50_m_and_30_days():
    import pyproj

    to_m = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)
    x0, y0 = to_m.transform(110.06, 39.95)
    east = to_m.transform(x0 + 40, y0, direction="INVERSE")
    west = to_m.transform(x0 - 60, y0, direction="INVERSE")
    t0 = datetime(2026, 5, 1, 2, 0)
    rows = [  # id, (lon, lat), reported
        (1, (110.06, 39.95), t0),
        (2, east, t0 + timedelta(days=30)),  # 40 m from 1, exactly 30 days after it: a repeat
        (3, east, t0 + timedelta(days=60, seconds=1)),  # where 2 was, 30 days and a second after it: not
        (4, west, t0 + timedelta(days=1)),  # 60 m from 1: not the same spot
    ]
    cases = pd.DataFrame({"id": [r[0] for r in rows], "lon": [r[1][0] for r in rows],
                          "lat": [r[1][1] for r in rows],
                          "reported_at": pd.array([r[2] for r in rows], dtype="datetime64[us]"),
                          "grid_id": ["DL-01-01"] * 4})
    found = repeat_spots(cases, np.ones(4, bool))
    assert found["id"].tolist() == [2] and found["earlier_id"].tolist() == [1]
    assert found["distance_m"].iloc[0] == pytest.approx(40, abs=0.01)
    assert found["days"].iloc[0] == 30


# -- the monthly evaluation ----------------------------------------------------------------------------

def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=BEIJING).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def test_a_case_closed_at_235959_beijing_counts_in_its_month():
    deadline = _utc(datetime(2026, 4, 30, 23, 59, 59))
    frame = pd.DataFrame({
        "id": [1, 2], "village_id": ["DL-01", "DL-02"], "grid_id": ["DL-01-01", "DL-02-01"], "handler": ["甲", "乙"],
        "status": ["closed", "closed"], "max_tier": ["grid", "grid"],
        "deadline_at": pd.array([deadline, deadline], dtype="datetime64[us]"),
        "resolved_at": pd.array([deadline, _utc(datetime(2026, 5, 1))], dtype="datetime64[us]"),
    })
    feedback = pd.DataFrame({"case_id": pd.array([], dtype="int64"), "satisfied": pd.array([], dtype="bool"),
                             "reopened": pd.array([], dtype="bool")})
    april = evaluate(frame, "village", 2026, 4, feedback).table
    assert april.loc["DL-01", ["due", "closed", "ontime", "resolved"]].tolist() == [1, 1, 1, 1]
    assert april.loc["DL-02", ["due", "closed", "resolved"]].tolist() == [1, 0, 0]
    may = evaluate(frame, "village", 2026, 5, feedback).table
    assert "DL-01" not in may.index and may.loc["DL-02", "resolved"] == 1
    assert month_bounds(2026, 5) == (_utc(datetime(2026, 5, 1)), _utc(datetime(2026, 6, 1)))


#: Per village, a month's counts of the evaluation by SQL: due, done by the month's end, done by the deadline,
#: resolved in the month, of those never beyond the village tier (tests/test_movers.py ranks by them too).
MONTH_COUNTS = text("""
    SELECT village_id,
           sum(CASE WHEN deadline_at >= :s AND deadline_at < :e THEN 1 ELSE 0 END),
           sum(CASE WHEN deadline_at >= :s AND deadline_at < :e AND resolved_at IS NOT NULL
                    AND resolved_at < :e THEN 1 ELSE 0 END),
           sum(CASE WHEN deadline_at >= :s AND deadline_at < :e AND resolved_at IS NOT NULL
                    AND resolved_at <= deadline_at THEN 1 ELSE 0 END),
           sum(CASE WHEN resolved_at >= :s AND resolved_at < :e THEN 1 ELSE 0 END),
           sum(CASE WHEN resolved_at >= :s AND resolved_at < :e AND max_tier IN ('grid', 'village')
                    THEN 1 ELSE 0 END)
    FROM cases WHERE village_id IS NOT NULL AND village_id != '' GROUP BY village_id""")


def sql_month_counts(engine, start: datetime, end: datetime) -> dict[str, tuple[int, int, int, int, int]]:
    """:data:`MONTH_COUNTS` between ``start`` and ``end`` (naive UTC), per village (every village with cases)."""
    with engine.connect() as conn:
        return {r[0]: tuple(int(v or 0) for v in r[1:]) for r in conn.execute(MONTH_COUNTS, {"s": start, "e": end})}


@pytest.mark.store
def test_monthly_figures_equal_sql_counts(township_ctx):
    from township.read.resident import feedback_frame

    tw = township_ctx.township
    snap = tw.snapshot()
    year, month = 2026, 1
    last = snap.cases["resolved_at"].max()
    year, month = last.year, last.month  # a month of the demo year with cases in it
    ev = evaluate(snap.cases, "village", year, month, feedback_frame(tw.engine)).table
    start = _utc(datetime(year, month, 1))
    end = _utc(datetime(year + (month == 12), month % 12 + 1, 1))
    expected = {v: r for v, r in sql_month_counts(tw.engine, start, end).items() if r[0] or r[3]}
    got = {v: tuple(int(x) for x in ev.loc[v, ["due", "closed", "ontime", "resolved", "in_village"]])
           for v in ev.index}
    assert got == expected
    assert ev["rank"].tolist() == list(range(1, len(ev) + 1))


@pytest.mark.store
def test_the_wall_is_not_shown_handlers_and_a_village_its_own(township_ctx):
    from township.read.api import Viewer
    from township.read.evaluation import EvaluationRefused
    from township.read.resident import feedback_frame

    tw = township_ctx.township
    cases = tw.snapshot().cases
    last = cases["resolved_at"].max()
    feedback = feedback_frame(tw.engine)
    with pytest.raises(EvaluationRefused):
        evaluation_for(cases, Viewer(role="wall"), "handler", last.year, last.month, feedback)
    own = evaluation_for(cases, Viewer(role="village", village_id="DL-03"), "grid", last.year, last.month, feedback)
    assert own.table.index.str.startswith("DL-03-").all() and len(own.table)


# -- the API and the page ------------------------------------------------------------------------------

@pytest.mark.store
def test_the_api_scopes_a_village_token_to_its_grids(api_server):
    def get(query: str, role: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {api_server.tokens[role]}"} if role else {}
        return requests.get(f"{api_server.url}/api/v1/hotspots{query}", headers=headers, timeout=TIMEOUT)

    whole = get("?window=365d", "wall")
    assert whole.status_code == 200, whole.text
    items = whole.json()["items"]
    with api_server.engine.connect() as conn:
        leaf = {r[0] for r in conn.execute(text("SELECT grid_id FROM grids WHERE level = 3"))}
    assert {i["grid_id"] for i in items} == leaf
    assert set(items[0]) == {"grid_id", "village_id", "count", "value", "z", "p", "p_sim", "bin", "trend",
                             "repeats"}
    own = get("?window=365d", "village").json()["items"]
    assert own and {i["village_id"] for i in own} == {"DL-03"}
    # The village's grids as the whole town's analysis has them: the same numbers.
    assert own == [i for i in items if i["village_id"] == "DL-03"]
    bad = get("?window=7d&colour=red", None)
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} == {"window", "colour"}


@pytest.mark.store
def test_api_counts_equal_sql(api_server):
    r = requests.get(f"{api_server.url}/api/v1/hotspots?window=365d&domain=governance",
                     headers={"Authorization": f"Bearer {api_server.tokens['command']}"}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    now = datetime.utcnow()  # noqa: DTZ003 - naive UTC, as the store keeps times
    with api_server.engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT grid_id, count(*) FROM cases WHERE domain = 'governance' AND "
                                        "reported_at >= :s AND grid_id IS NOT NULL GROUP BY grid_id"),
                                   {"s": now - timedelta(days=365, minutes=-5)}).all())
    got = {i["grid_id"]: i["count"] for i in r.json()["items"] if i["count"]}
    assert got == counts


def test_the_analysis_page_shows_the_layer_and_legend(server, browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    pg = context.new_page()
    try:
        pg.goto(server.url + "/analysis")
        pg.wait_for_selector("#an-map .legend", timeout=90_000)
        legend = pg.locator("#an-map .legend").text_content() or ""
        assert "不显著" in legend
        fills = pg.locator("#an-map canvas")
        assert fills.count() >= 1
        pg.wait_for_selector("#an-hot table, #an-hot .an-empty", timeout=60_000)
        pg.wait_for_selector("#an-eval-table, #an-eval .an-empty", timeout=60_000)
        box = pg.locator("#an-map").bounding_box()
        assert box and box["width"] > 600 and box["height"] > 500
        assert pg.get_attribute("#an-xlsx", "href").startswith("/evaluation/monthly.xlsx?month=")
        r = requests.get(server.url + pg.get_attribute("#an-xlsx", "href"), timeout=TIMEOUT)
        assert r.status_code == 200 and r.content[:2] == b"PK"
    finally:
        context.close()


def test_z_is_the_getis_ord_z_of_the_row_standardised_weights(gridset, model):
    # Getis and Ord's Gi* z, written out here with row-standardised weights (self included): the same as the
    # z the analysis bins (docs/design.md §1a: a row's scale cancels).
    ids, polys = leaf_polygons()
    rng = np.random.default_rng(5)
    cases = cases_frame({g: int(rng.poisson(4 + 10 * (i % 7 == 0))) for i, g in enumerate(ids)}, rng)
    result = analyse(model, gridset, cases, np.ones(len(cases), bool), NOW, "90d")
    x = np.array([(cases["grid_id"] == g).sum() for g in ids], dtype=float)
    n = x.size
    tree = shapely.STRtree(polys)
    w = np.zeros((n, n))
    for i, poly in enumerate(polys):
        w[i, tree.query(poly, predicate="intersects")] = 1.0  # Queen: a shared point is enough; i itself too
    w /= w.sum(axis=1, keepdims=True)
    mean, s = x.mean(), np.sqrt((x**2).mean() - x.mean() ** 2)
    wi, wi2 = w.sum(axis=1), (w**2).sum(axis=1)
    z = (w @ x - mean * wi) / (s * np.sqrt((n * wi2 - wi**2) / (n - 1)))
    np.testing.assert_allclose(result.frame["z"], z, rtol=1e-9)
