"""The case card: one case, its timeline and the moves the viewer may make, beside the map.

Pure builders of a :class:`township.loop.casefile.CaseFile`; `callbacks.casecard`
calls them after every action, so the card always shows what the store holds.
Everything clickable inside carries a pattern id (``{"type": CASE_MOVE,
"move": "dispatch"}`` …): the card's content comes and goes, and a callback
may only listen to plain ids that always exist.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dash import dcc, html

from layers.text import dropdown_labels, t
from township.domain.actors import actor_label, note_text
from township.domain.isotime import local_text as local
from township.domain.policy import sees_personal
from township.domain.privacy import shown_name, shown_phone
from township.domain.vocab import (
    CASE_MOVES,
    CASE_SOURCES,
    CASE_STATUS_COLORS,
    CASE_STATUSES,
    CASE_TYPES,
    DOMAINS,
    PHOTO_PURPOSES,
    TIERS,
    label,
)
from township.grids.model import GridSet
from township.loop.casefile import CaseFile, action_label, overdue
from township.loop.photos import photo_url
from township.loop.workflow import Actor
from township.store.models import Case, Photo
from ui import card as shared
from ui import ids

#: Moves that end or push a case away: drawn apart from the forward moves.
SIDE_MOVES = ("return", "escalate", "cancel")
#: The case card's ids.
CARD = shared.CardIds(move=ids.CASE_MOVE, field=ids.CASE_FIELD, control=ids.CASE_CONTROL, message=ids.CASE_MSG,
               title="case-title")


def open_id(case_id: int) -> dict:
    """The pattern id of a button that opens case ``case_id``'s card."""
    return {"type": ids.CASE_OPEN, "case": int(case_id)}


def skeleton() -> list:
    """What the page holds from the start: the store of the open case and the (empty, hidden) card."""
    return [dcc.Store(id=ids.CASE_OPENED, data=None),
            html.Aside([], id=ids.CASE_CARD, className="case-card", hidden=True)]


def _facts(case: Case, gridset: GridSet, role: str, now: datetime, lang: str, follows: int = 0) -> html.Table:
    late = overdue(case, now)
    grid = gridset.props(case.grid_id)["name"] if case.grid_id and case.grid_id in gridset else "—"
    village = gridset.props(case.village_id)["name"] if case.village_id and case.village_id in gridset else ""
    tier = label(TIERS, case.tier, lang) + (
        f"({t('max_tier', lang)} {label(TIERS, case.max_tier, lang)})" if case.max_tier != case.tier else "")
    deadline = [local(case.deadline_at)]
    if late:
        deadline.append(html.Span(t("overdue", lang), className="case-overdue", id="case-overdue"))
    rows = [
        ("type", label(CASE_TYPES, case.type, lang)),
        ("domain", label(DOMAINS, case.domain, lang)),
        ("status", html.Span(label(CASE_STATUSES, case.status, lang), id="case-status", className="case-status",
                             style={"background": CASE_STATUS_COLORS.get(case.status, "#78909c")})),
        ("tier", tier),
        ("deadline_at", html.Span(deadline)),
        ("grid", f"{village} · {grid}" if village else grid),
        ("handler", shown_name(case.handler, role) or "—"),
        ("reporter", " ".join(filter(None, (shown_name(case.reporter, role), shown_phone(case.reporter_phone, role))))
         or "—"),
        ("source", label(CASE_SOURCES, case.source, lang)),
        ("reported_at", local(case.reported_at)),
    ]
    if follows:  # 关注: residents who follow it from /report
        rows.append(("follows", html.Span(str(follows), id="case-follows")))
    return shared.facts(rows, lang)


def timeline(file: CaseFile, role: str, lang: str) -> html.Ol:
    """The audit trail, oldest first: when, what, from → to, who, note (names only for roles that see them)."""
    items = []
    for e in file.events:
        move = label(CASE_STATUSES, e.from_status, lang) + " → " if e.from_status else ""
        to = label(CASE_STATUSES, e.to_status, lang) if e.to_status else ""
        tier = (f" · {label(TIERS, e.from_tier, lang)} → {label(TIERS, e.to_tier, lang)}"
                if e.from_tier and e.to_tier and e.from_tier != e.to_tier else "")
        note = note_text(e.note, lang) if sees_personal(role) else ""  # notes name people (派单给王伟)
        items.append(shared.log_step(e.at, e.action, action_label(e.action, lang), f"{move}{to}{tier}",
                                     actor_label(e.actor, role, lang), note))
    return html.Ol(items, className="timeline", id="case-timeline")


