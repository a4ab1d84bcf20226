"""From the columns a GIS office's grid file has to the grid properties of docs/design.md §1.

A Shapefile, GeoPackage or KML from a natural-resources office names its
columns in Chinese (网格编码, 网格名称, 所属村/社区, 网格员 …), often cut to 10
bytes by the DBF format, and holds codes as numbers, levels as words and
parents as names. `match_columns` finds the grid field of each column (or
takes them from an explicit ``--map``), `grid_properties` turns a row into
the properties `township.grids.validate.parse_grid_geojson` checks, and
`complete_hierarchy` fills in the level, parent and kind a file leaves
implicit: from its layer, from a parent given by name, from the structure of
national codes (a grid code whose prefix is its community's code) or from
where a polygon lies. Values it cannot read are passed on unchanged, so that
the validator names them.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from township.domain.vocab import GRID_KINDS, GRID_LEVELS, KIND_LEVEL

__all__ = ["GRID_FIELDS", "HEADER_ALIASES", "ColumnMatch", "match_columns", "parse_map_option",
           "grid_properties", "level_hint", "complete_hierarchy"]

#: Headers recognised for each grid property, most specific first (compared without case,
#: spaces and punctuation, so 所属村（社区） is 所属村社区 and Grid_ID is gridid).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "grid_id": ("grid_id", "gridcode", "grid_code", "网格编码", "网格代码", "网格编号", "编码", "代码", "编号",
                "区划代码", "行政区划代码", "code", "wgbm"),
    "name": ("name", "grid_name", "网格名称", "名称", "网格名", "村社区名称", "村名", "社区名称", "名字", "wgmc", "mc"),
    "level": ("level", "层级", "级别", "网格层级", "网格级别", "等级"),
    "parent_id": ("parent_id", "parent", "上级编码", "上级代码", "上级网格编码", "所属村社区编码", "所属村社区",
                  "所属村", "所属社区", "所属网格", "上级", "所属"),
    "kind": ("kind", "类型", "网格类型", "类别"),
    "officer": ("officer", "网格员", "网格员姓名", "网格长", "负责人"),
    "officer_phone": ("officer_phone", "联系电话", "网格员电话", "电话", "手机", "手机号", "手机号码", "联系方式"),
    "households": ("households", "户数", "总户数", "住户数"),
    "population": ("population", "人口", "人口数", "总人口", "人数"),
    "party_members": ("party_members", "党员数", "党员人数", "党员"),
    "party_households": ("party_households", "党员中心户", "党员中心户数"),
}
#: The grid properties a file may carry, in the order of docs/design.md §1.
GRID_FIELDS: tuple[str, ...] = tuple(HEADER_ALIASES)

_CODES = ("grid_id", "parent_id", "officer_phone")  # text, even when a file stores them as numbers
_COUNTS = ("households", "population", "party_members", "party_households")

# Words for a level or a kind, as files write them; the vocabulary's own labels are added in `_kind_of`.
_KIND_WORDS: dict[str, str] = {
    "乡": "town", "乡镇": "town", "街道": "town", "镇级": "town", "乡级": "town",
    "行政村": "village", "村委会": "village", "村级": "village",
    "居委会": "community", "社区居委会": "community", "居民委员会": "community",
    "网格级": "grid",
}
# Layer or file names that say which level their polygons are on, looked for in this order.
_LEVEL_WORDS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (3, ("grid", "网格", "wg")),
    (2, ("village", "community", "村", "社区", "居委")),
    (1, ("town", "township", "镇", "乡", "街道", "boundary", "outline", "边界")),
)
# Headers named in the error when a required column is missing.
_EXAMPLES = {"grid_id": "网格编码, 编码", "name": "网格名称, 名称"}
#: Columns of KML placemarks that are KML's own, not the township's: not worth a note.
_KML_OWN = {"id", "description", "timestamp", "begin", "end", "altitudemode", "tessellate", "extrude",
            "visibility", "draworder", "icon", "snippet"}


def _norm(header: str) -> str:
    """A header compared without case, spaces and punctuation."""
    return "".join(ch for ch in str(header).casefold() if ch.isalnum())


def _alias_index() -> dict[str, str]:
    return {_norm(alias): fld for fld, aliases in HEADER_ALIASES.items() for alias in aliases}


@dataclass
class ColumnMatch:
    """Which column holds which grid field, and what was left aside."""

    fields: dict[str, str] = field(default_factory=dict)  # column → grid field
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse_map_option(text: str | None) -> dict[str, str]:
    """``"网格编码=grid_id,所属=parent_id"`` as a mapping column → field (the ``--map`` option).

    Raises
    ------
    ValueError
        For a pair without ``=`` or a field that is not a grid property.
    """
    out: dict[str, str] = {}
    for pair in (text or "").replace("，", ",").split(","):
        if not pair.strip():
            continue
        column, sep, target = pair.partition("=")
        if not sep or not column.strip():
            raise ValueError(f"--map: {pair.strip()!r} is not COLUMN=FIELD")
        out[column.strip()] = target.strip()
    return out


def match_columns(columns: Sequence[str], mapping: Mapping[str, str] | None = None) -> ColumnMatch:
    """Find the grid field of each column: ``mapping`` (column → field) first, then the known headers.

    A header cut short by the DBF's 10 bytes (网格编 for 网格编码, officer_ph)
    is recognised when it begins exactly one field's headers.
    """
    found = ColumnMatch()
    mapping = dict(mapping or {})
    for column, target in mapping.items():
        if target not in HEADER_ALIASES:
            found.errors.append(f"--map {column}={target}: {target!r} is not a grid field; "
                                f"the fields are {', '.join(GRID_FIELDS)}")
        elif column not in columns:
            found.errors.append(f"--map {column}={target}: the file has no column {column!r}; "
                                f"its columns are {', '.join(columns)}")
        else:
            found.fields[column] = target
    index = _alias_index()
    rank = {_norm(a): i for aliases in HEADER_ALIASES.values() for i, a in enumerate(aliases)}
    taken: dict[str, tuple[int, str]] = {f: (-1, c) for c, f in found.fields.items()}  # field → (rank, column)
    guessed: dict[str, str] = {}
    for column in columns:
        if column in found.fields:
            continue
        key = _norm(column)
        fld, how = index.get(key), 0
        if fld is None and len(key) >= 3:
            prefixed = {f for alias, f in index.items() if alias.startswith(key)}
            fld, how = (prefixed.pop(), 100) if len(prefixed) == 1 else (None, 0)
        if fld is None:
            continue
        score = how + rank.get(key, 50)
        held = taken.get(fld)
        if held is None or (held[0] >= 0 and score < held[0]):
            if held is not None:
                guessed.pop(held[1], None)
            taken[fld] = (score, column)
            guessed[column] = fld
    found.fields.update(guessed)
    if guessed:
        named = [f"{c} → {f}" for c, f in guessed.items() if c != f]  # a column already named as the field: no news
        if named:
            found.notes.append("columns recognised: " + ", ".join(named))
    ignored = [c for c in columns if c not in found.fields and _norm(c) not in _KML_OWN]
    if ignored:
        found.notes.append("columns not used (map one with --map COLUMN=FIELD): " + ", ".join(ignored))
    for required in ("grid_id", "name"):
        if required not in found.fields.values():
            found.errors.append(
                f"no column holds the grid's {required} (e.g. {_EXAMPLES[required]}); the columns are "
                f"{', '.join(columns) or 'none'}: name it with --map COLUMN={required}")
    return found


def _missing(value: Any) -> bool:
    """An empty cell: None (also a NaT read), blank text, NaN."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def _whole(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (3, 3.0, "3"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _kind_of(value: str) -> str | None:
    words = {label["zh"]: code for code, label in GRID_KINDS.items()} | _KIND_WORDS
    text = value.strip()
    return text if text in GRID_KINDS else words.get(text)


