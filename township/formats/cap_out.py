"""CAP 1.2 out: each warning as one CAP document, and an Atom feed linking them. Pure: no I/O.

A warning goes out as one ``<alert>`` per document (CAP has no element that
holds several), and which message it is follows its life:

- never changed since it was stored: msgType **Alert**, identifier
  ``{sender}.warning.{id}``, ``sent`` when it was stored;
- its content changed (``Warning.revised_at``): an **Update** under
  ``….update.{time}``, ``references`` naming the original Alert;
- ``cleared``: a **Cancel** under ``….cancel.{time}`` naming the original and
  its last Update, with ``responseType`` AllClear — never a live Alert.

The identifier and ``sent`` of a message depend only on stored times, so a
message fetched twice is the same message. The certainty is the source's
(``Unknown`` when none was said) and the areas the CAP polygons and circles it
came with; a warning from elsewhere goes out as its circle.

The feed is Atom (RFC 4287), as alert hubs publish CAP: one entry per
warning, linking its CAP document (``type="application/cap+xml"``).
`in_feed` keeps a cleared warning in the feed for `CANCEL_KEPT`, so a
reader polling the feed sees its Cancel.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from township.domain.isotime import iso
from township.domain.vocab import LIVE_WARNING_STATUSES, WARNING_LEVELS, WARNING_TYPES
from township.formats.cap import CAP_NS, LEVEL_SEVERITY, LEVEL_URGENCY, TYPE_CATEGORY
from township.store.models import Warning

ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MIMETYPE = "application/cap+xml"
#: How long a cleared warning stays in the feed, so that its Cancel is seen.
CANCEL_KEPT = timedelta(hours=24)
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class CapEnvelope:
    """What message a warning goes out as: identifier, sent, msgType and the messages it references."""

    identifier: str
    sent: datetime
    msg_type: str
    references: tuple[str, ...]


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S")


def envelope(w: Warning, sender: str) -> CapEnvelope:
    """The CAP message ``w`` goes out as now (see the module notes)."""
    original = f"{sender}.warning.{w.id}"
    created = w.created_at or w.issued_at
    refs = [f"{sender},{original},{iso(created)}"]
    update = f"{original}.update.{_stamp(w.revised_at)}" if w.revised_at else None
    if w.status not in LIVE_WARNING_STATUSES:
        if update and w.revised_at:
            refs.append(f"{sender},{update},{iso(w.revised_at)}")
        return CapEnvelope(f"{original}.cancel.{_stamp(w.updated_at)}", w.updated_at, "Cancel", tuple(refs))
    if update and w.revised_at:
        return CapEnvelope(update, w.revised_at, "Update", tuple(refs))
    return CapEnvelope(original, created, "Alert", ())


def in_feed(w: Warning, now: datetime) -> bool:
    """Whether the feed lists ``w``: live, or cleared within `CANCEL_KEPT`."""
    return w.status in LIVE_WARNING_STATUSES or w.updated_at >= now - CANCEL_KEPT


def _sub(parent: ET.Element, tag: str, text: object | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = str(text)
    return el


def _areas(area: ET.Element, w: Warning) -> None:
    """The polygons and circles ``w`` came with (CAP order: polygons first), else its own circle."""
    kept: dict[str, list] = (json.loads(w.areas) if w.areas
                             else {"polygons": [], "circles": [[w.lat, w.lon, w.radius_m / 1000]]})
    for ring in kept["polygons"]:
        _sub(area, "polygon", " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in ring))
    for lat, lon, km in kept["circles"]:
        _sub(area, "circle", f"{lat:.6f},{lon:.6f} {km:.3f}")


def alert_element(w: Warning, sender: str, area_desc: str) -> ET.Element:
    """One warning as a CAP 1.2 ``<alert>``: an Alert, Update or Cancel (`envelope`), status Actual."""
    env = envelope(w, sender)
    alert = ET.Element("alert", xmlns=CAP_NS)
    _sub(alert, "identifier", env.identifier)
    _sub(alert, "sender", sender)
    _sub(alert, "sent", iso(env.sent))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", env.msg_type)
    _sub(alert, "scope", "Public")
    if env.references:
        _sub(alert, "references", " ".join(env.references))
    info = _sub(alert, "info")
    _sub(info, "language", "zh-CN")
    _sub(info, "category", TYPE_CATEGORY.get(w.type, "Other"))
    _sub(info, "event", WARNING_TYPES.get(w.type, {}).get("zh", w.type))
    if env.msg_type == "Cancel":
        _sub(info, "responseType", "AllClear")
    _sub(info, "urgency", "Past" if env.msg_type == "Cancel" else LEVEL_URGENCY[w.level])
    _sub(info, "severity", LEVEL_SEVERITY[w.level])
    _sub(info, "certainty", w.certainty or "Unknown")
    code = _sub(info, "eventCode")
    _sub(code, "valueName", "warning_type")
    _sub(code, "value", w.type)
    _sub(info, "effective", iso(w.issued_at))
    if w.expires_at is not None:
        _sub(info, "expires", iso(w.expires_at))
    _sub(info, "senderName", "大路镇智慧乡镇平台")
    _sub(info, "headline", w.title)
    _sub(info, "description", w.description or w.title)
    level = _sub(info, "parameter")
    _sub(level, "valueName", "level_color")
    _sub(level, "value", WARNING_LEVELS[w.level]["zh"])
    area = _sub(info, "area")
    _sub(area, "areaDesc", area_desc)
    _areas(area, w)
    return alert


def alert_xml(alert: ET.Element) -> bytes:
    """One CAP alert as a document: UTF-8, with the XML declaration."""
    return _DECLARATION + ET.tostring(alert, encoding="utf-8", xml_declaration=False)


#: What each message does, in the feed entry's title.
MSG_WORDS = {"Alert": "发布", "Update": "更新", "Cancel": "解除"}


def feed_xml(warnings: list[Warning], sender: str, self_url: str, document_url: Callable[[int], str],
             now: datetime) -> bytes:
    """An Atom feed with one entry per warning, each linking its CAP document.

    Parameters
    ----------
    warnings : list of Warning
        The warnings to list (`in_feed` chooses them).
    sender : str
        The CAP sender of the documents (their identifiers are the entries' ids).
    self_url : str
        The feed's own address (its ``id`` and ``rel="self"`` link).
    document_url : callable
        The address of a warning's CAP document, from its id.
    now : datetime
        The feed's ``updated`` when it has no entry.
    """
    envelopes = [envelope(w, sender) for w in warnings]
    feed = ET.Element("feed", xmlns=ATOM_NS)
    _sub(feed, "id", self_url)
    _sub(feed, "title", "大路镇预警信息 (CAP 1.2)")
    _sub(feed, "updated", iso(max((e.sent for e in envelopes), default=now)))
    _sub(_sub(feed, "author"), "name", "大路镇智慧乡镇平台")
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    for w, env in zip(warnings, envelopes, strict=True):
        url = document_url(w.id)
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"{url}#{env.identifier}")
        _sub(entry, "title", f"{MSG_WORDS[env.msg_type]}:{w.title}")
        _sub(entry, "updated", iso(env.sent))
        _sub(entry, "summary", w.description or w.title)
        _sub(entry, "link", rel="alternate", type=CAP_MIMETYPE, href=url)
    return _DECLARATION + ET.tostring(feed, encoding="utf-8", xml_declaration=False)
