"""CAP 1.2 (OASIS Common Alerting Protocol) ↔ our early warnings. Pure: no I/O.

In: `parse_cap` reads one ``<alert>`` safely (defusedxml: no DTD, no
entities, so no entity-expansion or external-entity attack) into a
`CapMessage` carrying a `township.formats.ingest.WarningIn`; the store side of
Update and Cancel is `township.formats.cap_store.apply_cap`.

Out: `township.formats.cap_out` writes each warning as one CAP document
and an Atom feed of them; the vocabulary both directions share is here.

Mapping
-------
- ``sender`` → ``source`` and ``identifier`` → ``external_id``, so the key
  that makes writes idempotent is CAP's own (sender, identifier).
- ``severity`` Extreme/Severe/Moderate/Minor → level 1 红 / 2 橙 / 3 黄 / 4 蓝;
  ``Unknown`` → level 4 with a note in the answer (shown, never dropped).
- The warning type comes, first match wins, from an ``eventCode`` whose value
  is one of our type codes, then from the ``event`` text (Chinese or English
  words, `EVENT_WORDS`), then from the ``category`` where it is unambiguous
  (`CATEGORY_TYPES`); otherwise the alert is refused naming the allowed types.
- ``info`` blocks are languages of one alert: the first ``zh*`` block gives
  title, text, severity and area, else the first ``en*`` one (or one with no
  ``language``: CAP's default is en-US), else the first block. Every ``circle``
  (``lat,lon radius_km``) and ``polygon`` (``lat,lon`` pairs, closed) of
  its areas is merged into one point and radius: the centroid of their union
  and the distance from it to the farthest point of any of them, computed in
  EPSG:4546. ``geocode``-only areas are refused (nothing to place them with).
- ``effective`` (else ``sent``) → ``issued_at``; ``expires`` → ``expires_at``;
  ``onset`` has no column and is only checked for form.
- Only ``status`` Actual is stored: Exercise/System/Test/Draft must not light
  up the wall. ``msgType`` Ack and Error are refused.
- ``headline`` is cut to 200 characters and ``description`` (plus
  ``instruction``) to 5000, the store's limits.
"""
from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import defusedxml
import defusedxml.ElementTree as SafeET
import shapely
from pydantic import ValidationError

from township.domain.isotime import parse_iso
from township.domain.vocab import WARNING_TYPES
from township.formats.ingest import FieldError, IngestError, WarningIn, validation_errors
from township.grids.spatial import from_metric, to_metric

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_NS = {"cap": CAP_NS}

#: CAP severity → our level (1 is the most severe), and back.
SEVERITY_LEVEL: dict[str, int] = {"Extreme": 1, "Severe": 2, "Moderate": 3, "Minor": 4, "Unknown": 4}
LEVEL_SEVERITY: dict[int, str] = {1: "Extreme", 2: "Severe", 3: "Moderate", 4: "Minor"}
#: How urgent each level is said to be in CAP output.
LEVEL_URGENCY: dict[int, str] = {1: "Immediate", 2: "Immediate", 3: "Expected", 4: "Future"}

