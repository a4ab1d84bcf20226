"""Callbacks of the dashboard page: the state reducer and the views that follow it."""
from __future__ import annotations

from dash import Dash, Input, Output, Patch, State, ctx as dash_ctx, html, no_update
from dash.exceptions import PreventUpdate

from layers.mapfig import apply_updates, map_updates
from township import filters
from township.bootstrap import AppContext
from township.filters import FilterState
from township.services import acknowledge_warning, alerts, grid_detail, make_view
from township.store import data_version
from ui import dashboard as ui
from ui import ids

#: Filter controls, in the order of the reducer's inputs and outputs.
CONTROLS = [
    (ids.F_VILLAGE, "village"), (ids.F_LEVEL, "level"), (ids.F_DOMAIN, "domain"), (ids.F_STATUS, "status"),
    (ids.F_TYPE, "type"), (ids.F_WLEVEL, "wlevel"), (ids.F_WINDOW, "window"), (ids.F_MEASURE, "measure"),
    (ids.F_LAYERS, "layers"),
]


def render_page(app_ctx: AppContext, _match: object, search: str | None) -> html.Div:
    """The page for a URL query: unknown values are dropped and listed in a notice."""
    tw = app_ctx.township
    gs = tw.gridset
    state, notices = filters.from_query(search, set(gs.ids(level=2)), set(gs.ids(level=3)))
    if app_ctx.grid_load.error is not None:
        notices.append(f"grid file rejected ({len(app_ctx.grid_load.error.violations)} problems), previous grids kept")
    snap = tw.snapshot()
    view = make_view(snap, gs, state)
    s = app_ctx.settings
    detail = grid_detail(view, gs, state.grid) if state.grid else None
    return ui.page(state, notices, view, detail, gs, s.role, snap.version, alerts(snap), s.tile_url,
                   s.tile_attribution)


def reduce(state: FilterState, trigger: str | None, values: dict, click: dict | None, gs) -> FilterState:
    """The next state after one user action (pure: tested without a browser)."""
    if trigger == ids.F_RESET:
        return filters.reset(state)
    if trigger == ids.CRUMB_TOWN:
        return filters.up_to_town(state)
    if trigger == ids.CRUMB_VILLAGE:
        return filters.up_to_village(state)
    if trigger == ids.MAP:
        point = (click or {}).get("points", [{}])[0]
        grid_id = point.get("location")
        if not grid_id:
            return state
        level = gs.props(grid_id)["level"]
        return filters.drill(state, grid_id, level, gs.village_of(grid_id))
    update = {k: v for k, v in values.items() if v is not None}
    new = state.model_copy(update=update)
    if new.grid and (new.level != 3 or (new.village and gs.village_of(new.grid) not in new.village)):
        new = new.model_copy(update={"grid": None})
    return new


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the dashboard's callbacks."""
    tw = app_ctx.township
    gs = tw.gridset
    role = app_ctx.settings.role

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
        state = FilterState(**args[-1])
        values = dict(zip([name for _, name in CONTROLS], args[: len(CONTROLS)]))
        new = reduce(state, dash_ctx.triggered_id, values, args[len(CONTROLS)], gs)
        if new == state:
            return (no_update,) * (1 + len(CONTROLS))
        return (new.model_dump(), *[getattr(new, name) for _, name in CONTROLS])

    @app.callback(
        Output(ids.MAP, "figure"),
        Output(ids.HEADLINE, "children"),
        Output(ids.CHART_DOMAIN, "figure"),
        Output(ids.CHART_VILLAGE, "figure"),
        Output(ids.CRUMBS, "children"),
        Output(ids.PANEL, "children"),
        Output(ids.QUERY, "data"),
        Output(ids.ALERT_TEXT, "children"),
        Output(ids.ALERT_ACK, "value"),
        Output(ids.ALERT, "hidden"),
        Output(ids.VIEW, "data"),
        Input(ids.STATE, "data"),
        Input(ids.VERSION, "data"),
        State(ids.VIEW, "data"),
        prevent_initial_call=True,
    )
    def on_state(data, _version, shown_revision):
        # Runs on a filter change and when the data changed: both are patches,
        # the geometry stays in the browser and zoom survives (uirevision).
        state = FilterState(**data)
        snap = tw.snapshot()
        view = make_view(snap, gs, state)
        patch = Patch()
        apply_updates(patch, map_updates(view, gs, role))
        center, zoom, revision = ui.map_view(state, gs)
        if revision != shown_revision:
            # A drill: move the map. Otherwise leave the view alone, so the
            # operator's zoom and pan survive filter changes and live updates.
            patch["layout"]["map"].update({"uirevision": revision, "center": center, "zoom": zoom})
        detail = grid_detail(view, gs, state.grid) if state.grid else None
        return (
            patch,
            ui.headline_cards(view),
            ui.domain_chart(view),
            ui.village_chart(view, gs),
            ui.breadcrumb(state, gs),
            ui.grid_panel(detail, gs, role, state.lang),
            state.to_query(),
            *ui.alert_banner(alerts(snap), state.lang),
            revision,
        )

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
        if not warning_id:
            raise PreventUpdate
        acknowledge_warning(tw.engine, int(warning_id), actor=role)
        return data_version(tw.engine)

    @app.callback(
        Output(ids.TABLE, "getRowsResponse"),
        Output(ids.TABLE_COUNT, "children"),
        Input(ids.TABLE, "getRowsRequest"),
        State(ids.STATE, "data"),
        prevent_initial_call=True,
    )
    def on_rows(request, data):
        if not request:
            return no_update, no_update
        view = make_view(tw.snapshot(), gs, FilterState(**data))
        rows, total = ui.table_rows(view, gs, request["startRow"], request["endRow"], request.get("sortModel"))
        return {"rowData": rows, "rowCount": total}, f" ({total})"

    # The URL mirrors the state without a reload or a router round trip, and
    # the table drops its cached blocks so it asks again under the new filter.
    app.clientside_callback(
        """
        function(query) {
            window.history.replaceState(null, '', window.location.pathname + query);
            if (window.dash_ag_grid && dash_ag_grid.getApiAsync) {
                dash_ag_grid.getApiAsync('%s').then(api => api.purgeInfiniteCache());
            }
            return window.dash_clientside.no_update;
        }
        """ % ids.TABLE,
        Output(ids.QUERY, "id"),
        Input(ids.QUERY, "data"),
        prevent_initial_call=True,
    )
