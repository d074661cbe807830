"""`flask cases sweep`, `flask cases recompute`, `flask cases rebuild-facts`, `flask cases docs`
and `flask cases import-ledger`."""

import datetime as dt
from pathlib import Path

import click
from flask import current_app

from app.campaigns.services import sweep_overdue as sweep_campaigns
from app.cases import facts
from app.cases import services
from app.cases import workflow
from app.core import clock
from app.core.errors import DomainError
from app.docgen import replace_generated
from app.extensions import db
from app.imports import jobs as import_jobs
from app.imports import services as imports
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


@cases_cli.command("rebuild-facts")
@click.option("--county", default=None, help="only this county (its code or six digits)")
def rebuild_facts_command(county):
    """Recount the measure facts county by county, a short transaction each (writers go on)."""
    prefixes = [county[:6]] if county else facts.county_prefixes()
    for prefix in prefixes:
        changed = facts.rebuild_in(prefix)
        db.session.commit()
        click.echo(f"{prefix}: {changed} 条计数已更正")
    click.echo(f"指标计数重算完成：{len(prefixes)} 个县")


@cases_cli.command("docs")
@click.option("--file", "path", default="docs/workflow.md", help="the document to update")
def docs_command(path):
    """Rewrite the generated table and diagram in docs/workflow.md from the workflow table."""
    replace_generated(path, "flask cases docs", workflow.workflow_markdown())
    click.echo(f"已更新 {path}")


@cases_cli.command("import-ledger")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="only list the problems; write no case")
@click.option("--template", "template_name", default=None, help="a saved header mapping's name")
@click.option("--county", default=None, help="the county's code (default: the user's county)")
@click.option("--user", "username", default=None, help="who imports (default: a county admin)")
def import_ledger_command(path, dry_run, template_name, county, username):
    """Import a historical ledger (xlsx or CSV; docs/imports.md) inline: a dry run, then (unless
    --dry-run) the apply, committed batch by batch; re-running skips rows already imported."""
    template = None
    if template_name:
        template = imports.template_named(template_name)
        if template is None:
            raise click.ClickException(f"没有名为 {template_name} 的模板")
    try:
        user = imports.cli_user(username, county)
        target = imports.county_for(user, county)
        imp = imports.create(Path(path).read_bytes(), Path(path).name, target, user, template)
        found = imports.dry_run(imp, user)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in imp.problems:
        row = f"第 {problem['row']} 行" if problem["row"] else "表头"
        click.echo(f"{row} [{problem['column']}] {problem['message']}")
    click.echo(
        f"试运行：可导入 {len(found.planned)} 行，已导入过 {found.unchanged} 行，"
        f"有问题 {found.problem_rows} 行"
    )
    if dry_run:
        db.session.commit()
        return
    imports.start(imp, user)
    db.session.commit()
    state = import_jobs.run_import(imp.id)
    imp = db.session.get(type(imp), imp.id)
    if state != "applied":
        raise click.ClickException(f"导入失败：{imp.error}")
    click.echo(
        f"导入完成：新建 {imp.created_count} 件，未变 {imp.unchanged_count} 件，"
        f"跳过有问题的 {imp.problem_rows} 行（导入记录 {imp.id}）"
    )
