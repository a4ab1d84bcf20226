"""The resident's pages as HTML: the report form with its offline map, the answer pages, the tracking page.

Plain HTML and one script of this site (``/resident/app.js``): nothing loads
from outside, and the form is readable before the script runs. The map is an
inline SVG of the villages (level 2) with their names, drawn from the grid set
once (`town_svg`); a tap becomes lon/lat by the inverse of its projection.
"""
from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from html import escape

import shapely
from shapely.geometry.base import BaseGeometry

from layers.text import t
from township.domain.isotime import LOCAL_TZ
from township.domain.vocab import CASE_STATUSES, DOMAINS, RESIDENT_CATEGORIES, Lang, label
from township.formats.citizen import MAX_COMMENT, MAX_DESCRIPTION
from township.grids.model import GridSet
from township.loop.casefile import action_label
from township.read.resident import TrackView

#: Width of the map's SVG coordinate space; its height follows the town's shape.
SVG_WIDTH = 1000.0
#: Outlines are simplified to about this many degrees (~50 m): the page stays small, a tap stays precise enough.
SIMPLIFY_DEG = 0.0005
#: The steps the tracking page draws as progress, in loop order.
PROGRESS = ("reported", "dispatched", "accepted", "in_progress", "resolved", "closed")

STYLE = """
body { margin: 0; font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; background: #f5f6f3;
       color: #263238; font-size: 17px; }
header { background: #b71c1c; color: #fff; padding: 12px 16px; display: flex; justify-content: space-between;
         align-items: center; }
header h1 { font-size: 20px; margin: 0; }
header a { color: #fff; font-size: 15px; }
main { max-width: 640px; margin: 0 auto; padding: 8px 12px 40px; }
section { background: #fff; border-radius: 8px; padding: 12px 14px; margin: 10px 0; box-shadow: 0 1px 2px #0002; }
h2 { font-size: 18px; margin: 0 0 8px; }
button, .button { font-size: 17px; padding: 12px 16px; border-radius: 6px; border: 0; background: #455a64;
                  color: #fff; text-decoration: none; display: inline-block; min-height: 48px; }
button.primary { background: #b71c1c; width: 100%; }
button:disabled { background: #b0bec5; }
svg.town { width: 100%; height: auto; touch-action: manipulation; background: #e8eef1; border-radius: 6px; }
svg.town path { fill: #fff8e1; stroke: #8d6e63; stroke-width: 1.5; }
svg.town path.community { fill: #ffe0b2; }
svg.town text { font-size: 30px; fill: #4e342e; text-anchor: middle; pointer-events: none; }
svg.town text.community { font-size: 15px; }
svg.town circle { fill: #d32f2f; stroke: #fff; stroke-width: 3; }
.cats { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
.cats label { border: 1px solid #cfd8dc; border-radius: 6px; padding: 12px 8px; display: flex; gap: 6px;
              align-items: center; min-height: 24px; }
.cats input { width: 22px; height: 22px; }
textarea, input[type=text], input[type=tel] { width: 100%; box-sizing: border-box; font-size: 17px; padding: 10px;
                                               border: 1px solid #b0bec5; border-radius: 6px; }
label.field { display: block; margin: 10px 0 4px; font-weight: 600; }
.hint { color: #607d8b; font-size: 14px; }
.error { background: #ffebee; color: #b71c1c; padding: 10px; border-radius: 6px; font-weight: 600; }
.ok { background: #e8f5e9; color: #1b5e20; padding: 10px; border-radius: 6px; }
.hp { position: absolute; left: -9999px; height: 0; overflow: hidden; }
#nearby { border: 2px solid #fb8c00; }
#nearby li { margin: 8px 0; list-style: none; }
#nearby ul { padding: 0; }
.steps { display: flex; gap: 4px; margin: 8px 0; }
.steps span { flex: 1; text-align: center; font-size: 12px; padding: 6px 0; background: #eceff1; border-radius: 4px; }
.steps span.done { background: #7cb342; color: #fff; }
ol.timeline { padding-left: 20px; }
ol.timeline li { margin: 6px 0; }
.link { word-break: break-all; font-family: monospace; background: #eceff1; padding: 8px; border-radius: 4px; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def local(at: datetime | None) -> str:
    """A stored (naive UTC) time as Beijing time, minutes."""
    if at is None:
        return ""
    return at.replace(tzinfo=UTC).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _path(geom: BaseGeometry, project) -> str:
    """An SVG path of a (Multi)Polygon's outer and inner rings."""
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in [poly.exterior, *poly.interiors]:
            pts = [project(x, y) for x, y in ring.coords]
            parts.append("M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in pts) + " Z")
    return " ".join(parts)


def town_svg(gridset: GridSet) -> str:
    """The town's villages and communities as an SVG that names them; its projection in ``data-*``.

    Equirectangular, scaled by the cosine of the middle latitude (at a
    township's size the error is far below a tap's); ``data-minx``,
    ``data-maxy``, ``data-sx`` and ``data-sy`` let the script turn a tap back
    into lon/lat.
    """
    villages = gridset.ids(level=2)
    minx, miny, maxx, maxy = gridset.bounds(villages)
    sx = SVG_WIDTH / (maxx - minx)
    sy = sx / math.cos(math.radians((miny + maxy) / 2))
    height = (maxy - miny) * sy

    def project(x: float, y: float) -> tuple[float, float]:
        return (x - minx) * sx, (maxy - y) * sy

    shapes, names = [], []
    for v in villages:
        props = gridset.props(v)
        kind = "community" if props.get("kind") == "community" else "village"
        geom = shapely.simplify(gridset.geometry(v), SIMPLIFY_DEG, preserve_topology=True)
        shapes.append(f'<path class="{kind}" data-village="{_e(v)}" data-name="{_e(props["name"])}" '
                      f'd="{_path(geom, project)}"/>')
        px, py = project(*gridset.geometry(v).representative_point().coords[0])
        names.append(f'<text class="{kind}" x="{px:.0f}" y="{py:.0f}">{_e(props["name"])}</text>')
    return (f'<svg class="town" id="town-map" viewBox="0 0 {SVG_WIDTH:.0f} {height:.0f}" '
            f'data-minx="{minx!r}" data-maxy="{maxy!r}" data-sx="{sx!r}" data-sy="{sy!r}" role="img" '
            f'aria-label="map of the town">{"".join(shapes)}{"".join(names)}<circle id="town-pin" r="14" cx="-50" '
            'cy="-50"/></svg>')


def _page(title: str, body: str, lang: Lang, switch_href: str) -> str:
    return (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="referrer" content="same-origin"><title>{_e(title)} · {_e(t("res_town", lang))}</title>'
            f'<style>{STYLE}</style></head><body><header><h1>{_e(title)}</h1>'
            f'<a href="{_e(switch_href)}" id="lang-switch">{_e(t("res_switch", lang))}</a></header>'
            f'<main>{body}</main></body></html>')


def _words(lang: Lang) -> str:
    """The screen words the script needs, as a JSON attribute."""
    keys = ("res_outside", "res_locating", "res_no_geo", "res_place_in", "res_nearby", "res_nearby_hint",
            "res_follow", "res_follows", "res_metres", "res_send", "res_preparing")
    return _e(json.dumps({k: t(k, lang) for k in keys}, ensure_ascii=False))


def proof_fields(token: str) -> str:
    """The hidden fields of the proofs: the signed token, the work the script fills in, the honeypot."""
    return (f'<input type="hidden" name="form_token" value="{_e(token)}"><input type="hidden" name="pow" value="">'
            '<div class="hp" aria-hidden="true"><label>Website<input type="text" name="website" tabindex="-1" '
            'autocomplete="off"></label></div>')


def report_page(svg: str, token: str, bits: int, lang: Lang, max_photos: int, *,
                values: dict[str, str] | None = None, error: str = "") -> str:
    """The report form; ``values`` refill it after a refusal (nothing the resident typed is lost)."""
    v = values or {}
    cats = "".join(
        f'<label><input type="radio" name="category" value="{_e(code)}"'
        f'{" checked" if v.get("category") == code else ""} required>{_e(c[lang])}</label>'
        for code, c in RESIDENT_CATEGORIES.items())
    err = f'<p class="error" id="report-error" role="alert">{_e(error)}</p>' if error else ""
    body = f"""{err}
<form method="post" action="/report?lang={lang}" id="report-form" data-bits="{bits}" data-words="{_words(lang)}"
 enctype="multipart/form-data">
{proof_fields(token)}
<input type="hidden" name="lon" id="report-lon" value="{_e(v.get("lon", ""))}">
<input type="hidden" name="lat" id="report-lat" value="{_e(v.get("lat", ""))}">
<section><h2>{_e(t("res_place", lang))}</h2>
<button type="button" id="report-locate">{_e(t("res_locate", lang))}</button>
<p class="hint">{_e(t("res_tap", lang))}</p>{svg}
<p id="report-place" class="hint">{_e(t("res_no_place", lang))}</p></section>
<section><h2>{_e(t("res_what", lang))}</h2><div class="cats" id="report-categories">{cats}</div></section>
<section id="nearby" hidden></section>
<section><h2>{_e(t("res_describe", lang))}</h2>
<textarea name="description" id="report-description" rows="4" maxlength="{MAX_DESCRIPTION}" required
 placeholder="{_e(t("res_describe_hint", lang))}">{_e(v.get("description", ""))}</textarea>
<label class="field" for="report-photo">{_e(t("res_photos", lang))}</label>
<input type="file" name="photo" id="report-photo" accept="image/jpeg,image/png,image/webp" multiple>
<p class="hint">{_e(t("res_photos_hint", lang).format(n=max_photos))}</p></section>
<section><h2>{_e(t("res_contact", lang))}</h2>
<label class="field" for="report-name">{_e(t("res_name", lang))}</label>
<input type="text" name="name" id="report-name" maxlength="32" value="{_e(v.get("name", ""))}" autocomplete="name">
<label class="field" for="report-phone">{_e(t("res_phone", lang))}</label>
<input type="tel" name="phone" id="report-phone" maxlength="16" value="{_e(v.get("phone", ""))}" autocomplete="tel">
<p class="hint">{_e(t("res_phone_hint", lang))}</p></section>
<button type="submit" class="primary" id="report-send" disabled>{_e(t("res_preparing", lang))}</button>
</form>
<form method="post" action="/resident/follow?lang={lang}" id="follow-form" hidden>{proof_fields(token)}
<input type="hidden" name="case_id" id="follow-case"><input type="hidden" name="phone" id="follow-phone"></form>
<script src="/resident/app.js" defer></script>"""
    return _page(t("res_title", lang), body, lang, f"/report?lang={'en' if lang == 'zh' else 'zh'}")


def tracked_page(case_id: int, code: str, lang: Lang, followed: bool) -> str:
    """After a report or a follow: the case number and the tracking link, shown this once."""
    link = f"/track/{code}"
    body = (f'<section class="ok" id="report-done"><h2>{_e(t("res_followed" if followed else "res_sent", lang))}</h2>'
            f'<p>{_e(t("res_case_no", lang))}:<b id="report-case">{case_id}</b></p>'
            f'<p>{_e(t("res_keep_link", lang))}</p><p class="link" id="report-link">{_e(link)}</p>'
            f'<p><a class="button" id="report-track" href="{_e(link)}?lang={lang}">{_e(t("res_track", lang))}</a> '
            f'<a href="/report?lang={lang}">{_e(t("res_again", lang))}</a></p></section>')
    return _page(t("res_title", lang), body, lang, f"{link}?lang={'en' if lang == 'zh' else 'zh'}")


def message_page(title_key: str, message: str, lang: Lang, back: str = "/report") -> str:
    """A refusal or a not-found page, in words."""
    body = f'<p class="error" id="report-error" role="alert">{_e(message)}</p><p><a href="{_e(back)}">←</a></p>'
    return _page(t(title_key, lang), body, lang, f"{back}?lang={'en' if lang == 'zh' else 'zh'}")


def track_page(view: TrackView, place: str, code: str, lang: Lang, *, reopened: bool = False,
               error: str = "") -> str:
    """The tracking page: the progress in plain words, the public timeline, the 回访 when it is asked."""
    # Where the case stands now: a case sent back (退回, 重办) is at the start of the loop again.
    at = PROGRESS.index(view.status) if view.status in PROGRESS else 0
    steps = "".join(f'<span class="{"done" if i <= at else ""}">{_e(label(CASE_STATUSES, s, lang))}</span>'
                    for i, s in enumerate(PROGRESS))
    items = "".join(f'<li><b>{_e(local(s.at))}</b> {_e(action_label(s.action, lang))}'
                    + (f" → {_e(label(CASE_STATUSES, s.status, lang))}" if s.status else "")
                    + (f":{_e(s.note)}" if s.note else "") + "</li>" for s in view.timeline)
    kind = f"{label(DOMAINS, view.domain, lang)}"
    facts = (f'<p><b>{_e(t("res_case_no", lang))}</b> {view.case_id} · {_e(view.title)}</p>'
             f'<p>{_e(t("res_kind", lang))}:{_e(kind)} · {_e(t("res_where", lang))}:{_e(place)}</p>'
             f'<p>{_e(t("res_reported", lang))}:{_e(local(view.reported_at))} · '
             f'{view.follows} {_e(t("res_follows", lang))}</p>'
             + (f'<p>{_e(t("res_handler", lang))}:{_e(view.handler)}</p>' if view.handler else ""))
    revisit = ""
    if view.can_answer:
        revisit = (f'<section id="revisit"><h2>{_e(t("res_revisit", lang))}</h2>'
                   f'<form method="post" action="/track/{_e(code)}?lang={lang}" id="revisit-form">'
                   f'<label class="field" for="revisit-comment">{_e(t("res_comment", lang))}</label>'
                   f'<textarea name="comment" id="revisit-comment" rows="2" maxlength="{MAX_COMMENT}"></textarea>'
                   f'<p><button type="submit" name="answer" value="yes" id="revisit-yes">'
                   f'{_e(t("res_satisfied", lang))}</button> '
                   f'<button type="submit" name="answer" value="no" id="revisit-no">{_e(t("res_unsatisfied", lang))}'
                   '</button></p></form></section>')
    elif view.answer is not None:
        said = t("res_answered_yes" if view.answer else "res_answered_no", lang)
        revisit = f'<p class="ok" id="revisit-answer">{_e(said)}</p>'
    if reopened:
        revisit += f'<p class="ok" id="revisit-reopened">{_e(t("res_reopened", lang))}</p>'
    err = f'<p class="error" id="report-error" role="alert">{_e(error)}</p>' if error else ""
    body = (f'{err}<section><h2>{_e(t("res_progress", lang))}</h2>'
            f'<p id="track-status" data-status="{_e(view.status)}"><b>{_e(t("res_st_" + view.status, lang))}</b></p>'
            f'<div class="steps">{steps}</div>{facts}</section>{revisit}'
            f'<section><h2>{_e(t("res_timeline", lang))}</h2><ol class="timeline" id="track-timeline">{items}</ol>'
            '</section>')
    return _page(t("res_progress", lang), body, lang, f"/track/{code}?lang={'en' if lang == 'zh' else 'zh'}")
