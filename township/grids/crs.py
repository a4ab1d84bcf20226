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

from collections.abc import Callable

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
