"""SMS delivery: jobs in the change's transaction, once to the sink, retries, quiet hours."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import procrastinate
import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from app import create_app
from app.core import clock
from app.extensions import db
from app.notify import jobs
from app.notify import sms
from app.notify.models import Notification
from app.notify.models import NotificationSetting
from app.notify.models import SinkMessage
from app.notify.models import SmsMessage
from app.notify.services import emit
from tests.conftest import TEST_PERSONAL_DATA_KEY
from tests.factories import build_world

ROOT = Path(__file__).resolve().parents[2]
NOON = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)  # 12:00 in Beijing


def first_try():
    """A job context as the worker passes it on a job's first run."""
    return SimpleNamespace(job=SimpleNamespace(attempts=0))


def with_phone(user, phone="13800000001"):
    """Give a user a phone number (the test world has none); answer the user's id."""
    user.phone = phone
    db.session.commit()
    return user.id


def queued_jobs() -> list[dict]:
    """The notification queue's jobs: status, arguments, when they may run."""
    rows = db.session.execute(
        text(
            "SELECT status::text AS status, args, scheduled_at FROM procrastinate_jobs"
            " WHERE queue_name = :q ORDER BY id"
        ),
        {"q": jobs.QUEUE},
    )
    return [dict(r._mapping) for r in rows]


def test_schema_copy_is_the_installed_procrastinate():
    """Is migrations/sql's copy of procrastinate's schema the installed version's (else a new
    migration must apply procrastinate's own migrations)?"""
    assert metadata.version("procrastinate") == "3.10.0"
    shipped = Path(procrastinate.__file__).parent / "sql" / "schema.sql"
    copy = ROOT / "migrations" / "sql" / "procrastinate-3.10.0-schema.sql"
    assert copy.read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8")


def test_rolled_back_change_leaves_no_notification_no_sms_and_no_job(world, monkeypatch):
    """A change that rolls back takes its notification, SMS and job with it."""
    monkeypatch.setattr(clock, "now", lambda: NOON)
    uid = with_phone(world["mediator@town"])
    savepoint = db.session.begin_nested()
    assert emit("supervised", [uid], title="督办") != []
    assert len(queued_jobs()) == 1
    savepoint.rollback()
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 0
    assert queued_jobs() == []


def test_committed_sms_is_sent_to_the_sink_once(world, monkeypatch):
    """A committed notification by SMS gets a job; running it twice sends it once."""
    monkeypatch.setattr(clock, "now", lambda: NOON)
    uid = with_phone(world["mediator@town"])
    other = world["official@town"].id  # no phone: inbox only
    emit("supervised", [uid, other], title="事件 X 被督办", body="请尽快办理")
    emit("case_escalated", [uid], title="不发短信的事件")  # not an SMS event by default
    db.session.commit()
    message = db.session.scalars(select(SmsMessage)).one()
    assert (message.phone, message.state, message.scheduled_at) == ("13800000001", "queued", None)
    assert message.text == "【网格通】事件 X 被督办：请尽快办理"
    [job] = queued_jobs()
    assert job["status"] == "todo" and job["args"] == {"message_id": message.id}
    jobs.deliver_sms(first_try(), message_id=message.id)
    jobs.deliver_sms(first_try(), message_id=message.id)  # a second run: nothing more
    sink = db.session.scalars(select(SinkMessage)).all()
    assert [(s.message_id, s.phone, s.text) for s in sink] == [
        (message.id, "13800000001", message.text)
    ]
    db.session.refresh(message)
    assert (message.state, message.attempts, message.provider_ref) == (
        "sent",
        1,
        f"sink-{message.id}",
    )


def test_provider_failure_is_retried_with_back_off_then_sent(app, world, monkeypatch):
    """The HTTP provider fails once: the job raises (retried later, longer each time), then the
    next run sends with the message id as idempotency key; the last failed attempt marks it."""
    monkeypatch.setattr(clock, "now", lambda: NOON)
    monkeypatch.setitem(app.config, "SMS_GATEWAY", "http")
    monkeypatch.setitem(app.config, "SMS_PROVIDER_URL", "http://sms.invalid/send")
    monkeypatch.setitem(app.config, "SMS_PROVIDER_TOKEN", "secret-token")
    calls = []

    def post(url, json, headers, timeout):
        calls.append((url, json, headers, timeout))
        if len(calls) == 1:
            return SimpleNamespace(status_code=503, text="busy", json=dict)
        if len(calls) == 2:
            raise requests.ConnectionError("reset")
        return SimpleNamespace(status_code=200, text="", json=lambda: {"id": "prov-77"})

    monkeypatch.setattr(sms.requests, "post", post)
    uid = with_phone(world["mediator@town"])
    emit("overdue", [uid], title="事件 Y 已逾期")
    db.session.commit()
    message_id = db.session.scalars(select(SmsMessage.id)).one()
    with pytest.raises(sms.GatewayError) as failure:
        jobs.deliver_sms(first_try(), message_id=message_id)
    message = db.session.get(SmsMessage, message_id)
    assert (message.state, message.attempts) == ("queued", 1) and "503" in message.error
    # procrastinate's decision on that error: retry, 10 s then 100 s later.
    waits = []
    for attempts in (0, 1):
        job = SimpleNamespace(attempts=attempts)
        retry = jobs.RETRY.get_retry_exception(failure.value, job)
        waits.append((retry.retry_decision.retry_at - dt.datetime.now(dt.UTC)).total_seconds())
    assert waits == pytest.approx([10, 100], abs=2)
    assert jobs.RETRY.get_retry_exception(failure.value, SimpleNamespace(attempts=5)) is None
    with pytest.raises(sms.GatewayError):
        jobs.deliver_sms(first_try(), message_id=message_id)
    jobs.deliver_sms(first_try(), message_id=message_id)
    db.session.refresh(message)
    assert (message.state, message.attempts, message.provider_ref) == ("sent", 3, "prov-77")
    assert all(c[2]["Idempotency-Key"] == f"gridgov-sms-{message_id}" for c in calls)
    assert calls[0][2]["Authorization"] == "Bearer secret-token" and calls[0][3] == 10
    assert db.session.scalar(select(func.count()).select_from(SinkMessage)) == 0
    # A message whose last attempt fails is marked failed.
    emit("overdue", [uid], title="事件 Z 已逾期")
    db.session.commit()
    last_id = max(db.session.scalars(select(SmsMessage.id)))
    calls.clear()
    with pytest.raises(sms.GatewayError):
        jobs.deliver_sms(SimpleNamespace(job=SimpleNamespace(attempts=5)), message_id=last_id)
    assert db.session.get(SmsMessage, last_id).state == "failed"


