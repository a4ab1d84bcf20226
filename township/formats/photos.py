"""The photo pipeline: bytes as uploaded → an upright, shrunk, metadata-free photo and its thumbnail.

Pure (no store, no files): `township.loop.photos` stores what :func:`process_photo`
returns. docs/design.md §5: check the real type, rotate, shrink to at most
2048 px, strip every metadata tag before storing.

Decisions
---------
- The type is what Pillow decodes, limited to JPEG, PNG and WebP; the file
  name and the client's Content-Type are never asked. HEIC (iPhones' default)
  is refused with a hint: Pillow reads it only with the ``pillow-heif`` plug-in,
  and a browser's file picker converts HEIC to JPEG on upload anyway.
- The size is checked before anything is decoded, the pixel count from the
  header before the pixels are (a small PNG can unpack to gigabytes).
- A truncated file is refused: Pillow's ``LOAD_TRUNCATED_IMAGES`` stays off
  (this module never sets it), so a cut-off JPEG fails to load instead of
  being stored grey at the bottom.
- The EXIF GPS position (WGS84 by the EXIF standard) is read before stripping
  and returned as a *suggestion* only; the stored bytes carry no EXIF, XMP,
  ICC profile or text chunks: the pixels are copied into a new image (an ICC
  profile other than sRGB is applied first, so colours stay right).
- Output: JPEG (quality 85) unless the photo has transparency, then PNG; the
  thumbnail is the same format, at most 320 px.
"""
from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from PIL.ExifTags import GPS, IFD

#: Formats accepted, as Pillow names them.
ACCEPTED = ("JPEG", "PNG", "WEBP")
#: Longest side of a stored photo and of its thumbnail, in pixels.
MAX_SIDE = 2048
THUMB_SIDE = 320
JPEG_QUALITY = 85
THUMB_QUALITY = 80
#: Default limits (configuration overrides them: ``PHOTO_MAX_BYTES``, ``PHOTO_MAX_PIXELS``).
MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 50_000_000
#: ISO BMFF brands of HEIF/HEIC files (bytes 8..12 of the ``ftyp`` box).
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


class PhotoRefused(ValueError):
    """A file that is not stored: ``message`` says why, in words a person can act on.

    ``code`` is the kind, which the HTTP layer answers by: ``size`` (too large),
    ``type`` (not an accepted image), ``image`` (damaged, too many pixels),
    ``count`` (over a limit of photos; `township.loop.photos`). ``index`` is the
    file's place in an upload of several (from 0), when known.
    """

    def __init__(self, message: str, code: str = "image", index: int | None = None) -> None:
        self.message = message
        self.code = code
        self.index = index
        super().__init__(message)


@dataclass(frozen=True)
class ProcessedPhoto:
    """What the pipeline made of one upload.

    Attributes
    ----------
    full, thumb : bytes
        The stored photo and its thumbnail, no metadata.
    media_type : str
        ``image/jpeg`` or ``image/png`` (both files).
    width, height : int
        Of ``full``, upright.
    sha256, thumb_sha256 : str
        Hex digests of ``full`` and ``thumb`` (their keys in the photo store).
    gps : tuple of float, optional
        ``(lon, lat)`` in decimal degrees from the photo's EXIF, a suggestion only.
    """

    full: bytes
    thumb: bytes
    media_type: str
    width: int
    height: int
    sha256: str
    thumb_sha256: str
    gps: tuple[float, float] | None


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _rational(value: object) -> float:
    """An EXIF rational (Pillow's IFDRational, or a (num, den) pair) as a float; NaN if it is not one."""
    try:
        if isinstance(value, tuple):
            return float(value[0]) / float(value[1])
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return math.nan


