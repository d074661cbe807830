"""`flask ops backup` / `restore` / `verify`: the archive restores, and the restore is checked.

These tests commit real rows, so they run on scratch databases of their own (from template1,
which carries PostGIS), created and dropped here, never on the session's test database.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from collections.abc import Iterator

import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app import MIGRATIONS_DIR
from app import create_app
from app.extensions import db
from app.ops import services
from tests.geo.factories import build_cells
from tests.geo.factories import build_county


@pytest.fixture(scope="module")
def make_database(database_url) -> Iterator[Callable[[str], str]]:
    """Create empty scratch databases `gridgov_ops_<pid>_<suffix>`; drop them all afterwards."""
    url = make_url(database_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    names: list[str] = []

    def make(suffix: str, template: str = "template1") -> str:
        name = f"gridgov_ops_{os.getpid()}_{suffix}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {template}'))
        names.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def source(make_database, fsa_session, tmp_path_factory):
    """A migrated scratch database with a county and cells, and a backup of it made by the CLI."""
    url = make_database("src")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    # Module fixtures run before the per-test SAVEPOINT session is swapped in; make sure the
    # factories write through Flask-SQLAlchemy's real session, bound to this app's engine.
    saved, db.session = db.session, fsa_session
    try:
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR)
            build_county()
            build_cells()
            db.session.remove()
        out = tmp_path_factory.mktemp("backups")
        result = invoke({"app": app}, "backup", "--out", str(out))
        assert result.exit_code == 0, result.output
        (dump,) = out.glob("*.dump")
        assert dump.name.startswith(f"{make_url(url).database}-")
        yield {"app": app, "url": url, "dump": dump, "out": out}
    finally:
        db.session = saved
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def target(make_database, request) -> str:
    """An empty scratch database (PostGIS already in it, as template1 has it)."""
    return make_database(f"dst_{request.node.name[:20].lower()}")


def invoke(source, *args: str, input: str | None = None):
    """Run `flask ops ...` in the source app."""
    # Inside its own app context: the session's app context is pushed for the whole run, and
    # `flask` itself (FlaskGroup) would push the right one, but the test runner does not.
    with source["app"].app_context():
        return source["app"].test_cli_runner().invoke(args=["ops", *args], input=input)


def table_rows(url: str, table: str) -> list[str]:
    """Every row of a table as text, sorted."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(f'SELECT t::text FROM public."{table}" AS t ORDER BY 1')
                ).scalars()
            )
    finally:
        engine.dispose()


def execute(url: str, sql: str) -> None:
    """Run one statement on a database and commit."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def chain_head(url: str) -> str | None:
    """The hash of audit_log's highest id, read directly (None without the table or rows)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('public.audit_log')")).scalar() is None:
                return None
            return conn.execute(
                text("SELECT hash::text FROM audit_log ORDER BY id DESC LIMIT 1")
            ).scalar()
    finally:
        engine.dispose()


def is_superuser(url: str) -> bool:
    """Whether the role of url is a PostgreSQL superuser."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT usesuper FROM pg_user WHERE usename = current_user")
            ).scalar_one()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The migrations' head revision."""
    config = AlembicConfig()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


def test_backup_writes_a_private_dump_and_a_manifest(source):
    """The dump and its manifest exist, owner-only, with the figures of every table."""
    dump = source["dump"]
    manifest_file = services.manifest_path(dump)
    assert manifest_file.name == dump.name.removesuffix(".dump") + ".manifest.json"
    for path in (dump, manifest_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(source["out"].glob("*.partial"))
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))

    assert manifest["database"] == make_url(source["url"]).database
    assert manifest["server_version"].startswith(("13", "14", "15", "16", "17"))
    assert manifest["alembic_revision"] == head_revision()
    assert manifest["dump"] == {
        "file": dump.name,
        "bytes": dump.stat().st_size,
        "sha256": services.sha256_file(dump),
    }
    assert dump.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    tables = manifest["tables"]
    assert "spatial_ref_sys" not in tables
    assert {"alembic_version", "regions", "grid_cells", "region_predecessors"} <= tables.keys()
    assert tables["regions"]["rows"] == 6 and tables["grid_cells"]["rows"] == 3
    assert len(tables["regions"]["md5"]) == 32
    # audit_chain_head follows the audit_log table when the schema has one.
    assert manifest["audit_chain_head"] == chain_head(source["url"])


