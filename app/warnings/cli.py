"""`flask warnings scan` (the full pass) and `flask warnings docs` (the thresholds table)."""

import click

from app.docgen import replace_generated
from app.extensions import db
from app.warnings import rules
from app.warnings import services


@click.group("warnings")
def warnings_cli():
    """研判预警 (early warnings)."""


@warnings_cli.command("scan")
def scan_command():
    """Evaluate every rule over the recent cases and the risk points (idempotent)."""
    outcome = services.scan()
    db.session.commit()
    click.echo(f"研判扫描完成：新预警 {len(outcome.raised)} 条，更新 {len(outcome.updated)} 条")


@warnings_cli.command("docs")
@click.option("--file", "path", default="docs/warnings.md", help="the document to update")
def docs_command(path):
    """Rewrite the generated thresholds table in docs/warnings.md from app/warnings/rules.py."""
    replace_generated(path, "flask warnings docs", rules.markdown())
    click.echo(f"已更新 {path}")
