"""Which page a URL path shows: one table of routes, one callback.

Each page gives a renderer ``(app_ctx, match, search) -> component`` for a
path pattern (see ``callbacks.ROUTES``); an unknown path or an unknown id
gets a plain page that says so, never a traceback.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from dash import Dash, Input, Output, html

from callbacks.checked import text_of
from township.runtime.bootstrap import AppContext
from ui import ids

Renderer = Callable[[AppContext, re.Match, "str | None"], object]
Routes = list[tuple[str, Renderer]]


def not_found(message: str) -> html.Div:
    """A clear page for a path or an id that does not exist."""
    return html.Div(
        [html.H2("页面不存在 · Not found"), html.P(message), html.A("返回指挥地图 · Back to the map", href="/")],
        className="not-found", id="not-found",
    )


def render(app_ctx: AppContext, routes: Routes, pathname: str | None, search: str | None):
    """The page for ``pathname``: the first route whose pattern matches all of it."""
    path = pathname or "/"
    for pattern, renderer in routes:
        match = re.fullmatch(pattern, path)
        if match:
            return renderer(app_ctx, match, search)
    return not_found(f"没有这个页面:{path}")


def register(app: Dash, app_ctx: AppContext, routes: Routes) -> None:
    """The one callback that builds a page from the URL (once per page load)."""
    app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search"))(
        # the URL's parts come from the browser: one that is not text is none (the map, with no query)
        lambda pathname, search: render(app_ctx, routes, text_of(pathname), text_of(search))
    )
