"""File import of cases and warnings, in the formats the field already uses.

Three formats are read:

* **CSV** from a hotline system or a grid officer's spreadsheet. The encoding
  is detected: a BOM (UTF-8 or UTF-16, as Excel's "Unicode text" export
  writes) wins; otherwise strict UTF-8 is tried, then GB18030 (a superset of
  GBK and GB2312, what Chinese Excel writes for "CSV"). GBK bytes are almost
  never valid UTF-8, so trying UTF-8 first does not misread them. The
  delimiter (comma, tab or semicolon) is taken from the header line.
* **XLSX** (openpyxl, first sheet, read-only). Date cells arrive as dates.
* **GeoJSON** FeatureCollections of Point features whose properties are the
  `~township.formats.ingest.CaseIn` / `~township.formats.ingest.WarningIn` fields.

Headers (and GeoJSON property names) may be the English field codes or the
Chinese words a township's sheets use (`CASE_HEADERS`, `WARNING_HEADERS`);
the header row may sit below a title row. Cell values may be codes or the
Chinese labels of `township.domain.vocab` (矛盾纠纷, 已上报, 网格, 红色预警, Ⅱ级 ...).
Times without a zone are **Beijing time** (Asia/Shanghai, UTC+8, what every
township sheet means) and are stored as UTC; a time with a zone keeps it.

`import_file` validates every row with the ingest models, locates every
point, and writes through `township.formats.ingest.write_cases` /
`~township.formats.ingest.write_warnings` inside **one** transaction, so a failure or
a killed process leaves nothing half-written (DESIGN.md §5).
"""
from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine

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
from township.formats.ingest import (
    MAX_BATCH,
    CaseIn,
    FieldError,
    IngestError,
    WarningIn,
    Written,
    validation_errors,
    write_cases,
    write_warnings,
)
from township.grids.crs import normalize_crs, to_wgs84
from township.grids.model import GridSet
from township.grids.validate import check_crs_member

__all__ = [
    "CASE_HEADERS",
    "WARNING_HEADERS",
    "LOCAL_TZ",
    "MAX_ROWS",
    "ImportReport",
    "RowError",
    "SourceRow",
    "Table",
    "UnreadableFile",
    "import_data",
    "import_file",
    "read_case_table",
    "read_geojson_features",
    "read_table",
]

Kind = Literal["cases", "warnings"]
Mode = Literal["all", "good"]
#: ``progress(done, total)``: see `import_data`.
Progress = Callable[[int, int], None]

#: The zone of times written without one. China has kept UTC+8 without
#: daylight saving since 1991, so a fixed offset is exact and needs no tz database.
LOCAL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
#: Most rows one file may carry (the whole file is held in memory and in one transaction).
MAX_ROWS = 100_000
#: Rows per write call inside the import's one transaction; each call is one progress step.
CHUNK = min(500, MAX_BATCH)

_MODELS = {"cases": CaseIn, "warnings": WarningIn}

#: Header words accepted for each case field, most specific first (the field
#: code itself is always accepted and wins). When two columns name the same
#: field, the one earlier in this list is used and the other is ignored.
CASE_HEADERS: dict[str, tuple[str, ...]] = {
    "external_id": ("工单编号", "事件编号", "案件编号", "工单号", "编号"),
    "source": ("来源", "事件来源", "工单来源"),
    "type": ("事件类型", "类型"),
    "domain": ("所属领域", "领域"),
    "title": ("标题", "事项", "诉求内容"),
    "description": ("详细描述", "描述", "内容"),
    "lon": ("经度", "lng", "longitude"),
    "lat": ("纬度", "latitude"),
    "status": ("状态", "办理状态"),
    "tier": ("化解层级", "层级"),
    "reported_at": ("上报时间", "受理时间"),
    "deadline_at": ("办理时限", "截止时间"),
    "reporter": ("反映人", "联系人"),
    "reporter_phone": ("联系电话", "电话"),
    "handler": ("承办人", "处置人"),
    "outside_ok": (),
}
#: Header words accepted for each warning field (as `CASE_HEADERS`).
WARNING_HEADERS: dict[str, tuple[str, ...]] = {
    "external_id": ("预警编号", "编号"),
    "source": ("来源", "发布单位", "发布机构"),
    "type": ("预警类型", "类型", "灾种"),
    "level": ("预警级别", "级别", "等级"),
    "status": ("状态",),
    "title": ("标题", "预警标题", "事项"),
    "description": ("详细描述", "描述", "预警内容", "内容"),
    "lon": ("经度", "lng", "longitude"),
    "lat": ("纬度", "latitude"),
    "radius_m": ("影响半径", "半径"),
    "issued_at": ("发布时间",),
    "expires_at": ("失效时间", "有效期至", "截止时间"),
    "outside_ok": (),
}
_HEADERS: dict[str, dict[str, tuple[str, ...]]] = {"cases": CASE_HEADERS, "warnings": WARNING_HEADERS}

