"""Forged callback input never gives a 500 and never changes what is stored.

A Dash callback receives its inputs and states from the browser, and anyone can
POST to ``/_dash-update-component`` whatever they like: a ``t`` that is no time,
a store that is a string, a number past any calendar. For every callback the
server runs (enumerated from the app's own dependencies, as tests/test_access.py
does) each of its inputs and states is sent forged, one at a time, the others
holding sane values: the answer must be below 500 and every table must hold the
rows it held before (counted by SQL).
"""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
from conftest import LiveServer
from sqlalchemy import inspect
from test_access import TIMEOUT, Client, Site, callback_name

from township.store.engine import make_engine

#: Forged values of a store (``*.data``): wrong types, numbers off the calendar, dicts missing or garbling keys.
FORGED_DATA: list[object] = [
    "x", 1e30, -5, True, [1, "x"], {}, {"t": "x"}, {"t": 1e30}, {"t": -5}, {"t": [1]}, {"t": {"a": 1}},
    {"t": "9999-12-31T23:59:59-14:00"}, {"hours": "abc"}, {"hours": -1}, {"window": -1}, {"level": "x"},
    {"village": "DL-01"}, {"village": [None]}, {"mode": 5}, {"lang": None}, {"grid": [1]},
    {"id": "x", "version": -5}, {"id": 1e30, "version": "x"},
    {"start": 1e30, "end": "x", "speed": [1], "asked": "x"}, {"start": -5, "end": 1e30, "playing": True},
    {"replay": 1e30, "lang": [1], "tour": "x", "interval": -1}, {"replay": "24", "interval": "x"},
    {"zoom": 1e30, "bounds": ["x", 1, 2, 3]}, {"t": float("inf"), "start": float("nan"), "id": "9" * 5000},
]
#: Forged values of any other property (a value, a click, a request of rows, a file's contents).
FORGED_PROP: list[object] = [
    "x", "9" * 5000, 1e30, -5, True, [1, "x"], {"points": "x"}, {"points": [{"customdata": "x", "curveNumber": 1e30}]},
    {"rowId": "9" * 5000}, {"startRow": "x", "endRow": -5}, float("inf"), float("nan"),
]


class Forger(Client):
    """A role's client whose JSON may carry NaN and Infinity, as Python's (and Flask's) JSON reads them."""

    def post(self, path: str, **kw) -> requests.Response:
        if "json" in kw:
            kw["data"], kw["headers"] = json.dumps(kw.pop("json")), {"Content-Type": "application/json"}
        return super().post(path, **kw)


def a_moment(site: Site) -> str:
    """A moment an hour before the audit trail's last event, as the state carries it."""
    from township.domain.filters import moment_text

    last = site.one("SELECT max(at) FROM case_events")
    return moment_text(datetime.fromisoformat(str(last)).replace(microsecond=0) - timedelta(hours=1))


def state(**kw) -> dict:
    from township.domain.filters import FilterState

    return FilterState(**kw).model_dump(mode="json")


def data_url(data: bytes, kind: str) -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode()


@dataclass(frozen=True)
class Call:
    """Sane values of a callback's inputs and states (``id.property``; missing: None) and the one that fires."""

    values: dict
    trigger: str


