"""ISO 8601 times at the edges: the store keeps naive UTC, the formats want a time zone.

Open311 and CAP both require a zone on every time. Times go out in China
Standard Time (``+08:00``), which is what the township's people read; times
coming in may carry any zone (``Z`` too), and a time without one is taken as
UTC, as everywhere in the write path (`township.formats.ingest`).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

#: The zone times are shown in: China Standard Time, no daylight saving.
LOCAL_TZ = timezone(timedelta(hours=8))


def iso(value: datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 in ``+08:00``, to the second; ``None`` stays ``None``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ).replace(microsecond=0).isoformat()


def as_utc(value: datetime) -> datetime:
    """``value`` as naive UTC, as the store keeps times: a zone is converted, no zone means UTC already."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 date or time into naive UTC, as the store keeps it.

    Parameters
    ----------
    text : str
        ``2024-04-09``, ``2024-04-09T10:00:00+08:00``, ``...Z`` and the like;
        no zone means UTC.

    Raises
    ------
    ValueError
        With the text quoted, when it is not an ISO 8601 date or time.
    """
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2024-04-09T10:00:00+08:00)") from None
    return as_utc(value)


def local_text(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (naive UTC) time as people read it, in Beijing time: ``2024-04-09 18:30``; ``—`` for none."""
    if value is None or value != value:  # None, or NaT (which is not equal to itself)
        return "—"
    return value.replace(tzinfo=UTC).astimezone(LOCAL_TZ).strftime(fmt)
