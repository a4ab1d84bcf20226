"""What residents read (群众点单): open cases of the same kind nearby, a tracking page, followers, 回访 answers.

A tracking code is a bearer secret: only its SHA-256 is stored
(`township.store.models.ResidentTrack`), and it is looked up by that. The
tracking page shows a case as the public may see it (`township.domain.policy.PUBLIC_ROLE`):
its steps and times, the handler masked, no staff notes.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.policy import PUBLIC_ROLE, sees_notes
from township.domain.privacy import shown_name
from township.domain.vocab import DONE_STATUSES, OPEN_STATUSES, RESIDENT_CATEGORIES
from township.grids.spatial import from_metric_xy, to_metric_xy
from township.store.models import Case, CaseEvent, ResidentFeedback, ResidentTrack

#: "附近已有人反映": open cases of the same kind within this many metres are offered to follow.
NEAR_M = 250.0
#: Most nearby cases offered.
NEAR_LIMIT = 5


def code_hash(code: str) -> str:
    """The SHA-256 (hex) a tracking code is stored and looked up by."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Nearby:
    """An open case of the same kind near a resident's point."""

    id: int
    title: str
    status: str
    distance_m: float
    follows: int
    reported_at: datetime


def follow_counts(engine: Engine, case_ids: Iterable[int]) -> dict[int, int]:
    """关注: how many residents follow each case (every follow, with a phone or not); 0 for none."""
    with Session(engine) as s:
        return _follow_counts(s, case_ids)


def _follow_counts(s: Session, case_ids: Iterable[int]) -> dict[int, int]:
    ids = list(case_ids)
    rows = s.execute(select(ResidentTrack.case_id, func.count()).where(
        ResidentTrack.case_id.in_(ids), ResidentTrack.kind == "follow").group_by(ResidentTrack.case_id))
    counts = dict.fromkeys(ids, 0)
    counts.update({int(c): int(n) for c, n in rows})
    return counts


def nearby_open(engine: Engine, category: str, lon: float, lat: float, radius_m: float = NEAR_M,
                limit: int = NEAR_LIMIT) -> list[Nearby]:
    """Open cases of ``category``'s type and domain within ``radius_m`` of the point, nearest first.

    A box around the point (its corners projected back from EPSG:4546) picks
    the candidates in the store; their distance is then measured in metres.
    """
    cat = RESIDENT_CATEGORIES[category]
    x, y = to_metric_xy(lon, lat)
    lons, lats = from_metric_xy(np.array([x - radius_m, x + radius_m, x - radius_m, x + radius_m]),
                                np.array([y - radius_m, y - radius_m, y + radius_m, y + radius_m]))
    with Session(engine) as s:
        rows = s.execute(select(Case.id, Case.title, Case.status, Case.lon, Case.lat, Case.reported_at).where(
            Case.type == cat["type"], Case.domain == cat["domain"], Case.status.in_(OPEN_STATUSES),
            Case.lon.between(float(lons.min()), float(lons.max())),
            Case.lat.between(float(lats.min()), float(lats.max())))).all()
        if not rows:
            return []
        cx, cy = to_metric_xy(np.array([r.lon for r in rows], float), np.array([r.lat for r in rows], float))
        dist = np.hypot(cx - x, cy - y)
        near = [(float(d), r) for d, r in zip(dist, rows, strict=True) if d <= radius_m]
        near.sort(key=lambda p: (p[0], p[1].id))
        near = near[:limit]
        counts = _follow_counts(s, [r.id for _, r in near])
    return [Nearby(r.id, r.title, r.status, d, counts[r.id], r.reported_at) for d, r in near]


def followers_of(engine: Engine, case_id: int) -> list[str]:
    """The phones that asked for ``case_id``'s updates: its reporter's (from ``/report``) and its followers'.

    For the notifications (a case closed or reopened reaches these residents);
    personal data: never log them unmasked. Sorted, each once.
    """
    with Session(engine) as s:
        phones = s.scalars(select(ResidentTrack.phone).where(ResidentTrack.case_id == case_id,
                                                             ResidentTrack.phone.is_not(None)))
        return sorted({p for p in phones if p})


@dataclass(frozen=True)
class TrackStep:
    """One step of the public timeline: when, which move (``report``, ``dispatch`` …), to which status."""

    at: datetime
    action: str
    status: str | None
    note: str | None


@dataclass(frozen=True)
class TrackView:
    """A case as its tracking page shows it to the public.

    ``can_answer``: the page asks 满意 / 不满意 (回访): the code is the reporter's,
    the case is done (办结) and this code has not answered since.
    """

    case_id: int
    kind: str
    title: str
    type: str
    domain: str
    status: str
    village_id: str | None
    handler: str
    reported_at: datetime
    resolved_at: datetime | None
    follows: int
    timeline: list[TrackStep]
    can_answer: bool
    answer: bool | None


def track_view(engine: Engine, code: str) -> TrackView | None:
    """The tracking page of ``code``; ``None`` for a code that is not one."""
    with Session(engine) as s:
        track = s.scalar(select(ResidentTrack).where(ResidentTrack.code_sha256 == code_hash(code)))
        if track is None:
            return None
        case = s.get(Case, track.case_id)
        if case is None:
            return None
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at, CaseEvent.id))
        notes = sees_notes(PUBLIC_ROLE)
        timeline = [TrackStep(e.at, e.action, e.to_status, e.note if notes else None) for e in events]
        last = s.scalar(select(ResidentFeedback).where(ResidentFeedback.track_id == track.id)
                        .order_by(ResidentFeedback.at.desc(), ResidentFeedback.id.desc()).limit(1))
        resolved = case.resolved_at if case.status in DONE_STATUSES else None
        answered = last is not None and resolved is not None and last.at >= resolved
        return TrackView(
            case_id=case.id, kind=track.kind, title=case.title, type=case.type, domain=case.domain,
            status=case.status, village_id=case.village_id, handler=shown_name(case.handler, PUBLIC_ROLE),
            reported_at=case.reported_at, resolved_at=case.resolved_at, follows=_follow_counts(s, [case.id])[case.id],
            timeline=timeline, can_answer=track.kind == "report" and resolved is not None and not answered,
            answer=last.satisfied if answered and last is not None else None)


def feedback_frame(engine: Engine) -> pd.DataFrame:
    """Every 回访 answer: ``case_id``, ``satisfied``, ``reopened`` (for 满意率 and 返工率, `township.read.stats`)."""
    with Session(engine) as s:
        rows = s.execute(select(ResidentFeedback.case_id, ResidentFeedback.satisfied,
                                ResidentFeedback.reopened)).all()
    return pd.DataFrame({"case_id": pd.array([r[0] for r in rows], dtype="int64"),
                         "satisfied": pd.array([bool(r[1]) for r in rows], dtype="bool"),
                         "reopened": pd.array([bool(r[2]) for r in rows], dtype="bool")})


__all__ = ["NEAR_M", "Nearby", "TrackStep", "TrackView", "code_hash", "feedback_frame", "follow_counts",
           "followers_of", "nearby_open", "track_view"]
