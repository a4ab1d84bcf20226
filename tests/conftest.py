"""Shared fixtures: a real app server on a real store, and a real headless Chromium.

The store is a SQLite file; with ``TEST_DATABASE_URL`` set (``make test``
sets it for its second pass, see ``scripts/pg-test-server.sh``) the fixtures
that make stores (`stores`, `store_url`, `township_ctx`, `api_server`) make
fresh PostgreSQL databases instead, on that server. The tests marked
``store`` are the ones run on both.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: MapLibre needs WebGL: headless Chromium has it only in software (docs/design.md §3).
CHROMIUM_ARGS = [
    "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: A PostgreSQL server's URL (any database on it): the store tests then run there; unset: SQLite.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None


def drawn(trace: dict) -> list[str]:
    """The grids a choropleth trace of a figure dict draws: those with a value (no value: not drawn)."""
    return [g for g, z in zip(trace["locations"], trace["z"], strict=True) if z is not None and z == z]


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "store: a test of the store: `make test` runs it on SQLite and on PostgreSQL")


class Stores:
    """Fresh, empty stores for tests: SQLite files, or databases on the PostgreSQL test server.

    On PostgreSQL each pytest run makes its own databases (``t<pid>_<random>_<n>_<name>``)
    from a template of its own with PostGIS already enabled (enabling it takes a
    second), and drops them all when the run ends, so runs on one server never collide.
    """

    def __init__(self, tmp_path_factory, server_url: str | None) -> None:
        self.tmp = tmp_path_factory
        self.server = server_url
        self.run = f"t{os.getpid()}_{secrets.token_hex(3)}"
        self.made: list[str] = []
        self._admin = None
        self._template: str | None = None

    @property
    def dialect(self) -> str:
        return "postgresql" if self.server else "sqlite"

    def _url(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.server).set(database=database).render_as_string(hide_password=False)

    def _exec(self, sql: str) -> None:
        from sqlalchemy import create_engine

        if self._admin is None:
            self._admin = create_engine(self.server, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            conn.exec_driver_sql(sql)

    def new(self, name: str = "township", template: bool = True) -> str:
        """The URL of a new empty store (``template=False``: a bare PostgreSQL database, no PostGIS)."""
        if not self.server:
            return f"sqlite:///{self.tmp.mktemp(name) / 'township.db'}"
        from sqlalchemy import create_engine

        if template and self._template is None:
            self._template = f"{self.run}_template"
            self._exec(f'CREATE DATABASE "{self._template}"')
            engine = create_engine(self._url(self._template))
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
            engine.dispose()  # a template must have no one connected
        db = f"{self.run}_{len(self.made)}_{name}"[:63].lower()
        self._exec(f'CREATE DATABASE "{db}"' + (f' TEMPLATE "{self._template}"' if template else ""))
        self.made.append(db)
        return self._url(db)

    def close(self) -> None:
        if self._admin is None:
            return
        # A server made for this run alone (scripts/pg-test-server.sh run) goes away whole:
        # dropping each database first would only cost a checkpoint each.
        if os.environ.get("TEST_DATABASE_THROWAWAY") != "1":
            for db in [*self.made, *([self._template] if self._template else [])]:
                self._exec(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self._admin.dispose()


@pytest.fixture(scope="session")
def stores(tmp_path_factory) -> Stores:
    """Makes fresh stores (see :class:`Stores`); PostgreSQL databases are dropped at the end of the run."""
    s = Stores(tmp_path_factory, TEST_DATABASE_URL)
    yield s
    s.close()


@pytest.fixture
def store_url(stores) -> str:
    """The URL of a fresh, empty store for one test."""
    return stores.new()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app running as its own process, as ``make run`` starts it."""

    def __init__(self, tmp: Path, env: dict[str, str] | None = None, database_url: str | None = None,
                 gunicorn_workers: int = 0, prefix: list[str] | None = None) -> None:
        #: >0: run ``gunicorn -w N app:server`` (as a deployment does) instead of ``python app.py``
        self.gunicorn_workers = gunicorn_workers
        #: a command the server runs under (``setpriv ...``)
        self.prefix = prefix or []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # DEFAULT_ROLE=command: pages open without sign-in, as the tests from before sign-in
        # expect; a test of sign-in itself passes DEFAULT_ROLE="" (tests/test_signin.py).
        self.env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "DATABASE_URL": database_url or f"sqlite:///{tmp / 'township.db'}", "DEFAULT_ROLE": "command",
                    **(env or {})}
        #: the store the app runs on, and for a SQLite store its file (else None)
        self.database_url = self.env["DATABASE_URL"]
        sqlite = self.database_url.startswith("sqlite:///")
        self.db = Path(self.database_url.removeprefix("sqlite:///")) if sqlite else None
        self.log = tmp / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> LiveServer:
        argv = [sys.executable, str(ROOT / "app.py")]
        if self.gunicorn_workers:
            argv = [sys.executable, "-m", "gunicorn", "-w", str(self.gunicorn_workers),
                    "-b", f"127.0.0.1:{self.port}", "--timeout", "120", "app:server"]
        self.proc = subprocess.Popen([*self.prefix, *argv], cwd=ROOT, env=self.env,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited: {self.log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=2).read()
                return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"app did not answer in {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> LiveServer:
    """One app process for the browser tests, on its own SQLite file."""
    srv = LiveServer(tmp_path_factory.mktemp("server")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    """A fresh page at 1600×1000 that records every request it makes; screenshot saved on the way out."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    pg = context.new_page()
    pg.requests = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: pg.requests.append(r.url))
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()


@pytest.fixture(scope="session")
def township_ctx(stores):
    """The embedded default opened on a fresh store: bundled grids, resources, demo year."""
    from township.config import Settings
    from township.runtime.bootstrap import open_township

    return open_township(Settings(database_url=stores.new("store"), role="command"))


def command_server(tmp_path_factory, stores, name: str):
    """An app of its own for one test module (what it posts counts nowhere else), seeded, with no demo feed,
    and a command API token as ``.token``: use as ``yield from command_server(...)`` in a module fixture."""
    from township.accounts.tokens import create_token
    from township.store.engine import make_engine

    server = LiveServer(tmp_path_factory.mktemp(name), {"DEMO_FEED": "0"}, stores.new(name)).start()
    engine = make_engine(server.database_url)
    server.token = create_token(engine, f"test-{name}", "command", None)  # type: ignore[attr-defined]
    engine.dispose()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api_server(tmp_path_factory, stores) -> LiveServer:
    """One app process for the API tests, on its own store (demo year seeded).

    ``api_server.tokens[role]`` is a token of each role (the village one is
    bound to DL-03); ``api_server.engine`` opens the same file for direct SQL checks.
    """
    from township.accounts.tokens import create_token
    from township.store.engine import make_engine

    # No demo feed: the tests count exactly what they write.
    srv = LiveServer(tmp_path_factory.mktemp("api"), {"DEMO_FEED": "0"}, stores.new("api")).start()
    srv.engine = make_engine(srv.database_url)  # type: ignore[attr-defined]
    srv.tokens = {  # type: ignore[attr-defined]
        role: create_token(srv.engine, f"test-{role}", role, "DL-03" if role == "village" else None)
        for role in ("admin", "command", "village", "responder", "wall")
    }
    yield srv
    srv.stop()
    srv.engine.dispose()
