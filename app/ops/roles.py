"""The app's database role: what it may do on the tables the owner role owns (docs/operations.md).

Migrations run as the owner (MIGRATION_DATABASE_URL); the app connects as another role
(DATABASE_URL) that owns nothing, so it cannot ALTER, DROP, TRUNCATE or DISABLE TRIGGER. The
grant pass below runs at the end of every `flask db upgrade` (migrations/env.py), so the tables a
later migration adds are covered; default privileges cover objects the owner creates outside a
migration. The append-only tables get SELECT and INSERT only.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy import text

# Written once, never changed: the database refuses UPDATE/DELETE/TRUNCATE for the app role (no
# privilege) and for everyone else (triggers from migrations 0003, 0004, 0005).
APPEND_ONLY_TABLES = ("audit_log", "case_events", "risk_events")
# Read only for the app: only migrations move the revision.
READ_ONLY_TABLES = ("alembic_version",)

GRANTS_SQL = """
DO $grants$
DECLARE
    app text := :app_role;
    r record;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', app);
    -- Objects of this role (the owner) in public, not those of an extension (PostGIS's).
    FOR r IN SELECT c.oid::regclass AS name, c.relkind, c.relname
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relowner = current_user::regrole
                AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                                         AND d.objid = c.oid AND d.deptype = 'e')
    LOOP
        IF r.relkind = 'S' THEN
            EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I', r.name, app);
        ELSIF r.relkind IN ('v', 'm') OR r.relname = ANY(:read_only) THEN
            EXECUTE format('REVOKE ALL ON %s FROM %I', r.name, app);
            EXECUTE format('GRANT SELECT ON %s TO %I', r.name, app);
        ELSIF r.relname = ANY(:append_only) THEN
            EXECUTE format('REVOKE ALL ON %s FROM %I', r.name, app);
            EXECUTE format('GRANT SELECT, INSERT ON %s TO %I', r.name, app);
        ELSE
            EXECUTE format('REVOKE TRUNCATE, REFERENCES, TRIGGER ON %s FROM %I', r.name, app);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %I', r.name, app);
        END IF;
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS sig
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'public' AND p.proowner = current_user::regrole
                AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                                         AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', r.sig, app);
    END LOOP;
    -- What this role creates later, outside a migration's grant pass, is usable too.
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public'
                   ' GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', app);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public'
                   ' GRANT USAGE, SELECT ON SEQUENCES TO %I', app);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO %I',
                   app);
END
$grants$
"""


def current_role(conn: Connection) -> str:
    """The role conn runs as."""
    return conn.execute(text("SELECT current_user")).scalar_one()


def grant_app_role(conn: Connection, app_role: str) -> bool:
    """Give app_role what the app needs on the objects conn's role owns. False (nothing done)
    when app_role is conn's own role: a single-role deployment, where the app owns its tables."""
    if not app_role or app_role == current_role(conn):
        return False
    if (
        conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": app_role}).first()
        is None
    ):
        raise RuntimeError(f"database role {app_role!r} (DATABASE_URL's user) does not exist")
    conn.execute(
        text(GRANTS_SQL),
        {
            "app_role": app_role,
            "append_only": list(APPEND_ONLY_TABLES),
            "read_only": list(READ_ONLY_TABLES),
        },
    )
    return True
