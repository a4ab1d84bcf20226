"""Ingest rate and freshness: cases in through the API and from files, and how soon a screen shows them.

docs/design.md §4 budgets **new case via API → on the wall ≤ 2 s, zoom kept**, and
the server's memory (≤ 400 MB at township scale). This script measures, in one
run and on one store, beside a peer where there is an honest one:

1. **Single-case API ingest.** ``POST /api/v1/cases``, one case per request
   (the representative point of a level-3 grid, a Bearer token of role
   command, a unique ``external_id``), from 1 client and from 4 concurrent
   clients (threads, one keep-alive ``requests.Session`` each): requests/s
   and the client's p50/p95 latency. Every request is a durable commit: the
   store is SQLite in WAL mode with ``synchronous=FULL`` (`township.store.models`),
   or PostgreSQL with its default ``synchronous_commit=on``.
   Peer: :func:`serve_peer`, the *floor* of a durable endpoint on the same
   stack — the same Werkzeug threaded server, a Bearer compared with a
   constant, the JSON body unvalidated, the grid by one STRtree query, one
   SQLAlchemy ORM ``INSERT`` + commit into a scratch table of the same store
   type and durability (a SQLite file next to the store, WAL + FULL). It
   skips what ours does per request (token lookup, validation, idempotency
   by ``(source, external_id)``, the audit event, the data-version bump),
   so ``ours ÷ floor < 1`` is the price of those.
2. **Bulk import.** A CSV and an XLSX of ``rows`` cases through
   `township.formats.imports.import_file` (what ``python -m township import`` and the
   upload page run: validate, locate, one transaction), rows/s; peer: the
   usual pandas way, ``read_csv``/``read_excel`` + ``geopandas.sjoin`` to the
   level-3 grids + ``DataFrame.to_sql`` into a scratch table of the same
   store type (one transaction, same durability). Grids are loaded once,
   outside the timing, for both.
3. **Freshness.** The app (``tests.conftest.LiveServer``) on the store, the
   dashboard (``/``, 1600×1000, zoomed in and panned with the mouse wheel
   and a drag) and the wall (``/wall``, 1920×1080) each in headless Chromium;
   a case is posted through the API at a grid in view, and the time from
   sending the POST until MapLibre has *drawn* the new point (a rendered
   feature of the cases layer at that spot, ``queryRenderedFeatures``) is
   recorded, with the camera (zoom, centre) checked unchanged. No peer: a
   page that reloads itself every N seconds is a setting, not a measurement.
4. **Server RSS** (psutil, the app process and its children) after the
   API ingest.

Order: freshness (on the store as given), API ingest, RSS, then the bulk
import with the servers stopped. The ratio column is always *how many times better ours is*: ours ÷ peer for
rates, peer ÷ ours for latencies. Rates are the median across ``runs`` runs
(ours and the peer interleaved per run, so a noisy neighbour hits both);
latencies the median across runs of each run's p50/p95. The bench rows
(``external_id`` ``BENCH-ING-…``) and the token are deleted from the store
at the end, the peer's scratch tables and files too.

Run: ``cd /work/main && .venv/bin/python -m bench.ingest [--runs 3]`` (a fresh
SQLite store in a temp dir that the app seeds with the demo year, the bundled
grids; about 4 minutes on a 2-core machine), or ``--scale county`` for a copy of
the store ``bench/scale.py`` builds. Prints a markdown table (``--out FILE`` also
writes it).
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from sqlalchemy import DateTime, Float, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench.filter_bench import MAP_DRAWN, machine, markdown, p50_p95
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, LiveServer, free_port
from township.config import BUNDLED_GRIDS
from township.grids.model import GridSet
from township.grids.validate import load_grid_file
from township.store.engine import normalise_url

#: Every case this script writes carries an ``external_id`` with this prefix (and is deleted at the end).
PREFIX = "BENCH-ING"
BUDGET_FRESH_S = 2.0
BUDGET_RSS_MB = 400.0
#: Wait this long at most for a posted case to show on a page.
FRESH_TIMEOUT_S = 30.0
#: The app process: no demo feed (the data holds still), and pages open without sign-in.
FORCED_ENV = {"DEMO_FEED": "0", "DEFAULT_ROLE": "command"}
PEER_TABLE = "bench_peer_cases"
PEER_IMPORT_TABLE = "bench_peer_import"
TITLES = ("自来水管漏水", "路灯不亮", "邻里噪音纠纷", "垃圾清运不及时", "道路坑洼", "独居老人求助", "农机补贴咨询")
CASE_KINDS = (("hotline", "hotline", "livelihood"), ("patrol", "hazard", "safety"),
              ("citizen", "service", "livelihood"), ("meeting", "dispute", "governance"),
              ("patrol", "proposal", "construction"))
MiB = 1024 * 1024

Row = dict[str, Any]


def log(started: float, message: str) -> None:
    print(f"[{time.perf_counter() - started:4.0f} s] {message}", file=sys.stderr, flush=True)


# --- cases -------------------------------------------------------------------

def grid_points(gs: GridSet, n: int | None = None, seed: int = 11) -> list[tuple[str, float, float]]:
    """Representative points of level-3 grids (``n`` of them at random, all if ``None``)."""
    ids = gs.ids(level=3)
    if n is not None and n < len(ids):
        ids = random.Random(seed).sample(ids, n)
    out = []
    for g in ids:
        p = gs.geometry(g).representative_point()
        out.append((g, round(p.x, 6), round(p.y, 6)))
    return out


def case_body(external_id: str, lon: float, lat: float, i: int = 0) -> dict[str, Any]:
    """One case as a source sends it to ``POST /api/v1/cases``."""
    source, type_, domain = CASE_KINDS[i % len(CASE_KINDS)]
    return {"source": source, "external_id": external_id, "type": type_, "domain": domain,
            "title": TITLES[i % len(TITLES)], "description": "基准测试", "lon": lon, "lat": lat}


def random_points(gs: GridSet, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` points uniformly at random inside the level-3 grids."""
    rnd = np.random.default_rng(seed)
    x0, y0, x1, y1 = gs.bounds(gs.ids(level=3))
    lon: list[np.ndarray] = []
    lat: list[np.ndarray] = []
    have = 0
    while have < k:
        x, y = rnd.uniform(x0, x1, 2 * k), rnd.uniform(y0, y1, 2 * k)
        inside = np.array([g is not None for g in gs.locate(x, y)])
        lon.append(x[inside])
        lat.append(y[inside])
        have += int(inside.sum())
    return np.concatenate(lon)[:k].round(6), np.concatenate(lat)[:k].round(6)


