"""Photos of a case: attach them (pipeline, file, row and audit record in one unit of work), list them, serve them.

For the routes of the API (`api.photos`), the field app and the resident page:

- :func:`attach_photos` / :func:`attach_photo` take the uploaded bytes, run the
  pipeline (`township.formats.photos`), keep the files by content hash
  (`township.store.files`) and write a `Photo` row per photo and one audit
  record (``photo``) on the case, in the caller's unit of work.
- Who may add photos is who may see them (`township.domain.policy.may_see_photos`):
  staff of the case's village, command, admin, responders. A caller that has
  checked the right itself — the resident page, for the case the resident has
  just reported in the same request — passes ``vouched=True``; the actor is then
  whoever the caller says (e.g. ``Actor("群众", "wall")``), and no role check is made.
- :func:`list_photos` and :func:`photo_for_viewer` answer a viewer: a case or photo
  the viewer may not see is the same as a missing one.

Adding a photo does not change the case's ``version``: a move the field app
sends next with the version it read is not refused as stale because a photo
came first. The data version is bumped, so screens showing the case refresh.
A file written for a unit of work that then rolls back stays on disk, unnamed
by any row: harmless (content-addressed), never served.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from township.config import Settings, photos_path
from township.domain.isotime import iso
from township.domain.policy import Viewer, may_see_photos
from township.domain.vocab import PHOTO_PURPOSES, label
from township.formats.photos import PhotoRefused, ProcessedPhoto, process_photo
from township.loop.workflow import Actor, MoveRefused
from township.store.files import blob_path, put_blob
from township.store.models import MAX_ID, Case, CaseEvent, Photo, utcnow
from township.store.uow import UnitOfWork

#: Statuses after which a case's evidence is settled: no photo is added any more.
SETTLED = frozenset({"closed", "cancelled"})
#: Where the photo of id N is served (and its thumbnail: ``…/N/thumb``).
PHOTO_PATH = "/api/v1/photos/{id}"


@dataclass(frozen=True)
class PhotoRules:
    """Where photos are kept and the limits of an upload (from `township.config.Settings`)."""

    root: Path
    max_bytes: int
    max_pixels: int
    per_case: int
    per_request: int

    @classmethod
    def of(cls, settings: Settings) -> PhotoRules:
        """The rules ``settings`` give (``PHOTOS_DIR``, ``PHOTO_MAX_BYTES`` …)."""
        return cls(photos_path(settings), settings.photo_max_bytes, settings.photo_max_pixels,
                   settings.photos_per_case, settings.photos_per_request)


@dataclass(frozen=True)
class Attached:
    """A photo just stored: its row, and the position its EXIF suggested (``(lon, lat)``, not stored)."""

    photo: Photo
    gps: tuple[float, float] | None


def photo_url(photo_id: int, thumb: bool = False) -> str:
    """The path the photo (or its thumbnail) is served at, for viewers who may see its case."""
    return PHOTO_PATH.format(id=photo_id) + ("/thumb" if thumb else "")


def _case_for(session: Session, case_id: int, viewer: Viewer, vouched: bool = False) -> Case:
    """The case if ``viewer`` may see its photos; else ``not_found``, the answer for a missing case."""
    case = session.get(Case, case_id) if 0 < case_id <= MAX_ID else None
    if case is None or not (vouched or may_see_photos(viewer, case.village_id)):
        raise MoveRefused(f"case {case_id} does not exist", "not_found")
    return case


def _check_purpose(purpose: str) -> None:
    if purpose not in PHOTO_PURPOSES:
        raise MoveRefused(f"purpose {purpose!r} unknown; allowed: {', '.join(PHOTO_PURPOSES)}", "invalid")


def _check_open(case: Case) -> None:
    if case.status in SETTLED:
        raise MoveRefused(f"case {case.id} is {case.status}: no photo can be added any more", "status")


def _check_count(rules: PhotoRules, files: Sequence[object]) -> None:
    if not files:
        raise PhotoRefused("no file was sent: send the photo in the form field 'file'", "count")
    if len(files) > rules.per_request:
        raise PhotoRefused(f"{len(files)} files were sent; one upload may carry at most {rules.per_request}", "count")


def prepare_photos(rules: PhotoRules, files: Sequence[bytes | ProcessedPhoto]) -> list[ProcessedPhoto]:
    """Run the pipeline on each upload (those already run pass as they are).

    Call it before opening the unit of work and hand the result to
    :func:`attach_photos`: decoding takes a while (a second for a 12 MP photo on a
    busy machine), and a unit of work holds the store's write lock from its first query.

    Raises
    ------
    PhotoRefused
        No file, more than ``rules.per_request``, or a file refused (``index``:
        which, when several were sent; the message says ``file N:``).
    """
    _check_count(rules, files)
    out = []
    for i, data in enumerate(files):
        if isinstance(data, ProcessedPhoto):
            out.append(data)
            continue
        try:
            out.append(process_photo(data, rules.max_bytes, rules.max_pixels))
        except PhotoRefused as exc:
            several = len(files) > 1
            raise PhotoRefused((f"file {i + 1}: " if several else "") + exc.message, exc.code,
                               i if several else None) from None
    return out


def attach_photos(uow: UnitOfWork, rules: PhotoRules, case_id: int, files: Sequence[bytes | ProcessedPhoto],
                  actor: Actor, purpose: str = "report", *, vouched: bool = False) -> list[Attached]:
    """Store ``files`` as photos of case ``case_id`` in ``uow`` (the caller commits), with one audit record.

    Parameters
    ----------
    uow : UnitOfWork
        The caller's unit of work (a move and its photos can be one).
    rules : PhotoRules
        Where the files go and the limits.
    case_id : int
    files : list of bytes or ProcessedPhoto
        The uploads, as received, or as :func:`prepare_photos` made them (better:
        outside the unit of work); all are checked before any is stored.
    actor : Actor
        Who uploads: named in the row and the audit trail.
    purpose : str
        ``report``, ``resolve`` (办结 evidence) or ``progress`` (`PHOTO_PURPOSES`).
    vouched : bool
        The caller has checked the right itself (the resident page for its own
        new case); otherwise ``actor`` must be allowed to see the case's photos.

    Raises
    ------
    MoveRefused
        ``not_found`` (no such case, or one the actor may not see), ``status``
        (the case is closed or cancelled), ``invalid`` (an unknown purpose).
    PhotoRefused
        A file refused, or too many files; nothing is stored.
    """
    _check_purpose(purpose)
    session = uow.session
    _check_open(_case_for(session, case_id, actor, vouched))
    _check_count(rules, files)
    held = session.scalar(select(func.count()).select_from(Photo).where(Photo.case_id == case_id)) or 0
    if held + len(files) > rules.per_case:
        raise PhotoRefused(f"case {case_id} holds {held} photo(s); with {len(files)} more it would be over its "
                           f"limit of {rules.per_case}", "count")
    processed = prepare_photos(rules, files)
    now = utcnow()
    out = []
    for p in processed:
        put_blob(rules.root, p.sha256, p.full)
        put_blob(rules.root, p.thumb_sha256, p.thumb)
        row = Photo(case_id=case_id, sha256=p.sha256, thumb_sha256=p.thumb_sha256, media_type=p.media_type,
                    width=p.width, height=p.height, bytes=len(p.full), uploader=actor.name[:64],
                    uploader_role=actor.role, uploader_handler=actor.handler_id, purpose=purpose, created_at=now)
        session.add(row)
        out.append(Attached(row, p.gps))
    session.add(CaseEvent(case_id=case_id, at=now, actor=actor.name[:64], action="photo",
                          note=f"{label(PHOTO_PURPOSES, purpose)} × {len(out)}"))
    uow.version()  # screens refresh; the case's own version stays (see the module's note)
    session.flush()  # the rows' ids, for the answer
    return out


def attach_photo(uow: UnitOfWork, rules: PhotoRules, case_id: int, data: bytes, actor: Actor,
                 purpose: str = "report", *, vouched: bool = False) -> Attached:
    """One photo: :func:`attach_photos` with one file."""
    return attach_photos(uow, rules, case_id, [data], actor, purpose, vouched=vouched)[0]


def check_may_add(engine: Engine, case_id: int, viewer: Viewer, purpose: str = "report") -> None:
    """Refuse as :func:`attach_photos` would for the case and purpose alone (``not_found``, ``status``,
    ``invalid``), before the files are processed: whoever may not add learns nothing from them, and no
    time is spent on them."""
    with Session(engine) as s:
        _check_open(_case_for(s, case_id, viewer))
    _check_purpose(purpose)


def list_photos(engine: Engine, case_id: int, viewer: Viewer) -> list[Photo]:
    """The photos of case ``case_id``, oldest first, if ``viewer`` may see them.

    Raises
    ------
    MoveRefused
        ``not_found``: no such case, or one whose photos the viewer may not see (the wall, another village).
    """
    with Session(engine) as s:
        _case_for(s, case_id, viewer)
        return list(s.scalars(select(Photo).where(Photo.case_id == case_id).order_by(Photo.id)))


def shown_photos(engine: Engine, case_id: int, viewer: Viewer) -> list[Photo]:
    """The photos a screen shows ``viewer`` on case ``case_id``: :func:`list_photos`, or none at all (the wall)."""
    try:
        return list_photos(engine, case_id, viewer)
    except MoveRefused:
        return []


def first_photos(engine: Engine, cases: list[Case], viewer: Viewer) -> dict[int, int]:
    """Case id → its first photo's id, for those of ``cases`` with photos whose photos ``viewer`` may see."""
    ids = [c.id for c in cases if may_see_photos(viewer, c.village_id)]
    if not ids:
        return {}
    with Session(engine) as s:
        rows = s.execute(select(Photo.case_id, func.min(Photo.id)).where(Photo.case_id.in_(ids))
                         .group_by(Photo.case_id)).all()
    return {case_id: photo_id for case_id, photo_id in rows}


