"""Departments, the routing rules that suggest one, and dispatches of cases to them.

A department (职能部门) is a unit at a town or the county: 派出所, 司法所, 人社所... or 公安局,
司法局, 劳动监察大队... It belongs to one region and lists the categories it is competent for.
A dispatch sends one case to one unit as its lead (主办), a co-handler (协办) or a unit kept
informed (抄告), with its own clocks (shared/DOMAIN.md §8).
"""

from __future__ import annotations

from datetime import date
from datetime import datetime

from sqlalchemy import Boolean
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
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.accounts.models import User
from app.extensions import db
from app.geo.models import Region


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# What kind of unit (for display and the demo's routing); the categories decide competence.
DEPARTMENT_KINDS = (
    "police",  # 派出所 / 公安局
    "justice",  # 司法所 / 司法局
    "labour",  # 人社所 / 劳动监察大队
    "land",  # 自然资源所 / 自然资源局
    "market",  # 市场监管所 / 市场监管局
    "housing",  # 住建局
    "safety",  # 应急/安监站 / 应急管理局
    "petition",  # 信访局
    "health",  # 卫生院 / 卫健委
    "environment",  # 生态环境分局
    "agriculture",  # 农业站
    "other",
)
DISPATCH_ROLES = ("lead", "co", "informed")  # 主办, 协办, 抄告
# sent 待签收 → signed 办理中 → reported 待核查 → accepted 已办结 (or back to signed: 重办);
# returned 已退回 (not in the unit's remit, within 5 working days); withdrawn 已撤回 (by the
# centre, or ended with the lead's dispatch for co-handlers and informed units).
DISPATCH_STATES = ("sent", "signed", "reported", "accepted", "returned", "withdrawn")
OPEN_DISPATCH_STATES = ("sent", "signed", "reported")
DISPATCH_WARNINGS = ("none", "yellow", "red")


class Department(db.Model):
    """A unit that can act on a matter, at a town or the county."""

    __tablename__ = "departments"
    __table_args__ = (
        CheckConstraint(_in("kind", DEPARTMENT_KINDS), name="kind"),
        CheckConstraint("code ~ '^[A-Za-z0-9_.-]{2,40}$'", name="code_format"),
        Index("ix_departments_region_id", "region_id"),
        Index(
            "ix_departments_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    # The region's code, copied: the scoping helper filters on its prefix.
    region_code: Mapped[str] = mapped_column(String(12))
    # Categories (case categories: 劳资, 土地山林水利权属...) the unit is competent for.
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    region: Mapped[Region] = relationship()

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Department {self.code} {self.name}>"


class RoutingRule(db.Model):
    """Data, not code: in a centre's region, a category's default lead unit (the suggestion)."""

    __tablename__ = "routing_rules"
    __table_args__ = (
        UniqueConstraint("region_id", "category", name="uq_routing_rules_region_category"),
        Index("ix_routing_rules_department_id", "department_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The centre's region (a town or the county): its level is the rule's level.
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    category: Mapped[str] = mapped_column(String(40))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))

    region: Mapped[Region] = relationship()
    department: Mapped[Department] = relationship()


class Dispatch(db.Model):
    """One case sent to one unit, with its own clocks (签收, 退回 window, 办结反馈)."""

    __tablename__ = "dispatches"
    __table_args__ = (
        CheckConstraint(_in("role", DISPATCH_ROLES), name="role"),
        CheckConstraint(_in("state", DISPATCH_STATES), name="state"),
        CheckConstraint(_in("warning", DISPATCH_WARNINGS), name="warning"),
        CheckConstraint("redo_count >= 0", name="redo_count"),
        Index("ix_dispatches_case_id", "case_id", "id"),
        Index("ix_dispatches_department_state", "department_id", "state"),
        Index("ix_dispatches_handler_id", "handler_id"),
        Index("ix_dispatches_dispatched_by_id", "dispatched_by_id"),
        # One open lead unit per case at a time.
        Index(
            "uq_dispatches_open_lead",
            "case_id",
            unique=True,
            postgresql_where=text("role = 'lead' AND state IN ('sent', 'signed', 'reported')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), server_default="sent")
    # Dispatches made together (a lead with its co-handlers and informed units) share a round;
    # a re-dispatch after a return starts the next one.
    round: Mapped[int] = mapped_column(Integer, server_default="1")
    instructions: Mapped[str | None] = mapped_column(Text)
    # The centre that sent it: its region and level, and who.
    centre_region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    centre_level: Mapped[str] = mapped_column(String(10))
    dispatched_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Clocks: the last day (Asia/Shanghai) of each; overdue from the day after.
    sign_due: Mapped[date | None] = mapped_column(Date)
    return_due: Mapped[date | None] = mapped_column(Date)
    report_due: Mapped[date | None] = mapped_column(Date)
    next_due: Mapped[date | None] = mapped_column(Date)
    warning: Mapped[str] = mapped_column(String(10), server_default="none")
    clock_rules: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    signed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    return_reason: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reported_on_time: Mapped[bool | None] = mapped_column(Boolean)
    report_note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    review_note: Mapped[str | None] = mapped_column(Text)
    redo_count: Mapped[int] = mapped_column(Integer, server_default="0")
    # The unit's named handler (承办人).
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    department: Mapped[Department] = relationship()
    centre_region: Mapped[Region] = relationship()
    dispatched_by: Mapped[User] = relationship(foreign_keys=[dispatched_by_id])
    signed_by: Mapped[User | None] = relationship(foreign_keys=[signed_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    handler: Mapped[User | None] = relationship(foreign_keys=[handler_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        """Still waiting on the unit or the centre."""
        return self.state in OPEN_DISPATCH_STATES
