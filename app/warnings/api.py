"""Warnings API: the scoped list, one warning, the map layer, 签收/处置, and the rules.

A thin adapter over app.warnings.queries (reads), app.warnings.actions (the two actions through
the action runner) and app.warnings.services (the rules); the request boundary commits.
"""

from __future__ import annotations

from flask import Response
from flask import request
from flask_login import current_user

from app.core.actions import version_from
from app.extensions import Blueprint
from app.geo.schemas import FeatureCollectionSchema
from app.policy import requires
from app.scoping import current_scope
from app.warnings import actions
from app.warnings import queries
from app.warnings import schemas
from app.warnings import services
from app.warnings.models import KINDS

blp = Blueprint("warnings", __name__, url_prefix="/api/v1", description="研判预警 (early warnings)")

IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": '预警的版本（ETag），如 "3"；或在请求体中给出 version',
}


def answer(row):
    """A warning's or rule's answer, its version as the ETag (send it back in If-Match)."""
    return row, {"ETag": f'"{row.version}"'}


@blp.route("/warnings")
@requires("warnings.read")
@blp.arguments(schemas.WarningQuery, location="query")
@blp.response(200, schemas.WarningPage)
@blp.alt_response(400, response="DEFAULT_ERROR")
def list_warnings(args):
    """Warnings in the caller's scope, newest first, by keyset pages (`after`).

    Filters: `kind`, `state`, `region` (a region's 12-digit code or a cell's 15-digit code).
    """
    return queries.list_page(args, current_scope())


@blp.route("/warnings.geojson")
@requires("warnings.read")
@blp.arguments(schemas.WarningGeoQuery, location="query")
@blp.response(200, FeatureCollectionSchema, content_type="application/geo+json")
def warnings_geojson(args):
    """The map layer: live warnings (or those of `state`) at their cell, village or case point,
    each with its explanation; `truncated` when more than `limit` (default 1000)."""
    body = queries.geojson(args, current_scope())
    return Response(body, mimetype="application/geo+json")


@blp.route("/warnings/<int:warning_id>")
@requires("warnings.read")
@blp.response(200, schemas.WarningOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_warning(warning_id: int):
    """One warning. The `ETag` is its version: send it back with an action."""
    return answer(queries.visible(warning_id, current_user))


def act(warning_id: int, action: str):
    """Run one action on a visible warning with the version the caller saw."""
    warning = queries.visible(warning_id, current_user)
    body = request.get_json(silent=True)
    body = {} if body is None else body
    version = version_from(request.headers.get("If-Match"), body if isinstance(body, dict) else {})
    actions.perform(action, warning, current_user, body, version)
    return answer(queries.detail(warning))


def json_body(schema) -> dict:
    """OpenAPI requestBody for a JSON body these views load themselves (after the 404 check)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@blp.route(
    "/warnings/<int:warning_id>/actions/acknowledge", methods=["POST"], parameters=[IF_MATCH]
)
@requires("warnings.act")
@blp.doc(**json_body(schemas.AcknowledgeIn))
@blp.response(200, schemas.WarningOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期，或已签收、已处置")
@blp.alt_response(422, response="DEFAULT_ERROR", description="说明 note 有误")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def acknowledge_warning(warning_id: int):
    """签收: the official has seen the warning (`note` optional)."""
    return act(warning_id, "acknowledge")


@blp.route("/warnings/<int:warning_id>/actions/handle", methods=["POST"], parameters=[IF_MATCH])
@requires("warnings.act")
@blp.doc(**json_body(schemas.HandleIn))
@blp.response(200, schemas.WarningOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期，或已处置")
@blp.alt_response(422, response="DEFAULT_ERROR", description="缺少处置说明 note")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def handle_warning(warning_id: int):
    """处置: what was done about the warning (`note` required)."""
    return act(warning_id, "handle")


# --- the rules (thresholds as data) --------------------------------------------------------------


@blp.route("/warning-rules")
@requires("warnings.manage")
@blp.response(200, schemas.RuleOut(many=True))
def list_rules():
    """The five rules, their switches and thresholds (docs/warnings.md)."""
    return queries.rule_rows()


@blp.route("/warning-rules/<kind>", methods=["PUT"], parameters=[IF_MATCH])
@requires("warnings.manage")
@blp.arguments(schemas.RuleUpdate)
@blp.response(200, schemas.RuleOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期")
@blp.alt_response(422, response="DEFAULT_ERROR", description="参数有误（指明参数名）")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def update_rule(data, kind: str):
    """Switch a rule on or off or change its parameters (merged over the stored ones), with
    the version the caller saw."""
    rule = queries.rule(kind if kind in KINDS else "")
    version = version_from(request.headers.get("If-Match"), data)
    data.pop("version", None)
    actions.check_rule_version(rule, version)
    return answer(services.update_rule(rule, current_user, data))