CSV_HEADER = ["external_id", "source", "type", "domain", "title", "description", "lon", "lat", "reported_at"]


def case_rows(gs: GridSet, k: int, tag: str, seed: int) -> list[list[Any]]:
    """``k`` rows of a hotline/patrol sheet; times are Beijing time within the last 60 days."""
    lon, lat = random_points(gs, k, seed)
    rnd = random.Random(seed)
    now = datetime.now(timezone(timedelta(hours=8))).replace(tzinfo=None, microsecond=0)
    rows = []
    for i in range(k):
        source, type_, domain = CASE_KINDS[i % len(CASE_KINDS)]
        when = now - timedelta(minutes=rnd.randrange(60 * 24 * 60))
        rows.append([f"{PREFIX}-{tag}-{i}", source, type_, domain, TITLES[i % len(TITLES)], "批量导入基准",
                     float(lon[i]), float(lat[i]), when.strftime("%Y-%m-%d %H:%M:%S")])
    return rows


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        w.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("cases")
    ws.append(CSV_HEADER)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


# --- the peer: a bare durable endpoint, and the pandas import -----------------

def peer_url_for(database_url: str) -> tuple[str, Path | None]:
    """Where the peer writes: a scratch SQLite file next to a SQLite store (same disk), else the same database."""
    if database_url.startswith("sqlite:///"):
        store = Path(database_url.removeprefix("sqlite:///"))
        scratch = store.parent / f"bench_ingest_peer_{os.getpid()}.db"
        return f"sqlite:///{scratch}", scratch
    return normalise_url(database_url), None


def peer_engine(url: str):
    """An engine with the store's durability: SQLite WAL + ``synchronous=FULL`` (PostgreSQL: its default)."""
    from sqlalchemy import create_engine, event

    if not url.startswith("sqlite:///"):
        return create_engine(url)
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()
    return engine


class _PeerBase(DeclarativeBase):
    """The peer's own tables (not the store's models)."""


class PeerCase(_PeerBase):
    """The floor's case row: what was sent, plus the grid."""

    __tablename__ = PEER_TABLE
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    domain: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[str | None] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(DateTime)


def serve_peer(database_url: str, grids_file: str, port: str, token: str, crs: str = "") -> None:
    """The floor of a durable single-case endpoint (run in its own process by :class:`PeerServer`).

    Same Werkzeug threaded server as ``python app.py``; no validation, no
    idempotency, no audit event, no data version: take the JSON, find the
    grid with one STRtree query, one ORM INSERT and commit.
    """
    import shapely
    from flask import Flask, jsonify, request
    from sqlalchemy.orm import Session
    from werkzeug.serving import run_simple

    engine = peer_engine(database_url)
    _PeerBase.metadata.create_all(engine)
    gs = load_grid_file(grids_file, crs or None)
    ids = gs.ids(level=3)
    tree = shapely.STRtree([gs.geometry(g) for g in ids])
    expected = f"Bearer {token}"
    app = Flask("bench_peer")

    @app.get("/health")
    def health():
        return "ok"

    @app.post("/cases")
    def post_case():
        if request.headers.get("Authorization") != expected:
            return jsonify(error="unauthorized"), 401
        d = request.get_json()
        hit = tree.query(shapely.Point(d["lon"], d["lat"]), predicate="within")
        grid = ids[int(hit[0])] if len(hit) else None
        with Session(engine) as s:
            row = PeerCase(source=d["source"], external_id=d.get("external_id"), type=d["type"],
                            domain=d["domain"], title=d["title"], description=d.get("description", ""),
                            lon=d["lon"], lat=d["lat"], grid_id=grid,
                            reported_at=datetime.now(UTC).replace(tzinfo=None))
            s.add(row)
            s.flush()
            new_id = row.id
            s.commit()
        return jsonify([{"id": new_id, "created": True, "grid_id": grid}]), 201

    run_simple("127.0.0.1", int(port), app, threaded=True)


