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
