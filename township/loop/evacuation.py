"""Evacuation command (转移安置): from a warning to a roster, and each household's way to a shelter.

Plain functions (no Dash, no Flask): the API, the warning card, the phone page
and the tests call them with any viewer; who may do what is asked of the one
policy (`township.domain.policy.sees_household`, `may_move_household`,
`may_start_evacuation`).

* :func:`roster_households` — the households a warning's area holds: inside
  its radius (measured in EPSG:4546) and in one of its affected grids.
* :func:`start_evacuation` — the command centre opens the 转移名单: one
  `EvacuationHousehold` per household, vulnerable first, each pointed to the
  nearest shelter with room, logged on the warning; one unit of work.
* :func:`move_household` — a household's step (notify, move, settle, refuse,
  unreachable) with ``expected_version``, an audited `EvacuationEvent`; a
  household that moves to a full shelter is pointed to the next one with room.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.policy import may_move_household, may_start_evacuation
from township.domain.vocab import EVAC_SAFE, EVAC_STATUSES, FLOOD_WARNING_TYPES, LIVE_WARNING_STATUSES
from township.grids.model import GridSet
from township.grids.spatial import to_metric_xy
from township.loop.warnings import reached_villages
from township.loop.workflow import Actor, MoveRefused
from township.store.evacuation import Evacuation, EvacuationEvent, EvacuationHousehold, Household, Shelter
from township.store.models import Resource, Warning, WarningEvent, utcnow
from township.store.uow import UnitOfWork

#: A household's moves: name → (statuses it leaves from, status it goes to, whether a note is required).
EVAC_MOVES: dict[str, tuple[frozenset[str], str, bool]] = {
    "notify": (frozenset({"pending", "unreachable"}), "notified", False),
    "move": (frozenset({"pending", "notified", "refused", "unreachable"}), "moved", False),
    "settle": (frozenset({"moved"}), "settled", False),
    "refuse": (frozenset({"pending", "notified", "unreachable"}), "refused", True),
    "unreachable": (frozenset({"pending", "notified"}), "unreachable", True),
}
#: A shelter this full (share of its capacity) is amber on the screens; full is red.
SHELTER_AMBER = 0.8


def opens_roster(warning_type: str, level: int) -> bool:
    """Whether a warning opens a 转移名单 by itself: a red or orange warning of a flood-type hazard."""
    return warning_type in FLOOD_WARNING_TYPES and level <= 2


def is_vulnerable(flags: str | None) -> bool:
    """Whether a household's flags name someone who needs help to move."""
    return bool((flags or "").strip())


def roster_households(session: Session, gridset: GridSet, warning: Warning) -> list[Household]:
    """The households inside ``warning``'s radius and within its affected grids, vulnerable first.

    The radius is measured in the project's metric CRS (EPSG:4546); the order
    is vulnerable first, then by village, grid and household number.
    """
    grids = gridset.grids_within(warning.lon, warning.lat, warning.radius_m)
    if not grids:
        return []
    rows = list(session.scalars(select(Household).where(Household.grid_id.in_(grids))))
    if not rows:
        return []
    x0, y0 = to_metric_xy(warning.lon, warning.lat)
    x, y = to_metric_xy(np.array([h.lon for h in rows]), np.array([h.lat for h in rows]))
    inside = np.hypot(np.asarray(x) - x0, np.asarray(y) - y0) <= warning.radius_m
    chosen = [h for h, ok in zip(rows, inside, strict=True) if ok]
    return sorted(chosen, key=lambda h: (not is_vulnerable(h.flags), h.village_id or "", h.grid_id or "",
                                         h.household_no))


@dataclass
class ShelterLoad:
    """A shelter, where it is (metric), its capacity and the people pointed to or in it."""

    resource_id: str
    name: str
    lon: float
    lat: float
    x: float
    y: float
    capacity: int
    people: int = 0

    @property
    def free(self) -> int:
        return self.capacity - self.people


