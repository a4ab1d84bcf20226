"""Generate the bundled illustrative grid and resource data of 大路镇 Dalu Town.

Run from the project root::

    .venv/bin/python -m geodata.generate

It writes ``geodata/dalu_grids.geojson`` (1 town, 12 villages + 3
communities, 146 grids) and ``geodata/dalu_resources.geojson`` (the
one-point-command resources), then checks them and prints a summary.

No public town boundary exists that may be redistributed, so every line drawn
here is made up: a plausible irregular town of about 731 km² inside the
approximate extent 111.05–111.44 E, 39.93–40.22 N, its north-east edge a wavy
line standing for the Yellow River (黄河), the three communities clustered in a
new district (大路新区) by the river. The data are labelled
示意数据,非官方界线 (illustrative, not official boundaries). Names of the
villages and communities are public; every person, phone number and figure
below grid level is fictitious (the party-member total, 602, is the article's).

How the tiling is built, so that it is exact:

1. Everything is drawn in metres (EPSG:4546, CGCS2000 Gauss-Krüger CM 111°E).
   Villages are Voronoi cells (Lloyd-relaxed, then bent by a smooth
   one-to-one displacement field so borders are not straight) clipped to the
   town; grids are Voronoi cells clipped to their village or community.
2. The 146 grids are transformed to lon/lat, rounded to 6 decimals, and all
   their edges are noded together in one snap-rounding overlay on the 1e-6°
   grid and polygonized. Each face goes back to the grid it came from, so
   neighbouring grids share identical vertices.
3. Villages, communities and the town are the unions of their grids, so
   children cover their parent exactly and never stick out of it.

Deterministic: one fixed seed, no dependence on hash order; two runs give
byte-identical files.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
import shapely
import shapely.affinity
import shapely.geometry
from shapely.geometry import LineString, MultiPoint, Point, Polygon, mapping
from shapely.strtree import STRtree

from township.domain.vocab import RESOURCE_KINDS
from township.grids.spatial import from_metric, to_metric, to_metric_xy

HERE = Path(__file__).resolve().parent
GRIDS_PATH = HERE / "dalu_grids.geojson"
RESOURCES_PATH = HERE / "dalu_resources.geojson"

SEED = 20240409  # the article's date
EXTENT = (111.05, 39.93, 111.44, 40.22)  # lon/lat, approximate town extent
TARGET_AREA_KM2 = 731.0
GRID_DEG = 1e-6  # output precision in degrees (about 0.1 m)
SNAP_UNITS = 4  # vertices within 4e-6° (under 0.5 m) of each other are merged
PARTY_MEMBERS_TOTAL = 602
NOTE = "示意数据,非官方界线 (illustrative data, not official boundaries)"

# Self-check tolerances (metres / square metres).
TOL_COVER_M2 = 10.0  # |union(children) Δ parent|
TOL_OVERLAP_M2 = 1.0  # pairwise sibling intersection
TOL_INSIDE_M = 0.5  # child within parent buffered by this
MIN_POINT_CLEARANCE_M = 5.0  # resource point to its grid's border

VILLAGES = [
    "小滩子村", "尔圪气村", "常树梁村", "老山沟村", "乌兰不浪村", "白大路村",
    "黑圪劳湾村", "东孔兑村", "大沟村", "城壕村", "二旦桥村", "房子滩村",
]
COMMUNITIES = ["创业社区", "杨四圪咀社区", "苗家滩社区"]
# Level-3 grids per village (DL-01..DL-12) and per community (DL-13..DL-15).
VILLAGE_GRIDS = [11, 9, 10, 8, 10, 11, 9, 10, 9, 10, 8, 10]
COMMUNITY_GRIDS = [12, 10, 9]
assert sum(VILLAGE_GRIDS) + sum(COMMUNITY_GRIDS) == 146

# Town outline control points (lon, lat), clockwise from the north-west.
RIVER_CTRL = [
    (111.064, 40.203), (111.12, 40.211), (111.19, 40.197), (111.25, 40.173),
    (111.31, 40.148), (111.36, 40.118), (111.398, 40.078), (111.422, 40.03),
    (111.43, 39.977), (111.416, 39.944),
]
LAND_CTRL = [  # south edge west-bound, then west edge north-bound
    (111.365, 39.941), (111.31, 39.951), (111.268, 39.944), (111.238, 39.96),
    (111.205, 39.963), (111.17, 39.951), (111.13, 39.961), (111.096, 39.988),
    (111.104, 40.021), (111.074, 40.044), (111.059, 40.09), (111.077, 40.124),
    (111.066, 40.16), (111.057, 40.186),
]
# Where the new district (大路新区) sits: a river-side point (lon, lat).
NEW_DISTRICT_AT = (111.335, 40.133)

SURNAMES = list(
    "王李张刘杨赵高郭白贾苏韩乔任武孙闫侯田邬奇云郝薛霍崔康石马杜冯秦吕梁温胡贺"
)
GIVEN = list(
    "建军文华明海平丽霞芳娟英峰强伟飞俊涛磊敏燕红艳玲梅兰东生福贵利荣刚斌鹏宇亮"
    "慧静婷瑞祥喜春秀凤宏志永林鑫晓雪彩润成忠占有金玉桂存旺栋"
)
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
    "152", "153", "155", "156", "158", "159", "177", "180", "182", "185", "186",
    "187", "188", "189", "199",
]


# --------------------------------------------------------------------------
# geometry helpers
# --------------------------------------------------------------------------
def round_deg(geom):
    """Round lon/lat coordinates to 6 decimals."""
    return shapely.transform(geom, lambda c: np.round(c, 6))


def polygons_of(geom) -> list[Polygon]:
    """The polygon parts of any geometry."""
    if geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in polygons_of(g)]
    return []


def uniform_in(region, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points inside ``region`` (rejection sampling)."""
    x0, y0, x1, y1 = region.bounds
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        xy = rng.uniform((x0, y0), (x1, y1), size=(4 * n + 16, 2))
        xy = xy[shapely.contains_xy(region, xy[:, 0], xy[:, 1])]
        out.append(xy)
        got += len(xy)
    return np.concatenate(out)[:n]


