"""The time control without a browser: the moment in the URL, the player's reducer, the frame's key, the wall's
replay options (issue 17). The browser side is tests/test_playback_browser.py."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callbacks.playback import Frame, Player, frame_snapshot, initial_player, play, read_mode, read_typed
from callbacks.wall import replay_state
from township.domain.filters import FUTURE_SLACK, FilterState, from_query
from township.domain.isotime import LOCAL_TZ
from ui import ids
from ui import playback as ui
from ui import wall as wall_ui

NOW = datetime(2026, 12, 6, 22, 0)  # naive UTC, 2026-12-07 06:00 in Beijing
NOW_S = int(NOW.replace(tzinfo=UTC).timestamp())
HOUR = 3600


def parse(query: str) -> tuple[FilterState, list[str]]:
    return from_query(query, {"DL-01"}, {"DL-01-01"}, NOW)


# -- the moment in the URL ----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["2026-12-05T22:00%2B08:00", "2026-12-05T22:00+08:00", "2026-12-05T14:00Z",
                                 "2026-12-05T14:00:00", "2026-12-05T22:00:00%2B08:00"])
def test_a_moment_in_the_url_is_read_in_any_zone(raw):
    # "+08:00" typed as is arrives as " 08:00" (a "+" in a query is a space): read as the "+" it was
    state, notices = parse(f"?t={raw}")
    assert notices == [] and state.t == datetime(2026, 12, 5, 14, 0)


def test_a_moment_round_trips_and_is_shared_in_beijing_time():
    state, _ = parse("?t=2026-12-05T22:00%2B08:00&mode=moving&hours=6&village=DL-01")
    query = state.to_query()
    assert "t=2026-12-05T22:00%2B08:00" in query and "mode=moving" in query and "hours=6" in query
    assert parse(query) == (state, [])
    # seconds are kept when there are some; the store sends the moment back as the URL writes it
    odd = state.model_copy(update={"t": datetime(2026, 12, 5, 14, 0, 30)})
    assert "T22:00:30%2B08:00" in odd.to_query()
    assert FilterState(**odd.model_dump()) == odd and odd.model_dump()["t"] == "2026-12-05T22:00:30+08:00"
    assert FilterState().to_query() == ""  # live: no t


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01T00:00", "", "2026-12-05T22:00+25:00", "%00",
                                 "0001-01-01T00:00+08:00"])
def test_a_bad_moment_is_dropped_with_a_notice_and_the_view_is_live(raw):
    state, notices = parse(f"?t={raw}")
    assert state.t is None and notices == [f"t={raw.replace('%00', chr(0))}"]


def test_a_moment_in_the_future_is_refused_past_a_minute_of_slack():
    at_edge = NOW + FUTURE_SLACK
    local = at_edge.replace(tzinfo=UTC).astimezone(LOCAL_TZ)
    state, notices = parse("?t=" + local.isoformat().replace("+", "%2B"))
    assert state.t == at_edge and notices == []
    later = (local + timedelta(seconds=1)).isoformat().replace("+", "%2B")
    state, notices = parse("?t=" + later)
    assert state.t is None and notices == ["t=" + later.replace("%2B", "+")]


def test_mode_and_hours_are_checked():
    state, notices = parse("?mode=sideways&hours=0&hours=169")
    assert (state.mode, state.hours) == ("cumulative", 24) and set(notices) == {"mode=sideways", "hours=0",
                                                                                "hours=169"}
    assert parse("?hours=168")[0].hours == 168


def test_back_to_town_and_reset_keep_the_moment():
    from township.domain.filters import reset, up_to_town

    state = FilterState(t=NOW, mode="moving", hours=6, village=["DL-01"], level=3, domain=["safety"])
    assert up_to_town(state).t == NOW
    assert reset(state) == FilterState(t=NOW, mode="moving", hours=6)


# -- the player ---------------------------------------------------------------------------------------------

def replaying(t: int, **player) -> Frame:
    return Frame(Player(**{"start": NOW_S - 24 * HOUR, "end": NOW_S, **player}), t, "cumulative", 24)


def test_opening_starts_paused_at_the_start_of_the_last_day():
    frame = play(Frame(Player(), None, "cumulative", 24), ids.PB_OPEN, {}, NOW_S, None)
    assert (frame.t, frame.player.start, frame.player.end, frame.player.playing) == (
        NOW_S - 24 * HOUR, NOW_S - 24 * HOUR, NOW_S, False)
    assert play(frame, ids.PB_LIVE, {}, NOW_S, None).t is None


def test_playing_steps_by_speed_and_stops_or_loops_at_the_end():
    frame = play(replaying(NOW_S - 3 * HOUR), ids.PB_PLAY, {}, NOW_S, None)
    assert frame.player.playing
    assert play(frame, ids.PB_TIMER, {}, NOW_S, None).t == NOW_S - 2 * HOUR  # 1×: one step a frame
    fast = Frame(replace_player(frame, speed=8), frame.t, "cumulative", 24)
    assert ui.frame_ms(8) == ui.FRAME_MIN_MS and ui.steps_per_frame(8) == 4 and ui.frame_ms(1) == 1000
    assert play(fast, ids.PB_TIMER, {}, NOW_S, None).t == NOW_S  # 3 h left, 4 steps: the end, paused
    assert not play(fast, ids.PB_TIMER, {}, NOW_S, None).player.playing
    looping = Frame(replace_player(fast, loop=True), fast.t, "cumulative", 24)
    assert play(looping, ids.PB_TIMER, {}, NOW_S, None).t == NOW_S - 24 * HOUR
    # a tick while paused or live moves nothing (a timer left running stops)
    paused = replaying(NOW_S - HOUR)
    assert play(paused, ids.PB_TIMER, {}, NOW_S, None) == paused
    live = Frame(Player(playing=True), None, "cumulative", 24)
    assert not play(live, ids.PB_TIMER, {}, NOW_S, None).player.playing
    # play at the end starts again from the start
    assert play(replaying(NOW_S), ids.PB_PLAY, {}, NOW_S, None).t == NOW_S - 24 * HOUR


def test_the_player_answers_one_value_per_output():
    """The callback's outputs are counted from `OUTPUTS`, the list it registers: every frame fills each once."""
    from callbacks.playback import OUTPUTS, outputs

    frame = replaying(NOW_S - HOUR)
    for after in (frame, play(frame, ids.PB_BACK, {}, NOW_S, None), play(frame, ids.PB_LIVE, {}, NOW_S, None),
                  play(frame, ids.PB_FROM, {"from": "x"}, NOW_S, None)):
        assert len(outputs(after, frame, "zh")) == len(OUTPUTS) == len(set(OUTPUTS))


