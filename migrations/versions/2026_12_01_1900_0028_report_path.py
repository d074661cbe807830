"""The report path (issue 18, W1): a data version for the deadline policy and holiday calendar,
and the audit chain's append in one statement.

- data_versions 'deadlines' (one stripe, 0): bumped by statement triggers on deadline_policies
  and holiday_years, so each process caches the parsed policy and calendar by it
  (app/deadlines/snapshot.py). The bump takes a number from a sequence rather than adding one:
  a sequence never hands out a number twice, so a version seen inside a transaction that later
  rolled back is never reused for other contents (a counter's +1 would be, by the next writer).
  Policy edits are rare: one stripe, no contention worth spreading.
- audit_append(entries, lock_key): under the chain's advisory lock, reads the head's hash, takes
  each entry's id from the sequence and inserts it with sha256(prev_hash || '\n' || payload), where the
  payload is the entry's canonical JSON that Python wrote around the id (app/audit/services.py):
  the same bytes entry_hash hashes, so the verifier recomputes the same hash. One round trip
  instead of four (lock, head, sequence, INSERT); the lock is held until commit, as before.

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-01 19:00
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

DEADLINES_SQL = """
-- Starting at the creation time in milliseconds: a database migrated afresh (the tests do) never
-- reuses the versions a process may still have cached from the one before.
DO $$
BEGIN
    EXECUTE format('CREATE SEQUENCE deadlines_version_seq START %s OWNED BY data_versions.version',
                   floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint);
END
$$;
INSERT INTO data_versions (name, stripe, version) VALUES ('deadlines', 0, 0);
CREATE FUNCTION bump_deadlines_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_versions SET version = nextval('deadlines_version_seq')
     WHERE name = 'deadlines' AND stripe = 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER deadline_policies_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON deadline_policies
    FOR EACH STATEMENT EXECUTE FUNCTION bump_deadlines_version();
CREATE TRIGGER holiday_years_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON holiday_years
    FOR EACH STATEMENT EXECUTE FUNCTION bump_deadlines_version();
"""

AUDIT_SQL = r"""
CREATE FUNCTION audit_append(entries jsonb, lock_key bigint) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    prev text;
    new_id bigint;
    new_hash text;
    n integer := 0;
BEGIN
    -- lock_key: app/audit/services.AUDIT_LOCK_KEY, the lock every audit writer takes.
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT hash INTO prev FROM audit_log ORDER BY id DESC LIMIT 1;
    prev := coalesce(prev, repeat('0', 64));
    FOR e IN SELECT value FROM jsonb_array_elements(entries) LOOP
        new_id := nextval('audit_log_id_seq');
        new_hash := encode(sha256(convert_to(
            prev || E'\n' || (e->>'payload_head') || new_id::text || (e->>'payload_tail'),
            'UTF8')), 'hex');
        INSERT INTO audit_log (id, at, actor_id, actor, role, action, object_type, object_id,
                               region_code, client_addr, outcome, detail, prev_hash, hash)
        VALUES (new_id, CAST(e->>'at' AS timestamptz), CAST(e->>'actor_id' AS integer),
                e->>'actor', e->>'role', e->>'action', e->>'object_type', e->>'object_id',
                e->>'region_code', e->>'client_addr', e->>'outcome', e->'detail', prev,
                new_hash);
        prev := new_hash;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
"""


def upgrade():
    op.execute(DEADLINES_SQL)
    op.execute(AUDIT_SQL)


def downgrade():
    op.execute("DROP FUNCTION IF EXISTS audit_append(jsonb, bigint)")
    op.execute("DROP TRIGGER IF EXISTS holiday_years_data_version ON holiday_years")
    op.execute("DROP TRIGGER IF EXISTS deadline_policies_data_version ON deadline_policies")
    op.execute("DROP FUNCTION IF EXISTS bump_deadlines_version()")
    op.execute("DELETE FROM data_versions WHERE name = 'deadlines'")
    op.execute("DROP SEQUENCE IF EXISTS deadlines_version_seq")