class PeerServer:
    """:func:`serve_peer` as its own process, like the app's."""

    def __init__(self, tmp: Path, database_url: str, grids_file: Path, token: str, crs: str | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "peer.log"
        self.argv = [sys.executable, "-c", "import sys; from bench.ingest import serve_peer; serve_peer(*sys.argv[1:])",
                     database_url, str(grids_file), str(self.port), token, crs or ""]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 300) -> PeerServer:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"peer exited: {self.log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url + "/health", timeout=2).read()
                return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"peer did not answer in {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def pandas_import(path: Path, grids3, engine) -> int:
    """The usual pandas way: read the sheet, ``sjoin`` the points to the grids, ``to_sql``; rows written."""
    import geopandas as gpd
    import pandas as pd

    if path.suffix == ".xlsx":
        df = pd.read_excel(path, engine="openpyxl", parse_dates=["reported_at"])
    else:
        df = pd.read_csv(path, parse_dates=["reported_at"])
    points = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
    joined = gpd.sjoin(points, grids3, how="left", predicate="within")
    out = pd.DataFrame(joined.drop(columns=["geometry", "index_right"]))
    out.to_sql(PEER_IMPORT_TABLE, engine, if_exists="append", index=False)
    return len(out)


# --- single-case API ingest --------------------------------------------------

def drive(url: str, token: str, bodies: list[dict], clients: int) -> tuple[float, list[float], Counter]:
    """POST ``bodies`` one per request from ``clients`` threads; (seconds, latencies in ms, non-201 statuses)."""
    import requests

    chunks = [bodies[i::clients] for i in range(clients)]
    lat: list[list[float]] = [[] for _ in chunks]
    bad: Counter = Counter()
    ready = threading.Barrier(clients + 1)
    sessions = []
    for _ in chunks:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        sessions.append(s)

    def work(k: int) -> None:
        s, mine = sessions[k], lat[k]
        ready.wait()
        for body in chunks[k]:
            t0 = time.perf_counter()
            try:
                r = s.post(url, json=body, timeout=120)
                status = r.status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            mine.append((time.perf_counter() - t0) * 1000)
            if status != 201:
                bad[status] += 1

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for s in sessions:
        s.close()
    return elapsed, [x for part in lat for x in part], bad


def measure_api(targets: dict[str, tuple[str, str]], points: list[tuple[str, float, float]], runs: int,
                n: int, clients: tuple[int, ...] = (1, 4), started: float | None = None) -> dict:
    """Requests/s and latencies per target and client count, ``runs`` runs interleaved.

    ``targets`` maps a name to (URL of the POST endpoint, token).
    """
    results: dict[tuple[str, int], dict[str, list]] = {
        (name, c): {"rate": [], "ms": [], "bad": []} for name in targets for c in clients}
    counter = iter(range(10**9))

    def bodies(name: str, count: int, tag: str) -> list[dict]:
        out = []
        for _ in range(count):
            i = next(counter)
            _, x, y = points[i % len(points)]
            out.append(case_body(f"{PREFIX}-{tag}-{name}-{i}", x, y, i))
        return out

    for name, (url, token) in targets.items():  # warm up: connections, caches, the first write
        _, _, bad = drive(url, token, bodies(name, 20, "warm"), 2)
        if bad:
            raise RuntimeError(f"{name}: warm-up answered {dict(bad)}")
    names = list(targets)
    for run in range(runs):
        order = names if run % 2 == 0 else names[::-1]
        for c in clients:
            for name in order:
                url, token = targets[name]
                elapsed, ms, bad = drive(url, token, bodies(name, n, f"r{run}c{c}"), c)
                res = results[(name, c)]
                res["rate"].append(n / elapsed)
                res["ms"].append(ms)
                res["bad"].append(bad)
                if started is not None:
                    log(started, f"  run {run + 1}/{runs}, {c} client(s), {name}: {n / elapsed:.0f} req/s"
                                 + (f", not 201: {dict(bad)}" if bad else ""))
    return results


# --- freshness ---------------------------------------------------------------

DASH_GRAPH = "#map-graph .js-plotly-plot"
WALL_GRAPH = "#wall-map .js-plotly-plot"
#: The wall is ready when MapLibre has drawn it and the map has been fitted to the screen (tests/test_wall.py).
WALL_READY = f"""() => {{
    const gd = document.querySelector('{WALL_GRAPH}');
    const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return m && m.map && m.map.loaded() && m.map.areTilesLoaded()
        && document.querySelector('#wall-stop').dataset.stop !== ''
        && String(gd.layout.map.uirevision).startsWith('wall:')
        && Math.abs(m.map.getZoom() - gd.layout.map.zoom) < 0.01;
}}"""


def _js(graph: str, body: str) -> str:
    """A page function with ``gd`` (the figure's div) and ``m`` (its MapLibre map) in scope."""
    return (f"() => {{ const gd = document.querySelector('{graph}'); "
            f"const m = gd._fullLayout.map._subplot.map; {body} }}")


def camera_js(graph: str) -> str:
    return _js(graph, "const c = m.getCenter(); return [m.getZoom(), c.lng, c.lat];")


