"""Case photos: the pipeline on real images made here with Pillow, and the HTTP routes on a real server.

Expected values come from the images the tests draw (which side is blue, the
GPS written into the EXIF), from SQL counts and from the files on disk, never
from the code under test.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import requests
from conftest import LiveServer
from PIL import Image, ImageFile, TiffImagePlugin
from PIL.ExifTags import GPS, IFD, Base
from sqlalchemy import text

from township.formats import photos as pipeline
from township.formats.photos import PhotoRefused, process_photo

BLUE, RED = (0, 0, 255), (255, 0, 0)
OWN, FOREIGN = "DL-01", "DL-05"
TIMEOUT = 60


# -- images made in the test ---------------------------------------------------------------------------------

def jpeg(size: tuple[int, int] = (4000, 3000), orientation: int | None = 6, gps: bool = True,
         quality: int = 90) -> bytes:
    """A JPEG, red with its left quarter blue, and EXIF: an orientation, a camera, a GPS position."""
    img = Image.new("RGB", size, RED)
    img.paste(BLUE, (0, 0, size[0] // 4, size[1]))
    exif = Image.Exif()
    exif[Base.Make] = "TestCam"
    exif[Base.Model] = "Phone 9"
    if orientation:
        exif[Base.Orientation] = orientation
    if gps:
        r = TiffImagePlugin.IFDRational
        ifd = exif.get_ifd(IFD.GPSInfo)
        ifd[GPS.GPSLatitudeRef] = "N"
        ifd[GPS.GPSLatitude] = (r(40), r(12), r(36))  # 40 + 12/60 + 36/3600 = 40.21
        ifd[GPS.GPSLongitudeRef] = "E"
        ifd[GPS.GPSLongitude] = (r(110), r(30), r(0))  # 110.5
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=quality, comment=b"shot by someone")
    return buf.getvalue()


def png(size: tuple[int, int] = (600, 300), alpha: bool = True) -> bytes:
    """A PNG, half transparent green if ``alpha``, with a text chunk naming its author."""
    from PIL.PngImagePlugin import PngInfo

    img = Image.new("RGBA" if alpha else "RGB", size, (0, 200, 0, 128) if alpha else (0, 200, 0))
    meta = PngInfo()
    meta.add_text("Author", "张三 13812345678")
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=meta)
    return buf.getvalue()


def no_metadata(data: bytes) -> Image.Image:
    """Open stored bytes and assert they carry no EXIF, XMP, ICC profile, comment or text."""
    img = Image.open(io.BytesIO(data))
    assert not img.getexif(), dict(img.getexif())
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "Author"} & set(img.info), img.info
    assert b"Exif" not in data and b"TestCam" not in data and b"13812345678" not in data
    return img


# -- the pipeline ---------------------------------------------------------------------------------------------

def test_a_jpeg_is_stored_upright_shrunk_and_stripped_and_its_gps_suggested():
    p = process_photo(jpeg())
    img = no_metadata(p.full)
    # Orientation 6: the camera was turned a quarter clockwise; upright, the 4000×3000 picture stands 3000×4000,
    # shrunk to a long side of 2048, and its blue left quarter is now the top quarter.
    assert (img.format, img.size) == ("JPEG", (1536, 2048)) == ("JPEG", (p.width, p.height))
    top, bottom = img.getpixel((768, 100)), img.getpixel((768, 1900))
    assert top[2] > 200 and top[0] < 60 and bottom[0] > 200 and bottom[2] < 60, (top, bottom)
    assert p.gps == pytest.approx((110.5, 40.21))
    thumb = no_metadata(p.thumb)
    assert max(thumb.size) == 320 and thumb.size[1] > thumb.size[0]
    import hashlib
    assert p.sha256 == hashlib.sha256(p.full).hexdigest() and p.media_type == "image/jpeg"


def test_a_small_photo_is_not_enlarged_and_without_gps_suggests_nothing():
    p = process_photo(jpeg((800, 600), orientation=None, gps=False))
    assert (p.width, p.height, p.gps) == (800, 600, None)


def test_a_png_with_transparency_stays_a_png_and_one_without_becomes_a_jpeg():
    p = process_photo(png())
    img = no_metadata(p.full)
    assert (img.format, img.mode, img.size, p.media_type) == ("PNG", "RGBA", (600, 300), "image/png")
    assert img.getpixel((10, 10))[3] == 128
    assert Image.open(io.BytesIO(p.thumb)).format == "PNG"
    q = process_photo(png(alpha=False))
    assert (no_metadata(q.full).format, q.media_type) == ("JPEG", "image/jpeg")


def test_a_webp_is_accepted():
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), BLUE).save(buf, "WEBP")
    assert process_photo(buf.getvalue()).media_type == "image/jpeg"


def test_a_text_file_named_jpg_is_refused_by_its_content():
    with pytest.raises(PhotoRefused) as err:
        process_photo("这不是照片 — not a photo at all\n".encode() * 20)
    assert err.value.code == "type" and "not a JPEG, PNG or WebP image" in err.value.message


def test_other_image_types_are_refused_too():
    buf = io.BytesIO()
    Image.new("RGB", (50, 50)).save(buf, "GIF")
    with pytest.raises(PhotoRefused, match="not a JPEG, PNG or WebP"):
        process_photo(buf.getvalue())
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
    with pytest.raises(PhotoRefused, match="HEIC"):
        process_photo(heic)


def test_a_30_mb_file_is_refused_before_it_is_decoded(monkeypatch):
    def no_decoding(*args, **kw):
        raise AssertionError("the file was decoded")

    monkeypatch.setattr(pipeline.Image, "open", no_decoding)
    data = jpeg((64, 64)) + b"\0" * (30 * 1024 * 1024)
    with pytest.raises(PhotoRefused) as err:
        process_photo(data)
    assert err.value.code == "size" and "30.0 MB" in err.value.message and "15.0 MB" in err.value.message


def test_a_truncated_jpeg_is_refused_not_stored_half_grey():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = jpeg((1200, 900), orientation=None)
    with pytest.raises(PhotoRefused) as err:
        process_photo(data[: len(data) * 2 // 3])
    assert err.value.code == "image" and "truncated" in err.value.message
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_decompression_bomb_is_refused_from_its_header():
    buf = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buf, "PNG")  # 81 million pixels in a small file
    assert len(buf.getvalue()) < 1024 * 1024
    with pytest.raises(PhotoRefused) as err:
        process_photo(buf.getvalue())
    assert "81,000,000 pixels" in err.value.message and "50,000,000" in err.value.message
    with pytest.raises(PhotoRefused, match="empty"):
        process_photo(b"")


# -- over HTTP, on a real server ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory, stores):
    """A server of its own, sign-in required (no DEFAULT_ROLE), its photos under a folder of the test."""
    from township.accounts.tokens import create_token
    from township.store.engine import make_engine

    tmp = tmp_path_factory.mktemp("photos")
    srv = LiveServer(tmp, {"DEMO_FEED": "0", "DEFAULT_ROLE": "", "PHOTOS_DIR": str(tmp / "photos"),
                           "PHOTOS_PER_CASE": "4"}, stores.new("photos")).start()
    srv.engine = make_engine(srv.database_url)  # type: ignore[attr-defined]
    srv.photos = tmp / "photos"  # type: ignore[attr-defined]
    srv.tokens = {role: create_token(srv.engine, f"photos-{role}", role,  # type: ignore[attr-defined]
                                     OWN if role == "village" else None,
                                     "H-OF-DL-01-01" if role == "responder" else None)
                  for role in ("command", "village", "responder", "wall")}
    yield srv
    srv.stop()
    srv.engine.dispose()


def sql(srv, query: str, **params):
    with srv.engine.connect() as conn:
        return conn.execute(text(query), params).scalar()


def auth(srv, role: str | None) -> dict:
    return {"Authorization": f"Bearer {srv.tokens[role]}"} if role else {}


def new_case(srv, village: str) -> int:
    """A new open case in ``village`` (reported just now, with the command token)."""
    with srv.engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT lon, lat FROM cases WHERE village_id = :v AND lon IS NOT NULL LIMIT 1"),
                                {"v": village}).one()
    global _n
    _n += 1
    body = {"source": "hotline", "external_id": f"PHOTO-{_n}", "type": "hazard", "domain": "safety",
            "title": "路面塌陷", "lon": lon, "lat": lat}
    r = requests.post(srv.url + "/api/v1/cases", json=body, headers=auth(srv, "command"), timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()[0]["id"]


_n = 0


def upload(srv, case_id: int, role: str | None, *files: bytes, purpose: str | None = None) -> requests.Response:
    r = requests.post(f"{srv.url}/api/v1/cases/{case_id}/photos", headers=auth(srv, role), timeout=TIMEOUT,
                      files=[("file", (f"IMG_{i}.jpg", f, "image/jpeg")) for i, f in enumerate(files)],
                      data={"purpose": purpose} if purpose else None)
    assert r.status_code < 500, r.text
    return r


def photo_rows(srv, case_id: int) -> int:
    return sql(srv, "SELECT count(*) FROM photos WHERE case_id = :c", c=case_id)


def test_command_and_a_village_token_add_photos_where_they_may(site):
    own, foreign = new_case(site, OWN), new_case(site, FOREIGN)
    r = upload(site, foreign, "command", jpeg(), purpose="progress")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"id", "url", "thumb_url"} and body["gps"] == pytest.approx({"lon": 110.5, "lat": 40.21})
    assert body["url"] == f"{site.url}/api/v1/photos/{body['id']}" and body["thumb_url"].endswith("/thumb")
    assert sql(site, "SELECT purpose FROM photos WHERE id = :i", i=body["id"]) == "progress"
    versions = "SELECT (SELECT version FROM cases WHERE id = :c), (SELECT value FROM meta WHERE key = 'data_version')"
    with site.engine.connect() as conn:
        case_before, data_before = conn.execute(text(versions), {"c": own}).one()
    r = upload(site, own, "village", jpeg(), png())
    assert r.status_code == 201 and [p["media_type"] for p in r.json()] == ["image/jpeg", "image/png"], r.text
    assert photo_rows(site, own) == 2
    # The case's audit trail records the upload; the case's own version does not move (a move sent next with
    # the version read before stands), the data version does (screens refresh).
    assert sql(site, "SELECT count(*) FROM case_events WHERE case_id = :c AND action = 'photo'", c=own) == 1
    with site.engine.connect() as conn:
        case_after, data_after = conn.execute(text(versions), {"c": own}).one()
    assert case_after == case_before and int(data_after) > int(data_before)
    # Another village's case is missing to a village token; the wall sees no photos; no token may not write.
    for role, status in (("village", 404), ("wall", 404), (None, 401)):
        before = sql(site, "SELECT count(*) FROM photos")
        r = upload(site, foreign, role, jpeg((300, 200)))
        assert r.status_code == status, (role, r.text)
        assert sql(site, "SELECT count(*) FROM photos") == before
    assert "does not exist" in upload(site, foreign, "village", jpeg((300, 200))).json()["errors"][0]["message"]


def test_the_list_and_the_bytes_go_only_to_who_may_see_the_case(site):
    case = new_case(site, OWN)
    added = upload(site, case, "responder", jpeg()).json()
    listed = requests.get(f"{site.url}/api/v1/cases/{case}/photos", headers=auth(site, "village"), timeout=TIMEOUT)
    assert listed.status_code == 200 and [p["id"] for p in listed.json()["items"]] == [added["id"]]
    r = requests.get(added["url"], headers=auth(site, "command"), timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert "private" in r.headers["Cache-Control"] and r.headers["X-Content-Type-Options"] == "nosniff"
    served = no_metadata(r.content)
    assert served.size == (1536, 2048)
    thumb = requests.get(added["thumb_url"], headers=auth(site, "command"), timeout=TIMEOUT)
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) == 320
    # Signed in (the dashboard's <img> sends only the cookie): served to command, not to the wall.
    for username, password, status in (("command", "dalu-command", 200), ("wall", "dalu-wall", 404)):
        s = requests.Session()
        assert s.post(site.url + "/login", data={"username": username, "password": password},
                      allow_redirects=False, timeout=TIMEOUT).status_code == 302
        assert s.get(added["url"], timeout=TIMEOUT).status_code == status, username
    # The wall's token and someone not signed in get what a missing photo gets.
    missing = requests.get(f"{site.url}/api/v1/photos/999999", timeout=TIMEOUT)
    for who in ("wall", None):
        for url in (added["url"], added["thumb_url"], f"{site.url}/api/v1/cases/{case}/photos"):
            r = requests.get(url, headers=auth(site, who), timeout=TIMEOUT)
            assert r.status_code == 404 and not r.headers["Content-Type"].startswith("image/"), (who, url)
    assert missing.status_code == 404
    foreign = new_case(site, FOREIGN)
    other = upload(site, foreign, "command", jpeg((500, 400))).json()
    assert requests.get(other["url"], headers=auth(site, "village"), timeout=TIMEOUT).status_code == 404
    assert requests.get(f"{site.url}/api/v1/cases/{foreign}/photos", headers=auth(site, "village"),
                        timeout=TIMEOUT).status_code == 404


def test_bad_uploads_are_refused_with_a_message_and_store_nothing(site):
    case = new_case(site, OWN)
    refusals = [
        (("不是照片".encode() * 100,), 415, "not a JPEG, PNG or WebP image"),
        ((jpeg()[:5000],), 422, "truncated"),
        ((b"\xff\xd8" + b"\0" * (16 * 1024 * 1024),), 413, "at most 15.0 MB"),
        ((jpeg((300, 200)), b"GIF89a not really"), 415, "file 2: "),
        ((jpeg((300, 200)),) * 4, 422, "at most 3"),
    ]
    for files, status, words in refusals:
        r = upload(site, case, "command", *files)
        assert r.status_code == status and words in r.json()["errors"][0]["message"], r.text
        assert r.json()["errors"][0]["field"] == "file"
    assert photo_rows(site, case) == 0
    r = upload(site, case, "command", jpeg((300, 200)), purpose="selfie")
    assert r.status_code == 422 and "report, resolve, progress" in r.text
    r = requests.post(f"{site.url}/api/v1/cases/{case}/photos", data={"file": "x"}, headers=auth(site, "command"),
                      timeout=TIMEOUT)
    assert r.status_code == 400 and "multipart/form-data" in r.text
    r = requests.post(f"{site.url}/api/v1/cases/{case}/photos", headers=auth(site, "command"), timeout=TIMEOUT,
                      files={"photo": ("a.jpg", jpeg((300, 200)))})
    assert r.status_code == 400 and "photo" in r.text and "allowed: file" in r.text
    # A part whose name cannot be read (schemathesis found it a 500 once).
    boundary = "b0undary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="°\\"\r\n\r\nx\r\n--{boundary}--\r\n').encode()
    r = requests.post(f"{site.url}/api/v1/cases/{case}/photos", data=body, timeout=TIMEOUT,
                      headers={**auth(site, "command"), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 400 and "allowed: file" in r.text, r.text
    assert photo_rows(site, case) == 0


def test_a_photo_over_the_api_body_limit_is_taken_even_chunked(site):
    """The API's 5 MB body limit is raised for photo uploads only: a 7 MB photo, sent chunked, is stored."""
    import os

    buf = io.BytesIO()
    Image.frombytes("RGB", (1600, 1500), os.urandom(1600 * 1500 * 3)).save(buf, "PNG")  # noise: ~7 MB
    data = buf.getvalue()
    assert 5 * 1024 * 1024 < len(data) < 15 * 1024 * 1024
    boundary = "ph0tob0undary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="noise.png"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    case = new_case(site, OWN)
    r = requests.post(f"{site.url}/api/v1/cases/{case}/photos", timeout=TIMEOUT,
                      data=(body[i:i + 65536] for i in range(0, len(body), 65536)),  # a generator: chunked
                      headers={**auth(site, "command"), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 201 and r.json()["media_type"] == "image/jpeg", r.text
    # The same body against a route of the API's own 5 MB limit is refused.
    r = requests.post(f"{site.url}/api/v1/cases", timeout=TIMEOUT, data=(body[i:i + 65536]
                      for i in range(0, len(body), 65536)), headers={**auth(site, "command"),
                                                                     "Content-Type": "application/json"})
    assert r.status_code == 413 and "5 MB" in r.text


def test_a_case_holds_at_most_its_limit_of_photos(site):
    case = new_case(site, OWN)
    assert upload(site, case, "command", *(jpeg((300 + i, 200)) for i in range(3))).status_code == 201
    r = upload(site, case, "command", jpeg((400, 200)), jpeg((401, 200)))
    assert r.status_code == 422 and "holds 3 photo(s)" in r.text and "limit of 4" in r.text
    assert upload(site, case, "command", jpeg((400, 200))).status_code == 201
    assert photo_rows(site, case) == 4


def test_the_same_photo_twice_is_one_file(site):
    def files() -> set[Path]:
        return {p for p in site.photos.rglob("*") if p.is_file()}

    data = jpeg((900, 700), orientation=3)
    before = files()
    first = upload(site, new_case(site, OWN), "command", data).json()
    made = files() - before
    assert len(made) == 2  # the photo and its thumbnail
    second = upload(site, new_case(site, FOREIGN), "command", data).json()
    assert files() - before == made and first["id"] != second["id"]
    shas = {sql(site, "SELECT sha256 FROM photos WHERE id = :i", i=i) for i in (first["id"], second["id"])}
    assert len(shas) == 1 and shas.pop() in {p.name for p in made}


def test_no_photo_is_added_to_a_closed_case(site):
    closed = sql(site, "SELECT min(id) FROM cases WHERE status = 'closed'")
    r = upload(site, closed, "command", jpeg((300, 200)))
    assert r.status_code == 409 and "closed" in r.text and photo_rows(site, closed) == 0


def test_open311_media_url_points_at_the_first_photo_for_who_may_see_it(site):
    case = new_case(site, OWN)
    first = upload(site, case, "command", jpeg((500, 400))).json()
    upload(site, case, "command", jpeg((600, 400)))

    def media_url(role: str | None) -> str:
        key = f"?api_key={site.tokens[role]}" if role else ""
        r = requests.get(f"{site.url}/open311/v2/requests/{case}.json{key}", timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return r.json()[0]["media_url"]

    assert media_url("command") == f"{site.url}/api/v1/photos/{first['id']}" == first["url"]
    assert media_url("village") == first["url"]
    assert media_url("wall") == media_url(None) == ""  # a link they could not open is no help
    # A case that came with a media_url of its own keeps it.
    with site.engine.begin() as conn:
        conn.execute(text("UPDATE cases SET media_url = 'https://example.org/p.jpg' WHERE id = :c"), {"c": case})
    assert media_url("command") == "https://example.org/p.jpg"


def test_the_dashboard_card_shows_the_thumbnails_and_a_click_opens_the_photo(site, page):
    from test_browser import GRAPH
    from test_closed_loop_browser import sign_in

    case = new_case(site, OWN)
    added = upload(site, case, "command", jpeg(), png()).json()
    sign_in(page, site, "command", "dalu-command", f"/?village={OWN}&level=3")
    page.wait_for_selector(GRAPH, timeout=30000)
    header = page.locator('#table-cases .ag-header-cell[col-id="id"]')
    header.click()
    header.click()  # newest first
    page.locator(f'#table-cases .ag-row[row-id="{case}"] .ag-cell[col-id="title"]').click(timeout=15000)
    page.wait_for_selector("#case-card:not([hidden]) #case-photos img", timeout=15000)
    # Both thumbnails were fetched with the session cookie alone and decoded by the browser.
    page.wait_for_function("() => [...document.querySelectorAll('#case-photos img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=15000)
    sizes = page.eval_on_selector_all("#case-photos img", "els => els.map(i => [i.naturalWidth, i.naturalHeight])")
    assert sizes == [[240, 320], [320, 160]]  # the upright 3000×4000 photo's and the 600×300 PNG's thumbnails
    with page.context.expect_page() as opened:
        page.locator("#case-photos a").first.click()
    full = opened.value
    full.wait_for_load_state()
    assert full.url == f"{site.url}/api/v1/photos/{added[0]['id']}"
    assert full.evaluate("() => [document.images[0].naturalWidth, document.images[0].naturalHeight]") == [1536, 2048]
    full.close()
