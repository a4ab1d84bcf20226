"""What one filter change costs: server time and bytes, ours (a Patch) against the naive full figure.

docs/design.md §4 budgets a filter change at township scale (146 grids, 10k cases)
to **≤ 20 ms server time at p95** and **≤ 50 kB on the wire**. This script
measures both, in one run, beside the naive way of resending the whole figure:

1. **Store.** A fresh SQLite file in a temp dir, with the bundled Dalu grids
   and resources and ``township.runtime.demo.seed_demo(..., scale=N)``: by default
   scale 1 (the demo year, about 1,000 cases) and scale 10 (about 10,000,
   the township column of §4), one store and one app process each.
2. **Server.** The real app (``app.py``) in its own process on that file, as
   ``tests/conftest.py``'s ``LiveServer`` starts it (Werkzeug, Flask-Compress on).
3. **Request bodies.** Headless Chromium (Playwright, Debian's chromium) opens
   the page and clicks a level radio; the POST ``/_dash-update-component``
   whose outputs include ``map-graph.figure`` (the callback on the ``state``
   store) is captured, as is the page render POST (``page.children``, which
   carries the full figure). Also recorded: what that one click cost in the
   browser (every update request it caused, bytes as Chromium received them).
4. **Replay.** Both bodies are replayed for a fixed list of varied filter
   states (villages, level, domains, types, warning levels, window, measure,
   layers, an open grid panel; the default and the heaviest first), all
   variants interleaved per state so that a noisy neighbour hits ours and the
   naive request alike:
   - over HTTP with ``urllib``, ``Accept-Encoding: gzip``, and for ours also
     ``identity`` and what Chromium sends (which gets zstd): the client's wall time
     on loopback (a new connection each time, as the Werkzeug server gives
     the browser), and the response body as sent;
   - through Flask's test client on the same store in this process (gzip):
     the same request handling without a socket, i.e. the server time.
5. **In process.** ``township.read.views.make_view``,
   ``layers.mapfig.map_updates`` and the two bar charts alone; then the map
   output serialised as Dash does (``plotly.io.json.to_json_plotly``), once as
   the ``Patch`` ``callbacks.dashboard.on_state`` sends and once as
   ``ui.dashboard.map_figure`` (the naive way; the callback's other outputs
   are the same either way).

Every timing is run ``--runs`` times over the same states; the table shows the
median across runs of each run's p50 and p95. The machine is shared, so the
ratios (ours ÷ naive, measured side by side) matter more than the milliseconds.

Run: ``cd /work/main && .venv/bin/python -m bench.filter_bench [--scale 1 10] [--states 20] [--runs 3]``
(about 1½ minutes on an idle 2-core machine). Needs what ``make test`` installs:
Playwright, pytest (the app is started by ``tests.conftest.LiveServer``) and
Debian's chromium. Prints the tables and writes them to ``bench/filter-results.md``; ``bench.run``
runs it at every scale with the other measurements.
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from dash import Dash, Patch
from plotly.io.json import to_json_plotly

from app import app_context, create_app, settle
from layers.mapfig import apply_updates, map_updates
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer
from township.config import Settings
from township.domain.filters import LAYERS, MEASURES, WINDOWS, FilterState
from township.domain.vocab import CASE_STATUSES, CASE_TYPES, DOMAINS, WARNING_LEVELS
from township.grids.model import GridSet
from township.read.views import View, make_view, shown_ids
from township.runtime.bootstrap import AppContext, open_township
from township.runtime.demo import seed_demo
from ui import dashboard as ui
from ui import ids

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "filter-results.md"
UPDATE = "/_dash-update-component"
MAP_OUTPUT = f"{ids.MAP}.figure"
PAGE_OUTPUT = f"{ids.PAGE}.children"
#: The map's traces, in layers.mapfig order.
TRACE_NAMES = ("town", "villages", "grids", "overdue", "cases", "warnings", "resources", "radius")
BUDGET_MS, BUDGET_BYTES = 20.0, 50_000
#: The viewer: the command centre, which sees officers' names (no sign-in in the way).
ROLE = "command"
#: The app process: no demo feed, so the data holds still while it is measured.
APP_ENV = {"DEMO_FEED": "0", "DEFAULT_ROLE": ROLE}
#: The live-update store a half-second interval refreshes: not part of a filter change.
LIVE_TICK = f"{getattr(ids, 'VERSION', 'live-version')}.data"


# --- filter states -----------------------------------------------------------

def sample_states(gs: GridSet, n: int, seed: int = 7) -> list[FilterState]:
    """``n`` varied filter states: the default and the heaviest first, then random ones."""
    rnd = random.Random(seed)
    villages = gs.ids(level=2)
    states = [FilterState(), FilterState(level=3, window="all")]
    while len(states) < n:
        level = rnd.choice((1, 2, 3))
        village = rnd.sample(villages, rnd.choice((0, 0, 1, 1, 2, 3)))
        grid = rnd.choice(shown_ids(gs, 3, village)) if level == 3 and rnd.random() < 0.25 else None
        states.append(FilterState(
            village=village, level=level, grid=grid,
            domain=rnd.sample(list(DOMAINS), rnd.choice((0, 0, 1, 2))),
            status=rnd.sample(list(CASE_STATUSES), rnd.choice((0, 0, 0, 2))),
            type=rnd.sample(list(CASE_TYPES), rnd.choice((0, 0, 0, 1))),
            wlevel=rnd.sample(list(WARNING_LEVELS), rnd.choice((0, 0, 1, 2))),
            window=rnd.choice(list(WINDOWS)),
            measure=rnd.choice(MEASURES),
            layers=rnd.choice([list(LAYERS)] * 4 + [["cases"], ["warnings", "resources"], []]),
        ))
    return states


# --- the browser: what it sends ----------------------------------------------

@dataclass(frozen=True)
class Captured:
    """Request bodies the browser sent, and what one filter click cost it."""

    path: str  # the update URL as the browser wrote it (path and query)
    filter_body: dict  # the callback on the state store (map Patch, headline, charts, ...)
    page_body: dict  # the page render callback (the full figure inside the page)
    click_requests: list[tuple[str, int, str]]  # (outputs, response bytes received, content-encoding)


def _is_update(request, output: str = "") -> bool:
    return urlsplit(request.url).path == UPDATE and output in (request.post_data or "")


#: The map has drawn once MapLibre has loaded its style and tiles (as tests/test_browser.py waits).
MAP_DRAWN = f"""() => {{
    const gd = document.querySelector('#{ids.MAP} .js-plotly-plot');
    const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return m && m.map && m.map.loaded() && m.map.areTilesLoaded();
}}"""


def capture(url: str) -> Captured:
    """Open the page in headless Chromium, click a level radio, keep the update POSTs."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
            page.set_default_timeout(300_000)  # a city's first page takes a while on a small machine
            with page.expect_request(lambda r: _is_update(r, PAGE_OUTPUT)) as first:
                page.goto(url + "/")
            page.wait_for_function(MAP_DRAWN, timeout=600000)
            # the half-second live check can keep the network from ever being idle
            with contextlib.suppress(PlaywrightTimeout):
                page.wait_for_load_state("networkidle", timeout=10000)
            done: list = []
            page.on("requestfinished", lambda r: done.append(r) if _is_update(r) else None)
            # Level 3 (the default is 2); on a loaded machine a click can get lost while the
            # page is still busy, so try level 1 next.
            for radio in (2, 0, 2):
                try:
                    with page.expect_response(lambda r: _is_update(r.request, MAP_OUTPUT), timeout=15000) as changed:
                        page.locator(f"#{ids.F_LEVEL} label").nth(radio).click()
                    break
                except PlaywrightTimeout:
                    done.clear()
            else:
                raise RuntimeError("no filter-change request after three clicks on the level radio")
            page.wait_for_timeout(1500)  # the table asks for its first block after the views
            click = [(json.loads(r.post_data)["output"].strip("."), r.sizes()["responseBodySize"],
                      r.response().headers.get("content-encoding", "identity"))
                     for r in done if not _is_update(r, f'"{LIVE_TICK}"')]
            request = changed.value.request
            url_parts = urlsplit(request.url)
            return Captured(url_parts.path + (f"?{url_parts.query}" if url_parts.query else ""),
                            request.post_data_json, first.value.post_data_json, click)
        finally:
            browser.close()


