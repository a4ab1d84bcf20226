"""The warning card (一点指挥): one warning, whom to call and what is near, nearest first, its moves and tasks.

Pure builders of a :class:`township.loop.warnings.WarningFile`, in the case card's
side-panel style (`ui.casecard`); `callbacks.warningcard` calls them after
every action. Everything clickable carries a pattern id (``{"type":
WARN_MOVE, "move": "acknowledge"}`` …). Listed cases and tasks open the case
card through its own pattern id (`ui.casecard.open_id`).
"""
from __future__ import annotations

from dash import dcc, html

from layers.text import t
from township.domain.actors import actor_label, note_text
from township.domain.isotime import local_text as local
from township.domain.policy import ANONYMOUS_ROLE, sees_personal
from township.domain.privacy import shown_name, shown_phone
from township.domain.vocab import (
    CASE_STATUSES,
    CASE_TYPES,
    RESOURCE_KINDS,
    WARNING_LEVELS,
    WARNING_MOVE_LABELS,
    WARNING_STATUSES,
    WARNING_TYPES,
    label,
)
from township.grids.model import GridSet
from township.loop.warnings import Contact, WarningFile
from township.loop.workflow import Actor
from ui import card as shared
from ui import ids
from ui.casecard import open_id

#: The card's heading rule when the level has no colour (and on a refusal).
NO_LEVEL_COLOR = "#b71c1c"
#: Colour of each warning status badge.
STATUS_COLORS = {"active": "#C62828", "acknowledged": "#EF6C00", "handling": "#1565C0", "cleared": "#2E7D32"}
#: Text keys of the contact kinds that are people (handler kinds that are not resources).
PERSON_KINDS = {"officer": "officer", "party_member": "party_household"}


#: The warning card's ids.
CARD = shared.CardIds(move=ids.WARN_MOVE, field=ids.WARN_FIELD, control=ids.WARN_CONTROL, message=ids.WARN_MSG,
                     title="warn-title")


def dispatch_id(handler_id: str) -> dict:
    """The pattern id of the button that dispatches a task to ``handler_id``."""
    return {"type": ids.WARN_DISPATCH, "handler": handler_id}


def skeleton() -> list:
    """What the page holds from the start: the open warning's store and the (empty, hidden) card."""
    # No ``data=None``: a memory Store given null sets its data to undefined when it mounts, a change that
    # fired the dashboard's map callback on every page load (a second figure, drawn again, and the table
    # fetched twice) although the page already holds everything that callback would send.
    return [dcc.Store(id=ids.WARN_OPENED),
            html.Aside([], id=ids.WARN_CARD, className="case-card warn-card", hidden=True)]


def _distance(m: float) -> str:
    return f"{m / 1000:.1f} km" if m >= 1000 else f"{m:.0f} m"


def _phone(phone: str | None, role: str):
    if not phone:
        return None
    shown = shown_phone(phone, role)
    if sees_personal(role):
        return html.A(shown, href=f"tel:{phone}", className="warn-tel")
    return html.Span(shown, className="warn-tel masked")


def _kind(c: Contact, lang: str) -> str:
    if c.kind in PERSON_KINDS:
        return t(PERSON_KINDS[c.kind], lang)
    return label(RESOURCE_KINDS, c.kind, lang)


def _contact_list(items: list[Contact], gridset: GridSet, role: str, lang: str, list_id: str,
                  dispatch: bool) -> html.Ul:
    if not items:
        return shared.none_list(list_id, lang)
    rows = []
    for c in items:
        seen_as = ANONYMOUS_ROLE if c.masked else role  # another village's person: masked, no tel: link
        grid = gridset.props(c.grid_id)["name"] if c.grid_id and c.grid_id in gridset else ""
        person = c.person if c.kind not in PERSON_KINDS else c.name
        name = c.name if c.kind not in PERSON_KINDS else shown_name(c.name, seen_as)
        parts = [html.Span(_distance(c.distance_m), className="warn-dist"),
                 html.B(name), html.Span(f" · {_kind(c, lang)}", className="hint"),
                 html.Span(f" · {grid}", className="hint") if grid else None,
                 html.Span(f" {c.direction}", className="hint") if c.direction else None,
                 html.Span(f" · {shown_name(person, seen_as)}") if person and c.kind not in PERSON_KINDS else None,
                 " ", _phone(c.phone, seen_as)]
        if dispatch and c.handler_id:
            parts.append(html.Button(t("warn_dispatch", lang), id=dispatch_id(c.handler_id),
                                     className="case-move warn-dispatch"))
        rows.append(html.Li(parts, className=f"warn-item kind-{c.kind}", **{"data-kind": c.kind}))
    return html.Ul(rows, id=list_id, className="warn-list")


