"""Inspections: an abnormal one opens a linked case in one step; photos by content."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy import text
from werkzeug.datastructures import FileStorage

from app.attachments import services as attachments
from app.attachments.models import Attachment
from app.cases.models import Case
from app.extensions import db
from app.risks.models import Inspection
from tests.factories import bearer
from tests.risks.factories import POLYGON_MOSTLY_CELL1
from tests.risks.factories import make_point
from tests.risks.factories import multipart
from tests.risks.factories import pdf_bytes
from tests.risks.factories import png_bytes


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


CASE_FIELDS = {
    "kind": "incident",
    "category": "消防",
    "title": "市场电线老化冒烟",
    "description": "排查发现配电箱线路老化，有冒烟现象",
    "complexity": "ordinary",
}


@pytest.fixture
def attachment_dir(app, tmp_path, monkeypatch) -> Path:
    """A fresh attachment folder for this test."""
    monkeypatch.setitem(app.config, "ATTACHMENT_DIR", str(tmp_path))
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    """Files under the attachment folder."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def counts() -> tuple[int, int, int]:
    """Inspections, attachments and cases in the database."""
    return db.session.execute(
        text(
            "SELECT (SELECT count(*) FROM inspections), (SELECT count(*) FROM attachments),"
            " (SELECT count(*) FROM cases)"
        )
    ).one()


@pytest.mark.parametrize("polygon", [False, True])
def test_abnormal_inspection_opens_a_linked_case(client, world, polygon):
    """open_case: the case is reported at the point (a polygon: its point on surface), linked."""
    user = world["grid_worker@village"]
    point = make_point(user, **({"geometry": POLYGON_MOSTLY_CELL1} if polygon else {}))
    point_id, code = point.id, point.code
    headers = bearer(user)
    response = client.post(
        f"/api/v1/risk-points/{point_id}/inspections",
        json={"result": "abnormal", "notes": "配电箱冒烟", "open_case": True, **CASE_FIELDS},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    number = body["case_number"]
    assert number and body["inspection"]["case_number"] == number
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert case.risk_point_id == point_id
    assert (case.kind, case.category, case.title) == ("incident", "消防", CASE_FIELDS["title"])
    assert case.grid_cell.code == "371699101200001"
    same_place = db.session.scalar(
        text(
            """
            SELECT ST_Equals(c.location, CASE WHEN GeometryType(r.geom) = 'POINT' THEN r.geom
                                              ELSE ST_PointOnSurface(r.geom) END)
              FROM cases c, risk_points r WHERE c.number = :n AND r.id = :id
            """
        ),
        {"n": number, "id": point_id},
    )
    assert same_place
    assert code in case.events[0].note
    detail = client.get(f"/api/v1/risk-points/{point_id}", headers=headers).get_json()
    assert detail["cases"] == [number]
    assert detail["inspections"][0]["result"] == "abnormal"


def test_open_case_needs_an_abnormal_result_and_the_case_fields(client, world):
    """422 for open_case on a normal inspection or without kind/category/title; nothing written."""
    user = world["grid_worker@village"]
    point_id = make_point(user).id
    headers = bearer(user)
    url = f"/api/v1/risk-points/{point_id}/inspections"
    normal = client.post(
        url, json={"result": "normal", "open_case": True, **CASE_FIELDS}, headers=headers
    )
    assert normal.status_code == 422 and "open_case" in normal.get_json()["errors"]["json"]
    bare = client.post(url, json={"result": "abnormal", "open_case": True}, headers=headers)
    assert bare.status_code == 422
    assert {"kind", "category", "title", "description"} <= set(bare.get_json()["errors"]["json"])
    wrong = client.post(
        url,
        json={"result": "abnormal", "open_case": True, **CASE_FIELDS, "category": "邻里"},
        headers=headers,
    )
    assert wrong.status_code == 422 and "category" in wrong.get_json()["errors"]["json"]
    assert counts() == (0, 0, 0)


def test_png_and_pdf_photos_are_stored_by_content_hash(client, world, attachment_dir):
    """Multipart with two photos: both stored under their SHA-256, listed, downloadable."""
    user = world["grid_worker@village"]
    point_id = make_point(user).id
    headers = bearer(user)
    png, pdf = png_bytes(), pdf_bytes()
    response = client.post(
        f"/api/v1/risk-points/{point_id}/inspections",
        data={
            "result": "normal",
            "notes": "现场照片",
            "inspected_on": "",  # an empty form field is "not given"
            "photos": [(io.BytesIO(png), "现场.png"), (io.BytesIO(pdf), "整改通知.pdf")],
        },
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    photos = response.get_json()["inspection"]["photos"]
    assert [(p["content_type"], p["original_name"]) for p in photos] == [
        ("image/png", "现场.png"),
        ("application/pdf", "整改通知.pdf"),
    ]
    rows = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [len(r.sha256) for r in rows] == [64, 64]
    assert stored_files(attachment_dir) == sorted(attachments.path_for(r.sha256) for r in rows)
    download = client.get(photos[0]["url"], headers=headers)
    assert download.status_code == 200
    assert download.mimetype == "image/png" and download.data == png
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    pdf_download = client.get(photos[1]["url"], headers=headers)
    assert pdf_download.data == pdf and "attachment" in pdf_download.headers["Content-Disposition"]


def test_the_same_photo_is_stored_once(client, world, attachment_dir):
    """Two inspections with the same photo: two rows, one file."""
    user = world["grid_worker@village"]
    point_id = make_point(user).id
    headers = bearer(user)
    for _ in range(2):
        response = client.post(
            f"/api/v1/risk-points/{point_id}/inspections",
            data={"result": "normal", "photos": (io.BytesIO(png_bytes()), "a.png")},
            headers=headers,
            content_type="multipart/form-data",
        )
        assert response.status_code == 201
    assert db.session.scalar(text("SELECT count(*) FROM attachments")) == 2
    assert len(stored_files(attachment_dir)) == 1


@pytest.mark.parametrize(
    ("data", "name", "declared", "status"),
    [
        (b"just some text, not an image\n", "photo.jpg", "image/jpeg", 422),
        (b"<html><script>alert(1)</script></html>", "photo.png", "image/png", 422),
        (b"GIF89a\x01\x00\x01\x00", "animation.gif", "image/gif", 422),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024), "huge.png", "image/png", 413),
    ],
)
def test_bad_photos_are_refused_and_nothing_is_written(
    client, world, attachment_dir, data, name, declared, status
):
    """Checked by content, not name or declared type; over 10 MB is 413; nothing written."""
    user = world["grid_worker@village"]
    point_id = make_point(user).id
    response = client.post(
        f"/api/v1/risk-points/{point_id}/inspections",
        headers=bearer(user),
        **multipart(
            {
                "result": "normal",
                "photos": [
                    FileStorage(io.BytesIO(png_bytes()), "ok.png", content_type="image/png"),
                    FileStorage(io.BytesIO(data), name, content_type=declared),
                ],
            }
        ),
    )
    assert response.status_code == status, response.get_json()
    assert "photos" in response.get_json()["errors"]
    assert counts() == (0, 0, 0)
    assert stored_files(attachment_dir) == []


