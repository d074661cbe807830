"""`flask audit verify`, `flask audit checkpoint` and `flask audit public-key`."""

import sys
from datetime import UTC
from pathlib import Path

import click
from flask import current_app

from app.audit import checkpoints
from app.audit import services
from app.audit.checkpoints import CheckpointError


@click.group("audit")
def audit_cli():
    """The audit log."""


def _checkpoint_dir(value: Path | None) -> Path:
    return value or Path(current_app.config["AUDIT_CHECKPOINT_DIR"])


def _fail(message: str):
    click.echo(message, err=True)
    sys.exit(1)


@audit_cli.command("verify")
@click.option("--table", default="audit_log", help="verify another table (e.g. a copy)")
@click.option(
    "--checkpoints",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="signed checkpoints to check the chain against (default AUDIT_CHECKPOINT_DIR)",
)
@click.option(
    "--before",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"]),
    help="only checkpoints written before this UTC time (a restored backup: its created_at)",
)
def verify_command(table, directory, before):
    """Check the whole hash chain, and every signed checkpoint; name the first problem."""
    if table != "audit_log":  # a copy: its chain only, checkpoints describe the real log
        result, problems, checked = services.verify(table), [], 0
    else:
        config = current_app.config
        try:
            keys = checkpoints.verify_keys(config["AUDIT_SIGNING_KEY"], config["AUDIT_VERIFY_KEYS"])
        except CheckpointError as exc:
            _fail(f"审计检查点无法核对：{exc}")
        until = before.replace(tzinfo=UTC) if before else None
        result, problems, checked = checkpoints.verify(
            _checkpoint_dir(directory), keys, before=until
        )
    if not result.ok and not problems:
        _fail(
            f"审计链已损坏：第一条异常记录 id={result.broken_id}（{result.reason}），"
            f"已检查 {result.rows} 条"
        )
    if problems:
        lines = [f"审计核对失败：{problems[0]}"] + [f"  另：{p}" for p in problems[1:]]
        _fail("\n".join(lines))
    click.echo(f"审计链完整：{result.rows} 条记录，链头 {result.head or '（空）'}")
    if table == "audit_log":
        click.echo(f"签名检查点 {checked} 个均与审计链一致（{_checkpoint_dir(directory)}）")


@audit_cli.command("checkpoint")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="where to write it (default AUDIT_CHECKPOINT_DIR)",
)
def checkpoint_command(directory):
    """Write a signed checkpoint of the chain (head, count, time) outside the database."""
    try:
        key = checkpoints.signing_key(current_app.config["AUDIT_SIGNING_KEY"])
        path = checkpoints.write(_checkpoint_dir(directory), key)
    except CheckpointError as exc:
        _fail(f"无法写入审计检查点：{exc}")
    click.echo(f"审计检查点已写入 {path}")


@audit_cli.command("public-key")
def public_key_command():
    """Print AUDIT_SIGNING_KEY's public key, for AUDIT_VERIFY_KEYS on the verifying host."""
    try:
        key = checkpoints.signing_key(current_app.config["AUDIT_SIGNING_KEY"]).public_key()
    except CheckpointError as exc:
        _fail(str(exc))
    click.echo(f"{checkpoints.public_key_text(key)}  {checkpoints.key_id(key)}")
