"""The store behaves the same on SQLite and PostgreSQL: versions, times, the write lock, big numbers.

Run on a SQLite file, and on a PostgreSQL database in the second pass of
``make test`` (the ``store`` marker).
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests
from conftest import ROOT
from sqlalchemy import select

from township.config import BUNDLED_GRIDS
from township.formats.ingest import CaseIn, write_cases
from township.grids.install import ensure_grids
from township.store.engine import init_db, make_engine, normalise_url
from township.store.models import MAX_ID, Case, Meta, bump_version, data_version
from township.store.uow import session_scope

pytestmark = pytest.mark.store


@pytest.fixture
def engine(store_url):
    e = make_engine(store_url)
    init_db(e)
    yield e
    e.dispose()


def test_postgres_urls_mean_psycopg():
    assert normalise_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalise_url("postgresql://h/db") == "postgresql+psycopg://h/db"
    assert normalise_url("postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"
    assert normalise_url("sqlite:///var/x.db") == "sqlite:///var/x.db"


def test_processes_opening_a_new_sqlite_file_together_all_start(tmp_path):
    # Several app servers started at once on a file that does not exist yet: each
    # connection switches the file to WAL, which SQLite refuses at once, busy timeout
    # or not, while another process holds a lock. Every one must come up.
    url = f"sqlite:///{tmp_path / 'new.db'}"
    start_at = time.time() + 2
    code = (
        "import sys, time\n"
        "from township.store.engine import make_engine, init_db\n"
        "from township.store.models import data_version\n"
        "e = make_engine(sys.argv[1])\n"
        "while time.time() < float(sys.argv[2]): pass\n"
        "init_db(e); print(data_version(e))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, url, str(start_at)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [r[1].strip().splitlines()[-1:] for r in results] == [[]] * 6
    assert [r[0].strip() for r in results] == ["0"] * 6
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_bumps_from_many_threads_all_count(engine):
    start = data_version(engine)

    def bump(_):
        for _ in range(5):
            with session_scope(engine) as s:
                bump_version(s)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bump, range(8)))
    assert data_version(engine) == start + 40


def test_write_transactions_run_one_at_a_time(engine):
    """Check-then-insert under concurrency: one insert, no unique-key error (BEGIN IMMEDIATE / advisory lock)."""
    inside = threading.Event()
    order: list[str] = []

    def first():
        with session_scope(engine) as s:
            s.get(Meta, "data_version")
            inside.set()
            time.sleep(0.5)
            order.append("first")

    def second():
        inside.wait(5)
        with session_scope(engine) as s:
            s.get(Meta, "data_version")
            order.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert order == ["first", "second"]

    def add_once(_):
        with session_scope(engine) as s:
            if s.get(Meta, "only-once") is None:
                s.add(Meta(key="only-once", value=threading.current_thread().name))
                return 1
            return 0

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(add_once, range(12))) == 1


def test_times_are_naive_utc_on_both_stores(engine):
    grids = ensure_grids(engine, BUNDLED_GRIDS).gridset
    p = grids.geometry("DL-05-01").representative_point()
    beijing = timezone(timedelta(hours=8))
    item = CaseIn(source="hotline", external_id="TZ-1", type="hotline", domain="livelihood", title="时区",
                  lon=p.x, lat=p.y, reported_at=datetime(2026, 3, 1, 9, 30, tzinfo=beijing))
    [w] = write_cases(engine, grids, [item])
    with session_scope(engine) as s:
        row = s.get(Case, w.id)
        assert row.reported_at == datetime(2026, 3, 1, 1, 30) and row.reported_at.tzinfo is None
        # a zone-aware time written by mistake is kept as its UTC wall clock on PostgreSQL
        # (the session runs in UTC); SQLite keeps the wall clock it is given
        row.resolved_at = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    with session_scope(engine) as s:
        assert s.scalar(select(Case.resolved_at).where(Case.id == w.id)) == datetime(2026, 3, 2, 0, 0)
        assert s.scalar(select(Case.id).where(Case.reported_at < datetime(2026, 3, 1, 2))) == w.id


def test_numbers_beyond_the_id_range_name_nothing(api_server):
    token = {"Authorization": f"Bearer {api_server.tokens['command']}"}
    big = MAX_ID + 1
    for path, expected in [
        (f"/api/v1/cases/{big}", 404),
        (f"/api/v1/cases/{MAX_ID}", 404),
        (f"/api/v1/cases/{big}/events", 404),
        (f"/api/v1/warnings/{big}/cap", 404),
        (f"/api/v1/cases?since_version={big}", 400),
        (f"/api/v1/cases?offset={big}", 400),
        (f"/open311/v2/requests/{big}.json", 404),
        (f"/open311/v2/requests.json?service_request_id={big}", 400),
    ]:
        r = requests.get(api_server.url + path, headers=token, timeout=10)
        assert r.status_code == expected, (path, r.status_code, r.text[:300])
