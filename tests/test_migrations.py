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
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app import MIGRATIONS_DIR
from app import create_app
from app.extensions import db
from app.extensions import include_object


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
    """Tables in public other than PostGIS's."""
    return set(inspect(engine).get_table_names()) - {"spatial_ref_sys", "alembic_version"}


def test_upgrade_downgrade_upgrade_and_models_match(scratch_url):
    """Empty → head → base → head works, and autogenerate then finds no difference."""
    scratch = create_app({"SQLALCHEMY_DATABASE_URI": scratch_url})
    with scratch.app_context():
        engine = db.engines[None]
        try:
            assert app_tables(engine) == set()
            upgrade(directory=MIGRATIONS_DIR)
            assert app_tables(engine) == set(db.metadata.tables)
            downgrade(directory=MIGRATIONS_DIR, revision="base")
            assert app_tables(engine) == set()
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