def voronoi_cells(points: np.ndarray, extent) -> list:
    """Voronoi cells of ``points`` (in the same order), covering ``extent``."""
    cells = shapely.voronoi_polygons(MultiPoint(points), extend_to=extent, ordered=True)
    return list(cells.geoms)


def lloyd(points: np.ndarray, region, iterations: int) -> np.ndarray:
    """Move seeds to the centroids of their cells clipped to ``region``."""
    pts = np.array(points, dtype=float)
    for _ in range(iterations):
        cells = voronoi_cells(pts, region.envelope.buffer(1000))
        for i, cell in enumerate(cells):
            c = cell.intersection(region)
            if c.is_empty:
                continue
            cen = c.centroid
            if not region.contains(cen):
                cen = c.point_on_surface()
            pts[i] = (cen.x, cen.y)
    return pts


@dataclass
class Warp:
    """A smooth displacement field ``p -> p + D(p)`` that is one-to-one.

    ``D`` is a sum of plane sine waves whose summed slope stays below 0.7 per
    component, so the Jacobian of ``D`` has norm below 0.7·√2 < 1 and the map
    is a bijection of the plane: a tiling stays a tiling after it is warped.
    """

    waves: list[tuple[float, float, float, float, int]] = field(default_factory=list)

    @classmethod
    def random(cls, rng: np.random.Generator, amplitude: float, wavelength: float) -> Warp:
        waves = []
        for comp in (0, 1):
            for a_frac, l_frac in ((1.0, 1.0), (0.3, 0.45)):
                amp, lam = amplitude * a_frac, wavelength * l_frac
                theta, phase = rng.uniform(0, math.pi), rng.uniform(0, 2 * math.pi)
                waves.append((amp, 2 * math.pi / lam, theta, phase, comp))
        slope = max(sum(a * k for a, k, _, _, c in waves if c == comp) for comp in (0, 1))
        assert slope < 0.7, f"warp too steep ({slope:.2f}), it might fold"
        return cls(waves)

    def __call__(self, geom):
        def move(c: np.ndarray) -> np.ndarray:
            out = c.copy()
            for amp, k, theta, phase, comp in self.waves:
                s = c[:, 0] * math.cos(theta) + c[:, 1] * math.sin(theta)
                out[:, comp] += amp * np.sin(k * s + phase)
            return out

        return shapely.transform(geom, move)


def partition(region, seeds: np.ndarray, warp: Warp | None, step: float) -> list:
    """Cut ``region`` into the (possibly warped) Voronoi cells of ``seeds``."""
    extent = region.envelope.buffer(8000)
    cells = voronoi_cells(seeds, extent)
    out = []
    for cell in cells:
        if warp is not None:
            cell = warp(shapely.segmentize(cell, step))
        out.append(shapely.intersection(cell, region, grid_size=1e-3))
    return consolidate(out)


def shared_length(a, b) -> float:
    """Length of border ``a`` shares with ``b`` (tolerant of float noise)."""
    return shapely.intersection(a.boundary, b.buffer(0.05)).length


def consolidate(parts: list) -> list:
    """Give every stray fragment of a partition to the neighbour it shares most border with."""
    parts = list(parts)
    for _ in range(10):
        changed = False
        for i, g in enumerate(parts):
            polys = sorted(polygons_of(g), key=lambda p: -p.area)
            if len(polys) <= 1:
                parts[i] = polys[0] if polys else g
                continue
            changed = True
            parts[i] = polys[0]
            for frag in polys[1:]:
                j = max(
                    (j for j in range(len(parts)) if j != i),
                    key=lambda j: shared_length(frag, parts[j]),
                )
                parts[j] = shapely.union(parts[j], frag.buffer(1e-3), grid_size=1e-3)
        if not changed:
            break
    return parts


