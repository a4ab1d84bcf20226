"""The closed loop: state machine, deadlines, handlers, users and statistics, on a real store (SQLite or PostgreSQL)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

import township.loop.warnings
from township.accounts.users import DEMO_USERS, check_password, create_user, seed_demo_users
from township.config import Settings
from township.domain.sla import DEFAULT_SLA, SlaConfig, accept_deadline, deadline_for
from township.domain.vocab import CASE_STATUSES, TIERS
from township.formats.ingest import CaseIn, WarningIn, write_cases, write_warnings
from township.grids.spatial import NEIGHBOUR_GAP_M, neighbours, to_metric
from township.loop.staff import seed_handlers, suggest_handlers
from township.loop.sweeps import case_trail, escalate_overdue, late_to_accept, open_orders, replay
from township.loop.warnings import dispatch_task, task_prefix
from township.loop.workflow import MOVES, Actor, MoveRefused, allowed_moves, apply_move
from township.read.stats import (
    STAGE_STATUSES,
    EntryTimes,
    backlog_by_handler,
    backlog_by_village,
    stage_times,
    trend,
    village_ranking,
)
from township.read.views import overdue_mask
from township.runtime.bootstrap import open_township
from township.store.engine import init_db, make_engine
from township.store.models import Case, CaseAssignment, CaseEvent, Handler, User, bump_version, data_version
from township.store.uow import session_scope

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 3, 1, 8, 0)
TIER_LIST = list(TIERS)
#: The loop as docs/design.md §1 draws it, written here independently of workflow.MOVES.
EDGES = {
    ("reported", "dispatched"), ("returned", "dispatched"), ("dispatched", "accepted"),
    ("reported", "accepted"),  # a micro-wish claimed straight away
    ("accepted", "in_progress"), ("in_progress", "resolved"), ("resolved", "closed"),
    ("dispatched", "returned"), ("accepted", "returned"), ("in_progress", "returned"),
    *((s, "cancelled") for s in ("reported", "dispatched", "accepted", "in_progress", "returned")),
}
OFFICER, PM, PM_OTHER, DEPT = "H-OF-DL-01-01", "H-PM-DL-01-01-01", "H-PM-DL-02-01-01", "H-DEP-governance"

ACTORS = {
    "admin": Actor("管理员", "admin"),
    "command": Actor("指挥中心", "command"),
    "village_own": Actor("小滩子村值班员", "village", village_id="DL-01"),
    "village_other": Actor("尔圪气村值班员", "village", village_id="DL-02"),
    "responder_officer": Actor("秦鹏伟", "responder", handler_id=OFFICER),
    "responder_pm": Actor("党员甲", "responder", handler_id=PM),
    "responder_other_pm": Actor("党员乙", "responder", handler_id=PM_OTHER),
    "responder_unlinked": Actor("无名", "responder"),
    "wall": Actor("大屏", "wall"),
    "system": Actor("system", "system"),
}
CMD = ACTORS["command"]
AUTO = SlaConfig(auto_escalate=True)
pytestmark = pytest.mark.store


class Store:
    """A fresh store (a URL of the `stores` fixture): bundled grids and resources, handlers, no demo cases."""

    def __init__(self, url: str) -> None:
        ctx = open_township(Settings(database_url=url, seed_demo=False))
        self.engine = ctx.township.engine
        self.gridset = ctx.township.gridset
        seed_handlers(self.engine, self.gridset)

    def new_case(self, grid: str = "DL-01-01", type: str = "dispute", domain: str = "governance",
                 source: str = "citizen", reported_at: datetime = T0, **extra) -> int:
        p = self.gridset.geometry(grid).representative_point()
        item = CaseIn(source=source, type=type, domain=domain, title="测试事件", lon=p.x, lat=p.y,
                      reported_at=reported_at, **extra)
        return write_cases(self.engine, self.gridset, [item], actor="测试")[0].id

    def case(self, case_id: int) -> Case:
        with Session(self.engine) as s:
            return s.get(Case, case_id)

    def state(self, case_id: int) -> tuple:
        """Everything a move could touch: the case row, its events and assignment, table counts, data version."""
        with self.engine.connect() as conn:
            row = dict(conn.execute(select(Case.__table__).where(Case.id == case_id)).mappings().one())
            events = conn.execute(select(CaseEvent.__table__).where(CaseEvent.case_id == case_id)).all()
            assignment = conn.execute(select(CaseAssignment.__table__)
                                      .where(CaseAssignment.case_id == case_id)).all()
            counts = tuple(conn.execute(select(func.count()).select_from(t)).scalar()
                           for t in (Case.__table__, CaseEvent.__table__, CaseAssignment.__table__))
        return row, events, assignment, counts, data_version(self.engine)


@pytest.fixture(scope="module")
def store(stores) -> Store:
    return Store(stores.new("workflow"))


def move(store: Store, case_id: int, name: str, actor: Actor = CMD, **params):
    """Make a move with the version just read, as a screen would."""
    return apply_move(store.engine, case_id, name, actor, expected_version=store.case(case_id).version, **params)


def refused(store: Store, case_id: int, name: str, actor: Actor = CMD, code: str | None = None, **params) -> str:
    """Assert the move is refused and changed nothing; return the reason."""
    before = store.state(case_id)
    with pytest.raises(MoveRefused) as err:
        move(store, case_id, name, actor, **params)
    assert store.state(case_id) == before
    if code:
        assert err.value.code == code, err.value.reason
    return err.value.reason


# -- the state machine ---------------------------------------------------------------------------------


def test_move_table_matches_the_designed_loop():
    for m in MOVES.values():
        assert "wall" not in m.roles
        for frm in m.from_statuses:
            assert frm in CASE_STATUSES
            assert m.to is None or (frm, m.to) in EDGES, (m.name, frm)
    drawn = {(frm, m.to) for m in MOVES.values() if m.to for frm in m.from_statuses}
    assert drawn == EDGES


def test_the_whole_loop_with_audit_trail(store):
    cid = store.new_case()
    v0 = store.case(cid).version
    move(store, cid, "dispatch", ACTORS["village_own"], handler=OFFICER)
    c = store.case(cid)
    assert (c.status, c.handler, c.version) == ("dispatched", "秦鹏伟", data_version(store.engine))
    assert c.version > v0
    move(store, cid, "accept", ACTORS["responder_officer"], now=T0 + timedelta(hours=1))
    move(store, cid, "start", ACTORS["responder_officer"], now=T0 + timedelta(hours=2))
    move(store, cid, "resolve", ACTORS["responder_officer"], result="双方达成调解协议", now=T0 + timedelta(hours=30))
    move(store, cid, "close", CMD, verification="电话回访满意", now=T0 + timedelta(hours=50))
    c = store.case(cid)
    assert c.status == "closed" and c.resolved_at == T0 + timedelta(hours=30)
    assert c.closed_at == T0 + timedelta(hours=50)
    trail = case_trail(store.engine, cid)
    assert [e.action for e in trail] == ["report", "dispatch", "accept", "start", "resolve", "close"]
    assert [e.actor for e in trail[1:]] == ["小滩子村值班员", "秦鹏伟", "秦鹏伟", "秦鹏伟", "指挥中心"]
    assert trail[4].note == "双方达成调解协议" and trail[5].note == "电话回访满意"
    assert replay(trail) == ("closed", "grid")
    assert allowed_moves(store.engine, cid, CMD) == []


def test_return_and_dispatch_again(store):
    cid = store.new_case()
    move(store, cid, "dispatch", handler=OFFICER)
    move(store, cid, "accept", ACTORS["responder_officer"])
    refused(store, cid, "return", ACTORS["responder_officer"], code="missing")
    move(store, cid, "return", ACTORS["responder_officer"], reason="不属本网格职责")
    c = store.case(cid)
    assert (c.status, c.handler) == ("returned", None)
    # Nobody holds a returned case: the officer can no longer act on it.
    refused(store, cid, "start", ACTORS["responder_officer"], code="forbidden")
    move(store, cid, "dispatch", handler=DEPT)
    assert store.case(cid).handler == "综治中心"
    assert replay(case_trail(store.engine, cid)) == ("dispatched", "grid")


def test_pool_orders_and_micro_wishes(store):
    wish = store.new_case(type="wish", domain="livelihood")
    dispute = store.new_case()
    assert wish in [c.id for c in open_orders(store.engine, "DL-01")]
    assert dispute not in [c.id for c in open_orders(store.engine, "DL-01")]
    assert wish not in [c.id for c in open_orders(store.engine, "DL-02")]
    # 党员接单: a party member of the village claims the micro-wish straight from 已上报.
    refused(store, wish, "accept", ACTORS["responder_other_pm"], code="forbidden")
    move(store, wish, "accept", ACTORS["responder_pm"])
    assert store.case(wish).status == "accepted"
    assert wish not in [c.id for c in open_orders(store.engine, "DL-01")]
    # Other cases must be dispatched first, here to the village's party-member pool.
    assert "dispatch it first" in refused(store, dispute, "accept", ACTORS["responder_pm"], code="status")
    move(store, dispute, "dispatch", ACTORS["village_own"], handler="pool")
    assert store.case(dispute).handler == "小滩子村党员接单池"
    assert dispute in [c.id for c in open_orders(store.engine, "DL-01")]
    refused(store, dispute, "accept", CMD, code="missing")  # which party member?
    refused(store, dispute, "accept", CMD, code="forbidden", handler=OFFICER)  # an officer is no party member
    refused(store, dispute, "accept", ACTORS["responder_other_pm"], code="forbidden")
    move(store, dispute, "accept", CMD, handler=PM)  # entered on the member's behalf
    c = store.case(dispute)
    assert c.status == "accepted" and c.handler == store_handler_name(store, PM)
    assert dispute not in [c.id for c in open_orders(store.engine, "DL-01")]
    move(store, dispute, "start", ACTORS["responder_pm"])


def store_handler_name(store: Store, handler_id: str) -> str:
    with Session(store.engine) as s:
        return s.get(Handler, handler_id).name


def test_stale_update_is_refused(store):
    cid = store.new_case()
    seen = store.case(cid).version  # two operators open the case
    apply_move(store.engine, cid, "dispatch", CMD, expected_version=seen, handler=OFFICER)
    before = store.state(cid)
    with pytest.raises(MoveRefused) as err:
        apply_move(store.engine, cid, "cancel", ACTORS["admin"], expected_version=seen, reason="重复上报")
    assert err.value.code == "stale"
    assert "changed by someone else since you opened it" in err.value.reason
    assert store.state(cid) == before
    assert store.case(cid).status == "dispatched"


def test_two_operators_at_once_one_wins(store):
    cid = store.new_case()
    seen = store.case(cid).version
    barrier, results = threading.Barrier(2), []

    def operator(name: str, params: dict) -> None:
        barrier.wait()
        try:
            apply_move(store.engine, cid, name, CMD, expected_version=seen, **params)
            results.append("ok")
        except MoveRefused as err:
            results.append(err.code)

    threads = [threading.Thread(target=operator, args=("dispatch", {"handler": OFFICER})),
               threading.Thread(target=operator, args=("cancel", {"reason": "重复"}))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == ["ok", "stale"]
    assert len(case_trail(store.engine, cid)) == 2


def test_village_operator_only_in_own_village_and_tier(store):
    cid = store.new_case()
    reason = refused(store, cid, "dispatch", ACTORS["village_other"], code="forbidden", handler="pool")
    assert "own village" in reason and "DL-01" in reason
    # Only to handlers of their own village.
    refused(store, cid, "dispatch", ACTORS["village_own"], code="forbidden", handler=PM_OTHER)
    refused(store, cid, "dispatch", ACTORS["village_own"], code="forbidden", handler=DEPT)
    move(store, cid, "escalate", ACTORS["village_own"], reason="村内无法化解")
    move(store, cid, "escalate", ACTORS["village_own"], reason="报镇")
    assert store.case(cid).tier == "township"
    assert "township handles it" in refused(store, cid, "dispatch", ACTORS["village_own"], code="forbidden",
                                            handler=OFFICER)
    assert allowed_moves(store.engine, cid, ACTORS["village_own"]) == []
    assert allowed_moves(store.engine, cid, ACTORS["village_other"]) == []


def test_wall_and_unlinked_responder_never_move(store):
    cid = store.new_case(type="wish", domain="livelihood")
    for name in MOVES:
        refused(store, cid, name, ACTORS["wall"], code="forbidden", reason="x", handler=OFFICER)
    refused(store, cid, "accept", ACTORS["responder_unlinked"], code="forbidden")
    assert allowed_moves(store.engine, cid, ACTORS["wall"]) == []


def test_required_and_unknown_parameters(store):
    cid = store.new_case()
    assert "handler" in refused(store, cid, "dispatch", code="missing")
    refused(store, cid, "dispatch", code="missing", handler="   ")
    refused(store, cid, "dispatch", code="invalid", handler="H-NOBODY")
    refused(store, cid, "dispatch", code="invalid", handler=OFFICER, colour="red")
    refused(store, cid, "cancel", code="missing")
    refused(store, cid, "escalate", code="missing")
    refused(store, cid, "fly", code="invalid")
    with pytest.raises(MoveRefused) as err:
        apply_move(store.engine, 10**9, "dispatch", CMD, handler=OFFICER)
    assert err.value.code == "not_found"
    move(store, cid, "dispatch", handler=OFFICER)
    move(store, cid, "accept")
    move(store, cid, "start")
    assert "result" in refused(store, cid, "resolve", code="missing")
    move(store, cid, "resolve", result="已修复")
    assert "return-visit" in refused(store, cid, "close", code="missing")
    reason = refused(store, cid, "cancel", code="status", reason="x")
    assert "已办结 (resolved)" in reason
    move(store, cid, "close", verification="回访满意", note="群众送锦旗")
    assert case_trail(store.engine, cid)[-1].note == "回访满意;群众送锦旗"
    refused(store, cid, "escalate", code="status", reason="x")  # closed: no longer open


# -- property: random move sequences ---------------------------------------------------------------

HANDLER_CHOICES = {"officer": OFFICER, "pool": "pool", "pm": PM, "other_pm": PM_OTHER, "dept": DEPT,
                   "nobody": "H-NOBODY", "none": None}
STEP = st.tuples(
    # "guided" steps pick a move the actor's buttons would offer (so sequences get deep into the
    # loop); "random" ones try anything (so refusals are exercised).
    st.sampled_from(["guided", "guided", "random"]),
    st.integers(0, 7),
    st.sampled_from([*MOVES, "fly"]),
    st.sampled_from(list(ACTORS)),
    st.sampled_from(list(HANDLER_CHOICES)),
    st.sampled_from(["办理情况说明", "", "   ", None]),
    st.sampled_from(["current", "current", "stale", "none"]),
    st.booleans(),  # an unknown extra parameter
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=3, max_size=25), ctype=st.sampled_from(["wish", "dispute", "hotline"]))
def test_random_moves_keep_the_case_valid(store, steps, ctype):
    cid = store.new_case(type=ctype, domain="livelihood" if ctype == "wish" else "governance",
                         source="hotline" if ctype == "hotline" else "citizen")
    seen_resolved = False
    for i, (mode, pick, name, who, handler, text, version, extra) in enumerate(steps):
        before = store.state(cid)
        row = before[0]
        if mode == "guided":
            # The first actor, from the drawn one on, whose buttons offer anything.
            names = [a for a in ACTORS if a != "system"]  # the system only escalates: leave it to random steps
            start = names.index(who) if who in names else 0
            for who in names[start:] + names[:start]:
                offered = allowed_moves(store.engine, cid, ACTORS[who])
                if offered:
                    break
            else:
                continue
            # Mostly the forward move of the loop (the table lists it first), sometimes a side exit.
            name = offered[0] if pick < 6 or len(offered) == 1 else offered[1 + (pick + i) % (len(offered) - 1)]
            text = text or "办理情况说明"
            extra, version = False, "current" if version == "stale" else version
            if name == "accept":
                # An open order (a pool or a micro-wish) needs the party member who takes it;
                # a case dispatched to one handler is accepted by that handler.
                pooled = row["handler"] is None or row["handler"].endswith("接单池")
                handler = "pm" if pooled else "none"
            if name == "dispatch" and handler in ("none", "nobody"):
                handler = "officer"
        params: dict = {}
        spec = MOVES.get(name)
        for key in spec.needs if spec else ("reason",):
            if key != "handler" and text is not None:
                params[key] = text
        if HANDLER_CHOICES[handler] is not None and name in ("dispatch", "accept"):
            params["handler"] = HANDLER_CHOICES[handler]
        if extra:
            params["bogus"] = "x"
        expected = {"current": row["version"], "stale": row["version"] - 1, "none": None}[version]
        try:
            moved = apply_move(store.engine, cid, name, ACTORS[who], expected_version=expected,
                               now=T0 + timedelta(hours=i), sla=AUTO, **params)
        except MoveRefused as err:
            assert err.reason and err.code in {"not_found", "stale", "forbidden", "status", "missing", "invalid"}
            assert store.state(cid) == before, f"refused {name} by {who} changed something"
            continue
        after = store.state(cid)
        case = after[0]
        # Accepted moves: only by acting roles, never stale, never with unknown parameters.
        assert who not in ("wall", "village_other", "responder_unlinked")
        assert version != "stale" and not extra
        assert case["status"] in CASE_STATUSES and case["tier"] in TIERS and case["max_tier"] in TIERS
        assert TIER_LIST.index(case["tier"]) >= TIER_LIST.index(row["tier"])
        assert case["max_tier"] == case["tier"]  # the tier never went down, so the highest is the current
        if name == "escalate":
            assert case["status"] == row["status"]
            assert TIER_LIST.index(case["tier"]) == TIER_LIST.index(row["tier"]) + 1
            assert case["deadline_at"] == deadline_for(case["tier"], case["domain"], moved.at, ctype)
        else:
            assert (row["status"], case["status"]) in EDGES and case["tier"] == row["tier"]
        if case["status"] == "closed":
            assert row["status"] == "resolved" and seen_resolved and case["closed_at"] is not None
        if case["status"] == "resolved":
            seen_resolved = True
            assert case["resolved_at"] == moved.at
        assert case["version"] == moved.version == after[4] > before[4]
        assert len(after[1]) == len(before[1]) + 1 and after[3][1] == before[3][1] + 1
    final = store.case(cid)
    event(f"final status {final.status}, tier {final.tier}")  # shown by --hypothesis-show-statistics
    assert replay(case_trail(store.engine, cid)) == (final.status, final.tier)


# -- deadlines ---------------------------------------------------------------------------------------


def test_deadline_arithmetic():
    assert deadline_for("grid", "governance", T0) == T0 + timedelta(days=3)
    assert deadline_for("village", "safety", T0) == T0 + timedelta(days=3)
    assert deadline_for("township", "safety", T0) == T0 + timedelta(days=7)
    assert deadline_for("county", "safety", T0) == T0 + timedelta(days=15)
    own = T0 + timedelta(hours=36)
    assert deadline_for("grid", "livelihood", T0, "hotline", given=own) == own
    cfg = SlaConfig(domain_days={("township", "safety"): 2}, type_days={"petition": 30})
    assert deadline_for("township", "safety", T0, config=cfg) == T0 + timedelta(days=2)
    assert deadline_for("township", "economy", T0, config=cfg) == T0 + timedelta(days=7)
    assert deadline_for("grid", "governance", T0, "petition", config=cfg) == T0 + timedelta(days=30)
    assert accept_deadline(T0) == T0 + timedelta(hours=2)
    env = SlaConfig.from_env({"SLA_TIER_DAYS": "grid=1", "SLA_DOMAIN_DAYS": "county:safety=10",
                              "SLA_ACCEPT_HOURS": "4", "SLA_AUTO_ESCALATE": "1"})
    assert env.days("grid", "x") == 1 and env.days("village", "x") == 3 and env.days("county", "safety") == 10
    assert env.accept_hours == 4 and env.auto_escalate and not DEFAULT_SLA.auto_escalate
    with pytest.raises(ValueError, match="tier"):
        SlaConfig.from_env({"SLA_DOMAIN_DAYS": "city:safety=3"})
    with pytest.raises(ValueError, match="positive"):
        SlaConfig(tier_days={"grid": 0, "village": 3, "township": 7, "county": 15})


def test_overdue_cases_escalate_one_tier_per_missed_deadline(store):
    cid = store.new_case(reported_at=T0)
    others = store.state(cid)
    due = T0 + timedelta(days=3)
    assert store.case(cid).deadline_at == due
    # Switched off: nothing moves, whatever the clock says.
    assert escalate_overdue(store.engine, now=due + timedelta(days=99), sla=SlaConfig()) == []
    assert store.state(cid) == others
    assert cid not in escalate_overdue(store.engine, now=due, sla=AUTO)  # at the deadline: not yet past it
    clock = due + timedelta(seconds=1)
    for tier, days in (("village", 3), ("township", 7), ("county", 15)):
        assert cid in escalate_overdue(store.engine, now=clock, sla=AUTO)
        c = store.case(cid)
        assert (c.tier, c.max_tier, c.status) == (tier, tier, "reported")
        assert c.deadline_at == clock + timedelta(days=days)  # the new tier's own clock, from now
        assert cid not in escalate_overdue(store.engine, now=clock, sla=AUTO)  # one tier per missed deadline
        clock = c.deadline_at + timedelta(seconds=1)
    assert cid not in escalate_overdue(store.engine, now=clock, sla=AUTO)  # county is the top
    c = store.case(cid)
    assert c.tier == "county"
    frame = pd.DataFrame({"status": [c.status], "deadline_at": [c.deadline_at]})
    assert overdue_mask(frame, clock)[0]  # still shows overdue
    trail = [e for e in case_trail(store.engine, cid) if e.action == "escalate"]
    assert [(e.from_tier, e.to_tier, e.actor) for e in trail] == [
        ("grid", "village", "system"), ("village", "township", "system"), ("township", "county", "system")]
    assert replay(case_trail(store.engine, cid)) == ("reported", "county")


def test_late_to_accept(store):
    cid = store.new_case()
    at = T0 + timedelta(hours=1)
    move(store, cid, "dispatch", handler=OFFICER, now=at)
    assert cid not in late_to_accept(store.engine, now=at + timedelta(hours=2), sla=DEFAULT_SLA)
    assert cid in late_to_accept(store.engine, now=at + timedelta(hours=2, seconds=1), sla=DEFAULT_SLA)
    assert cid not in late_to_accept(store.engine, now=at + timedelta(hours=3), sla=SlaConfig(accept_hours=4))
    move(store, cid, "accept", ACTORS["responder_officer"], now=at + timedelta(hours=5))
    assert cid not in late_to_accept(store.engine, now=at + timedelta(hours=9), sla=DEFAULT_SLA)


def test_hotline_ticket_keeps_its_own_deadline(store):
    own = T0 + timedelta(hours=24)
    cid = store.new_case(type="hotline", source="hotline", domain="livelihood", external_id="12345-0001",
                         deadline_at=own)
    assert store.case(cid).deadline_at == own  # not the grid tier's 3 days
    assert cid not in escalate_overdue(store.engine, now=own, sla=AUTO)
    assert cid in escalate_overdue(store.engine, now=own + timedelta(minutes=1), sla=AUTO)
    assert store.case(cid).deadline_at == own + timedelta(minutes=1, days=3)


def test_manual_escalation_starts_the_tiers_clock(store):
    cid = store.new_case(domain="safety", type="hazard")
    cfg = SlaConfig(domain_days={("village", "safety"): 1})
    now = T0 + timedelta(hours=5)
    move(store, cid, "escalate", reason="涉及多户", now=now, sla=cfg)
    assert store.case(cid).deadline_at == now + timedelta(days=1)
    for _ in range(2):
        move(store, cid, "escalate", reason="升级", now=now)
    assert "top tier" in refused(store, cid, "escalate", code="status", reason="再升级")


def test_one_sla_configuration_sets_ingest_deadlines_and_escalations(stores):
    # Read once, by Settings, from the environment; the app context hands it on.
    cfg = Settings.from_env({"DATABASE_URL": stores.new("sla"), "SEED_DEMO": "0",
                             "SLA_TIER_DAYS": "grid=1,village=2", "SLA_AUTO_ESCALATE": "1"})
    ctx = open_township(cfg)
    engine, gs, sla = ctx.township.engine, ctx.township.gridset, ctx.settings.sla
    p = gs.geometry("DL-01-01").representative_point()
    item = CaseIn(source="citizen", type="dispute", domain="governance", title="测试事件", lon=p.x, lat=p.y,
                  reported_at=T0)
    cid = write_cases(engine, gs, [item], actor="测试", sla=sla)[0].id
    with Session(engine) as s:
        due = s.get(Case, cid).deadline_at
    assert due == T0 + timedelta(days=1)  # grid=1, not the built-in 3
    minute = timedelta(minutes=1)
    frame = pd.DataFrame({"status": ["reported", "reported"], "deadline_at": [due, due]})
    assert overdue_mask(frame, due - minute).tolist() == [False, False]
    assert overdue_mask(frame, due + minute).tolist() == [True, True]
    assert escalate_overdue(engine, now=due - minute, sla=sla) == []
    assert escalate_overdue(engine, now=due + minute, sla=sla) == [cid]
    with Session(engine) as s:
        case = s.get(Case, cid)
        assert (case.tier, case.deadline_at) == ("village", due + minute + timedelta(days=2))  # village=2


def test_a_task_from_a_warning_is_one_unit_of_work(store, monkeypatch):
    gs = store.gridset
    p = gs.geometry("DL-01-01").representative_point()
    [w] = write_warnings(store.engine, gs, [WarningIn(source="test", external_id="uow-1", type="ice_flood", level=2,
                                                      title="测试预警", lon=p.x, lat=p.y, radius_m=300)])

    def counts() -> tuple:
        with store.engine.connect() as conn:
            return tuple(conn.execute(sql_text(sql), {"w": w.id, "p": task_prefix(w.id) + "%"}).scalar() for sql in (
                "SELECT count(*) FROM cases WHERE external_id LIKE :p",
                "SELECT count(*) FROM case_events",
                "SELECT count(*) FROM case_assignments",
                "SELECT count(*) FROM warning_events WHERE warning_id = :w",
                "SELECT value FROM meta WHERE key = 'data_version'"))

    def crash(*args, **kwargs):
        raise RuntimeError("the process dies before the warning's log is written")

    before = counts()
    assert before[0] == before[3] == 0
    # The last step fails: the case and its dispatch written before it must not survive.
    monkeypatch.setattr(township.loop.warnings, "_log_event", crash)
    with pytest.raises(RuntimeError, match="dies"):
        dispatch_task(store.engine, gs, w.id, OFFICER, CMD)
    assert counts() == before
    monkeypatch.undo()
    cid = dispatch_task(store.engine, gs, w.id, OFFICER, CMD)
    after = counts()
    assert after[0] == 1 and after[1] == before[1] + 2 and after[2] == before[2] + 1 and after[3] == 1
    # One transaction, one data version: the case, its trail and the warning's log carry the same one.
    assert int(after[4]) == int(before[4]) + 1 == store.case(cid).version
    assert [e.action for e in case_trail(store.engine, cid)] == ["report", "dispatch"]


# -- handlers ---------------------------------------------------------------------------------------


def test_seed_handlers_from_the_bundled_data(store, store_url):
    gs = store.gridset
    assert seed_handlers(store.engine, gs) == 0  # idempotent
    with Session(store.engine) as s:
        rows = list(s.scalars(select(Handler).order_by(Handler.handler_id)))
    kinds = pd.Series([h.kind for h in rows]).value_counts().to_dict()
    assert kinds["party_member"] == 602 and kinds["volunteer_team"] == 40 and kinds["department"] == 7
    assert kinds["officer"] == sum(1 for g in gs.ids() if gs.level(g) > 1 and gs.props(g).get("officer"))
    for g in gs.ids(level=3)[:20]:
        mine = [h for h in rows if h.kind == "party_member" and h.grid_id == g]
        assert len(mine) == gs.props(g)["party_members"]
        assert sum(h.central_household for h in mine) == gs.props(g)["party_households"]
        assert all(h.village_id == gs.village_of(g) for h in mine)
    officer = next(h for h in rows if h.handler_id == OFFICER)
    assert (officer.name, officer.phone) == (gs.props("DL-01-01")["officer"], gs.props("DL-01-01")["officer_phone"])
    # Deterministic: another store seeds the same people.
    other = Store(store_url)
    with Session(other.engine) as s:
        again = [(h.handler_id, h.name, h.phone) for h in s.scalars(select(Handler).order_by(Handler.handler_id))]
    assert again == [(h.handler_id, h.name, h.phone) for h in rows]


def test_seed_handlers_adds_only_the_missing(store_url):
    other = Store(store_url)
    gone = [PM_OTHER, "H-PM-DL-02-01-02", "H-DEP-safety"]
    with session_scope(other.engine) as s:
        before = {h.handler_id: (h.name, h.phone)
                  for h in s.scalars(select(Handler).where(Handler.handler_id.in_(gone)))}
        s.execute(delete(Handler).where(Handler.handler_id.in_(gone[1:])))
        s.get(Handler, PM_OTHER).phone = "13900000000"  # corrected by an administrator: kept
    assert seed_handlers(other.engine, other.gridset) == 2
    with Session(other.engine) as s:
        after = {h.handler_id: (h.name, h.phone)
                 for h in s.scalars(select(Handler).where(Handler.handler_id.in_(gone)))}
    assert after == {**before, PM_OTHER: (before[PM_OTHER][0], "13900000000")}


def test_suggestions_in_order(store):
    gs = store.gridset
    cid = store.new_case(grid="DL-01-01", domain="livelihood", type="service")
    sug = suggest_handlers(store.engine, gs, cid)
    assert sug[0].handler_id == OFFICER and sug[0].why == "本网格网格员"
    n = gs.props("DL-01-01")["party_members"]
    own = sug[1:1 + n]
    assert all(x.kind == "party_member" and x.grid_id == "DL-01-01" for x in own)
    central = gs.props("DL-01-01")["party_households"]
    assert [x.handler_id for x in own[:central]] == [f"H-PM-DL-01-01-{i + 1:02d}" for i in range(central)]
    near = [x for x in sug[1 + n:] if x.kind == "party_member"]
    assert near and all(x.why == "相邻网格党员" for x in near)
    grids = list(dict.fromkeys(x.grid_id for x in near))
    assert grids == [g for g in neighbours(gs, "DL-01-01", village_first=True) if gs.props(g)["party_members"]]
    home = to_metric(gs.geometry("DL-01-01"))
    for g in grids:
        assert shapely.distance(home, to_metric(gs.geometry(g))) <= NEIGHBOUR_GAP_M
    kinds = [x.kind for x in sug]
    # Officer, party members, then teams; no departments while the case is at grid tier.
    assert kinds == sorted(kinds, key=["officer", "party_member", "volunteer_team", "department"].index)
    assert "department" not in kinds
    teams = [x for x in sug if x.kind == "volunteer_team"]
    village_teams = [x for x in teams if x.village_id == "DL-01"]
    assert teams[:len(village_teams)] == village_teams and village_teams
    move(store, cid, "escalate", reason="x")
    move(store, cid, "escalate", reason="x")
    sug = suggest_handlers(store.engine, gs, cid)
    assert sug[1].handler_id == "H-OF-DL-01" and sug[1].why == "村/社区网格员"
    assert sug[-7].handler_id == "H-DEP-livelihood" and [x.kind for x in sug[-7:]] == ["department"] * 7


# -- users --------------------------------------------------------------------------------------------


def test_users_and_passwords(store):
    assert seed_demo_users(store.engine) == 8  # five roles, three party members of the field app
    assert seed_demo_users(store.engine) == 0
    for username, password, role, village, _, handler in DEMO_USERS:
        user = check_password(store.engine, username, password)
        assert user is not None and (user.role, user.village_id, user.handler_id) == (role, village, handler)
        assert check_password(store.engine, username, password + "x") is None
    assert check_password(store.engine, "nobody", "whatever1") is None
    with Session(store.engine) as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "admin"))
    assert stored.startswith("scrypt$") and "dalu-admin-2024" not in stored
    uid = create_user(store.engine, "dl02", "long-enough", "village", "DL-02", "尔圪气村")
    assert check_password(store.engine, "dl02", "long-enough").id == uid
    for args, match in [(("dl02", "long-enough", "command"), "already exists"),
                        (("x1", "short", "command"), "at least"),
                        (("x2", "long-enough", "village"), "village_id"),
                        (("x3", "long-enough", "command", "DL-01"), "village_id"),
                        (("x4", "long-enough", "boss"), "unknown"),
                        (("bad name", "long-enough", "command"), "username")]:
        with pytest.raises(ValueError, match=match):
            create_user(store.engine, *args)
    actor = Actor.of_user(check_password(store.engine, "village01", "dalu-village01"))
    assert (actor.role, actor.village_id, actor.name) == ("village", "DL-01", "小滩子村值班员")


# -- statistics ---------------------------------------------------------------------------------------


def _cases(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("reported_at", "deadline_at", "resolved_at", "closed_at"):
        frame[col] = pd.to_datetime(frame.get(col, pd.Series([None] * len(frame))))
    return frame


def _h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


#: An audit trail by hand: (case, hour, from status, to status).
HAND_TRAIL = [
    (1, 0, None, "reported"), (1, 1, "reported", "dispatched"), (1, 3, "dispatched", "accepted"),
    (1, 4, "accepted", "in_progress"), (1, 10, "in_progress", "resolved"), (1, 34, "resolved", "closed"),
    (2, 0, None, "reported"), (2, 3, "reported", "dispatched"),
    (2, 3.5, "dispatched", "dispatched"),  # an escalation: not an entry
    (2, 4, "dispatched", "returned"), (2, 6, "returned", "dispatched"), (2, 7, "dispatched", "accepted"),
    (3, 0, None, "reported"), (3, 2, "reported", "accepted"),  # a micro-wish: no dispatch
    (9, 0, None, "reported"), (9, 50, "reported", "dispatched"),  # not in the cases frame
]


def add_trail(engine, events: list[tuple]) -> None:
    """Write audit events ``(case, hour, from, to)``, and the cases they name that are new, in one write."""
    with session_scope(engine) as s:
        have = set(s.scalars(select(Case.id)))
        s.add_all(Case(id=c, source="citizen", type="dispute", domain="governance", status="reported", tier="grid",
                       max_tier="grid", title="测试", reported_at=T0, updated_at=T0, deadline_at=T0)
                  for c in dict.fromkeys(c for c, *_ in events) if c not in have)
        s.flush()
        s.add_all(CaseEvent(case_id=c, at=_h(h), actor="测试", action="move", from_status=f, to_status=t)
                  for c, h, f, t in events)
        bump_version(s)


@pytest.fixture
def trail_engine(store_url):
    """A fresh store holding only the cases and events of `HAND_TRAIL`."""
    engine = make_engine(store_url)
    init_db(engine)
    add_trail(engine, HAND_TRAIL)
    yield engine
    engine.dispose()


def test_stage_times_by_hand(trail_engine):
    cases = _cases([{"id": 1, "reported_at": T0}, {"id": 2, "reported_at": T0}, {"id": 3, "reported_at": T0}])
    out = stage_times(cases, EntryTimes(trail_engine).get(data_version(trail_engine)))
    assert list(out.index) == ["report→dispatch", "dispatch→accept", "accept→resolve", "resolve→close"]
    assert out.loc["report→dispatch", "count"] == 2 and out.loc["report→dispatch", "mean_h"] == pytest.approx(2)
    # case 2 waited from its first dispatch (3 h) to its accept (7 h), return loop included
    assert out.loc["dispatch→accept", "mean_h"] == pytest.approx((2 + 4) / 2)
    assert out.loc["dispatch→accept", "median_h"] == pytest.approx(3)
    assert out.loc["accept→resolve", "count"] == 1 and out.loc["accept→resolve", "mean_h"] == pytest.approx(7)
    assert out.loc["resolve→close", "mean_h"] == pytest.approx(24)


def test_stage_times_follow_new_events(trail_engine):
    entries = EntryTimes(trail_engine)
    cases = _cases([{"id": i, "reported_at": T0} for i in (1, 2, 3, 4)])
    version = data_version(trail_engine)
    first = entries.get(version)
    assert entries.get(version) is first  # the same data version reads nothing
    assert stage_times(cases, first).loc["accept→resolve", "count"] == 1
    add_trail(trail_engine, [
        (2, 8, "accepted", "returned"), (2, 9, "returned", "dispatched"), (2, 10, "dispatched", "accepted"),
        (2, 17, "accepted", "resolved"),  # case 2 resolves 10 h after its first accept
        (4, 0, None, "reported"), (4, 5, "reported", "dispatched"),  # a case new since the first read
    ])
    version = data_version(trail_engine)
    out = stage_times(cases, entries.get(version))
    assert out.loc["accept→resolve", "count"] == 2 and out.loc["accept→resolve", "mean_h"] == pytest.approx(8.5)
    assert out.loc["report→dispatch", "count"] == 3 and out.loc["report→dispatch", "mean_h"] == pytest.approx(3)
    # the second dispatch and accept of case 2 leave its first ones
    assert out.loc["dispatch→accept", "count"] == 2 and out.loc["dispatch→accept", "mean_h"] == pytest.approx(3)
    # merged, the entries are those of the whole trail read afresh
    pd.testing.assert_frame_equal(entries.get(version).sort_index(),
                                  EntryTimes(trail_engine).get(version).sort_index())


def test_backlog_by_hand():
    now = _h(100)
    cases = _cases([
        {"id": 1, "status": "dispatched", "village_id": "DL-01", "handler": "甲", "reported_at": _h(0),
         "deadline_at": _h(72)},
        {"id": 2, "status": "accepted", "village_id": "DL-01", "handler": "甲", "reported_at": _h(52),
         "deadline_at": _h(124)},
        {"id": 3, "status": "reported", "village_id": "DL-02", "handler": None, "reported_at": _h(76),
         "deadline_at": _h(148)},
        {"id": 4, "status": "closed", "village_id": "DL-02", "handler": "乙", "reported_at": _h(0),
         "deadline_at": _h(1)},
    ])
    v = backlog_by_village(cases, now)
    assert v.to_dict("index") == {"DL-01": {"open": 2, "overdue": 1, "oldest_days": pytest.approx(100 / 24)},
                                  "DL-02": {"open": 1, "overdue": 0, "oldest_days": pytest.approx(1.0)}}
    h = backlog_by_handler(cases, now)
    assert list(h.index) == ["甲", "(none)"] and h.loc["甲", "overdue"] == 1


def test_trend_by_hand():
    cases = _cases([
        {"reported_at": datetime(2024, 3, 4, 9), "resolved_at": datetime(2024, 3, 5)},  # Monday
        {"reported_at": datetime(2024, 3, 10, 23), "resolved_at": datetime(2024, 3, 25)},  # Sunday, same week
        {"reported_at": datetime(2024, 3, 11, 1), "resolved_at": None},
    ])
    out = trend(cases)
    assert list(out.index) == [pd.Timestamp(2024, 3, 4), pd.Timestamp(2024, 3, 11), pd.Timestamp(2024, 3, 18),
                               pd.Timestamp(2024, 3, 25)]
    assert out["reported"].tolist() == [2, 1, 0, 0] and out["done"].tolist() == [1, 0, 0, 1]


def test_village_ranking_by_hand():
    now = _h(1000)
    rows = [
        # DL-01: 2 cases, both done on time in the village: 40 + 30 + 30 = 100
        {"village_id": "DL-01", "status": "closed", "max_tier": "grid", "resolved_at": _h(10), "deadline_at": _h(72)},
        {"village_id": "DL-01", "status": "resolved", "max_tier": "village", "resolved_at": _h(10),
         "deadline_at": _h(72)},
        # DL-02: 4 cases, 2 done (1 late, 1 at township), 2 open overdue:
        # 40·0.5 + 30·0.5 + 30·0.5 − 2·2 = 46
        {"village_id": "DL-02", "status": "closed", "max_tier": "grid", "resolved_at": _h(10), "deadline_at": _h(72)},
        {"village_id": "DL-02", "status": "closed", "max_tier": "township", "resolved_at": _h(200),
         "deadline_at": _h(72)},
        {"village_id": "DL-02", "status": "in_progress", "max_tier": "grid", "deadline_at": _h(72)},
        {"village_id": "DL-02", "status": "returned", "max_tier": "grid", "deadline_at": _h(72)},
        # DL-03: 1 open case, not yet due: no done, so rates count 0 → 0
        {"village_id": "DL-03", "status": "reported", "max_tier": "grid", "deadline_at": _h(2000)},
    ]
    out = village_ranking(_cases([{**r, "reported_at": T0} for r in rows]), now)
    assert out["score"].to_dict() == {"DL-01": pytest.approx(100), "DL-02": pytest.approx(46),
                                      "DL-03": pytest.approx(0)}
    assert out["rank"].tolist() == [1, 2, 3] and list(out.index) == ["DL-01", "DL-02", "DL-03"]
    assert out.loc["DL-02", "overdue"] == 2 and out.loc["DL-02", "ontime_rate"] == pytest.approx(0.5)
    assert np.isnan(out.loc["DL-03", "ontime_rate"])


def test_stats_of_no_cases():
    empty = _cases([{"id": 1, "status": "closed", "village_id": "DL-01", "handler": None, "max_tier": "grid",
                     "reported_at": T0, "deadline_at": T0}]).iloc[:0]
    entries = pd.DataFrame({s: pd.Series([T0], dtype="datetime64[us]") for s in STAGE_STATUSES},
                           index=pd.Index([1], name="case_id"))
    assert stage_times(empty, entries)["count"].tolist() == [0, 0, 0, 0]
    assert backlog_by_village(empty, T0).empty and trend(empty).empty and village_ranking(empty, T0).empty