_TIME_FIELDS = frozenset({"reported_at", "deadline_at", "issued_at", "expires_at"})
#: Units a radius header may name, e.g. 影响半径(公里); the value is stored in metres.
_RADIUS_UNITS = {"": 1.0, "m": 1.0, "米": 1.0, "km": 1000.0, "公里": 1000.0, "千米": 1000.0}

#: Vocabulary tables whose labels are turned into codes, per kind and field.
_VOCAB: dict[str, dict[str, dict]] = {
    "cases": {"source": CASE_SOURCES, "type": CASE_TYPES, "domain": DOMAINS,
              "status": CASE_STATUSES, "tier": TIERS},
    "warnings": {"type": WARNING_TYPES, "level": WARNING_LEVELS, "status": WARNING_STATUSES},
}
#: Words the field uses that are not a vocab label. Roman level numerals are
#: written here in their NFKC form (Ⅱ → ii); 特别重大…一般 are the national
#: emergency grades that go with the four colours.
_ALIASES: dict[str, dict[str, dict[str, Any]]] = {
    "cases": {
        "source": {"12345": "hotline", "12345热线": "hotline", "热线": "hotline", "巡查": "patrol"},
        "type": {"纠纷": "dispute", "热线工单": "hotline", "12345": "hotline", "信访": "petition"},
        "domain": {"平安": "safety", "民生": "livelihood", "综合治理": "governance"},
        "status": {"办理中": "in_progress"},
        "tier": {"乡镇": "township", "县": "county", "旗县": "county"},
    },
    "warnings": {
        "level": {"i": 1, "ii": 2, "iii": 3, "iv": 4, "一": 1, "二": 2, "三": 3, "四": 4,
                  "特别重大": 1, "重大": 2, "较大": 3, "一般": 4},
        "type": {"凌汛": "ice_flood", "洪水": "ice_flood"},
    },
}


class UnreadableFile(ValueError):
    """The file cannot be read as a table or GeoJSON at all (nothing was stored)."""


# -- what the readers return ---------------------------------------------------


@dataclass
class SourceRow:
    """One data row (or GeoJSON feature) as read.

    Attributes
    ----------
    number : int
        Where the user finds it: the spreadsheet row number (the header row
        of a plain sheet is row 1, so the first data row is 2), or the
        feature's position counted from 1.
    values : dict
        `CaseIn`/`WarningIn` field → value, labels already turned into codes
        and times into aware datetimes; empty cells left out.
    problems : list of (field, reason)
        Values that could not be converted (an unreadable date, an unknown label).
    """

    number: int
    values: dict[str, Any]
    problems: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Table:
    """The rows of one file and where each field came from.

    Attributes
    ----------
    rows : list of SourceRow
    columns : dict
        Field → the header (or property name) as written in the file, for messages.
    unit : {"row", "feature"}
        What `SourceRow.number` counts.
    ignored : list of str
        Headers that name no field (序号, 所属村 ...); they are not imported.
    encoding : str
        What the bytes were decoded as (``"utf-8"``, ``"gb18030"``, ``"xlsx"`` ...).
    """

    rows: list[SourceRow]
    columns: dict[str, str]
    unit: Literal["row", "feature"] = "row"
    ignored: list[str] = field(default_factory=list)
    encoding: str = "utf-8"


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
        what = "事件" if self.kind == "cases" else "预警"
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


# -- headers and values ----------------------------------------------------------


def _norm(text: Any) -> str:
    # NFKC folds full-width letters, digits and brackets (Excel users type them)
    # and Roman numerals (Ⅱ → II) into ASCII.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


