"""Callbacks of the dashboard page: the state reducer and the views that follow it."""
from __future__ import annotations

import secrets
from dataclasses import asdict

import pandas as pd
from dash import ClientsideFunction, Dash, Input, Output, Patch, State, dcc, html, no_update
from dash import ctx as dash_ctx
from dash.exceptions import PreventUpdate
from sqlalchemy.engine import Engine

from auth import current_viewer, reader_key, signed_in
from callbacks.checked import clicked_point, mapping, record_id, row_record, state_of
from callbacks.playback import frame_view, initial_player, trail_span
from layers.mapfig import (
    EVACUATION_GRIDS,
    GRIDS,
    LABELS,
    RESOURCES,
    TOWN,
    apply_updates,
    covers,
    drawn_level,
    geometry_only,
    inset_relayout,
    label_update,
    map_labels,
    map_note,
    map_updates,
)
from layers.text import t
from township.domain import filters
from township.domain.filters import FilterState
from township.domain.policy import may_import, may_see_reach, may_see_village
from township.loop.casefile import clamp_state
from township.loop.evacroster import evacuation_grid_counts, evacuation_points
from township.loop.inbox import audiences_of, inbox
from township.loop.sweeps import open_orders
from township.loop.warnings import move_warning, reached_villages, selected_warning
from township.loop.workflow import Actor, MoveRefused
from township.read.playback import moment_problem
from township.read.snapshot import Snapshot
from township.read.views import View, alerts, grid_detail, warning_mask
from township.runtime.bootstrap import AppContext
from township.store.models import data_version, utcnow
from ui import casecard, ids, warningcard
from ui import dashboard as ui
from ui import playback as playback_ui
from ui import stats as stats_ui
from ui.account import account_bar
from ui.exports import export_row

#: Buttons among the reducer's inputs: only a click (n_clicks set) is an action.
BUTTONS = frozenset({ids.CRUMB_TOWN, ids.CRUMB_VILLAGE, ids.F_RESET})

#: Filter controls, in the order of the reducer's inputs and outputs.
CONTROLS = [
    (ids.F_VILLAGE, "village"), (ids.F_LEVEL, "level"), (ids.F_DOMAIN, "domain"), (ids.F_STATUS, "status"),
    (ids.F_TYPE, "type"), (ids.F_WLEVEL, "wlevel"), (ids.F_WINDOW, "window"), (ids.F_MEASURE, "measure"),
    (ids.F_LAYERS, "layers"),
]
#: The view callback's outputs, in the order of `on_state_out`: (id, property).
VIEW_OUTPUTS = [
    (ids.MAP, "figure"), (ids.HEADLINE, "children"), (ids.CRUMBS, "children"), (ids.PANEL, "children"),
    (ids.QUERY, "data"), (ids.ALERT_TEXT, "children"), (ids.ALERT_ACK, "value"), (ids.ALERT, "hidden"),
    (ids.VIEW, "data"), (ids.GRIDS_SENT, "data"), (ids.MAP_VERSION, "data"), (ids.PB_BADGE, "children"),
    (ids.PB_BADGE, "hidden"), (ids.PB_CLOCK, "children"), (ids.PB_BAR, "className"), (ids.LEGEND_EVAC, "hidden"),
]
#: Where the banner's outputs (`ui.dashboard.alert_banner`: text, warning id, hidden) begin among them.
BANNER_AT = VIEW_OUTPUTS.index((ids.ALERT_TEXT, "children"))


def viewer_alerts(snap, viewer: Actor) -> pd.DataFrame:
    """The red and orange warnings the banner announces to ``viewer``: a village operator's reach their village."""
    found = alerts(snap)
    if viewer.role == "village":
        mine = snap.warnings["id"][warning_mask(snap, FilterState(village=[viewer.village_id or ""]))]
        found = found[found["id"].isin(mine)]
    return found


def map_warning(snap, gs, viewer: Actor, opened: object) -> dict | None:
    """The warning whose card is open, as the map draws it (circle, affected grids), if ``viewer`` may see it."""
    warning_id = record_id(mapping(opened).get("id"))
    found = selected_warning(snap, gs, warning_id) if warning_id is not None else None
    if found is None:
        return None
    w = snap.warnings
    village = w.loc[w["id"] == found["id"], "village_id"].iloc[0]
    villages = reached_villages(gs, village if isinstance(village, str) else None, found["grids"])
    return found if may_see_reach(viewer, villages) else None


