"""Briefings in the background: a procrastinate task on the notification queue's app.

`defer(job_id)` queues the generation in the caller's transaction (the request that made the
job); the worker (`flask notify worker`, which runs this queue too) calls `run_briefing`, and
so do tests, synchronously. Like app/notify/jobs.py this module is a transaction boundary: it
commits each progress step, so a page polling the job sees it move.
"""

from __future__ import annotations

from app.briefings import services
from app.briefings.models import BriefingJob
from app.extensions import db
from app.notify.jobs import QUEUE
from app.notify.jobs import queue


@queue.task(name="briefings.run", queue=QUEUE)
def run_briefing_task(job_id: int) -> None:
    """The worker's entry: generate one briefing."""
    run_briefing(job_id)


def defer(job_id: int) -> int:
    """Queue a briefing's generation in the current transaction."""
    return run_briefing_task.configure(
        connection=db.session.connection(), queueing_lock=f"briefing-{job_id}"
    ).defer(job_id=job_id)


def run_briefing(job_id: int) -> str:
    """Generate a queued briefing, committing its progress; returns its final state."""
    job = db.session.get(BriefingJob, job_id)
    if job is None or job.state in ("done", "failed"):
        return job.state if job else "missing"
    job.state = "running"

    def progress(percent: int) -> None:
        job.progress = percent
        db.session.commit()

    try:
        services.generate(job, progress)
    except Exception as exc:  # any failure is the job's, shown on its page
        db.session.rollback()
        job = db.session.get(BriefingJob, job_id)
        job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
        db.session.commit()
        return "failed"
    db.session.commit()
    return job.state
