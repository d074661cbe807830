"""Regions and grid cells."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from geoalchemy2 import Geometry
from geoalchemy2 import WKBElement
from sqlalchemy import CheckConstraint
from sqlalchemy import Column
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.core import clock
from app.extensions import db

LEVELS = ("province", "prefecture", "county", "town", "village")
LEVEL_NAMES = {
    "province": "省",
    "prefecture": "市",
    "county": "县/区",
    "town": "乡/镇/街道",
    "village": "村/社区",
    "grid": "网格",
}

# 新村: a merged or relocated village links to the villages it replaced.
region_predecessors = Table(
    "region_predecessors",
    db.metadata,
    Column("region_id", ForeignKey("regions.id", ondelete="CASCADE"), primary_key=True),
    Column("predecessor_id", ForeignKey("regions.id", ondelete="RESTRICT"), primary_key=True),
)


class Region(db.Model):
    """A province (省), prefecture (市), county (县/区), town (乡/镇/街道) or village (村/社区),
    by its 12-digit 统计用区划代码. The boundary may be missing (边界未导入) until imported."""

    __tablename__ = "regions"
    __table_args__ = (
        CheckConstraint(
            "level IN ('province', 'prefecture', 'county', 'town', 'village')", name="level"
        ),
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_format"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
        Index("ix_regions_parent_id", "parent_id"),
        Index("ix_regions_level", "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    boundary: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True
    )
    valid_from: Mapped[date] = mapped_column(Date, server_default=func.current_date())
    # Set when the region is abolished (已撤销), e.g. merged into a 新村.
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    parent: Mapped[Region | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Region]] = relationship(back_populates="parent")
    predecessors: Mapped[list[Region]] = relationship(
        secondary=region_predecessors,
        primaryjoin=id == region_predecessors.c.region_id,
        secondaryjoin=id == region_predecessors.c.predecessor_id,
        backref="successors",
    )

    @property
    def abolished(self) -> bool:
        """True once the region has been abolished (已撤销)."""
        return self.valid_to is not None and self.valid_to <= clock.today()

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"


class GridCell(db.Model):
    """A grid cell (网格) of a village: the village's 12 digits + a 3-digit serial."""

    __tablename__ = "grid_cells"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_format"),
        CheckConstraint("households IS NULL OR households >= 0", name="households"),
        CheckConstraint("population IS NULL OR population >= 0", name="population"),
        Index("ix_grid_cells_village_id", "village_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(15), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True)
    )
    households: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    village: Mapped[Region] = relationship()

    def __repr__(self) -> str:
        return f"<GridCell {self.code} {self.name}>"
