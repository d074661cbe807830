"""Schemas of the operations endpoints."""

from marshmallow import Schema
from marshmallow import fields


class LiveSchema(Schema):
    """The process is up and answering."""

    status = fields.String(metadata={"example": "ok"})
