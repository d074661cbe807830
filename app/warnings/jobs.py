"""The warning scans on the job queue (procrastinate, app/notify/jobs.py's app and worker).

`defer_scan(case_id)` is called by the case report in the report's transaction, so the job row
commits with the case (and never runs for a report that rolled back); the worker then runs
`scan_case` in its own transaction. A periodic job looks at the risk points. Like the
notification jobs, this module is a transaction boundary: a job commits its own work.
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


@queue.periodic(cron="*/30 * * * *", periodic_id="warnings-risk-points")
@queue.task(name="warnings.scan_risk_points", queue=QUEUE, queueing_lock="warnings-risk-points")
def scan_risk_points(timestamp: int) -> None:
    """Every half hour: abnormal streaks and overdue red points."""
    services.scan_risk_points()
    db.session.commit()


def defer_scan(case_id: int) -> int:
    """Queue the scan of a case in the current transaction."""
    return scan_case.configure(connection=db.session.connection()).defer(case_id=case_id)
