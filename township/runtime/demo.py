"""A year of illustrative history for the bundled Dalu grids.

The yearly counts follow the source article (FACTS.md): 299 villager matters,
257 hotline tickets, 125 disputes, 25 micro-wishes, 6 petitions by proxy, and
so on, spread over the grids by population, with the closed loop played out
for each case and a few warnings of each colour still active. Deterministic
for a given seed and ``now``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
import shapely.ops
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.vocab import TIER_DAYS, WARNING_LEVELS, WARNING_TYPES
from township.grids.model import GridSet
from township.store.models import Case, CaseEvent, Warning, WarningGrid, bump_version, utcnow
from township.store.uow import session_scope

#: Cases a year by type (FACTS.md; service and hazard are estimates).
YEARLY_CASES: dict[str, int] = {
    "proposal": 299,
    "hotline": 257,
    "dispute": 125,
    "service": 150,
    "hazard": 120,
    "wish": 25,
    "petition": 6,
}

#: How each type spreads over the seven domains.
TYPE_DOMAINS: dict[str, dict[str, float]] = {
    "proposal": {"livelihood": 0.3, "agriculture": 0.3, "construction": 0.2, "party": 0.1, "economy": 0.1},
    "hotline": {"livelihood": 0.35, "construction": 0.25, "agriculture": 0.15, "safety": 0.15, "economy": 0.1},
    "dispute": {"governance": 0.8, "agriculture": 0.2},
    "service": {"livelihood": 0.7, "party": 0.3},
    "hazard": {"safety": 0.7, "construction": 0.3},
    "wish": {"livelihood": 0.6, "party": 0.4},
    "petition": {"governance": 1.0},
}

TYPE_SOURCES: dict[str, dict[str, float]] = {
    "proposal": {"meeting": 1.0},
    "hotline": {"hotline": 1.0},
    "dispute": {"visit": 0.4, "patrol": 0.3, "citizen": 0.3},
    "service": {"citizen": 1.0},
    "hazard": {"patrol": 0.7, "sensor": 0.3},
    "wish": {"citizen": 1.0},
    "petition": {"visit": 1.0},
}

TITLES: dict[str, list[str]] = {
    "party": ["党员联系户走访", "党员中心户议事", "红色物业服务需求", "主题党日活动场地"],
    "safety": ["河道护栏缺失", "采空区地面裂缝", "燃气管道异味", "危化品车辆违停", "山体落石隐患", "电动车楼道充电"],
    "agriculture": ["农田灌溉渠堵塞", "土地流转合同争议", "牲畜防疫需求", "农机补贴咨询", "大棚受损"],
    "construction": ["村道路面破损", "路灯不亮", "排水管网堵塞", "违章搭建", "自来水管漏水"],
    "economy": ["企业用工咨询", "农产品销售困难", "工资拖欠", "个体经营证照办理"],
    "governance": ["邻里宅基地纠纷", "土地边界纠纷", "家庭矛盾调解", "噪音扰民", "信访事项代办"],
    "livelihood": ["独居老人帮扶", "医保报销咨询", "低保申请代办", "垃圾清运不及时", "冬季取暖问题", "学生助学需求"],
}

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马胡朱郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英文华建国志红玉兰海燕春梅金凤宝成永胜俊峰"

#: Active warnings seeded: (type, level, title, radius km, where as fraction of the town box).
ACTIVE_WARNINGS: list[tuple[str, int, str, float, tuple[float, float]]] = [
    ("ice_flood", 1, "黄河凌汛红色预警", 3.0, (0.86, 0.86)),
    ("chemical_leak", 2, "工业园区危化品泄漏橙色预警", 1.5, (0.72, 0.62)),
    ("geological", 2, "沟道地质灾害橙色预警", 2.0, (0.35, 0.40)),
    ("subsidence", 3, "采空区塌陷黄色预警", 1.2, (0.50, 0.30)),
    ("gale", 3, "大风黄色预警", 5.0, (0.25, 0.70)),
    ("road_icing", 3, "道路结冰黄色预警", 2.5, (0.60, 0.75)),
    ("sandstorm", 4, "沙尘暴蓝色预警", 6.0, (0.20, 0.25)),
    ("fire", 4, "森林草原火险蓝色预警", 2.0, (0.45, 0.60)),
    ("public_security", 4, "治安巡防蓝色提示", 1.0, (0.78, 0.70)),
]

#: The night of the red ice-flood warning (黄河凌汛, the first of ACTIVE_WARNINGS): the cases it brought,
#: as (type, domain, source, title); a replay of the last 24 hours shows them come in and get handled.
ICE_NIGHT: list[tuple[str, str, str, str]] = [
    ("hazard", "safety", "patrol", "冰凌堵塞河道"),
    ("hotline", "livelihood", "hotline", "房屋进水"),
    ("hazard", "safety", "patrol", "道路结冰"),
    ("service", "livelihood", "citizen", "群众转移安置"),
    ("hazard", "safety", "sensor", "堤坝渗水"),
    ("hotline", "livelihood", "hotline", "独居老人被困求助"),
    ("hazard", "safety", "patrol", "冰凌冲毁护栏"),
    ("hotline", "livelihood", "hotline", "停电停暖"),
]
#: How many cases the ice-flood night has, and the prefix of their ``external_id``.
ICE_NIGHT_CASES = 24
ICE_PREFIX = "DEMO-ICE-"
#: Under a red warning a safety case must be handled within hours, not days (急事急办): the deadline it gets.
ICE_DEADLINE_H = 4.0


@dataclass
class _Rng:
    """numpy's Generator with the few draws the seed needs."""

    gen: np.random.Generator

    def pick(self, weights: dict[str, float]) -> str:
        keys = list(weights)
        p = np.array([weights[k] for k in keys], float)
        return keys[int(self.gen.choice(len(keys), p=p / p.sum()))]

    def name(self) -> str:
        surname = SURNAMES[int(self.gen.integers(len(SURNAMES)))]
        given = "".join(GIVEN[int(i)] for i in self.gen.integers(len(GIVEN), size=int(self.gen.integers(1, 3))))
        return surname + given

    def phone(self) -> str:
        return "1" + str(int(self.gen.choice([3, 5, 8]))) + "".join(str(int(d)) for d in self.gen.integers(10, size=9))