def photo_for_viewer(engine: Engine, photo_id: int, viewer: Viewer) -> Photo | None:
    """The photo ``photo_id`` if it exists and ``viewer`` may see its case, else ``None``."""
    if not 0 < photo_id <= MAX_ID:
        return None
    with Session(engine) as s:
        row = s.execute(select(Photo, Case.village_id).join(Case, Case.id == Photo.case_id)
                        .where(Photo.id == photo_id)).first()
    if row is None or not may_see_photos(viewer, row[1]):
        return None
    return row[0]


def photo_file(rules: PhotoRules, photo: Photo, thumb: bool = False) -> Path:
    """The stored file of ``photo`` (or of its thumbnail)."""
    return blob_path(rules.root, photo.thumb_sha256 if thumb else photo.sha256)


# -- what the API shows ----------------------------------------------------------------------


class PhotoOut(BaseModel):
    """A photo of a case, for a viewer who may see it (the uploader's name is personal data: such viewers see it)."""

    id: int
    case_id: int
    url: str = Field(description="the photo (at most 2048 px, no metadata); absolute in the API")
    thumb_url: str = Field(description="its thumbnail (at most 320 px)")
    media_type: str = Field(description="image/jpeg or image/png, of both")
    width: int
    height: int
    bytes: int
    purpose: str = Field(description="report, resolve (办结 evidence) or progress")
    purpose_zh: str
    uploader: str
    created_at: str | None = Field(description="ISO 8601, +08:00")


