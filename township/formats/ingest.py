"""The write path for cases and warnings, shared by the API, file imports and the demo feed.

Input is validated with pydantic (every bad field named, allowed values
listed), located in its level-3 grid with one vectorised query, and written
in one transaction, idempotent by the source's own id: re-sending
``(source, external_id)`` updates the row instead of adding another.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from township.domain.policy import Viewer, may_act_on_warning, may_see_village
from township.domain.sla import DEFAULT_SLA, SlaConfig, deadline_for
from township.domain.vocab import (
    CASE_SOURCES,
    CASE_STATUSES,
    CASE_TYPES,
    DOMAINS,
    TIERS,
    WARNING_LEVELS,
    WARNING_STATUSES,
    WARNING_TYPES,
)
from township.formats.notices import case_data, warning_data
from township.grids.model import GridSet
from township.store.models import Case, CaseEvent, Warning, WarningGrid, utcnow
from township.store.uow import UnitOfWork, run_in_unit

#: Most items one batch request or one file may carry.
MAX_BATCH = 5000
#: What an idempotent re-send may change: the report's own fields (the grid follows the point). Status,
#: tier, deadline, handler and village move only through the workflow (docs/design.md §5).
RESEND_FIELDS = ("type", "domain", "title", "description", "lon", "lat", "grid_id", "reporter", "reporter_phone")
#: Warnings of this level or more severe (1 red, 2 orange) are told to the grids' officers and the command centre.
NOTIFY_LEVEL = 2
#: Largest warning radius accepted (a whole county is about 100 km across).
MAX_RADIUS_M = 200_000.0

Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=5000)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.:\-/]+$")]


#: The times an item may carry (UTC, naive), both ends included: a deadline is counted on from a report
#: time, and a year like 9999 leaves no room for it; nothing the township handles lies outside.
TIME_RANGE = (datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59))
#: C0 control characters but tab, line feed and carriage return, and DEL: no text means them, a
#: spreadsheet refuses them (XLSX is XML 1.0), and a terminal or log would act on them.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_controls(text: str) -> str:
    """``text`` without `CONTROL_CHARACTERS`."""
    return CONTROL_CHARACTERS.sub("", text)


def _naive_utc(value: datetime | None) -> datetime | None:
    """Times are stored as naive UTC; a time without a zone is taken as UTC."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _in_range(value: datetime) -> datetime:
    """``value`` as naive UTC, if it lies in `TIME_RANGE`; pydantic names the field of the ValueError."""
    low, high = TIME_RANGE
    try:
        utc = _naive_utc(value)
    except OverflowError:  # 9999-12-31T23:00-01:00 is past the last representable UTC time
        utc = None
    if utc is None or not low <= utc <= high:
        raise ValueError(f"{value.isoformat()} is outside the allowed range "
                         f"{low.isoformat()}Z .. {high.isoformat()}Z")
    return utc


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        # Before the length and pattern rules, so that a title of control characters alone is empty.
        return strip_controls(value) if isinstance(value, str) else value

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        return _in_range(value) if isinstance(value, datetime) else value


class CaseIn(_In):
    """A case as a source sends it."""

    source: Literal[tuple(CASE_SOURCES)]  # type: ignore[valid-type]
    external_id: Id | None = None
    type: Literal[tuple(CASE_TYPES)]  # type: ignore[valid-type]
    domain: Literal[tuple(DOMAINS)]  # type: ignore[valid-type]
    title: Text
    description: LongText = ""
    lon: Lon
    lat: Lat
    status: Literal[tuple(CASE_STATUSES)] = "reported"  # type: ignore[valid-type]
    tier: Literal[tuple(TIERS)] = "grid"  # type: ignore[valid-type]
    reported_at: datetime | None = None
    deadline_at: datetime | None = None
    reporter: Annotated[str, Field(max_length=64)] | None = None
    reporter_phone: Annotated[str, Field(max_length=32, pattern=r"^[0-9+\- ]*$")] | None = None
    handler: Annotated[str, Field(max_length=64)] | None = None
    address: Annotated[str, Field(max_length=200)] | None = None
    media_url: Annotated[str, Field(max_length=500, pattern=r"^https?://\S+$")] | None = None
    #: Keep a point outside the town (as "outside") instead of rejecting it.
    outside_ok: bool = False


