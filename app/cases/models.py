"""Cases, their parties, timeline, agreements, follow-ups and idempotency keys.

The deadline policy and the entered holiday years are app/deadlines/models.py's.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime

from geoalchemy2 import Geometry
from geoalchemy2 import WKBElement
from geoalchemy2.shape import to_shape
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.accounts.models import User
from app.cameras.models import Camera
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


KINDS = ("dispute", "petition", "incident")
STATES = (
    "reported",
    "accepted",
    "in_progress",
    "resolved",
    "followed_up",
    "closed",
    "rejected",
    "withdrawn",
)
LEVELS = ("village", "town", "county")
WARNINGS = ("none", "yellow", "red")
SUPERVISION = ("none", "normal", "yellow", "red")
SOURCES = (
    "grid_patrol",
    "visit",
    "letter",
    "phone",
    "online",
    "video",
    "assigned",
    "other",
    # 人民调解法 第十八条: a court's 委派 and the police's 委托 (migration 0010).
    "court_referral",
    "police_referral",
)
COMPLEXITY = ("simple", "ordinary", "complex")
REVIEW_STAGES = ("none", "review", "re_review")
# 信访工作条例 第十九条: a likely same matter waits for the handler's decision.
SAME_MATTER_DECISIONS = ("pending", "different", "refused")
# Why a matter was not accepted (信访工作条例 第十九、二十三、三十一条; 人民调解法 第十七条).
REJECTION_GROUNDS = ("outside_remit", "other_route", "same_matter", "after_re_review", "other")
# The routes a petitioner or party is told (第十九、三十一条; 人民调解法 第二十六条).
ROUTES_TOLD = ("诉讼", "仲裁", "行政", "行政复议", "有权机关")


class Case(db.Model):
    """One matter with one number for its whole life (一事一码)."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("state", STATES), name="state"),
        CheckConstraint(_in("level", LEVELS), name="level"),
        CheckConstraint(_in("origin_level", LEVELS), name="origin_level"),
        CheckConstraint(_in("max_level", LEVELS), name="max_level"),
        CheckConstraint(_in("warning", WARNINGS), name="warning"),
        CheckConstraint(_in("supervision", SUPERVISION), name="supervision"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint(_in("review_stage", REVIEW_STAGES), name="review_stage"),
        CheckConstraint("complexity IS NULL OR " + _in("complexity", COMPLEXITY), name="cx"),
        CheckConstraint(
            "same_matter_decision IS NULL OR " + _in("same_matter_decision", SAME_MATTER_DECISIONS),
            name="same_matter_decision",
        ),
        CheckConstraint(
            "rejection_ground IS NULL OR " + _in("rejection_ground", REJECTION_GROUNDS),
            name="rejection_ground",
        ),
        CheckConstraint("hearing_days >= 0", name="hearing_days"),
        Index("ix_cases_location", "location", postgresql_using="gist"),
        # A case's cell's or village's cases of a category over a period (the warnings scan,
        # migration 0034); they serve every query by cell or village alone as well.
        Index("ix_cases_village_category_reported", "village_id", "category", "reported_at"),
        Index("ix_cases_town_id", "town_id"),
        Index("ix_cases_cell_category_reported", "grid_cell_id", "category", "reported_at"),
        Index(
            "ix_cases_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
        Index("ix_cases_state_next_due", "state", "next_due", "id"),
        Index("ix_cases_reported_at", "reported_at"),
        # The measures' medians read the period's acceptances and resolutions (migration 0007).
        Index("ix_cases_accepted_at", "accepted_at"),
        Index("ix_cases_resolved_at", "resolved_at"),
        Index("ix_cases_parent_id", "parent_id"),
        Index("ix_cases_reporter_id", "reporter_id"),
        Index("ix_cases_risk_point_id", "risk_point_id"),
        Index("ix_cases_camera_id", "camera_id"),
        Index("ix_cases_handler_id", "handler_id"),
        UniqueConstraint("county_id", "external_number"),
        # Also ix_cases_text_trgm, a pg_trgm GIN index on title || description, and
        # ix_cases_due_key on (coalesce(next_due, 'infinity'), id), the case list's keyset order,
        # made by the migrations (expression indexes autogenerate cannot compare).
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    complexity: Mapped[str | None] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    town_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    county_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    # The grid cell's code: the scoping helper filters on its prefix.
    region_code: Mapped[str] = mapped_column(String(15))
    origin_level: Mapped[str] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(10))
    max_level: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12), server_default="reported")
    group_visit: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Running clocks: the last day (Asia/Shanghai) of each; overdue from the day after.
    accept_from: Mapped[date | None] = mapped_column(Date)
    accept_due: Mapped[date | None] = mapped_column(Date)
    resolve_from: Mapped[date | None] = mapped_column(Date)
    resolve_due: Mapped[date | None] = mapped_column(Date)
    review_request_due: Mapped[date | None] = mapped_column(Date)
    next_due: Mapped[date | None] = mapped_column(Date)
    clock_warning: Mapped[str | None] = mapped_column(String(200))
    # How each clock was started (app/cases/services.py "clocks"): clock name → {"days", "unit",
    # "percent" (the yellow threshold), "years" (counted without their 调休 notice), "stopped"}.
    # The period lives here so that an extension lengthens it (DOMAIN §4) and a recount after a
    # year is entered uses the rule the clock started with.
    clock_rules: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    warning: Mapped[str] = mapped_column(String(10), server_default="none")
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_on_time: Mapped[bool | None] = mapped_column(Boolean)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_on_time: Mapped[bool | None] = mapped_column(Boolean)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    # The outcome in words for the resident's progress page (docs/resident.md): never names.
    public_outcome: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)
    extension_days: Mapped[int] = mapped_column(Integer, server_default="0")
    extension_requested: Mapped[int | None] = mapped_column(Integer)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    supervision: Mapped[str] = mapped_column(String(10), server_default="none")
    supervision_note: Mapped[str | None] = mapped_column(Text)
    supervision_due: Mapped[date | None] = mapped_column(Date)
    review_stage: Mapped[str] = mapped_column(String(10), server_default="none")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    risk_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("risk_points.id", ondelete="RESTRICT")
    )
    # 视频监控 (雪亮工程): the camera that saw the matter, for a video source (migration 0024).
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="RESTRICT"))
    # 人民调解法 第十九条: the mediator(s) named on the case (user ids; migration 0010).
    mediator_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    # 信访工作条例 第十九条: the earlier case of the likely same matter, and the decision on it.
    same_matter_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT")
    )
    same_matter_decision: Mapped[str | None] = mapped_column(String(10))
    same_matter_note: Mapped[str | None] = mapped_column(Text)
    # Not accepted (第十九、二十三、三十一条): the ground, the routes told, the competent body
    # and the written notice (不予受理告知书).
    rejection_ground: Mapped[str | None] = mapped_column(String(20))
    routes_told: Mapped[list[str]] = mapped_column(ARRAY(String(10)), server_default="{}")
    competent_body: Mapped[str | None] = mapped_column(String(100))
    rejection_notice: Mapped[str | None] = mapped_column(Text)
    # 第三十六条: 听证 time does not count toward the 复核 clock (days added to its period).
    hearing_started_on: Mapped[date | None] = mapped_column(Date)
    hearing_ended_on: Mapped[date | None] = mapped_column(Date)
    hearing_days: Mapped[int] = mapped_column(Integer, server_default="0")
    # 第三十五条: the 复查 window runs from the day the petitioner received the written reply.
    reply_received_on: Mapped[date | None] = mapped_column(Date)
    # The responsible person (承办人) at the case's current level (shared/DOMAIN.md §8): claimed
    # or assigned, cleared when the case changes level (migration 0011).
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # Historical ledger import (issue 17 item 3, docs/imports.md; migration 0023): the number
    # the county's own ledger gave it (unique per county: re-importing a row changes nothing),
    # whether its point is only its village's or cell's representative point, and the import.
    external_number: Mapped[str | None] = mapped_column(String(40))
    location_approximate: Mapped[bool] = mapped_column(Boolean, server_default="false")
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_imports.id", ondelete="RESTRICT")
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Retention (docs/privacy.md, migration 0026): personal data removed past the policy; or, for
    # a record law requires archived (人民调解协议), kept but no longer processed.
    deidentified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id])
    handler: Mapped[User | None] = relationship(foreign_keys=[handler_id])
    grid_cell: Mapped[GridCell] = relationship()
    camera: Mapped[Camera | None] = relationship()
    village: Mapped[Region] = relationship(foreign_keys=[village_id])
    town: Mapped[Region] = relationship(foreign_keys=[town_id])
    county: Mapped[Region] = relationship(foreign_keys=[county_id])
    parent: Mapped[Case | None] = relationship(remote_side=[id], foreign_keys=[parent_id])
    same_matter_of: Mapped[Case | None] = relationship(
        remote_side=[id], foreign_keys=[same_matter_of_id]
    )
    parties: Mapped[list[Party]] = relationship(back_populates="case", order_by="Party.id")
    events: Mapped[list[CaseEvent]] = relationship(order_by="CaseEvent.id")
    follow_ups: Mapped[list[FollowUp]] = relationship(order_by="FollowUp.id")
    agreement: Mapped[Agreement | None] = relationship(uselist=False)

    __mapper_args__ = {"version_id_col": version}

    @property
    def lon(self) -> float:
        """WGS84 longitude of the location."""
        return to_shape(self.location).x

    @property
    def lat(self) -> float:
        """WGS84 latitude of the location."""
        return to_shape(self.location).y

    @property
    def children(self) -> list[str]:
        """Numbers of the linked 复查/复核 cases."""
        return list(
            db.session.scalars(
                select(Case.number).where(Case.parent_id == self.id).order_by(Case.id)
            )
        )


