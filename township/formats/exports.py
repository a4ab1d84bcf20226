"""Exports of the filtered data: CSV, XLSX and GeoJSON, Chinese headers, masked by role.

Every export takes a :class:`~township.read.views.View` made by
`township.read.views.make_view` from the dashboard's own filter (``filters.from_query``
of the same query string), so an export holds exactly the rows the
dashboard counts. Times are shown in Beijing time (UTC+8); names and phone
numbers pass through `township.domain.privacy`, so a role that may not see personal
data gets 张* and 138****1234 (PIPL, docs/design.md §5).

The snapshot the screens use leaves the reporter out (no screen shows it);
:func:`case_contacts` reads it from the store for the exports that do.

Pure apart from :func:`case_contacts` (one SELECT); no Flask, no Dash.
"""
from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.engine import Engine

from township.domain.isotime import LOCAL_TZ, iso
from township.domain.privacy import shown_name, shown_phone
from township.domain.vocab import (
    CASE_SOURCES,
    CASE_STATUSES,
    CASE_TYPES,
    DOMAINS,
    TIERS,
    WARNING_LEVELS,
    WARNING_STATUSES,
    WARNING_TYPES,
    label,
)
from township.formats.ingest import strip_controls
from township.grids.model import GridSet
from township.store.models import Case

__all__ = [
    "CASE_HEADERS",
    "case_contacts",
    "case_records",
    "case_table",
    "to_csv_bytes",
    "to_xlsx_bytes",
    "features_geojson",
    "local_time",
    "Filtered",
]


class Filtered(Protocol):
    """What an export reads of a `township.read.views.View`.

    Named here, not imported, so that the formats do not depend on the read
    side (which uses them: the daily report lists `case_records`).
    """

    @property
    def cases(self) -> pd.DataFrame: ...

    @property
    def overdue(self) -> np.ndarray: ...  # per row of ``cases``

    @property
    def warnings(self) -> pd.DataFrame: ...

    @property
    def warning_grids(self) -> dict[int, list[str]]: ...


#: Record field → Chinese column header of the case table, in column order.
CASE_HEADERS: dict[str, str] = {
    "id": "编号",
    "title": "事项",
    "type_label": "事件类型",
    "domain_label": "领域",
    "status_label": "状态",
    "overdue_label": "是否超期",
    "village_name": "村/社区",
    "grid_name": "网格",
    "grid_id": "网格编号",
    "tier_label": "化解层级",
    "max_tier_label": "最高化解层级",
    "source_label": "来源",
    "handler": "处置人",
    "reporter": "报告人",
    "reporter_phone": "报告人电话",
    "reported_at": "上报时间",
    "deadline_at": "办理时限",
    "resolved_at": "办结时间",
    "closed_at": "销号时间",
    "lon": "经度",
    "lat": "纬度",
}
#: Columns holding times (Beijing time in the table).
TIME_COLUMNS = ("reported_at", "deadline_at", "resolved_at", "closed_at")
#: Free-text columns a spreadsheet could take for a formula (see `_defuse`).
TEXT_COLUMNS = ("title", "handler", "reporter")
TIME_FORMAT = "%Y-%m-%d %H:%M"


def case_contacts(engine: Engine) -> pd.DataFrame:
    """Source, reporter and reporter phone of every case, indexed by case id (personal data: mask before use)."""
    with engine.connect() as conn:
        rows = conn.execute(select(Case.id, Case.source, Case.reporter, Case.reporter_phone)).all()
    return pd.DataFrame(rows, columns=["id", "source", "reporter", "reporter_phone"]).set_index("id")


def local_time(values: pd.Series) -> pd.Series:
    """Stored naive-UTC times as naive Beijing times (what a spreadsheet should show)."""
    return (pd.to_datetime(values).dt.tz_localize("UTC").dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
            .dt.floor("s"))


def _place_names(gridset: GridSet, ids: pd.Series) -> list[str]:
    return [gridset.props(g)["name"] if isinstance(g, str) and g in gridset else "" for g in ids]