#: Words of an ``event`` (lower-cased; English ones must start a word) → our type; checked
#: in this order, so a flash flood is not an ice flood, "ice flood" is a flood before "ice" makes
#: it road icing, 寒潮大风 is a cold wave before 大风 makes it a gale, and 森林火险 (the danger)
#: is no 火灾 (a fire). The Chinese words are the national signals' own names (暴雨蓝色预警).
EVENT_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("flash_flood", ("山洪", "flash flood")),
    ("ice_flood", ("凌汛", "冰凌", "洪水", "洪涝", "汛", "flood", "ice jam")),
    ("chemical_leak", ("危化", "危险化学品", "化学品", "泄漏", "毒气", "chemical", "hazmat", "hazardous material",
                       "toxic", "gas leak")),
    ("subsidence", ("采空区", "塌陷", "subsidence", "sinkhole")),
    ("geological", ("地质灾害", "滑坡", "泥石流", "崩塌", "地裂缝", "landslide", "mudslide", "debris flow",
                    "rockfall", "geolog")),
    ("forest_fire", ("森林草原火险", "森林火险", "草原火险", "火险", "fire danger", "fire weather", "red flag")),
    ("fire", ("火灾", "火情", "山火", "森林火", "草原火", "fire", "wildfire", "bushfire")),
    ("typhoon", ("台风", "热带风暴", "typhoon", "tropical storm", "tropical cyclone", "hurricane")),
    ("sandstorm", ("沙尘", "扬沙", "sandstorm", "sand storm", "dust")),
    ("rainstorm", ("暴雨", "rainstorm", "heavy rain")),
    ("blizzard", ("暴雪", "雪灾", "blizzard", "snow")),
    ("cold_wave", ("寒潮", "强降温", "cold wave", "extreme cold", "cold snap", "wind chill")),
    ("hail", ("冰雹", "hail")),
    ("frost", ("霜冻", "frost")),
    ("road_icing", ("道路结冰", "结冰", "冰冻", "icy road", "road ic", "freezing", "ice")),
    ("gale", ("大风", "强风", "gale", "wind")),
    ("lightning", ("雷电", "雷暴", "lightning", "thunderstorm")),
    ("heat", ("高温", "heat", "high temperature")),
    ("drought", ("干旱", "气象干旱", "drought")),
    ("haze", ("霾", "haze", "smog")),
    ("fog", ("大雾", "浓雾", "雾", "fog")),
    ("public_security", ("治安", "社会安全", "恐怖", "security", "police", "law enforcement", "crime",
                         "civil unrest")),
]

#: CAP categories that name one of our types without looking at the event.
CATEGORY_TYPES: dict[str, str] = {
    "Fire": "fire",
    "Geo": "geological",
    "CBRNE": "chemical_leak",
    "Security": "public_security",
}
CAP_CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport",
                  "Infra", "CBRNE", "Other")
#: Our type → the CAP category it is sent with.
TYPE_CATEGORY: dict[str, str] = {
    "geological": "Geo", "subsidence": "Geo", "chemical_leak": "CBRNE", "fire": "Fire", "forest_fire": "Fire",
    "public_security": "Security", **{code: "Met" for code in ("ice_flood", "flash_flood", "typhoon", "rainstorm",
                                                               "blizzard", "cold_wave", "gale", "sandstorm", "heat",
                                                               "drought", "lightning", "hail", "frost", "fog", "haze",
                                                               "road_icing")},
}

#: Radius given to an area of no extent (a CAP circle of radius 0).
MIN_RADIUS_M = 100.0
#: Our field → the CAP element it came from, for error messages.
_CAP_FIELD: dict[str, str] = {
    "source": "alert/sender", "external_id": "alert/identifier", "type": "info/event",
    "level": "info/severity", "title": "info/headline", "description": "info/description",
    "lon": "info/area", "lat": "info/area", "lon,lat": "info/area", "radius_m": "info/area",
    "issued_at": "info/effective", "expires_at": "info/expires", "certainty": "info/certainty",
}
MSG_TYPES = ("Alert", "Update", "Cancel")
#: Characters CAP forbids in identifier and sender (they would break ``references``).
_NOT_IN_ID = re.compile(r"[\s,<&]")


class CapFormatError(ValueError):
    """The document is not a CAP 1.2 alert at all: not XML, unsafe XML, or another root."""


@dataclass(frozen=True)
class CapReference:
    """One earlier message named in ``references``."""

    sender: str
    identifier: str
    sent: str


@dataclass(frozen=True)
class CapMessage:
    """One parsed CAP alert: its envelope, and the warning it describes (Alert, Update)."""

    identifier: str
    sender: str
    sent: datetime
    msg_type: str
    references: tuple[CapReference, ...]
    warning: WarningIn | None
    notes: tuple[str, ...] = ()
    #: The circles and polygons of its areas (`CapArea.to_json`), kept with the warning.
    areas: str | None = None


def _text(el: ET.Element, path: str) -> str | None:
    found = el.find(path, _NS)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


