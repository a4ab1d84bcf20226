"""What runs over many cases or along a case's history: the overdue sweeps, the open orders, the audit trail.

The moves themselves, and the rules they check, are `township.loop.workflow`'s;
an escalation here is that module's ``escalate`` move, made by the ``system`` role.
Deadlines come from the one `township.domain.sla.SlaConfig` the app read at start
(`township.config.Settings.sla`).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.sla import DEFAULT_SLA, SlaConfig, accept_deadline
from township.domain.vocab import OPEN_STATUSES
from township.loop.workflow import TIER_ORDER, Actor, move_case, tier_label
from township.store.models import Case, CaseAssignment, CaseEvent, utcnow
from township.store.uow import UnitOfWork

log = logging.getLogger(__name__)


def escalate_overdue(engine: Engine, now: datetime | None = None, actor: str = "system",
                     sla: SlaConfig = DEFAULT_SLA) -> list[int]:
    """Escalate every open case past its deadline by one tier, when auto-escalation is on.

    A case is past its deadline when ``deadline_at < now`` (as
    `township.read.views.overdue_mask` counts it). Each escalation starts the new
    tier's clock, so a case climbs one tier per missed deadline, never more
    per call. Cases at county tier stay overdue. One transaction, one data
    version for the whole batch.

    Parameters
    ----------
    engine : Engine
        The store.
    now : datetime, optional
        The clock (naive UTC); default the current time.
    actor : str
        Name written into the audit trail.
    sla : SlaConfig
        Deadlines and the ``auto_escalate`` switch (off in the defaults).

    Returns
    -------
    list of int
        The ids of the escalated cases (empty when auto-escalation is off).
    """
    if not sla.auto_escalate:
        return []
    now = now or utcnow()
    who = Actor(actor, "system")
    with UnitOfWork(engine) as uow:
        due = list(uow.session.scalars(
            select(Case).where(Case.status.in_(OPEN_STATUSES), Case.deadline_at < now, Case.tier != TIER_ORDER[-1])
            .order_by(Case.id).with_for_update()))
        for case in due:
            # The unit bumps the data version once: the whole batch is one version.
            reason = f"超期自动升级:{tier_label(case.tier)}期限 {case.deadline_at:%Y-%m-%d %H:%M} UTC 已过"
            move_case(uow, case.id, "escalate", who, now=now, sla=sla, reason=reason)
        uow.commit()
    return [c.id for c in due]


#: Seconds between two escalation sweeps: deadlines are set in hours and days.
SWEEP_INTERVAL_S = 60.0


def sweep_overdue(engine: Engine, stop: threading.Event, interval: float = SWEEP_INTERVAL_S,
                  sla: SlaConfig = DEFAULT_SLA) -> None:
    """Run :func:`escalate_overdue` now and then every ``interval`` seconds until ``stop`` is set.

    For a thread beside the server (``app.py`` starts one when
    ``SLA_AUTO_ESCALATE=1``). A failed sweep is logged and the next one runs
    as planned: a locked or unreachable store must not end the sweeping.
    Several processes may sweep one store: each escalation starts the new
    tier's clock, so a case the first process escalated is no longer due for
    the second.
    """
    while True:
        try:
            done = escalate_overdue(engine, actor="超期自动升级", sla=sla)
            if done:
                log.info("escalated %d overdue case(s): %s", len(done), ", ".join(map(str, done[:20])))
        except Exception:  # noqa: BLE001 - keep sweeping; the traceback is in the log
            log.exception("escalation sweep failed")
        if stop.wait(interval):
            return


def late_to_accept(engine: Engine, now: datetime | None = None, sla: SlaConfig = DEFAULT_SLA) -> list[int]:
    """Cases dispatched longer ago than the accept time (接单时限, default 2 h) and still not accepted.

    Computed at ``now`` from the time of the (last) dispatch, never stored.
    """
    now = now or utcnow()
    with Session(engine) as s:
        rows = s.execute(select(Case.id, CaseAssignment.assigned_at).join(
            CaseAssignment, CaseAssignment.case_id == Case.id).where(Case.status == "dispatched")).all()
    return sorted(cid for cid, at in rows if accept_deadline(at, sla) < now)


def open_orders(engine: Engine, village_id: str) -> list[Case]:
    """Cases a party member of ``village_id`` can take (接单), earliest deadline first.

    Those dispatched to the village's party-member pool, and micro-wishes
    (微心愿) of the village still waiting in ``reported``. The rows are
    detached; they carry personal data (``reporter``), to be masked by role.
    """
    with Session(engine) as s:
        pooled = select(CaseAssignment.case_id).where(CaseAssignment.handler_id.is_(None),
                                                      CaseAssignment.pool_village_id == village_id)
        return list(s.scalars(select(Case).where(or_(
            and_(Case.status == "dispatched", Case.id.in_(pooled)),
            and_(Case.status == "reported", Case.type == "wish", Case.village_id == village_id),
        )).order_by(Case.deadline_at, Case.id)))


def case_trail(engine: Engine, case_id: int) -> list[CaseEvent]:
    """The audit trail of a case, oldest first (by insertion order, which is commit order per case)."""
    with Session(engine) as s:
        return list(s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def replay(events: Iterable[CaseEvent], initial_tier: str = "grid") -> tuple[str | None, str]:
    """Fold an audit trail into the (status, tier) it leads to.

    ``initial_tier`` is the tier the case was reported at (report events
    written by ingest do not record it).

    Raises
    ------
    ValueError
        The trail contradicts itself: an event leaves from a status or tier
        the case was not in.
    """
    status: str | None = None
    tier = initial_tier
    for e in events:
        if status is not None and e.from_status is not None and e.from_status != status:
            raise ValueError(f"event {e.id} ({e.action}) leaves from {e.from_status}, but the case was {status}")
        if e.from_tier is not None and e.from_tier != tier:
            raise ValueError(f"event {e.id} ({e.action}) leaves from tier {e.from_tier}, but the case was at {tier}")
        status = e.to_status or status
        tier = e.to_tier or tier
    return status, tier
