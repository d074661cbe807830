"""Demo campaign: a finished 专项排查 in the demo town — 春节前欠薪专项排查 — launched two months
before the day of seeding and closed a month ago, every cell done.

Each task has a finding: a 欠薪 demo risk point of the cell when there is one (linked, not
registered again), a demo case of the cell when there is one, otherwise "none found". Bulk SQL;
idempotent: skipped when the demo campaign exists (its title ends in "（演示）").
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy import text

from app.accounts.models import User
from app.campaigns.models import Campaign
from app.core import clock
from app.extensions import db
from app.geo.models import Region

TITLE = "春节前欠薪专项排查（演示）"
TOWN = "371699101000"
LAUNCHER = "zhen_ganbu"
CHECKLIST = [
    "在建工程项目是否存在拖欠农民工工资",
    "是否落实工资支付台账和实名制用工",
    "用工单位是否公示维权电话",
]


def seed_demo_campaigns() -> int:
    """Create the finished demo campaign once; how many campaigns were added (0 or 1)."""
    if db.session.scalar(select(Campaign.id).where(Campaign.title == TITLE)) is not None:
        return 0
    town = db.session.scalar(select(Region).where(Region.code == TOWN))
    launcher = db.session.scalar(select(User).where(User.username == LAUNCHER))
    if town is None or launcher is None:
        return 0
    today = clock.today()
    starts = today - dt.timedelta(days=60)
    deadline = today - dt.timedelta(days=45)
    closed = clock.start_of(today - dt.timedelta(days=40))
    campaign = Campaign(
        title=TITLE,
        region=town,
        region_code=town.code,
        category="欠薪",
        checklist=CHECKLIST,
        starts_on=starts,
        deadline=deadline,
        state="closed",
        created_by=launcher,
        created_at=clock.start_of(starts),
        closed_at=closed,
    )
    db.session.add(campaign)
    db.session.flush()
    params = {
        "campaign": campaign.id,
        "prefix": TOWN[:9],
        "launcher": launcher.id,
        "starts": clock.start_of(starts),
        "answers": json.dumps(dict(zip(CHECKLIST, ("no", "yes", "yes"), strict=True))),
    }
    # Done on a day between the start and the deadline (by the cell's code), by its worker.
    db.session.execute(
        text(
            """
            INSERT INTO campaign_tasks (campaign_id, cell_id, region_code, state, done_by_id,
                                        done_at)
            SELECT :campaign, g.id, g.code, 'done',
                   coalesce((SELECT min(ug.user_id) FROM user_grid_cells ug
                               JOIN users u ON u.id = ug.user_id AND u.role = 'grid_worker'
                              WHERE ug.grid_cell_id = g.id), :launcher),
                   :starts + make_interval(days => right(g.code, 2)::int % 14, hours => 10)
              FROM grid_cells g JOIN regions v ON v.id = g.village_id
             WHERE g.code LIKE :prefix || '%' AND v.valid_to IS NULL
            """
        ),
        params,
    )
    db.session.execute(
        text(
            """
            INSERT INTO campaign_findings (task_id, result, risk_point_id, case_id, answers,
                                           note, by_id, at)
            SELECT t.id,
                   CASE WHEN rp.id IS NOT NULL THEN 'risk_point'
                        WHEN cs.id IS NOT NULL THEN 'case' ELSE 'none' END,
                   rp.id, CASE WHEN rp.id IS NULL THEN cs.id END,
                   CAST(:answers AS jsonb),
                   CASE WHEN rp.id IS NOT NULL THEN '工地工资发放需持续关注（演示）'
                        WHEN cs.id IS NOT NULL THEN '已上报事件（演示）'
                        ELSE '未发现欠薪问题（演示）' END,
                   t.done_by_id, t.done_at
              FROM campaign_tasks t
              LEFT JOIN LATERAL (
                   SELECT p.id FROM risk_points p JOIN risk_categories c ON c.id = p.category_id
                    WHERE p.grid_cell_id = t.cell_id AND c.name = '欠薪'
                    ORDER BY p.id LIMIT 1) rp ON true
              LEFT JOIN LATERAL (
                   SELECT k.id FROM cases k
                    WHERE k.grid_cell_id = t.cell_id AND k.category = '劳资'
                    ORDER BY k.id LIMIT 1) cs ON true
             WHERE t.campaign_id = :campaign
            """
        ),
        params,
    )
    return 1
