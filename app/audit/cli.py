"""`flask audit verify`."""

import sys

import click

from app.audit import services


@click.group("audit")
def audit_cli():
    """The audit log."""


@audit_cli.command("verify")
@click.option("--table", default="audit_log", help="verify another table (e.g. a copy)")
def verify_command(table):
    """Check the whole hash chain; name the first broken row."""
    result = services.verify(table)
    if result.ok:
        click.echo(f"审计链完整：{result.rows} 条记录，链头 {result.head or '（空）'}")
        return
    click.echo(
        f"审计链已损坏：第一条异常记录 id={result.broken_id}（{result.reason}），"
        f"已检查 {result.rows} 条",
        err=True,
    )
    sys.exit(1)
