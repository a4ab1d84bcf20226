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
* **movers** — the village ranking shows each village's change of rank in this Beijing
  month's evaluation (the /analysis page's, `township.read.evaluation`) from last month's,
  and names the month's biggest movers up and down.
* **replay** (``?tour=1&replay=24h``) — the tour's second stop replays the last
  24 hours over the town (`ui.wall.replay_stop`): the browser asks for the
  frame of the moment it has reached each second (``wall-replay``), the map
  draws the town as it was then, for the wall (counts, no names), under a
  badge 回放 with the clock; leaving the stop asks for live again. The
  refresh leaves the map to the replay meanwhile.
"""
from __future__ import annotations

from datetime import timedelta

from dash import ClientsideFunction, Dash, Input, Output, Patch, State, html, no_update

from callbacks.checked import mapping, number, record_ids
from callbacks.playback import frame_view
from layers.mapfig import apply_updates, map_note
from township.domain.filters import FilterState
from township.loop.evacroster import live_evacuations
from township.loop.workflow import Actor
from township.read.evaluation import MonthlyEvaluation, evaluation_for, month_of
from township.read.resident import feedback_frame
from township.read.snapshot import Snapshot
from township.read.views import View, make_view
from township.runtime.bootstrap import AppContext
from township.store.models import utcnow
from ui import evacuation as evac_ui
from ui import ids
from ui import playback as playback_ui
from ui import wall as ui

#: Whom the wall reads evacuations as: the wall, whatever DEFAULT_ROLE says (counts only).
WALL_VIEWER = Actor("wall", "wall")


def options_lang(options: object) -> str:
    """The language of the wall's options store, checked (the store comes back from the browser)."""
    lang = mapping(options).get("lang")
    return lang if lang in ("zh", "en") else "zh"


def month_evaluation(app_ctx: AppContext, snap: Snapshot, view: View) -> MonthlyEvaluation:
    """The villages' evaluation of the Beijing month of ``view.now`` against the month before, as the wall may see it
    (the policy: counts of every village, no handler named).

    Kept per data version and month (`Township.kept`): a 回访 answer bumps the version
    (`township.loop.resident.answer_revisit`), so a new rating is evaluated on the next refresh.
    """
    tw, month = app_ctx.township, month_of(view.now)
    return tw.kept(snap, ("wall-evaluation", *month),
                   lambda: evaluation_for(snap.cases, WALL_VIEWER, "village", *month, feedback_frame(tw.engine)))


def wall_scale(scale: object) -> float:
    """The wall's size factor as its store holds it (assets/wall.js: 1 at 1920 px wide, 2 at 3840, 4 at most)."""
    return number(scale, 1.0, 1.0, 4.0)


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
                   s.tile_attribution, evacuation, month_evaluation(app_ctx, snap, view))


def replay_state(data: object, options: object) -> FilterState | None:
    """The wall's state at the moment its replay asks for (``{"t": epoch s}``), or None for live.

    The store comes back from the browser: a moment outside the replay the URL allowed (the last
    ``replay`` hours up to now) is brought inside it, and without a replay there is none.
    """
    hours, asked = mapping(options).get("replay"), mapping(data).get("t")
    if isinstance(asked, bool) or not isinstance(asked, int | float) or asked != asked:  # NaN: no moment
        return None
    if not isinstance(hours, int) or not 1 <= hours <= ui.REPLAY_MAX_H:
        return None
    now = utcnow().replace(microsecond=0)
    # brought inside in epoch seconds: a moment off the calendar is never made a time
    first, last = playback_ui.epoch(now - timedelta(hours=hours, minutes=1)), playback_ui.epoch(now)
    at = playback_ui.moment(min(max(asked, first), last))
    return ui.state_for(options_lang(options)).model_copy(update={"t": at})


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the wall's callbacks."""
    tw = app_ctx.township
    gs = tw.gridset

    def map_patch(view, version: int, scale: float, seen_reds: list | None, updates: dict | None = None) -> Patch:
        """The map's patch of ``view`` (live, or a replayed frame) for the wall at ``scale``.

        ``seen_reds``: the red warnings whose grids the screen shows (None: send their geometry);
        ``updates``: the traces' updates when the caller has them (`ui.wall.wall_updates`).
        """
        patch = Patch()
        apply_updates(patch, updates if updates is not None else ui.wall_updates(view, gs, scale, seen_reds))
        patch["layout"]["annotations"] = map_note(view, view.state.lang)
        patch["layout"]["meta"] = {"version": version}  # which data the map shows (as the dashboard's)
        return patch

    @app.callback(
        Output(ids.WALL_MAP, "figure", allow_duplicate=True),
        Output(ids.WALL_REPLAY_BADGE, "children"),
        Output(ids.WALL_REPLAY_BADGE, "hidden"),
        Output(ids.WALL_REPLAY_LABELS, "data"),
        Input(ids.WALL_REPLAY, "data"),
        State(ids.WALL_SCALE, "data"),
        State(ids.WALL_OPTIONS, "data"),
        State(ids.WALL_REDS, "data"),
        State(ids.WALL_REPLAY_LABELS, "data"),
        prevent_initial_call=True,
    )
    def replay(data, scale, options, seen_reds, shown_labels):
        # Built for the wall whoever looks (counts, no names), as the refresh is; None: back to live.
        # The reds drawn (a frame's, then live ones) are not those the page knows: their grids' geometry is sent.
        state, scale = replay_state(data, options), wall_scale(scale)
        if state is None:
            snap = tw.snapshot()
            view = make_view(snap, gs, ui.state_for(options_lang(options)))
            return map_patch(view, snap.version, scale, None), [], True, None
        frame, view = frame_view(tw, state)
        updates = ui.wall_updates(view, gs, scale, None)
        labels = ui.labels_key(updates)
        if labels == shown_labels:
            # The names and counts are those on the screen: sent again each second, MapLibre would place
            # them anew every frame, and on a slow 4K wall they would never show.
            ui.drop_labels(updates)
        return (map_patch(view, frame.version, scale, None, updates), ui.replay_badge(view, state.lang),
                False, labels)

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
        State(ids.WALL_REPLAY, "data"),
        prevent_initial_call=True,
    )
    def refresh(_want, _minute, scale, options, seen_reds, replaying):
        scale, options, seen_reds = wall_scale(scale), mapping(options), record_ids(seen_reds)
        lang = options_lang(options)
        snap = tw.snapshot()
        view = make_view(snap, gs, ui.state_for(lang))
        # while the tour replays the map is the replay's
        patch = map_patch(view, snap.version, scale, seen_reds) if not replaying else no_update
        plan = {**ui.tour_plan(view, gs, lang), "replay": ui.replay_stop(options, gs, view.now, lang)}
        focus = ui.new_red_focus(view.warnings, seen_reds, gs, lang)
        evacuation = evac_ui.wall_bars(live_evacuations(tw.engine, gs, WALL_VIEWER), gs, lang)
        return (
            patch,
            ui.headline_cards(view),
            ui.ranking_table(view, gs, lang, month_evaluation(app_ctx, snap, view)),
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
        Output(ids.WALL_REPLAY, "data"),
        Input(ids.WALL_TICK, "n_intervals"),
        State(ids.WALL_PLAN, "data"),
        State(ids.WALL_FOCUS, "data"),
        State(ids.WALL_OPTIONS, "data"),
        State(ids.WALL_CURSOR, "data"),
        prevent_initial_call=True,
    )
