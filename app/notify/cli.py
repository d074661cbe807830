"""`flask notify worker` and `flask notify deliver --once`: the notification queue's worker."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import func
from sqlalchemy import select

from app.extensions import db
from app.notify import jobs
from app.notify.models import SmsMessage


@click.group("notify")
def notify_cli():
    """Notifications."""


@notify_cli.command("worker")
def worker_command():
    """Deliver notifications as they are queued, until SIGTERM or Ctrl-C (a graceful stop)."""
    click.echo(f"通知投递进程已启动（队列 {jobs.QUEUE}）")
    jobs.run_worker(current_app._get_current_object(), wait=True)
    click.echo("通知投递进程已停止")


@notify_cli.command("deliver")
@click.option("--once", is_flag=True, help="deliver what is due, then exit (tests, cron)")
def deliver_command(once):
    """Deliver what is due; with --once exit when nothing is left (else keep running)."""
    jobs.run_worker(current_app._get_current_object(), wait=not once)
    counts = dict(
        db.session.execute(select(SmsMessage.state, func.count()).group_by(SmsMessage.state)).all()
    )
    db.session.rollback()
    click.echo(
        "短信：已发送 {sent}，待发送 {queued}，失败 {failed}".format(
            sent=counts.get("sent", 0),
            queued=counts.get("queued", 0),
            failed=counts.get("failed", 0),
        )
    )
