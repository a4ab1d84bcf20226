"""The warning card (一点指挥): one warning, whom to call and what is near, nearest first, its moves and tasks.

Pure builders of a :class:`township.loop.warnings.WarningFile`, in the case card's
side-panel style (`ui.casecard`); `callbacks.warningcard` calls them after
every action. Everything clickable carries a pattern id (``{"type":
WARN_MOVE, "move": "acknowledge"}`` …). Listed cases and tasks open the case
card through its own pattern id (`ui.casecard.open_id`).
"""
from __future__ import annotations

from dash import dcc, html

from township.domain.isotime import local_text as local
from township.domain.privacy import sees_personal, shown_name, shown_phone
from township.domain.vocab import (
    CASE_STATUSES,
    CASE_TYPES,
    RESOURCE_KINDS,
    WARNING_LEVELS,
    WARNING_STATUSES,
    WARNING_TYPES,
    label,
)
from township.grids.model import GridSet
from township.loop.warnings import WARNING_MOVES, Contact, WarningFile
from township.loop.workflow import Actor
from ui import ids
from ui.casecard import open_id
from ui.text import t

#: Colour of each warning status badge.
STATUS_COLORS = {"active": "#C62828", "acknowledged": "#EF6C00", "handling": "#1565C0", "cleared": "#2E7D32"}
#: Labels of the kinds listed (handler kinds that are not resources).
KIND_LABELS = {"officer": {"zh": "网格员", "en": "Grid officer"},
               "party_member": {"zh": "党员中心户", "en": "Party central household"}}


def move_id(move: str) -> dict:
    return {"type": ids.WARN_MOVE, "move": move}


def dispatch_id(handler_id: str) -> dict:
    return {"type": ids.WARN_DISPATCH, "handler": handler_id}


def field_id(name: str) -> dict:
    return {"type": ids.WARN_FIELD, "name": name}


def control_id(name: str) -> dict:
    return {"type": ids.WARN_CONTROL, "name": name}


def skeleton() -> list:
    """What the page holds from the start: the open warning's store and the (empty, hidden) card."""
    # No ``data=None``: a memory Store given null sets its data to undefined when it mounts, a change that
    # fired the dashboard's map callback on every page load (a second figure, drawn again, and the table
    # fetched twice) although the page already holds everything that callback would send.
    return [dcc.Store(id=ids.WARN_OPENED),
            html.Aside([], id=ids.WARN_CARD, className="case-card warn-card", hidden=True)]


def _head(title: str, lang: str, reload: bool = False, color: str = "#b71c1c") -> html.Div:
    buttons = [html.Button("×", id=control_id("close"), className="case-close", title=t("close_card", lang))]
    if reload:
        buttons.insert(0, html.Button(t("reload", lang), id=control_id("reload"), className="case-reload"))
    return html.Div([html.H3(title, id="warn-title"), *buttons], className="case-head",
                    style={"borderBottomColor": color})


def _message(text: str | None, ok: bool, lang: str) -> html.Div:
    if not text:
        return html.Div(id=ids.WARN_MSG, hidden=True)
    prefix = t("moved" if ok else "refused", lang)
    return html.Div(prefix + text, id=ids.WARN_MSG, className="case-msg ok" if ok else "case-msg bad")


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
    if c.kind in KIND_LABELS:
        return KIND_LABELS[c.kind][lang]
    return label(RESOURCE_KINDS, c.kind, lang)


def _contact_list(items: list[Contact], gridset: GridSet, role: str, lang: str, list_id: str,
                  dispatch: bool) -> html.Ul:
    if not items:
        return html.Ul([html.Li(t("none", lang), className="hint")], id=list_id)
    rows = []
    for c in items:
        grid = gridset.props(c.grid_id)["name"] if c.grid_id and c.grid_id in gridset else ""
        person = c.person if c.kind not in KIND_LABELS else c.name
        name = c.name if c.kind not in KIND_LABELS else shown_name(c.name, role)
        parts = [html.Span(_distance(c.distance_m), className="warn-dist"),
                 html.B(name), html.Span(f" · {_kind(c, lang)}", className="hint"),
                 html.Span(f" · {grid}", className="hint") if grid else None,
                 html.Span(f" {c.direction}", className="hint") if c.direction else None,
                 html.Span(f" · {shown_name(person, role)}") if person and c.kind not in KIND_LABELS else None,
                 " ", _phone(c.phone, role)]
        if dispatch and c.handler_id:
            parts.append(html.Button(t("warn_dispatch", lang), id=dispatch_id(c.handler_id),
                                     className="case-move warn-dispatch"))
        rows.append(html.Li(parts, className=f"warn-item kind-{c.kind}", **{"data-kind": c.kind}))
    return html.Ul(rows, id=list_id, className="warn-list")


