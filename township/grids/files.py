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

A DBF without a ``.cpg`` does not say its encoding, and GDAL then reads GBK
as Latin-1 (mojibake). Its bytes are therefore read untouched and decoded
here: with the ``.cpg``'s encoding, else UTF-8 when every text decodes as
UTF-8, else GB18030 (a superset of GBK and GB2312); ``encoding=`` overrides.
"""
from __future__ import annotations

import codecs
import hashlib
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping as to_geojson_geometry

from township.grids.crs import describe_projected, looks_lonlat, normalize_crs, to_wgs84_geom
from township.grids.mapping import (
    GRID_FIELDS,
    complete_hierarchy,
    grid_properties,
    level_hint,
    match_columns,
)
from township.grids.model import GridSet, json_loads
from township.grids.rules import Violation
from township.grids.validate import GridValidationError, check_crs_member, parse_grid_geojson

__all__ = ["FORMATS", "GridFileRead", "read_grid_file", "read_grid_files"]

#: File name endings read, and what they are.
FORMATS: dict[str, str] = {".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "Shapefile", ".zip": "zipped files",
                           ".gpkg": "GeoPackage", ".kml": "KML", ".kmz": "KMZ"}
#: A .zip is unpacked up to this many bytes (a city's 50,000 grids are ~100 MB as a Shapefile).
ZIP_LIMIT = 1 << 30
#: Where the township roughly is (lon, lat), or a function that tells it when asked.
Near = tuple[float, float] | Callable[[], tuple[float, float] | None] | None


@dataclass
class _Layer:
    """One layer as read: its rows (column → value), polygons in the file's CRS, and that CRS."""

    name: str
    columns: list[str]
    rows: list[dict[str, Any]]
    geoms: list[Any]  # shapely geometries or GeoJSON geometry dicts (plain GeoJSON, passed through)
    crs: pyproj.CRS | None
    encoding: str | None = None
    collection: dict | None = None  # a GeoJSON file as parsed, passed on untouched when it needs no mapping


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


class _Refused(Exception):
    """A file that cannot be read; the message says why and what to do."""


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
            layers: list[_Layer] = []
            for source, name in zip(sources, names, strict=True):
                path = _materialise(source, name, Path(tmp))
                layers += _read_any(path, Path(tmp), wanted if len(sources) == 1 else [], encoding, out, digest)
        if len(sources) == 1 and wanted:
            out.notes.append(f"layers read: {', '.join(wanted)}")
        out.layers = [lay.name for lay in layers]
        out.geojson = _assemble(layers, datum, override, mapping, near, out)
    except _Refused as refused:
        out.errors.append(str(refused))
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
        raise _Refused(f"--crs {name}: not a CRS ({exc}); give EPSG:NNNN, wgs84, gcj02 or bd09") from None


def _materialise(source: str | Path | bytes, name: str | None, tmp: Path) -> Path:
    """The path of ``source``; bytes are written under ``name`` in ``tmp``."""
    if isinstance(source, bytes | bytearray):
        if not name:
            raise _Refused("an uploaded grid file needs its file name (to know its format)")
        path = tmp / Path(name).name
        path.write_bytes(bytes(source))
        return path
    path = Path(source)
    if not path.exists():
        raise _Refused(f"{path}: no such file")
    return path


