"""Notifications: the outbox, who is told, and delivery to real HTTP receivers on localhost.

Every receiver here is a real ``http.server`` in a thread (or a closed port, for one that is down);
every signature is checked by computing it again in the test, from the specifications
(Standard Webhooks, 钉钉 signed mode, Aliyun's RPC signature), not with the code under test.
Expected recipients come from the store by SQL. The worker runs as the use case (``tick``,
with a clock of the test's where time matters) and as ``python -m township notify`` processes.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import pytest
import requests
from conftest import LiveServer, free_port
from sqlalchemy import text

from township.accounts.tokens import create_token
from township.config import NotifyConfig, Settings
from township.domain.sla import SlaConfig
from township.formats.ingest import CaseIn, WarningIn, write_cases, write_warnings
from township.formats.notices import webhook_headers
from township.loop.inbox import add_subscription, audiences_of, inbox, mark_read, remove_subscription
from township.loop.notify import fan_out, note_overdue
from township.loop.sweeps import escalate_overdue
from township.loop.workflow import Actor, MoveRefused, apply_move, move_case
from township.runtime.bootstrap import open_township
from township.runtime.notifier import AliyunSms, LogSms, deliver_due, tick
from township.store.models import utcnow
from township.store.uow import UnitOfWork

pytestmark = pytest.mark.store
ROOT = Path(__file__).resolve().parent.parent
CMD = Actor("指挥中心", "command")
OFFICER = "H-OF-DL-01-01"
#: A quick worker for tests: short waits, short leases.
FAST = NotifyConfig(poll_s=0.1, lease_s=3.0, retry_s=0.2, retry_max_s=1.0, give_up_s=60.0)
OK_JSON = b'{"errcode":0,"errmsg":"ok"}'


class Receiver:
    """A real HTTP server in a thread recording each request; its answer (status, delay) can be changed."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[dict] = []
        self.status = 200
        self.hold = 0.0
        self.arrived = threading.Event()
        self.lock = threading.Lock()
        self._srv: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self, body: bytes) -> None:
                with outer.lock:
                    outer.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                           "body": body, "at": time.time()})
                outer.arrived.set()
                time.sleep(outer.hold)
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"Code":"OK","Message":"OK"}' if self.command == "GET" else OK_JSON)
                except OSError:
                    pass  # the sender is gone (killed while we held its request)

            def do_POST(self) -> None:
                self._record(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def do_GET(self) -> None:
                self._record(b"")

            def log_message(self, *args) -> None:
                pass

        self._srv = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._srv is not None:
            self._srv.shutdown()
            self._srv.server_close()
            self._srv = None

    def at(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if urlsplit(r["path"]).path == path]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


class Store:
    """A fresh store: bundled grids, resources and handlers, no demo cases."""

    def __init__(self, url: str) -> None:
        ctx = open_township(Settings(database_url=url, seed_demo=False))
        self.url = url
        self.engine = ctx.township.engine
        self.gridset = ctx.township.gridset

    def sql(self, query: str, **params) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(text(query), params))

    def point(self, grid_id: str) -> tuple[float, float]:
        p = self.gridset.geometry(grid_id).representative_point()
        return p.x, p.y

    def case(self, grid_id: str = "DL-01-01", source: str = "hotline", **kw) -> int:
        lon, lat = self.point(grid_id)
        item = CaseIn(source=source, type="service", domain="livelihood", title=kw.pop("title", "路灯不亮"),
                      lon=lon, lat=lat, **kw)
        return write_cases(self.engine, self.gridset, [item])[0].id

    def dispatch(self, case_id: int, handler: str = OFFICER) -> None:
        apply_move(self.engine, case_id, "dispatch", CMD, handler=handler)

    def deliveries(self) -> list:
        return self.sql("SELECT id, channel, status, attempts, last_error, message_id, phone FROM "
                        "notification_deliveries ORDER BY id")


@pytest.fixture
def store(store_url) -> Store:
    return Store(store_url)


