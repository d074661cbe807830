"""The app runs as a role that owns nothing (issue 19): migrations as the owner grant it only
what it needs, and the database refuses it DDL, TRUNCATE and changes to the append-only tables.

The suite itself runs as the owner (it drops and creates the schema); this module migrates a
database of its own as the owner and runs the app on it as TEST_APP_DATABASE_URL's role (`make
test` gives the embedded cluster's `gridgov`; docs/operations.md, "Database roles").
"""

import os

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from app import MIGRATIONS_DIR
from app import create_app
from app.config import sqlalchemy_url
from app.extensions import db
from tests.cases.factories import case_body
from tests.conftest import TEST_PERSONAL_DATA_KEY
from tests.conftest import IsolatedClient
from tests.factories import bearer
from tests.factories import build_world

APP_URL = os.environ.get("TEST_APP_DATABASE_URL")


@pytest.fixture(scope="module")
def split(database_url, tmp_path_factory):
    """(app on the app role's URL, owner URL, app URL) for a database migrated by the owner."""
    owner = make_url(database_url)
    if not APP_URL:
        pytest.skip("TEST_APP_DATABASE_URL (the app role on the test server) is not set")
    app_role = make_url(sqlalchemy_url(APP_URL))
    if app_role.username == owner.username:
        pytest.skip("TEST_APP_DATABASE_URL's role is the suite's own: no role split to prove")
    name = f"{owner.database}_approle_{os.getpid()}"
    admin = create_engine(owner, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    owner_url = owner.set(database=name).render_as_string(hide_password=False)
    app_url = app_role.set(database=name).render_as_string(hide_password=False)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app_url,
            "MIGRATION_DATABASE_URL": owner_url,
            "PERSONAL_DATA_KEY": TEST_PERSONAL_DATA_KEY,
            "RATELIMIT_STORAGE_URI": "memory://",
            "ATTACHMENT_DIR": str(tmp_path_factory.mktemp("approle-attachments")),
            "AUDIT_CHECKPOINT_DIR": str(tmp_path_factory.mktemp("approle-checkpoints")),
            "AUDIT_SIGNING_KEY": "",
        }
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)  # as the owner, then the grant pass
        db.engines[None].dispose()
    try:
        yield app, owner_url, app_url
    finally:
        with app.app_context():
            db.engines[None].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_app_works_as_a_role_that_owns_nothing(split, fsa_session, monkeypatch, tmp_path):
    """Report, a workflow action, a reveal, an export, the background jobs and a backup, as the
    app role; the audit chain verifies; the role owns no object in the database."""
    app, owner_url, app_url = split
    monkeypatch.setattr(db, "session", fsa_session)  # real commits on this database
    with app.app_context():
        assert db.session.scalar(text("SELECT current_user")) == make_url(app_url).username
        world = build_world()
        worker, mediator = bearer(world["grid_worker@village"]), bearer(world["mediator@village"])
        db.session.remove()
    client = app.test_client()
    created = client.post("/api/v1/cases", json=case_body(), headers=worker)
    assert created.status_code == 201, created.get_json()
    number, party_id = created.get_json()["number"], created.get_json()["parties"][0]["id"]
    accepted = client.post(
        f"/api/v1/cases/{number}/actions/accept", json={"version": 1}, headers=mediator
    )
    assert accepted.status_code == 200, accepted.get_json()
    revealed = client.post(
        f"/api/v1/cases/{number}/parties/{party_id}/reveal",
        json={"purpose": "mediation"},
        headers=mediator,
    )
    assert revealed.status_code == 200 and revealed.get_json()["name"] == "张三"
    exported = client.get("/api/v1/cases/export.csv", headers=mediator)
    assert exported.status_code == 200 and number in exported.get_data(as_text=True)

    with app.app_context():
        runner = app.test_cli_runner()
        jobs = runner.invoke(args=["notify", "deliver", "--once"])  # the report's warning scan
        assert jobs.exit_code == 0, jobs.output
        statuses = db.session.execute(
            text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1")
        ).all()
        assert dict(statuses).get("succeeded", 0) >= 1 and "failed" not in dict(statuses)
        verified = runner.invoke(args=["audit", "verify"])
        assert verified.exit_code == 0, verified.output
        backup = runner.invoke(args=["ops", "backup", "--out", str(tmp_path)])  # pg_dump reads all
        assert backup.exit_code == 0, backup.output
        db.session.remove()

    owner = create_engine(owner_url, poolclass=NullPool)
    with owner.connect() as conn:
        owned = conn.scalar(
            text("SELECT count(*) FROM pg_class WHERE relowner = CAST(:r AS regrole)"),
            {"r": make_url(app_url).username},
        )
        tables_owner = conn.scalar(
            text(
                "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys'"
            )
        )
    owner.dispose()
    assert owned == 0
    assert tables_owner == make_url(owner_url).username


REFUSED = [
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "UPDATE audit_log SET actor = 'x'",
    "DELETE FROM audit_log",
    "DELETE FROM case_events",
    "UPDATE risk_events SET action = 'x'",
    "TRUNCATE cases",
    "TRUNCATE audit_log",
    "DROP TABLE cases",
    "ALTER TABLE cases ADD COLUMN x int",
    "CREATE TABLE mine (x int)",
    "UPDATE alembic_version SET version_num = 'x'",
]


def test_the_app_role_is_refused_ddl_truncate_and_rewriting_history(split):
    """Each statement, run as the app role, fails with a permission error; a table the owner
    adds later (a later migration) is usable by the app role at once."""
    _, owner_url, app_url = split
    engine = create_engine(app_url, poolclass=NullPool)
    refused = {}
    try:
        for statement in REFUSED:
            with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
                conn.execute(text(statement))
            refused[statement] = str(caught.value.orig).splitlines()[0]
        owner = create_engine(owner_url, poolclass=NullPool)
        with owner.begin() as conn:
            conn.execute(text("CREATE TABLE later_feature (id serial PRIMARY KEY, x int)"))
        owner.dispose()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO later_feature (x) VALUES (1)"))
            assert conn.scalar(text("SELECT count(*) FROM later_feature")) == 1
    finally:
        engine.dispose()
    for statement, error in refused.items():
        assert "permission denied" in error or "must be owner" in error, (statement, error)
