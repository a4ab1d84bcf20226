"""Playback (township/read/playback.py): the township at a moment t, from the audit trail.

Expected values come from the store by SQL (the last status record at or before t,
counted per case) or from a timeline the test writes itself through the real use
cases (ingest, the closed loop, the warning moves), never from the index under test.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import requests
from sqlalchemy import DateTime, Integer, String, bindparam, text

from township.domain.filters import FilterState
from township.domain.isotime import LOCAL_TZ, iso
from township.domain.privacy import shown_name
from township.domain.vocab import OPEN_STATUSES
from township.formats.ingest import CaseIn, WarningIn, write_cases, write_warnings
from township.loop.warnings import move_warning
from township.loop.workflow import Actor, apply_move
from township.read.views import make_view
from township.runtime.demo import ICE_NIGHT_CASES, ICE_PREFIX
from township.store.models import utcnow

pytestmark = pytest.mark.store

COMMAND = Actor("指挥中心", "command")

#: Per case reported by :t, the status of its last status record at or before :t (ties: the later record).
STATUS_AT = text("""
    SELECT c.id, c.external_id, c.deadline_at,
           (SELECT e.to_status FROM case_events e
             WHERE e.case_id = c.id AND e.to_status IS NOT NULL AND e.at <= :t
             ORDER BY e.at DESC, e.id DESC LIMIT 1) AS status
      FROM cases c WHERE c.reported_at <= :t
""").bindparams(bindparam("t", type_=DateTime())).columns(id=Integer(), external_id=String(), deadline_at=DateTime(),
                                                        status=String())


def sql_status(engine, t: datetime) -> dict[int, tuple[str | None, str, datetime]]:
    """case id → (status at t, external id, deadline) by SQL over the trail."""
    with engine.connect() as conn:
        return {r.id: (r.status, r.external_id, r.deadline_at) for r in conn.execute(STATUS_AT, {"t": t})}


@pytest.fixture(scope="module")
def ctx(stores):
    """The app's context on a store of its own with the demo year and its ice-flood night."""
    from township.config import Settings
    from township.runtime.bootstrap import open_township

    return open_township(Settings(database_url=stores.new("playback"), role="command"))


def frame_status(frame) -> dict[int, str]:
    return dict(zip(frame.cases["id"].tolist(), frame.cases["status"].astype(str).tolist(), strict=True))


def ice_night(engine) -> tuple[datetime, datetime]:
    """The first and the last report of the seeded ice-flood night."""
    with engine.connect() as conn:
        first, last, n = conn.execute(text("SELECT min(reported_at), max(reported_at), count(*) FROM cases "
                                           "WHERE external_id LIKE :p"), {"p": ICE_PREFIX + "%"}).one()
    assert n == ICE_NIGHT_CASES
    return datetime.fromisoformat(str(first)), datetime.fromisoformat(str(last))


def test_status_at_t_is_the_trail_counted_in_sql(ctx):
    tw = ctx.township
    snap, history = tw.snapshot(), tw.history()
    first, last = ice_night(tw.engine)
    now = utcnow().replace(microsecond=0)
    moments = [first + (last - first) / 3, first + (last - first) * 2 / 3, now - timedelta(hours=1),
               now - timedelta(days=30), now - timedelta(days=200)]
    for t in moments:
        expected = sql_status(tw.engine, t)
        frame = history.snapshot_at(snap, t)
        # Every demo case has a report record at its report time, so SQL finds a status for each.
        assert None not in {s for s, _, _ in expected.values()}
        assert frame_status(frame) == {cid: s for cid, (s, _, _) in expected.items()}, t
        head = make_view(frame, tw.gridset, FilterState(window="all")).headline
        open_ = {cid for cid, (s, _, _) in expected.items() if s in OPEN_STATUSES}
        assert (head.total, head.open) == (len(expected), len(open_))
        assert head.overdue == sum(1 for cid in open_ if expected[cid][2] < t), "overdue as at t, not now"
    # The night changes as it is replayed: cases come in, and some are closed before the end.
    early = frame_status(history.snapshot_at(snap, first + timedelta(hours=1)))
    late = frame_status(history.snapshot_at(snap, now))
    ice = {cid for cid, (_, ext, _) in sql_status(tw.engine, now).items() if ext.startswith(ICE_PREFIX)}
    assert len(ice & set(early)) < len(ice & set(late)) == ICE_NIGHT_CASES
    changed = [cid for cid in ice & set(early) if early[cid] != late[cid]]
    assert changed and {late[c] for c in ice} & {"closed"} and {late[c] for c in ice} & OPEN_STATUSES


