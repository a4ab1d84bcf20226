"""Playback: the township as it was at a moment, rebuilt from the audit trail.

A :class:`History` indexes the audit trail (``case_events``, the warnings and
``warning_events``) once per data version (`Township.history`): every record that
sets a status or a tier, sorted by (case, time, record), and per kind of value
(status, tier, handler, resolved, closed) each record's last of that kind in its
case. Moving the moment ``t`` is array work, no query: one comparison of the
record times with ``t`` and a cumulative sum give each case its last record at or
before ``t`` (one exactly at ``t`` has happened; one a microsecond later has not),
and with it its last of every kind.

:meth:`History.snapshot_at` turns the current snapshot into the snapshot of
``t``, which the views, the map and the headline draw unchanged; its ``now``
is ``t``, so a case counts as overdue as it did at ``t``. What the trail does
not hold is taken from the store as it is now (docs/design.md §4a).
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import case, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from township.domain.filters import FUTURE_SLACK
from township.domain.isotime import as_utc, iso
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


@dataclass(frozen=True)
class _Dated:
    """Records sorted by (case or warning id, time, record id)."""

    ids: np.ndarray  # int64 case (or warning) id per record
    at: np.ndarray  # datetime64[us] per record

    def bounds(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each of ``ids``' first record and one past its last (equal when it has none)."""
        return np.searchsorted(self.ids, ids, "left"), np.searchsorted(self.ids, ids, "right")

    def last(self, start: np.ndarray, end: np.ndarray, t: np.datetime64) -> np.ndarray:
        """Per id, the index of its last record at or before ``t``; -1 when it had none yet.

        The records of one id are sorted by time, so those at or before ``t`` come
        first: counting them (a cumulative sum over all records) finds the last.
        """
        done = np.zeros(len(self.at) + 1, np.int32)  # int32: half the memory traffic of the default
        np.cumsum(self.at <= t, dtype=np.int32, out=done[1:])
        count = done[end] - done[start]
        return np.where(count > 0, start + count - 1, -1)


@dataclass(frozen=True)
class _Stream(_Dated):
    """Dated values of one kind."""

    values: np.ndarray  # the value each record sets

    @classmethod
    def of(cls, ids: np.ndarray, at: np.ndarray, eid: np.ndarray, values: np.ndarray, keep: np.ndarray) -> _Stream:
        """The records ``keep`` selects, sorted."""
        ids, at, eid, values = ids[keep], at[keep], eid[keep], values[keep]
        order = np.lexsort((eid, at, ids))
        return cls(ids[order], at[order], values[order])

    def where(self, keep: np.ndarray) -> _Stream:
        """The records ``keep`` selects (still sorted)."""
        return _Stream(self.ids[keep], self.at[keep], self.values[keep])

    def firsts(self) -> _Stream:
        """Only the first record of each id."""
        first = np.flatnonzero(np.r_[True, self.ids[1:] != self.ids[:-1]]) if len(self.ids) else np.zeros(0, int)
        return _Stream(self.ids[first], self.at[first], self.values[first])

    def value_of(self, ids: np.ndarray, default: np.ndarray) -> np.ndarray:
        """The value of each of ``ids`` in a stream of one record per id (`firsts`), else ``default``."""
        start, end = self.bounds(ids)
        return np.where(end > start, self.values[np.minimum(start, max(len(self.ids) - 1, 0))]
                        if len(self.ids) else default, default)


@dataclass(frozen=True)
class _Trail(_Dated):
    """Every record that sets a status or a tier, and per kind of value (status, tier, handler,
    resolve, close) where each record's case last set it.

    ``prev[kind][n]`` is the last record of that kind at or before record ``n`` in its case
    (-1: none yet), so the one pass that finds each case's last record by t finds its last of
    every kind too.
    """

    prev: dict[str, np.ndarray]
    #: per kind, the value each record sets (meaningful where the record is of that kind)
    values: dict[str, np.ndarray]

    @classmethod
    def of(cls, ids: np.ndarray, at: np.ndarray, kinds: dict[str, np.ndarray],
           values: dict[str, np.ndarray]) -> _Trail:
        """The trail of sorted records; ``kinds`` masks which records set which value."""
        n = len(ids)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if n else np.zeros(0, np.int64)
        case_start = np.repeat(starts, np.diff(np.r_[starts, n]))
        prev = {}
        for kind, mask in kinds.items():
            # Carried forward along the trail, and cut where it came from an earlier case.
            got = np.maximum.accumulate(np.where(mask, np.arange(n), -1)) if n else np.zeros(0, np.int64)
            prev[kind] = np.where(got >= case_start, got, -1).astype(np.int32 if n < 2**31 else np.int64)
        return cls(ids, at, prev, values)