def grid_orders(app_ctx: AppContext, state: FilterState) -> list:
    """The open orders (接单) of the grid whose panel is open, each opening its case card.

    None while a moment is replayed: orders are taken now, and the panel shows the grid as it was.
    """
    if not state.grid or state.t is not None:
        return []
    gs = app_ctx.township.gridset
    orders = [c for c in open_orders(app_ctx.township.engine, gs.village_of(state.grid)) if c.grid_id == state.grid]
    return casecard.orders_list(orders, gs, state.lang)


def village_root(viewer: Actor) -> str | None:
    """The top of the viewer's breadcrumb when it is not the town: a village operator's own village."""
    return viewer.village_id if viewer.role == "village" else None


def village_view(state: FilterState, viewer: Actor) -> FilterState:
    """A village operator's view is their village's grids: the town and village levels would show one blob."""
    return state.model_copy(update={"level": 3}) if village_root(viewer) and state.level < 3 else state


def _lock_village_filter(component, village: str, lang: str) -> None:
    """A village operator's village control offers their village only, and cannot be changed; the reset
    button resets their filters (there is no town to go back to)."""
    cid = getattr(component, "id", None)
    if cid == ids.F_VILLAGE:
        component.options = [o for o in component.options if o["value"] == village]
        component.disabled = True
        return
    if cid == ids.F_RESET:
        component.children = t("reset_village", lang)
        return
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            _lock_village_filter(child, village, lang)


def stats_page(state: FilterState, viewer: Actor) -> list:
    """The statistics page (its body filled when opened), the exports, and the import for who may import."""
    parts = [stats_ui.section(state.lang), export_row(state.to_query(), state.lang)]
    if may_import(viewer.role):  # the panel itself comes when the tab first opens (ui.dashboard.import_spec)
        parts += [html.Div(id=ids.IMPORT_SLOT), dcc.Store(id=ids.IMPORT_SPEC, data=ui.import_spec(state.lang))]
    return parts


def render_page(app_ctx: AppContext, _match: object, search: str | None, viewer: Actor | None = None) -> html.Div:
    """The page for a URL query, for ``viewer`` (default: who is looking).

    Unknown values are dropped and listed in a notice; a village operator's
    filter is clamped to their village whatever the URL says, and then the
    address bar is rewritten to what is shown, with a notice saying so.
    """
    viewer = viewer or current_viewer(app_ctx)
    tw = app_ctx.township
    gs = tw.gridset
    asked, notices = filters.from_query(search, set(gs.ids(level=2)), set(gs.ids(level=3)), utcnow())
    state = village_view(clamp_state(asked, viewer, gs), viewer)
    problem = moment_problem(state.t, tw.history().span(), utcnow()) if state.t is not None else None
    if problem:  # the API's rule for as_of: a moment before the audit trail has nothing to replay
        notices.append(f"t={filters.moment_text(state.t)} ({problem})")
        state = state.model_copy(update={"t": None})
    # Only what the URL named and is not shown: a plain address is no correction.
    corrected = bool(asked.village and asked.village != state.village or asked.grid and asked.grid != state.grid)
    note = t("url_corrected", state.lang).format(village=gs.props(state.village[0])["name"]) if corrected else ""
    if app_ctx.grid_load.error is not None:
        notices.append(f"grid file rejected ({len(app_ctx.grid_load.error.violations)} problems), previous grids kept")
    live = tw.snapshot()
    snap, view = frame_view(tw, state)  # a shared ?t= opens that moment
    s = app_ctx.settings
    detail = grid_detail(view, gs, state.grid) if state.grid else None
    player = asdict(initial_player(state, utcnow(), trail_span(tw) if state.t is not None else None))
    reader = reader_key(app_ctx)
    box = inbox(tw.engine, audiences_of(viewer.role, viewer.village_id, viewer.handler_id), reader, 5, state.lang) \
        if reader else None
    account = account_bar(viewer, signed_in(app_ctx) is not None, state.lang, box.unread if box else 0,
                          [i.text for i in box.items if not i.read] if box else ())
    # the banner announces what is live now, replaying or not: an alarm must not wait for the replay to end
    root = ui.page(state, notices, view, detail, gs, viewer.role, live.version, viewer_alerts(live, viewer), s.tile_url,
                   s.tile_attribution, inline_grids=s.inline_grids, account=account,
                   panel_extra=grid_orders(app_ctx, state), side=[*casecard.skeleton(), *warningcard.skeleton()],
                   stats=stats_page(state, viewer), extras=[dcc.Store(id=ids.IMPORT_NONCE, data=secrets.token_hex(8)),
                                                            *playback_ui.stores(player)],
                   query=state.to_query() if corrected else None, crumb_root=village_root(viewer), note=note,
                   timebar=[playback_ui.bar(state, player), playback_ui.badge_div(state)])
    if viewer.role == "village":
        _lock_village_filter(root, state.village[0], state.lang)
    return root


