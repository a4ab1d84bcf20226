"""What the side cards' controllers share (`callbacks.casecard`, `callbacks.warningcard`).

One callback owns each card, so an open, a move and a close can never race
each other. It reads the trigger and the card's inputs, lets the card's own
``act`` open a record or make a move, and handles close and reload itself. A
move checks the version the card shows: refused, the card shows the reason and
still stands for that version (stale: it is reloaded, so the operator sees
what changed before trying again); done, the new data version goes into the
page's version store, so the map, the figures and the table refresh.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from dash import ALL, Dash, Input, Output, State, no_update
from dash import ctx as dash_ctx
from dash.exceptions import PreventUpdate

from auth import current_viewer
from callbacks.checked import lang_of, opened_record
from layers.text import t
from township.loop.workflow import Actor, MoveRefused
from township.runtime.bootstrap import AppContext
from township.store.models import data_version
from ui import ids
from ui.card import CardIds


@dataclass(frozen=True)
class CardOut:
    """The card after one action.

    Attributes
    ----------
    opened : dict or None
        ``{"id", "version"}`` of the record shown (what the next move is checked against).
    children : list
        The card's content.
    hidden : bool
        Whether the card is closed.
    moved : bool
        A move was made: the page must refresh its views.
    """

    opened: dict | None
    children: list
    hidden: bool
    moved: bool = False


#: The closed card.
CLOSED = CardOut(None, [], True)

#: Reopens the open record with an outcome message (keeping what was typed).
Reopen = Callable[[str | None], CardOut]
#: ``(viewer, trigger, inputs, fields, opened, lang)`` → the card after it, or None when the trigger is not the
#: card's business. ``inputs`` are the values of the card's own inputs, ``fields`` its typed values by name.
Act = Callable[[Actor, object, list, dict, dict | None, str], CardOut | None]
#: ``(viewer, id, lang)`` → the card of that record.
Open = Callable[[Actor, int, str], CardOut]


def done(out: CardOut) -> CardOut:
    """The card reopened after a move that was made."""
    return replace(out, moved=True)


def refused(opened: dict, exc: MoveRefused, reopen: Reopen, lang: str) -> CardOut:
    """The card after a refused move: the reason shown, nothing changed.

    A stale version reloads the card (it then stands for the version now
    stored); any other refusal leaves it standing for the version it was
    opened with.
    """
    if exc.code == "stale":
        return reopen(f"{exc.reason}({t('reloaded', lang)})")
    out = reopen(exc.reason)
    return CardOut(opened if out.opened else None, out.children, out.hidden)


def register_card(app: Dash, app_ctx: AppContext, *, card: CardIds, opened_store: str, card_box: str,
                  inputs: list[Input], act: Act, open_record: Open) -> None:
    """Register the one callback that owns a card.

    Parameters
    ----------
    card : CardIds
        The card's pattern-id types (its fields and controls are listened to here).
    opened_store, card_box : str
        Ids of the store of the open record and of the card's container.
    inputs : list of Input
        What opens a record or makes a move, in the order ``act`` receives their values.
    act : callable
        Opens a record or makes a move for a trigger among ``inputs``.
    open_record : callable
        Opens a record by id (the reload control).
    """

    @app.callback(
        Output(opened_store, "data"),
        Output(card_box, "children"),
        Output(card_box, "hidden"),
        Output(ids.VERSION, "data", allow_duplicate=True),
        *inputs,
        Input({"type": card.control, "name": ALL}, "n_clicks"),
        State({"type": card.field, "name": ALL}, "value"),
        State(opened_store, "data"),
        State(ids.STATE, "data"),
        prevent_initial_call=True,
    )
    def on_card(*args):
        trigger = dash_ctx.triggered_id
        if isinstance(trigger, dict) and not dash_ctx.triggered[0].get("value"):
            raise PreventUpdate  # a button just drawn (n_clicks None), not a click
        opened, state = opened_record(args[-2]), args[-1]
        lang = lang_of(state)
        viewer = current_viewer(app_ctx)
        fields = {s["id"]["name"]: s.get("value") for s in dash_ctx.states_list[0]}
        control = trigger.get("name") if isinstance(trigger, dict) and trigger.get("type") == card.control else None
        if control == "close":
            out: CardOut | None = CLOSED
        elif control == "reload":
            out = open_record(viewer, int(opened["id"]), lang) if opened else None
        else:
            out = act(viewer, trigger, list(args[: len(inputs)]), fields, opened, lang)
        if out is None:
            raise PreventUpdate
        version = data_version(app_ctx.township.engine) if out.moved else no_update
        return out.opened, out.children, out.hidden, version
