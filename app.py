"""The smart-township command map: ``create_app(settings)`` builds the Dash app.

Run ``make run`` (or ``python app.py``: one process, served by waitress, with the
demo feed and the escalation sweep beside it); under gunicorn use ``app:server``.
"""
from __future__ import annotations

import gc
import hashlib
import html as html_lib
import logging
import queue
import re
import threading
from collections.abc import Callable
from pathlib import Path

import brotli
import dash_ag_grid
import diskcache
from dash import Dash, DiskcacheManager, _dash_renderer, dash_table, dcc, html
from flask import Flask, Response, request
from flask_compress import Compress

import auth
import callbacks
import downloads
import field
import resident
from api import admin, make_blueprint
from api.http import RETRY_AFTER_S
from township.config import ROOT, Settings
from township.runtime.allocator import settle_allocator
from township.runtime.bootstrap import AppContext, open_township
from township.store.uow import StoreUnavailable
from ui import ids
from ui.dashboard import table_spec

#: plotly.js with only the trace types the pages draw (scripts/plotly-bundle/, ``make plotly-bundle``).
PLOTLY_BUNDLE = ROOT / "assets" / "vendor" / "plotly" / "plotly-township.min.js"
#: Babel's regenerator runtime alone, in place of Dash's @babel/polyfill (``replace_polyfill``).
REGENERATOR = ROOT / "assets" / "vendor" / "regenerator" / "regenerator-runtime.min.js"
#: A fingerprinted bundle does not change under its URL: browsers may keep it this long.
BUNDLE_MAX_AGE_S = 365 * 24 * 3600
#: Requests served at once by ``python app.py`` (waitress's threads): a few screens, each polling and
#: sending callbacks in parallel, plus the demo feed's posts.
SERVER_THREADS = 16
#: Where the server keeps its AppContext: Flask's own registry of per-app extension state.
EXTENSION = "township"
#: Static scripts and styles (Dash's component suites, the assets) are served brotli-compressed at this quality,
#: each compressed once (in the background) and kept on disk by content: 3.06 MB of plotly.js is 887 kB at
#: Flask-Compress's per-response zstd level 3, 681 kB at brotli 11 (4.5 s of one core, once per checkout).
STATIC_BR_QUALITY = 11
#: The paths of those static files, and their types (the map's font too: it comes before the map draws).
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
STATIC_TYPES = frozenset({"application/javascript", "text/javascript", "text/css", "font/ttf"})
#: Where the compressed static files are kept (by the sha256 of their content).
STATIC_CACHE = ROOT / "var" / "static-br"
#: The page callback's answer (the whole page with its map, once per load: 378 kB of JSON at 10,000 cases) is
#: brotli-compressed at this quality: 51.7 kB in 5 ms, where Flask-Compress's zstd level 3 made 60.6 kB. The
#: callbacks that follow filter changes keep Flask-Compress's faster levels (docs/design.md §4: 20 ms each).
PAGE_BR_QUALITY = 6
#: dcc's lazily loaded chunks that the dashboard's first draw waits for (``defer_scripts``).
MAP_CHUNKS = frozenset({"dcc/async-graph.js", "dcc/async-dropdown.js"})


def app_context(server: Flask) -> AppContext:
    """The AppContext that `create_app` attached to ``server`` (the Dash app's Flask server)."""
    ctx = server.extensions.get(EXTENSION)
    if not isinstance(ctx, AppContext):
        raise LookupError("this server was not built by create_app: it holds no AppContext")
    return ctx


