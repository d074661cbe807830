"""Download an attachment, if the caller may see the object that owns it."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response
from flask_login import current_user

from app.attachments import services
from app.attachments.models import Attachment
from app.core.errors import DomainError
from app.extensions import Blueprint
from app.extensions import db
from app.policy import deny
from app.policy import requires

blp = Blueprint("attachments", __name__, url_prefix="/api/v1", description="附件 (attachments)")

BINARY = {"type": "string", "format": "binary"}


@blp.route("/attachments/<int:attachment_id>")
@requires("attachments.read")
@blp.response(200, BINARY, content_type="application/octet-stream", description="文件内容")
@blp.alt_response(404, response="DEFAULT_ERROR")
def download_attachment(attachment_id: int):
    """The file, to a caller who may see its owner; anyone else gets 404 as for a missing one."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        raise DomainError(404, "附件不存在")
    if not services.visible(attachment, current_user):
        deny("attachments.read", "attachment", attachment_id, status=404, message="附件不存在")
    data = services.read_bytes(attachment)
    if data is None:
        raise DomainError(404, "附件文件缺失，请联系管理员")
    response = Response(data, mimetype=attachment.content_type)
    # Images show inline; a PDF is downloaded. nosniff keeps browsers to the checked type.
    disposition = "inline" if attachment.content_type.startswith("image/") else "attachment"
    ascii_name = f"attachment-{attachment.id}.{services.EXTENSIONS[attachment.content_type]}"
    name = attachment.original_name or ascii_name
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