def _read_any(path: Path, tmp: Path, wanted: list[str], encoding: str | None, out: GridFileRead,
              digest: Any) -> list[_Layer]:
    """The layers of the file at ``path`` (a .zip is unpacked into ``tmp`` first)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise _Refused(f"{path.name}: unknown format {suffix or '(no suffix)'}; "
                       f"grid files are {', '.join(sorted(set(FORMATS)))}")
    if suffix == ".zip":
        digest.update(path.read_bytes())
        inner = _unzip(path, tmp)
        out.notes.append(f"{path.name}: read {', '.join(p.name for p in inner)}")
        layers: list[_Layer] = []
        for p in inner:
            layers += _read_any(p, tmp, wanted, encoding, out, hashlib.sha256())
        return layers
    if suffix == ".shp":
        return [_read_shapefile(path, encoding, out, digest)]
    digest.update(path.read_bytes())
    if suffix in (".geojson", ".json"):
        return [_read_geojson(path)]
    return _read_layers(path, wanted, out)


def _unzip(path: Path, tmp: Path) -> list[Path]:
    """Unpack the grid files of a .zip (by base name only) into a fresh folder; the grid files in it."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise _Refused(f"{path.name}: not a readable .zip file") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and "__MACOSX" not in m.filename]
        if sum(m.file_size for m in members) > ZIP_LIMIT:
            raise _Refused(f"{path.name}: unpacks to more than {ZIP_LIMIT >> 20} MB")
        folder = Path(tempfile.mkdtemp(dir=tmp))
        for m in members:
            (folder / Path(m.filename).name).write_bytes(archive.read(m))
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in FORMATS and p.suffix.lower() != ".zip")
    if not found:
        raise _Refused(f"{path.name}: holds no grid file (.shp with its .dbf, .gpkg, .kml, .geojson); "
                       f"found {', '.join(sorted(p.name for p in folder.iterdir())) or 'nothing'}")
    return found


def _sidecar(shp: Path, ext: str) -> Path | None:
    """``shp``'s sidecar with extension ``ext``, in any letter case."""
    for p in shp.parent.iterdir():
        if p.stem == shp.stem and p.suffix.lower() == ext:
            return p
    return None


def _codec(name: str) -> str:
    """A Python codec for an encoding name as .cpg files write it (UTF-8, GBK, 936, ANSI 936)."""
    text = name.strip().upper().removeprefix("ANSI").strip()
    text = {"65001": "utf-8", "936": "gb18030"}.get(text, text if not text.isdigit() else f"cp{text}")
    try:
        codec = codecs.lookup(text).name
    except LookupError:
        raise _Refused(f"unknown text encoding {name!r}; use e.g. UTF-8, GBK, GB18030") from None
    # GB18030 reads all of GBK and GB2312, including the rare characters of names.
    return "gb18030" if codec in ("gbk", "gb2312", "cp936") else codec


def _dbf_texts(dbf: bytes) -> list[bytes]:
    """The raw bytes of a DBF's field names and text cells (enough to tell its encoding)."""
    if len(dbf) < 32:
        return []
    header_len = int.from_bytes(dbf[8:10], "little")
    record_len = int.from_bytes(dbf[10:12], "little")
    fields, texts, pos, offset = [], [], 32, 1  # each record starts with its deletion flag
    while pos + 32 <= min(header_len, len(dbf)) and dbf[pos] != 0x0D:
        desc = dbf[pos:pos + 32]
        texts.append(desc[:11].split(b"\0", 1)[0])
        fields.append((chr(desc[11]), offset, desc[16]))
        offset, pos = offset + desc[16], pos + 32
    for start in range(header_len, len(dbf) - record_len + 1, max(record_len, 1)):
        texts += [dbf[start + o:start + o + n].strip(b" \0") for t, o, n in fields if t == "C"]
    return texts


