"""What the briefing API and pages take in (the same schemas for both)."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate


class BriefingIn(Schema):
    """Which region and period to brief."""

    region = fields.String(
        validate=validate.Regexp(r"^\d{12}$", error="region 应为 12 位区划代码"),
        metadata={"description": "区划代码（县、镇或村）；默认为本人辖区"},
    )
    date_from = fields.Date(
        required=True, data_key="from", metadata={"description": "起始日（含）"}
    )
    date_to = fields.Date(required=True, data_key="to", metadata={"description": "截止日（含）"})


class TemplateIn(Schema):
    """The template's new text, and the version it was edited from."""

    title = fields.String(required=True, validate=validate.Length(1, 100))
    body = fields.String(required=True, validate=validate.Length(1, 20000))
    version = fields.Integer(required=True)