@dataclass(frozen=True)
class _Records:
    """The records of the index as columns, sorted by (case, time, record id): what a later read merges into.

    ``status``, ``tier`` (set, else missing), ``status_from``, ``tier_from`` (the record's "from",
    else its "to"), ``handler`` (named by a dispatch or accept; missing otherwise), and flags of the
    records after which nobody holds the case (``unhandled``), and of resolve and close records.
    Text columns are interned (one object per distinct value), as a million records repeat a few words.
    """

    columns: dict[str, np.ndarray]

    @classmethod
    def of(cls, columns: dict[str, np.ndarray]) -> _Records:
        order = np.lexsort((columns["eid"], columns["at"], columns["ids"]))
        return cls({k: v[order] for k, v in columns.items()})

    def merged(self, newer: _Records) -> _Records:
        """These records and ``newer`` ones, sorted again."""
        if not len(newer.columns["ids"]):
            return self
        return _Records.of({k: np.concatenate([v, newer.columns[k]]) for k, v in self.columns.items()})

    def trail(self) -> _Trail:
        """The records as a `_Trail`: which kinds each sets, and the values."""
        c = self.columns
        kinds = {"status": pd.notna(c["status"]), "tier": pd.notna(c["tier"]),
                 "handler": pd.notna(c["handler"]) | c["unhandled"], "resolve": c["resolve"], "close": c["close"]}
        values = {"status": c["status"], "tier": c["tier"], "handler": c["handler"]}
        return _Trail.of(c["ids"], c["at"], kinds, values)


def _read_records(conn: Connection, where: ColumnElement[bool] | None = None) -> _Records:
    """The case records (those ``where`` selects, else all) that set a status or a tier, as sorted columns."""
    ev = CaseEvent
    # The note only where it names a handler: the rest of the notes need not cross.
    note = case((ev.action.in_(HANDLER_MOVES), ev.note), else_=None)
    stmt = select(ev.case_id, ev.at, ev.id, ev.action, ev.from_status, ev.to_status, ev.from_tier, ev.to_tier, note) \
        .where(or_(ev.to_status.is_not(None), ev.to_tier.is_not(None)))
    rows = conn.execute(stmt if where is None else stmt.where(where)).all()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 9
    action, frm, to, ftier, ttier, notes = (np.array(c, object) for c in cols[3:])
    names = np.array([_handler_of(a, n) for a, n in zip(action, notes, strict=True)], object)
    return _Records.of({
        "ids": np.array(cols[0], np.int64), "at": _times(cols[1]), "eid": np.array(cols[2], np.int64),
        "status": _interned(to), "tier": _interned(ttier), "handler": _interned(names),
        "status_from": _interned(np.where(pd.notna(frm), frm, to)),
        "tier_from": _interned(np.where(pd.notna(ftier), ftier, ttier)),
        # Compared one code at a time: np.isin over an object array sorts it (half a second at 60k records).
        "unhandled": np.logical_or.reduce([action == a for a in UNHANDLED_MOVES]),
        "resolve": action == "resolve", "close": action == "close",
    })