def _detect_encoding(dbf: bytes) -> str:
    """UTF-8 when every text of the DBF decodes as UTF-8 (a cut last character allowed), else GB18030."""
    for text in _dbf_texts(dbf):
        try:
            codecs.getincrementaldecoder("utf-8")().decode(text, final=False)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def _read_shapefile(shp: Path, encoding: str | None, out: GridFileRead, digest: Any) -> _Layer:
    """A Shapefile, its text decoded from the DBF's bytes (see the module docstring)."""
    dbf, cpg, prj = (_sidecar(shp, ext) for ext in (".dbf", ".cpg", ".prj"))
    if dbf is None:
        raise _Refused(f"{shp.name}: its {shp.stem}.dbf (the attributes: codes, names) is missing; "
                       f"give all of {shp.stem}.shp, .shx, .dbf, .prj, .cpg together, e.g. zipped")
    raw = dbf.read_bytes()
    for p in (shp, dbf, cpg, prj, _sidecar(shp, ".shx")):
        if p is not None:
            digest.update(p.read_bytes())
    if encoding:
        codec, how = _codec(encoding), "as given"
    elif cpg is not None:
        codec, how = _codec(cpg.read_text(encoding="ascii", errors="replace")), f"from {cpg.name}"
    else:
        codec, how = _detect_encoding(raw), "detected from the .dbf bytes, no .cpg"
    out.notes.append(f"{shp.name}: text encoding {codec.upper()} ({how})")
    if prj is None:
        out.notes.append(f"{shp.name}: no .prj")
    layer = _read_ogr(shp, None, "ISO-8859-1")  # bytes through untouched: decoded below
    layer.columns = [_decode(c, codec, shp, cut_ok=True) for c in layer.columns]
    layer.rows = [{_decode(k, codec, shp, cut_ok=True): _decode(v, codec, shp) if isinstance(v, str) else v
                   for k, v in row.items()} for row in layer.rows]
    layer.encoding = codec
    return layer


def _decode(text: str, codec: str, shp: Path, cut_ok: bool = False) -> str:
    """Text read as Latin-1 decoded as ``codec``; a header cut inside a character by the DBF loses that character."""
    data = text.encode("latin-1")
    try:
        return codecs.getincrementaldecoder(codec)().decode(data, final=not cut_ok)
    except UnicodeDecodeError:
        raise _Refused(f"{shp.name}: text {data[:30]!r} is not {codec.upper()}; "
                       "give the encoding with --encoding (e.g. GBK or UTF-8)") from None


def _read_ogr(path: Path, layer: str | None, encoding: str | None = None) -> _Layer:
    """One layer through pyogrio; GDAL's complaints become a refusal naming the file."""
    import pyogrio
    import pyogrio.raw
    from pyogrio.errors import DataLayerError, DataSourceError, FieldError

    try:
        meta, _fids, wkb, data = pyogrio.raw.read(path, layer=layer, encoding=encoding, force_2d=True)
    except (DataSourceError, DataLayerError, FieldError) as exc:
        raise _Refused(f"{path.name}{' layer ' + layer if layer else ''}: GDAL cannot read it ({exc})") from None
    columns = [str(c) for c in meta["fields"]]
    rows = [dict(zip(columns, (col[i] for col in data), strict=True)) for i in range(len(wkb))]
    geoms = [_polygonal(g) for g in shapely.from_wkb(wkb)] if len(wkb) else []
    crs = pyproj.CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
    return _Layer(layer or path.stem, columns, rows, geoms, crs)


def _polygonal(geom: Any) -> Any:
    """A collection of polygons (KML MultiGeometry) as a MultiPolygon; anything else as it is."""
    if geom is not None and geom.geom_type == "GeometryCollection":
        parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
        if parts and len(parts) == len(shapely.get_parts(geom)):
            return shapely.MultiPolygon([q for p in parts for q in shapely.get_parts(p)])
    return geom