def _convert(fld: str, value: Any) -> Any:
    """One cell as the grid property ``fld``; what cannot be read goes on unchanged."""
    if fld in _CODES:
        whole = _whole(value)  # a code stored as a number: 150621102201001.0 → "150621102201001"
        return str(whole) if whole is not None else str(value).strip() if isinstance(value, str) else value
    if fld in ("name", "officer"):
        return value.strip() if isinstance(value, str) else str(value)
    if fld in _COUNTS:
        whole = _whole(value)
        return whole if whole is not None else value
    if fld == "level":
        whole = _whole(value)
        if whole is not None:
            return whole
        if not isinstance(value, str):
            return value
        labels = {_norm(label["zh"]): level for level, label in GRID_LEVELS.items()}  # 村/社区 → 2
        kind = _kind_of(value)
        return KIND_LEVEL[kind] if kind else labels.get(_norm(value), value)
    if fld == "kind" and isinstance(value, str):
        return _kind_of(value) or value
    return value


def grid_properties(row: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """The grid properties of one row (column → value) under ``fields`` (column → grid field)."""
    out: dict[str, Any] = {}
    for column, fld in fields.items():
        value = row.get(column)
        if not _missing(value):
            out[fld] = _convert(fld, value)
    return out


def level_hint(name: str) -> int | None:
    """The level a layer's or file's name says its polygons are on (town, villages, 网格 …), or None."""
    key = _norm(name)
    for level, words in _LEVEL_WORDS:
        if any(w in key for w in words):
            return level
    return None


def _stem(code: str) -> str:
    """A numeric code without its trailing ``000`` groups: 150621102000 (a town) → 150621102."""
    stem = code
    while stem.isdigit() and len(stem) > 3 and stem.endswith("000"):
        stem = stem[:-3]
    return stem


def _parent_by_code(codes: Iterable[str]) -> dict[str, str]:
    """Each code's parent: the longest other code whose stem begins it (DL-01 → DL, 150…201001 → 150…201).

    The rest must start with a separator (``-``, ``_``, ``.``) or be at least
    two characters, so that DL-1 is not taken for the parent of DL-10.
    """
    stems = {_stem(c): c for c in codes}
    out: dict[str, str] = {}
    for code in stems.values():
        for cut in range(len(code) - 1, 0, -1):
            parent, rest = stems.get(code[:cut]), code[cut:]
            if parent is not None and parent != code and (rest[0] in "-_." or len(rest) >= 2):
                out[code] = parent
                break
    return out


def complete_hierarchy(props: list[dict[str, Any]], geoms: Sequence[Any], hints: Sequence[int | None]) -> list[str]:
    """Fill in the ``level``, ``parent_id`` and ``kind`` a file leaves implicit; returns notes on what was derived.

    In order: a level from the kind, else from the layer (``hints``, one per
    feature); a parent named by its name rather than its code is replaced by
    the code; a missing parent is the feature whose code begins this one's
    (national codes: a 15-digit grid under its 12-digit community), else the
    polygon one level up that holds this one's interior point; a missing level
    is then one below the parent's; a missing kind follows from the level
    (a level-2 name ending in 社区 or 居委会 is a community). Explicit values
    are never changed.
    """
    notes: list[str] = []
    ids = {p["grid_id"] for p in props if isinstance(p.get("grid_id"), str)}
    derived: dict[str, int] = {"level from kind": 0, "level from layer": 0, "parent by name": 0,
                               "parent from code": 0, "parent from position": 0, "level from parent": 0,
                               "kind from level": 0}
    for p, hint in zip(props, hints, strict=True):
        if "level" not in p and isinstance(p.get("kind"), str) and p["kind"] in KIND_LEVEL:
            p["level"], derived["level from kind"] = KIND_LEVEL[p["kind"]], derived["level from kind"] + 1
        elif "level" not in p and hint is not None:
            p["level"], derived["level from layer"] = hint, derived["level from layer"] + 1
    by_name: dict[str, list[str]] = {}
    for p in props:
        if isinstance(p.get("name"), str) and isinstance(p.get("grid_id"), str):
            by_name.setdefault(p["name"], []).append(p["grid_id"])
    for p in props:
        parent = p.get("parent_id")
        if isinstance(parent, str) and parent not in ids and len(by_name.get(parent, ())) == 1:
            p["parent_id"], derived["parent by name"] = by_name[parent][0], derived["parent by name"] + 1
    by_code = _parent_by_code(ids)
    for p in props:
        if "parent_id" not in p and p.get("level") != 1 and p.get("grid_id") in by_code:
            p["parent_id"], derived["parent from code"] = by_code[p["grid_id"]], derived["parent from code"] + 1
    derived["parent from position"] = _parents_by_position(props, geoms)
    level_of = {p["grid_id"]: _whole(p.get("level")) for p in props if isinstance(p.get("grid_id"), str)}
    parents = {p["parent_id"] for p in props if isinstance(p.get("parent_id"), str)}
    for _ in range(3):  # a chain town → village → grid settles in three passes
        for p in props:
            gid = p.get("grid_id")
            if "level" in p or not isinstance(gid, str):
                continue
            if "parent_id" in p:
                parent_level = level_of.get(str(p["parent_id"]))
                if parent_level is None:
                    continue
                p["level"] = parent_level + 1
            elif gid in parents:  # a root that other features name: the town
                p["level"] = 1
            else:
                continue
            level_of[gid] = p["level"]
            derived["level from parent"] += 1
    for p in props:
        if "kind" not in p and p.get("level") in (1, 2, 3):
            name = str(p.get("name") or "")
            p["kind"] = {1: "town", 3: "grid"}.get(p["level"]) or (
                "community" if name.endswith(("社区", "居委会")) else "village")
            derived["kind from level"] += 1
    for what, n in derived.items():
        if n:
            notes.append(f"{what}: {n} feature{'s' if n != 1 else ''}")
    return notes


def _parents_by_position(props: list[dict[str, Any]], geoms: Sequence[Any]) -> int:
    """Give a feature with a level but no parent the polygon one level up that holds its interior point."""
    levels = [_whole(p.get("level")) for p in props]
    orphans = [i for i, p in enumerate(props) if "parent_id" not in p and levels[i] in (2, 3)
               and geoms[i] is not None]
    if not orphans:
        return 0
    done = 0
    for level in (2, 3):
        above = [i for i, lv in enumerate(levels) if lv == level - 1 and geoms[i] is not None
                 and isinstance(props[i].get("grid_id"), str)]
        mine = [i for i in orphans if levels[i] == level]
        if not above or not mine:
            continue
        tree = shapely.STRtree(np.array([geoms[i] for i in above], dtype=object))
        points = shapely.point_on_surface(np.array([geoms[i] for i in mine], dtype=object))
        hit_point, hit_poly = tree.query(points, predicate="within")
        for k, j in zip(hit_point.tolist(), hit_poly.tolist(), strict=True):
            p = props[mine[k]]
            if "parent_id" not in p:  # the first holder; overlapping parents are the validator's to report
                p["parent_id"] = props[above[j]]["grid_id"]
                done += 1
    return done
