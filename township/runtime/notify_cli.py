"""The command line of notifications: ``notify`` (the worker) and ``webhook`` / ``robot`` / ``sms`` (the channels).

Registered by `township.runtime.cli`; each ``add_*`` registers a parser as its ``_add_<name>`` functions do.

    python -m township notify                       # the delivery worker, until stopped
    python -m township webhook add URL --events dispatched,warning [--secret whsec_…] [--village DL-01]
    python -m township robot add wecom|dingtalk URL [--secret SEC…] [--events …] [--role responder]
    python -m township sms add --events dispatched --role responder
    python -m township webhook list | robot list | sms list
    python -m township webhook remove ID
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from township.domain.vocab import NOTIFY_EVENTS, ROLES

#: The channels each command manages.
_KINDS = {"webhook": ("webhook",), "robot": ("wecom", "dingtalk"), "sms": ("sms",)}


def _engine():
    from township.config import Settings
    from township.store.engine import init_db, make_engine

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    init_db(engine)
    return settings, engine


def _notify(args: argparse.Namespace) -> int:
    from township.runtime.notifier import run, sms_provider, tick

    settings, engine = _engine()
    cfg = settings.notify
    tell_overdue = not settings.sla.auto_escalate
    if args.once:
        print(f"tried {tick(engine, cfg, sms_provider(cfg), tell_overdue=tell_overdue)} message(s)")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logging.getLogger(__name__).info("notification worker on %s (SMS: %s)", engine.url.render_as_string(),
                                     cfg.sms_provider)
    run(engine, cfg, stop, tell_overdue=tell_overdue)
    return 0


def add_notify(sub: argparse._SubParsersAction) -> None:
    """Register ``notify``."""
    p = sub.add_parser(
        "notify", help="run the notification worker (webhooks, group robots, SMS) until stopped",
        description="Fan the outbox of the store named by DATABASE_URL out to the people and channels it "
        "concerns and deliver every message, with retries, until SIGTERM. Any number of workers may run "
        "on one store (python app.py runs one in a thread); none sends a message another is sending.")
    p.add_argument("--once", action="store_true", help="one round, then exit (for cron)")
    p.set_defaults(func=_notify)


def _events(text: str | None) -> list[str]:
    return [e.strip() for e in (text or "").split(",") if e.strip()]


def _channels(args: argparse.Namespace) -> int:
    from township.loop.inbox import add_subscription, list_subscriptions, remove_subscription

    _, engine = _engine()
    kinds = _KINDS[args.command]
    if args.action == "add":
        channel = args.kind if args.command == "robot" else kinds[0]
        try:
            row = add_subscription(engine, channel, getattr(args, "url", None), secret=getattr(args, "secret", None),
                                   events=_events(args.events), village_id=args.village, role=args.role)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{row.id}\t{row.channel}\t{row.url or ''}")
        if channel == "webhook":
            print(f"signing secret (Standard Webhooks; give it to the receiver): {row.secret}", file=sys.stderr)
        return 0
    if args.action == "remove":
        rows = {r.id for r in list_subscriptions(engine) if r.channel in kinds}
        if args.id not in rows or not remove_subscription(engine, args.id):
            print(f"error: no {args.command} {args.id}; see `python -m township {args.command} list`", file=sys.stderr)
            return 1
        print(f"removed {args.command} {args.id}; its undelivered messages are dead letters now")
        return 0
    for r in list_subscriptions(engine):
        if r.channel in kinds:
            print(f"{r.id}\t{r.channel}\t{r.url or '-'}\tevents={r.events or 'all'}\tvillage={r.village_id or 'all'}"
                  f"\trole={r.role or 'all'}")
    return 0


def add_channels(sub: argparse._SubParsersAction) -> None:
    """Register ``webhook``, ``robot`` and ``sms``, each with ``add``, ``list`` and ``remove``."""
    helps = {"webhook": "outgoing webhooks signed as Standard Webhooks do",
             "robot": "企业微信 and 钉钉 group robots, @-mentioning the people concerned",
             "sms": "SMS to the people concerned (SMS_PROVIDER: log or aliyun)"}
    for command, what in helps.items():
        p = sub.add_parser(command, help=f"manage {what}", description=f"Subscribe {what} to events "
                           f"({', '.join(NOTIFY_EVENTS)}), per village and role, in the store named by DATABASE_URL.")
        actions = p.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help=f"subscribe ({what})")
        if command == "robot":
            add.add_argument("kind", choices=("wecom", "dingtalk"))
        if command != "sms":
            add.add_argument("url", help="where messages go (the robot's webhook address with its key/token)")
            add.add_argument("--secret", help="webhook: whsec_<base64> (default: a new one, printed); "
                             "钉钉: the robot's SEC… secret for signed mode")
        add.add_argument("--events", help=f"comma list of {', '.join(NOTIFY_EVENTS)} (default: all)")
        add.add_argument("--village", help="only this village's events, e.g. DL-01")
        add.add_argument("--role", choices=tuple(ROLES), help="only the people of this role (@-mentions, SMS)")
        actions.add_parser("list", help="list them")
        remove = actions.add_parser("remove", help="stop one (its undelivered messages become dead letters)")
        remove.add_argument("id", type=int)
        p.set_defaults(func=_channels)
