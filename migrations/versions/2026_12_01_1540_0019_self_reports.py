"""Self-reports (随手拍, issue 15 item 4): phone codes, reports, photos, numbers; receipts' FK.

Also lets an SMS message have no user and no notification: a resident who self-reports has
neither, and is texted their code, receipt and outcome through the same queue and gateway.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 15:10
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "self_reports",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("number", sa.String(24), nullable=False, unique=True),
        sa.Column(
            "location",
            geoalchemy2.Geometry("POINT", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.Column(
            "grid_cell_id",
            sa.Integer(),
            sa.ForeignKey("grid_cells.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "village_id",
            sa.Integer(),
            sa.ForeignKey("regions.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "town_id",
            sa.Integer(),
            sa.ForeignKey("regions.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "county_id",
            sa.Integer(),
            sa.ForeignKey("regions.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("phone_masked", sa.String(20), nullable=False),
        sa.Column("client_key", sa.String(100), nullable=False),
        sa.Column("state", sa.String(10), server_default="pending", nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decline_reason", sa.Text()),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="SET NULL")),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("users.id")),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("state IN ('pending', 'verified', 'declined', 'expired')", name="state"),
        sa.CheckConstraint("state <> 'declined' OR decline_reason IS NOT NULL", name="reason"),
    )
    op.create_index("ix_self_reports_grid_cell_id", "self_reports", ["grid_cell_id", "state"])
    op.create_index(
        "ix_self_reports_region_code",
        "self_reports",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_index(
        "uq_self_reports_client_key", "self_reports", ["phone_hash", "client_key"], unique=True
    )
    op.create_table(
        "self_report_photos",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "self_report_id",
            sa.BigInteger(),
            sa.ForeignKey("self_reports.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(50), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("original_name", sa.String(255)),
    )
    op.create_index("ix_self_report_photos_report", "self_report_photos", ["self_report_id"])
    op.create_table(
        "self_report_counters",
        sa.Column("county_code", sa.String(6), primary_key=True),
        sa.Column("year", sa.Integer(), primary_key=True),
        sa.Column("last", sa.Integer(), nullable=False),
    )
    op.create_table(
        "phone_codes",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column(
            "self_report_id",
            sa.BigInteger(),
            sa.ForeignKey("self_reports.id", ondelete="SET NULL"),
        ),
    )
    op.create_index("ix_phone_codes_phone_hash", "phone_codes", ["phone_hash", "id"])
    op.create_foreign_key(
        "fk_receipts_self_report_id_self_reports",
        "receipts",
        "self_reports",
        ["self_report_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.alter_column("sms_messages", "notification_id", nullable=True)
    op.alter_column("sms_messages", "user_id", nullable=True)


def downgrade():
    op.execute("DELETE FROM sms_messages WHERE notification_id IS NULL OR user_id IS NULL")
    op.alter_column("sms_messages", "user_id", nullable=False)
    op.alter_column("sms_messages", "notification_id", nullable=False)
    op.drop_constraint("fk_receipts_self_report_id_self_reports", "receipts", type_="foreignkey")
    op.drop_table("phone_codes")
    op.drop_table("self_report_counters")
    op.drop_table("self_report_photos")
    op.drop_table("self_reports")
