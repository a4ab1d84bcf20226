"""Deadlines (SLA) of the closed loop: how long each tier has, per domain.

Defaults (docs/design.md §1, FACTS.md): a dispatched case is accepted within
2 hours; it is resolved within 3 days at grid and village tier, 7 at the
township, 15 at the county. A hotline ticket keeps the deadline the hotline
gave it at ingest. Escalation starts the new tier's clock.

Every function takes ``now`` (default :func:`township.store.models.utcnow`), so tests
and replays run on a controllable clock. Overdue is computed, never stored
(`township.read.views.overdue_mask`): only ``deadline_at`` is stored.

Configuration (environment, read once at start by `township.config.Settings.from_env`
through :meth:`SlaConfig.from_env`; the app hands ``Settings.sla`` to ingest and the workflow)::

    SLA_ACCEPT_HOURS=2
    SLA_TIER_DAYS=grid=3,village=3,township=7,county=15
    SLA_DOMAIN_DAYS=township:safety=2,grid:governance=5     # (tier:domain)=days overrides
    SLA_TYPE_DAYS=petition=30                               # case type, any tier, when no deadline was given
    SLA_AUTO_ESCALATE=1                                     # escalate_overdue moves cases up a tier
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from township.domain.vocab import CASE_TYPES, DOMAINS, TIER_DAYS, TIERS


@dataclass(frozen=True)
class SlaConfig:
    """Deadlines per tier and domain, and whether overdue cases escalate by themselves.

    Attributes
    ----------
    accept_hours : float
        A dispatched case must be accepted (接单) within this many hours.
    tier_days : mapping of str to float
        Days to resolve at each tier (``grid``, ``village``, ``township``, ``county``).
    domain_days : mapping of (tier, domain) to float
        Overrides of ``tier_days`` for one domain at one tier.
    type_days : mapping of str to float
        Days for a case type at any tier when the source gave no deadline
        (empty by default: hotline tickets bring their own deadline).
    auto_escalate : bool
        Whether :func:`township.loop.sweeps.escalate_overdue` escalates (off by
        default: escalating is a decision the command centre switches on).
    """

    accept_hours: float = 2.0
    tier_days: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(dict(TIER_DAYS)))
    domain_days: Mapping[tuple[str, str], float] = field(default_factory=lambda: MappingProxyType({}))
    type_days: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    auto_escalate: bool = False

    def __post_init__(self) -> None:
        # A bad configuration must fail at start, naming the key, not at the first deadline.
        missing = [t for t in TIERS if t not in self.tier_days]
        if missing:
            raise ValueError(f"SLA tier_days lacks tier(s) {', '.join(missing)}")
        for key, days in [*self.tier_days.items(), *self.domain_days.items(), *self.type_days.items()]:
            if not days > 0:
                raise ValueError(f"SLA days for {key!r} must be positive, got {days!r}")
        for tier, domain in self.domain_days:
            if tier not in TIERS or domain not in DOMAINS:
                raise ValueError(f"SLA domain_days key ({tier!r}, {domain!r}) is not a (tier, domain) pair; "
                                 f"tiers: {', '.join(TIERS)}; domains: {', '.join(DOMAINS)}")
        for ctype in self.type_days:
            if ctype not in CASE_TYPES:
                raise ValueError(f"SLA type_days key {ctype!r} is not a case type ({', '.join(CASE_TYPES)})")
        if not self.accept_hours > 0:
            raise ValueError(f"SLA accept_hours must be positive, got {self.accept_hours!r}")

    def days(self, tier: str, domain: str, case_type: str | None = None) -> float:
        """Days to resolve a case of ``domain`` (and ``case_type``) at ``tier``."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; tiers: {', '.join(TIERS)}")
        if case_type is not None and case_type in self.type_days:
            return float(self.type_days[case_type])
        return float(self.domain_days.get((tier, domain), self.tier_days[tier]))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlaConfig:
        """Read the ``SLA_*`` variables (see the module docstring); unset ones keep the defaults."""
        env = os.environ if env is None else env
        base = cls()
        tier_days = dict(base.tier_days)
        tier_days.update({k: float(v) for k, v in _pairs(env.get("SLA_TIER_DAYS", ""), "SLA_TIER_DAYS")})
        domain_days = {}
        for key, days in _pairs(env.get("SLA_DOMAIN_DAYS", ""), "SLA_DOMAIN_DAYS"):
            tier, _, domain = key.partition(":")
            domain_days[(tier, domain)] = float(days)
        return cls(
            accept_hours=float(env.get("SLA_ACCEPT_HOURS", base.accept_hours)),
            tier_days=MappingProxyType(tier_days),
            domain_days=MappingProxyType(domain_days),
            type_days=MappingProxyType({k: float(v) for k, v in _pairs(env.get("SLA_TYPE_DAYS", ""), "SLA_TYPE_DAYS")}),
            auto_escalate=env.get("SLA_AUTO_ESCALATE", "0").lower() in ("1", "true", "yes", "on"),
        )


def _pairs(text: str, name: str) -> list[tuple[str, str]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{name}: {part!r} is not key=days")
        out.append((key.strip(), value.strip()))
    return out


#: The defaults, for callers that pass no configuration.
DEFAULT_SLA = SlaConfig()


def deadline_for(tier: str, domain: str, start: datetime, case_type: str | None = None,
                 given: datetime | None = None, config: SlaConfig = DEFAULT_SLA) -> datetime:
    """The deadline of a case whose clock at ``tier`` started at ``start``.

    Parameters
    ----------
    tier, domain, case_type : str
        The case's tier, domain and type.
    start : datetime
        When the clock started: the report, or the escalation to ``tier``.
    given : datetime, optional
        A deadline the source set (a hotline ticket's own); it wins.
    config : SlaConfig
        The deadlines in force.

    Returns
    -------
    datetime
        Naive UTC, like every stored time.
    """
    if given is not None:
        return given
    return start + timedelta(days=config.days(tier, domain, case_type))


def accept_deadline(dispatched_at: datetime, config: SlaConfig = DEFAULT_SLA) -> datetime:
    """When a case dispatched at ``dispatched_at`` must have been accepted (接单)."""
    return dispatched_at + timedelta(hours=config.accept_hours)
