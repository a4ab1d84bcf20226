"""A store that cannot be written (read-only, full): every write is a 503 naming the cause, and writes
work again, without a restart, as soon as the store can be written.

The tests run as root, and root ignores file permissions. The server therefore runs as root
without the capabilities that let it ignore them (``setpriv`` drops CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH from its bounding set): the kernel then checks its access to the store's
file exactly as it checks an ordinary owner's, so taking the file's write permission away makes
SQLite open it read-only, as it does for a non-root server. A full store is a full disk: the store
lives on a small tmpfs of its own, filled up by a file beside it (ENOSPC, which SQLite reports as
SQLITE_FULL, "database or disk is full"), and given room again by deleting that file.
"""
from __future__ import annotations

import errno
import json
import shutil
import stat
import subprocess

import pytest
import requests
from conftest import LiveServer

SETPRIV = shutil.which("setpriv")
#: The server as an owner the kernel checks: no capability overrides file permissions.
NO_OVERRIDE = [SETPRIV or "setpriv", "--bounding-set=-dac_override,-dac_read_search"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite store made and seeded by an ordinary start, closed again; and a writing token for it."""
    from township.accounts.tokens import create_token
    from township.config import Settings
    from township.runtime.bootstrap import open_township

    path = tmp_path_factory.mktemp("unwritable") / "township.db"
    ctx = open_township(Settings(database_url=f"sqlite:///{path}", role="command"))
    token = create_token(ctx.township.engine, "test-store", "command", None)
    gs = ctx.township.gridset
    point = gs.geometry("DL-03-02").representative_point()
    ctx.township.engine.dispose()  # the last connection closes: SQLite folds the WAL in
    return path, token, (round(point.x, 6), round(point.y, 6))


def _post(srv: LiveServer, token: str, point: tuple[float, float], n: int) -> requests.Response:
    case = {"source": "hotline", "external_id": f"unwritable-{n}", "type": "hotline", "domain": "livelihood",
            "title": "水管漏水", "lon": point[0], "lat": point[1]}
    return requests.post(srv.url + "/api/v1/cases", data=json.dumps(case), timeout=60,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def _store_files(path) -> list:
    """The database file and the WAL and shared-memory files SQLite makes beside it (with its permissions)."""
    return [f for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if f.exists()]


def _count(path, external_id: str) -> int:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM cases WHERE external_id = ?", (external_id,)).fetchone()[0]
    finally:
        conn.close()


def test_a_read_only_store_is_503_and_writes_resume_once_it_is_writable(store, tmp_path):
    assert SETPRIV, "setpriv (util-linux) runs the server without the capability to ignore permissions"
    path, token, point = store
    mode = path.stat().st_mode
    path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))  # the file loses write permission
    srv = LiveServer(tmp_path, {"DEMO_FEED": "0"}, f"sqlite:///{path}", prefix=NO_OVERRIDE)
    try:
        srv.start()  # opens every connection while the file is read-only: they stay read-only
        assert requests.get(srv.url + "/api/v1/cases?limit=1", timeout=30).status_code == 200  # reads go on
        for n in (1, 2):  # every write, not only the first
            r = _post(srv, token, point, n)
            assert r.status_code == 503, r.text[:500]
            [err] = r.json()["errors"]
            assert err["field"] == "(store)" and "read-only" in err["message"], err
            assert "readonly database" in err["message"]
            assert r.headers["Retry-After"].isdigit()
        for f in _store_files(path):  # as an admin would: chmod u+w township.db*
            f.chmod(mode)
        r = _post(srv, token, point, 3)  # at once: no restart, no second failure
        assert r.status_code == 201, r.text[:500]
        assert [_count(path, f"unwritable-{n}") for n in (1, 2, 3)] == [0, 0, 1]
    finally:
        for f in _store_files(path):
            f.chmod(mode)
        srv.stop()


def _fill(directory) -> int:
    """Write a file in ``directory`` until its file system is full; the bytes written."""
    written = 0
    block = b"\0" * 65536
    with (directory / "filler").open("wb", buffering=0) as f:
        try:
            while True:
                written += f.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return written


def test_a_full_store_is_503_and_writes_resume_once_there_is_room(store, tmp_path):
    path, token, point = store
    disk = tmp_path / "disk"
    disk.mkdir()
    # A file system of its own, small enough to fill: a tmpfs (root may mount one).
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    assert mounted.returncode == 0, f"a full disk needs a tmpfs of its own: {mounted.stderr}"
    try:
        db = disk / "township.db"
        shutil.copyfile(path, db)
        srv = LiveServer(tmp_path, {"DEMO_FEED": "0"}, f"sqlite:///{db}").start()
        try:
            assert _post(srv, token, point, 10).status_code == 201
            assert _fill(disk) > 0
            for n in (11, 12):
                r = _post(srv, token, point, n)
                assert r.status_code == 503, r.text[:500]
                [err] = r.json()["errors"]
                assert err["field"] == "(store)" and "is full" in err["message"], err
                assert "disk is full" in err["message"]  # SQLite's own words
            (disk / "filler").unlink()
            r = _post(srv, token, point, 13)
            assert r.status_code == 201, r.text[:500]
            assert [_count(db, f"unwritable-{n}") for n in (10, 11, 12, 13)] == [1, 0, 0, 1]
        finally:
            srv.stop()
    finally:
        subprocess.run(["umount", str(disk)], check=True)
