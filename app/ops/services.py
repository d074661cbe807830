"""Backups that restore: pg_dump archives with a manifest of figures, restore, verification.

A backup is two files: `<name>.dump` (pg_dump's custom format) and `<name>.manifest.json`
(row count and checksum of every table, alembic revision, audit chain head, sha256 of the dump).
The figures and the dump come from one exported snapshot, so they agree even while the app
keeps writing. A restore is checked by recomputing the figures on the target.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.config import sqlalchemy_url
from app.core import clock

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
DEFAULT_PGBIN = "/usr/lib/postgresql/15/bin"
# PostGIS's table; its rows belong to the extension, not to us.
EXCLUDED_TABLES = ("spatial_ref_sys",)

# libpq connection keywords that may appear in a URL's query string, and their variables.
LIBPQ_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
}
# Inherited variables that would add to or contradict the URL; the URL alone says where to go.
CONNECTION_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
CONNECTION_ENV += ("PGSERVICE", "PGOPTIONS")

# Row text depends on these settings (timestamptz in the session time zone, say); fixing them
# makes a checksum computed on another server, or by another client, comparable.
STABLE_OUTPUT_SQL = """
    SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
           set_config('IntervalStyle', 'postgres', true), set_config('bytea_output', 'hex', true),
           set_config('extra_float_digits', '1', true),
           -- checksums read whole tables: the app's per-request timeout must not apply
           set_config('statement_timeout', '0', true),
           set_config('idle_in_transaction_session_timeout', '0', true)
"""
TABLES_SQL = """
    SELECT c.relname
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND c.relname <> ALL(:excluded)
       -- tables that belong to an extension are the extension's business
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                                AND d.objid = c.oid AND d.deptype = 'e')
     ORDER BY c.relname
"""
# md5 of each row's text, sorted, then md5 of the sorted list: a deterministic order without
# sorting (or concatenating into one text value, capped at 1 GB) whole rows with geometries.
# COLLATE "C" so that the order does not depend on the database's collation.
TABLE_FIGURES_SQL = """
    SELECT count(*) AS n, md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS checksum
      FROM (SELECT md5(t::text) COLLATE "C" AS h FROM {table} AS t) AS rows
