"""Dispatch API (分拨交办): a case's dispatches, a new dispatch, and each step on a dispatch."""

from __future__ import annotations

from flask import Response
from flask import request
from flask_login import current_user

from app.cases import queries as case_queries
from app.cases import schemas as case_schemas
from app.cases import services as case_services
from app.core import actions
from app.core.dump import dump
from app.core.dump import json_answer
from app.core.errors import Invalid
from app.dispatch import queries
from app.dispatch import schemas
from app.dispatch import services
from app.extensions import Blueprint
from app.policy import requires

blp = Blueprint("dispatch", __name__, url_prefix="/api/v1", description="分拨交办 (dispatch)")

DISPATCH_PARAMETER = {"in": "path", "name": "dispatch_id", "required": True}
STEP_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"anyOf": list(dict.fromkeys(schemas.STEP_SCHEMAS.values()))}
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "description": "办结反馈 (report): note 等字段（表单文本），另加 photos 文件",
                "properties": {
                    "photos": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "JPEG、PNG 或 PDF，每个不超过 10 MB，最多 10 个",
                    }
                },
            }
        },
    },
}


DISPATCH_LIST = schemas.DispatchList()


def listing_response(case, status: int = 200) -> Response:
    """A case's dispatches as the caller sees them (ETag: the case's version)."""
    # Dispatches, their steps and files: dumped by the schema's compiled form (app/core/dump.py).
    body = dump(DISPATCH_LIST, queries.listing(case, current_user, staff=False))
    response = json_answer(body, status)
    response.headers["ETag"] = f'"{body["case_version"]}"'
    return response


@blp.route("/cases/<number>/dispatches", parameters=[case_schemas.NUMBER_PARAMETER])
@requires("dispatch.read")
@blp.response(200, schemas.DispatchList)
@blp.alt_response(404, response="DEFAULT_ERROR")
def list_dispatches(number: str):
    """A case's dispatches: unit, role, state, clocks and warnings, the steps the caller may take,
    the report's files, and the routing suggestion for a new dispatch."""
    return listing_response(case_queries.visible_case(number))


@blp.route(
    "/cases/<number>/dispatches", methods=["POST"], parameters=[case_schemas.NUMBER_PARAMETER]
)
@requires("dispatch.act")
@blp.doc(
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": case_schemas.DispatchIn}},
    }
)
@blp.response(201, schemas.DispatchList)
@blp.alt_response(403, response="DEFAULT_ERROR", description="角色或层级不能分拨")
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(
    409, response="DEFAULT_ERROR", description="版本已过期、状态不允许、村级，或已有在办主办单位"
)
@blp.alt_response(422, response="DEFAULT_ERROR", description="单位不在辖区内、报告期限有误")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少事件版本（If-Match 或 version）")
def dispatch_case(number: str):
    """分拨交办 (the workflow's `dispatch`) with the case's version: the lead unit
    (`lead_department_id`), optional `co_department_ids` and `informed_department_ids`,
    `instructions`, and `report_due` (default and latest: the case's resolution deadline)."""
    case = case_queries.visible_case(number)
    raw = request.get_json() if request.is_json and request.data else {}
    version = actions.version_from(
        request.headers.get("If-Match"), raw if isinstance(raw, dict) else {}
    )
    step = case_services.action_step(case, current_user, "dispatch", version)
    actions.run(step, case, raw, version=version, stale_message=case_services.stale_message())
    return listing_response(case, 201)


def step_body() -> tuple[dict, list]:
    """A step's fields and a report's files, from JSON or multipart/form-data."""
    if request.mimetype == "multipart/form-data":
        unknown = set(request.files) - {"photos"}
        if unknown:
            raise Invalid(
                "只接受名为 photos 的文件字段", errors={"files": {k: ["未知字段"] for k in unknown}}
            )
        raw = {k: v for k, v in request.form.items() if v != "" and k != "csrf_token"}
        if raw.get("version", "").isdigit():
            raw["version"] = int(raw["version"])
        files = [f for f in request.files.getlist("photos") if f.filename or f.content_length]
        return raw, files
    body = request.get_json(silent=True)
    return ({} if body is None else body), []


@blp.route(
    "/cases/<number>/dispatches/<int:dispatch_id>/actions/<action>",
    methods=["POST"],
    parameters=[case_schemas.NUMBER_PARAMETER, DISPATCH_PARAMETER, schemas.ACTION_PARAMETER],
)
@requires("dispatch.act")
@blp.doc(requestBody=STEP_BODY)
@blp.response(200, schemas.DispatchOut)
@blp.alt_response(403, response="DEFAULT_ERROR", description="不是本单位的分拨，或角色不能办理")
@blp.alt_response(404, response="DEFAULT_ERROR", description="事件、分拨或操作不存在")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期、状态不允许、退回期限已过")
@blp.alt_response(
    422, response="DEFAULT_ERROR", description="字段缺失或有误，附件不是 JPEG/PNG/PDF"
)
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少分拨记录版本")
def take_step(number: str, dispatch_id: int, action: str):
    """A step on one dispatch (docs/workflow.md, the dispatch table) with the dispatch's version:
    sign, return (`reason`, within 5 working days), report (`note`, files as multipart `photos`),
    accept (the case's resolution: `outcome`, ...), redo (`reason`, `report_due`), claim,
    assign_handler (`handler_id`)."""
    case = case_queries.visible_case(number)
    dispatch = queries.dispatch_of(case, dispatch_id)
    raw, files = step_body()
    version = actions.version_from(
        request.headers.get("If-Match"),
        raw if isinstance(raw, dict) else {},
        form=request.mimetype == "multipart/form-data",
    )
    step = services.step(case, dispatch, current_user, action, version, files)
    actions.run(step, dispatch, raw, version=version, stale_message=services.stale_message())
    listed = {d.id: d for d in queries.listing(case, current_user, staff=False)["items"]}
    body = schemas.DispatchOut().dump(listed[dispatch.id])
    response = json_answer(body)
    response.headers["ETag"] = f'"{body["version"]}"'
    return response