def test_the_demo_plays_no_withdrawal_after_now():
    """A demo case to be withdrawn (cancelled) an hour after its dispatch is still dispatched before then."""
    from township.runtime.demo import _Trail

    reported = datetime(2026, 12, 6, 12, 0)
    steps = [(0.0, "report", None, "reported", "上报"), (0.5, "dispatch", "reported", "dispatched", "派单给张三"),
             (0.75, "accept", "dispatched", "accepted", "张三接单")]
    cancel = reported + timedelta(hours=1.5)
    now = reported + timedelta(hours=1)
    trail = _Trail.play(reported, steps, now, "张三", "grid", cancel)
    assert trail.status == "dispatched" and max(e.at for e in trail.events) <= now
    later = _Trail.play(reported, steps, cancel, "张三", "grid", cancel)
    assert (later.status, later.events[-1].at) == ("cancelled", cancel)


@pytest.fixture(scope="module")
def timeline(ctx):
    """A case written through ingest and moved through the loop at chosen seconds, a second case with a
    deadline of its own, and a warning acknowledged and cleared: the times of each step."""
    tw, gs = ctx.township, ctx.township.gridset
    grid = "DL-03-02"
    lon, lat = (round(v, 6) for v in gs.geometry(grid).representative_point().coords[0])
    start = utcnow().replace(microsecond=0)
    t = {"reported": start - timedelta(hours=3), "deadline": start + timedelta(hours=5)}
    a, b = write_cases(tw.engine, gs, [
        CaseIn(source="patrol", external_id="PLAY-A", type="hazard", domain="safety", title="回放测试",
               lon=lon, lat=lat, reported_at=t["reported"]),
        CaseIn(source="patrol", external_id="PLAY-B", type="hazard", domain="safety", title="期限测试",
               lon=lon, lat=lat, reported_at=t["reported"], deadline_at=t["deadline"]),
    ], actor="test")
    # Moves come after the report record (written now), a step every ten minutes from an hour on.
    steps = [("dispatch", {"handler": f"H-OF-{grid}"}), ("escalate", {"reason": "升级"}),
             ("return", {"reason": "不归我管"}), ("dispatch", {"handler": "H-OF-DL-03-01"}), ("accept", {}),
             ("start", {}), ("resolve", {"result": "已处置"}), ("close", {"verification": "回访满意"})]
    at = start + timedelta(hours=1)
    for n, (move, params) in enumerate(steps):
        t[f"{move}{n}"] = at
        apply_move(tw.engine, a.id, move, COMMAND, now=at, **params)
        at += timedelta(minutes=10)
    warning = write_warnings(tw.engine, gs, [WarningIn(
        source="test", external_id="PLAY-W", type="ice_flood", level=1, title="回放预警", lon=lon, lat=lat,
        radius_m=800, issued_at=start - timedelta(hours=2))])[0]
    t["issued"] = start - timedelta(hours=2)
    t["ack"], t["clear"] = start + timedelta(minutes=30), start + timedelta(hours=4)
    move_warning(tw.engine, gs, warning.id, "acknowledge", COMMAND, now=t["ack"])
    move_warning(tw.engine, gs, warning.id, "clear", COMMAND, now=t["clear"])
    return {"a": a.id, "b": b.id, "w": warning.id, "t": t, "names": (gs.props(grid)["officer"],
                                                                        gs.props("DL-03-01")["officer"])}


def case_at(ctx, case_id: int, t: datetime, **kw) -> dict | None:
    frame = ctx.township.history().snapshot_at(ctx.township.snapshot(), t, **kw)
    rows = frame.cases[frame.cases["id"] == case_id]
    if rows.empty:
        return None
    row = rows.iloc[0].to_dict()
    row["handler"] = None if pd.isna(row["handler"]) else row["handler"]
    # Overdue as the dashboard computes it: the view of the frame, whose "now" is t.
    view = make_view(frame, ctx.township.gridset, FilterState(window="all"))
    row["overdue"] = bool(view.overdue[(view.cases["id"] == case_id).to_numpy()][0])
    return row


