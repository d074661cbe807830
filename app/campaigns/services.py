"""Campaign operations: launch (one task per grid cell in one INSERT ... SELECT), close, record
a finding (registering a risk point or reporting a case through their own services), and the
sweep's overdue warnings. Services flush; the request boundary commits."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy import text

from app.audit import services as audit
from app.campaigns.models import Campaign
from app.campaigns.models import CampaignFinding
from app.campaigns.models import CampaignTask
from app.cases import services as cases
from app.core import clock
from app.core.errors import Conflict
from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.core.errors import stale
from app.extensions import db
from app.geo.crs import to_wgs84
from app.geo.crs import transform_coordinates
from app.geo.models import Region
from app.notify import services as notify
from app.risks import services as risks
from app.scoping import region_prefix
from app.scoping import scope_for

# Grid cells of villages in force (an abolished village's cells get no task).
INSERT_TASKS = """
    INSERT INTO campaign_tasks (campaign_id, cell_id, region_code)
    SELECT :campaign, g.id, g.code
      FROM grid_cells g JOIN regions v ON v.id = g.village_id
     WHERE g.code LIKE :prefix || '%' AND (v.valid_to IS NULL OR v.valid_to > :today)
     ORDER BY g.code
"""


def _field_error(field: str, message: str, summary: str | None = None) -> Invalid:
    return Invalid(summary or message, errors={"json": {field: [message]}})


def launch(data: dict, user) -> Campaign:
    """Launch a campaign over a region in the user's scope: a task for every grid cell in it."""
    today = clock.today()
    region = db.session.scalar(select(Region).where(Region.code == data["region"]))
    if region is None:
        raise _field_error("region", _("区划不存在"))
    if not scope_for(user).contains(region.code):
        raise Forbidden(
            _("只能在本人辖区内发起专项排查"),
            errors={"json": {"region": [_("不在您的辖区内")]}},
        )
    if region.abolished:
        raise _field_error("region", _("该区划已撤销"))
    if data["deadline"] <= today:
        raise _field_error("deadline", _("截止日期须晚于今天"))
    starts_on = data.get("starts_on") or today
    if starts_on > data["deadline"]:
        raise _field_error("starts_on", _("开始日期不能晚于截止日期"))
    campaign = Campaign(
        title=data["title"],
        region=region,
        region_code=region.code,
        category=data["category"],
        checklist=data["checklist"],
        starts_on=starts_on,
        deadline=data["deadline"],
        state="active",
        created_by=user,
        created_at=clock.now(),
    )
    db.session.add(campaign)
    db.session.flush()
    created = db.session.execute(
        text(INSERT_TASKS),
        {
            "campaign": campaign.id,
            "prefix": region_prefix(region.code, region.level),
            "today": today,
        },
    ).rowcount
    if not created:
        raise _field_error("region", _("该区划内没有网格"))
    audit.record(
        "campaigns.launch",
        object_type="campaign",
        object_id=campaign.id,
        region_code=region.code,
        detail={"category": campaign.category, "tasks": created},
    )
    return campaign


def close(campaign: Campaign, user, version: int | None) -> Campaign:
    """Close an active campaign (an official whose scope holds its region), with the version."""
    if not scope_for(user).contains(campaign.region_code):
        raise Forbidden(_("只能结束本人辖区内发起的专项排查"))
    if version is not None and version != campaign.version:
        raise stale(version, campaign.version)
    if campaign.state != "active":
        raise Conflict(_("专项排查已结束"))
    campaign.state = "closed"
    campaign.closed_at = clock.now()
    db.session.flush()
    audit.record(
        "campaigns.close",
        object_type="campaign",
        object_id=campaign.id,
        region_code=campaign.region_code,
    )
    return campaign


def check_answers(campaign: Campaign, answers: dict) -> None:
    """Every checklist item answered, and nothing else."""
    unknown = sorted(set(answers) - set(campaign.checklist))
    missing = [item for item in campaign.checklist if item not in answers]
    if unknown:
        raise _field_error(
            "answers", _("不是本次排查清单的项目：%(items)s", items="、".join(unknown))
        )
    if missing:
        raise _field_error("answers", _("清单尚未答完：%(items)s", items="、".join(missing)))


