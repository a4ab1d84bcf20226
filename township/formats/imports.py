"""File import of cases and warnings, in the formats the field already uses.

`township.formats.tables` reads the file (CSV, XLSX or GeoJSON, Chinese
headers and labels); `import_file` then validates every row with the ingest
models, locates every point, and writes through
`township.formats.ingest.write_cases` / `~township.formats.ingest.write_warnings`
inside **one** transaction, so a failure or a killed process leaves nothing
half-written (docs/design.md §5).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine

from township.domain.sla import DEFAULT_SLA, SlaConfig
from township.formats.cells import cell_value
from township.formats.households import write_households
from township.formats.ingest import MAX_BATCH, IngestError, Written, validation_errors, write_cases, write_warnings
from township.formats.tables import HEADERS, MODELS, Kind, Table, read_table
from township.grids.crs import normalize_crs, to_wgs84
from township.grids.model import GridSet

__all__ = [
    "ImportReport",
    "RowError",
    "import_data",
    "import_file",
    "validate_rows",
]

Mode = Literal["all", "good"]
#: ``progress(done, total)``: see `import_data`.
Progress = Callable[[int, int], None]

#: Rows per write call inside the import's one transaction; each call is one progress step.
CHUNK = min(500, MAX_BATCH)

@dataclass(frozen=True)
class RowError:
    """One rejected value: row (``None`` = the whole file), column as in the file, reason."""

    row: int | None
    column: str
    reason: str
    unit: Literal["row", "feature"] = "row"

    def __str__(self) -> str:
        if self.row is None:
            return f"文件「{self.column}」: {self.reason}"
        where = f"第{self.row}行" if self.unit == "row" else f"第{self.row}个要素"
        col = "列" if self.unit == "row" else "属性"
        return f"{where} {col}「{self.column}」: {self.reason}"

    def to_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class ImportReport:
    """What an import did.

    Attributes
    ----------
    filename, kind, mode : str
    rows : int
        Data rows (features) in the file.
    created, updated : int
        Rows stored as new, and rows that updated a stored item with the same
        ``(source, external_id)``.
    rejected : int
        Rows not stored because they broke a rule (all rows when the file
        itself broke one). In mode ``"all"`` any rejection means nothing was stored.
    errors : list of RowError
        Every broken rule, in file order.
    ignored_columns : list of str
    without_id : int
        Stored rows without an ``external_id`` (编号): importing them again adds them again.
    encoding : str
    """

    filename: str
    kind: str
    mode: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    without_id: int = 0
    encoding: str = ""

    @property
    def stored(self) -> int:
        return self.created + self.updated

    @property
    def ok(self) -> bool:
        """True when every row was stored."""
        return not self.errors

    def summary(self) -> str:
        """One line for people: counts and what happened."""
        what = {"cases": "事件", "warnings": "预警", "staff": "人员"}.get(self.kind, self.kind)
        line = (f"{self.filename}: {self.rows} 行{what}，新增 {self.created}，更新 {self.updated}，"
                f"拒绝 {self.rejected}")
        if self.errors and self.stored == 0:
            line += "；未写入任何数据" + ("（模式 all：有错误则全部不导入）" if self.mode == "all" else "")
        return line

    def lines(self) -> list[str]:
        """The summary, then one line per error (第N行 列「X」: reason)."""
        out = [self.summary()]
        if self.ignored_columns:
            out.append("未导入的列: " + "、".join(self.ignored_columns))
        if self.without_id:
            out.append(f"{self.without_id} 行没有编号（external_id）：再次导入会重复新增")
        return out + [str(e) for e in self.errors]

    def to_dict(self) -> dict:
        return {"filename": self.filename, "kind": self.kind, "mode": self.mode, "rows": self.rows,
                "created": self.created, "updated": self.updated, "rejected": self.rejected,
                "errors": [e.to_dict() for e in self.errors], "ignored_columns": self.ignored_columns,
                "without_id": self.without_id}


# -- import --------------------------------------------------------------------


@contextmanager
def _one_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction that `write_cases`/`write_warnings` join when handed its connection.

    Their sessions bind to the connection we pass; a session bound to a
    connection already inside a transaction joins it and does not commit it
    (SQLAlchemy's "join a Session into an external transaction"), so every
    chunk commits together when this block ends, or none does. ``write=True``
    makes SQLite take the write lock at BEGIN (see `township.store.engine`).
    """
    with engine.execution_options(write=True).connect() as conn, conn.begin():
        yield conn


