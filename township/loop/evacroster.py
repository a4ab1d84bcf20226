"""What an evacuation looks like to a viewer: counts for everyone, the roster's people for the allowed only.

`evacuation_view` is the one read the API, the warning card, the phone page,
the wall and the printable 转移台账 share; the policy
(`township.domain.policy.sees_household`) decides row by row whether a
household's people are shown, and every read that shows people is logged
(`township.store.models.RosterRead`: who, when, which warning and village, how).
`evacuation_summary` is the account once the warning is cleared.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.isotime import iso
from township.domain.policy import Viewer, sees_household
from township.domain.vocab import EVAC_SAFE, EVAC_STATUSES, LIVE_WARNING_STATUSES
from township.grids.model import GridSet
from township.loop.evacuation import (
    SHELTER_AMBER,
    HouseholdMoved,
    is_vulnerable,
    opens_roster,
    roster_households,
    shelter_loads,
)
from township.store.evacuation import Evacuation, EvacuationEvent, EvacuationHousehold, Household, RosterRead
from township.store.models import Handler, Resource, Warning, utcnow
from township.store.uow import session_scope

#: How a roster was read, for the read log.
CHANNELS = ("api", "card", "phone", "export")


class EvacMoveIn(BaseModel):
    """The body of ``POST /api/v1/evacuation/households/{id}/{move}``."""

    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=0, description="the roster row's version as last read; changed since: 409")
    note: str = Field("", max_length=2000, description="why (required for refuse and unreachable)")


class EvacStartIn(BaseModel):
    """The body of ``POST /api/v1/warnings/{id}/evacuation``: a note for the warning's log."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=2000, description="a note for the warning's log")


class PersonOut(BaseModel):
    """A 包保 helper or backup as the roster shows them."""

    handler_id: str
    name: str
    phone: str | None


class RosterRowOut(BaseModel):
    """One household of the roster, with its people: only for the roles the policy allows."""

    id: int = Field(description="the roster row (the id the moves take)")
    version: int
    household_no: str
    village_id: str | None
    grid_id: str | None
    she: str
    head: str
    phone: str | None
    people: int
    address: str
    lon: float
    lat: float
    flags: list[str] = Field(description="HOUSEHOLD_FLAGS codes; non-empty: vulnerable")
    vulnerable: bool
    helper: PersonOut | None
    backup: PersonOut | None
    shelter_id: str | None
    shelter: str | None
    distance_m: float | None
    status: str
    note: str
    updated_at: str | None


class VillageCountOut(BaseModel):
    """One affected village's progress (counts only: every reader gets these)."""

    village_id: str | None
    total: int
    moved: int = Field(description="households moved or settled")
    by_status: dict[str, int]


class ShelterOut(BaseModel):
    """A shelter's occupancy: ``state`` ok, amber (≥ 80 %) or full."""

    resource_id: str
    name: str
    lon: float
    lat: float
    capacity: int
    people: int
    state: str


class EvacuationOut(BaseModel):
    """``GET /api/v1/warnings/{id}/evacuation``: counts for every reader, ``households`` only as allowed."""

    warning_id: int
    started: bool
    opens_roster: bool = Field(description="a red/orange flood-type warning: the roster opens by itself")
    started_at: str | None
    version: int = Field(description="the highest version of the roster's rows (0 before it starts)")
    total: int
    moved: int
    vulnerable: int
    vulnerable_moved: int
    by_status: dict[str, int]
    villages: list[VillageCountOut]
    shelters: list[ShelterOut]
    households: list[RosterRowOut] = Field(description="the households whose people the caller may see")
    hidden: int = Field(description="households counted but not shown to the caller")


class EvacMovedOut(BaseModel):
    """What a household's step did."""

    household: RosterRowOut
    action: str
    from_status: str | None
    to_status: str | None
    at: str | None


def _person(h: Handler | None) -> PersonOut | None:
    return PersonOut(handler_id=h.handler_id, name=h.name, phone=h.phone) if h else None