class WarningIn(_In):
    """An early warning as a source sends it."""

    source: Annotated[str, Field(min_length=1, max_length=32)]
    external_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    type: Literal[tuple(WARNING_TYPES)]  # type: ignore[valid-type]
    level: Literal[tuple(WARNING_LEVELS)]  # type: ignore[valid-type]
    status: Literal[tuple(WARNING_STATUSES)] = "active"  # type: ignore[valid-type]
    title: Text
    description: LongText = ""
    lon: Lon
    lat: Lat
    radius_m: Annotated[float, Field(gt=0, le=MAX_RADIUS_M, allow_inf_nan=False)]
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    #: How sure the source is (CAP 1.2 ``certainty``); none said: sent out as Unknown.
    certainty: Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"] | None = None
    outside_ok: bool = False


#: What a warning says (not its status): a change of any of these is a revision, sent out as a CAP Update.
WARNING_CONTENT = ("type", "level", "title", "description", "lon", "lat", "radius_m", "expires_at", "certainty")


@dataclass(frozen=True)
class FieldError:
    """One broken rule: where (item index, field) and why."""

    index: int | None
    field: str
    message: str

    def to_dict(self) -> dict:
        return {"index": self.index, "field": self.field, "message": self.message}


class IngestError(ValueError):
    """Input that breaks rules; nothing was written."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(
            (f"item {e.index}: " if e.index is not None else "") + f"{e.field}: {e.message}" for e in errors[:20]
        ))


def validation_errors(err: ValidationError, index: int | None = None) -> list[FieldError]:
    """pydantic's errors as :class:`FieldError`, one per bad field."""
    return [
        FieldError(index, ".".join(str(p) for p in e["loc"]) or "(body)", e["msg"])
        for e in err.errors(include_url=False)
    ]


def parse_items(model: type[_In], items: list[Any]) -> list:
    """Validate raw dicts into ``model``; every bad field of every item is reported at once."""
    if not isinstance(items, list):
        raise IngestError([FieldError(None, "(body)", "expected an object or a list of objects")])
    if len(items) > MAX_BATCH:
        raise IngestError([FieldError(None, "(body)", f"at most {MAX_BATCH} items per request, got {len(items)}")])
    parsed, errors = [], []
    for i, raw in enumerate(items):
        try:
            parsed.append(model.model_validate(raw))
        except ValidationError as err:
            errors += validation_errors(err, i if len(items) > 1 else None)
    if errors:
        raise IngestError(errors)
    return parsed


@dataclass(frozen=True)
class Written:
    """What happened to one item: its id, and whether it was new."""

    id: int
    created: bool
    grid_id: str | None


#: What `_write_all` hands the rows to: (session, items, their column values, now) → one `Written` per item.
WriteBatch = Callable[[Session, list, list[dict], datetime], list[Written]]


def _locate(gridset: GridSet, items: list, first_index: int = 0) -> list[str | None]:
    grids = gridset.locate(np.array([i.lon for i in items], float), np.array([i.lat for i in items], float))
    errors = [
        FieldError(first_index + n if len(items) > 1 else None, "lon,lat",
                   f"({item.lon}, {item.lat}) is outside the town; send outside_ok=true to keep it as outside")
        for n, (item, g) in enumerate(zip(items, grids, strict=True)) if g is None and not item.outside_ok
    ]
    if errors:
        raise IngestError(errors)
    return grids.tolist()


def _write_all(uow: UnitOfWork, gridset: GridSet, items: list, write_batch: WriteBatch) -> list[Written]:
    """Locate ``items``, then write them with ``write_batch`` in ``uow``, under its data version.

    ``write_batch(session, items, values, now)`` gets each item's column values
    (with its grid, village, ``updated_at`` and ``version``) and returns a
    `Written` per item, in order.
    """
    grids = _locate(gridset, items)
    now = utcnow()
    version = uow.version()
    values = [dict(item.model_dump(exclude={"outside_ok"}), grid_id=grid_id,
                   village_id=gridset.village_of(grid_id) if grid_id else None, updated_at=now, version=version)
              for item, grid_id in zip(items, grids, strict=True)]
    return write_batch(uow.session, items, values, now)


#: A table written idempotently by its source's own id.
_Row = TypeVar("_Row", Case, Warning)


def _existing(s: Session, model: type[_Row], items: list) -> dict[tuple[str, str | None], _Row]:
    """The stored rows with the items' (source, external_id), by that pair: re-sending updates them.

    One query per source in the batch (a file import's 500 rows have one), not
    one per item. ``source = ? AND external_id IN (...)`` searches the unique
    index; SQLite scans all of it for a pair ``IN (VALUES ...)`` (a city's million cases).
    """
    by_source: dict[str, set[str]] = {}
    for item in items:
        if item.external_id is not None:
            by_source.setdefault(item.source, set()).add(item.external_id)
    found: dict[tuple[str, str | None], _Row] = {}
    for source, external_ids in by_source.items():
        rows = s.scalars(select(model).where(model.source == source, model.external_id.in_(sorted(external_ids))))
        found.update({(row.source, row.external_id): row for row in rows})
    return found


