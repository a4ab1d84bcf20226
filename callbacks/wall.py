"""Callbacks of the wall display (``/wall``): it refreshes itself, tours the villages, survives outages.

How it stays fresh (the browser side is ``assets/wall.js``):

* **poll** — every half second (``POLL_MS``) the browser fetches ``/api/v1/version`` itself
  (2.5 s timeout, one at a time). When the server's version differs from
  the one on screen it asks for a refresh by writing
  :data:`ui.ids.WALL_WANT`, again every 5 s until the screen shows that
  version, so a refresh lost to a restart or a dropped network is caught up.
* **refresh** (here) — the data on screen as ``Patch`` updates: map
  colours and points (never the geometry), figures, feed, ranking, banner,
  tour plan. It also runs once a minute without a data change, because
  overdue counts and ages move with the clock.
* **offline** — ``OFFLINE_AFTER`` polls in a row failed (refused, timed out, not 2xx):
  the 离线 mark shows until a poll succeeds.
* **stale** — the data age (数据更新于 N 秒前) is the time since a poll last
  confirmed that the screen shows the server's current version; after
  ``STALE_S`` (60 s) it turns red. So it is red after a minute without the
  server, and also when the server answers but the refresh keeps failing.
* **tour** (``?tour=1&interval=20``) — the town, then every village busiest
  first (:func:`ui.wall.tour_scores`: open + 2·overdue + 3·live warnings
  reaching it), ``interval`` seconds each, round and round; the browser moves
  the map's camera at once, names the stop when the moved map has drawn, then
  patches the figure (centre, zoom, a new ``uirevision``) and outlines the
  village: a patch alone made the map wait for plotly to re-render the whole
  figure, seconds at 4K in software GL. The plan is recomputed on every
  refresh; the tour walks it by position. (A tick also waits while a refresh is
  on its way: Dash holds a callback whose state another one is computing.)
* **new red warning** — a live red warning the page had not seen takes the
  map (its village and circle, centred on it) for ``HOLD_S`` (60 s), tour
  or not; then the tour goes on where it was (or the town view returns).
* **banner** — every *live* red or orange warning (active, acknowledged or
  handling), most severe first, shown until it is cleared: a desk's
  acknowledgement is not a clearing, and the wall has no buttons.
* **red warnings on the map** — each live red warning draws its circle and
  fills the grids it reaches; a new one pulses a few times (assets/maplabels.js).
"""
from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, Patch, State, html, no_update

from layers.mapfig import apply_updates, map_note
from township.loop.evacroster import live_evacuations
from township.loop.workflow import Actor
from township.read.views import make_view
from township.runtime.bootstrap import AppContext
from ui import evacuation as evac_ui
from ui import ids
from ui import wall as ui

#: Whom the wall reads evacuations as: the wall, whatever DEFAULT_ROLE says (counts only).
WALL_VIEWER = Actor("wall", "wall")