def case_records(view: Filtered, gridset: GridSet, role: str, contacts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The filtered cases with codes, Chinese labels, Beijing times and personal data masked for ``role``.

    Parameters
    ----------
    view : Filtered
        The filtered data (`township.read.views.make_view`).
    gridset : GridSet
        Names of villages and grids.
    role : str
        Who receives the export: names and phones are masked unless the role may see them.
    contacts : DataFrame, optional
        `case_contacts`; without it the source and reporter columns are empty.

    Returns
    -------
    DataFrame
        One row per case in id order; English column names (codes, ``*_label``, ``*_name``).
    """
    c = view.cases.assign(overdue=view.overdue).sort_values("id", kind="stable")
    extra = (contacts if contacts is not None else pd.DataFrame(columns=["source", "reporter", "reporter_phone"]))
    extra = extra.reindex(c["id"].to_numpy())
    out = pd.DataFrame({
        "id": c["id"].astype(int).to_numpy(),
        "title": c["title"].to_numpy(),
        "type": c["type"].to_numpy(),
        "type_label": [label(CASE_TYPES, v) for v in c["type"]],
        "domain": c["domain"].to_numpy(),
        "domain_label": [label(DOMAINS, v) for v in c["domain"]],
        "status": c["status"].to_numpy(),
        "status_label": [label(CASE_STATUSES, v) for v in c["status"]],
        "overdue": c["overdue"].to_numpy(bool),
        "overdue_label": np.where(c["overdue"].to_numpy(bool), "是", "否"),
        "village_id": c["village_id"].to_numpy(),
        "village_name": _place_names(gridset, c["village_id"]),
        "grid_id": c["grid_id"].to_numpy(),
        "grid_name": _place_names(gridset, c["grid_id"]),
        "tier": c["tier"].to_numpy(),
        "tier_label": [label(TIERS, v) for v in c["tier"]],
        "max_tier": c["max_tier"].to_numpy(),
        "max_tier_label": [label(TIERS, v) for v in c["max_tier"]],
        "source": extra["source"].to_numpy(),
        "source_label": [label(CASE_SOURCES, v) if isinstance(v, str) else "" for v in extra["source"]],
        "handler": [shown_name(v if isinstance(v, str) else None, role) for v in c["handler"]],
        "reporter": [shown_name(v if isinstance(v, str) else None, role) for v in extra["reporter"]],
        "reporter_phone": [shown_phone(v if isinstance(v, str) else None, role) for v in extra["reporter_phone"]],
        "lon": c["lon"].to_numpy(float).round(6),
        "lat": c["lat"].to_numpy(float).round(6),
    })
    for col in TIME_COLUMNS:  # stored naive UTC; the table shows Beijing time, GeoJSON an ISO zone
        out[col] = pd.to_datetime(c[col]).to_numpy()
    return out


def case_table(view: Filtered, gridset: GridSet, role: str, contacts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The case table of an export: Chinese headers (`CASE_HEADERS`), Chinese labels, Beijing times.

    Parameters are those of `case_records`.
    """
    records = case_records(view, gridset, role, contacts)
    for col in TIME_COLUMNS:
        records[col] = local_time(records[col])
    return records[list(CASE_HEADERS)].rename(columns=CASE_HEADERS)


def _defuse(frame: pd.DataFrame) -> pd.DataFrame:
    """Text a spreadsheet can take: control characters dropped, formulas quoted.

    Titles and names come from citizens and hotline systems. Control
    characters (`township.formats.ingest.CONTROL_CHARACTERS`; rows stored before
    ingest dropped them still hold them) make an XLSX invalid XML, which
    openpyxl refuses. Free text a spreadsheet would run as a formula (``=``,
    ``+``, ``-``, ``@``; OWASP CSV injection) is quoted: Excel must show it, not evaluate it.
    """
    out = frame.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_datetime64_any_dtype(out[col])):
            out[col] = [strip_controls(v) if isinstance(v, str) else v for v in out[col]]
    for col in (CASE_HEADERS[k] for k in TEXT_COLUMNS):
        if col in out:
            out[col] = [("'" + v) if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v
                        for v in out[col]]
    return out


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with a byte-order mark: Excel on Chinese Windows then reads it as UTF-8, not GBK."""
    text = _defuse(table).to_csv(index=False, date_format=TIME_FORMAT, lineterminator="\r\n")
    return text.encode("utf-8-sig")


def to_xlsx_bytes(table: pd.DataFrame, sheet: str = "事件") -> bytes:
    """An XLSX workbook of ``table``: bold frozen header, real date cells, readable widths."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(table.columns))
    safe = _defuse(table)
    for row in safe.itertuples(index=False):
        ws.append([None if _missing(v) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for v in row])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for i, name in enumerate(table.columns, 1):
        letter = ws.cell(row=1, column=i).column_letter
        if pd.api.types.is_datetime64_any_dtype(table[name]):
            for cell in ws[letter][1:]:
                cell.number_format = "yyyy-mm-dd hh:mm"
            width = 17
        else:
            width = min(40, 2 + max(_width(v) for v in [name, *table[name].head(200)]))
        ws.column_dimensions[letter].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _width(value: object) -> int:
    """Display width in spreadsheet columns: a CJK character is two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in ("" if _missing(value) else str(value)))


def _plain(value: object) -> object:
    """A JSON-ready value: numpy scalars to Python, NaN/NaT to None, times to ISO 8601 +08:00."""
    if _missing(value):
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        return iso(pd.Timestamp(value).to_pydatetime())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _point(lon: float | None, lat: float | None) -> dict | None:
    if lon is None or lat is None or pd.isna(lon) or pd.isna(lat):
        return None  # RFC 7946 §3.2: a Feature without a location has a null geometry
    return {"type": "Point", "coordinates": [round(float(lon), 6), round(float(lat), 6)]}


def features_geojson(view: Filtered, gridset: GridSet, role: str, contacts: pd.DataFrame | None = None) -> dict:
    """The filtered cases and live warnings as one RFC 7946 FeatureCollection.

    Each feature's ``properties`` carry ``kind`` (``case`` / ``warning``),
    the codes and their Chinese ``*_label``, place names, and times in ISO
    8601 with ``+08:00``; personal data is masked for ``role``. Cases keep
    their id order, then warnings, most severe first.
    """
    features = []
    for rec in case_records(view, gridset, role, contacts).to_dict("records"):
        props = {"kind": "case", **{k: _plain(v) for k, v in rec.items() if k not in ("lon", "lat")}}
        features.append({"type": "Feature", "id": f"case-{rec['id']}", "geometry": _point(rec["lon"], rec["lat"]),
                         "properties": props})
    w = view.warnings.sort_values(["level", "issued_at"], ascending=[True, False], kind="stable")
    for rec in w.to_dict("records"):
        wid = int(rec["id"])
        props = {
            "kind": "warning",
            "id": wid,
            "title": rec["title"],
            "type": rec["type"],
            "type_label": label(WARNING_TYPES, rec["type"]),
            "level": int(rec["level"]),
            "level_label": label(WARNING_LEVELS, int(rec["level"])),
            "color": WARNING_LEVELS.get(int(rec["level"]), {}).get("color"),
            "status": rec["status"],
            "status_label": label(WARNING_STATUSES, rec["status"]),
            "radius_m": round(float(rec["radius_m"]), 1),
            "village_id": _plain(rec["village_id"]),
            "village_name": _place_names(gridset, pd.Series([rec["village_id"]]))[0],
            "grid_id": _plain(rec["grid_id"]),
            "grid_name": _place_names(gridset, pd.Series([rec["grid_id"]]))[0],
            "affected_grids": sorted(view.warning_grids.get(wid, [])),
            "issued_at": _plain(rec["issued_at"]),
        }
        features.append({"type": "Feature", "id": f"warning-{wid}", "geometry": _point(rec["lon"], rec["lat"]),
                         "properties": props})
    return {"type": "FeatureCollection", "features": features}


def geojson_bytes(fc: dict) -> bytes:
    """UTF-8 JSON with Chinese kept readable (not ``\\u`` escapes)."""
    return json.dumps(fc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
