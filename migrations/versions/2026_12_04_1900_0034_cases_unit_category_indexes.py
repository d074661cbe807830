"""Cases indexed by (grid cell | village, category, reported_at) for the warnings scan (issue 18).

`scan_case` counts a case's cell's and village's cases of its category in the hotspot window and
the baseline before it (app/warnings/services.py EVIDENCE_SQL). With one-column indexes the
statement's plan combined the cell's (or village's) index with `ix_cases_reported_at` and read
the whole window's index range (170,000 entries at 500,000 cases) to keep a few hundred: a
generic plan did so on every run, a custom plan on most. These indexes answer each count from
one range. They replace ix_cases_grid_cell_id and ix_cases_village_id, whose leading column
they keep (every query by cell or village alone still uses them), so a case's insert updates as
many indexes as before.

Built in the migration's transaction (writes to cases wait for the build: ~1 s per 500,000
cases); a large deployment may build them CONCURRENTLY by hand first, under these names.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-04 19:00
"""

from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_cases_cell_category_reported"
        " ON cases (grid_cell_id, category, reported_at)"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_cases_village_category_reported"
        " ON cases (village_id, category, reported_at)"
    )
    op.drop_index("ix_cases_grid_cell_id", table_name="cases")
    op.drop_index("ix_cases_village_id", table_name="cases")


def downgrade():
    op.create_index("ix_cases_village_id", "cases", ["village_id"])
    op.create_index("ix_cases_grid_cell_id", "cases", ["grid_cell_id"])
    op.drop_index("ix_cases_village_category_reported", table_name="cases")
    op.drop_index("ix_cases_cell_category_reported", table_name="cases")
