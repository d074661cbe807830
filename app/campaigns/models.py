"""Campaigns (专项排查), their tasks (one per grid cell in the region) and the findings.

A campaign covers a region with a checklist and a deadline; launching it gives every grid cell
in the region one task (`campaign_tasks`, unique per campaign and cell). A grid worker of the
cell records findings on the task: none found, a risk point registered or a case opened (linked
by id). The first finding marks the task done. `client_key` makes a retried finding idempotent.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.accounts.models import User
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region

STATES = ("active", "closed")
STATE_NAMES = {"active": "进行中", "closed": "已结束"}
TASK_STATES = ("pending", "done")
RESULTS = ("none", "risk_point", "case")
RESULT_NAMES = {"none": "未发现问题", "risk_point": "登记风险点", "case": "上报事件"}
ANSWERS = ("yes", "no", "na")
ANSWER_NAMES = {"yes": "是", "no": "否", "na": "不适用"}


class Campaign(db.Model):
    """A 专项排查 campaign over a region (county, town or village)."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("state IN ('active', 'closed')", name="state"),
        CheckConstraint("deadline >= starts_on", name="dates"),
        CheckConstraint(
            "jsonb_typeof(checklist) = 'array' AND jsonb_array_length(checklist) > 0",
            name="checklist",
        ),
        CheckConstraint("(state = 'closed') = (closed_at IS NOT NULL)", name="closed_consistent"),
        Index(
            "ix_campaigns_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    # The region's code: the scoping helper filters on its prefix.
    region_code: Mapped[str] = mapped_column(String(12))
    # A risk category or case category (欠薪, 四乱清理, 重点人群走访, ...): free text.
    category: Mapped[str] = mapped_column(String(40))
    checklist: Mapped[list] = mapped_column(JSONB)
    starts_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), server_default="active")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Optimistic locking: closing bumps it; a stale writer gets 409.
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    region: Mapped[Region] = relationship()
    created_by: Mapped[User] = relationship()

    __mapper_args__ = {"version_id_col": version}


class CampaignTask(db.Model):
    """One grid cell's task in a campaign; done with its first finding."""

    __tablename__ = "campaign_tasks"
    __table_args__ = (
        UniqueConstraint("campaign_id", "cell_id"),
        CheckConstraint("state IN ('pending', 'done')", name="state"),
        CheckConstraint("(state = 'done') = (done_at IS NOT NULL)", name="done_consistent"),
        Index("ix_campaign_tasks_cell_id_state", "cell_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id", ondelete="RESTRICT"))
    # The grid cell's code: the scoping helper filters on its prefix.
    region_code: Mapped[str] = mapped_column(String(15))
    state: Mapped[str] = mapped_column(String(10), server_default="pending")
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by the sweep when it told the cell's grid workers the task is overdue (once).
    overdue_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    campaign: Mapped[Campaign] = relationship()
    cell: Mapped[GridCell] = relationship()


class CampaignFinding(db.Model):
    """One finding on a task: none found, a risk point registered, or a case opened."""

    __tablename__ = "campaign_findings"
    __table_args__ = (
        CheckConstraint("result IN ('none', 'risk_point', 'case')", name="result"),
        CheckConstraint(
            "(result = 'risk_point') = (risk_point_id IS NOT NULL) "
            "AND (result = 'case') = (case_id IS NOT NULL)",
            name="link",
        ),
        # A retried request with the same key finds the first finding instead of a second.
        UniqueConstraint("task_id", "client_key"),
        Index("ix_campaign_findings_task_id", "task_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("campaign_tasks.id", ondelete="CASCADE"))
    result: Mapped[str] = mapped_column(String(12))
    risk_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("risk_points.id", ondelete="RESTRICT")
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    # Checklist item → yes / no / na.
    answers: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    note: Mapped[str | None] = mapped_column(Text)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    client_key: Mapped[str | None] = mapped_column(String(100))

    task: Mapped[CampaignTask] = relationship()
