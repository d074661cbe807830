"""Large xlsx ledgers in the background (issue 18): a job row, a procrastinate task, a download.

An xlsx of more than EXPORT_XLSX_DIRECT_ROWS rows (config; 50,000 by default) is not built in
the request: `start` records a job (the filters, encrypted: they may name a party's ID number)
in the export's transaction and defers `run` on the notification queue's worker (`flask notify
worker`), which builds the workbook a batch at a time, committing its progress (rows done of
total) so the page polling the job sees it move. The file is kept encrypted (it may hold
personal data in full) for EXPORT_KEEP_HOURS and only its requester downloads it. The export's
audit entry is the request's, as for a direct export. Like app/imports/jobs.py this module is
a transaction boundary: the task commits.
"""

from __future__ import annotations

import datetime as dt
import json
from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app import exports
from app import pii
from app.accounts.models import User
from app.cases import ledger
from app.core import clock
from app.extensions import db
from app.notify.jobs import QUEUE
from app.notify.jobs import queue

DIRECT_ROWS = 50_000  # default of EXPORT_XLSX_DIRECT_ROWS
KEEP_HOURS = 24  # default of EXPORT_KEEP_HOURS
PROGRESS_EVERY = 5_000  # rows between progress commits


class ExportJob(db.Model):
    """One background export: whose, its state, rows done of total, the file when done."""

    __tablename__ = "export_jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    fmt: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8), default="queued", server_default="queued")
    params_enc: Mapped[bytes] = mapped_column(LargeBinary)
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    content_enc: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _encode(value):
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    raise TypeError(type(value).__name__)


def _decode(obj: dict):
    return dt.date.fromisoformat(obj["__date__"]) if set(obj) == {"__date__"} else obj


def start(args: dict, user, count: int, keep_hours: int) -> ExportJob:
    """Record the job and queue it in the current transaction (the caller audits and commits)."""
    job = ExportJob(
        user_id=user.id,
        fmt="xlsx",
        params_enc=pii.encrypt_bytes(json.dumps(args, default=_encode).encode()),
        rows_total=count,
        expires_at=clock.now() + dt.timedelta(hours=keep_hours),
    )
    db.session.add(job)
    db.session.flush()
    run_task.configure(connection=db.session.connection(), queueing_lock=f"export-{job.id}").defer(
        job_id=job.id
    )
    return job


def for_user(job_id: int, user) -> ExportJob | None:
    """The job if it is this user's and not expired (anyone else's is not found)."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.user_id != user.id or job.expires_at <= clock.now():
        return None
    return job


def content(job: ExportJob) -> bytes:
    """The finished file."""
    return pii.decrypt_bytes(job.content_enc)


@queue.task(name="exports.run", queue=QUEUE)
def run_task(job_id: int) -> None:
    """The worker's entry: build one queued export."""
    run(job_id)


def run(job_id: int) -> str:
    """Build a queued export as its requester, committing progress; returns its final state."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.state != "queued":
        return job.state if job else "missing"
    user = db.session.get(User, job.user_id)
    args = json.loads(pii.decrypt_bytes(job.params_enc), object_hook=_decode)
    job.state = "running"
    db.session.commit()
    try:
        body = _workbook(job, args, user)
    except Exception as exc:  # any failure is the job's, shown to its requester
        db.session.rollback()
        job = db.session.get(ExportJob, job_id)
        job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
        db.session.commit()
        return "failed"
    job = db.session.get(ExportJob, job_id)
    job.content_enc = pii.encrypt_bytes(body)
    job.state, job.finished_at = "done", clock.now()
    db.session.commit()
    return "done"


def _workbook(job: ExportJob, args: dict, user) -> bytes:
    """The same workbook exports.xlsx_bytes makes for a direct export, its rows read a batch at a
    time and counted on the job's row as they are written."""
    job_id = job.id
    done = 0

    def counted(rows):
        nonlocal done
        for row in rows:
            yield row
            done += 1
            if done % PROGRESS_EVERY == 0:
                # Progress on the job's own row, outside the cursor's transaction.
                with db.engine.begin() as conn:
                    conn.execute(
                        ExportJob.__table__.update()
                        .where(ExportJob.id == job_id)
                        .values(rows_done=done)
                    )

    # The filter's range is known before the rows: the job's total, as audited.
    body = exports.xlsx_bytes(
        "事件台账",
        ledger.COLUMNS,
        counted(ledger.iter_ledger_rows(args, user=user)),
        total=job.rows_total,
    )
    db.session.get(ExportJob, job_id).rows_done = done
    return body


def as_json(job: ExportJob, download_url: str | None) -> dict:
    """The job resource: state, rows done of total, the download link when done."""
    return {
        "id": job.id,
        "format": job.fmt,
        "state": job.state,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "expires_at": job.expires_at.isoformat(),
        "error": job.error,
        "download": download_url if job.state == "done" else None,
    }
