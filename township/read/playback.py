"""Playback: the township as it was at a moment, rebuilt from the audit trail.

A :class:`History` is an index of the audit trail (``case_events`` and
``warning_events``) built once per data version (`Township.history`). It keeps
per case its *streams* of dated values: status, tier, handler, when it was
resolved and closed, each sorted by (case, time). Moving the moment ``t`` is
array work: one comparison of the event times with ``t`` and a cumulative sum
give, per case, its last event at or before ``t`` (an event exactly at ``t``
has happened; one a microsecond later has not), and no query is made.

:meth:`History.snapshot_at` turns the current snapshot into the snapshot of
``t``, which the views, the map and the headline draw unchanged; its ``now``
is ``t``, so a case counts as overdue as it did at ``t``. What the trail does
not hold is taken from the store as it is now (see docs/design.md §4a).
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import case, or_, select
from sqlalchemy.engine import Connection

from township.domain.vocab import CASE_STATUSES, DONE_STATUSES, LIVE_WARNING_STATUSES
from township.store.models import CaseEvent, Warning, WarningEvent

if TYPE_CHECKING:  # snapshot.py builds the History: no import of it at run time
    from township.read.snapshot import Snapshot

#: Moves whose note names the handler the case went to (`township.loop.workflow`).
HANDLER_MOVES = ("dispatch", "accept")
#: Moves after which nobody holds the case.
UNHANDLED_MOVES = ("return", "reopen")
#: "派单给张三 (H-01)", "派单至小滩子村党员接单池", "张三接单", each maybe followed by ";" and a note.
_DISPATCHED = re.compile(r"^派单(?:给|至)(?P<name>[^;]+?)(?: \([^()]*\))?(?:;|$)")
_ACCEPTED = re.compile(r"^(?P<name>[^;]+?)接单(?:;|$)")
#: The latest time numpy holds at microseconds: a warning never cleared ends here.
_NEVER = np.datetime64("9999-12-31T00:00:00", "us")
_NAT = np.datetime64("NaT", "us")


def as_utc(t: datetime) -> datetime:
    """``t`` as naive UTC, as the store keeps times: a zone is converted, no zone means UTC
    (`township.domain.isotime`)."""
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo is not None else t


@dataclass(frozen=True)
class _Stream:
    """Dated values of one kind, sorted by (case id, time, event id)."""

    ids: np.ndarray  # int64 case (or warning) id per event
    at: np.ndarray  # datetime64[us] per event
    values: np.ndarray  # the value each event sets (object, or the time itself)

    @classmethod
    def of(cls, ids: np.ndarray, at: np.ndarray, eid: np.ndarray, values: np.ndarray, keep: np.ndarray) -> _Stream:
        """The events ``keep`` selects, sorted."""
        ids, at, eid, values = ids[keep], at[keep], eid[keep], values[keep]
        order = np.lexsort((eid, at, ids))
        return cls(ids[order], at[order], values[order])

    def firsts(self) -> _Stream:
        """Only the first event of each id."""
        first = np.flatnonzero(np.r_[True, self.ids[1:] != self.ids[:-1]]) if len(self.ids) else np.zeros(0, int)
        return _Stream(self.ids[first], self.at[first], self.values[first])

    def bounds(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each of ``ids``' first event and one past its last (equal when it has none)."""
        return np.searchsorted(self.ids, ids, "left"), np.searchsorted(self.ids, ids, "right")

    def last(self, start: np.ndarray, end: np.ndarray, t: np.datetime64) -> np.ndarray:
        """Per id, the index of its last event at or before ``t``; -1 when it had none yet.

        The events of one id are sorted by time, so those at or before ``t`` come
        first: counting them (a cumulative sum over the whole stream) finds the last.
        """
        done = np.zeros(len(self.at) + 1, np.int64)
        np.cumsum(self.at <= t, out=done[1:])
        count = done[end] - done[start]
        return np.where(count > 0, start + count - 1, -1)

    def value_of(self, ids: np.ndarray, default: np.ndarray) -> np.ndarray:
        """The value of each of ``ids`` in a stream of one event per id (`firsts`), else ``default``."""
        start, end = self.bounds(ids)
        return np.where(end > start, self.values[np.minimum(start, max(len(self.ids) - 1, 0))]
                        if len(self.ids) else default, default)


@dataclass(frozen=True)
class _Aligned:
    """The streams laid over the cases of one snapshot, in its row order (kept per snapshot)."""

    key: tuple[int, int]
    #: per stream, each case's first event and one past its last
    bounds: dict[str, tuple[np.ndarray, np.ndarray]]
    #: status and tier codes (the snapshot's categories) before a case's first event, and per event
    status_before: np.ndarray
    status_codes: np.ndarray
    tier_before: np.ndarray
    tier_codes: np.ndarray
    #: the handler per handler event, the last one of each case being the stored handler
    handlers: np.ndarray
    #: the stored handler of each case, and whether it has any handler event (else it keeps that one)
    stored_handler: np.ndarray
    handled: np.ndarray
    #: whether a case has a tier trail (then its highest tier at t is its tier at t)
    tiered: np.ndarray


