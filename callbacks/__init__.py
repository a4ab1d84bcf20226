"""Dash callbacks: thin glue from inputs to services and layer builders."""
from __future__ import annotations

from dash import Dash

from township.bootstrap import AppContext

from . import dashboard, imports


def register(app: Dash, ctx: AppContext) -> None:
    """Register every callback of the app against ``ctx``."""
    dashboard.register(app, ctx)
    imports.register(app, ctx)
