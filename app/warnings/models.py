"""Warning rules (the thresholds, as data an admin edits) and the warnings raised from them.

A warning never holds a person's identity: a repeat-party warning keeps the party's keyed hash
(app/pii.py), the same value the parties table already holds for search.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db

# DOMAIN §10's five kinds: 新发热点, 重复当事人, 群体性, 越级, 风险点.
KINDS = ("hotspot", "repeat_party", "group", "bypass", "risk_point")
STATES = ("open", "acknowledged", "handled")
# A warning with these states holds its key: new evidence updates it instead of raising another.
LIVE_STATES = ("open", "acknowledged")
# Whose officials are told (app/warnings/services.py chain, recipients_of).
LEVELS = ("village", "town", "county")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class WarningRule(db.Model):
    """One kind's rule: on or off, and its thresholds (validated by app/warnings/rules.py)."""

    __tablename__ = "warning_rules"
    __table_args__ = (CheckConstraint(_in("kind", KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    params: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __mapper_args__ = {"version_id_col": version}


class EarlyWarning(db.Model):
    """One early warning (预警): what, where, how many against how many expected, its handling.

    Not named Warning: that is Python's builtin.
    """

    __tablename__ = "warnings"
    __table_args__ = (
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("state", STATES), name="state"),
        CheckConstraint(_in("level", LEVELS), name="level"),
        # Never raised twice for the same thing: one live warning per key (docs/warnings.md).
        Index(
            "uq_warnings_live_key",
            "dedup_key",
            unique=True,
            postgresql_where=text("state IN ('open', 'acknowledged')"),
        ),
        Index("ix_warnings_dedup_key", "dedup_key"),
        Index(
            "ix_warnings_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
        Index("ix_warnings_state_id", "state", "id"),
        Index("ix_warnings_first_seen_at", "first_seen_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    dedup_key: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(15), server_default="open")
    # The level whose officials answer for it (and are told).
    level: Mapped[str] = mapped_column(String(10))
    grid_cell_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid_cells.id", ondelete="RESTRICT")
    )
    village_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    town_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    county_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    # The cell's code (or the village's, for a village-wide warning): scoping filters its prefix.
    region_code: Mapped[str] = mapped_column(String(15))
    category: Mapped[str | None] = mapped_column(String(40))
    case_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    risk_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("risk_points.id", ondelete="RESTRICT")
    )
    party_hash: Mapped[str | None] = mapped_column(String(64))
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}