def _codes(values: np.ndarray, dtype: pd.CategoricalDtype) -> np.ndarray:
    """``values`` as codes of a categorical ``dtype`` (-1: not one of its categories)."""
    return np.asarray(dtype.categories.get_indexer(pd.Index(values, dtype=object)), np.int64)


class History:
    """The audit trail as arrays: what each case and warning was at any moment.

    Built by :meth:`read` (one query over ``case_events``, one over the
    warnings and their log); use :meth:`snapshot_at` to move in time.

    Attributes
    ----------
    version : int
        The data version it was read at.
    """

    def __init__(self, version: int, streams: dict[str, _Stream], warnings: pd.DataFrame,
                 span: tuple[datetime, datetime] | None) -> None:
        self.version = version
        self._streams = streams
        #: per warning id: issued_at, end (cleared, or ``_NEVER``), indexed by id
        self._warnings = warnings
        self._span = span
        self._aligned: _Aligned | None = None
        self._lock = threading.Lock()

    @classmethod
    def read(cls, conn: Connection, version: int) -> History:
        """Read the audit trail of the store ``conn`` is connected to, at data version ``version``."""
        ev = CaseEvent
        # The note only where it names a handler: the rest of the notes need not cross.
        note = case((ev.action.in_(HANDLER_MOVES), ev.note), else_=None)
        rows = conn.execute(select(ev.case_id, ev.at, ev.id, ev.action, ev.from_status, ev.to_status,
                                   ev.from_tier, ev.to_tier, note)
                            .where(or_(ev.to_status.is_not(None), ev.to_tier.is_not(None)))).all()
        cols = list(zip(*rows, strict=True)) if rows else [()] * 9
        ids, eid = np.array(cols[0], np.int64), np.array(cols[2], np.int64)
        at = np.array(cols[1], "datetime64[us]")
        action, frm, to, ftier, ttier, notes = (np.array(c, object) for c in cols[3:])
        moved, tiered = pd.notna(to), pd.notna(ttier)
        names = np.array([_handler_of(a, n) for a, n in zip(action, notes, strict=True)], object)
        unhandled = np.isin(action, UNHANDLED_MOVES)
        streams = {
            "status": _Stream.of(ids, at, eid, to, moved),
            "tier": _Stream.of(ids, at, eid, ttier, tiered),
            "handler": _Stream.of(ids, at, eid, names, pd.notna(names) | unhandled),
            "resolve": _Stream.of(ids, at, eid, at, action == "resolve"),
            "close": _Stream.of(ids, at, eid, at, action == "close"),
            # The status and tier a case had before its first event: that event's "from", else its "to".
            "status_before": _Stream.of(ids, at, eid, np.where(pd.notna(frm), frm, to), moved).firsts(),
            "tier_before": _Stream.of(ids, at, eid, np.where(pd.notna(ftier), ftier, ttier), tiered).firsts(),
        }
        warnings, streams["warning"] = _read_warnings(conn)
        times = [at.min(), at.max()] if len(at) else []
        if len(warnings):
            times += [warnings["issued_at"].min().to_datetime64(), warnings["issued_at"].max().to_datetime64()]
        span = (_py(min(times)), _py(max(times))) if times else None
        return cls(version, streams, warnings, span)

    def span(self) -> tuple[datetime, datetime] | None:
        """The first and the last moment of the trail (naive UTC): case events and warnings issued;
        ``None`` for a store without any."""
        return self._span

    def _align(self, snap: Snapshot) -> _Aligned:
        key = (snap.version, len(snap.cases))
        got = self._aligned
        if got is not None and got.key == key:
            return got
        with self._lock:
            if self._aligned is None or self._aligned.key != key:
                self._aligned = self._make_aligned(snap, key)
            return self._aligned

    def _make_aligned(self, snap: Snapshot, key: tuple[int, int]) -> _Aligned:
        cases, s = snap.cases, self._streams
        ids = cases["id"].to_numpy(np.int64)
        status_dtype, tier_dtype = cases["status"].dtype, cases["tier"].dtype
        stored_status = cases["status"].cat.codes.to_numpy().astype(np.int64)
        stored_tier = cases["tier"].cat.codes.to_numpy().astype(np.int64)
        status_before = _codes(s["status_before"].value_of(ids, np.full(len(ids), None, object)), status_dtype)
        tier_before = _codes(s["tier_before"].value_of(ids, np.full(len(ids), None, object)), tier_dtype)
        bounds = {name: s[name].bounds(ids) for name in ("status", "tier", "handler", "resolve", "close")}
        # The last handler event of a case left the handler the store holds now: that name is exact (a
        # note may hold a pool's label, or a name cut short), the earlier ones come from their notes.
        stored_handler = cases["handler"].to_numpy(object)
        start, end = bounds["handler"]
        handled = end > start
        handlers = s["handler"].values.copy()
        last = end[handled] - 1
        named = pd.notna(handlers[last])
        handlers[last[named]] = stored_handler[handled][named]
        return _Aligned(key, bounds, np.where(status_before >= 0, status_before, stored_status),
                        _codes(s["status"].values, status_dtype), np.where(tier_before >= 0, tier_before, stored_tier),
                        _codes(s["tier"].values, tier_dtype), handlers, stored_handler, handled,
                        bounds["tier"][1] > bounds["tier"][0])

    def snapshot_at(self, snap: Snapshot, t: datetime, *, window_hours: float | None = None) -> Snapshot:
        """The snapshot as it was at ``t``.

        Parameters
        ----------
        snap : Snapshot
            The current snapshot (`Township.snapshot`): the cases' places, types and
            deadlines come from it.
        t : datetime
            The moment; with a zone, or naive UTC.
        window_hours : float, optional
            A moving window: only the cases reported in the ``window_hours`` up to ``t``
            (one reported exactly ``window_hours`` before ``t`` is in). Default: every case
            reported by ``t`` (cumulative).

        Returns
        -------
        Snapshot
            Cases reported after ``t`` left out; each case's ``status``, ``tier``,
            ``max_tier``, ``handler``, ``resolved_at`` and ``closed_at`` as at ``t``;
            the warnings live at ``t``, with the status they had, and their grids.
            Its ``now`` is ``t``, so views compute overdue at ``t``. Its ``version`` is
            `frame_version`: negative, never a data version, the same for the same data
            version, ``t`` and window, so caches and diffs tell frames apart by it.
        """
        t = as_utc(t)
        t64 = np.datetime64(t, "us")
        al, s, cases = self._align(snap), self._streams, snap.cases
        reported = cases["reported_at"].to_numpy()
        keep = reported <= t64
        if window_hours is not None:
            keep &= reported >= t64 - np.timedelta64(round(window_hours * 3_600_000_000), "us")
        rows = np.flatnonzero(keep)

        def last(name: str) -> np.ndarray:
            start, end = al.bounds[name]
            return s[name].last(start[rows], end[rows], t64)

        i = last("status")
        status = _take(al.status_codes, i, al.status_before[rows])
        i = last("tier")
        tier = _take(al.tier_codes, i, al.tier_before[rows])
        i = last("handler")
        handler = np.where(al.handled[rows], _take(al.handlers, i, np.full(len(i), None, object)),
                           al.stored_handler[rows])

        frame = cases.iloc[rows].reset_index(drop=True)
        status_dtype, tier_dtype, max_dtype = cases["status"].dtype, cases["tier"].dtype, cases["max_tier"].dtype
        frame["status"] = pd.Categorical.from_codes(status, dtype=status_dtype)
        frame["tier"] = pd.Categorical.from_codes(tier, dtype=tier_dtype)
        # Tiers only move up: a case with a tier trail had its highest tier at t then.
        max_tier = frame["max_tier"].cat.codes.to_numpy().astype(np.int64)
        tiered = al.tiered[rows]
        max_tier[tiered] = max_dtype.categories.get_indexer(tier_dtype.categories)[tier[tiered]]
        frame["max_tier"] = pd.Categorical.from_codes(max_tier, dtype=max_dtype)
        frame["handler"] = pd.array(handler, dtype="str")
        done = np.isin(status, status_dtype.categories.get_indexer(sorted(DONE_STATUSES)))
        closed = status == status_dtype.categories.get_indexer(["closed"])[0]
        frame["resolved_at"] = _done_at(s["resolve"], last("resolve"), frame["resolved_at"].to_numpy(), t64, done)
        frame["closed_at"] = _done_at(s["close"], last("close"), frame["closed_at"].to_numpy(), t64, closed)
        return replace(snap, version=frame_version(snap.version, t, window_hours), cases=frame,
                       warnings=self._warnings_at(snap.warnings, t64), now=t)

    def _warnings_at(self, warnings: pd.DataFrame, t64: np.datetime64) -> pd.DataFrame:
        """The warnings live at t (issued by t, not cleared by t), with the status they had then."""
        ids = warnings["id"].to_numpy(np.int64)
        known = self._warnings.reindex(ids)
        indexed = known["issued_at"].notna().to_numpy()
        issued = np.where(indexed, known["issued_at"].to_numpy(), warnings["issued_at"].to_numpy())
        end = np.where(indexed, known["end"].to_numpy(), _NEVER)
        stream = self._streams["warning"]
        start, stop = stream.bounds(ids)
        i = stream.last(start, stop, t64)
        status = _take(stream.values, i, np.full(len(i), "active", object))
        # A warning written after this index was read has no trail here: as stored.
        status = np.where(indexed, status, warnings["status"].to_numpy(object))
        live = (issued <= t64) & (end > t64) & np.isin(status, sorted(LIVE_WARNING_STATUSES))
        return warnings[live].assign(status=status[live])


