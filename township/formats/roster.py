"""Staff and party-member rosters (花名册) from CSV/XLSX into the handlers table, in one transaction.

The file is read as every import is (`township.formats.tables`, kind
``"staff"``; headers of `township.formats.people.STAFF_HEADERS`), each row
checked by the same per-row rules (`township.formats.imports.validate_rows`),
then placed: its grid must be one of the grids in use, its village (a grid id
or a name) must agree with the grid's. A phone names one person: a phone
twice in the file is an error on the later row; a phone already stored under
the same name updates that handler (a roster imported again changes nothing
new), under another name it is an error. In mode ``"all"`` any error stores
nothing.

With ``accounts=True`` every new person gets a sign-in in the same
transaction: a ``responder`` user acting as their handler, the phone as the
user name and a random first password, reported once (and never stored in
clear).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from township.accounts.users import new_user
from township.formats.imports import ImportReport, Mode, RowError, validate_rows
from township.formats.ingest import IngestError
from township.formats.people import StaffIn, normalize_phone
from township.formats.tables import read_table
from township.grids.model import GridSet
from township.store.models import Handler, User
from township.store.uow import UnitOfWork

__all__ = ["Account", "StaffReport", "import_staff"]

#: Kinds of handler a roster may give a sign-in (a person on a phone, not a team or an office).
PEOPLE = frozenset({"officer", "party_member", "legal_adviser"})


@dataclass(frozen=True)
class Account:
    """A sign-in made by the import: shown once, its password kept only as a hash."""

    username: str
    name: str
    password: str


@dataclass
class StaffReport(ImportReport):
    """An `ImportReport` of a roster, with the sign-ins it made."""

    accounts: list[Account] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The import's lines, then each new sign-in with its first password (shown only here, once)."""
        out = super().lines()
        if self.accounts:
            out.append(f"新建账号 {len(self.accounts)} 个（角色 网格员；首次密码只显示这一次，请当面或短信交给本人）:")
            out += [f"  {a.username}  {a.name}  {a.password}" for a in self.accounts]
        return out


def handler_id_for(phone: str) -> str:
    """The id of a roster's handler: from a digest of the phone, so the id carries no personal data."""
    return "H-RS-" + hashlib.sha256(phone.encode()).hexdigest()[:12]


def _digits(phone: str) -> str:
    try:
        return normalize_phone(phone)
    except ValueError:
        return phone


def _village(gridset: GridSet, given: str | None) -> str | None:
    """The village id ``given`` names (its id or its name), ``None`` if none matches."""
    if given is None:
        return None
    villages = gridset.ids(level=2)
    if given in villages:
        return given
    return next((v for v in villages if gridset.props(v)["name"] == given), None)


def _place(rows: list[tuple[int, StaffIn]], gridset: GridSet, columns: dict[str, str],
           errors: list[RowError]) -> list[tuple[int, StaffIn, str | None]]:
    """The rows whose grid and village exist and agree, with the village id; the rest go to ``errors``."""
    out = []
    for n, item in rows:
        village = _village(gridset, item.village)
        if item.village is not None and village is None:
            errors.append(RowError(n, columns.get("village", "village"),
                                   f"{item.village!r} is no village or community of the grids in use"))
            continue
        if item.grid_id is not None:
            if item.grid_id not in gridset:
                errors.append(RowError(n, columns.get("grid_id", "grid_id"),
                                       f"{item.grid_id!r} is no grid of the grids in use"))
                continue
            own = gridset.village_of(item.grid_id)
            if village is not None and own is not None and own != village:
                errors.append(RowError(n, columns.get("village", "village"),
                                       f"grid {item.grid_id} belongs to {own}, not {village}"))
                continue
            village = own
        out.append((n, item, village))
    return out


