"""Cold load in headless Chromium: ours against folium and pyecharts on the same grids and points.

docs/design.md §4 budgets a cold load to a drawn map at ≤ 3 s (township) / ≤ 10 s
(city) and the server at ≤ 400 MB / ≤ 3 GB RSS. :func:`measure` starts the
app (``tests.conftest.LiveServer``, ``DEFAULT_ROLE=command``, ``DEMO_FEED=0``)
and builds two peer pages from the same data: the grids file's level-3
polygons and the cases of our default view (``FilterState()``: the 90-day
window plus every open case), as a folium page (``tiles=None``, ``GeoJson`` +
a ``CircleMarker`` per point) and a pyecharts ``Geo`` page (``registerMap`` +
scatter). The peers' CDN files come from npm (``npm pack``, cached in
``var/bench-assets/``) and are served from 127.0.0.1 by Flask with
Flask-Compress at its defaults, as ours is; any request leaving 127.0.0.1 is
blocked and fails the run.

Each run opens every page in a new browser context (cold cache), interleaved,
and records: the time from navigation start to the map drawn (polled per
frame, plus the frame that paints it); the response bytes as received
(``request.sizes()``) until then and 2 s later; the requests. Then the app's
RSS with its children (psutil). Rows are medians over the runs.

Run ``.venv/bin/python -m bench.cold_load [--runs 3] [--scale 1] [--screenshots DIR]``:
the bundled grids and a fresh SQLite store the app seeds with its demo year.
"""
from __future__ import annotations

import argparse
import contextlib
import html as html_lib
import json
import math
import mimetypes
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
from sqlalchemy import select

from bench.filter_bench import LIVE_TICK, MAP_DRAWN, log, machine, markdown
from layers.mapfig import MAX_CASE_POINTS, drawn_cases
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, free_port
from township.config import BUNDLED_GRIDS
from township.domain.filters import FilterState
from township.domain.vocab import CASE_STATUS_COLORS, CASE_STATUSES, CASE_TYPES, DOMAINS
from township.read.views import case_mask, overdue_mask
from township.store.engine import make_engine
from township.store.models import Case, utcnow
from ui import ids

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "var" / "bench-assets"
VIEWPORT = {"width": 1600, "height": 1000}
#: The app process: no demo feed (the data holds still), no sign-in in the way.
APP_ENV = {"DEFAULT_ROLE": "command", "DEMO_FEED": "0"}
#: A page not drawn by then is reported as such, not as an error.
TIMEOUT_S = 120.0
#: Bytes of the whole load: what has finished this long after the map was drawn.
SETTLE_S = 2.0
#: More case points than this: folium gets a FastMarkerCluster instead of one CircleMarker each.
FOLIUM_CIRCLE_MAX = 20_000
#: The echarts build behind pyecharts' ``assets.pyecharts.org/assets/v6/`` (pyecharts 2.1 targets echarts 6.0).
ECHARTS_VERSION = "6.0.0"
#: Ours: the callback outputs that carry the map figure (the page render, the state callback's map output).
FIGURE_OUTPUTS = (f'"{ids.PAGE}.children"', f"{ids.MAP}.figure")
LOCAL = re.compile(r"^http://127\.0\.0\.1[:/]")
#: Every URL that is not 127.0.0.1 (matched in the Playwright driver, so local requests are not slowed down).
NOT_LOCAL = re.compile(r"^(?!http://127\.0\.0\.1[:/]|data:|blob:)")


# --- the peers' assets, from npm --------------------------------------------

#: cdnjs library → (npm package, {file extension: folder inside the package}).
CDNJS = {
    "leaflet.markercluster": ("leaflet.markercluster", {"js": "dist/", "css": "dist/"}),
    # npm has no leaflet.awesome-markers 2.0.2 (2.0.0, 2.0.4, 2.0.5: forks); this is the 2.0.2 release.
    "Leaflet.awesome-markers": ("drmonty-leaflet-awesome-markers", {"js": "js/", "css": "css/"}),
}
def npm_source(url: str) -> tuple[str, str]:
    """The npm package (``name@version``) and the file in it that a CDN ``url`` serves.

    Raises ``KeyError`` for a URL it does not know, so that a new reference in
    folium or pyecharts fails loudly instead of loading from outside.
    """
    host, path = urlsplit(url).netloc, urlsplit(url).path
    if host == "cdn.jsdelivr.net" and path.startswith("/npm/"):
        parts = path[len("/npm/"):].split("/")
        n = 2 if parts[0].startswith("@") else 1
        return "/".join(parts[:n]), "/".join(parts[n:])
    if host == "cdnjs.cloudflare.com" and path.startswith("/ajax/libs/"):
        lib, version, *file = path[len("/ajax/libs/"):].split("/")
        name, folders = CDNJS[lib]
        return f"{name}@{version}", folders[file[-1].rsplit(".", 1)[1]] + "/".join(file)
    if host == "code.jquery.com" and (m := re.fullmatch(r"/jquery-(\d+\.\d+\.\d+)(\.min)?\.js", path)):
        return f"jquery@{m[1]}", f"dist/jquery{m[2] or ''}.js"
    if host == "assets.pyecharts.org" and path.startswith("/assets/v6/"):
        return f"echarts@{ECHARTS_VERSION}", "dist/" + path[len("/assets/v6/"):]
    raise KeyError(url)