def _in_cell(found_cell_id: int, task: CampaignTask, field: str, detail: str) -> None:
    if found_cell_id != task.cell_id:
        raise Invalid(
            _("登记位置须在本任务的网格（%(cell)s）内", cell=task.cell.name),
            errors={"json": {field: {detail: [_("不在本任务的网格内")]}}},
        )


def record_finding(task: CampaignTask, user, data: dict) -> CampaignFinding:
    """Record a finding on the user's cell's task; the first marks the task done.

    A risk point is registered by app/risks/services.register and a case reported by
    app/cases/services.report (their rules, audit and history apply), both placed in the task's
    cell; the finding links the new id.
    """
    campaign = task.campaign
    if campaign.state != "active":
        raise Conflict(_("专项排查已结束，不能再录入"))
    if task.cell_id not in {c.id for c in user.grid_cells}:
        raise Forbidden(_("只有本网格的网格员可以录入"))
    check_answers(campaign, data["answers"])
    finding = CampaignFinding(
        task=task,
        result=data["result"],
        answers=data["answers"],
        note=data.get("note"),
        by_id=user.id,
        at=clock.now(),
        client_key=data.get("client_key"),
    )
    if data["result"] == "risk_point":
        body = data["risk_point"]
        crs = body.pop("crs")
        geometry = body["geometry"]
        if crs != "wgs84" and geometry["coordinates"]:
            geometry["coordinates"] = transform_coordinates(geometry["coordinates"], crs)
        point = risks.register(body, user)
        _in_cell(point.grid_cell_id, task, "risk_point", "geometry")
        finding.risk_point_id = point.id
    elif data["result"] == "case":
        body = data["case"]
        body["lon"], body["lat"] = to_wgs84(body["lon"], body["lat"], body.pop("crs"))
        case = cases.report(body, user)
        _in_cell(case.grid_cell_id, task, "case", "lon")
        finding.case_id = case.id
    db.session.add(finding)
    if task.state == "pending":
        task.state = "done"
        task.done_by_id = user.id
        task.done_at = finding.at
    db.session.flush()
    audit.record(
        "campaigns.record",
        object_type="campaign_task",
        object_id=task.id,
        region_code=task.region_code,
        detail={"campaign": campaign.id, "result": finding.result},
    )
    return finding


def cell_workers(cell_id: int) -> list[int]:
    """The active grid workers of a cell."""
    return list(
        db.session.scalars(
            text(
                """
                SELECT u.id FROM user_grid_cells ug JOIN users u ON u.id = ug.user_id
                 WHERE ug.grid_cell_id = :cell AND u.role = 'grid_worker' AND u.active
                """
            ),
            {"cell": cell_id},
        )
    )


def sweep_overdue(on: dt.date | None = None) -> int:
    """Tell the grid workers of each pending task past its campaign's deadline, and the
    launching official once per campaign (`campaign_overdue`); each task is told once."""
    on = on or clock.today()
    tasks = db.session.scalars(
        select(CampaignTask)
        .join(Campaign, Campaign.id == CampaignTask.campaign_id)
        .where(
            Campaign.state == "active",
            Campaign.deadline < on,
            CampaignTask.state == "pending",
            CampaignTask.overdue_notified_at.is_(None),
        )
        .order_by(CampaignTask.id)
        .with_for_update(of=CampaignTask, skip_locked=True)
    ).all()
    moment = clock.now()
    late: dict[int, list[CampaignTask]] = {}
    for task in tasks:
        campaign = task.campaign
        notify.emit(
            "campaign_overdue",
            cell_workers(task.cell_id),
            title=f"专项排查任务已超期：{campaign.title}",
            body=f"{task.cell.name}：截止 {campaign.deadline.isoformat()}，尚未录入排查结果",
            link=f"/campaign-tasks/{task.id}",
            dedup_key=f"campaign_overdue:task:{task.id}",
        )
        task.overdue_notified_at = moment
        late.setdefault(campaign.id, []).append(task)
    for group in late.values():
        campaign = group[0].campaign
        notify.emit(
            "campaign_overdue",
            [campaign.created_by_id],
            title=f"专项排查逾期：{campaign.title}",
            body=f"截止 {campaign.deadline.isoformat()}，{len(group)} 个网格尚未完成",
            link=f"/campaigns/{campaign.id}",
            dedup_key=f"campaign_overdue:campaign:{campaign.id}",
        )
    db.session.flush()
    return len(tasks)
