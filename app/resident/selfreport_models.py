"""Self-reports (随手拍, issue 15 item 4): a resident's report, its photos, and phone codes.

A resident confirms a mobile number with a code sent by SMS (`phone_codes`: only keyed hashes of
the phone and the code are kept), then reports at a point; the report waits as 待核实 for the
grid worker(s) of its cell until it is verified (it becomes a case) or declined with a reason.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db

# pending 待核实 · verified 已核实 (a case) · declined 未予受理 · expired 已超时 (still to verify)
STATES = ("pending", "verified", "declined", "expired")
OPEN_STATES = ("pending", "expired")


class PhoneCode(db.Model):
    """A confirmation code sent to a phone: keyed hashes only, an expiry and a failure count."""

    __tablename__ = "phone_codes"
    __table_args__ = (Index("ix_phone_codes_phone_hash", "phone_hash", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # Set when a report used it: a code confirms one report, a replay is refused.
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    self_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("self_reports.id", ondelete="SET NULL")
    )


class SelfReport(db.Model):
    """A resident's report at a point, waiting for the cell's grid worker (待核实)."""

    __tablename__ = "self_reports"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'verified', 'declined', 'expired')", name="state"),
        CheckConstraint("state <> 'declined' OR decline_reason IS NOT NULL", name="reason"),
        Index("ix_self_reports_grid_cell_id", "grid_cell_id", "state"),
        Index(
            "ix_self_reports_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
        # A retry with the same client key (per phone) finds the first report.
        Index("uq_self_reports_client_key", "phone_hash", "client_key", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    town_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    county_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    # The cell's code, for jurisdiction scoping (app/scoping.py), as cases keep theirs.
    region_code: Mapped[str] = mapped_column(String(15))
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    phone_enc: Mapped[bytes] = mapped_column(LargeBinary)
    phone_hash: Mapped[str] = mapped_column(String(64))
    phone_masked: Mapped[str] = mapped_column(String(20))
    client_key: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(10), server_default="pending")
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What the resident sees on the progress page (stored in Chinese).
    decline_reason: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class SelfReportPhoto(db.Model):
    """A photo of a self-report; the bytes live in the attachment store (by their hash)."""

    __tablename__ = "self_report_photos"
    __table_args__ = (Index("ix_self_report_photos_report", "self_report_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    self_report_id: Mapped[int] = mapped_column(ForeignKey("self_reports.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str | None] = mapped_column(String(255))


class SelfReportCounter(db.Model):
    """The last serial of a county's self-report numbers in a year (SP + county + year + serial)."""

    __tablename__ = "self_report_counters"

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
