"""The daily report (日报): what one printable page says about a filter and a day (no Flask, no Dash).

The headline figures, the counts by domain and by village, the overdue list
and the live warnings are those of the dashboard under the same filter
(``services.make_view``), judged at the time the report is made. The day's
own section — cases reported and cases resolved on that Beijing date — ignores
the time window (the day is the window) but keeps every other filter.

The store keeps no history of statuses beyond the audit trail, so a report
for a past day shows today's statuses for that day's cases; the page says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd

from township.domain.filters import FilterState
from township.domain.isotime import LOCAL_TZ
from township.domain.vocab import DOMAINS
from township.formats.exports import case_records
from township.grids.model import GridSet
from township.read.snapshot import Snapshot
from township.read.stats import ResidentRates, resident_rates
from township.read.views import Headline, counts_by, make_view
from township.store.models import utcnow

__all__ = ["DailyReport", "beijing_today", "daily_report", "day_bounds", "parse_day"]


@dataclass(frozen=True)
class DailyReport:
    """Everything the daily report prints.

    Attributes
    ----------
    day : date
        The Beijing date reported on.
    state : FilterState
        The filter (as on the dashboard).
    generated_at : datetime
        Naive UTC; overdue and the rates are judged at this time.
    headline : Headline
        The dashboard's headline figures under the filter.
    by_domain, by_village : DataFrame
        ``total``, ``open``, ``overdue``, ``done`` per domain code / village id, every one listed.
    new_cases : DataFrame
        `township.formats.exports.case_records` of the cases reported that day, oldest first.
    resolved : int
        Cases resolved that day.
    overdue : DataFrame
        `case_records` of the overdue cases, longest overdue (earliest deadline) first.
    warnings : DataFrame
        Live warnings under the filter, most severe then newest first, with ``affected`` (grid count).
    residents : ResidentRates, optional
        返工率 and 满意率 of the filtered cases (`township.read.stats.resident_rates`), when the 回访
        answers were given.
    """

    day: date
    state: FilterState
    generated_at: datetime
    headline: Headline
    by_domain: pd.DataFrame
    by_village: pd.DataFrame
    new_cases: pd.DataFrame
    resolved: int
    overdue: pd.DataFrame
    warnings: pd.DataFrame
    residents: ResidentRates | None = None


def beijing_today(now: datetime | None = None) -> date:
    """Today's date in Beijing for a naive-UTC ``now`` (default: now)."""
    return (now or utcnow()).replace(tzinfo=UTC).astimezone(LOCAL_TZ).date()


def parse_day(text: str | None, now: datetime | None = None) -> date:
    """The report date of a ``date=YYYY-MM-DD`` parameter; none or empty means today (Beijing).

    Raises
    ------
    ValueError
        Naming the parameter, for text that is not a date or a date after today.
    """
    today = beijing_today(now)
    if not text:
        return today
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"date={text!r} is not a date of the form YYYY-MM-DD") from None
    if day > today:
        raise ValueError(f"date={text} is after today ({today.isoformat()}, Beijing time): no report yet")
    return day


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The Beijing day ``day`` as a naive-UTC ``[start, end)``, as the store keeps times."""
    start = datetime.combine(day, time(0), tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)
    return start, start + timedelta(days=1)


def _counts(cases: pd.DataFrame, key: str, index: list[str], now: datetime) -> pd.DataFrame:
    counts = counts_by(cases, key, now).reindex(index, fill_value=0)
    counts.insert(0, "total", cases[key].value_counts().reindex(index, fill_value=0).astype(int))
    return counts


def daily_report(snap: Snapshot, gridset: GridSet, state: FilterState, day: date, role: str,
                 now: datetime | None = None, feedback: pd.DataFrame | None = None) -> DailyReport:
    """Gather the daily report of ``day`` under ``state`` for ``role`` (names masked as it requires).

    Parameters
    ----------
    snap : Snapshot
        The current data.
    gridset : GridSet
        The grids in use.
    state : FilterState
        The dashboard's filter (``filters.from_query`` of its query string).
    day : date
        The Beijing date (`parse_day`).
    role : str
        Who reads the report (`township.domain.privacy`).
    now : datetime, optional
        Naive UTC time the figures are judged at (default: now).
    feedback : DataFrame, optional
        The 回访 answers (`township.read.resident.feedback_frame`): 返工率 and 满意率 join the headline.
    """
    now = now or utcnow()
    view = make_view(snap, gridset, state, now)
    start, end = day_bounds(day)
    # The day's own section: the day is the window, every other filter stays.
    whole = make_view(snap, gridset, state.model_copy(update={"window": "all"}), now)
    reported = whole.cases["reported_at"].between(start, end, inclusive="left").to_numpy()
    resolved = whole.cases["resolved_at"].between(start, end, inclusive="left").to_numpy()
    new_ids = set(whole.cases.loc[reported, "id"].tolist())
    records = case_records(whole, gridset, role)
    new_cases = records[records["id"].isin(new_ids)].sort_values("reported_at", kind="stable")
    over = case_records(view, gridset, role)
    over = over[over["overdue"]].sort_values(["deadline_at", "id"], kind="stable")
    villages = state.village or gridset.ids(level=2)
    warnings = view.warnings.sort_values(["level", "issued_at"], ascending=[True, False], kind="stable")
    warnings = warnings.assign(affected=[len(view.warning_grids.get(int(w), [])) for w in warnings["id"]])
    return DailyReport(
        day=day,
        state=state,
        generated_at=now,
        headline=view.headline,
        by_domain=_counts(view.cases, "domain", list(DOMAINS), now),
        by_village=_counts(view.cases, "village_id", villages, now),
        new_cases=new_cases.reset_index(drop=True),
        resolved=int(resolved.sum()),
        overdue=over.reset_index(drop=True),
        warnings=warnings.reset_index(drop=True),
        residents=resident_rates(view.cases, feedback) if feedback is not None else None,
    )
