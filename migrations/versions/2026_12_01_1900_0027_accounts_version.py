"""The accounts data version: what the per-process authentication cache keys on (issue 18).

Sixteen `data_versions` stripes named 'accounts', bumped in the writer's own transaction (the
function of migration 0007) by every change that alters who a credential is or what they may
see: a user's row (deactivation, role, region, department, password), their grid cells, a
region's code or level, a token revoked, expired, reassigned or deleted, a login session ended.
Bookkeeping that only moves forward is left out, so it does not empty every process's cache:
a token's `last_used_at` and a login session's `last_seen_at` (the cache re-reads the row
before either could matter: app/accounts/principals.py). Inserts of tokens and login sessions
bump nothing either: a new credential is not cached until it is first used.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 19:00
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

STRIPES = 16

TRIGGERS_SQL = """
CREATE TRIGGER users_accounts_version AFTER UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('accounts');
CREATE TRIGGER user_grid_cells_accounts_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_grid_cells
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('accounts');
CREATE TRIGGER regions_accounts_version AFTER UPDATE OF code, level OR DELETE ON regions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('accounts');
CREATE TRIGGER api_tokens_accounts_version AFTER UPDATE ON api_tokens
    FOR EACH ROW
    WHEN ((OLD.token_hash, OLD.user_id, OLD.created_by_id, OLD.expires_at, OLD.revoked_at)
          IS DISTINCT FROM
          (NEW.token_hash, NEW.user_id, NEW.created_by_id, NEW.expires_at, NEW.revoked_at)
          OR NEW.last_used_at < OLD.last_used_at
          OR (NEW.last_used_at IS NULL AND OLD.last_used_at IS NOT NULL))
    EXECUTE FUNCTION bump_data_version('accounts');
CREATE TRIGGER api_tokens_accounts_version_delete AFTER DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('accounts');
CREATE TRIGGER login_sessions_accounts_version AFTER UPDATE ON login_sessions
    FOR EACH ROW
    WHEN ((OLD.user_id, OLD.created_at, OLD.ended_at, OLD.end_reason)
          IS DISTINCT FROM (NEW.user_id, NEW.created_at, NEW.ended_at, NEW.end_reason)
          OR NEW.last_seen_at < OLD.last_seen_at)
    EXECUTE FUNCTION bump_data_version('accounts');
CREATE TRIGGER login_sessions_accounts_version_delete
    AFTER DELETE OR TRUNCATE ON login_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('accounts');
"""

TRIGGERS = (
    ("users", "users_accounts_version"),
    ("user_grid_cells", "user_grid_cells_accounts_version"),
    ("regions", "regions_accounts_version"),
    ("api_tokens", "api_tokens_accounts_version"),
    ("api_tokens", "api_tokens_accounts_version_delete"),
    ("login_sessions", "login_sessions_accounts_version"),
    ("login_sessions", "login_sessions_accounts_version_delete"),
)


def upgrade():
    op.execute(
        "INSERT INTO data_versions (name, stripe) "
        f"SELECT 'accounts', s FROM generate_series(0, {STRIPES - 1}) s"
    )
    op.execute(TRIGGERS_SQL)


def downgrade():
    for table, trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    op.execute("DELETE FROM data_versions WHERE name = 'accounts'")
