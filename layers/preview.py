"""A map figure as a list of 2D drawing steps: the picture the page paints in the map's place until MapLibre
has drawn the map itself.

MapLibre draws in WebGL: on a command centre's old PC, or in headless Chromium's software GL, its first
frame comes a second or more after the page (bench/results.md). The picture is made from the very figure
the page sends (``layout.meta.fit`` names the bounds the browser fits, assets/mapview.js), so it shows the
same areas, colours, points and names in the same Web-Mercator frame, and the browser takes it away once
the map is drawn. It holds only what the figure holds, and nothing of the hover texts.

The browser paints it on a canvas that it keeps in the renderer (assets/mapview.js): an SVG image of the
same drawing is rasterised in the GPU process, which in software GL took 0.3–0.6 s there and held the map's
own start back by as much.

What it draws of a figure, in the figure's order: the style's background, lines and circles (the
illustrative base layer); choroplethmap areas coloured by their colour scale; scattermap markers, lines
and texts (with their halo), of the traces of one subplot that are visible. Coordinates are in px at
``px``, the map size the figure was laid out for; widths, dot and text sizes are in px on the screen,
as MapLibre draws them whatever the zoom.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from plotly.colors import sample_colorscale

from layers.maplabels import from_pixels, to_pixels

#: How far (picture units: px at the laid-out size) a simplified outline may stray from the true one.
SIMPLIFY = 0.5
#: The most areas a picture draws: beyond (a city's 50,000 grids, opened on the grid level) the page has none.
MAX_AREAS = 5_000


class Frame:
    """Lon/lat → picture units: ``bounds`` fitted in ``px``, a unit a px at that size (MapLibre's pixels at
    the zoom that fits them, from their north-west corner).

    Parameters
    ----------
    bounds : (float, float, float, float)
        West, south, east, north: what the map is fitted to.
    px : (int, int)
        The map size the figure was laid out for.
    """

    def __init__(self, bounds: Sequence[float], px: tuple[int, int]) -> None:
        west, south, east, north = (float(v) for v in bounds)
        (x0, x1), (y0, y1) = to_pixels(np.array([west, east]), np.array([north, south]), 0)
        span_x, span_y = max(float(x1 - x0), 1e-12), max(float(y1 - y0), 1e-12)
        self.zoom = math.log2(min(px[0] / span_x, px[1] / span_y))
        self.width, self.height = span_x * 2 ** self.zoom, span_y * 2 ** self.zoom
        self.origin = (float(x0) * 2 ** self.zoom, float(y0) * 2 ** self.zoom)

    def project(self, lon: Iterable[float], lat: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
        """Picture coordinates of points (NaN where a coordinate is missing)."""
        lon_a, lat_a = np.asarray(list(lon), dtype=float), np.asarray(list(lat), dtype=float)  # None → NaN
        x, y = to_pixels(lon_a, lat_a, self.zoom)
        return x - self.origin[0], y - self.origin[1]

    def xy(self, lon: Iterable[float], lat: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`project`, rounded to the unit: a px at the laid-out size; finer is not seen, and costs bytes."""
        x, y = self.project(lon, lat)
        return np.round(x), np.round(y)


def _seq(trace: dict, key: str) -> list:
    """A trace's data array as a list, whether the figure holds a list, a numpy array or nothing."""
    value = trace.get(key)
    return [] if value is None else list(value)


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _ring_path(frame: Frame, ring: Sequence[Sequence[float]]) -> str:
    """A closed ring as SVG path data with relative moves between rounded points (short, and no drift).

    Simplified to :data:`SIMPLIFY` units first: a city's 2,000 village outlines hold 97,000 vertices, most of
    them closer together than a px of the picture.
    """
    pts = np.asarray(ring, dtype=float)
    if len(pts) < 4:
        return ""
    x, y = frame.project(pts[:, 0], pts[:, 1])
    kept = shapely.get_coordinates(shapely.simplify(shapely.linearrings(np.column_stack([x, y])), SIMPLIFY))
    x, y = np.round(kept[:, 0]), np.round(kept[:, 1])
    dx, dy = np.diff(x), np.diff(y)
    keep = (dx != 0) | (dy != 0)
    moves = " ".join(f"{_num(a)} {_num(b)}" for a, b in zip(dx[keep], dy[keep], strict=True))
    return f"M{_num(x[0])} {_num(y[0])}l{moves}z"


def _geometry_path(frame: Frame, geometry: dict) -> str:
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    return "".join(_ring_path(frame, ring) for polygon in polygons for ring in polygon)


def _per_point(value, n: int) -> list:
    return list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * n