class PhotosOut(BaseModel):
    """A case's photos, oldest first."""

    case_id: int
    total: int
    items: list[PhotoOut]


class GpsOut(BaseModel):
    """A position read from a photo's EXIF before it was stripped (WGS84): a suggestion, not stored."""

    lon: float
    lat: float


class PhotoAddedOut(PhotoOut):
    """A photo just stored, and the position its EXIF suggested (null: none)."""

    gps: GpsOut | None


def photo_out(photo: Photo, base: str = "") -> dict:
    """A photo as the API shows it to a viewer who may see it; ``base`` makes its URLs absolute."""
    return PhotoOut(id=photo.id, case_id=photo.case_id, url=base + photo_url(photo.id),
                    thumb_url=base + photo_url(photo.id, thumb=True), media_type=photo.media_type,
                    width=photo.width, height=photo.height, bytes=photo.bytes, purpose=photo.purpose,
                    purpose_zh=label(PHOTO_PURPOSES, photo.purpose), uploader=photo.uploader,
                    created_at=iso(photo.created_at)).model_dump()


def attached_out(a: Attached, base: str = "") -> dict:
    """A photo just stored, as the API answers its upload."""
    gps = GpsOut(lon=a.gps[0], lat=a.gps[1]) if a.gps else None
    return PhotoAddedOut(**photo_out(a.photo, base), gps=gps).model_dump()