class CaseCounter(db.Model):
    """The last serial used per county and year, for case numbers."""

    __tablename__ = "case_counters"

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class CaseEvent(db.Model):
    """One entry of a case's timeline. Append-only: the database refuses changes."""

    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_case_id", "case_id", "id"),
        # 我交办的 (app/cases/queries.mine): the cases a user escalated or handed down.
        Index(
            "ix_case_events_handed_by",
            "actor_id",
            "case_id",
            postgresql_where=text("action IN ('escalate', 'assign_down')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str | None] = mapped_column(String(12))
    from_level: Mapped[str | None] = mapped_column(String(10))
    to_level: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONB, server_default="{}")

    actor: Mapped[User | None] = relationship()


PARTY_ROLES = ("applicant", "respondent", "third_party")


class Party(db.Model):
    """A party (当事人): encrypted at rest, masked copies for display, keyed hashes for search."""

    __tablename__ = "parties"
    __table_args__ = (
        CheckConstraint(_in("role", PARTY_ROLES), name="role"),
        Index("ix_parties_case_id", "case_id"),
        Index("ix_parties_id_number_hash", "id_number_hash"),
        Index("ix_parties_name_hash", "name_hash"),
        Index("ix_parties_phone_hash", "phone_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(String(12))
    # None once the case is de-identified (retention, docs/privacy.md), as are the hashes.
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_masked: Mapped[str] = mapped_column(String(40))
    id_number_masked: Mapped[str | None] = mapped_column(String(20))
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    address_masked: Mapped[str | None] = mapped_column(String(60))
    name_hash: Mapped[str | None] = mapped_column(String(64))
    id_number_hash: Mapped[str | None] = mapped_column(String(64))
    phone_hash: Mapped[str | None] = mapped_column(String(64))

    case: Mapped[Case] = relationship(back_populates="parties")


# "invalid": the court found the agreement invalid (人民调解法 第三十三条第二款; migration 0010).
AGREEMENT_OUTCOMES = ("pending", "applied", "confirmed", "rejected", "not_applied", "invalid")
# 第二十八条: an agreement is written (调解协议书) or oral (口头协议, recorded by the committee).
AGREEMENT_FORMS = ("written", "oral")


class Agreement(db.Model):
    """A mediation agreement (人民调解法 第二十九至三十三条)."""

    __tablename__ = "agreements"
    __table_args__ = (
        CheckConstraint(_in("judicial_outcome", AGREEMENT_OUTCOMES), name="judicial_outcome"),
        CheckConstraint(_in("form", AGREEMENT_FORMS), name="form"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), unique=True)
    form: Mapped[str] = mapped_column(String(10), server_default="written")
    # Written: all of 第二十九条's items; oral (第二十八条): the content (terms) and who agreed.
    facts: Mapped[str | None] = mapped_column(Text)
    responsibilities: Mapped[str | None] = mapped_column(Text)
    terms: Mapped[str] = mapped_column(Text)
    agreed_by: Mapped[str | None] = mapped_column(Text)
    performance_method: Mapped[str | None] = mapped_column(Text)
    performance_due: Mapped[date | None] = mapped_column(Date)
    performed: Mapped[bool | None] = mapped_column(Boolean)
    performed_on: Mapped[date | None] = mapped_column(Date)
    # Performed after performance_due (第三十一条: the committee follows performance up).
    performed_late: Mapped[bool | None] = mapped_column(Boolean)
    # The day it was signed (written) or agreed (oral).
    signed_on: Mapped[date] = mapped_column(Date)
    signed_by_parties: Mapped[bool | None] = mapped_column(Boolean)
    signed_by_mediator: Mapped[bool | None] = mapped_column(Boolean)
    # None for an oral agreement: 司法确认 is applied for with the written agreement.
    judicial_window_due: Mapped[date | None] = mapped_column(Date)
    judicial_applied_on: Mapped[date | None] = mapped_column(Date)
    judicial_outcome: Mapped[str] = mapped_column(String(12), server_default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


FOLLOW_UP_METHODS = ("phone", "visit", "online")
SATISFACTION = ("satisfied", "basically_satisfied", "dissatisfied")


class FollowUp(db.Model):
    """A follow-up visit (回访)."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint(_in("method", FOLLOW_UP_METHODS), name="method"),
        CheckConstraint(_in("satisfaction", SATISFACTION), name="satisfaction"),
        Index("ix_follow_ups_case_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(10))
    satisfaction: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(db.Model):
    """A request made with an Idempotency-Key: retried requests replay the first answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