def random_points_in(geom: shapely.Geometry, n: int, gen: np.random.Generator) -> np.ndarray:
    """``n`` random (lon, lat) points strictly inside ``geom``, by rejection in its bounds."""
    minx, miny, maxx, maxy = geom.bounds
    out: list[np.ndarray] = []
    shapely.prepare(geom)
    while sum(len(o) for o in out) < n:
        xy = np.column_stack([gen.uniform(minx, maxx, 4 * n + 8), gen.uniform(miny, maxy, 4 * n + 8)])
        out.append(xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])])
    return np.concatenate(out)[:n]


def _case_points(gridset: GridSet, n: int, rng: _Rng) -> tuple[np.ndarray, list[str]]:
    """Spread ``n`` points over level-3 grids, weighted by population."""
    grids = gridset.ids(level=3)
    pop = np.array([max(gridset.props(g).get("population") or 1, 1) for g in grids], float)
    counts = np.bincount(rng.gen.choice(len(grids), size=n, p=pop / pop.sum()), minlength=len(grids))
    xy, owner = [], []
    for g, k in zip(grids, counts, strict=True):
        if k:
            xy.append(random_points_in(gridset.geometry(g), int(k), rng.gen))
            owner += [g] * int(k)
    order = rng.gen.permutation(n)
    return np.concatenate(xy)[order], [owner[i] for i in order]


