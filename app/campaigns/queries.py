"""Reads of campaigns: visibility, lists, progress by town/village/cell, the cells' map layer,
the ledger's rows and the counts a briefing cites. Nothing here writes.

A campaign is visible to field staff whose scope overlaps its region: the region is inside the
caller's (a county official sees a town's campaign) or contains it (a village sees the county's
campaign). Its progress, map and ledger count only the tasks in the caller's scope (a grid
worker: their own cells).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import text

from app import pii
from app.campaigns.models import RESULT_NAMES
from app.campaigns.models import Campaign
from app.campaigns.models import CampaignFinding
from app.campaigns.models import CampaignTask
from app.core import clock
from app.core.errors import NotFound
from app.core.geojson import feature_collection_sql
from app.extensions import db
from app.geo.models import Region
from app.policy import deny
from app.scoping import Scope
from app.scoping import region_prefix
from app.scoping import scope_for

LEDGER_COLUMNS = (
    ("镇", 12),
    ("村", 12),
    ("网格", 16),
    ("网格员", 14),
    ("完成时间", 18),
    ("发现", 14),
    ("风险点编号", 18),
    ("案件编号", 20),
    ("备注", 40),
)
# Phone and ID numbers typed into a note are masked in the ledger, as exports mask parties.
ID_NUMBER_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
PHONE_RE = re.compile(r"(?<!\d)1\d{10}(?!\d)")


def codes_above(region: Region) -> list[str]:
    """The codes of a region and every region above it."""
    codes = []
    while region is not None:
        codes.append(region.code)
        region = region.parent
    return codes


def visible_clause(user):
    """Campaigns whose region overlaps the user's jurisdiction."""
    scope = scope_for(user)
    return or_(
        Campaign.region_code.startswith(scope.prefix, autoescape=True),
        Campaign.region_code.in_(codes_above(user.region)),
    )


def visible_campaign(campaign_id: int, user) -> Campaign:
    """The campaign if the user may see it; 404 like a missing one otherwise (audited)."""
    campaign = db.session.scalar(
        select(Campaign).where(Campaign.id == campaign_id, visible_clause(user))
    )
    if campaign is None:
        if db.session.get(Campaign, campaign_id) is not None:
            deny("campaigns.read", "campaign", campaign_id, status=404, message="专项排查不存在")
        raise NotFound("专项排查不存在")
    return campaign


def visible_task(task_id: int, user) -> CampaignTask:
    """The task if it is in the user's scope (a grid worker: their cells); else 404 (audited)."""
    scope = scope_for(user)
    task = db.session.scalar(
        select(CampaignTask).where(
            CampaignTask.id == task_id,
            scope.clause(CampaignTask.region_code, CampaignTask.cell_id),
        )
    )
    if task is None:
        if db.session.get(CampaignTask, task_id) is not None:
            deny("campaigns.read", "campaign_task", task_id, status=404, message="排查任务不存在")
        raise NotFound("排查任务不存在")
    return task


def _tasks_sql(scope: Scope) -> tuple[str, dict]:
    """The scope's condition on campaign_tasks (alias t)."""
    return scope.sql("t", code="region_code", cell="cell_id")


def progress(campaign: Campaign, scope: Scope, today: dt.date | None = None) -> dict:
    """Tasks done, pending and overdue in scope: in all, by town, by village and by cell."""
    today = today or clock.today()
    condition, params = _tasks_sql(scope)
    params |= {"campaign": campaign.id, "today": today, "deadline": campaign.deadline}
    overdue = "t.state = 'pending' AND :deadline < :today"
    rows = db.session.execute(
        text(
            f"""
            SELECT tw.code AS town_code, tw.name AS town, v.code AS village_code,
                   v.name AS village, g.code AS cell_code, g.name AS cell,
                   grouping(tw.code, v.code, g.code) AS lvl,
                   count(*) AS total, count(*) FILTER (WHERE t.state = 'done') AS done,
                   count(*) FILTER (WHERE {overdue}) AS overdue,
                   min(t.id) AS task_id, max(t.done_at) AS done_at
              FROM campaign_tasks t
              JOIN grid_cells g ON g.id = t.cell_id
              JOIN regions v ON v.id = g.village_id
              JOIN regions tw ON tw.id = v.parent_id
             WHERE t.campaign_id = :campaign AND {condition}
             GROUP BY GROUPING SETS ((tw.code, tw.name), (tw.code, v.code, v.name),
                                     (tw.code, v.code, g.code, v.name, g.name, tw.name), ())
             ORDER BY tw.code NULLS FIRST, v.code NULLS FIRST, g.code NULLS FIRST
            """
        ),
        params,
    ).all()
    # grouping() bits: town 4, village 2, cell 1 (a bit set = that column is rolled up).
    out = {"total": 0, "done": 0, "pending": 0, "overdue": 0}
    towns, villages, cells = [], [], []
    for r in rows:
        counts = {"total": r.total, "done": r.done, "overdue": r.overdue}
        if r.lvl == 7:
            out |= counts | {"pending": r.total - r.done}
        elif r.lvl == 3:
            towns.append({"code": r.town_code, "name": r.town, **counts})
        elif r.lvl == 1:
            villages.append({"code": r.village_code, "name": r.village, **counts})
        else:
            state = "done" if r.done else "overdue" if r.overdue else "pending"
            cells.append(
                {
                    "code": r.cell_code,
                    "name": r.cell,
                    "village": r.village,
                    "town": r.town,
                    "task_id": r.task_id,
                    "state": state,
                    "done_at": r.done_at,
                    **counts,
                }
            )
    out["findings"] = finding_counts(campaign.id, scope)
    return out | {"towns": towns, "villages": villages, "cells": cells}


