"""Helpers to register risk points, inspect them and upload files in tests."""

from __future__ import annotations

import struct
import zlib

from app.attachments import services as attachments
from app.extensions import db
from app.risks import services
from tests.factories import bearer
from tests.geo.factories import box

POINT = {"type": "Point", "coordinates": [118.01, 37.32]}  # cell 371699101200001 of 东村
POINT_CELL2 = {"type": "Point", "coordinates": [118.04, 37.32]}  # cell …002
POINT_VILLAGE_B = {"type": "Point", "coordinates": [118.07, 37.32]}  # 西村, same town
POINT_OTHER_COUNTY = {"type": "Point", "coordinates": [118.32, 37.32]}
# Mostly (0.01 of 0.015 degrees) in cell …001, the rest in cell …002, all inside 东村.
POLYGON_MOSTLY_CELL1 = box(118.015, 37.32, 118.03, 37.33)


def risk_body(**overrides) -> dict:
    """A valid registration body: a yellow fire risk at a point in cell …001."""
    body = {
        "category": "消防",
        "level": "yellow",
        "geometry": POINT,
        "name": "东村农贸市场",
        "description": "市场内电线私拉乱接，消防通道堆放杂物",
        "measures": "每周检查一次电气线路，清理消防通道，配备灭火器",
    }
    body.update(overrides)
    return body


def register(client, user, headers: dict | None = None, **overrides):
    """Register a risk point as `user` through the API; returns the response."""
    return client.post(
        "/api/v1/risk-points", json=risk_body(**overrides), headers=headers or bearer(user)
    )


def make_point(user, **overrides):
    """Register a risk point through the service and commit; returns the point."""
    point = services.register(risk_body(**overrides), user)
    db.session.commit()
    return point


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, valid PNG image (grey pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def pdf_bytes() -> bytes:
    """A real, minimal one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def inspect_with_photo(point, user, data: bytes | None = None):
    """Record a normal inspection with one PNG photo through the service; returns the row."""
    upload = attachments.check(data or png_bytes(), "现场.png")
    inspection, _ = services.record_inspection(point, user, {"result": "normal"}, [upload])
    db.session.commit()
    return inspection


def point_with_photo(user, geometry: dict = POINT) -> tuple[int, int]:
    """A risk point registered by `user` with one inspected photo: (point id, attachment id)."""
    from app.attachments.models import Attachment

    point = make_point(user, geometry=geometry)
    inspection = inspect_with_photo(point, user)
    photo = db.session.scalar(
        Attachment.__table__.select()
        .with_only_columns(Attachment.id)
        .where(Attachment.owner_type == "inspection", Attachment.owner_id == inspection.id)
    )
    return point.id, photo


def multipart(fields: dict) -> dict:
    """Keyword arguments for client.post with a multipart body encoded in memory.

    The test client would spool a large body to a temporary file it never closes (a
    ResourceWarning, an error under filterwarnings=error); encoding here avoids that.
    """
    from werkzeug.test import stream_encode_multipart

    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return {
        "data": stream.getvalue(),
        "content_type": f"multipart/form-data; boundary={boundary}",
    }