def vendor_script(app: Dash, path: Path) -> str:
    """Load the script ``path`` (under ``assets/vendor/``) in every page, before Dash's own scripts; its URL.

    Its URL carries a hash of its content, so it is served cacheable for a year;
    it is compressed as every other static script.
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    rel = path.relative_to(ROOT / "assets").as_posix()
    url = f"{app.get_asset_url(rel)}?v={digest}"
    app.config.external_scripts.append({"src": url})
    suffix = "/assets/" + rel

    @app.server.after_request
    def cache_for_long(response: Response) -> Response:
        if request.path.endswith(suffix) and request.args.get("v") == digest and response.status_code == 200:
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = BUNDLE_MAX_AGE_S
            response.cache_control.immutable = True
        return response

    return url


def use_plotly_bundle(app: Dash) -> str | None:
    """Load the partial plotly.js bundle with the page, before Dash's own scripts; its URL, or None.

    dcc.Graph uses ``window.Plotly`` when it is already defined; otherwise it
    fetches Dash's full ``plotly.min.js`` (4.8 MB, every trace type) only once
    the first graph mounts, after the page callback, and the browser then spends
    seconds compiling it. This bundle (3.1 MB raw, 0.9 MB compressed) downloads
    beside Dash's scripts and is ready when the map mounts (`vendor_script`).
    Without the file (a checkout that lost it) the page falls back to Dash's full bundle.
    """
    if not PLOTLY_BUNDLE.is_file():
        logging.getLogger(__name__).warning("%s missing: pages load Dash's full plotly.js (make plotly-bundle)",
                                            PLOTLY_BUNDLE)
        return None
    return vendor_script(app, PLOTLY_BUNDLE)


def replace_polyfill(app: Dash) -> str | None:
    """Serve Babel's regenerator runtime alone in place of Dash's ``@babel/polyfill``; its URL, or None.

    Dash's scripts need the global ``regeneratorRuntime`` (to load a lazy
    component chunk); the polyfill around it is core-js 2, 99 kB that a browser
    of today does not need and that took the page about a tenth of a second to
    run before Dash could start (bench/cold_load.py). Without the runtime's file
    the polyfill stays.
    """
    if not REGENERATOR.is_file():
        logging.getLogger(__name__).warning("%s missing: pages load Dash's @babel/polyfill (make plotly-bundle)",
                                            REGENERATOR)
        return None
    for dependency in _dash_renderer._js_dist_dependencies:
        for key in ("relative_package_path", "external_url"):
            for mode, paths in dependency.get(key, {}).items():
                dependency[key][mode] = [p for p in paths if "/polyfill@" not in f"/{p}"]
    return vendor_script(app, REGENERATOR)


def defer_scripts() -> None:
    """List in the pages' script tags what the dashboard's first draw needs, and leave out what it does not.

    dash-ag-grid's bundle (294 kB compressed, 215 kB more in its chunk): only
    the dashboard's case table uses it, and the table comes after the map has
    drawn (``assets/dashboard.js`` ``loadTable`` loads the script then). Dash's
    DataTable bundle: no page uses it. So the bytes before the map draws stay
    within docs/design.md §4's 1 MB. A dynamic resource is still served, only
    not listed in the page.
    """
    for resource in dash_ag_grid._js_dist:
        if resource.get("relative_package_path") == "dash_ag_grid.min.js":
            resource["dynamic"] = True
    for resource in dash_table._js_dist:
        if resource.get("relative_package_path") == "dash_table/bundle.js":
            resource["dynamic"] = True
    # The other way round: the chunks of dcc.Graph and dcc.Dropdown, which Dash fetches only once
    # the page's layout mounts them (one more round trip before the map can be made), are listed in
    # the page's scripts and arrive beside plotly.js. A chunk that runs before dcc's own bundle
    # waits in webpack's chunk queue, as with Dash's eager_loading.
    for resource in dcc._js_dist:
        if resource.get("relative_package_path") in MAP_CHUNKS:
            resource["async"] = False


class StaticCompressor:
    """Brotli bodies of static files at `STATIC_BR_QUALITY`, by content, made in the background and kept.

    ``get`` never compresses in the request: a body not made yet is queued
    (one worker thread) and the request gets Flask-Compress's answer.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.kept: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.queue: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.queued: set[str] = set()
        self.worker: threading.Thread | None = None

    def get(self, body: bytes) -> bytes | None:
        """The compressed ``body``, or None when it is not made yet (then it is queued)."""
        key = hashlib.sha256(body).hexdigest()
        with self.lock:
            if key in self.kept:
                return self.kept[key]
        path = self.directory / f"{key}.br"
        if path.is_file():
            data = path.read_bytes()
            with self.lock:
                self.kept[key] = data
            return data
        with self.lock:
            if key not in self.queued:
                self.queued.add(key)
                self.queue.put((key, body))
                if self.worker is None:
                    self.worker = threading.Thread(target=self._work, daemon=True, name="static-brotli")
                    self.worker.start()
        return None

    def _work(self) -> None:
        while True:
            key, body = self.queue.get()
            data = brotli.compress(body, quality=STATIC_BR_QUALITY)
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f"{key}.{threading.get_ident()}.tmp"
            tmp.write_bytes(data)
            tmp.replace(self.directory / f"{key}.br")  # whole or not at all, for other processes too
            with self.lock:
                self.kept[key] = data