def npm_fetch(spec: str) -> Path:
    """``npm pack`` ``spec`` once and unpack it under ``ASSETS/npm/<spec>/``; return that folder."""
    dest = ASSETS / "npm" / spec
    if (dest / "package.json").exists():
        return dest
    with tempfile.TemporaryDirectory(prefix="npm_pack_") as tmp:
        out = subprocess.run(["npm", "pack", spec, "--json", "--silent", "--pack-destination", tmp],
                             capture_output=True, text=True, check=True, timeout=300)
        tgz = Path(tmp) / json.loads(out.stdout)[0]["filename"]
        unpacked = Path(tmp) / "x"
        with tarfile.open(tgz) as tar:
            tar.extractall(unpacked, filter="data")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.move(str(unpacked / "package"), dest)
    return dest


def _glyphicons_css() -> str:
    """The Glyphicons rules of bootstrap 3.1.1 (npm has no 3.0.0, whose separate file folium names)."""
    css = (npm_fetch("bootstrap@3.1.1") / "dist" / "css" / "bootstrap.css").read_text(encoding="utf-8")
    start = css.index("@font-face {\n  font-family: 'Glyphicons Halflings'")
    end, last = css.index("}", start) + 1, 0
    # then the rules that follow it, as long as they are Glyphicons' own
    for rule in re.finditer(r"\s*([^{}]+)\{[^{}]*\}", css[end:]):
        if not rule[1].strip().startswith(".glyphicon"):
            break
        last = rule.end()
    return css[start:end + last] + "\n"


def _rotate_css() -> str:
    """folium's ``leaflet.awesome.rotate`` rules (``.fa-rotate-1`` … ``-360``), minified."""
    return "".join(f".fa-rotate-{d}{{-ms-transform:rotate({d}deg);-webkit-transform:rotate({d}deg);"
                   f"transform:rotate({d}deg)}}" for d in range(1, 361))


#: URLs of files no npm package holds → (local path, what stands in, how it is made).
STAND_INS: dict[str, tuple[str, str, Callable[[], str]]] = {
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css":
        ("npm/bootstrap@3.1.1/dist/css/bootstrap-glyphicons.css",
         "the Glyphicons rules of bootstrap@3.1.1's dist/css/bootstrap.css (3.0.0 is not on npm)", _glyphicons_css),
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css":
        ("extra/leaflet.awesome.rotate.min.css",
         "folium's .fa-rotate-1…360 rules rebuilt, minified (a GitHub file, not on npm)", _rotate_css),
}


def localise(page_html: str) -> tuple[str, list[str]]:
    """Rewrite every ``src``/``href`` CDN URL of ``page_html`` to its local copy (fetched if missing).

    Returns the page and the local paths it now references.
    """
    used: list[str] = []

    def local(m: re.Match) -> str:
        url = html_lib.unescape(m[2])
        if url in STAND_INS:
            path, _, make = STAND_INS[url]
            target = ASSETS / path
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(make(), encoding="utf-8")
        else:
            spec, file = npm_source(url)
            if not (npm_fetch(spec) / file).is_file():
                raise FileNotFoundError(f"{url}: npm {spec} has no {file}")
            path = f"npm/{spec}/{file}"
        used.append(path)
        return f'{m[1]}="/{path}"'

    out = re.sub(r'\b(src|href)="(https?://[^"]+)"', local, page_html)
    left = re.findall(r'\b(?:src|href)="(https?://[^"]+)"', out)
    if left:
        raise RuntimeError(f"URLs left pointing outside: {left}")
    return out, used


# --- the peers' server -------------------------------------------------------

def _serve(roots: dict[str, str], port: int) -> None:
    """Serve ``roots`` (URL prefix → folder) on 127.0.0.1:``port`` with Flask-Compress at its defaults."""
    import logging

    from flask import Flask, Response, abort
    from flask_compress import Compress
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # as app.py: no line per request
    app = Flask("cold_load_peers", static_folder=None)
    Compress(app)

    @app.get("/<prefix>/<path:rest>")
    def serve_file(prefix: str, rest: str) -> Response:
        base = roots.get(prefix)
        target = (Path(base) / rest).resolve() if base else None
        if target is None or not target.is_relative_to(Path(base).resolve()) or not target.is_file():
            abort(404)
        # Read and return the bytes, as Dash serves its component suites (Flask-Compress compresses them).
        mimetype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return Response(target.read_bytes(), mimetype=mimetype)

    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


