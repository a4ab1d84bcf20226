"""The field app's pages as HTML: small, server-rendered, readable in sunlight, big targets.

Pure builders: they take what the views read (cases, the trail, the moves
allowed) and return text; no request, no store. The page's script
(``static/field.js``) reads its data from ``data-`` attributes and one JSON
block (the CSP allows no inline script).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from html import escape
from math import cos, radians
from typing import Literal

from shapely.geometry.base import BaseGeometry

from field.text import js_words, word
from township.domain.actors import note_text
from township.domain.isotime import local_text
from township.domain.vocab import CASE_STATUSES, CASE_TYPES, DOMAINS, TIERS, label
from township.loop.casefile import action_label, overdue
from township.store.models import Case, CaseEvent

Lang = Literal["zh", "en"]

#: The SVG map's width in its own units; the height follows the place's shape.
MAP_W = 360.0


def _e(value: object) -> str:
    return escape(str(value if value is not None else ""))


def shell(title: str, body: str, lang: Lang, page: str, owner: str = "") -> str:
    """A whole page: head (manifest, icon, stylesheet, script), the body, the script's words.

    ``owner`` names the signed-in account (its user id): the phone's outbox sends only that
    account's waiting items, so a phone handed to someone else does not send them as that person.
    """
    words = escape(json.dumps(js_words(lang), ensure_ascii=False), quote=False)
    return f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#0d3b66">
<title>{_e(title)} · {_e(word('app', lang))}</title>
<link rel="manifest" href="/m/manifest.webmanifest">
<link rel="icon" href="/m/static/icon-192.png">
<link rel="apple-touch-icon" href="/m/static/icon-192.png">
<link rel="stylesheet" href="/m/static/field.css">
<script src="/m/static/field.js" defer></script>
</head><body data-page="{page}" data-lang="{lang}" data-owner="{_e(owner)}">
<script type="application/json" id="m-words">{words}</script>
{body}
</body></html>"""


def top_bar(title: str, lang: Lang, back: bool = False) -> str:
    """The bar on every page: back (or the app's name), the title, the language switch."""
    left = f'<a class="m-back" href="/m">‹ {_e(word("back", lang))}</a>' if back else \
        f'<span class="m-app">{_e(word("app", lang))}</span>'
    return (f'<header class="m-bar">{left}<button type="button" class="m-lang" id="m-lang" '
            f'data-to="{"en" if lang == "zh" else "zh"}">{_e(word("lang", lang))}</button></header>'
            f'<h1 class="m-title">{_e(title)}</h1>'
            '<section id="m-outbox" class="m-outbox" aria-live="polite" hidden></section>')


def _badge_deadline(case: Case, now: datetime, lang: Lang, named: bool = True) -> str:
    late = overdue(case, now)
    cls = "m-late" if late else "m-due"
    text = f"{word('overdue', lang)} · " if late else ""
    name = f"{word('deadline', lang)} " if named else ""
    return f'<span class="{cls}">{_e(text)}{_e(name)}{_e(local_text(case.deadline_at))}</span>'


def case_item(case: Case, place: str, now: datetime, lang: Lang) -> str:
    """One case in a list: type, place, deadline (超期), status and the report's first line."""
    first = (case.description or case.title or "").strip().splitlines()
    line = first[0] if first else ""
    point = f' data-lon="{case.lon}" data-lat="{case.lat}"' if case.lon is not None and case.lat is not None else ""
    return (f'<li><a class="m-item" href="/m/case/{case.id}"{point}>'
            f'<span class="m-row"><b>{_e(label(CASE_TYPES, case.type, lang))}</b>'
            f'<span class="m-status s-{_e(case.status)}">{_e(label(CASE_STATUSES, case.status, lang))}</span></span>'
            f'<span class="m-row"><span>{_e(place)}</span><span class="m-dist"></span></span>'
            f'{_badge_deadline(case, now, lang)}'
            f'<span class="m-line">#{case.id} {_e(line[:80])}</span></a></li>')


