"""Warnings and warning rules in and out (marshmallow)."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app import jsonfields
from app.cases.schemas import one_of
from app.warnings.models import KINDS
from app.warnings.models import STATES

MAX_LIST_LIMIT = 200
MAX_MAP_LIMIT = 5000
VERSION = {
    "validate": validate.Range(min=1),
    "metadata": {"description": "调用方看到的版本（或用 If-Match 头）"},
}


class WarningQuery(Schema):
    """Filters of the warning list (and the map layer)."""

    kind = fields.String(validate=one_of(KINDS, "kind "))
    state = fields.String(validate=one_of(STATES, "state "))
    region = fields.String(
        validate=validate.Regexp(
            r"^\d{12}(\d{3})?$", error="region 应为 12 位区划代码或 15 位网格代码"
        )
    )
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, MAX_LIST_LIMIT, error=f"limit 应在 1 到 {MAX_LIST_LIMIT} 之间"),
    )
    after = fields.String(metadata={"description": "上一页返回的 next 游标"})


class WarningGeoQuery(WarningQuery):
    """The map layer's filters: up to MAX_MAP_LIMIT features, no paging."""

    class Meta:
        exclude = ("after",)

    limit = fields.Integer(
        load_default=1000,
        validate=validate.Range(1, MAX_MAP_LIMIT, error=f"limit 应在 1 到 {MAX_MAP_LIMIT} 之间"),
    )


class WarningOut(Schema):
    """One warning: what, where, how many against how many expected, and its handling."""

    id = fields.Integer()
    kind = fields.String()
    state = fields.String()
    level = fields.String()
    region_code = fields.String()
    category = fields.String(allow_none=True)
    explanation = fields.String()
    observed = fields.Integer()
    expected = fields.Float(allow_none=True)
    p_value = fields.Float(allow_none=True)
    case_numbers = fields.List(fields.String())
    risk_point_id = fields.Integer(allow_none=True)
    lon = fields.Float()
    lat = fields.Float()
    first_seen_at = fields.DateTime()
    last_seen_at = fields.DateTime()
    acknowledged_at = fields.DateTime(allow_none=True)
    handled_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)
    version = fields.Integer()


class WarningPage(Schema):
    """A page of warnings, newest first, with the cursor of the next page."""

    items = fields.List(fields.Nested(WarningOut))
    next = fields.String(allow_none=True)


class AcknowledgeIn(Schema):
    """签收, with the version the caller saw and an optional note."""

    version = jsonfields.Integer(**VERSION)
    note = fields.String(validate=validate.Length(max=2000))


class HandleIn(Schema):
    """处置: what was done (required), with the version the caller saw."""

    version = jsonfields.Integer(**VERSION)
    note = fields.String(required=True, validate=validate.Length(1, 2000))


class RuleOut(Schema):
    """One warning rule."""

    kind = fields.String()
    name = fields.String()
    enabled = fields.Boolean()
    params = fields.Dict()
    version = fields.Integer()
    updated_at = fields.DateTime()


class RuleUpdate(Schema):
    """A change to a rule: on/off and any of its parameters (checked against the kind's table)."""

    version = jsonfields.Integer(**VERSION)
    enabled = jsonfields.Boolean()
    params = fields.Dict(keys=fields.String())
