"""Visits API (走访 / 民情日志): log (idempotent), list, detail, photos, review, coverage.

A thin adapter over app.visits.queries (reads) and app.visits.services (writes); the request
boundary commits or rolls back.
"""

from __future__ import annotations

import json
import re

from flask import Response
from flask import request
from flask import url_for
from flask_login import current_user

from app.cases import files
from app.core.actions import version_from
from app.core.errors import Invalid
from app.extensions import Blueprint
from app.geo.crs import to_wgs84
from app.policy import requires
from app.scoping import current_scope
from app.visits import queries
from app.visits import schemas
from app.visits import services

blp = Blueprint("visits", __name__, url_prefix="/api/v1", description="走访 / 民情日志 (visits)")

KEY_RE = re.compile(schemas.KEY_PATTERN)
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": '走访记录的版本（ETag），如 "1"；或在请求体中给出 version',
}


def answer(visit, status: int = 200, replayed: bool = False) -> Response:
    """The visit as JSON, its version as the ETag."""
    body = schemas.VisitOut().dump(queries.decorate([visit])[0])
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")
    response.headers["ETag"] = f'"{visit.version}"'
    response.headers["Location"] = url_for("visits.get_visit", visit_id=visit.id)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blp.route("/visits", methods=["POST"])
@requires("visits.log")
@blp.arguments(schemas.VisitIn)
@blp.response(201, schemas.VisitOut)
@blp.alt_response(403, response="DEFAULT_ERROR", description="该位置不在您的辖区内")
@blp.alt_response(422, response="DEFAULT_ERROR", description="数据有误，或该点不在任何网格内")
def log_visit(data):
    """Log a household visit at a point (`crs=gcj02` converts it first).

    With an `Idempotency-Key` header or a `client_key` in the body, a retry (the phone's outbox)
    answers the visit the first request made (201, `Idempotent-Replayed: true`), never a second.
    """
    key = request.headers.get("Idempotency-Key")
    if key is not None and not KEY_RE.match(key):
        raise Invalid(
            "Idempotency-Key 格式不对",
            errors={"headers": {"Idempotency-Key": ["1–100 个字符：字母、数字或 . _ : -"]}},
        )
    data["lon"], data["lat"] = to_wgs84(data["lon"], data["lat"], data.pop("crs"))
    visit, created = services.log(data, current_user, key)
    return answer(visit, 201, replayed=not created)


@blp.route("/visits")
@requires("visits.read")
@blp.arguments(schemas.VisitQuery, location="query")
@blp.response(200, schemas.VisitPage)
def list_visits(args):
    """Visits in the caller's scope, newest first; `after` (the last id seen) pages on.

    The household and householder are masked (3组***, 张*).
    """
    return queries.list_page(args, current_scope(), current_user.id)


@blp.route("/visits/coverage")
@requires("visits.read")
@blp.arguments(schemas.CoverageQuery, location="query")
@blp.response(200, schemas.CoverageOut)
@blp.alt_response(422, response="DEFAULT_ERROR", description="期间有误")
def visit_coverage(args):
    """Per cell in scope (visited or not): visits and distinct households visited in the period
    (`from`–`to`, inclusive; the last 30 days by default), the cell's households, and days since
    its last visit; rolled up per village and town."""
    return queries.coverage(args, current_scope())


@blp.route("/visits/<int:visit_id>")
@requires("visits.read")
@blp.response(200, schemas.VisitOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_visit(visit_id: int):
    """One visit; the `ETag` is its version (send it back to review it)."""
    return answer(queries.visible_visit(visit_id))


@blp.route("/visits/<int:visit_id>/photos", methods=["POST"])
@requires("visits.log")
@blp.response(201, schemas.VisitOut)
@blp.alt_response(403, response="DEFAULT_ERROR", description="不是本人的走访")
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(413, response="DEFAULT_ERROR", description="照片超过 10 MB")
@blp.alt_response(422, response="DEFAULT_ERROR", description="不是 JPEG/PNG/PDF，或超过 10 张")
def add_visit_photos(visit_id: int):
    """Attach photos (multipart/form-data, field `photos`) to one's own visit; a photo already
    attached (same content) is not attached twice, so the outbox may retry."""
    visit = queries.visible_visit(visit_id)
    uploads = files.checked_uploads(request.files.getlist("photos"))
    services.add_photos(visit, uploads, current_user)
    return answer(visit, 201)


@blp.route("/visits/<int:visit_id>/actions/review", methods=["POST"], parameters=[IF_MATCH])
@requires("visits.review")
@blp.doc(
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": schemas.ReviewIn}},
    }
)
@blp.response(200, schemas.VisitOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期，或已审阅")
@blp.alt_response(422, response="DEFAULT_ERROR", description="缺少审阅意见")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def review_visit(visit_id: int):
    """Review a visit with a comment (required), giving the version seen (If-Match or
    `version`)."""
    visit = queries.visible_visit(visit_id)
    body = request.get_json(silent=True)
    body = {} if body is None else body
    version = version_from(request.headers.get("If-Match"), body if isinstance(body, dict) else {})
    services.review(visit, current_user, body, version)
    return answer(visit)
