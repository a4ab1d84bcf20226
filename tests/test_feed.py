"""The demo feed goes through the real API: every kind of event lands in the store."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from township.config import BUNDLED_GRIDS
from township.grids.validate import load_grid_file
from township.runtime.feed import DemoFeed, feed_token

pytestmark = pytest.mark.store


def _counts(srv) -> tuple[int, int]:
    with srv.engine.connect() as conn:
        return (conn.execute(text("select count(*) from cases")).scalar(),
                conn.execute(text("select count(*) from warnings")).scalar())


def test_each_event_kind_lands(api_server):
    token = feed_token(api_server.engine)
    feed = DemoFeed(api_server.url, token, load_grid_file(BUNDLED_GRIDS), seed=7)
    cases, warnings = _counts(api_server)
    for send in (feed.hotline_ticket, feed.patrol_report, feed.sensor_alarm, feed.citizen_request):
        send()
    assert _counts(api_server)[0] == cases + 4
    feed.weather_warning()
    assert _counts(api_server)[1] == warnings + 1
    first = feed.sent[0]["external_id"]
    for _ in range(3):
        feed.progress()
    # moving a case along re-sends it: an update, never a duplicate
    with api_server.engine.connect() as conn:
        assert conn.execute(text("select count(*) from cases where external_id = :e"), {"e": first}).scalar() == 1
        assert conn.execute(text("select count(*) from cases where source = 'sensor' and domain = 'safety'")
                            ).scalar() >= 1
    assert _counts(api_server)[0] == cases + 4


def test_mixed_steps_never_fail(api_server):
    feed = DemoFeed(api_server.url, feed_token(api_server.engine),
                    load_grid_file(BUNDLED_GRIDS), seed=11)
    kinds = [feed.step().split()[0] for _ in range(25)]
    assert len(set(kinds)) >= 4