def baselines(site: Site) -> dict[str, list[Call]]:
    """Each server callback (by its name in tests/test_access.py) with the calls forged values go into.

    Each call changes nothing stored by itself: a file that is refused, a button with nothing picked.
    """
    case = site.one("SELECT min(id) FROM cases")
    version = site.one("SELECT version FROM cases WHERE id = :i", i=case)
    warning = site.one("SELECT min(id) FROM warnings")
    moment = a_moment(site)
    replayed = {**state(window="all"), "t": moment}
    player = {"playing": True, "speed": 1, "step": 3600, "loop": False, "preset": "24h",
              "start": int(datetime.now(UTC).timestamp()) - 86400, "end": int(datetime.now(UTC).timestamp())}
    options = {"lang": "zh", "tour": True, "interval": 20, "replay": 24}
    bad_csv = data_url("source,type,domain,title,lon,lat\nhotline,hotline,livelihood,路灯,0,0\n".encode(), "text/csv")
    play = {"state.data": replayed, "pb-player.data": player, "pb-clock.children": None, "pb-range.value": "7d",
            "pb-slider.value": player["start"] + 3600, "pb-from.value": "2026-12-01 08:00",
            "pb-to.value": "2026-12-01 09:00", "pb-mode.value": "moving-6", "pb-speed.value": 2,
            "pb-step.value": 3600, "pb-loop.value": ["loop"]}
    return {
        "page.children <- url.pathname": [
            Call({"url.pathname": path, "url.search": "?window=all"}, "url.pathname")
            for path in ("/", "/wall", "/admin", "/grid/DL-01-01")],
        "state.data <- filter-village.value": [
            Call({"filter-village.value": [], "state.data": state()}, "filter-village.value"),
            Call({"filter-reset.n_clicks": 1, "state.data": replayed}, "filter-reset.n_clicks")],
        "map-graph.figure <- state.data": [
            Call({"state.data": state(), "live-version.data": 1}, "state.data"),
            Call({"state.data": replayed, "live-version.data": 1, "map-camera.data": {"zoom": 10, "bounds": [
                121.3, 28.6, 121.5, 28.8]}}, "state.data")],
        "live-version.data <- live-tick.n_intervals": [
            Call({"live-tick.n_intervals": 1, "live-version.data": 0}, "live-tick.n_intervals")],
        "live-version.data <- alert-ack.n_clicks": [Call({"alert-ack.n_clicks": 1}, "alert-ack.n_clicks")],
        "table-cases.getRowsResponse <- table-cases.getRowsRequest": [
            Call({"table-cases.getRowsRequest": {"startRow": 0, "endRow": 50}, "state.data": replayed},
                 "table-cases.getRowsRequest")],
        "map-graph.figure <- table-cases.cellClicked": [
            Call({"table-cases.cellClicked": {"rowId": str(case)}, "state-view.data": "view:"},
                 "table-cases.cellClicked")],
        "map-graph.figure <- map-camera.data": [
            Call({"map-camera.data": {"zoom": 10, "bounds": [121.3, 28.6, 121.5, 28.8]}, "state.data": replayed},
                 "map-camera.data")],
        "import-report.children <- import-upload.contents": [
            Call({"import-upload.contents": bad_csv, "import-upload.filename": "cases.csv",
                  "import-kind.value": "cases", "import-mode.value": "all", "import-source.value": "hotline",
                  "import-nonce.data": "forged"}, "import-upload.contents")],
        "wall-map.figure <- wall-replay.data": [
            Call({"wall-replay.data": {"t": int(datetime.now(UTC).timestamp()) - 7200}, "wall-scale.data": 1,
                  "wall-options.data": options, "wall-reds.data": [], "wall-replay-labels.data": None},
                 "wall-replay.data")],
        "wall-map.figure <- wall-want.data": [
            Call({"wall-want.data": 1, "wall-minute.n_intervals": 1, "wall-scale.data": 1, "wall-options.data": options,
                  "wall-reds.data": [], "wall-replay.data": None}, "wall-want.data")],
        "export-csv.href <- state-query.data": [Call({"state-query.data": "?window=all"}, "state-query.data")],
        "case-opened.data <- table-cases.cellClicked": [
            Call({"table-cases.cellClicked": {"rowId": str(case)}, "state.data": state()}, "table-cases.cellClicked"),
            # a close of the card on an open record: forged, the record and its version are what is read
            Call({'{"name":["ALL"],"type":"case-control"}.n_clicks': [({"type": "case-control", "name": "close"}, 1)],
                  "case-opened.data": {"id": case, "version": version}, "state.data": state()},
                 '{"name":"close","type":"case-control"}.n_clicks')],
        "warn-opened.data <- map-graph.clickData": [
            Call({"map-graph.clickData": {"points": [{"curveNumber": 5, "customdata": [warning]}]},
                  "state.data": state()}, "map-graph.clickData")],
        "stats-body.children <- state.data": [
            Call({"state.data": replayed, "live-drawn.data": 1, "desk-tab.value": "stats"}, "state.data")],
        "admin-grid-map.figure <- admin-grid-upload.contents": [
            Call({"admin-grid-upload.contents": data_url(b"{}", "application/geo+json"),
                  "admin-grid-upload.filename": "grids.geojson"}, "admin-grid-upload.contents")],
        "admin-grid-result.children <- admin-grid-apply.n_clicks": [
            Call({"admin-grid-apply.n_clicks": 1}, "admin-grid-apply.n_clicks"),
            Call({"admin-version-restore.n_clicks": 1}, "admin-version-restore.n_clicks")],
        "admin-staff-report.children <- admin-staff-upload.contents": [
            Call({"admin-staff-upload.contents": data_url("姓名\n".encode(), "text/csv"),
                  "admin-staff-upload.filename": "roster.csv", "admin-staff-accounts.value": []},
                 "admin-staff-upload.contents")],
        "admin-users.children <- admin-user-create.n_clicks": [
            Call({f"admin-{what}.n_clicks": 1}, f"admin-{what}.n_clicks")
            for what in ("user-create", "user-disable", "user-enable", "user-reset", "token-revoke", "device-revoke")],
        "an-map.figure <- an-domain.value": [
            Call({"an-window.value": "365d", "an-measure.value": "count", "url.search": ""}, "an-window.value")],
        "an-eval.children <- an-month.value": [
            Call({"an-unit.value": "village", "url.search": ""}, "an-unit.value")],
        "account-unread.children <- account-poll.n_intervals": [
            Call({"account-poll.n_intervals": 1, "live-version.data": 1, "state.data": state()},
                 "account-poll.n_intervals")],
        "state.data <- pb-timer.n_intervals": [
            Call({**play, trigger: 1 if trigger.endswith(("n_clicks", "n_intervals")) else play[trigger]}, trigger)
            for trigger in ("pb-open.n_clicks", "pb-timer.n_intervals", "pb-play.n_clicks", "pb-fwd.n_clicks",
                            "pb-slider.value", "pb-range.value", "pb-from.value", "pb-mode.value")],
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory, stores) -> Site:
    """The app with the demo users and data, sign-in required, and its callbacks' dependencies."""
    srv = LiveServer(tmp_path_factory.mktemp("forged"), {"DEMO_FEED": "0", "DEFAULT_ROLE": "", "SEED_DEMO": "1"},
                     stores.new("forged")).start()
    engine = make_engine(srv.database_url)
    index = requests.get(srv.url + "/wall", timeout=TIMEOUT).text
    config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', index,
                                  re.S).group(1))
    deps = {d["output"]: d for d in requests.get(srv.url + "/_dash-dependencies", timeout=TIMEOUT).json()}
    yield Site(srv, engine, {}, None, config["end_id"], deps)  # type: ignore[arg-type]
    srv.stop()
    engine.dispose()


