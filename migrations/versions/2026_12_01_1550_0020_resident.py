"""The resident's side (issue 15 items 1–3): public outcome text and residents'
ratings.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("cases", sa.Column("public_outcome", sa.Text()))
    op.create_table(
        "resident_ratings",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "case_id",
            sa.Integer(),
            sa.ForeignKey("cases.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("receipt_id", sa.BigInteger(), sa.ForeignKey("receipts.id", ondelete="SET NULL")),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.String(12), nullable=False),
        sa.Column("comment", sa.Text()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("case_id", "resolved_at", name="uq_resident_ratings_round"),
        sa.CheckConstraint("rating IN ('satisfied', 'basically', 'dissatisfied')", name="rating"),
    )
    op.create_index("ix_resident_ratings_created_at", "resident_ratings", ["created_at"])
    # A text to a resident (their receipt) belongs to no notification and no user: 0019 already
    # made sms_messages.notification_id and user_id nullable.


def downgrade():
    op.drop_table("resident_ratings")
    op.drop_column("cases", "public_outcome")