class PeerServer:
    """The folium and pyecharts pages and their assets, from 127.0.0.1, in a process of their own."""

    def __init__(self, pages: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.roots = {"pages": str(pages), "npm": str(ASSETS / "npm"), "extra": str(ASSETS / "extra")}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> PeerServer:
        code = f"from bench.cold_load import _serve; _serve({self.roots!r}, {self.port})"
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                urllib.request.urlopen(self.url + "/", timeout=2).read()
                return self
            except urllib.error.HTTPError:  # it answers (404): up
                return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"the peers' server did not answer (exit code {self.proc.returncode})")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


# --- the same data for the peers ---------------------------------------------

@dataclass(frozen=True)
class PeerData:
    """What the peers draw: the level-3 grids and the case points of our default view."""

    grids: dict  # FeatureCollection, the grids file's level-3 features as they are
    points: pd.DataFrame  # lon, lat, status, domain, type
    n_cases: int  # every case in the store
    n_window: int  # the cases the default filter keeps (ours draws at most MAX_CASE_POINTS of them)
    window: str  # the default time window used


def peer_data(grids_file: Path, database_url: str) -> PeerData:
    """The level-3 grids of ``grids_file`` and, from the store, the case points our default view draws.

    The cases ``FilterState()`` keeps (``township.read.views.case_mask``), then the
    ones the map draws of them (``layers.mapfig.drawn_cases``: all, or the
    ``MAX_CASE_POINTS`` most urgent), with coordinates.
    """
    fc = json.loads(Path(grids_file).read_bytes())
    grids = {"type": "FeatureCollection",
             "features": [f for f in fc["features"] if (f.get("properties") or {}).get("level") == 3]}
    columns = [Case.id, Case.lon, Case.lat, Case.status, Case.domain, Case.type, Case.village_id, Case.reported_at,
               Case.deadline_at]
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            cases = pd.DataFrame(conn.execute(select(*columns)).all(), columns=[c.key for c in columns])
    finally:
        engine.dispose()
    for col in ("reported_at", "deadline_at"):
        cases[col] = pd.to_datetime(cases[col])
    state, now = FilterState(), utcnow()  # what the dashboard shows on arrival
    kept = cases[case_mask(cases, state, now)].reset_index(drop=True)
    shown = kept.iloc[drawn_cases(kept, overdue_mask(kept, now))]
    shown = shown[shown["lon"].notna() & shown["lat"].notna()]
    return PeerData(grids, shown[["lon", "lat", "status", "domain", "type"]].reset_index(drop=True),
                    len(cases), len(kept), state.window)


def _bounds(fc: dict) -> tuple[float, float, float, float]:
    import shapely
    from shapely.geometry import shape

    return shapely.total_bounds([shape(f["geometry"]) for f in fc["features"]])


def _tip(row) -> str:
    """A case point's tooltip: type · domain · status, as ours shows on hover (less the age)."""
    return " · ".join(vocab.get(code, {}).get("zh", code)
                      for vocab, code in ((CASE_TYPES, row.type), (DOMAINS, row.domain), (CASE_STATUSES, row.status)))


def folium_page(data: PeerData) -> tuple[str, str]:
    """The folium page (HTML with CDN URLs) and how its points were drawn."""
    import folium
    from folium.plugins import FastMarkerCluster

    x0, y0, x1, y1 = _bounds(data.grids)
    m = folium.Map(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=11, tiles=None)
    folium.GeoJson(
        data.grids, name="grids",
        style_function=lambda f: {"color": "#607D8B", "weight": 1, "fillColor": "#FFB74D", "fillOpacity": 0.35},
        tooltip=folium.GeoJsonTooltip(fields=["name"]),
    ).add_to(m)
    if len(data.points) <= FOLIUM_CIRCLE_MAX:
        how = "CircleMarker"
        for row in data.points.itertuples():
            folium.CircleMarker([row.lat, row.lon], radius=4, color=CASE_STATUS_COLORS[row.status], weight=1,
                                fill=True, fill_opacity=0.9, tooltip=_tip(row)).add_to(m)
    else:
        how = "FastMarkerCluster"
        FastMarkerCluster(data.points[["lat", "lon"]].to_numpy().tolist()).add_to(m)
    m.fit_bounds([[y0, x0], [y1, x1]])
    return m.get_root().render(), how


#: The pyecharts chart's id (its div and its ``chart_<id>`` variable).
CHART_ID = "cold"


def pyecharts_page(data: PeerData) -> str:
    """The pyecharts page (HTML with CDN URLs): the grids as a registered map, a scatter series per status."""
    from pyecharts import options as opts
    from pyecharts.charts import Geo
    from pyecharts.globals import ChartType

    geo = Geo(init_opts=opts.InitOpts(width="100%", height=f"{VIEWPORT['height']}px", chart_id=CHART_ID,
                                      page_title="pyecharts"))
    geo.add_geo_json(data.grids)
    geo.add_schema(maptype="township-grids", name_property="name",
                   itemstyle_opts=opts.ItemStyleOpts(color="#FFE0B2", border_color="#607D8B", border_width=0.6),
                   label_opts=opts.LabelOpts(is_show=False))
    pts = data.points
    for i, (lon, lat) in enumerate(zip(pts["lon"].tolist(), pts["lat"].tolist(), strict=True)):
        geo.add_coordinate(f"c{i}", lon, lat)
    for status, group in pts.groupby("status", sort=False):
        geo.add(CASE_STATUSES[status]["zh"], [(f"c{i}", 1) for i in group.index], type_=ChartType.SCATTER,
                symbol_size=6, color=CASE_STATUS_COLORS[status], is_large=True,
                label_opts=opts.LabelOpts(is_show=False))
    geo.set_global_opts(title_opts=opts.TitleOpts(title="网格与事件"))
    # The measurement's hook: registered before setOption, so it sees the first render.
    geo.add_js_funcs(f"chart_{CHART_ID}.on('rendered', function () {{ window.__ecRendered = window.__ecRendered"
                     f" || performance.now(); }}); chart_{CHART_ID}.on('finished', function () {{"
                     f" window.__ecFinished = window.__ecFinished || performance.now(); }});")
    return _render(geo)