def task_list(name: str, mine: list[tuple[Case, str]], pool: list[tuple[Case, str]] | None, now: datetime,
              lang: Lang, owner: str, extra: str = "") -> str:
    """``/m``: my tasks, the open orders I may take (``None``: I am no party member), the way to report;
    ``extra``: HTML above the tasks (the evacuation task's link, `field.evacpage.evacuation_link`)."""
    def items(rows: list[tuple[Case, str]], empty: str) -> str:
        if not rows:
            return f'<p class="m-empty">{_e(word(empty, lang))}</p>'
        return '<ul class="m-list">' + "".join(case_item(c, p, now, lang) for c, p in rows) + "</ul>"

    pool_html = items(pool, "no_pool") if pool is not None else \
        f'<p class="m-empty">{_e(word("pool_officer", lang))}</p>'
    body = (top_bar(word("my_tasks", lang), lang)
            + f'<p class="m-who">{_e(name)}</p>' + extra
            + f'<section id="m-mine"><h2>{_e(word("my_tasks", lang))} ({len(mine)})</h2>'
            + items(mine, "no_tasks") + "</section>"
            + f'<section id="m-pool"><h2>{_e(word("pool", lang))} ({len(pool or [])})</h2>{pool_html}</section>'
            + f'<nav class="m-actions"><a class="m-big" id="m-report-link" href="/m/report">'
              f'{_e(word("report", lang))}</a>'
            + '<form method="post" action="/m/logout"><button type="submit" class="m-quiet" id="m-sign-out">'
              f'{_e(word("sign_out", lang))}</button></form></nav>')
    return shell(word("my_tasks", lang), body, lang, "tasks", owner)


# -- the small map: the grid's polygon and the spot, as inline SVG (no tiles) --------------------------


def _rings(geom: BaseGeometry) -> Iterable[list[tuple[float, float]]]:
    for poly in getattr(geom, "geoms", [geom]):
        if hasattr(poly, "exterior"):
            yield list(poly.exterior.coords)


def svg_map(shapes: list[tuple[str, BaseGeometry]], point: tuple[float, float] | None, svg_id: str) -> str:
    """An inline SVG of ``shapes`` (name, geometry) and ``point``, with what the script needs to turn a tap
    back into lon/lat (``data-minx``, ``data-maxy``, ``data-kx``, ``data-ky``)."""
    bounds = [g.bounds for _, g in shapes]
    if point is not None:
        bounds.append((point[0], point[1], point[0], point[1]))
    if not bounds:
        return ""
    minx, miny = min(b[0] for b in bounds), min(b[1] for b in bounds)
    maxx, maxy = max(b[2] for b in bounds), max(b[3] for b in bounds)
    pad = max(maxx - minx, maxy - miny, 0.002) * 0.08
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    shrink = cos(radians((miny + maxy) / 2))  # a degree of longitude is shorter than one of latitude
    kx = MAP_W / (maxx - minx)
    ky = kx / shrink
    height = (maxy - miny) * ky

    def xy(lon: float, lat: float) -> str:
        return f"{(lon - minx) * kx:.1f},{(maxy - lat) * ky:.1f}"

    paths = []
    for name, geom in shapes:
        for ring in _rings(geom):
            paths.append(f'<polygon points="{" ".join(xy(x, y) for x, y in ring)}"><title>{_e(name)}</title>'
                         "</polygon>")
    dot = ""
    if point is not None:
        x, y = xy(*point).split(",")
        dot = f'<circle class="m-spot" cx="{x}" cy="{y}" r="9"></circle>'
    return (f'<svg id="{svg_id}" class="m-map" viewBox="0 0 {MAP_W:.0f} {height:.0f}" role="img" '
            f'data-minx="{minx}" data-maxy="{maxy}" data-kx="{kx}" data-ky="{ky}">'
            f'{"".join(paths)}<circle class="m-pick" r="9" cx="-50" cy="-50"></circle>{dot}</svg>')


# -- the case page ---------------------------------------------------------------------------------------


