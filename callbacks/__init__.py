"""Dash callbacks: thin glue from inputs to services and layer builders."""
from __future__ import annotations

from dash import Dash

from township.runtime.bootstrap import AppContext

from . import (
    account,
    admin,
    analysis,
    casecard,
    dashboard,
    exports,
    imports,
    playback,
    responder,
    router,
    stats,
    wall,
    warningcard,
)

#: Path pattern → page renderer, first match wins.
ROUTES: router.Routes = [
    (r"/", dashboard.render_page),
    (r"/wall/?", wall.render_page),
    (r"/grid/(?P<grid_id>[^/]+)/?", responder.render_page),
    (r"/admin/?", admin.render_page),
    (r"/analysis/?", analysis.render_page),
]


def register(app: Dash, ctx: AppContext) -> None:
    """Register every callback of the app against ``ctx``."""
    router.register(app, ctx, ROUTES)
    dashboard.register(app, ctx)
    imports.register(app, ctx)
    wall.register(app, ctx)
    exports.register(app)
    casecard.register(app, ctx)
    warningcard.register(app, ctx)
    stats.register(app, ctx)
    admin.register(app, ctx)
    analysis.register(app, ctx)
    account.register(app, ctx)
    playback.register(app, ctx)