def validate_rows(table: Table, kind: Kind, default_source: str | None,
              errors: list[RowError], tick: Callable[[int], None]) -> list[tuple[int, Any]]:
    """Model instances of the good rows, with their row numbers; bad rows go to ``errors``.

    Shared by every file import (cases, warnings, rosters: `township.formats.roster`); ``tick(n)``
    is called every `CHUNK` rows.
    """
    model = MODELS[kind]
    default = None
    if default_source:
        default = cell_value(kind, "source", default_source)  # ValueError: caller's mistake
    good: list[tuple[int, Any]] = []
    for n, row in enumerate(table.rows, start=1):
        values = dict(row.values)
        if default is not None and "source" not in values:
            values["source"] = default
        bad = {name for name, _ in row.problems}
        # One reason per column: a bad GeoJSON geometry is both lon and lat.
        bad_columns = {table.columns.get(name, name) for name in bad}
        found = list(row.problems)
        try:
            item = model.model_validate({k: v for k, v in values.items() if k not in bad})
        except ValidationError as err:
            found += [(e.field, e.message) for e in validation_errors(err)
                      if table.columns.get(e.field, e.field) not in bad_columns]
        if found:
            errors += [RowError(row.number, table.columns.get(name, name), reason, table.unit)
                       for name, reason in found]
        else:
            good.append((row.number, item))
        if n % CHUNK == 0:
            tick(n)
    return good


def _locate_all(good: list[tuple[int, Any]], table: Table, gridset: GridSet, crs: str | None,
                errors: list[RowError]) -> list[tuple[int, Any]]:
    """Convert the datum, then keep the rows whose point lies in a grid (or may lie outside)."""
    if not good:
        return good
    lon, lat = to_wgs84([i.lon for _, i in good], [i.lat for _, i in good], crs)
    if normalize_crs(crs) != "wgs84":
        good = [(n, i.model_copy(update={"lon": float(x), "lat": float(y)}))
                for (n, i), x, y in zip(good, lon, lat, strict=True)]
    grids = gridset.locate(np.asarray(lon), np.asarray(lat))
    column = table.columns["lon"] if table.columns.get("lon") == table.columns.get("lat") \
        else f"{table.columns.get('lon', 'lon')},{table.columns.get('lat', 'lat')}"
    kept = []
    for (n, item), grid in zip(good, grids, strict=True):
        if grid is None and not item.outside_ok:
            errors.append(RowError(n, column, f"({item.lon:.6f}, {item.lat:.6f}) is outside the town's grids "
                                              "(wrong coordinates, swapped lon/lat, or a GCJ-02/BD-09 file "
                                              "not declared as such?)", table.unit))
        else:
            kept.append((n, item))
    return kept


