"""Departments API: the units (职能部门) and the routing table (分拨规则), read in scope, kept by
admins inside their jurisdiction (docs/departments.md).

A thin adapter over app.dispatch.departments; the request boundary commits or rolls back.
"""

from __future__ import annotations

from flask import request
from flask import url_for
from flask_login import current_user

from app.core.actions import version_from
from app.dispatch import department_schemas as schemas
from app.dispatch import departments as services
from app.extensions import Blueprint
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint(
    "departments", __name__, url_prefix="/api/v1", description="职能部门与分拨规则 (departments)"
)

IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": '部门的版本（ETag），如 "3"；或在请求体中给出 version',
}


def answer(department, headers: dict | None = None):
    """A unit, its version as the ETag (send it back in If-Match)."""
    return department, {"ETag": f'"{department.version}"', **(headers or {})}


@blp.route("/departments")
@requires("departments.read")
@blp.arguments(schemas.DepartmentQuery, location="query", as_kwargs=True)
@blp.response(200, schemas.DepartmentOut(many=True))
def list_departments(region=None, kind=None, category=None, active=None):
    """Units the caller may read: of their region subtree and the town and county above it
    (department staff: their own unit), by region and code."""
    return services.departments_in_scope(current_scope(), region, kind, category, active)


@blp.route("/departments", methods=["POST"])
@requires("departments.manage")
@blp.arguments(schemas.DepartmentIn)
@blp.response(201, schemas.DepartmentOut)
@blp.alt_response(422, response="DEFAULT_ERROR", description="代码已存在，或区划不在辖区内")
def create_department(data):
    """Add a unit at a town or the county of the caller's jurisdiction."""
    department = services.create_department(data, current_scope(), current_user)
    location = url_for("departments.get_department", department_id=department.id)
    return answer(department, {"Location": location})


@blp.route("/departments/<int:department_id>")
@requires("departments.read")
@blp.response(200, schemas.DepartmentOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_department(department_id: int):
    """One unit the caller may read; the `ETag` is its version."""
    return answer(services.visible_department(department_id, current_scope()))


@blp.route("/departments/<int:department_id>", methods=["PATCH"], parameters=[IF_MATCH])
@requires("departments.manage")
@blp.arguments(schemas.DepartmentUpdate)
@blp.response(200, schemas.DepartmentOut)
@blp.alt_response(403, response="DEFAULT_ERROR", description="部门不在本辖区内（只能查看）")
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期，或停用时尚有未办结分拨")
@blp.alt_response(422, response="DEFAULT_ERROR")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def update_department(data, department_id: int):
    """Rename, re-kind, change the categories or phone, or (de)activate (`active`) a unit, with
    the version the caller saw. Units are never deleted: dispatches refer to them."""
    scope = current_scope()
    department = services.manageable(services.visible_department(department_id, scope), scope)
    version = version_from(request.headers.get("If-Match"), data)
    data.pop("version", None)
    services.check_version(department, version)
    return answer(services.update_department(department, data, current_user))


@blp.route("/routing-rules")
@requires("departments.read")
@blp.arguments(schemas.RoutingQuery, location="query", as_kwargs=True)
@blp.response(200, schemas.RoutingRuleOut(many=True))
def list_routing_rules(region=None, category=None):
    """Routing rules (category → default lead unit) of the towns and county whose units the
    caller may read."""
    return services.rules_in_scope(current_scope(), region, category)


@blp.route("/routing-rules", methods=["PUT"])
@requires("departments.manage")
@blp.arguments(schemas.RoutingTableIn)
@blp.response(200, schemas.RoutingRuleOut(many=True))
@blp.alt_response(422, response="DEFAULT_ERROR", description="区划不在辖区内，或规则有误")
def put_routing_rules(data):
    """Replace one town's or the county's routing table: each category → one active unit of
    that region competent for it; categories left out have no rule. Answers the new table."""
    return services.replace_rules(data["region"], data["rules"], current_scope(), current_user)
