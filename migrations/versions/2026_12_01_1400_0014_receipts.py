"""Receipts (回执) for the resident's side (issue 15 item 1): number, hashed query code.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 14:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "receipts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("number", sa.String(24), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE")),
        sa.Column("self_report_id", sa.BigInteger()),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), sa.ForeignKey("users.id")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("superseded_at", sa.DateTime(timezone=True)),
        sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "case_id IS NOT NULL OR self_report_id IS NOT NULL", name="receipt_has_subject"
        ),
    )
    op.create_index(
        "uq_receipts_current",
        "receipts",
        ["number"],
        unique=True,
        postgresql_where=sa.text("superseded_at IS NULL"),
    )
    op.create_index("ix_receipts_case_id", "receipts", ["case_id"])


def downgrade():
    op.drop_table("receipts")
