"""Write geodata/basemap-illustrative.geojson: where the town is, drawn from the bundled grids alone.

An illustrative base layer (示意) for a map with no internet: the Yellow River along the town's
north-east edge, main roads joining the village seats to the new district, and the settlements
(each village's and community's seat). Nothing here is surveyed: the river follows the town's own
outline at a distance, the roads are the shortest network joining the seats. The map labels it 示意
(layers/basemap.py), and a configured raster base map replaces it.

Deterministic (no randomness, rounded coordinates): running it again gives the same bytes. From the
project root::

    .venv/bin/python scripts/basemap_illustrative.py
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import shapely
from shapely.geometry import LineString, Point, mapping

from layers.maplabels import label_point
from township.grids.spatial import from_metric, to_metric
from township.grids.validate import load_grid_file

ROOT = Path(__file__).resolve().parent.parent
GRIDS = ROOT / "geodata" / "dalu_grids.geojson"
TARGET = ROOT / "geodata" / "basemap-illustrative.geojson"
#: The river's distance outside the town's outline, and the sway of its meanders (metres).
RIVER_OFFSET_M, MEANDER_M = 1800.0, 450.0
#: Decimal places kept: about a metre.
DIGITS = 5


def river(town_m) -> LineString:
    """The Yellow River: the part of a ring round the town facing north-east, with gentle meanders."""
    ring = town_m.buffer(RIVER_OFFSET_M).exterior
    cx, cy = town_m.centroid.x, town_m.centroid.y
    n = 720
    points = [ring.interpolate(i / n, normalized=True) for i in range(n)]
    # keep the arc whose bearing from the centre lies between north-west and east-south-east
    arc = [(p.x, p.y) for p in points if -30 <= math.degrees(math.atan2(p.y - cy, p.x - cx)) <= 115]
    arc.sort(key=lambda xy: -math.atan2(xy[1] - cy, xy[0] - cx))  # from the north-west round to the east
    line = LineString(arc).simplify(60)
    length = line.length
    sway = []
    for i in range(121):
        d = length * i / 120
        p, q = line.interpolate(max(d - 1, 0)), line.interpolate(min(d + 1, length))
        nx, ny = -(q.y - p.y), q.x - p.x
        norm = math.hypot(nx, ny) or 1.0
        s = MEANDER_M * math.sin(d / 2500.0)
        sway.append((p.x + nx / norm * s, p.y + ny / norm * s))
    return LineString(sway)


def roads(seats: dict[str, Point]) -> list[LineString]:
    """The shortest network joining the seats (Prim's minimum spanning tree, in metres)."""
    names = sorted(seats)
    inside, edges = {names[0]}, []
    while len(inside) < len(names):
        a, b = min(((a, b) for a in inside for b in names if b not in inside),
                   key=lambda ab: (seats[ab[0]].distance(seats[ab[1]]), ab))
        inside.add(b)
        edges.append(LineString([seats[a], seats[b]]))
    return edges


def feature(geometry_m, kind: str, label: str = "") -> dict:
    """A GeoJSON feature in lon/lat from a metric geometry."""
    geometry = shapely.set_precision(from_metric(geometry_m), 10 ** -DIGITS)
    return {"type": "Feature", "properties": {"kind": kind, "label": label}, "geometry": mapping(geometry)}


def build(grids_path: Path = GRIDS) -> dict:
    """The illustrative base layer of the grid file at ``grids_path``, as a FeatureCollection."""
    gs = load_grid_file(grids_path)
    town = to_metric(gs.geometry(gs.ids(level=1)[0]))
    seats = {v: to_metric(Point(label_point(gs.geometry(v)))) for v in gs.ids(level=2)}
    features = [feature(river(town), "river", "黄河（示意）")]
    features += [feature(r, "road") for r in roads(seats)]
    features += [feature(seats[v], "settlement", gs.props(v)["name"]) for v in sorted(seats)]
    return {"type": "FeatureCollection", "name": "basemap-illustrative", "features": features}


def main() -> None:
    """Write ``TARGET``."""
    TARGET.write_text(json.dumps(build(), ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{TARGET}: {TARGET.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