def write_cases(bind: Engine | Connection, gridset: GridSet, items: list[CaseIn], actor: str = "api", *,
                sla: SlaConfig = DEFAULT_SLA, writer: Viewer | None = None) -> list[Written]:
    """Insert or update cases in one unit of work of their own (see :func:`add_cases`).

    ``bind`` may be a connection already inside a write transaction (a file
    import writes its chunks so): the work then joins it and is committed with it.
    """
    return run_in_unit(bind, lambda uow: add_cases(uow, gridset, items, actor, sla=sla, writer=writer))


def add_cases(uow: UnitOfWork, gridset: GridSet, items: list[CaseIn], actor: str = "api", *,
              sla: SlaConfig = DEFAULT_SLA, writer: Viewer | None = None) -> list[Written]:
    """Insert or update cases in ``uow``; every new case gets its ``report`` event.

    New cases are inserted in bulk (one statement for the batch, and one for
    their events); a case already stored is updated, and so is a case sent
    twice in one batch the second time. A case sent without a deadline gets
    its tier's from ``sla`` (`township.domain.sla.deadline_for`), counted from its report.

    A re-send updates only the report's own fields that it carries
    (`RESEND_FIELDS`), logged as one ``update`` record naming them; status,
    tier, deadline, handler and village move only through the workflow
    (docs/design.md §5). ``writer`` is who sends (the API's caller; ``None``
    for the town's own imports): a stored case it may not see is not its to
    update, and the refusal says nothing about that case.

    Raises
    ------
    IngestError
        A point outside the town (unless ``outside_ok``); a re-send of a case
        ``writer`` may not see, or moving a case to another village; nothing is written.
    """
    def where(n: int) -> int | None:
        return n if len(items) > 1 else None

    def refusal(n: int, row: Case, item: CaseIn, values: dict) -> FieldError | None:
        if writer is not None and not may_see_village(writer, row.village_id):
            # Worded as for any taken id: it names neither the case nor its village.
            return FieldError(where(n), "external_id", f"({item.source}, {item.external_id}) is already used by "
                              "a case this caller may not write; send another external_id")
        if values["village_id"] != row.village_id:
            return FieldError(where(n), "lon,lat", f"case {row.id} lies in {row.village_id or 'no village'}; a "
                              f"re-send may not move it to {values['village_id'] or 'outside the town'} (a case "
                              "changes village only through the command centre)")
        return None

    def update(s: Session, row: Case, item: CaseIn, values: dict, now: datetime) -> Written:
        changed = [key for key in RESEND_FIELDS
                   if key in values and values[key] is not None and getattr(row, key) != values[key]
                   and (key in item.model_fields_set or key == "grid_id")]
        for key in changed:
            setattr(row, key, values[key])
        if changed:
            row.updated_at, row.version = values["updated_at"], values["version"]
            s.add(CaseEvent(case_id=row.id, at=now, actor=actor, action="update", from_status=row.status,
                            to_status=row.status, from_tier=row.tier, to_tier=row.tier,
                            note="re-sent by source: " + ", ".join(changed)))
        return Written(row.id, False, row.grid_id)

    def write(s: Session, items: list[CaseIn], values: list[dict], now: datetime) -> list[Written]:
        stored = _existing(s, Case, items)
        errors = [e for n, (item, v) in enumerate(zip(items, values, strict=True))
                  if (item.source, item.external_id) in stored
                  for e in [refusal(n, stored[(item.source, item.external_id)], item, v)] if e is not None]
        if errors:
            raise IngestError(errors)
        out: dict[int, Written] = {}
        new: list[int] = []
        again: list[int] = []  # sent a second time in this batch: updated once the first is in
        seen: set[tuple[str, str | None]] = set()
        for n, (item, v) in enumerate(zip(items, values, strict=True)):
            v["reported_at"] = v["reported_at"] or now
            v["deadline_at"] = deadline_for(item.tier, item.domain, v["reported_at"], item.type,
                                            given=v["deadline_at"], config=sla)
            key = (item.source, item.external_id)
            if key in stored:
                out[n] = update(s, stored[key], item, v, now)
            elif item.external_id is not None and key in seen:
                again.append(n)
            else:
                seen.add(key)
                new.append(n)
        if new:
            ids = s.scalars(insert(Case).returning(Case.id, sort_by_parameter_order=True),
                            [dict(values[n], max_tier=items[n].tier) for n in new]).all()
            s.execute(insert(CaseEvent), [
                dict(case_id=case_id, at=now, actor=actor, action="report", from_status=None,
                     to_status=values[n]["status"], to_tier=values[n]["tier"], note=items[n].source)
                for n, case_id in zip(new, ids, strict=True)])
            for n, case_id in zip(new, ids, strict=True):
                out[n] = Written(case_id, True, values[n]["grid_id"])
                _note_report(uow, gridset, case_id, values[n])
        for n in again:
            row = _existing(s, Case, [items[n]])[(items[n].source, items[n].external_id)]
            error = refusal(n, row, items[n], values[n])
            if error is not None:
                raise IngestError([error])
            out[n] = update(s, row, items[n], values[n], now)
        return [out[n] for n in range(len(items))]

    return _write_all(uow, gridset, items, write)