# --- replaying the requests -------------------------------------------------

#: One way of sending a request: (path, body, Accept-Encoding) -> (response body as sent, Content-Encoding).
Send = Callable[[str, bytes, str], tuple[bytes, str]]


def over_http(base: str) -> Send:
    """Send to the app process over loopback, a new connection each time (as the browser got)."""
    def send(path: str, body: bytes, encoding: str) -> tuple[bytes, str]:
        req = urllib.request.Request(base + path, data=body, headers={
            "Content-Type": "application/json", "Accept": "application/json", "Accept-Encoding": encoding})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read(), resp.headers.get("Content-Encoding", "identity")
    return send


def in_flask(app: Dash) -> Send:
    """Send through Flask's test client: the same request handling, no socket."""
    client = app.server.test_client()

    def send(path: str, body: bytes, encoding: str) -> tuple[bytes, str]:
        resp = client.post(path, data=body, headers={
            "Content-Type": "application/json", "Accept": "application/json", "Accept-Encoding": encoding})
        assert resp.status_code == 200, resp.get_data()[:300]
        return resp.get_data(), resp.headers.get("Content-Encoding", "identity")
    return send


def _input(body: dict, component: str, prop: str) -> dict:
    return next(i for i in body["inputs"] if i["id"] == component and i["property"] == prop)