def finding_counts(campaign_id: int, scope: Scope) -> dict[str, int]:
    """Findings in scope by result."""
    condition, params = _tasks_sql(scope)
    rows = db.session.execute(
        text(
            f"""
            SELECT f.result, count(*) FROM campaign_findings f
              JOIN campaign_tasks t ON t.id = f.task_id
             WHERE t.campaign_id = :campaign AND {condition}
             GROUP BY f.result
            """
        ),
        params | {"campaign": campaign_id},
    ).all()
    return dict.fromkeys(RESULT_NAMES, 0) | dict(rows)


def totals(campaign_ids: list[int], scope: Scope) -> dict[int, tuple[int, int]]:
    """(done, total) tasks in scope per campaign, in one statement."""
    if not campaign_ids:
        return {}
    condition, params = _tasks_sql(scope)
    rows = db.session.execute(
        text(
            f"""
            SELECT t.campaign_id, count(*) FILTER (WHERE t.state = 'done'), count(*)
              FROM campaign_tasks t
             WHERE t.campaign_id = ANY(:ids) AND {condition}
             GROUP BY t.campaign_id
            """
        ),
        params | {"ids": campaign_ids},
    ).all()
    return {cid: (done, total) for cid, done, total in rows}


def campaign_json(campaign: Campaign, done: int = 0, total: int = 0) -> dict:
    """A campaign as the API shows it."""
    return {
        "id": campaign.id,
        "title": campaign.title,
        "region_code": campaign.region_code,
        "region_name": campaign.region.name,
        "category": campaign.category,
        "checklist": campaign.checklist,
        "starts_on": campaign.starts_on,
        "deadline": campaign.deadline,
        "state": campaign.state,
        "created_by": campaign.created_by.display_name,
        "created_at": campaign.created_at,
        "closed_at": campaign.closed_at,
        "version": campaign.version,
        "done": done,
        "total": total,
    }


def list_campaigns(args: dict, user) -> list[dict]:
    """Campaigns visible to the user, newest first, each with its tasks done in scope."""
    stmt = select(Campaign).where(visible_clause(user)).order_by(Campaign.id.desc())
    if args.get("state"):
        stmt = stmt.where(Campaign.state == args["state"])
    campaigns = db.session.scalars(stmt.limit(200)).all()
    counts = totals([c.id for c in campaigns], scope_for(user))
    return [campaign_json(c, *counts.get(c.id, (0, 0))) for c in campaigns]


def detail(campaign: Campaign, user) -> dict:
    """A campaign with its progress in the user's scope."""
    scope = scope_for(user)
    shown = progress(campaign, scope)
    return campaign_json(campaign, shown["done"], shown["total"]) | {"progress": shown}


def cells_geojson(campaign: Campaign, scope: Scope, today: dt.date | None = None) -> str:
    """The campaign's cells in scope as GeoJSON, each with its task's state (done, pending,
    overdue), built in PostGIS."""
    condition, params = _tasks_sql(scope)
    select_sql = f"""
        SELECT t.id, t.state, g.code, g.name, g.geom,
               CASE WHEN t.state = 'done' THEN 'done'
                    WHEN c.deadline < :today THEN 'overdue' ELSE 'pending' END AS shown
          FROM campaign_tasks t
          JOIN campaigns c ON c.id = t.campaign_id
          JOIN grid_cells g ON g.id = t.cell_id
         WHERE t.campaign_id = :campaign AND {condition}
    """
    sql = feature_collection_sql(
        select_sql,
        feature_id="id",
        geometry="geom",
        properties={"code": "code", "name": "name", "state": "shown", "task_id": "id"},
        order_by="code",
        limited=False,
    )
    params |= {"campaign": campaign.id, "today": today or clock.today()}
    return db.session.execute(text(sql), params).scalar_one()


def masked_note(note: str | None) -> str | None:
    """A note with any ID or phone number in it masked."""
    if not note:
        return note
    note = ID_NUMBER_RE.sub(lambda m: pii.mask_id_number(m.group(0)), note)
    return PHONE_RE.sub(lambda m: pii.mask_phone(m.group(0)), note)


