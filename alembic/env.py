"""Alembic's environment: the store's models are the target, the URL is the app's.

Two ways in:

* the app: :func:`township.store.engine.init_db` passes an open connection (in
  ``config.attributes["connection"]``), already inside the write transaction
  that serialises start-up migrations of several processes;
* the command line (``.venv/bin/alembic ...``, see ``alembic.ini``): the URL
  is ``-x url=...``, else ``DATABASE_URL``, else the embedded SQLite default.

SQLite cannot alter most of a table in place, so its migrations are rendered
and run in "batch" mode (copy, alter, swap), which is a no-op elsewhere.
"""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from township.config import Settings
from township.store.engine import include_name, make_engine, sqlite_foreign_keys
from township.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # SQLite's DDL is transactional too; the connection's BEGIN (IMMEDIATE) is township.store.engine's.
        transactional_ddl=True,
        # PostGIS brings a table of its own (spatial_ref_sys): not ours to drop.
        include_name=include_name,
    )


def run_offline() -> None:
    """``alembic upgrade head --sql``: print the SQL instead of running it."""
    url = context.get_x_argument(as_dictionary=True).get("url") or Settings.from_env().database_url
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"), include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # called by township.store.engine.init_db
        _configure(connection)
        with context.begin_transaction():  # a no-op inside the caller's transaction
            context.run_migrations()
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    url = context.get_x_argument(as_dictionary=True).get("url") or Settings.from_env().database_url
    engine = make_engine(url)
    try:
        # write=True: the same lock the app takes, so a CLI upgrade and a
        # starting app server never migrate at the same time.
        with engine.execution_options(write=True).connect() as conn:
            if conn.dialect.name == "sqlite":  # batch mode copies and drops tables (see township.store.engine.migrate)
                sqlite_foreign_keys(conn, on=False)
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
