"""Map text: names of villages, communities and grids, placed so that they do not collide.

Each polygon is named at its pole of inaccessibility (the point inside it farthest from its edges,
shapely's ``polylabel``), where a label sits best. The labels of one view are laid out in screen
pixels of that view (Web Mercator at its zoom, as MapLibre draws it): the most important first; a
label that would overlap one already placed is nudged a little (:data:`NUDGES`), and dropped if it
still overlaps. MapLibre then hides what collides at other zooms by itself. All labels of a trace
have one size: plotly gives a map text trace one text size, not one per point.

The map draws them as one ``scattermap`` text trace (:data:`layers.mapfig.LABELS`) in the app's
own font (:data:`layers.basemap.MAP_FONT`); the halo is set on its MapLibre layer by
assets/maplabels.js, as plotly has no attribute for it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from layers.basemap import MAP_FONT

#: Text sizes in px at a 1920×1080 screen: a village name, a grid name.
VILLAGE_SIZE, GRID_SIZE = 17.0, 13.0
#: Width of a character as a share of the text size: CJK characters are square, others narrower.
CJK_WIDTH, OTHER_WIDTH = 1.0, 0.62
#: Height of a line as a share of the text size, and space kept round each label (px).
LINE_HEIGHT, PAD = 1.25, 3.0
#: Where MapLibre may put a name round its point when it does not fit on it (assets/maplabels.js).
ANCHORS = ["center", "top", "bottom", "left", "right"]
#: Label colours and halos: on the light desk map and the dark wall.
THEMES = {"light": ("#1c2b36", "#ffffff"), "dark": ("#ffffff", "#08121a")}


def label_point(geometry: BaseGeometry) -> tuple[float, float]:
    """Where a polygon's name goes: its pole of inaccessibility (the largest part's, for several)."""
    if geometry.geom_type == "MultiPolygon":
        geometry = max(geometry.geoms, key=lambda g: g.area)
    if geometry.geom_type != "Polygon":
        p = geometry.representative_point()
        return p.x, p.y
    # tolerance: a thousandth of the polygon's size, in its own degrees
    minx, miny, maxx, maxy = geometry.bounds
    p = polylabel(geometry, tolerance=max(maxx - minx, maxy - miny) / 1000)
    if not geometry.contains(p):  # polylabel can end on an edge of a thin polygon
        p = geometry.representative_point()
    return p.x, p.y


def text_box(text: str, size: float) -> tuple[float, float]:
    """Width and height in px of ``text`` (lines split by ``<br>``) at ``size`` px."""
    lines = text.split("<br>")
    width = max(sum(CJK_WIDTH if ord(ch) >= 0x2E80 else OTHER_WIDTH for ch in line) for line in lines)
    return width * size, len(lines) * size * LINE_HEIGHT


def to_pixels(lon: np.ndarray, lat: np.ndarray, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator pixels at ``zoom`` (512 px tiles, as MapLibre), y downwards."""
    world = 512 * 2 ** zoom
    x = (np.asarray(lon, float) + 180) / 360 * world
    s = np.sin(np.radians(np.asarray(lat, float)))
    y = (0.5 - np.log((1 + s) / (1 - s)) / (4 * math.pi)) * world
    return x, y