def _interned(values: np.ndarray) -> np.ndarray:
    """An object array holding one object per distinct value (``None`` for missing)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    out = np.full(len(codes), None, object)
    out[codes >= 0] = np.asarray(uniques, object)[codes[codes >= 0]]
    return out


@dataclass(frozen=True)
class _Aligned:
    """The streams laid over the cases of one snapshot, in its row order (kept per snapshot)."""

    key: tuple[int, int]
    #: each case's first event in the trail and one past its last
    bounds: tuple[np.ndarray, np.ndarray]
    #: status and tier codes (the snapshot's categories) before a case's first event, and per event
    status_before: np.ndarray
    status_codes: np.ndarray
    tier_before: np.ndarray
    tier_codes: np.ndarray
    #: the stored handler of each case (in row order), then the handler each handler event left (the
    #: last one of each case being the stored handler): a frame takes its handlers from it in one go
    handlers: pd.api.extensions.ExtensionArray
    #: whether a case has any handler event (else it keeps the stored handler throughout)
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
    records : int
        The case records read (those that set a status or a tier).
    """

    def __init__(self, version: int, records: _Records, wstatus: _Stream, warnings: pd.DataFrame,
                 span: tuple[datetime, datetime] | None, seen: tuple[int | None, int]) -> None:
        self.version = version
        self.records = len(records.columns["ids"])
        self._records = records
        #: the newest record id and the number of records in the store when read: where a later read goes on
        self._seen = seen
        self._trail = records.trail()
        c = records.columns
        self._streams = {
            # The status and tier a case had before its first record: that record's "from", else its "to".
            "status_before": _Stream(c["ids"], c["at"], c["status_from"]).where(pd.notna(c["status"])).firsts(),
            "tier_before": _Stream(c["ids"], c["at"], c["tier_from"]).where(pd.notna(c["tier"])).firsts(),
            "warning": wstatus,
        }
        #: per warning id: issued_at, end (cleared, or ``_NEVER``), indexed by id
        self._warnings = warnings
        self._span = span
        self._aligned: _Aligned | None = None
        self._lock = threading.Lock()

    @classmethod
    def read(cls, conn: Connection, version: int, previous: History | None = None) -> History:
        """Read the audit trail of the store ``conn`` is connected to, at data version ``version``.

        With ``previous`` (the index of an earlier version) only the records written since it
        are read and merged in: records are only ever added, with increasing ids. When the
        store holds other records than that sum (a bench removed some), all are read again.
        Only the records up to the newest id counted are read: one written meanwhile (each
        statement sees what was committed before it, on PostgreSQL) is left to the next read,
        which takes it once.
        """
        ev = CaseEvent
        newest, total = conn.execute(select(func.max(ev.id), func.count()).select_from(ev)).one()
        counted = ev.id <= newest if newest is not None else None
        records = None
        if previous is not None and previous._seen[0] is not None and counted is not None:
            since = previous._seen[0]
            added = conn.scalar(select(func.count()).select_from(ev).where(ev.id > since, counted)) or 0
            if previous._seen[1] + added == total:
                records = previous._records.merged(_read_records(conn, (ev.id > since) & counted))
        if records is None:
            records = _read_records(conn, counted)
        warnings, wstatus = _read_warnings(conn)
        at = records.columns["at"]
        times = [at.min(), at.max()] if len(at) else []
        if len(warnings):
            times += [warnings["issued_at"].min().to_datetime64(), warnings["issued_at"].max().to_datetime64()]
        span = (_py(min(times)), _py(max(times))) if times else None
        return cls(version, records, wstatus, warnings, span, (newest, total))

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
        cases, s, trail = snap.cases, self._streams, self._trail
        ids = cases["id"].to_numpy(np.int64)
        status_dtype, tier_dtype = cases["status"].dtype, cases["tier"].dtype
        stored_status = cases["status"].cat.codes.to_numpy().astype(np.int64)
        stored_tier = cases["tier"].cat.codes.to_numpy().astype(np.int64)
        status_before = _codes(s["status_before"].value_of(ids, np.full(len(ids), None, object)), status_dtype)
        tier_before = _codes(s["tier_before"].value_of(ids, np.full(len(ids), None, object)), tier_dtype)
        start, end = trail.bounds(ids)
        # Per case, its last event of each kind over the whole trail (-1: none).
        final = {k: np.where(end > start, prev[np.maximum(end - 1, 0)] if len(prev) else -1, -1)
                 for k, prev in trail.prev.items()}
        # The last handler event of a case left the handler the store holds now: that name is exact (a
        # note may hold a pool's label, or a name cut short), the earlier ones come from their notes.
        stored_handler = cases["handler"].to_numpy(object)
        handled = final["handler"] >= 0
        handlers = trail.values["handler"].copy()
        last = final["handler"][handled]
        named = pd.notna(handlers[last])
        handlers[last[named]] = stored_handler[handled][named]
        pool = pd.array(np.concatenate([stored_handler, handlers]), dtype=cases["handler"].dtype)
        # Codes per record as int16 (a few statuses and tiers): a city's trail holds millions of records.
        return _Aligned(key, (start, end), np.where(status_before >= 0, status_before, stored_status),
                        _codes(trail.values["status"], status_dtype).astype(np.int16),
                        np.where(tier_before >= 0, tier_before, stored_tier),
                        _codes(trail.values["tier"], tier_dtype).astype(np.int16), pool, handled, final["tier"] >= 0)

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
        al, cases = self._align(snap), snap.cases
        reported = cases["reported_at"].to_numpy()
        keep = reported <= t64
        if window_hours is not None:
            keep &= reported >= t64 - np.timedelta64(round(window_hours * 3_600_000_000), "us")
        rows = np.flatnonzero(keep)
        trail = self._trail
        # Each case's last event by t (one pass over the trail), then its last event of each kind by then.
        i = trail.last(al.bounds[0][rows], al.bounds[1][rows], t64)
        j = {k: _take(prev, i, np.full(len(i), -1)) for k, prev in trail.prev.items()}
        status = _take(al.status_codes, j["status"], al.status_before[rows])
        tier = _take(al.tier_codes, j["tier"], al.tier_before[rows])
        # From the pool: a case without handler events its stored handler, else its event's (none yet: -1, missing).
        handler = np.where(al.handled[rows], np.where(j["handler"] >= 0, j["handler"] + len(cases), -1), rows)

        status_dtype, tier_dtype, max_dtype = cases["status"].dtype, cases["tier"].dtype, cases["max_tier"].dtype
        # Tiers only move up: a case with a tier trail had its highest tier at t then.
        max_tier = cases["max_tier"].cat.codes.to_numpy()[rows].astype(np.int64)
        tiered = al.tiered[rows]
        max_tier[tiered] = max_dtype.categories.get_indexer(tier_dtype.categories)[tier[tiered]]
        done = np.isin(status, status_dtype.categories.get_indexer(sorted(DONE_STATUSES)))
        closed = status == status_dtype.categories.get_indexer(["closed"])[0]
        at_t = {
            "status": pd.Categorical.from_codes(status, dtype=status_dtype),
            "tier": pd.Categorical.from_codes(tier, dtype=tier_dtype),
            "max_tier": pd.Categorical.from_codes(max_tier, dtype=max_dtype),
            "handler": al.handlers.take(handler, allow_fill=True),
            "resolved_at": _done_at(trail.at, j["resolve"], cases["resolved_at"].to_numpy()[rows], t64, done),
            "closed_at": _done_at(trail.at, j["close"], cases["closed_at"].to_numpy()[rows], t64, closed),
        }
        # Only the columns that stay as stored are taken from the snapshot; the frame keeps its column order.
        kept = cases.drop(columns=list(at_t)).iloc[rows]
        frame = pd.DataFrame({c: at_t[c] if c in at_t else kept[c].array for c in cases.columns}, copy=False)
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