def test_restore_into_an_empty_database_reproduces_every_table(source, target):
    """Restored into an empty database, every table has exactly the source's rows."""
    result = invoke(source, "restore", str(source["dump"]), "--into", target)
    assert result.exit_code == 0, result.output
    assert "一致" in result.output
    manifest = services.read_manifest(services.manifest_path(source["dump"]))
    for table in manifest["tables"]:
        assert table_rows(target, table) == table_rows(source["url"], table), table
    assert services.verify(manifest, target) == []


def test_a_tampered_target_is_reported_and_a_second_restore_repairs_it(source, target):
    """A row changed after the restore is a mismatch (exit 1); restoring again repairs it."""
    assert invoke(source, "restore", str(source["dump"]), "--into", target).exit_code == 0
    execute(target, "UPDATE regions SET name = '篡改' WHERE code = '371699101200'")

    result = invoke(source, "verify", str(source["dump"]), "--against", target)
    assert result.exit_code == 1
    assert "tables.regions.md5" in result.output
    assert "tables.grid_cells" not in result.output
    manifest = services.read_manifest(services.manifest_path(source["dump"]))
    assert [m.item for m in services.verify(manifest, target)] == ["tables.regions.md5"]

    execute(target, "DELETE FROM grid_cells WHERE code LIKE '371699101201%'")
    # The delete also bumps the map layers' data versions (tile cache invalidation, app/tiles).
    assert {
        m.item
        for m in services.verify(manifest, target)
        if not m.item.startswith("tables.data_versions")
    } == {
        "tables.regions.md5",
        "tables.grid_cells.rows",
        "tables.grid_cells.md5",
    }

    # The target is not empty now: --clean replaces its tables (and keeps its PostGIS).
    result = invoke(source, "restore", str(source["dump"]), "--into", target, "--yes")
    assert result.exit_code == 0, result.output
    assert services.verify(manifest, target) == []
    assert table_rows(target, "regions") == table_rows(source["url"], "regions")


def test_restore_asks_before_replacing_tables_of_a_non_empty_database(source, target):
    """Without --yes, a target that has tables needs a yes; answering no leaves it untouched."""
    execute(target, "CREATE TABLE regions (id int)")
    result = invoke(source, "restore", str(source["dump"]), "--into", target, input="n\n")
    assert result.exit_code == 1
    assert "目标数据库已有 1 张表" in result.output
    assert table_rows(target, "regions") == []
    assert services.user_tables(target) == ["regions"]