def stored(site: Site) -> dict[str, tuple]:
    """Every table's row count, and the sum of versions where a table keeps them."""
    out = {}
    tables = inspect(site.engine).get_table_names()  # type: ignore[arg-type]
    for table in tables:
        columns = {c["name"] for c in inspect(site.engine).get_columns(table)}  # type: ignore[arg-type]
        version = "coalesce(sum(version), 0)" if "version" in columns else "0"
        out[table] = tuple(site.sql(f"SELECT count(*), {version} FROM {table}")[0])
    out["meta"] = tuple(site.sql("SELECT key, value FROM meta ORDER BY key"))
    return out


def server_callbacks(site: Site) -> dict[str, str]:
    """The callbacks the server runs, by their name in the tables: key in the dependencies."""
    return {callback_name(k, d["inputs"]): k for k, d in site.deps.items() if not d["clientside_function"]}


def forged_calls(site: Site, key: str, calls: list[Call], stores_only: bool) -> list[tuple[str, object, Call]]:
    """Each call with one of its inputs or states forged (``stores_only``: only its stores):
    (``id.property``, the forged value, the call)."""
    dep = site.deps[key]
    out = []
    for n, call in enumerate(calls):
        for item in dep["inputs"] + dep["state"]:
            if item["id"].startswith("{") or (stores_only and item["property"] != "data"):
                continue  # a pattern: the card's typed fields, whose rules test_casecard tests
            prop = f"{item['id']}.{item['property']}"
            if n and item in dep["inputs"] and prop != call.trigger:
                continue  # a forged input fires the callback itself: sent with the first call (and the one it fires)
            for value in FORGED_DATA if item["property"] == "data" else FORGED_PROP:
                trigger = prop if item in dep["inputs"] else call.trigger
                out.append((prop, value, Call({**call.values, prop: value}, trigger)))
    return out