def _handler_options(file: CaseFile, role: str) -> list[dict]:
    out = []
    for h in file.handlers:
        phone = shown_phone(h.phone, role)
        out.append({"label": " · ".join(filter(None, (shown_name(h.name, role), h.why, phone))),
                    "value": h.handler_id})
    return out


def actions(file: CaseFile, role: str, lang: str, text: str = "", handler: str | None = None) -> html.Div:
    """The moves the viewer may make now: a handler choice when one is needed, one text box, a button each."""
    if not file.moves:
        return html.Div(t("no_moves", lang), className="hint", id="case-no-moves")
    parts: list = []
    if file.handler_move:
        options = _handler_options(file, role)
        chosen = handler if handler in {o["value"] for o in options} else (options[0]["value"] if options else None)
        key = "dispatch_to" if file.handler_move == "dispatch" else "taker"
        parts.append(html.Label(t(key, lang), className="field-label"))
        parts.append(dcc.Dropdown(options, chosen, id=CARD.field_id("handler"), clearable=False, searchable=True,
                                  labels=dropdown_labels(lang),
                                  className="case-handler"))
    parts.append(html.Label(t("move_text", lang), className="field-label"))
    parts.append(dcc.Textarea(id=CARD.field_id("text"), value=text, placeholder=t("move_text_hint", lang),
                              className="case-text", rows=2))
    forward = [m for m in file.moves if m not in SIDE_MOVES]
    side = [m for m in file.moves if m in SIDE_MOVES]
    buttons = [html.Button(label(CASE_MOVES, m, lang), id=CARD.move_id(m), className=f"case-move move-{m}")
               for m in forward + side]
    parts.append(html.Div(buttons, className="case-buttons"))
    return html.Div(parts, className="case-actions")


def photos(shown: Sequence[Photo], lang: str) -> html.Div | None:
    """The case's thumbnails, each a link opening the full photo in a new tab; nothing without photos."""
    if not shown:
        return None
    hint = t("photo_open", lang)
    links = [html.A(html.Img(src=photo_url(p.id, thumb=True), alt=label(PHOTO_PURPOSES, p.purpose, lang)),
                    href=photo_url(p.id), target="_blank", rel="noopener", className=f"case-photo photo-{p.purpose}",
                    title=f"{label(PHOTO_PURPOSES, p.purpose, lang)} · {local(p.created_at)} · {hint}")
             for p in shown]
    return html.Div([html.H4(f"{t('photos', lang)}({len(shown)})"), html.Div(links, className="case-photo-row")],
                    id=ids.CASE_PHOTOS, className="case-photos")


def card(file: CaseFile, gridset: GridSet, viewer: Actor, now: datetime, lang: str,
         message: str | None = None, ok: bool = False, text: str = "", handler: str | None = None,
         shown: Sequence[Photo] = ()) -> list:
    """The card of one case for ``viewer``: facts, photos (``shown``: those the viewer may see), timeline,
    actions and the last action's outcome."""
    c = file.case
    role = viewer.role
    return [
        shared.head(CARD, f"#{c.id} {c.title}", lang, reload=True),
        shared.message(CARD, message, ok, lang),
        _facts(c, gridset, role, now, lang, file.follows),
        shared.description(c.description, c.title),
        photos(shown, lang),
        html.H4(t("actions", lang)),
        actions(file, role, lang, text, handler),
        html.H4(t("timeline", lang)),
        timeline(file, role, lang),
        shared.version_tag(c.version, "case-version"),
    ]


def refusal(message: str, lang: str) -> list:
    """The card when the case may not be shown (another village's) or does not exist."""
    return shared.refusal(CARD, t("case_card", lang), message, lang)


def orders_list(orders: list[Case], gridset: GridSet, lang: str) -> list:
    """The open orders (接单池, waiting micro-wishes) of a grid, each opening its card."""
    if not orders:
        return [html.H4(t("open_orders", lang)), html.Ul([html.Li(t("none", lang))])]
    due = t("deadline_at", lang)
    items = [html.Li(html.Button(f"#{c.id} {label(CASE_TYPES, c.type, lang)} · {c.title} · {due} "
                                 f"{local(c.deadline_at, '%m-%d %H:%M')}", id=open_id(c.id), className="case-link"))
             for c in orders]
    return [html.H4(t("open_orders", lang)), html.Ul(items, className="orders", id="grid-orders")]