def gps_of(exif: Image.Exif) -> tuple[float, float] | None:
    """``(lon, lat)`` from the EXIF GPS IFD, or ``None`` when it is missing, partial or out of range."""
    gps = exif.get_ifd(IFD.GPSInfo)
    try:
        lat_dms, lon_dms = gps[GPS.GPSLatitude], gps[GPS.GPSLongitude]
        lat_ref, lon_ref = str(gps.get(GPS.GPSLatitudeRef, "N")), str(gps.get(GPS.GPSLongitudeRef, "E"))
        lat = sum(_rational(v) / 60**i for i, v in enumerate(lat_dms[:3]))
        lon = sum(_rational(v) / 60**i for i, v in enumerate(lon_dms[:3]))
    except (KeyError, TypeError, IndexError):
        return None
    lat = -lat if lat_ref.upper().startswith("S") else lat
    lon = -lon if lon_ref.upper().startswith("W") else lon
    # 0,0 is what a camera without a fix writes; a NaN is a broken rational.
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return round(lon, 7), round(lat, 7)


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The decoded image (first frame), or PhotoRefused saying why not."""
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        raise PhotoRefused("HEIC/HEIF photos are not accepted: choose the photo in the browser's file picker "
                           "(it sends JPEG), or set the camera to 'Most Compatible'; accepted: JPEG, PNG, WebP", "type")
    try:
        img = Image.open(io.BytesIO(data), formats=ACCEPTED)
    except UnidentifiedImageError:
        raise PhotoRefused("the file is not a JPEG, PNG or WebP image (its content was checked, "
                           "not its name)", "type") from None
    except Image.DecompressionBombError:
        raise PhotoRefused(f"the image has too many pixels (at most {max_pixels:,})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRefused(f"the image cannot be read: {exc}") from None
    width, height = img.size
    if width * height > max_pixels:
        raise PhotoRefused(f"the image has {width}×{height} = {width * height:,} pixels; "
                           f"at most {max_pixels:,} are accepted")
    # A JPEG decodes straight at 1/2, 1/4 or 1/8 of its size when that is still ≥ MAX_SIDE: less memory.
    img.draft("RGB", (MAX_SIDE, MAX_SIDE))
    try:
        img.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PhotoRefused(f"the image is damaged or cut off (truncated) and was not stored: {exc}") from None
    return img


def _to_srgb(img: Image.Image) -> Image.Image:
    """Pixels converted from the photo's own ICC profile to sRGB (the profile is then dropped)."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return img  # a broken profile: keep the pixels as they are
    return converted if converted is not None else img


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "PNG":
        img.save(buf, "PNG", optimize=True)
    else:
        img.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def process_photo(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> ProcessedPhoto:
    """Check, rotate, shrink and strip one uploaded photo; make its thumbnail.

    Parameters
    ----------
    data : bytes
        The file as uploaded.
    max_bytes : int
        Largest upload accepted, checked before decoding.
    max_pixels : int
        Largest width × height accepted, checked from the header before the pixels are decoded.

    Returns
    -------
    ProcessedPhoto

    Raises
    ------
    PhotoRefused
        Empty, too large, not a JPEG/PNG/WebP image, too many pixels, or damaged/truncated.
    """
    if not data:
        raise PhotoRefused("the file is empty", "type")
    if len(data) > max_bytes:
        raise PhotoRefused(f"the file is {_mb(len(data))}; a photo may be at most {_mb(max_bytes)}", "size")
    img = _open(data, max_pixels)
    gps = gps_of(img.getexif())
    img = ImageOps.exif_transpose(img)  # upright, as the camera held it
    img = _to_srgb(img)
    alpha = _has_alpha(img)
    img = img.convert("RGBA" if alpha else "RGB")
    img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # A new image holds the pixels only: no EXIF, XMP, ICC, comment or text chunk can follow them out.
    clean = Image.frombytes(img.mode, img.size, img.tobytes())
    fmt = "PNG" if alpha else "JPEG"
    full = _encode(clean, fmt, JPEG_QUALITY)
    small = clean.copy()
    small.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    thumb = _encode(small, fmt, THUMB_QUALITY)
    return ProcessedPhoto(full=full, thumb=thumb, media_type=f"image/{fmt.lower()}", width=clean.width,
                          height=clean.height, sha256=hashlib.sha256(full).hexdigest(),
                          thumb_sha256=hashlib.sha256(thumb).hexdigest(), gps=gps)