def test_a_corrupted_dump_is_refused_before_anything_is_restored(source, target, tmp_path):
    """A dump whose sha256 differs from its manifest: exit 1, the target stays empty."""
    dump = tmp_path / source["dump"].name
    data = bytearray(source["dump"].read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    services.manifest_path(dump).write_bytes(services.manifest_path(source["dump"]).read_bytes())

    result = invoke(source, "restore", str(dump), "--into", target)
    assert result.exit_code == 1
    assert "dump.sha256" in result.output and "未执行恢复" in result.output
    assert services.user_tables(target) == []


def test_restore_accepts_the_manifest_as_file(source, target):
    """FILE may name the manifest instead of the dump."""
    manifest_file = services.manifest_path(source["dump"])
    result = invoke(source, "restore", str(manifest_file), "--into", target)
    assert result.exit_code == 0, result.output


def test_backup_failure_leaves_no_files(source, tmp_path, monkeypatch):
    """pg_dump missing: a clear message, exit 1, and no partial dump left behind."""
    monkeypatch.setenv("PGBIN", str(tmp_path / "nowhere"))
    result = invoke(source, "backup", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "PGBIN" in result.output
    assert list((tmp_path / "out").iterdir()) == []


def test_audit_chain_head_is_the_hash_of_the_newest_audit_row(make_database):
    """With an audit_log(id, hash) table the head is the hash of the highest id; else None."""
    url = make_database("audit")
    assert chain_head(url) is None
    execute(url, "CREATE TABLE audit_log (id bigint PRIMARY KEY, hash text NOT NULL)")
    assert chain_head(url) is None
    execute(url, "INSERT INTO audit_log VALUES (2, 'bbb'), (10, 'ccc'), (9, 'aaa')")
    assert chain_head(url) == "ccc"


def test_checksums_do_not_depend_on_session_settings(make_database):
    """A timestamptz row checksums the same whatever the client's time zone."""
    url = make_database("tz")
    execute(url, "CREATE TABLE stamps (at timestamptz)")
    execute(url, "INSERT INTO stamps VALUES ('2026-01-01 08:00+08')")
    engine = create_engine(url, poolclass=NullPool)
    try:
        sums = []
        for zone in ("UTC", "Asia/Shanghai"):
            with engine.connect() as conn:
                conn.execute(text(f"SET TimeZone = '{zone}'"))
                sums.append(services.database_figures(conn)["tables"]["stamps"])
    finally:
        engine.dispose()
    assert sums[0] == sums[1]


def test_libpq_env_carries_the_url_and_nothing_else(monkeypatch):
    """Socket host, TCP host/port/password and libpq options go to PG* variables only."""
    monkeypatch.setenv("PGPORT", "6543")
    monkeypatch.setenv("PGOPTIONS", "-c search_path=evil")
    env = services.libpq_env("postgresql+psycopg2://gridgov@/gridgov?host=/run/pg")
    assert env["PGHOST"] == "/run/pg" and env["PGUSER"] == "gridgov"
    assert env["PGDATABASE"] == "gridgov"
    assert "PGPORT" not in env and "PGOPTIONS" not in env and "PGPASSWORD" not in env

    env = services.libpq_env("postgresql://u:s%40cret@db.example:5433/gov?sslmode=require")
    assert (env["PGHOST"], env["PGPORT"], env["PGPASSWORD"]) == ("db.example", "5433", "s@cret")
    assert env["PGSSLMODE"] == "require"

    with pytest.raises(services.BackupError, match="unknown_option"):
        services.libpq_env("postgresql://u@h/gov?unknown_option=1")


def test_filter_toc_skips_only_extensions_the_target_already_has():
    """EXTENSION, its COMMENT and its config table's data are skipped; our tables are kept."""
    toc = "\n".join(
        [
            ";",
            "2; 3079 16387 EXTENSION - postgis ",
            "4298; 0 0 COMMENT - EXTENSION postgis ",
            "3; 3079 16388 EXTENSION - pg_trgm ",
            "222; 1259 25742 TABLE public regions gridgov",
            "4288; 0 25742 TABLE DATA public regions gridgov",
            "4101; 0 16700 TABLE DATA public spatial_ref_sys postgres",
        ]
    )
    kept, skipped = services.filter_toc(toc, {"postgis": {"public.spatial_ref_sys"}})
    assert skipped == [
        "2; 3079 16387 EXTENSION - postgis ",
        "4298; 0 0 COMMENT - EXTENSION postgis ",
        "4101; 0 16700 TABLE DATA public spatial_ref_sys postgres",
    ]
    assert "3; 3079 16388 EXTENSION - pg_trgm " in kept
    assert "4288; 0 25742 TABLE DATA public regions gridgov" in kept


def test_an_unreachable_target_is_a_clear_failure(source, tmp_path):
    """A target database that cannot be reached: exit 1 with the reason, no traceback."""
    url = f"postgresql://gridgov@/nowhere?host={tmp_path}"
    result = invoke(source, "restore", str(source["dump"]), "--into", url)
    assert result.exit_code == 1
    assert result.output.startswith("恢复失败：") and "Traceback" not in result.output


def test_a_target_without_postgis_is_left_untouched_with_a_hint(source, make_database):
    """No PostGIS in the target and no right to create it: exit 1, a hint, nothing restored."""
    url = make_database("nopostgis", template="template0")
    if is_superuser(url):
        pytest.skip("a superuser may create PostGIS itself")
    result = invoke(source, "restore", str(source["dump"]), "--into", url)
    assert result.exit_code == 1
    assert "CREATE EXTENSION postgis" in result.output and "目标库未被改动" in result.output
    assert services.user_tables(url) == []