def shelter_loads(session: Session, evacuation_id: int | None, statuses: Iterable[str]) -> list[ShelterLoad]:
    """Every shelter with the people of ``evacuation_id``'s households in ``statuses`` pointed to it."""
    rows = session.execute(select(Resource, Shelter).join(Shelter, Shelter.resource_id == Resource.resource_id)
                           .order_by(Resource.resource_id)).all()
    people: dict[str | None, int] = {}
    if evacuation_id is not None:
        people = dict(session.execute(
            select(EvacuationHousehold.shelter_id, func.sum(Household.people))
            .join(Household, Household.id == EvacuationHousehold.household_id)
            .where(EvacuationHousehold.evacuation_id == evacuation_id,
                   EvacuationHousehold.status.in_(list(statuses)))
            .group_by(EvacuationHousehold.shelter_id)).all())
    out = []
    for r, s in rows:
        x, y = to_metric_xy(r.lon, r.lat)
        out.append(ShelterLoad(r.resource_id, r.name, r.lon, r.lat, float(x), float(y), s.capacity,
                               int(people.get(r.resource_id) or 0)))
    return out


def nearest_with_room(loads: list[ShelterLoad], lon: float, lat: float,
                      people: int) -> tuple[ShelterLoad, float] | None:
    """The nearest shelter with room for ``people`` more (else the nearest of all), and its distance in metres."""
    if not loads:
        return None
    x, y = to_metric_xy(lon, lat)
    ranked = sorted(((float(np.hypot(s.x - x, s.y - y)), s) for s in loads), key=lambda t: (t[0], t[1].resource_id))
    for d, s in ranked:
        if s.free >= people:
            return s, d
    d, s = ranked[0]
    return s, d


def _locked_warning(uow: UnitOfWork, gridset: GridSet, warning_id: int, actor: Actor) -> Warning:
    row = uow.session.get(Warning, int(warning_id), with_for_update=True)
    if row is None:
        raise MoveRefused(f"warning {warning_id} does not exist", "not_found")
    villages = reached_villages(gridset, row.village_id, gridset.grids_within(row.lon, row.lat, row.radius_m))
    if actor.role == "village" and actor.village_id not in villages:
        raise MoveRefused(f"warning {warning_id} does not exist", "not_found")
    return row


def start_evacuation(engine: Engine, gridset: GridSet, warning_id: int, actor: Actor, *,
                     note: str = "", now: datetime | None = None) -> int:
    """Open the 转移名单 of a warning and return the evacuation's id.

    One unit of work: the evacuation, a roster row per household of
    :func:`roster_households` (status 待通知, pointed to the nearest shelter
    with room, vulnerable households placed first) and the warning's log step.

    Raises
    ------
    MoveRefused
        ``not_found`` (no such warning, or not one a village operator sees),
        ``forbidden`` (not the command centre), ``status`` (the warning is
        cleared, or its evacuation already started).
    """
    now = now or utcnow()
    with UnitOfWork(engine) as uow:
        s = uow.session
        row = _locked_warning(uow, gridset, warning_id, actor)
        if not may_start_evacuation(actor):
            raise MoveRefused(f"role {actor.role!r} may not start an evacuation; allowed: admin, command",
                              "forbidden")
        if row.status not in LIVE_WARNING_STATUSES:
            raise MoveRefused(f"warning {row.id} is {row.status}; an evacuation starts only on a live warning",
                              "status")
        if s.scalar(select(Evacuation.id).where(Evacuation.warning_id == row.id)) is not None:
            raise MoveRefused(f"the evacuation of warning {row.id} has already started", "status")
        version = uow.version()
        evac = Evacuation(warning_id=row.id, started_at=now, started_by=actor.name[:64], version=version)
        s.add(evac)
        s.flush()
        households = roster_households(s, gridset, row)
        loads = shelter_loads(s, None, ())
        for h in households:
            found = nearest_with_room(loads, h.lon, h.lat, h.people)
            if found:
                found[0].people += h.people
            s.add(EvacuationHousehold(evacuation_id=evac.id, household_id=h.id, status="pending",
                                      shelter_id=found[0].resource_id if found else None,
                                      distance_m=round(found[1], 1) if found else None,
                                      updated_at=now, version=version))
        extra = note.strip()
        s.add(WarningEvent(warning_id=row.id, at=now, actor=actor.name[:64], action="evacuate",
                           from_status=None, to_status=None,
                           note=f"启动转移:{len(households)} 户" + (f"\n{extra}" if extra else "")))
        uow.commit()
        return evac.id


