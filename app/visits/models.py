"""Visits (走访 / 民情日志): where, which household, why, what was heard; reviewed at the village.

The household label ("3组12号") and the householder's name are personal data (shared/DOMAIN.md
§7): encrypted at rest, a masked copy for display, and a keyed hash of the label so coverage can
count distinct households without decrypting.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from geoalchemy2 import WKBElement
from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.accounts.models import User
from app.extensions import db

PURPOSES = ("routine", "key_people", "disputes", "policy", "other")
PURPOSE_NAMES = {
    "routine": "日常走访",
    "key_people": "重点人群",
    "disputes": "矛盾排查",
    "policy": "政策宣传",
    "other": "其他",
}
REVIEW_STATES = ("pending", "reviewed")
REVIEW_STATE_NAMES = {"pending": "待审阅", "reviewed": "已审阅"}


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Visit(db.Model):
    """One household visit logged by a grid worker, placed in its cell by its point."""

    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint(_in("purpose", PURPOSES), name="purpose"),
        CheckConstraint(_in("review_state", REVIEW_STATES), name="review_state"),
        CheckConstraint(
            "(review_state = 'reviewed') = (reviewed_at IS NOT NULL)", name="review_consistent"
        ),
        # The phone's outbox sends each visit with a key made once: a retry finds the first row.
        UniqueConstraint("logged_by_id", "client_key", name="uq_visits_client_key"),
        Index(
            "ix_visits_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
        Index("ix_visits_grid_cell_id_visited_at", "grid_cell_id", "visited_at"),
        Index("ix_visits_logged_by_id_visited_at", "logged_by_id", "visited_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_key: Mapped[str] = mapped_column(String(100))
    logged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    town_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    county_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    # The grid cell's code: the scoping helper filters on its prefix.
    region_code: Mapped[str] = mapped_column(String(15))
    household_enc: Mapped[bytes] = mapped_column(LargeBinary)
    household_masked: Mapped[str] = mapped_column(String(40))
    household_hash: Mapped[str] = mapped_column(String(64))
    householder_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    householder_masked: Mapped[str | None] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(12))
    heard: Mapped[str] = mapped_column(Text)
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    review_state: Mapped[str] = mapped_column(String(10), server_default="pending")
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Optimistic locking: a review with a stale version is answered 409.
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    logged_by: Mapped[User] = relationship(foreign_keys=[logged_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])

    __mapper_args__ = {"version_id_col": version}