def test_photos_are_served_only_to_those_who_may_see_the_point(client, world, attachment_dir):
    """In scope: 200. Another village's grid worker, another county, a missing id: the same 404.
    Admins do not see risk points: 403."""
    mediator = world["mediator@village"]
    point = make_point(mediator, geometry={"type": "Point", "coordinates": [118.04, 37.32]})
    from tests.risks.factories import inspect_with_photo

    inspection = inspect_with_photo(point, mediator)
    photo_id = db.session.scalar(select(Attachment.id).where(Attachment.owner_id == inspection.id))
    url = f"/api/v1/attachments/{photo_id}"
    for key in ("mediator@village", "official@town", "mediator@county"):
        assert client.get(url, headers=bearer(world[key])).status_code == 200, key
    # The village grid worker patrols cell 001 only; this point is in cell 002.
    hidden = client.get(url, headers=bearer(world["grid_worker@village"]))
    outside = client.get(url, headers=bearer(world["outsider"]))
    missing = client.get("/api/v1/attachments/999999", headers=bearer(world["outsider"]))
    assert hidden.status_code == outside.status_code == missing.status_code == 404
    assert outside.get_json() == missing.get_json() == hidden.get_json()
    assert client.get(url, headers=bearer(world["admin@county"])).status_code == 403


def test_an_owner_type_nobody_registered_is_never_served(client, world, attachment_dir):
    """The registry decides: an attachment of an unknown owner type answers 404."""
    user = world["mediator@village"]
    upload = attachments.check(png_bytes(), "x.png")
    attachments.write_bytes(upload)
    row = Attachment(
        sha256=upload.sha256,
        content_type=upload.content_type,
        size=len(upload.data),
        uploaded_by_id=user.id,
        owner_type="nobody",
        owner_id=1,
    )
    db.session.add(row)
    db.session.commit()
    response = client.get(
        f"/api/v1/attachments/{row.id}", headers=bearer(world["mediator@village"])
    )
    assert response.status_code == 404


def test_inspection_rows_keep_the_inspector(client, world):
    """The inspector is the caller; the result and notes are kept."""
    user = world["mediator@village"]
    point_id = make_point(user).id
    response = client.post(
        f"/api/v1/risk-points/{point_id}/inspections",
        json={"result": "normal", "notes": "措施落实"},
        headers=bearer(user),
    )
    assert response.status_code == 201
    row = db.session.scalar(select(Inspection))
    assert (row.inspector.username, row.result, row.notes) == (
        "mediator-village",
        "normal",
        "措施落实",
    )
    assert response.get_json()["inspection"]["inspector"] == "mediator-village"