def _render(chart) -> str:
    with tempfile.TemporaryDirectory(prefix="pyecharts_") as tmp:
        return Path(chart.render(str(Path(tmp) / "p.html"))).read_text(encoding="utf-8")


# --- the browser -------------------------------------------------------------

def _drawn(condition: str) -> str:
    """A predicate polled per frame: once ``condition()`` returns a truthy value, two frames later
    (the painted frame) it returns that value with ``t``, ms since navigation start."""
    return f"""() => {{
        if (window.__coldDrawn) return window.__coldDrawn;
        if (!window.__coldPending) {{
            let r = false;
            try {{ r = ({condition})(); }} catch (e) {{ r = false; }}
            if (r) {{
                window.__coldPending = true;
                requestAnimationFrame(() => requestAnimationFrame(() => {{
                    window.__coldDrawn = Object.assign({{}}, r, {{t: performance.now()}});
                }}));
            }}
        }}
        return false;
    }}"""


#: Ours: MapLibre loaded with its tiles, points in the case trace, and rendered polygons and case circles.
#: On the way it notes when the picture of the map (ui/dashboard.py map_pictures) was on the screen with its
#: villages and case dots (``picture``: assets/mapview.js marks it two frames after painting it), when Plotly had
#: made the map (``plot``) and when MapLibre was first loaded (``tiles``).
OURS_DRAWN = _drawn(f"""() => {{
    const st = window.__coldStages = window.__coldStages || {{}};
    const pic = document.querySelector('.map-picture.map[data-painted]');
    const shown = performance.getEntriesByName('map-picture:map')[0];
    if (!st.seen && pic && shown && pic.getBoundingClientRect().width > 0) {{
        st.seen = JSON.parse(pic.getAttribute('data-painted'));  // areas or dots by trace
        if (st.seen.villages && st.seen.cases) st.picture = shown.startTime;
    }}
    const gd = document.querySelector('#{ids.MAP} .js-plotly-plot');
    if (!st.plot && gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot)
        st.plot = performance.now();
    if (!({MAP_DRAWN})()) return false;
    if (!st.tiles) st.tiles = performance.now();
    const map = gd._fullLayout.map._subplot.map;
    const fd = gd._fullData;
    const cases = fd.find(t => t.name === 'cases');
    const n = cases && cases.visible === true && cases.lon ? Array.from(cases.lon).filter(Number.isFinite).length : 0;
    if (!n) return false;
    const fills = fd.filter(t => t.type === 'choroplethmap' && t.visible === true && t.name !== 'town')
        .map(t => 'plotly-trace-layer-' + t.uid + '-fill').filter(id => map.getLayer(id));
    const circle = 'plotly-trace-layer-' + cases.uid + '-circle';
    if (!fills.length || !map.getLayer(circle)) return false;
    const polygons = map.queryRenderedFeatures({{layers: fills}}).length;
    const circles = map.queryRenderedFeatures({{layers: [circle]}}).length;
    return polygons > 0 && circles > 0 ? {{points: n, polygons: polygons, circles: circles, plot: st.plot,
                                          tiles: st.tiles, picture: st.picture,
                                          picture_dots: st.seen && st.seen.cases}} : false;
}}""")

#: folium: a path per grid and per circle marker in the DOM (or, clustered, some cluster icons).
FOLIUM_DRAWN = _drawn("""() => {
    const need = window.__coldNeed;
    if (!document.querySelector('.leaflet-container')) return false;
    const paths = document.querySelectorAll('path.leaflet-interactive').length;
    const icons = document.querySelectorAll('.leaflet-marker-icon').length;
    return paths >= need.paths && icons >= need.icons ? {paths: paths, icons: icons, points: need.points} : false;
}""")

#: pyecharts: the chart's `finished` event, with every point in its series.
ECHARTS_DRAWN = _drawn(f"""() => {{
    if (!window.__ecFinished || !window.echarts) return false;
    const chart = echarts.getInstanceByDom(document.getElementById('{CHART_ID}'));
    const n = chart.getOption().series.reduce((s, x) => s + (x.data ? x.data.length : 0), 0);
    return n >= window.__coldNeed.points ? {{points: n, finished: window.__ecFinished,
                                           rendered: window.__ecRendered}} : false;
}}""")


