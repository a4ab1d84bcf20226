"""The field map export: one standalone HTML page for one grid or one warning, offline.

A responder downloads the page once and opens it on a phone with no network
(docs/design.md §3): Leaflet's script and style are inlined from
``assets/vendor/leaflet/`` (folium would link them, with jQuery, Bootstrap and
Font Awesome, from CDNs), there are no base tiles by default, no images and no
web fonts; every mark is a vector (polygons, circles, circle markers) or an
HTML label. Personal data is shown as the role may see it
(`township.domain.privacy`): a ``tel:`` link only for roles that see numbers.

Builders are pure: plain arguments (the frames of `township.read.fieldmap`)
in, an HTML string out. The only file read is the vendored Leaflet, once.

``layout="print"`` gives the same content on A4 portrait (``@page``) for
`township.runtime.render.render_pdf` / ``render_png``; `print_html` is a
shorthand.
"""
from __future__ import annotations

import html as _html
import itertools
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import folium
import pandas as pd
from branca.element import Element, Figure, MacroElement
from folium.template import Template
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from layers.text import t
from township.domain.isotime import LOCAL_TZ
from township.domain.policy import sees_personal
from township.domain.privacy import mask_phone, shown_name, shown_phone
from township.domain.vocab import (
    CASE_STATUS_COLORS,
    CASE_STATUSES,
    CASE_TYPES,
    RESOURCE_COLORS,
    RESOURCE_KINDS,
    WARNING_LEVELS,
    WARNING_STATUSES,
    WARNING_TYPES,
    label,
)
from township.grids.model import GridSet

if TYPE_CHECKING:  # pragma: no cover
    from township.read.fieldmap import FieldMapData

__all__ = [
    "LEAFLET_DIR",
    "NOTE",
    "grid_field_map",
    "warning_field_map",
    "field_map",
    "print_html",
]

Layout = Literal["screen", "print"]

#: The vendored Leaflet 1.9.4 (BSD-2-Clause): leaflet.js, leaflet.css, LICENSE.
LEAFLET_DIR = Path(__file__).resolve().parent.parent / "assets" / "vendor" / "leaflet"
#: Shown on every field map: the geometry is illustrative.
NOTE = t("illustrative")
#: Map background when there are no tiles (the dashboard's offline land colour).
LAND = "#eef0e8"

FOCUS_COLOR = "#0D47A1"
NEIGHBOUR_COLOR = "#78909C"
OVERDUE_COLOR = "#D50000"
#: The nearest resources the grid map's first view includes (all are drawn).
FRAME_RESOURCES = 5
#: The least radius (metres) a warning map frames, so a small circle still shows its surroundings.
MIN_FRAME_M = 400.0


