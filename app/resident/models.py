"""Receipts (回执): the number and query code a resident uses to follow a matter.

A receipt belongs to a case, or to a resident's self-report (随手拍) that has not become a case yet;
when the report is verified the receipt gains the case and keeps its number and code, so the
resident follows the same matter with what they were given. Only a keyed hash of the code is
stored: the code is shown once, when the receipt is issued. Printing a receipt again issues a new
code and the earlier one stops working (`superseded_at`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import func
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db


class Receipt(db.Model):
    __tablename__ = "receipts"
    __table_args__ = (
        # One code in force per number; earlier ones are kept (superseded) for the audit trail.
        Index(
            "uq_receipts_current",
            "number",
            unique=True,
            postgresql_where=text("superseded_at IS NULL"),
        ),
        Index("ix_receipts_case_id", "case_id"),
        CheckConstraint(
            "case_id IS NOT NULL OR self_report_id IS NOT NULL", name="receipt_has_subject"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # What the resident types: the case number, or the self-report's number until it is a case.
    number: Mapped[str] = mapped_column(String(24))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    # A self-report (issue 15 item 4, app/resident/selfreport_models.py; foreign key: 0016).
    self_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("self_reports.id", ondelete="CASCADE")
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How many times a wrong code was tried against this number (kept by the progress lookup).
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


RATINGS = ("satisfied", "basically", "dissatisfied")
RATING_NAMES = {"satisfied": "满意", "basically": "基本满意", "dissatisfied": "不满意"}


class Rating(db.Model):
    """A resident's rating (评价) of one resolution of a case: once per resolution round.

    The round is the case's `resolved_at` when the resident rated: a case reopened and resolved
    again has a new `resolved_at`, so it may be rated again (docs/resident.md).
    """

    __tablename__ = "resident_ratings"
    __table_args__ = (
        UniqueConstraint("case_id", "resolved_at", name="uq_resident_ratings_round"),
        CheckConstraint("rating IN ('satisfied', 'basically', 'dissatisfied')", name="rating"),
        Index("ix_resident_ratings_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rating: Mapped[str] = mapped_column(String(12))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