def test_quiet_hours_schedule_the_sms_at_their_end(world, monkeypatch):
    """Inside the quiet hours the SMS and its job wait for their end (Asia/Shanghai)."""
    uid = with_phone(world["mediator@town"])
    late = dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.UTC)  # 23:30 in Beijing: default 22–07
    monkeypatch.setattr(clock, "now", lambda: late)
    emit("supervised", [uid], title="夜间督办")
    morning = dt.datetime(2026, 12, 2, 7, 0, tzinfo=clock.SHANGHAI)
    db.session.add(
        NotificationSetting(
            user_id=world["official@town"].id,
            sms_events=["supervised"],
            muted_events=[],
            quiet_from=dt.time(12, 0),
            quiet_to=dt.time(14, 0),
        )
    )
    with_phone(world["official@town"], "13800000002")
    monkeypatch.setattr(clock, "now", lambda: NOON)  # 12:00: inside 12–14, outside 22–07
    emit("supervised", [uid, world["official@town"].id], title="午间督办")
    db.session.commit()
    rows = db.session.execute(
        select(SmsMessage.phone, SmsMessage.scheduled_at).order_by(SmsMessage.id)
    ).all()
    two_pm = dt.datetime(2026, 12, 1, 14, 0, tzinfo=clock.SHANGHAI)
    assert rows == [("13800000001", morning), ("13800000001", None), ("13800000002", two_pm)]
    assert [j["scheduled_at"] for j in queued_jobs()] == [morning, None, two_pm]


def worker(url: str) -> subprocess.Popen:
    """`flask notify worker` on the scratch database, in its own process."""
    env = {**os.environ, "DATABASE_URL": url, "PERSONAL_DATA_KEY": TEST_PERSONAL_DATA_KEY}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "notify", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_sink(count: int, timeout: float = 30.0) -> None:
    """Poll until the sink holds `count` messages (the worker commits on its own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        if db.session.scalar(select(func.count()).select_from(SinkMessage)) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the sink did not reach {count} messages")


def test_worker_stopped_and_started_again_delivers_everything_once(
    scratch_database, fsa_session, monkeypatch
):
    """Committed SMS are delivered once whether by `deliver --once` (run twice) or by a worker
    stopped (SIGTERM) and started again; a rolled-back change sends nothing."""
    monkeypatch.setattr(db, "session", fsa_session)  # real commits on the scratch database
    scratch = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": scratch_database,
            "PERSONAL_DATA_KEY": TEST_PERSONAL_DATA_KEY,
        }
    )
    with scratch.app_context():
        world = build_world()
        uid = with_phone(world["mediator@town"])
        db.session.add(NotificationSetting(user_id=uid, sms_events=["supervised"], muted_events=[]))
        db.session.commit()

        def tell(n: int) -> None:
            for i in range(n):
                emit("supervised", [uid], title=f"督办 {i}")
            db.session.commit()

        emit("supervised", [uid], title="回滚的督办")
        db.session.rollback()
        tell(2)
        runner = scratch.test_cli_runner()
        for _ in range(2):
            result = runner.invoke(args=["notify", "deliver", "--once"])
            assert result.exit_code == 0, result.output
        assert "已发送 2" in result.output
        tell(2)  # while no worker runs
        proc = worker(scratch_database)
        try:
            wait_for_sink(4)
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=30)
            assert proc.returncode == 0 and "已停止" in output, output
            tell(1)  # stopped again
            proc = worker(scratch_database)
            wait_for_sink(5)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
        db.session.rollback()
        sink = db.session.scalars(select(SinkMessage.message_id)).all()
        sent = db.session.scalars(select(SmsMessage.id).where(SmsMessage.state == "sent")).all()
        assert sorted(sink) == sorted(sent) and len(sent) == 5
        assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 5
        assert "回滚的督办" not in " ".join(db.session.scalars(select(SinkMessage.text)))
        statuses = db.session.execute(text("SELECT status::text FROM procrastinate_jobs")).scalars()
        assert set(statuses) == {"succeeded"}
        db.session.remove()
        db.engines[None].dispose()


def test_deliver_runs_inside_a_running_event_loop(app):
    """`asyncio.run() cannot be called from a running event loop` when a host already runs one
    (the browser tests' driver did, in the same session): the worker then runs in its own
    thread and still returns when the queue is idle. The host loop runs in a thread here, so the
    test holds whatever loop the session's own thread may be running."""
    import asyncio
    import threading

    answers = []

    async def host():
        jobs.run_worker(app, wait=False)
        return "done"

    thread = threading.Thread(target=lambda: answers.append(asyncio.run(host())))
    thread.start()
    thread.join(60)
    assert answers == ["done"]