def bodies(cap: Captured, state: FilterState) -> dict[str, bytes]:
    """The two replayed bodies for ``state``: ours sets the store, the naive one the URL query."""
    ours = json.loads(json.dumps(cap.filter_body))
    _input(ours, ids.STATE, "data")["value"] = state.model_dump()
    for held in ours.get("state", []):
        if held["id"] == ids.GRIDS_SENT:
            # A page that has shown level 3 once holds a big grid set's geometry: the steady state.
            held["value"] = True
    page = json.loads(json.dumps(cap.page_body))
    _input(page, ids.URL, "search")["value"] = state.to_query()
    return {"filter": json.dumps(ours).encode(), "page": json.dumps(page).encode()}


@dataclass
class Series:
    """Samples of one measured thing: per run, the times; per state, the bytes."""

    ms: list[list[float]] = field(default_factory=list)
    nbytes: list[int] = field(default_factory=list)


#: Accept-Encoding headers: none, gzip, and what Chromium sends (Flask-Compress then picks zstd).
ENCODINGS = {"identity": "identity", "gzip": "gzip", "chromium": "gzip, deflate, br, zstd"}
#: (transport, request, encoding) replayed per state, interleaved.
VARIANTS = [("http", "filter", "identity"), ("http", "filter", "gzip"), ("http", "filter", "chromium"),
            ("http", "page", "gzip"), ("flask", "filter", "gzip"), ("flask", "page", "gzip")]


