"""Schemas of the departments API: units, their filters, and the routing table."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app import jsonfields
from app.accounts.schemas import DepartmentRefSchema
from app.accounts.schemas import RegionRefSchema
from app.cases.schemas import CATEGORIES
from app.cases.schemas import one_of
from app.dispatch.models import DEPARTMENT_KINDS

# The case categories (app/cases/schemas.py), each once, in their order: what a unit may be
# competent for and what a routing rule routes.
CASE_CATEGORIES = tuple(dict.fromkeys(c for names in CATEGORIES.values() for c in names))
CODE = validate.Regexp(r"^[A-Za-z0-9_.-]{2,40}$", error="部门代码应为 2–40 位字母、数字或 _ . -")
REGION = validate.Regexp(r"^\d{12}$", error="应为 12 位区划代码")
PHONE = validate.Regexp(
    r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", error="电话应为 11 位手机号或带区号的固定电话"
)
CATEGORY = one_of(CASE_CATEGORIES, "类别")


class DepartmentOut(Schema):
    """A unit: where it is, what it is competent for, and its version (send it back to edit)."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    region = fields.Nested(RegionRefSchema)
    categories = fields.List(fields.String())
    phone = fields.String(allow_none=True)
    active = fields.Boolean()
    version = fields.Integer(metadata={"description": "修改时在 If-Match 或 version 中带回"})


class DepartmentIn(Schema):
    """A new unit, at a town or the county of the admin's jurisdiction."""

    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(1, 60))
    kind = fields.String(required=True, validate=one_of(DEPARTMENT_KINDS, "kind "))
    region = fields.String(
        required=True, validate=REGION, metadata={"description": "乡镇（街道）或县的区划代码"}
    )
    categories = fields.List(
        fields.String(validate=CATEGORY),
        load_default=list,
        metadata={"description": "职责范围内的事件类别"},
    )
    phone = fields.String(validate=PHONE)
    active = jsonfields.Boolean(load_default=True)


class DepartmentUpdate(Schema):
    """A change to a unit (its code and region stay), with the version the caller saw."""

    version = jsonfields.Integer(
        validate=validate.Range(min=1),
        metadata={"description": "调用方看到的版本（或用 If-Match 头）"},
    )
    name = fields.String(validate=validate.Length(1, 60))
    kind = fields.String(validate=one_of(DEPARTMENT_KINDS, "kind "))
    categories = fields.List(fields.String(validate=CATEGORY))
    phone = fields.String(validate=PHONE, allow_none=True)
    active = jsonfields.Boolean(metadata={"description": "false 停用（从不删除）"})


class DepartmentQuery(Schema):
    """Filters of the unit list."""

    region = fields.String(validate=REGION)
    kind = fields.String(validate=one_of(DEPARTMENT_KINDS, "kind "))
    category = fields.String(validate=CATEGORY)
    active = fields.Boolean()


class RoutingRuleOut(Schema):
    """In a centre's region, a category's default lead unit."""

    region = fields.Nested(RegionRefSchema)
    category = fields.String()
    department = fields.Nested(DepartmentRefSchema)


class RoutingRuleIn(Schema):
    """One line of a routing table."""

    category = fields.String(required=True, validate=validate.Length(1, 40))
    department = fields.String(required=True, validate=CODE, metadata={"description": "部门代码"})


class RoutingTableIn(Schema):
    """A town's or the county's whole routing table (categories left out have no rule)."""

    region = fields.String(required=True, validate=REGION)
    rules = fields.List(
        fields.Nested(RoutingRuleIn), required=True, validate=validate.Length(max=100)
    )


class RoutingQuery(Schema):
    """Filters of the routing rules."""

    region = fields.String(validate=REGION)
    category = fields.String(validate=CATEGORY)
