"""The routing data version: what the dispatch list's cached suggestion keys on (issue 18).

Sixteen `data_versions` stripes named 'routing', bumped (the function of migration 0007) by
every write to `departments` or `routing_rules`, the two tables the routing suggestion reads
(app/dispatch/queries.py suggestion_statement). The dispatch list's fast path
(app/dispatch/fast.py) keeps suggestions per process by region and category at one version,
so a new rule or a unit made inactive is suggested (or not) on the next request.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-02 17:20
"""

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

STRIPES = 16
TABLES = ("departments", "routing_rules")


def upgrade():
    op.execute(
        "INSERT INTO data_versions (name, stripe) "
        f"SELECT 'routing', s FROM generate_series(0, {STRIPES - 1}) s"
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_routing_version "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('routing')"
        )


def downgrade():
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_routing_version ON {table}")
    op.execute("DELETE FROM data_versions WHERE name = 'routing'")
