"""Reading the files cases and warnings come in: rows of field values, not yet validated.

Three formats are read:

* **CSV** from a hotline system or a grid officer's spreadsheet. The encoding
  is detected: a BOM (UTF-8 or UTF-16, as Excel's "Unicode text" export
  writes) wins; otherwise strict UTF-8 is tried, then GB18030 (a superset of
  GBK and GB2312, what Chinese Excel writes for "CSV"). GBK bytes are almost
  never valid UTF-8, so trying UTF-8 first does not misread them. The
  delimiter (comma, tab or semicolon) is taken from the header line.
* **XLSX** (openpyxl, first sheet, read-only). Date cells arrive as dates.
  Staff and party-member rosters (kind ``"staff"``, `township.formats.people`)
  come as CSV or XLSX too.
* **GeoJSON** FeatureCollections of Point features whose properties are the
  `~township.formats.ingest.CaseIn` / `~township.formats.ingest.WarningIn` fields.

Headers (and GeoJSON property names) may be the English field codes or the
Chinese words a township's sheets use (`CASE_HEADERS`, `WARNING_HEADERS`);
the header row may sit below a title row. Cell values become codes and
times as `township.formats.cells` says. `township.formats.imports` validates
and stores what is read here.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from township.formats.cells import cell_text, norm, row_values
from township.formats.households import HOUSEHOLD_HEADERS, HouseholdIn
from township.formats.ingest import CaseIn, FieldError, IngestError, WarningIn
from township.formats.people import STAFF_HEADERS, StaffIn
from township.grids.validate import check_crs_member

__all__ = [
    "CASE_HEADERS",
    "HEADERS",
    "MAX_ROWS",
    "MODELS",
    "WARNING_HEADERS",
    "Kind",
    "SourceRow",
    "Table",
    "UnreadableFile",
    "read_case_table",
    "read_geojson_features",
    "read_table",
]

Kind = Literal["cases", "warnings", "staff", "households"]

#: Most rows one file may carry (the whole file is held in memory and in one transaction).
MAX_ROWS = 100_000
#: The model each kind of row is validated with.
MODELS: dict[str, type[CaseIn] | type[WarningIn] | type[StaffIn] | type[HouseholdIn]] = {
    "cases": CaseIn, "warnings": WarningIn, "staff": StaffIn, "households": HouseholdIn}

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
HEADERS: dict[str, dict[str, tuple[str, ...]]] = {"cases": CASE_HEADERS, "warnings": WARNING_HEADERS,
                                                  "staff": STAFF_HEADERS, "households": HOUSEHOLD_HEADERS}


#: Units a radius header may name, e.g. 影响半径(公里); the value is stored in metres.
_RADIUS_UNITS = {"": 1.0, "m": 1.0, "米": 1.0, "km": 1000.0, "公里": 1000.0, "千米": 1000.0}


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


def _header_key(header: Any) -> tuple[str, str]:
    """Normalised header and its unit: ``"影响半径（公里）*"`` → ``("影响半径", "公里")``."""
    key = norm(header).replace("*", "")
    unit = ""
    m = re.search(r"\(([^()]*)\)$", key)
    if m:
        key, unit = key[: m.start()], m.group(1)
    return re.sub(r"[_\-]", "", key), unit


def _synonyms(kind: str) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for name, words in HEADERS[kind].items():
        for priority, word in enumerate((name, *words)):
            out.setdefault(_header_key(word)[0], (name, priority))
    return out


_SYNONYMS = {kind: _synonyms(kind) for kind in HEADERS}


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
    return all(c is None or not cell_text(c) for c in cells)


def _table_from_rows(rows: Sequence[Sequence[Any]], kind: Kind, encoding: str) -> Table:
    """Find the header row, map it, and convert the rows below it."""
    model = MODELS[kind]
    required = [n for n, f in model.model_fields.items() if f.is_required()]
    # The header is the first of the top rows naming at least two fields:
    # exports often put a title row (大路镇热线工单 2026年11月) above it.
    mapped = (_map_headers(cells, kind) for cells in rows[:10])
    header = next(((index, cols) for index, cols in enumerate(mapped) if len(cols.position) >= 2), None)
    if header is None:
        names = ", ".join(f"{(HEADERS[kind][n] or (n,))[0]} ({n})" for n in required)
        raise IngestError([FieldError(None, "(header)", f"no header row found: expected columns such as {names}")])
    index, cols = header
    missing = [n for n in required if n not in cols.position and n != "source"]
    if missing:
        raise IngestError([
            FieldError(None, f"{HEADERS[kind][n][0]} ({n})", "required column is missing") for n in missing
        ])
    data_rows = [(index + 2 + n, cells) for n, cells in enumerate(rows[index + 1:]) if not _blank(cells)]
    if len(data_rows) > MAX_ROWS:
        raise IngestError([FieldError(None, "(file)", f"at most {MAX_ROWS} rows per file, got {len(data_rows)}")])
    out = [SourceRow(number, *row_values(kind, cols.position, cols.scale, cells)) for number, cells in data_rows]
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
        values, problems = row_values(kind, cols.position, cols.scale, [props[k] for k in keys])
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
