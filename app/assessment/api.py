"""Assessment API (网格员考核): the scoped ranking, one worker's score, the weights."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from marshmallow import ValidationError

from app.assessment import schemas
from app.assessment import scores
from app.assessment import services
from app.core.actions import version_from
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.extensions import Blueprint
from app.policy import deny
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint("assessment", __name__, url_prefix="/api/v1", description="网格员考核 (assessment)")


@blp.route("/assessments")
@requires("assessment.read")
@blp.arguments(schemas.MonthQuery, location="query")
@blp.response(200, schemas.RankingOut)
def ranking(args):
    """The month's scores of the grid workers in the caller's scope, highest first, each with
    its parts (a grid worker sees only their own)."""
    month = scores.month_of(args.get("month"))
    return {"month": month.label, "items": scores.scores(current_scope(), current_user, month)}


@blp.route("/assessments/<int:user_id>")
@requires("assessment.read")
@blp.arguments(schemas.MonthQuery, location="query")
@blp.response(200, schemas.ScoreOut)
@blp.alt_response(404, response="DEFAULT_ERROR", description="不是辖区内的网格员")
def worker_score(args, user_id: int):
    """One grid worker's score for the month with its parts: a worker only their own, officials
    their scope's workers; anyone else's is 404, like a missing one."""
    month = scores.month_of(args.get("month"))
    found = scores.scores(current_scope(), current_user, month, user_id=user_id)
    if not found:
        if user_id != current_user.id:
            deny("assessment.read", "user", user_id, status=404, message="网格员不存在")
        raise NotFound("网格员不存在")
    return found[0]


@blp.route("/assessment-weights")
@requires("assessment.weights")
@blp.response(200, schemas.WeightOut(many=True))
def list_weights():
    """Each component's weight (their sum is scaled to 100) and monthly target."""
    return services.weights()


@blp.route("/assessment-weights/<component>", methods=["PATCH"])
@requires("assessment.manage")
@blp.doc(
    requestBody={"required": True, "content": {"application/json": {"schema": schemas.WeightIn}}}
)
@blp.response(200, schemas.WeightOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期")
@blp.alt_response(422, response="DEFAULT_ERROR", description="权重应为 0–100，目标至少为 1")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def update_weight(component: str):
    """Change a component's weight and/or target, with the version seen (If-Match or
    `version`)."""
    row = services.weight_of(component)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid(errors={"json": {"_schema": ["请求体应为 JSON 对象"]}})
    try:
        data = schemas.WeightIn().load(body)
    except ValidationError as exc:
        raise Invalid(errors={"json": exc.messages}) from None
    if "weight" not in data and "target" not in data:
        raise Invalid(errors={"json": {"weight": ["请给出 weight 或 target"]}})
    version = version_from(request.headers.get("If-Match"), body)
    row = services.update_weight(row, data, version, current_user)
    return row, {"ETag": f'"{row.version}"'}