def _facts(file: WarningFile, gridset: GridSet, lang: str) -> html.Table:
    w = file.row
    level = WARNING_LEVELS.get(w.level, {})
    names = [gridset.props(g)["name"] for g in file.affected if g in gridset]
    facts = [
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
    return html.Table([html.Tr([html.Th(t(k, lang)), html.Td(v)]) for k, v in facts], className="facts")


def _cases(file: WarningFile, lang: str) -> html.Ul:
    if file.cases.empty:
        return html.Ul([html.Li(t("none", lang), className="hint")], id="warn-cases")
    items = [html.Li(html.Button(
        f"{_distance(r.distance_m)} · #{r.id} {label(CASE_TYPES, r.type, lang)} · {r.title}"
        + (f" · {t('overdue', lang)}" if r.overdue else ""), id=open_id(r.id), className="case-link"))
        for r in file.cases.itertuples(index=False)]
    return html.Ul(items, id="warn-cases", className="warn-list")


def _tasks(file: WarningFile, role: str, lang: str) -> html.Ul:
    if not file.tasks:
        return html.Ul([html.Li(t("none", lang), className="hint")], id="warn-tasks")
    items = [html.Li(html.Button(f"#{c.id} {label(CASE_STATUSES, c.status, lang)} · {shown_name(c.handler, role)}",
                                 id=open_id(c.id), className="case-link")) for c in file.tasks]
    return html.Ul(items, id="warn-tasks", className="warn-list")


def _log(file: WarningFile, role: str, lang: str) -> html.Ol:
    items = []
    for e in file.events:
        move = WARNING_MOVES.get(e.action)
        what = (move[2] if lang == "zh" else e.action) if move else (t("warn_dispatch", lang)
                                                                     if e.action == "dispatch" else e.action)
        states = (f"{label(WARNING_STATUSES, e.from_status, lang)} → {label(WARNING_STATUSES, e.to_status, lang)}"
                  if e.from_status and e.to_status else "")
        note = (e.note or "") if sees_personal(role) else ""
        items.append(html.Li([html.Span(local(e.at), className="when"), html.B(what, className="what"),
                              html.Span(states, className="states"),
                              html.Span(shown_name(e.actor, role), className="who"),
                              html.Div(note, className="note") if note else None],
                             className=f"step step-{e.action}"))
    return html.Ol(items, className="timeline", id="warn-log")


def actions(file: WarningFile, lang: str, text: str = "") -> html.Div:
    """The warning's moves the viewer may make now, with one note box (also the note of a dispatched task)."""
    if not file.moves and not file.may_dispatch:
        return html.Div(t("warn_no_moves", lang), className="hint", id="warn-no-moves")
    buttons = [html.Button(WARNING_MOVES[m][2] if lang == "zh" else m, id=move_id(m),
                           className=f"case-move warn-move-{m}") for m in file.moves]
    return html.Div([html.Label(t("warn_note", lang), className="field-label"),
                     dcc.Textarea(id=field_id("text"), value=text, className="case-text", rows=2),
                     html.Div(buttons, className="case-buttons")], className="case-actions")


def card(file: WarningFile, gridset: GridSet, viewer: Actor, lang: str, message: str | None = None,
         ok: bool = False, text: str = "") -> list:
    """The card of one warning for ``viewer``."""
    w = file.row
    role = viewer.role
    color = WARNING_LEVELS.get(w.level, {}).get("color", "#b71c1c")
    return [
        _head(f"#{w.id} {w.title}", lang, reload=True, color=color),
        _message(message, ok, lang),
        _facts(file, gridset, lang),
        html.P(w.description, className="case-description") if w.description and w.description != w.title else None,
        html.H4(t("actions", lang)),
        actions(file, lang, text),
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
        html.Div(f"v{w.version}", className="hint case-version", id="warn-version"),
    ]


def refusal(message: str, lang: str) -> list:
    """The card when the warning may not be shown (another village's) or does not exist."""
    return [_head(t("warn_card", lang), lang), _message(message, False, lang)]
