"""The deadline policy (期限规则) and the holiday years an admin entered: data, not code."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db


class DeadlinePolicy(db.Model):
    """One configurable clock: days (or working days) for a kind at a level ('*' = any)."""

    __tablename__ = "deadline_policies"
    __table_args__ = (
        UniqueConstraint("kind", "level", "clock", "variant", name="uq_deadline_policies_rule"),
        CheckConstraint("days > 0 AND days <= 366", name="days"),
        CheckConstraint("unit IN ('days', 'working_days')", name="unit"),
        CheckConstraint("warn_percent BETWEEN 1 AND 100", name="warn_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(10), server_default="*")
    clock: Mapped[str] = mapped_column(String(30))
    variant: Mapped[str] = mapped_column(String(10), server_default="*")
    days: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(12), server_default="days")
    source: Mapped[str | None] = mapped_column(String(200))
    # Yellow (黄牌) when the days left are ≤ this share of the period, rounded up, at least 1.
    warn_percent: Mapped[int] = mapped_column(Integer, server_default="20")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HolidayYear(db.Model):
    """An official holiday schedule entered by an admin (the State Council's annual notice)."""

    __tablename__ = "holiday_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    holidays: Mapped[list[date]] = mapped_column(ARRAY(Date))
    workdays: Mapped[list[date]] = mapped_column(ARRAY(Date))
    notice: Mapped[str | None] = mapped_column(String(200))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
