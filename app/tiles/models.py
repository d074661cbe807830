"""Data versions (the tile cache's invalidation) and region anchors (where low zooms draw)."""

from __future__ import annotations

from geoalchemy2 import Geometry
from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger
from sqlalchemy import Index
from sqlalchemy import SmallInteger
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db


class DataVersion(db.Model):
    """One stripe of a layer's change counter; the layer's version is the sum of its stripes.

    Statement triggers on the layer's tables bump a stripe (migration 0007), in the writer's own
    transaction: a reader sees the counter and the rows it counts in the same snapshot. The
    'warning_rules' version is one stripe set to the next value of the sequence
    `data_version_stamps` instead (migration 0033): a number is never seen twice, not even one a
    rolled-back transaction saw.
    """

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    stripe: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")


class RegionAnchor(db.Model):
    """A point inside a region (ST_PointOnSurface, Web Mercator), kept by a trigger on regions."""

    __tablename__ = "region_anchors"
    __table_args__ = (Index("ix_region_anchors_geom", "geom", postgresql_using="gist"),)

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    level: Mapped[str] = mapped_column(String(10))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=3857, spatial_index=False))