#: The ``encoding`` of an XML declaration, read from the ASCII-compatible start of the bytes.
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([^"']*)["']""")
#: Encodings expat reads itself (single-byte or Unicode).
_EXPAT_ENCODINGS = frozenset({"utf-8", "utf8", "utf-16", "utf16", "us-ascii", "ascii", "iso-8859-1", "latin-1",
                              "latin1"})
#: Chinese encodings expat cannot read (multi-byte) → the codec that decodes them. GB18030 is a
#: superset of GBK and GB2312, and Big5-HKSCS of Big5, so a document labelled with the older
#: name that uses a character of the newer one (common in China's feeds) still decodes.
CHINESE_ENCODINGS: dict[str, str] = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030",
                                     "gb18030": "gb18030", "big5": "big5hkscs", "big5-hkscs": "big5hkscs",
                                     "cp950": "big5hkscs"}


def _decoded(data: bytes | str) -> bytes | str:
    """``data`` as expat can read it: Chinese encodings decoded to text, the rest left to expat.

    Raises
    ------
    CapFormatError
        An encoding neither expat nor `CHINESE_ENCODINGS` knows, or bytes that are not in the declared one.
    """
    if isinstance(data, str) or data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return data  # text already, or a byte-order mark, which decides over any declaration
    found = _DECLARED.match(data[:400])
    if found is None:
        return data  # no declaration: UTF-8 (XML 1.0 §4.3.3)
    name = found.group(1).decode("ascii", "replace")
    codec = CHINESE_ENCODINGS.get(name.lower())
    if codec is None:
        if name.lower() in _EXPAT_ENCODINGS:
            return data
        allowed = "UTF-8, UTF-16, US-ASCII, ISO-8859-1, GBK, GB2312, GB18030, Big5"
        raise CapFormatError(f"the XML declares encoding {name!r}, which is not supported; allowed: {allowed}")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise CapFormatError(f"the XML declares encoding {name!r} but byte {exc.start} is not valid {name}") from None


def _load(data: bytes | str) -> ET.Element:
    try:
        return SafeET.fromstring(_decoded(data), forbid_dtd=True)
    except defusedxml.DTDForbidden:
        raise CapFormatError("a DTD (<!DOCTYPE …>) is not allowed in a CAP alert") from None
    except defusedxml.EntitiesForbidden:
        raise CapFormatError("entity declarations are not allowed in a CAP alert") from None
    except defusedxml.DefusedXmlException as exc:
        raise CapFormatError(f"unsafe XML refused: {exc}") from None
    except ET.ParseError as exc:
        raise CapFormatError(f"not well-formed XML: {exc}") from None


def _root(data: bytes | str) -> ET.Element:
    root = _load(data)
    ns, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "alert":
        raise CapFormatError(f"the root element is <{local}>, not a CAP <alert>")
    if ns != CAP_NS:
        raise CapFormatError(f"<alert> is in namespace {ns or '(none)'!r}; CAP 1.2 is {CAP_NS!r}")
    return root


def _references(raw: str | None, errors: list[FieldError]) -> tuple[CapReference, ...]:
    out = []
    for triple in (raw or "").split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            errors.append(FieldError(None, "alert/references", f"{triple!r} is not 'sender,identifier,sent'"))
        else:
            out.append(CapReference(*parts))
    return tuple(out)


#: The languages an ``info`` block is chosen by, in order: the wall reads Chinese, then English.
INFO_LANGUAGES = ("zh", "en")


def _pick_info(infos: list[ET.Element]) -> ET.Element:
    """The ``info`` block in the first of `INFO_LANGUAGES` present (CAP's default is en-US), else the first."""
    langs = [(_text(info, "cap:language") or "en-US").lower() for info in infos]
    for wanted in INFO_LANGUAGES:
        for info, lang in zip(infos, langs, strict=True):
            if lang == wanted or lang.startswith(wanted + "-"):
                return info
    return infos[0]


def _has_word(text: str, word: str) -> bool:
    # Chinese has no spaces: a substring is a match. An English word must
    # start a word, so "ice" is not found in "police" nor "dust" in "industrial".
    if not word.isascii():
        return word in text
    return re.search(r"(?<![a-z])" + re.escape(word), text) is not None


def warning_type(event: str | None, category: str | None, codes: Iterable[str] = ()) -> str:
    """Our warning type for a CAP event, category and event codes.

    Raises
    ------
    ValueError
        Nothing matched; the message lists the allowed types.
    """
    for code in codes:
        if code in WARNING_TYPES:
            return code
    text = (event or "").strip().lower()
    for code, names in WARNING_TYPES.items():
        if text in (code, names["zh"], names["en"].lower()):
            return code
    for code, words in EVENT_WORDS:
        if any(_has_word(text, w) for w in words):
            return code
    if category in CATEGORY_TYPES:
        return CATEGORY_TYPES[category]
    allowed = ", ".join(f"{c} {n['zh']}" for c, n in WARNING_TYPES.items())
    raise ValueError(f"event {event!r} (category {category}) matches no warning type; allowed: {allowed} "
                     "(or an eventCode whose value is one of these codes)")


def _floats(pair: str, what: str) -> tuple[float, float]:
    lat, lon = (float(v) for v in pair.split(","))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"{what} point {pair!r} is out of range (latitude first: lat,lon)")
    return lat, lon