def midpoint_displace(a, b, rng, rough: float, min_len: float) -> list[tuple[float, float]]:
    """A fractal line from ``a`` to ``b`` (``b`` excluded)."""
    ax, ay = a
    bx, by = b
    length = math.hypot(bx - ax, by - ay)
    if length <= min_len:
        return [a]
    nx, ny = -(by - ay) / length, (bx - ax) / length
    off = float(np.clip(rng.normal(0.0, rough), -2 * rough, 2 * rough)) * length
    m = ((ax + bx) / 2 + nx * off, (ay + by) / 2 + ny * off)
    return midpoint_displace(a, m, rng, rough, min_len) + midpoint_displace(m, b, rng, rough, min_len)


def smooth_line(points: np.ndarray, step: float) -> np.ndarray:
    """Chaikin-smoothed polyline resampled every ``step`` metres."""
    pts = points
    for _ in range(3):
        q = 0.75 * pts[:-1] + 0.25 * pts[1:]
        r = 0.25 * pts[:-1] + 0.75 * pts[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        pts = np.vstack([points[:1], mid, points[-1:]])
    line = LineString(pts)
    n = max(2, int(line.length // step) + 1)
    return np.array([line.interpolate(d).coords[0] for d in np.linspace(0, line.length, n)])


def town_outline(rng: np.random.Generator) -> tuple[Polygon, LineString]:
    """The town polygon and its river edge, in metres."""
    river_ctrl = np.array([to_metric_xy(*p) for p in RIVER_CTRL])
    land_ctrl = np.array([to_metric_xy(*p) for p in LAND_CTRL])
    # River edge: smooth, then meanders across the flow, fading at both ends.
    river = smooth_line(river_ctrl, 220.0)
    seg = np.diff(river, axis=0)
    tang = np.vstack([seg[:1], (seg[:-1] + seg[1:]) / 2, seg[-1:]])
    tang /= np.linalg.norm(tang, axis=1)[:, None]
    normal = np.column_stack([-tang[:, 1], tang[:, 0]])
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(seg, axis=1))])
    total = s[-1]
    wiggle = np.zeros_like(s)
    for amp, lam in ((420.0, 7800.0), (190.0, 3300.0), (70.0, 1300.0)):
        wiggle += amp * np.sin(2 * math.pi * s / lam + rng.uniform(0, 2 * math.pi))
    taper = np.clip(np.minimum(s, total - s) / 2500.0, 0.0, 1.0)
    river = river + normal * (wiggle * taper)[:, None]
    # Land edges: fractal, as hills and gullies make them.
    land: list[tuple[float, float]] = []
    ring = [tuple(river[-1])] + [tuple(p) for p in land_ctrl] + [tuple(river[0])]
    for a, b in pairwise(ring):
        land += midpoint_displace(a, b, rng, 0.11, 420.0)
    land = land[1:]  # river[-1] is already the river's last vertex
    coords = [tuple(p) for p in river] + land
    poly = Polygon(coords)
    assert poly.is_valid, shapely.is_valid_reason(poly)
    # Scale about the centroid to the target area.
    f = math.sqrt(TARGET_AREA_KM2 * 1e6 / poly.area)
    c = poly.centroid
    return (
        shapely.affinity.scale(poly, f, f, origin=c),
        shapely.affinity.scale(LineString(river), f, f, origin=c),
    )


def new_district(town: Polygon, river: LineString, rng: np.random.Generator) -> Polygon:
    """The 大路新区 block: a rotated rectangle by the river, clipped to the town."""
    at = Point(to_metric_xy(*NEW_DISTRICT_AT))
    d = river.project(at)
    p0, p1 = river.interpolate(d - 1500), river.interpolate(d + 1500)
    ang = math.degrees(math.atan2(p1.y - p0.y, p1.x - p0.x))
    on_river = river.interpolate(d)
    # 4.4 km along the river, 3.2 km inland; a little past the river so it touches it.
    rect = Polygon([(-2200, -3000), (2200, -3000), (2200, 200), (-2200, 200)])
    rect = shapely.segmentize(rect, 400)
    jitter = rng.normal(0, 60, size=(len(rect.exterior.coords) - 1, 2))
    ring = np.array(rect.exterior.coords[:-1]) + jitter
    rect = Polygon(ring)
    rect = shapely.affinity.rotate(rect, ang, origin=(0, 0))
    rect = shapely.affinity.translate(rect, on_river.x, on_river.y)
    district = shapely.intersection(rect, town, grid_size=1e-3)
    return max(polygons_of(district), key=lambda p: p.area)


def order_cells(cells: list) -> list:
    """Order cells north to south in bands, west to east within a band."""
    band = math.sqrt(sum(c.area for c in cells) / len(cells))
    keyed = []
    for c in cells:
        p = c.centroid if c.contains(c.centroid) else c.point_on_surface()
        keyed.append((-math.floor(p.y / band), p.x, c))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [k[2] for k in keyed]