def photo_strip(photo_ids: list[int], lang: Lang) -> str:
    """The case's photos as thumbnails, each opening the photo ('' when there are none)."""
    if not photo_ids:
        return ""
    return (f'<div class="m-photos" id="m-photos" aria-label="{_e(word("photos", lang))}">' + "".join(
        f'<a href="/m/photos/{i}"><img src="/m/photos/{i}/thumb" alt="{_e(word("photos", lang))} {n + 1}" '
        'loading="lazy"></a>' for n, i in enumerate(photo_ids)) + "</div>")


def _move_form(move: str, case: Case, lang: Lang, photo_needed: bool) -> str:
    """One big button for a move, with the move's text box (required for 办结 and 退回)."""
    needs = {"resolve": "result", "return": "reason"}.get(move)
    box = needs or "note"
    photos = ""
    if move == "resolve":
        hint = f'<p class="m-hint">{_e(word("photo_needed", lang))}</p>' if photo_needed else ""
        photos = (f'{hint}<label class="m-file">{_e(word("add_photos", lang))}<input type="file" name="photos" '
                  f'accept="image/*" capture="environment" multiple></label><div class="m-thumbs"></div>')
    zh = action_label(move, "zh")
    text = zh if lang == "zh" else f"{zh} {action_label(move, 'en').capitalize()}"
    return (f'<form class="m-move" data-move="{move}" data-case="{case.id}" data-version="{case.version}">'
            f'<label>{_e(word(box, lang))}<textarea name="text" rows="2"{" required" if needs else ""}>'
            f'</textarea></label>{photos}'
            f'<button type="submit" class="m-big m-do-{move}" id="m-do-{move}">{_e(text)}</button></form>')


def case_page(case: Case, place: str, reporter: str, reporter_phone: str, handler: str, events: list[CaseEvent],
              event_actor: list[str], show_notes: bool, moves: list[str], shapes: list[tuple[str, BaseGeometry]],
              photo_needed: bool, photos_html: str, now: datetime, lang: Lang, owner: str) -> str:
    """``/m/case/<id>``: the report, its photos, the spot, navigate, the reporter, the timeline, the moves."""
    title = f"{label(CASE_TYPES, case.type, lang)} #{case.id}"
    point = (case.lon, case.lat) if case.lon is not None and case.lat is not None else None
    where = ""
    if point is not None:
        lon, lat = point
        where = (f'<p class="m-coords"><span id="m-coords">{lat:.6f},{lon:.6f}</span>'
                 f'<button type="button" class="m-quiet" id="m-copy" data-copy="{lat:.6f},{lon:.6f}">'
                 f'{_e(word("copy", lang))}</button></p>'
                 f'<a class="m-big m-nav" id="m-nav" href="geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}">'
                 f'{_e(word("navigate", lang))}</a>')
    phone = f' · <a href="tel:{_e(reporter_phone)}">{_e(reporter_phone)}</a>' if reporter_phone and "*" not in \
        reporter_phone else (f" · {_e(reporter_phone)}" if reporter_phone else "")
    facts = (f'<dl class="m-facts"><dt>{_e(word("place", lang))}</dt><dd>{_e(place)}</dd>'
             f'<dt>{_e(word("deadline", lang))}</dt><dd>{_badge_deadline(case, now, lang, named=False)}</dd>'
             f'<dt>{_e(word("tier", lang))}</dt><dd>{_e(label(TIERS, case.tier, lang))}</dd>'
             f'<dt>{_e(word("reporter", lang))}</dt><dd id="m-reporter">{_e(reporter or "—")}{phone}</dd>'
             f'<dt>{_e(word("handler", lang))}</dt><dd>{_e(handler or "—")}</dd></dl>')
    steps = "".join(
        f'<li><time>{_e(local_text(e.at))}</time> <b>{_e(action_label(e.action, lang))}</b> {_e(who)}'
        + (f'<br><span class="m-note">{_e(note_text(e.note, lang))}</span>' if show_notes and e.note else "") + "</li>"
        for e, who in zip(reversed(events), reversed(event_actor), strict=True))
    buttons = "".join(_move_form(m, case, lang, photo_needed) for m in moves) or \
        f'<p class="m-empty" id="m-no-moves">{_e(word("no_moves", lang))}</p>'
    body = (top_bar(title, lang, back=True)
            + f'<p class="m-row"><span class="m-status s-{_e(case.status)}" id="m-status">'
              f'{_e(label(CASE_STATUSES, case.status, lang))}</span>'
              f'<span>{_e(label(DOMAINS, case.domain, lang))}</span></p>'
            + f'<section id="m-moves" class="m-moves">{buttons}</section>'
            + f'<section><h2>{_e(word("the_report", lang))}</h2><p class="m-report"><b>{_e(case.title)}</b><br>'
              f'{_e(case.description or "")}</p>{photos_html}</section>'
            + f'<section><h2>{_e(word("place", lang))}</h2>{svg_map(shapes, point, "m-case-map")}{where}</section>'
            + facts
            + f'<section><h2>{_e(word("timeline", lang))}</h2><ol class="m-trail" id="m-trail">{steps}</ol></section>')
    return shell(title, body, lang, "case", owner)