def reduce(state: FilterState, trigger: str | None, values: dict, click: dict | None, gs,
           viewer: Actor | None = None) -> FilterState:
    """The next state after one user action (pure: tested without a browser).

    With ``viewer``, the result is clamped to what they may see (a village
    operator stays in their village whatever was clicked).
    """
    new = _next_state(state, trigger, values, click, gs)
    return village_view(clamp_state(new, viewer, gs), viewer) if viewer is not None else new


def _next_state(state: FilterState, trigger: str | None, values: dict, click: dict | None, gs) -> FilterState:
    if trigger == ids.F_RESET:
        return filters.reset(state)
    if trigger == ids.CRUMB_TOWN:
        return filters.up_to_town(state)
    if trigger == ids.CRUMB_VILLAGE:
        return filters.up_to_village(state)
    if trigger == ids.MAP:
        grid_id = clicked_point(click).get("location")
        if not isinstance(grid_id, str) or grid_id not in gs:
            return state
        level = gs.props(grid_id)["level"]
        return filters.drill(state, grid_id, level, gs.village_of(grid_id))
    update = {k: v for k, v in values.items() if v is not None}
    # the controls' values come from the browser: a state they would make that the app offers none of is no change
    new = FilterState.read({**state.model_dump(), **update}) or state
    if trigger == ids.F_VILLAGE and len(new.village) == 1 and new.village != state.village and new.level < 3:
        # Choosing one village shows its grids (the map zooms to it), as clicking it on the map does.
        new = new.model_copy(update={"level": 3})
    if new.grid and (new.level != 3 or (new.village and gs.village_of(new.grid) not in new.village)):
        new = new.model_copy(update={"grid": None})
    return new


def on_action_out(app_ctx: AppContext, data: dict, values: list, click: dict | None) -> tuple:
    """The reducer callback's outputs: the new state and the controls' values, or nothing when it is the same."""
    viewer, state = viewer_and_state(app_ctx, data)
    new = reduce(state, dash_ctx.triggered_id, dict(zip([name for _, name in CONTROLS], values, strict=True)),
                 click, app_ctx.township.gridset, viewer)
    if new == state:
        return (no_update,) * (1 + len(CONTROLS))
    return (new.model_dump(), *[getattr(new, name) for _, name in CONTROLS])


def viewer_and_state(app_ctx: AppContext, data: object) -> tuple[Actor, FilterState]:
    """Who is looking and the state the browser sent, checked (`callbacks.checked.state_of`) and clamped again on
    the server (the store is not trusted)."""
    viewer = current_viewer(app_ctx)
    return viewer, village_view(clamp_state(state_of(data), viewer, app_ctx.township.gridset), viewer)


def rows_asked(request: object) -> tuple[int, int, list[dict]] | None:
    """The rows the case table asks for (``getRowsRequest``): first, end and its sorts; None for no request (or
    one the table never sends)."""
    asked = mapping(request)
    start, end, sort = asked.get("startRow"), asked.get("endRow"), asked.get("sortModel") or []
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end and isinstance(sort, list)):
        return None
    return start, end, [s for s in sort if isinstance(s, dict) and isinstance(s.get("colId"), str)
                        and s.get("sort") in ("asc", "desc")]


def evacuation_layer(engine: Engine, warning: dict, viewer: Actor) -> dict:
    """The open ``warning`` with its evacuation for the map: the households' points as far as the viewer may see
    them (the policy's sees_household), and its grids' moved/total counts, which name nobody (every viewer)."""
    return {**warning, "households": evacuation_points(engine, warning["id"], viewer),
            "grids_moved": evacuation_grid_counts(engine, warning["id"])}


