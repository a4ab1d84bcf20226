"""The monthly evaluation (综合评价): per village, grid team and handler, the month's rates, rank and change.

Months are Beijing calendar months (`township.domain.isotime.LOCAL_TZ`): a case
办结 at 23:59:59 Beijing on the month's last day is the month's, at 00:00:00 the
next month's. The definitions (README, "Hotspots and the monthly evaluation"):

- 应结案数 ``due``: cases whose deadline falls in the month.
- 结案率 ``closed_rate``: of ``due``, those 办结 (``resolved_at``) by the month's end.
- 按期结案率 ``ontime_rate``: of ``due``, those 办结 by their deadline.
- 延期率 ``late_rate``: of ``due``, those 办结 after their deadline but within the month
  (so 结案率 = 按期结案率 + 延期率; the rest was still open at the month's end).
- 村级化解率 ``village_rate``: of the cases 办结 in the month (``resolved``), those that never
  left the village tier (``max_tier`` grid or village).
- 返工率 ``rework_rate``: of ``resolved``, those a 不满意 at 回访 reopened, counted as
  `township.read.stats.resident_rates` counts them (a case reopened counts as resolved).

A rate with nothing to divide is NaN. Units are ranked by 按期结案率, then 结案率, then
fewer due cases left open, then id; ``rank_change`` is last month's rank minus
this one's (positive: moved up), ``ontime_change`` the change of 按期结案率. The month's
movers (`biggest_movers`) are the units whose rank rose most and fell most; the wall marks them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from township.domain.isotime import LOCAL_TZ
from township.domain.policy import Viewer, may_see_village, sees_personal
from township.read.stats import rework_by_case

__all__ = ["UNITS", "EvaluationRefused", "MonthlyEvaluation", "biggest_movers", "evaluate", "evaluation_for",
           "month_bounds", "month_of", "parse_month", "previous_month"]

#: What an evaluation groups by: the case column of each unit.
UNITS: dict[str, str] = {"village": "village_id", "grid": "grid_id", "handler": "handler"}
COLUMNS = ["due", "closed", "ontime", "late", "resolved", "in_village", "closed_rate", "ontime_rate", "late_rate",
           "village_rate", "rework_rate"]


def parse_month(text: str | None, now: datetime) -> tuple[int, int]:
    """``YYYY-MM`` as ``(year, month)``; ``None`` or empty: the Beijing month before ``now``'s.

    Raises
    ------
    ValueError
        Naming the text and the form expected.
    """
    if not text:
        return previous_month(*month_of(now))
    try:
        year, month = (int(part) for part in text.split("-"))
        datetime(year, month, 1)
    except ValueError:
        raise ValueError(f"month={text!r} is not a month like 2024-04") from None
    return year, month


def month_of(now: datetime) -> tuple[int, int]:
    """The Beijing month ``(year, month)`` a stored (naive UTC) time falls in."""
    local = now.replace(tzinfo=UTC).astimezone(LOCAL_TZ)
    return local.year, local.month


def previous_month(year: int, month: int) -> tuple[int, int]:
    """The month before ``year``-``month``."""
    return (year - 1, 12) if month == 1 else (year, month - 1)


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The Beijing month as ``[start, end)`` in naive UTC, as the store keeps times."""
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    start = datetime(year, month, 1, tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)
    end = datetime(ny, nm, 1, tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)
    return start, end


def _between(times: pd.Series, start: datetime, end: datetime) -> np.ndarray:
    t = times.to_numpy().astype("datetime64[us]")
    return (t >= np.datetime64(start)) & (t < np.datetime64(end))


