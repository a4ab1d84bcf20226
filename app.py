"""The smart-township command map: ``create_app(settings)`` builds the Dash app.

Run ``make run`` (or ``python app.py``); under gunicorn use ``app:server``.
"""
from __future__ import annotations

import logging
import threading

import diskcache
from dash import Dash, DiskcacheManager, dcc, html
from flask_compress import Compress

import callbacks
from api import make_blueprint
from township.bootstrap import open_township
from township.settings import ROOT, Settings
from ui import ids


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
    Compress(app.server)
    app.server.config["TOWNSHIP"] = app_ctx
    app.layout = html.Div([dcc.Location(id=ids.URL, refresh=False), html.Div(id=ids.PAGE)])
    callbacks.register(app, app_ctx)
    app.server.register_blueprint(make_blueprint(app_ctx))
    return app


def __getattr__(name: str):
    # ``gunicorn app:server`` builds the app on first access, not on every import.
    if name == "server":
        return create_app().server
    raise AttributeError(name)


def _start_feed(app: Dash, settings: Settings) -> None:
    """Run the demo feed in a thread beside the server, posting to this server's API."""
    from township.feed import DemoFeed, feed_token

    tw = app.server.config["TOWNSHIP"].township
    feed = DemoFeed(f"http://{settings.host}:{settings.port}", feed_token(tw.engine), tw.gridset)
    threading.Thread(target=feed.run, args=(threading.Event(), settings.feed_interval), daemon=True,
                     name="demo-feed").start()
    logging.getLogger(__name__).info("demo feed on: one event every %.0f s on average", settings.feed_interval)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per poll is noise
    s = Settings.from_env()
    dash_app = create_app(s)
    if s.demo_feed:
        _start_feed(dash_app, s)
    dash_app.run(host=s.host, port=s.port, debug=False)