def drawn_near_js(graph: str, x: float, y: float, tol: float = 2e-4) -> str:
    """How many drawn case points lie within ``tol`` degrees of (x, y) (rendered features come back
    from the vector tiles, so their coordinates are a few metres off).

    Only a few pixels around the point are queried: the probe runs at every frame while it
    waits, and querying the whole map took the page's main thread 20-30 ms a time at city scale.
    """
    return _js(graph, f"""
        const trace = gd._fullData.find(d => d.name === 'cases');
        const layer = 'plotly-trace-layer-' + trace.uid + '-circle';
        if (!m.getLayer(layer)) return 0;
        const p = m.project([{x}, {y}]);
        const box = [[p.x - 12, p.y - 12], [p.x + 12, p.y + 12]];
        return m.queryRenderedFeatures(box, {{layers: [layer]}}).filter(f =>
            Math.abs(f.geometry.coordinates[0] - {x}) < {tol}
            && Math.abs(f.geometry.coordinates[1] - {y}) < {tol}).length;""")


def in_figure_js(graph: str, case_id: int) -> str:
    """The dashboard's case trace carries the case id, as text, in ``customdata[0]``."""
    return _js(graph, f"""
        const trace = gd.data.find(d => d.name === 'cases');
        return !!(trace && trace.customdata && Array.from(trace.customdata).some(c => c[0] === '{case_id}'));""")


def view_bounds_js(graph: str) -> str:
    return _js(graph, "return m.getBounds().toArray();")


def same_camera(a: list[float], b: list[float]) -> bool:
    return abs(a[0] - b[0]) < 1e-6 and abs(a[1] - b[1]) < 1e-7 and abs(a[2] - b[2]) < 1e-7


def freshness(browser, url: str, token: str, gs: GridSet, page_kind: str, samples: int,
              started: float | None = None) -> dict[str, Any]:
    """Post ``samples`` cases one by one and time each until the page has drawn it.

    ``page_kind`` is ``"dashboard"`` (zoomed in and panned first) or ``"wall"``.
    Returns the times (s) post → drawn and, on the dashboard, post → in the
    figure's data; the POST's own time; and whether the camera was kept.
    """
    import requests

    dashboard = page_kind == "dashboard"
    graph = DASH_GRAPH if dashboard else WALL_GRAPH
    size = {"width": 1600, "height": 1000} if dashboard else {"width": 1920, "height": 1080}
    context = browser.new_context(viewport=size, device_scale_factor=1, locale="zh-CN")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    out: dict[str, Any] = {"drawn": [], "figure": [], "post": [], "sent": [], "answered": [], "kept": 0,
                           "moved": [], "missed": 0}
    # When the browser sent the callback that updates the map, and when its answer was in.
    output = f"{'map-graph' if dashboard else 'wall-map'}.figure"
    calls: list[tuple[str, float]] = []

    def _call(event: str) -> Callable[[Any], None]:
        def seen(request) -> None:
            if urlsplit(request.url).path == "/_dash-update-component" and output in (request.post_data or ""):
                calls.append((event, time.perf_counter()))
        return seen

    try:
        page = context.new_page()
        page.on("request", _call("sent"))
        page.on("requestfinished", _call("answered"))
        t0 = time.perf_counter()
        page.goto(url + ("/" if dashboard else "/wall"))
        page.wait_for_function(MAP_DRAWN if dashboard else WALL_READY, timeout=120_000)
        out["load_s"] = time.perf_counter() - t0
        page.wait_for_timeout(1500)
        if dashboard:  # the operator zooms in and pans: a live update must not undo it
            box = page.locator("#map-graph").bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            before = page.evaluate(camera_js(graph))
            page.mouse.move(cx, cy)
            page.mouse.wheel(0, -300)
            page.wait_for_timeout(800)
            page.mouse.down()
            page.mouse.move(cx + 80, cy + 40, steps=8)
            page.mouse.up()
            page.wait_for_timeout(1200)
            if same_camera(before, page.evaluate(camera_js(graph))):
                raise RuntimeError("the mouse did not move the dashboard map")
        camera = page.evaluate(camera_js(graph))
        out["camera"] = camera
        (x0, y0), (x1, y1) = page.evaluate(view_bounds_js(graph))
        mx, my = (x1 - x0) * 0.1, (y1 - y0) * 0.1
        in_view = [p for p in grid_points(gs) if x0 + mx < p[1] < x1 - mx and y0 + my < p[2] < y1 - my]
        if not in_view:
            raise RuntimeError(f"no level-3 grid in the {page_kind} map's view")
        rnd = random.Random(3 if dashboard else 5)
        chosen = rnd.sample(in_view, min(samples, len(in_view)))
        while len(chosen) < samples:
            chosen.append(rnd.choice(in_view))
        for i, (grid, x, y) in enumerate(chosen):
            time.sleep(rnd.uniform(0.8, 1.8))  # let the page settle; a random phase against the half-second poll
            near = page.evaluate(drawn_near_js(graph, x, y))
            body = case_body(f"{PREFIX}-fresh-{page_kind}-{time.time_ns()}", x, y, i)
            body["title"] = f"新鲜度测试 {page_kind} {i}"
            calls.clear()
            t0 = time.perf_counter()
            r = session.post(url + "/api/v1/cases", json=body, timeout=60)
            out["post"].append(time.perf_counter() - t0)
            if r.status_code != 201:
                raise RuntimeError(f"POST answered {r.status_code}: {r.text[:300]}")
            case_id = r.json()[0]["id"]
            try:
                if dashboard:
                    page.wait_for_function(in_figure_js(graph, case_id), polling="raf",
                                           timeout=FRESH_TIMEOUT_S * 1000)
                    out["figure"].append(time.perf_counter() - t0)
                page.wait_for_function(f"() => ({drawn_near_js(graph, x, y)})() > {near}", polling="raf",
                                       timeout=FRESH_TIMEOUT_S * 1000)
                out["drawn"].append(time.perf_counter() - t0)
            except Exception as exc:  # Playwright's TimeoutError
                if "Timeout" not in type(exc).__name__:
                    raise
                out["missed"] += 1
                out["drawn"].append(FRESH_TIMEOUT_S)
            sent = next((t for e, t in calls if e == "sent" and t > t0), None)
            answered = next((t for e, t in calls if e == "answered" and sent and t > sent), None)
            if sent and answered:
                out["sent"].append(sent - t0)
                out["answered"].append(answered - t0)
            now = page.evaluate(camera_js(graph))
            if same_camera(camera, now):
                out["kept"] += 1
            else:
                out["moved"].append(now)
            if started is not None:
                fig = (f"map callback sent {sent - t0:.2f} s, answered {answered - t0:.2f} s, "
                       if sent and answered else "")
                fig += f"in the figure after {out['figure'][-1]:.2f} s, " if len(out["figure"]) > i else ""
                log(started, f"  {page_kind} {i + 1}/{samples}: grid {grid}, {fig}"
                             f"drawn after {out['drawn'][-1]:.2f} s, "
                             f"camera {'kept' if same_camera(camera, now) else 'MOVED'}")
        page.wait_for_timeout(1500)
        out["kept_at_end"] = same_camera(camera, page.evaluate(camera_js(graph)))
    finally:
        session.close()
        context.close()
    return out


