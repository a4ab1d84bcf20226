"""What residents do (群众点单): report a case, follow one (关注), and answer the 回访 after 办结.

Each is one use case in one unit of work. A report lands through ingest
(`township.formats.ingest.add_cases`) as source ``citizen``, status ``reported``,
with its photos (`township.loop.photos`, the field app's pipeline) and the
reporter's tracking code; a follow gives the follower a code of their
own on the case. 不满意 within ``reopen_days`` of 办结 reopens the case to
dispatch (the workflow's ``reopen`` move, its audit record naming the 回访):
that is 返工.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from township.domain.sla import DEFAULT_SLA, SlaConfig
from township.domain.vocab import DONE_STATUSES, OPEN_STATUSES
from township.formats.citizen import MAX_COMMENT, ResidentReport, to_case
from township.formats.ingest import add_cases, strip_controls
from township.grids.model import GridSet
from township.loop.photos import PhotoRules, attach_photos
from township.loop.workflow import Actor, move_case
from township.read.resident import code_hash
from township.store.models import Case, ResidentFeedback, ResidentTrack, utcnow
from township.store.uow import UnitOfWork

#: Bytes of randomness in a tracking code (128 bits; the brief's floor is 96).
CODE_BYTES = 16
#: Who the 回访's reopening is in the audit trail.
REVISIT_ACTOR = Actor("群众回访", "system")
#: Who uploads a report's photos: a resident, shown as the public is (no account, no role of staff).
RESIDENT_ACTOR = Actor("群众", "wall")


class ResidentRefused(Exception):
    """A resident's request that cannot be done; nothing was written.

    ``status`` is the HTTP status to answer: 404 (no such case or code), 409
    (not in a state that allows it), 422 (bad input).
    """

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Tracked:
    """A case and the new tracking code for it (shown once: only its hash is kept)."""

    case_id: int
    code: str


def _track(uow: UnitOfWork, case_id: int, kind: str, phone: str | None, now: datetime) -> Tracked:
    code = secrets.token_urlsafe(CODE_BYTES)
    uow.session.add(ResidentTrack(case_id=case_id, code_sha256=code_hash(code), kind=kind, phone=phone,
                                  created_at=now))
    return Tracked(case_id, code)


def file_report(uow: UnitOfWork, gridset: GridSet, report: ResidentReport, *, sla: SlaConfig = DEFAULT_SLA,
                photos: list[bytes] | None = None, rules: PhotoRules | None = None,
                now: datetime | None = None) -> Tracked:
    """File a resident's report as a new case, with its ``photos`` and the reporter's tracking code.

    The photos go through the field app's pipeline (`township.loop.photos.attach_photos`,
    with ``rules``); the right to add them is vouched for here: they belong to
    the case this very use case creates.

    Raises
    ------
    ResidentRefused
        422: the point is outside the town (no grid holds it).
    township.formats.photos.PhotoRefused
        A photo refused (its type, size, pixels, or too many); nothing is written.
    """
    if gridset.locate_one(report.lon, report.lat) is None:
        raise ResidentRefused(f"所选位置({report.lon:.5f}, {report.lat:.5f})不在本镇范围内,请在地图上重新选择 · "
                              "this point is outside the town (field: lon,lat): pick a place inside it", 422)
    written = add_cases(uow, gridset, [to_case(report)], actor="群众点单", sla=sla)[0]
    if photos:
        if rules is None:
            raise ValueError("photos need the photo rules (township.loop.photos.PhotoRules.of(settings))")
        attach_photos(uow, rules, written.id, photos, RESIDENT_ACTOR, "report", vouched=True)
    return _track(uow, written.id, "report", report.phone, now or utcnow())


def follow(uow: UnitOfWork, case_id: int, phone: str | None, now: datetime | None = None) -> Tracked:
    """关注: follow an open case instead of reporting it again; with a phone, ask for its updates.

    Raises
    ------
    ResidentRefused
        404 for no such case; 409 for a case no longer open.
    """
    case = uow.session.get(Case, case_id)
    if case is None:
        raise ResidentRefused(f"没有编号为 {case_id} 的事件 · there is no case {case_id}", 404)
    if case.status not in OPEN_STATUSES:
        raise ResidentRefused(f"事件 {case_id} 已办结或已撤销,无需关注,可重新反映 · case {case_id} is no longer "
                              "open: report it anew if it is back", 409)
    return _track(uow, case_id, "follow", phone, now or utcnow())


@dataclass(frozen=True)
class Answered:
    """A 回访 answer stored; ``reopened``: it sent the case back to dispatch (返工)."""

    case_id: int
    satisfied: bool
    reopened: bool


def answer_revisit(uow: UnitOfWork, code: str, satisfied: bool, comment: str = "", *, reopen_days: float,
                   sla: SlaConfig = DEFAULT_SLA, now: datetime | None = None) -> Answered:
    """The reporter's 回访 after 办结: 满意 or 不满意, with an optional comment.

    不满意 no later than ``reopen_days`` after the case's ``resolved_at`` (the
    limit itself included) reopens it to dispatch; later, it is only recorded.
    One answer per 办结: after a reopening and a new 办结 the page asks again.

    Raises
    ------
    ResidentRefused
        404 for an unknown code; 409 when this code may not answer now (a
        follower's, a case not done, already answered); 422 for a long comment.
    """
    now = now or utcnow()
    comment = strip_controls(comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ResidentRefused(f"意见最多 {MAX_COMMENT} 字,现有 {len(comment)} 字 · the comment (field: comment) is "
                              f"{len(comment)} characters; at most {MAX_COMMENT}", 422)
    s = uow.session
    track = s.scalar(select(ResidentTrack).where(ResidentTrack.code_sha256 == code_hash(code)))
    if track is None:
        raise ResidentRefused("没有这个查询码 · no such tracking code", 404)
    case = s.get(Case, track.case_id, with_for_update=True)
    if case is None:
        raise ResidentRefused("没有这个查询码 · no such tracking code", 404)
    if track.kind != "report":
        raise ResidentRefused("回访由反映人本人填写 · the return visit is answered by the resident who reported "
                              "the case", 409)
    if case.status not in DONE_STATUSES or case.resolved_at is None:
        raise ResidentRefused("事件尚未办结,办结后再评价 · the case is not resolved yet: answer after 办结", 409)
    since = s.scalar(select(ResidentFeedback.id).where(ResidentFeedback.track_id == track.id,
                                                       ResidentFeedback.at >= case.resolved_at).limit(1))
    if since is not None:
        raise ResidentRefused("本次办结已评价过 · this resolution has already been answered", 409)
    reopen = not satisfied and now - case.resolved_at <= timedelta(days=reopen_days)
    if reopen:
        reason = "群众回访不满意" + (f":{comment}" if comment else "")
        move_case(uow, case.id, "reopen", REVISIT_ACTOR, now=now, sla=sla, reason=reason[:2000])
    s.add(ResidentFeedback(case_id=case.id, track_id=track.id, satisfied=satisfied, comment=comment, at=now,
                           reopened=reopen))
    uow.version()  # the statistics (满意率, 返工率) change with it: screens reading per data version refresh
    return Answered(case.id, satisfied, reopen)


__all__ = ["CODE_BYTES", "Answered", "ResidentRefused", "Tracked", "answer_revisit", "file_report", "follow"]
