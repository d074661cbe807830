"""The app's side of the 研判 workloads (bench/run.py): the services called in-process.

    .venv/bin/python bench/appside.py      (the project's venv, the app's environment)

Warnings and briefings are background jobs, not HTTP requests, so bench/run.py measures them
where the worker runs them: in a Python process with the app's code and configuration. This
process reads one JSON command a line on stdin and answers one JSON line on stdout; run.py
keeps it for the whole run, so the app is imported and its pool opened once (and warmed by the
uncounted round). The clock is frozen at the dataset's "now" (bench/generate.END), so the
hotspot window and the party window hold the same cases whenever the bench runs.

Commands (`op`):
- `sql`: the live measures statements and the briefing's other statements, as the app formats
  them, for run.py's references (so they never drift from the app's code);
- `scan`: `services.scan_case(id)` for each id, timed one by one; each is rolled back, so every
  scan is the first one of a newly reported case (it raises, it does not find its own warning);
- `full_scan`: `services.scan()` (what `flask warnings scan` runs), timed, rolled back;
- `briefing`: a job for a region and period made by `services.create_job` for a user, then
  `jobs.run_briefing(job_id)` timed (its progress commits included), the documents' sizes, and
  the rendering alone (charts, .docx, PDF) of the same briefing, timed; the job is deleted;
- `tasks_sql`: the statements of a user's 我的待办 page (`app/tasks/queries.page`: the page
  and the counts by kind) compiled with their values, at the real now, for the my-tasks
  reference;
- `token`: a bearer token of a user (`accounts.services.create_token`, at the real now, committed),
  as `flask users token create` makes it but without starting a process;
- `receipts`: a receipt (回执) issued for each case number, committed; the numbers and their codes
  in clear, for the public progress workload (issuing supersedes the earlier codes).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import generate  # noqa: E402
from sqlalchemy import delete  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from app.accounts import services as account_services  # noqa: E402
from app.accounts.models import User  # noqa: E402
from app.briefings import jobs as briefing_jobs  # noqa: E402
from app.briefings import render  # noqa: E402
from app.briefings import sections  # noqa: E402
from app.briefings import services as briefings  # noqa: E402
from app.briefings.models import BriefingJob  # noqa: E402
from app.cases import measures  # noqa: E402
from app.cases import workflow  # noqa: E402
from app.cases.models import Case  # noqa: E402
from app.core import clock  # noqa: E402
from app.core import paging  # noqa: E402
from app.extensions import db  # noqa: E402
from app.resident import receipts as resident_receipts  # noqa: E402
from app.tasks import queries as task_queries  # noqa: E402
from app.warnings import rules  # noqa: E402
from app.warnings import services as warnings  # noqa: E402
from app.warnings.models import EarlyWarning  # noqa: E402

FROZEN = (generate.END + dt.timedelta(minutes=30)).astimezone(dt.UTC)
# The reference's visibility for a county official: the app's scope condition at county level.
VISIBILITY = "c.region_code LIKE :scope_prefix || '%'"


def statements() -> dict:
    """The statements the references run, formatted as the app formats them."""
    key = measures.BREAKDOWN["county"][1]
    return {
        "live": [
            measures.CASE_MEASURES_SQL.format(key=key, visibility=VISIBILITY),
            measures.FOLLOW_UP_SQL.format(key=key, visibility=VISIBILITY),
            measures.TREND_SQL.format(visibility=VISIBILITY),
        ],
        "ratings": measures.RATINGS_SQL.format(key=key, visibility=VISIBILITY),
        "categories": sections.CATEGORY_SQL.format(visibility=VISIBILITY),
        "risks": sections.RISK_SQL.format(visibility="r.region_code LIKE :scope_prefix || '%'"),
        "settled_for_good": measures.SETTLED_FOR_GOOD,
        "open_states": sorted(workflow.OPEN_STATES),
        "frozen": FROZEN.isoformat(),
    }


STATEMENTS = [0]  # statements sent to the database (counted around each scan)


def count_statement(*_args) -> None:
    STATEMENTS[0] += 1


def scan(ids: list[int]) -> dict:
    """Each case's incremental scan, rolled back after it, and its statements."""
    times, raised, statements = [], 0, []
    for case_id in ids:
        STATEMENTS[0] = 0
        event.listen(db.engine, "before_cursor_execute", count_statement)
        started = time.perf_counter()
        outcome = warnings.scan_case(case_id)
        db.session.flush()
        times.append(time.perf_counter() - started)
        event.remove(db.engine, "before_cursor_execute", count_statement)
        statements.append(STATEMENTS[0])
        raised += len(outcome.raised) + len(outcome.updated)
        db.session.rollback()
    return {"times": times, "raised": raised, "statements": statements}


