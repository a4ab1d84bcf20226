"""What a callback reads from the browser, checked in one place.

Stores and component properties come back from the browser, and anyone can
POST to ``/_dash-update-component`` whatever they like. A value of a shape the
page never writes is read as nothing asked: the callback sends nothing
(``PreventUpdate``) or falls back to what a page without it shows, and never
raises (a 500).
"""
from __future__ import annotations

import base64

from dash.exceptions import PreventUpdate

from township.domain.filters import FilterState

#: The largest record id a store may name (the store's integer keys are 64-bit).
MAX_ID = 2**63 - 1


def state_of(data: object) -> FilterState:
    """The filter state of the state store (`FilterState.read`); a forged one asks for nothing (PreventUpdate)."""
    state = FilterState.read(data)
    if state is None:
        raise PreventUpdate
    return state


def lang_of(data: object) -> str:
    """The screen language of the state store, ``zh`` when it is none the app could have written."""
    state = FilterState.read(data)
    return state.lang if state is not None else "zh"


def mapping(data: object) -> dict:
    """A store that holds a mapping: anything else is an empty one."""
    return data if isinstance(data, dict) else {}


def text_of(value: object) -> str | None:
    """A text property (a typed value, a file name, a choice): anything that is not text is None."""
    return value if isinstance(value, str) else None


def record_id(value: object) -> int | None:
    """A record's id as a store or a control holds it (a whole number, also as a float or its digits), None for
    anything else (digits past 19 are past any id, and past what ``int`` reads by default)."""
    if isinstance(value, bool):
        return None
    whole_text = isinstance(value, str) and value.isdecimal() and len(value) <= 19
    if whole_text or (isinstance(value, float) and value.is_integer()):
        value = int(value)
    return value if isinstance(value, int) and 0 < value <= MAX_ID else None


def number(value: object, default: float, low: float, high: float) -> float:
    """A number in ``[low, high]`` (a scale, a slider's position); anything else is ``default``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        return default
    return float(value)


def opened_record(data: object) -> dict | None:
    """A card's store of the record it shows (``{"id", "version"}``, both whole numbers), or None."""
    found = mapping(data)
    record, version = record_id(found.get("id")), found.get("version")
    if record is None or isinstance(version, bool) or not isinstance(version, int):
        return None
    return {**found, "id": record}


def clicked_point(click: object) -> dict:
    """The first point of a map's ``clickData``; an empty one when there is none or it is no point."""
    points = mapping(click).get("points")
    return points[0] if isinstance(points, list) and points and isinstance(points[0], dict) else {}


def clicked_record(click: object, curve: int) -> int | None:
    """The record id (customdata's first value) of the point clicked on trace ``curve``, or None."""
    point = clicked_point(click)
    data = point.get("customdata")
    if point.get("curveNumber") != curve or not isinstance(data, list) or not data:
        return None
    return record_id(data[0])


def row_record(cell: object) -> int | None:
    """The record id of a clicked table row (``cellClicked``'s ``rowId``), or None."""
    return record_id(mapping(cell).get("rowId"))


def upload(contents: object) -> bytes | None:
    """The bytes of an upload component's ``contents`` (a base64 data URL), None when it is no such thing."""
    if not isinstance(contents, str) or "," not in contents:
        return None
    try:
        return base64.b64decode(contents.split(",", 1)[1], validate=True)
    except ValueError:  # binascii.Error: not base64
        return None


def record_ids(data: object) -> list[int]:
    """A store of record ids (the red warnings a page knows): its ids, none when it is no list."""
    return [i for i in map(record_id, data) if i is not None] if isinstance(data, list) else []
