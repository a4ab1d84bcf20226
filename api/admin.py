"""``/admin/notifications``: the deliveries of notifications for the admin — status, tries, last error, dead letters.

A plain server-rendered page (no script): it must show what failed even when
the dashboard does not load. The admin role only (403 for the others; the sign-in
gate sends someone not signed in to ``/login``). Phones are masked, and robot
and webhook addresses are shown by host only: their keys are in the URL.
"""
from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from auth import current_viewer
from layers.text import t
from township.domain.isotime import local_text
from township.domain.policy import may_administer
from township.domain.vocab import DELIVERY_STATUSES, NOTIFY_CHANNELS, NOTIFY_EVENTS, ROLES, Lang, label
from township.loop.inbox import deliveries, delivery_counts, list_subscriptions
from township.runtime.bootstrap import AppContext

#: Rows the page lists.
LIMIT = 300

STYLE = """
body { margin: 0; font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; background: #f5f6f3; color: #263238; }
header { background: #263238; color: #fff; padding: 12px 18px; font-size: 20px; font-weight: 700; }
main { padding: 12px 18px; }
nav a { margin-right: 14px; }
table { border-collapse: collapse; background: #fff; width: 100%; margin: 10px 0 22px; font-size: 14px; }
th, td { border-bottom: 1px solid #e0e0e0; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #eceff1; }
td.err { color: #b71c1c; max-width: 520px; word-break: break-word; }
.st-dead { color: #fff; background: #b71c1c; padding: 1px 6px; border-radius: 3px; }
.st-pending { color: #fff; background: #ef6c00; padding: 1px 6px; border-radius: 3px; }
.st-delivered { color: #fff; background: #2e7d32; padding: 1px 6px; border-radius: 3px; }
/* A phone: each row a card, each cell labelled by its column. */
@media (max-width: 700px) {
  thead { display: none; }
  tr { display: block; border-bottom: 2px solid #cfd8dc; padding: 4px 0; }
  td { display: block; border: 0; padding: 2px 8px; }
  td:empty { display: none; }
  td::before { content: attr(data-label) ": "; color: #78909c; }
}
/* A 4K desk screen: read from the chair. */
@media (min-width: 2560px) { body { font-size: 200%; } table { font-size: 26px; } header { font-size: 36px; } }
"""


def _when(value) -> str:
    return local_text(value, "%Y-%m-%d %H:%M:%S") if value is not None else ""


def _table(head: list[str], rows: list[list[str]], lang: str) -> str:
    if not rows:
        return f"<p>{escape(t('notify_none', lang))}</p>"
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    # Each cell carries its column's name, for the phone layout; cells come as "<td…>…</td>".
    body = "".join("<tr>" + "".join(cell.replace("<td", f'<td data-label="{escape(h)}"', 1)
                                    for h, cell in zip(head, row, strict=True)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def render(ctx: AppContext, status: str | None, lang: Lang) -> str:
    """The page's HTML for one ``status`` filter (``None``: all)."""
    engine = ctx.township.engine
    counts = delivery_counts(engine)
    links = [f'<a href="?lang={lang}" id="notify-filter-all">{escape(t("notify_all", lang))} '
             f'({sum(counts.values())})</a>']
    def name(table: dict, code: object) -> str:
        return escape(label(table, code, lang))

    everyone = escape(t("notify_all", lang))
    links += [f'<a href="?status={code}&lang={lang}" id="notify-filter-{code}">{name(DELIVERY_STATUSES, code)} '
              f'({counts.get(code, 0)})</a>' for code in DELIVERY_STATUSES]
    rows = [[f"<td>{d.id}</td>", f"<td>{name(NOTIFY_EVENTS, d.event)}</td>",
             f"<td>{name(NOTIFY_CHANNELS, d.channel)}</td>", f"<td>{escape(d.to)}</td>",
             f'<td><span class="st-{d.status}">{name(DELIVERY_STATUSES, d.status)}</span></td>',
             f"<td>{d.attempts}</td>", f"<td>{_when(d.created_at)}</td>",
             f"<td>{_when(d.next_attempt_at) if d.status == 'pending' else ''}</td>",
             f"<td>{_when(d.delivered_at)}</td>", f'<td class="err">{escape(d.last_error)}</td>']
            for d in deliveries(engine, status, LIMIT)]
    head = [t(k, lang) for k in ("notify_id", "notify_event", "notify_channel", "notify_to", "notify_status",
                                 "notify_attempts", "notify_created", "notify_next", "notify_delivered",
                                 "notify_error")]
    subs = [[f"<td>{s.id}</td>", f"<td>{name(NOTIFY_CHANNELS, s.channel)}</td>",
             f"<td>{escape(urlsplit(s.url).netloc if s.url else '')}</td>",
             f"<td>{', '.join(name(NOTIFY_EVENTS, e) for e in s.events.split(',') if e) or everyone}</td>",
             f"<td>{escape(s.village_id) if s.village_id else everyone}</td>",
             f"<td>{name(ROLES, s.role) if s.role else everyone}</td>"]
            for s in list_subscriptions(engine)]
    sub_head = [t(k, lang) for k in ("notify_id", "notify_channel", "notify_to", "notify_events", "notify_village",
                                     "notify_role")]
    return (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(t('notify_head', lang))}</title><style>{STYLE}</style></head><body>"
            f"<header>{escape(t('notify_head', lang))}</header><main>"
            f'<nav id="notify-filters">{"".join(links)}</nav>'
            f'<div id="notify-deliveries">{_table(head, rows, lang)}</div>'
            f"<h3>{escape(t('notify_channels', lang))}</h3>"
            f'<div id="notify-subscriptions">{_table(sub_head, subs, lang)}</div></main></body></html>')


def make_blueprint(ctx: AppContext) -> Blueprint:
    """The admin's deliveries page."""
    bp = Blueprint("admin", __name__)

    @bp.get("/admin/notifications")
    def admin_notifications():
        lang: Lang = "en" if request.args.get("lang") == "en" else "zh"
        if not may_administer(current_viewer(ctx).role):  # the gate has sent anyone not signed in to /login
            return Response(t("notify_admin_only", lang), 403, mimetype="text/plain; charset=utf-8")
        status = request.args.get("status") or None
        if status is not None and status not in DELIVERY_STATUSES:
            return Response(f"status: {status!r} unknown; allowed: {', '.join(DELIVERY_STATUSES)}", 400,
                            mimetype="text/plain; charset=utf-8")
        resp = Response(render(ctx, status, lang), mimetype="text/html")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return bp
