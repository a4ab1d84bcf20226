"""The smart-township command map: ``create_app(settings)`` builds the Dash app.

Run ``make run`` (or ``python app.py``: one process, served by waitress, with the
demo feed and the escalation sweep beside it); under gunicorn use ``app:server``.
"""
from __future__ import annotations

import gc
import hashlib
import logging
import threading

import diskcache
from dash import Dash, DiskcacheManager, dcc, html
from flask import Flask, Response, request
from flask_compress import Compress

import auth
import callbacks
import downloads
import field
from api import make_blueprint
from api.http import RETRY_AFTER_S
from township.config import ROOT, Settings
from township.runtime.allocator import settle_allocator
from township.runtime.bootstrap import AppContext, open_township
from township.store.uow import StoreUnavailable
from ui import ids

#: plotly.js with only the trace types the pages draw (scripts/plotly-bundle/, ``make plotly-bundle``).
PLOTLY_BUNDLE = ROOT / "assets" / "vendor" / "plotly" / "plotly-township.min.js"
#: A fingerprinted bundle does not change under its URL: browsers may keep it this long.
BUNDLE_MAX_AGE_S = 365 * 24 * 3600
#: Requests served at once by ``python app.py`` (waitress's threads): a few screens, each polling and
#: sending callbacks in parallel, plus the demo feed's posts.
SERVER_THREADS = 16
#: Where the server keeps its AppContext: Flask's own registry of per-app extension state.
EXTENSION = "township"


def app_context(server: Flask) -> AppContext:
    """The AppContext that `create_app` attached to ``server`` (the Dash app's Flask server)."""
    ctx = server.extensions.get(EXTENSION)
    if not isinstance(ctx, AppContext):
        raise LookupError("this server was not built by create_app: it holds no AppContext")
    return ctx


def use_plotly_bundle(app: Dash) -> str | None:
    """Load the partial plotly.js bundle with the page, before Dash's own scripts; its URL, or None.

    dcc.Graph uses ``window.Plotly`` when it is already defined; otherwise it
    fetches Dash's full ``plotly.min.js`` (4.8 MB, every trace type) only once
    the first graph mounts, after the page callback, and the browser then spends
    seconds compiling it. This bundle (3.1 MB raw, 0.9 MB compressed) downloads
    beside Dash's scripts and is ready when the map mounts. Its URL carries a
    hash of its content, so it is served cacheable for a year; Flask-Compress
    compresses it as every other response. Without the file (a checkout that
    lost it) the page falls back to Dash's full bundle.
    """
    if not PLOTLY_BUNDLE.is_file():
        logging.getLogger(__name__).warning("%s missing: pages load Dash's full plotly.js (make plotly-bundle)",
                                            PLOTLY_BUNDLE)
        return None
    digest = hashlib.sha256(PLOTLY_BUNDLE.read_bytes()).hexdigest()[:16]
    rel = PLOTLY_BUNDLE.relative_to(ROOT / "assets").as_posix()
    url = f"{app.get_asset_url(rel)}?v={digest}"
    app.config.external_scripts.append({"src": url})
    suffix = "/assets/" + rel

    @app.server.after_request
    def cache_bundle(response: Response) -> Response:
        if request.path.endswith(suffix) and request.args.get("v") == digest and response.status_code == 200:
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = BUNDLE_MAX_AGE_S
            response.cache_control.immutable = True
        return response

    return url


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
    Compress(app.server)
    app.server.extensions[EXTENSION] = app_ctx
    app.layout = html.Div([dcc.Location(id=ids.URL, refresh=False), html.Div(id=ids.PAGE)])
    auth.install(app, app_ctx)  # first: its gate runs before every other blueprint's views
    callbacks.register(app, app_ctx)
    refuse_unknown_callbacks(app)
    app.server.register_blueprint(make_blueprint(app_ctx))
    app.server.register_blueprint(downloads.make_blueprint(app_ctx))
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
    _print_sign_in(dash_app, s)
    serve(dash_app, s)
