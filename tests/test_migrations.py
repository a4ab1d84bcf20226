"""Schema migrations (Alembic): an empty store migrated to head is exactly the models, on SQLite and PostgreSQL.

Also: the revisions form one line, they go down and up again, a store made
by ``create_all`` before migrations existed is adopted (and one that differs
is refused, naming the difference), and processes that start together on an
empty store migrate it once.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from township.store.engine import alembic_config, init_db, make_engine, migrate, schema_diffs
from township.store.models import Base, Meta, data_version
from township.store.uow import session_scope

pytestmark = pytest.mark.store
ROOT = Path(__file__).resolve().parent.parent
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def alembic(url: str, *args: str) -> subprocess.CompletedProcess:
    """The ``alembic`` command line, as a developer runs it (alembic.ini at the top of the project)."""
    return subprocess.run([sys.executable, "-m", "alembic", "-x", f"url={url}", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names()) - {"spatial_ref_sys"}


def revision(engine) -> str | None:
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_the_revisions_form_one_line():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    revs = list(script.walk_revisions())
    assert revs[-1].revision == "0001" and revs[-1].down_revision is None
    assert all(r.doc for r in revs), "every migration says what it does"


def test_upgrade_head_on_an_empty_store_gives_exactly_the_models(stores):
    # template=False: a bare PostgreSQL database, so the migration itself enables PostGIS
    url = stores.new("empty", template=False)
    done = alembic(url, "upgrade", "head")
    assert done.returncode == 0, done.stderr
    engine = make_engine(url)
    try:
        assert revision(engine) == HEAD
        assert tables(engine) == set(Base.metadata.tables) | {"alembic_version"}
        with engine.connect() as conn:
            assert schema_diffs(conn) == []
            if engine.dialect.name == "postgresql":
                assert conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).scalar() == 1
        check = alembic(url, "check")
        assert check.returncode == 0 and "No new upgrade operations detected" in check.stdout, check.stderr
        assert migrate(engine) == "current"
    finally:
        engine.dispose()


def test_init_db_migrates_and_downgrade_upgrade_round_trips(stores):
    url = stores.new("roundtrip")
    engine = make_engine(url)
    try:
        init_db(engine)
        assert revision(engine) == HEAD and data_version(engine) == 0
        down = alembic(url, "downgrade", "base")
        assert down.returncode == 0, down.stderr
        assert tables(engine) == {"alembic_version"}
        up = alembic(url, "upgrade", "head")
        assert up.returncode == 0, up.stderr
        with engine.connect() as conn:
            assert schema_diffs(conn) == []
    finally:
        engine.dispose()


def test_a_store_made_by_create_all_is_adopted_and_keeps_its_data(stores):
    url = stores.new("legacy")
    engine = make_engine(url)
    try:
        # as init_db did before migrations: create_all and a data version row, then some data
        Base.metadata.create_all(engine)
        with session_scope(engine) as s:
            s.add(Meta(key="data_version", value="41"))
        with engine.begin() as conn:  # and a table added to the models since, not yet in that store
            conn.execute(text("DROP TABLE case_assignments"))
        assert revision(engine) is None
        init_db(engine)
        assert revision(engine) == HEAD
        assert data_version(engine) == 41, "nothing was lost"
        assert "case_assignments" in tables(engine)
        with engine.connect() as conn:
            assert schema_diffs(conn) == []
        assert migrate(engine) == "current"
    finally:
        engine.dispose()


def test_an_unversioned_store_that_differs_is_refused_by_name(stores):
    url = stores.new("differs")
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_cases_version"))
            conn.execute(text("ALTER TABLE cases DROP COLUMN version"))
        with pytest.raises(RuntimeError, match=r"add_column.*'cases'.*version"):
            init_db(engine)
        assert revision(engine) is None, "nothing stamped"
    finally:
        engine.dispose()


def test_processes_starting_together_migrate_once(stores):
    url = stores.new("race")
    code = ("import sys; from township.store.engine import make_engine, migrate, init_db; "
            "e = make_engine(sys.argv[1]); print(migrate(e)); init_db(e)")
    procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    assert sorted(out.strip() for out, _ in outs) == ["current"] * 3 + ["upgraded"]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert schema_diffs(conn) == []
            assert conn.execute(text("SELECT count(*) FROM meta WHERE key = 'data_version'")).scalar() == 1
    finally:
        engine.dispose()
