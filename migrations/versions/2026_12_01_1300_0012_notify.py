"""Notification delivery: preferences, the SMS sink, and procrastinate's job queue (issue 14).

- notification_settings: per user, which events also go by SMS, which are muted, and the quiet
  hours (Asia/Shanghai) during which SMS wait; a user without a row has the defaults
  (SMS for dispatch_received, overdue and supervised; quiet 22:00–07:00).
- sms_sink: what the default SMS gateway "sent" (development and tests read it), one row per
  message at most.
- procrastinate's schema (its tables, types, functions and triggers, all `procrastinate_*`):
  the queue the worker reads, in this database, so a job deferred with the change that causes
  it commits or rolls back with it (docs/notifications.md).

The procrastinate schema is the SQL of procrastinate 3.10.0 (`procrastinate/sql/schema.sql`)
COPIED into migrations/sql/procrastinate-3.10.0-schema.sql, not read from the installed package:
a migration must do the same thing forever, and the package's file changes with each release
(an upgrade of procrastinate would silently change what this revision creates, and its own
delta migrations would then fail on a fresh database). Upgrading procrastinate means a new
revision applying its `sql/migrations/*.sql` for the versions in between;
tests/notify/test_delivery.py fails when the installed version no longer matches this copy.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 13:00
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
PROCRASTINATE_SQL = SQL_DIR / "procrastinate-3.10.0-schema.sql"
DEFAULT_SMS_EVENTS = "{dispatch_received,overdue,supervised}"


def upgrade() -> None:
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "sms_events",
            postgresql.ARRAY(sa.String(length=30)),
            server_default=DEFAULT_SMS_EVENTS,
            nullable=False,
        ),
        sa.Column(
            "muted_events",
            postgresql.ARRAY(sa.String(length=30)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("quiet_from", sa.Time(), nullable=True),
        sa.Column("quiet_to", sa.Time(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "(quiet_from IS NULL) = (quiet_to IS NULL)",
            name=op.f("ck_notification_settings_quiet_pair"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_settings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "sms_sink",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["sms_messages.id"],
            name=op.f("fk_sms_sink_message_id_sms_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_sink")),
        sa.UniqueConstraint("message_id", name=op.f("uq_sms_sink_message_id")),
    )
    # The driver's own SQL, as procrastinate's apply_schema runs it: `::` casts are no
    # parameters, and the RAISE formats' `%` are doubled for psycopg2's paramstyle.
    sql = PROCRASTINATE_SQL.read_text(encoding="utf-8")
    op.get_bind().exec_driver_sql(sql.replace("%", "%%"))


def downgrade() -> None:
    # Everything procrastinate's schema made is named procrastinate_*: tables (their triggers go
    # with them), then functions, then types. (`%%`: psycopg2's paramstyle, as in upgrade.)
    op.get_bind().exec_driver_sql(
        """
        DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers,
            procrastinate_jobs, procrastinate_workers CASCADE;
        DO $$
        DECLARE r record;
        BEGIN
            FOR r IN SELECT p.oid::regprocedure AS sig
                       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                      WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%%' LOOP
                EXECUTE format('DROP FUNCTION IF EXISTS %%s CASCADE', r.sig);
            END LOOP;
        END $$;
        DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type,
            procrastinate_job_status CASCADE;
        """
    )
    op.drop_table("sms_sink")
    op.drop_table("notification_settings")
