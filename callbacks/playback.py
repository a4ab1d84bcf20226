"""The time control's callback (回放) and the frame every view of a replayed moment is built from.

A frame goes the way a filter change goes: the player writes the moment
``t`` (and the mode) into the filter state (`township.domain.filters.FilterState`,
mirrored in the URL), and the view callback (`callbacks.dashboard`) builds
the view of :func:`frame` — the snapshot as it was at ``t``, from the
audit trail's index (`township.read.playback.History`) — and sends a Patch.
The player itself (playing, speed, step, loop, range) is :class:`Player`, in
its own store: how one moves through time is not what one looks at, and is
not in the URL.
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import pandas as pd
from dash import Dash, Input, Output, Patch, State, no_update
from dash import ctx as dash_ctx

from auth import current_viewer
from callbacks.checked import mapping, state_of
from layers.text import t as text
from township.domain.filters import PLAY_HOURS, FilterState, moment_text
from township.domain.isotime import LOCAL_TZ, local_text
from township.loop.casefile import clamp_state
from township.read.playback import frame_version
from township.read.snapshot import Snapshot, Township
from township.read.views import View, make_view
from township.runtime.bootstrap import AppContext
from township.store.models import utcnow
from ui import ids
from ui import playback as ui

#: Buttons among the player's inputs, in their order after the timer: only a click (n_clicks set) is an action.
BUTTONS = (ids.PB_OPEN, ids.PB_LIVE, ids.PB_PLAY, ids.PB_BACK, ids.PB_FWD)
#: The player's controls whose values are read, in the order of the callback's inputs after the buttons.
CONTROLS = [(ids.PB_SLIDER, "slider"), (ids.PB_RANGE, "range"), (ids.PB_FROM, "from"), (ids.PB_TO, "to"),
            (ids.PB_MODE, "mode"), (ids.PB_SPEED, "speed"), (ids.PB_STEP, "step"), (ids.PB_LOOP, "loop")]
#: The callback's outputs, in the order of :func:`outputs`: (id, property).
OUTPUTS = [(ids.STATE, "data"), (ids.PB_PLAYER, "data"), (ids.PB_TIMER, "disabled"), (ids.PB_TIMER, "interval"),
           (ids.PB_SLIDER, "min"), (ids.PB_SLIDER, "max"), (ids.PB_SLIDER, "value"), (ids.PB_SLIDER, "step"),
           (ids.PB_SLIDER, "marks"), (ids.PB_PLAY, "children"), (ids.PB_FROM, "value"), (ids.PB_TO, "value"),
           (ids.PB_CUSTOM, "hidden"), (ids.PB_FROM, "className"), (ids.PB_TO, "className")]
#: The type each control's value has (a value of another type, forged, is read as no value).
CONTROL_TYPES: dict[str, type | tuple[type, ...]] = {
    "slider": (int, float), "range": str, "from": str, "to": str, "mode": str, "speed": int, "step": int, "loop": list}
#: The preset a replay opens with: the last night is what is asked for most.
OPEN_PRESET = "24h"
#: The last moment a range may end at (epoch s): later ones are off the calendar once a step is added.
LAST_EPOCH = int(datetime(9999, 1, 1, tzinfo=UTC).timestamp())
#: Seconds a tick waits for the frame it asked for before it moves on anyway (a frame lost to an error).
STALL_S = 5.0


@dataclass(frozen=True)
class Player:
    """How the moment moves: playing or not, how fast, by what step, looping, over which range.

    ``start`` and ``end`` are epoch seconds (UTC); ``preset`` a key of `ui.playback.RANGES`.
    """

    playing: bool = False
    speed: int = 1
    step: int = 3600
    loop: bool = False
    preset: str = OPEN_PRESET
    start: int = 0
    end: int = 0
    #: when a tick last moved the moment (server clock, epoch s): see :func:`waiting`
    asked: float = 0.0

    @classmethod
    def load(cls, data: object) -> Player:
        """The player the browser's store sent back, checked (the store is not trusted): what is wrong is default."""
        data = mapping(data)
        out = cls()
        try:
            start, end = int(data.get("start", 0)), int(data.get("end", 0))
        except (TypeError, ValueError, OverflowError):
            start = end = 0
        if 0 < start < end <= LAST_EPOCH:
            out = replace(out, start=start, end=end)
        speed, step, preset, asked = data.get("speed"), data.get("step"), data.get("preset"), data.get("asked")
        return replace(out, playing=data.get("playing") is True, loop=data.get("loop") is True,
                       asked=float(asked) if isinstance(asked, (int, float)) else 0.0,
                       speed=speed if isinstance(speed, int) and speed in ui.SPEEDS else out.speed,
                       step=step if isinstance(step, int) and step in ui.STEPS else out.step,
                       preset=preset if isinstance(preset, str) and preset in ui.RANGES else out.preset)


