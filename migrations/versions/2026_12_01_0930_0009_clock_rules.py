"""Clocks by DOMAIN §4: lengthened periods, statutory holidays, warnings, incidents' lateness.

- deadline_policies.warn_percent (integer 1–100, default 20): a clock is yellow (黄牌) when the
  days left, today included, are ≤ this share of its period rounded up, at least 1.
- The missing policy row: petition / objection / 5 working days (信访工作条例 第二十三条: a body
  that receives a forwarded matter outside its remit objects within 5 工作日).
- cases.clock_rules (JSONB, default {}): the rule each running clock started with (days incl.
  extensions, unit, warn share) and the years it was counted on without their notice.
- case_measure_facts(): `progress_due` (超期在办) also counts an incident still `reported` past
  its resolution deadline (as the case list's `overdue` filter now does); those facts rebuilt.
- Data: every case with a running clock or window is recounted by the new rules (an extension
  lengthens the period; years without a notice count the statutory holidays), each change a
  `recompute` event on its timeline with the old and new dates — by the next `flask cases
  sweep`, asked through a `maintenance_tasks` row (`flask cases recompute` does it by hand).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OBJECTION = {
    "kind": "petition",
    "level": "*",
    "clock": "objection",
    "variant": "*",
    "days": 5,
    "unit": "working_days",
    "source": "信访工作条例 第二十三条",
}

NEW_FACTS_SQL = """
CREATE OR REPLACE FUNCTION case_measure_facts(c cases) RETURNS TABLE (metric text, day date)
LANGUAGE sql STABLE AS $$
    SELECT f.metric, f.day
      FROM (SELECT c.review_stage = 'none' AS orig,
                   c.state IN ('reported', 'accepted', 'in_progress') AS is_open,
                   c.state NOT IN ('closed', 'rejected', 'withdrawn') AS unsettled,
                   CAST(c.reported_at AT TIME ZONE 'Asia/Shanghai' AS date) AS reported_day,
                   CAST(c.closed_at AT TIME ZONE 'Asia/Shanghai' AS date) AS closed_day,
                   CAST(coalesce(c.accepted_at, CASE WHEN c.state = 'rejected'
                                                     THEN c.closed_at END)
                        AT TIME ZONE 'Asia/Shanghai' AS date) AS decided_day,
                   CAST(c.resolved_at AT TIME ZONE 'Asia/Shanghai' AS date) AS resolved_day) d,
           LATERAL (VALUES
               ('all', DATE '1970-01-01', true),
               ('open', DATE '1970-01-01', d.is_open),
               ('reported', d.reported_day, d.orig),
               ('reported_county', d.reported_day, d.orig AND c.max_level = 'county'),
               ('closed', d.closed_day, d.orig AND c.state = 'closed'),
               ('closed_v', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level = 'village'),
               ('closed_v_kept', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level = 'village'
                AND c.max_level = 'village'),
               ('closed_vt', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level IN ('village', 'town')),
               ('closed_vt_kept', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level IN ('village', 'town')
                AND c.max_level <> 'county'),
               ('decided', d.decided_day,
                c.accept_due IS NOT NULL AND c.accepted_on_time IS NOT NULL),
               ('decided_on_time', d.decided_day,
                c.accept_due IS NOT NULL AND c.accepted_on_time),
               ('resolved_due', d.resolved_day,
                c.resolve_due IS NOT NULL AND c.resolved_on_time IS NOT NULL),
               ('resolved_on_time', d.resolved_day,
                c.resolve_due IS NOT NULL AND c.resolved_on_time),
               ('resolved_dispute', d.resolved_day, c.kind = 'dispute'),
               ('resolved_agreement', d.resolved_day,
                c.kind = 'dispute' AND c.outcome = 'agreement'),
               ('reported_due', c.accept_due, c.state = 'reported'),
               ('progress_due', c.resolve_due,
                c.state IN ('accepted', 'in_progress')
                OR (c.state = 'reported' AND c.kind = 'incident')),
               ('supervised_normal', DATE '1970-01-01',
                c.supervision = 'normal' AND d.unsettled),
               ('supervised_yellow', DATE '1970-01-01',
                c.supervision = 'yellow' AND d.unsettled),
               ('supervised_red', DATE '1970-01-01', c.supervision = 'red' AND d.unsettled)
           ) AS f(metric, day, keep)
     WHERE f.keep AND f.day IS NOT NULL
