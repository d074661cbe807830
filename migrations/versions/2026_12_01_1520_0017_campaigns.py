"""专项排查 campaigns (issue 16 item 2): campaigns, one task per grid cell, findings.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 15:40
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column(
            "region_id",
            sa.Integer(),
            sa.ForeignKey("regions.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("checklist", postgresql.JSONB(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("state", sa.String(10), server_default="active", nullable=False),
        sa.Column(
            "created_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("state IN ('active', 'closed')", name="state"),
        sa.CheckConstraint("deadline >= starts_on", name="dates"),
        sa.CheckConstraint(
            "jsonb_typeof(checklist) = 'array' AND jsonb_array_length(checklist) > 0",
            name="checklist",
        ),
        sa.CheckConstraint(
            "(state = 'closed') = (closed_at IS NOT NULL)", name="closed_consistent"
        ),
    )
    op.create_index(
        "ix_campaigns_region_code",
        "campaigns",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_table(
        "campaign_tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "cell_id",
            sa.Integer(),
            sa.ForeignKey("grid_cells.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("state", sa.String(10), server_default="pending", nullable=False),
        sa.Column("done_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="RESTRICT")),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("overdue_notified_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("campaign_id", "cell_id"),
        sa.CheckConstraint("state IN ('pending', 'done')", name="state"),
        sa.CheckConstraint("(state = 'done') = (done_at IS NOT NULL)", name="done_consistent"),
    )
    op.create_index("ix_campaign_tasks_cell_id_state", "campaign_tasks", ["cell_id", "state"])
    op.create_table(
        "campaign_findings",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "task_id",
            sa.Integer(),
            sa.ForeignKey("campaign_tasks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("result", sa.String(12), nullable=False),
        sa.Column(
            "risk_point_id", sa.Integer(), sa.ForeignKey("risk_points.id", ondelete="RESTRICT")
        ),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="RESTRICT")),
        sa.Column("answers", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column(
            "by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("client_key", sa.String(100)),
        sa.CheckConstraint("result IN ('none', 'risk_point', 'case')", name="result"),
        sa.CheckConstraint(
            "(result = 'risk_point') = (risk_point_id IS NOT NULL) "
            "AND (result = 'case') = (case_id IS NOT NULL)",
            name="link",
        ),
        sa.UniqueConstraint("task_id", "client_key"),
    )
    op.create_index("ix_campaign_findings_task_id", "campaign_findings", ["task_id"])


def downgrade():
    op.drop_table("campaign_findings")
    op.drop_table("campaign_tasks")
    op.drop_table("campaigns")