@dataclass(frozen=True)
class Frame:
    """What the player asks for after one action: the player, the moment (epoch s, None: live), the mode."""

    player: Player
    t: int | None
    mode: str
    hours: int
    #: a text key when a typed range was refused (the inputs are marked)
    note: str | None = None


def read_controls(controls: list) -> dict:
    """The controls' values by the names of `CONTROLS`, each of its type (`CONTROL_TYPES`) or None."""
    def checked(name: str, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, CONTROL_TYPES[name]):
            return None
        if isinstance(value, float) and not math.isfinite(value):  # JSON may carry NaN and Infinity
            return None
        return None if isinstance(value, list) and not all(isinstance(v, str) for v in value) else value

    return {name: checked(name, value) for (_, name), value in zip(CONTROLS, controls, strict=True)}


def preset_range(preset: str, now: int, span: tuple[int, int] | None) -> tuple[int, int]:
    """Start and end (epoch s) of ``preset`` at ``now``: back from now, or the audit trail's whole ``span``."""
    back = ui.RANGES.get(preset)
    if back:
        return now - back, now
    first = span[0] if span else now - 86400
    return min(first, now - 3600), now


def read_typed(text_value: str | None) -> int | None:
    """A moment typed into a custom range (Beijing time, ``2026-12-05 18:00``) as epoch seconds, or None."""
    raw = (text_value or "").strip().replace("T", " ")
    try:
        local = datetime.strptime(raw, ui.TYPED)
    except ValueError:
        return None
    return int(local.replace(tzinfo=LOCAL_TZ).timestamp())


def _clamp(value: int, player: Player) -> int:
    return min(max(value, player.start), player.end)


def read_mode(value: object, mode: str, hours: int) -> tuple[str, int]:
    """The mode control's value (``cumulative`` or ``moving-N``) as (mode, hours); anything else keeps them."""
    if value == "cumulative":
        return "cumulative", hours
    if isinstance(value, str) and value.startswith("moving-") and value[7:].isdigit() and int(value[7:]) in PLAY_HOURS:
        return "moving", int(value[7:])
    return mode, hours