@dataclass(frozen=True)
class CapArea:
    """The circles and polygons of an alert's areas, and one point and radius covering them all."""

    lon: float
    lat: float
    radius_m: float
    #: ``(lat, lon, radius_km)`` of each circle, and each polygon's ``(lat, lon)`` ring, as CAP writes them.
    circles: tuple[tuple[float, float, float], ...]
    polygons: tuple[tuple[tuple[float, float], ...], ...]

    def to_json(self) -> str:
        """The circles and polygons as the store keeps them (``Warning.areas``)."""
        return json.dumps({"circles": self.circles, "polygons": self.polygons})


def area_circle(infos: list[ET.Element]) -> CapArea:
    """Every circle and polygon of the areas, and one point and radius (metres) covering them.

    Raises
    ------
    ValueError
        A malformed circle or polygon, or no circle or polygon at all.
    """
    circles: list[tuple[float, float, float]] = []
    rings: list[tuple[tuple[float, float], ...]] = []
    for info in infos:
        for circle in info.iterfind("cap:area/cap:circle", _NS):
            text = (circle.text or "").strip()
            try:
                centre, radius = text.split()
                lat, lon = _floats(centre, "circle")
                km = float(radius)
                if not 0 <= km <= 1000:
                    raise ValueError
            except ValueError:
                raise ValueError(f"circle {text!r} is not 'lat,lon radius_km'") from None
            circles.append((lat, lon, km))
        for polygon in info.iterfind("cap:area/cap:polygon", _NS):
            text = (polygon.text or "").strip()
            try:
                pairs = tuple(_floats(p, "polygon") for p in text.split())
            except ValueError:
                raise ValueError(f"polygon {text[:80]!r} is not a list of 'lat,lon' pairs") from None
            if len(pairs) < 4 or pairs[0] != pairs[-1]:
                raise ValueError("a polygon needs at least 4 'lat,lon' pairs, the first equal to the last (closed)")
            rings.append(pairs)
        if circles or rings:
            break  # the first info block that has areas: the others describe the same areas
    if not circles and not rings:
        raise ValueError("no circle or polygon: a warning needs a place (geocode-only areas are not supported)")
    discs = [(to_metric(shapely.Point(lon, lat)), max(km * 1000, MIN_RADIUS_M)) for lat, lon, km in circles]
    polygons = [to_metric(shapely.Polygon([(lon, lat) for lat, lon in ring])) for ring in rings]
    shapes = [c.buffer(r) for c, r in discs] + [shapely.make_valid(p) for p in polygons]
    centre = shapely.union_all(shapes).centroid
    reach = [centre.distance(c) + r for c, r in discs]
    reach += [max(centre.distance(shapely.Point(xy)) for xy in p.exterior.coords) for p in polygons]
    lonlat = from_metric(centre)
    # Rounded up to the decimetre (float noise of a micrometre aside), so the circle still covers every point.
    radius = math.ceil(max(max(reach), MIN_RADIUS_M) * 10 - 1e-5) / 10
    return CapArea(lonlat.x, lonlat.y, radius, tuple(circles), tuple(rings))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _info_warning(root: ET.Element, sender: str | None, identifier: str | None, sent: datetime | None,
                  errors: list[FieldError], notes: list[str]) -> tuple[WarningIn, CapArea] | None:
    """The warning an Alert or Update describes, and its areas; problems go to ``errors`` (then ``None``)."""
    before = len(errors)
    infos = root.findall("cap:info", _NS)
    if not infos:
        errors.append(FieldError(None, "alert/info", "an Alert or Update needs at least one <info>"))
        return None
    info = _pick_info(infos)
    raw: dict = {"source": sender, "external_id": identifier}
    event, severity = _text(info, "cap:event"), _text(info, "cap:severity")
    for name, value in (("event", event), ("severity", severity)):
        if value is None:
            errors.append(FieldError(None, f"info/{name}", "required element missing"))
    try:
        codes = [_text(ec, "cap:value") or "" for ec in info.iterfind("cap:eventCode", _NS)]
        raw["type"] = warning_type(event, _text(info, "cap:category"), codes)
    except ValueError as exc:
        if event is not None:
            errors.append(FieldError(None, "info/event", str(exc)))
    if severity is not None:
        if severity not in SEVERITY_LEVEL:
            errors.append(FieldError(None, "info/severity",
                                     f"{severity!r}; allowed: {', '.join(SEVERITY_LEVEL)}"))
        else:
            raw["level"] = SEVERITY_LEVEL[severity]
            if severity == "Unknown":
                notes.append("severity Unknown is shown as level 4 (blue)")
    raw["title"] = _cut(_text(info, "cap:headline") or event or "", 200)
    body = [t for t in (_text(info, "cap:description"), _text(info, "cap:instruction")) if t]
    raw["description"] = _cut("\n\n".join(body), 5000)
    times = {}
    for name in ("effective", "onset", "expires"):
        value = _text(info, f"cap:{name}")
        if value is not None:
            try:
                times[name] = parse_iso(value)
            except ValueError as exc:
                errors.append(FieldError(None, f"info/{name}", str(exc)))
    raw["issued_at"] = times.get("effective", sent)
    raw["expires_at"] = times.get("expires")
    raw["certainty"] = _text(info, "cap:certainty")
    try:
        area = area_circle([info] + [i for i in infos if i is not info])
        raw["lon"], raw["lat"], raw["radius_m"] = area.lon, area.lat, area.radius_m
    except ValueError as exc:
        errors.append(FieldError(None, "info/area", str(exc)))
    if len(errors) > before or sender is None or identifier is None:
        return None
    try:
        return WarningIn.model_validate(raw), area
    except ValidationError as err:
        errors += [FieldError(None, _CAP_FIELD.get(e.field, e.field), e.message) for e in validation_errors(err)]
        return None