def replay(sends: dict[str, Send], cap: Captured, states: list[FilterState], runs: int
           ) -> tuple[dict[tuple[str, str, str], Series], list[bytes]]:
    """Replay every state with every variant, ``runs`` times; also return ours' raw bodies."""
    series = {v: Series() for v in VARIANTS}
    raw_ours: list[bytes] = []
    payloads = [bodies(cap, s) for s in states]
    for transport, kind, enc in VARIANTS:  # warm up, and check the answer is what we think it is
        data, got = sends[transport](cap.path, payloads[1][kind], ENCODINGS[enc])
        if enc == "chromium":
            assert got in ("zstd", "br"), f"{transport} {kind}/{enc}: server sent {got}"
            continue
        assert got == enc, f"{transport} {kind}/{enc}: server sent {got}"
        text = gzip.decompress(data) if got == "gzip" else data
        out = json.loads(text)["response"]
        if kind == "filter":
            assert ids.MAP in out and b"__dash_patch_update" in text, text[:300]
        else:
            assert ids.PAGE in out and ids.MAP.encode() in text, text[:300]
    for run in range(runs):
        for ser in series.values():
            ser.ms.append([])
        for payload in payloads:
            for variant in VARIANTS:
                transport, kind, enc = variant
                t0 = time.perf_counter()
                data, _ = sends[transport](cap.path, payload[kind], ENCODINGS[enc])
                series[variant].ms[-1].append((time.perf_counter() - t0) * 1000)
                if run == 0:
                    series[variant].nbytes.append(len(data))
                    if variant == ("http", "filter", "identity"):
                        raw_ours.append(data)
    return series, raw_ours


# --- in process --------------------------------------------------------------

def map_output_json(view: View, ctx: AppContext, full: bool) -> bytes:
    """The map output of the state callback, serialised as Dash does.

    ``full=False`` is ours, as ``callbacks.dashboard.on_state`` builds it: a
    ``Patch`` of ``map_updates`` and the view. ``full=True`` is the naive
    way: ``ui.dashboard.map_figure``, the whole figure with its geometry. The
    callback's other outputs are the same either way (the HTTP rows carry them).
    """
    gs, role, state = ctx.township.gridset, ROLE, view.state
    if full:
        figure = ui.map_figure(view, gs, role, ctx.settings.tile_url, ctx.settings.tile_attribution)
    else:
        figure = Patch()
        apply_updates(figure, map_updates(view, gs))
        center, zoom, revision = ui.map_view(state, gs)
        figure["layout"]["map"]["uirevision"] = revision
        figure["layout"]["map"]["center"] = center
        figure["layout"]["map"]["zoom"] = zoom
    return to_json_plotly({ids.MAP: {"figure": figure}}).encode()


def full_figure_bytes(ctx: AppContext) -> int:
    """Gzip size of the whole map figure: every level's geometry, ids and names, and the default view's data.

    docs/design.md §4 holds a city's filter change to 2 % of this. The page render is
    smaller at city scale only because it already leaves the level-3 geometry out.
    """
    gs = ctx.township.gridset
    view = make_view(ctx.township.snapshot(), gs, FilterState())
    figure = ui.map_figure(view, gs, ROLE, ctx.settings.tile_url, ctx.settings.tile_attribution,
                           inline_grids=len(gs))
    return len(gzip.compress(to_json_plotly({ids.MAP: {"figure": figure}}).encode()))


def measure_inprocess(ctx: AppContext, states: list[FilterState], runs: int) -> dict[str, Series]:
    """Time make_view, map_updates, the charts and the map output (ours and naive) per state."""
    tw, gs = ctx.township, ctx.township.gridset
    series = {k: Series() for k in ("make_view", "map_updates", "charts", "ours", "naive")}

    def timed(name: str, run: int, fn: Callable[[], object]) -> object:
        t0 = time.perf_counter()
        out = fn()
        series[name].ms[-1].append((time.perf_counter() - t0) * 1000)
        if run == 0 and isinstance(out, bytes):
            series[name].nbytes.append(len(out))
        return out

    for s in states[:3]:  # warm up
        view = make_view(tw.snapshot(), gs, s)
        map_output_json(view, ctx, full=False), map_output_json(view, ctx, full=True)
    for run in range(runs):
        for ser in series.values():
            ser.ms.append([])
        for s in states:
            # timed() calls each function at once; the defaults bind this state's s and view all the same.
            view = timed("make_view", run, lambda s=s: make_view(tw.snapshot(), gs, s))
            timed("map_updates", run, lambda view=view: map_updates(view, gs))
            timed("charts", run, lambda view=view: (ui.domain_chart(view), ui.village_chart(view, gs)))
            timed("ours", run, lambda view=view: map_output_json(view, ctx, full=False))
            timed("naive", run, lambda view=view: map_output_json(view, ctx, full=True))
    return series


