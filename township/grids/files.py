"""Reading the grid files GIS offices deliver: GeoJSON, Shapefile (or a .zip of one), GeoPackage, KML/KMZ.

`read_grid_file` turns such a file into the one thing the rest of the core
knows, a grid FeatureCollection in lon/lat with the properties of
docs/design.md §1, and says how it read it (the CRS, the text encoding, which
column became which field) or why it could not. Everything but plain GeoJSON
is read with pyogrio (GDAL). The reprojection to lon/lat happens here, once:
CGCS2000 (EPSG:4490 and its Gauss-Krüger zones EPSG:4491–4554) is inverted to
CGCS2000 lon/lat and taken as WGS-84 — the two differ by centimetres, below
what a grid map shows. Validation stays `township.grids.validate`'s:
`GridFileRead.validate`.

The files themselves are read by `township.grids.sources` (formats, text
encodings); the columns are mapped by `township.grids.mapping`.
"""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping as to_geojson_geometry
from shapely.geometry import shape

from township.grids.crs import CHINA_LONLAT, describe_projected, looks_lonlat, normalize_crs, to_wgs84_geom
from township.grids.mapping import (
    GRID_FIELDS,
    complete_hierarchy,
    grid_properties,
    level_hint,
    match_columns,
)
from township.grids.model import GridSet
from township.grids.rules import Violation
from township.grids.sources import FORMATS, FileRefused, Layer, materialise, read_any
from township.grids.validate import GridValidationError, parse_grid_geojson

__all__ = ["FORMATS", "GridFileRead", "read_grid_file", "read_grid_files"]

#: Where the township roughly is (lon, lat), or a function that tells it when asked.
Near = tuple[float, float] | Callable[[], tuple[float, float] | None] | None


@dataclass
class GridFileRead:
    """A grid file as read by `read_grid_file`: the grids, how they were read, or why they could not be.

    Attributes
    ----------
    geojson : dict or None
        A FeatureCollection of the grids in lon/lat with the grid properties
        (``grid_id``, ``name``, ``level``, ``parent_id``, ``kind`` …); None
        when ``errors``. In WGS-84 unless ``datum`` says GCJ-02/BD-09 (plain
        GeoJSON is passed on as it is; `validate` converts).
    notes : list of str
        What was used: format, layers, CRS, encoding, columns, derived levels.
    errors : list of str
        Why the file could not be read; each names the file, the column or the layer.
    crs, encoding : str or None
        The source CRS (e.g. ``"EPSG:4546"``) and text encoding used.
    mapping : dict
        Column → grid field.
    layers : list of str
        The layers (or files) read.
    datum : str
        ``"wgs84"``, or ``"gcj02"``/``"bd09"`` for plain GeoJSON declared so.
    digest : str
        SHA-256 of the bytes read (every file, sidecars included) and the options.
    """

    geojson: dict | None = None
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    crs: str | None = None
    encoding: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)
    datum: str = "wgs84"
    digest: str = ""

    @property
    def ok(self) -> bool:
        """Whether the file was read (its grids may still break the rules: `validate`)."""
        return self.geojson is not None and not self.errors

    def validate(self, check_spatial: bool = True) -> GridSet:
        """The validated grid set (`township.grids.validate.parse_grid_geojson`).

        Raises
        ------
        GridValidationError
            When the file could not be read (one ``file`` violation per error) or its grids break rules.
        """
        if not self.ok or self.geojson is None:
            raise GridValidationError([Violation(None, "file", e) for e in self.errors])
        return parse_grid_geojson(self.geojson, crs=self.datum, check_spatial=check_spatial)


def read_grid_file(source: str | Path | bytes, *, filename: str | None = None, layer: str | Sequence[str] | None = None,
                   crs: str | None = None, encoding: str | None = None, mapping: Mapping[str, str] | None = None,
                   near: Near = None) -> GridFileRead:
    """Read one grid file (see the module docstring); never raises for a bad file.

    Parameters
    ----------
    source : str, Path or bytes
        The file's path, or its bytes (an upload: then ``filename`` gives its type).
    filename : str, optional
        The name the bytes had (``grids.zip``); defaults to the path's name.
    layer : str or sequence of str, optional
        GeoPackage/KML layer(s) to read (comma-separated or a list). Without it
        a single polygon layer is read, and several are combined when each
        says its level (a level or kind column, or a name like town/villages/grids).
    crs : str, optional
        Overrides the file's CRS: ``EPSG:NNNN`` (any CRS pyproj knows), or
        ``wgs84``/``cgcs2000``, ``gcj02`` (Amap/Tencent), ``bd09`` (Baidu) for lon/lat.
    encoding : str, optional
        Text encoding of a Shapefile's DBF (overrides the ``.cpg`` and detection).
    mapping : mapping, optional
        Column → grid field, for headers not recognised (`township.grids.mapping.HEADER_ALIASES`).
    near : (lon, lat) or a function giving it, optional
        Where the township roughly is (e.g. the grids in use): the zone it
        lies in is named first when a file's coordinates need a CRS (a
        function is called only then).
    """
    return read_grid_files([source], filenames=[filename], layer=layer, crs=crs, encoding=encoding,
                           mapping=mapping, near=near)


