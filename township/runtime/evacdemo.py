"""Illustrative evacuation data for the demo: shelters per village and a household register per grid.

Deterministic (seeded by grid id) and fictitious: names and phones come from
`township.loop.staff`'s made-up-name helper, points are random inside each
grid. The shares of flags are plausible for a rural Inner Mongolian town (an
ageing village population, left-behind children), not statistics.
"""
from __future__ import annotations

import random
import zlib

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from township.grids.model import GridSet
from township.loop.staff import _fictitious
from township.runtime.demo import random_points_in
from township.store.evacuation import Household, Shelter
from township.store.models import Resource, bump_version, utcnow
from township.store.uow import session_scope

#: Share of a grid's households kept in the demo register (the households in low-lying or gully places).
REGISTER_SHARE = 0.25
#: Chance of each flag per household.
FLAG_SHARES: dict[str, float] = {
    "elderly_alone": 0.05, "elderly": 0.06, "left_behind_child": 0.03, "disabled": 0.025,
    "bedridden": 0.015, "pregnant": 0.01, "low_income": 0.04,
}
SHELTER_OFFERS = "食宿,取暖,医疗点,饮用水"
SHE = "一二三四五六七八"


def _shelters(gridset: GridSet) -> list[tuple[Resource, Shelter]]:
    """One shelter per village or community (its school or village committee), capacity ~8 % of its people."""
    out = []
    for vid in gridset.ids(level=2):
        p = gridset.props(vid)
        point = gridset.geometry(vid).representative_point()
        rng = random.Random(f"shelter:{vid}")
        contact, phone = _fictitious(rng)
        capacity = int(min(max(round((p.get("population") or 1000) * 0.08, -1), 80), 600))
        rid = f"R-SH-{vid}"
        out.append((Resource(resource_id=rid, kind="shelter", name=f"{p['name']}安置点", lon=round(point.x, 6),
                             lat=round(point.y, 6), grid_id=gridset.locate_one(point.x, point.y), contact=contact,
                             phone=phone),
                    Shelter(resource_id=rid, capacity=capacity, offers=SHELTER_OFFERS)))
    return out


def _households(gridset: GridSet, gid: str) -> list[Household]:
    p = gridset.props(gid)
    n = max(int((p.get("households") or 0) * REGISTER_SHARE), 4)
    rng = random.Random(f"households:{gid}")
    points = random_points_in(gridset.geometry(gid), n, np.random.default_rng(zlib.crc32(gid.encode())))
    members = [f"H-PM-{gid}-{k + 1:02d}" for k in range(int(p.get("party_members") or 0))]
    officer = f"H-OF-{gid}" if p.get("officer") else None
    village = gridset.village_of(gid)
    now = utcnow()
    rows = []
    for k, (lon, lat) in enumerate(points):
        head, phone = _fictitious(rng)
        flags = [f for f, share in FLAG_SHARES.items() if rng.random() < share]
        helper = (members[k % len(members)] if members else officer) if flags else officer
        she = SHE[rng.randrange(len(SHE))] + "社"
        rows.append(Household(household_no=f"{gid}-{k + 1:04d}", village_id=village, grid_id=gid, she=she,
                              head=head, phone=phone, people=rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 6)),
                              address=f"{p['name'].split('第')[0]}{she}{k + 1}号", lon=round(float(lon), 6),
                              lat=round(float(lat), 6), flags=",".join(flags), helper_id=helper,
                              backup_id=officer if flags and helper != officer else None, updated_at=now))
    return rows


def seed_evacuation_demo(engine: Engine, gridset: GridSet) -> int:
    """Add the demo shelters and household register to a store without households; return households added."""
    with session_scope(engine) as s:
        if s.scalar(select(func.count(Household.id))):
            return 0
        have = set(s.scalars(select(Resource.resource_id).where(Resource.kind == "shelter")))
        for r, shelter in _shelters(gridset):
            if r.resource_id not in have:
                s.add(r)
                s.flush()
                s.add(shelter)
        rows = [h for gid in gridset.ids(level=3) for h in _households(gridset, gid)]
        s.add_all(rows)
        bump_version(s)
        return len(rows)


__all__ = ["REGISTER_SHARE", "FLAG_SHARES", "seed_evacuation_demo"]