def _done_at(at: np.ndarray, i: np.ndarray, stored: np.ndarray, t64: np.datetime64, done: np.ndarray) -> np.ndarray:
    """When a case done at t was resolved (closed): its last such event by t, else the stored time if that is
    by t (a case without that part of the trail); NaT for a case not done at t."""
    out = _take(at, i, np.where(stored <= t64, stored, _NAT))
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
    cols = list(zip(*conn.execute(select(Warning.id, Warning.issued_at, Warning.expires_at, Warning.updated_at,
                                         Warning.status)).all(), strict=True)) or [()] * 5
    wid, issued, expiry, updated = np.array(cols[0], np.int64), _times(cols[1]), _times(cols[2]), _times(cols[3])
    ecols = list(zip(*conn.execute(select(WarningEvent.warning_id, WarningEvent.at, WarningEvent.id,
                                          WarningEvent.to_status).where(WarningEvent.to_status.is_not(None))).all(),
                     strict=True)) or [()] * 4
    ids, at, eid, to = np.array(ecols[0], np.int64), _times(ecols[1]), np.array(ecols[2], np.int64), \
        np.array(ecols[3], object)
    ended = _Stream.of(ids, at, eid, at, to == "cleared").firsts().value_of(wid, np.full(len(wid), _NAT))
    fallback = np.where(~np.isnat(expiry) & (expiry > issued), expiry, updated)
    end = np.where(~np.isnat(ended), ended, np.where(np.array(cols[4], object) == "cleared", fallback, _NEVER))
    return (pd.DataFrame({"issued_at": issued, "end": end.astype("datetime64[us]")}, index=pd.Index(wid)),
            _Stream.of(ids, at, eid, to, np.ones(len(ids), bool)))


def moment_problem(t: datetime, span: tuple[datetime, datetime] | None, now: datetime) -> str | None:
    """Why ``t`` cannot be played back, in words (the rule it breaks), or ``None`` when it can.

    A moment more than `FUTURE_SLACK` (the URL's rule too) after ``now`` is in the future; one before the trail's first
    moment (``span``) has nothing to show. Times are shown as ISO 8601 in Beijing time.
    """
    t = as_utc(t)
    if t > as_utc(now) + FUTURE_SLACK:
        return f"{_shown(t)} is in the future; the latest moment is now ({iso(now)}), give or take a minute"
    if span is not None and t < span[0]:
        return f"{_shown(t)} is before the audit trail begins ({iso(span[0])})"
    return None


def _shown(t: datetime) -> str:
    """``t`` in Beijing time, or in UTC where that would leave the calendar (year 1, year 9999)."""
    try:
        return iso(t) or ""
    except OverflowError:
        return t.isoformat() + "Z"


def frame_version(version: int, t: datetime, window_hours: float | None) -> int:
    """The ``version`` of a frame: a negative number from the data version, ``t`` and the window.

    Negative, so it is never taken for a data version (those count up from 0); a hash,
    so two frames differ in it unless they are the same frame.
    """
    key = f"{version}|{as_utc(t).isoformat()}|{window_hours}".encode()
    return -1 - int.from_bytes(hashlib.blake2b(key, digest_size=7).digest(), "big")


def _times(values: tuple) -> np.ndarray:
    """Stored times (datetimes, ``None`` for none) as datetime64[us]; pandas converts ten times faster than numpy."""
    return pd.to_datetime(pd.Series(values, dtype=object)).to_numpy("datetime64[us]")


def _py(value: np.datetime64) -> datetime:
    return pd.Timestamp(value).to_pydatetime()