#: The rows of the two times to a drawn map (bench/run.py holds them to docs/design.md §4's budgets): the map
#: as the server's picture of it, and as MapLibre's own drawing, which takes the operator's moves and clicks.
PICTURE_ROW = "cold load → map drawn (picture)"
INTERACTIVE_ROW = "cold load → interactive map"
PICTURE_BYTES_ROW = "bytes until the map is drawn"


@dataclass
class Load:
    """One cold load of one page."""

    drawn_s: float | None  # None: not drawn within the timeout
    bytes_drawn: int  # response bodies as received, finished by the drawn time
    bytes_total: int  # ... and by SETTLE_S later (the live check left out)
    requests_drawn: int
    requests_total: int
    info: dict = field(default_factory=dict)  # what the predicate saw
    map_data_s: float = 0.0  # ours: when plotly.js and the map figure had both arrived
    picture_s: float | None = None  # ours: when the server's picture of the map was painted (None: never)
    bytes_picture: int = 0  # ... and the response bodies finished by then
    encodings: dict[str, int] = field(default_factory=dict)  # bytes by Content-Encoding (bodies ≥ 1 kB)


def cold_load(browser, url: str, predicate: str, need: dict | None = None, timeout_s: float = TIMEOUT_S,
              screenshot: Path | None = None) -> Load:
    """Open ``url`` in a new browser context (cold cache) and time it to ``predicate``."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    outside: list[str] = []

    def block(route) -> None:
        outside.append(route.request.url)
        route.abort()

    context.route(NOT_LOCAL, block)
    if need is not None:
        context.add_init_script(f"window.__coldNeed = {json.dumps(need)};")
    page = context.new_page()
    page.on("request", lambda r: None if LOCAL.match(r.url) or r.url.startswith(("data:", "blob:"))
            else outside.append(r.url))
    finished: list = []
    failed: list = []
    page.on("requestfinished", lambda r: finished.append(r))
    page.on("requestfailed", lambda r: failed.append(r))
    try:
        try:
            deadline = time.monotonic() + timeout_s
            page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
            left_ms = max(1.0, (deadline - time.monotonic()) * 1000)
            info = page.wait_for_function(predicate, timeout=left_ms, polling="raf").json_value()
        except PlaywrightTimeout:
            info, error = None, f"did not draw in {timeout_s:.0f} s"
        except PlaywrightError as exc:  # the renderer ran out of memory, crashed ...
            info, error = None, f"failed: {str(exc).strip().splitlines()[0][:120]}"
        if outside:
            raise RuntimeError(f"{url}: requests outside 127.0.0.1: {sorted(set(outside))}")
        if info is None:
            if screenshot is not None:
                with contextlib.suppress(PlaywrightError):
                    page.screenshot(path=str(screenshot), timeout=30_000)
            return Load(None, 0, 0, 0, 0, {"error": error})
        page.wait_for_timeout(SETTLE_S * 1000)
        if screenshot is not None:
            page.screenshot(path=str(screenshot))
        origin = page.evaluate("performance.timeOrigin")
        drawn_at = origin + info["t"]
        if outside:
            raise RuntimeError(f"{url}: requests outside 127.0.0.1: {sorted(set(outside))}")
        if [r for r in failed if LOCAL.match(r.url)]:
            raise RuntimeError(f"{url}: failed requests {[(r.url, r.failure) for r in failed]}")
        load = Load(info["t"] / 1000, 0, 0, 0, 0, info)
        picture_at = origin + info["picture"] if info.get("picture") else None
        load.picture_s = info["picture"] / 1000 if picture_at else None
        errors = [(r.url, r.response().status) for r in finished
                  if r.url.startswith("http") and r.response() and r.response().status >= 400]
        if errors:
            raise RuntimeError(f"{url}: HTTP errors {errors}")
        for r in finished:
            if not r.url.startswith("http") or (r.post_data and f'"{LIVE_TICK}"' in r.post_data):
                continue  # a blob: worker; the half-second data-version check: not part of the load
            size = r.sizes()["responseBodySize"]
            end = r.timing["startTime"] + r.timing["responseEnd"]
            load.requests_total, load.bytes_total = load.requests_total + 1, load.bytes_total + size
            if picture_at is not None and end <= picture_at:
                load.bytes_picture += size
            if end <= drawn_at:
                load.requests_drawn, load.bytes_drawn = load.requests_drawn + 1, load.bytes_drawn + size
                if "plotly" in r.url or (r.post_data and any(m in r.post_data for m in FIGURE_OUTPUTS)):
                    load.map_data_s = max(load.map_data_s, (end - origin) / 1000)
                if size >= 1000:
                    enc = (r.response().headers.get("content-encoding") or "identity")
                    load.encodings[enc] = load.encodings.get(enc, 0) + size
        return load
    finally:
        context.close()


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` and all its children, MB."""
    import psutil

    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return total / 1e6


# --- measure -----------------------------------------------------------------

