"""CAP messages into the store: what an Alert, an Update or a Cancel changes.

`township.formats.cap` parses and writes CAP XML and does no I/O; this
module applies a parsed message to the stored warnings, through
`township.formats.ingest.add_warnings`, in one unit of work.

Update and Cancel
-----------------
A CAP message is stored under its own key (``source`` = sender,
``external_id`` = identifier). An Update or Cancel finds the earlier
warning through its ``references`` triples, matching sender and identifier
(the ``sent`` part is not compared: senders write it in various zones)
against the warning's key and every key it had before (`WarningCapKey`).

- Update: if a warning already carries the Update's own identifier, this is
  a re-send and it is updated in place. Otherwise the warning its
  references name (the last one listed, if several are stored) takes the new
  content and is then re-keyed to the Update's identifier, its former key
  kept in `WarningCapKey`, so the next Update in the chain finds it whichever
  message it names; any other referenced warning is cleared in the same
  transaction. An operator's ``acknowledged``/``handling`` status is kept. An
  Update whose references match nothing is stored as a new warning (the
  original was missed) and the answer says so.
- A re-sent message that a later Update superseded (its key is a former key
  of a warning) changes nothing: the warning keeps the newer content and no
  second warning lights up. The answer says so.
- Cancel: every referenced warning is set to ``cleared``; one that matches
  nothing is refused (422, ``alert/references``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.domain.policy import Viewer
from township.formats.cap import CapMessage
from township.formats.ingest import FieldError, IngestError, WarningIn, Written, add_warnings, may_write_warning
from township.grids.model import GridSet
from township.store.models import Warning, WarningCapKey, utcnow
from township.store.uow import UnitOfWork, run_in_unit


@dataclass(frozen=True)
class CapOutcome:
    """What one CAP message changed, and notes for the sender."""

    written: list[Written]
    notes: list[str]


def _as_input(row: Warning, **changes: Any) -> WarningIn:
    # A stored warning re-sent through the write path (e.g. to clear it);
    # it was placed when first stored, so it may stay outside the town.
    fields = {name: getattr(row, name) for name in (
        "source", "external_id", "type", "level", "status", "title", "description", "lon", "lat",
        "radius_m", "issued_at", "expires_at", "certainty")}
    return WarningIn.model_validate({**fields, "description": row.description or "", "outside_ok": True,
                                     **changes})


def _find(s: Session, keys: list[tuple[str, str]]) -> list[Warning]:
    """Stored warnings by (source, external_id), now or before an Update re-keyed them, in the order of ``keys``."""
    if not keys:
        return []
    order: dict[int, int] = {}
    current = s.scalars(select(Warning).where(or_(*(
        and_(Warning.source == src, Warning.external_id == ext) for src, ext in keys))))
    for row in current:
        order.setdefault(row.id, keys.index((row.source, row.external_id or "")))
    former = s.execute(select(WarningCapKey).where(or_(*(
        and_(WarningCapKey.sender == src, WarningCapKey.identifier == ext) for src, ext in keys))))
    for (key,) in former:
        order.setdefault(key.warning_id, keys.index((key.sender, key.identifier)))
    rows = s.scalars(select(Warning).where(Warning.id.in_(order))).all() if order else []
    return sorted(rows, key=lambda r: order[r.id])


def _placed(gridset: GridSet, w: WarningIn, now: datetime, notes: list[str]) -> WarningIn:
    """Check the alert area reaches the town, and clear an alert that has already expired."""
    changes: dict[str, Any] = {}
    if gridset.locate_one(w.lon, w.lat) is None:
        if not gridset.grids_within(w.lon, w.lat, w.radius_m):
            raise IngestError([FieldError(None, "info/area", (
                f"the area (centre {w.lat:.5f},{w.lon:.5f}, radius {w.radius_m / 1000:.1f} km) "
                "does not reach the town"))])
        changes["outside_ok"] = True
        notes.append("the area's centre is outside the town; stored for the grids its radius reaches")
    if w.expires_at is not None and w.expires_at <= now:
        changes["status"] = "cleared"
        notes.append("the alert has already expired; stored as cleared")
    return w.model_copy(update=changes)


def _rekey(uow: UnitOfWork, row: Warning, sender: str, identifier: str) -> None:
    """Give ``row`` the key of the Update that changed it, keeping its former key."""
    uow.session.add(WarningCapKey(warning_id=row.id, sender=row.source, identifier=row.external_id or ""))
    row.source, row.external_id = sender, identifier
    row.version = uow.version()


def _apply(uow: UnitOfWork, gridset: GridSet, msg: CapMessage, now: datetime, notes: list[str],
           writer: Viewer | None) -> list[Written]:
    s = uow.session

    def find(keys: list[tuple[str, str]]) -> list[Warning]:
        # a warning the writer may not change is, to it, one that is not stored
        return [r for r in _find(s, keys) if may_write_warning(s, gridset, writer, r)]

    refs = find([(r.sender, r.identifier) for r in msg.references])
    if msg.msg_type == "Cancel":
        if not refs:
            named = " ".join(f"{r.sender},{r.identifier}" for r in msg.references)
            raise IngestError([FieldError(None, "alert/references", f"no stored warning matches {named}")])
        return add_warnings(uow, gridset, [_as_input(r, status="cleared") for r in refs])
    if msg.warning is None:  # `township.formats.cap.parse_cap` gives every Alert and Update one
        raise ValueError(f"a CAP {msg.msg_type} without a warning")
    own = find([(msg.sender, msg.identifier)])
    if own and (own[0].source, own[0].external_id) != (msg.sender, msg.identifier):
        notes.append(f"{msg.identifier} was superseded by the later update {own[0].external_id}; nothing changed")
        return [Written(own[0].id, False, own[0].grid_id)]
    w = _placed(gridset, msg.warning, now, notes)
    target = own[0] if own else (refs[-1] if refs and msg.msg_type == "Update" else None)
    if target is None:
        if msg.msg_type == "Update":
            notes.append("no stored warning matches the references; stored as a new warning")
        written = add_warnings(uow, gridset, [w], writer=writer)
        s.get_one(Warning, written[0].id).areas = msg.areas
        return written
    status = target.status if w.status == "active" and target.status in ("acknowledged", "handling") else w.status
    item = w.model_copy(update={"source": target.source, "external_id": target.external_id, "status": status})
    others = [_as_input(r, status="cleared") for r in refs if r.id != target.id]
    written = add_warnings(uow, gridset, [item, *others])
    target.areas = msg.areas
    if (target.source, target.external_id) != (msg.sender, msg.identifier):
        _rekey(uow, target, msg.sender, msg.identifier)
    return written


def apply_cap(engine: Engine, gridset: GridSet, msg: CapMessage, now: datetime | None = None, *,
              writer: Viewer | None = None) -> CapOutcome:
    """Store what a CAP Alert, Update or Cancel says, in one unit of work (see the module notes).

    ``writer`` is who sends (``None``: the town's own): a warning it may not
    change (`township.formats.ingest.may_write_warning`) is, to it, one that is not stored.

    Raises
    ------
    IngestError
        The area does not reach the town, or a Cancel names no stored warning.
    """
    notes: list[str] = []

    def work(uow: UnitOfWork) -> list[Written]:
        notes[:] = list(msg.notes)  # a retried unit starts its notes afresh
        return _apply(uow, gridset, msg, now or utcnow(), notes, writer)

    written = run_in_unit(engine, work)
    return CapOutcome(written, notes)