def seed_demo(engine: Engine, gridset: GridSet, now: datetime | None = None, seed: int = 13355,
              scale: float = 1.0) -> int:
    """Fill an empty store with a year of illustrative cases and warnings.

    Parameters
    ----------
    engine : Engine
        The store.
    gridset : GridSet
        The grids to put the cases in.
    now : datetime, optional
        The end of the year of history (naive UTC); default the current time.
    seed : int
        Random seed: the same seed and ``now`` give the same history.
    scale : float
        Multiplies the yearly counts (the benchmark seeds bigger years).

    Returns
    -------
    int
        The number of cases written, the year's and the ice-flood night's (`ICE_NIGHT_CASES`);
        0 when the store already had cases.
    """
    now = now or utcnow()
    rng = _Rng(np.random.default_rng(seed))
    with session_scope(engine) as s:
        if s.scalar(select(func.count(Case.id))):
            return 0
        types = [t for t, k in YEARLY_CASES.items() for _ in range(round(k * scale))]
        types = [types[i] for i in rng.gen.permutation(len(types))]
        points, owners = _case_points(gridset, len(types), rng)
        for i, (ctype, (lon, lat), grid_id) in enumerate(zip(types, points, owners, strict=True)):
            case, events = _play_case(i, ctype, float(lon), float(lat), grid_id, gridset, now, rng)
            s.add(case)
            s.flush()
            for e in events:
                e.case_id = case.id
            s.add_all(events)
        _seed_warnings(s, gridset, now, rng)
        # A generator of its own: the year above stays the same whatever the night draws.
        night = _seed_ice_night(s, gridset, now, _Rng(np.random.default_rng(seed + 1)))
        bump_version(s)
        return len(types) + night


@dataclass
class _Trail:
    """A case's closed loop played up to ``now``: its audit records and where they left it."""

    events: list[CaseEvent]
    status: str
    updated: datetime
    resolved_at: datetime | None = None
    closed_at: datetime | None = None

    @classmethod
    def play(cls, reported: datetime, steps: list[tuple[float, str, str | None, str, str]], now: datetime,
             handler: str, tier: str, cancel_at: datetime | None = None) -> _Trail:
        """The ``steps`` (hours after the report, move, from, to, note) that happened by ``now``.

        With ``cancel_at`` the case is cancelled then (if that is by ``now``) instead of being accepted; a case
        above grid tier gets its escalation logged as its own move, right after dispatch.
        """
        trail = cls([], "reported", reported)
        for hours, action, frm, to, note in steps:
            at = reported + timedelta(hours=hours)
            if at > now:
                break
            if cancel_at is not None and action == "accept":
                if cancel_at > now:  # withdrawn later than now: not yet
                    break
                trail.events.append(CaseEvent(at=cancel_at, actor="指挥中心", action="cancel",
                                              from_status=trail.status, to_status="cancelled", note="群众撤回诉求"))
                trail.status, trail.updated = "cancelled", cancel_at
                break
            actor = "群众" if action == "report" else ("指挥中心" if action in ("dispatch", "close") else handler)
            trail.events.append(CaseEvent(at=at, actor=actor, action=action, from_status=frm, to_status=to,
                                          note=note))
            trail.status, trail.updated = to, at
            trail.resolved_at = at if action == "resolve" else trail.resolved_at
            trail.closed_at = at if action == "close" else trail.closed_at
        if tier != "grid" and len(trail.events) > 1:
            at = trail.events[1].at
            trail.events.insert(2, CaseEvent(at=at, actor="指挥中心", action="escalate",
                                             from_status=trail.events[1].to_status,
                                             to_status=trail.events[1].to_status, from_tier="grid", to_tier=tier,
                                             note="上报上级化解"))
        return trail