def report_page(shapes: list[tuple[str, BaseGeometry]], lang: Lang, owner: str) -> str:
    """``/m/report``: a patrol report — type, domain, description, photos, the position (phone or a tap)."""
    def options(table: dict[str, dict[str, str]], chosen: str) -> str:
        return "".join(f'<option value="{k}"{" selected" if k == chosen else ""}>{_e(v[lang])}</option>'
                       for k, v in table.items())

    body = (top_bar(word("report", lang), lang, back=True)
            + '<form id="m-report" class="m-move" data-kind="report">'
            + f'<label>{_e(word("type", lang))}<select name="type">{options(CASE_TYPES, "hazard")}</select></label>'
            + f'<label>{_e(word("domain", lang))}<select name="domain">{options(DOMAINS, "safety")}</select></label>'
            + f'<label>{_e(word("description", lang))}<textarea name="description" rows="3" required></textarea>'
              "</label>"
            + f'<label class="m-file">{_e(word("add_photos", lang))}<input type="file" name="photos" '
              'accept="image/*" capture="environment" multiple></label><div class="m-thumbs"></div>'
            + f'<button type="button" class="m-big m-quiet" id="m-locate">{_e(word("locate", lang))}</button>'
            + f'<p class="m-hint">{_e(word("tap_map", lang))}</p>'
            + svg_map(shapes, None, "m-pick-map")
            + f'<p class="m-coords" id="m-position">{_e(word("no_position", lang))}</p>'
            + '<input type="hidden" name="lon"><input type="hidden" name="lat"><input type="hidden" name="accuracy">'
            + f'<button type="submit" class="m-big" id="m-send">{_e(word("send", lang))}</button></form>')
    return shell(word("report", lang), body, lang, "report", owner)


def login_page(message: str, username: str, lang: Lang, status_class: str = "m-error") -> str:
    """``/m/login``: username, password, and the promise that the phone stays signed in."""
    note = f'<p class="{status_class}" id="m-login-error">{_e(message)}</p>' if message else ""
    body = (top_bar(word("sign_in", lang), lang)
            + f'<form method="post" action="/m/login" class="m-move" id="m-login">{note}'
            + f'<label>{_e(word("username", lang))}<input name="username" id="m-username" value="{_e(username)}" '
              'autocomplete="username" autocapitalize="none" required></label>'
            + f'<label>{_e(word("password", lang))}<input type="password" name="password" id="m-password" '
              'autocomplete="current-password" required></label>'
            + f'<p class="m-hint">{_e(word("remember", lang))}</p>'
            + f'<button type="submit" class="m-big" id="m-login-submit">{_e(word("sign_in", lang))}</button></form>')
    return shell(word("sign_in", lang), body, lang, "login")