def full_scan() -> dict:
    """The full pass over the window's cases and the risk points, rolled back."""
    since = clock.now() - dt.timedelta(days=rules.DEFAULTS["hotspot"]["window_days"])
    started = time.perf_counter()
    outcome = warnings.scan()
    db.session.flush()
    seconds = time.perf_counter() - started
    kinds = dict(
        db.session.execute(
            select(EarlyWarning.kind, func.count())
            .where(EarlyWarning.id.in_(outcome.raised))
            .group_by(EarlyWarning.kind)
        ).all()
    )
    cases = db.session.scalar(
        select(func.count()).select_from(Case).where(Case.reported_at >= since)
    )
    db.session.rollback()
    return {"seconds": seconds, "cases": cases, "raised": len(outcome.raised), "kinds": kinds}


def briefing(region: str, date_from: str, date_to: str, username: str) -> dict:
    """One briefing generated as the worker does it, and its rendering alone."""
    user = db.session.scalar(select(User).where(User.username == username))
    job = briefings.create_job(
        {
            "region": region,
            "date_from": dt.date.fromisoformat(date_from),
            "date_to": dt.date.fromisoformat(date_to),
        },
        user,
    )
    db.session.commit()
    job_id = job.id
    started = time.perf_counter()
    state = briefing_jobs.run_briefing(job_id)
    seconds = time.perf_counter() - started
    job = db.session.get(BriefingJob, job_id)
    assert state == "done", job.error
    sizes = {"docx": len(job.docx), "pdf": len(job.pdf)}
    # The same briefing again step by step: the data parts timed apart, then the rendering alone.
    region, date_from, date_to = job.region, job.date_from, job.date_to
    data = {}
    started = time.perf_counter()
    measured = sections.metrics(region, date_from, date_to, user)
    data["measures"] = time.perf_counter() - started
    started = time.perf_counter()
    values = sections.context(region, date_from, date_to, user, measured)
    data["sections"] = time.perf_counter() - started
    template = briefings.template()
    composed = render.compose(template.title, template.body, values, measured)
    started = time.perf_counter()
    categories = sections.category_counts(region, date_from, date_to, user)
    data["categories"] = time.perf_counter() - started
    stages = {}
    started = time.perf_counter()
    render.draw_charts(composed, categories)
    stages["charts"] = time.perf_counter() - started
    started = time.perf_counter()
    render.to_docx(composed)
    stages["docx"] = time.perf_counter() - started
    started = time.perf_counter()
    render.to_pdf(composed)
    stages["pdf"] = time.perf_counter() - started
    db.session.rollback()
    db.session.execute(delete(BriefingJob).where(BriefingJob.id == job_id))
    db.session.commit()
    return {"seconds": seconds, "sizes": sizes, "render": stages, "data": data}


REAL_NOW = clock.now


def tasks_sql(username: str, limit: int = 50) -> dict:
    """The two statements of the user's first page of tasks, with their values inlined."""
    frozen, clock.now = clock.now, REAL_NOW  # the server answers at the real now
    try:
        user = db.session.scalar(select(User).where(User.username == username))
        tasks = task_queries.tasks_of(user)
        stmt = paging.nearest_due_first(select(tasks), tasks.c.due, tasks.c.key, None, limit)
        grouped = select(tasks.c.kind, func.count()).group_by(tasks.c.kind)
        dialect = db.engine.dialect
        compiled = [
            str(s.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            for s in (stmt, grouped)
        ]
    finally:
        clock.now = frozen
        db.session.rollback()
    return {"page": compiled[0], "counts": compiled[1]}


def token(username: str) -> str:
    """A two-day bearer token of the user, committed."""
    frozen, clock.now = clock.now, REAL_NOW  # it must be valid at the server's now
    try:
        user = db.session.scalar(select(User).where(User.username == username))
        _, secret = account_services.create_token(user, "bench", 2)
        db.session.commit()
    finally:
        clock.now = frozen
    return secret


def receipts(numbers: list[str]) -> dict:
    """A new receipt code for each case number (committed)."""
    ids = dict(
        db.session.execute(select(Case.number, Case.id).where(Case.number.in_(numbers))).all()
    )
    codes = {n: resident_receipts.issue(number=n, case_id=ids[n]) for n in numbers}
    db.session.commit()
    return codes


def main() -> int:
    """Answer run.py's commands until it closes stdin or says quit."""
    clock.now = lambda: FROZEN  # the dataset's now (today() reads now())
    out, sys.stdout = sys.stdout, sys.stderr  # answers only on stdout, whatever prints
    app = create_app()
    with app.app_context():
        for line in sys.stdin:
            command = json.loads(line)
            op = command.pop("op")
            if op == "quit":
                break
            answer = {
                "sql": statements,
                "scan": scan,
                "full_scan": full_scan,
                "briefing": briefing,
                "tasks_sql": tasks_sql,
                "receipts": receipts,
                "token": token,
            }[op](**command)
            out.write(json.dumps(answer) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
