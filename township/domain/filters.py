"""The dashboard's filter state, and its mirror in the URL.

One :class:`FilterState` drives the map, the figures, the charts and the
table. ``/?village=DL-03&level=3&domain=safety`` reproduces a view; a query
value the app does not know is dropped with a notice, never an error.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import parse_qs, urlencode

from pydantic import BaseModel, ConfigDict

from township.domain.vocab import CASE_STATUSES, CASE_TYPES, DOMAINS, WARNING_LEVELS

#: Time windows offered, in days (None: everything stored).
WINDOWS: dict[str, int | None] = {"7d": 7, "30d": 30, "90d": 90, "365d": 365, "all": None}
#: Measures the grids can be coloured by.
MEASURES: tuple[str, ...] = ("open", "overdue", "density")
#: Point layers that can be switched on and off.
LAYERS: tuple[str, ...] = ("cases", "warnings", "resources")


class FilterState(BaseModel):
    """What the operator is looking at.

    Attributes
    ----------
    village : list[str]
        Level-2 grid ids; empty means the whole town.
    level : int
        Grid level drawn on the map (1 town, 2 villages, 3 grids).
    domain, status, type : list[str]
        Case domains, statuses and types; empty means all.
    wlevel : list[int]
        Warning levels (1 red … 4 blue); empty means all.
    window : str
        Time window of cases, a key of :data:`WINDOWS`.
    grid : str | None
        The level-3 grid whose panel is open.
    measure : str
        What colours the grids, one of :data:`MEASURES`.
    layers : list[str]
        Point layers shown, from :data:`LAYERS`.
    lang : str
        Screen language, ``zh`` or ``en``.
    """

    model_config = ConfigDict(frozen=True)

    village: list[str] = []
    level: int = 2
    domain: list[str] = []
    status: list[str] = []
    type: list[str] = []
    wlevel: list[int] = []
    window: str = "90d"
    grid: str | None = None
    measure: str = "open"
    layers: list[str] = list(LAYERS)
    lang: str = "zh"

    def to_query(self) -> str:
        """The URL query string of this state, leaving out defaults (``""`` for none)."""
        default = FilterState()
        pairs: list[tuple[str, str]] = []
        for name, value in self:
            if value == getattr(default, name):
                continue
            if isinstance(value, list):
                pairs.append((name, ",".join(str(v) for v in value) if value else "none"))
            else:
                pairs.append((name, str(value)))
        return "?" + urlencode(pairs, safe=",") if pairs else ""


def _split(raw: list[str]) -> list[str]:
    return [v for part in raw for v in part.split(",") if v]


def from_query(search: str | None, villages: set[str], grids: set[str]) -> tuple[FilterState, list[str]]:
    """Parse a URL query string into a state, dropping what is unknown.

    Parameters
    ----------
    search : str or None
        The query string, with or without the leading ``?``.
    villages, grids : set[str]
        The level-2 and level-3 grid ids that exist.

    Returns
    -------
    (FilterState, list[str])
        The state, and one notice per value that was ignored
        (``"village=DL-99"`` and the like) for the page to show.
    """
    query = parse_qs((search or "").lstrip("?"), keep_blank_values=True)
    notices: list[str] = []
    values: dict = {}

    def keep(name: str, allowed: Collection[Any], cast: Callable[[str], Any] = str) -> list[Any]:
        out: list[Any] = []
        for v in _split(query.get(name, [])):
            if v == "none" and name == "layers":
                continue
            try:
                cv = cast(v)
            except ValueError:
                cv = None
            if cv in allowed:
                out.append(cv)
            else:
                notices.append(f"{name}={v}")
        return out

    # (query name, the values allowed, how a value is read), for the fields holding lists and single values
    list_fields: tuple[tuple[str, Collection[Any], Callable[[str], Any]], ...] = (
        ("village", villages, str),
        ("domain", DOMAINS, str),
        ("status", CASE_STATUSES, str),
        ("type", CASE_TYPES, str),
        ("wlevel", WARNING_LEVELS, int),
        ("layers", LAYERS, str),
    )
    single_fields: tuple[tuple[str, Collection[Any], Callable[[str], Any]], ...] = (
        ("level", {1, 2, 3}, int),
        ("window", WINDOWS, str),
        ("measure", MEASURES, str),
        ("lang", {"zh", "en"}, str),
        ("grid", grids, str),
    )
    for name, allowed, cast in list_fields:
        if name in query:
            values[name] = keep(name, allowed, cast)
    for name, allowed, cast in single_fields:
        if name in query:
            found = keep(name, allowed, cast)
            if found:
                values[name] = found[-1]
    notices += [f"{key}={','.join(v)}" for key, v in query.items() if key not in FilterState.model_fields]
    if values.get("grid") and "level" not in values:
        values["level"] = 3
    return FilterState(**values), notices


def drill(state: FilterState, grid_id: str, level: int, village: str | None) -> FilterState:
    """The state after clicking grid ``grid_id`` (of ``level``, in ``village``) on the map.

    The town opens its villages, a village opens its grids (the map zooms to
    it), a grid opens its panel.
    """
    if level == 1:
        return state.model_copy(update={"level": 2, "village": [], "grid": None})
    if level == 2:
        return state.model_copy(update={"level": 3, "village": [grid_id], "grid": None})
    return state.model_copy(update={"level": 3, "village": [village] if village else [], "grid": grid_id})


def up_to_town(state: FilterState) -> FilterState:
    """Breadcrumb 大路镇: the whole town by village, other filters kept."""
    return state.model_copy(update={"level": 2, "village": [], "grid": None})


def up_to_village(state: FilterState) -> FilterState:
    """Breadcrumb 村: close the grid panel, stay in the village."""
    return state.model_copy(update={"grid": None, "level": 3})


def reset(state: FilterState) -> FilterState:
    """Back to the town with every filter cleared; the language stays."""
    return FilterState(lang=state.lang)
