"""A row of a staff or party-member roster (花名册) as a township's sheet gives it, and the rules it must keep.

The sheets say who handles cases: grid officers (网格员), party members (党员,
with the 党员中心户 flag), volunteer teams, township departments and legal
advisers, each with a phone. `township.formats.tables` reads them with the
headers of `STAFF_HEADERS`; `township.formats.roster` stores them.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from township.domain.vocab import DOMAINS, HANDLER_KINDS
from township.formats.cells import cell_value, norm
from township.formats.ingest import strip_controls

__all__ = ["STAFF_HEADERS", "StaffIn", "normalize_phone"]

#: Header words accepted for each roster field (as `township.formats.tables.CASE_HEADERS`).
STAFF_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名称", "队伍名称", "单位名称"),
    "kind": ("类别", "身份", "人员类别", "人员类型", "类型"),
    "phone": ("联系电话", "手机号码", "手机号", "手机", "电话"),
    "grid_id": ("网格编码", "所属网格", "网格编号", "网格"),
    "village": ("所属村/社区", "所属村社区", "所属村", "所属社区", "村/社区", "村社区"),
    "central_household": ("党员中心户", "是否党员中心户", "中心户"),
    "domains": ("服务领域", "领域"),
}

_MOBILE = re.compile(r"1[3-9]\d{9}")
#: A landline: area code (3 or 4 digits with its 0) and a 7- or 8-digit number.
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}")
_YES = frozenset({"是", "y", "yes", "true", "1", "√", "✓", "有"})
_NO = frozenset({"否", "n", "no", "false", "0", "×", "无", ""})


def normalize_phone(text: str) -> str:
    """A phone number as stored: digits only, without +86; a mobile (11 digits) or a landline with its area code.

    Raises
    ------
    ValueError
        Anything else, naming the value and what is expected.
    """
    digits = re.sub(r"[\s\-()（）]", "", norm(text))
    digits = digits.removeprefix("+86") if digits.startswith("+86") else digits
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return digits
    raise ValueError(f"{text!r} is not a phone number: expected an 11-digit mobile number (13812341234) "
                     "or a landline with its area code (0477-1234567)")


class StaffIn(BaseModel):
    """One person or team of a roster."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal[tuple(HANDLER_KINDS)]  # type: ignore[valid-type]
    phone: str
    #: A grid of the grids in use (checked by the import, which knows them).
    grid_id: Annotated[str, Field(max_length=64)] | None = None
    #: The village or community: its grid id (DL-01) or its name (小滩子村).
    village: Annotated[str, Field(max_length=200)] | None = None
    central_household: bool = False
    #: Comma list of domain codes; empty: every domain.
    domains: str = ""

    @field_validator("*", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return strip_controls(value) if isinstance(value, str) else value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalize_phone(value)

    @field_validator("central_household", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> Any:
        if isinstance(value, str):
            key = norm(value)
            if key in _YES or key in _NO:
                return key in _YES
            raise ValueError(f"{value!r}: write 是 or 否")
        return value

    @field_validator("domains", mode="before")
    @classmethod
    def _domains(cls, value: Any) -> str:
        # 服务领域 lists labels or codes: 民生实事、平安预警 → livelihood,safety
        parts = [p for p in re.split(r"[,，、;；/\s]+", str(value or "")) if p]
        codes = [cell_value("cases", "domain", p) for p in parts]  # ValueError names the unknown one
        return ",".join(dict.fromkeys(c for c in codes if c in DOMAINS))
