"""The facts' primary key carries the count: `measure_facts` read by index-only scans (issue 18).

The measures pass (app/cases/facts.py FACT_MEASURES_SQL) reads a county's facts of the period,
the backlog "as of now" and the overdue counts: ~16,000 rows at 50,000 cases, spread over ~800
heap pages (the key leads with metric and day, so a county's rows of one day sit apart). With
`n` in the key's index (INCLUDE: not part of the key, so the upserts' ON CONFLICT (metric, day,
region_code, kind) infer it as before), each branch is an index-only scan once the visibility
map is set (autovacuum, or the VACUUM after a bulk load). The index is rebuilt here, under an
ACCESS EXCLUSIVE lock on the table: seconds at 4 M facts (500,000 cases).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03 09:30
"""

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

KEY = "metric, day, region_code, kind"


def upgrade():
    op.execute(
        "ALTER TABLE measure_facts DROP CONSTRAINT pk_measure_facts, "
        f"ADD CONSTRAINT pk_measure_facts PRIMARY KEY ({KEY}) INCLUDE (n)"
    )


def downgrade():
    op.execute(
        "ALTER TABLE measure_facts DROP CONSTRAINT pk_measure_facts, "
        f"ADD CONSTRAINT pk_measure_facts PRIMARY KEY ({KEY})"
    )