def _play_case(i: int, ctype: str, lon: float, lat: float, grid_id: str, gridset: GridSet,
               now: datetime, rng: _Rng) -> tuple[Case, list[CaseEvent]]:
    """Make one case and play its closed loop up to ``now``."""
    gen = rng.gen
    # More cases in winter (heating, ice) and at harvest; none in the future.
    age_days = float(gen.uniform(0, 365))
    reported = now - timedelta(days=age_days, minutes=float(gen.uniform(0, 60)))
    domain = rng.pick(TYPE_DOMAINS[ctype])
    tier = rng.pick({"grid": 0.72, "village": 0.18, "township": 0.08, "county": 0.02})
    sla = TIER_DAYS[tier] if ctype != "hotline" else 5
    deadline = reported + timedelta(days=sla)
    officer = gridset.props(grid_id).get("officer") or "网格员"
    handler = officer if tier == "grid" else rng.name()
    # Stage durations in hours; about one case in eight runs past its deadline.
    dispatch_h = float(gen.exponential(2.0))
    accept_h = dispatch_h + float(gen.exponential(3.0))
    resolve_h = accept_h + float(gen.lognormal(np.log(sla * 24 * 0.4), 0.6))
    if gen.random() < 0.1:
        # A hard case (a land dispute, a petition) drags on for weeks.
        resolve_h *= float(gen.uniform(3, 12))
    close_h = resolve_h + float(gen.uniform(24, 120))
    steps = [
        (0.0, "report", None, "reported", "上报"),
        (dispatch_h, "dispatch", "reported", "dispatched", f"派单给{handler}"),
        (accept_h, "accept", "dispatched", "accepted", f"{handler}接单"),
        ((accept_h + resolve_h) / 2, "start", "accepted", "in_progress", "开始处置"),
        (resolve_h, "resolve", "in_progress", "resolved", "处置完毕"),
        (close_h, "close", "resolved", "closed", "回访满意,销号"),
    ]
    cancel_at = reported + timedelta(hours=dispatch_h + 1) if gen.random() < 0.01 else None
    trail = _Trail.play(reported, steps, now, handler, tier, cancel_at)
    status, events = trail.status, trail.events
    title = TITLES[domain][int(gen.integers(len(TITLES[domain])))]
    return (
        Case(
            source=rng.pick(TYPE_SOURCES[ctype]),
            external_id=f"DEMO-{i + 1:06d}",
            type=ctype,
            domain=domain,
            status=status,
            tier=tier,
            max_tier=tier,
            title=title,
            description=f"{gridset.props(grid_id)['name']}:{title}",
            lon=round(lon, 6),
            lat=round(lat, 6),
            grid_id=grid_id,
            village_id=gridset.village_of(grid_id),
            reporter=rng.name(),
            reporter_phone=rng.phone(),
            handler=handler if status != "reported" else None,
            reported_at=reported,
            updated_at=trail.updated,
            deadline_at=deadline,
            resolved_at=trail.resolved_at,
            closed_at=trail.closed_at,
        ),
        events,
    )


def _seed_warnings(s: Session, gridset: GridSet, now: datetime, rng: _Rng) -> None:
    """The active warnings of ACTIVE_WARNINGS, plus cleared ones through the year."""
    minx, miny, maxx, maxy = gridset.bounds(gridset.ids(level=1))
    town = gridset.geometry(gridset.ids(level=1)[0])
    # (type, level, title or None for the standard one, radius km, fx, fy, status)
    specs: list[tuple[str, int, str | None, float, float, float, str]] = [
        (t, lv, title, r, fx, fy, "active") for t, lv, title, r, (fx, fy) in ACTIVE_WARNINGS
    ]
    for _ in range(36):
        t = rng.pick({"ice_flood": 1, "geological": 1, "gale": 2, "blizzard": 1, "road_icing": 2, "sandstorm": 2,
                      "fire": 1, "chemical_leak": 0.5, "subsidence": 0.5, "public_security": 1})
        lv = int(rng.gen.choice([1, 2, 3, 4], p=[0.05, 0.2, 0.4, 0.35]))
        specs.append((t, lv, None, float(rng.gen.uniform(1, 5)), float(rng.gen.uniform(0.1, 0.9)),
                      float(rng.gen.uniform(0.1, 0.9)), "cleared"))
    for n, (wtype, level, title, radius_km, fx, fy, status) in enumerate(specs):
        lon, lat = minx + fx * (maxx - minx), miny + fy * (maxy - miny)
        if not town.contains(shapely.Point(lon, lat)):
            # Keep every seeded warning inside the town: move it to the nearest inner point.
            p = shapely.ops.nearest_points(town.buffer(-0.005), shapely.Point(lon, lat))[0]
            lon, lat = p.x, p.y
        issued = now - timedelta(hours=float(rng.gen.uniform(0.5, 20))) if status == "active" \
            else now - timedelta(days=float(rng.gen.uniform(3, 360)))
        grid_id = gridset.locate(np.array([lon]), np.array([lat]))[0]
        w = Warning(
            source="demo", external_id=f"DEMO-W-{n + 1:03d}", type=wtype, level=level, status=status,
            title=title or f"{WARNING_TYPES[wtype]['zh']}{WARNING_LEVELS[level]['zh']}预警",
            description="示意数据", lon=round(lon, 6), lat=round(lat, 6), radius_m=radius_km * 1000,
            grid_id=grid_id, village_id=gridset.village_of(grid_id) if grid_id else None,
            issued_at=issued, expires_at=issued + timedelta(days=2), updated_at=issued,
        )
        s.add(w)
        s.flush()
        s.add_all(WarningGrid(warning_id=w.id, grid_id=g) for g in gridset.grids_within(lon, lat, w.radius_m))