def _header_key(header: Any) -> tuple[str, str]:
    """Normalised header and its unit: ``"影响半径（公里）*"`` → ``("影响半径", "公里")``."""
    key = _norm(header).replace("*", "")
    unit = ""
    m = re.search(r"\(([^()]*)\)$", key)
    if m:
        key, unit = key[: m.start()], m.group(1)
    return re.sub(r"[_\-]", "", key), unit


def _synonyms(kind: str) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for name, words in _HEADERS[kind].items():
        for priority, word in enumerate((name, *words)):
            out.setdefault(_header_key(word)[0], (name, priority))
    return out


def _labels(kind: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, table in _VOCAB[kind].items():
        lookup: dict[str, Any] = {}
        for code, entry in table.items():
            for label in (str(code), entry["en"], entry["zh"], *entry["zh"].split("/")):
                key = _norm(label)
                # 已办结 is often written 办结, 红色 as 红.
                for variant in (key, key.removeprefix("已"), key.removesuffix("色")):
                    lookup.setdefault(variant, code)
        for word, code in _ALIASES[kind].get(name, {}).items():
            lookup.setdefault(_norm(word), code)
        out[name] = lookup
    return out


_SYNONYMS = {kind: _synonyms(kind) for kind in _HEADERS}
_LABELS = {kind: _labels(kind) for kind in _VOCAB}


@dataclass(frozen=True)
class _Columns:
    """Which position of a row holds which field."""

    position: dict[str, int]
    names: dict[str, str]
    scale: dict[str, float]
    ignored: list[str]


def _map_headers(headers: Sequence[Any], kind: str) -> _Columns:
    synonyms = _SYNONYMS[kind]
    best: dict[str, tuple[int, int, str]] = {}  # field → (priority, position, unit)
    for pos, header in enumerate(headers):
        if header is None or not str(header).strip():
            continue
        key, unit = _header_key(header)
        if key in synonyms:
            name, priority = synonyms[key]
            if name not in best or priority < best[name][0]:
                best[name] = (priority, pos, unit)
    scale = {}
    if "radius_m" in best:
        _, pos, unit = best["radius_m"]
        if unit not in _RADIUS_UNITS:
            raise IngestError([FieldError(None, str(headers[pos]).strip(),
                                          f"unknown unit {unit!r}: write the radius in 米 (m) or 公里 (km)")])
        scale["radius_m"] = _RADIUS_UNITS[unit]
    used = {pos for _, pos, _ in best.values()}
    return _Columns(
        position={name: pos for name, (_, pos, _) in best.items()},
        names={name: str(headers[pos]).strip() for name, (_, pos, _) in best.items()},
        scale=scale,
        ignored=[str(h).strip() for pos, h in enumerate(headers)
                 if pos not in used and h is not None and str(h).strip()],
    )


def _text(value: Any) -> str:
    # Excel keeps phone numbers and ticket numbers as numbers: 13812341234.0
    # must become "13812341234", not "1.3812341234e10".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_DATE_RE = re.compile(
    r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[ T]*(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2})秒?)?)?"
)
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(天|日|小时)")


def _local_time(value: Any, end_of_day: bool = False) -> datetime:
    """A cell as an aware datetime; a time without a zone is Beijing time (`LOCAL_TZ`).

    Accepts Excel date cells and text such as ``2026-11-20 09:30``,
    ``2026/11/20``, ``2026年11月20日 9:30`` or ISO 8601 with a zone. With
    ``end_of_day``, a text date without a time means the end of that day
    (a 办理时限 of 2026-11-24 leaves the whole 24th).

    Raises
    ------
    ValueError
        Anything else, with the value in the message.
    """
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            m = _DATE_RE.fullmatch(text)
            if not m:
                raise ValueError(f"{text!r} is not a date and time such as 2026-11-20 09:30") from None
            when = datetime(*(int(g) for g in m.groups() if g is not None))  # ValueError for 2026-13-45
        if end_of_day and not re.search(r"[:时T]", text):
            when += timedelta(days=1, microseconds=-1)
    return when if when.tzinfo else when.replace(tzinfo=LOCAL_TZ)


