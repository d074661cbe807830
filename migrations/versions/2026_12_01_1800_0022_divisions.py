"""Division levels above the county (省, 市) and regions without boundaries, issue 17 items 1–2.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 18:00
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

OLD_LEVELS = "level IN ('county', 'town', 'village')"
NEW_LEVELS = "level IN ('province', 'prefecture', 'county', 'town', 'village')"


def upgrade():
    op.drop_constraint(op.f("ck_regions_level"), "regions", type_="check")
    op.create_check_constraint(op.f("ck_regions_level"), "regions", NEW_LEVELS)
    # Codes come from the statistical list first; boundaries may follow (边界未导入).
    op.alter_column("regions", "boundary", nullable=True)


def downgrade():
    op.execute("DELETE FROM regions WHERE boundary IS NULL")
    op.alter_column("regions", "boundary", nullable=False)
    op.execute("UPDATE regions SET parent_id = NULL WHERE level = 'county'")
    op.execute("DELETE FROM regions WHERE level IN ('province', 'prefecture')")
    op.drop_constraint(op.f("ck_regions_level"), "regions", type_="check")
    op.create_check_constraint(op.f("ck_regions_level"), "regions", OLD_LEVELS)