def replace_player(frame: Frame, **kw) -> Player:
    from dataclasses import replace

    return replace(frame.player, **kw)


def test_steps_and_the_slider_stay_inside_the_range():
    start = NOW_S - 24 * HOUR
    assert play(replaying(start + 600), ids.PB_BACK, {}, NOW_S, None).t == start
    assert play(replaying(NOW_S - 600), ids.PB_FWD, {}, NOW_S, None).t == NOW_S
    assert play(replaying(start, step=900), ids.PB_FWD, {}, NOW_S, None).t == start + 900
    assert play(replaying(start), ids.PB_SLIDER, {"slider": NOW_S + 99}, NOW_S, None).t == NOW_S
    assert play(replaying(start), ids.PB_SLIDER, {"slider": None}, NOW_S, None).t == start


def test_presets_and_a_typed_range():
    frame = replaying(NOW_S - HOUR)
    week = play(frame, ids.PB_RANGE, {"range": "7d"}, NOW_S, None)
    assert (week.player.start, week.player.end, week.t) == (NOW_S - 7 * 24 * HOUR, NOW_S, NOW_S - HOUR)
    trail = play(frame, ids.PB_RANGE, {"range": "all"}, NOW_S, (NOW_S - 400 * 24 * HOUR, NOW_S - 60))
    assert trail.player.start == NOW_S - 400 * 24 * HOUR
    typed = {"from": "2026-12-06 18:00", "to": "2026-12-07 02:00"}  # Beijing
    custom = play(frame, ids.PB_FROM, typed, NOW_S, None)
    assert custom.player.preset == "custom" and custom.note is None
    assert (custom.player.start, custom.player.end) == (NOW_S - 12 * HOUR, NOW_S - 4 * HOUR)
    assert custom.t == NOW_S - 4 * HOUR  # brought inside the new range
    for bad in ({"from": "2026-12-07 02:00", "to": "2026-12-06 18:00"}, {"from": "soon", "to": "2026-12-07 02:00"},
                {"from": "2026-12-07 02:00", "to": "2026-12-08 02:00"}):
        refused = play(frame, ids.PB_TO, bad, NOW_S, None)
        assert refused.note == "pb_bad_range" and refused.player == frame.player
    assert read_typed("2026-12-07T02:00") == NOW_S - 4 * HOUR


