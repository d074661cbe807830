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

import datetime as dt

import procrastinate
from flask import Flask
from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector
from sqlalchemy.engine import make_url

from app.extensions import db
from app.notify import delivery
from app.notify import sms

QUEUE = "notify"
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
    """Run the queue's worker until stopped (SIGTERM/SIGINT: graceful), or until idle."""
    with queue.replace_connector(worker_connector(app.config)) as worker_app:
        worker_app.run_worker(
            queues=[QUEUE],
            wait=wait,
            listen_notify=wait,
            concurrency=1,
            shutdown_graceful_timeout=30,
            task_middleware=[in_app_context(app)],
        )
