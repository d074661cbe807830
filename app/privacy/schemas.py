"""Retention policies and revealed free text, in and out."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app import jsonfields


class PolicyOut(Schema):
    """A kind's retention policy."""

    kind = fields.String()
    months = fields.Integer(metadata={"description": "结束后保存的月数，过后去标识化"})
    basis = fields.String()
    version = fields.Integer()
    updated_at = fields.DateTime()


class PolicyIn(Schema):
    """A kind's new months and/or basis, and the version seen."""

    months = jsonfields.Integer()
    basis = fields.String(validate=validate.Length(1, 200))
    version = jsonfields.Integer()


class PlanOut(Schema):
    """What a retention run would do, per kind."""

    kinds = fields.Dict(
        metadata={"description": "kind → {deidentify, archive, first (case numbers)}"}
    )


class TextItem(Schema):
    """One field's clear text."""

    table = fields.String()
    row_id = fields.Integer()
    field = fields.String()
    text = fields.String()


class TextRevealed(Schema):
    """A case's free text in clear (audited reveal)."""

    number = fields.String()
    items = fields.List(fields.Nested(TextItem))