def roster_row(entry: EvacuationHousehold, h: Household, handlers: dict[str, Handler],
               shelters: dict[str, str]) -> RosterRowOut:
    """A roster row with its people (ask the policy first)."""
    flags = [f for f in (h.flags or "").split(",") if f]
    return RosterRowOut(
        id=entry.id, version=entry.version, household_no=h.household_no, village_id=h.village_id, grid_id=h.grid_id,
        she=h.she, head=h.head, phone=h.phone, people=h.people, address=h.address, lon=h.lon, lat=h.lat,
        flags=flags, vulnerable=bool(flags), helper=_person(handlers.get(h.helper_id or "")),
        backup=_person(handlers.get(h.backup_id or "")), shelter_id=entry.shelter_id,
        shelter=shelters.get(entry.shelter_id or ""), distance_m=entry.distance_m, status=entry.status,
        note=entry.note, updated_at=iso(entry.updated_at))


def moved_out(engine: Engine, done: HouseholdMoved) -> EvacMovedOut:
    """What :func:`township.loop.evacuation.move_household` did, for the one who did it (they may see it)."""
    h, e = done.household, done.event
    with Session(engine) as s:
        handlers = {x.handler_id: x for x in (s.get(Handler, i) for i in (h.helper_id, h.backup_id) if i) if x}
        shelter = s.get(Resource, done.entry.shelter_id) if done.entry.shelter_id else None
    names = {shelter.resource_id: shelter.name} if shelter else {}
    return EvacMovedOut(household=roster_row(done.entry, h, handlers, names), action=e.action,
                        from_status=e.from_status, to_status=e.to_status, at=iso(e.at))


def _counts(pairs: list[tuple[str | None, str]]) -> tuple[dict[str, int], list[VillageCountOut]]:
    total = Counter(status for _, status in pairs)
    by_village: dict[str | None, Counter] = {}
    for village, status in pairs:
        by_village.setdefault(village, Counter())[status] += 1
    villages = [VillageCountOut(village_id=v, total=sum(c.values()), moved=sum(c[s] for s in EVAC_SAFE),
                                by_status={s: c[s] for s in EVAC_STATUSES})
                for v, c in sorted(by_village.items(), key=lambda kv: kv[0] or "")]
    return {s: total[s] for s in EVAC_STATUSES}, villages


def evacuation_view(engine: Engine, gridset: GridSet, warning: Warning, viewer: Viewer, channel: str,
                    actor_name: str = "", log: bool = True, village_id: str | None = None) -> EvacuationOut:
    """The evacuation of ``warning`` as ``viewer`` may see it; logs the read when it shows people.

    ``village_id`` lists only that village's households (the counts stay the whole roster's).

    Before the evacuation starts the counts are those of the households the
    roster would hold (all 待通知), and no household is listed.
    """
    with Session(engine) as s:
        evac = s.scalar(select(Evacuation).where(Evacuation.warning_id == warning.id))
        if evac is None:
            proposed = roster_households(s, gridset, warning)
            by_status, villages = _counts([(h.village_id, "pending") for h in proposed])
            return EvacuationOut(warning_id=warning.id, started=False, opens_roster=opens_roster(warning.type,
                                 warning.level), started_at=None, version=0, total=len(proposed), moved=0,
                                 vulnerable=sum(is_vulnerable(h.flags) for h in proposed), vulnerable_moved=0,
                                 by_status=by_status, villages=villages,
                                 shelters=_shelters(s, None), households=[], hidden=len(proposed))
        rows = s.execute(select(EvacuationHousehold, Household)
                         .join(Household, Household.id == EvacuationHousehold.household_id)
                         .where(EvacuationHousehold.evacuation_id == evac.id)).all()
        rows = sorted(rows, key=lambda r: (not is_vulnerable(r[1].flags), r[1].village_id or "", r[1].grid_id or "",
                                           r[1].household_no))
        shown = [(e, h) for e, h in rows if sees_household(viewer, h.village_id, (h.helper_id, h.backup_id))
                 and village_id in (None, h.village_id)]
        ids = {i for _, h in shown for i in (h.helper_id, h.backup_id) if i}
        handlers = {x.handler_id: x for x in s.scalars(select(Handler).where(Handler.handler_id.in_(ids)))} \
            if ids else {}
        shelters = _shelters(s, evac.id)
        names = {x.resource_id: x.name for x in shelters}
        by_status, villages = _counts([(h.village_id, e.status) for e, h in rows])
        vulnerable = [e for e, h in rows if is_vulnerable(h.flags)]
        out = EvacuationOut(
            warning_id=warning.id, started=True, opens_roster=opens_roster(warning.type, warning.level),
            started_at=iso(evac.started_at), version=max([evac.version, *(e.version for e, _ in rows)]),
            total=len(rows), moved=sum(e.status in EVAC_SAFE for e, _ in rows), vulnerable=len(vulnerable),
            vulnerable_moved=sum(e.status in EVAC_SAFE for e in vulnerable), by_status=by_status, villages=villages,
            shelters=shelters, households=[roster_row(e, h, handlers, names) for e, h in shown],
            hidden=len(rows) - len(shown))
    if log and shown:
        log_roster_read(engine, warning.id, viewer, actor_name, channel,
                        Counter(h.village_id for _, h in shown))
    return out