"""


class BackupError(Exception):
    """A backup or restore step failed; the message is for the operator."""


@dataclass(frozen=True)
class Mismatch:
    """One figure that differs between the manifest and a database (or the dump file)."""

    item: str
    expected: object
    actual: object


@dataclass
class RestoreReport:
    """What a restore left out on purpose, and what the operator should know."""

    skipped_entries: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def pg_bin(program: str) -> str:
    """Path of a PostgreSQL client program (PGBIN, else Debian's PostgreSQL 15)."""
    return str(Path(os.environ.get("PGBIN") or DEFAULT_PGBIN) / program)


def libpq_env(url: str | URL, application_name: str = "gridgov-ops") -> dict[str, str]:
    """Environment for pg_dump/pg_restore that connects where the SQLAlchemy URL points.

    Nothing goes on the command line (other users can read it); libpq reads PGHOST, PGPORT,
    PGUSER, PGPASSWORD, PGDATABASE and friends. A Unix socket comes as `?host=/path`.
    """
    url = make_url(sqlalchemy_url(str(url))) if isinstance(url, str) else url
    if not url.drivername.startswith("postgresql"):
        raise BackupError(f"不是 PostgreSQL 数据库地址：{url.drivername}")
    env = {k: v for k, v in os.environ.items() if k not in CONNECTION_ENV}
    env["PGAPPNAME"] = application_name
    settings = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    for key, value in url.query.items():
        if key not in LIBPQ_ENV:
            raise BackupError(f"数据库地址中的参数 {key} 无法传给 pg_dump/pg_restore")
        # A repeated key (several hosts) arrives as a tuple; libpq wants them comma-separated.
        settings[LIBPQ_ENV[key]] = value if isinstance(value, str) else ",".join(value)
    env.update({k: str(v) for k, v in settings.items() if v})
    if not env.get("PGDATABASE"):
        raise BackupError("数据库地址中没有数据库名")
    return env


def run(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL client program without a shell; BackupError with its stderr on failure."""
    try:
        result = subprocess.run(args, env=env, stderr=subprocess.PIPE, check=False, **kwargs)
    except FileNotFoundError:
        raise BackupError(f"找不到 {args[0]}（可用环境变量 PGBIN 指定其目录）") from None
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace").strip()
        raise BackupError(f"{Path(args[0]).name} 失败（退出码 {result.returncode}）：\n{stderr}")
    return result


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def snapshot_transaction(engine: Engine) -> Iterator[Connection]:
    """A REPEATABLE READ transaction: every query in it sees one committed state."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def database_figures(conn: Connection) -> dict:
    """Figures of the database behind conn, in the current transaction's snapshot."""
    conn.execute(text(STABLE_OUTPUT_SQL))
    quote = conn.dialect.identifier_preparer.quote
    tables = {}
    for name in conn.execute(text(TABLES_SQL), {"excluded": list(EXCLUDED_TABLES)}).scalars():
        row = conn.execute(text(TABLE_FIGURES_SQL.format(table=f"public.{quote(name)}"))).one()
        tables[name] = {"rows": row.n, "md5": row.checksum}
    return {
        "database": conn.execute(text("SELECT current_database()")).scalar_one(),
        "server_version": conn.execute(text("SHOW server_version")).scalar_one(),
        "postgis_version": conn.execute(
            text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
        ).scalar(),
        "alembic_revision": alembic_revision(conn, tables),
        "tables": tables,
        "audit_chain_head": audit_chain_head(conn),
    }


def alembic_revision(conn: Connection, tables: dict) -> str | None:
    """The migration the database is at (several heads joined by commas), or None."""
    if "alembic_version" not in tables:
        return None
    revisions = conn.execute(
        text('SELECT version_num FROM public.alembic_version ORDER BY version_num COLLATE "C"')
    ).scalars()
    return ",".join(revisions) or None


def audit_chain_head(conn: Connection) -> str | None:
    """The hash of the newest audit_log row (the head of the hash chain), if there is one."""
    columns = set(
        conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = 'audit_log'"
            )
        ).scalars()
    )
    if not {"id", "hash"} <= columns:
        return None
    return conn.execute(
        text("SELECT hash::text FROM public.audit_log ORDER BY id DESC LIMIT 1")
    ).scalar()


def manifest_path(dump: Path) -> Path:
    """`<name>.manifest.json` beside `<name>.dump`."""
    return dump.with_name(dump.name.removesuffix(".dump") + ".manifest.json")


def dump_path(file: Path) -> Path:
    """The archive, given either the archive or its manifest."""
    if file.name.endswith(".manifest.json"):
        return file.with_name(read_manifest(file)["dump"]["file"])
    return file


def read_manifest(path: Path) -> dict:
    """Load a manifest; BackupError when it is missing or not ours."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"找不到备份清单 {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"备份清单 {path} 不是有效的 JSON：{exc}") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"备份清单 {path} 的格式版本不受支持：{manifest.get('format')}")
    return manifest


def _write_private(path: Path, write) -> None:
    """Create path readable by its owner only (backups hold personal data), atomically."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def backup(engine: Engine, out_dir: Path) -> tuple[Path, Path, dict]:
    """Dump the database behind engine into out_dir; return the dump, manifest path and manifest."""
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = clock.now().replace(microsecond=0)
    env = libpq_env(engine.url, "gridgov-backup")
    safe_name = re.sub(r"[^A-Za-z0-9_-]", "_", engine.url.database or "db")
    name = f"{safe_name}-{created:%Y%m%dT%H%M%SZ}"
    dump = out_dir / f"{name}.dump"
    if dump.exists():
        raise BackupError(f"{dump} 已存在")
    pg_dump = pg_bin("pg_dump")
    version = run([pg_dump, "--version"], env, stdout=subprocess.PIPE).stdout.decode().strip()

    # REPEATABLE READ: every figure below and pg_dump (which imports the exported snapshot)
    # see the same committed state, whatever the app writes meanwhile.
    with snapshot_transaction(engine) as conn:
        figures = database_figures(conn)
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        # The snapshot stays importable while this transaction is open: pg_dump runs inside.
        _write_private(
            dump,
            lambda f: run(
                [pg_dump, "--format=custom", f"--snapshot={snapshot}", "--no-password"],
                env,
                stdout=f,
            ),
        )
    manifest = {
        "format": MANIFEST_FORMAT,
        "created_at": created.isoformat().replace("+00:00", "Z"),
        **figures,
        "pg_dump_version": version,
        "dump": {"file": dump.name, "bytes": dump.stat().st_size, "sha256": sha256_file(dump)},
    }
    manifest_file = manifest_path(dump)
    body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    _write_private(manifest_file, lambda f: f.write(body.encode()))
    log.info(
        "backup written",
        extra={
            "dump": str(dump),
            "bytes": manifest["dump"]["bytes"],
            "tables": len(figures["tables"]),
        },
    )
    return dump, manifest_file, manifest


