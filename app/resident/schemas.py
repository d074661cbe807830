"""The public progress lookup and rating: in and out (docs/resident.md)."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app import jsonfields
from app.resident.models import RATINGS


class LookupIn(Schema):
    """The case number and the query code from the receipt."""

    number = fields.String(required=True, validate=validate.Length(1, 24))
    code = fields.String(required=True, validate=validate.Length(1, 20))


class RatingIn(LookupIn):
    """A rating of the resolution: 满意 / 基本满意 / 不满意, with a comment."""

    rating = fields.String(
        required=True,
        validate=validate.OneOf(RATINGS, error="satisfied, basically 或 dissatisfied"),
    )
    comment = fields.String(validate=validate.Length(max=500), load_default=None)


class StepOut(Schema):
    """One change of stage: the time and the stage's words."""

    at = fields.DateTime()
    stage = fields.String()
    stage_name = fields.String()


class ProgressOut(Schema):
    """What a resident may see: no parties, no staff, no internal notes."""

    number = fields.String(metadata={"description": "回执编号（查询与评价都用它）"})
    case_number = fields.String(
        allow_none=True, metadata={"description": "事件编号（随手拍立案后与回执编号不同）"}
    )
    stage = fields.String(metadata={"description": "阶段代码（见 docs/resident.md）"})
    stage_name = fields.String(metadata={"description": "阶段（已受理、办理中、已办结……）"})
    reason = fields.String(allow_none=True, metadata={"description": "未予受理等的理由"})
    unit = fields.String(allow_none=True, metadata={"description": "办理单位（区划或部门）"})
    reported_on = fields.Date(allow_none=True)
    accept_due = fields.Date(allow_none=True, metadata={"description": "受理期限"})
    resolve_due = fields.Date(allow_none=True, metadata={"description": "办结期限"})
    resolved_on = fields.Date(allow_none=True)
    public_outcome = fields.String(allow_none=True, metadata={"description": "公开办理结果"})
    can_rate = fields.Boolean(metadata={"description": "现在可以评价"})
    rating = fields.String(allow_none=True, metadata={"description": "本次办结的评价"})
    timeline = fields.List(fields.Nested(StepOut))


class RatingOut(Schema):
    """The rating just recorded."""

    number = fields.String()
    rating = fields.String()
    created_at = fields.DateTime()


class PublicOutcomeIn(Schema):
    """The outcome text for the public (empty clears it) and the case version seen."""

    public_outcome = fields.String(required=True, validate=validate.Length(max=2000))
    version = jsonfields.Integer(required=True, validate=validate.Range(min=1))


class PublicOutcomeOut(Schema):
    """A case's public outcome text and its new version."""

    number = fields.String()
    public_outcome = fields.String(allow_none=True)
    version = fields.Integer()
