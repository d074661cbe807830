"""Cameras of the 雪亮工程 video network: where each one is, what it looks at, who owns it.

GridGov holds no video: a camera row carries its GB/T 28181 device code and a link to the video
platform that shows it (docs/cameras.md).
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
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.dispatch.models import Department
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region

STATUSES = ("online", "offline", "fault")
STATUS_NAMES = {"online": "在线", "offline": "离线", "fault": "故障"}


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Camera(db.Model):
    """One camera point (监控点位), placed in its grid cell like a case or a risk point."""

    __tablename__ = "cameras"
    __table_args__ = (
        CheckConstraint("device_code ~ '^[0-9]{20}$'", name="device_code"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("direction IS NULL OR direction BETWEEN 0 AND 359", name="direction"),
        CheckConstraint("video_url IS NULL OR video_url ~ '^https?://'", name="video_url"),
        Index("ix_cameras_geom", "geom", postgresql_using="gist"),
        Index(
            "ix_cameras_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # GB/T 28181 编码 (20 digits, structure checked by app/cameras/devicecode.py).
    device_code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    # Where the lens points, degrees clockwise from north; null for a dome (球机) or unknown.
    direction: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), server_default="online")
    # The owning unit: a department of GridGov, or its name as free text (公安局, 某企业...).
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT")
    )
    owner: Mapped[str | None] = mapped_column(String(100))
    video_url: Mapped[str | None] = mapped_column(String(500))
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    town_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    county_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    # The grid cell's code: the scoping helper filters on its prefix.
    region_code: Mapped[str] = mapped_column(String(15))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    department: Mapped[Department | None] = relationship()
    grid_cell: Mapped[GridCell] = relationship()
    village: Mapped[Region] = relationship(foreign_keys=[village_id])
    town: Mapped[Region] = relationship(foreign_keys=[town_id])
    county: Mapped[Region] = relationship(foreign_keys=[county_id])

    __mapper_args__ = {"version_id_col": version}