def camera_of(data: object) -> tuple[float, tuple[float, float, float, float]] | None:
    """Zoom and lon/lat bounds (west, south, east, north) of what the map shows, from the camera store
    (assets/mapview.js); None for anything else (the browser is not trusted)."""
    if not isinstance(data, dict):
        return None
    try:
        zoom = float(data["zoom"])
        west, south, east, north = (float(v) for v in data["bounds"])
    except (TypeError, KeyError, ValueError):
        return None
    if not (0 <= zoom <= 24 and -180 <= west < east <= 180 and -90 <= south < north <= 90):
        return None
    return zoom, (west, south, east, north)


def camera_patch(app_ctx: AppContext, state: FilterState,
                 camera: tuple[float, tuple[float, float, float, float]]) -> Patch:
    """The names laid out anew for what the map shows (``camera``: zoom and bounds), and the communities'
    inset shown only while the map shows the whole town: after any move (a drill, a table row, the
    operator's scroll)."""
    gs = app_ctx.township.gridset
    patch = Patch()
    zoom, bounds = camera
    view = frame_view(app_ctx.township, state)[1]  # a replayed moment's names, as its map
    apply_updates(patch, {LABELS: label_update(view, gs, zoom, bounds=bounds)})
    inset_relayout(patch, state, gs, covers(bounds, gs.bounds(gs.ids(level=1))))
    return patch


def map_patch(app_ctx: AppContext, snap: Snapshot, view: View, viewer: Actor, warn_opened: dict | None, *,
              data_only: bool, grids_sent: bool | None, shown_revision: str | None,
              camera: object = None) -> tuple[Patch, object, object, bool]:
    """The map's patch after a filter change or new data, with the grids-sent flag, the view revision and
    whether the map shades an evacuation's grids (the legend shows their key then).

    The geometry stays in the browser and zoom survives (uirevision); the
    flag and the revision are ``no_update`` unless they changed. ``camera``:
    what the map shows (the camera store), for the names.
    """
    gs, state = app_ctx.township.gridset, view.state
    patch = Patch()
    warning = map_warning(snap, gs, viewer, warn_opened)
    if warning:
        warning = evacuation_layer(app_ctx.township.engine, warning, viewer)
    center, zoom, revision = ui.map_view(state, gs)
    # A filter change where the map stays: the names are laid out for what it shows (a drill's follow the
    # browser's fit of the new view, reported to on_camera).
    shown = None if data_only or revision != shown_revision else camera_of(camera)
    updates = map_updates(view, gs, warning, *(shown or ()))
    evacuation_shown = bool(updates[EVACUATION_GRIDS].get("visible"))
    if data_only:
        # New data leaves the town outline and the resources as they were; sent again, plotly
        # would re-tile them in the browser before it draws the new case (bench/ingest.py).
        updates.pop(RESOURCES)
        if state.level != 1:
            updates.pop(TOWN)
        updates.pop(LABELS)  # the desk's names do not depend on the data
    apply_updates(patch, updates)
    patch["layout"]["annotations"] = map_note(view, state.lang)
    patch["layout"]["meta"] = {"version": snap.version, "fit": ui.map_fit(state, gs)}
    grids_now = revision_now = no_update
    if drawn_level(state) == 3 and not grids_sent:
        # A big grid set's geometry (and its ids and names) comes with the first view of level 3, once per page.
        patch["data"][GRIDS]["geojson"] = geometry_only(gs.feature_collection(3))
        apply_updates(patch, map_labels(gs, state, viewer.role, (3,)))
        grids_now = True
    if revision != shown_revision:
        # A drill: move the map. Otherwise leave the view alone, so the
        # operator's zoom and pan survive filter changes and live updates.
        patch["layout"]["map"].update({"uirevision": revision, "center": center, "zoom": zoom, "layers": []})
        inset_relayout(patch, state, gs)  # the communities' inset shows over the whole town only
        revision_now = revision
    elif shown:
        inset_relayout(patch, state, gs, covers(shown[1], gs.bounds(gs.ids(level=1))))
    return patch, grids_now, revision_now, evacuation_shown