def _read_layers(path: Path, wanted: list[str], out: GridFileRead) -> list[_Layer]:
    """The polygon layers of a GeoPackage or KML/KMZ: those named, else all (`_assemble` checks they fit)."""
    import pyogrio

    try:
        listed = [(str(n), str(t)) for n, t in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises its DataSourceError and GDAL's own for a broken file
        raise _Refused(f"{path.name}: GDAL cannot open it ({exc})") from None
    names = [n for n, _ in listed]
    for name in wanted:
        if name not in names:
            raise _Refused(f"{path.name}: no layer {name!r}; its layers are {_describe_layers(path, listed)}")
    if wanted:
        return [_read_ogr(path, name) for name in wanted]
    layers = [_read_ogr(path, name) for name in names]
    polygons = [lay for lay in layers if any(g is not None and "Polygon" in g.geom_type for g in lay.geoms)]
    skipped = [lay.name for lay in layers if lay not in polygons]
    if skipped:
        out.notes.append(f"{path.name}: layers without polygons skipped: {', '.join(skipped)}")
    if not polygons:
        raise _Refused(f"{path.name}: no layer holds polygons; its layers are {_describe_layers(path, listed)}")
    if len(polygons) > 1:
        out.notes.append(f"{path.name}: layers {', '.join(lay.name for lay in polygons)} read together")
    return polygons


def _describe_layers(path: Path, listed: list[tuple[str, str]]) -> str:
    import pyogrio

    return ", ".join(f"{n} ({pyogrio.read_info(path, layer=n)['features']} {t})" for n, t in listed) or "none"


def _read_geojson(path: Path) -> _Layer:
    """A GeoJSON FeatureCollection with its geometry left as GeoJSON (the validator parses it)."""
    try:
        data = json_loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
    except ValueError as exc:
        raise _Refused(f"{path.name}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("features"), list):
        raise _Refused(f"{path.name}: expected a GeoJSON FeatureCollection")
    feats = [f if isinstance(f, dict) else {} for f in data["features"]]
    rows: list[dict[str, Any]] = [p if isinstance(p := f.get("properties"), dict) else {} for f in feats]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return _Layer(path.stem, columns, rows, [f.get("geometry") for f in feats], _geojson_crs(data.get("crs")),
                  "utf-8", data)


def _geojson_crs(member: Any) -> pyproj.CRS | None:
    """The CRS a legacy GeoJSON ``crs`` member names when it is not lon/lat (QGIS writes EPSG:4546 so), else None."""
    if member is None or check_crs_member(member) is None:
        return None  # absent, or lon/lat: the validator's business
    props = member.get("properties") if isinstance(member, dict) else None
    name = props.get("name") if isinstance(props, dict) else None
    try:
        return pyproj.CRS.from_user_input(name) if isinstance(name, str) else None
    except pyproj.exceptions.CRSError:
        return None  # the validator refuses it by name


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


def _to_lonlat(lay: _Layer, src: pyproj.CRS | None, near: Near, out: GridFileRead) -> None:
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
        raise _Refused(f"{lay.name}: {describe_projected(bounds, near() if callable(near) else near)}")
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


def _assemble(layers: list[_Layer], datum: str, override: pyproj.CRS | None, mapping: Mapping[str, str] | None,
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
    columns = list(dict.fromkeys(c for lay in layers for c in lay.columns))
    match = match_columns(columns, mapping)
    if match.errors:
        raise _Refused("; ".join(match.errors))
    out.notes += match.notes
    out.mapping = match.fields
    encodings = {lay.encoding for lay in layers if lay.encoding}
    out.encoding = ", ".join(sorted(encodings)) or None
    props, geoms, hints = [], [], []
    has_level = {"level", "kind"} & set(match.fields.values())
    for lay in layers:
        hint = level_hint(lay.name) if len(layers) > 1 else None
        if len(layers) > 1 and hint is None and not has_level:
            raise _Refused(f"cannot tell which level (town, village/community, grid) the layers hold: "
                           f"{', '.join(f'{x.name} ({len(x.rows)} features)' for x in layers)}; name them "
                           "town/villages/grids (镇/村/网格), add a 层级 column, or read one with --layer")
        props += [grid_properties(row, match.fields) for row in lay.rows]
        geoms += lay.geoms
        hints += [hint] * len(lay.rows)
    out.notes += complete_hierarchy(props, [g if not isinstance(g, dict) else None for g in geoms], hints)
    features = [{"type": "Feature", "properties": p,
                 "geometry": g if g is None or isinstance(g, dict) else to_geojson_geometry(g)}
                for p, g in zip(props, geoms, strict=True)]
    return {"type": "FeatureCollection", "features": features}


def _shape(geometry: Any) -> Any:
    """A GeoJSON geometry as shapely, or as it is when it does not parse (the validator says why)."""
    from shapely.geometry import shape

    try:
        return shape(geometry) if isinstance(geometry, dict) else None
    except Exception:  # shapely raises several types for malformed coordinates
        return geometry
