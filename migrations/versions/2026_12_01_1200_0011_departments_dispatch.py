"""Departments, dispatch, named handlers and notifications (issue 14; shared/DOMAIN.md §8).

- departments: units at a town or the county with their region and competent categories;
  routing_rules: a centre region's category → default lead unit (the routing suggestion).
- users: a fifth role, `department_staff`, who belong to one department (`department_id`,
  required for that role and only for it).
- cases: `handler_id`, the responsible person (承办人) at the case's current level.
- dispatches: one case sent to one unit (主办 / 协办 / 抄告) with its own clocks; at most one open
  lead dispatch per case.
- notifications (the in-app inbox) and sms_messages (what the worker sends).

Existing rows keep their values: no handler named, nothing dispatched, nobody notified.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 12:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD_ROLES = "('grid_worker', 'mediator', 'official', 'admin')"
NEW_ROLES = "('grid_worker', 'mediator', 'official', 'admin', 'department_staff')"
KINDS = (
    "('police', 'justice', 'labour', 'land', 'market', 'housing', 'safety', 'petition', "
    "'health', 'environment', 'agriculture', 'other')"
)


def _timestamps():
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column(
            "categories",
            postgresql.ARRAY(sa.String(length=40)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        *_timestamps(),
        sa.CheckConstraint(f"kind IN {KINDS}", name=op.f("ck_departments_kind")),
        sa.CheckConstraint(
            "code ~ '^[A-Za-z0-9_.-]{2,40}$'", name=op.f("ck_departments_code_format")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_departments_region_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_index("ix_departments_region_id", "departments", ["region_id"])
    op.create_index(
        "ix_departments_region_code",
        "departments",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_routing_rules_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_routing_rules_region_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
        sa.UniqueConstraint("region_id", "category", name="uq_routing_rules_region_category"),
    )
    op.create_index("ix_routing_rules_department_id", "routing_rules", ["department_id"])

    op.add_column("users", sa.Column("department_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_users_department_id_departments"),
        "users",
        "departments",
        ["department_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.drop_constraint(op.f("ck_users_role"), "users", type_="check")
    op.create_check_constraint(op.f("ck_users_role"), "users", f"role IN {NEW_ROLES}")
    op.create_check_constraint(
        op.f("ck_users_department"),
        "users",
        "(role = 'department_staff') = (department_id IS NOT NULL)",
    )

    op.add_column("cases", sa.Column("handler_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_cases_handler_id_users"),
        "cases",
        "users",
        ["handler_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_index("ix_cases_handler_id", "cases", ["handler_id"])

    op.create_table(
        "dispatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="sent", nullable=False),
        sa.Column("round", sa.Integer(), server_default="1", nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("centre_region_id", sa.Integer(), nullable=False),
        sa.Column("centre_level", sa.String(length=10), nullable=False),
        sa.Column("dispatched_by_id", sa.Integer(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sign_due", sa.Date(), nullable=True),
        sa.Column("return_due", sa.Date(), nullable=True),
        sa.Column("report_due", sa.Date(), nullable=True),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("warning", sa.String(length=10), server_default="none", nullable=False),
        sa.Column(
            "clock_rules",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.Column("signed_on_time", sa.Boolean(), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_on_time", sa.Boolean(), nullable=True),
        sa.Column("report_note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("redo_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("handler_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("role IN ('lead', 'co', 'informed')", name=op.f("ck_dispatches_role")),
        sa.CheckConstraint(
            "state IN ('sent', 'signed', 'reported', 'accepted', 'returned', 'withdrawn')",
            name=op.f("ck_dispatches_state"),
        ),
        sa.CheckConstraint(
            "warning IN ('none', 'yellow', 'red')", name=op.f("ck_dispatches_warning")
        ),
        sa.CheckConstraint("redo_count >= 0", name=op.f("ck_dispatches_redo_count")),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_dispatches_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["centre_region_id"],
            ["regions.id"],
            name=op.f("fk_dispatches_centre_region_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_dispatches_department_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["dispatched_by_id"],
            ["users.id"],
            name=op.f("fk_dispatches_dispatched_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["handler_id"],
            ["users.id"],
            name=op.f("fk_dispatches_handler_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["users.id"],
            name=op.f("fk_dispatches_reviewed_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_id"],
            ["users.id"],
            name=op.f("fk_dispatches_signed_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatches")),
    )
    op.create_index("ix_dispatches_case_id", "dispatches", ["case_id", "id"])
    op.create_index("ix_dispatches_department_state", "dispatches", ["department_id", "state"])
    op.create_index("ix_dispatches_handler_id", "dispatches", ["handler_id"])
    op.create_index("ix_dispatches_dispatched_by_id", "dispatches", ["dispatched_by_id"])
    op.create_index(
        "uq_dispatches_open_lead",
        "dispatches",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text("role = 'lead' AND state IN ('sent', 'signed', 'reported')"),
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("dispatch_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("link", sa.String(length=200), nullable=True),
        sa.Column("dedup_key", sa.String(length=120), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_notifications_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["dispatches.id"],
            name=op.f("fk_notifications_dispatch_id_dispatches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_user_unread", "notifications", ["user_id", "read_at", "id"])
    op.create_index("ix_notifications_case_id", "notifications", ["case_id"])
    op.create_index(
        "uq_notifications_dedup",
        "notifications",
        ["user_id", "dedup_key"],
        unique=True,
        postgresql_where=sa.text("dedup_key IS NOT NULL"),
    )
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'sent', 'failed', 'skipped')", name=op.f("ck_sms_messages_state")
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_sms_messages_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sms_messages_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_messages")),
    )
    op.create_index("ix_sms_messages_state", "sms_messages", ["state", "id"])
    op.create_index("ix_sms_messages_notification_id", "sms_messages", ["notification_id"])


def downgrade() -> None:
    op.drop_table("sms_messages")
    op.drop_table("notifications")
    op.drop_table("dispatches")
    op.drop_index("ix_cases_handler_id", table_name="cases")
    op.drop_constraint(op.f("fk_cases_handler_id_users"), "cases", type_="foreignkey")
    op.drop_column("cases", "handler_id")
    op.drop_constraint(op.f("ck_users_department"), "users", type_="check")
    op.execute("DELETE FROM users WHERE role = 'department_staff'")
    op.drop_constraint(op.f("ck_users_role"), "users", type_="check")
    op.create_check_constraint(op.f("ck_users_role"), "users", f"role IN {OLD_ROLES}")
    op.drop_constraint(op.f("fk_users_department_id_departments"), "users", type_="foreignkey")
    op.drop_column("users", "department_id")
    op.drop_table("routing_rules")
    op.drop_table("departments")
