"""The evacuation tables (转移安置, migration 0012): households, shelters, evacuations and their events.

Models of the store as `township.store.models`' are, kept in a module of their own so that
neither passes 500 lines; `township.store` imports every model module, so ``Base.metadata``
always holds them. The use cases are `township.loop.evacuation` and `township.loop.evacroster`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import DateTime

from township.store.models import Base, EventColumns


class Household(Base):
    """A household (户) of a village's register: where it is, how many people, who needs help to move.

    ``head`` and ``phone`` are personal data and ``flags`` sensitive personal
    data (PIPL): only the policy's `township.domain.policy.sees_household` shows them.
    """

    __tablename__ = "households"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The village's own number of the household (台账's 户编号): an import updates by it.
    household_no: Mapped[str] = mapped_column(String(64), unique=True)
    village_id: Mapped[str | None] = mapped_column(String(64), index=True)
    grid_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: 社 (村民小组), the village's own subdivision, as the register writes it.
    she: Mapped[str] = mapped_column(String(64), default="")
    head: Mapped[str] = mapped_column(String(64))  # personal data
    phone: Mapped[str | None] = mapped_column(String(32))  # personal data
    people: Mapped[int] = mapped_column(Integer, default=1)
    address: Mapped[str] = mapped_column(String(200), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    #: Comma list of `township.domain.vocab.HOUSEHOLD_FLAGS` codes; empty: nobody needs help.
    flags: Mapped[str] = mapped_column(String(200), default="")
    #: The 包保 helper and the backup: handler ids (a party member or a grid officer).
    helper_id: Mapped[str | None] = mapped_column(String(64), index=True)
    backup_id: Mapped[str | None] = mapped_column(String(64), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Shelter(Base):
    """What a resource of kind ``shelter`` (安置点) holds beyond a point and a contact: capacity, offers."""

    __tablename__ = "shelters"
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.resource_id"), primary_key=True)
    #: People it can take.
    capacity: Mapped[int] = mapped_column(Integer)
    offers: Mapped[str] = mapped_column(String(200), default="")


class Evacuation(Base):
    """An evacuation started on a warning: the 转移名单 is its `EvacuationHousehold` rows."""

    __tablename__ = "evacuations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), unique=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    started_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=0, index=True)


class EvacuationHousehold(Base):
    """One household of an evacuation's roster: its status, the shelter it is pointed to, a note."""

    __tablename__ = "evacuation_households"
    __table_args__ = (UniqueConstraint("evacuation_id", "household_id", name="uq_evacuation_household"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evacuation_id: Mapped[int] = mapped_column(ForeignKey("evacuations.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    shelter_id: Mapped[str | None] = mapped_column(String(64))
    #: Straight-line metres to the shelter (EPSG:4546).
    distance_m: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=0, index=True)


class EvacuationEvent(EventColumns, Base):
    """One step of a household's way in an evacuation: who, when, from, to, note."""

    __tablename__ = "evacuation_events"
    entry_id: Mapped[int] = mapped_column(ForeignKey("evacuation_households.id"), index=True, sort_order=-1)


class RosterRead(Base):
    """One read of an evacuation roster with people in it (PIPL: who saw whose data, when, how)."""

    __tablename__ = "roster_reads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    warning_id: Mapped[int] = mapped_column(Integer, index=True)
    #: The village whose households were shown; one row per village.
    village_id: Mapped[str | None] = mapped_column(String(64))
    #: ``api``, ``card``, ``phone`` or ``export``.
    channel: Mapped[str] = mapped_column(String(16))
    #: How many households with people were shown.
    households: Mapped[int] = mapped_column(Integer)
