"""Statistics of the closed loop: pure pandas over the cases frame and the audit trail.

``cases`` is a frame like `township.services.Snapshot.cases` (columns ``id``,
``status``, ``max_tier``, ``village_id``, ``handler``, ``reported_at``,
``deadline_at``, ``resolved_at`` …), already filtered as the screen wants;
``events`` is :func:`events_frame` (one row per `~township.store.CaseEvent`).
The headline rates (办结率, 按期办结率, 村级化解率) are in
`township.services.headline`; the definitions here are the same.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from .services import overdue_mask
from .store import CaseEvent
from .vocab import DONE_STATUSES, OPEN_STATUSES

EVENT_COLUMNS = [CaseEvent.case_id, CaseEvent.at, CaseEvent.actor, CaseEvent.action, CaseEvent.from_status,
                 CaseEvent.to_status, CaseEvent.from_tier, CaseEvent.to_tier]

#: The stages of the loop: (label, status it starts at, status it ends at).
STAGES: list[tuple[str, str, str]] = [
    ("report→dispatch", "reported", "dispatched"),
    ("dispatch→accept", "dispatched", "accepted"),
    ("accept→resolve", "accepted", "resolved"),
    ("resolve→close", "resolved", "closed"),
]

#: Label of cases with no village (outside the town) or no handler (not dispatched).
NONE_LABEL = "(none)"

#: Weights of the village ranking score (see :func:`village_ranking`).
RANK_WEIGHTS: dict[str, float] = {"done": 40.0, "ontime": 30.0, "village": 30.0, "per_overdue": 2.0,
                                  "max_overdue": 20.0}


def events_frame(engine: Engine, case_ids: list[int] | None = None) -> pd.DataFrame:
    """The audit trail as a frame, oldest first (``at`` as datetime64)."""
    query = select(*EVENT_COLUMNS).order_by(CaseEvent.id)
    if case_ids is not None:
        query = query.where(CaseEvent.case_id.in_(case_ids))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=[c.key for c in EVENT_COLUMNS])
    frame["at"] = pd.to_datetime(frame["at"])
    return frame


def stage_times(cases: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Time spent in each stage of the loop, over the cases of ``cases``.

    A stage runs from the first time a case entered its start status to the
    first time it entered its end status (escalations, which keep the status,
    do not count as entering); a case counts for a stage only when both ends
    happened. A return loop (退回 and re-dispatch) counts into the stage it
    interrupted; a micro-wish taken straight from 已上报 has no dispatch and
    counts only from accept on.

    Returns
    -------
    DataFrame
        Indexed by stage label (:data:`STAGES` order); columns ``count``,
        ``mean_h`` and ``median_h`` (hours; NaN for a stage no case completed).
    """
    ev = events[events["case_id"].isin(cases["id"])]
    entered = ev[ev["to_status"].notna() & (ev["from_status"] != ev["to_status"])]
    first = entered.groupby(["case_id", "to_status"])["at"].min().unstack()
    rows = {}
    for label, start, end in STAGES:
        if start in first and end in first:
            hours = (first[end] - first[start]).dropna().dt.total_seconds() / 3600
        else:
            hours = pd.Series(dtype=float)
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
    frame = pd.DataFrame({
        by: cases[by].fillna(NONE_LABEL).to_numpy()[open_],
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


def village_ranking(cases: pd.DataFrame, now: datetime, weights: dict[str, float] | None = None) -> pd.DataFrame:
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

    Returns
    -------
    DataFrame
        Indexed by village id; columns ``total``, ``done``, ``done_rate``,
        ``ontime_rate``, ``village_rate`` (NaN without done cases),
        ``overdue``, ``score``, ``rank`` (1 is best).
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
    return out.set_index("village_id")[["total", "done", "done_rate", "ontime_rate", "village_rate", "overdue",
                                        "score", "rank"]]