def test_an_event_exactly_at_t_has_happened_and_a_second_later_has_not(ctx, timeline):
    t, a, second = timeline["t"], timeline["a"], timedelta(seconds=1)
    dispatched = t["dispatch0"]
    assert case_at(ctx, a, dispatched - second)["status"] == "reported"
    assert case_at(ctx, a, dispatched)["status"] == "dispatched"
    assert case_at(ctx, a, dispatched + second)["status"] == "dispatched"
    closed = t["close7"]
    before, at = case_at(ctx, a, closed - second), case_at(ctx, a, closed)
    assert (before["status"], str(before["closed_at"])) == ("resolved", "NaT")
    assert before["resolved_at"] == np.datetime64(t["resolve6"])
    assert (at["status"], at["closed_at"]) == ("closed", np.datetime64(closed))


def test_a_case_reported_after_t_is_absent(ctx, timeline):
    t, a = timeline["t"], timeline["a"]
    assert case_at(ctx, a, t["reported"] - timedelta(seconds=1)) is None
    assert case_at(ctx, a, t["reported"])["status"] == "reported"


def test_tier_and_handler_as_they_were(ctx, timeline):
    t, a = timeline["t"], timeline["a"]
    first, other = timeline["names"]
    second = timedelta(seconds=1)
    got = [case_at(ctx, a, t[k] - second) for k in ("dispatch0", "escalate1", "return2", "dispatch3")]
    assert [(g["tier"], g["max_tier"]) for g in got] == [("grid", "grid"), ("grid", "grid"), ("village", "village"),
                                                           ("village", "village")]
    assert [g["handler"] for g in got] == [None, first, first, None], "nobody, dispatched, escalated, returned"
    after = case_at(ctx, a, t["accept4"])
    assert (after["handler"], after["tier"], after["status"]) == (other, "village", "accepted")


def test_overdue_at_t_a_minute_either_side_of_the_deadline(ctx, timeline):
    b, deadline = timeline["b"], timeline["t"]["deadline"]
    # The moments as the township reads them, in Beijing time.
    after = (deadline + timedelta(minutes=1)).replace(tzinfo=UTC).astimezone(LOCAL_TZ)
    before = (deadline - timedelta(minutes=1)).replace(tzinfo=UTC).astimezone(LOCAL_TZ)
    assert after.isoformat() == iso(deadline + timedelta(minutes=1)) and after.isoformat().endswith("+08:00")
    assert case_at(ctx, b, after)["overdue"] is True
    assert case_at(ctx, b, before)["overdue"] is False


def test_moving_window_of_exactly_n_hours(ctx, timeline):
    t, a = timeline["t"], timeline["a"]
    edge = t["reported"] + timedelta(hours=6)
    assert case_at(ctx, a, edge, window_hours=6) is not None
    assert case_at(ctx, a, edge + timedelta(seconds=1), window_hours=6) is None
    assert case_at(ctx, a, edge + timedelta(seconds=1)) is not None, "cumulative keeps it"


def test_warnings_live_at_t(ctx, timeline):
    t, wid = timeline["t"], timeline["w"]
    tw, second = ctx.township, timedelta(seconds=1)

    def live(at: datetime) -> dict[int, str]:
        frame = tw.history().snapshot_at(tw.snapshot(), at)
        assert set(frame.warnings["id"]) <= set(frame.warning_grids)
        return dict(zip(frame.warnings["id"].tolist(), frame.warnings["status"].tolist(), strict=True))

    assert wid not in live(t["issued"] - second)
    assert live(t["issued"])[wid] == "active"
    assert live(t["ack"] - second)[wid] == "active"
    assert live(t["ack"])[wid] == "acknowledged"
    assert live(t["clear"] - second)[wid] == "acknowledged"
    assert wid not in live(t["clear"])
    # The seeded red ice-flood warning: live now, not before it was issued; a seeded cleared one (no clear
    # record) was live until it expired.
    with tw.engine.connect() as conn:
        red = conn.execute(text("SELECT id, issued_at FROM warnings WHERE external_id = 'DEMO-W-001'")).one()
        old = conn.execute(text("SELECT id, issued_at, expires_at FROM warnings WHERE status = 'cleared' "
                                "AND source = 'demo' ORDER BY id LIMIT 1")).one()
    issued = datetime.fromisoformat(str(red.issued_at))
    assert red.id in live(utcnow()) and red.id not in live(issued - second)
    expires = datetime.fromisoformat(str(old.expires_at))
    assert old.id in live(expires - second) and old.id not in live(expires)