def run_until(engine, cfg: NotifyConfig, done, timeout: float = 20.0, sms=None) -> None:
    """Run worker rounds until ``done()`` or the timeout (then fail)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        if not tick(engine, cfg, sms or LogSms()):
            time.sleep(cfg.poll_s)


# -- independent checks of the signatures ----------------------------------------------------------------


def verify_standard_webhook(secret: str, req: dict) -> bool:
    """Standard Webhooks verification, written from the spec: HMAC-SHA256 over ``id.timestamp.body``."""
    h = {k.lower(): v for k, v in req["headers"].items()}
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + req["body"]
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(sig.split(",", 1) == ["v1", expected] for sig in h["webhook-signature"].split(" "))


def test_webhook_signature_is_the_specifications():
    # The example of the Standard Webhooks specification (its reference libraries' test vector).
    headers = webhook_headers("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                              '{"test": 2432232314}')
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert headers["webhook-id"] == "msg_p5jXN8AQM9LWM0D4loKWxJek" and headers["webhook-timestamp"] == "1614265330"


@pytest.mark.parametrize(("secret", "words"), [
    ("abc", "starts with whsec_"), ("whsec_!!!", "not base64"),
    ("whsec_" + base64.b64encode(b"short").decode(), "5 bytes")])
def test_a_bad_webhook_secret_is_refused_naming_the_rule(store, secret, words):
    with pytest.raises(ValueError, match=words):
        add_subscription(store.engine, "webhook", "http://127.0.0.1:9/x", secret=secret)
    with pytest.raises(ValueError, match="events: nonsense unknown"):
        add_subscription(store.engine, "webhook", "http://127.0.0.1:9/x", events=["nonsense"])
    with pytest.raises(ValueError, match="url"):
        add_subscription(store.engine, "wecom", "ftp://x")
    assert store.sql("SELECT count(*) FROM notification_subscriptions")[0][0] == 0


# -- the outbox is the move's -----------------------------------------------------------------------------


def test_the_notification_is_written_with_the_move_or_not_at_all(store):
    case_id = store.case()
    with UnitOfWork(store.engine) as uow:
        move_case(uow, case_id, "dispatch", CMD, handler=OFFICER)
        # no commit: the unit is rolled back, the move with its outbox row
    assert store.sql("SELECT count(*) FROM notifications")[0][0] == 0
    with pytest.raises(MoveRefused):
        apply_move(store.engine, case_id, "close", CMD, verification="x")  # not resolved: refused
    assert store.sql("SELECT count(*) FROM notifications")[0][0] == 0
    store.dispatch(case_id)
    rows = store.sql("SELECT n.event, n.case_id, e.action FROM notifications n JOIN case_events e "
                     "ON e.case_id = n.case_id AND e.action = 'dispatch'")
    assert rows == [("dispatched", case_id, "dispatch")]


# -- who is told of what ------------------------------------------------------------------------------------


def audiences(store: Store, event: str) -> set[str]:
    return {a for (a,) in store.sql("SELECT a.audience FROM notification_audiences a JOIN notifications n "
                                    "ON n.id = a.notification_id WHERE n.event = :e", e=event)}


def test_each_event_reaches_the_people_it_concerns(store):
    now = utcnow()
    # a resident's report: the village's duty operator
    store.case(source="citizen", external_id="r1")
    # a red warning: the officers of the grids it reaches (by SQL over its grids) and the command centre
    lon, lat = store.point("DL-02-01")
    red, yellow = (WarningIn(source="t", type="rainstorm", level=level, title=title, lon=lon, lat=lat, radius_m=3000)
                   for level, title in ((1, "暴雨红色预警"), (3, "暴雨黄色预警")))
    [written] = write_warnings(store.engine, store.gridset, [red])
    write_warnings(store.engine, store.gridset, [yellow])
    # a case past its deadline, escalated by the sweep from grid to village
    late = store.case("DL-03-01", deadline_at=now - timedelta(hours=1))
    escalate_overdue(store.engine, now=now, sla=SlaConfig(auto_escalate=True))
    # a case found overdue (no auto-escalation): the tier above its own (grid → the village)
    store.case("DL-04-01", deadline_at=now - timedelta(hours=2))
    fan_out(store.engine, utcnow(), timedelta(hours=1))  # the outbox so far
    assert note_overdue(store.engine, utcnow()) == 1  # the escalated one is at village tier now, not yet late
    assert note_overdue(store.engine, utcnow()) == 0  # told once
    fan_out(store.engine, utcnow(), timedelta(hours=1))

    assert audiences(store, "reported") == {"village:DL-01"}
    officers = {f"handler:{h}" for (h,) in store.sql(
        "SELECT h.handler_id FROM handlers h JOIN warning_grids g ON g.grid_id = h.grid_id "
        "WHERE g.warning_id = :w AND h.kind = 'officer' AND h.active", w=written.id)}
    assert len(officers) >= 1
    assert audiences(store, "warning") == officers | {"command"}
    assert store.sql("SELECT count(*) FROM notifications WHERE event = 'warning'")[0][0] == 1  # not the yellow one
    assert store.sql("SELECT case_id FROM notifications WHERE event = 'escalated'") == [(late,)]
    assert audiences(store, "escalated") == {"village:DL-03"}
    assert audiences(store, "overdue") == {"village:DL-04"}
    # the lists as each viewer reads them
    assert audiences_of("village", "DL-03", None) == ["village:DL-03"]
    box = inbox(store.engine, audiences_of("village", "DL-03", None), "user:1")
    assert [i.event for i in box.items] == ["escalated"] and box.unread == 1
    assert mark_read(store.engine, ["village:DL-03"], "user:1", None) == 1
    assert inbox(store.engine, ["village:DL-03"], "user:1").unread == 0
    assert inbox(store.engine, ["village:DL-03"], "user:2").unread == 1  # read is per reader
    warned = inbox(store.engine, audiences_of("command", None, None), "user:3").items
    assert {i.event for i in warned} == {"warning"}


def test_the_residents_following_a_case_are_told_when_it_is_closed_and_reopened(store):
    from township.loop.resident import follow

    add_subscription(store.engine, "sms", events=["closed", "reopened"])
    case_id = store.case()
    with UnitOfWork(store.engine) as uow:
        follow(uow, case_id, "13900001111")
        follow(uow, case_id, None)  # no phone: no updates
        uow.commit()
    store.dispatch(case_id)
    system = Actor("回访", "system")
    for move, params in (("accept", {}), ("start", {}), ("resolve", {"result": "修好了"}),
                         ("close", {"verification": "已回访"})):
        who = CMD if move == "close" else Actor("秦", "responder", handler_id=OFFICER)
        apply_move(store.engine, case_id, move, who, **params)
    apply_move(store.engine, case_id, "reopen", system, reason="不满意")
    fan_out(store.engine, utcnow(), timedelta(hours=1))
    rows = store.sql("SELECT n.event, d.phone FROM notification_deliveries d JOIN notifications n "
                     "ON n.id = d.notification_id ORDER BY d.id")
    assert rows == [("closed", "13900001111"), ("reopened", "13900001111")]


# -- delivery to real receivers ------------------------------------------------------------------------------


def test_a_dispatch_arrives_once_on_each_channel_signed(store, receiver):
    hook = add_subscription(store.engine, "webhook", receiver.url + "/hook", events=["dispatched"])
    add_subscription(store.engine, "wecom", receiver.url + "/wecom?key=K1", events=["dispatched"])
    add_subscription(store.engine, "dingtalk", receiver.url + "/ding?access_token=T1", secret="SECtest",
                     events=["dispatched"], role="responder")
    add_subscription(store.engine, "webhook", receiver.url + "/other", events=["warning"])  # not this event
    case_id = store.case()
    store.dispatch(case_id)
    run_until(store.engine, FAST, lambda: len(receiver.requests) >= 3)
    time.sleep(0.5)
    run_until(store.engine, FAST, lambda: True)
    assert len(receiver.requests) == 3 and not receiver.at("/other")
    phone = store.sql("SELECT phone FROM handlers WHERE handler_id = :h", h=OFFICER)[0][0]

    [req] = receiver.at("/hook")
    assert verify_standard_webhook(hook.secret, req)
    assert not verify_standard_webhook("whsec_" + base64.b64encode(b"x" * 24).decode(), req)
    body = json.loads(req["body"])
    assert body["type"] == "township.dispatched" and body["data"]["case_id"] == case_id
    assert body["data"]["handler_id"] == OFFICER and phone not in req["body"].decode()

    [req] = receiver.at("/wecom")
    body = json.loads(req["body"])
    assert body["msgtype"] == "text" and body["text"]["mentioned_mobile_list"] == [phone]
    assert f"#{case_id}" in body["text"]["content"]

    [req] = receiver.at("/ding")
    query = dict(parse_qsl(urlsplit(req["path"]).query))
    raw = urlsplit(req["path"]).query
    # 钉钉's own recipe: sign = quote_plus(base64(HMAC-SHA256(secret, f"{timestamp}\n{secret}")))
    digest = hmac.new(b"SECtest", f"{query['timestamp']}\nSECtest".encode(), hashlib.sha256).digest()
    assert f"sign={quote_plus(base64.b64encode(digest).decode())}" in raw
    assert query["access_token"] == "T1" and abs(int(query["timestamp"]) / 1000 - time.time()) < 60
    body = json.loads(req["body"])
    assert body["msgtype"] == "text" and body["at"] == {"atMobiles": [phone], "isAtAll": False}
    assert [r[2] for r in store.deliveries()] == ["delivered"] * 3


def test_a_receiver_that_is_down_gets_the_message_when_it_is_back(store):
    rec = Receiver()  # not started: its port refuses
    add_subscription(store.engine, "webhook", rec.url + "/hook?key=K-SECRET", events=["dispatched"])
    store.dispatch(store.case())
    for _ in range(3):  # refused, three times
        tick(store.engine, FAST, LogSms())
        time.sleep(FAST.retry_max_s + 0.1)
    [(_, _, status, attempts, error, message_id, _)] = store.deliveries()
    assert status == "pending" and attempts == 3
    # The reason names the host, not the URL: a robot's URL holds its key, and the admin page shows the reason.
    assert f"cannot connect to 127.0.0.1:{rec.port}" in error and "K-SECRET" not in error
    rec.start()
    rec.status = 500  # up, but failing
    try:
        run_until(store.engine, FAST, lambda: len(rec.requests) == 1)
        assert store.deliveries()[0][2] == "pending" and "HTTP 500" in store.deliveries()[0][4]
        rec.status = 200
        run_until(store.engine, FAST, lambda: store.deliveries()[0][2] == "delivered")
    finally:
        rec.stop()
    assert [r["headers"]["webhook-id"] for r in rec.requests] == [message_id] * 2  # the same id each time
    assert store.deliveries()[0][3] == 5


def test_after_the_give_up_time_a_message_is_a_dead_letter_with_the_reason(store, receiver):
    receiver.status = 500
    add_subscription(store.engine, "webhook", receiver.url + "/hook")
    store.dispatch(store.case())
    cfg = replace(FAST, retry_s=1.0, retry_max_s=100.0, give_up_s=5.0)
    t0 = utcnow()
    fan_out(store.engine, t0, timedelta(seconds=cfg.give_up_s))
    # Tries at 0, 1, 3 s (waits 1, 2, 4): the next would be at 7 s, past the 5 s: dead after the third.
    expected, at, wait = [], 0.0, cfg.retry_s
    while at <= cfg.give_up_s:
        expected.append(at)
        at, wait = at + wait, wait * 2
    clock = [t0]
    for second in range(0, 10):
        clock[0] = t0 + timedelta(seconds=second, milliseconds=10)
        deliver_due(store.engine, cfg, LogSms(), clock=lambda: clock[0])
    [(_, _, status, attempts, error, _, _)] = store.deliveries()
    assert (status, attempts) == ("dead", len(expected)) == ("dead", len(receiver.requests))
    assert "gave up after 3 tries" in error and "HTTP 500" in error and "NOTIFY_GIVE_UP_S=5" in error


def test_a_robot_gets_at_most_20_messages_a_minute(store, receiver):
    add_subscription(store.engine, "wecom", receiver.url + "/wecom?key=K", events=["reported"])
    for n in range(25):
        store.case(source="citizen", external_id=f"rate-{n}")
    t0 = utcnow()
    fan_out(store.engine, t0, timedelta(hours=1))
    for seconds in (0, 1, 30, 59):
        while deliver_due(store.engine, FAST, LogSms(), clock=lambda s=seconds: t0 + timedelta(seconds=s)):
            pass
        assert len(receiver.requests) == 20  # the 21st waits
    while deliver_due(store.engine, FAST, LogSms(), clock=lambda: t0 + timedelta(seconds=61)):
        pass
    assert len(receiver.requests) == 25
    assert len({json.loads(r["body"])["markdown"]["content"] for r in receiver.requests}) == 25


def test_a_slow_receiver_does_not_let_a_claimed_batch_outlive_its_lease(store, receiver):
    add_subscription(store.engine, "webhook", receiver.url + "/hook", events=["reported"])
    for n in range(2):
        store.case(source="citizen", external_id=f"slow-{n}")
    receiver.hold = FAST.lease_s / 2 + 0.3  # the first try outlasts half the lease (and its own wait)
    fan_out(store.engine, utcnow(), timedelta(hours=1))
    assert deliver_due(store.engine, FAST, LogSms()) == 1  # the second was claimed, then given back untried
    outcomes = [o for (o,) in store.sql("SELECT outcome FROM notification_attempts ORDER BY id")]
    assert "did not answer in time" in outcomes[0] and outcomes[1:] == ["released untried"]
    first, second = (d[5] for d in store.deliveries())
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [first]  # the second was never sent
    receiver.hold = 0.0
    run_until(store.engine, FAST, lambda: [d[2] for d in store.deliveries()] == ["delivered"] * 2)
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert ids.count(second) == 1 and ids.count(first) == 2  # the first again (timed out), the same id


def test_sms_goes_through_aliyun_signed_and_the_log_masks_the_phone(store, receiver, caplog):
    add_subscription(store.engine, "sms", events=["dispatched"], role="responder")
    store.dispatch(store.case())
    phone = store.sql("SELECT phone FROM handlers WHERE handler_id = :h", h=OFFICER)[0][0]
    aliyun = AliyunSms("LTAIkey", "s3cret", "大路镇", "SMS_123", receiver.url + "/", 3.0)
    run_until(store.engine, FAST, lambda: len(receiver.requests) == 1, sms=aliyun)
    [req] = receiver.requests
    query = dict(parse_qsl(urlsplit(req["path"]).query, keep_blank_values=True))
    assert (query["Action"], query["PhoneNumbers"], query["SignName"], query["TemplateCode"]) == (
        "SendSms", phone, "大路镇", "SMS_123")
    assert json.loads(query["TemplateParam"])["event"] == "派单"

    # Aliyun's documented recipe, written again here: percent-encode, sort, GET&%2F&..., HMAC-SHA1 with secret&.
    def enc(s: str) -> str:
        return quote(s.encode(), "").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    signature = query.pop("Signature")
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))
    to_sign = "GET&%2F&" + enc(canonical)
    assert signature == base64.b64encode(hmac.new(b"s3cret&", to_sign.encode(), hashlib.sha1).digest()).decode()
    assert store.deliveries()[0][2] == "delivered"

    # The log-only provider: the message is logged, the phone masked, never whole.
    store.dispatch(store.case(external_id="second", source="patrol"))
    with caplog.at_level(logging.INFO):
        run_until(store.engine, FAST, lambda: [d[2] for d in store.deliveries()] == ["delivered"] * 2)
    assert f"{phone[:3]}****{phone[-4:]}" in caplog.text and phone not in caplog.text


def test_a_removed_subscription_leaves_its_messages_as_dead_letters(store, receiver):
    sub = add_subscription(store.engine, "webhook", receiver.url + "/hook")
    store.dispatch(store.case(source="citizen", external_id="r1"))  # reported, then dispatched: two messages
    fan_out(store.engine, utcnow(), timedelta(hours=1))
    assert remove_subscription(store.engine, sub.id) and not remove_subscription(store.engine, sub.id)
    tick(store.engine, FAST, LogSms())
    assert [(d[2], d[4]) for d in store.deliveries()] == [("dead", "the subscription was removed")] * 2
    assert receiver.requests == []


# -- workers as processes: killed mid-delivery, two at once ---------------------------------------------------


def worker(store: Store, **env: str) -> subprocess.Popen:
    """``python -m township notify`` on the store, as an operator runs it."""
    return subprocess.Popen([sys.executable, "-m", "township", "notify"], cwd=ROOT,
                            env={**os.environ, "DATABASE_URL": store.url, "NOTIFY_POLL_S": "0.1",
                                 "NOTIFY_LEASE_S": "3", "NOTIFY_RETRY_S": "0.2", "SEED_DEMO": "0", **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(done, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_worker_killed_mid_delivery_loses_nothing_and_the_receiver_sees_one_message(store, receiver):
    add_subscription(store.engine, "webhook", receiver.url + "/hook", events=["dispatched"])
    store.dispatch(store.case())
    receiver.hold = 2.0  # the receiver holds the first request while the worker is killed
    first = worker(store)
    try:
        wait_for(lambda: receiver.arrived.is_set())
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    assert store.deliveries()[0][2] == "pending"  # it never heard back: not recorded as delivered
    receiver.hold = 0.0
    store.dispatch(store.case(external_id="later", source="patrol"))  # one more, written meanwhile
    second = worker(store)
    try:
        wait_for(lambda: [d[2] for d in store.deliveries()] == ["delivered", "delivered"])
    finally:
        second.terminate()
        second.wait(10)
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    # Nothing lost: both messages arrived. The first arrived twice (sent, then the worker died before
    # recording it), under one webhook-id, so a receiver de-duplicating by it acts once on each.
    assert sorted(set(ids)) == sorted(d[5] for d in store.deliveries())
    assert len(ids) == 3 and ids.count(store.deliveries()[0][5]) == 2


def test_two_workers_on_one_store_never_both_deliver(store, receiver):
    add_subscription(store.engine, "webhook", receiver.url + "/hook", events=["reported"])
    for n in range(30):
        store.case(source="citizen", external_id=f"two-{n}")
    receiver.hold = 0.05
    workers = [worker(store), worker(store)]
    try:
        wait_for(lambda: store.sql("SELECT count(*) FROM notification_deliveries WHERE status = 'delivered'")[0][0]
                 == 30, timeout=60)
    finally:
        for w in workers:
            w.terminate()
            w.wait(10)
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 30
    assert store.sql("SELECT count(*), count(DISTINCT delivery_id) FROM notification_attempts") == [(30, 30)]


# -- the app: a dispatch through the API, the worker in its thread, the unread list -----------------------------


def test_a_dispatch_through_the_api_arrives_signed_and_is_on_the_handlers_unread_list(store, receiver, tmp_path, page):
    cli = subprocess.run([sys.executable, "-m", "township", "webhook", "add", receiver.url + "/hook",
                          "--events", "dispatched"], cwd=ROOT, env={**os.environ, "DATABASE_URL": store.url},
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    secret = cli.stderr.strip().rsplit(" ", 1)[-1]
    listed = subprocess.run([sys.executable, "-m", "township", "webhook", "list"], cwd=ROOT,
                            env={**os.environ, "DATABASE_URL": store.url}, capture_output=True, text=True, timeout=120)
    assert receiver.url in listed.stdout and secret not in listed.stdout
    command = create_token(store.engine, "desk", "command")
    phone = create_token(store.engine, "officer-phone", "responder", handler_id=OFFICER)
    other = create_token(store.engine, "other-phone", "responder", handler_id="H-OF-DL-02-01")
    case_id = store.case()
    srv = LiveServer(tmp_path, {"DEMO_FEED": "0", "SEED_DEMO": "0", "NOTIFY_POLL_S": "0.2"}, store.url).start()
    try:
        version = store.sql("SELECT version FROM cases WHERE id = :c", c=case_id)[0][0]
        r = requests.post(f"{srv.url}/api/v1/cases/{case_id}/dispatch",
                          json={"handler": OFFICER, "expected_version": version},
                          headers={"Authorization": f"Bearer {command}"}, timeout=30)
        assert r.status_code == 200, r.text
        wait_for(lambda: len(receiver.requests) == 1)
        time.sleep(1.0)
        [req] = receiver.requests  # once
        assert verify_standard_webhook(secret, req) and json.loads(req["body"])["data"]["case_id"] == case_id

        def mine(token: str) -> dict:
            got = requests.get(f"{srv.url}/api/v1/notifications", headers={"Authorization": f"Bearer {token}"},
                               timeout=30)
            assert got.status_code == 200, got.text
            return got.json()

        wait_for(lambda: mine(phone)["unread"] == 1)
        [item] = mine(phone)["items"]
        assert (item["event"], item["case_id"], item["read"]) == ("dispatched", case_id, False)
        assert mine(other) == {"unread": 0, "items": []}
        read = requests.post(f"{srv.url}/api/v1/notifications/read", json={"ids": [item["id"]]},
                             headers={"Authorization": f"Bearer {phone}"}, timeout=30)
        assert read.json() == {"marked": 1, "unread": 0}
        bad = requests.post(f"{srv.url}/api/v1/notifications/read", json={"ids": "all"},
                            headers={"Authorization": f"Bearer {phone}"}, timeout=30)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "ids"
        assert requests.get(f"{srv.url}/api/v1/notifications", timeout=30).status_code == 401

        # A red warning is the command centre's: the dashboard (DEFAULT_ROLE=command) shows the unread badge.
        lon, lat = store.point("DL-02-01")
        r = requests.post(f"{srv.url}/api/v1/warnings", headers={"Authorization": f"Bearer {command}"}, timeout=30,
                          json={"source": "t", "type": "rainstorm", "level": 1, "title": "暴雨红色预警", "lon": lon,
                                "lat": lat, "radius_m": 2000})
        assert r.status_code == 201, r.text
        wait_for(lambda: store.sql("SELECT count(*) FROM notification_audiences WHERE audience = 'command'")[0][0] == 1)
        page.goto(srv.url + "/")
        page.wait_for_selector("#account-unread", timeout=30_000)
        assert page.inner_text("#account-unread") == "1"
        assert "暴雨红色预警" in page.get_attribute("#account-unread", "title")
    finally:
        srv.stop()


def test_the_unread_badge_rises_with_a_dispatch_without_a_reload(store, tmp_path, page):
    # The officer signed in at the desk: each dispatch to them raises the badge on the open page.
    from township.accounts.users import create_user

    create_user(store.engine, "officer1", "officer-pass-1", "responder", display_name="网格员", handler_id=OFFICER)
    command = create_token(store.engine, "desk", "command")
    cases = [store.case(title="路灯不亮"), store.case(title="井盖缺失")]
    srv = LiveServer(tmp_path, {"DEMO_FEED": "0", "SEED_DEMO": "0", "NOTIFY_POLL_S": "0.2", "DEFAULT_ROLE": ""},
                     store.url).start()
    try:
        page.goto(srv.url + "/login")
        page.fill("#login-username", "officer1")
        page.fill("#login-password", "officer-pass-1")
        page.click("#login-submit")
        page.wait_for_selector("#account-name", timeout=60_000)
        assert page.is_hidden("#account-unread")
        page.evaluate("() => { window.sameLoad = true; }")  # gone if the page were loaded again
        for n, case_id in enumerate(cases, 1):
            version = store.sql("SELECT version FROM cases WHERE id = :c", c=case_id)[0][0]
            r = requests.post(f"{srv.url}/api/v1/cases/{case_id}/dispatch",
                              json={"handler": OFFICER, "expected_version": version},
                              headers={"Authorization": f"Bearer {command}"}, timeout=30)
            assert r.status_code == 200, r.text
            page.wait_for_function(f"""() => {{ const b = document.querySelector('#account-unread');
                return b && !b.hidden && b.innerText === '{n}'; }}""", timeout=30_000)
            unread = store.sql("SELECT count(*) FROM notification_audiences WHERE audience = :a",
                               a=f"handler:{OFFICER}")[0][0]
            assert unread == n
        assert "井盖缺失" in page.get_attribute("#account-unread", "title")
        assert page.evaluate("() => window.sameLoad") is True
    finally:
        srv.stop()
