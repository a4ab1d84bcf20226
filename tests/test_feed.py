"""The demo feed goes through the real API: every kind of event lands in the store."""
from __future__ import annotations

import sqlite3

from township.feed import DemoFeed, feed_token
from township.gridset import load_grid_file
from township.settings import BUNDLED_GRIDS
from township.store import make_engine


def _counts(db) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        return (conn.execute("select count(*) from cases").fetchone()[0],
                conn.execute("select count(*) from warnings").fetchone()[0])


def test_each_event_kind_lands(api_server):
    token = feed_token(make_engine(f"sqlite:///{api_server.db}"))
    feed = DemoFeed(api_server.url, token, load_grid_file(BUNDLED_GRIDS), seed=7)
    cases, warnings = _counts(api_server.db)
    for send in (feed.hotline_ticket, feed.patrol_report, feed.sensor_alarm, feed.citizen_request):
        send()
    assert _counts(api_server.db)[0] == cases + 4
    feed.weather_warning()
    assert _counts(api_server.db)[1] == warnings + 1
    first = feed.sent[0]["external_id"]
    for _ in range(3):
        feed.progress()
    # moving a case along re-sends it: an update, never a duplicate
    with sqlite3.connect(api_server.db) as conn:
        assert conn.execute("select count(*) from cases where external_id = ?", (first,)).fetchone()[0] == 1
        assert conn.execute("select count(*) from cases where source = 'sensor' and domain = 'safety'"
                            ).fetchone()[0] >= 1
    assert _counts(api_server.db)[0] == cases + 4


def test_mixed_steps_never_fail(api_server):
    feed = DemoFeed(api_server.url, feed_token(make_engine(f"sqlite:///{api_server.db}")),
                    load_grid_file(BUNDLED_GRIDS), seed=11)
    kinds = [feed.step().split()[0] for _ in range(25)]
    assert len(set(kinds)) >= 4