def test_every_server_callback_is_forged(site):
    assert set(baselines(site)) == set(server_callbacks(site))


@pytest.mark.parametrize(("role", "stores_only"), [("admin", False), ("village", True)])
def test_forged_input_gives_no_500_and_changes_nothing(site, role, stores_only):
    # admin may do everything (so a forged value reaches every write); a village operator's state is clamped
    c = Forger(site, role)
    keys = server_callbacks(site)
    before = stored(site)
    failed = []
    sent = 0
    for name, calls in baselines(site).items():
        for call in calls:  # unforged, each call is answered: what is forged below reaches the callback's code
            r = c.callback(keys[name], call.values, call.trigger)
            assert r.status_code in (200, 204), f"{name} [{call.trigger}]: {r.status_code} {r.text[:300]}"
        for prop, value, call in forged_calls(site, keys[name], calls, stores_only):
            r = c.callback(keys[name], call.values, call.trigger)
            sent += 1
            if r.status_code >= 500:
                failed.append(f"{name} [{call.trigger}] {prop}={json.dumps(value)[:80]}: {r.status_code}")
    assert not failed, f"{len(failed)} of {sent} forged calls failed:\n" + "\n".join(failed)
    assert stored(site) == before


@pytest.mark.parametrize(("data", "read"), [
    ({"hours": 1, "mode": "moving"}, True), ({"hours": 168}, True), ({"hours": 0}, False), ({"hours": 169}, False),
    ({"level": 3}, True), ({"level": 4}, False), ({"window": "all"}, True), ({"window": "1d"}, False),
    ({"layers": []}, True), ({"layers": ["cases", "roads"]}, False), ({"wlevel": [1, 4]}, True),
    ({"wlevel": [5]}, False),
    ({"t": "2026-12-05T22:00+08:00"}, True), ({"t": "9999-12-31T15:59:59+00:00"}, True),
    ({"t": "9999-12-31T16:00:00+00:00"}, False),  # the next second is year 10000 in Beijing time: no URL can say it
    ({"t": "0001-01-01T00:00:00+00:00"}, True), ({"t": "0001-01-01T07:59:59+08:00"}, False),
    ({"lang": "fr"}, False), ({"mode": "moving"}, True), ({"mode": "loop"}, False), ([], False), ("{}", False),
])
def test_a_stored_state_is_read_at_its_boundaries(data, read):
    from township.domain.filters import FilterState

    state = FilterState.read(data)
    assert (state is not None) == read
    if state is not None:  # what is read is written back as the store had it, and read again the same
        assert FilterState.read(state.model_dump(mode="json")) == state
