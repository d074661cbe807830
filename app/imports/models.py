"""Ledger templates (a header → field mapping, saved by name) and import records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.extensions import db

IMPORT_STATES = ("queued", "running", "dry_run_done", "applied", "failed")


class LedgerTemplate(db.Model):
    """How one county's ledger names its columns: header (normalised) → GridGov field."""

    __tablename__ = "ledger_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    mapping: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LedgerImport(db.Model):
    """One uploaded ledger: its file (encrypted: it holds personal data), the mapping used, the
    dry run's problems and the apply's progress and counts."""

    __tablename__ = "ledger_imports"
    __table_args__ = (
        CheckConstraint(
            "state IN ('queued', 'checking', 'running', 'dry_run_done', 'applied', 'failed')",
            name="state",
        ),
        Index("ix_ledger_imports_county_id", "county_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    content_enc: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_templates.id", ondelete="SET NULL")
    )
    mapping: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    county_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(String(12), default="queued", server_default="queued")
    total_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    done_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    problem_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    problems: Mapped[list] = mapped_column(JSONB, server_default="[]")
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    county = relationship("Region")
    template = relationship("LedgerTemplate")
    created_by = relationship("User")
