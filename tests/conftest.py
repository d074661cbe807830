"""Fixtures: one migrated PostGIS database per session, a SAVEPOINT rollback per test."""

from __future__ import annotations

import contextvars
import os

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm import sessionmaker

from app import MIGRATIONS_DIR
from app import create_app
from app.config import sqlalchemy_url
from app.core import fast as fast_paths
from app.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
# Every app a test builds (a scratch database's too) counts rate limits in its own process: the
# limiter is one object, and an app built from make's exported Redis URI would move every later
# test of the process, and the other xdist worker's, onto shared counters (tests/accounts/
# test_throttle.py passes its Redis explicitly).
os.environ["RATELIMIT_STORAGE_URI"] = "memory://"
# Two test processes share the machine's cores under `make test`: the suite's heavier statements
# (a 5,000-row import's export, the demo history's timeline check) get the time a loaded machine
# needs; production keeps its 15 s default (tests/ops/test_guards.py sets its own values).
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "60000")
# A fixed key for the suite only (base64 of 32 bytes); production reads PERSONAL_DATA_KEY.
TEST_PERSONAL_DATA_KEY = "dGVzdC1vbmx5LXBlcnNvbmFsLWRhdGEta2V5LTMyYnl0ZXM="


# The files that take longest, longest first (from `make test --durations`): `make test` hands
# whole files to its two workers in collection order (--dist loadfile --no-loadscope-reorder),
# so these start first and the quick files fill in behind them. xdist's default order (most
# tests first) started the one-test soak last, and the run waited minutes for it alone.
SLOW_FILES_FIRST = (
    "tests/fuzz/test_schema_fuzz.py",
    "tests/web/test_page_errors.py",
    "tests/accounts/test_permissions.py",
    "tests/test_readme_commands.py",
    "tests/soak/test_soak.py",
    "tests/browser/test_dispatch_journeys.py",
    "tests/browser/test_page_defects.py",
    "tests/browser/test_journeys.py",
    "tests/notify/test_delivery.py",
    "tests/test_demo_history.py",
    "tests/ops/test_metrics.py",
    "tests/browser/test_resident_journey.py",
    "tests/cases/test_ledger_import.py",
    "tests/browser/test_basemaps.py",
    "tests/accounts/test_throttle.py",
    "tests/campaigns/test_demo.py",
    "tests/test_demo.py",
    "tests/risks/test_demo.py",
)


def pytest_collection_modifyitems(items) -> None:
    """The slow files first (SLOW_FILES_FIRST), every file's own order kept."""
    rank = {path: i for i, path in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(scope="session")
def database_url() -> str:
    """The test database (make test points TEST_DATABASE_URL at the embedded cluster)."""
    if not TEST_DATABASE_URL:
        pytest.exit("TEST_DATABASE_URL is not set: run the suite with `make test`", returncode=2)
    url = sqlalchemy_url(TEST_DATABASE_URL)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        # `make test` runs the suite in parallel (pytest-xdist): each worker process gets its own
        # database beside the given one, created on first use (PostGIS comes with template1).
        from sqlalchemy import create_engine  # noqa: PLC0415 - only the parallel run needs it
        from sqlalchemy.engine import make_url  # noqa: PLC0415

        base = make_url(url)
        name = f"{base.database}_{worker}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if (
                conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
                is None
            ):
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = base.set(database=name).render_as_string(hide_password=False)
    return url