# --------------------------------------------------------------------------
# Vendored Leaflet, inlined
# --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _leaflet() -> tuple[str, str, str]:
    """``(js, css, licence)`` of the vendored Leaflet, ready to inline.

    The source-map comment is dropped (devtools would fetch it) and the CSS
    ``url(images/…)`` references (layer-switcher and default-marker images,
    unused here) become ``none`` so the page names no file at all.
    """
    js = (LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")
    css = (LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")
    licence = (LEAFLET_DIR / "LICENSE").read_text(encoding="utf-8")
    js = re.sub(r"^//# sourceMappingURL=.*$", "", js, flags=re.M)
    css = re.sub(r"url\(\s*['\"]?images/[^)]*\)", "none", css)
    for text, end in ((js, "</script"), (css, "</style"), (licence, "*/")):
        if end in text.lower():
            raise ValueError(f"vendored Leaflet contains {end!r}: it cannot be inlined")
    return js, css, licence


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _esc(value: object) -> str:
    """HTML-escape text, also safe inside the JS template literals folium writes tooltips into."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return (_html.escape(str(value), quote=True)
            .replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;"))


def _local(dt: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored naive-UTC time in China Standard Time; empty for missing."""
    if dt is None or (not isinstance(dt, datetime) and pd.isna(dt)):
        return ""
    if isinstance(dt, pd.Timestamp):
        dt = dt.to_pydatetime()
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(LOCAL_TZ).strftime(fmt)


def _distance(metres: float) -> str:
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


#: For a grid id (or a row's missing one), the role whose masking applies to that grid's people.
RoleOf = Callable[[object], str]


def _role_of(role: str, seen_as: Mapping[str, str] | None) -> RoleOf:
    """The viewer's ``role``, or for the grids of ``seen_as`` (`township.read.fieldmap.for_viewer`) the role given
    there: another village's people are shown masked to a village operator."""
    seen = seen_as or {}
    return lambda grid_id: seen.get(grid_id, role) if isinstance(grid_id, str) else role


def _phone(phone: str | None, role: str) -> str:
    """A phone number as ``role`` may see it: a ``tel:`` link, or masked text without a link."""
    if not phone:
        return '<span class="fm-none">—</span>'
    if sees_personal(role):
        digits = re.sub(r"[^0-9+]", "", phone)
        return f'<a class="fm-tel" href="tel:{_esc(digits)}">☎ {_esc(phone)}</a>'
    return f'<span class="fm-masked" title="按权限遮蔽">{_esc(mask_phone(phone))}</span>'


def _rings(poly: Polygon) -> list[list[list[float]]]:
    return [[[round(y, 6), round(x, 6)] for x, y in ring.coords]
            for ring in (poly.exterior, *poly.interiors)]


def _parts(geom: BaseGeometry) -> list[Polygon]:
    return list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]


def _short_name(gridset: GridSet, grid_id: str, village: str | None) -> str:
    """The grid's name, without its village's name when that village is the one in focus."""
    name = gridset.props(grid_id).get("name") or grid_id
    own = gridset.village_of(grid_id)
    if village and own == village:
        vname = gridset.props(village).get("name") or ""
        if vname and name.startswith(vname) and len(name) > len(vname):
            return name[len(vname):]
    return name


def _rows(frame: pd.DataFrame | None) -> list[dict]:
    return [] if frame is None or frame.empty else frame.to_dict("records")


def _has_point(row: Mapping) -> bool:
    lon, lat = row.get("lon"), row.get("lat")
    return lon is not None and lat is not None and not (pd.isna(lon) or pd.isna(lat))


# --------------------------------------------------------------------------
# The map: folium without CDNs
# --------------------------------------------------------------------------


class OfflineMap(folium.Map):
    """A `folium.Map` that links nothing: Leaflet inlined, no jQuery/Bootstrap/icon fonts.

    The page layout (header, panel, footer) is passed as HTML and placed
    around the map; ``page_css`` styles it.
    """

    default_js: list = []
    default_css: list = []

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <meta name="viewport" content="width=device-width, initial-scale=1" />
            <style>{{ this.leaflet_css }}</style>
            <script>/*! {{ this.leaflet_licence }} */
{{ this.leaflet_js }}</script>
            <style>{{ this.page_css }}</style>
        {% endmacro %}

        {% macro html(this, kwargs) %}
            {{ this.before_html }}
            <div id="fm-map-wrap">
                <div class="folium-map" id={{ this.get_name()|tojson }}></div>
                {{ this.overlay_html }}
            </div>
            {{ this.after_html }}
        {% endmacro %}

        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.map(
                {{ this.get_name()|tojson }},
                {
                    center: {{ this.location|tojson }},
                    crs: L.CRS.{{ this.crs }},
                    ...{{ this.options|tojavascript }}
                }
            );
            L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this.get_name() }});
            if ({{ this.get_name() }}.attributionControl) {
                {{ this.get_name() }}.attributionControl.setPrefix(false);
            }
            window.fieldMap = {{ this.get_name() }};
            // Grid names show only where they fit (data-minzoom), so dense grids do not pile up labels.
            {{ this.get_name() }}.on("zoomend", function () {
                var z = {{ this.get_name() }}.getZoom();
                document.querySelectorAll("[data-minzoom]").forEach(function (e) {
                    e.style.visibility = z >= parseFloat(e.dataset.minzoom) ? "" : "hidden";
                });
            });
        {% endmacro %}
        """
    )

    def __init__(self, location: Sequence[float], *, layout: Layout, page_css: str, before_html: str,
                 after_html: str, overlay_html: str, tile_url: str | None = None, attribution: str = ""):
        super().__init__(
            location=location, zoom_start=14, tiles=None, control_scale=False,
            zoom_control=layout == "screen", attribution_control=bool(tile_url),
            # Fractional zoom frames a grid or a warning tightly (no tiles to keep aligned by default).
            zoom_snap=0.25 if not tile_url else 1, zoom_delta=0.5 if not tile_url else 1,
            # No zoom animation: the fitted view is there at once (also for the PNG/PDF snapshot).
            zoom_animation=False, fade_animation=False,
            # A printed map is a picture: no dragging by accident on the PNG/PDF path.
            **({"dragging": False, "scroll_wheel_zoom": False} if layout == "print" else {}),
        )
        self.leaflet_js, self.leaflet_css, self.leaflet_licence = _leaflet()
        self.page_css = page_css
        self.before_html = before_html
        self.after_html = after_html
        self.overlay_html = overlay_html
        if tile_url:  # an intranet/Tianditu raster layer from configuration; off by default
            folium.TileLayer(tiles=tile_url, attr=attribution or " ", name="base").add_to(self)


class _Label(MacroElement):
    """A text label (an HTML ``L.divIcon``): no marker image, no glyph server."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.marker({{ this.location|tojson }}, {
                icon: L.divIcon({className: {{ this.class_name|tojson }}, html: {{ this.html|tojson }},
                                 iconSize: null}),
                interactive: false, keyboard: false
            }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, location: Sequence[float], html: str, class_name: str):
        super().__init__()
        self._name = "Label"
        self.location = [round(float(v), 6) for v in location]
        self.html = html
        self.class_name = class_name


def _inert(layer: Any) -> Any:
    """Make a vector layer ignore the pointer (folium drops ``interactive`` from path options)."""
    layer.options["interactive"] = False
    return layer


def _tooltip(text: str) -> folium.Tooltip:
    return folium.Tooltip(text, sticky=False)


