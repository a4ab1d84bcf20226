"""The store's tables: every SQLAlchemy 2 model, and the data version every write bumps.

Times are naive UTC on every store (:func:`utcnow`). The engine, the SQLite
and PostgreSQL set-up and the migrations are `township.store.engine`'s; a
write transaction is a `township.store.uow.UnitOfWork`.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import DateTime


def utcnow() -> datetime:
    """Now, as a naive UTC datetime: the store keeps every time in naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


#: The largest id or version there can be: INTEGER columns are 64-bit in SQLite but 32-bit in
#: PostgreSQL, which refuses to compare a bigger number with them; input naming one names nothing.
MAX_ID = 2**31 - 1


class Base(DeclarativeBase):
    """Base of all tables."""


class Grid(Base):
    """One grid of any level, its geometry kept as GeoJSON text (WGS84)."""

    __tablename__ = "grids"
    grid_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(Integer, index=True)
    parent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    properties: Mapped[str] = mapped_column(Text)  # all GeoJSON properties, JSON
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON geometry, JSON


class Case(Base):
    """A case (事件): a citizen request, hotline ticket, dispute, ..."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_case_source_external"),
        Index("ix_case_reported", "reported_at"),
        Index("ix_case_village_status", "village_id", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    domain: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    tier: Mapped[str] = mapped_column(String(16))
    #: The highest tier the case ever reached (村级化解率 needs it).
    max_tier: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.grid_id"), index=True)
    village_id: Mapped[str | None] = mapped_column(String(64))
    reporter: Mapped[str | None] = mapped_column(String(64))  # personal data
    reporter_phone: Mapped[str | None] = mapped_column(String(32))  # personal data
    #: Where the reporter says it is, in their words (Open311 ``address_string``); no geocoder places it.
    address: Mapped[str | None] = mapped_column(String(200))
    #: A photo or video of it the source hosts (Open311 ``media_url``).
    media_url: Mapped[str | None] = mapped_column(String(500))
    handler: Mapped[str | None] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    deadline_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The data version of the write that last changed this case.
    version: Mapped[int] = mapped_column(Integer, default=0, index=True)


class EventColumns:
    """The columns every audit record shares: when, who, which move, from and to which status, a note.

    A mixin, not a table: each trail keeps its own table and its own foreign key
    (`CaseEvent`, `WarningEvent`). ``sort_order`` keeps the columns in the order the
    migrations created them: ``id``, the key, the shared ones, a table's own, ``note``.
    """

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True, sort_order=-2)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="", sort_order=2)


class CaseEvent(EventColumns, Base):
    """One step of a case's audit trail: who, when, from, to (status and tier), note."""

    __tablename__ = "case_events"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True, sort_order=-1)
    from_tier: Mapped[str | None] = mapped_column(String(16), sort_order=1)
    to_tier: Mapped[str | None] = mapped_column(String(16), sort_order=1)


class Warning(Base):
    """An early warning (预警): a point, a radius and a level of the four colours."""

    __tablename__ = "warnings"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_warning_source_external"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.grid_id"))
    village_id: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=0, index=True)
    # Columns of migration 0005, for CAP out: the source's certainty, the areas a CAP alert
    # gave (JSON: polygons as polygons, not only the circle around them), when the warning was
    # first stored (``None`` before 0005: its ``issued_at`` stands in) and when its content last
    # changed (``None``: never, so it goes out as a CAP Alert, else as an Update).
    certainty: Mapped[str | None] = mapped_column(String(16))
    areas: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow)
    revised_at: Mapped[datetime | None] = mapped_column(DateTime)


class WarningCapKey(Base):
    """A CAP (sender, identifier) a warning was once stored under, before an Update re-keyed it.

    So a re-sent original (or an Update naming only the first alert of a chain) still finds it.
    """

    __tablename__ = "warning_cap_keys"
    __table_args__ = (UniqueConstraint("sender", "identifier", name="uq_warning_cap_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), index=True)
    sender: Mapped[str] = mapped_column(String(128))
    identifier: Mapped[str] = mapped_column(String(128))


class WarningGrid(Base):
    """A level-3 grid that a warning's radius reaches."""

    __tablename__ = "warning_grids"
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), primary_key=True)
    grid_id: Mapped[str] = mapped_column(ForeignKey("grids.grid_id"), primary_key=True)


