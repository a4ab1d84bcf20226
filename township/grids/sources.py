"""The layers of a grid file as it lies on disk: rows of values and polygons in the file's own CRS.

Plain GeoJSON is parsed here (its geometry left as GeoJSON for the
validator); Shapefiles, GeoPackages and KML go through pyogrio (GDAL). A .zip
or .kmz is unpacked first. A DBF without a ``.cpg`` does not say its
encoding, and GDAL then reads GBK as Latin-1 (mojibake): its bytes are read
untouched and decoded here, with the ``.cpg``'s encoding, else UTF-8 when
every text decodes as UTF-8, else GB18030 (a superset of GBK and GB2312); an
``encoding`` given overrides both. `township.grids.files` turns the layers
into grids.
"""
from __future__ import annotations

import codecs
import contextlib
import hashlib
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyproj
import shapely

from township.grids.model import json_loads
from township.grids.validate import check_crs_member

__all__ = ["FORMATS", "ZIP_LIMIT", "Layer", "FileRefused", "materialise", "read_any"]

#: File name endings read, and what they are.
FORMATS: dict[str, str] = {".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "Shapefile", ".zip": "zipped files",
                           ".gpkg": "GeoPackage", ".kml": "KML", ".kmz": "KMZ"}
#: A .zip is unpacked up to this many bytes (a city's 50,000 grids are ~100 MB as a Shapefile).
ZIP_LIMIT = 1 << 30


@dataclass
class Layer:
    """One layer as read: its rows (column → value), polygons in the file's CRS, and that CRS."""

    name: str
    columns: list[str]
    rows: list[dict[str, Any]]
    geoms: list[Any]  # shapely geometries or GeoJSON geometry dicts (plain GeoJSON, passed through)
    crs: pyproj.CRS | None
    encoding: str | None = None
    collection: dict | None = None  # a GeoJSON file as parsed, passed on untouched when it needs no mapping


class FileRefused(Exception):
    """A file that cannot be read; the message says why and what to do."""


def materialise(source: str | Path | bytes, name: str | None, tmp: Path) -> Path:
    """The path of ``source``; bytes are written under ``name`` in ``tmp``."""
    if isinstance(source, bytes | bytearray):
        if not name:
            raise FileRefused("an uploaded grid file needs its file name (to know its format)")
        path = tmp / Path(name).name
        path.write_bytes(bytes(source))
        return path
    path = Path(source)
    if not path.exists():
        raise FileRefused(f"{path}: no such file")
    return path


def read_any(path: Path, tmp: Path, wanted: list[str], encoding: str | None, notes: list[str],
             digest: Any) -> list[Layer]:
    """The layers of the file at ``path``.

    A .zip or .kmz is unpacked into ``tmp`` and each grid file in it read;
    ``wanted`` names GeoPackage/KML layers (empty: the polygon layers);
    ``encoding`` overrides a Shapefile's; what was decided is appended to
    ``notes``, and every byte read (sidecars included) fed to ``digest``
    (a ``hashlib`` object), which names the file for `township.grids.install`.
    """
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise FileRefused(f"{path.name}: unknown format {suffix or '(no suffix)'}; "
                          f"grid files are {', '.join(sorted(set(FORMATS)))}")
    if suffix in (".zip", ".kmz"):  # a KMZ is a zipped KML: GDAL reading it whole loses a <Schema>'s fields
        digest.update(path.read_bytes())
        inner = _unzip(path, tmp)
        notes.append(f"{path.name}: read {', '.join(p.name for p in inner)}")
        layers: list[Layer] = []
        for p in inner:
            layers += read_any(p, tmp, wanted, encoding, notes, hashlib.sha256())
        return layers
    if suffix == ".shp":
        return [_read_shapefile(path, encoding, notes, digest)]
    digest.update(path.read_bytes())
    if suffix in (".geojson", ".json"):
        return [_read_geojson(path, notes)]
    return _read_layers(path, wanted, notes)