@dataclass
class Series:
    """One page, and its loads."""

    name: str
    path: str  # URL path on its server
    predicate: str  # JS: drawn yet?
    need: dict | None = None  # window.__coldNeed for the predicate
    note: str = ""  # how the page was built
    loads: list[Load] = field(default_factory=list)

    @property
    def drawn(self) -> bool:
        return bool(self.loads) and all(ld.drawn_s is not None for ld in self.loads)

    def median(self, attr: str) -> float | None:
        values = [getattr(ld, attr) for ld in self.loads]
        return statistics.median(values) if self.loads and None not in values else None


def _ratio(ours: float | None, peer: float | None) -> float | None:
    return ours / peer if ours is not None and peer and not math.isnan(ours) else None


def measure(grids_file: Path, database_url: str, app_env: dict[str, str], runs: int = 3, *,
            timeout_s: float = TIMEOUT_S, screenshot_dir: Path | None = None,
            started: float | None = None) -> list[dict]:
    """Cold-load ours, the folium page and the pyecharts page ``runs`` times each; medians.

    Parameters
    ----------
    grids_file : Path
        The grid GeoJSON the app loads (``GRIDS_FILE``); the peers draw its level-3 features.
    database_url : str
        The store. An empty one is seeded with the demo year by the app unless
        ``app_env`` says ``SEED_DEMO=0``; the peers' points are read from it
        after the app has started.
    app_env : dict
        More environment for the app process (``DEFAULT_ROLE=command`` and
        ``DEMO_FEED=0`` are always set).
    runs : int
        Cold loads of each page (each in a new browser context).
    timeout_s : float
        A page not drawn by then is reported as "did not draw", and not loaded again.
    screenshot_dir : Path, optional
        Where to save ``cold-ours.png``, ``cold-folium.png``, ``cold-pyecharts.png`` (the last load of each).

    Returns
    -------
    list[dict]
        Rows ``{what, ours, peer, peer_name, unit, ratio, note}``; ``ratio`` is ours ÷ peer.
    """
    from playwright.sync_api import sync_playwright

    started = time.perf_counter() if started is None else started
    if app_env.get("GRIDS_CRS", "wgs84").lower() not in ("wgs84", "cgcs2000"):
        raise ValueError("the peers draw the grids file as it is: it must be WGS84 lon/lat")
    env = {"GRIDS_FILE": str(grids_file), **app_env, **APP_ENV}
    with tempfile.TemporaryDirectory(prefix="cold_load_") as tmp_name:
        tmp = Path(tmp_name)
        server = LiveServer(tmp, env, database_url)
        log(started, f"starting the app on {database_url}")
        server.start(timeout=max(90.0, timeout_s * 5))
        try:
            data = peer_data(grids_file, database_url)
            log(started, f"building the peers: {len(data.grids['features']):,} grids, {len(data.points):,} points")
            pages, peers = build_peers(data, tmp / "pages")
            ours = Series("ours", "/", OURS_DRAWN)
            ours3 = Series("ours ?level=3", "/?level=3", OURS_DRAWN)
            with PeerServer(tmp / "pages") as peer_server, sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    # Interleaved, so that a busy moment of the shared machine hits every page alike.
                    for run in range(runs):
                        for series in (ours, ours3, *peers):
                            if series.loads and not series.drawn:
                                continue  # did not draw in time: once is enough
                            log(started, f"{series.name}: cold load {run + 1}/{runs}")
                            base = server.url if series in (ours, ours3) else peer_server.url
                            shot = (screenshot_dir / f"cold-{series.name}.png"
                                    if screenshot_dir and run == runs - 1 and series is not ours3 else None)
                            series.loads.append(cold_load(browser, base + series.path, series.predicate,
                                                          series.need, timeout_s, shot))
                    rss = rss_mb(server.proc.pid)
                finally:
                    browser.close()
        except Exception:
            print(f"app log, last lines:\n{server.log.read_text()[-4000:]}", file=sys.stderr)
            raise
        finally:
            server.stop()
    return _rows(ours, ours3, peers, rss, data, timeout_s)