def play(frame: Frame, trigger: str | None, values: dict, now: int, span: tuple[int, int] | None) -> Frame:
    """The next frame after one action on the time control (pure: tested without a browser).

    Parameters
    ----------
    frame : Frame
        The player and the moment shown.
    trigger : str or None
        The id of the control that fired (`ids.PB_*`).
    values : dict
        The controls' values by the names of `CONTROLS`.
    now : int
        The server's clock, epoch seconds: no range ends after it.
    span : (int, int) or None
        The audit trail's first and last event (epoch s), for the range "whole trail".
    """
    p, t = frame.player, frame.t
    if trigger == ids.PB_OPEN:
        start, end = preset_range(p.preset if p.preset != "custom" else OPEN_PRESET, now, span)
        p = replace(p, playing=False, preset=p.preset if p.preset != "custom" else OPEN_PRESET, start=start, end=end)
        return replace(frame, player=p, t=start)
    if trigger == ids.PB_LIVE:
        return replace(frame, player=replace(p, playing=False), t=None)
    if t is None:  # live: nothing but opening moves anything (a timer left running stops)
        return replace(frame, player=replace(p, playing=False))
    if trigger == ids.PB_TIMER:
        if not p.playing:
            return frame
        nxt = t + p.step * ui.steps_per_frame(p.speed)
        if nxt > p.end:
            if p.loop:
                return replace(frame, t=p.start)
            return replace(frame, player=replace(p, playing=False), t=p.end)
        return replace(frame, t=nxt)
    if trigger == ids.PB_PLAY:
        if p.playing:
            return replace(frame, player=replace(p, playing=False))
        return replace(frame, player=replace(p, playing=True), t=p.start if t >= p.end else t)
    if trigger in (ids.PB_BACK, ids.PB_FWD):
        sign = -1 if trigger == ids.PB_BACK else 1
        return replace(frame, player=replace(p, playing=False), t=_clamp(t + sign * p.step, p))
    if trigger == ids.PB_SLIDER and isinstance(values.get("slider"), (int, float)):
        return replace(frame, t=_clamp(int(values["slider"]), p))
    if trigger == ids.PB_RANGE and values.get("range") in ui.RANGES:
        preset = values["range"]
        if preset != "custom":
            start, end = preset_range(preset, now, span)
            p = replace(p, start=start, end=end)
        p = replace(p, preset=preset)
        return replace(frame, player=p, t=t if p.start <= t <= p.end else p.start)
    if trigger in (ids.PB_FROM, ids.PB_TO):
        typed = read_typed(values.get("from")), read_typed(values.get("to"))
        if typed[0] is None or typed[1] is None or typed[0] >= typed[1] or typed[1] > now + 60:
            return replace(frame, note="pb_bad_range")
        p = replace(p, preset="custom", start=typed[0], end=typed[1])
        return replace(frame, player=p, t=_clamp(t, p))
    if trigger == ids.PB_MODE:
        mode, hours = read_mode(values.get("mode"), frame.mode, frame.hours)
        return replace(frame, mode=mode, hours=hours)
    if trigger == ids.PB_SPEED and values.get("speed") in ui.SPEEDS:
        return replace(frame, player=replace(p, speed=values["speed"]))
    if trigger == ids.PB_STEP and values.get("step") in ui.STEPS:
        return replace(frame, player=replace(p, step=values["step"]))
    if trigger == ids.PB_LOOP:
        return replace(frame, player=replace(p, loop="loop" in (values.get("loop") or [])))
    return frame


def waiting(player: Player, state: FilterState, shown: object, now: float) -> bool:
    """Whether a tick must wait: the frame of ``state.t`` is not drawn yet (``shown``, the clock the view
    wrote, says another moment) and was asked for less than `STALL_S` ago.

    So at most one frame is on its way: two frames in flight could come back in the wrong order (a slow
    one after a fast one) and leave an earlier moment on the map than the state and the URL say.
    """
    return state.t is not None and shown != ui.clock(state) and now - player.asked < STALL_S


def initial_player(state: FilterState, now: datetime, span: tuple[int, int] | None) -> Player:
    """The player of a page opened at ``state`` (a shared ``?t=``): the shortest preset holding its moment."""
    end = ui.epoch(now) // 60 * 60
    if state.t is None:
        start, end = preset_range(OPEN_PRESET, end, span)
        return Player(start=start, end=end)
    at = ui.epoch(state.t)
    end = max(end, at)  # a moment up to FUTURE_SLACK ahead of the clock: the range still holds it
    for preset in ("24h", "7d", "30d", "all"):
        start, stop = preset_range(preset, end, span)
        if start <= at:
            return Player(preset=preset, start=start, end=stop)
    return Player(preset="custom", start=at, end=end)


def trail_span(tw: Township) -> tuple[int, int] | None:
    """The audit trail's first and last event, epoch seconds (None: no trail yet)."""
    span = tw.history().span()
    return (ui.epoch(span[0]), ui.epoch(span[1])) if span else None


#: What a frame's key reads of its warnings (few, hashed whole): what the map and the banner show of them.
KEY_WARNINGS = ["id", "status", "level"]


def frame_key(frame: Snapshot, window_hours: float | None) -> int:
    """A key of what a replayed frame shows: equal for equal frames whatever the data version (negative, so
    never a data version).

    The trail's index is rebuilt with every data version, so the frame's own version moves with any new
    data; this key moves only with the moment and with writes on what the moment shows. New data that
    leaves the replayed moment alone (a case reported now) then redraws nothing. Its cases are keyed without
    reading them: every write stamps the cases it changes with its data version (`township.read.snapshot`),
    and a case's state at ``t`` changes only by a write on it (a move adds its record to the trail), so
    `township.read.playback.frame_version` of the newest stamp among the frame's cases, with their number,
    stands for them. The warnings are few: hashed.
    """
    cases = frame.cases
    stamp = int(cases["version"].max()) if len(cases) else -1
    digest = hashlib.blake2b(digest_size=7)
    digest.update(str((frame_version(stamp, frame.now, window_hours), len(cases), len(frame.warnings))).encode())
    digest.update(pd.util.hash_pandas_object(frame.warnings[KEY_WARNINGS], index=False).to_numpy().tobytes())
    return -1 - int.from_bytes(digest.digest(), "big")