# --------------------------------------------------------------------------
# the tiling
# --------------------------------------------------------------------------
def build_metric_tiling(rng: np.random.Generator):
    """Level-2 units (15) and level-3 grid cells, all in metres."""
    town, river = town_outline(rng)
    district = new_district(town, river, rng)
    rural = shapely.difference(town, district, grid_size=1e-3)

    # Villages: Lloyd-relaxed Voronoi seeds over the rural area, warped borders.
    seeds = lloyd(uniform_in(rural, 12, rng), rural, 4)
    warp = Warp.random(rng, amplitude=450.0, wavelength=9000.0)
    villages = partition(rural, seeds, warp, 250.0)
    # Number villages in reading order (north-west first).
    villages = order_cells(villages)
    # Communities: the district split in three, straight (planned) borders.
    cseeds = lloyd(uniform_in(district, 3, rng), district, 12)
    communities = sorted(partition(district, cseeds, None, 0), key=lambda p: -p.centroid.y)

    units = villages + communities
    counts = VILLAGE_GRIDS + COMMUNITY_GRIDS
    cells: list[list] = []
    for idx, (unit, n) in enumerate(zip(units, counts, strict=True)):
        is_community = idx >= 12
        pts = lloyd(uniform_in(unit, n, rng), unit, 10 if is_community else 6)
        typical = math.sqrt(unit.area / n)
        w = None if is_community else Warp.random(rng, 0.07 * typical, 1.6 * typical)
        parts = partition(unit, pts, w, typical / 8)
        assert len(parts) == n and all(not p.is_empty for p in parts)
        cells.append(order_cells(parts))
    return town, river, units, cells


def share_vertices(geoms: list, tolerance: float) -> list:
    """Insert every neighbour's vertex that lies on a geometry's edge into that edge.

    Where a village border meets a grid border inside the next village (a
    T-junction), both sides then carry the same vertex, so they stay one
    line when rounded.
    """
    tree = STRtree(geoms)
    out = []
    for i, g in enumerate(geoms):
        near = [int(j) for j in tree.query(g.buffer(tolerance)) if int(j) != i]
        pts = shapely.get_coordinates([geoms[j] for j in near])
        pts = pts[shapely.dwithin(g.boundary, shapely.points(pts), tolerance)]
        if len(pts):
            g = shapely.snap(g, MultiPoint(np.unique(pts, axis=0)), tolerance)
        out.append(g)
    return out


def snap_vertices(geoms: list, units: int) -> list:
    """Merge vertices closer than ``units`` × 1e-6° into one, the same in every geometry.

    Neighbouring grids computed separately can end up with copies of one
    corner a rounding step apart; merging them everywhere at once avoids
    needle-short edges after noding.
    """
    keys = sorted({(int(round(x * 1e6)), int(round(y * 1e6))) for g in geoms for x, y in shapely.get_coordinates(g)})
    index = {k: i for i, k in enumerate(keys)}
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (x, y) in enumerate(keys):
        for dx in range(-units, units + 1):
            for dy in range(-units, units + 1):
                j = index.get((x + dx, y + dy))
                if j is not None and j != i:
                    a, b = find(i), find(j)
                    if a != b:
                        parent[max(a, b)] = min(a, b)  # the smallest key represents the cluster

    def move(c: np.ndarray) -> np.ndarray:
        out = np.empty_like(c)
        for n, (x, y) in enumerate(c):
            kx, ky = keys[find(index[(int(round(x * 1e6)), int(round(y * 1e6)))])]
            out[n] = (kx / 1e6, ky / 1e6)
        return out

    return [shapely.remove_repeated_points(shapely.transform(g, move)) for g in geoms]


def exact_lonlat_tiling(cells_m: list[list]) -> list[list]:
    """Lon/lat grid polygons that share identical vertices with their neighbours.

    The rounded grids are noded together in one snap-rounding overlay and
    polygonized; every face is given back to the grid it overlaps most (a
    face in a gap between rounded grids goes to the grid it shares most
    border with).
    """
    flat = share_vertices([c for unit in cells_m for c in unit], 0.05)
    shape = [len(u) for u in cells_m]
    approx = snap_vertices([round_deg(from_metric(c)) for c in flat], SNAP_UNITS)
    approx = [shapely.make_valid(a) if not a.is_valid else a for a in approx]
    lines = shapely.union_all([a.boundary for a in approx], grid_size=GRID_DEG)
    faces = list(shapely.polygonize(list(shapely.get_parts(lines))).geoms)
    tree = STRtree(approx)
    owner: list[int] = []
    for face in faces:
        cand = [int(i) for i in tree.query(face, predicate="intersects")]
        areas = [shapely.intersection(face, approx[i]).area for i in cand]
        if cand and max(areas) > 0.5 * face.area:
            owner.append(cand[int(np.argmax(areas))])
        else:  # a gap: the neighbour sharing most border
            cand = cand or [int(i) for i in tree.query(face.buffer(1e-5))]
            owner.append(max(cand, key=lambda i: face.boundary.intersection(approx[i].buffer(2e-6)).length))
    groups: list[list] = [[] for _ in flat]
    for face, i in zip(faces, owner, strict=True):
        groups[i].append(face)
    result = [shapely.union_all(g, grid_size=GRID_DEG) for g in groups]
    # A grid left in several pieces gives its stray pieces to a neighbour.
    for i, g in enumerate(result):
        polys = sorted(polygons_of(g), key=lambda p: -p.area)
        if len(polys) <= 1:
            continue
        result[i] = polys[0]
        for frag in polys[1:]:
            j = max(
                (j for j in range(len(result)) if j != i),
                key=lambda j: frag.boundary.intersection(result[j].boundary).length,
            )
            result[j] = shapely.union(result[j], frag, grid_size=GRID_DEG)
    out, k = [], 0
    for n in shape:
        out.append(result[k : k + n])
        k += n
    return out


