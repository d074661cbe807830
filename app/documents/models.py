"""Notice templates (文书模板): one per kind of written notice, edited by admins.

The body is a Jinja HTML fragment rendered in a sandbox (app/documents/render.py) with the
variables docs/notices.md lists; the page around it (issuer, number, date, QR) is fixed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.accounts.models import User
from app.extensions import db

# The five written notices (shared/DOMAIN.md §9); which apply to a case: app/documents/kinds.py.
NOTICE_KINDS = ("acceptance", "refusal", "opinion", "agreement", "termination")


class NoticeTemplate(db.Model):
    __tablename__ = "notice_templates"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(repr(k) for k in NOTICE_KINDS) + ")", name="notice_kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    updated_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
