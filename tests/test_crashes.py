"""Inputs and states that used to answer 500: each reproduced on a real store or a real server."""
from __future__ import annotations

import pytest

from township.domain.vocab import ROLES


@pytest.fixture(scope="module")
def outside_ctx(stores):
    """A fresh store with the demo year and one open case outside the town, reported just now."""
    from township.config import Settings
    from township.formats.ingest import CaseIn, write_cases
    from township.runtime.bootstrap import open_township

    ctx = open_township(Settings(database_url=stores.new("outside"), role="command"))
    gs = ctx.township.gridset
    lon, lat = gs.bounds()[0] - 1.0, gs.bounds()[1] - 1.0  # a degree west and south of the town's box
    case = CaseIn(source="hotline", type="hotline", domain="livelihood", title="镇外来电", lon=lon, lat=lat,
                  outside_ok=True)
    [written] = write_cases(ctx.township.engine, gs, [case])
    assert written.grid_id is None
    return ctx


@pytest.mark.parametrize("role", list(ROLES))
def test_statistics_with_a_case_outside_the_town_in_the_window(outside_ctx, role):
    # "Cannot setitem on a Categorical": the backlog labelled the no-village row on the categorical column.
    from callbacks.stats import stats_body
    from township.domain.filters import FilterState
    from township.loop.workflow import Actor
    from township.read.stats import NONE_LABEL, backlog_by_village
    from township.read.views import make_view

    village = "DL-03" if role == "village" else None
    actor = Actor(f"test-{role}", role, village, None)
    body = stats_body(outside_ctx, actor, {"window": "7d"})
    assert "stats-backlog-village_id" in str(body), role  # the section is built, its backlog table too
    if role in ("admin", "command", "wall"):
        view = make_view(outside_ctx.township.snapshot(), outside_ctx.township.gridset, FilterState(window="7d"))
        backlog = backlog_by_village(view.cases, view.now)
        assert backlog.loc[NONE_LABEL, "open"] == 1  # the one case outside is counted under "(none)"


# -- the API: times out of range, control characters, chunked bodies ------------------------------

MAX_BODY = 5 * 1024 * 1024  # the API's documented limit, spelt here independently of api.http


def _case(grids, **extra) -> dict:
    from test_api import a_case

    return a_case(grids, **extra)


@pytest.fixture(scope="module")
def grids():
    from township.config import BUNDLED_GRIDS
    from township.grids.validate import load_grid_file

    return load_grid_file(BUNDLED_GRIDS)


def _stored(srv, external_id: str) -> list[tuple]:
    from sqlalchemy import text

    with srv.engine.connect() as conn:
        return conn.execute(text("SELECT title, reported_at FROM cases WHERE external_id = :e"),
                            {"e": external_id}).all()


def _post(srv, body, token_role: str = "command", **kw):
    import requests

    headers = {"Authorization": f"Bearer {srv.tokens[token_role]}", "Content-Type": "application/json"}
    return requests.post(srv.url + "/api/v1/cases", data=body, headers=headers, timeout=60, **kw)


@pytest.mark.parametrize("field,value,ok", [
    ("reported_at", "9999-12-31T00:00:00Z", False),
    ("reported_at", "9999-12-31T23:00:00-01:00", False),  # past the last UTC time Python can hold
    ("reported_at", "1999-12-31T23:59:59Z", False),
    ("reported_at", "2000-01-01T00:00:00Z", True),         # the range's ends are inside it
    ("reported_at", "2099-12-31T23:59:59Z", True),
    ("reported_at", "2100-01-01T00:00:00Z", False),
    ("deadline_at", "9999-01-01T00:00:00+08:00", False),
])
def test_a_time_outside_the_allowed_range_is_422_naming_the_field(api_server, grids, field, value, ok):
    import json

    body = _case(grids, **{field: value})
    r = _post(api_server, json.dumps(body))
    if ok:
        assert r.status_code == 201, r.text
        assert len(_stored(api_server, body["external_id"])) == 1
        return
    assert r.status_code == 422, r.text
    [err] = r.json()["errors"]
    assert err["field"] == field
    assert "2000-01-01" in err["message"] and "2099-12-31" in err["message"], err["message"]
    assert _stored(api_server, body["external_id"]) == []


def test_control_characters_are_dropped_on_the_way_in(api_server, grids):
    import json

    body = _case(grids, title="漏水\x00\x07\x1b[31m了\x7f", description="第一行\n第二行\t完")
    r = _post(api_server, json.dumps(body))
    assert r.status_code == 201, r.text
    assert _stored(api_server, body["external_id"])[0][0] == "漏水[31m了"
    only = _case(grids, title="\x01\x02\x03")  # nothing left: the title's length rule names it
    r = _post(api_server, json.dumps(only))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title"


def test_an_xlsx_export_of_a_stored_title_with_control_characters(api_server, grids):
    # Rows stored before ingest dropped control characters still hold them: the export drops them too.
    import io
    import json

    import openpyxl
    import requests
    from sqlalchemy import update

    from township.store.models import Case
    from township.store.uow import UnitOfWork

    body = _case(grids)
    r = _post(api_server, json.dumps(body))
    case_id = r.json()[0]["id"]
    with UnitOfWork(api_server.engine) as uow:
        stored = update(Case).where(Case.id == case_id).values(title="旧\x01标题\x0b", version=uow.version())
        uow.session.execute(stored)
        uow.commit()
    r = requests.get(api_server.url + "/export/cases.xlsx?window=all", timeout=120)
    assert r.status_code == 200, r.text[:300]
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    titles = {row[0]: row[1] for row in ws.iter_rows(min_row=2, values_only=True)}
    assert titles[case_id] == "旧标题"


def _chunks(data: bytes, size: int = 64 * 1024):
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.mark.parametrize("total,status", [(MAX_BODY + 1, 413), (MAX_BODY + 1024 * 1024, 413), (MAX_BODY, 201)])
def test_a_chunked_body_over_the_limit_is_413_and_writes_nothing(api_server, grids, total, status):
    # Valid JSON padded with spaces: cut at the limit it would still parse, and be written.
    import json

    case = _case(grids)
    head = json.dumps(case).encode()
    body = head + b" " * (total - len(head))
    r = _post(api_server, _chunks(body))  # a generator: requests sends it chunked, with no Content-Length
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == status, r.text[:300]
    assert len(_stored(api_server, case["external_id"])) == (1 if status == 201 else 0)
    if status == 413:
        assert "5 MB" in r.json()["errors"][0]["message"]
