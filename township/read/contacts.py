"""Whom to call about a case: its reporter, read for the cases a page lists (the snapshot holds no contacts)."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from township.store.models import Case


@dataclass(frozen=True)
class Contact:
    """A case's reporter as stored (mask them with `township.domain.privacy` before showing)."""

    case_id: int
    name: str | None
    phone: str | None


def reporters(engine: Engine, case_ids: Collection[int]) -> dict[int, Contact]:
    """The reporter of each of ``case_ids`` that has a name or a phone, by case id."""
    if not case_ids:
        return {}
    query = select(Case.id, Case.reporter, Case.reporter_phone).where(Case.id.in_([int(i) for i in case_ids]))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {int(i): Contact(int(i), name, phone) for i, name, phone in rows if name or phone}
