"""Risk points, their history, inspections, categories and the inspection schedule.

There are deliberately no columns for a person's identity, health, criminal record or similar
(个人信息保护法 第二十八条): a key-population (重点人群) point holds its sub-category, control
measures and responsible person only (docs/risks.md).
"""

from __future__ import annotations

from datetime import date
from datetime import datetime

from geoalchemy2 import Geometry
from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.accounts.models import User
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region

# Four colours (突发事件应对法 2024 第六十三条), most serious first.
LEVELS = ("red", "orange", "yellow", "blue")
LEVEL_NAMES = {
    "red": "红色（重大）",
    "orange": "橙色（较大）",
    "yellow": "黄色（一般）",
    "blue": "蓝色（低）",
}
STATUSES = ("active", "cleared")
STATUS_NAMES = {"active": "在控", "cleared": "已消除"}
RESULTS = ("normal", "abnormal")
RESULT_NAMES = {"normal": "正常", "abnormal": "异常"}


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class RiskCategory(db.Model):
    """A risk category (风险类别), admin-editable; `restricted` marks key-population ones."""

    __tablename__ = "risk_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)
    # Allowed sub-categories; empty means free text (or none).
    subcategories: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")
    # Key population (重点人群): no name or description, a listed sub-category required.
    restricted: Mapped[bool] = mapped_column(Boolean, server_default="false")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    sort_order: Mapped[int] = mapped_column(Integer, server_default="0")
    # Optimistic locking (migration 0008): every change bumps it; a stale writer gets 409.
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __mapper_args__ = {"version_id_col": version}


class InspectionSchedule(db.Model):
    """How often a point of a level is inspected (排查周期), in calendar days."""

    __tablename__ = "inspection_schedules"
    __table_args__ = (
        CheckConstraint(_in("level", LEVELS), name="level"),
        CheckConstraint("days > 0 AND days <= 366", name="days"),
    )

    level: Mapped[str] = mapped_column(String(10), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RiskPoint(db.Model):
    """A place that needs ongoing control (风险点): a point or a polygon in one grid cell."""

    __tablename__ = "risk_points"
    __table_args__ = (
        CheckConstraint(_in("level", LEVELS), name="level"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        # One generic column holds either shape; the database keeps it to these two, valid.
        CheckConstraint(
            "GeometryType(geom) IN ('POINT', 'POLYGON') AND ST_IsValid(geom) "
            "AND NOT ST_IsEmpty(geom)",
            name="geom_kind",
        ),
        CheckConstraint(
            "(status = 'cleared') = (cleared_at IS NOT NULL)", name="cleared_consistent"
        ),
        Index("ix_risk_points_geom", "geom", postgresql_using="gist"),
        Index(
            "ix_risk_points_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
        Index("ix_risk_points_grid_cell_id", "grid_cell_id"),
        Index("ix_risk_points_status_next_due", "status", "next_due", "id"),
        Index("ix_risk_points_responsible_id", "responsible_id"),
        Index("ix_risk_points_category_id", "category_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A stable code for the point's whole life: 371699-FX-000123.
    code: Mapped[str] = mapped_column(String(24), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("risk_categories.id", ondelete="RESTRICT"))
    subcategory: Mapped[str | None] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), server_default="active")
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    measures: Mapped[str] = mapped_column(Text)
    responsible_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    geom: Mapped[WKBElement] = mapped_column(Geometry(srid=4326, spatial_index=False))
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    town_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    county_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    # The grid cell's code: the scoping helper filters on its prefix.
    region_code: Mapped[str] = mapped_column(String(15))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    last_inspected_on: Mapped[date | None] = mapped_column(Date)
    # The last day (Asia/Shanghai) the next inspection is due; overdue from the day after.
    next_due: Mapped[date | None] = mapped_column(Date)
    # Set by the sweep (the first day it found the inspection overdue); cleared by an inspection.
    overdue_since: Mapped[date | None] = mapped_column(Date)
    clear_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    clear_requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    clear_reason: Mapped[str | None] = mapped_column(Text)
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Optimistic locking (migration 0008): every change bumps it; a stale writer gets 409.
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    category: Mapped[RiskCategory] = relationship()
    responsible: Mapped[User] = relationship(foreign_keys=[responsible_id])
    registered_by: Mapped[User] = relationship(foreign_keys=[registered_by_id])
    clear_requested_by: Mapped[User | None] = relationship(foreign_keys=[clear_requested_by_id])
    grid_cell: Mapped[GridCell] = relationship()
    village: Mapped[Region] = relationship(foreign_keys=[village_id])
    town: Mapped[Region] = relationship(foreign_keys=[town_id])
    county: Mapped[Region] = relationship(foreign_keys=[county_id])
    events: Mapped[list[RiskEvent]] = relationship(order_by="RiskEvent.id")
    inspections: Mapped[list[Inspection]] = relationship(
        order_by=lambda: [Inspection.inspected_on.desc(), Inspection.id.desc()]
    )

    __mapper_args__ = {"version_id_col": version}


class RiskEvent(db.Model):
    """One entry of a risk point's history. Append-only: the database refuses changes."""

    __tablename__ = "risk_events"
    __table_args__ = (Index("ix_risk_events_risk_point_id", "risk_point_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    risk_point_id: Mapped[int] = mapped_column(ForeignKey("risk_points.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(30))
    from_level: Mapped[str | None] = mapped_column(String(10))
    to_level: Mapped[str | None] = mapped_column(String(10))
    from_status: Mapped[str | None] = mapped_column(String(10))
    to_status: Mapped[str | None] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONB, server_default="{}")

    actor: Mapped[User | None] = relationship()


class Inspection(db.Model):
    """One inspection (排查) of a risk point: date, inspector, result, notes; photos attached."""

    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint(_in("result", RESULTS), name="result"),
        Index("ix_inspections_risk_point_id", "risk_point_id", "inspected_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_point_id: Mapped[int] = mapped_column(ForeignKey("risk_points.id", ondelete="RESTRICT"))
    inspected_on: Mapped[date] = mapped_column(Date)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    result: Mapped[str] = mapped_column(String(10))
    notes: Mapped[str | None] = mapped_column(Text)
    # The case an abnormal inspection opened, if any.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    inspector: Mapped[User] = relationship()