@dataclass(frozen=True)
class HouseholdMoved:
    """What a household's step did: the roster row after it and the audit record."""

    entry: EvacuationHousehold
    event: EvacuationEvent
    household: Household


def move_household(engine: Engine, entry_id: int, move: str, actor: Actor, *, expected_version: int,
                   note: str = "", now: datetime | None = None) -> HouseholdMoved:
    """Move one household of a roster a step in a unit of work of its own (see :func:`move_household_in`)."""
    with UnitOfWork(engine) as uow:
        done = move_household_in(uow, entry_id, move, actor, expected_version=expected_version, note=note, now=now)
        uow.commit()
    return done


def move_household_in(uow: UnitOfWork, entry_id: int, move: str, actor: Actor, *, expected_version: int,
                      note: str = "", now: datetime | None = None) -> HouseholdMoved:
    """Move one household of a roster a step, audited, in ``uow`` (the caller commits: the field app's
    idempotency receipt goes in the same unit).

    A household that moves (已转移) to a shelter already full is pointed to the
    nearest one with room, so the shelters' occupancy follows the check-offs.

    Raises
    ------
    MoveRefused
        ``invalid`` (unknown move, or a refusal/unreachable without a note),
        ``not_found`` (no such row, or one the viewer may not see), ``stale``
        (changed since ``expected_version``), ``status`` (not from its status,
        or the warning is cleared).
    """
    spec = EVAC_MOVES.get(move)
    if spec is None:
        raise MoveRefused(f"unknown evacuation move {move!r}; moves: {', '.join(EVAC_MOVES)}", "invalid")
    froms, to, needs_note = spec
    now = now or utcnow()
    s = uow.session
    entry = s.get(EvacuationHousehold, int(entry_id), with_for_update=True)
    household = s.get(Household, entry.household_id) if entry else None
    if entry is None or household is None or not may_move_household(
            actor, household.village_id, (household.helper_id, household.backup_id)):
        # Another village's household is, to this viewer, one that does not exist.
        raise MoveRefused(f"evacuation household {entry_id} does not exist", "not_found")
    if entry.version != expected_version:
        raise MoveRefused(f"household {entry_id} was changed by someone else since you read it (you saw version "
                          f"{expected_version}, it is now {entry.version}); reload and try again", "stale")
    evac = s.get(Evacuation, entry.evacuation_id)
    warning = s.get(Warning, evac.warning_id) if evac else None
    if warning is None or warning.status not in LIVE_WARNING_STATUSES:
        raise MoveRefused(f"the warning of household {entry_id} is cleared; its roster is closed", "status")
    if entry.status not in froms:
        raise MoveRefused(f"household {entry_id} is {EVAC_STATUSES[entry.status]['zh']} ({entry.status}); "
                          f"{move} leaves only from {', '.join(sorted(froms))}", "status")
    text = (note or "").strip()
    if needs_note and not text:
        raise MoveRefused(f"{move} ({EVAC_STATUSES[to]['zh']}) needs a note: why, and what was tried", "invalid")
    if to == "moved":
        _repoint_if_full(s, entry, household)
    event = EvacuationEvent(entry_id=entry.id, at=now, actor=actor.name[:64], action=move,
                            from_status=entry.status, to_status=to, note=text)
    s.add(event)
    entry.status = to
    entry.note = text or entry.note
    entry.updated_at = now
    entry.version = uow.version()
    s.flush()
    return HouseholdMoved(entry, event, household)


def _repoint_if_full(s: Session, entry: EvacuationHousehold, household: Household) -> None:
    """Point ``entry`` to the nearest shelter with room when its own has none left for the household."""
    loads = shelter_loads(s, entry.evacuation_id, EVAC_SAFE)
    own = next((x for x in loads if x.resource_id == entry.shelter_id), None)
    if own is not None and own.free >= household.people:
        return
    found = nearest_with_room(loads, household.lon, household.lat, household.people)
    if found:
        entry.shelter_id, entry.distance_m = found[0].resource_id, round(found[1], 1)


__all__ = ["EVAC_MOVES", "SHELTER_AMBER", "HouseholdMoved", "ShelterLoad", "opens_roster", "is_vulnerable",
           "roster_households", "shelter_loads", "nearest_with_room", "start_evacuation", "move_household",
           "move_household_in"]
