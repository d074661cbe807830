"""`flask risks sweep` (mark overdue inspections) and `flask risks docs`."""

import click

from app.docgen import replace_generated
from app.extensions import db
from app.risks import actions
from app.risks import services


@click.group("risks")
def risks_cli():
    """Risk points."""


@risks_cli.command("sweep")
def sweep_command():
    """Mark risk points whose inspection is overdue (idempotent)."""
    marked = services.sweep_inspections()
    db.session.commit()
    click.echo(f"排查巡检完成：新标记逾期未排查的风险点 {marked} 个")


@risks_cli.command("docs")
@click.option("--file", "path", default="docs/risks.md", help="the document to update")
def docs_command(path):
    """Rewrite the generated actions table in docs/risks.md from app/risks/actions.py."""
    replace_generated(path, "flask risks docs", actions.markdown())
    click.echo(f"已更新 {path}")
