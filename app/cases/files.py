"""Photos and documents of a case: who may attach them, checking and storing the uploads.

They are attachments owned by the case (owner type "case"); the attachment registry lets whoever
may see the case download them. The photos API (app/cases/photos.py) and the case page's 办理记录
form (app/web/casework.py) both attach through here. Services flush; the caller commits.
"""

from __future__ import annotations

from flask_babel import gettext as _

from app.accounts.models import User
from app.attachments import services as attachments
from app.attachments.models import Attachment
from app.cases import queries
from app.cases.models import Case
from app.core.errors import DomainError
from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.extensions import db

MAX_PHOTOS = 10

attachments.register_owner("case", queries.case_visible)


def check_may_attach(case: Case, user) -> None:
    """Whoever may see the case and act on it may attach photos: field staff in scope, and a
    unit's staff while their unit holds an open lead or co-handling dispatch of it."""
    if not queries.unit_holds(case, user):
        raise Forbidden(
            _("本单位没有在办的主办或协办交办：只能查看此事件"),
            {"photos": [_("须本单位主办或协办、且交办未退回、未撤回、未办结")]},
        )


def checked_uploads(files: list) -> list[attachments.Upload]:
    """The uploaded files (werkzeug FileStorage), each checked by its content; at least one,
    at most MAX_PHOTOS. Errors name the `photos` field."""
    files = [f for f in files if f.filename or f.content_length]
    if not files:
        raise Invalid(
            _("没有照片"), errors={"photos": [_("请以 multipart/form-data 的 photos 字段上传")]}
        )
    if len(files) > MAX_PHOTOS:
        raise Invalid(
            _("每个事件最多 %(n)s 张照片", n=MAX_PHOTOS),
            errors={"photos": [_("最多 %(n)s 张", n=MAX_PHOTOS)]},
        )
    uploads = []
    for file in files:
        try:
            uploads.append(attachments.read_upload(file))
        except attachments.AttachmentError as exc:
            raise DomainError(exc.status, exc.message, {"photos": [exc.message]}) from None
    return uploads


def attach(case: Case, uploads: list[attachments.Upload], user) -> list[Attachment]:
    """Store the uploads as the case's attachments; one already attached (same content) is
    not attached twice, so a phone may retry an upload whose answer it never received."""
    existing = {a.sha256: a for a in attachments.for_owners("case", [case.id]).get(case.id, [])}
    stored = []
    for upload in uploads:
        if upload.sha256 not in existing:
            existing[upload.sha256] = attachments.store(upload, "case", case.id, user)
        stored.append(existing[upload.sha256])
    for attachment in stored:  # as queries.files_of lists them: the first uploader's name
        attachment.uploaded_by = db.session.get(User, attachment.uploaded_by_id).display_name
    return stored
