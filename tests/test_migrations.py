"""Migrations: one head, upgrade from empty, downgrade to base and back, models match."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade
from flask_migrate import upgrade
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app import MIGRATIONS_DIR
from app import create_app
from app.cases import schemas
from app.cases import services
from app.cases.models import CaseEvent
from app.extensions import db
from app.extensions import include_object
from tests.cases.factories import case_body
from tests.conftest import TEST_PERSONAL_DATA_KEY
from tests.factories import build_world


def script_directory() -> ScriptDirectory:
    """The project's Alembic scripts."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    return ScriptDirectory.from_config(config)


def test_single_head():
    """The migration history has exactly one head."""
    assert len(script_directory().get_heads()) == 1


def test_first_revision_creates_extensions():
    """The base revision creates PostGIS."""
    base = script_directory().get_base()
    with open(script_directory().get_revision(base).path, encoding="utf-8") as f:
        source = f.read()
    assert "CREATE EXTENSION IF NOT EXISTS postgis" in source


@pytest.fixture
def scratch_url(database_url):
    """An empty throw-away database (from template1, which carries PostGIS)."""
    url = make_url(database_url)
    name = f"{url.database}_scratch_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def app_tables(engine) -> set[str]:
    """Tables in public other than PostGIS's and the job queue's (procrastinate's schema)."""
    names = set(inspect(engine).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
    return {name for name in names if not name.startswith("procrastinate_")}


def queue_objects(engine) -> int:
    """How many tables, functions and types of procrastinate's are in public."""
    sql = """
        SELECT (SELECT count(*) FROM pg_tables WHERE tablename LIKE 'procrastinate%')
             + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%')
             + (SELECT count(*) FROM pg_type WHERE typname LIKE 'procrastinate%')
    """
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_upgrade_downgrade_upgrade_and_models_match(scratch_url):
    """Empty → head → base → head works, and autogenerate then finds no difference."""
    scratch = create_app({"SQLALCHEMY_DATABASE_URI": scratch_url})
    with scratch.app_context():
        engine = db.engines[None]
        try:
            assert app_tables(engine) == set()
            upgrade(directory=MIGRATIONS_DIR)
            assert app_tables(engine) == set(db.metadata.tables)
            assert queue_objects(engine) > 0
            downgrade(directory=MIGRATIONS_DIR, revision="base")
            assert app_tables(engine) == set()
            assert queue_objects(engine) == 0
            upgrade(directory=MIGRATIONS_DIR)
            with engine.connect() as conn:
                context = MigrationContext.configure(
                    conn,
                    opts={
                        "include_object": include_object,
                        "compare_type": True,
                        "render_item": alembic_helpers.render_item,
                    },
                )
                diff = compare_metadata(context, db.metadata)
            assert diff == []
        finally:
            engine.dispose()


def test_clock_rules_migration_asks_the_sweep_to_recount_existing_cases(
    scratch_url, fsa_session, monkeypatch
):
    """Migrating a database that holds open cases to 0009 leaves a recount for the next sweep,
    which records it on each changed case's timeline, once."""
    monkeypatch.setattr(db, "session", fsa_session)  # real commits, on the scratch database
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": scratch_url,
            "TESTING": True,
            "PERSONAL_DATA_KEY": TEST_PERSONAL_DATA_KEY,
        }
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        world = build_world()
        data = schemas.CaseIn().load(case_body())
        data.pop("crs", None)
        case = services.report(data, world["mediator@town"])
        db.session.commit()
        case_id = case.id
        downgrade(directory=MIGRATIONS_DIR, revision="0008")
        db.session.remove()
        # A stale answer the old rules could have left behind.
        db.session.execute(
            text("UPDATE cases SET accept_due = accept_due + 40 WHERE id = :i"), {"i": case_id}
        )
        db.session.commit()
        upgrade(directory=MIGRATIONS_DIR)
        db.session.remove()
        assert db.session.execute(text("SELECT name FROM maintenance_tasks")).scalars().all() == [
            "recompute_clocks"
        ]
        first = services.sweep()
        db.session.commit()
        assert first.recounted == 1
        assert db.session.execute(text("SELECT count(*) FROM maintenance_tasks")).scalar() == 0
        events = db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "recompute")
        ).all()
        assert len(events) == 1 and "0009" in events[0].note
        assert services.sweep().recounted == 0  # once
        db.session.remove()
        db.engine.dispose()
