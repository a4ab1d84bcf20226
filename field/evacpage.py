"""The field app's evacuation task (转移安置): a 包保 helper's households, a call button, the way to the shelter,
and a big button per step, sent through the field app's outbox (offline-tolerant, idempotent by key).

Pure: rosters in (`township.loop.evacroster.helper_rosters`: only the households
the helper may see), HTML out, in `field.pages`' shell and style. The forms are
the case page's (``form.m-move``) with their own URL (``data-url``), so
``static/field.js`` queues and sends them as it sends a case's moves.
"""
from __future__ import annotations

from html import escape

from field.pages import Lang, shell, top_bar
from township.domain.vocab import EVAC_STATUSES, HOUSEHOLD_FLAGS, label
from township.loop.evacroster import EvacuationOut, RosterRowOut
from township.loop.evacuation import EVAC_MOVES

__all__ = ["WORDS", "evacuation_page", "evacuation_link"]

WORDS: dict[str, dict[str, str]] = {
    "title": {"zh": "转移任务", "en": "Evacuation"},
    "call": {"zh": "拨打", "en": "Call"},
    "shelter": {"zh": "安置点", "en": "Shelter"},
    "navigate": {"zh": "导航去安置点", "en": "Way to the shelter"},
    "people": {"zh": "人", "en": "people"},
    "more": {"zh": "无法转移?", "en": "Cannot move them?"},
    "note": {"zh": "说明(拒绝/无法联系时必填)", "en": "Note (required to refuse or mark unreachable)"},
    "none": {"zh": "暂无需要您转移的住户", "en": "No household for you to evacuate"},
    "moved": {"zh": "已转移", "en": "moved"},
    "link": {"zh": "转移任务:{n} 户待转移", "en": "Evacuation: {n} households to move"},
}
#: The button of each step (the vocabulary's status it leads to).
MAIN_MOVES = ("notify", "move", "settle")
SIDE_MOVES = ("refuse", "unreachable")


def _w(key: str, lang: Lang) -> str:
    return WORDS[key][lang]


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _form(h: RosterRowOut, move: str, lang: Lang) -> str:
    to = EVAC_MOVES[move][1]
    text = label(EVAC_STATUSES, to, lang)
    box = (f'<label>{_e(_w("note", lang))}<textarea name="text" rows="2" required></textarea></label>'
           if EVAC_MOVES[move][2] else '<input type="hidden" name="text" value="">')
    quiet = " m-quiet" if move in SIDE_MOVES else ""
    return (f'<form class="m-move" data-move="{move}" data-case="{h.id}" data-version="{h.version}" '
            f'data-url="/m/api/evacuation/{h.id}/{move}">{box}'
            f'<button type="submit" class="m-big{quiet} m-do-{move}">{_e(text)}</button></form>')


def _household(h: RosterRowOut, shelters: dict[str, tuple[float, float]], lang: Lang) -> str:
    flags = "、".join(label(HOUSEHOLD_FLAGS, f, lang) for f in h.flags)
    main = [m for m in MAIN_MOVES if h.status in EVAC_MOVES[m][0]]
    side = [m for m in SIDE_MOVES if h.status in EVAC_MOVES[m][0]]
    call = (f'<a class="m-big m-quiet m-call" href="tel:{_e(h.phone)}">{_e(_w("call", lang))} {_e(h.phone)}</a>'
            if h.phone else "")
    way = ""
    if h.shelter_id in shelters:
        lon, lat = shelters[h.shelter_id]
        way = (f'<p>{_e(_w("shelter", lang))}:{_e(h.shelter)} · {(h.distance_m or 0) / 1000:.1f} km '
               f'<a href="geo:{lat},{lon}?q={lat},{lon}">{_e(_w("navigate", lang))}</a></p>')
    more = (f'<details><summary>{_e(_w("more", lang))}</summary>{"".join(_form(h, m, lang) for m in side)}</details>'
            if side else "")
    return (f'<li class="m-evac" id="m-evac-{h.id}" data-status="{_e(h.status)}">'
            f'<div class="m-row"><b>{_e(h.head)}</b> · {h.people} {_e(_w("people", lang))}'
            f'<span class="m-status s-{_e(h.status)}">{_e(label(EVAC_STATUSES, h.status, lang))}</span></div>'
            + (f'<p class="m-flags">{_e(flags)}</p>' if flags else "")
            + f'<p>{_e(h.address)} · {_e(h.she)}</p>{call}{way}'
            + "".join(_form(h, m, lang) for m in main) + more + "</li>")


def evacuation_page(rosters: list[tuple[str, EvacuationOut]], lang: Lang, owner: str) -> str:
    """``/m/evacuation``: per live evacuation, the helper's households, vulnerable first."""
    body = top_bar(_w("title", lang), lang, back=True)
    if not rosters:
        body += f'<p class="m-empty">{_e(_w("none", lang))}</p>'
    for title, roster in rosters:
        shelters = {s.resource_id: (s.lon, s.lat) for s in roster.shelters}
        moved = sum(1 for h in roster.households if h.status in ("moved", "settled"))
        body += (f'<section class="m-evac-warning"><h2>{_e(title)} · {moved}/{len(roster.households)} '
                 f'{_e(_w("moved", lang))}</h2><ul class="m-list">'
                 + "".join(_household(h, shelters, lang) for h in roster.households) + "</ul></section>")
    return shell(_w("title", lang), body, lang, "evacuation", owner)


def evacuation_link(waiting: int, lang: Lang) -> str:
    """The task list's link to the evacuation task (cached for offline with the list's other pages)."""
    if not waiting:
        return ""
    return (f'<a class="m-item m-evac-link" id="m-evac-link" href="/m/evacuation">'
            f'{_e(_w("link", lang).format(n=waiting))}</a>')