def build_peers(data: PeerData, pages: Path) -> tuple[Path, list[Series]]:
    """Write the folium and pyecharts pages (assets made local) into ``pages``; their series to load."""
    pages.mkdir(parents=True, exist_ok=True)
    folium_html, folium_how = folium_page(data)
    folium_html, folium_assets = localise(folium_html)
    (pages / "folium.html").write_text(folium_html, encoding="utf-8")
    echarts_html, echarts_assets = localise(pyecharts_page(data))
    (pages / "pyecharts.html").write_text(echarts_html, encoding="utf-8")
    n_points, n_grids = len(data.points), len(data.grids["features"])
    if folium_how == "CircleMarker":
        folium_need = {"paths": n_grids + n_points, "icons": 0, "points": n_points}
    else:
        folium_need = {"paths": n_grids, "icons": 1, "points": n_points}
    kb = {name: (pages / f"{name}.html").stat().st_size / 1000 for name in ("folium", "pyecharts")}
    return pages, [
        Series("folium", "/pages/folium.html", FOLIUM_DRAWN, folium_need,
               f"folium {_version('folium')}: GeoJson of the grids (name tooltip) + a {folium_how} per point "
               f"(status colour, tooltip), tiles=None; HTML {kb['folium']:,.0f} kB raw, "
               f"{len(folium_assets)} CDN files made local"),
        Series("pyecharts", "/pages/pyecharts.html", ECHARTS_DRAWN, {"points": n_points},
               f"pyecharts {_version('pyecharts')} + echarts {ECHARTS_VERSION}: Geo, add_geo_json (registerMap) "
               f"of the grids + a scatter series per status (is_large); HTML {kb['pyecharts']:,.0f} kB raw, "
               f"{len(echarts_assets)} CDN file made local"),
    ]


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _encodings(s: Series) -> str:
    total: dict[str, int] = {}
    for ld in s.loads:
        for enc, n in ld.encodings.items():
            total[enc] = total.get(enc, 0) + n
    whole = sum(total.values()) or 1
    return " + ".join(f"{enc} {100 * n / whole:.0f} %" for enc, n in sorted(total.items(), key=lambda x: -x[1]))


def _rows(ours: Series, ours3: Series, peers: list[Series], rss: float, data: PeerData,
          timeout_s: float) -> list[dict]:
    """The table rows: times, bytes and memory, ours against each peer."""
    rows: list[dict] = []

    def runs(s: Series) -> str:
        if not s.drawn:
            return f"{s.name} " + next(ld.info.get("error", "?") for ld in s.loads if ld.drawn_s is None)
        return f"{s.name} runs {', '.join(f'{ld.drawn_s:.2f}' for ld in s.loads)} s"

    def value(s: Series, attr: str, scale: float = 1.0) -> float | None:
        v = s.median(attr) if s.drawn else None
        return None if v is None else v / scale

    def row(what: str, o: Series, peer: Series, attr: str, unit: str, note: str, scale: float = 1.0,
            peer_attr: str | None = None) -> None:
        ov, pv = value(o, attr, scale), value(peer, peer_attr or attr, scale)
        rows.append({"what": what, "ours": math.nan if ov is None else ov, "peer": pv, "peer_name": peer.name,
                     "unit": unit, "ratio": _ratio(ov, pv), "note": note})

    ours_points = ours.loads[-1].info.get("points") if ours.drawn else None
    capped = (f", the {MAX_CASE_POINTS:,} most urgent of {data.n_window:,} as ours draws"
              if data.n_window > MAX_CASE_POINTS else "")
    data_note = (f"data: {len(data.grids['features']):,} level-3 grids and {len(data.points):,} case points "
                 f"(of {data.n_cases:,} cases: the default {data.window} window plus every open case{capped})")
    if ours_points is not None and ours_points != len(data.points):
        data_note += f", BUT ours drew {ours_points:,} case points"
    stages = "—"
    if ours.drawn:
        stage_times = ((ld.info["plot"], ld.info["tiles"]) for ld in ours.loads)
        med = [statistics.median(v) / 1000 for v in zip(*stage_times, strict=True)]
        stages = (f"plotly.js and the figure in at {value(ours, 'map_data_s'):.2f} s, Plotly's map made at "
                  f"{med[0]:.2f} s, MapLibre loaded with its tiles at {med[1]:.2f} s (medians)")
    pictures = ", ".join("—" if ld.picture_s is None else f"{ld.picture_s:.2f}" for ld in ours.loads)
    dots = ours.loads[-1].info.get("picture_dots") if ours.drawn else None
    row(PICTURE_ROW, ours, peers[0], "picture_s", "s",
        f"ours runs {pictures} s: the picture of the map's figure (areas, {dots or 0:,} case dots, names; "
        "layers/preview.py), painted on a canvas in the map's place until MapLibre has drawn the map (next row); "
        f"{runs(peers[0])}", peer_attr="drawn_s")
    first = (f"; first frame at {statistics.median(ld.info['rendered'] for ld in peers[1].loads) / 1000:.2f} s "
             "(`finished` waits for the entry animation)" if peers[1].drawn else "")
    row(PICTURE_ROW, ours, peers[1], "picture_s", "s", f"{runs(peers[1])}{first}", peer_attr="drawn_s")
    row(INTERACTIVE_ROW, ours, peers[0], "drawn_s", "s",
        f"{runs(ours)}; ours: {stages}; ours also draws villages, warnings, resources and the "
        f"rest of the dashboard; {data_note}; {peers[0].note}")
    row(INTERACTIVE_ROW, ours, peers[1], "drawn_s", "s", peers[1].note)
    for peer in peers:
        row(f"{INTERACTIVE_ROW}, ours at /?level=3", ours3, peer, "drawn_s", "s",
            f"{runs(ours3)}: the grid level drawn, as the peers (the default / colours the level-2 villages)"
            if peer is peers[0] else "")
    for peer in peers:
        row(PICTURE_BYTES_ROW, ours, peer, "bytes_picture", "kB",
            "ours: response bodies finished when the picture was painted; the peer's: when its map was drawn",
            scale=1000, peer_attr="bytes_drawn")
    for attr, what in (("bytes_drawn", "bytes until interactive"),
                       ("bytes_total", f"bytes, whole load (+{SETTLE_S:g} s)")):
        req = attr.replace("bytes", "requests")
        for peer in peers:
            note = f"requests: ours {value(ours, req) or 0:.0f}, {peer.name} {value(peer, req) or 0:.0f}"
            if attr == "bytes_drawn":
                note += (f"; response bodies as received, bodies ≥ 1 kB by encoding: ours {_encodings(ours)}, "
                         f"{peer.name} {_encodings(peer)}")
            elif peer is peers[0]:
                note += "; ours without its half-second live check"
            row(what, ours, peer, attr, "kB", note, scale=1000)
    rows.append({"what": "server RSS after the loads", "ours": rss, "peer": None, "peer_name": None, "unit": "MB",
                 "ratio": None, "note": f"app process and children (psutil), after {len(ours.loads) + len(ours3.loads)}"
                                        " cold loads"})
    return rows