def frame_snapshot(tw: Township, state: FilterState) -> Snapshot:
    """What the views of ``state`` are built from: the live snapshot, or as it was at ``state.t``
    (its version :func:`frame_key`)."""
    snap = tw.snapshot()
    if state.t is None:
        return snap
    frame = tw.history().snapshot_at(snap, state.t, window_hours=state.window_hours)
    return replace(frame, version=frame_key(frame, state.window_hours))


def frame_view(tw: Township, state: FilterState) -> tuple[Snapshot, View]:
    """The snapshot of ``state`` (:func:`frame_snapshot`) and its view, overdue judged at ``t`` when replayed."""
    snap = frame_snapshot(tw, state)
    return snap, make_view(snap, tw.gridset, state)


def outputs(frame: Frame, before: Frame, lang: str) -> tuple:
    """The callback's outputs for ``frame`` (in the order of `OUTPUTS`); the state is patched only where it moved."""
    patch: Patch | object = no_update
    if (frame.t, frame.mode, frame.hours) != (before.t, before.mode, before.hours):
        patch = Patch()
        patch["t"] = moment_text(ui.moment(frame.t)) if frame.t is not None else None
        patch["mode"], patch["hours"] = frame.mode, frame.hours
    p = frame.player
    typed = "pb-typed bad" if frame.note else "pb-typed"
    slider = frame.t if frame.t is not None else p.start
    return (patch, asdict(p), not p.playing, ui.frame_ms(p.speed), p.start, p.end, slider, p.step,
            ui.marks(p.start, p.end), text("pb_pause" if p.playing else "pb_play", lang),
            no_update if frame.note else local_text(ui.moment(p.start)),
            no_update if frame.note else local_text(ui.moment(p.end)), p.preset != "custom", typed, typed)


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the time control's callback."""
    tw = app_ctx.township

    @app.callback(
        # the state is the dashboard's too (its reducer writes it): this callback's write is a duplicate
        *[Output(cid, prop, allow_duplicate=cid == ids.STATE) for cid, prop in OUTPUTS],
        Input(ids.PB_TIMER, "n_intervals"),
        *[Input(b, "n_clicks") for b in BUTTONS],
        *[Input(cid, "value") for cid, _ in CONTROLS],
        State(ids.STATE, "data"),
        State(ids.PB_PLAYER, "data"),
        State(ids.PB_CLOCK, "children"),
        prevent_initial_call=True,
    )
    def on_play(*args):
        *controls, data, player_data, shown = args
        trigger = dash_ctx.triggered_id
        if (trigger in BUTTONS or trigger == ids.PB_TIMER) and not dash_ctx.triggered[0].get("value"):
            return (no_update,) * len(OUTPUTS)  # a control drawn anew fires with nothing clicked: no action
        # the state as the viewer may have it (the policy's clamp): a village operator replays their village
        state = clamp_state(state_of(data), current_viewer(app_ctx), tw.gridset)
        player = Player.load(player_data)
        clock = time.time()
        if trigger == ids.PB_TIMER and waiting(player, state, shown, clock):
            return (no_update,) * len(OUTPUTS)
        before = Frame(player, ui.epoch(state.t) if state.t is not None else None, state.mode, state.hours)
        # the controls' values follow the timer and the buttons among the inputs
        values = read_controls(controls[1 + len(BUTTONS):])
        span = trail_span(tw) if trigger in (ids.PB_OPEN, ids.PB_RANGE) else None
        now = ui.epoch(utcnow()) // 60 * 60  # whole minutes: a range (and the moment opened) reads 05:56, not 05:56:37
        frame = play(before, trigger, values, now, span)
        if trigger == ids.PB_TIMER and frame.t != before.t:
            frame = replace(frame, player=replace(frame.player, asked=clock))
        return outputs(frame, before, state.lang)
