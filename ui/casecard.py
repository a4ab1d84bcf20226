"""The case card: one case, its timeline and the moves the viewer may make, beside the map.

Pure builders of a :class:`township.loop.casefile.CaseFile`; `callbacks.casecard`
calls them after every action, so the card always shows what the store holds.
Everything clickable inside carries a pattern id (``{"type": CASE_MOVE,
"move": "dispatch"}`` …): the card's content comes and goes, and a callback
may only listen to plain ids that always exist.
"""
from __future__ import annotations

from datetime import datetime

from dash import dcc, html

from township.domain.isotime import local_text as local
from township.domain.privacy import sees_personal, shown_name, shown_phone
from township.domain.vocab import CASE_SOURCES, CASE_STATUS_COLORS, CASE_STATUSES, CASE_TYPES, DOMAINS, TIERS, label
from township.grids.model import GridSet
from township.loop.casefile import CaseFile, action_label, overdue
from township.loop.workflow import MOVES, Actor
from township.store.models import Case
from ui import ids
from ui.text import t

#: Moves that end or push a case away: drawn apart from the forward moves.
SIDE_MOVES = ("return", "escalate", "cancel")


def move_id(move: str) -> dict:
    """The pattern id of a move button."""
    return {"type": ids.CASE_MOVE, "move": move}


def open_id(case_id: int) -> dict:
    """The pattern id of a button that opens case ``case_id``'s card."""
    return {"type": ids.CASE_OPEN, "case": int(case_id)}


def field_id(name: str) -> dict:
    """The pattern id of an input of the card (``handler``, ``text``)."""
    return {"type": ids.CASE_FIELD, "name": name}


def control_id(name: str) -> dict:
    """The pattern id of a card control (``close``, ``reload``)."""
    return {"type": ids.CASE_CONTROL, "name": name}


def skeleton() -> list:
    """What the page holds from the start: the store of the open case and the (empty, hidden) card."""
    return [dcc.Store(id=ids.CASE_OPENED, data=None),
            html.Aside([], id=ids.CASE_CARD, className="case-card", hidden=True)]


def _head(title: str, lang: str, reload: bool = False) -> html.Div:
    buttons = [html.Button("×", id=control_id("close"), className="case-close", title=t("close_card", lang))]
    if reload:
        buttons.insert(0, html.Button(t("reload", lang), id=control_id("reload"), className="case-reload"))
    return html.Div([html.H3(title, id="case-title"), *buttons], className="case-head")


def _message(text: str | None, ok: bool, lang: str) -> html.Div:
    if not text:
        return html.Div(id=ids.CASE_MSG, hidden=True)
    prefix = t("moved" if ok else "refused", lang)
    return html.Div(prefix + text, id=ids.CASE_MSG, className="case-msg ok" if ok else "case-msg bad")


def _facts(case: Case, gridset: GridSet, role: str, now: datetime, lang: str) -> html.Table:
    late = overdue(case, now)
    grid = gridset.props(case.grid_id)["name"] if case.grid_id and case.grid_id in gridset else "—"
    village = gridset.props(case.village_id)["name"] if case.village_id and case.village_id in gridset else ""
    tier = label(TIERS, case.tier, lang) + (
        f"({t('max_tier', lang)} {label(TIERS, case.max_tier, lang)})" if case.max_tier != case.tier else "")
    deadline = [local(case.deadline_at)]
    if late:
        deadline.append(html.Span(t("overdue", lang), className="case-overdue", id="case-overdue"))
    facts = [
        ("type", label(CASE_TYPES, case.type, lang)),
        ("domain", label(DOMAINS, case.domain, lang)),
        ("status", html.Span(label(CASE_STATUSES, case.status, lang), id="case-status", className="case-status",
                             style={"background": CASE_STATUS_COLORS.get(case.status, "#78909c")})),
        ("tier", tier),
        ("deadline_at", html.Span(deadline)),
        ("grid", f"{village} · {grid}" if village else grid),
        ("handler", case.handler or "—"),
        ("reporter", " ".join(filter(None, (shown_name(case.reporter, role), shown_phone(case.reporter_phone, role))))
         or "—"),
        ("source", label(CASE_SOURCES, case.source, lang)),
        ("reported_at", local(case.reported_at)),
    ]
    return html.Table([html.Tr([html.Th(t(k, lang)), html.Td(v)]) for k, v in facts], className="facts")


