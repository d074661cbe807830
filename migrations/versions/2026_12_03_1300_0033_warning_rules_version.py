"""The warning rules' data version: what a process keeps the rules of a scan by (issue 18).

`scan_case` runs after every report and read every `warning_rules` row each time; it now keeps
them per process (app/warnings/services.py `scan_rules`) at this version, which its statement
(EVIDENCE_SQL) reads beside the case, so a rule an admin changes counts from the very next scan.

One `data_versions` row named 'warning_rules' (stripe 0), set by every write to
`warning_rules` to the next value of a sequence instead of incremented: a version a rolled-back
transaction saw (its own rule change, kept by a scan in that transaction) is never seen again,
where a summed counter would come back to the same number with other rules behind it. The
writers queue on that one row; the rules change a few times a year. The sequence belongs to
`data_versions.version` (dropped with the table).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-03 13:00
"""

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade():
    # Starting at the creation time in milliseconds (as migration 0028's deadlines version): a
    # database migrated afresh never hands out a version a running process may have kept.
    op.execute(
        """
DO $$
BEGIN
    EXECUTE format('CREATE SEQUENCE data_version_stamps START %s OWNED BY data_versions.version',
                   floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint);
END
$$
"""
    )
    op.execute(
        """
CREATE FUNCTION stamp_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A value never handed out before, even by a transaction that rolled back.
    UPDATE data_versions SET version = nextval('data_version_stamps') WHERE name = TG_ARGV[0];
    RETURN NULL;
END
$$
"""
    )
    op.execute("INSERT INTO data_versions (name, stripe) VALUES ('warning_rules', 0)")
    op.execute(
        "CREATE TRIGGER warning_rules_version "
        "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON warning_rules "
        "FOR EACH STATEMENT EXECUTE FUNCTION stamp_data_version('warning_rules')"
    )


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS warning_rules_version ON warning_rules")
    op.execute("DELETE FROM data_versions WHERE name = 'warning_rules'")
    op.execute("DROP FUNCTION IF EXISTS stamp_data_version()")
    op.execute("DROP SEQUENCE IF EXISTS data_version_stamps")
