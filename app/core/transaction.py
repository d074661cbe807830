"""The request's transaction: the one place a request commits or rolls back.

Services flush, never commit (shared/STYLE.md §3). When a view has answered, `finish` commits a
success (status below 400) and rolls back anything else; the error handlers call `abort`.
Audit entries recorded with `keep=True` (denials, failed sign-ins) survive the rollback: the
audit module queues them again and `abort` commits them alone. Bookkeeping that is true
whatever the answer (a login session ended as idle, its last-seen time) goes through `keep`: it
is done again after a rollback and committed with those entries. CLI commands commit for
themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import request
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)
KEPT = "kept_work"


def keep(work: Callable[[], None]) -> None:
    """Do `work` (a few writes) now, and again after the request's rollback if it is refused."""
    work()
    db.session.info.setdefault(KEPT, []).append(work)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, flush_context) -> None:
    session.info["wrote"] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_flush(session: Session, transaction) -> None:
    if transaction.parent is None:  # the request's own transaction, not a savepoint
        session.info.pop("wrote", None)


def wrote(session: Session) -> bool:
    """Whether this transaction changed anything (or has audit entries to write)."""
    return bool(
        session.info.get("wrote")
        or session.info.get("audit_pending")
        or session.info.get(KEPT)
        or session.new
        or session.dirty
        or session.deleted
    )


def finish(status: int) -> None:
    """End the request's transaction by its answer: commit a success, roll back a failure.

    A read (GET, HEAD, OPTIONS) that changed nothing is simply rolled back: its answer is made
    and stands even if the connection is lost meanwhile (a database restart at that moment).
    """
    read_only = request.method in SAFE_METHODS and not wrote(db.session())
    if status >= 400 or read_only:
        abort()
    else:
        db.session.commit()
        db.session.info.pop(KEPT, None)


def abort() -> None:
    """Roll back the request's changes; commit the audit entries that must outlive them."""
    kept = db.session.info.pop(KEPT, [])
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection itself may be gone; report the original
        log.debug("rollback failed", exc_info=True)
        return
    try:
        for work in kept:
            work()
    except Exception:  # noqa: BLE001 - bookkeeping must never hide the original error
        log.warning("could not redo the bookkeeping of a refused request", exc_info=True)
        db.session.rollback()
        kept = []
    if kept or db.session.info.get("audit_pending"):
        try:
            db.session.commit()
        except Exception:  # noqa: BLE001 - never hide the original error behind the audit's
            log.warning("could not write the audit entries of a refused request", exc_info=True)
            db.session.rollback()
