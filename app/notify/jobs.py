"""The notification queue (procrastinate): deferred in the change's transaction, run by the worker.

Two faces of one procrastinate app. The web side (and every command) defers jobs through
`SQLAlchemyPsycopg2Connector` on the connection of the request's session
(`configure(connection=db.session.connection())`), so the job row is written in the transaction of
the change that caused it: none is lost, none is run for a change that rolled back. The worker
(`flask notify worker`, `flask notify deliver --once`) swaps in `PsycopgConnector` (async psycopg
3) on the same database and runs each job in its own app context and transaction. This module
is a transaction boundary, like a command: a job commits its own work.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import procrastinate
from flask import Flask
from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector
from sqlalchemy.engine import make_url

from app.extensions import db
from app.notify import delivery
from app.notify import sms

QUEUE = "notify"
# Queues of other features run by the same worker: the 研判 scans (app/warnings/jobs.py).
OTHER_QUEUES = ("warnings",)
# Provider errors are retried with exponential back-off: 10 s, 100 s, 17 min, ~2.8 h, ~28 h.
RETRY = procrastinate.RetryStrategy(
    max_attempts=5, exponential_wait=10, retry_exceptions=[sms.GatewayError]
)

queue = procrastinate.App(connector=SQLAlchemyPsycopg2Connector())


@queue.task(name="notify.deliver_sms", queue=QUEUE, retry=RETRY, pass_context=True)
def deliver_sms(context, message_id: int) -> None:
    """Send one text message (app/notify/delivery.py), committing what happened."""
    last = context.job.attempts >= RETRY.max_attempts
    try:
        delivery.deliver(message_id, sms.gateway(), last_attempt=last)
    except sms.GatewayError:
        db.session.commit()  # the attempt and its error are kept; procrastinate retries
        raise
    db.session.commit()


def defer_sms(message_id: int, at: dt.datetime | None = None) -> int:
    """Queue the delivery of one message in the current transaction (not before `at`)."""
    return deliver_sms.configure(
        connection=db.session.connection(), schedule_at=at, queueing_lock=f"sms-{message_id}"
    ).defer(message_id=message_id)


def worker_connector(config) -> procrastinate.PsycopgConnector:
    """The worker's connector: async psycopg 3 on the app's database."""
    url = make_url(config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    return procrastinate.PsycopgConnector(
        conninfo=url.render_as_string(hide_password=False),
        min_size=1,
        max_size=4,
        kwargs={"application_name": "gridgov-worker"},
    )


def in_app_context(app: Flask):
    """A task middleware: each job runs in a fresh app context (its own session) of `app`."""

    def middleware(call_next, context, worker):
        with app.app_context():
            return call_next()

    return middleware


def run_worker(app: Flask, *, wait: bool) -> None:
    """Run the queue's worker until stopped (SIGTERM/SIGINT: graceful), or until idle.

    procrastinate runs its worker with asyncio.run(), which refuses to start inside a thread
    whose event loop is already running (a host that embeds the command: a test session driving
    a browser, a notebook). There it runs in a thread of its own, without signal handlers (only
    the main thread may install them), and its error, if any, is raised here.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _run_worker(app, wait=wait, signals=True)
        return
    failure: list[BaseException] = []

    def target():
        try:
            _run_worker(app, wait=wait, signals=False)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="gridgov-notify-worker")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _run_worker(app: Flask, *, wait: bool, signals: bool) -> None:
    with queue.replace_connector(worker_connector(app.config)) as worker_app:
        worker_app.run_worker(
            queues=[QUEUE, *OTHER_QUEUES],
            wait=wait,
            listen_notify=wait,
            concurrency=1,
            shutdown_graceful_timeout=30,
            install_signal_handlers=signals,
            task_middleware=[in_app_context(app)],
        )
