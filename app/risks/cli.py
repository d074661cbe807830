"""`flask risks sweep`: mark overdue inspections."""

import click

from app.extensions import db
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
