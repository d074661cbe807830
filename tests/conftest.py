"""Fixtures: one migrated PostGIS database per session, a SAVEPOINT rollback per test."""

from __future__ import annotations

import os

import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm import sessionmaker

from app import MIGRATIONS_DIR
from app import create_app
from app.config import sqlalchemy_url
from app.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")


@pytest.fixture(scope="session")
def database_url() -> str:
    """The test database (make test points TEST_DATABASE_URL at the embedded cluster)."""
    if not TEST_DATABASE_URL:
        pytest.exit("TEST_DATABASE_URL is not set: run the suite with `make test`", returncode=2)
    return sqlalchemy_url(TEST_DATABASE_URL)


@pytest.fixture(scope="session")
def app(database_url):
    """The app, on a database migrated to head and emptied of rows."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        tables = ", ".join(t.name for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.session.commit()
        db.session.remove()
        yield app


@pytest.fixture(scope="session")
def fsa_session(app):
    """Flask-SQLAlchemy's own scoped session, for the few tests that need real connections."""
    return db.session


@pytest.fixture(autouse=True)
def _rollback(app, fsa_session):
    """Run each test inside a transaction that is rolled back afterwards.

    The app's commits become SAVEPOINT releases (SQLAlchemy's "join a session into an external
    transaction" recipe), so nothing a test writes outlives it.
    """
    connection = db.engine.connect()
    outer = connection.begin()
    db.session = scoped_session(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    )
    try:
        yield
    finally:
        db.session.remove()
        db.session = fsa_session
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()
