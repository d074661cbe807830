"""工作简报 (issue 16 item 4): the editable briefing template and the generation jobs.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 16:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The template installed with the table (an admin edits it afterwards: /admin/briefing-template).
DEFAULT_TITLE = "{{ region }}矛盾纠纷排查化解工作简报（{{ date_from }}至{{ date_to }}）"

# Paragraphs are separated by a blank line. The placeholders are listed in docs/briefings.md.
DEFAULT_BODY = """\
{{ date_from }}至{{ date_to }}，{{ region }}坚持和发展新时代“枫桥经验”，扎实开展矛盾纠纷排查化解工作。

期间共排查风险点 {{ risks.inspected_points }} 处（排查 {{ risks.inspections }} 次，发现异常 {{ risks.abnormal }} 次），受理矛盾纠纷和信访事项 {{ cases.reported }} 件，化解矛盾纠纷 {{ cases.disputes_resolved }} 件，其中调解成功 {{ cases.agreements }} 件，化解成功率 {{ cases.success_rate }}。

小事不出村率 {{ cases.village_retention }}，大事不出镇率 {{ cases.town_retention }}，矛盾上交率 {{ cases.county_share }}；受理及时率 {{ cases.on_time_acceptance }}，按期办结率 {{ cases.on_time_resolution }}；回访 {{ cases.follow_ups }} 次，群众满意率 {{ cases.satisfaction }}。

截至目前，在办事项 {{ cases.open }} 件，其中逾期未受理 {{ cases.overdue_acceptance }} 件、超期在办 {{ cases.overdue_in_progress }} 件。下一步，将持续压实网格责任，做到早发现、早报告、早处置。
"""


def upgrade():
    templates = op.create_table(
        "briefing_templates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.bulk_insert(templates, [{"id": 1, "title": DEFAULT_TITLE, "body": DEFAULT_BODY}])
    op.create_table(
        "briefing_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "region_id",
            sa.Integer(),
            sa.ForeignKey("regions.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("state", sa.String(10), server_default="queued", nullable=False),
        sa.Column("progress", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("template_version", sa.Integer()),
        sa.Column("docx", sa.LargeBinary()),
        sa.Column("pdf", sa.LargeBinary()),
        sa.Column(
            "created_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        sa.CheckConstraint("date_from <= date_to", name="period"),
    )
    op.create_index("ix_briefing_jobs_region_code", "briefing_jobs", ["region_code"])


def downgrade():
    op.drop_table("briefing_jobs")
    op.drop_table("briefing_templates")