def _seed_ice_night(s: Session, gridset: GridSet, now: datetime, rng: _Rng) -> int:
    """The cases of the red ice-flood warning's night, in its grids, from its issue up to ``now``.

    Each plays its closed loop up to ``now``: the early ones are closed by now, the late ones
    still open, and the safety ones past their hours-long deadline show overdue while open.
    """
    warning = s.scalars(select(Warning).where(Warning.type == ACTIVE_WARNINGS[0][0], Warning.level == 1,
                                              Warning.status == "active")).first()
    grids = gridset.grids_within(warning.lon, warning.lat, warning.radius_m) if warning else []
    if warning is None or not grids:
        return 0
    gen = rng.gen
    start = warning.issued_at - timedelta(minutes=30)  # the first calls came just before the warning
    span_h = max((now - start).total_seconds() / 3600 - 0.25, 0.25)
    for n, hours in enumerate(np.sort(gen.uniform(0, span_h, ICE_NIGHT_CASES))):
        ctype, domain, source, title = ICE_NIGHT[int(gen.integers(len(ICE_NIGHT)))]
        grid_id = grids[int(gen.integers(len(grids)))]
        lon, lat = random_points_in(gridset.geometry(grid_id), 1, gen)[0]
        reported = start + timedelta(hours=float(hours))
        handler = gridset.props(grid_id).get("officer") or "网格员"
        tier = "township" if gen.random() < 0.2 else "grid"
        dispatch_h = float(gen.uniform(0.05, 0.4))
        accept_h = dispatch_h + float(gen.uniform(0.05, 0.5))
        start_h = accept_h + float(gen.uniform(0.1, 0.6))
        resolve_h = start_h + float(gen.lognormal(np.log(3.0), 0.6))
        steps = [
            (0.0, "report", None, "reported", "上报"),
            (dispatch_h, "dispatch", "reported", "dispatched", f"派单给{handler}"),
            (accept_h, "accept", "dispatched", "accepted", f"{handler}接单"),
            (start_h, "start", "accepted", "in_progress", "开始处置"),
            (resolve_h, "resolve", "in_progress", "resolved", "处置完毕"),
            (resolve_h + float(gen.uniform(1.0, 6.0)), "close", "resolved", "closed", "回访满意,销号"),
        ]
        trail = _Trail.play(reported, steps, now, handler, tier)
        deadline = reported + (timedelta(hours=ICE_DEADLINE_H) if domain == "safety"
                               else timedelta(days=TIER_DAYS[tier]))
        case = Case(
            source=source, external_id=f"{ICE_PREFIX}{n + 1:03d}", type=ctype, domain=domain,
            status=trail.status, tier=tier, max_tier=tier, title=title,
            description=f"{gridset.props(grid_id)['name']}:{title}({warning.title})",
            lon=round(float(lon), 6), lat=round(float(lat), 6), grid_id=grid_id,
            village_id=gridset.village_of(grid_id), reporter=rng.name(), reporter_phone=rng.phone(),
            handler=handler if trail.status != "reported" else None, reported_at=reported,
            updated_at=trail.updated, deadline_at=deadline, resolved_at=trail.resolved_at,
            closed_at=trail.closed_at,
        )
        s.add(case)
        s.flush()
        for e in trail.events:
            e.case_id = case.id
        s.add_all(trail.events)
    return ICE_NIGHT_CASES