class Resource(Base):
    """A resource (力量) for one-point command: a post, team, station or depot."""

    __tablename__ = "resources"
    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.grid_id"))
    contact: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))


class ApiToken(Base):
    """A bearer token for the API; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # a role of township.domain.privacy.ROLES_UNMASKED
    village_id: Mapped[str | None] = mapped_column(String(64))  # for the village role
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Meta(Base):
    """Key/value facts about the store, e.g. the data version every write bumps."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Handler(Base):
    """Someone a case can be dispatched to: a grid officer, a party member, a team or a department.

    Seeded from the grid file and the resources (`township.loop.staff.seed_handlers`).
    ``domains`` is a comma list of domain codes; empty means every domain.
    """

    __tablename__ = "handlers"
    handler_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: ``officer`` 网格员, ``party_member`` 党员, ``volunteer_team`` 志愿服务队, ``department`` 镇职能部门
    kind: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))  # personal data
    # No foreign key: a new grid file may drop a grid; the handler then stays, unplaced.
    grid_id: Mapped[str | None] = mapped_column(String(64), index=True)
    village_id: Mapped[str | None] = mapped_column(String(64), index=True)
    domains: Mapped[str] = mapped_column(String(200), default="")
    #: 党员中心户: a party member whose household leads its neighbours.
    central_household: Mapped[bool] = mapped_column(default=False)
    #: The resource point a volunteer team was seeded from.
    resource_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)


class CaseAssignment(Base):
    """Whom a case is dispatched to now: one handler, or a village's party-member pool (接单池).

    ``Case.handler`` keeps the display name for the screens; this row keeps
    the structured assignment the workflow checks. No row: not dispatched.
    """

    __tablename__ = "case_assignments"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    handler_id: Mapped[str | None] = mapped_column(String(64), index=True)  # None while in a pool
    pool_village_id: Mapped[str | None] = mapped_column(String(64), index=True)
    assigned_at: Mapped[datetime] = mapped_column(DateTime)


class User(Base):
    """A person who signs in: a role of docs/design.md §5 and, for the village role, a village."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``scrypt$n$r$p$salt_hex$hash_hex`` (hashlib.scrypt; see township.accounts.users)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    village_id: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(64))
    #: The handler a responder account acts as (a grid officer or party member on a phone).
    handler_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class TokenHandler(Base):
    """The handler a ``responder`` API token acts as (a grid officer's or party member's phone app).

    Its own table rather than a column of ``api_tokens``, so that a store made
    before it only gains a table (migration 0002).
    """

    __tablename__ = "api_token_handlers"
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"), primary_key=True)
    handler_id: Mapped[str] = mapped_column(String(64))


class WarningEvent(EventColumns, Base):
    """One step of a warning's log (一点指挥): who, when, from, to, note.

    Written in the same transaction as the status change it records (migration 0003).
    """

    __tablename__ = "warning_events"
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), index=True, sort_order=-1)


def bump_version(session: Session) -> int:
    """Mark that data changed and return the new data version.

    Readers compare the version to refresh their caches; rows written in
    the same transaction carry it, so "what changed since N" is one query.
    """
    session.execute(
        update(Meta)
        .where(Meta.key == "data_version")
        .values(value=(Meta.value.cast(Integer) + 1).cast(String))
    )
    value = session.scalar(select(Meta.value).where(Meta.key == "data_version"))
    if value is None:
        raise RuntimeError("the store has no data version: open it with township.store.engine.init_db first")
    return int(value)


def data_version(engine: Engine) -> int:
    """The current data version (a cheap read, done before any heavy one)."""
    with engine.connect() as conn:
        value = conn.execute(select(Meta.value).where(Meta.key == "data_version")).scalar()
    return int(value or 0)


def grid_rows_to_geojson(rows: list[Grid]) -> dict:
    """Turn stored grid rows back into one GeoJSON FeatureCollection."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": json.loads(r.properties),
                "geometry": json.loads(r.geometry),
            }
            for r in rows
        ],
    }