def _draw_grid(m: folium.Map, gridset: GridSet, grid_id: str, role: str, *, focus: bool,
               fill: str = "#ffffff") -> None:
    p = gridset.props(grid_id)
    tip = (f"<b>{_esc(p.get('name') or grid_id)}</b> ({_esc(grid_id)})<br>"
           f"网格员 {_esc(shown_name(p.get('officer'), role)) or '—'}")
    style = (dict(color=FOCUS_COLOR, weight=4, fill_color=fill, fill_opacity=0.85, class_name="fm-grid fm-focus")
             if focus else
             dict(color=NEIGHBOUR_COLOR, weight=1.5, fill_color="#ffffff", fill_opacity=0.35,
                  class_name="fm-grid fm-neighbour"))
    for part in _parts(gridset.geometry(grid_id)):
        folium.Polygon(_rings(part), tooltip=_tooltip(tip), **style).add_to(m)


def _min_zoom(gridset: GridSet, grid_id: str, text: str, font_px: float) -> float:
    """The Web-Mercator zoom from which ``text`` fits across the grid (so small grids do not pile labels)."""
    minx, _, maxx, _ = gridset.bounds([grid_id])
    width_deg = max(maxx - minx, 1e-9) * 0.8  # irregular shapes: not the whole bounding box
    text_px = font_px * (len(text) + 1)
    return round(math.log2(text_px * 360.0 / (256.0 * width_deg)), 2)


def _label_grids(m: folium.Map, gridset: GridSet, names: Mapping[str, str], focus: bool,
                 always: Iterable[str] = ()) -> None:
    """A name label at a point inside each grid (grid id → text).

    Labels of grids in ``always`` always show; the others show once the map is
    zoomed in far enough for the name to fit across the grid.
    """
    always = set(always)
    for gid, name in names.items():
        pt = gridset.geometry(gid).representative_point()
        cls = "fm-label fm-label-focus" if focus else "fm-label"
        attr = "" if gid in always else f' data-minzoom="{_min_zoom(gridset, gid, name, 15 if focus else 12)}"'
        _Label((pt.y, pt.x), f"<span{attr}>{_esc(name)}</span>", cls).add_to(m)


def _village_groups(gridset: GridSet, ids: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for gid in ids:
        groups.setdefault(gridset.village_of(gid) or "", []).append(gid)
    return groups


def _label_villages(m: folium.Map, gridset: GridSet, groups: Mapping[str, list[str]]) -> None:
    """One label per village with several grids among the labelled, at the middle of those grids."""
    for vid, gids in groups.items():
        if not vid or len(gids) < 2:
            continue
        pt = unary_union([gridset.geometry(g) for g in gids]).representative_point()
        _Label((pt.y, pt.x), f"<span>{_esc(gridset.props(vid).get('name') or vid)}</span>",
               "fm-label fm-label-village").add_to(m)


def _draw_warning(m: folium.Map, w: Mapping) -> None:
    level = int(w["level"])
    colour = WARNING_LEVELS.get(level, {"color": "#757575"})["color"]
    lvl = label(WARNING_LEVELS, level)
    tip = (f"<b>{_esc(lvl)}预警 · {_esc(label(WARNING_TYPES, w.get('type')))}</b><br>{_esc(w.get('title'))}<br>"
           f"半径 {_esc(_distance(float(w['radius_m'])))} · {_esc(label(WARNING_STATUSES, w.get('status')))}")
    loc = [float(w["lat"]), float(w["lon"])]
    # A dark halo under the coloured ring keeps yellow readable on a light map.
    _inert(folium.Circle(loc, radius=float(w["radius_m"]), color="#263238", weight=6, opacity=0.35, fill=False,
                         class_name="fm-warning-halo")).add_to(m)
    # Not interactive: the grids under the disc keep their own tooltips; the centre carries the warning's.
    _inert(folium.Circle(loc, radius=float(w["radius_m"]), color=colour, weight=3, fill_color=colour,
                         fill_opacity=0.12, dash_array="8 5",
                         class_name=f"fm-warning-radius fm-warning-{level}")).add_to(m)
    folium.CircleMarker(loc, radius=7, color="#263238", weight=2, fill_color=colour, fill_opacity=1,
                        tooltip=_tooltip(tip), class_name="fm-warning-centre").add_to(m)
    _Label(loc, f'<span style="border-color:{colour}">⚠ {_esc(lvl)}预警</span>', "fm-label fm-label-warning").add_to(m)


def _draw_cases(m: folium.Map, cases: list[dict]) -> None:
    for i, c in enumerate(cases, 1):
        if not _has_point(c):
            continue
        loc = [float(c["lat"]), float(c["lon"])]
        over = bool(c.get("overdue"))
        tip = (f"<b>事件{i} · {_esc(label(CASE_TYPES, c.get('type')))}</b><br>{_esc(c.get('title'))}<br>"
               f"{_esc(label(CASE_STATUSES, c.get('status')))} · 期限 {_esc(_local(c.get('deadline_at')))}"
               + (' <b style="color:#D50000">超期</b>' if over else ""))
        if over:
            _inert(folium.CircleMarker(loc, radius=12, color=OVERDUE_COLOR, weight=3, fill=False,
                                       dash_array="4 3", class_name="fm-overdue-ring")).add_to(m)
        folium.CircleMarker(loc, radius=7, color="#ffffff", weight=2,
                            fill_color=CASE_STATUS_COLORS.get(c.get("status"), "#757575"), fill_opacity=0.95,
                            tooltip=_tooltip(tip),
                            class_name="fm-case fm-overdue" if over else "fm-case").add_to(m)


def _draw_resources(m: folium.Map, resources: list[dict], role_of: RoleOf) -> None:
    for i, r in enumerate(resources, 1):
        if not _has_point(r):
            continue
        role = role_of(r.get("grid_id"))
        loc = [float(r["lat"]), float(r["lon"])]
        tip = (f"<b>{i}. {_esc(r.get('name'))}</b><br>{_esc(label(RESOURCE_KINDS, r.get('kind')))} · "
               f"{_esc(_where(r))}<br>联系人 {_esc(shown_name(r.get('contact'), role)) or '—'} "
               f"{_esc(shown_phone(r.get('phone'), role))}")
        colour = RESOURCE_COLORS.get(r.get("kind"), "#455A64")
        folium.CircleMarker(loc, radius=6, color="#212121", weight=2, fill_color=colour, fill_opacity=1,
                            tooltip=_tooltip(tip), class_name="fm-resource").add_to(m)
        _Label(loc, f'<span style="background:{colour}">{i}</span>', "fm-label fm-label-resource").add_to(m)


def _where(r: Mapping) -> str:
    d = float(r.get("distance_m") or 0.0)
    direction = r.get("direction") or ""
    return direction if d <= 0 else f"{_distance(d)} {direction}".strip()


def _fit(m: folium.Map, bounds: tuple[float, float, float, float], layout: Layout) -> None:
    minx, miny, maxx, maxy = bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]], padding=(24, 24) if layout == "screen" else (10, 10))