def render_page(app_ctx: AppContext, _match: object, search: str | None) -> html.Div:
    """The wall for a URL query (``?tour=1&interval=20&lang=en``; values not understood are ignored)."""
    opts = ui.parse_options(search)
    tw = app_ctx.township
    snap = tw.snapshot()
    view = make_view(snap, tw.gridset, ui.state_for(opts.lang))
    s = app_ctx.settings
    # role "wall" whatever DEFAULT_ROLE says: the builders never take the configured role
    evacuation = evac_ui.wall_bars(live_evacuations(tw.engine, tw.gridset, WALL_VIEWER), tw.gridset, opts.lang)
    return ui.page(view, tw.gridset, opts, snap.version, ui.live_alerts(view.warnings), s.tile_url,
                   s.tile_attribution, evacuation)


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the wall's callbacks."""
    tw = app_ctx.township
    gs = tw.gridset

    @app.callback(
        Output(ids.WALL_MAP, "figure", allow_duplicate=True),
        Output(ids.WALL_HEADLINE, "children"),
        Output(ids.WALL_RANKING, "children"),
        Output(ids.WALL_FEED, "children"),
        Output(ids.WALL_LEGEND, "children"),
        Output(ids.WALL_BANNER, "children"),
        Output(ids.WALL_BANNER, "className"),
        Output(ids.WALL_BANNER, "hidden"),
        Output(ids.WALL_PLAN, "data"),
        Output(ids.WALL_TOUR, "data-order"),
        Output(ids.WALL_REDS, "data"),
        Output(ids.WALL_FOCUS, "data"),
        Output(ids.WALL_SHOWN, "data"),
        Output(ids.WALL_EVAC, "children"),
        Output(ids.WALL_EVAC, "hidden"),
        Input(ids.WALL_WANT, "data"),
        Input(ids.WALL_MINUTE, "n_intervals"),
        Input(ids.WALL_SCALE, "data"),
        State(ids.WALL_OPTIONS, "data"),
        State(ids.WALL_REDS, "data"),
        prevent_initial_call=True,
    )
    def refresh(_want, _minute, scale, options, seen_reds):
        lang = (options or {}).get("lang")
        lang = lang if lang in ("zh", "en") else "zh"  # the store comes back from the browser: check it
        snap = tw.snapshot()
        view = make_view(snap, gs, ui.state_for(lang))
        patch = Patch()
        apply_updates(patch, ui.wall_updates(view, gs, float(scale or 1), seen_reds or []))
        patch["layout"]["annotations"] = map_note(view, lang)
        patch["layout"]["meta"] = {"version": snap.version}  # which data the map shows (as the dashboard's)
        plan = ui.tour_plan(view, gs, lang)
        focus = ui.new_red_focus(view.warnings, seen_reds, gs, lang)
        evacuation = evac_ui.wall_bars(live_evacuations(tw.engine, gs, WALL_VIEWER), gs, lang)
        return (
            patch,
            ui.headline_cards(view),
            ui.ranking_table(view, gs, lang),
            ui.feed_track(view, gs, lang),
            ui.legend(view, lang),
            *ui.banner(ui.live_alerts(view.warnings), lang),
            plan,
            ",".join(s["key"] for s in plan["order"]),
            ui.red_ids(view.warnings),
            no_update if focus is None else focus,
            snap.version,
            evacuation,
            not evacuation,
        )

    app.clientside_callback(
        ClientsideFunction("wall", "scale"),
        Output(ids.WALL_SCALE, "data"),
        Input(ids.WALL_OPTIONS, "data"),
    )
    app.clientside_callback(
        ClientsideFunction("wall", "poll"),
        Output(ids.WALL_HEALTH, "data"),
        Output(ids.WALL_WANT, "data"),
        Input(ids.WALL_POLL, "n_intervals"),
        State(ids.WALL_SHOWN, "data"),
        State(ids.WALL_HEALTH, "data"),
        State(ids.WALL_WANT, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("wall", "status"),
        Output(ids.WALL_CLOCK, "children"),
        Output(ids.WALL_AGE, "children"),
        Output(ids.WALL_AGE, "className"),
        Output(ids.WALL_OFFLINE, "hidden"),
        Input(ids.WALL_TICK, "n_intervals"),
        Input(ids.WALL_HEALTH, "data"),
        State(ids.WALL_OPTIONS, "data"),
    )
    app.clientside_callback(
        ClientsideFunction("wall", "move"),
        Output(ids.WALL_MAP, "figure", allow_duplicate=True),
        Output(ids.WALL_STOP, "children"),
        Output(ids.WALL_STOP, "data-stop"),
        Output(ids.WALL_STOP_DETAIL, "children"),
        Output(ids.WALL_CURSOR, "data"),
        Input(ids.WALL_TICK, "n_intervals"),
        State(ids.WALL_PLAN, "data"),
        State(ids.WALL_FOCUS, "data"),
        State(ids.WALL_OPTIONS, "data"),
        State(ids.WALL_CURSOR, "data"),
        prevent_initial_call=True,
    )
