"""`flask cases sweep`, `flask cases recompute` and `flask cases docs`."""

import datetime as dt

import click
from flask import current_app

from app.campaigns.services import sweep_overdue as sweep_campaigns
from app.cases import services
from app.cases import workflow
from app.core import clock
from app.docgen import replace_generated
from app.extensions import db
from app.privacy import retention
from app.resident import selfreports
from app.risks.services import sweep_inspections


@click.group("cases")
def cases_cli():
    """Cases."""


@cases_cli.command("sweep")
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="sweep as of this day (YYYY-MM-DD; default today in Asia/Shanghai)",
)
def sweep_command(on):
    """Warnings, the escalation policy, overdue risk inspections and campaign tasks (idempotent;
    one at a time)."""
    on = on.date() if on else None
    result = services.sweep(on)
    if not result.ran:
        db.session.rollback()
        click.echo("另一个巡检正在运行，本次跳过")
        return
    overdue = sweep_inspections(on)
    campaign_tasks = sweep_campaigns(on)
    late_reports = selfreports.sweep(clock.start_of(on + dt.timedelta(days=1)) if on else None)
    # Retention, when configured (docs/privacy.md): cases past their policy de-identified.
    done = retention.run(record_empty=False) if current_app.config["RETENTION_AUTO"] else {}
    db.session.commit()
    deidentified = sum(row["deidentify"] for row in done.values())
    archived = sum(row["archive"] for row in done.values())
    if deidentified or archived:
        click.echo(f"保存期满：去标识化 {deidentified} 件，归档 {archived} 件")
    if result.recounted:
        click.echo(f"按新的期限规则重新计算了 {result.recounted} 件事件的期限（见各事件时间线）")
    click.echo(
        f"巡检完成：预警变化 {result.warnings_changed} 件，分拨预警变化 "
        f"{result.dispatch_warnings_changed} 件，自动提级 {result.escalated} 件，"
        f"新增排查逾期风险点 {overdue} 个，新增逾期专项排查任务 {campaign_tasks} 个，"
        f"随手拍超时 {late_reports} 件"
    )


@cases_cli.command("recompute")
@click.option(
    "--reason", default="按现行期限规则重新计算", help="the note on each changed timeline"
)
def recompute_command(reason):
    """Recount every running clock (after new rules or a year entered); changes on the timelines."""
    changed = services.recompute_open(reason)
    db.session.commit()
    click.echo(f"期限重新计算完成：{changed} 件事件的期限有变化")


@cases_cli.command("docs")
@click.option("--file", "path", default="docs/workflow.md", help="the document to update")
def docs_command(path):
    """Rewrite the generated table and diagram in docs/workflow.md from the workflow table."""
    replace_generated(path, "flask cases docs", workflow.workflow_markdown())
    click.echo(f"已更新 {path}")
