"""The map's style and view: offline by default, with an optional raster layer.

With no raster layer configured the style carries an illustrative base layer (the Yellow River,
main roads, settlements: geodata/basemap-illustrative.geojson, made by
scripts/basemap_illustrative.py) so that the map answers "where is this?" with no internet; it is
labelled 示意 on the map. A configured raster (Tianditu, an intranet XYZ server) replaces it.
"""
from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

#: Background of the offline style: a plain land colour, no tiles.
LAND = "#eef0e8"
#: Where glyph ranges come from: the app itself, never a font server. Every fontstack the map names
#: is declared in ``font-faces`` (:data:`MAP_FONT`); only the control codes' range is fetched here.
GLYPHS = "/assets/glyphs/{fontstack}/{range}.pbf"
#: The fontstack of every map text, and the app's own font file MapLibre renders it from
#: (scripts/map_font.py writes it). CJK characters are outside its ranges: MapLibre draws them
#: with the browser's local fonts (docs/design.md §3).
MAP_FONT = "Township Map"
MAP_FONT_URL = "/assets/fonts/map-latin.ttf"
#: Code point ranges of the font file: Latin-1, general punctuation (·, …), arrows, geometric
#: shapes, stars and ⚠ (the resources' shapes). The line break of a two-line label is a control
#: code MapLibre still looks up: assets/glyphs/ serves that range as an empty glyph set.
MAP_FONT_RANGES = ((0x20, 0xFF), (0x2010, 0x2044), (0x2190, 0x2199), (0x25A0, 0x25FF), (0x2605, 0x2606),
                   (0x26A0, 0x26A0))
#: The illustrative base layer (geodata/, committed).
ILLUSTRATIVE = Path(__file__).resolve().parent.parent / "geodata" / "basemap-illustrative.geojson"
#: Its colours on a light and on a dark (wall) background.
BASE_COLOURS = {
    "light": {"river": "#64b5f6", "road": "#c8b99a", "settlement": "#8d6e63", "text": "#1565c0", "halo": "#ffffff"},
    "dark": {"river": "#1e5f8f", "road": "#4a5a63", "settlement": "#6d7f89", "text": "#81b6e0", "halo": "#08121a"},
}


def font_faces() -> dict:
    """The style's ``font-faces``: :data:`MAP_FONT` from the app's file, for its ranges only."""
    ranges = [f"U+{lo:04X}-{hi:04X}" for lo, hi in MAP_FONT_RANGES]
    return {MAP_FONT: [{"url": MAP_FONT_URL, "unicode-range": ranges}]}


@cache
def illustrative_data(path: Path = ILLUSTRATIVE) -> dict | None:
    """The illustrative base layer's FeatureCollection, read once on first use; None when the file is absent."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def illustrative_layers(theme: str, data: dict) -> tuple[dict, list[dict]]:
    """The source and layers of the illustrative base: river, roads, settlements and their 示意 labels.

    Every feature has a ``kind`` (``river``, ``road``, ``settlement``) and a ``label`` (may be empty).
    """
    c = BASE_COLOURS[theme]
    text = {"text-field": ["get", "label"], "text-font": [MAP_FONT], "text-size": 13}
    paint_text = {"text-color": c["text"], "text-halo-color": c["halo"], "text-halo-width": 1.5}
    layers = [
        {"id": "base-river", "type": "line", "source": "illustrative", "filter": ["==", ["get", "kind"], "river"],
         "layout": {"line-cap": "round", "line-join": "round"},
         "paint": {"line-color": c["river"], "line-width": ["interpolate", ["linear"], ["zoom"], 9, 5, 13, 14]}},
        {"id": "base-road", "type": "line", "source": "illustrative", "filter": ["==", ["get", "kind"], "road"],
         "layout": {"line-cap": "round", "line-join": "round"},
         "paint": {"line-color": c["road"], "line-width": ["interpolate", ["linear"], ["zoom"], 9, 1.5, 13, 4]}},
        {"id": "base-settlement", "type": "circle", "source": "illustrative",
         "filter": ["==", ["get", "kind"], "settlement"],
         "paint": {"circle-radius": 3, "circle-color": c["settlement"], "circle-opacity": 0.8}},
        {"id": "base-river-label", "type": "symbol", "source": "illustrative",
         "filter": ["==", ["get", "kind"], "river"],
         "layout": {**text, "symbol-placement": "line", "text-size": 15, "symbol-spacing": 400}, "paint": paint_text},
        {"id": "base-road-label", "type": "symbol", "source": "illustrative",
         "filter": ["all", ["==", ["get", "kind"], "road"], ["!=", ["get", "label"], ""]],
         "layout": {**text, "symbol-placement": "line", "symbol-spacing": 500}, "paint": paint_text},
    ]
    return {"type": "geojson", "data": data}, layers


def map_style(tile_url: str | None = None, attribution: str = "", background: str = LAND,
              theme: str = "light") -> dict:
    """A MapLibre style that loads nothing from outside the app.

    Glyphs point at the app's own assets and every map text's fontstack is one
    of our ``font-faces`` (:func:`font_faces`), so the map never asks a font
    server; no sprite is named. With ``tile_url`` (an intranet XYZ or Tianditu
    template) a raster layer is added; without it, the illustrative base layer
    (:func:`illustrative_layers`, ``theme`` ``light`` or ``dark``).
    """
    style: dict = {
        "version": 8,
        # MapLibre refuses a style with text layers and no glyphs: name our own server's path.
        "glyphs": GLYPHS,
        "font-faces": font_faces(),
        # Dash's Graph drops empty objects when it writes a zoom back into the
        # figure, and a style without "sources" is refused: keep one, unused.
        "sources": {"blank": {"type": "geojson", "data": {"type": "Point", "coordinates": [0, 0]}}},
        "layers": [{"id": "land", "type": "background", "paint": {"background-color": background}}],
    }
    if tile_url:
        style["sources"]["base"] = {
            "type": "raster", "tiles": [tile_url], "tileSize": 256, "attribution": attribution,
        }
        style["layers"].append({"id": "base", "type": "raster", "source": "base"})
    elif (data := illustrative_data()) is not None:
        source, layers = illustrative_layers(theme, data)
        style["sources"]["illustrative"] = source
        style["layers"] += layers
    return style


def view_for_bounds(bounds: tuple[float, float, float, float], width: int = 900,
                    height: int = 620) -> tuple[dict, float]:
    """Centre and zoom that fit ``bounds`` (lon/lat) in a map of ``width``×``height`` px.

    Web-Mercator: at zoom z the world is 512·2^z px wide in MapLibre.
    """
    minx, miny, maxx, maxy = bounds
    center = {"lon": (minx + maxx) / 2, "lat": (miny + maxy) / 2}

    def merc(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    dx = max(maxx - minx, 1e-6) / 360
    dy = max(merc(maxy) - merc(miny), 1e-6) / (2 * math.pi)
    zoom = math.log2(min(width / 512 / dx, height / 512 / dy)) - 0.15
    return center, round(zoom, 2)
