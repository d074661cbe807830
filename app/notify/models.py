"""Notifications (the in-app inbox) and the SMS messages made from them.

Both are written in the transaction of the change that causes them (app/notify/services.py):
a change that rolls back leaves no notification, and none is lost once it commits.
"""

from __future__ import annotations

from datetime import datetime
from datetime import time

from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import Time
from sqlalchemy import func
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db

# What happened, for whom (docs/notifications.md lists who receives each).
EVENTS = (
    "case_assigned",  # a case lands in my queue (handed down, escalated to me, named handler)
    "case_escalated",  # a case I reported or handled was escalated
    "case_handed_down",  # a case was handed down (交办) to my level
    "dispatch_received",  # a dispatch lands on my unit
    "dispatch_returned",  # a unit returned a dispatch (退回)
    "dispatch_reported",  # the lead unit reported back (办结反馈)
    "dispatch_accepted",  # the centre accepted the report
    "dispatch_redo",  # the centre sent the report back (重办)
    "dispatch_withdrawn",  # the case left the centre (escalated, handed down, withdrawn)
    "due_soon",  # yellow
    "overdue",  # red
    "supervised",  # 督办
    "extension_decided",  # an extension was approved or refused
    "follow_up_dissatisfied",  # an unsatisfied follow-up
    "handler_assigned",  # I was named the responsible person
    # campaigns (专项排查): a cell's task is past the deadline (its grid workers, the launcher)
    "campaign_overdue",
    # 研判预警 (issue 16 item 1, app/warnings): a warning for my village or town was raised
    "warning_raised",
    # selfreport (issue 15 item 4)
    "self_report_received",  # a resident's 随手拍 waits in my cell (待核实)
    # issue 15 (resident): a resident rated the outcome 不满意 (the level's officials)
    "resident_dissatisfied",
)
SMS_STATES = ("queued", "sent", "failed", "skipped")


class Notification(db.Model):
    """One message in one user's inbox."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "read_at", "id"),
        Index("ix_notifications_case_id", "case_id"),
        # The same warning for the same subject on the same day is told once (sweeps repeat).
        Index(
            "uq_notifications_dedup",
            "user_id",
            "dedup_key",
            unique=True,
            postgresql_where=text("dedup_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(30))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    # A path inside the app (/cases/<number>), never an outside URL.
    link: Mapped[str | None] = mapped_column(String(200))
    dedup_key: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SmsMessage(db.Model):
    """One text message to send: the worker delivers it (at most once).

    A message for a notification has its user; one to a resident (a receipt, docs/resident.md)
    has neither a notification nor a user, only the phone.
    """

    __tablename__ = "sms_messages"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'sent', 'failed', 'skipped')", name="state"),
        Index("ix_sms_messages_state", "state", "id"),
        Index("ix_sms_messages_notification_id", "notification_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Neither for a resident (a self-report's code, receipt and outcome: migration 0016).
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # Not before (quiet hours move it to their end).
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# SMS by default for what needs acting on soon (docs/notifications.md); everything else in-app.
DEFAULT_SMS_EVENTS = ("dispatch_received", "overdue", "supervised")
# Quiet hours (Asia/Shanghai) of a user who set none: SMS wait until the morning.
DEFAULT_QUIET = (time(22, 0), time(7, 0))


class NotificationSetting(db.Model):
    """A user's notification preferences (absent: the defaults above)."""

    __tablename__ = "notification_settings"
    __table_args__ = (
        CheckConstraint("(quiet_from IS NULL) = (quiet_to IS NULL)", name="quiet_pair"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Events that also go by SMS (to the user's phone), and events not told at all.
    sms_events: Mapped[list[str]] = mapped_column(
        ARRAY(String(30)), server_default="{dispatch_received,overdue,supervised}"
    )
    muted_events: Mapped[list[str]] = mapped_column(ARRAY(String(30)), server_default="{}")
    # Asia/Shanghai wall-clock times; from > to spans midnight (22:00 → 07:00). Both or neither.
    quiet_from: Mapped[time | None] = mapped_column(Time)
    quiet_to: Mapped[time | None] = mapped_column(Time)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SinkMessage(db.Model):
    """What the default SMS gateway (app/notify/sms.py SinkGateway) recorded instead of sending."""

    __tablename__ = "sms_sink"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # One row per message at most: the sink receives each message once.
    message_id: Mapped[int] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="CASCADE"), unique=True
    )
    phone: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
