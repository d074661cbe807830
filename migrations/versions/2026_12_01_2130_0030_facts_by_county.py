"""measure_facts recounted county by county (issue 18); zero rows go.

- The key stays (metric, day, region_code, kind). A region-first key was tried: with one
  county's facts being most of a county's database, `region_code LIKE '371699%'` then reads
  the county's every day and metric, and the bench's W5 (village totals, one day) and W6 fell
  from 5 ms / 0.08x to 789 ms / 0.48x. County-first needs a county column leading the key with
  the scope's county equality beside the prefix (bench/NOTES.md, "data").
- rebuild_measure_facts_in(prefix): recounts the facts under a region prefix (a county's six
  digits) in one statement that adds the difference between the recount and the kept counts,
  both read in that statement's snapshot, with ON CONFLICT ... n = n + difference: the same
  commutative additions the triggers make, so a case written during the recount is counted
  exactly once (by the recount if it committed before the snapshot, by its trigger otherwise),
  and writers never wait for more than the rows the recount changes. Rows that reach zero are
  deleted. `flask cases rebuild-facts` runs it county by county, a transaction each
  (docs/operations.md).
- export_jobs: an xlsx of more than EXPORT_XLSX_DIRECT_ROWS rows built by the worker
  (app/cases/export_jobs.py): its requester, state, rows done of total, the file (encrypted).

Revision ID: 0030
Revises: 0026
Create Date: 2026-12-01 21:30
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0028"
branch_labels = None
depends_on = None

REBUILD_IN_SQL = """
CREATE FUNCTION rebuild_measure_facts_in(prefix text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    WITH fresh AS (
        SELECT f.metric, f.day, left(c.region_code, 12) AS region_code, c.kind,
               CAST(count(*) AS integer) AS n
          FROM cases c CROSS JOIN LATERAL case_measure_facts(c) f
         WHERE c.region_code LIKE prefix || '%'
         GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT 'fu_' || fu.satisfaction, CAST(fu.at AT TIME ZONE 'Asia/Shanghai' AS date),
               left(c.region_code, 12), c.kind, CAST(count(*) AS integer)
          FROM follow_ups fu JOIN cases c ON c.id = fu.case_id
         WHERE c.region_code LIKE prefix || '%'
         GROUP BY 1, 2, 3, 4
    ), kept AS (
        SELECT metric, day, region_code, kind, n
          FROM measure_facts
         WHERE region_code LIKE prefix || '%'
    )
    INSERT INTO measure_facts AS m (metric, day, region_code, kind, n)
    SELECT metric, day, region_code, kind, coalesce(fresh.n, 0) - coalesce(kept.n, 0)
      FROM fresh FULL JOIN kept USING (metric, day, region_code, kind)
     WHERE coalesce(fresh.n, 0) <> coalesce(kept.n, 0)
     ORDER BY metric, day, region_code, kind
    ON CONFLICT (metric, day, region_code, kind) DO UPDATE SET n = m.n + excluded.n;
    GET DIAGNOSTICS changed = ROW_COUNT;
    DELETE FROM measure_facts WHERE region_code LIKE prefix || '%' AND n = 0;
    RETURN changed;
END
$$;
"""


def upgrade():
    op.execute("DELETE FROM measure_facts WHERE n = 0")
    op.execute(REBUILD_IN_SQL)
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("fmt", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=8), server_default="queued", nullable=False),
        sa.Column("params_enc", sa.LargeBinary(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("content_enc", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_export_jobs_state")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_export_jobs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    op.create_index(op.f("ix_export_jobs_user_id"), "export_jobs", ["user_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_export_jobs_user_id"), table_name="export_jobs")
    op.drop_table("export_jobs")
    op.execute("DROP FUNCTION IF EXISTS rebuild_measure_facts_in(text)")