def _unzip(path: Path, tmp: Path) -> list[Path]:
    """Unpack the grid files of a .zip (by base name only) into a fresh folder; the grid files in it."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise FileRefused(f"{path.name}: not a readable .zip file") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and "__MACOSX" not in m.filename]
        if sum(m.file_size for m in members) > ZIP_LIMIT:
            raise FileRefused(f"{path.name}: unpacks to more than {ZIP_LIMIT >> 20} MB")
        folder = Path(tempfile.mkdtemp(dir=tmp))
        for m in members:
            (folder / _member_name(m)).write_bytes(archive.read(m))
    found = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in FORMATS and p.suffix.lower() not in (".zip", ".kmz"))
    if not found:
        raise FileRefused(f"{path.name}: holds no grid file (.shp with its .dbf, .gpkg, .kml, .geojson); "
                          f"found {', '.join(sorted(p.name for p in folder.iterdir())) or 'nothing'}")
    return found


def _member_name(member: zipfile.ZipInfo) -> str:
    """The base name of a zip member; a name not flagged UTF-8 (Windows' zip) is taken as GBK, not CP437."""
    name = member.filename
    if not member.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):  # not GBK either: keep zipfile's
            name = name.encode("cp437").decode("gb18030")
    return name.replace("\\", "/").rsplit("/", 1)[-1]


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
        raise FileRefused(f"unknown text encoding {name!r}; use e.g. UTF-8, GBK, GB18030") from None
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


def _read_shapefile(shp: Path, encoding: str | None, notes: list[str], digest: Any) -> Layer:
    """A Shapefile, its text decoded from the DBF's bytes (see the module docstring)."""
    dbf, cpg, prj = (_sidecar(shp, ext) for ext in (".dbf", ".cpg", ".prj"))
    shx = _sidecar(shp, ".shx")
    if dbf is None or shx is None:
        ext, what = (".dbf", "the attributes: codes, names") if dbf is None else (".shx", "the index of the polygons")
        raise FileRefused(f"{shp.name}: its {shp.stem}{ext} ({what}) is missing; "
                          f"give all of {shp.stem}.shp, .shx, .dbf, .prj, .cpg together, e.g. zipped")
    raw = dbf.read_bytes()
    for p in (shp, dbf, cpg, prj, shx):
        if p is not None:
            digest.update(p.read_bytes())
    if encoding:
        codec, how = _codec(encoding), "as given"
    elif cpg is not None:
        codec, how = _codec(cpg.read_text(encoding="ascii", errors="replace")), f"from {cpg.name}"
    else:
        codec, how = _detect_encoding(raw), "detected from the .dbf bytes, no .cpg"
    notes.append(f"{shp.name}: text encoding {codec.upper()} ({how})")
    if prj is None:
        notes.append(f"{shp.name}: no .prj")
    layer = _read_ogr(shp, None, "ISO-8859-1", codec)  # the bytes come through untouched: decoded there
    layer.encoding = codec
    return layer


def _decoded(path: Path, codec: str, columns: list[str], data: list[list[Any]]) -> tuple[list[str], list[list[Any]]]:
    """Headers and text cells read as Latin-1, decoded as ``codec``; a header the DBF cut inside a character
    loses that character."""
    def header(text: str) -> str:
        return codecs.getincrementaldecoder(codec)().decode(text.encode("latin-1"), final=False)

    try:
        return [header(c) for c in columns], [
            [v.encode("latin-1").decode(codec) if isinstance(v, str) else v for v in col] for col in data]
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{path.name}: text {exc.object[:30]!r} is not {codec.upper()}; "
                          "give the encoding with --encoding (e.g. GBK or UTF-8)") from None


