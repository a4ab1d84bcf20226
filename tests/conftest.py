"""Shared fixtures: a real app server on a real SQLite file, and a real headless Chromium."""
from __future__ import annotations

import os
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
#: MapLibre needs WebGL: headless Chromium has it only in software (DESIGN.md §3).
CHROMIUM_ARGS = [
    "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app running as its own process, as ``make run`` starts it."""

    def __init__(self, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = tmp / "township.db"
        self.env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "DATABASE_URL": f"sqlite:///{self.db}", **(env or {})}
        self.log = tmp / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> "LiveServer":
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=self.env,
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
def township_ctx(tmp_path_factory):
    """The embedded default opened on a fresh SQLite file: bundled grids, resources, demo year."""
    from township.bootstrap import open_township
    from township.settings import Settings

    db = tmp_path_factory.mktemp("store") / "township.db"
    return open_township(Settings(database_url=f"sqlite:///{db}"))


@pytest.fixture(scope="session")
def api_server(tmp_path_factory) -> LiveServer:
    """One app process for the API tests, on its own SQLite file (demo year seeded).

    ``api_server.tokens[role]`` is a token of each role (the village one is
    bound to DL-03); ``api_server.engine`` opens the same file for direct SQL checks.
    """
    from township.store import make_engine
    from township.tokens import create_token

    # No demo feed: the tests count exactly what they write.
    srv = LiveServer(tmp_path_factory.mktemp("api"), {"DEMO_FEED": "0"}).start()
    srv.engine = make_engine(f"sqlite:///{srv.db}")  # type: ignore[attr-defined]
    srv.tokens = {  # type: ignore[attr-defined]
        role: create_token(srv.engine, f"test-{role}", role, "DL-03" if role == "village" else None)
        for role in ("admin", "command", "village", "responder", "wall")
    }
    yield srv
    srv.stop()
    srv.engine.dispose()