def live_evacuations(engine: Engine, gridset: GridSet, viewer: Viewer) -> list[tuple[str, EvacuationOut]]:
    """(title, progress) of every started evacuation of a live warning, newest first; counts as ``viewer`` may
    see them, no read logged (the wall's and the card's counts show nobody)."""
    with Session(engine) as s:
        rows = list(s.scalars(select(Warning).join(Evacuation, Evacuation.warning_id == Warning.id)
                              .where(Warning.status.in_(list(LIVE_WARNING_STATUSES)))
                              .order_by(Evacuation.id.desc())))
    out = []
    for w in rows:
        view = evacuation_view(engine, gridset, w, viewer, "card", log=False)
        out.append((w.title, view.model_copy(update={"households": []})))
    return out


def helper_rosters(engine: Engine, gridset: GridSet, viewer: Viewer,
                   actor_name: str) -> list[tuple[str, EvacuationOut]]:
    """(title, roster) of every live evacuation with a household ``viewer`` may see, newest first; the phone's
    list (the helper's households). Each read that shows people is logged (channel ``phone``)."""
    with Session(engine) as s:
        rows = list(s.scalars(select(Warning).join(Evacuation, Evacuation.warning_id == Warning.id)
                              .where(Warning.status.in_(list(LIVE_WARNING_STATUSES)))
                              .order_by(Evacuation.id.desc())))
    out = [(w.title, evacuation_view(engine, gridset, w, viewer, "phone", actor_name)) for w in rows]
    return [(title, view) for title, view in out if view.households]


def evacuation_points(engine: Engine, warning_id: int, viewer: Viewer) -> list[tuple[float, float, str]]:
    """(lon, lat, status) of the households of ``warning_id``'s evacuation ``viewer`` may see (the map's points)."""
    with Session(engine) as s:
        rows = s.execute(select(Household, EvacuationHousehold.status)
                         .join(EvacuationHousehold, EvacuationHousehold.household_id == Household.id)
                         .join(Evacuation, Evacuation.id == EvacuationHousehold.evacuation_id)
                         .where(Evacuation.warning_id == int(warning_id))).all()
    return [(h.lon, h.lat, status) for h, status in rows
            if sees_household(viewer, h.village_id, (h.helper_id, h.backup_id))]


def evacuation_grid_counts(engine: Engine, warning_id: int) -> list[tuple[str, int, int]]:
    """(grid_id, moved, total) per grid of ``warning_id``'s evacuation, by grid id (the map's shading).

    ``moved`` counts 已转移 and 已安置 (``EVAC_SAFE``). Aggregates name nobody, so
    every viewer who may see the warning gets them; households without a grid are left out.
    """
    safe = case((EvacuationHousehold.status.in_(sorted(EVAC_SAFE)), 1), else_=0)
    with Session(engine) as s:
        rows = s.execute(select(Household.grid_id, func.sum(safe), func.count())
                         .join(EvacuationHousehold, EvacuationHousehold.household_id == Household.id)
                         .join(Evacuation, Evacuation.id == EvacuationHousehold.evacuation_id)
                         .where(Evacuation.warning_id == int(warning_id), Household.grid_id.is_not(None))
                         .group_by(Household.grid_id).order_by(Household.grid_id)).all()
    return [(str(grid), int(moved), int(total)) for grid, moved, total in rows]


def _shelters(s: Session, evacuation_id: int | None) -> list[ShelterOut]:
    out = []
    for x in shelter_loads(s, evacuation_id, EVAC_SAFE):
        share = x.people / x.capacity if x.capacity else 1.0
        state = "full" if x.free <= 0 else "amber" if share >= SHELTER_AMBER else "ok"
        out.append(ShelterOut(resource_id=x.resource_id, name=x.name, lon=x.lon, lat=x.lat, capacity=x.capacity,
                              people=x.people, state=state))
    return out


