"""Schemas of the notices API: templates (read, change with the version) and applicable notices."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app import jsonfields


class NoticeTemplateOut(Schema):
    """A notice template: its kind, title, Jinja body and version (the ETag)."""

    kind = fields.String()
    title = fields.String()
    body = fields.String(
        metadata={"description": "Jinja HTML 片段（沙箱渲染；变量见 docs/notices.md）"}
    )
    version = fields.Integer()
    updated_at = fields.DateTime()
    updated_by = fields.Function(lambda t: t.updated_by.username if t.updated_by else None)


class NoticeTemplateUpdate(Schema):
    """A change to a template: its title and/or body, and the version the caller saw."""

    version = jsonfields.Integer(
        validate=validate.Range(min=1),
        metadata={"description": "调用方看到的版本（或用 If-Match 头）"},
    )
    title = fields.String(validate=validate.Length(1, 60))
    body = fields.String(validate=validate.Length(1, 20000))


class CaseNoticeOut(Schema):
    """A notice that applies to the case now, and where its PDF is."""

    kind = fields.String()
    name = fields.String()
    basis = fields.String()
    url = fields.String()
