"""The desk's time control (回放): a compact bar above the map, and the badge over the map while a moment is replayed.

Pure builders, like :mod:`ui.dashboard`: the page and the callbacks
(:mod:`callbacks.playback`, :mod:`callbacks.dashboard`) build the same parts.
While live the bar is one button (时间回放); replaying, it shows the range,
the player and the moment, and the badge says 回放 with the clock, so a
replayed map is never taken for now.
"""
from __future__ import annotations

from datetime import UTC, datetime

from dash import dcc, html

from layers.text import t
from township.domain.filters import FilterState
from township.domain.isotime import local_text
from ui import ids

#: Speeds offered (1×: one step a second; see frame_ms and steps_per_frame).
SPEEDS: tuple[int, ...] = (1, 2, 4, 8)
#: Step sizes offered, in seconds, with their text keys.
STEPS: dict[int, str] = {900: "pb_15m", 3600: "pb_1h", 86400: "pb_1d"}
#: Range presets: the last 24 hours, week, month (seconds back from now), the whole trail, or two typed moments.
RANGES: dict[str, int | None] = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "all": None, "custom": None}
#: Moving windows offered (hours); "cumulative" shows everything up to t.
WINDOW_HOURS: tuple[int, ...] = (6, 24, 72)
#: How a typed moment of a custom range is written (Beijing time).
TYPED = "%Y-%m-%d %H:%M"
TYPED_HINT = "2026-12-05 18:00"
#: The most labels under the slider.
MARKS = 6
#: The shortest time between two frames: faster speeds take more steps per frame instead, so that a
#: frame's round trip (the player, then the view) is never asked for before the last one can have come.
FRAME_MIN_MS = 500