def from_pixels(x: np.ndarray, y: np.ndarray, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of Web Mercator pixels at ``zoom`` (the inverse of :func:`to_pixels`)."""
    world = 512 * 2 ** zoom
    lon = np.asarray(x, float) / world * 360 - 180
    lat = np.degrees(np.arctan(np.sinh(math.pi * (1 - 2 * np.asarray(y, float) / world))))
    return lon, lat


#: Where a label may go, tried in turn: on its point, then nudged up, down, left, right (as shares
#: of its own height and width); a nudge must keep the label's centre inside its own polygon.
NUDGES = ((0.0, 0.0), (0.0, -0.6), (0.0, 0.6), (-0.3, 0.0), (0.3, 0.0))


@dataclass(frozen=True)
class Placed:
    """The labels of one view that are drawn: positions into the input and each one's centre."""

    index: np.ndarray
    lon: np.ndarray
    lat: np.ndarray


def _overlaps(box: tuple[float, float, float, float], boxes: list[tuple[float, float, float, float]]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in boxes)


def place(texts: Sequence[str], lon: Sequence[float], lat: Sequence[float], size: float, zoom: float,
          areas: Sequence[BaseGeometry] | None = None) -> Placed:
    """Lay out labels at ``zoom``: in input order (most important first), nudged or dropped on overlap.

    Parameters
    ----------
    texts, lon, lat
        Each label's text (``<br>`` between lines) and centre.
    size : float
        The text size in px.
    zoom : float
        The view's zoom.
    areas : sequence of shapely geometries, optional
        Each label's polygon (lon/lat): a nudged label's centre stays inside it. Without them
        labels are not nudged.

    Returns
    -------
    Placed
        The kept labels' positions in the input, in input order, and their centres (nudged by
        :data:`NUDGES` where that avoided an overlap); no two of their boxes (:func:`label_boxes`) overlap.
    """
    x, y = to_pixels(np.asarray(lon, float), np.asarray(lat, float), zoom)
    boxes: list[tuple[float, float, float, float]] = []
    kept: list[tuple[int, float, float]] = []  # input position, centre x, y
    for i, text in enumerate(texts):
        area = areas[i] if areas is not None else None
        spot = _free_spot(text, size, x[i], y[i], boxes, zoom, area)
        if spot is not None:
            boxes.append(spot[2])
            kept.append((i, spot[0], spot[1]))
    cx, cy = from_pixels(np.array([k[1] for k in kept]), np.array([k[2] for k in kept]), zoom)
    return Placed(np.array([k[0] for k in kept], int), cx, cy)


def _free_spot(text: str, size: float, x: float, y: float, boxes: list[tuple[float, float, float, float]],
               zoom: float, area: BaseGeometry | None) -> tuple[float, float, tuple[float, float, float, float]] | None:
    """The first of :data:`NUDGES` where ``text`` at ``size`` overlaps none of ``boxes``: centre and padded box.

    A nudge is tried only with the label's ``area``, and kept only if the centre stays inside it.
    """
    w, h = text_box(text, size)
    for dx, dy in NUDGES if area is not None else NUDGES[:1]:
        cx, cy = x + dx * w, y + dy * h
        box = (cx - w / 2 - PAD, cy - h / 2 - PAD, cx + w / 2 + PAD, cy + h / 2 + PAD)
        if _overlaps(box, boxes):
            continue
        if (dx or dy) and area is not None:
            lon, lat = from_pixels(np.array([cx]), np.array([cy]), zoom)
            if not area.contains(Point(float(lon[0]), float(lat[0]))):
                continue
        return cx, cy, box
    return None


def label_boxes(texts: Sequence[str], lon: Sequence[float], lat: Sequence[float], size: float,
                zoom: float) -> list[tuple[float, float, float, float]]:
    """The pixel boxes (without padding) of labels at ``zoom``: what a test checks for overlaps."""
    x, y = to_pixels(np.asarray(lon, float), np.asarray(lat, float), zoom)
    out = []
    for i, text in enumerate(texts):
        w, h = text_box(text, size)
        out.append((x[i] - w / 2, y[i] - h / 2, x[i] + w / 2, y[i] + h / 2))
    return out


def label_trace(theme: str = "light") -> dict:
    """The empty text trace the labels go in (``meta.halo`` is read by assets/maplabels.js)."""
    colour, halo = THEMES[theme]
    return {"type": "scattermap", "name": "labels", "lon": [], "lat": [], "text": [], "mode": "text",
            "textposition": "middle center", "hoverinfo": "skip",
            "textfont": {"family": MAP_FONT, "color": colour, "size": VILLAGE_SIZE},
            "meta": {"halo": halo, "halo_width": 2.0, "anchors": ANCHORS}}


def label_update(texts: Sequence[str], lon: Sequence[float], lat: Sequence[float], size: float,
                 zoom: float, scale: float = 1.0, visible: bool = True,
                 areas: Sequence[BaseGeometry] | None = None) -> dict:
    """The label trace's data for one view: :func:`place` at ``zoom``, sizes × ``scale`` (a 4K wall).

    Placement is done at the 1080p sizes and ``zoom``: a bigger screen fits the same area one
    zoom step in per doubling and draws the text × ``scale``, so every box grows alike.
    """
    placed = place(texts, lon, lat, size, zoom, areas)
    i = placed.index
    return {"lon": np.round(placed.lon, 5), "lat": np.round(placed.lat, 5),
            "text": np.asarray(texts, dtype=object)[i].astype(str),
            "textfont": {"size": round(size * scale, 1)}, "visible": visible and len(i) > 0}

