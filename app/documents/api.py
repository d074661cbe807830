"""Notices API: the templates admins edit, and a case's notices as PDF (docs/notices.md)."""

from __future__ import annotations

from flask import request
from flask import url_for
from flask_login import current_user

from app.cases import queries as case_queries
from app.cases.schemas import NUMBER_PARAMETER
from app.core.actions import version_from
from app.documents import kinds
from app.documents import render
from app.documents import schemas
from app.documents import services
from app.extensions import Blueprint
from app.policy import requires

blp = Blueprint(
    "documents", __name__, url_prefix="/api/v1", description="书面告知文书 (written notices)"
)

BINARY = {"type": "string", "format": "binary"}
KIND_PARAMETER = {
    "in": "path",
    "name": "kind",
    "description": "文书种类：" + ", ".join(kinds.KINDS),
    "schema": {"type": "string", "enum": list(kinds.KINDS)},
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": '模板的版本（ETag），如 "3"；或在请求体中给出 version',
}


def answer(row):
    """A template, its version as the ETag (send it back in If-Match)."""
    return row, {"ETag": f'"{row.version}"'}


@blp.route("/notice-templates")
@requires("notices.manage")
@blp.response(200, schemas.NoticeTemplateOut(many=True))
def list_templates():
    """The five notice templates, each with its version."""
    return services.templates()


@blp.route("/notice-templates/<kind>", parameters=[KIND_PARAMETER])
@requires("notices.manage")
@blp.response(200, schemas.NoticeTemplateOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_template(kind: str):
    """One notice template."""
    return answer(services.template(kind))


@blp.route("/notice-templates/<kind>", methods=["PUT"], parameters=[KIND_PARAMETER, IF_MATCH])
@requires("notices.manage")
@blp.arguments(schemas.NoticeTemplateUpdate)
@blp.response(200, schemas.NoticeTemplateOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期：他人已修改该模板")
@blp.alt_response(422, response="DEFAULT_ERROR", description="模板不能编译或渲染（指明行号）")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def update_template(data, kind: str):
    """Change a template's title and/or body, with the version the caller saw."""
    row = services.template(kind)
    version = version_from(request.headers.get("If-Match"), data)
    data.pop("version", None)
    services.check_version(row, version)
    return answer(services.update_template(row, data, current_user))


@blp.route("/cases/<number>/notices", parameters=[NUMBER_PARAMETER])
@requires("cases.read")
@blp.response(200, schemas.CaseNoticeOut(many=True))
@blp.alt_response(404, response="DEFAULT_ERROR")
def case_notices(number: str):
    """The written notices that apply to the case now (none may), each with its PDF's URL."""
    case = case_queries.visible_case(number)
    return [
        {
            "kind": k.kind,
            "name": str(k.name),
            "basis": k.basis,
            "url": url_for("documents.case_notice", number=case.number, kind=k.kind),
        }
        for k in kinds.applicable(case)
    ]


@blp.route(
    "/cases/<number>/notices/<kind>",
    parameters=[NUMBER_PARAMETER, KIND_PARAMETER],
)
@requires("cases.reveal")
@blp.response(
    200, BINARY, content_type="application/pdf", description="文书 PDF（当事人姓名完整，留痕）"
)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(422, response="DEFAULT_ERROR", description="此事件现在不适用该文书")
def case_notice(number: str, kind: str):
    """A notice of the case as PDF. It names the parties in full: handlers and officials in
    scope only, and every one is audited."""
    case = case_queries.visible_case(number)
    document = services.notice_pdf(case, kind, current_user)
    return render.pdf_response(document, case.number, kind, services.template(kind).title)