# --- where the bytes go ------------------------------------------------------

def byte_parts(body: bytes) -> dict[str, bytes]:
    """Split one state-callback response into named parts (map patch by trace and attribute)."""
    parts: dict[str, bytes] = {}
    for comp, props in json.loads(body)["response"].items():
        for prop, value in props.items():
            if comp == ids.MAP:
                for op in value["operations"]:
                    loc = op["location"]
                    name = (f"map {TRACE_NAMES[loc[1]]}.{loc[2]}" if loc[0] == "data" else "map layout")
                    parts[name] = parts.get(name, b"") + to_json_plotly(op).encode()
            else:
                parts[f"{comp}.{prop}"] = to_json_plotly(value).encode()
    return parts


def breakdown(bodies_: list[bytes], top: int = 10) -> list[list[str]]:
    """Top parts by raw bytes, summed over all states: share, raw and gzip (each part alone)."""
    raw: dict[str, int] = defaultdict(int)
    gz: dict[str, int] = defaultdict(int)
    for body in bodies_:
        for name, data in byte_parts(body).items():
            raw[name] += len(data)
            gz[name] += len(gzip.compress(data))
    total = sum(len(b) for b in bodies_)
    n = len(bodies_)
    rows = [[name, f"{100 * raw[name] / total:.0f} %", kb(raw[name] / n), kb(gz[name] / n)]
            for name in sorted(raw, key=raw.get, reverse=True)[:top]]
    rest = total - sum(raw[name] for name in sorted(raw, key=raw.get, reverse=True)[:top])
    rows.append(["(everything else, JSON framing)", f"{100 * rest / total:.0f} %", kb(rest / n), ""])
    return rows


# --- report ------------------------------------------------------------------

def p50_p95(runs: list[list[float]]) -> tuple[float, float]:
    """Median across runs of each run's p50 and p95."""
    p50 = statistics.median(statistics.median(r) for r in runs)
    p95 = statistics.median(statistics.quantiles(r, n=20, method="inclusive")[18] for r in runs)
    return p50, p95


def kb(n: float) -> str:
    return f"{n / 1000:.1f} kB"


