"""Schemas of the audit log API."""

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from app.audit.models import OUTCOMES


class AuditEntrySchema(Schema):
    """An audit log entry."""

    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    action = fields.String()
    object_type = fields.String(allow_none=True)
    object_id = fields.String(allow_none=True)
    region_code = fields.String(allow_none=True)
    client_addr = fields.String(allow_none=True)
    outcome = fields.String()
    detail = fields.Dict()
    hash = fields.String()


class AuditQuery(Schema):
    """Filters of the audit list."""

    action = fields.String(
        validate=validate.Length(1, 60),
        metadata={"description": "操作，如 cases.reveal；以“.”结尾匹配一类，如 cases."},
    )
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    actor = fields.String(validate=validate.Length(1, 40), metadata={"description": "操作人用户名"})
    object_id = fields.String(
        validate=validate.Length(1, 64), metadata={"description": "对象编号（或事件编号）"}
    )
    since = fields.Date(metadata={"description": "起始日（含）"})
    until = fields.Date(metadata={"description": "截止日（含）"})
    before_id = fields.Integer(validate=validate.Range(min=1))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))

    @validates_schema
    def _period(self, data, **_kwargs):
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError({"until": ["截止日不能早于起始日"]})
