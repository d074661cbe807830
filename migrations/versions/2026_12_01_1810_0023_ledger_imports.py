"""Historical ledger (台账) import: templates, import records, cases' external numbers (issue 17
item 3, docs/imports.md).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 18:10
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ledger_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column(
            "mapping",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_ledger_templates_created_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_ledger_templates_name")),
    )
    op.create_table(
        "ledger_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("content_enc", sa.LargeBinary(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column(
            "mapping",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), server_default="queued", nullable=False),
        sa.Column("total_rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("done_rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unchanged_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("problem_rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "problems",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'checking', 'running', 'dry_run_done', 'applied', 'failed')",
            name=op.f("ck_ledger_imports_state"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["regions.id"],
            name=op.f("fk_ledger_imports_county_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_ledger_imports_created_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["ledger_templates.id"],
            name=op.f("fk_ledger_imports_template_id_ledger_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_imports")),
    )
    op.create_index("ix_ledger_imports_county_id", "ledger_imports", ["county_id"])
    op.add_column("cases", sa.Column("external_number", sa.String(length=40), nullable=True))
    op.add_column(
        "cases",
        sa.Column("location_approximate", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("cases", sa.Column("import_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_cases_import_id_ledger_imports"),
        "cases",
        "ledger_imports",
        ["import_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_unique_constraint(
        op.f("uq_cases_county_id"), "cases", ["county_id", "external_number"]
    )


def downgrade():
    op.drop_constraint(op.f("uq_cases_county_id"), "cases", type_="unique")
    op.drop_constraint(op.f("fk_cases_import_id_ledger_imports"), "cases", type_="foreignkey")
    op.drop_column("cases", "import_id")
    op.drop_column("cases", "location_approximate")
    op.drop_column("cases", "external_number")
    op.drop_index("ix_ledger_imports_county_id", table_name="ledger_imports")
    op.drop_table("ledger_imports")
    op.drop_table("ledger_templates")
