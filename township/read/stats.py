"""Statistics of the closed loop: pandas over the cases frame, and the store's aggregate of the audit trail.

``cases`` is a frame like `township.read.snapshot.Snapshot.cases` (columns ``id``,
``status``, ``max_tier``, ``village_id``, ``handler``, ``reported_at``,
``deadline_at``, ``resolved_at`` …), already filtered as the screen wants;
``entries`` is what :class:`EntryTimes` keeps of the audit trail (one row per
case, not one per `~township.store.models.CaseEvent`: a city's trail has millions).
The headline rates (办结率, 按期办结率, 村级化解率) are in
`township.read.views.headline`; the definitions here are the same. The
residents' rates (返工率, 满意率) come from the 回访 answers
(`township.read.resident.feedback_frame`): :func:`resident_rates`.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection, Engine

from township.domain.vocab import DONE_STATUSES, OPEN_STATUSES
from township.read.views import overdue_mask
from township.store.models import CaseEvent

#: The stages of the loop: (label, status it starts at, status it ends at).
STAGES: list[tuple[str, str, str]] = [
    ("report→dispatch", "reported", "dispatched"),
    ("dispatch→accept", "dispatched", "accepted"),
    ("accept→resolve", "accepted", "resolved"),
    ("resolve→close", "resolved", "closed"),
]
#: The statuses a stage starts or ends at, in loop order: the only entries `stage_times` needs.
STAGE_STATUSES: tuple[str, ...] = tuple(dict.fromkeys(s for _, start, end in STAGES for s in (start, end)))
#: Cases per chunk when `entry_times` reads the store.
CHUNK_ROWS = 100_000

#: Label of cases with no village (outside the town) or no handler (not dispatched).
NONE_LABEL = "(none)"

#: Weights of the village ranking score (see :func:`village_ranking`).
RANK_WEIGHTS: dict[str, float] = {"done": 40.0, "ontime": 30.0, "village": 30.0, "per_overdue": 2.0,
                                  "max_overdue": 20.0}


def _entry_chunk(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Rows ``(case_id, time per status of STAGE_STATUSES)`` as a frame indexed by case id."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * (1 + len(STAGE_STATUSES))
    times = zip(STAGE_STATUSES, columns[1:], strict=True)
    return pd.DataFrame({s: pd.array(values, dtype="datetime64[us]") for s, values in times},
                        index=pd.Index(columns[0], dtype="int64", name="case_id"))


def entry_times(conn: Connection, after_id: int, upto_id: int) -> pd.DataFrame:
    """When each case first entered each status of `STAGE_STATUSES`, over the events ``after_id < id <= upto_id``.

    An event enters its ``to_status`` when that differs from its
    ``from_status``: escalations, which keep the status, do not; a report,
    which has no ``from_status``, does. The store aggregates (one row per case
    comes back, in chunks), so memory follows the cases, not the events.

    Returns
    -------
    DataFrame
        Indexed by ``case_id`` (the cases with any such entry); one
        ``datetime64`` column per status of `STAGE_STATUSES`, NaT where the
        case did not enter it among these events.
    """
    entered = and_(CaseEvent.to_status.in_(STAGE_STATUSES),
                   or_(CaseEvent.from_status.is_(None), CaseEvent.from_status != CaseEvent.to_status))
    # MIN of the times: on SQLite they are text, all written by SQLAlchemy in one fixed-width
    # ISO format, so the text order is the time order.
    firsts = [func.min(case((CaseEvent.to_status == s, CaseEvent.at))).label(s) for s in STAGE_STATUSES]
    stmt = (select(CaseEvent.case_id, *firsts)
            .where(CaseEvent.id > after_id, CaseEvent.id <= upto_id, entered)
            .group_by(CaseEvent.case_id)
            .execution_options(yield_per=CHUNK_ROWS))
    chunks = [_entry_chunk(rows) for rows in conn.execute(stmt).partitions()]
    return pd.concat(chunks) if chunks else _entry_chunk([])


def _merged(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``old`` entry times with ``new`` ones merged in: per case and status the earlier (NaT: none).

    A new frame, so that a reader still holding ``old`` is not disturbed.
    """
    earliest = pd.concat([old.reindex(new.index), new]).groupby(level=0).min()
    return pd.concat([old.drop(new.index, errors="ignore"), earliest])


