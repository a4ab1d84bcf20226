"""The responder view ``/grid/<grid_id>``: a page built once per load (no callbacks of its own).

The renderer reads the snapshot, gathers the grid's field-map data and hands
it to `ui.responder`; an id that is not a level-3 grid gets the router's
clear page (a village id lists its grids to choose from), and so does a grid
of another village for a village operator. Names and numbers are shown as the
viewer's role may see them (`auth.current_viewer`).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs

from dash import html

from auth import current_viewer
from layers.basemap import map_style
from township.read.contacts import reporters
from township.read.fieldmap import for_viewer, grid_fieldmap_data
from township.runtime.bootstrap import AppContext
from ui import responder as ui

from . import router


def _lang(search: str | None) -> str:
    value = parse_qs((search or "").lstrip("?")).get("lang", ["zh"])[-1]
    return value if value in ("zh", "en") else "zh"


def render_page(app_ctx: AppContext, match: re.Match, search: str | None) -> html.Div:
    """The responder view of the grid the path names, or a clear page when it names no grid."""
    tw = app_ctx.township
    gs = tw.gridset
    grid_id = match["grid_id"]
    lang = _lang(search)
    if grid_id not in gs or gs.level(grid_id) != 3:
        message, choices = ui.not_a_grid(gs, grid_id, lang)
        page = router.not_found(message)
        if choices:
            page.children.append(ui.grid_links(gs, choices, lang))
        return page
    viewer = current_viewer(app_ctx)
    if viewer.role == "village" and gs.village_of(grid_id) != viewer.village_id:
        return router.not_found(ui.other_village(gs, grid_id, lang))
    snap = tw.snapshot()
    s = app_ctx.settings
    data = for_viewer(grid_fieldmap_data(snap, gs, grid_id), gs, viewer)
    return ui.page(data, gs, viewer.role, lang, snap.cases, map_style(s.tile_url, s.tile_attribution), search or "",
                   reporters(tw.engine, data.cases["id"].tolist()))
