"""The dashboard's filter state, and its mirror in the URL.

One :class:`FilterState` drives the map, the figures, the charts and the
table. ``/?village=DL-03&level=3&domain=safety`` reproduces a view; a query
value the app does not know is dropped with a notice, never an error.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_serializer, field_validator

from township.domain.isotime import LOCAL_TZ, as_utc, parse_iso
from township.domain.vocab import CASE_STATUSES, CASE_TYPES, DOMAINS, WARNING_LEVELS

#: Time windows offered, in days (None: everything stored).
WINDOWS: dict[str, int | None] = {"7d": 7, "30d": 30, "90d": 90, "365d": 365, "all": None}
#: Measures the grids can be coloured by.
MEASURES: tuple[str, ...] = ("open", "overdue", "density")
#: Point layers that can be switched on and off.
LAYERS: tuple[str, ...] = ("cases", "warnings", "resources")
#: What a replayed moment shows: every case reported up to t, or those of the last ``hours`` before t.
PLAY_MODES: tuple[str, ...] = ("cumulative", "moving")
#: The moving window's lengths allowed, in hours (a week at most).
PLAY_HOURS = range(1, 24 * 7 + 1)
#: The URL parameters of a replayed moment (a link to what is not of a moment leaves them out).
REPLAY_PARAMS: tuple[str, ...] = ("t", "mode", "hours")
#: The values a state's fields may hold (the screen's choices), by field: what the store's state is checked against.
ALLOWED: dict[str, Collection[Any]] = {
    "level": (1, 2, 3), "window": WINDOWS, "measure": MEASURES, "lang": ("zh", "en"), "mode": PLAY_MODES,
    "hours": PLAY_HOURS, "layers": LAYERS, "wlevel": WARNING_LEVELS, "domain": DOMAINS, "status": CASE_STATUSES,
    "type": CASE_TYPES,
}
#: How far past the server's clock a ``t`` may be (clocks differ a little) before it is refused.
FUTURE_SLACK = timedelta(minutes=1)


def moment_text(value: datetime) -> str:
    """A stored (naive UTC) moment as the URL writes it: Beijing time, to the minute when it is whole.

    ``2026-12-05T22:00+08:00``; with its seconds when it has some.
    """
    local = value.replace(tzinfo=UTC).astimezone(LOCAL_TZ).replace(microsecond=0)
    return local.isoformat(timespec="minutes" if local.second == 0 else "seconds")


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
    t : datetime | None
        The moment replayed (naive UTC, as the store keeps times); None is live.
    mode : str
        What a replayed moment shows, one of :data:`PLAY_MODES`.
    hours : int
        The moving window's length in hours (mode ``moving``).
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
    t: datetime | None = None
    mode: str = "cumulative"
    hours: int = 24

    @field_validator("t")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # The browser's store sends the moment back as the URL writes it (+08:00): kept as the store keeps times.
        if value is None:
            return None
        try:
            moment = as_utc(value)
            moment_text(moment)  # a moment the URL cannot write (off the calendar in Beijing time) is none
        except OverflowError:
            raise ValueError("t: not a moment in the years 1 to 9999") from None
        return moment

    @field_validator("level", "window", "measure", "lang", "mode", "hours", "layers", "wlevel", "domain",
                     "status", "type")
    @classmethod
    def _known(cls, value: Any, info: ValidationInfo) -> Any:
        # A state comes back from the browser's store, which anyone can forge: only values the app offers
        # (the URL's values are checked the same way, with a notice, by from_query).
        allowed = ALLOWED[info.field_name or ""]
        if any(v not in allowed for v in (value if isinstance(value, list) else [value])):
            raise ValueError(f"{info.field_name}: not one of the values offered")
        return value

    @field_serializer("t")
    def _moment(self, value: datetime | None) -> str | None:
        return None if value is None else moment_text(value)

    @classmethod
    def read(cls, data: object) -> FilterState | None:
        """The state a browser's store sent back, or None when it is no state the app could have written
        (not a mapping, a value of the wrong type or not offered, a moment off the calendar)."""
        if not isinstance(data, dict):
            return None
        try:
            return cls.model_validate(data)
        except ValidationError:
            return None

    @property
    def window_hours(self) -> int | None:
        """The moving window of a replayed moment in hours (mode ``moving``); None: cumulative."""
        return self.hours if self.mode == "moving" else None

    def to_query(self) -> str:
        """The URL query string of this state, leaving out defaults (``""`` for none)."""
        default = FilterState().model_dump()
        pairs: list[tuple[str, str]] = []
        for name, value in self.model_dump().items():
            if value == default[name]:
                continue
            if isinstance(value, list):
                pairs.append((name, ",".join(str(v) for v in value) if value else "none"))
            else:
                pairs.append((name, str(value)))
        # the moment keeps its colons readable; its "+" must be escaped (a bare one reads as a space)
        return "?" + urlencode(pairs, safe=",:") if pairs else ""


def _split(raw: list[str]) -> list[str]:
    return [v for part in raw for v in part.split(",") if v]


def parse_moment(raw: str, now: datetime) -> datetime | None:
    """The moment ``t`` of a URL (naive UTC), or None when it is not an ISO 8601 time (or not one in the years
    1 to 9999 in UTC) or lies in the future.

    A "+" typed into an address arrives as a space (``22:00 08:00``): it is read as the "+" it was.
    Past ``now`` by more than `FUTURE_SLACK` is refused: nothing can be replayed that has not happened.
    """
    text = raw.strip().replace(" ", "+")
    if not text:
        return None
    try:
        value = parse_iso(text)
    except (ValueError, OverflowError):  # overflow: a zone that moves it off the calendar (year 1 at +08:00)
        return None
    return None if value > now + FUTURE_SLACK else value


def from_query(search: str | None, villages: set[str], grids: set[str],
               now: datetime | None = None) -> tuple[FilterState, list[str]]:
    """Parse a URL query string into a state, dropping what is unknown.

    Parameters
    ----------
    search : str or None
        The query string, with or without the leading ``?``.
    villages, grids : set[str]
        The level-2 and level-3 grid ids that exist.
    now : datetime, optional
        The server's clock (naive UTC; default: the machine's): a ``t`` after it is dropped.

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
        *((name, ALLOWED[name], cast) for name, cast in (("domain", str), ("status", str), ("type", str),
                                                          ("wlevel", int), ("layers", str))),
    )
    single_fields: tuple[tuple[str, Collection[Any], Callable[[str], Any]], ...] = (
        *((name, ALLOWED[name], cast) for name, cast in (("level", int), ("window", str), ("measure", str),
                                                          ("lang", str), ("mode", str), ("hours", int))),
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
    if "t" in query:
        # the moment replayed: not an ISO time, or in the future, it is dropped with a notice and the view is live
        raw = query["t"][-1]
        moment = parse_moment(raw, now or datetime.now(UTC).replace(tzinfo=None))
        if moment is None:
            notices.append("t=" + raw.strip().replace(" ", "+"))  # as it was typed (a "+" arrives as a space)
        else:
            values["t"] = moment
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
    """Back to the town with every filter cleared; the language and a replayed moment stay (the time
    control's 返回实时 ends a replay)."""
    return FilterState(lang=state.lang, t=state.t, mode=state.mode, hours=state.hours)