def ledger_rows(campaign: Campaign, scope: Scope) -> list[tuple]:
    """One row per finding, and one per task without any (未完成), by town, village, cell."""
    condition, params = _tasks_sql(scope)
    rows = db.session.execute(
        text(
            f"""
            SELECT tw.name AS town, v.name AS village, g.name AS cell,
                   coalesce(u.display_name, (
                       SELECT string_agg(w.display_name, '、' ORDER BY w.display_name)
                         FROM user_grid_cells ug JOIN users w ON w.id = ug.user_id
                        WHERE ug.grid_cell_id = g.id AND w.role = 'grid_worker' AND w.active
                   )) AS worker,
                   f.at, f.result, rp.code AS risk_code, cs.number AS case_number, f.note
              FROM campaign_tasks t
              JOIN grid_cells g ON g.id = t.cell_id
              JOIN regions v ON v.id = g.village_id
              JOIN regions tw ON tw.id = v.parent_id
              LEFT JOIN campaign_findings f ON f.task_id = t.id
              LEFT JOIN users u ON u.id = f.by_id
              LEFT JOIN risk_points rp ON rp.id = f.risk_point_id
              LEFT JOIN cases cs ON cs.id = f.case_id
             WHERE t.campaign_id = :campaign AND {condition}
             ORDER BY tw.code, v.code, g.code, f.at NULLS LAST, f.id
            """
        ),
        params | {"campaign": campaign.id},
    ).all()
    return [
        (
            r.town,
            r.village,
            r.cell,
            r.worker,
            r.at.astimezone(clock.SHANGHAI).strftime("%Y-%m-%d %H:%M") if r.at else None,
            RESULT_NAMES[r.result] if r.result else "未完成",
            r.risk_code,
            r.case_number,
            masked_note(r.note),
        )
        for r in rows
    ]


def task_json(task: CampaignTask) -> dict:
    """A task with its campaign's checklist and its findings."""
    campaign = task.campaign
    findings = db.session.execute(
        text(
            """
            SELECT f.id, f.task_id, f.result, f.risk_point_id, rp.code AS risk_point_code,
                   f.case_id, cs.number AS case_number, f.answers, f.note, f.at
              FROM campaign_findings f
              LEFT JOIN risk_points rp ON rp.id = f.risk_point_id
              LEFT JOIN cases cs ON cs.id = f.case_id
             WHERE f.task_id = :task ORDER BY f.at, f.id
            """
        ),
        {"task": task.id},
    ).all()
    return {
        "id": task.id,
        "campaign_id": campaign.id,
        "title": campaign.title,
        "category": campaign.category,
        "checklist": campaign.checklist,
        "deadline": campaign.deadline,
        "campaign_state": campaign.state,
        "cell": task.cell.code,
        "cell_name": task.cell.name,
        "state": task.state,
        "done_at": task.done_at,
        "findings": [dict(f._mapping) for f in findings],
    }


def finding_with_key(task_id: int, key: str) -> CampaignFinding | None:
    """The finding already recorded on the task under a client key."""
    return db.session.scalar(
        select(CampaignFinding).where(
            CampaignFinding.task_id == task_id, CampaignFinding.client_key == key
        )
    )


def counts(region_id: int, start: dt.date, end: dt.date) -> dict:
    """For briefings: campaigns over the region or inside it launched and closed in [start,
    end], their tasks done/total and findings by result (one statement)."""
    region = db.session.get(Region, region_id)
    prefix = region_prefix(region.code, region.level)
    row = db.session.execute(
        text(
            """
            WITH c AS (
                SELECT id, starts_on, closed_at FROM campaigns
                 WHERE region_code LIKE :prefix || '%' OR region_code = ANY(:above))
            SELECT
              (SELECT count(*) FROM c WHERE starts_on BETWEEN :start AND :end) AS launched,
              (SELECT count(*) FROM c
                WHERE (closed_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN :start AND :end)
                AS closed,
              (SELECT count(*) FILTER (WHERE t.state = 'done') FROM campaign_tasks t
                 JOIN c ON c.id = t.campaign_id
                WHERE c.starts_on <= :end AND t.region_code LIKE :prefix || '%') AS tasks_done,
              (SELECT count(*) FROM campaign_tasks t JOIN c ON c.id = t.campaign_id
                WHERE c.starts_on <= :end AND t.region_code LIKE :prefix || '%') AS tasks_total
            """
        ),
        {"prefix": prefix, "above": codes_above(region), "start": start, "end": end},
    ).one()
    findings = db.session.execute(
        text(
            """
            SELECT f.result, count(*) FROM campaign_findings f
              JOIN campaign_tasks t ON t.id = f.task_id
             WHERE t.region_code LIKE :prefix || '%'
               AND (f.at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN :start AND :end
             GROUP BY f.result
            """
        ),
        {"prefix": prefix, "start": start, "end": end},
    ).all()
    return {
        "launched": row.launched,
        "closed": row.closed,
        "tasks_done": row.tasks_done,
        "tasks_total": row.tasks_total,
        "findings": dict.fromkeys(RESULT_NAMES, 0) | dict(findings),
    }