def read_grid_files(sources: Sequence[str | Path | bytes], *, filenames: Sequence[str | None] | None = None,
                    layer: str | Sequence[str] | None = None, crs: str | None = None, encoding: str | None = None,
                    mapping: Mapping[str, str] | None = None, near: Near = None) -> GridFileRead:
    """Read several files as the layers of one grid set (town outline, villages, grids); see `read_grid_file`."""
    out = GridFileRead()
    names = list(filenames or [None] * len(sources))
    digest = hashlib.sha256(repr((layer, crs, encoding, sorted((mapping or {}).items()))).encode())
    try:
        datum, override = _parse_crs(crs)
        wanted = [s.strip() for s in layer.split(",")] if isinstance(layer, str) else list(layer or [])
        with tempfile.TemporaryDirectory(prefix="gridfile-") as tmp:
            layers: list[Layer] = []
            for source, name in zip(sources, names, strict=True):
                path = materialise(source, name, Path(tmp))
                layers += read_any(path, Path(tmp), wanted if len(sources) == 1 else [], encoding, out.notes, digest)
        if len(sources) == 1 and wanted:
            out.notes.append(f"layers read: {', '.join(wanted)}")
        out.layers = [lay.name for lay in layers]
        out.geojson = _assemble(layers, datum, override, mapping, near, out)
    except FileRefused as refused:
        out.errors.append(str(refused))
        out.geojson = None
    except (OSError, pyproj.exceptions.ProjError) as exc:  # unreadable, or coordinates PROJ cannot transform
        shown = ", ".join(n or (str(s) if not isinstance(s, bytes | bytearray) else "upload")
                          for s, n in zip(sources, names, strict=True))
        out.errors.append(f"{shown}: {exc}")
        out.geojson = None
    out.digest = digest.hexdigest()
    return out


def _parse_crs(name: str | None) -> tuple[str, pyproj.CRS | None]:
    """``(datum, CRS)`` of a ``crs`` option: a Chinese web datum for lon/lat, or a CRS to reproject from."""
    if name is None:
        return "wgs84", None
    try:
        return normalize_crs(name), None
    except ValueError:
        pass
    try:
        return "wgs84", pyproj.CRS.from_user_input(name)
    except pyproj.exceptions.CRSError as exc:
        raise FileRefused(f"--crs {name}: not a CRS ({exc}); give EPSG:NNNN, wgs84, gcj02 or bd09") from None


def _first_xy(geometry: Any) -> tuple[float, float] | None:
    """The first coordinate pair of a GeoJSON geometry, to tell degrees from metres without parsing it all."""
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    while isinstance(coords, list) and coords and isinstance(coords[0], list):
        coords = coords[0]
    if isinstance(coords, list) and len(coords) >= 2 and all(isinstance(c, int | float) for c in coords[:2]):
        return float(coords[0]), float(coords[1])
    return None


def _is_cgcs2000_or_wgs84(crs: pyproj.CRS) -> bool:
    name = crs.datum.name.replace("_", " ").lower() if crs.datum else ""
    return ("china" in name and "2000" in name) or "world geodetic system 1984" in name or name.startswith("wgs 84")


