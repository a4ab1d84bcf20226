"""CAP messages into the store: what an Alert, an Update or a Cancel changes.

`township.formats.cap` parses and writes CAP XML and does no I/O; this
module applies a parsed message to the stored warnings, through
`township.formats.ingest.write_warnings`.

Update and Cancel
-----------------
A CAP message is stored under its own key (``source`` = sender,
``external_id`` = identifier). An Update or Cancel finds the earlier
warning through its ``references`` triples, matching sender and identifier
(the ``sent`` part is not compared: senders write it in various zones).

- Update: if a warning already carries the Update's own identifier, this is
  a re-send and it is updated in place. Otherwise the warning its
  references name (the last one listed, if several are stored) takes the new
  content and is then re-keyed to the Update's identifier, so the next Update
  in the chain, which names this one, finds it again; any other referenced
  warning is cleared in the same transaction. An operator's
  ``acknowledged``/``handling`` status is kept. An Update whose references
  match nothing is stored as a new warning (the original was missed) and
  the answer says so.
- Cancel: every referenced warning is set to ``cleared``; one that matches
  nothing is refused (422, ``alert/references``).
- A sender that always references only the *first* alert of a chain is not
  followed past the first Update (the first identifier is no longer stored).
"""
from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from township.domain.policy import Viewer
from township.formats.cap import CapMessage
from township.formats.ingest import FieldError, IngestError, WarningIn, Written, may_write_warning, write_warnings
from township.grids.model import GridSet
from township.store.models import Warning, bump_version, utcnow
from township.store.uow import session_scope


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
        "radius_m", "issued_at", "expires_at")}
    return WarningIn.model_validate({**fields, "description": row.description or "", "outside_ok": True,
                                     **changes})


def _find(engine: Engine, keys: list[tuple[str, str]]) -> list[Warning]:
    """Stored warnings by (source, external_id), in the order of ``keys``."""
    if not keys:
        return []
    with Session(engine) as s:
        rows = s.scalars(select(Warning).where(or_(*(
            and_(Warning.source == src, Warning.external_id == ext) for src, ext in keys)))).all()
    order: dict[tuple[str, str | None], int] = {k: n for n, k in enumerate(keys)}
    return sorted(rows, key=lambda r: order[(r.source, r.external_id)])


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


def _rekey(engine: Engine, warning_id: int, source: str, external_id: str) -> None:
    with session_scope(engine) as s:
        row = s.get_one(Warning, warning_id)
        row.source, row.external_id = source, external_id
        row.version = bump_version(s)


def apply_cap(engine: Engine, gridset: GridSet, msg: CapMessage, now: datetime | None = None, *,
              writer: Viewer | None = None) -> CapOutcome:
    """Store what a CAP Alert, Update or Cancel says (see the module notes).

    ``writer`` is who sends (``None``: the town's own): a warning it may not
    change (`township.formats.ingest.may_write_warning`) is, to it, one that is not stored.

    Raises
    ------
    IngestError
        The area does not reach the town, or a Cancel names no stored warning.
    """
    now = now or utcnow()
    notes = list(msg.notes)

    def find(keys: list[tuple[str, str]]) -> list[Warning]:
        with Session(engine) as s:
            return [r for r in _find(engine, keys) if may_write_warning(s, gridset, writer, r)]

    refs = find([(r.sender, r.identifier) for r in msg.references])
    if msg.msg_type == "Cancel":
        if not refs:
            named = " ".join(f"{r.sender},{r.identifier}" for r in msg.references)
            raise IngestError([FieldError(None, "alert/references", f"no stored warning matches {named}")])
        return CapOutcome(write_warnings(engine, gridset, [_as_input(r, status="cleared") for r in refs]), notes)
    if msg.warning is None:  # `township.formats.cap.parse_cap` gives every Alert and Update one
        raise ValueError(f"a CAP {msg.msg_type} without a warning")
    w = _placed(gridset, msg.warning, now, notes)
    if msg.msg_type == "Alert":
        return CapOutcome(write_warnings(engine, gridset, [w], writer=writer), notes)
    own = find([(msg.sender, msg.identifier)])
    target = own[0] if own else (refs[-1] if refs else None)
    if target is None:
        notes.append("no stored warning matches the references; stored as a new warning")
        return CapOutcome(write_warnings(engine, gridset, [w], writer=writer), notes)
    status = target.status if w.status == "active" and target.status in ("acknowledged", "handling") else w.status
    item = w.model_copy(update={"source": target.source, "external_id": target.external_id, "status": status})
    others = [_as_input(r, status="cleared") for r in refs if r.id != target.id]
    written = write_warnings(engine, gridset, [item, *others])
    if (target.source, target.external_id) != (msg.sender, msg.identifier):
        # An IntegrityError: a concurrent re-send of this Update re-keyed it first.
        with suppress(IntegrityError):
            _rekey(engine, target.id, msg.sender, msg.identifier)
    return CapOutcome(written, notes)

