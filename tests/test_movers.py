"""The wall's movers: each village's change of rank in this Beijing month's evaluation, against SQL.

The expected ranks are made here, independently of `township.read.evaluation`: the
months bounded with zoneinfo, the counts by SQL over the store, the ranking rule
(按期结案率, then 结案率, then fewer due cases left open, then id) spelt out in Python.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.engine import Engine

from callbacks.wall import month_evaluation
from tests.conftest import ARTIFACTS, LiveServer
from tests.test_hotspots import sql_month_counts
from township.config import Settings
from township.read.views import make_view
from township.runtime.bootstrap import open_township
from township.store.engine import make_engine
from township.store.models import Case, bump_version
from township.store.uow import session_scope
from ui import wall as wall_ui

BEIJING, UTC = ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC")
#: This month is June 2026 in Beijing, last month May.
NOW = datetime(2026, 6, 15, 4, 0)


def utc(local: datetime) -> datetime:
    """A Beijing wall-clock time as the store keeps times (naive UTC)."""
    return local.replace(tzinfo=BEIJING).astimezone(UTC).replace(tzinfo=None)


def beijing_month(now: datetime) -> tuple[int, int]:
    local = now.replace(tzinfo=UTC).astimezone(BEIJING)
    return local.year, local.month


def bounds(year: int, month: int) -> tuple[datetime, datetime]:
    return utc(datetime(year, month, 1)), utc(datetime(year + month // 12, month % 12 + 1, 1))


def sql_ranks(engine: Engine, year: int, month: int) -> dict[str, int]:
    """Villages ranked for a Beijing month from SQL counts (tests/test_hotspots.py): due, done by the month's end,
    done by the deadline."""
    counts = sql_month_counts(engine, *bounds(year, month))
    ranked = [(v, due, closed, ontime) for v, (due, closed, ontime, resolved, _) in counts.items() if due or resolved]

    def key(row: tuple) -> tuple:
        v, due, closed, ontime = row
        # a unit with nothing due has no rates: after every one that has
        return (0, -ontime / due, -closed / due, due - closed, v) if due else (1, 0, 0, 0, v)

    return {row[0]: i for i, row in enumerate(sorted(ranked, key=key), 1)}


def expected_moves(engine: Engine, now: datetime) -> tuple[dict[str, str], list[str], list[str]]:
    """Per village of this month: ▲n / ▼n / — / 新; the biggest movers up and down (ties all, this month's order)."""
    year, month = beijing_month(now)
    this = sql_ranks(engine, year, month)
    last = sql_ranks(engine, *((year - 1, 12) if month == 1 else (year, month - 1)))
    change = {v: (last[v] - r if v in last else None) for v, r in this.items()}
    text_of = {v: "新" if c is None else f"▲{c}" if c > 0 else f"▼{-c}" if c < 0 else "—" for v, c in change.items()}
    moved = [c for c in change.values() if c is not None]
    order = sorted(this, key=this.get)
    up = [v for v in order if moved and max(moved) > 0 and change[v] == max(moved)]
    down = [v for v in order if moved and min(moved) < 0 and change[v] == min(moved)]
    return text_of, up, down


def shown_moves(component) -> tuple[dict[str, str], dict[str, str], list[str], list[str]]:
    """From the wall's ranking (a Dash component tree): per village row its move text and row class; the names
    under the table, up and down."""
    moves, classes, lines = {}, {}, {"up": [], "down": []}

    def text_of(c) -> str:
        if isinstance(c, str):
            return c
        kids = getattr(c, "children", None)
        kids = kids if isinstance(kids, list) else [] if kids is None else [kids]
        return "".join(text_of(k) for k in kids)

    def walk(c) -> None:
        if isinstance(c, str) or c is None:
            return
        props = c.to_plotly_json()["props"]
        if "data-village" in props:
            cells = props["children"]
            moves[props["data-village"]] = text_of(cells[5]) if len(cells) > 5 else ""
            classes[props["data-village"]] = props.get("className", "")
            return
        cls = props.get("className") or ""
        if cls.startswith("mv-line "):
            lines[cls.split()[1]] = [text_of(n) for n in props["children"][1:]]
            return
        kids = props.get("children")
        for k in kids if isinstance(kids, list) else [kids]:
            walk(k)

    walk(component)
    return moves, classes, lines["up"], lines["down"]


def add_case(s, cid: int, village: str, deadline: datetime, resolved: datetime | None) -> None:
    """One case of ``village``'s first grid, reported three days before its deadline; done when ``resolved``."""
    s.add(Case(id=cid, source="patrol", type="hazard", domain="safety", status="closed" if resolved else "dispatched",
               tier="grid", max_tier="grid", title="测试", grid_id=f"{village}-01", village_id=village,
               reported_at=deadline - timedelta(days=3), updated_at=deadline, deadline_at=deadline,
               resolved_at=resolved))


def test_the_movers_equal_ranks_from_sql_across_the_beijing_month_boundary(store_url):
    ctx = open_township(Settings(database_url=store_url, role="command", seed_demo=False))
    tw, gs = ctx.township, ctx.township.gridset
    engine = tw.engine
    may_end = utc(datetime(2026, 5, 31, 23, 59, 59))  # the last second of May in Beijing (15:59:59 UTC)
    june = utc(datetime(2026, 6, 1, 0, 0, 0))  # the first of June in Beijing (still 31 May in UTC)
    mid_may, mid_june, july = utc(datetime(2026, 5, 15, 12)), utc(datetime(2026, 6, 10, 12)), utc(datetime(2026, 7, 5))
    with session_scope(engine) as s:
        add_case(s, 1, "DL-01", mid_may, mid_may - timedelta(hours=5))  # May: on time
        add_case(s, 2, "DL-02", may_end, may_end)  # A: May, on time, closed at 23:59:59
        add_case(s, 3, "DL-02", mid_may, None)  # May: open
        add_case(s, 4, "DL-03", mid_may, mid_may + timedelta(days=2))  # May: late
        add_case(s, 5, "DL-05", mid_may, None)
        add_case(s, 6, "DL-01", mid_june, None)  # June: open
        add_case(s, 7, "DL-02", mid_june, mid_june - timedelta(days=1))  # June: on time
        add_case(s, 8, "DL-03", june, june)  # B: June, on time, closed at 00:00:00
        add_case(s, 9, "DL-03", mid_june, None)
        add_case(s, 10, "DL-05", mid_june, None)
        add_case(s, 11, "DL-04", july, mid_june)  # done in June, due in July: ranked in June only
        bump_version(s)

    def wall_ranking():
        snap = tw.snapshot()
        view = make_view(snap, gs, wall_ui.state_for("zh"), now=NOW)
        return wall_ui.ranking_table(view, gs, "zh", month_evaluation(ctx, snap, view))

    moves, classes, up, down = shown_moves(wall_ranking())
    want, want_up, want_down = expected_moves(engine, NOW)
    # the planted months, by hand: May DL-01 > DL-02 (A on time) > DL-03 > DL-05; June DL-02 > DL-03 (B on time)
    # > DL-01 > DL-05 (tie: by id) > DL-04 (nothing due)
    assert want == {"DL-01": "▼2", "DL-02": "▲1", "DL-03": "▲1", "DL-04": "新", "DL-05": "—"}
    assert moves == want
    assert (want_up, want_down) == (["DL-02", "DL-03"], ["DL-01"])
    assert up == [f"{gs.props(v)['name']} {want[v]}" for v in want_up]
    assert down == [f"{gs.props(v)['name']} {want[v]}" for v in want_down]
    assert {v for v, c in classes.items() if c == "mover-up"} == set(want_up)
    assert {v for v, c in classes.items() if c == "mover-down"} == set(want_down)

    # a second later A is June's, a second earlier B is May's: the movers follow
    with session_scope(engine) as s:
        version = bump_version(s)  # the rows carry it, so the snapshot reads them again
        s.execute(update(Case).where(Case.id == 2).values(deadline_at=june, resolved_at=june, version=version))
        s.execute(update(Case).where(Case.id == 8).values(deadline_at=may_end, resolved_at=may_end, version=version))
    moves, classes, up, down = shown_moves(wall_ranking())
    want, want_up, want_down = expected_moves(engine, NOW)
    assert want == {"DL-01": "▼1", "DL-02": "▲2", "DL-03": "▼1", "DL-04": "新", "DL-05": "—"}
    assert moves == want
    assert (want_up, want_down) == (["DL-02"], ["DL-01", "DL-03"])
    assert up == [f"{gs.props(v)['name']} {want[v]}" for v in want_up]
    assert down == [f"{gs.props(v)['name']} {want[v]}" for v in want_down]
    ctx.township.engine.dispose()


def test_the_wall_shows_the_arrows(tmp_path, browser):
    srv = LiveServer(tmp_path, {"DEMO_FEED": "0"}).start()
    engine = make_engine(srv.database_url)
    try:
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=1, locale="zh-CN")
        page = context.new_page()
        page.goto(srv.url + "/wall")
        page.wait_for_selector(".wall-rank-table tbody tr[data-village]", timeout=60000)
        want, want_up, want_down = expected_moves(engine, datetime.now(UTC).replace(tzinfo=None))
        rows = page.evaluate("""() => [...document.querySelectorAll('.wall-rank-table tbody tr[data-village]')]
            .map(r => [r.dataset.village, (r.querySelector('.mv-cell') || {}).innerText || '', r.className])""")
        assert rows and len(want) >= 2  # the demo year has this month's and last month's cases
        for village, shown, cls in rows:
            assert shown.strip() == want.get(village, ""), (village, shown)
            assert cls == ("mover-up" if village in want_up else "mover-down" if village in want_down else "")
        assert any(shown.strip()[:1] in ("▲", "▼") for _, shown, _ in rows)  # a demo month has movers
        # the arrows are seen: each change's colour differs for up and down, and the movers are named
        colors = page.evaluate("""() => Object.fromEntries(['up', 'down'].map(k => {
            const e = document.querySelector('.wall-rank-table .mv.' + k);
            return [k, e && getComputedStyle(e).color]; }))""")
        if any(w.startswith("▲") for w in want.values()) and any(w.startswith("▼") for w in want.values()):
            assert colors["up"] and colors["down"] and colors["up"] != colors["down"]
        movers = page.inner_text(".mv-movers")
        names = {r[0]: page.inner_text(f"tr[data-village='{r[0]}'] td.name") for r in rows}
        for v in want_up + want_down:
            if v in names:
                assert f"{names[v]} {want[v]}" in movers, movers
        # readable from five metres: the change is as large as the table's other figures, inside the panel
        size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.wall-rank-table .mv'))"
                             ".fontSize)")
        assert size >= 1920 / 100
        box, panel = page.locator(".mv-movers").bounding_box(), page.locator(".wall-rank").bounding_box()
        assert box["y"] + box["height"] <= panel["y"] + panel["height"] + 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "wall-movers.png"))
        context.close()
    finally:
        engine.dispose()
        srv.stop()


