"""The store: SQLAlchemy 2 models and the engine set-up.

The embedded default is a SQLite file in WAL mode with foreign keys on and
``synchronous=FULL`` so that a committed write survives a power cut.
``DATABASE_URL`` points the same models at PostgreSQL (``postgresql+psycopg://``,
PostGIS enabled when the server has it), where several app servers share one store.

The schema is owned by Alembic (``alembic/``): :func:`init_db` upgrades a store
to the newest migration at start, and adopts a store that an older version
made with ``create_all`` (no ``alembic_version`` table) by stamping it.

Both stores behave alike for the code above them: times are naive UTC (the
PostgreSQL session runs in UTC), and write transactions run one at a time
(SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: one transaction-scoped advisory lock).
"""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import DateTime


def utcnow() -> datetime:
    """Now, as a naive UTC datetime: the store keeps every time in naive UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


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
    handler: Mapped[str | None] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    deadline_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The data version of the write that last changed this case.
    version: Mapped[int] = mapped_column(Integer, default=0, index=True)


class CaseEvent(Base):
    """One step of a case's audit trail: who, when, from, to, note."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    from_tier: Mapped[str | None] = mapped_column(String(16))
    to_tier: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


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


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers (several app processes) go on while one writes;
    # FULL makes each commit durable; foreign keys are off in SQLite by default.
    # The driver's own transaction handling is off: _sqlite_begin opens them.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # The busy timeout comes first: switching to WAL takes a lock too, and
    # without a timeout a connection opened while another writes fails at once.
    cur.execute("PRAGMA busy_timeout=30000")
    _switch_to_wal(cur)
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _switch_to_wal(cur, wait: float = 30.0) -> None:
    # WAL is kept in the file, so only the first connection to a new file
    # switches. That switch needs the file to itself, and SQLite answers
    # "database is locked" at once, without the busy timeout, while another
    # process (a second app server starting on the same new file) holds a
    # lock; so it is retried here for as long as the busy timeout would wait.
    deadline = time.monotonic() + wait
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_begin(conn) -> None:
    # A write transaction takes the write lock at BEGIN, so two writers queue
    # (busy_timeout) instead of failing when a read turns into a write.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


#: The largest id or version there can be: INTEGER columns are 64-bit in SQLite but 32-bit in
#: PostgreSQL, which refuses to compare a bigger number with them; input naming one names nothing.
MAX_ID = 2**31 - 1
#: The advisory lock key every PostgreSQL write transaction takes ("town").
WRITE_LOCK_KEY = 0x746F776E
#: Tables PostGIS keeps in the public schema: not the models', never migrated or compared.
POSTGIS_TABLES = frozenset({"spatial_ref_sys"})
#: The Alembic migrations of the schema.
MIGRATIONS = Path(__file__).resolve().parents[2] / "alembic"


def _pg_begin(conn) -> None:
    # PostgreSQL's counterpart of BEGIN IMMEDIATE: a write transaction first
    # takes one advisory lock, held until it commits, so writers run one at a
    # time as on SQLite. Every write bumps the one data-version row anyway, so
    # no parallelism is lost, and check-then-insert paths (idempotent upserts,
    # seeding at start, migrations) need no dialect-specific care. The lock is
    # per database; readers never take it.
    if conn.get_execution_options().get("write"):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")


def normalise_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` mean the installed driver, psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``; a SQLite file's folder is created if missing."""
    url = normalise_url(url)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql"):
        # The session time zone is UTC: naive times are UTC on both stores, and a
        # zone-aware time given by mistake is stored as its UTC wall clock.
        engine = create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"})
        event.listen(engine, "begin", _pg_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def init_db(engine: Engine) -> None:
    """Migrate the schema to the newest revision and make sure the data version row exists."""
    migrate(engine)
    with session_scope(engine) as s:
        if s.get(Meta, "data_version") is None:
            s.add(Meta(key="data_version", value="0"))


def alembic_config():
    """Alembic's configuration for the migrations in ``alembic/`` (no ini file needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def include_name(name, type_, parent_names) -> bool:
    """Alembic's filter: our schema and tables, not PostGIS's own."""
    if type_ == "schema":
        return name in (None, "public")
    return not (type_ == "table" and name in POSTGIS_TABLES)


def schema_diffs(conn) -> list:
    """How the database on ``conn`` differs from the models (Alembic's autogenerate comparison)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    mc = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
    return compare_metadata(mc, Base.metadata)


def migrate(engine: Engine) -> str:
    """Bring the store's schema to the newest migration; return ``upgraded``, ``adopted`` or ``current``.

    Runs in one write transaction, so several app processes starting at once
    migrate once (the others wait for the lock, then find the store current).
    A store made by ``create_all`` before migrations existed (tables, but no
    ``alembic_version``) is adopted: tables missing from it are created, as
    ``create_all`` did, and it is stamped at the newest revision, provided
    that its tables then match the models.

    Raises
    ------
    RuntimeError
        An unversioned store whose tables differ from the models otherwise
        (a column missing, a type changed): it needs a migration by hand.
    """
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from alembic import command

    cfg = alembic_config()
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.execution_options(write=True).connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite's batch migrations copy, drop and rename tables, which enforced foreign
            # keys would refuse; they are checked once, before the commit, instead. The
            # pragma only works outside a transaction: on the driver's connection, first.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():  # BEGIN IMMEDIATE on SQLite, the advisory lock on PostgreSQL
                cfg.attributes["connection"] = conn
                current = MigrationContext.configure(conn).get_current_revision()
                if current == head:
                    return "current"
                if current is None and set(inspect(conn).get_table_names()) & set(Base.metadata.tables):
                    diffs = schema_diffs(conn)
                    missing = {d[1].name for d in diffs if d[0] == "add_table"}
                    other = [d for d in diffs if not (d[0] == "add_table"
                                                      or (d[0] == "add_index" and d[1].table.name in missing))]
                    if other:
                        raise RuntimeError(
                            f"the store at {engine.url.render_as_string(hide_password=True)} has no migration "
                            "version and its tables differ from the models; migrate it by hand "
                            "(see alembic/README.md): " + "; ".join(map(str, other[:10])))
                    Base.metadata.create_all(conn)  # the missing tables, as create_all did before
                    command.stamp(cfg, "head")
                    done = "adopted"
                else:
                    command.upgrade(cfg, "head")
                    done = "upgraded"
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("the migration would leave rows whose foreign keys point nowhere; "
                                       "nothing was changed")
                return done
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A write transaction: committed at the end, rolled back on error."""
    with sessionmaker(engine.execution_options(write=True), expire_on_commit=False).begin() as session:
        yield session


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
    return int(session.scalar(select(Meta.value).where(Meta.key == "data_version")))


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


# -- The closed loop: who takes cases, who signs in (appended by the workflow issue) --


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
    """A person who signs in: a role of DESIGN.md §5 and, for the village role, a village."""

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


class WarningEvent(Base):
    """One step of a warning's log (一点指挥): who, when, from, to, note.

    Written in the same transaction as the status change it records (migration 0003).
    """

    __tablename__ = "warning_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