def _choropleth(frame: Frame, trace: dict) -> list[dict]:
    """The areas of the locations with a value, filled by the colour scale and outlined as the trace says.

    One step for the trace: MapLibre draws all of a trace's fills, then all of its outlines, so that no
    neighbour's fill covers a shared border (or a chosen grid's wider line). plotly's ``marker.opacity``
    is the outlines' too.
    """
    features = {str(f.get("id")): f for f in (trace.get("geojson") or {}).get("features", [])}
    marker = trace.get("marker") or {}
    line = marker.get("line") or {}
    z = [math.nan if v is None else float(v) for v in _seq(trace, "z")]
    finite = [v for v in z if not math.isnan(v)]
    zmin = float(trace.get("zmin", min(finite, default=0.0)))
    zmax = float(trace.get("zmax", max(finite, default=1.0)))
    scale = trace.get("colorscale") or [[0, "#cccccc"], [1, "#cccccc"]]
    locations = _seq(trace, "locations")
    # outlines and opacity may be one for all or one per location (a chosen grid's wider line)
    n = len(locations)
    strokes, widths = _per_point(line.get("color", "#444444"), n), _per_point(line.get("width", 1), n)
    alphas = _per_point(marker.get("opacity", 1), n)
    # where on the colour scale each value lies (0–1), mixed as plotly mixes it
    shares = [0.5 if zmax <= zmin or math.isnan(v) else min(max((v - zmin) / (zmax - zmin), 0.0), 1.0) for v in z]
    fills = sample_colorscale(scale, shares) if shares else []
    areas = []
    # no locations with values: a level whose geometry comes after the page (ui/dashboard.py grids_inline)
    for grid_id, value, fill, stroke, width, alpha in zip(locations, z, fills, strokes, widths, alphas, strict=False):
        feature = features.get(str(grid_id))
        path = _geometry_path(frame, feature.get("geometry") or {}) if feature else ""
        if not path or math.isnan(value):
            continue
        areas.append({"d": path, "fill": fill, "stroke": stroke, "width": float(width), "alpha": float(alpha)})
    return [{"areas": areas}] if areas else []


def _markers(x: np.ndarray, y: np.ndarray, marker: dict) -> list[dict]:
    """Round dots, one step per colour and size: each dot a zero-length line with round caps.

    A step's dots go top to bottom, each a relative move from the last: short numbers that compress well.
    """
    groups: dict[tuple[str, float], list[tuple[float, float]]] = {}
    for px_, py_, colour, size in zip(x, y, _per_point(marker.get("color", "#1f77b4"), len(x)),
                                      _per_point(marker.get("size", 6), len(x)), strict=True):
        if not (math.isnan(px_) or math.isnan(py_) or colour is None):
            groups.setdefault((str(colour), float(size)), []).append((py_, px_))
    opacity = marker.get("opacity", 1)
    opacity = float(opacity) if isinstance(opacity, (int, float)) else 1.0  # per point: drawn opaque
    out = []
    for (colour, size), dots in groups.items():
        dots.sort()
        moves, last = ["M0 0"], (0.0, 0.0)
        for dot in dots:
            moves.append(f"m{_num(dot[1] - last[1])} {_num(dot[0] - last[0])}h0")
            last = dot
        out.append({"d": "".join(moves), "stroke": colour, "width": size, "cap": "round",
                    "stroke_alpha": opacity, "dots": len(dots)})
    return out


def _lines(x: np.ndarray, y: np.ndarray, colour: str, width: float) -> list[dict]:
    """A line through the points; a missing point breaks it (plotly's ``None`` gaps)."""
    parts, pen = [], "M"
    for px_, py_ in zip(x, y, strict=True):
        if math.isnan(px_) or math.isnan(py_):
            pen = "M"
            continue
        parts.append(f"{pen}{_num(px_)} {_num(py_)}")
        pen = "L"
    return [{"d": "".join(parts), "stroke": colour, "width": width, "cap": "round"}] if parts else []


def _texts(x: np.ndarray, y: np.ndarray, texts: Sequence, font: dict, halo: dict) -> list[dict]:
    """Texts centred on their points (a two-line name's lines under each other), with a halo."""
    placed = [[float(px_), float(py_), str(text).replace("<br>", "\n")]
              for px_, py_, text in zip(x, y, texts, strict=True) if not (math.isnan(px_) or math.isnan(py_)) and text]
    if not placed:
        return []
    return [{"texts": placed, "size": float(font.get("size", 12)), "fill": font.get("color", "#222222"),
             "halo": halo.get("halo"), "halo_width": float(halo.get("halo_width", 0) or 0)}]


def _scatter(frame: Frame, trace: dict) -> list[dict]:
    x, y = frame.xy(_seq(trace, "lon"), _seq(trace, "lat"))
    if not len(x):
        return []
    mode = str(trace.get("mode", "markers"))
    out: list[dict] = []
    if "lines" in mode:
        line = trace.get("line") or {}
        out += _lines(x, y, line.get("color", "#444444"), float(line.get("width", 2)))
    if "markers" in mode:
        out += _markers(x, y, trace.get("marker") or {})
    if "text" in mode:
        meta = trace.get("meta") if isinstance(trace.get("meta"), dict) else {}
        out += _texts(x, y, _per_point(trace.get("text", ""), len(x)), trace.get("textfont") or {}, meta)
    return out


