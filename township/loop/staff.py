"""Handlers (处置力量): who a case can be dispatched to, seeded from the bundled data.

A township's own rosters come in as files (`township.formats.roster`); the
kinds and their labels are vocabulary (`township.domain.vocab.HANDLER_KINDS`).

Four kinds: the grid officer (网格员) of each grid, the party members (党员) of
each grid — as many as the grid's ``party_members`` property, the first
``party_households`` of them 党员中心户 — the volunteer teams (志愿服务队) of the
resources file, and a handful of township departments (镇职能部门) for cases
that leave the village. Party members' names and phones are fictitious
(the grid file holds only counts); they are generated deterministically
from the grid id, so a re-seed gives the same people.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.vocab import HANDLER_KINDS
from township.grids.model import GridSet
from township.grids.spatial import neighbours
from township.store.models import Case, Handler, Resource, bump_version
from township.store.uow import session_scope

#: Township departments (illustrative): id suffix, name, domains.
DEPARTMENTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("party", "党建工作办公室", ("party",)),
    ("safety", "应急管理和安全生产办公室", ("safety",)),
    ("agriculture", "农业农村综合服务中心", ("agriculture",)),
    ("construction", "村镇规划建设办公室", ("construction",)),
    ("economy", "经济发展办公室", ("economy",)),
    ("governance", "综治中心", ("governance",)),
    ("livelihood", "社会事务办公室", ("livelihood",)),
]

#: Volunteer-team domains, guessed from words in the team's name (first match wins per word).
TEAM_DOMAINS: list[tuple[str, tuple[str, ...]]] = [
    ("党员", ("party", "livelihood")),
    ("红色", ("party", "construction", "livelihood")),
    ("平安", ("safety", "governance")),
    ("应急", ("safety",)),
    ("防汛", ("safety",)),
    ("法律", ("governance",)),
    ("环境", ("construction", "livelihood")),
    ("人居", ("construction", "livelihood")),
    ("助老", ("livelihood",)),
    ("关爱", ("livelihood",)),
    ("巾帼", ("livelihood", "governance")),
    ("邻里", ("livelihood", "governance")),
    ("青年", ("livelihood", "economy")),
    ("乡风", ("party", "governance")),
    ("易俗", ("party", "governance")),
    ("文明", ("party", "livelihood")),
]

_SURNAMES = ("王李张刘陈杨赵黄周吴徐孙马胡朱郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田"
             "董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔")
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚文华建国志红玉海燕春梅金凤宝成永胜俊峰"


def _fictitious(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))
    phone = "1" + rng.choice("358") + "".join(rng.choice("0123456789") for _ in range(9))
    return name, phone


def team_domains(name: str) -> tuple[str, ...]:
    """The domains a volunteer team serves, from the words of its name (livelihood if none match)."""
    found: list[str] = []
    for word, domains in TEAM_DOMAINS:
        if word in name:
            found += [d for d in domains if d not in found]
    return tuple(found) or ("livelihood",)


#: A group of seeded handlers: their ids, and how to build their rows.
SeedGroup = tuple[list[str], Callable[[], list[Handler]]]


def _grid_group(gridset: GridSet, gid: str) -> SeedGroup:
    """The officer of grid ``gid`` and, for a level-3 grid, its party members."""
    p = gridset.props(gid)
    officer = [f"H-OF-{gid}"] if p.get("officer") else []
    members = [f"H-PM-{gid}-{n + 1:02d}" for n in range(int(p.get("party_members") or 0) if p["level"] == 3 else 0)]

    def build() -> list[Handler]:
        village = gridset.village_of(gid)
        rows = [Handler(handler_id=hid, kind="officer", name=p["officer"], phone=p.get("officer_phone"), grid_id=gid,
                        village_id=village, domains="") for hid in officer]
        # str seeds are hashed with SHA-512 by `random`: the same people in every process.
        rng = random.Random(f"party-members:{gid}")
        central = int(p.get("party_households") or 0)
        for n, hid in enumerate(members):
            name, phone = _fictitious(rng)
            rows.append(Handler(handler_id=hid, kind="party_member", name=name, phone=phone, grid_id=gid,
                                village_id=village, domains="", central_household=n < central))
        return rows

    return officer + members, build


def _seed_groups(s: Session, gridset: GridSet) -> Iterator[SeedGroup]:
    """Every bundled handler, in groups: one per grid, then the volunteer teams and departments.

    Building rows is what costs (a city has 250,000 party members, each a
    made-up name and an ORM object), so the ids come first and a group is
    built only when one of them is missing.
    """
    for gid in gridset.ids(level=2) + gridset.ids(level=3):
        yield _grid_group(gridset, gid)
    rows: list[Handler] = []
    for r in s.scalars(select(Resource).where(Resource.kind == "volunteer_team").order_by(Resource.resource_id)):
        rows.append(Handler(handler_id=f"H-VT-{r.resource_id}", kind="volunteer_team", name=r.name, phone=r.phone,
                            grid_id=r.grid_id, village_id=gridset.village_of(r.grid_id) if r.grid_id else None,
                            domains=",".join(team_domains(r.name)), resource_id=r.resource_id))
    for code, name, domains in DEPARTMENTS:
        rows.append(Handler(handler_id=f"H-DEP-{code}", kind="department", name=name, phone=None,
                            grid_id=None, village_id=None, domains=",".join(domains)))
    yield [h.handler_id for h in rows], lambda: rows


def seed_handlers(engine: Engine, gridset: GridSet) -> int:
    """Add the bundled handlers that are missing; return how many were added.

    Idempotent: handlers are keyed by a deterministic id (``H-OF-DL-01-01``,
    ``H-PM-DL-01-01-03``, ``H-VT-R-VT-01``, ``H-DEP-safety``) and rows already
    stored are left as they are (an administrator may have corrected a phone).
    """
    with session_scope(engine) as s:
        have = set(s.scalars(select(Handler.handler_id)))
        new = [h for ids, build in _seed_groups(s, gridset) if not have.issuperset(ids)
               for h in build() if h.handler_id not in have]
        if new:
            s.add_all(new)
            bump_version(s)
        return len(new)


@dataclass(frozen=True)
class Suggestion:
    """A handler suggested for a case, and why (for the dispatch list)."""

    handler_id: str
    kind: str
    name: str
    phone: str | None  # personal data: mask with township.domain.privacy for the viewer's role
    grid_id: str | None
    village_id: str | None
    why: str  # Chinese label of the reason, e.g. 本网格党员

    @classmethod
    def of(cls, h: Handler, why: str) -> Suggestion:
        return cls(h.handler_id, h.kind, h.name, h.phone, h.grid_id, h.village_id, why)


def _serves(h: Handler, domain: str) -> bool:
    return not h.domains or domain in h.domains.split(",")


def suggest_handlers(engine: Engine, gridset: GridSet, case_id: int) -> list[Suggestion]:
    """Handlers for a case, best first.

    Order: the case's grid officer; the village officer when the case has
    left grid tier; the party members of the case's grid (党员中心户 first);
    party members of neighbouring grids (same village first); the village's
    volunteer teams (those serving the case's domain first), then teams of
    other villages serving the domain; township departments (the domain's
    first) when the case is at township or county tier.

    Raises
    ------
    KeyError
        No case ``case_id``.
    """
    with Session(engine) as s:
        case = s.get(Case, case_id)
        if case is None:
            raise KeyError(f"no case {case_id}")
        handlers = list(s.scalars(select(Handler).where(Handler.active.is_(True)).order_by(Handler.handler_id)))
    by_grid: dict[str | None, list[Handler]] = {}
    for h in handlers:
        if h.kind == "party_member":
            by_grid.setdefault(h.grid_id, []).append(h)
    by_id = {h.handler_id: h for h in handlers}
    out: list[Suggestion] = []
    grid, village = case.grid_id, case.village_id

    def members(g: str | None, why: str) -> None:
        # 党员中心户 first: they lead their neighbours (三带).
        for h in sorted(by_grid.get(g, []), key=lambda h: (not h.central_household, h.handler_id)):
            out.append(Suggestion.of(h, why))

    if grid and f"H-OF-{grid}" in by_id:
        out.append(Suggestion.of(by_id[f"H-OF-{grid}"], "本网格网格员"))
    if village and case.tier != "grid" and f"H-OF-{village}" in by_id:
        out.append(Suggestion.of(by_id[f"H-OF-{village}"], "村/社区网格员"))
    if grid:
        members(grid, "本网格党员")
        for g in neighbours(gridset, grid, village_first=True) if grid in gridset else []:
            members(g, "相邻网格党员")
    teams = [h for h in handlers if h.kind == "volunteer_team"]
    out += [Suggestion.of(h, "本村志愿服务队") for h in sorted(
        (h for h in teams if village and h.village_id == village), key=lambda h: (not _serves(h, case.domain),))]
    out += [Suggestion.of(h, "志愿服务队") for h in teams
            if h.village_id != village and h.domains and _serves(h, case.domain)]
    if case.tier in ("township", "county"):
        deps = sorted((h for h in handlers if h.kind == "department"), key=lambda h: (not _serves(h, case.domain),))
        out += [Suggestion.of(h, "镇职能部门") for h in deps]
    return out


def get_handler(session: Session, handler_id: str) -> Handler | None:
    """The active handler ``handler_id``, or ``None``."""
    h = session.get(Handler, handler_id)
    return h if h is not None and h.active else None


__all__ = ["HANDLER_KINDS", "DEPARTMENTS", "Suggestion", "seed_handlers", "suggest_handlers",
           "team_domains", "get_handler"]
