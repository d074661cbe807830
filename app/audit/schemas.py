"""Schemas of the audit log API."""

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

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

    action = fields.String(validate=validate.Length(1, 60))
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    before_id = fields.Integer(validate=validate.Range(min=1))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
