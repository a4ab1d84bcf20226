"""What the side cards beside the map share (the case card, the warning card): ids, head, message, facts, log.

Each card names its own pattern-id types in a :class:`CardIds`; the builders
here draw the parts both cards have in the same shape, so the two look and
behave alike (`ui.casecard`, `ui.warningcard`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dash import html

from layers.text import t
from township.domain.isotime import local_text as local


@dataclass(frozen=True)
class CardIds:
    """The ids of one card: pattern-id types of what is clickable or typed in it, and its fixed element ids.

    Attributes
    ----------
    move, field, control : str
        Pattern-id types of the move buttons, the inputs and the close/reload controls.
    message, title : str
        Ids of the last action's outcome and of the card's heading.
    """

    move: str
    field: str
    control: str
    message: str
    title: str

    def move_id(self, move: str) -> dict:
        """The pattern id of the button of ``move``."""
        return {"type": self.move, "move": move}

    def field_id(self, name: str) -> dict:
        """The pattern id of the card's input ``name`` (``text``, ``handler``)."""
        return {"type": self.field, "name": name}

    def control_id(self, name: str) -> dict:
        """The pattern id of a card control (``close``, ``reload``)."""
        return {"type": self.control, "name": name}


def head(card: CardIds, title: str, lang: str, *, reload: bool = False,
         style: dict[str, str] | None = None) -> html.Div:
    """The card's heading with its close button (and reload, when a record is shown)."""
    buttons = [html.Button("×", id=card.control_id("close"), className="case-close", title=t("close_card", lang))]
    if reload:
        buttons.insert(0, html.Button(t("reload", lang), id=card.control_id("reload"), className="case-reload"))
    extra = {"style": style} if style else {}
    return html.Div([html.H3(title, id=card.title), *buttons], className="case-head", **extra)


def message(card: CardIds, text: str | None, ok: bool, lang: str) -> html.Div:
    """The outcome of the last action (done or refused); hidden when there is none."""
    if not text:
        return html.Div(id=card.message, hidden=True)
    prefix = t("moved" if ok else "refused", lang)
    return html.Div(prefix + text, id=card.message, className="case-msg ok" if ok else "case-msg bad")


def refusal(card: CardIds, heading: str, text: str, lang: str, style: dict[str, str] | None = None) -> list:
    """The whole card when the record may not be shown (another village's) or does not exist."""
    return [head(card, heading, lang, style=style), message(card, text, False, lang)]


def facts(rows: Sequence[tuple[str, Any]], lang: str) -> html.Table:
    """A two-column table: the text of each key, then its value."""
    return html.Table([html.Tr([html.Th(t(k, lang)), html.Td(v)]) for k, v in rows], className="facts")


def description(text: str | None, title: str) -> html.P | None:
    """The record's description, unless it only repeats the title."""
    return html.P(text, className="case-description") if text and text != title else None


def version_tag(version: int, tag_id: str) -> html.Div:
    """The record's version, as the card shows it (the version a move is checked against)."""
    return html.Div(f"v{version}", className="hint case-version", id=tag_id)


def log_step(at: datetime, action: str, what: str, states: str, who: str, note: str) -> html.Li:
    """One entry of a card's audit trail: when, what, from → to, who, and the note if any."""
    return html.Li([
        html.Span(local(at), className="when"),
        html.B(what, className="what"),
        html.Span(states, className="states"),
        html.Span(who, className="who"),
        html.Div(note, className="note") if note else None,
    ], className=f"step step-{action}")


def none_list(list_id: str, lang: str) -> html.Ul:
    """An empty list, saying so."""
    return html.Ul([html.Li(t("none", lang), className="hint")], id=list_id)