# --- store housekeeping -------------------------------------------------------

def server_rss(proc: subprocess.Popen) -> int:
    """Resident memory of a process and all its children, bytes."""
    import psutil

    p = psutil.Process(proc.pid)
    total = 0
    for q in [p, *p.children(recursive=True)]:
        with suppress(psutil.Error):
            total += q.memory_info().rss
    return total


def log_problems(text: str) -> list[str]:
    """Tracebacks and 5xx answers in a Werkzeug log."""
    lines = text.splitlines()
    out = [ln for ln in lines if ln.startswith("Traceback")]
    out += [ln for ln in lines if re.search(r'" 5\d\d ', ln)]
    return out


def remove_bench_rows(database_url: str, token_name: str, prefix: str = PREFIX) -> int:
    """Delete the cases this script wrote (``external_id`` ``{prefix}-…``, and their events), and its token;
    bump the data version."""
    from sqlalchemy import delete, select

    from township.store.engine import make_engine
    from township.store.models import ApiToken, Case, CaseAssignment, CaseEvent, bump_version
    from township.store.uow import session_scope

    engine = make_engine(database_url)
    try:
        with session_scope(engine) as s:
            ids = select(Case.id).where(Case.external_id.like(f"{prefix}-%")).scalar_subquery()
            s.execute(delete(CaseEvent).where(CaseEvent.case_id.in_(ids)))
            s.execute(delete(CaseAssignment).where(CaseAssignment.case_id.in_(ids)))
            n = s.execute(delete(Case).where(Case.external_id.like(f"{prefix}-%"))).rowcount
            s.execute(delete(ApiToken).where(ApiToken.name == token_name))
            bump_version(s)
        return n
    finally:
        engine.dispose()


@contextmanager
def peer_store(database_url: str) -> Iterator[str]:
    """The peer's scratch store; dropped (tables, or the scratch SQLite file) on the way out."""
    url, scratch = peer_url_for(database_url)
    try:
        yield url
    finally:
        if scratch is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{scratch}{suffix}").unlink(missing_ok=True)
        else:
            from sqlalchemy import text

            engine = peer_engine(url)
            with engine.begin() as conn:
                conn.execute(text(f"DROP TABLE IF EXISTS {PEER_TABLE}"))
                conn.execute(text(f"DROP TABLE IF EXISTS {PEER_IMPORT_TABLE}"))
            engine.dispose()


# --- bulk import -------------------------------------------------------------

def measure_import(database_url: str, peer_url: str, gs: GridSet, tmp: Path, rows: int, runs: int,
                   formats: tuple[str, ...] = ("csv", "xlsx"), started: float | None = None) -> dict:
    """Rows/s of ours (`township.formats.imports.import_file`) and of the pandas way, per format, interleaved."""
    import geopandas as gpd
    from sqlalchemy import text

    from township.formats.imports import import_file
    from township.store.engine import make_engine

    engine = make_engine(database_url)
    pengine = peer_engine(peer_url)
    grids3 = gpd.GeoDataFrame.from_features(gs.feature_collection(3)["features"], crs="EPSG:4326")
    grids3 = grids3[["grid_id", "geometry"]]
    out: dict[tuple[str, str], list[float]] = {(who, fmt): [] for who in ("ours", "peer") for fmt in formats}
    writers: dict[str, Callable[[Path, list[list[Any]]], Path]] = {"csv": write_csv, "xlsx": write_xlsx}
    try:
        for run in range(runs):
            for fmt in formats:
                for who in (("ours", "peer") if run % 2 == 0 else ("peer", "ours")):
                    tag = f"imp-{fmt}-r{run}-{who}"
                    path = writers[fmt](tmp / f"{tag}.{fmt}", case_rows(gs, rows, tag, seed=run * 10 + len(fmt)))
                    if who == "peer":
                        with pengine.begin() as conn:
                            conn.execute(text(f"DROP TABLE IF EXISTS {PEER_IMPORT_TABLE}"))
                    t0 = time.perf_counter()
                    if who == "ours":
                        report = import_file(engine, gs, path, kind="cases")
                        elapsed = time.perf_counter() - t0
                        if not report.ok or report.created != rows:
                            raise RuntimeError(f"our import of {path.name} failed: {report.summary()}\n"
                                               + "\n".join(report.lines()[:10]))
                    else:
                        written = pandas_import(path, grids3, pengine)
                        elapsed = time.perf_counter() - t0
                        if written != rows:
                            raise RuntimeError(f"pandas import of {path.name} wrote {written} rows")
                    out[(who, fmt)].append(rows / elapsed)
                    path.unlink()
                    if started is not None:
                        log(started, f"  run {run + 1}/{runs}, {fmt}, {who}: {rows / elapsed:,.0f} rows/s")
    finally:
        engine.dispose()
        pengine.dispose()
    return out