class IsolatedClient(FlaskClient):
    """Each request runs in an empty context, as in production: it gets its own app context.

    Flask reuses an app context that is already pushed (the tests keep one for the database), and
    `g` (Flask-Login's cached user, the CSP nonce) would then leak from one request to the next.
    """

    def open(self, *args, **kwargs):
        """Run the request outside the test's app context.

        Buffered: a streamed body (the CSV export) is read inside that context too, as the
        server reads it inside the request's.
        """
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The app, on a database migrated to head and emptied of rows."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PERSONAL_DATA_KEY": TEST_PERSONAL_DATA_KEY,
            # Counters per test process (reset in every test), whatever make exported; the
            # shared-Redis behaviour has its own tests (tests/accounts/test_throttle.py).
            "RATELIMIT_STORAGE_URI": "memory://",
            # Uploaded files go to a throw-away folder, never into the project's var/.
            "ATTACHMENT_DIR": str(tmp_path_factory.mktemp("attachments")),
            # `flask seed demo` without its two years of history (tests/test_demo_history.py
            # loads it once); the history takes seconds the suite cannot spend each time.
            "DEMO_HISTORY": False,
            # Migrations as the suite's own role (the owner), whatever the environment says;
            # tests/ops/test_app_role.py proves the split roles on a database of its own.
            "MIGRATION_DATABASE_URL": "",
            "DATABASE_APP_ROLE": None,
            # Checkpoints in a throw-away folder, never the project's var/; no key unless a
            # test sets one.
            "AUDIT_CHECKPOINT_DIR": str(tmp_path_factory.mktemp("audit-checkpoints")),
            "AUDIT_SIGNING_KEY": "",
            "AUDIT_VERIFY_KEYS": "",
            # Every public lookup audited in the request, so a test sees its entry at once;
            # tests/resident/test_fast.py runs the batches (app/audit/deferred.py).
            "AUDIT_PUBLIC_DEFER_MS": 0,
        }
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        reset_schema()
        upgrade(directory=MIGRATIONS_DIR)
        yield app


def reset_schema() -> None:
    """Drop every table, view, function and type of ours in public (PostGIS's stay): a fresh
    start.

    Dropping rather than truncating, because the audit log refuses TRUNCATE by design.
    """
    with db.engine.begin() as conn:
        conn.execute(
            text(
                """
                DO $$
                DECLARE r record;
                BEGIN
                    FOR r IN SELECT matviewname AS name FROM pg_matviews
                              WHERE schemaname = 'public' LOOP
                        EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS %I CASCADE', r.name);
                    END LOOP;
                    FOR r IN SELECT tablename AS name FROM pg_tables
                              WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys' LOOP
                        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.name);
                    END LOOP;
                    FOR r IN SELECT p.oid::regprocedure AS sig
                               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                              WHERE n.nspname = 'public'
                                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                                 WHERE d.objid = p.oid AND d.deptype = 'e') LOOP
                        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.sig);
                    END LOOP;
                    -- Enums and composite types (procrastinate's), not PostGIS's, not tables'.
                    FOR r IN SELECT t.typname AS name
                               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                              WHERE n.nspname = 'public' AND t.typtype IN ('e', 'c', 'd')
                                AND (t.typrelid = 0 OR EXISTS (
                                        SELECT 1 FROM pg_class c
                                         WHERE c.oid = t.typrelid AND c.relkind = 'c'))
                                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                                 WHERE d.objid = t.oid AND d.deptype = 'e') LOOP
                        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.name);
                    END LOOP;
                END $$
                """
            )
        )


@pytest.fixture(scope="session")
def fsa_session(app):
    """Flask-SQLAlchemy's own scoped session, for the few tests that need real connections."""
    return db.session


def bind_session(connection) -> None:
    """Point db.session at a session on `connection` whose commits are SAVEPOINT releases."""
    db.session = scoped_session(
        sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
    )