def _duplicates(rows: list[tuple[int, StaffIn, str | None]], stored: dict[str, Handler], column: str,
                errors: list[RowError]) -> list[tuple[int, StaffIn, str | None]]:
    """Drop a phone seen on an earlier row, or stored under another name; ``errors`` names the other."""
    first: dict[str, int] = {}
    out = []
    for n, item, village in rows:
        if item.phone in first:
            errors.append(RowError(n, column, f"{item.phone} is already the phone of row {first[item.phone]}"))
            continue
        first[item.phone] = n
        other = stored.get(item.phone)
        if other is not None and other.name != item.name:
            errors.append(RowError(n, column, f"{item.phone} is already the phone of {other.name} "
                                              f"({other.handler_id}); one phone, one person"))
            continue
        out.append((n, item, village))
    return out


def _write(uow: UnitOfWork, rows: list[tuple[int, StaffIn, str | None]], stored: dict[str, Handler],
           accounts: bool, report: StaffReport) -> None:
    s = uow.session
    taken = set(s.scalars(select(User.username))) | set(s.scalars(select(User.handler_id).where(
        User.handler_id.is_not(None))))
    for _, item, village in rows:
        values: dict[str, Any] = {"kind": item.kind, "name": item.name, "grid_id": item.grid_id,
                                  "village_id": village, "domains": item.domains,
                                  "central_household": item.central_household, "active": True}
        h = stored.get(item.phone)
        if h is None:
            h = Handler(handler_id=handler_id_for(item.phone), phone=item.phone, **values)
            s.add(h)
            report.created += 1
        else:
            for key, value in values.items():
                setattr(h, key, value)
            report.updated += 1
        if accounts and item.kind in PEOPLE and item.phone not in taken and h.handler_id not in taken:
            password = secrets.token_urlsafe(9)
            s.add(new_user(item.phone, password, "responder", None, item.name, h.handler_id))
            report.accounts.append(Account(item.phone, item.name, password))
    uow.version()


def import_staff(engine: Engine, gridset: GridSet, data: bytes, filename: str, mode: Mode = "all",
                 accounts: bool = False) -> StaffReport:
    """Import a roster file's content into the handlers (and, with ``accounts``, users) in one transaction.

    Parameters
    ----------
    engine : Engine
    gridset : GridSet
        The grids in use: every row's grid must be one of them.
    data : bytes
        The file's content (CSV in UTF-8 or GBK, or XLSX).
    filename : str
    mode : {"all", "good"}
        ``"all"``: store nothing when any row is bad; ``"good"``: store the good rows.
    accounts : bool
        Give every new person (grid officer, party member, legal adviser) a ``responder`` sign-in.

    Returns
    -------
    StaffReport
        Also for a rejected file: a broken rule never raises.

    Raises
    ------
    UnreadableFile
        Not CSV text or a workbook at all.
    """
    report = StaffReport(filename, "staff", mode)
    try:
        table = read_table(data, filename, "staff")
    except IngestError as err:
        report.errors = [RowError(None, e.field, e.message) for e in err.errors]
        return report
    report.rows, report.encoding, report.ignored_columns = len(table.rows), table.encoding, table.ignored
    if not table.rows:
        report.errors = [RowError(None, "(file)", "the file has no data rows")]
        return report
    good = validate_rows(table, "staff", None, report.errors, lambda _: None)
    placed = _place(good, gridset, table.columns, report.errors)
    with UnitOfWork(engine) as uow:
        # Every stored phone, normalised as the file's are (a seeded or hand-typed one may carry spaces).
        stored = {_digits(h.phone): h for h in uow.session.scalars(select(Handler).where(Handler.phone.is_not(None)))
                  if h.phone}
        rows = _duplicates(placed, stored, table.columns.get("phone", "phone"), report.errors)
        report.errors.sort(key=lambda e: e.row or 0)
        report.rejected = len({e.row for e in report.errors})
        if report.errors and mode == "all" or not rows:
            return report
        _write(uow, rows, stored, accounts, report)
        uow.commit()
    return report