def _read_ogr(path: Path, layer: str | None, encoding: str | None = None, codec: str | None = None) -> Layer:
    """One layer through pyogrio (its text decoded as ``codec`` when given); GDAL's complaints become a refusal."""
    import pyogrio  # GDAL is loaded on first use: most starts read a GeoJSON
    import pyogrio.raw
    from pyogrio.errors import DataLayerError, DataSourceError, FieldError

    try:
        meta, _fids, wkb, arrays = pyogrio.raw.read(path, layer=layer, encoding=encoding, force_2d=True)
    except (DataSourceError, DataLayerError, FieldError) as exc:
        raise FileRefused(f"{path.name}{' layer ' + layer if layer else ''}: GDAL cannot read it ({exc})") from None
    columns = [str(c) for c in meta["fields"]]
    data = [col.tolist() for col in arrays]  # Python values: faster to go through, and JSON-ready
    if codec is not None:
        columns, data = _decoded(path, codec, columns, data)
    n = len(wkb) if wkb is not None else len(data[0]) if data else 0  # a table without geometry has no WKB
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*data, strict=True)] if data else \
        [{} for _ in range(n)]
    geoms = [_polygonal(g) for g in shapely.from_wkb(wkb)] if wkb is not None and n else [None] * n
    crs = pyproj.CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
    return Layer(layer or path.stem, columns, rows, geoms, crs)


def _polygonal(geom: Any) -> Any:
    """A collection of polygons (KML MultiGeometry) as a MultiPolygon; anything else as it is."""
    if geom is not None and geom.geom_type == "GeometryCollection":
        parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
        if parts and len(parts) == len(shapely.get_parts(geom)):
            return shapely.MultiPolygon([q for p in parts for q in shapely.get_parts(p)])
    return geom


def _read_layers(path: Path, wanted: list[str], notes: list[str]) -> list[Layer]:
    """The polygon layers of a GeoPackage or KML/KMZ: those named, else all (`_assemble` checks they fit)."""
    import pyogrio  # see _read_ogr

    try:
        listed = [(str(n), str(t)) for n, t in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises its DataSourceError and GDAL's own for a broken file
        raise FileRefused(f"{path.name}: GDAL cannot open it ({exc})") from None
    names = [n for n, _ in listed]
    for name in wanted:
        if name not in names:
            raise FileRefused(f"{path.name}: no layer {name!r}; its layers are {_describe_layers(path, listed)}")
    if wanted:
        return [_read_ogr(path, name) for name in wanted]
    layers = [_read_ogr(path, name) for name in names]
    polygons = [lay for lay in layers if any(g is not None and "Polygon" in g.geom_type for g in lay.geoms)]
    skipped = [lay.name for lay in layers if lay not in polygons]
    if skipped:
        notes.append(f"{path.name}: layers without polygons skipped: {', '.join(skipped)}")
    if not polygons:
        raise FileRefused(f"{path.name}: no layer holds polygons; its layers are {_describe_layers(path, listed)}")
    if len(polygons) > 1:
        notes.append(f"{path.name}: layers {', '.join(lay.name for lay in polygons)} read together")
    return polygons


def _describe_layers(path: Path, listed: list[tuple[str, str]]) -> str:
    import pyogrio

    return ", ".join(f"{n} ({pyogrio.read_info(path, layer=n)['features']} {t})" for n, t in listed) or "none"


def _read_geojson(path: Path, notes: list[str]) -> Layer:
    """A GeoJSON FeatureCollection with its geometry left as GeoJSON (the validator parses it).

    RFC 7946 text is UTF-8; a file a Chinese Windows tool saved in GBK is read as GB18030, and said so.
    """
    raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    try:
        data = json_loads(raw)
    except ValueError as exc:
        try:
            data = json_loads(raw.decode("gb18030").encode("utf-8"))
        except ValueError:  # UnicodeDecodeError is one: neither UTF-8 nor GBK JSON
            raise FileRefused(f"{path.name}: not valid JSON ({exc})") from None
        notes.append(f"{path.name}: text in GB18030/GBK, not UTF-8 as GeoJSON should be")
    if not isinstance(data, dict) or not isinstance(data.get("features"), list):
        raise FileRefused(f"{path.name}: expected a GeoJSON FeatureCollection")
    feats = [f if isinstance(f, dict) else {} for f in data["features"]]
    rows: list[dict[str, Any]] = [p if isinstance(p := f.get("properties"), dict) else {} for f in feats]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return Layer(path.stem, columns, rows, [f.get("geometry") for f in feats], _geojson_crs(data.get("crs")),
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
