"""Schemas of the visits API: what a visit takes, what a list and coverage answer show."""

from __future__ import annotations

import datetime as dt

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app import jsonfields
from app.cases.schemas import one_of
from app.geo.crs import CRS_CHOICES
from app.visits.models import PURPOSES
from app.visits.models import REVIEW_STATES

KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"


class VisitIn(Schema):
    """A visit: where (a point), which household, why, what was heard, when."""

    lon = jsonfields.Float(required=True, validate=validate.Range(-180, 180))
    lat = jsonfields.Float(required=True, validate=validate.Range(-90, 90))
    crs = fields.String(load_default="wgs84", validate=one_of(CRS_CHOICES, "crs "))
    household = fields.String(required=True, validate=validate.Length(1, 40))
    householder = fields.String(validate=validate.Length(1, 20), allow_none=True)
    purpose = fields.String(required=True, validate=one_of(PURPOSES, "purpose "))
    heard = fields.String(required=True, validate=validate.Length(1, 4000))
    visited_at = fields.AwareDateTime()
    # The phone's outbox key (or the Idempotency-Key header): a retry answers the first visit.
    client_key = fields.String(validate=validate.Regexp(KEY_PATTERN))


class ReviewIn(Schema):
    """A village official's review: a comment, and the version they saw."""

    comment = fields.String(required=True, validate=validate.Length(1, 2000))
    version = jsonfields.Integer()


class VisitPhotoOut(Schema):
    id = fields.Integer()
    content_type = fields.String()
    size = fields.Integer()
    url = fields.String()


class VisitOut(Schema):
    """A visit as lists and the detail show it: the householder masked, never in full."""

    id = fields.Integer()
    client_key = fields.String()
    lon = fields.Float()
    lat = fields.Float()
    grid_cell = fields.String()
    grid_cell_name = fields.String()
    village = fields.String()
    town = fields.String()
    household = fields.String(attribute="household_masked")
    householder = fields.String(attribute="householder_masked", allow_none=True)
    purpose = fields.String()
    purpose_name = fields.String()
    heard = fields.String()
    visited_at = fields.DateTime()
    logged_by = fields.String(attribute="logged_by_name")
    logged_by_id = fields.Integer()
    review_state = fields.String(validate=validate.OneOf(REVIEW_STATES))
    review_comment = fields.String(allow_none=True)
    reviewed_by = fields.String(attribute="reviewed_by_name", allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()
    photos = fields.List(fields.Nested(VisitPhotoOut))


class VisitQuery(Schema):
    """Filters of the list."""

    review_state = fields.String(validate=one_of(REVIEW_STATES, "review_state "))
    mine = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    after = fields.Integer(validate=validate.Range(min=1))


class VisitPage(Schema):
    items = fields.List(fields.Nested(VisitOut))
    next = fields.Integer(allow_none=True)


DATE_RANGE = validate.Range(dt.date(1949, 10, 1), dt.date(2099, 12, 31))


class CoverageQuery(Schema):
    """The period: from and to (dates, inclusive); the last 30 days by default."""

    from_ = fields.Date(data_key="from", validate=DATE_RANGE)
    to = fields.Date(validate=DATE_RANGE)


class CoverageRow(Schema):
    level = fields.String()
    code = fields.String()
    name = fields.String()
    parent = fields.String(allow_none=True)
    visits = fields.Integer()
    households_visited = fields.Integer()
    households = fields.Integer(allow_none=True)
    days_since_last = fields.Integer(allow_none=True)


class CoverageOut(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    cells = fields.List(fields.Nested(CoverageRow))
    villages = fields.List(fields.Nested(CoverageRow))
    towns = fields.List(fields.Nested(CoverageRow))