def _matches(condition, properties: dict) -> bool:
    """The few MapLibre filter expressions a style of ours uses: ``all``, ``==``, ``!=`` on ``get``."""
    if not condition:
        return True
    op, *args = condition
    if op == "all":
        return all(_matches(c, properties) for c in args)

    def value(arg):
        return properties.get(arg[1]) if isinstance(arg, list) and arg[:1] == ["get"] else arg

    if op in ("==", "!="):
        return (value(args[0]) == value(args[1])) == (op == "==")
    return True


def _at_zoom(value, zoom: float) -> float:
    """A paint value, or a ``["interpolate", ["linear"], ["zoom"], z0, v0, …]`` of one, at ``zoom``."""
    if not isinstance(value, list):
        return float(value)
    return float(np.interp(zoom, value[3::2], value[4::2]))


def _style(frame: Frame, style: dict) -> list[dict]:
    """The style's background, lines and circles (its texts along lines are left to MapLibre)."""
    out: list[dict] = []
    for layer in style.get("layers", []):
        paint, kind = layer.get("paint") or {}, layer.get("type")
        if kind == "background":
            out.append({"background": paint.get("background-color", "#ffffff")})
            continue
        source = (style.get("sources") or {}).get(layer.get("source"), {})
        data = source.get("data") if isinstance(source.get("data"), dict) else {}
        for feature in data.get("features", []):
            geometry = feature.get("geometry") or {}
            if not _matches(layer.get("filter"), feature.get("properties") or {}):
                continue
            coords = np.asarray(geometry.get("coordinates") or [], dtype=float).reshape(-1, 2)
            x, y = frame.xy(coords[:, 0], coords[:, 1])
            if kind == "line" and geometry.get("type") == "LineString":
                out += _lines(x, y, paint.get("line-color", "#888888"),
                              _at_zoom(paint.get("line-width", 1), frame.zoom))
            elif kind == "circle" and geometry.get("type") == "Point":
                out += _markers(x, y, {"color": paint.get("circle-color"),
                                       "size": 2 * _at_zoom(paint.get("circle-radius", 3), frame.zoom),
                                       "opacity": paint.get("circle-opacity", 1)})
    return out


def figure_picture(figure: dict, bounds: Sequence[float], px: tuple[int, int], subplot: str = "map") -> dict:
    """The drawing of one map subplot of ``figure``, ``bounds`` fitted in ``px`` (see the module).

    Parameters
    ----------
    figure : dict
        A plotly figure as a dict, its map traces with their data (``layers.mapfig``).
    bounds : (float, float, float, float)
        West, south, east, north: what the map shows (the browser fits them to its box).
    px : (int, int)
        The map size the figure's sizes are meant for; a unit of the picture is a px at that size.
    subplot : str
        ``map`` (with the style's base layer) or ``map2`` (the inset).

    Returns
    -------
    dict
        ``size``: the bounds' width and height in units; ``fonts``: the style's font files, which the map
        will need next; ``steps``: what to draw, in order, each named by its ``trace`` ("" for the style's):
        ``background`` (a colour for everything); ``areas`` (SVG path data ``d``, ``fill``, outline
        ``stroke`` and ``width`` px, ``alpha`` for both: all filled, then all outlined); a path ``d``
        stroked (``stroke``, ``width`` px, ``stroke_alpha``, ``cap``; round dots carry their count,
        ``dots``); or ``texts`` ([x, y, text], ``size`` px, ``fill``, ``halo``, ``halo_width`` px).
    """
    frame = Frame(bounds, px)
    style = (figure.get("layout", {}).get(subplot) or {}).get("style") or {}
    steps = [{**step, "trace": ""} for step in _style(frame, style)]
    for trace in _drawn_traces(figure, subplot):
        made = _choropleth(frame, trace) if trace.get("type") == "choroplethmap" else \
            _scatter(frame, trace) if trace.get("type") == "scattermap" else []
        steps += [{**step, "trace": trace.get("name", "")} for step in made]
    fonts = [face["url"] for faces in style.get("font-faces", {}).values() for face in faces]
    return {"size": [round(frame.width, 2), round(frame.height, 2)], "steps": steps, "fonts": fonts}


def _drawn_traces(figure: dict, subplot: str) -> list[dict]:
    return [trace for trace in figure.get("data", [])
            if trace.get("visible", True) not in (False, "legendonly") and trace.get("subplot", "map") == subplot]


def area_count(figure: dict, subplot: str = "map") -> int:
    """How many areas the picture of ``figure`` would draw at most (its shown traces' locations with geometry),
    counted before it is made: :data:`MAX_AREAS` bounds what a page carries."""
    return sum(len(_seq(trace, "locations")) for trace in _drawn_traces(figure, subplot)
               if trace.get("type") == "choroplethmap" and (trace.get("geojson") or {}).get("features"))


def view_bounds(center: dict, zoom: float, px: tuple[int, int]) -> tuple[float, float, float, float]:
    """West, south, east, north of what a MapLibre map of ``px`` shows at ``center`` and ``zoom``."""
    cx, cy = to_pixels(np.array([float(center["lon"])]), np.array([float(center["lat"])]), zoom)
    lon, lat = from_pixels(cx[0] + np.array([-px[0], px[0]]) / 2, cy[0] + np.array([px[1], -px[1]]) / 2, zoom)
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])