def check_dump(dump: Path, manifest: dict) -> list[Mismatch]:
    """The archive is the one the manifest describes (size and sha256)."""
    if not dump.is_file():
        raise BackupError(f"找不到备份文件 {dump}")
    expected = manifest["dump"]
    mismatches = []
    if (size := dump.stat().st_size) != expected["bytes"]:
        mismatches.append(Mismatch("dump.bytes", expected["bytes"], size))
    if (sha := sha256_file(dump)) != expected["sha256"]:
        mismatches.append(Mismatch("dump.sha256", expected["sha256"], sha))
    return mismatches


def compare(manifest: dict, figures: dict) -> list[Mismatch]:
    """Every figure of the manifest that the database does not reproduce."""
    mismatches = [
        Mismatch(key, manifest.get(key), figures.get(key))
        for key in ("alembic_revision", "audit_chain_head")
        if manifest.get(key) != figures.get(key)
    ]
    expected, actual = manifest["tables"], figures["tables"]
    for name in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(name), actual.get(name)
        if want is None or got is None:
            mismatches.append(Mismatch(f"tables.{name}", want and "存在", got and "存在"))
            continue
        for key in ("rows", "md5"):
            if want[key] != got[key]:
                mismatches.append(Mismatch(f"tables.{name}.{key}", want[key], got[key]))
    return mismatches


def target_engine(url: str) -> Engine:
    """A one-off engine for a database that is not the app's (no pool, no app settings)."""
    return create_engine(sqlalchemy_url(url), poolclass=NullPool)


def verify(manifest: dict, url: str) -> list[Mismatch]:
    """Recompute the manifest's figures on the database at url and list the differences."""
    engine = target_engine(url)
    try:
        with snapshot_transaction(engine) as conn:
            figures = database_figures(conn)
    finally:
        engine.dispose()
    return compare(manifest, figures)


def user_tables(url: str) -> list[str]:
    """Tables in the target's public schema that a restore could overwrite."""
    engine = target_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(text(TABLES_SQL), {"excluded": list(EXCLUDED_TABLES)}).scalars()
            )
    finally:
        engine.dispose()


# Lines of `pg_restore --list`: "<id>; <catalog oid> <oid> <type> <schema> <name> <owner>".
TOC_EXTENSION = re.compile(r"^\d+; \d+ \d+ EXTENSION - (?P<name>\S+)")
TOC_EXTENSION_COMMENT = re.compile(r"^\d+; \d+ \d+ COMMENT - EXTENSION (?P<name>\S+)")
TOC_TABLE_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA (?P<schema>\S+) (?P<name>\S+) ")


