"""My tasks and the queue's "mine" filters (issue 14 item 3): an index for 我交办的.

- case_events: a partial index on (actor_id, case_id) of the escalate and assign_down entries,
  so that "the cases I handed on" (app/cases/queries.mine) does not scan the whole timeline.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 13:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_case_events_handed_by",
        "case_events",
        ["actor_id", "case_id"],
        postgresql_where=sa.text("action IN ('escalate', 'assign_down')"),
    )


def downgrade():
    op.drop_index("ix_case_events_handed_by", table_name="case_events")
