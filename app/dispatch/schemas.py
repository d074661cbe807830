"""Schemas of the dispatch API: what each dispatch step takes, and what a dispatch shows."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app import jsonfields
from app.cases.schemas import ActionIn
from app.cases.schemas import ReasonIn
from app.cases.schemas import ResolveIn


class ReportIn(ActionIn):
    """办结反馈: what the unit did and its result (photos come as multipart `photos`)."""

    note = fields.String(required=True, validate=validate.Length(1, 2000))


class AcceptIn(ResolveIn):
    """核查通过: the case's resolution (as `resolve` takes it); the note defaults to the report."""

    note = fields.String(validate=validate.Length(1, 2000))


class RedoIn(ReasonIn):
    """重办: why, and optionally a new report deadline."""

    report_due = fields.Date()


class AssignHandlerIn(ActionIn):
    """指定承办人: a member of the unit's staff."""

    handler_id = jsonfields.Integer(required=True, validate=validate.Range(min=1))


STEP_SCHEMAS: dict[str, type[Schema]] = {
    "sign": ActionIn,
    "return": ReasonIn,
    "report": ReportIn,
    "accept": AcceptIn,
    "redo": RedoIn,
    "claim": ActionIn,
    "assign_handler": AssignHandlerIn,
}


class UnitRef(Schema):
    """A department, briefly."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class PersonRef(Schema):
    """A user, by name."""

    id = fields.Integer()
    name = fields.String(attribute="display_name")


class AttachmentRef(Schema):
    """A file of a report (download it from /api/v1/attachments/<id>)."""

    id = fields.Integer()
    content_type = fields.String()
    size = fields.Integer()
    original_name = fields.String(allow_none=True)


class DispatchOut(Schema):
    """One dispatch: unit, role, state, clocks and warning, what the caller may do next."""

    id = fields.Integer()
    case_number = fields.String()
    department = fields.Nested(UnitRef)
    role = fields.String()
    state = fields.String()
    round = fields.Integer()
    instructions = fields.String(allow_none=True)
    centre_level = fields.String()
    dispatched_by = fields.Nested(PersonRef)
    dispatched_at = fields.DateTime()
    sign_due = fields.Date(allow_none=True)
    return_due = fields.Date(allow_none=True)
    report_due = fields.Date(allow_none=True)
    next_due = fields.Date(allow_none=True)
    warning = fields.String()
    signed_at = fields.DateTime(allow_none=True)
    signed_on_time = fields.Boolean(allow_none=True)
    returned_at = fields.DateTime(allow_none=True)
    return_reason = fields.String(allow_none=True)
    reported_at = fields.DateTime(allow_none=True)
    reported_on_time = fields.Boolean(allow_none=True)
    report_note = fields.String(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    review_note = fields.String(allow_none=True)
    redo_count = fields.Integer()
    handler = fields.Nested(PersonRef, allow_none=True)
    version = fields.Integer()
    allowed_actions = fields.List(fields.String())
    attachments = fields.List(fields.Nested(AttachmentRef))


class Suggestion(UnitRef):
    """The routing suggestion: a unit, and why (`rule`: a routing rule; `category`: competence)."""

    source = fields.String()


class DispatchList(Schema):
    """A case's dispatches, with the case's version (for a new dispatch) and the suggestion."""

    case_number = fields.String()
    case_version = fields.Integer()
    case_state = fields.String()
    can_dispatch = fields.Boolean()
    report_due_default = fields.Date(allow_none=True)
    suggestion = fields.Nested(Suggestion, allow_none=True)
    items = fields.List(fields.Nested(DispatchOut))


ACTION_PARAMETER = {
    "in": "path",
    "name": "action",
    "required": True,
    "schema": {"type": "string", "enum": list(STEP_SCHEMAS)},
}
