"""Assessment weights (网格员考核): one row per component, weight and monthly target, as data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db

# component → (weight, target per month). Satisfaction's target is a percentage (满意率).
DEFAULT_WEIGHTS = {
    "reports": (20, 10),
    "verified_reports": (15, 6),
    "inspections_on_time": (20, 8),
    "visits": (25, 20),
    "follow_ups": (10, 4),
    "satisfaction": (10, 90),
}
COMPONENTS = tuple(DEFAULT_WEIGHTS)
COMPONENT_NAMES = {
    "reports": "上报事件",
    "verified_reports": "上报并受理",
    "inspections_on_time": "按期排查",
    "visits": "走访",
    "follow_ups": "回访",
    "satisfaction": "满意率",
}


class AssessmentWeight(db.Model):
    """A component of the monthly score: its weight (share of 100) and its target per month."""

    __tablename__ = "assessment_weights"
    __table_args__ = (
        CheckConstraint(
            "component IN (" + ", ".join(repr(c) for c in COMPONENTS) + ")", name="component"
        ),
        CheckConstraint("weight >= 0 AND weight <= 100", name="weight"),
        CheckConstraint("target > 0", name="target"),
    )

    component: Mapped[str] = mapped_column(String(30), primary_key=True)
    weight: Mapped[int] = mapped_column(Integer)
    target: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __mapper_args__ = {"version_id_col": version}