def focus_patch(app_ctx: AppContext, viewer: Actor, cell: dict | None, shown_revision: str | None) -> Patch:
    """The map flown to the case of a clicked table row, the case ringed (`ui.dashboard.case_focus`).

    Only a case the viewer may see (a village operator: their village's) and
    that has a place; otherwise nothing moves.
    """
    case_id = row_record(cell)
    if case_id is None:
        raise PreventUpdate
    cases = app_ctx.township.snapshot().cases
    row = cases[cases["id"] == case_id]
    if row.empty or not may_see_village(viewer, row["village_id"].iloc[0]) or pd.isna(row["lon"].iloc[0]):
        raise PreventUpdate
    patch = Patch()
    patch["layout"]["map"].update(ui.case_focus(float(row["lon"].iloc[0]), float(row["lat"].iloc[0]),
                                                f"{shown_revision}|case:{case_id}"))
    return patch


def on_state_out(app_ctx: AppContext, data: dict, warn_opened: dict | None, shown_revision: str | None,
                 grids_sent: bool | None, map_version: int | None, *, data_only: bool, camera: object = None) -> tuple:
    """The views' outputs after a filter change or new data (in the order of `VIEW_OUTPUTS`).

    Outputs that did not change are not sent: each one set makes the browser's renderer work. While a
    moment is replayed, new data redraws nothing unless it wrote to that moment's cases or changed its warnings
    (`callbacks.playback.frame_key`): the live tick never overwrites a replayed frame.
    """
    viewer, state = viewer_and_state(app_ctx, data)
    gs = app_ctx.township.gridset
    snap, view = frame_view(app_ctx.township, state)
    live = app_ctx.township.snapshot() if state.t is not None else snap
    if data_only and state.t is not None and snap.version == map_version:
        # the same frame: only the banner follows the new data (it announces what is live now)
        banner = ui.alert_banner(viewer_alerts(live, viewer), state.lang)
        return (*(no_update,) * BANNER_AT, *banner, *(no_update,) * (len(VIEW_OUTPUTS) - BANNER_AT - len(banner)))
    patch, grids_now, revision_now, evacuation_shown = map_patch(
        app_ctx, snap, view, viewer, warn_opened, data_only=data_only, grids_sent=grids_sent,
        shown_revision=shown_revision, camera=camera)
    detail = grid_detail(view, gs, state.grid) if state.grid else None
    return (
        patch,
        ui.headline_cards(view),
        no_update if data_only else ui.breadcrumb(state, gs, village_root(viewer)),  # new buttons fire the reducer
        ui.grid_panel(detail, gs, viewer.role, state.lang) + grid_orders(app_ctx, state),
        no_update if data_only else state.to_query(),
        *ui.alert_banner(viewer_alerts(live, viewer), state.lang),
        revision_now,
        grids_now,
        snap.version if snap.version != map_version else no_update,  # a filter change alone moves nothing
        *playback_ui.badge(state),
        playback_ui.clock(state),
        playback_ui.bar_class(state),
        not evacuation_shown,
    )


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the dashboard's callbacks."""
    tw = app_ctx.township
    gs = tw.gridset

    @app.callback(
        Output(ids.STATE, "data"),
        *[Output(cid, "value", allow_duplicate=True) for cid, _ in CONTROLS],
        *[Input(cid, "value") for cid, _ in CONTROLS],
        Input(ids.MAP, "clickData"),
        Input(ids.CRUMB_TOWN, "n_clicks"),
        Input(ids.CRUMB_VILLAGE, "n_clicks"),
        Input(ids.F_RESET, "n_clicks"),
        State(ids.STATE, "data"),
        prevent_initial_call=True,
    )
    def on_action(*args):
        if dash_ctx.triggered_id in BUTTONS and not dash_ctx.triggered[0].get("value"):
            # A refresh draws the breadcrumb anew, and Dash fires this callback for the new
            # buttons (n_clicks None): that is no click, and must not send the view up to the town.
            return (no_update,) * (1 + len(CONTROLS))
        return on_action_out(app_ctx, args[-1], list(args[: len(CONTROLS)]), args[len(CONTROLS)])

    @app.callback(
        *[Output(cid, prop) for cid, prop in VIEW_OUTPUTS],
        Input(ids.STATE, "data"),
        Input(ids.VERSION, "data"),
        Input(ids.WARN_OPENED, "data"),
        State(ids.VIEW, "data"),
        State(ids.GRIDS_SENT, "data"),
        State(ids.MAP_VERSION, "data"),
        State(ids.MAP_CAMERA, "data"),
        prevent_initial_call=True,
    )
    def on_state(data, _version, warn_opened, shown_revision, grids_sent, map_version, camera):
        data_only = {t.split(".")[0] for t in dash_ctx.triggered_prop_ids} == {ids.VERSION}
        return on_state_out(app_ctx, data, warn_opened, shown_revision, grids_sent, map_version, data_only=data_only,
                            camera=camera)

    @app.callback(Output(ids.VERSION, "data"), Input(ids.TICK, "n_intervals"), State(ids.VERSION, "data"),
                  prevent_initial_call=True)
    def on_tick(_n, shown):
        # One cheap read a second; nothing is sent unless the data changed.
        version = data_version(tw.engine)
        if version == shown:
            raise PreventUpdate
        return version

    @app.callback(Output(ids.VERSION, "data", allow_duplicate=True), Input(ids.ALERT_ACK, "n_clicks"),
                  State(ids.ALERT_ACK, "value"), prevent_initial_call=True)
    def on_acknowledge(_n, warning_id):
        warning_id = record_id(warning_id)
        if warning_id is None:
            raise PreventUpdate
        try:
            # The warning card's move, with its rules: the role, the village's reach, the status.
            move_warning(tw.engine, gs, warning_id, "acknowledge", current_viewer(app_ctx))
        except MoveRefused:
            raise PreventUpdate from None
        return data_version(tw.engine)

    @app.callback(
        Output(ids.TABLE, "getRowsResponse"),
        Output(ids.TABLE_COUNT, "children"),
        Input(ids.TABLE, "getRowsRequest"),
        State(ids.STATE, "data"),
        prevent_initial_call=True,
    )
    def on_rows(request, data):
        asked = rows_asked(request)
        if asked is None:
            return no_update, no_update
        view = frame_view(tw, viewer_and_state(app_ctx, data)[1])[1]  # the cases as they were at a replayed t
        rows, total = ui.table_rows(view, gs, *asked)
        return {"rowData": rows, "rowCount": total}, f" ({total})"

    @app.callback(Output(ids.MAP, "figure", allow_duplicate=True), Input(ids.TABLE, "cellClicked"),
                  State(ids.VIEW, "data"), prevent_initial_call=True)
    def on_row(cell, shown_revision):
        # The case card opens from the same click (callbacks.casecard); the map shows where it is.
        return focus_patch(app_ctx, current_viewer(app_ctx), cell, shown_revision)

    @app.callback(Output(ids.MAP, "figure", allow_duplicate=True), Input(ids.MAP_CAMERA, "data"),
                  State(ids.STATE, "data"), prevent_initial_call=True)
    def on_camera(camera, data):
        # The map moved (a fit, a drill, a table row, the operator's scroll or drag): names and inset follow.
        shown = camera_of(camera)
        if shown is None:
            raise PreventUpdate
        return camera_patch(app_ctx, viewer_and_state(app_ctx, data)[1], shown)

    app.clientside_callback(ClientsideFunction("dashboard", "loadTable"), Output(ids.TABLE_SLOT, "children"),
                            Input(ids.TABLE_SPEC, "data"), State(ids.MAP, "id"))
    app.clientside_callback(ClientsideFunction("dashboard", "showImport"), Output(ids.IMPORT_SLOT, "children"),
                            Input(ids.TAB, "value"), State(ids.IMPORT_SPEC, "data"), State(ids.IMPORT_SLOT, "children"),
                            prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("dashboard", "showTab"), Output(ids.STATS_PAGE, "hidden"),
                            Input(ids.TAB, "value"), prevent_initial_call=True)

    # The URL mirrors the state; the statistics and the table follow the map once it has drawn new
    # data; then the table asks again for its blocks (assets/dashboard.js says why each waits).
    # At page load too: a URL corrected to what is shown (a village operator's) is rewritten at once.
    app.clientside_callback(ClientsideFunction("dashboard", "mirrorQuery"), Output(ids.QUERY, "id"),
                            Input(ids.QUERY, "data"), State(ids.TABLE_SPEC, "data"))
    app.clientside_callback(ClientsideFunction("dashboard", "mapDrawn"), Output(ids.DRAWN, "data"),
                            Input(ids.MAP_VERSION, "data"), State(ids.MAP, "id"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("dashboard", "refreshTable"), Output(ids.DRAWN, "id"),
                            Input(ids.DRAWN, "data"), State(ids.TABLE_SPEC, "data"), prevent_initial_call=True)