def precompress_static(app: Dash) -> StaticCompressor:
    """Serve static scripts and styles brotli-compressed at `STATIC_BR_QUALITY` (`StaticCompressor`).

    Registered after Flask-Compress (`answer_brotli`).
    """
    compressor = StaticCompressor(STATIC_CACHE)

    def static_body(response: Response) -> bytes | None:
        if (request.method != "GET" or not request.path.startswith(STATIC_PREFIXES)
                or response.mimetype not in STATIC_TYPES):
            return None
        response.direct_passthrough = False
        return compressor.get(response.get_data())

    answer_brotli(app, static_body)
    return compressor


def warm_static(app: Dash) -> None:
    """Queue the pages' scripts and styles for compression (`precompress_static`) before the first visitor."""
    client = app.server.test_client()
    with app.server.test_request_context("/"):
        # The page's own tags (the index itself may be behind the sign-in).
        index = app._generate_scripts_html() + app._generate_css_dist_html()
    urls = re.findall(r'(?:src|href)="(/(?:_dash-component-suites|assets)/[^"]+)"', index)
    for url in [*urls, *table_spec("zh")["script"].split()]:
        client.get(html_lib.unescape(url), headers={"Accept-Encoding": "br"})


def refuse_unknown_callbacks(app: Dash) -> None:
    """Answer a callback request naming no callback of this app with 400, not Dash's 500.

    A page left open across a deployment that renamed a callback sends such
    requests; they are the client's error. The JSON body is parsed once:
    Flask keeps it for Dash's own dispatch.
    """
    @app.server.before_request
    def check_callback() -> Response | None:
        if request.path != "/_dash-update-component" or request.method != "POST":
            return None
        body = request.get_json(silent=True)
        output = body.get("output") if isinstance(body, dict) else None
        if isinstance(output, str) and output in app.callback_map:
            return None
        return Response(f"no callback for output {output!r}: reload the page", 400, mimetype="text/plain")


def answer_brotli(app: Dash, brotli_body: Callable[[Response], bytes | None]) -> None:
    """Answer in brotli where the browser takes it: ``brotli_body`` gives a successful response's compressed
    body, or None for a response it leaves as it is.

    Registered after Flask-Compress, the hook runs before Flask-Compress's own, which leaves a response that
    already has a Content-Encoding alone.
    """
    @app.server.after_request
    def compress(response: Response) -> Response:
        if (response.status_code != 200 or "Content-Encoding" in response.headers
                or "br" not in request.headers.get("Accept-Encoding", "")):
            return response
        body = brotli_body(response)
        if body is not None:
            response.set_data(body)
            response.headers["Content-Encoding"] = "br"
            response.vary.add("Accept-Encoding")
        return response


def compress_page(app: Dash) -> None:
    """Brotli at `PAGE_BR_QUALITY` for the page callback's answer (`answer_brotli`, after Flask-Compress)."""
    page = f"{ids.PAGE}.children"

    def page_body(response: Response) -> bytes | None:
        asked = request.get_json(silent=True) if request.path == "/_dash-update-component" else None
        if not isinstance(asked, dict) or asked.get("output") != page:
            return None
        response.direct_passthrough = False
        return brotli.compress(response.get_data(), quality=PAGE_BR_QUALITY)

    answer_brotli(app, page_body)


