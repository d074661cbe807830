"""Photos of a case (the reporter's phone, a handler's or a unit's 办理记录): the API adapter."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.cases import files
from app.cases import queries
from app.cases import schemas
from app.extensions import Blueprint
from app.policy import requires

blp = Blueprint("case_photos", __name__, url_prefix="/api/v1", description="事件照片 (photos)")


@blp.route("/cases/<number>/photos", methods=["POST"])
@requires("cases.act")
@blp.response(201, schemas.CaseFileOut(many=True))
@blp.alt_response(403, response="DEFAULT_ERROR", description="本单位没有在办的交办")
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(413, response="DEFAULT_ERROR", description="照片超过 10 MB")
@blp.alt_response(422, response="DEFAULT_ERROR", description="不是 JPEG/PNG/PDF，或超过 10 张")
def add_photos(number: str):
    """Attach photos (multipart/form-data, field `photos`) to a case one may see and act on.

    Field staff in scope may (the reporter, a handler noting progress); a unit's staff while
    their unit holds an open lead or co-handling dispatch of the case. A photo already attached
    to the case (same content) is not attached twice, so a phone may retry an upload whose
    answer it never received.
    """
    case = queries.visible_case(number)
    files.check_may_attach(case, current_user)
    return files.attach(case, files.checked_uploads(request.files.getlist("photos")), current_user)
