"""A village's household register (转移台账's 户 list) in: the row model and its write, for file imports.

`township.formats.tables` reads the sheet (Chinese headers, `HOUSEHOLD_HEADERS`)
and `township.formats.imports.import_data` validates, locates and writes it
with the same per-row report and one transaction as cases (``kind="households"``).
Idempotent by the village's own number (户编号): a re-sent row updates the household.
"""
from __future__ import annotations

import re

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.engine import Connection

from township.domain.vocab import HOUSEHOLD_FLAGS
from township.formats.cells import norm
from township.formats.ingest import Written
from township.grids.model import GridSet
from township.store.evacuation import Household
from township.store.models import utcnow
from township.store.uow import UnitOfWork

__all__ = ["HOUSEHOLD_HEADERS", "HouseholdIn", "parse_flags", "write_households"]

#: Header words a register's columns go by (as `township.formats.tables.CASE_HEADERS`).
HOUSEHOLD_HEADERS: dict[str, tuple[str, ...]] = {
    "external_id": ("户编号", "户号", "编号"),
    "she": ("社", "村民小组", "组"),
    "head": ("户主", "户主姓名", "姓名"),
    "phone": ("联系电话", "电话", "手机"),
    "people": ("人口", "家庭人口", "人数"),
    "address": ("住址", "地址", "门牌"),
    "lon": ("经度", "lng", "longitude"),
    "lat": ("纬度", "latitude"),
    "flags": ("重点人群", "人员类别", "特殊人群"),
    "helper_id": ("包保人", "包保责任人", "包保人编号"),
    "backup_id": ("备岗", "备岗人", "备岗人编号"),
    "outside_ok": (),
}

#: Each flag's labels, folded: 独居老人, 残疾人, 重病, 卧床, 低保, 特困 … and the codes.
_FLAG_WORDS: dict[str, str] = {norm(w): code for code, e in HOUSEHOLD_FLAGS.items()
                               for w in (code, e["zh"], e["en"], *e["zh"].split("/"))}


def parse_flags(text: str) -> list[str]:
    """``"独居老人、残疾人"`` → ``["elderly_alone", "disabled"]``; ValueError naming an unknown word."""
    out: list[str] = []
    for word in (w for w in re.split(r"[、,，;；/\s]+", text or "") if w):
        code = _FLAG_WORDS.get(norm(word))
        if code is None:
            choices = ", ".join(e["zh"] for e in HOUSEHOLD_FLAGS.values())
            raise ValueError(f"{word!r} is not a known flag; expected some of: {choices}")
        if code not in out:
            out.append(code)
    return out


class HouseholdIn(BaseModel):
    """One row of a household register."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=64, description="户编号, the village's own")
    she: str = Field("", max_length=64)
    head: str = Field(min_length=1, max_length=64)
    phone: str | None = Field(None, max_length=32, pattern=r"^[0-9+\- ]{5,32}$")
    people: int = Field(1, ge=1, le=50)
    address: str = Field("", max_length=200)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    flags: list[str] = Field(default_factory=list)
    helper_id: str | None = Field(None, max_length=64)
    backup_id: str | None = Field(None, max_length=64)
    outside_ok: bool = False

    @field_validator("flags", mode="before")
    @classmethod
    def _flags(cls, value: object) -> list[str]:
        # A cell "独居老人、残疾人", or a list of codes or labels: each checked against the vocabulary.
        if isinstance(value, list | tuple):
            value = "、".join(str(v) for v in value)
        return parse_flags(str(value or ""))

    @field_validator("people", mode="before")
    @classmethod
    def _people(cls, value: object) -> object:
        # 3人, 3.0 (Excel)
        return re.sub(r"(\.0+)?\s*人?$", "", value) if isinstance(value, str) else value


def write_households(conn: Connection, gridset: GridSet, items: list[HouseholdIn]) -> list[Written]:
    """Insert or update (by 户编号) the households, located in their grids, inside ``conn``'s transaction."""
    grids: list[str | None] = (list(gridset.locate(np.array([i.lon for i in items]), np.array([i.lat for i in items])))
                               if items else [])
    now = utcnow()
    out: list[Written] = []
    with UnitOfWork(conn) as uow:
        s = uow.session
        have = {h.household_no: h for h in s.scalars(
            select(Household).where(Household.household_no.in_([i.external_id for i in items])))}
        for item, grid in zip(items, grids, strict=True):
            values = dict(village_id=gridset.village_of(grid) if grid else None, grid_id=grid, she=item.she,
                          head=item.head, phone=item.phone, people=item.people, address=item.address, lon=item.lon,
                          lat=item.lat, flags=",".join(item.flags), helper_id=item.helper_id,
                          backup_id=item.backup_id, updated_at=now)
            row = have.get(item.external_id)
            if row is None:
                row = Household(household_no=item.external_id, **values)
                s.add(row)
                have[item.external_id] = row
                created = True
            else:
                for k, v in values.items():
                    setattr(row, k, v)
                created = False
            s.flush()
            out.append(Written(row.id, created, grid))
        if items:
            uow.version()
        uow.commit()
    return out
