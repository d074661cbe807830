"""Free text's clear originals (encrypted) and the retention policy per kind (migration 0026)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db


class FreeTextOriginal(db.Model):
    """The clear text of one free-text field that held personal data, encrypted like party data.

    The field itself stores the masked text (app/privacy/freetext.py); the audited reveal decrypts
    this; de-identification deletes it.
    """

    __tablename__ = "free_text_originals"
    __table_args__ = (
        UniqueConstraint("table_name", "row_id", "field", name="uq_free_text_originals_field"),
        Index("ix_free_text_originals_case_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(40))
    row_id: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str] = mapped_column(String(40))
    # The case the text belongs to (cases, their events, follow-ups, dispatches), else None.
    case_id: Mapped[int | None] = mapped_column(Integer)
    text_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# What a policy is for: case kinds, and the other records that hold personal data.
RETENTION_KINDS = (
    "dispute",
    "petition",
    "incident",
    "risk_point",
    "visit",
    "self_report",
    "audit_log",
)


class RetentionPolicy(db.Model):
    """How long a kind of record keeps its personal data after it ends (DOMAIN §7)."""

    __tablename__ = "retention_policies"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(repr(k) for k in RETENTION_KINDS) + ")", name="kind"
        ),
        CheckConstraint("months >= 1", name="months"),
    )

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    months: Mapped[int] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    __mapper_args__ = {"version_id_col": version}