def timeline(file: CaseFile, role: str, lang: str) -> html.Ol:
    """The audit trail, oldest first: when, what, from → to, who, note (names only for roles that see them)."""
    items = []
    for e in file.events:
        move = label(CASE_STATUSES, e.from_status, lang) + " → " if e.from_status else ""
        to = label(CASE_STATUSES, e.to_status, lang) if e.to_status else ""
        tier = (f" · {label(TIERS, e.from_tier, lang)} → {label(TIERS, e.to_tier, lang)}"
                if e.from_tier and e.to_tier and e.from_tier != e.to_tier else "")
        who = shown_name(e.actor, role)
        note = (e.note or "") if sees_personal(role) else ""  # notes name people (派单给王伟)
        items.append(html.Li([
            html.Span(local(e.at), className="when"),
            html.B(action_label(e.action, lang), className="what"),
            html.Span(f"{move}{to}{tier}", className="states"),
            html.Span(who, className="who"),
            html.Div(note, className="note") if note else None,
        ], className=f"step step-{e.action}"))
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
        parts.append(dcc.Dropdown(options, chosen, id=field_id("handler"), clearable=False, searchable=True,
                                  className="case-handler"))
    parts.append(html.Label(t("move_text", lang), className="field-label"))
    parts.append(dcc.Textarea(id=field_id("text"), value=text, placeholder=t("move_text_hint", lang),
                              className="case-text", rows=2))
    forward = [m for m in file.moves if m not in SIDE_MOVES]
    side = [m for m in file.moves if m in SIDE_MOVES]
    buttons = [html.Button(MOVES[m].zh if lang == "zh" else m, id=move_id(m), className=f"case-move move-{m}")
               for m in forward + side]
    parts.append(html.Div(buttons, className="case-buttons"))
    return html.Div(parts, className="case-actions")


def card(file: CaseFile, gridset: GridSet, viewer: Actor, now: datetime, lang: str,
         message: str | None = None, ok: bool = False, text: str = "", handler: str | None = None) -> list:
    """The card of one case for ``viewer``: facts, timeline, actions and the last action's outcome."""
    c = file.case
    role = viewer.role
    return [
        _head(f"#{c.id} {c.title}", lang, reload=True),
        _message(message, ok, lang),
        _facts(c, gridset, role, now, lang),
        html.P(c.description, className="case-description") if c.description and c.description != c.title else None,
        html.H4(t("actions", lang)),
        actions(file, role, lang, text, handler),
        html.H4(t("timeline", lang)),
        timeline(file, role, lang),
        html.Div(f"v{c.version}", className="hint case-version", id="case-version"),
    ]


def refusal(message: str, lang: str) -> list:
    """The card when the case may not be shown (another village's) or does not exist."""
    return [_head(t("case_card", lang), lang), _message(message, False, lang)]


def orders_list(orders: list[Case], gridset: GridSet, lang: str) -> list:
    """The open orders (接单池, waiting micro-wishes) of a grid, each opening its card."""
    if not orders:
        return [html.H4(t("open_orders", lang)), html.Ul([html.Li(t("none", lang))])]
    due = t("deadline_at", lang)
    items = [html.Li(html.Button(f"#{c.id} {label(CASE_TYPES, c.type, lang)} · {c.title} · {due} "
                                 f"{local(c.deadline_at, '%m-%d %H:%M')}", id=open_id(c.id), className="case-link"))
             for c in orders]
    return [html.H4(t("open_orders", lang)), html.Ul(items, className="orders", id="grid-orders")]