def log_roster_read(engine: Engine, warning_id: int, viewer: Viewer, actor_name: str, channel: str,
                    villages: Counter, now: datetime | None = None) -> None:
    """Log one read of a roster with people: a row per village shown (no data version bump: nothing changed)."""
    if channel not in CHANNELS:
        raise ValueError(f"channel={channel!r} unknown; allowed: {', '.join(CHANNELS)}")
    now = now or utcnow()
    with session_scope(engine) as s:
        s.add_all([RosterRead(at=now, actor=(actor_name or viewer.role)[:64], role=viewer.role,
                              warning_id=int(warning_id), village_id=v, channel=channel, households=n)
                   for v, n in sorted(villages.items(), key=lambda kv: kv[0] or "")])


class SummaryOut(BaseModel):
    """The account of an evacuation (转移台账's head, the daily report's lines)."""

    warning_id: int
    title: str
    started_at: str | None
    total: int
    moved: int = Field(description="households that reached 已转移 (or 已安置)")
    settled: int
    refused: int
    unreachable: int
    pending: int = Field(description="still 待通知 or 已通知")
    vulnerable: int
    minutes_to_move_vulnerable: float | None = Field(description="from the start to the last vulnerable household "
                                                     "moved; None while one is not")


def evacuation_summary(engine: Engine, warning: Warning) -> SummaryOut | None:
    """The summary of ``warning``'s evacuation from its audit events (None: no evacuation)."""
    with Session(engine) as s:
        evac = s.scalar(select(Evacuation).where(Evacuation.warning_id == warning.id))
        if evac is None:
            return None
        rows = s.execute(select(EvacuationHousehold, Household.flags)
                         .join(Household, Household.id == EvacuationHousehold.household_id)
                         .where(EvacuationHousehold.evacuation_id == evac.id)).all()
        first_moved = dict(s.execute(
            select(EvacuationEvent.entry_id, EvacuationEvent.at)
            .join(EvacuationHousehold, EvacuationHousehold.id == EvacuationEvent.entry_id)
            .where(EvacuationHousehold.evacuation_id == evac.id, EvacuationEvent.to_status == "moved")
            .order_by(EvacuationEvent.at.desc())).all())  # dict keeps the last: the earliest time
    status = Counter(e.status for e, _ in rows)
    vulnerable = [e.id for e, flags in rows if is_vulnerable(flags)]
    done = all(i in first_moved for i in vulnerable)
    minutes = (round((max(first_moved[i] for i in vulnerable) - evac.started_at).total_seconds() / 60, 1)
               if vulnerable and done else (0.0 if not vulnerable else None))
    return SummaryOut(warning_id=warning.id, title=warning.title, started_at=iso(evac.started_at), total=len(rows),
                      moved=sum(1 for e, _ in rows if e.id in first_moved), settled=status["settled"],
                      refused=status["refused"], unreachable=status["unreachable"],
                      pending=status["pending"] + status["notified"], vulnerable=len(vulnerable),
                      minutes_to_move_vulnerable=minutes)


def cleared_summaries(engine: Engine, start: datetime, end: datetime) -> list[SummaryOut]:
    """The summaries of the evacuations whose warning was cleared in [``start``, ``end``), naive UTC."""
    with Session(engine) as s:
        rows = list(s.scalars(select(Warning).join(Evacuation, Evacuation.warning_id == Warning.id)
                              .where(Warning.status == "cleared", Warning.updated_at >= start,
                                     Warning.updated_at < end).order_by(Warning.updated_at)))
    return [x for x in (evacuation_summary(engine, w) for w in rows) if x is not None]


__all__ = ["CHANNELS", "EvacMoveIn", "EvacStartIn", "PersonOut", "RosterRowOut", "VillageCountOut", "ShelterOut",
           "EvacuationOut", "EvacMovedOut", "SummaryOut", "roster_row", "moved_out", "evacuation_view",
           "live_evacuations", "helper_rosters", "evacuation_points", "evacuation_grid_counts",
           "log_roster_read", "evacuation_summary", "cleared_summaries"]