def test_mode_speed_step_and_loop_controls():
    frame = replaying(NOW_S - HOUR)
    moving = play(frame, ids.PB_MODE, {"mode": "moving-6"}, NOW_S, None)
    assert (moving.mode, moving.hours) == ("moving", 6)
    assert play(moving, ids.PB_MODE, {"mode": "cumulative"}, NOW_S, None).mode == "cumulative"
    assert read_mode("moving-9999", "cumulative", 24) == ("cumulative", 24)
    assert play(frame, ids.PB_SPEED, {"speed": 4}, NOW_S, None).player.speed == 4
    assert play(frame, ids.PB_SPEED, {"speed": 3}, NOW_S, None).player.speed == 1
    assert play(frame, ids.PB_STEP, {"step": 86400}, NOW_S, None).player.step == 86400
    assert play(frame, ids.PB_LOOP, {"loop": ["loop"]}, NOW_S, None).player.loop


def test_the_player_from_the_browser_is_checked():
    assert Player.load({"playing": "yes", "speed": 3, "step": -1, "preset": "x", "start": 9, "end": 3}) == Player()
    assert Player.load(None) == Player()
    good = {"playing": True, "speed": 8, "step": 900, "loop": True, "preset": "7d", "start": 5, "end": 9}
    assert Player.load(good) == Player(**good)


def test_a_shared_moment_opens_the_shortest_preset_holding_it():
    assert initial_player(FilterState(t=NOW - timedelta(hours=3)), NOW, None).preset == "24h"
    assert initial_player(FilterState(t=NOW - timedelta(days=3)), NOW, None).preset == "7d"
    old = initial_player(FilterState(t=NOW - timedelta(days=90)), NOW, (NOW_S - 400 * 24 * HOUR, NOW_S))
    assert old.preset == "all" and old.start <= NOW_S - 90 * 24 * HOUR
    ahead = initial_player(FilterState(t=NOW + FUTURE_SLACK), NOW, None)  # allowed: a client's clock runs ahead
    assert ahead.start <= NOW_S + 60 <= ahead.end


# -- the frame ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ctx(stores):
    from township.config import Settings
    from township.runtime.bootstrap import open_township

    return open_township(Settings(database_url=stores.new("playui"), role="command"))


def test_new_data_that_leaves_the_moment_as_it_was_keeps_its_frame(ctx):
    """The live tick must not overwrite a replayed frame: its key moves only when the moment's content does."""
    from sqlalchemy import text

    from township.formats.ingest import CaseIn, write_cases

    tw = ctx.township
    with tw.engine.connect() as conn:
        last = conn.execute(text("SELECT max(at) FROM case_events")).scalar_one()
        t = datetime.fromisoformat(str(last)).replace(microsecond=0) - timedelta(hours=2)
        # the trail's next event after t: a case reported or moved then
        moved = datetime.fromisoformat(str(conn.execute(
            text("SELECT min(at) FROM case_events WHERE at > :t"), {"t": t.isoformat(sep=" ")}).scalar_one()))
    state = FilterState(t=t)
    before = frame_snapshot(tw, state)
    assert before.version < 0 and before.version == frame_snapshot(tw, state).version
    version = tw.snapshot().version
    point = tw.gridset.geometry("DL-01-01").representative_point()
    write_cases(tw.engine, tw.gridset, [CaseIn(source="patrol", type="hazard", domain="safety", title="回放键",
                                               lon=point.x, lat=point.y)])
    assert tw.snapshot().version != version  # new data, reported now
    assert frame_snapshot(tw, state).version == before.version  # the moment replayed is as it was: nothing to redraw
    # the moment of the trail's next event is another frame, and so is now with the new case
    assert frame_snapshot(tw, state.model_copy(update={"t": moved})).version != before.version
    now = frame_snapshot(tw, FilterState(t=datetime.now(UTC).replace(tzinfo=None)))
    assert "回放键" in set(now.cases["title"]) and "回放键" not in set(before.cases["title"])