class EntryTimes:
    """`entry_times` of the whole audit trail of a store, kept up to date per data version.

    The first read aggregates the whole trail; each later data version reads
    only the events with an id above the last one read, and merges them in,
    so a new event does not make millions of rows be read again. Writes run
    one at a time on both stores (see `township.store.engine`), so an event committed
    later never has an id below one already read.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._version: int | None = None
        self._last_id = 0
        self._frame = _entry_chunk([])
        self._lock = threading.Lock()

    def get(self, version: int) -> pd.DataFrame:
        """The entry times as of data version ``version`` or later; the same version again reads nothing.

        The returned frame is shared and never changed: do not mutate it.
        """
        with self._lock:
            if version != self._version:
                with self.engine.connect() as conn:
                    # The events up to this id are the ones read; one committed after it gets a higher id.
                    upto = conn.scalar(select(func.max(CaseEvent.id))) or 0
                    if upto > self._last_id:
                        self._frame = _merged(self._frame, entry_times(conn, self._last_id, upto))
                        self._last_id = upto
                self._version = version
            return self._frame


def stage_times(cases: pd.DataFrame, entries: pd.DataFrame) -> pd.DataFrame:
    """Time spent in each stage of the loop, over the cases of ``cases``.

    A stage runs from the first time a case entered its start status to the
    first time it entered its end status (escalations, which keep the status,
    do not count as entering); a case counts for a stage only when both ends
    happened. A return loop (退回 and re-dispatch) counts into the stage it
    interrupted; a micro-wish taken straight from 已上报 has no dispatch and
    counts only from accept on.

    Parameters
    ----------
    entries : DataFrame
        First entry times per case, as :class:`EntryTimes` keeps them (any
        superset of the cases of ``cases``).

    Returns
    -------
    DataFrame
        Indexed by stage label (:data:`STAGES` order); columns ``count``,
        ``mean_h`` and ``median_h`` (hours; NaN for a stage no case completed).
    """
    first = entries[entries.index.isin(cases["id"])]
    rows = {}
    for label, start, end in STAGES:
        hours = (first[end] - first[start]).dropna().dt.total_seconds() / 3600
        rows[label] = {"count": int(hours.size), "mean_h": hours.mean() if hours.size else np.nan,
                       "median_h": hours.median() if hours.size else np.nan}
    return pd.DataFrame.from_dict(rows, orient="index")


def backlog(cases: pd.DataFrame, by: str, now: datetime) -> pd.DataFrame:
    """Open cases per ``by`` (``village_id`` or ``handler``), most first.

    Returns
    -------
    DataFrame
        Indexed by the key (`NONE_LABEL` for none); columns ``open``,
        ``overdue`` and ``oldest_days`` (age of the oldest open case, days).
    """
    open_ = cases["status"].isin(OPEN_STATUSES).to_numpy()
    # As plain objects: ``village_id`` is categorical, and fillna on it refuses a label that is not a category.
    keys = cases[by].astype(object)
    frame = pd.DataFrame({
        by: keys.where(keys.notna(), NONE_LABEL).to_numpy()[open_],
        "overdue": overdue_mask(cases, now)[open_],
        "age": (np.datetime64(now) - cases["reported_at"].to_numpy()[open_]) / np.timedelta64(1, "D"),
    })
    out = frame.groupby(by).agg(open=("overdue", "size"), overdue=("overdue", "sum"), oldest_days=("age", "max"))
    out["overdue"] = out["overdue"].astype(int)
    return out.sort_values(["open", "overdue"], ascending=False, kind="stable")


def backlog_by_village(cases: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """:func:`backlog` by village."""
    return backlog(cases, "village_id", now)


def backlog_by_handler(cases: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """:func:`backlog` by handler (the name on the case; `NONE_LABEL` for not dispatched)."""
    return backlog(cases, "handler", now)


def _week(times: pd.Series) -> pd.Series:
    # Weeks run Monday to Sunday (Chinese working weeks); labelled by their Monday.
    return times.dt.to_period("W-SUN").dt.start_time


def trend(cases: pd.DataFrame) -> pd.DataFrame:
    """Cases reported and done (办结: ``resolved_at`` in the week) per week.

    Returns
    -------
    DataFrame
        Indexed by the Monday of each week, every week from the first to the
        last present (weeks with nothing are 0); columns ``reported``, ``done``.
    """
    reported = _week(cases["reported_at"]).value_counts()
    done = _week(cases["resolved_at"].dropna()).value_counts()
    if reported.empty and done.empty:
        return pd.DataFrame({"reported": pd.Series(dtype=int), "done": pd.Series(dtype=int)})
    present = reported.index.union(done.index)
    weeks = pd.date_range(present.min(), present.max(), freq="7D")
    out = pd.DataFrame({"reported": reported.reindex(weeks, fill_value=0),
                        "done": done.reindex(weeks, fill_value=0)}).astype(int)
    out.index.name = "week"
    return out


#: Villages a ranking table lists: the top of a county's or a city's thousands (a table of
#: 2,000 rows stalled the browser for minutes), all of a township's.
RANKING_ROWS = 30


@dataclass(frozen=True)
class ResidentRates:
    """返工率 and 满意率 of a set of cases, with the counts they are of.

    Attributes
    ----------
    resolved : int
        Cases resolved at least once: done now (已办结, 已销号), or reopened by a 回访.
    reworked : int
        Cases a 不满意 at 回访 reopened at least once (返工).
    answered, satisfied : int
        回访 answers given on the cases, and those that said 满意.
    """

    resolved: int
    reworked: int
    answered: int
    satisfied: int

    @property
    def rework_rate(self) -> float | None:
        """返工率 = reworked / resolved; ``None`` when nothing was resolved."""
        return self.reworked / self.resolved if self.resolved else None

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率 = satisfied answers / answers; ``None`` without answers."""
        return self.satisfied / self.answered if self.answered else None