class SignInFailure(Base):
    """One wrong password at ``/login``, kept for the throttle's window (`township.accounts.throttle`).

    ``key`` is ``user:<name>`` or ``addr:<address>``: one failure is two rows, so
    every process of a deployment counts the same failures, across restarts.
    """

    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)


class GridVersion(Base):
    """One version of the grid set: the grids as uploaded and checked, kept so any can be put back in use.

    Exactly one version is ``active`` once the admin page has applied one: the grids in table ``grids``
    are its FeatureCollection (`township.loop.gridversions`). Migration 0011.
    """

    __tablename__ = "grid_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    #: Who uploaded it (the user name; ``start`` for the grid file the app started with).
    created_by: Mapped[str] = mapped_column(String(64))
    #: `township.grids.install.gridset_digest` of the grid set: the same grids twice are one version.
    digest: Mapped[str] = mapped_column(String(64), index=True)
    #: The validated grid set as one lon/lat GeoJSON FeatureCollection (JSON text).
    geojson: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=False)
    #: When it was last put in use, and by whom (``None``: never).
    applied_at: Mapped[datetime | None] = mapped_column(DateTime)
    applied_by: Mapped[str | None] = mapped_column(String(64))
# -- residents (群众点单): tracking codes, follows, 回访 answers, the report throttle (migration 0009) ---------


class ResidentTrack(Base):
    """A tracking link of a resident on a case: the one who reported it, or one who follows it (关注).

    Only the SHA-256 of the code is kept: the code is the link's bearer secret,
    and a copy of the store must not open anyone's tracking page. A phone
    (personal data, masked by the policy) asks for the case's updates.
    """

    __tablename__ = "resident_tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``report`` (the resident who filed the case) or ``follow`` (关注: one more resident asking)
    kind: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(32))  # personal data
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ResidentFeedback(Base):
    """One 回访 answer on a tracking page after 办结: 满意 or 不满意, a comment, and whether it reopened the case."""

    __tablename__ = "resident_feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("resident_tracks.id"), index=True)
    satisfied: Mapped[bool] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime)
    #: 不满意 within the configured days: the case went back to dispatch (返工).
    reopened: Mapped[bool] = mapped_column(default=False)


class ResidentHit(Base):
    """One report or follow from /report, kept for the resident throttle's window (per address, per phone)."""

    __tablename__ = "resident_hits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
class Photo(Base):
    """A photo of a case (migration 0007): its files are kept by content hash (`township.loop.photos`).

    ``sha256``/``thumb_sha256`` name the stored files, so the same photo uploaded
    twice is one file (two rows when two cases or moves show it).
    """

    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    thumb_sha256: Mapped[str] = mapped_column(String(64))
    #: ``image/jpeg`` or ``image/png``, of the photo and its thumbnail alike.
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    #: Size of the stored photo in bytes.
    bytes: Mapped[int] = mapped_column(Integer)
    #: Who uploaded it: the audit name (personal data), their role and, for a responder, their handler.
    uploader: Mapped[str] = mapped_column(String(64))
    uploader_role: Mapped[str] = mapped_column(String(16))
    uploader_handler: Mapped[str | None] = mapped_column(String(64))
    #: ``report`` (with the report), ``resolve`` (办结 evidence) or ``progress`` (while handling).
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)


# -- the field app (/m): device sessions and the receipts of replayed requests (migration 0008) -------


class DeviceSession(Base):
    """A phone signed in to the field app (``/m``) for weeks: revoked by its person or an admin.

    The signed cookie carries a random token; only its SHA-256 is kept here
    (`township.accounts.devices`), so a copy of the store signs no one in.
    """

    __tablename__ = "device_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class FieldReceipt(Base):
    """The first answer to a request the field app sent with an idempotency key (a move, a report).

    A phone that lost the answer in a dead zone sends the request again with
    the same key; it gets this answer back and nothing is applied twice
    (`township.loop.receipts`). Keys are the sender's own: unique per user.
    """

    __tablename__ = "field_receipts"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_field_receipt_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
