"""Personal data in photos (issue 19 "Also build"): metadata stripped on upload, files encrypted at
rest, a file that only pretends to be a photo refused."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from app.attachments import services
from app.attachments.models import Attachment
from app.extensions import db
from tests.cases.factories import report
from tests.factories import bearer

GPS_IFD, MAKE, MODEL, ORIENTATION, DATETIME = 0x8825, 0x010F, 0x0110, 0x0112, 0x0132


def photo_with_exif() -> bytes:
    """A JPEG as a phone writes it: camera, time, GPS position, orientation, a comment."""
    image = Image.new("RGB", (16, 8), (200, 30, 30))
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[DATETIME], exif[ORIENTATION] = (
        "PhoneCo",
        "X1",
        "2026:11:30 09:15:00",
        6,
    )
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (37.0, 19.0, 12.0), 3: "E", 4: (118.0, 0.0, 36.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=b"at Zhang San's house")
    return out.getvalue()


def png_with_text() -> bytes:
    from PIL.PngImagePlugin import PngInfo  # noqa: PLC0415 - only this fixture needs it

    info = PngInfo()
    info.add_text("Author", "张三 13812345678")
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_a_photo_loses_its_metadata_keeps_its_picture_and_is_encrypted_at_rest(app, client, world):
    worker = bearer(world["grid_worker@village"])
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    original = photo_with_exif()
    assert b"PhoneCo" in original and b"Zhang San" in original
    response = client.post(
        f"/api/v1/cases/{number}/photos",
        data={
            "photos": [(io.BytesIO(original), "scene.jpg"), (io.BytesIO(png_with_text()), "a.png")]
        },
        headers=worker,
        content_type="multipart/form-data",
    )
    assert response.status_code in (200, 201), response.get_json()
    rows = db.session.execute(select(Attachment.id, Attachment.sha256).order_by(Attachment.id))
    jpeg, png = rows.all()[-2:]
    served = client.get(f"/api/v1/attachments/{jpeg.id}", headers=worker).get_data()
    assert b"PhoneCo" not in served and b"Zhang San" not in served
    with Image.open(io.BytesIO(served)) as image:
        exif = image.getexif()
        assert exif.get(ORIENTATION) == 6  # the picture still shows the right way up
        assert MAKE not in exif and DATETIME not in exif and GPS_IFD not in exif
        assert image.size == (16, 8)
    # The scan data itself is untouched (no re-encoding): the original's image bytes end it.
    assert served[-200:] == original[-200:]
    served_png = client.get(f"/api/v1/attachments/{png.id}", headers=worker).get_data()
    assert "张三".encode() not in served_png and b"Author" not in served_png
    with Image.open(io.BytesIO(served_png)) as image:
        assert image.size == (4, 4)
    # At rest: the file is not the photo (encrypted), and its name is not the content hash.
    with app.test_request_context():
        path = services.path_for(jpeg.sha256)
    on_disk = path.read_bytes()
    assert not on_disk.startswith(b"\xff\xd8") and served not in on_disk
    assert jpeg.sha256 not in str(path)


def test_a_file_that_only_starts_like_a_photo_is_refused_and_nothing_is_written(client, world):
    worker = bearer(world["grid_worker@village"])
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    before = db.session.scalar(select(db.func.count()).select_from(Attachment))
    for fake in (b"\x89PNG\r\n\x1a\n" + bytes(64), b"\xff\xd8\xff" + b"text, not a picture"):
        response = client.post(
            f"/api/v1/cases/{number}/photos",
            data={"photos": (io.BytesIO(fake), "x.jpg")},
            headers=worker,
            content_type="multipart/form-data",
        )
        assert response.status_code == 422
        assert "不是有效的图片" in str(response.get_json())
    assert db.session.scalar(select(db.func.count()).select_from(Attachment)) == before
