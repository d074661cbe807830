"""`flask retention run [--dry-run]`: de-identify closed cases past policy (docs/privacy.md)."""

import click

from app.extensions import db
from app.privacy import retention

KIND_NAMES = {"dispute": "矛盾纠纷", "petition": "信访", "incident": "一般事件"}


@click.group("retention")
def retention_cli():
    """Retention of personal data."""


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="list what would be de-identified; change nothing")
def run_command(dry_run):
    """De-identify (or archive) every ended case past its kind's retention policy; audited."""
    if dry_run:
        result = retention.plan()
        db.session.rollback()
    else:
        result = retention.run()
        db.session.commit()
    verb = "将" if dry_run else "已"
    for kind, row in result.items():
        first = "，".join(row["first"]) or "无"
        click.echo(
            f"{KIND_NAMES.get(kind, kind)}：{verb}去标识化 {row['deidentify']} 件，"
            f"{verb}归档 {row['archive']} 件（前几件：{first}）"
        )
    if dry_run:
        click.echo("演练：未作任何更改（去掉 --dry-run 执行）")