def _village_name(gridset: GridSet, village_id: str | None) -> str | None:
    return gridset.props(village_id)["name"] if village_id and village_id in gridset else village_id


def _note_report(uow: UnitOfWork, gridset: GridSet, case_id: int, values: dict) -> None:
    """A resident's new report waiting for dispatch (source ``citizen``, ``reported``) tells its village's duty."""
    if values["source"] == "citizen" and values["status"] == "reported":
        case = uow.session.get(Case, case_id)
        if case is not None:
            uow.notify("reported", case_data(case, _village_name(gridset, case.village_id)), case_id=case_id,
                       village_id=case.village_id)


def write_warnings(bind: Engine | Connection, gridset: GridSet, items: list[WarningIn], *,
                   writer: Viewer | None = None) -> list[Written]:
    """Insert or update warnings in one unit of work of their own (see :func:`add_warnings`)."""
    return run_in_unit(bind, lambda uow: add_warnings(uow, gridset, items, writer=writer))


def may_write_warning(s: Session, gridset: GridSet, writer: Viewer | None, row: Warning) -> bool:
    """Whether ``writer`` (``None``: the town's own imports) may change the stored warning ``row``: it may act
    on it (`township.domain.policy.may_act_on_warning`) in every village it reaches, its own and its grids'."""
    grids = s.scalars(select(WarningGrid.grid_id).where(WarningGrid.warning_id == row.id))
    villages = {v for v in (row.village_id, *(gridset.village_of(g) for g in grids if g in gridset)) if v}
    return writer is None or may_act_on_warning(writer, villages)


def add_warnings(uow: UnitOfWork, gridset: GridSet, items: list[WarningIn], *,
                 writer: Viewer | None = None) -> list[Written]:
    """Insert or update warnings in ``uow``, with the grids their radius reaches.

    ``writer`` is who sends (the API's caller; ``None`` for the town's own
    imports): a re-send of a stored warning it may not act on
    (`may_write_warning`) is refused, saying nothing about that warning.

    Raises
    ------
    IngestError
        A point outside the town (unless ``outside_ok``), or a re-send of a
        warning ``writer`` may not change; nothing is written.
    """
    def one(s: Session, item: WarningIn, values: dict, now: datetime) -> Written:
        values["issued_at"] = values["issued_at"] or now
        row = _existing(s, Warning, [item]).get((item.source, item.external_id))
        if row is not None and not may_write_warning(s, gridset, writer, row):
            # Worded as for any taken id: it names neither the warning nor the villages it reaches.
            raise IngestError([FieldError(None, "external_id", f"({item.source}, {item.external_id}) is already "
                                          "used by a warning this caller may not write; send another external_id")])
        created = row is None
        was_level = row.level if row is not None else NOTIFY_LEVEL + 1
        if row is None:
            row = Warning(**values)
            s.add(row)
            s.flush()
        else:
            if any(getattr(row, key) != values[key] for key in WARNING_CONTENT):
                row.revised_at = now
            if (row.lon, row.lat, row.radius_m) != (values["lon"], values["lat"], values["radius_m"]):
                row.areas = None  # the CAP areas it came with no longer describe where it is
            for key, value in values.items():
                setattr(row, key, value)
            s.execute(delete(WarningGrid).where(WarningGrid.warning_id == row.id))
        reached = gridset.grids_within(item.lon, item.lat, item.radius_m)
        s.add_all(WarningGrid(warning_id=row.id, grid_id=g) for g in reached)
        if row.level <= NOTIFY_LEVEL and row.status == "active" and (created or was_level > NOTIFY_LEVEL):
            villages = sorted({v for g in reached if (v := gridset.village_of(g))})
            uow.notify("warning", warning_data(row, villages, [_village_name(gridset, v) or v for v in villages]),
                       warning_id=row.id, village_id=row.village_id)
        return Written(row.id, created, values["grid_id"])

    # One by one: a warning comes alone or a few at a time, and each has its grids to write.
    return _write_all(uow, gridset, items,
                      lambda s, items, values, now: [one(s, i, v, now) for i, v in zip(items, values, strict=True)])