@pytest.fixture(scope="module")
def module_connection(app):
    """A connection whose transaction lasts the module and is rolled back at its end.

    For set-up that many tests of a module share, built once (e.g. the permission matrix's
    world): a test whose fixtures include this one runs in a SAVEPOINT of it (`_rollback`), so
    it sees that set-up and leaves it as it found it. Nothing else of the module may insert the
    same rows while it is open (their unique keys would wait for this transaction).
    """
    connection = db.engine.connect()
    outer = connection.begin()
    try:
        yield connection
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture(autouse=True)
def _rollback(request, app, fsa_session):
    """Run each test inside a transaction that is rolled back afterwards.

    The app's commits become SAVEPOINT releases (SQLAlchemy's "join a session into an external
    transaction" recipe), so nothing a test writes outlives it. A test that uses
    `module_connection` runs in a SAVEPOINT of the module's transaction instead.
    """
    shared = "module_connection" in request.fixturenames
    if shared:
        connection = request.getfixturevalue("module_connection")
        outer = connection.begin_nested()
    else:
        connection = db.engine.connect()
        outer = connection.begin()
    bind_session(connection)
    # Data versions roll back with the test: a number another test already used may come
    # back with other rows behind it, so caches keyed by version start empty.
    app.extensions.pop(fast_paths.KEPT_EXTENSION, None)
    # The fast paths (app/core/fast.py) read through the test's transaction too.
    app.extensions[fast_paths.CONNECTION_SOURCE] = lambda: connection.connection.dbapi_connection
    try:
        yield connection
    finally:
        app.extensions.pop(fast_paths.CONNECTION_SOURCE, None)
        db.session.remove()
        db.session = fsa_session
        outer.rollback()
        if not shared:
            connection.close()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Argon2id with tiny parameters: the suite creates many users (production keeps defaults)."""
    from argon2 import PasswordHasher

    from app.accounts import services

    saved = services.hasher, services._DUMMY_HASH
    services.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    services._DUMMY_HASH = services.hasher.hash("dummy")
    yield
    services.hasher, services._DUMMY_HASH = saved


@pytest.fixture(autouse=True)
def _reset_rate_limits(app):
    """Rate-limit counters (memory storage) start empty in every test."""
    from app.extensions import limiter

    limiter.reset()


@pytest.fixture(scope="module")
def module_world(app, module_connection, fsa_session):
    """The world (below), built once for a module in its module-long transaction.

    A module whose tests all use the world may define `world` as this one: each test then runs
    in a SAVEPOINT of the module's transaction (`_rollback`) and finds the world exactly as
    built, whatever the tests before it wrote, without building it again (about 0.3 s a test).
    Only for modules where every test uses the world and none writes on a connection of its
    own (the module's transaction holds the world's unique keys and data-version rows).
    """
    from tests.factories import build_world

    bind_session(module_connection)
    try:
        return build_world()
    finally:
        db.session.remove()
        db.session = fsa_session


@pytest.fixture
def db_connection(_rollback):
    """The test's connection, for SAVEPOINTs around single calls (connection.begin_nested())."""
    return _rollback


@pytest.fixture
def world(app):
    """Two counties with towns, villages, cells, and users of every role at every level."""
    from tests.factories import build_world

    return build_world()


@pytest.fixture
def scratch_database(database_url):
    """A migrated throw-away database, for tests whose writes must really commit."""
    from flask_migrate import upgrade as upgrade_db
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    name = f"{url.database}_scratch_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    scratch_url = url.set(database=name).render_as_string(hide_password=False)
    scratch = create_app({"SQLALCHEMY_DATABASE_URI": scratch_url, "MIGRATION_DATABASE_URL": ""})
    with scratch.app_context():
        upgrade_db(directory=MIGRATIONS_DIR)
        db.engines[None].dispose()
    try:
        yield scratch_url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def scratch_world(scratch_database, fsa_session, monkeypatch):
    """An app on a migrated scratch database holding the test world, with real commits.

    For concurrency tests: each request gets its own connection, as in production. Yields the
    app and a county official's bearer header.
    """
    from tests.factories import bearer
    from tests.factories import build_world

    monkeypatch.setattr(db, "session", fsa_session)
    scratch = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": scratch_database,
            "PERSONAL_DATA_KEY": TEST_PERSONAL_DATA_KEY,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 25, "max_overflow": 5},
        }
    )
    scratch.test_client_class = IsolatedClient
    with scratch.app_context():
        world = build_world()
        headers = bearer(world["mediator@village"])
        db.session.remove()
    try:
        yield scratch, headers
    finally:
        with scratch.app_context():
            db.engines[None].dispose()
