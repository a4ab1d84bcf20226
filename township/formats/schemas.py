"""The HTTP API's answers as pydantic models: what ``/api/v1`` returns, field by field.

`api.openapi` builds the OpenAPI document from these models, so the
document cannot drift from what is returned. Nothing here does I/O:
`township.read.api` fills the models from the store, and `written_out`
shows what a write did.
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from township.formats.ingest import Written

#: A time as the API writes it: ISO 8601 in +08:00, or null.
Time = str | None


class CaseOut(BaseModel):
    """A case as the API shows it; times are ISO 8601 in +08:00."""

    id: int
    source: str
    external_id: str | None
    type: str
    domain: str
    status: str
    tier: str
    max_tier: str
    title: str
    description: str
    lon: float | None
    lat: float | None
    grid_id: str | None
    village_id: str | None
    reporter: str | None = Field(description="masked (张*) unless the token's role sees personal data")
    reporter_phone: str | None = Field(description="masked (138****1234) unless the role sees personal data")
    handler: str | None
    reported_at: Time
    updated_at: Time
    deadline_at: Time
    resolved_at: Time
    closed_at: Time
    overdue: bool = Field(description="still open past its deadline, as of the answer")
    version: int = Field(description="the data version of the write that last changed the case")
    follows: int = Field(0, description="关注: residents following the case from /report")


class CasePageOut(BaseModel):
    """One page of a filtered case list."""

    version: int = Field(description="the data version the answer reflects; pass it as since_version next time")
    total: int
    limit: int
    offset: int
    as_of: str | None = Field(default=None, description="the moment asked for (as_of), ISO 8601 in +08:00; "
                              "absent for the present")
    items: list[CaseOut]


class WarningOut(BaseModel):
    """An early warning as the API shows it."""

    id: int
    source: str
    external_id: str | None
    type: str
    level: int = Field(description="1 red … 4 blue")
    status: str
    title: str
    description: str
    lon: float
    lat: float
    radius_m: float
    grid_id: str | None
    village_id: str | None
    grids: list[str] = Field(description="level-3 grids the radius reaches")
    issued_at: Time
    expires_at: Time
    updated_at: Time
    version: int


class WrittenOut(BaseModel):
    """What a write did to one item."""

    id: int
    created: bool
    grid_id: str | None


class CapResultOut(BaseModel):
    """What a CAP message did."""

    msgType: str
    identifier: str
    written: list[WrittenOut]
    notes: list[str]


class ErrorItem(BaseModel):
    """One broken rule: the item (in a batch), the field and the message."""

    index: int | None
    field: str
    message: str


class ErrorsOut(BaseModel):
    """Every problem of a rejected request."""

    errors: list[ErrorItem]


class VersionOut(BaseModel):
    """The store's data version; it moves on every write."""

    version: int


def written_out(items: list[Written]) -> list[dict]:
    """Write results as the API returns them."""
    return [WrittenOut(id=w.id, created=w.created, grid_id=w.grid_id).model_dump() for w in items]