def rework_by_case(cases: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """Per case of ``cases`` (in their order, indexed by case id): ``village_id``, ``resolved`` (ever: done now,
    or reopened by a 不满意), ``reworked``, ``answered``, ``satisfied``: the one rule of 返工 (the monthly
    evaluation counts by it too)."""
    fb = feedback[feedback["case_id"].isin(cases["id"])]
    per = fb.groupby("case_id").agg(answered=("satisfied", "size"), satisfied=("satisfied", "sum"),
                                    reworked=("reopened", "any"))
    frame = pd.DataFrame({"village_id": cases["village_id"].astype(object).to_numpy(),
                          "done": cases["status"].isin(DONE_STATUSES).to_numpy()},
                         index=pd.Index(cases["id"].to_numpy(), name="case_id"))
    frame = frame.join(per).fillna({"answered": 0, "satisfied": 0, "reworked": False})
    frame["reworked"] = frame["reworked"].astype(bool)
    frame["resolved"] = frame["done"] | frame["reworked"]
    return frame.astype({"answered": int, "satisfied": int})


def resident_rates(cases: pd.DataFrame, feedback: pd.DataFrame) -> ResidentRates:
    """返工率 and 满意率 of ``cases`` from the 回访 answers ``feedback`` (`township.read.resident.feedback_frame`)."""
    f = rework_by_case(cases, feedback)
    return ResidentRates(int(f["resolved"].sum()), int(f["reworked"].sum()), int(f["answered"].sum()),
                         int(f["satisfied"].sum()))


def village_ranking(cases: pd.DataFrame, now: datetime, weights: dict[str, float] | None = None,
                    feedback: pd.DataFrame | None = None) -> pd.DataFrame:
    """Villages ranked by how well they close their loop.

    ``score = 40·办结率 + 30·按期办结率 + 30·村级化解率 − min(20, 2·overdue)``

    where 办结率 = done / all cases, 按期办结率 = done by the deadline / done,
    村级化解率 = done without leaving village tier (``max_tier`` grid or
    village) / done, and ``overdue`` is the number of open cases past their
    deadline at ``now``. A rate with no done cases counts as 0. So a village
    that closes everything, on time and inside the village, with nothing
    overdue scores 100; each overdue case costs 2 points, at most 20. Ties
    go to fewer overdue cases, then to the village id. Only villages with
    cases are ranked.

    Parameters
    ----------
    weights : dict, optional
        Replace the keys of :data:`RANK_WEIGHTS` (``done``, ``ontime``,
        ``village``, ``per_overdue``, ``max_overdue``).
    feedback : DataFrame, optional
        The 回访 answers (`township.read.resident.feedback_frame`): with them
        the ranking also has ``rework_rate`` and ``satisfaction_rate``
        (:class:`ResidentRates`, NaN with nothing to divide); they do not change the score.

    Returns
    -------
    DataFrame
        Indexed by village id; columns ``total``, ``done``, ``done_rate``,
        ``ontime_rate``, ``village_rate`` (NaN without done cases),
        ``overdue``, ``score``, ``rank`` (1 is best), and with ``feedback``
        ``rework_rate`` and ``satisfaction_rate``.
    """
    w = {**RANK_WEIGHTS, **(weights or {})}
    done = cases["status"].isin(DONE_STATUSES).to_numpy()
    frame = pd.DataFrame({
        "village_id": cases["village_id"].to_numpy(),
        "done": done,
        "ontime": done & (cases["resolved_at"].to_numpy() <= cases["deadline_at"].to_numpy()),
        "in_village": done & cases["max_tier"].isin(("grid", "village")).to_numpy(),
        "overdue": overdue_mask(cases, now),
    }).dropna(subset=["village_id"])
    g = frame.groupby("village_id")
    out = pd.DataFrame({"total": g.size(), "done": g["done"].sum(), "overdue": g["overdue"].sum()})
    ontime, in_village = g["ontime"].sum(), g["in_village"].sum()
    out["done_rate"] = out["done"] / out["total"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["ontime_rate"] = (ontime / out["done"]).where(out["done"] > 0)
        out["village_rate"] = (in_village / out["done"]).where(out["done"] > 0)
    out["score"] = (w["done"] * out["done_rate"] + w["ontime"] * out["ontime_rate"].fillna(0)
                    + w["village"] * out["village_rate"].fillna(0)
                    - np.minimum(w["max_overdue"], w["per_overdue"] * out["overdue"]))
    out = out.astype({"total": int, "done": int, "overdue": int})
    out = out.reset_index().sort_values(["score", "overdue", "village_id"], ascending=[False, True, True])
    out["rank"] = np.arange(1, len(out) + 1)
    out = out.set_index("village_id")[["total", "done", "done_rate", "ontime_rate", "village_rate", "overdue",
                                       "score", "rank"]]
    if feedback is not None:
        r = rework_by_case(cases, feedback).groupby("village_id")[["resolved", "reworked", "answered",
                                                                   "satisfied"]].sum()
        r = r.reindex(out.index, fill_value=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["rework_rate"] = (r["reworked"] / r["resolved"]).where(r["resolved"] > 0)
            out["satisfaction_rate"] = (r["satisfied"] / r["answered"]).where(r["answered"] > 0)
    return out