def orient(geom):
    """RFC 7946 winding: exterior rings counter-clockwise, holes clockwise."""
    return shapely.orient_polygons(geom, exterior_cw=False)


# --------------------------------------------------------------------------
# attributes
# --------------------------------------------------------------------------
class People:
    """Unique fictitious names and mobile numbers."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.names: set[str] = set()
        self.phones: set[str] = set()

    def name(self) -> str:
        while True:
            n = SURNAMES[self.rng.integers(len(SURNAMES))]
            n += "".join(GIVEN[self.rng.integers(len(GIVEN))] for _ in range(1 if self.rng.random() < 0.3 else 2))
            if n not in self.names:
                self.names.add(n)
                return n

    def phone(self) -> str:
        while True:
            p = MOBILE_PREFIXES[self.rng.integers(len(MOBILE_PREFIXES))]
            p += "".join(str(self.rng.integers(10)) for _ in range(8))
            if p not in self.phones:
                self.phones.add(p)
                return p


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` that sum to ``total``."""
    raw = weights / weights.sum() * total
    out = np.floor(raw).astype(int)
    rest = total - out.sum()
    order = np.argsort(-(raw - out), kind="stable")
    out[order[:rest]] += 1
    return out


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------
def geometry_json(geom) -> dict:
    g = mapping(orient(geom))

    def rnd(obj):
        if isinstance(obj, (tuple, list)):
            if obj and isinstance(obj[0], float):
                return [round(obj[0], 6), round(obj[1], 6)]
            return [rnd(o) for o in obj]
        return obj

    return {"type": g["type"], "coordinates": rnd(g["coordinates"])}


def write_collection(path: Path, features: list[dict], meta: dict) -> None:
    """One feature per line: small, diff-friendly, byte-stable."""
    head = {"type": "FeatureCollection", "metadata": meta}
    lines = [json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ',"features":[']
    body = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = "\n".join(lines) + "\n" + ",\n".join(body) + "\n]}\n"
    json.loads(text)  # well-formed
    path.write_text(text, encoding="utf-8")


def feature(geometry: dict, props: dict) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def build():
    rng = np.random.default_rng(SEED)
    _town_m, river_m, _units_m, cells_m = build_metric_tiling(rng)
    cells_ll = exact_lonlat_tiling(cells_m)
    units_ll = [shapely.union_all(c, grid_size=GRID_DEG) for c in cells_ll]
    town_ll = shapely.union_all(units_ll, grid_size=GRID_DEG)

    people = People(np.random.default_rng(SEED + 1))
    stats_rng = np.random.default_rng(SEED + 2)
    grid_rows: list[dict] = []
    unit_rows: list[dict] = []
    for u, (unit_cells) in enumerate(cells_ll):
        is_comm = u >= 12
        uid = f"DL-{u + 1:02d}"
        uname = COMMUNITIES[u - 12] if is_comm else VILLAGES[u]
        unit_rows.append({"grid_id": uid, "name": uname, "kind": "community" if is_comm else "village"})
        for k, cell in enumerate(unit_cells):
            hh = int(stats_rng.integers(150, 601) if is_comm else stats_rng.integers(40, 201))
            grid_rows.append(
                {
                    "grid_id": f"{uid}-{k + 1:02d}",
                    "name": f"{uname}第{k + 1}网格",
                    "parent_id": uid,
                    "households": hh,
                    "population": int(round(hh * stats_rng.uniform(2.3, 3.0))),
                    "_geom": cell,
                    "_community": is_comm,
                }
            )
    # 602 party members: at least one per grid, the rest by households (rural
    # grids have relatively more members than their size suggests).
    hh = np.array([r["households"] for r in grid_rows], dtype=float)
    w = np.where([r["_community"] for r in grid_rows], 0.45, 1.6) * hh * stats_rng.uniform(0.6, 1.4, len(hh))
    pm = 1 + largest_remainder(w, PARTY_MEMBERS_TOTAL - len(grid_rows))
    for r, m in zip(grid_rows, pm, strict=True):
        r["party_members"] = int(m)
        r["party_households"] = int(min(m, max(1, round(m * stats_rng.uniform(0.25, 0.5)))))

    features: list[dict] = []
    sums = ("households", "population", "party_members", "party_households")
    town_tot = {k: sum(r[k] for r in grid_rows) for k in sums}
    features.append(
        feature(
            geometry_json(town_ll),
            {"grid_id": "DL", "name": "大路镇", "level": 1, "parent_id": None, "kind": "town", **town_tot},
        )
    )
    for u, ur in enumerate(unit_rows):
        kids = [r for r in grid_rows if r["parent_id"] == ur["grid_id"]]
        features.append(
            feature(
                geometry_json(units_ll[u]),
                {
                    "grid_id": ur["grid_id"],
                    "name": ur["name"],
                    "level": 2,
                    "parent_id": "DL",
                    "kind": ur["kind"],
                    "officer": people.name(),  # 村/社区党组织书记, the level-2 grid head
                    "officer_phone": people.phone(),
                    **{k: sum(r[k] for r in kids) for k in sums},
                },
            )
        )
    for r in grid_rows:
        features.append(
            feature(
                geometry_json(r["_geom"]),
                {
                    "grid_id": r["grid_id"],
                    "name": r["name"],
                    "level": 3,
                    "parent_id": r["parent_id"],
                    "kind": "grid",
                    "officer": people.name(),  # 网格员
                    "officer_phone": people.phone(),
                    **{k: r[k] for k in sums},
                },
            )
        )
    resources = build_resources(np.random.default_rng(SEED + 3), people, grid_rows, unit_rows, units_ll, river_m)
    return features, resources