def _circle_bounds(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    dlat = radius_m / 111_320.0
    dlon = radius_m / (111_320.0 * max(math.cos(math.radians(lat)), 1e-6))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def _union(*boxes: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


# --------------------------------------------------------------------------
# The page around the map
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Page:
    """What a field page says around its map, and how it is laid out."""

    title: str
    subtitle: str
    panel: str
    generated_at: datetime
    layout: Layout
    tile_url: str | None
    attribution: str


_BASE_CSS = """
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font-family: "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei",
       "Source Han Sans SC", sans-serif; color: #1f2a30; background: #f5f6f3; font-size: 15px; line-height: 1.45;
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.fm-head { background: #263238; color: #fff; padding: 8px 12px; }
.fm-title { font-size: 19px; font-weight: 700; }
.fm-sub { font-size: 13px; color: #cfd8dc; }
.fm-note-inline { background: #fff3e0; color: #bf360c; padding: 0 6px; border-radius: 3px; white-space: nowrap; }
#fm-map-wrap { position: relative; background: LAND; }
.folium-map { position: absolute; top: 0; right: 0; bottom: 0; left: 0; }
.leaflet-container { background: LAND; font-family: inherit; font-size: 13px; }
.fm-note { position: absolute; z-index: 1000; left: 8px; bottom: 30px; background: #ffffffd9; color: #bf360c;
           padding: 2px 6px; font-size: 12px; border-radius: 3px; pointer-events: none; }
.fm-label span { display: inline-block; transform: translate(-50%, -50%); white-space: nowrap; font-size: 12px;
                 color: #37474f; text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff; }
.fm-label-focus span { font-size: 15px; font-weight: 700; color: #0D47A1; }
.fm-label-village span { font-size: 16px; font-weight: 700; color: #455a64; letter-spacing: 2px; opacity: 0.85; }
.fm-label-warning span { transform: translate(-50%, -34px); font-weight: 700; color: #212121; background: #fff;
                         border: 2px solid; border-radius: 3px; padding: 0 4px; text-shadow: none; }
.fm-label-resource span { transform: translate(5px, -18px); color: #fff; font-weight: 700; font-size: 11px;
                          border-radius: 8px; padding: 0 4px; text-shadow: none; border: 1px solid #fff; }
#fm-panel { padding: 6px 12px 12px; background: #fff; }
#fm-panel h2 { font-size: 16px; margin: 12px 0 4px; color: #263238; border-bottom: 1px solid #cfd8dc; }
#fm-panel ul, #fm-panel ol { margin: 0; padding-left: 20px; }
#fm-panel li { margin: 3px 0; }
.fm-tel { display: inline-block; padding: 1px 8px; border-radius: 12px; background: #e3f2fd; color: #0d47a1;
          text-decoration: none; font-weight: 600; white-space: nowrap; }
.fm-masked { color: #546e7a; white-space: nowrap; }
.fm-none { color: #90a4ae; }
.fm-dim { color: #607d8b; font-size: 13px; }
.fm-chip { display: inline-block; min-width: 1.2em; padding: 0 5px; border-radius: 3px; color: #fff;
           font-size: 12px; text-align: center; }
.fm-chip-y { color: #212121; }
.fm-overdue-tag { color: #fff; background: #D50000; border-radius: 3px; padding: 0 4px; font-size: 12px; }
.fm-empty { color: #78909c; }
.fm-contact { font-size: 16px; }
.fm-foot { padding: 8px 12px 16px; font-size: 12px; color: #607d8b; background: #fff; }
""".replace("LAND", LAND)

_SCREEN_CSS = """
#fm-map-wrap { height: calc(100vh - 58px); min-height: 300px; }
.fm-jump { position: absolute; z-index: 1000; right: 10px; bottom: 30px; background: #263238; color: #fff;
           padding: 6px 12px; border-radius: 18px; text-decoration: none; font-size: 14px;
           box-shadow: 0 1px 3px #0006; }
#fm-panel details > summary { cursor: pointer; font-size: 16px; font-weight: 700; padding: 8px 0; }
@media (min-width: 900px) {
  body { display: grid; grid-template-columns: 1fr 400px; grid-template-rows: auto 1fr auto; height: 100vh; }
  .fm-head { grid-column: 1 / 3; }
  #fm-map-wrap { height: auto; grid-row: 2 / 4; }
  #fm-panel { overflow-y: auto; grid-column: 2; grid-row: 2; }
  .fm-foot { grid-column: 2; grid-row: 3; }
  .fm-jump { display: none; }
}
"""

_PRINT_CSS = """
@page { size: A4 portrait; margin: 10mm; }
body { width: 190mm; margin: 0 auto; background: #fff; font-size: 9.5pt; line-height: 1.35; }
@media screen { body { padding: 10mm 0; } }
.fm-head { background: #fff; color: #000; border-bottom: 2px solid #263238; padding: 0 0 2mm; }
.fm-title { font-size: 15pt; }
.fm-sub { color: #37474f; font-size: 9pt; }
#fm-map-wrap { width: 190mm; height: 140mm; margin-top: 2mm; border: 1px solid #90a4ae; }
.fm-jump { display: none; }
#fm-panel { padding: 0; column-count: 2; column-gap: 6mm; }
#fm-panel li, #fm-panel p { break-inside: avoid; }
#fm-panel h2 { font-size: 11pt; margin: 3mm 0 1mm; break-after: avoid; }
#fm-panel section:first-child h2 { margin-top: 0; }
#fm-panel details > summary { display: none; }
.fm-tel { background: none; padding: 0; color: #000; }
.fm-contact { font-size: 10.5pt; }
.fm-foot { padding: 2mm 0 0; font-size: 8pt; border-top: 1px solid #cfd8dc; margin-top: 3mm; }
"""


def _chip(level: int) -> str:
    entry = WARNING_LEVELS.get(level, {"color": "#757575", "zh": str(level)})
    cls = "fm-chip fm-chip-y" if level == 3 else "fm-chip"
    return f'<span class="{cls}" style="background:{entry["color"]}">{_esc(entry["zh"])}</span>'


def _section(title: str, body: str, cls: str) -> str:
    return f'<section class="{cls}"><h2>{_esc(title)}</h2>{body}</section>'


def _officer_line(gridset: GridSet, gid: str, role: str, village: str | None, attrs: str = "") -> str:
    p = gridset.props(gid)
    name = _esc(shown_name(p.get("officer"), role)) or '<span class="fm-none">—</span>'
    return (f'<li{attrs}><b>{_esc(_short_name(gridset, gid, village))}</b> '
            f'<span class="fm-dim">{_esc(gid)}</span> · 网格员 {name} {_phone(p.get("officer_phone"), role)}</li>')


def _cases_html(cases: list[dict], role: str) -> str:
    if not cases:
        return '<p class="fm-empty">无未办结事件</p>'
    items = []
    for i, c in enumerate(cases, 1):
        colour = CASE_STATUS_COLORS.get(c.get("status"), "#757575")
        over = ' <span class="fm-overdue-tag">超期</span>' if c.get("overdue") else ""
        where = "" if _has_point(c) else ' <span class="fm-dim">(无坐标)</span>'
        items.append(
            f'<li class="fm-case-row" data-case-id="{_esc(c.get("id"))}"><b>事件{i}</b> '
            f'<span class="fm-chip" style="background:{colour}">{_esc(label(CASE_STATUSES, c.get("status")))}</span> '
            f'{_esc(label(CASE_TYPES, c.get("type")))}:{_esc(c.get("title"))}{over}{where}<br>'
            f'<span class="fm-dim">#{_esc(c.get("id"))} · 期限 {_esc(_local(c.get("deadline_at")))}'
            f' · 处置人 {_esc(shown_name(c.get("handler"), role)) or "—"}</span></li>')
    return f'<ol class="fm-cases">{"".join(items)}</ol>'


def _warnings_html(warnings: list[dict]) -> str:
    if not warnings:
        return '<p class="fm-empty">无生效预警</p>'
    items = []
    for w in warnings:
        items.append(
            f'<li class="fm-warning-row" data-warning-id="{_esc(w.get("id"))}">{_chip(int(w["level"]))} '
            f'<b>{_esc(label(WARNING_TYPES, w.get("type")))}</b>:{_esc(w.get("title"))}<br>'
            f'<span class="fm-dim">半径 {_esc(_distance(float(w["radius_m"])))} · '
            f'{_esc(label(WARNING_STATUSES, w.get("status")))} · 发布 {_esc(_local(w.get("issued_at")))}</span></li>')
    return f'<ul class="fm-warnings">{"".join(items)}</ul>'


def _resources_html(resources: list[dict], role_of: RoleOf, near_note: str) -> str:
    if not resources:
        return f'<p class="fm-empty">{_esc(near_note)}内无登记力量</p>'
    items = []
    for i, r in enumerate(resources, 1):
        role = role_of(r.get("grid_id"))
        colour = RESOURCE_COLORS.get(r.get("kind"), "#455A64")
        contact = _esc(shown_name(r.get("contact"), role)) or "—"
        items.append(
            f'<li class="fm-resource-row" data-resource-id="{_esc(r.get("resource_id"))}">'
            f'<span class="fm-chip" style="background:{colour}">{i}</span> <b>{_esc(r.get("name"))}</b> '
            f'<span class="fm-dim">{_esc(label(RESOURCE_KINDS, r.get("kind")))} · {_esc(_where(r))}</span><br>'
            f'联系人 {contact} {_phone(r.get("phone"), role)}</li>')
    return f'<ol class="fm-resources">{"".join(items)}</ol>'


def _legend_html() -> str:
    cases = "".join(
        f'<span class="fm-chip" style="background:{CASE_STATUS_COLORS[s]}">{_esc(label(CASE_STATUSES, s))}</span> '
        for s in ("reported", "dispatched", "accepted", "in_progress", "returned"))
    levels = "".join(_chip(lv) + " " for lv in WARNING_LEVELS)
    return (f'<p class="fm-dim">事件状态 {cases}<br>红虚线圈 = <span class="fm-overdue-tag">超期</span> · '
            f'预警等级 {levels}<br>蓝粗线 = 本网格/受影响网格 · 灰线 = 相邻网格 · 数字 = 力量序号</p>')


def _page(page: _Page) -> tuple[str, str, str, str]:
    """``(css, before_html, after_html, overlay_html)`` of the page around the map."""
    title, subtitle, panel, generated_at, layout = page.title, page.subtitle, page.panel, page.generated_at, page.layout
    css = _BASE_CSS + (_SCREEN_CSS if layout == "screen" else _PRINT_CSS)
    stamp = _local(generated_at, "%Y-%m-%d %H:%M") + " (北京时间)"
    before = (f'<header class="fm-head"><div class="fm-title">{_esc(title)}</div>'
              f'<div class="fm-sub">{subtitle} · 生成于 <time class="fm-generated">{_esc(stamp)}</time> · '
              f'<span class="fm-note-inline">{_esc(NOTE)}</span></div></header>')
    if layout == "screen":
        panel = f'<details open><summary>联系人 · 事件 · 预警 · 力量</summary>{panel}</details>'
    after = (f'<main id="fm-panel">{panel}</main>'
             f'<footer class="fm-foot">{_esc(NOTE)}。生成于 {_esc(stamp)},离线可用:本页不加载任何网络资源。'
             f'距离与方位按 CGCS2000 / EPSG:4546 计算。地图引擎 Leaflet 1.9.4 © 2010–2023 Volodymyr Agafonkin, '
             f'© 2010–2011 CloudMade (BSD-2-Clause)。</footer>')
    overlay = f'<div class="fm-note">{_esc(NOTE)}</div>'
    if layout == "screen":
        overlay += '<a class="fm-jump" href="#fm-panel">联系人 ▾</a>'
    return css, before, after, overlay


def _name_by_place(root: Figure) -> None:
    """Name every element of the page by its place in the tree, not by folium's random hex.

    The same map then gives the same bytes, and the page holds no random digit run
    that reads like a phone number to a privacy check (one did, in a CI run).
    """
    counter = itertools.count()

    def visit(el: Element) -> None:
        el._id = str(next(counter))
        children = list(el._children.values())
        for child in children:
            visit(child)
        el._children = OrderedDict((child.get_name(), child) for child in children)

    for el in (root, root.header, root.html, root.script):
        visit(el)


def _render(m: folium.Map, title: str) -> str:
    root = m.get_root()
    root.title = _esc(title)
    _name_by_place(root)
    out = root.render()
    return out.replace("<html>", '<html lang="zh-CN">', 1)


def _field_page(gridset: GridSet, page: _Page, role_of: RoleOf, *, center: tuple[float, float], focus: Sequence[str],
                neighbours: Sequence[str], warnings: Sequence[Mapping], cases: list[dict], resources: list[dict],
                labels: Callable[[folium.Map], None], frame: tuple[float, float, float, float]) -> str:
    """The one shape of every field page: the page around an offline map of the focus grids and what is near.

    Neighbours are drawn first, then the focus grids, the warnings, the cases and
    the resources; ``labels`` names what the page is about; the first view
    frames ``frame`` (lon/lat bounds).
    """
    css, before, after, overlay = _page(page)
    m = OfflineMap(list(center), layout=page.layout, page_css=css, before_html=before, after_html=after,
                   overlay_html=overlay, tile_url=page.tile_url, attribution=page.attribution)
    for g in neighbours:
        _draw_grid(m, gridset, g, role_of(g), focus=False)
    for g in focus:
        _draw_grid(m, gridset, g, role_of(g), focus=True)
    for w in warnings:
        _draw_warning(m, w)
    _draw_cases(m, cases)
    _draw_resources(m, resources, role_of)
    labels(m)
    _fit(m, frame, page.layout)
    return _render(m, page.title)


# --------------------------------------------------------------------------
# Public builders
# --------------------------------------------------------------------------


def grid_field_map(
    gridset: GridSet,
    grid_id: str,
    *,
    role: str,
    neighbours: Sequence[str] = (),
    cases: pd.DataFrame | None = None,
    warnings: pd.DataFrame | None = None,
    resources: pd.DataFrame | None = None,
    generated_at: datetime | None = None,
    layout: Layout = "screen",
    tile_url: str | None = None,
    attribution: str = "",
    seen_as: Mapping[str, str] | None = None,
) -> str:
    """The field map of one grid, as one standalone offline HTML page.

    Parameters
    ----------
    gridset : GridSet
        The grids in use.
    grid_id : str
        The grid (drawn highlighted, with its officer as the first contact).
    role : str
        Who the page is for (`township.domain.privacy`): names and phones are masked,
        and no ``tel:`` link is written, for roles that may not see them.
    neighbours : sequence of str
        Grids touching it, drawn and listed with their officers.
    cases : DataFrame, optional
        Open cases to draw and list (case columns of `township.read.snapshot` and
        an ``overdue`` bool), in list order.
    warnings : DataFrame, optional
        Warnings reaching the grid (warning columns): circles of ``radius_m``
        metres in the level's colour.
    resources : DataFrame, optional
        Resources in or near, nearest first, with ``distance_m`` and ``direction``.
    generated_at : datetime, optional
        Naive UTC (or aware) time printed on the page; default now.
    layout : {"screen", "print"}
        A phone/desk page, or A4 portrait for PDF/PNG.
    tile_url, attribution : str, optional
        An optional raster base layer (intranet XYZ); none by default, so nothing is fetched.
    seen_as : mapping of str to str, optional
        Grid id → the role whose masking applies to that grid's officer and
        resource contacts (`township.read.fieldmap.for_viewer`); others: ``role``.

    Returns
    -------
    str
        The HTML document.
    """
    generated_at = generated_at or datetime.now(UTC)
    role_of = _role_of(role, seen_as)
    p = gridset.props(grid_id)
    village = gridset.village_of(grid_id)
    vname = gridset.props(village).get("name", village) if village else ""
    case_rows, warn_rows, res_rows = _rows(cases), _rows(warnings), _rows(resources)
    title = f"{p.get('name') or grid_id} · 现场图"
    n_over = sum(bool(c.get("overdue")) for c in case_rows)
    subtitle = (f"{_esc(vname)} · {_esc(grid_id)} · 未办结 {len(case_rows)}"
                + (f' (<b style="color:#ff8a80">超期 {n_over}</b>)' if n_over else "")
                + f" · 预警 {len(warn_rows)}")

    facts = [f"户数 {p['households']}" if p.get("households") is not None else "",
             f"人口 {p['population']}" if p.get("population") is not None else "",
             f"党员 {p['party_members']}" if p.get("party_members") is not None else "",
             f"面积 {gridset.area_km2(grid_id):.2f} km²"]
    officer = _officer_line(gridset, grid_id, role_of(grid_id), village, ' class="fm-officer"')
    fact_text = _esc(" · ".join(f for f in facts if f))
    contact = f'<ul class="fm-contact">{officer}</ul><p class="fm-dim">{fact_text}</p>'
    near = "".join(_officer_line(gridset, g, role_of(g), village, f' data-grid-id="{_esc(g)}"') for g in neighbours)
    panel = "".join([
        _section("网格员 · 联系人", contact, "fm-sec-contacts"),
        _section(f"预警({len(warn_rows)})", _warnings_html(warn_rows), "fm-sec-warnings"),
        _section(f"未办结事件({len(case_rows)})", _cases_html(case_rows, role), "fm-sec-cases"),
        _section(f"附近力量({len(res_rows)})", _resources_html(res_rows, role_of, "2 km "), "fm-sec-resources"),
        _section(f"相邻网格({len(neighbours)})",
                 f'<ul class="fm-neighbours">{near}</ul>' if neighbours else '<p class="fm-empty">无</p>',
                 "fm-sec-neighbours"),
        _section("图例", _legend_html(), "fm-sec-legend"),
    ])
    minx, miny, maxx, maxy = gridset.bounds([grid_id])
    # Frame the grid, its neighbours, its cases and the nearest resources; farther ones are a zoom-out away.
    boxes = [gridset.bounds([grid_id, *neighbours])]
    pts = [(float(r["lon"]), float(r["lat"])) for r in case_rows + res_rows[:FRAME_RESOURCES] if _has_point(r)]
    if pts:
        boxes.append((min(x for x, _ in pts), min(y for _, y in pts), max(x for x, _ in pts), max(y for _, y in pts)))

    def labels(m: folium.Map) -> None:
        _label_grids(m, gridset, {g: _short_name(gridset, g, village) for g in neighbours}, focus=False)
        _label_grids(m, gridset, {grid_id: _short_name(gridset, grid_id, village)}, focus=True, always=[grid_id])

    page = _Page(title=title, subtitle=subtitle, panel=panel, generated_at=generated_at, layout=layout,
                 tile_url=tile_url, attribution=attribution)
    return _field_page(gridset, page, role_of, center=((miny + maxy) / 2, (minx + maxx) / 2), focus=[grid_id],
                       neighbours=neighbours, warnings=warn_rows, cases=case_rows, resources=res_rows,
                       labels=labels, frame=_union(*boxes))


def warning_field_map(
    gridset: GridSet,
    warning: Mapping[str, Any],
    affected: Sequence[str],
    *,
    role: str,
    neighbours: Sequence[str] = (),
    cases: pd.DataFrame | None = None,
    resources: pd.DataFrame | None = None,
    generated_at: datetime | None = None,
    layout: Layout = "screen",
    tile_url: str | None = None,
    attribution: str = "",
    seen_as: Mapping[str, str] | None = None,
) -> str:
    """The field map of one warning, as one standalone offline HTML page.

    Parameters
    ----------
    gridset : GridSet
        The grids in use.
    warning : mapping
        The warning row: ``id``, ``type``, ``level`` (1–4), ``status``,
        ``title``, ``lon``, ``lat``, ``radius_m``, ``issued_at``.
    affected : sequence of str
        The level-3 grids its radius reaches: highlighted, and listed (each
        ``<li data-grid-id=…>``) with their officers as the contacts.
    role : str
        As `grid_field_map`.
    neighbours : sequence of str
        Grids touching the affected ones, drawn for orientation.
    cases, resources, generated_at, layout, tile_url, attribution, seen_as
        As `grid_field_map` (resource distances are from the warning's point).
    """
    generated_at = generated_at or datetime.now(UTC)
    role_of = _role_of(role, seen_as)
    level = int(warning["level"])
    lvl = label(WARNING_LEVELS, level)
    kind = label(WARNING_TYPES, warning.get("type"))
    case_rows, res_rows = _rows(cases), _rows(resources)
    affected = list(affected)
    villages = sorted({v for v in map(gridset.village_of, affected) if v})
    only_village = villages[0] if len(villages) == 1 else None
    title = f"{lvl}预警 · {kind} · 现场图"
    subtitle = (f"{_esc(warning.get('title'))} · 半径 {_esc(_distance(float(warning['radius_m'])))} · "
                f"受影响网格 {len(affected)} · {_esc(label(WARNING_STATUSES, warning.get('status')))}")

    head = (f'<ul class="fm-warnings"><li data-warning-id="{_esc(warning.get("id"))}">{_chip(level)} '
            f'<b>{_esc(kind)}</b>:{_esc(warning.get("title"))}<br><span class="fm-dim">'
            f'中心 {float(warning["lat"]):.5f}°N {float(warning["lon"]):.5f}°E · 半径 '
            f'{_esc(_distance(float(warning["radius_m"])))} · 发布 {_esc(_local(warning.get("issued_at")))}'
            f' · {_esc(label(WARNING_STATUSES, warning.get("status")))}</span></li></ul>')
    aff = ("".join(_officer_line(gridset, g, role_of(g), only_village, f' data-grid-id="{_esc(g)}"') for g in affected)
           if affected else "")
    vnames = "、".join(gridset.props(v).get("name", v) for v in villages)
    panel = "".join([
        _section("预警", head, "fm-sec-warning"),
        _section(f"受影响网格({len(affected)})· 网格员",
                 (f'<p class="fm-dim">{_esc(vnames)}</p><ol class="fm-affected fm-contact">{aff}</ol>'
                  if affected else '<p class="fm-empty">半径内无网格</p>'), "fm-sec-affected"),
        _section(f"未办结事件({len(case_rows)})", _cases_html(case_rows, role), "fm-sec-cases"),
        _section(f"附近力量({len(res_rows)})", _resources_html(res_rows, role_of, "半径外 2 km "), "fm-sec-resources"),
        _section("图例", _legend_html(), "fm-sec-legend"),
    ])
    lon, lat, radius = float(warning["lon"]), float(warning["lat"]), float(warning["radius_m"])

    def labels(m: folium.Map) -> None:
        # Several grids of one village: short names plus the village's name once; a lone grid: its full name.
        groups = _village_groups(gridset, affected)
        names = {g: _short_name(gridset, g, v if len(gs) > 1 else None) for v, gs in groups.items() for g in gs}
        _label_grids(m, gridset, names, focus=True)
        _label_villages(m, gridset, groups)

    page = _Page(title=title, subtitle=subtitle, panel=panel, generated_at=generated_at, layout=layout,
                 tile_url=tile_url, attribution=attribution)
    # Frame the circle (the hazard zone): big affected grids run on past the edges.
    return _field_page(gridset, page, role_of, center=(lat, lon), focus=affected, neighbours=neighbours,
                       warnings=[warning], cases=case_rows, resources=res_rows, labels=labels,
                       frame=_circle_bounds(lon, lat, max(radius, MIN_FRAME_M)))


def field_map(gridset: GridSet, data: FieldMapData, role: str, layout: Layout = "screen",
              tile_url: str | None = None, attribution: str = "") -> str:
    """The page for gathered data (`township.read.fieldmap.grid_fieldmap_data` / ``warning_fieldmap_data``,
    narrowed to the viewer by `township.read.fieldmap.for_viewer`)."""
    common = dict(role=role, neighbours=data.neighbours, cases=data.cases, resources=data.resources,
                  generated_at=data.generated_at, layout=layout, tile_url=tile_url, attribution=attribution,
                  seen_as=data.seen_as)
    if data.subject == "grid":
        return grid_field_map(gridset, data.grid_id, warnings=data.warnings, **common)
    return warning_field_map(gridset, data.warning, data.focus, **common)


def print_html(gridset: GridSet, data: FieldMapData, role: str, tile_url: str | None = None,
               attribution: str = "") -> str:
    """The same page laid out for A4 portrait (``@page``), for `township.runtime.render`."""
    return field_map(gridset, data, role, layout="print", tile_url=tile_url, attribution=attribution)