def follow_grids(app: Dash, app_ctx: AppContext) -> None:
    """Before each request that may use the grids, take the store's if the admin page replaced them.

    One data-version read per request (the grids digest only when that moved:
    `township.read.snapshot.Township.follow_grids`); static files skip it.
    """
    @app.server.before_request
    def follow() -> None:
        if not request.path.startswith(("/assets/", "/_dash-component-suites/", "/static/")):
            app_ctx.township.follow_grids()


def create_app(settings: Settings | None = None) -> Dash:
    """Build the app on the store and grids that ``settings`` name (default: the environment)."""
    settings = settings or Settings.from_env()
    app_ctx = open_township(settings)
    app = Dash(
        __name__,
        title="大路镇智慧乡镇 · 一点指挥",
        assets_folder=str(ROOT / "assets"),
        assets_path_ignore=["vendor"],  # Leaflet is for the field-map exports, not these pages
        serve_locally=True,  # a command centre's network has no internet
        suppress_callback_exceptions=True,  # the page is built by a callback
        update_title=None,
        # File imports run as background jobs; their progress lives on disk,
        # so any app process on this machine can report it.
        background_callback_manager=DiskcacheManager(diskcache.Cache(str(settings.jobs_dir))),
    )
    use_plotly_bundle(app)
    replace_polyfill(app)
    defer_scripts()
    Compress(app.server)
    precompress_static(app)  # after Compress: its hook runs first
    compress_page(app)  # after Compress, as precompress_static
    app.server.extensions[EXTENSION] = app_ctx
    app.layout = html.Div([dcc.Location(id=ids.URL, refresh=False), html.Div(id=ids.PAGE)])
    auth.install(app, app_ctx)  # first: its gate runs before every other blueprint's views
    callbacks.register(app, app_ctx)
    refuse_unknown_callbacks(app)
    follow_grids(app, app_ctx)
    app.server.register_blueprint(make_blueprint(app_ctx))
    app.server.register_blueprint(downloads.make_blueprint(app_ctx))
    app.server.register_blueprint(admin.make_blueprint(app_ctx))
    app.server.register_blueprint(resident.make_blueprint(app_ctx))
    app.server.register_blueprint(field.make_blueprint(app_ctx))
    app.server.register_error_handler(StoreUnavailable, store_unavailable)
    return app


def store_unavailable(exc: StoreUnavailable) -> Response:
    """A write the store refused (read-only, full) outside the API: 503 naming the cause, not a 500.

    The API answers its own clients in JSON (`api.http.error_response`); this
    covers the pages, the callbacks and the downloads.
    """
    logging.getLogger(__name__).error("%s %s refused: %s", request.method, request.path, exc)
    cause = {"read-only": "数据库只读", "full": "存储空间已满"}.get(exc.cause, exc.cause)
    return Response(f"暂时无法保存:{cause},未写入任何内容,恢复后即可重试。\n{exc}\n", 503,
                    {"Retry-After": RETRY_AFTER_S}, mimetype="text/plain")


def settle(app: Dash) -> Dash:
    """Load the first snapshot and the audit trail's entry times, then take what start-up built out of the
    cyclic garbage collector's sweeps.

    Read at start, the trail (9 s at city scale) no longer holds the first page's
    statistics, nor the server's other requests while it is read.

    A full collection walks every tracked object: with the app, its grids and
    caches that took 60–130 ms, and it fell inside filter changes at random,
    whose budget is 20 ms (township p95 62–71 ms → 17–19 ms, bench/filter_bench.py).
    Frozen objects are still freed by reference counting; only cycles among them stay.
    The C allocator is settled too (`township.runtime.allocator`): its arenas
    capped and free memory handed back, so that RSS stays flat under mixed reads and writes.
    Call it once, in the serving process, before it serves.
    """
    ctx = app_context(app.server)
    ctx.entries.get(ctx.township.snapshot().version)
    warm_static(app)
    gc.collect()
    gc.freeze()
    settle_allocator()
    return app