def test_frames_are_told_apart_and_draw_as_the_map_draws(ctx):
    from layers.mapfig import map_updates

    tw = ctx.township
    snap, history = tw.snapshot(), tw.history()
    now = utcnow()
    one, two = history.snapshot_at(snap, now - timedelta(hours=2)), history.snapshot_at(snap, now - timedelta(hours=3))
    windowed = history.snapshot_at(snap, now - timedelta(hours=2), window_hours=24)
    versions = {one.version, two.version, windowed.version}
    assert len(versions) == 3 and max(versions) < 0 and snap.version >= 0
    assert history.snapshot_at(snap, now - timedelta(hours=2)).version == one.version
    view = make_view(one, tw.gridset, FilterState(window="all"))
    assert view.now == one.now and map_updates(view, tw.gridset)
    first, last = history.span()
    assert first <= ice_night(tw.engine)[0] and last <= utcnow() + timedelta(hours=6)


def test_the_index_merged_after_writes_is_the_index_read_whole(ctx, timeline):
    from township.read.playback import History

    tw = ctx.township
    merged, snap = tw.history(), tw.snapshot()
    with tw.engine.connect() as conn:
        whole = History.read(conn, snap.version)
    assert merged.records == whole.records and merged is not whole
    for at in (timeline["t"]["dispatch0"], timeline["t"]["close7"], utcnow() - timedelta(hours=5)):
        one, two = merged.snapshot_at(snap, at), whole.snapshot_at(snap, at)
        pd.testing.assert_frame_equal(one.cases, two.cases)
        pd.testing.assert_frame_equal(one.warnings, two.warnings)


def test_a_record_written_while_the_index_is_read_is_merged_once(ctx, monkeypatch):
    """A write landing between the index's count of the trail and its read of the records (another thread or
    process) is taken by the next merge, once: the index holds exactly the records it counted.

    The records are read on a connection of their own, as PostgreSQL at READ COMMITTED (its default) reads
    each statement: what was committed before it (SQLite's read transaction would hide the write)."""
    from township.read import playback

    tw, real, written = ctx.township, playback._read_records, []
    point = tw.gridset.geometry("DL-03-02").representative_point()

    def racing(conn, where=None):
        if not written:
            written.extend(write_cases(tw.engine, tw.gridset, [CaseIn(
                source="patrol", external_id="PLAY-RACE", type="hazard", domain="safety", title="读时写入",
                lon=round(point.x, 6), lat=round(point.y, 6))], actor="test"))
        with tw.engine.connect() as later:
            return real(later, where)

    monkeypatch.setattr(playback, "_read_records", racing)
    with tw.engine.connect() as conn:
        first = playback.History.read(conn, 1)
    monkeypatch.setattr(playback, "_read_records", real)
    with tw.engine.connect() as conn:
        merged, whole = playback.History.read(conn, 2, first), playback.History.read(conn, 2)
        in_store = conn.scalar(text("SELECT count(*) FROM case_events WHERE to_status IS NOT NULL "
                                    "OR to_tier IS NOT NULL"))
    assert written and merged.records == whole.records == in_store


def test_a_thread_behind_by_a_version_does_not_read_the_index_back(ctx, monkeypatch):
    """A thread that took its snapshot before another moved the index on gets that index, not one read again."""
    from dataclasses import replace

    tw = ctx.township
    current, snap = tw.history(), tw.snapshot()
    monkeypatch.setattr(tw, "snapshot", lambda: replace(snap, version=snap.version - 1))
    assert tw.history() is current
    monkeypatch.undo()
    assert tw.history() is current


# -- the API: GET /api/v1/cases?as_of= ---------------------------------------------------------------


