"""The warning scans on the job queue (procrastinate, app/notify/jobs.py's app and worker).

`defer_scan(case_id)` is called by the case report in the report's transaction, so the job row
commits with the case (and never runs for a report that rolled back); the worker then runs
`scan_case` in its own transaction; an inspection defers `scan_risk_point` the same way. Red
points that fall overdue without an inspection are found by the full pass (`flask warnings scan`,
on the sweep's timer). No procrastinate periodic task: its deferrer would add jobs to any worker
run, `deliver --once` included. Like the notification jobs, this module is a transaction
boundary: a job commits its own work.
"""

from __future__ import annotations

from app.extensions import db
from app.notify.jobs import queue
from app.warnings import services

QUEUE = "warnings"


@queue.task(name="warnings.scan_case", queue=QUEUE)
def scan_case(case_id: int) -> None:
    """Evaluate what one reported case touches, committing the warnings raised or updated."""
    services.scan_case(case_id)
    db.session.commit()


@queue.task(name="warnings.scan_risk_point", queue=QUEUE)
def scan_risk_point(point_id: int) -> None:
    """Evaluate one risk point after an inspection, committing what it raised or updated."""
    services.scan_risk_point(point_id)
    db.session.commit()


def defer_scan(case_id: int) -> int:
    """Queue the scan of a case in the current transaction."""
    return scan_case.configure(connection=db.session.connection()).defer(case_id=case_id)


def defer_risk_point_scan(point_id: int) -> int:
    """Queue the scan of a risk point in the current transaction (after an inspection)."""
    return scan_risk_point.configure(connection=db.session.connection()).defer(point_id=point_id)