def _done_at(stream: _Stream, i: np.ndarray, stored: np.ndarray, t64: np.datetime64, done: np.ndarray) -> np.ndarray:
    """When a case done at t was resolved (closed): its last such event by t, else the stored time if that is
    by t (a case without that part of the trail); NaT for a case not done at t."""
    out = _take(stream.at, i, np.where(stored <= t64, stored, _NAT))
    out[~done] = _NAT
    return out


def _take(values: np.ndarray, i: np.ndarray, default: np.ndarray) -> np.ndarray:
    """``values[i]`` where ``i`` is an index, ``default`` where it is -1 (no event)."""
    if not len(values):
        return default.copy()
    return np.where(i >= 0, values[np.maximum(i, 0)], default)


def _handler_of(action: str, note: str | None) -> str | None:
    """The handler a dispatch or accept names in its note (`township.loop.workflow`), else ``None``."""
    pattern = _DISPATCHED if action == "dispatch" else _ACCEPTED if action == "accept" else None
    found = pattern.match(note or "") if pattern is not None else None
    if found is None or found[0].rstrip(";") == CASE_STATUSES["accepted"]["zh"]:
        return None  # "已接单" is the status word, naming nobody (older demo and bench trails)
    return found["name"]


def _read_warnings(conn: Connection) -> tuple[pd.DataFrame, _Stream]:
    """Per warning (indexed by id) when it was issued and when it ended; its status trail.

    It ended at its first ``cleared`` step; a warning stored as cleared with no such step
    (an import, a CAP cancel, the demo) ended when it expired, else at its last update.
    """
    w = conn.execute(select(Warning.id, Warning.issued_at, Warning.expires_at, Warning.updated_at,
                            Warning.status)).all()
    cols = list(zip(*w, strict=True)) if w else [()] * 5
    frame = pd.DataFrame({"issued_at": np.array(cols[1], "datetime64[us]"),
                          "expires_at": np.array([_NAT if v is None else v for v in cols[2]], "datetime64[us]"),
                          "updated_at": np.array(cols[3], "datetime64[us]"),
                          "status": np.array(cols[4], object)}, index=pd.Index(np.array(cols[0], np.int64)))
    ev = conn.execute(select(WarningEvent.warning_id, WarningEvent.at, WarningEvent.id, WarningEvent.to_status)
                      .where(WarningEvent.to_status.is_not(None))).all()
    ecols = list(zip(*ev, strict=True)) if ev else [()] * 4
    ids, at, eid = np.array(ecols[0], np.int64), np.array(ecols[1], "datetime64[us]"), np.array(ecols[2], np.int64)
    to = np.array(ecols[3], object)
    stream = _Stream.of(ids, at, eid, to, np.ones(len(ids), bool))
    cleared = _Stream.of(ids, at, eid, at, to == "cleared").firsts()
    ended = cleared.value_of(frame.index.to_numpy(np.int64), np.full(len(frame), _NAT))
    expiry = frame["expires_at"].to_numpy()
    fallback = np.where(~np.isnat(expiry) & (expiry > frame["issued_at"].to_numpy()), expiry,
                        frame["updated_at"].to_numpy())
    end = np.where(~np.isnat(ended.astype("datetime64[us]")), ended, np.where(frame["status"] == "cleared",
                                                                             fallback, _NEVER))
    return pd.DataFrame({"issued_at": frame["issued_at"], "end": end.astype("datetime64[us]")}), stream


def frame_version(version: int, t: datetime, window_hours: float | None) -> int:
    """The ``version`` of a frame: a negative number from the data version, ``t`` and the window.

    Negative, so it is never taken for a data version (those count up from 0); a hash,
    so two frames differ in it unless they are the same frame.
    """
    key = f"{version}|{as_utc(t).isoformat()}|{window_hours}".encode()
    return -1 - int.from_bytes(hashlib.blake2b(key, digest_size=7).digest(), "big")


def _py(value: np.datetime64) -> datetime:
    return pd.Timestamp(value).to_pydatetime()