def _value(kind: str, name: str, raw: Any, scale: float) -> Any:
    """One cell as its field wants it. Raises ValueError with the reason."""
    if name in _TIME_FIELDS:
        return _local_time(raw, end_of_day=name in ("deadline_at", "expires_at"))
    text = _text(raw)
    lookup = _LABELS[kind].get(name)
    if lookup is not None:
        key = _norm(text)
        # 红色预警 / Ⅱ级 / 村级: the suffixes add nothing to the label.
        for variant in (key, key.removesuffix("预警"), key.removesuffix("预警").removesuffix("级")):
            if variant in lookup:
                return lookup[variant]
        table = _VOCAB[kind][name]
        choices = ", ".join(f"{e['zh']} ({code})" for code, e in table.items())
        raise ValueError(f"{text!r} is not a known {name}; expected one of: {choices}")
    if scale != 1.0:
        try:
            return float(text) * scale
        except ValueError:
            return text  # not a number: the model says so
    return text


def _convert(kind: str, cols: _Columns, cells: Sequence[Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A raw row as model input plus the values that could not be converted."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name, pos in cols.position.items():
        raw = cells[pos] if pos < len(cells) else None
        if raw is None or not _text(raw):
            continue  # an empty cell means "not given": the model's default applies
        try:
            values[name] = _value(kind, name, raw, cols.scale.get(name, 1.0))
        except ValueError as exc:
            duration = _DURATION_RE.fullmatch(_text(raw)) if name == "deadline_at" else None
            if duration:
                # 办理时限 is often written as a duration ("3天") from the report time.
                n, unit = float(duration.group(1)), duration.group(2)
                values[name] = timedelta(hours=n) if unit == "小时" else timedelta(days=n)
            else:
                problems.append((name, str(exc)))
    if isinstance(values.get("deadline_at"), timedelta):
        delta = values.pop("deadline_at")
        if isinstance(values.get("reported_at"), datetime):
            values["deadline_at"] = values["reported_at"] + delta
        else:
            problems.append(("deadline_at", "a time limit in days or hours needs the report time (上报时间)"))
    return values, problems


# -- readers -------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    """CSV bytes as text and the encoding used; see the module docstring."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    elif data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:  # text files never hold NUL; binary data sometimes decodes
            break
        return text, encoding
    raise UnreadableFile("not a text CSV file: the bytes are neither UTF-8 nor GBK/GB18030 text")


def _csv_rows(data: bytes) -> tuple[list[list[str]], str]:
    text, encoding = _decode(data)
    first = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count)
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), encoding
    except csv.Error as exc:
        raise UnreadableFile(f"not a readable CSV file: {exc}") from exc