def api_get(srv, token: str | None, **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{srv.url}/api/v1/cases", params=params, headers=headers, timeout=30)


def night_moment(srv) -> datetime:
    first, last = ice_night(srv.engine)
    return (first + (last - first) / 2).replace(microsecond=0)


def dispatched_by(engine, t: datetime) -> set[int]:
    stmt = text("SELECT DISTINCT case_id FROM case_events WHERE action = 'dispatch' AND at <= :t") \
        .bindparams(bindparam("t", type_=DateTime()))
    with engine.connect() as conn:
        return set(conn.scalars(stmt, {"t": t}))


def test_api_as_of_answers_each_case_as_it_was(api_server):
    t = night_moment(api_server)
    expected = sql_status(api_server.engine, t)
    r = api_get(api_server, api_server.tokens["command"], as_of=iso(t), window="all", limit=1000)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(expected) and body["as_of"] == iso(t)
    sent = dispatched_by(api_server.engine, t)
    with api_server.engine.connect() as conn:
        handler = dict(conn.execute(text("SELECT id, handler FROM cases")).all())
    ice = [c for c in body["items"] if c["external_id"].startswith(ICE_PREFIX)]
    assert ice, "the night's cases reported by t are on the first page (newest first)"
    for c in ice:
        status, _, deadline = expected[c["id"]]
        assert c["status"] == status
        assert c["overdue"] == (status in OPEN_STATUSES and deadline < t)
        assert c["handler"] == (handler[c["id"]] if c["id"] in sent else None)
    assert any(c["status"] != _now_status(api_server.engine, c["id"]) for c in ice), "the night moved on since"


def _now_status(engine, case_id: int) -> str:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT status FROM cases WHERE id = :i"), {"i": case_id})


def test_api_as_of_keeps_scoping_and_masking(api_server):
    t = night_moment(api_server)
    expected = sql_status(api_server.engine, t)
    with api_server.engine.connect() as conn:
        village = dict(conn.execute(text("SELECT id, village_id FROM cases")).all())
    r = api_get(api_server, api_server.tokens["village"], as_of=iso(t), window="all", limit=1000)
    assert r.status_code == 200, r.text
    body = r.json()
    mine = [cid for cid in expected if village[cid] == "DL-03"]
    assert body["total"] == len(mine) and {c["village_id"] for c in body["items"]} <= {"DL-03"}
    assert r.json()["total"] < len(expected)
    r = api_get(api_server, api_server.tokens["village"], as_of=iso(t), village="DL-01")
    assert r.status_code == 403
    wall = api_get(api_server, None, as_of=iso(t), window="all", limit=50).json()["items"]
    with api_server.engine.connect() as conn:
        people = {r.id: r for r in conn.execute(text("SELECT id, reporter, handler FROM cases"))}
    sent = dispatched_by(api_server.engine, t)
    for c in wall:
        reporter = people[c["id"]].reporter  # none for a case another test posted without one: null, as live
        assert c["reporter"] == (None if reporter is None else shown_name(reporter, "wall"))
        if c["id"] in sent and c["external_id"].startswith(ICE_PREFIX):
            assert c["handler"] == shown_name(people[c["id"]].handler, "wall") != people[c["id"]].handler


@pytest.mark.parametrize("value, rule", [
    ("yesterday", "not an ISO 8601 time"),
    ("", "is empty"),
    ("2000-01-01T00:00:00+08:00", "before the audit trail begins"),
    ("FUTURE", "in the future"),
    ("0001-01-01T00:00:00+01:00", "outside the years"),
])
def test_api_as_of_refuses_a_bad_moment_naming_it_and_the_rule(api_server, value, rule):
    if value == "FUTURE":
        value = iso(utcnow() + timedelta(minutes=2))
    r = api_get(api_server, api_server.tokens["command"], as_of=value)
    assert r.status_code == 400, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "as_of" and rule in error["message"]


def test_api_as_of_within_a_minute_ahead_and_not_with_since_version(api_server):
    soon = iso(utcnow() + timedelta(seconds=30))
    assert api_get(api_server, api_server.tokens["command"], as_of=soon).status_code == 200
    r = api_get(api_server, api_server.tokens["command"], as_of=soon, since_version=1)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "as_of"
