"""Campaigns API (专项排查): launch, list, detail with progress, close, the cells' map layer,
a cell's task and its findings, and the ledger (xlsx).

A thin adapter over app.campaigns.queries (reads) and app.campaigns.services (writes); findings
and closing run through the one action runner (app/core/actions.run), all or nothing.
"""

from __future__ import annotations

from flask import Response
from flask import request
from flask import url_for
from flask_login import current_user

from app import exports
from app.audit import services as audit
from app.campaigns import queries
from app.campaigns import schemas
from app.campaigns import services
from app.core.actions import Step
from app.core.actions import run
from app.core.actions import version_from
from app.extensions import Blueprint
from app.geo.schemas import FeatureCollectionSchema
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint("campaigns", __name__, url_prefix="/api/v1", description="专项排查 (campaigns)")

GEOJSON = "application/geo+json"
BINARY = {"type": "string", "format": "binary"}
FINDING = schemas.CampaignFindingIn


def json_body() -> dict:
    """The request's JSON body ({} when there is none)."""
    body = request.get_json(silent=True)
    return {} if body is None else body


@blp.route("/campaigns", methods=["POST"])
@requires("campaigns.launch")
@blp.arguments(schemas.CampaignIn)
@blp.response(201, schemas.CampaignDetail)
@blp.alt_response(403, response="DEFAULT_ERROR", description="区划不在您的辖区内")
@blp.alt_response(
    422, response="DEFAULT_ERROR", description="数据有误：清单为空、截止日期不晚于今天"
)
def launch_campaign(data):
    """Launch a campaign over a region in scope: every grid cell in it gets a task, shown in
    its grid workers' task list until a finding is recorded."""
    campaign = services.launch(data, current_user)
    location = url_for("campaigns.get_campaign", campaign_id=campaign.id)
    return queries.detail(campaign, current_user), {
        "Location": location,
        "ETag": f'"{campaign.version}"',
    }


@blp.route("/campaigns")
@requires("campaigns.read")
@blp.arguments(schemas.CampaignQuery, location="query")
@blp.response(200, schemas.CampaignOut(many=True))
@blp.alt_response(400, response="DEFAULT_ERROR")
def list_campaigns(args):
    """Campaigns over or inside the caller's region, newest first, with tasks done in scope."""
    return queries.list_campaigns(args, current_user)


@blp.route("/campaigns/<int:campaign_id>")
@requires("campaigns.read")
@blp.response(200, schemas.CampaignDetail)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_campaign(campaign_id: int):
    """A campaign with its progress in the caller's scope: in all, by town, village and cell."""
    campaign = queries.visible_campaign(campaign_id, current_user)
    return queries.detail(campaign, current_user), {"ETag": f'"{campaign.version}"'}


@blp.route("/campaigns/<int:campaign_id>/close", methods=["POST"])
@requires("campaigns.launch")
@blp.doc(requestBody={"content": {"application/json": {"schema": schemas.CampaignCloseIn}}})
@blp.response(200, schemas.CampaignDetail)
@blp.alt_response(403, response="DEFAULT_ERROR", description="不是本人辖区发起的专项排查")
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="已结束，或版本已过期")
@blp.alt_response(422, response="DEFAULT_ERROR", description="版本号有误")
def close_campaign(campaign_id: int):
    """Close an active campaign (If-Match or `version`, optional: checked when given)."""
    campaign = queries.visible_campaign(campaign_id, current_user)
    body = json_body()
    version = version_from(request.headers.get("If-Match"), body if isinstance(body, dict) else {})
    step = Step(schemas.CampaignCloseIn, lambda c, _data: services.close(c, current_user, version))
    run(step, campaign, body, version=version)
    return queries.detail(campaign, current_user), {"ETag": f'"{campaign.version}"'}


@blp.route("/campaigns/<int:campaign_id>/cells.geojson")
@requires("campaigns.read")
@blp.response(200, FeatureCollectionSchema, content_type=GEOJSON)
@blp.alt_response(404, response="DEFAULT_ERROR")
def campaign_cells(campaign_id: int):
    """The campaign's cells in scope as GeoJSON, each with `state` done / pending / overdue."""
    campaign = queries.visible_campaign(campaign_id, current_user)
    return Response(queries.cells_geojson(campaign, current_scope()), mimetype=GEOJSON)


@blp.route("/campaigns/<int:campaign_id>/ledger.xlsx")
@requires("campaigns.export")
@blp.response(200, BINARY, content_type=exports.XLSX_MIMETYPE, description="专项排查台账")
@blp.alt_response(404, response="DEFAULT_ERROR")
def campaign_ledger(campaign_id: int):
    """The campaign ledger (专项排查台账): a row per finding and per cell not done; audited."""
    campaign = queries.visible_campaign(campaign_id, current_user)
    rows = queries.ledger_rows(campaign, current_scope())
    audit.record(
        "campaigns.export",
        object_type="campaign",
        object_id=campaign.id,
        region_code=current_user.region.code,
        detail={"format": "xlsx", "rows": len(rows)},
    )
    return exports.ledger_file(
        "xlsx",
        sheet="专项排查台账",
        columns=queries.LEDGER_COLUMNS,
        rows=rows,
        ascii_name="gridgov-campaign",
    )


@blp.route("/campaign-tasks/<int:task_id>")
@requires("campaigns.read")
@blp.response(200, schemas.CampaignTaskOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_task(task_id: int):
    """A cell's task: the checklist, the deadline and the findings so far."""
    return queries.task_json(queries.visible_task(task_id, current_user))


@blp.route("/campaign-tasks/<int:task_id>/findings", methods=["POST"])
@requires("campaigns.record")
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": FINDING}}})
@blp.response(201, schemas.CampaignFindingOut)
@blp.alt_response(
    200, schema=schemas.CampaignFindingOut, description="同一 client_key 重试：原记录"
)
@blp.alt_response(403, response="DEFAULT_ERROR", description="不是本网格的网格员")
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="专项排查已结束")
@blp.alt_response(422, response="DEFAULT_ERROR", description="数据有误：清单未答完、位置不在网格内")
def record_finding(task_id: int):
    """Record a finding on the caller's cell's task: `{"result": "none"}`, or `risk_point` with
    the risk-point registration body, or `case` with the case report body, and the checklist's
    `answers`. The first finding marks the task done. With `client_key`, a retry answers the
    first finding (200) and registers nothing again."""
    task = queries.visible_task(task_id, current_user)
    body = json_body()
    key = body.get("client_key") if isinstance(body, dict) else None
    if isinstance(key, str):
        existing = queries.finding_with_key(task.id, key)
        if existing is not None:
            return finding_answer(task, existing.id), 200
    step = Step(FINDING, lambda t, data: services.record_finding(t, current_user, data))
    finding = run(step, task, body)
    return finding_answer(task, finding.id), 201


def finding_answer(task, finding_id: int) -> dict:
    """One finding of the task as the API shows it."""
    return next(f for f in queries.task_json(task)["findings"] if f["id"] == finding_id)