$$;
"""

OLD_FACTS_SQL = """
CREATE OR REPLACE FUNCTION case_measure_facts(c cases) RETURNS TABLE (metric text, day date)
LANGUAGE sql STABLE AS $$
    SELECT f.metric, f.day
      FROM (SELECT c.review_stage = 'none' AS orig,
                   c.state IN ('reported', 'accepted', 'in_progress') AS is_open,
                   c.state NOT IN ('closed', 'rejected', 'withdrawn') AS unsettled,
                   CAST(c.reported_at AT TIME ZONE 'Asia/Shanghai' AS date) AS reported_day,
                   CAST(c.closed_at AT TIME ZONE 'Asia/Shanghai' AS date) AS closed_day,
                   CAST(coalesce(c.accepted_at, CASE WHEN c.state = 'rejected'
                                                     THEN c.closed_at END)
                        AT TIME ZONE 'Asia/Shanghai' AS date) AS decided_day,
                   CAST(c.resolved_at AT TIME ZONE 'Asia/Shanghai' AS date) AS resolved_day) d,
           LATERAL (VALUES
               ('all', DATE '1970-01-01', true),
               ('open', DATE '1970-01-01', d.is_open),
               ('reported', d.reported_day, d.orig),
               ('reported_county', d.reported_day, d.orig AND c.max_level = 'county'),
               ('closed', d.closed_day, d.orig AND c.state = 'closed'),
               ('closed_v', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level = 'village'),
               ('closed_v_kept', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level = 'village'
                AND c.max_level = 'village'),
               ('closed_vt', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level IN ('village', 'town')),
               ('closed_vt_kept', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level IN ('village', 'town')
                AND c.max_level <> 'county'),
               ('decided', d.decided_day,
                c.accept_due IS NOT NULL AND c.accepted_on_time IS NOT NULL),
               ('decided_on_time', d.decided_day,
                c.accept_due IS NOT NULL AND c.accepted_on_time),
               ('resolved_due', d.resolved_day,
                c.resolve_due IS NOT NULL AND c.resolved_on_time IS NOT NULL),
               ('resolved_on_time', d.resolved_day,
                c.resolve_due IS NOT NULL AND c.resolved_on_time),
               ('resolved_dispute', d.resolved_day, c.kind = 'dispute'),
               ('resolved_agreement', d.resolved_day,
                c.kind = 'dispute' AND c.outcome = 'agreement'),
               ('reported_due', c.accept_due, c.state = 'reported'),
               ('progress_due', c.resolve_due, c.state IN ('accepted', 'in_progress')),
               ('supervised_normal', DATE '1970-01-01',
                c.supervision = 'normal' AND d.unsettled),
               ('supervised_yellow', DATE '1970-01-01',
                c.supervision = 'yellow' AND d.unsettled),
               ('supervised_red', DATE '1970-01-01', c.supervision = 'red' AND d.unsettled)
           ) AS f(metric, day, keep)
     WHERE f.keep AND f.day IS NOT NULL
$$;
"""

REBUILD_PROGRESS_DUE_SQL = """
DELETE FROM measure_facts WHERE metric = 'progress_due';
INSERT INTO measure_facts (metric, day, region_code, kind, n)
SELECT f.metric, f.day, left(c.region_code, 12), c.kind, count(*)
  FROM cases c CROSS JOIN LATERAL case_measure_facts(c) f
 WHERE f.metric = 'progress_due'
 GROUP BY 1, 2, 3, 4;
"""


def upgrade():
    op.add_column(
        "deadline_policies",
        sa.Column("warn_percent", sa.Integer(), server_default="20", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_deadline_policies_warn_percent"),
        "deadline_policies",
        "warn_percent BETWEEN 1 AND 100",
    )
    op.execute(
        sa.text(
            "INSERT INTO deadline_policies (kind, level, clock, variant, days, unit, source) "
            "VALUES (:kind, :level, :clock, :variant, :days, :unit, :source) "
            "ON CONFLICT ON CONSTRAINT uq_deadline_policies_rule DO NOTHING"
        ).bindparams(**OBJECTION)
    )
    op.add_column(
        "cases",
        sa.Column(
            "clock_rules",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.execute(NEW_FACTS_SQL)
    op.execute(REBUILD_PROGRESS_DUE_SQL)
    _recount_running_clocks()


def downgrade():
    op.drop_table("maintenance_tasks")
    op.execute(OLD_FACTS_SQL)
    op.execute(REBUILD_PROGRESS_DUE_SQL)
    op.drop_column("cases", "clock_rules")
    op.execute(
        sa.text("DELETE FROM deadline_policies WHERE kind = 'petition' AND clock = 'objection'")
    )
    op.drop_constraint(
        op.f("ck_deadline_policies_warn_percent"), "deadline_policies", type_="check"
    )
    op.drop_column("deadline_policies", "warn_percent")


def _recount_running_clocks():
    """Ask the app to recount the running clocks (the next `flask cases sweep` does it).

    Not here: the app's clock code follows the newest schema, which a database being migrated
    step by step does not have yet (app/ops/models.py).
    """
    op.create_table(
        "maintenance_tasks",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_maintenance_tasks")),
    )
    op.execute(
        sa.text(
            """
            INSERT INTO maintenance_tasks (name, reason)
            SELECT 'recompute_clocks', '迁移 0009：按新的期限规则重新计算'
             WHERE EXISTS (SELECT 1 FROM cases
                            WHERE state NOT IN ('closed', 'rejected', 'withdrawn'))
            """
        )
    )