def filter_toc(toc: str, extensions: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    """Split the archive's table of contents into entries to restore and entries to skip.

    extensions maps each extension already in the target to its configuration tables
    ("public.spatial_ref_sys" for PostGIS). Those entries are skipped: the extension is there
    (creating it needs a superuser, and --clean would try to DROP it, which only its owner may),
    and its configuration tables belong to it and are not writable by the app's role.
    """
    config_tables = set().union(*extensions.values()) if extensions else set()
    kept, skipped = [], []
    for line in toc.splitlines():
        ext = TOC_EXTENSION.match(line) or TOC_EXTENSION_COMMENT.match(line)
        data = TOC_TABLE_DATA.match(line)
        if (ext and ext["name"] in extensions) or (
            data and f"{data['schema']}.{data['name']}" in config_tables
        ):
            skipped.append(line)
        else:
            kept.append(line)
    return kept, skipped


def _archive_rows(dump: Path, entry: str, env: dict[str, str]) -> int:
    """How many rows a TABLE DATA entry of the archive holds."""
    with tempfile.NamedTemporaryFile("w", suffix=".list", encoding="utf-8") as listing:
        listing.write(entry + "\n")
        listing.flush()
        script = run(
            [pg_bin("pg_restore"), f"--use-list={listing.name}", "--file=-", str(dump)],
            env,
            stdout=subprocess.PIPE,
        ).stdout.decode(errors="replace")
    rows, copying = 0, False
    for line in script.splitlines():
        if line.startswith("COPY "):
            copying = True
        elif line == "\\.":
            copying = False
        elif copying:
            rows += 1
    return rows


def restore(dump: Path, url: str) -> RestoreReport:
    """pg_restore the archive into the database at url (--clean: same-named objects replaced)."""
    env = libpq_env(url, "gridgov-restore")
    engine = target_engine(url)
    try:
        with engine.connect() as conn:
            extensions: dict[str, set[str]] = {}
            for ext, table in conn.execute(
                text(
                    "SELECT e.extname, c.oid::regclass::text FROM pg_extension e"
                    " LEFT JOIN LATERAL unnest(e.extconfig) AS cfg(oid) ON true"
                    " LEFT JOIN pg_class c ON c.oid = cfg.oid"
                )
            ):
                # regclass text omits "public." when public is on the search path
                qualified = table if table is None or "." in table else f"public.{table}"
                extensions.setdefault(ext, set()).update({qualified} if qualified else set())
        pg_restore = pg_bin("pg_restore")
        toc = run([pg_restore, "--list", str(dump)], env, stdout=subprocess.PIPE).stdout.decode()
        kept, skipped = filter_toc(toc, extensions)
        report = RestoreReport(skipped_entries=skipped)
        for entry in skipped:
            data = TOC_TABLE_DATA.match(entry)
            if data and (rows := _archive_rows(dump, entry, env)):
                report.warnings.append(
                    f"备份中 {data['schema']}.{data['name']} 有 {rows} 行自定义数据未恢复"
                    "（该表属于目标库已有的扩展），如需要请由超级用户另行导入"
                )
        with tempfile.NamedTemporaryFile("w", suffix=".list", encoding="utf-8") as listing:
            listing.write("\n".join(kept) + "\n")
            listing.flush()
            # One transaction: a restore that fails part-way leaves the target as it was.
            args = [pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction"]
            args += ["--exit-on-error", "--no-password", f"--use-list={listing.name}"]
            args += [f"--dbname={_conninfo_dbname(env['PGDATABASE'])}", str(dump)]
            try:
                run(args, env, stdout=subprocess.DEVNULL)
            except BackupError as exc:
                if "permission denied to create extension" in str(exc):
                    raise BackupError(
                        f"{exc}\n目标库没有 PostGIS，且当前角色无权创建：请先由超级用户在目标库执行"
                        " CREATE EXTENSION postgis，再重新恢复（目标库未被改动）"
                    ) from None
                raise
        # pg_restore does not carry planner statistics; without them the first queries crawl.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    log.info("restore finished", extra={"dump": str(dump), "skipped": len(report.skipped_entries)})
    return report


def _conninfo_dbname(name: str) -> str:
    """A libpq conninfo naming only the database (a bare name containing = would be parsed)."""
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    return f"dbname='{escaped}'"