def test_a_frame_moves_with_an_event_by_its_moment_and_a_second_across_one(ctx):
    """Same moment, an event by it: another frame. A second before an event and at it: two frames. The statuses
    they show are the trail's by SQL (a record exactly at t has happened)."""
    from tests.test_playback import sql_status
    from township.formats.ingest import CaseIn, write_cases
    from township.loop.workflow import Actor, apply_move
    from township.store.models import utcnow

    tw, gs = ctx.township, ctx.township.gridset
    point = gs.geometry("DL-01-01").representative_point()
    [case] = write_cases(tw.engine, gs, [CaseIn(source="patrol", type="hazard", domain="safety", title="回放边界",
                                                lon=point.x, lat=point.y)], actor="test")
    moved = utcnow().replace(microsecond=0) + timedelta(seconds=2)  # after the report record, written now
    later, second = moved + timedelta(seconds=5), timedelta(seconds=1)

    def shown(t: datetime) -> tuple[int, str, str | None]:
        """The frame of ``t``: its key, the case's status in it, and its last status record by ``t`` by SQL."""
        frame = frame_snapshot(tw, FilterState(t=t))
        status = str(frame.cases.loc[frame.cases["id"] == case.id, "status"].iloc[0])
        return frame.version, status, sql_status(tw.engine, t)[case.id][0]

    before = shown(later)
    assert shown(later) == before and before[1:] == ("reported", "reported")  # nothing new: the same frame
    apply_move(tw.engine, case.id, "dispatch", Actor("指挥中心", "command"), now=moved, handler="H-OF-DL-01-01")
    after = shown(later)
    assert after[0] != before[0] and after[1:] == ("dispatched", "dispatched")  # an event by the moment: another
    # a second apart across the event: at it the dispatch has happened, a second before it has not
    at, just_before = shown(moved), shown(moved - second)
    assert at[0] != just_before[0]
    assert at[1:] == ("dispatched", "dispatched") and just_before[1:] == ("reported", "reported")


# -- the wall's replay --------------------------------------------------------------------------------------

@pytest.mark.parametrize("search,hours", [("?replay=24h", 24), ("?replay=12", 12), ("?replay=2d", 48),
                                          ("?replay=0h", 1), ("?replay=9999h", 24 * 7), ("?replay=soon", None),
                                          ("", None)])
def test_the_wall_reads_its_replay(search, hours):
    assert wall_ui.parse_options("?tour=1" + search.replace("?", "&")).replay == hours


def test_the_replay_is_a_stop_of_the_tour_only():
    gs = None  # the stop needs the grids only when there is one

    options = {"tour": False, "replay": 24, "interval": 20}
    assert wall_ui.replay_stop(options, gs, NOW, "zh") is None  # type: ignore[arg-type]
    assert wall_ui.replay_stop({**options, "tour": True, "replay": None}, gs, NOW, "zh") is None  # type: ignore[arg-type]


def test_the_wall_replays_inside_what_its_url_allowed():
    options = {"lang": "en", "replay": 24}
    asked = replay_state({"t": NOW_S - 48 * HOUR}, options)
    assert asked is not None and asked.lang == "en" and asked.t is not None
    assert datetime.now(UTC).replace(tzinfo=None) - asked.t <= timedelta(hours=24, minutes=2)
    future = replay_state({"t": int(datetime.now(UTC).timestamp()) + 7 * 24 * HOUR}, options)
    assert future is not None and future.t is not None and future.t <= datetime.now(UTC).replace(tzinfo=None)
    assert replay_state({"t": "x"}, options) is None and replay_state(None, options) is None
    assert replay_state({"t": NOW_S}, {"replay": None}) is None  # no replay in the URL: no replay at all


def test_the_wall_sends_its_names_again_only_when_they_change(ctx):
    """A replay frame a second: the names (with each village's counts then) go only when they say something new."""
    from callbacks.playback import frame_view
    from layers.mapfig import INSET_LABELS, LABELS

    tw = ctx.township
    now = datetime.now(UTC).replace(tzinfo=None)

    def updates(t: datetime) -> dict:
        view = frame_view(tw, wall_ui.state_for("zh").model_copy(update={"t": t}))[1]
        return wall_ui.wall_updates(view, tw.gridset, 1.0, None)

    first, again = updates(now - timedelta(days=3)), updates(now - timedelta(days=3))
    assert wall_ui.labels_key(first) == wall_ui.labels_key(again) and "在办" in wall_ui.labels_key(first)
    wall_ui.drop_labels(again)
    assert LABELS not in again and INSET_LABELS not in again and again.keys() < first.keys()
    # a year earlier the villages had other open counts: the names go again
    assert wall_ui.labels_key(updates(now - timedelta(days=365))) != wall_ui.labels_key(first)


def test_a_tick_waits_for_the_frame_it_asked_for():
    """One frame on its way at a time: a second in flight could come back first and leave the wrong moment drawn."""
    from callbacks.playback import STALL_S, waiting

    state = FilterState(t=NOW)
    asked = Player(playing=True, asked=1000.0)
    assert waiting(asked, state, "2026-12-07 05:00", 1001.0)  # the view still shows the moment before
    assert not waiting(asked, state, ui.clock(state), 1001.0)  # drawn: the next frame may go
    assert not waiting(asked, state, "2026-12-07 05:00", 1000.0 + STALL_S)  # lost: move on after a while
    assert not waiting(asked, FilterState(), "", 1001.0)  # live: nothing to wait for