def build_resources(rng, people: People, grid_rows, unit_rows, units_ll, river_m) -> list[dict]:
    """Resource points, each well inside a level-3 grid."""
    by_unit: dict[str, list[dict]] = {}
    for r in grid_rows:
        by_unit.setdefault(r["parent_id"], []).append(r)
    uids = [u["grid_id"] for u in unit_rows]
    names = {u["grid_id"]: u["name"] for u in unit_rows}
    villages, comms = uids[:12], uids[12:]
    river_band = river_m.buffer(30)
    on_river = [
        uid for uid, geom in zip(uids, units_ll, strict=True)
        if uid in villages and to_metric(geom).intersection(river_band).area > 30 * 800
    ]
    used: set[tuple[str, str]] = set()

    def place(uid: str, kind: str, grid: dict | None = None) -> tuple[dict, list[float]]:
        cands = by_unit[uid]
        if grid is None:
            # prefer a grid not yet holding this kind of resource
            free = [g for g in cands if (g["grid_id"], kind) not in used] or cands
            grid = free[int(rng.integers(len(free)))]
        used.add((grid["grid_id"], kind))
        gm = to_metric(grid["_geom"])
        inner = gm.buffer(-min(120.0, 0.2 * math.sqrt(gm.area)))
        if inner.is_empty:
            inner = gm.buffer(-MIN_POINT_CLEARANCE_M * 3)
        for _ in range(200):
            xy = uniform_in(inner, 1, rng)[0]
            pt = round_deg(from_metric(Point(xy)))
            if grid["_geom"].contains_properly(pt) and to_metric(pt).distance(gm.exterior) > MIN_POINT_CLEARANCE_M:
                return grid, [pt.x, pt.y]
        raise RuntimeError(f"cannot place a point in {grid['grid_id']}")

    items: list[tuple[str, str, str, dict | None]] = []  # (kind, uid, name, grid)
    # 18 pioneer posts: one per village, two per community.
    for uid in villages:
        items.append(("pioneer_post", uid, f"{names[uid]}党员先锋岗", None))
    for uid in comms:
        first = "党员先锋驿站" if names[uid] == "杨四圪咀社区" else "党员先锋岗"
        items.append(("pioneer_post", uid, f"{names[uid]}{first}", None))
        g = by_unit[uid][int(rng.integers(1, len(by_unit[uid])))]
        items.append(("pioneer_post", uid, f"{g['name']}党员先锋岗", g))
    # 40 volunteer teams: five per community, two per village (three in one).
    comm_themes = {
        "创业社区": ["红色物业", "党员先锋", "巾帼", "助老爱幼", "平安巡逻"],
        "杨四圪咀社区": ["党员", "青年", "文明实践", "邻里互助", "应急救援"],
        "苗家滩社区": ["红色宣讲", "巾帼", "环境整治", "法律援助", "关爱留守儿童"],
    }
    village_themes = ["党员先锋", "乡风文明", "护河防汛", "巾帼", "助老", "人居环境整治", "平安巡逻", "移风易俗",
                      "应急救援"]
    for uid in comms:
        for t in comm_themes[names[uid]]:
            items.append(("volunteer_team", uid, f"{names[uid]}{t}志愿服务队", None))
    for i, uid in enumerate(villages):
        themes = list(village_themes)
        if uid in on_river:
            themes.insert(0, "护河防汛")
        picks: list[str] = []
        for t in themes[:1] + [themes[j] for j in rng.permutation(len(themes))]:
            if t not in picks:
                picks.append(t)
        for t in picks[: 3 if i == 0 else 2]:  # 小滩子村 "1+N": one more
            items.append(("volunteer_team", uid, f"{names[uid]}{t}志愿服务队", None))
    # Stations, advisers, centre.
    items.append(("social_work_station", comms[0], "大路镇社工站", None))
    for uid in uids:
        items.append(("civilisation_station", uid, f"{names[uid]}新时代文明实践站", None))
    for uid in uids:
        items.append(("legal_adviser", uid, f"{names[uid]}法律顾问", None))
    items.append(("governance_centre", comms[0], "大路镇综治中心", None))
    # 8 supply depots: the town store in the new district, flood stores by the
    # river, the rest in the hill villages (gullies, mine voids).
    items.append(("supply_depot", comms[1], "大路镇应急物资储备库", None))
    river_pick = on_river[:4]
    hill_pick = [u for u in villages if u not in on_river][:3]
    for uid in river_pick:
        items.append(("supply_depot", uid, f"{names[uid]}防汛应急物资点", None))
    for uid in hill_pick:
        items.append(("supply_depot", uid, f"{names[uid]}应急物资点", None))
    for uid in [u for u in villages if u not in river_pick + hill_pick][: 7 - len(river_pick) - len(hill_pick)]:
        items.append(("supply_depot", uid, f"{names[uid]}应急物资点", None))

    codes = {
        "pioneer_post": "PP", "volunteer_team": "VT", "social_work_station": "SW",
        "civilisation_station": "CS", "legal_adviser": "LA", "governance_centre": "GC",
        "supply_depot": "SD",
    }
    seq: dict[str, int] = {}
    out = []
    for kind, uid, name, g in items:
        assert kind in RESOURCE_KINDS
        seq[kind] = seq.get(kind, 0) + 1
        grid, (x, y) = place(uid, kind, g)
        out.append(
            feature(
                {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
                {
                    "resource_id": f"R-{codes[kind]}-{seq[kind]:02d}",
                    "kind": kind,
                    "name": name,
                    "grid_id": grid["grid_id"],
                    "contact": people.name(),
                    "phone": people.phone(),
                },
            )
        )
    return out


# --------------------------------------------------------------------------
# self-check
# --------------------------------------------------------------------------
def self_check(grids: dict, resources: dict) -> dict:
    """Assert the data are what the app expects; return measured figures."""
    feats = grids["features"]
    props = [f["properties"] for f in feats]
    assert "crs" not in grids
    levels = [p["level"] for p in props]
    assert (levels.count(1), levels.count(2), levels.count(3)) == (1, 15, 146), levels
    ids = [p["grid_id"] for p in props]
    assert len(set(ids)) == len(ids), "duplicate grid ids"
    geoms = {p["grid_id"]: shapely.geometry.shape(f["geometry"]) for p, f in zip(props, feats, strict=True)}
    byid = {p["grid_id"]: p for p in props}
    for gid, g in geoms.items():
        assert g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty, gid
        assert g.is_valid, (gid, shapely.is_valid_reason(g))
        for poly in polygons_of(g):  # RFC 7946 winding
            assert poly.exterior.is_ccw, f"{gid}: exterior ring not counter-clockwise"
            assert all(not r.is_ccw for r in poly.interiors), f"{gid}: hole not clockwise"
        x0, y0, x1, y1 = g.bounds
        assert EXTENT[0] <= x0 and x1 <= EXTENT[2] and EXTENT[1] <= y0 and y1 <= EXTENT[3], (gid, g.bounds)
    assert sum(byid[i]["party_members"] for i in ids if byid[i]["level"] == 3) == PARTY_MEMBERS_TOTAL
    for p in props:
        if p["level"] == 3:
            assert 1 <= p["party_households"] <= p["party_members"], p["grid_id"]
            assert len(p["officer_phone"]) == 11 and p["officer_phone"].isdigit()
    metric = {gid: to_metric(g) for gid, g in geoms.items()}
    town_km2 = metric["DL"].area / 1e6
    assert abs(town_km2 - TARGET_AREA_KM2) <= 0.02 * TARGET_AREA_KM2, town_km2
    worst = {"cover_m2": 0.0, "overlap_m2": 0.0, "outside_m2": 0.0}
    children: dict[str, list[str]] = {}
    for p in props:
        if p["parent_id"] is not None:
            children.setdefault(p["parent_id"], []).append(p["grid_id"])
    for parent, kids in children.items():
        pg = metric[parent]
        assert byid[parent]["level"] + 1 == byid[kids[0]]["level"]
        for k in ("households", "population", "party_members", "party_households"):
            assert byid[parent][k] == sum(byid[c][k] for c in kids), (parent, k)
        union = shapely.union_all([metric[c] for c in kids])
        worst["cover_m2"] = max(worst["cover_m2"], shapely.symmetric_difference(union, pg).area)
        outer = pg.buffer(TOL_INSIDE_M)
        for c in kids:
            worst["outside_m2"] = max(worst["outside_m2"], metric[c].difference(outer).area)
        tree = STRtree([metric[c] for c in kids])
        for a, b in zip(*tree.query([metric[c] for c in kids], predicate="intersects"), strict=True):
            if a < b:
                worst["overlap_m2"] = max(worst["overlap_m2"], metric[kids[a]].intersection(metric[kids[b]]).area)
    assert worst["cover_m2"] < TOL_COVER_M2, worst
    assert worst["overlap_m2"] < TOL_OVERLAP_M2, worst
    assert worst["outside_m2"] == 0.0, worst
    comm_area = [metric[f"DL-{i}"].area / 1e6 for i in (13, 14, 15)]
    assert all(1.0 <= a <= 8.0 for a in comm_area), comm_area

    # resources
    rfe = resources["features"]
    kinds = [f["properties"]["kind"] for f in rfe]
    want = {
        "pioneer_post": 18, "volunteer_team": 40, "social_work_station": 1,
        "civilisation_station": 15, "legal_adviser": 15, "governance_centre": 1,
        "supply_depot": 8,
    }
    assert {k: kinds.count(k) for k in want} == want and len(kinds) == sum(want.values())
    rids = [f["properties"]["resource_id"] for f in rfe]
    assert len(set(rids)) == len(rids)
    grid3 = [i for i in ids if byid[i]["level"] == 3]
    tree3 = STRtree([geoms[i] for i in grid3])
    min_clear = math.inf
    for f in rfe:
        p = f["properties"]
        pt = shapely.geometry.shape(f["geometry"])
        hits = [grid3[i] for i in tree3.query(pt, predicate="intersects")]
        assert hits == [p["grid_id"]], (p["resource_id"], hits)
        assert geoms[p["grid_id"]].contains_properly(pt), p["resource_id"]
        clear = to_metric(pt).distance(metric[p["grid_id"]].boundary)
        min_clear = min(min_clear, clear)
        assert len(p["phone"]) == 11 and p["phone"].isdigit()
    for kind in ("civilisation_station", "legal_adviser"):
        units = sorted(byid[f["properties"]["grid_id"]]["parent_id"] for f in rfe if f["properties"]["kind"] == kind)
        assert units == [f"DL-{i:02d}" for i in range(1, 16)], kind
    gc = [f for f in rfe if f["properties"]["kind"] == "governance_centre"][0]
    assert byid[byid[gc["properties"]["grid_id"]]["parent_id"]]["kind"] == "community"
    return {
        "town_km2": town_km2,
        "community_km2": comm_area,
        "min_point_clearance_m": min_clear,
        "vertices": int(sum(shapely.get_num_coordinates(g) for g in geoms.values())),
        **worst,
    }


def main() -> None:
    grid_feats, res_feats = build()
    meta = {
        "title": "大路镇网格 (示意数据,非官方界线)",
        "note": NOTE,
        "generator": "geodata/generate.py",
        "seed": SEED,
    }
    write_collection(GRIDS_PATH, grid_feats, meta)
    write_collection(
        RESOURCES_PATH,
        res_feats,
        {**meta, "title": "大路镇一点指挥力量 (示意数据)"},
    )
    grids = json.loads(GRIDS_PATH.read_text(encoding="utf-8"))
    resources = json.loads(RESOURCES_PATH.read_text(encoding="utf-8"))
    fig = self_check(grids, resources)
    lv = [f["properties"]["level"] for f in grids["features"]]
    print(f"grids:     {GRIDS_PATH.relative_to(HERE.parent)}  {GRIDS_PATH.stat().st_size / 1024:.0f} KiB  "
          f"sha256 {hashlib.sha256(GRIDS_PATH.read_bytes()).hexdigest()[:12]}")
    print(f"resources: {RESOURCES_PATH.relative_to(HERE.parent)}  {RESOURCES_PATH.stat().st_size / 1024:.0f} KiB  "
          f"sha256 {hashlib.sha256(RESOURCES_PATH.read_bytes()).hexdigest()[:12]}")
    members = sum(f["properties"]["party_members"] for f in grids["features"] if f["properties"]["level"] == 3)
    print(f"levels 1/2/3: {lv.count(1)}/{lv.count(2)}/{lv.count(3)}; resources: {len(resources['features'])}; "
          f"party members: {members}")
    print(f"town area: {fig['town_km2']:.2f} km² (EPSG:4546); communities: "
          + ", ".join(f"{a:.2f}" for a in fig["community_km2"]) + " km²")
    print(f"tiling: max |union Δ parent| {fig['cover_m2']:.4f} m², max sibling overlap {fig['overlap_m2']:.4f} m², "
          f"max outside parent+{TOL_INSIDE_M} m {fig['outside_m2']:.4f} m²; vertices {fig['vertices']}")
    print(f"resources: min clearance to grid border {fig['min_point_clearance_m']:.1f} m")


if __name__ == "__main__":
    main()