def parse_cap(data: bytes | str) -> CapMessage:
    """Read one CAP 1.2 ``<alert>``.

    Raises
    ------
    CapFormatError
        Not XML, unsafe XML (DTD, entities) or not a CAP 1.2 ``<alert>``.
    IngestError
        A CAP alert that breaks a rule; every problem is named by its element
        (``alert/sent``, ``info/severity``, ``info/area`` …).
    """
    root = _root(data)
    errors: list[FieldError] = []
    notes: list[str] = []
    head = {name: _text(root, f"cap:{name}") for name in ("identifier", "sender", "sent", "status", "msgType")}
    for name, value in head.items():
        if value is None:
            errors.append(FieldError(None, f"alert/{name}", "required element missing"))
    sent = None
    if head["sent"]:
        try:
            sent = parse_iso(head["sent"])
        except ValueError as exc:
            errors.append(FieldError(None, "alert/sent", str(exc)))
    if head["status"] and head["status"] != "Actual":
        errors.append(FieldError(None, "alert/status", f"{head['status']}: only Actual alerts are stored "
                                 "(Exercise, System, Test and Draft are not shown on the map)"))
    msg_type = head["msgType"]
    if msg_type and msg_type not in MSG_TYPES:
        errors.append(FieldError(None, "alert/msgType", f"{msg_type} is not handled; allowed: {', '.join(MSG_TYPES)}"))
    for name in ("identifier", "sender"):
        value = head[name]
        if value and _NOT_IN_ID.search(value):
            errors.append(FieldError(None, f"alert/{name}", f"{value!r}: no spaces, commas, < or & allowed"))
    references = _references(_text(root, "cap:references"), errors)
    if msg_type in ("Update", "Cancel") and not references and not any(e.field == "alert/references" for e in errors):
        errors.append(FieldError(None, "alert/references", f"a {msg_type} must name the alert(s) it refers to"))
    described = None
    if msg_type in ("Alert", "Update"):
        described = _info_warning(root, head["sender"], head["identifier"], sent, errors, notes)
    identifier, sender = head["identifier"], head["sender"]
    # A missing element or an unreadable time is among the errors already.
    if errors or identifier is None or sender is None or sent is None or msg_type is None:
        raise IngestError(errors)
    warning, area = described or (None, None)
    return CapMessage(identifier, sender, sent, msg_type, references, warning, tuple(notes),
                      area.to_json() if area else None)