def _to_lonlat(lay: Layer, src: pyproj.CRS | None, near: Near, out: GridFileRead) -> None:
    """Reproject ``lay``'s polygons from ``src`` (None: the file names none) to lon/lat, in place."""
    geoms = np.array(lay.geoms, dtype=object)
    real = np.array([g is not None and not isinstance(g, dict) for g in lay.geoms], dtype=bool)
    if not real.any():
        return
    if src is None:
        bounds = shapely.total_bounds(geoms[real])
        if looks_lonlat(bounds):
            out.notes.append(f"{lay.name}: no CRS given; the coordinates are lon/lat, read as CGCS2000/WGS-84")
            return
        raise FileRefused(f"{lay.name}: {describe_projected(bounds, near() if callable(near) else near)}")
    code = ":".join(src.to_authority() or ()) or src.name
    out.crs = code if out.crs in (None, code) else f"{out.crs}, {code}"
    if src.is_geographic and _is_cgcs2000_or_wgs84(src):
        out.notes.append(f"{lay.name}: CRS {code} ({src.name}): lon/lat, CGCS2000 taken as WGS-84")
        return
    # Invert the projection on its own datum: CGCS2000 lon/lat is taken as WGS-84 (centimetres apart).
    target = 4490 if _is_cgcs2000_or_wgs84(src) else 4326
    transformer = pyproj.Transformer.from_crs(src, target, always_xy=True)
    geoms[real] = shapely.transform(geoms[real], lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    lay.geoms = list(geoms)
    out.notes.append(f"{lay.name}: CRS {code} ({src.name}) reprojected to lon/lat"
                     + ("" if target == 4490 else "; not CGCS2000: check the result against imagery "
                        "(Beijing 1954 and Xian 1980 need local parameters for metre accuracy)"))


def _assemble(layers: list[Layer], datum: str, override: pyproj.CRS | None, mapping: Mapping[str, str] | None,
              near: Near, out: GridFileRead) -> dict:
    """The grid FeatureCollection of the layers read: reprojected, columns mapped, hierarchy completed."""
    first = layers[0]
    xy = _first_xy(first.geoms[0]) if first.geoms else None
    if (len(layers) == 1 and first.collection is not None and not mapping and override is None
            and first.crs is None and "grid_id" in first.columns and (xy is None or looks_lonlat((*xy, *xy)))):
        # A GeoJSON grid file as the project writes it: passed on as it is, for the validator's own checks.
        out.datum, out.encoding, out.crs = datum, "utf-8", "EPSG:4326" if datum == "wgs84" else datum
        out.mapping = {c: c for c in first.columns if c in GRID_FIELDS}
        out.notes.append(f"{first.name}: GeoJSON with the grid properties, lon/lat ({datum})")
        return first.collection
    for lay in layers:
        if lay.collection is not None:  # GeoJSON geometry to shapely; what does not parse goes on for the validator
            lay.geoms = [_shape(g) for g in lay.geoms]
        if datum != "wgs84":
            out.notes.append(f"{lay.name}: lon/lat in {datum.upper()}, converted to WGS-84")
            real = [i for i, g in enumerate(lay.geoms) if g is not None and not isinstance(g, dict)]
            converted = to_wgs84_geom(np.array([lay.geoms[i] for i in real], dtype=object), datum)
            for i, g in zip(real, converted, strict=True):
                lay.geoms[i] = g
        else:
            _to_lonlat(lay, override or lay.crs, near, out)
    if not any(lay.rows for lay in layers):
        raise FileRefused(f"{', '.join(lay.name for lay in layers)}: no features, so no grids")
    columns = list(dict.fromkeys(c for lay in layers for c in lay.columns))
    match = match_columns(columns, mapping)
    if match.errors:
        raise FileRefused("; ".join(match.errors))
    out.notes += match.notes
    out.mapping = match.fields
    encodings = {lay.encoding for lay in layers if lay.encoding}
    out.encoding = ", ".join(sorted(encodings)) or None
    props, geoms, hints = [], [], []
    says_level = {c for c, f in match.fields.items() if f in ("level", "kind")}
    for lay in layers:
        hint = level_hint(lay.name) if len(layers) > 1 else None
        if len(layers) > 1 and hint is None and not says_level & set(lay.columns):
            raise FileRefused(f"cannot tell which level (town, village/community, grid) the layers hold: "
                              f"{', '.join(f'{x.name} ({len(x.rows)} features)' for x in layers)}; name them "
                              "town/villages/grids (镇/村/网格), add a 层级 column, or read one with --layer")
        props += [grid_properties(row, match.fields) for row in lay.rows]
        geoms += lay.geoms
        hints += [hint] * len(lay.rows)
    shapes = [g if not isinstance(g, dict) else None for g in geoms]
    _outside_china(shapes, out)
    out.notes += complete_hierarchy(props, shapes, hints)
    features = [{"type": "Feature", "properties": p,
                 "geometry": g if g is None or isinstance(g, dict) else to_geojson_geometry(g)}
                for p, g in zip(props, geoms, strict=True)]
    return {"type": "FeatureCollection", "features": features}


def _outside_china(geoms: list[Any], out: GridFileRead) -> None:
    """A note when the grids, read as lon/lat, lie outside China: the CRS given or found is likely wrong."""
    real = np.array([g for g in geoms if g is not None], dtype=object)
    if not real.size:
        return
    minx, miny, maxx, maxy = shapely.total_bounds(real)
    west, south, east, north = CHINA_LONLAT
    if not (west <= minx and maxx <= east and south <= miny and maxy <= north):
        out.notes.append(f"the grids lie at {(minx + maxx) / 2:.2f}°E {(miny + maxy) / 2:.2f}°N, outside China: "
                         "is the CRS right? (--crs EPSG:NNNN names it)")


def _shape(geometry: Any) -> Any:
    """A GeoJSON geometry as shapely, or as it is when it does not parse (the validator says why)."""
    try:
        return shape(geometry) if isinstance(geometry, dict) else None
    except Exception:  # shapely raises several types for malformed coordinates
        return geometry