def _facts(file: WarningFile, gridset: GridSet, lang: str) -> html.Table:
    w = file.row
    level = WARNING_LEVELS.get(w.level, {})
    names = [gridset.props(g)["name"] for g in file.affected if g in gridset]
    rows = [
        ("warn_type", label(WARNING_TYPES, w.type, lang)),
        ("warn_level", html.Span(level.get(lang, str(w.level)), className="case-status",
                                 style={"background": level.get("color", "#78909c"),
                                        "color": "#263238" if w.level == 3 else "#fff"})),
        ("warn_status", html.Span(label(WARNING_STATUSES, w.status, lang), id=ids.WARN_STATUS,
                                  className="case-status", **{"data-status": w.status},
                                  style={"background": STATUS_COLORS.get(w.status, "#78909c")})),
        ("issued", local(w.issued_at)),
        ("radius", _distance(w.radius_m)),
        ("warn_affected", f"{len(names)}:" + "、".join(names) if names else "—"),
    ]
    return shared.facts(rows, lang)


def _cases(file: WarningFile, lang: str) -> html.Ul:
    if file.cases.empty:
        return shared.none_list("warn-cases", lang)
    items = [html.Li(html.Button(
        f"{_distance(r.distance_m)} · #{r.id} {label(CASE_TYPES, r.type, lang)} · {r.title}"
        + (f" · {t('overdue', lang)}" if r.overdue else ""), id=open_id(r.id), className="case-link"))
        for r in file.cases.itertuples(index=False)]
    return html.Ul(items, id="warn-cases", className="warn-list")


def _tasks(file: WarningFile, role: str, lang: str) -> html.Ul:
    if not file.tasks:
        return shared.none_list("warn-tasks", lang)
    items = [html.Li(html.Button(f"#{c.id} {label(CASE_STATUSES, c.status, lang)} · {shown_name(c.handler, role)}",
                                 id=open_id(c.id), className="case-link")) for c in file.tasks]
    return html.Ul(items, id="warn-tasks", className="warn-list")


def _log(file: WarningFile, role: str, lang: str) -> html.Ol:
    items = []
    for e in file.events:
        what = label(WARNING_MOVE_LABELS, e.action, lang)
        states = (f"{label(WARNING_STATUSES, e.from_status, lang)} → {label(WARNING_STATUSES, e.to_status, lang)}"
                  if e.from_status and e.to_status else "")
        # a step about another village's task shows its people as that village's people are shown here
        who = ANONYMOUS_ROLE if e.id in file.foreign_events else role
        note = note_text(e.note, lang) if sees_personal(who) else ""
        items.append(shared.log_step(e.at, e.action, what, states, actor_label(e.actor, who, lang), note))
    return html.Ol(items, className="timeline", id="warn-log")


def actions(file: WarningFile, lang: str, text: str = "") -> html.Div:
    """The warning's moves the viewer may make now, with one note box (also the note of a dispatched task)."""
    if not file.moves and not file.may_dispatch:
        return html.Div(t("warn_no_moves", lang), className="hint", id="warn-no-moves")
    buttons = [html.Button(label(WARNING_MOVE_LABELS, m, lang), id=CARD.move_id(m),
                           className=f"case-move warn-move-{m}") for m in file.moves]
    return html.Div([html.Label(t("warn_note", lang), className="field-label"),
                     dcc.Textarea(id=CARD.field_id("text"), value=text, className="case-text", rows=2),
                     html.Div(buttons, className="case-buttons")], className="case-actions")


def card(file: WarningFile, gridset: GridSet, viewer: Actor, lang: str, message: str | None = None,
         ok: bool = False, text: str = "", evacuation: html.Div | None = None) -> list:
    """The card of one warning for ``viewer``; ``evacuation``: its 转移安置 section (`ui.evacuation.progress`)."""
    w = file.row
    role = viewer.role
    color = WARNING_LEVELS.get(w.level, {}).get("color", NO_LEVEL_COLOR)
    return [
        shared.head(CARD, f"#{w.id} {w.title}", lang, reload=True, style={"borderBottomColor": color}),
        shared.message(CARD, message, ok, lang),
        _facts(file, gridset, lang),
        shared.description(w.description, w.title),
        html.H4(t("actions", lang)),
        actions(file, lang, text),
        *([html.H4(t("evac", lang)), evacuation] if evacuation is not None else []),
        html.H4(t("warn_officers", lang)),
        _contact_list(file.officers, gridset, role, lang, "warn-officers", file.may_dispatch),
        html.H4(t("warn_party", lang)),
        _contact_list(file.party, gridset, role, lang, "warn-party", file.may_dispatch),
        html.H4(t("warn_support", lang)),
        _contact_list(file.support, gridset, role, lang, "warn-support", file.may_dispatch),
        html.H4(t("warn_cases", lang)),
        _cases(file, lang),
        html.H4(t("warn_tasks", lang)),
        _tasks(file, role, lang),
        html.H4(t("warn_log", lang)),
        _log(file, role, lang),
        shared.version_tag(w.version, "warn-version"),
    ]


def refusal(message: str, lang: str) -> list:
    """The card when the warning may not be shown (another village's) or does not exist."""
    return shared.refusal(CARD, t("warn_card", lang), message, lang, style={"borderBottomColor": NO_LEVEL_COLOR})
