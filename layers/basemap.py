"""The map's style and view: offline by default, with an optional raster layer."""
from __future__ import annotations

import math

#: Background of the offline style: a plain land colour, no tiles, no glyphs.
LAND = "#eef0e8"
#: Where map fonts would come from: the app itself, never a font server.
GLYPHS = "/assets/glyphs/{fontstack}/{range}.pbf"


def map_style(tile_url: str | None = None, attribution: str = "", background: str = LAND) -> dict:
    """A MapLibre style that loads nothing from outside the app.

    Glyphs point at the app's own assets and no sprite is named, so the map
    never asks a font server; map text is never drawn (labels are hover cards). With
    ``tile_url`` (an intranet XYZ or Tianditu template) a raster layer is added.
    """
    style: dict = {
        "version": 8,
        # MapLibre refuses a style change that has symbol layers (Plotly adds
        # one per point trace) and no glyphs: name our own server's path.
        # No text is drawn, so nothing is ever fetched from it.
        "glyphs": GLYPHS,
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
