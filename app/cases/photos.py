"""Photos of a case (taken by the reporter's phone), stored as attachments owned by the case."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from marshmallow import Schema
from marshmallow import fields

from app.attachments import services as attachments
from app.cases import queries
from app.core.errors import DomainError
from app.core.errors import Invalid
from app.extensions import Blueprint
from app.policy import requires

blp = Blueprint("case_photos", __name__, url_prefix="/api/v1", description="事件照片 (photos)")

MAX_PHOTOS = 10


attachments.register_owner("case", queries.case_visible)


class PhotoOut(Schema):
    """A photo of a case (download it from /api/v1/attachments/<id>)."""

    id = fields.Integer()
    content_type = fields.String()
    size = fields.Integer()
    original_name = fields.String(allow_none=True)


@blp.route("/cases/<number>/photos", methods=["POST"])
@requires("cases.report")
@blp.response(201, PhotoOut(many=True))
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(413, response="DEFAULT_ERROR", description="照片超过 10 MB")
@blp.alt_response(422, response="DEFAULT_ERROR", description="不是 JPEG/PNG/PDF，或超过 10 张")
def add_photos(number: str):
    """Attach photos (multipart/form-data, field `photos`) to a case one can see.

    A photo already attached to the case (same content) is not attached twice, so a phone may
    retry an upload whose answer it never received.
    """
    case = queries.visible_case(number)
    files = [f for f in request.files.getlist("photos") if f.filename or f.content_length]
    if not files:
        raise Invalid(
            "没有照片", errors={"photos": ["请以 multipart/form-data 的 photos 字段上传"]}
        )
    existing = {a.sha256: a for a in attachments.for_owners("case", [case.id]).get(case.id, [])}
    if len(files) > MAX_PHOTOS:
        raise Invalid(
            f"每个事件最多 {MAX_PHOTOS} 张照片", errors={"photos": [f"最多 {MAX_PHOTOS} 张"]}
        )
    stored = []
    for file in files:
        try:
            upload = attachments.read_upload(file)
        except attachments.AttachmentError as exc:
            raise DomainError(exc.status, exc.message, {"photos": [exc.message]}) from None
        if upload.sha256 in existing:
            stored.append(existing[upload.sha256])
            continue
        attachment = attachments.store(upload, "case", case.id, current_user)
        existing[upload.sha256] = attachment
        stored.append(attachment)
    return stored
