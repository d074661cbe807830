"""Privacy API: retention policies (admin), a run's plan, and a case's free text revealed."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from marshmallow import ValidationError

from app.cases import queries as case_queries
from app.cases.schemas import NUMBER_PARAMETER
from app.cases.schemas import RevealIn
from app.core.actions import version_from
from app.core.errors import Invalid
from app.extensions import Blueprint
from app.policy import requires
from app.privacy import retention
from app.privacy import schemas
from app.privacy import services

blp = Blueprint("privacy", __name__, url_prefix="/api/v1", description="个人信息保护 (privacy)")


@blp.route("/retention-policies")
@requires("retention.manage")
@blp.response(200, schemas.PolicyOut(many=True))
def list_policies():
    """Each kind's retention policy (months after the record ends)."""
    return retention.policies()


@blp.route("/retention-policies/<kind>", methods=["PATCH"])
@requires("retention.manage")
@blp.doc(
    requestBody={"required": True, "content": {"application/json": {"schema": schemas.PolicyIn}}}
)
@blp.response(200, schemas.PolicyOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期")
@blp.alt_response(
    422, response="DEFAULT_ERROR", description="月数超出范围（审计日志不少于 6 个月）"
)
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def update_policy(kind: str):
    """Change a kind's months and/or basis, with the version seen (If-Match or `version`)."""
    row = retention.policy_of(kind)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid(errors={"json": {"_schema": ["请求体应为 JSON 对象"]}})
    try:
        data = schemas.PolicyIn().load(body)
    except ValidationError as exc:
        raise Invalid(errors={"json": exc.messages}) from None
    version = version_from(request.headers.get("If-Match"), body)
    row = retention.update_policy(row, data, version, current_user)
    return row, {"ETag": f'"{row.version}"'}


@blp.route("/retention/plan")
@requires("retention.manage")
@blp.response(200, schemas.PlanOut)
def retention_plan():
    """What `flask retention run` would de-identify or archive now (a dry run: writes nothing)."""
    return {"kinds": retention.plan()}


@blp.route("/cases/<number>/text/reveal", methods=["POST"], parameters=[NUMBER_PARAMETER])
@requires("cases.reveal")
@blp.arguments(RevealIn)
@blp.response(200, schemas.TextRevealed)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="已去标识化或归档")
def reveal_text(data: dict, number: str):
    """The clear text of the case's free text that held ID or phone numbers; audited with the
    purpose like a party's reveal."""
    case = case_queries.visible_case(number)
    return services.reveal_text(case, data["purpose"], data.get("reason"))
