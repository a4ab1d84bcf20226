"""The store's engine: SQLite or PostgreSQL set up alike, and the schema migrated by Alembic.

The embedded default is a SQLite file in WAL mode with foreign keys on and
``synchronous=FULL`` so that a committed write survives a power cut.
``DATABASE_URL`` points the same models at PostgreSQL (``postgresql+psycopg://``,
PostGIS enabled when the server has it), where several app servers share one store.

The schema is owned by Alembic (``alembic/``): :func:`init_db` upgrades a store
to the newest migration at start, and adopts a store that an older version
made with ``create_all`` (no ``alembic_version`` table) by stamping it.

Both stores behave alike for the code above them: times are naive UTC (the
PostgreSQL session runs in UTC), and write transactions run one at a time
(SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: one transaction-scoped advisory lock),
the lock taken by every connection opened with the ``write`` execution option
(`township.store.uow.UnitOfWork` opens its session so).
"""
from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from township.store.models import Base, Meta
from township.store.uow import StoreUnavailable, session_scope

#: Why a store cannot be written, by SQLite's primary result code (SQLITE_READONLY, SQLITE_FULL) ...
SQLITE_UNWRITABLE = {8: "read-only", 13: "full"}
#: ... and by PostgreSQL's SQLSTATE (read_only_sql_transaction: a standby, or default_transaction_read_only;
#: disk_full).
PG_UNWRITABLE = {"25006": "read-only", "53100": "full"}


def _unwritable(ctx: ExceptionContext) -> StoreUnavailable | None:
    """The driver's error as `StoreUnavailable` when the store is read-only or full (else None: unchanged).

    A read-only PostgreSQL store also drops every pooled connection: one may
    point at a former primary; fresh ones write again once the store can be written.
    """
    orig = ctx.original_exception
    code = getattr(orig, "sqlite_errorcode", None)
    cause = (SQLITE_UNWRITABLE.get(code & 0xFF) if isinstance(code, int)
             else PG_UNWRITABLE.get(getattr(orig, "sqlstate", None) or ""))
    if cause is None:
        return None
    if cause == "read-only" and ctx.dialect.name != "sqlite":
        # A connection to a former primary stays read-only: every pooled one is replaced. (SQLite's
        # read-only connections are reopened at checkout, see _sqlite_checkout: dropping one here would
        # leave its statement open, and SQLite keeps a connection with an open statement alive.)
        ctx.is_disconnect = True
        ctx.invalidate_pool_on_disconnect = True
    return StoreUnavailable(cause, str(orig).strip())


def _sqlite_writable(path: Path) -> bool:
    """Whether this process may write the store's file and the WAL and shared-memory files beside it.

    SQLite creates ``-wal`` and ``-shm`` with the database file's permissions, so
    a file that lost its write permission leaves a read-only ``-shm`` behind it.
    """
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return all(os.access(f, os.W_OK) for f in files if f.exists())


def _sqlite_opened(path: Path) -> Callable[[Any, ConnectionPoolEntry], None]:
    """The connect hook of a SQLite file: its pragmas, and whether SQLite had to open it read-only."""
    def opened(dbapi_conn, record: ConnectionPoolEntry) -> None:
        # SQLite opens a file it may not write read-only, and that connection stays read-only.
        record.info["read_only"] = not _sqlite_writable(path)
        _sqlite_pragmas(dbapi_conn, record)
    return opened


def _sqlite_checkout(engine: Engine, path: Path) -> Callable[[Any, ConnectionPoolEntry, PoolProxiedConnection],
                                                                None]:
    """The checkout hook of a SQLite file: once the files are writable, connections opened read-only are reopened.

    SQLite shares one mapping of ``-shm`` among all of a process's connections
    to a file, kept while any of them is open: a fresh connection writes only
    once every connection that opened it read-only is closed. So the idle ones
    are all closed here, and this one is reopened. Only connections opened
    read-only pay for the check (a few ``access`` calls).
    """
    def checkout(_dbapi_conn, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        if record.info.get("read_only") and _sqlite_writable(path):
            engine.pool.dispose()
            raise DisconnectionError(f"{path} was read-only when this connection opened; it is writable now")
    return checkout


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
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_opened(path))
        event.listen(engine, "checkout", _sqlite_checkout(engine, path))
        event.listen(engine, "begin", _sqlite_begin)
    elif url.startswith("postgresql"):
        # The session time zone is UTC: naive times are UTC on both stores, and a
        # zone-aware time given by mistake is stored as its UTC wall clock.
        engine = create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"})
        event.listen(engine, "begin", _pg_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "handle_error", _unwritable)
    return engine


def sqlite_foreign_keys(conn: Connection, on: bool) -> None:
    """Switch SQLite's foreign-key enforcement on ``conn``, which must be outside a transaction.

    Run on the driver's connection: through SQLAlchemy the statement would
    begin a transaction, inside which SQLite ignores the pragma.
    """
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:
        raise RuntimeError("the connection is closed")
    dbapi.cursor().execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


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
            # pragma only works outside a transaction, so it is set first.
            sqlite_foreign_keys(conn, on=False)
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
                sqlite_foreign_keys(conn, on=True)