def __getattr__(name: str):
    # ``gunicorn app:server`` builds the app on first access, not on every import.
    if name == "server":
        return settle(create_app()).server
    raise AttributeError(name)


def _start_feed(app: Dash, settings: Settings) -> None:
    """Run the demo feed in a thread beside the server, posting to this server's API."""
    from township.runtime.feed import DemoFeed, feed_token

    tw = app_context(app.server).township
    feed = DemoFeed(f"http://{settings.host}:{settings.port}", feed_token(tw.engine), tw.gridset)
    threading.Thread(target=feed.run, args=(threading.Event(), settings.feed_interval), daemon=True,
                     name="demo-feed").start()
    logging.getLogger(__name__).info("demo feed on: one event every %.0f s on average", settings.feed_interval)


def _start_sweep(app: Dash) -> None:
    """Escalate overdue cases once a minute in a thread beside the server (``SLA_AUTO_ESCALATE=1``).

    Under gunicorn, run ``python -m township escalate`` from cron instead (or
    as well: sweeps of several processes do not double-escalate).
    """
    from township.loop.sweeps import SWEEP_INTERVAL_S, sweep_overdue

    app_ctx = app_context(app.server)
    threading.Thread(target=sweep_overdue, args=(app_ctx.township.engine, threading.Event()),
                     kwargs={"sla": app_ctx.settings.sla}, daemon=True,
                     name="escalation-sweep").start()
    logging.getLogger(__name__).info("overdue cases escalate by themselves: a sweep every %.0f s",
                                     SWEEP_INTERVAL_S)


def _start_notifier(app: Dash) -> None:
    """Deliver notifications in a thread beside the server (``NOTIFY_WORKER``, on by default).

    Under gunicorn, run ``python -m township notify`` beside it instead (or as
    well: workers on one store never send the same message twice).
    """
    from township.runtime.notifier import run

    app_ctx = app_context(app.server)
    threading.Thread(target=run, args=(app_ctx.township.engine, app_ctx.settings.notify, threading.Event()),
                     kwargs={"tell_overdue": not app_ctx.settings.sla.auto_escalate}, daemon=True,
                     name="notifications").start()


def _print_sign_in(app: Dash, settings: Settings) -> None:
    """Say how to sign in: the demo users and their passwords (only those still unchanged)."""
    if settings.role:
        print(f"DEFAULT_ROLE={settings.role}: no sign-in needed (kiosk/demo mode); /login signs in as another user",
              flush=True)
        return
    table = auth.sign_in_table(app_context(app.server))
    url = f"http://{settings.host}:{settings.port}"
    print(f"Sign in at {url}/login (the wall {url}/wall needs none)", flush=True)
    if table:
        print("Demo users (illustrative; change or delete them on a real deployment):\n" + table, flush=True)
    else:
        print("No demo user with its demo password: create one with `python -m township user NAME --role ROLE`",
              flush=True)


def serve(app: Dash, settings: Settings) -> None:
    """Serve ``app`` until stopped, with waitress: a production WSGI server (not Werkzeug's development one).

    ``ident=""``: no ``Server`` header, so no banner names the software.
    Waitress keeps its hands off ``X-Forwarded-*``: the app's ProxyFix alone
    decides whom to believe (``TRUSTED_PROXIES``), as it does under gunicorn.
    """
    from waitress import serve as waitress_serve

    waitress_serve(app.server, host=settings.host, port=settings.port, threads=SERVER_THREADS, ident="",
                   clear_untrusted_proxy_headers=False)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = Settings.from_env()
    dash_app = settle(create_app(s))
    if s.demo_feed:
        _start_feed(dash_app, s)
    if s.sla.auto_escalate:
        _start_sweep(dash_app)
    if s.notify.worker:
        _start_notifier(dash_app)
    _print_sign_in(dash_app, s)
    serve(dash_app, s)