def frame_ms(speed: int) -> int:
    """Milliseconds between frames at ``speed``: one step a second at 1×, never under `FRAME_MIN_MS`."""
    return max(FRAME_MIN_MS, 1000 // max(1, speed))


def steps_per_frame(speed: int) -> int:
    """Steps each frame moves at ``speed`` (1× and 2×: one; 4×: two; 8×: four)."""
    return max(1, speed * frame_ms(speed) // 1000)


def epoch(moment: datetime) -> int:
    """A stored (naive UTC) moment as whole epoch seconds (the slider's unit)."""
    return int(moment.replace(tzinfo=UTC).timestamp())


def moment(seconds: float) -> datetime:
    """Epoch seconds as a stored (naive UTC) moment."""
    return datetime.fromtimestamp(int(seconds), UTC).replace(tzinfo=None)


def mode_value(state: FilterState) -> str:
    """The mode control's value for ``state``: ``cumulative`` or ``moving-N``."""
    return "cumulative" if state.mode == "cumulative" else f"moving-{state.hours}"


def mode_options(lang: str, hours: int) -> list[dict]:
    """The mode control's options; a window of ``hours`` from a URL is offered even when not among the usual."""
    shown = sorted({*WINDOW_HOURS, hours})
    return [{"label": t("pb_cumulative", lang), "value": "cumulative"}] + [
        {"label": t("pb_moving", lang).format(n=n), "value": f"moving-{n}"} for n in shown]


def marks(start: int, end: int) -> dict:
    """Labels under the slider: at most `MARKS`, in Beijing time (the time of day too when the range is short)."""
    if end <= start:
        return {}
    fmt = "%m-%d %H:%M" if end - start <= 3 * 86400 else "%m-%d"
    points = [start + round((end - start) * k / (MARKS - 1)) for k in range(MARKS)]
    return {str(p): local_text(moment(p), fmt) for p in points}


def clock(state: FilterState) -> str:
    """The replayed moment as people read it (Beijing time), or nothing while live."""
    return local_text(state.t, "%Y-%m-%d %H:%M") if state.t is not None else ""


def badge(state: FilterState) -> tuple[list, bool]:
    """Children and hidden flag of the badge over the map: 回放, the clock, the mode."""
    if state.t is None:
        return [], True
    lang = state.lang
    mode = t("pb_cumulative", lang) if state.mode == "cumulative" else t("pb_moving", lang).format(n=state.hours)
    return [html.Div([html.B(t("pb_replay", lang)),
                      html.Span(local_text(state.t, "%m-%d %H:%M"), className="pb-badge-clock"),
                      html.Span(f"{mode} · {t('pb_badge_note', lang)}", className="pb-badge-note")],
                     className="pb-pill")], False


def bar_class(state: FilterState) -> str:
    """The bar's class: the player shows only while a moment is replayed (assets/playback.css)."""
    return "pb-bar replay" if state.t is not None else "pb-bar live"


def _small(options: list[dict], value, cid: str, lang: str, width: int) -> dcc.Dropdown:
    return dcc.Dropdown(options, value, id=cid, clearable=False, searchable=False, className="pb-select",
                        style={"width": width}, placeholder=t("all", lang))


def bar(state: FilterState, player: dict) -> html.Div:
    """The time control for ``state`` and the player's settings ``player`` (`callbacks.playback.Player`)."""
    lang = state.lang
    ranges = [{"label": t(f"pb_{k}", lang), "value": k} for k in RANGES]
    start, end = int(player["start"]), int(player["end"])
    value = epoch(state.t) if state.t is not None else start
    custom = player["preset"] == "custom"
    return html.Div(
        [
            html.Button(t("pb_open", lang), id=ids.PB_OPEN, className="pb-open button"),
            html.Div(
                [
                    _small(ranges, player["preset"], ids.PB_RANGE, lang, 118),
                    html.Span([t("pb_from", lang),
                               dcc.Input(id=ids.PB_FROM, type="text", debounce=True, placeholder=TYPED_HINT,
                                         value=local_text(moment(start)), className="pb-typed"),
                               t("pb_to", lang),
                               dcc.Input(id=ids.PB_TO, type="text", debounce=True, placeholder=TYPED_HINT,
                                         value=local_text(moment(end)), className="pb-typed")],
                              id=ids.PB_CUSTOM, className="pb-custom", hidden=not custom),
                    _small(mode_options(lang, state.hours), mode_value(state), ids.PB_MODE, lang, 188),
                    html.Div(dcc.RadioItems([{"label": f"{s}×", "value": s} for s in SPEEDS], player["speed"],
                                            id=ids.PB_SPEED, inline=True, className="pb-radio"),
                             title=t("pb_speed", lang)),
                    html.Div(dcc.RadioItems([{"label": t(k, lang), "value": s} for s, k in STEPS.items()],
                                            player["step"], id=ids.PB_STEP, inline=True, className="pb-radio"),
                             title=t("pb_step", lang)),
                    dcc.Checklist([{"label": t("pb_loop", lang), "value": "loop"}],
                                  ["loop"] if player["loop"] else [], id=ids.PB_LOOP, inline=True,
                                  className="pb-radio"),
                    html.Button(t("pb_live", lang), id=ids.PB_LIVE, className="pb-live button"),
                ],
                className="pb-controls",
            ),
            html.Div(
                [
                    html.Button("◀", id=ids.PB_BACK, className="pb-step", title=t("pb_back", lang)),
                    html.Button(t("pb_pause" if player["playing"] else "pb_play", lang), id=ids.PB_PLAY,
                                className="pb-play"),
                    html.Button("▶", id=ids.PB_FWD, className="pb-step", title=t("pb_fwd", lang)),
                    html.Div(dcc.Slider(start, end, step=int(player["step"]), value=value, marks=marks(start, end),
                                        id=ids.PB_SLIDER, updatemode="mouseup", included=True,
                                        allow_direct_input=False),
                             className="pb-slider"),
                    html.Span(clock(state), id=ids.PB_CLOCK, className="pb-clock"),
                ],
                className="pb-track",
            ),
        ],
        id=ids.PB_BAR, className=bar_class(state),
    )


def badge_div(state: FilterState) -> html.Div:
    """The badge over the map (hidden while live)."""
    children, hidden = badge(state)
    return html.Div(children, id=ids.PB_BADGE, className="pb-badge", hidden=hidden)


def stores(player: dict) -> list:
    """The player's store and its timer (running only while playing)."""
    return [dcc.Store(id=ids.PB_PLAYER, data=player),
            dcc.Interval(id=ids.PB_TIMER, interval=frame_ms(int(player["speed"])), disabled=not player["playing"])]