def test_a_new_rating_shows_on_the_walls_kept_evaluation(store_url):
    """The evaluation is kept per data version: a 回访 不满意 (which reopens its case) shows on the next refresh,
    the moves equal to ranks from SQL after the write."""
    from township.loop.resident import answer_revisit
    from township.read.resident import code_hash
    from township.store.models import ResidentTrack
    from township.store.uow import UnitOfWork

    ctx = open_township(Settings(database_url=store_url, role="command", seed_demo=False))
    tw, gs, engine = ctx.township, ctx.township.gridset, ctx.township.engine
    mid_may, june_10, june_12, june_20 = (utc(datetime(2026, m, d, 12)) for m, d in ((5, 15), (6, 10), (6, 12),
                                                                                      (6, 20)))
    with session_scope(engine) as s:
        add_case(s, 1, "DL-01", mid_may, mid_may - timedelta(hours=5))  # May: on time
        add_case(s, 2, "DL-02", mid_may, mid_may + timedelta(days=2))  # May: late
        add_case(s, 3, "DL-01", june_20, june_12)  # June: on time, answered below
        add_case(s, 4, "DL-02", june_10, june_10 + timedelta(days=1))  # June: late
        s.add(ResidentTrack(case_id=3, code_sha256=code_hash("R-3"), kind="report", created_at=june_12))
        bump_version(s)

    def wall_ranking():
        snap = tw.snapshot()
        view = make_view(snap, gs, wall_ui.state_for("zh"), now=NOW)
        assert month_evaluation(ctx, snap, view) is month_evaluation(ctx, snap, view)  # kept, not made again
        return wall_ui.ranking_table(view, gs, "zh", month_evaluation(ctx, snap, view))

    before = shown_moves(wall_ranking())[0]
    assert before == expected_moves(engine, NOW)[0] == {"DL-01": "—", "DL-02": "—"}
    with UnitOfWork(engine) as uow:  # three days after 办结: 不满意 reopens the case (返工)
        assert answer_revisit(uow, "R-3", False, "没修好", reopen_days=7, now=NOW).reopened
        uow.commit()
    after = shown_moves(wall_ranking())[0]
    want = expected_moves(engine, NOW)[0]
    # DL-01's June case is open again: DL-02 (closed, though late) now ranks above it
    assert after == want and want["DL-02"] == "▲1" and after != before
    engine.dispose()