def _month_table(cases: pd.DataFrame, key: str, year: int, month: int, feedback: pd.DataFrame) -> pd.DataFrame:
    start, end = month_bounds(year, month)
    resolved_at = cases["resolved_at"].to_numpy().astype("datetime64[us]")
    deadline = cases["deadline_at"].to_numpy().astype("datetime64[us]")
    done_by_end = ~np.isnat(resolved_at) & (resolved_at < np.datetime64(end))
    due = _between(cases["deadline_at"], start, end)
    ontime = due & done_by_end & (resolved_at <= deadline)
    resolved = _between(cases["resolved_at"], start, end)
    # 返工 as resident_rates counts it: reopened by a 不满意; resolved when done now or reopened
    per_case = rework_by_case(cases, feedback)
    reworked, ever = per_case["reworked"].to_numpy(bool), per_case["resolved"].to_numpy(bool)
    keys = cases[key].astype(object).to_numpy()
    frame = pd.DataFrame({"unit": keys, "due": due, "closed": due & done_by_end, "ontime": ontime,
                          "late": due & done_by_end & ~ontime, "resolved": resolved,
                          "in_village": resolved & cases["max_tier"].isin(("grid", "village")).to_numpy(),
                          "reworked": resolved & reworked, "ever": resolved & ever})
    frame = frame[pd.notna(frame["unit"]) & (frame["unit"] != "")]
    out = frame.groupby("unit").sum().astype(int)
    out = out[(out["due"] > 0) | (out["resolved"] > 0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, part, whole in (("closed_rate", "closed", "due"), ("ontime_rate", "ontime", "due"),
                                  ("late_rate", "late", "due"), ("village_rate", "in_village", "resolved"),
                                  ("rework_rate", "reworked", "ever")):
            out[name] = (out[part] / out[whole]).where(out[whole] > 0)
    order = out.assign(open_due=out["due"] - out["closed"]).reset_index().sort_values(
        ["ontime_rate", "closed_rate", "open_due", "unit"], ascending=[False, False, True, True], na_position="last")
    order["rank"] = np.arange(1, len(order) + 1)
    return order.set_index("unit")[[*COLUMNS, "rank"]]


@dataclass(frozen=True)
class MonthlyEvaluation:
    """One unit's evaluation of one month: ``table`` indexed by the unit's id (or handler name), rank order."""

    unit: str
    year: int
    month: int
    table: pd.DataFrame

    @property
    def label(self) -> str:
        """``2024-04``."""
        return f"{self.year:04d}-{self.month:02d}"


def evaluate(cases: pd.DataFrame, unit: str, year: int, month: int, feedback: pd.DataFrame) -> MonthlyEvaluation:
    """The evaluation of ``cases`` by ``unit`` (a key of `UNITS`) for ``year``-``month``, with last month's change.

    Returns
    -------
    MonthlyEvaluation
        ``table`` columns: the counts ``due``, ``closed``, ``ontime``, ``late``,
        ``resolved``, ``in_village``; the rates (NaN with nothing to divide);
        ``rank``; ``rank_change`` and ``ontime_change`` (NaN for a unit not
        ranked last month).
    """
    if unit not in UNITS:
        raise ValueError(f"unit={unit!r} unknown; allowed: {', '.join(UNITS)}")
    key = UNITS[unit]
    now_t = _month_table(cases, key, year, month, feedback)
    last = _month_table(cases, key, *previous_month(year, month), feedback)
    now_t["rank_change"] = last["rank"].reindex(now_t.index) - now_t["rank"]
    now_t["ontime_change"] = now_t["ontime_rate"] - last["ontime_rate"].reindex(now_t.index)
    return MonthlyEvaluation(unit, year, month, now_t)


def biggest_movers(ev: MonthlyEvaluation) -> tuple[list[str], list[str]]:
    """The month's movers: the units whose rank rose most since last month, and those whose rank fell most.

    Every unit tied at the largest rise (fall) is one; nobody when no unit rose (fell). A unit not
    ranked last month has no change and is no mover. Each list in this month's rank order.
    """
    change = ev.table["rank_change"]
    up, down = change.max(), change.min()
    return ([str(u) for u in change.index[change == up]] if up > 0 else [],
            [str(u) for u in change.index[change == down]] if down < 0 else [])


class EvaluationRefused(PermissionError):
    """The viewer's role may not see this evaluation (by handler: names of people)."""


def evaluation_for(cases: pd.DataFrame, viewer: Viewer, unit: str, year: int, month: int,
                   feedback: pd.DataFrame) -> MonthlyEvaluation:
    """`evaluate` over the cases ``viewer`` may see (a village operator: their village's).

    Raises
    ------
    EvaluationRefused
        ``unit`` handler for a role that is not shown people's names (the wall).
    """
    if unit == "handler" and not sees_personal(viewer.role):
        raise EvaluationRefused("the evaluation by handler names people: not shown to this role")
    villages = cases["village_id"].astype(object)
    seen = {v: may_see_village(viewer, v) for v in villages.dropna().unique()}
    mask = villages.map(lambda v: seen.get(v, viewer.role != "village")).to_numpy(dtype=bool)
    return evaluate(cases[mask], unit, year, month, feedback)
