"""Cell values of imported sheets: codes from the words people write, times from text.

A cell may hold a code or a Chinese label of `township.domain.vocab`
(矛盾纠纷, 已上报, 网格, 红色预警, Ⅱ级 ...) or one of the other words the field
uses for it; it becomes the code. Times without a zone are **Beijing time**
(`township.domain.isotime.LOCAL_TZ`: China has kept UTC+8 without daylight
saving since 1991, so a fixed offset is exact), as every township sheet
means them; a time with a zone keeps it. A 办理时限 may be a duration
(``3天``) from the report time.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from township.domain.isotime import LOCAL_TZ
from township.domain.vocab import (
    CASE_SOURCES,
    CASE_STATUSES,
    CASE_TYPES,
    DOMAINS,
    HANDLER_KINDS,
    TIERS,
    WARNING_LEVELS,
    WARNING_STATUSES,
    WARNING_TYPES,
)

__all__ = ["cell_text", "cell_value", "norm", "row_values"]

_TIME_FIELDS = frozenset({"reported_at", "deadline_at", "issued_at", "expires_at"})


#: Vocabulary tables whose labels are turned into codes, per kind and field.
_VOCAB: dict[str, dict[str, dict]] = {
    "cases": {"source": CASE_SOURCES, "type": CASE_TYPES, "domain": DOMAINS,
              "status": CASE_STATUSES, "tier": TIERS},
    "warnings": {"type": WARNING_TYPES, "level": WARNING_LEVELS, "status": WARNING_STATUSES},
    "staff": {"kind": HANDLER_KINDS},
    # A household's flags are several labels in one cell: HouseholdIn reads them (township.formats.households).
    "households": {},
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
    "staff": {
        "kind": {"部门": "department", "职能部门": "department", "志愿者": "volunteer_team", "服务队": "volunteer_team",
                 "党员中心户": "party_member", "专职网格员": "officer", "兼职网格员": "officer"},
    },
    "households": {},
}


def norm(text: Any) -> str:
    """``text`` folded for comparing: NFKC, no white space, lower case."""
    # NFKC folds full-width letters, digits and brackets (Excel users type them)
    # and Roman numerals (Ⅱ → II) into ASCII.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


def _labels(kind: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, table in _VOCAB[kind].items():
        lookup: dict[str, Any] = {}
        for code, entry in table.items():
            for label in (str(code), entry["en"], entry["zh"], *entry["zh"].split("/")):
                key = norm(label)
                # 已办结 is often written 办结, 红色 as 红.
                for variant in (key, key.removeprefix("已"), key.removesuffix("色")):
                    lookup.setdefault(variant, code)
        for word, code in _ALIASES[kind].get(name, {}).items():
            lookup.setdefault(norm(word), code)
        out[name] = lookup
    return out


_LABELS = {kind: _labels(kind) for kind in _VOCAB}


def cell_text(value: Any) -> str:
    """A cell as stripped text; a whole number Excel stored as a float loses its ``.0``."""
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
            year, month, day, hour, minute, second = (int(g) if g else 0 for g in m.groups())
            when = datetime(year, month, day, hour, minute, second)  # ValueError for 2026-13-45
        if end_of_day and not re.search(r"[:时T]", text):
            when += timedelta(days=1, microseconds=-1)
    return when if when.tzinfo else when.replace(tzinfo=LOCAL_TZ)


def cell_value(kind: str, name: str, raw: Any, scale: float = 1.0) -> Any:
    """One cell as its field wants it: a label as its code, a time as an aware datetime.

    A number is multiplied by ``scale``; other text is returned stripped, for
    the model to judge.

    Raises
    ------
    ValueError
        With the reason: an unreadable time, a label of no code.
    """
    if name in _TIME_FIELDS:
        return _local_time(raw, end_of_day=name in ("deadline_at", "expires_at"))
    text = cell_text(raw)
    lookup = _LABELS[kind].get(name)
    if lookup is not None:
        key = norm(text)
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


def row_values(kind: str, position: Mapping[str, int], scale: Mapping[str, float],
               cells: Sequence[Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A raw row as model input, plus the values that could not be converted.

    Parameters
    ----------
    kind : {"cases", "warnings"}
    position : mapping
        Field → the position of its cell in ``cells``.
    scale : mapping
        Field → the factor its number is multiplied by (a radius in 公里); 1 if absent.
    cells : sequence
        The row as read.

    Returns
    -------
    values : dict
        Field → value, for the cells not empty and converted.
    problems : list of (field, reason)
    """
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name, pos in position.items():
        raw = cells[pos] if pos < len(cells) else None
        if raw is None or not cell_text(raw):
            continue  # an empty cell means "not given": the model's default applies
        try:
            values[name] = cell_value(kind, name, raw, scale.get(name, 1.0))
        except ValueError as exc:
            duration = _DURATION_RE.fullmatch(cell_text(raw)) if name == "deadline_at" else None
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
