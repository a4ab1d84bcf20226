"""Coordinate reference systems: the Chinese map datums and the metric CRS.

Grid files and case points may come from Chinese web maps whose coordinates
are deliberately offset from WGS-84: GCJ-02 (Amap/高德, Tencent/腾讯) and BD-09
(Baidu/百度). They are converted to WGS-84 once, at import (docs/design.md §1).
Areas and distances are computed in ``METRIC`` (CGCS2000 Gauss-Krüger,
central meridian 111°E), never in degrees: see `township.grids.spatial`.

CGCS2000 (EPSG:4490) differs from WGS-84 by centimetres, far below what a
grid map can show, so both are treated as the same CRS.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "WGS84",
    "METRIC",
    "normalize_crs",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "to_wgs84",
    "to_wgs84_geom",
    "GKZone",
    "CHINA_LONLAT",
    "looks_lonlat",
    "gauss_kruger_zones",
    "describe_projected",
]

#: Geographic lon/lat CRS of all stored geometry (RFC 7946 GeoJSON).
WGS84 = "EPSG:4326"
#: Metric CRS for areas and distances: CGCS2000 / 3-degree Gauss-Krüger CM 111°E.
METRIC = "EPSG:4546"

# Names a caller may declare, mapped to the three datums we handle.
_CRS_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "crs84": "wgs84",
    "epsg:4490": "wgs84",
    "cgcs2000": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
}

# Krasovsky 1940 ellipsoid, as used by the published GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


def normalize_crs(name: str | None) -> str:
    """Return ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` for a declared CRS name.

    Parameters
    ----------
    name : str or None
        ``None``, "wgs84", "EPSG:4326", "EPSG:4490", "cgcs2000" (all WGS-84),
        "gcj02" or "bd09"; case-insensitive.

    Raises
    ------
    ValueError
        For any other name: guessing a datum would silently shift every grid.
    """
    if name is None:
        return "wgs84"
    key = str(name).strip().lower()
    if key not in _CRS_ALIASES:
        raise ValueError(
            f"unknown CRS {name!r}: expected one of wgs84, EPSG:4326, EPSG:4490, "
            "cgcs2000, gcj02, bd09"
        )
    return _CRS_ALIASES[key]


def _out_of_china(lon: NDArray, lat: NDArray) -> NDArray[np.bool_]:
    # The published algorithm leaves points outside this box unshifted.
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    """GCJ-02 offset (degrees) at WGS-84 ``lon``/``lat``."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    d_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Forward GCJ-02 transform (WGS-84 → GCJ-02), vectorised.

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : ndarray
        GCJ-02 coordinates; points outside China are returned unchanged.
    """
    lon, lat = _arrays(lon, lat)
    d_lon, d_lat = _delta(lon, lat)
    outside = _out_of_china(lon, lat)
    return np.where(outside, lon, lon + d_lon), np.where(outside, lat, lat + d_lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Forward BD-09 transform (GCJ-02 → BD-09), vectorised."""
    lon, lat = _arrays(lon, lat)
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(
    forward: Callable[[NDArray, NDArray], tuple[NDArray, NDArray]],
    lon: NDArray,
    lat: NDArray,
    first_guess: tuple[NDArray, NDArray] | None = None,
) -> tuple[NDArray, NDArray]:
    """Invert ``forward`` by fixed-point iteration.

    The offsets vary slowly (their derivative is ~1e-5), so subtracting the
    residual converges by ~5 orders of magnitude per step; 1e-10° (~1 cm) is
    reached in 2–3 steps. Stops after 30 steps whatever happens (NaN input).
    """
    x, y = first_guess if first_guess is not None else (lon.copy(), lat.copy())
    for _ in range(30):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        x, y = x - dx, y - dy
        if not (np.nanmax(np.abs(dx), initial=0.0) > 1e-10
                or np.nanmax(np.abs(dy), initial=0.0) > 1e-10):
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """GCJ-02 (Amap, Tencent) → WGS-84, vectorised, accurate to well under 1 m.

    Uses the iterative inverse of the forward transform: the one-step
    "subtract the offset" shortcut found in many snippets is off by up to a
    few metres, which matters on a grid border.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : ndarray
        WGS-84 longitude and latitude in degrees.
    """
    lon, lat = _arrays(lon, lat)
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """BD-09 (Baidu) → GCJ-02, vectorised (iterative inverse of `gcj02_to_bd09`)."""
    lon, lat = _arrays(lon, lat)
    # Baidu's published closed-form inverse is a good first guess; iterating
    # removes its residual (~1e-6°).
    x, y = lon - 0.0065, lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    guess = (z * np.cos(theta), z * np.sin(theta))
    return _invert(gcj02_to_bd09, lon, lat, guess)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """BD-09 (Baidu) → WGS-84 via GCJ-02, vectorised."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | None) -> tuple[NDArray, NDArray]:
    """Convert lon/lat arrays in the declared ``crs`` (see `normalize_crs`) to WGS-84."""
    kind = normalize_crs(crs)
    if kind == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if kind == "bd09":
        return bd09_to_wgs84(lon, lat)
    return _arrays(lon, lat)


#: Longest edge (degrees, ≈100 m) kept straight through a datum conversion.
DENSIFY_DEG = 0.001


def to_wgs84_geom(geom, crs: str | None, max_segment_deg: float = DENSIFY_DEG):
    """Convert a shapely geometry (or array of them) from ``crs`` to WGS-84.

    The GCJ-02/BD-09 offsets are non-linear, so a straight edge in GCJ-02 is
    a curve in WGS-84: converting only its end points moves its middle by up
    to metres (2.6 m over a 2 km BD-09 edge), which opens gaps against a
    neighbour that has a vertex there. Edges are therefore first split into
    pieces of at most ``max_segment_deg`` (error then ~1 cm).
    """
    if normalize_crs(crs) == "wgs84":
        return geom
    dense = shapely.segmentize(geom, max_segment_deg)
    return shapely.transform(dense, lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], crs)))


# --- coordinates without a CRS: which Gauss-Krüger zone? -----------------------------------------

#: China's extent (min lon, min lat, max lon, max lat): a CRS that puts a file's coordinates outside it
#: is not likely the file's.
CHINA_LONLAT = (73.0, 17.0, 136.0, 54.0)
# Metres per degree of latitude (a mean meridian arc) and of longitude on the equator: enough to
# tell a zone, which is 3 or 6 degrees wide.
_M_PER_DEG_LAT = 110_900.0
_M_PER_DEG_LON = 111_320.0


@dataclass(frozen=True)
class GKZone:
    """A CGCS2000 Gauss-Krüger zone that could hold a file's projected coordinates."""

    epsg: int
    width: int  # 3 or 6 degrees
    cm: int  # central meridian, degrees east
    prefixed: bool  # the easting carries the zone number (37xxxxxx)
    lon: float  # where the middle of the data would then lie
    lat: float

    @property
    def code(self) -> str:
        """``"EPSG:NNNN"``."""
        return f"EPSG:{self.epsg}"

    def describe(self) -> str:
        """e.g. ``EPSG:4546 (CGCS2000 3-degree Gauss-Krüger CM 111°E, data at 111.20°E 39.92°N)``."""
        zone = f" zone {self.cm // 3 if self.width == 3 else (self.cm + 3) // 6}" if self.prefixed else ""
        return (f"{self.code} (CGCS2000 {self.width}-degree Gauss-Krüger{zone} CM {self.cm}°E, "
                f"data at {self.lon:.2f}°E {self.lat:.2f}°N)")


def looks_lonlat(bounds: Sequence[float]) -> bool:
    """Whether ``(minx, miny, maxx, maxy)`` can be degrees of longitude and latitude."""
    minx, miny, maxx, maxy = bounds
    return -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90


def gauss_kruger_zones(bounds: Sequence[float], near: tuple[float, float] | None = None) -> list[GKZone]:
    """The CGCS2000 Gauss-Krüger zones (EPSG:4491–4554) that put projected ``bounds`` in China.

    An easting of 8 digits carries its zone number (37 500 000 is 3-degree
    zone 37, EPSG:4525; zones 13–23 are 6-degree ones): one answer. A bare
    easting (500 000 ± a few hundred km) fits every central meridian, since a
    northing gives only the latitude: every zone is returned, those nearest
    ``near`` (lon, lat: e.g. the grids in use) first, else from the west.
    Approximate (a zone is hundreds of km wide); the file is then reprojected
    exactly by the code the user picks.
    """
    minx, miny, maxx, maxy = bounds
    x, y = (minx + maxx) / 2, (miny + maxy) / 2
    lat = y / _M_PER_DEG_LAT
    if not CHINA_LONLAT[1] <= lat <= CHINA_LONLAT[3]:
        return []
    per_deg_lon = _M_PER_DEG_LON * np.cos(np.radians(lat))
    zone_min, zone_max = int(minx // 1_000_000), int(maxx // 1_000_000)
    found: list[GKZone] = []
    if zone_min == zone_max and 13 <= zone_min <= 23:  # 6-degree zone number in the easting
        cm = 6 * zone_min - 3
        found.append(GKZone(4491 + zone_min - 13, 6, cm, True, cm + (x - zone_min * 1e6 - 5e5) / per_deg_lon, lat))
    elif zone_min == zone_max and 25 <= zone_min <= 45:  # 3-degree zone number in the easting
        cm = 3 * zone_min
        found.append(GKZone(4513 + zone_min - 25, 3, cm, True, cm + (x - zone_min * 1e6 - 5e5) / per_deg_lon, lat))
    elif minx >= 0 and maxx < 1_000_000:
        offset = (x - 5e5) / per_deg_lon
        found += [GKZone(4534 + (cm - 75) // 3, 3, cm, False, cm + offset, lat) for cm in range(75, 136, 3)]
        found += [GKZone(4502 + (cm - 75) // 6, 6, cm, False, cm + offset, lat) for cm in range(75, 136, 6)]
        found.sort(key=lambda z: (abs(z.cm - near[0]) if near else 0, z.width, z.cm))
    return [z for z in found if CHINA_LONLAT[0] <= z.lon <= CHINA_LONLAT[2]]


def describe_projected(bounds: Sequence[float], near: tuple[float, float] | None = None) -> str:
    """Why coordinates without a CRS cannot be read as lon/lat, and which EPSG codes they likely are."""
    minx, miny, maxx, maxy = bounds
    seen = f"x {minx:,.0f}…{maxx:,.0f}, y {miny:,.0f}…{maxy:,.0f}"
    zones = gauss_kruger_zones(bounds, near)
    if not zones:
        return (f"the coordinates ({seen}) are not lon/lat and fit no CGCS2000 Gauss-Krüger zone in China; "
                "name the file's CRS with --crs EPSG:NNNN")
    if zones[0].prefixed:
        return (f"the coordinates ({seen}) are projected and the file names no CRS: the easting carries its zone, "
                f"so this is {zones[0].describe()}; pass --crs {zones[0].code}")
    three = [z for z in zones if z.width == 3]
    six = [z for z in zones if z.width == 6]
    span = (f"3-degree zones without zone number EPSG:{min(z.epsg for z in three)}–{max(z.epsg for z in three)} "
            f"(CM {min(z.cm for z in three)}°E–{max(z.cm for z in three)}°E) or 6-degree ones "
            f"EPSG:{min(z.epsg for z in six)}–{max(z.epsg for z in six)}")
    if near is not None:
        return (f"the coordinates ({seen}) are projected and the file names no CRS: the northing puts them near "
                f"{zones[0].lat:.1f}°N but cannot tell the central meridian. Near the grids in use "
                f"({near[0]:.1f}°E) the likely code is {three[0].describe()}, else {six[0].describe()}; "
                f"other meridians: {span}. Pass --crs EPSG:NNNN")
    return (f"the coordinates ({seen}) are projected and the file names no CRS: the northing puts them near "
            f"{zones[0].lat:.1f}°N but cannot tell the central meridian: one of the CGCS2000 {span}; "
            "a 3-degree code is 4534 + (CM − 75) / 3, e.g. CM 111°E → EPSG:4546. "
            "Pass --crs EPSG:NNNN with the meridian of the township")
