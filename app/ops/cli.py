"""`flask ops backup`, `flask ops restore` and `flask ops verify`."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from app.config import DatabaseNotConfigured
from app.config import database_configured
from app.extensions import db
from app.ops import services
from app.ops.services import BackupError
from app.ops.services import Mismatch


@click.group("ops")
def ops_cli():
    """Operations: backups, restores and their verification."""


@ops_cli.command("backup")
@click.option(
    "--out",
    "out_dir",
    envvar="BACKUP_DIR",
    default="backups",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="directory for <name>.dump and <name>.manifest.json (env BACKUP_DIR)",
)
def backup_command(out_dir: Path):
    """Write a pg_dump archive of the app's database and its manifest of figures."""
    _require_database()
    try:
        dump, manifest_file, manifest = services.backup(db.engine, out_dir)
    except (BackupError, SQLAlchemyError) as exc:
        _fail("备份失败", exc)
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(
        f"备份完成：{dump}（{manifest['dump']['bytes']} 字节），清单 {manifest_file}；"
        f"{len(manifest['tables'])} 张表，共 {rows} 行，迁移版本 {manifest['alembic_revision']}"
    )


@ops_cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--into",
    "url",
    required=True,
    metavar="DATABASE_URL",
    help="the existing database to restore into, e.g. postgresql://gridgov@/gridgov_restore",
)
@click.option("--yes", is_flag=True, help="do not ask before replacing tables that exist")
def restore_command(file: Path, url: str, yes: bool):
    """Restore a backup (FILE: the .dump or its .manifest.json) and verify it against its manifest.

    Exits 1 when the archive's sha256 differs from the manifest (nothing is restored) or when
    any figure of the restored database differs.
    """
    try:
        dump = services.dump_path(file)
        manifest = services.read_manifest(services.manifest_path(dump))
        if mismatches := services.check_dump(dump, manifest):
            click.echo("备份文件与清单不符（文件损坏或被改动），未执行恢复：", err=True)
            click.echo(mismatch_table(mismatches), err=True)
            sys.exit(1)
        existing = services.user_tables(url)
        if existing and not yes:
            click.confirm(
                f"目标数据库已有 {len(existing)} 张表，同名的表将被备份中的内容替换。继续吗？",
                abort=True,
            )
        report = services.restore(dump, url)
        for warning in report.warnings:
            click.echo(f"注意：{warning}", err=True)
        mismatches = services.verify(manifest, url)
    except (BackupError, SQLAlchemyError) as exc:
        _fail("恢复失败", exc)
    if report.skipped_entries:
        click.echo(f"目标库已有的扩展保持原样（跳过 {len(report.skipped_entries)} 项）")
    _report_verification(manifest, mismatches, "恢复完成")


@ops_cli.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--against",
    "url",
    metavar="DATABASE_URL",
    help="the database to check (default: the app's own)",
)
def verify_command(file: Path, url: str | None):
    """Check a backup file against its manifest, and a database against the manifest's figures."""
    if not url:
        _require_database()
    target = url or db.engine.url.render_as_string(hide_password=False)
    try:
        dump = services.dump_path(file)
        manifest = services.read_manifest(services.manifest_path(dump))
        mismatches = services.check_dump(dump, manifest) + services.verify(manifest, target)
    except (BackupError, SQLAlchemyError) as exc:
        _fail("核对失败", exc)
    _report_verification(manifest, mismatches, "核对完成")


def _require_database() -> None:
    """Stop (exit 1, NO_DATABASE_URL) before pg_dump or a URL is handed a database never set."""
    if not database_configured(current_app.config):
        raise DatabaseNotConfigured()


def _fail(what: str, exc: Exception) -> NoReturn:
    """Print why a command failed, without a traceback, and exit 1."""
    # A database error's own message (psycopg2's), not SQLAlchemy's wrapping with the SQL.
    reason = str(getattr(exc, "orig", None) or exc).strip()
    click.echo(f"{what}：{reason}", err=True)
    sys.exit(1)


def _report_verification(manifest: dict, mismatches: list[Mismatch], done: str) -> None:
    """Print the result of a verification; exit 1 on any mismatch."""
    if mismatches:
        click.echo(f"与备份清单不一致的项目共 {len(mismatches)} 个：", err=True)
        click.echo(mismatch_table(mismatches), err=True)
        sys.exit(1)
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(
        f"{done}：{len(manifest['tables'])} 张表、共 {rows} 行与备份清单一致"
        f"（备份时间 {manifest['created_at']}，迁移版本 {manifest['alembic_revision']}）"
    )


def _width(value: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in value)


def _cell(value: object) -> str:
    """A figure as shown in the table."""
    return "（无）" if value is None else str(value)


def mismatch_table(mismatches: list[Mismatch]) -> str:
    """A plain-text table: item, manifest value, actual value."""
    rows = [("项目", "备份清单", "实际")] + [
        (m.item, _cell(m.expected), _cell(m.actual)) for m in mismatches
    ]
    widths = [max(_width(row[i]) for row in rows) for i in range(3)]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(v + " " * (w - _width(v)) for v, w in zip(row, widths, strict=True)).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