def import_data(engine: Engine, gridset: GridSet, data: bytes, filename: str, kind: Kind = "cases",
                mode: Mode = "all", default_source: str | None = None, progress: Progress | None = None,
                crs: str | None = None, actor: str = "import", sla: SlaConfig = DEFAULT_SLA) -> ImportReport:
    """Import a file's content (e.g. an upload): validate, locate, write in one transaction.

    Parameters
    ----------
    engine : Engine
    gridset : GridSet
        The installed grids, to locate every point.
    data : bytes
        The file content.
    filename : str
        Its name: ``.geojson``/``.json`` read as GeoJSON, ``.xlsx`` as a
        workbook, anything else as CSV.
    kind : {"cases", "warnings", "households"}
    mode : {"all", "good"}
        ``"all"``: store nothing when any row is bad. ``"good"``: store the
        good rows and report the rest.
    default_source : str, optional
        Source of rows that name none (code or label, e.g. ``"hotline"`` or 市长热线).
    progress : callable, optional
        ``progress(done, total)``, called from this thread as the import
        goes: ``total`` is twice the number of rows (every row is validated,
        then written or rejected), so ``done / total`` is the fraction for a
        progress bar; the last call has ``done == total``. Calls come every
        `CHUNK` rows.
    crs : str, optional
        Datum of the coordinates, ``"wgs84"`` (default), ``"gcj02"`` or
        ``"bd09"``; converted to WGS-84 before locating.
    actor : str
        Who is named on the new cases' report events.
    sla : SlaConfig
        The deadlines a new case gets (the app's, `township.config.Settings.sla`).

    Returns
    -------
    ImportReport
        Also for rejected files: a broken rule never raises.

    Raises
    ------
    UnreadableFile
        The content is not CSV text, a workbook or JSON at all.
    ValueError
        ``kind``, ``mode``, ``crs`` or ``default_source`` is not a known value.
    """
    if kind not in ("cases", "warnings", "households") or mode not in ("all", "good"):
        raise ValueError(f"kind must be 'cases', 'warnings' or 'households' and mode 'all' or 'good', "
                         f"got {kind!r}, {mode!r}")
    normalize_crs(crs)
    report = ImportReport(filename, kind, mode)
    try:
        table = read_table(data, filename, kind)
    except IngestError as err:  # the file breaks a rule as a whole: no row can be taken
        report.errors = [RowError(None, e.field, e.message) for e in err.errors]
        return report
    report.rows, report.encoding, report.ignored_columns = len(table.rows), table.encoding, table.ignored
    # A household register has no source: its rows are keyed by the village's own 户编号.
    sourced = kind != "households"
    if not table.rows or (sourced and table.unit == "row" and "source" not in table.columns and not default_source):
        # Both would reject every row for the same reason: say it once.
        report.errors = [RowError(None, "(file)", "the file has no data rows") if not table.rows else
                         RowError(None, f"{HEADERS[kind]['source'][0]} (source)",
                                  "required column is missing; or give the source of the whole file")]
        report.rejected = report.rows
        return report
    total = 2 * len(table.rows)

    def tick(done: int) -> None:
        if progress is not None:
            progress(done, total)

    good = validate_rows(table, kind, default_source, report.errors, tick)
    tick(len(table.rows))
    good = _locate_all(good, table, gridset, crs, report.errors)
    report.errors.sort(key=lambda e: e.row or 0)
    report.rejected = len({e.row for e in report.errors})
    if report.errors and mode == "all":
        tick(total)
        return report

    items = [item for _, item in good]
    done_before = len(table.rows) + report.rejected  # rejected rows count as handled
    written: list[Written] = []
    with _one_transaction(engine) as conn:
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            if kind == "cases":
                written += write_cases(conn, gridset, chunk, actor=actor, sla=sla)
            elif kind == "households":
                written += write_households(conn, gridset, chunk)
            else:
                written += write_warnings(conn, gridset, chunk)
            tick(done_before + len(written))
    report.created = sum(w.created for w in written)
    report.without_id = sum(item.external_id is None for item in items)
    report.updated = len(written) - report.created
    tick(total)
    return report


def import_file(engine: Engine, gridset: GridSet, path: str | Path, kind: Kind = "cases",
                mode: Mode = "all", default_source: str | None = None, progress: Progress | None = None,
                crs: str | None = None, sla: SlaConfig = DEFAULT_SLA) -> ImportReport:
    """Import a file from disk; see `import_data` for the parameters.

    Raises
    ------
    OSError
        The file cannot be opened.
    UnreadableFile
        As `import_data`.
    """
    path = Path(path)
    return import_data(engine, gridset, path.read_bytes(), path.name, kind, mode, default_source,
                       progress, crs, sla=sla)
