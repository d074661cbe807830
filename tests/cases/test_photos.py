"""Photos of a case: uploaded by the phone, stored once, downloaded only in scope."""

from __future__ import annotations

import io

from app.cases import services
from app.extensions import db
from tests.cases.factories import POINT
from tests.cases.factories import case_body
from tests.factories import bearer
from tests.risks.factories import png_bytes

PNG = png_bytes()  # a real image: uploads must decode


def test_photos_attach_once_and_download_in_scope(app, client, world, tmp_path, monkeypatch):
    """A retried upload does not attach the same photo twice; outsiders get 404."""
    monkeypatch.setitem(app.config, "ATTACHMENT_DIR", str(tmp_path))
    case = services.report({**case_body(), **POINT}, world["grid_worker@village"])
    db.session.commit()
    number = case.number
    headers = bearer(world["grid_worker@village"])

    def upload():
        return client.post(
            f"/api/v1/cases/{number}/photos",
            data={"photos": (io.BytesIO(PNG), "scene.png")},
            headers=headers,
            content_type="multipart/form-data",
        )

    first, again = upload(), upload()
    assert first.status_code == again.status_code == 201
    assert first.get_json()[0]["id"] == again.get_json()[0]["id"]
    photo = first.get_json()[0]["id"]
    mediator = client.get(f"/api/v1/attachments/{photo}", headers=bearer(world["mediator@village"]))
    assert mediator.status_code == 200 and mediator.data == PNG
    outsider = client.get(f"/api/v1/attachments/{photo}", headers=bearer(world["outsider"]))
    assert outsider.status_code == 404
    fake = client.post(
        f"/api/v1/cases/{number}/photos",
        data={"photos": (io.BytesIO(b"not an image"), "x.png")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert fake.status_code == 422