def ms(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "—"


def bytes_p(s: Series) -> tuple[float, float]:
    return statistics.median(s.nbytes), statistics.quantiles(s.nbytes, n=20, method="inclusive")[18]


def scale_rows(label: str, wire: dict, inproc: dict, budget_ms: float = BUDGET_MS,
               budget_bytes: float = BUDGET_BYTES) -> tuple[list[list[str]], list[str]]:
    """Table rows of one scale, and the budget verdicts."""
    rows: list[list[str]] = []

    def row(what: str, s: Series) -> None:
        t50, t95 = p50_p95(s.ms)
        b50, b95 = bytes_p(s) if s.nbytes else (None, None)
        rows.append(["" if rows else label, what, ms(t50), ms(t95),
                     "—" if b50 is None else kb(b50), "—" if b95 is None else kb(b95)])

    def ratios(what: str, ours: Series, naive: Series) -> None:
        (o50, o95), (n50, n95) = p50_p95(ours.ms), p50_p95(naive.ms)
        (ob50, ob95), (nb50, nb95) = bytes_p(ours), bytes_p(naive)
        rows.append(["", what, ratio(o50, n50), ratio(o95, n95), ratio(ob50, nb50), ratio(ob95, nb95)])

    row("HTTP filter change (Patch), identity", wire[("http", "filter", "identity")])
    row("HTTP filter change (Patch), gzip", wire[("http", "filter", "gzip")])
    row("HTTP filter change (Patch), as Chromium asks (zstd)", wire[("http", "filter", "chromium")])
    row("HTTP naive: page render (full figure), gzip", wire[("http", "page", "gzip")])
    row("Flask test client filter change (Patch), gzip", wire[("flask", "filter", "gzip")])
    row("Flask test client naive page render, gzip", wire[("flask", "page", "gzip")])
    row("in-process make_view", inproc["make_view"])
    row("in-process map_updates", inproc["map_updates"])
    row("in-process domain + village charts", inproc["charts"])
    row("in-process map output → JSON (Patch)", inproc["ours"])
    row("in-process naive map output → JSON (map_figure)", inproc["naive"])
    ratios("ratio ours ÷ naive, HTTP gzip", wire[("http", "filter", "gzip")], wire[("http", "page", "gzip")])
    ratios("ratio ours ÷ naive, in-process map output", inproc["ours"], inproc["naive"])

    _, http95 = p50_p95(wire[("http", "filter", "gzip")].ms)
    _, flask95 = p50_p95(wire[("flask", "filter", "gzip")].ms)
    _, b95 = bytes_p(wire[("http", "filter", "gzip")])
    verdicts = [
        f"{label}: server time p95 {ms(flask95)} ms in the app (Flask test client), {ms(http95)} ms over HTTP "
        f"({'meets' if flask95 <= budget_ms else 'MISSES'} ≤ {budget_ms:.0f} ms); "
        f"bytes p95 {kb(b95)} gzip ({'meets' if b95 <= budget_bytes else 'MISSES'} ≤ {kb(budget_bytes)})"
    ]
    return rows, verdicts


HEADER = ["scale", "what", "p50 ms", "p95 ms", "bytes p50", "bytes p95"]
PARTS_HEADER = ["part of the filter-change response", "share", "raw / change", "gzip alone / change"]


def plain(header: list[str], rows: list[list[str]]) -> str:
    """An aligned plain-text table: text columns left, numbers right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def markdown(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                      *("| " + " | ".join(r) + " |" for r in rows)])


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor() or "?")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}, {platform.platform()}; "
            f"load average at the end {load}")


# --- main --------------------------------------------------------------------

def log(started: float, message: str) -> None:
    print(f"[{time.perf_counter() - started:4.0f} s] {message}", file=sys.stderr, flush=True)


def prepare_app(db: Path, scale: float) -> Dash:
    """A fresh store with ``scale`` demo years, and the app on it in this process.

    The app process started afterwards on the same file finds the cases and seeds nothing.
    """
    ctx = open_township(Settings(database_url=f"sqlite:///{db}", seed_demo=False))
    seed_demo(ctx.township.engine, ctx.township.gridset, scale=scale)
    ctx.township.engine.dispose()
    return create_app(Settings(database_url=f"sqlite:///{db}", role=ROLE))


@dataclass
class Measured:
    """One store's filter-change figures: table rows, verdicts, byte breakdown and the key numbers."""

    rows: list[list[str]]
    verdicts: list[str]
    parts: list[list[str]]
    #: server time p50/p95 (Flask test client, gzip) of ours and of the naive page render,
    #: bytes p50/p95 (gzip), and the naive page's bytes p50
    server_ms: tuple[float, float]
    naive_ms: tuple[float, float]
    nbytes: tuple[float, float]
    naive_bytes: float
    #: gzip bytes of the whole figure (`full_figure_bytes`)
    full_bytes: float
    #: the server process's RSS after the replay, MB
    rss_mb: float


def measure(label: str, app: Dash, server: LiveServer, states: list[FilterState], runs: int,
            cap: Captured | None, started: float, budget_ms: float = BUDGET_MS,
            budget_bytes: float | None = None, floor_bytes: float = 0.0) -> tuple[Measured, Captured]:
    """Replay ``states`` against ``server`` (and ``app`` in process, on the same store); time the pieces.

    ``budget_bytes`` None means the city rule of docs/design.md §4: 2 % of the full figure (:func:`full_figure_bytes`),
    or ``floor_bytes`` when that is more.
    """
    import psutil

    settle(app)  # as the server process does before it serves
    log(started, f"{label}: starting the app")
    server.start(timeout=600)
    try:
        if cap is None:
            log(started, "capturing the browser's requests")
            cap = capture(server.url)
        log(started, f"replaying {len(states)} states × {len(VARIANTS)} variants × {runs} runs")
        wire, raw_ours = replay({"http": over_http(server.url), "flask": in_flask(app)}, cap, states, runs)
        rss = psutil.Process(server.proc.pid).memory_info().rss / 1e6
    except Exception:
        print(f"app log, last lines:\n{server.log.read_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        server.stop()
    log(started, "timing the pieces in process")
    ctx = app_context(app.server)
    inproc = measure_inprocess(ctx, states, runs)
    naive = bytes_p(wire[("http", "page", "gzip")])[0]
    full = full_figure_bytes(ctx)
    rows, verdicts = scale_rows(label, wire, inproc, budget_ms, budget_bytes or max(0.02 * full, floor_bytes))
    return Measured(rows, verdicts, breakdown(raw_ours), p50_p95(wire[("flask", "filter", "gzip")].ms),
                    p50_p95(wire[("flask", "page", "gzip")].ms), bytes_p(wire[("http", "filter", "gzip")]), naive,
                    full, rss), cap


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, nargs="+", default=[1.0, 10.0],
                    help="demo years seeded, one store per value (default: 1 10)")
    ap.add_argument("--states", type=int, default=20, help="filter states replayed per run (default 20)")
    ap.add_argument("--runs", type=int, default=3, help="runs over the states; medians across runs (default 3)")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    cap: Captured | None = None
    rows: list[list[str]] = []
    verdicts: list[str] = []
    parts: list[tuple[str, list[list[str]]]] = []
    for scale in args.scale:
        with tempfile.TemporaryDirectory(prefix="filter_bench_") as tmp:
            server = LiveServer(Path(tmp), APP_ENV)
            app = prepare_app(server.db, scale)
            ctx = app_context(app.server)
            states = sample_states(ctx.township.gridset, args.states)
            label = f"{scale:g}× ({len(ctx.township.snapshot().cases):,} cases)"
            m, cap = measure(label, app, server, states, args.runs, cap, started, budget_bytes=BUDGET_BYTES)
            ctx.township.engine.dispose()
        rows += m.rows
        verdicts += m.verdicts
        parts.append((label, m.parts))

    assert cap is not None
    click = ", ".join(f"{out.split('...')[0]}… {kb(n)} {enc}" for out, n, enc in cap.click_requests)
    notes = [
        f"{args.states} filter states × {args.runs} runs per scale; times are the median across runs of "
        "each run's p50/p95; bytes are over the states (response body as sent).",
        "HTTP time is the client's wall time on loopback to the app process (new connection each request, "
        "Werkzeug as `make run` serves it); Flask test client time is the same request handled in this process "
        "without a socket: the server time.",
        "In-process map output: only the map-graph.figure output (the callback's other outputs are the same "
        "either way), from a ready view. The naive HTTP request is the page render: the full figure plus the "
        "rest of the page.",
        f"One level click (town, level 2 → 3) in Chromium at {args.scale[0]:g}× sent {len(cap.click_requests)} "
        f"update requests: {click}.",
    ]
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    text = [f"{when} · {machine()}", "", plain(HEADER, rows), "", *verdicts, ""]
    for label, prow in parts:
        text += [f"Where the bytes go, {label} (mean per filter change, identity):", plain(PARTS_HEADER, prow), ""]
    text += notes
    print("\n".join(text))

    md = [
        "# Filter-change benchmark (docs/design.md §4)", "",
        f"Generated by `{' '.join(['python -m bench.filter_bench', *(sys.argv[1:] if argv is None else argv)])}`"
        f" on {when}.", "",
        f"Machine: {machine()}.", "",
        markdown(HEADER, rows), "",
        *(f"- {v}" for v in verdicts), "",
    ]
    for label, prow in parts:
        md += [f"## Where the bytes go, {label}", "", "Mean per filter change, identity encoding.", "",
               markdown(PARTS_HEADER, prow), ""]
    md += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    RESULTS.write_text("\n".join(md), encoding="utf-8")
    log(started, f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