# --- everything --------------------------------------------------------------

def _row(what: str, ours: float, peer: float | None, peer_name: str | None, unit: str, note: str,
         higher_is_better: bool = True) -> Row:
    # no ratio without a peer figure, nor with a zero on either side
    ratio = (ours / peer if higher_is_better else peer / ours) if ours and peer else None
    return {"what": what, "ours": ours, "peer": peer, "peer_name": peer_name, "unit": unit, "ratio": ratio,
            "note": note}


def durability(engine) -> str:
    """What a commit on ``engine`` guarantees, read from the connection (not assumed)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            name = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(sync, sync)
            return f"SQLite journal_mode={mode}, synchronous={name}"
        if engine.dialect.name == "postgresql":
            return f"PostgreSQL synchronous_commit={conn.exec_driver_sql('SHOW synchronous_commit').scalar()}"
    return engine.dialect.name


def measure(grids_file: Path, database_url: str, app_env: dict[str, str], runs: int = 3, *,
            requests_per_run: int = 300, import_rows: int = 10_000, fresh_samples: int = 5,
            verbose: bool = True) -> list[Row]:
    """Measure ingest and freshness on one store; rows of the result table.

    Parameters
    ----------
    grids_file : Path
        The grid GeoJSON the app runs with (``GRIDS_FILE``); cases are placed in its level-3 grids.
    database_url : str
        The store (SQLAlchemy URL). Bench rows are written to it and deleted at the end.
    app_env : dict
        Environment of the app process (``SEED_DEMO``, ``GRIDS_CRS`` …; e.g. ``bench.scale.app_env``);
        ``DEMO_FEED=0`` and ``DEFAULT_ROLE=command`` are forced, and ``GRIDS_FILE`` and
        ``DATABASE_URL`` are those given here.
    runs : int
        Runs of the API ingest and of the bulk import (medians across runs).
    requests_per_run : int
        Requests per run and per client count (1 and 4 clients), for ours and the peer alike.
    import_rows : int
        Rows per imported file.
    fresh_samples : int
        Cases posted per page (dashboard, wall) for freshness; at least ``runs``.

    Returns
    -------
    list of dict
        ``what``, ``ours``, ``peer``, ``peer_name``, ``unit``, ``ratio`` (how many
        times better ours is; ``None`` without a peer) and ``note``.
    """
    from playwright.sync_api import sync_playwright

    from township.accounts.tokens import create_token
    from township.store.engine import make_engine

    started = time.perf_counter()
    say = (lambda m: log(started, m)) if verbose else (lambda m: None)
    fresh_samples = max(fresh_samples, runs)
    crs = app_env.get("GRIDS_CRS") or None
    gs = load_grid_file(grids_file, crs)
    points = grid_points(gs, 500)
    token_name = f"bench-ingest-{os.getpid()}-{time.time_ns() % 10**9}"
    # the arguments win over what app_env says about the store and the grids
    env = {**app_env, **FORCED_ENV, "GRIDS_FILE": str(grids_file), "DATABASE_URL": database_url}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp_name, peer_store(database_url) as peer_url:
        tmp = Path(tmp_name)
        server = LiveServer(tmp, env, database_url)
        say(f"starting the app on {database_url} ({len(gs.ids(level=3)):,} level-3 grids)")
        server.start(timeout=900)
        peer: PeerServer | None = None
        try:
            engine = make_engine(database_url)
            token = create_token(engine, token_name, "command")
            durable = durability(engine)
            engine.dispose()
            pengine = peer_engine(peer_url)
            peer_durable = durability(pengine)
            pengine.dispose()
            peer_token = "peer-" + token_name
            peer = PeerServer(tmp, peer_url, grids_file, peer_token, crs)
            say("starting the peer (bare Flask + ORM)")
            peer.start()

            # 3. freshness first: on the store as given, before the ingest adds cases to it
            fresh: dict[str, dict] = {}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    for kind in ("dashboard", "wall"):
                        say(f"freshness on the {kind}: {fresh_samples} cases")
                        fresh[kind] = freshness(browser, server.url, token, gs, kind, fresh_samples, started)
                finally:
                    browser.close()
            rss_before = server_rss(server.proc)

            # 1. single-case API ingest, ours and the floor interleaved
            say(f"API ingest: {runs} runs × {requests_per_run} requests × (1, 4 clients) × (ours, peer)")
            targets = {"ours": (server.url + "/api/v1/cases", token), "peer": (peer.url + "/cases", peer_token)}
            api = measure_api(targets, points, runs, requests_per_run, started=started)
            # 4. memory after the ingest
            rss_after = server_rss(server.proc)
            rss_peer = server_rss(peer.proc)
        except BaseException:
            print(f"app log, last lines:\n{server.log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            try:
                remove_bench_rows(database_url, token_name)
            except Exception as exc:  # the first error is the one to see
                print(f"could not remove the bench rows: {exc}", file=sys.stderr)
            raise
        finally:
            if peer is not None:
                peer.stop()
            server.stop()
        problems = log_problems(server.log.read_text(errors="replace"))
        peer_problems = log_problems(peer.log.read_text(errors="replace")) if peer is not None else []

        # 2. bulk import, with both servers stopped
        try:
            say(f"bulk import: {runs} runs × {import_rows:,} rows × (csv, xlsx) × (ours, pandas)")
            imports = measure_import(database_url, peer_url, gs, tmp, import_rows, runs, started=started)
        finally:  # also after a failure: leave the store as it was
            removed = remove_bench_rows(database_url, token_name)
            say(f"removed {removed:,} bench cases from the store")

    # --- rows ---
    floor = "floor: bare Flask + ORM INSERT/commit"
    synced = any(x in durable for x in ("synchronous=FULL", "synchronous=EXTRA", "synchronous_commit=on"))
    api_note = (f"POST /api/v1/cases, one case per request, {requests_per_run} requests per run, keep-alive "
                "sessions. Every request is a commit: the store's engine (township.store.engine.make_engine, "
                f"the app's own) reports {durable}"
                + (" (the log is fsynced at every commit)" if synced else " (NOT a durable commit)")
                + ". Peer = the floor of a durable endpoint on the same stack: same Werkzeug threaded server, Bearer "
                "compared with a constant, JSON unvalidated, grid by one STRtree query, one SQLAlchemy ORM INSERT + "
                f"commit per request into a scratch table of the same store type and durability ({peer_durable}; "
                "SQLite: a scratch file next to the store). It skips the token lookup, validation, idempotency "
                "lookup, audit event and data-version bump that ours does, so a ratio < 1 is what those cost. "
                "Ratio = how many times better ours is (rate: ours ÷ peer; latency: peer ÷ ours).")
    for c in (1, 4):
        o, p = api[("ours", c)], api[("peer", c)]
        bad = sum((sum(b.values()) for b in o["bad"]), 0)
        pbad = sum((sum(b.values()) for b in p["bad"]), 0)
        extra = "" if not (bad or pbad) else f" Non-201 answers: ours {bad}, peer {pbad}."
        label = f"API ingest, {c} client{'s' if c > 1 else ''}"
        rows.append(_row(f"{label}: rate", statistics.median(o["rate"]), statistics.median(p["rate"]), floor,
                         "req/s", api_note + extra))
        (o50, o95), (p50, p95) = p50_p95(o["ms"]), p50_p95(p["ms"])
        rows.append(_row(f"{label}: latency p50", o50, p50, floor, "ms", api_note, higher_is_better=False))
        rows.append(_row(f"{label}: latency p95", o95, p95, floor, "ms", api_note, higher_is_better=False))

    pandas_name = "pandas read + geopandas.sjoin + to_sql"
    for fmt in ("csv", "xlsx"):
        rows.append(_row(
            f"bulk import {fmt.upper()}, {import_rows:,} rows", statistics.median(imports[("ours", fmt)]),
            statistics.median(imports[("peer", fmt)]), pandas_name, "rows/s",
            f"Ours: township.formats.imports.import_file (as `python -m township import`): read, validate every row "
            f"(pydantic), locate, write with audit events and idempotency lookups, one transaction, into the store. "
            f"Peer: pandas.read_{'csv' if fmt == 'csv' else 'excel'} + geopandas.sjoin(predicate='within') to the "
            f"level-3 grids + DataFrame.to_sql (one transaction, no validation) into a scratch table of the same "
            f"store type and durability. Grids loaded once outside the timing for both; median of {runs} runs, "
            f"fresh external ids each run. Ratio = ours ÷ peer rows/s."))

    for kind in ("dashboard", "wall"):
        f = fresh[kind]
        n = len(f["drawn"])
        seen = f"{n - f['missed']}/{n} seen" + (f" ({f['missed']} not within {FRESH_TIMEOUT_S:.0f} s)"
                                                 if f["missed"] else "")
        kept = f"camera kept {f['kept']}/{n}" + ("" if f.get("kept_at_end", True) else ", MOVED after the last")
        steps = []
        if f["sent"]:
            steps.append(f"the browser sent the map's callback (after its half-second version poll) at "
                         f"{statistics.median(f['sent']):.2f} s and had the answer at "
                         f"{statistics.median(f['answered']):.2f} s")
        if f["figure"]:
            steps.append(f"the point was in the figure's data at {statistics.median(f['figure']):.2f} s")
        fig = f"; medians: {', '.join(steps)}" if steps else ""
        where = ("the dashboard (/, 1600×1000, zoomed in with the mouse wheel and panned by a drag)"
                 if kind == "dashboard" else "the wall (/wall, 1920×1080, no tour)")
        note = (f"A case POSTed at a level-3 grid in view of {where}; time from sending the POST until MapLibre has "
                f"drawn the new point (queryRenderedFeatures of the cases layer at that spot). {seen}; {kept}"
                f"{fig}; the POST itself median {statistics.median(f['post']) * 1000:.0f} ms; page load to a drawn map "
                f"{f['load_s']:.1f} s. Budget ≤ {BUDGET_FRESH_S:.0f} s "
                f"({'met' if max(f['drawn']) <= BUDGET_FRESH_S else 'MISSED'} by the max). No peer: a page reloading "
                "itself every N seconds is a setting, not a measurement.")
        rows.append(_row(f"freshness, {kind}: median", statistics.median(f["drawn"]), None, None, "s", note))
        rows.append(_row(f"freshness, {kind}: max", max(f["drawn"]), None, None, "s", note))

    log_note = ("server log: no tracebacks or 5xx" if not problems
                else f"server log: {len(problems)} problem lines, first: {problems[0][:200]}")
    if peer_problems:
        log_note += f"; peer log: {len(peer_problems)} problem lines"
    rows.append(_row("server RSS after the API ingest", rss_after / MiB, None, None, "MiB",
                     f"psutil RSS of the app process and its children after the ingest runs (before them, after "
                     f"the freshness runs: {rss_before / MiB:.0f} MiB). docs/design.md §4: ≤ {BUDGET_RSS_MB:.0f} MB at "
                     f"township scale, ≤ 3 GB at city scale ({rss_after / 1e6:,.0f} MB here: "
                     f"{'within' if rss_after / 1e6 <= BUDGET_RSS_MB else 'over'} the township figure). No peer: "
                     f"the floor server serves no pages (it used {rss_peer / MiB:.0f} MiB). {log_note}."))
    return rows


# --- report ------------------------------------------------------------------

def num(x: float | None) -> str:
    if x is None:
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


HEADER = ["what", "ours", "peer", "unit", "ours × better", "peer is"]


def table(rows: list[Row]) -> tuple[str, list[str]]:
    """The markdown table and its numbered notes (each distinct note once)."""
    notes: list[str] = []
    cells = []
    for r in rows:
        if r["note"] not in notes:
            notes.append(r["note"])
        ref = notes.index(r["note"]) + 1
        cells.append([f"{r['what']} [{ref}]", num(r["ours"]), num(r["peer"]), r["unit"],
                      "—" if r["ratio"] is None else f"{r['ratio']:.2f}", r["peer_name"] or "—"])
    return markdown(HEADER, cells), [f"[{i}] {n}" for i, n in enumerate(notes, 1)]


def _scale_store(name: str, tmp: Path, in_place: bool) -> tuple[Path, str, dict[str, str]]:
    """grids_file, database_url and app env of a store made by ``bench/scale.py``.

    Unless ``in_place``, a SQLite store is copied (SQLite's online backup) into ``tmp`` first, so
    the bench rows never touch a store that other benchmarks may be reading at the same time.
    """
    import sqlite3

    from bench import scale  # written beside this file; imported only when asked for

    built = scale.build(name)
    grids_file, database_url = Path(built.grids_file), str(built.database_url)
    env = dict(scale.app_env(built))
    if not in_place and database_url.startswith("sqlite:///"):
        copy = tmp / "township.db"
        src = sqlite3.connect(f"file:{database_url.removeprefix('sqlite:///')}?mode=ro", uri=True)
        dst = sqlite3.connect(copy)
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        database_url = f"sqlite:///{copy}"
    env["DATABASE_URL"] = database_url
    return grids_file, database_url, env


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs of the ingest and the import (default 3)")
    ap.add_argument("--requests", type=int, default=300, help="API requests per run and client count (default 300)")
    ap.add_argument("--rows", type=int, default=10_000, help="rows per imported file (default 10,000)")
    ap.add_argument("--samples", type=int, default=5, help="cases posted per page for freshness (default 5)")
    ap.add_argument("--scale", help="a store made by bench/scale.py (township, county, city) instead of the "
                                    "township default; measured on a copy of it")
    ap.add_argument("--in-place", action="store_true",
                    help="with --scale: measure on the built store itself, not a copy (bench rows are removed after)")
    ap.add_argument("--out", type=Path, help="also write the markdown to this file")
    args = ap.parse_args(argv)

    kw = dict(runs=args.runs, requests_per_run=args.requests, import_rows=args.rows, fresh_samples=args.samples)
    with tempfile.TemporaryDirectory(prefix="bench_ingest_store_") as tmp:
        if args.scale:
            grids_file, database_url, app_env = _scale_store(args.scale, Path(tmp), args.in_place)
            label = f"bench/scale.py {args.scale} store" + (" (in place)" if args.in_place else " (a copy)")
        else:
            # the township default: the bundled grids, a fresh SQLite file the app seeds with the demo year
            grids_file, database_url, app_env = BUNDLED_GRIDS, f"sqlite:///{Path(tmp) / 'township.db'}", {}
            label = "township default (bundled Dalu grids, fresh SQLite store seeded by the app with the demo year)"
        rows = measure(grids_file, database_url, app_env, **kw)
    md, notes = table(rows)
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    text = [f"# Ingest and freshness ({label})", "",
            f"`{' '.join(['python -m bench.ingest', *(sys.argv[1:] if argv is None else argv)])}` "
            f"on {when}; machine: {machine()}.", "", md, "", *notes, ""]
    print("\n".join(text))
    if args.out:
        args.out.write_text("\n".join(text), encoding="utf-8")


if __name__ == "__main__":
    main()