# --- report ------------------------------------------------------------------

def _num(x: float | None, unit: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if unit == "s":
        return f"{x:.2f} s"
    return f"{x:,.0f} {unit}" if x >= 100 else f"{x:.1f} {unit}"


def table(rows: list[dict]) -> str:
    header = ["what", "ours", "peer", "peer value", "ours ÷ peer", "note"]
    body = [[r["what"], _num(r["ours"], r["unit"]), r["peer_name"] or "—", _num(r["peer"], r["unit"]),
             "—" if r["ratio"] is None else f"{r['ratio']:.2f}", r["note"].replace("|", "/")] for r in rows]
    return markdown(header, body)


def verdicts(rows: list[dict], budget_s: float = 3.0, budget_mb: float = 400.0, draw_s: float = 1.5,
             drawn_kb: float = 1000.0) -> list[str]:
    """The §4 budgets at township scale against the rows: the cold load and RSS, and the dashboard's map
    drawn within ``draw_s`` with at most ``drawn_kb`` received before it draws."""
    load = next(r for r in rows if r["what"] == "cold load → drawn map")["ours"]
    rss = next(r for r in rows if r["unit"] == "MB")["ours"]
    kb = next(r for r in rows if r["what"] == "bytes until drawn")["ours"]

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    return [f"cold load {_num(load, 's')} ({verdict(load <= budget_s)} ≤ {budget_s:g} s; "
            f"{verdict(load <= draw_s)} the dashboard's ≤ {draw_s:g} s); bytes until drawn {kb:,.0f} kB "
            f"({verdict(kb <= drawn_kb)} ≤ {drawn_kb:,.0f} kB); RSS {rss:.0f} MB ({verdict(rss <= budget_mb)} "
            f"≤ {budget_mb:g} MB)"]


def seeded_store(directory: Path, scale: float) -> str:
    """A SQLite store in ``directory``: empty for ``scale == 1`` (the app seeds its demo year on start),
    else prepared here with ``scale`` demo years (as ``bench.filter_bench`` does)."""
    url = f"sqlite:///{directory / 'township.db'}"
    if scale != 1:
        from township.config import Settings
        from township.runtime.bootstrap import open_township
        from township.runtime.demo import seed_demo

        ctx = open_township(Settings(database_url=url, seed_demo=False))
        seed_demo(ctx.township.engine, ctx.township.gridset, scale=scale)
        ctx.township.engine.dispose()
    return url


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="cold loads of each page (default 3); medians")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="demo years in the store (default 1: the app seeds it; 10 is about 10,000 cases)")
    ap.add_argument("--timeout", type=float, default=TIMEOUT_S, help=f"seconds before 'did not draw' ({TIMEOUT_S:g})")
    ap.add_argument("--screenshots", type=Path, default=None,
                    help="folder for cold-ours.png, cold-folium.png, cold-pyecharts.png (the last load of each)")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cold_load_store_") as tmp:
        url = seeded_store(Path(tmp), args.scale)
        rows = measure(BUNDLED_GRIDS, url, {}, args.runs, timeout_s=args.timeout, screenshot_dir=args.screenshots,
                       started=started)
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    command = " ".join(["python -m bench.cold_load", *(sys.argv[1:] if argv is None else argv)])
    print("\n".join([
        f"# Cold load in headless Chromium (docs/design.md §4), township: bundled grids, "
        f"{args.scale:g} demo year(s)", "",
        f"`{command}` on {when}. Machine: {machine()}.", "",
        table(rows), "",
        *(f"- {v}" for v in verdicts(rows)),
        "- Peers served from 127.0.0.1 by Flask + Flask-Compress at its defaults (as ours, Werkzeug threaded); "
        "their CDN files from npm into var/bench-assets/; stand-ins: "
        + "; ".join(f"`{u.rsplit('/', 1)[1]}`: {how}" for u, (_, how, _) in STAND_INS.items()) + ".",
    ]))
    log(started, "done")


if __name__ == "__main__":
    main()