def _xlsx_rows(data: bytes) -> list[tuple]:
    from openpyxl import load_workbook  # only this reader needs it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            # Some exporters write a wrong <dimension>; read what is there instead.
            sheet.reset_dimensions()
            return [tuple(row) for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    except Exception as exc:  # a damaged workbook fails as zip, XML, KeyError ... errors alike
        raise UnreadableFile(f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from exc


def _blank(cells: Sequence[Any]) -> bool:
    return all(c is None or not _text(c) for c in cells)


def _table_from_rows(rows: list[Sequence[Any]], kind: Kind, encoding: str) -> Table:
    """Find the header row, map it, and convert the rows below it."""
    model = _MODELS[kind]
    required = [n for n, f in model.model_fields.items() if f.is_required()]
    # The header is the first of the top rows naming at least two fields:
    # exports often put a title row (大路镇热线工单 2026年11月) above it.
    for index, cells in enumerate(rows[:10]):
        cols = _map_headers(cells, kind)
        if len(cols.position) >= 2:
            break
    else:
        names = ", ".join(f"{(_HEADERS[kind][n] or (n,))[0]} ({n})" for n in required)
        raise IngestError([FieldError(None, "(header)", f"no header row found: expected columns such as {names}")])
    missing = [n for n in required if n not in cols.position and n != "source"]
    if missing:
        raise IngestError([
            FieldError(None, f"{_HEADERS[kind][n][0]} ({n})", "required column is missing") for n in missing
        ])
    data_rows = [(index + 2 + n, cells) for n, cells in enumerate(rows[index + 1:]) if not _blank(cells)]
    if len(data_rows) > MAX_ROWS:
        raise IngestError([FieldError(None, "(file)", f"at most {MAX_ROWS} rows per file, got {len(data_rows)}")])
    out = [SourceRow(number, *_convert(kind, cols, cells)) for number, cells in data_rows]
    return Table(out, cols.names, "row", cols.ignored, encoding)


def read_case_table(path_or_bytes: str | Path | bytes, filename: str | None = None,
                    kind: Kind = "cases") -> Table:
    """Read a CSV or XLSX sheet of cases (or, with ``kind="warnings"``, of warnings).

    Parameters
    ----------
    path_or_bytes : str, Path or bytes
        The file, or its content (an upload).
    filename : str, optional
        Its name; the extension picks CSV or XLSX when the content does not
        (an XLSX is a zip and is recognised by its first bytes).
    kind : {"cases", "warnings"}

    Returns
    -------
    Table
        Rows numbered as the spreadsheet shows them.

    Raises
    ------
    UnreadableFile
        Not CSV text in a known encoding, or a damaged/legacy workbook.
    IngestError
        No header row, a required column missing, too many rows.
    """
    data, filename = _bytes(path_or_bytes, filename)
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # the OLE container of legacy .xls
        raise UnreadableFile("legacy .xls workbooks are not read: save the sheet as .xlsx or CSV")
    if data.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xlsm")):
        return _table_from_rows(_xlsx_rows(data), kind, "xlsx")
    rows, encoding = _csv_rows(data)
    return _table_from_rows(rows, kind, encoding)


def read_geojson_features(data: str | Path | bytes | dict, kind: Kind = "cases") -> Table:
    """Read a GeoJSON FeatureCollection of Point features of cases or warnings.

    ``data`` is the parsed collection, the file's bytes, or its path.

    Properties are the model fields (Chinese names and labels are accepted as
    in sheets); the Point gives ``lon``/``lat``. A legacy ``crs`` member is
    honoured when it names WGS-84 lon/lat (EPSG:4326, CRS84, EPSG:4490) and
    refused otherwise, exactly as for grid files; GCJ-02/BD-09 coordinates
    are declared to `import_data` instead.

    Raises
    ------
    UnreadableFile
        Not UTF-8 JSON, or not a FeatureCollection with a list of features.
    IngestError
        A ``crs`` member naming another CRS (e.g. EPSG:3857).
    """
    if not isinstance(data, dict):
        raw, _ = _bytes(data, None)
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UnreadableFile(f"not UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" \
            or not isinstance(data.get("features"), list):
        found = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise UnreadableFile(f"expected a GeoJSON FeatureCollection with a 'features' list, found {found!r}")
    crs_problem = check_crs_member(data.get("crs"))
    if crs_problem:
        raise IngestError([FieldError(None, "crs", crs_problem.message)])
    if len(data["features"]) > MAX_ROWS:
        raise IngestError([FieldError(None, "(file)", f"at most {MAX_ROWS} features per file")])

    rows: list[SourceRow] = []
    names: dict[str, str] = {"lon": "geometry", "lat": "geometry"}
    ignored: dict[str, None] = {}
    for number, feature in enumerate(data["features"], start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            rows.append(SourceRow(number, {}, [("(feature)", "not a GeoJSON Feature")]))
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            rows.append(SourceRow(number, {}, [("properties", "must be an object")]))
            continue
        keys = list(props)
        try:
            cols = _map_headers(keys, kind)
        except IngestError as err:
            rows.append(SourceRow(number, {}, [(e.field, e.message) for e in err.errors]))
            continue
        names.update((n, c) for n, c in cols.names.items() if n not in ("lon", "lat"))
        ignored.update(dict.fromkeys(cols.ignored))
        values, problems = _convert(kind, cols, [props[k] for k in keys])
        geometry = feature.get("geometry")
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if isinstance(geometry, dict) and geometry.get("type") == "Point" and isinstance(coords, list) \
                and len(coords) >= 2 and all(isinstance(c, (int, float)) and not isinstance(c, bool)
                                             for c in coords[:2]):
            values["lon"], values["lat"] = float(coords[0]), float(coords[1])
        else:
            found = geometry.get("type") if isinstance(geometry, dict) else geometry
            problems.append(("lon", f"expected a Point geometry with [lon, lat], found {json.dumps(found)}"))
        rows.append(SourceRow(number, values, problems))
    return Table(rows, names, "feature", list(ignored), "utf-8")


def read_table(data: bytes, filename: str, kind: Kind = "cases") -> Table:
    """Read any supported file: ``.geojson``/``.json`` as GeoJSON, anything else as a sheet."""
    if filename.lower().endswith((".geojson", ".json")):
        return read_geojson_features(data, kind)
    return read_case_table(data, filename, kind)


def _bytes(source: str | Path | bytes, filename: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), filename or ""
    return Path(source).read_bytes(), filename or Path(source).name


# -- import --------------------------------------------------------------------


@contextmanager
def _one_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction that `write_cases`/`write_warnings` join when handed its connection.

    Their sessions bind to the connection we pass; a session bound to a
    connection already inside a transaction joins it and does not commit it
    (SQLAlchemy's "join a Session into an external transaction"), so every
    chunk commits together when this block ends, or none does. ``write=True``
    makes SQLite take the write lock at BEGIN (see `township.store.models`).
    """
    with engine.execution_options(write=True).connect() as conn, conn.begin():
        yield conn


def _validate(table: Table, kind: Kind, default_source: str | None,
              errors: list[RowError], tick: Callable[[int], None]) -> list[tuple[int, Any]]:
    """Model instances of the good rows, with their row numbers; bad rows go to ``errors``."""
    model = _MODELS[kind]
    default = None
    if default_source:
        default = _value(kind, "source", default_source, 1.0)  # ValueError: caller's mistake
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
                for (n, i), x, y in zip(good, lon, lat)]
    grids = gridset.locate(np.asarray(lon), np.asarray(lat))
    column = table.columns["lon"] if table.columns.get("lon") == table.columns.get("lat") \
        else f"{table.columns.get('lon', 'lon')},{table.columns.get('lat', 'lat')}"
    kept = []
    for (n, item), grid in zip(good, grids):
        if grid is None and not item.outside_ok:
            errors.append(RowError(n, column, f"({item.lon:.6f}, {item.lat:.6f}) is outside the town's grids "
                                              "(wrong coordinates, swapped lon/lat, or a GCJ-02/BD-09 file "
                                              "not declared as such?)", table.unit))
        else:
            kept.append((n, item))
    return kept


def import_data(engine: Engine, gridset: GridSet, data: bytes, filename: str, kind: Kind = "cases",
                mode: Mode = "all", default_source: str | None = None, progress: Progress | None = None,
                crs: str | None = None, actor: str = "import") -> ImportReport:
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
    kind : {"cases", "warnings"}
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
    if kind not in _MODELS or mode not in ("all", "good"):
        raise ValueError(f"kind must be 'cases' or 'warnings' and mode 'all' or 'good', got {kind!r}, {mode!r}")
    normalize_crs(crs)
    report = ImportReport(filename, kind, mode)
    try:
        table = read_table(data, filename, kind)
    except IngestError as err:  # the file breaks a rule as a whole: no row can be taken
        report.errors = [RowError(None, e.field, e.message) for e in err.errors]
        return report
    report.rows, report.encoding, report.ignored_columns = len(table.rows), table.encoding, table.ignored
    if not table.rows or (table.unit == "row" and "source" not in table.columns and not default_source):
        # Both would reject every row for the same reason: say it once.
        report.errors = [RowError(None, "(file)", "the file has no data rows") if not table.rows else
                         RowError(None, f"{_HEADERS[kind]['source'][0]} (source)",
                                  "required column is missing; or give the source of the whole file")]
        report.rejected = report.rows
        return report
    total = 2 * len(table.rows)

    def tick(done: int) -> None:
        if progress is not None:
            progress(done, total)

    good = _validate(table, kind, default_source, report.errors, tick)
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
                written += write_cases(conn, gridset, chunk, actor=actor)  # type: ignore[arg-type]
            else:
                written += write_warnings(conn, gridset, chunk)  # type: ignore[arg-type]
            tick(done_before + len(written))
    report.created = sum(w.created for w in written)
    report.without_id = sum(item.external_id is None for item in items)
    report.updated = len(written) - report.created
    tick(total)
    return report


def import_file(engine: Engine, gridset: GridSet, path: str | Path, kind: Kind = "cases",
                mode: Mode = "all", default_source: str | None = None, progress: Progress | None = None,
                crs: str | None = None) -> ImportReport:
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
                       progress, crs)
