"""Dash callbacks: thin glue from inputs to services and layer builders."""
from __future__ import annotations

from dash import Dash

from township.bootstrap import AppContext

from . import dashboard, imports, router


#: Path pattern → page renderer, first match wins.
ROUTES: router.Routes = [
    (r"/", dashboard.render_page),
]


def register(app: Dash, ctx: AppContext) -> None:
    """Register every callback of the app against ``ctx``."""
    router.register(app, ctx, ROUTES)
    dashboard.register(app, ctx)
    imports.register(app, ctx)
