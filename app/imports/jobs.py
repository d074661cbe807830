"""Ledger imports in the background: a procrastinate task on the notification queue's app.

`defer(import_id)` queues the apply in the caller's transaction (`defer_check` a large file's
dry run); the worker (`flask notify
worker`) runs `run_import`, and so do the command line and tests, synchronously. Like
app/briefings/jobs.py this module is a transaction boundary: it commits after each batch, so the
page polling the import sees it move (a failure keeps the batches already in: re-running the
import skips them by their external numbers).
"""

from __future__ import annotations

from app.accounts.models import User
from app.extensions import db
from app.imports import services
from app.imports.models import LedgerImport
from app.notify.jobs import QUEUE
from app.notify.jobs import queue


@queue.task(name="imports.run", queue=QUEUE)
def run_import_task(import_id: int) -> None:
    """The worker's entry: apply one queued import."""
    run_import(import_id)


@queue.task(name="imports.check", queue=QUEUE)
def check_import_task(import_id: int) -> None:
    """The worker's entry: dry-run one large file."""
    run_check(import_id)


def defer_check(import_id: int) -> int:
    """Queue a large file's dry run in the current transaction."""
    return check_import_task.configure(
        connection=db.session.connection(), queueing_lock=f"ledger-check-{import_id}"
    ).defer(import_id=import_id)


def run_check(import_id: int) -> str:
    """Dry-run an import marked `checking`; returns its state afterwards."""
    imp = db.session.get(LedgerImport, import_id)
    if imp is None or imp.state != "checking":
        return imp.state if imp else "missing"
    try:
        services.dry_run(imp, db.session.get(User, imp.created_by_id))
    except Exception as exc:  # an unreadable file is the import's failure, shown on its page
        db.session.rollback()
        imp = db.session.get(LedgerImport, import_id)
        imp.state, imp.error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
    db.session.commit()
    return imp.state


def defer(import_id: int) -> int:
    """Queue an import's apply in the current transaction."""
    return run_import_task.configure(
        connection=db.session.connection(), queueing_lock=f"ledger-import-{import_id}"
    ).defer(import_id=import_id)


def run_import(import_id: int) -> str:
    """Apply a queued import, committing its progress; returns its final state."""
    imp = db.session.get(LedgerImport, import_id)
    if imp is None or imp.state != "queued":
        return imp.state if imp else "missing"
    user = db.session.get(User, imp.created_by_id)
    try:
        services.apply(imp, user, db.session.commit)
    except Exception as exc:  # any failure is the import's, shown on its page
        db.session.rollback()
        imp = db.session.get(LedgerImport, import_id)
        imp.state, imp.error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
        db.session.commit()
        return "failed"
    db.session.commit()
    return imp.state
