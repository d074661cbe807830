"""Schemas of the assessment API: the month query, scores with their parts, the weights."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app import jsonfields


class MonthQuery(Schema):
    month = fields.String(
        validate=validate.Regexp(
            r"^(19|20)\d{2}-(0[1-9]|1[0-2])$", error="应为 YYYY-MM，如 2026-11"
        ),
        metadata={"description": "YYYY-MM；默认本月（北京时间）"},
    )


class PartOut(Schema):
    component = fields.String()
    name = fields.String()
    value = fields.Float(allow_none=True)
    target = fields.Integer()
    weight = fields.Integer()
    points = fields.Float()


class ScoreOut(Schema):
    user_id = fields.Integer()
    name = fields.String()
    region_code = fields.String()
    region_name = fields.String()
    month = fields.String()
    rank = fields.Integer()
    total = fields.Float()
    parts = fields.List(fields.Nested(PartOut))


class RankingOut(Schema):
    month = fields.String()
    items = fields.List(fields.Nested(ScoreOut))


class WeightOut(Schema):
    component = fields.String()
    name = fields.String()
    weight = fields.Integer()
    target = fields.Integer()
    version = fields.Integer()


class WeightIn(Schema):
    """A component's new weight (0–100) and/or monthly target (≥ 1), and the version seen."""

    weight = jsonfields.Integer(validate=validate.Range(0, 100))
    target = jsonfields.Integer(validate=validate.Range(1, 100000))
    version = jsonfields.Integer()
